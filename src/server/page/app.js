// The dashboard page: loads runs, summary and failing checks, then follows /ws.
"use strict";
(function () {
  const runsBody = document.querySelector("#runs tbody");
  const rows = new Map();
  let summaryTimer = null;

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function runRow(run, isNew) {
    const tr = el("tr", { "data-run": String(run.id) });
    if (isNew) tr.className = "new";
    tr.append(
      el("td", {}, String(run.id)),
      el("td", {}, run.suite),
      el("td", {}, run.environment),
      el("td", { class: "status " + run.status }, run.status),
      el("td", {}, `${run.passed_checks ?? 0}/${run.total_checks ?? 0}` + (run.failed_checks ? ` (${run.failed_checks} failed)` : "")),
      el("td", {}, run.started_at ? new Date(run.started_at).toLocaleString() : "—"),
    );
    return tr;
  }

  function showRun(run, isNew) {
    const tr = runRow(run, isNew);
    const old = rows.get(run.id);
    if (old) old.replaceWith(tr);
    else runsBody.prepend(tr);
    rows.set(run.id, tr);
    while (runsBody.children.length > 50) {
      const last = runsBody.lastElementChild;
      rows.delete(Number(last.dataset.run));
      last.remove();
    }
  }

  // Rolling pass rate of the suite's recent finished runs, oldest first, as an SVG line.
  function trend(points) {
    const w = 180, h = 36;
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("width", w); svg.setAttribute("height", h);
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", "pass rate trend");
    if (points.length < 2) return svg;
    const step = w / (points.length - 1);
    const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    line.setAttribute("points", points.map((p, i) => `${(i * step).toFixed(1)},${(h - 2 - p * (h - 4)).toFixed(1)}`).join(" "));
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", points[points.length - 1] >= 0.9 ? "#1a7f37" : "#cf222e");
    line.setAttribute("stroke-width", "2");
    svg.append(line);
    return svg;
  }

  function trendPoints(runs, suiteId, env) {
    const done = runs.filter(r => r.suite_id === suiteId && r.environment === env &&
      ["passed", "failed", "error"].includes(r.status)).reverse();
    const pts = [], win = 5;
    for (let i = 0; i < done.length; i++) {
      const slice = done.slice(Math.max(0, i - win + 1), i + 1);
      pts.push(slice.filter(r => r.status === "passed").length / slice.length);
    }
    return pts.slice(-30);
  }

  async function getJSON(url) {
    const r = await fetch(url, { headers: { accept: "application/json" } });
    if (!r.ok) throw new Error(`${url}: ${r.status}`);
    return r.json();
  }

  async function loadSummary() {
    const [summary, recent] = await Promise.all([
      getJSON("/api/summary?window=24h"),
      getJSON("/api/runs?limit=200"),
    ]);
    const cards = document.getElementById("suites");
    cards.replaceChildren();
    if (summary.groups.length === 0) cards.append(el("p", { class: "empty" }, "No runs in the last 24 hours."));
    for (const g of summary.groups) {
      const card = el("div", { class: "card", "data-suite": g.suite });
      card.append(
        el("div", { class: "name" }, g.suite),
        el("div", { class: "env" }, `${g.environment} · ${g.runs} runs` + (g.p95_duration_ms != null ? ` · p95 ${Math.round(g.p95_duration_ms)} ms` : "")),
        el("div", { class: "rate" }, `${(g.pass_rate * 100).toFixed(1)} %`),
        trend(trendPoints(recent.items, g.suite_id, g.environment)),
      );
      cards.append(card);
    }
    const failing = document.getElementById("failing");
    failing.replaceChildren();
    if (summary.failing_checks.length === 0) failing.append(el("li", { class: "empty" }, "No failures."));
    for (const f of summary.failing_checks) {
      const li = el("li", {}, `${f.check_name} `);
      li.append(el("span", { class: "count" }, `${f.failures}×`), document.createTextNode(` in ${f.runs} runs`));
      failing.append(li);
    }
  }

  function scheduleSummary() {
    if (summaryTimer) return;
    summaryTimer = setTimeout(() => { summaryTimer = null; loadSummary().catch(console.error); }, 1000);
  }

  async function loadRuns() {
    const page = await getJSON("/api/runs?limit=50");
    for (const run of page.items.slice().reverse()) showRun(run, false);
  }

  function connect() {
    const live = document.getElementById("live");
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/ws`);
    ws.onopen = () => { live.textContent = "live"; live.className = "live on"; };
    ws.onmessage = (msg) => {
      const ev = JSON.parse(msg.data);
      if (ev.run) showRun(ev.run, ev.type === "run_created");
      scheduleSummary();
    };
    ws.onclose = () => {
      live.textContent = "reconnecting"; live.className = "live off";
      setTimeout(connect, 1000);
    };
  }

  connect();
  loadRuns().catch(console.error);
  loadSummary().catch(console.error);
})();
