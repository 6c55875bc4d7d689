#!/usr/bin/env python3
"""What the instances did during one load: the difference of their /metrics before and
after it. Usage: metrics_diff.py LABEL BEFORE AFTER (each a file of the instances'
/metrics texts, concatenated). Prints requests by method and route, PostgreSQL uses per request,
cacheable reads by how they were answered, and each route's server-side p50/p99 read off
the latency histogram (the upper bound of the bucket it falls in)."""
import re
import sys
from collections import defaultdict

LINE = re.compile(r'^(\w+)(?:\{(.*)\})? (\S+)$')


def parse(path):
    values = defaultdict(float)
    for line in open(path):
        m = LINE.match(line.strip())
        if m:
            values[(m.group(1), m.group(2) or "")] += float(m.group(3))
    return values


def labels(text):
    return dict(re.findall(r'(\w+)="([^"]*)"', text))


label, before, after = sys.argv[1], parse(sys.argv[2]), parse(sys.argv[3])
d = {k: after[k] - before.get(k, 0.0) for k in after}
requests = defaultdict(float)
for (name, ls), v in d.items():
    if name == "ld_http_requests_total":
        lb = labels(ls)
        requests[f'{lb["method"]} {lb["route"]}'] += v
total = sum(requests.values())
uses = sum(v for (n, _), v in d.items() if n == "ld_db_uses_total")
lookups = defaultdict(float)
for (name, ls), v in d.items():
    if name == "ld_cache_lookups_total":
        lookups[labels(ls)["result"]] += v
buckets = defaultdict(lambda: defaultdict(float))
for (name, ls), v in d.items():
    if name == "ld_http_request_duration_seconds_bucket":
        lb = labels(ls)
        buckets[f'{lb["method"]} {lb["route"]}'][float(lb["le"])] += v


def quantile(b, q):
    edges = sorted(b)
    n = b[edges[-1]]
    for e in edges:
        if n and b[e] >= q * n:
            return e
    return float("nan")


reads = sum(lookups.values())
waits = sum(v for (n, _), v in d.items() if n == "ld_db_pool_waits_total")
print(f"{label}: {total:.0f} requests, PostgreSQL uses {uses / max(total, 1):.3f} per request, "
      f"{waits:.0f} waits for a pooled connection; "
      f"cacheable reads {reads:.0f}: " + ", ".join(f"{k} {100 * v / max(reads, 1):.0f} %" for k, v in sorted(lookups.items())))
for route in sorted(requests, key=lambda r: -requests[r]):
    b = buckets.get(route)
    tail = f"server p50 <= {1000 * quantile(b, 0.5):.1f} ms, p99 <= {1000 * quantile(b, 0.99):.1f} ms" if b else ""
    if requests[route]:
        print(f"  {route:<40} {requests[route]:>9.0f}  {tail}")
