//! `--tls acme` in a test container, against pebble (Debian's ACME test server) started
//! inside it, on loopback: init obtains the certificate through nginx (HTTP-01 on port
//! 80, certbot's webroot), nginx serves it, the renewal is scheduled (certbot's timer, or
//! cron without systemd), a renewal installs a new certificate and reloads nginx, verify's
//! TLS check reads its expiry, and a second init changes nothing. Never a public CA.

use std::time::{Duration, Instant};

use crate::container::Container;
use crate::day2::{phase, run, text, Manager};

const PEBBLE: &str = "/root/pebble";
const DOMAIN: &str = "dash.test";

fn sh(c: &Container, script: &str) -> String {
    let o = c.exec(&["sh", "-c", script]);
    assert!(o.status.success(), "{script}:\n{}", text(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// The serial of the certificate nginx serves for the domain.
fn served_serial(c: &Container) -> String {
    sh(
        c,
        &format!(
            "openssl s_client -connect 127.0.0.1:443 -servername {DOMAIN} </dev/null 2>/dev/null | openssl x509 -noout -serial"
        ),
    )
}

fn file_serial(c: &Container) -> String {
    sh(
        c,
        "openssl x509 -in /etc/live-dashboard/tls/cert.pem -noout -serial",
    )
}

pub fn acme_certificate_and_renewal(c: &Container, m: &Manager) {
    let t = Instant::now();
    // pebble (from the root's downloaded packages) on loopback with a certificate of its
    // own; the domain resolves to loopback, where pebble's validation reaches nginx on
    // port 80. Pebble rejects 5 % of nonces by default to exercise clients' retries;
    // Debian 12's certbot (2.1 on Python 3.11) crashes on any ACME error instead of
    // retrying (certbot issue 9539), so the test server is told not to.
    sh(
        c,
        &format!(
            "set -e; DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends pebble >/dev/null; \
             mkdir -p {PEBBLE}; cd {PEBBLE}; \
             openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
               -keyout key.pem -out cert.pem -subj /CN=127.0.0.1 \
               -addext subjectAltName=IP:127.0.0.1,DNS:localhost 2>/dev/null; \
             printf '%s' '{{\"pebble\": {{\"listenAddress\": \"127.0.0.1:14000\", \"managementListenAddress\": \"127.0.0.1:15000\", \
               \"certificate\": \"{PEBBLE}/cert.pem\", \"privateKey\": \"{PEBBLE}/key.pem\", \"httpPort\": 80, \"tlsPort\": 5001, \
               \"ocspResponderURL\": \"\", \"externalAccountBindingRequired\": false}}}}' > config.json; \
             grep -q ' {DOMAIN}$' /etc/hosts || echo '127.0.0.1 {DOMAIN}' >> /etc/hosts; \
             PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 setsid pebble -config {PEBBLE}/config.json > {PEBBLE}/log 2>&1 < /dev/null &"
        ),
    );
    let start = Instant::now();
    while !sh(c, "cat /proc/net/tcp").contains(":36B0 ") {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "pebble does not listen: {}",
            sh(c, &format!("cat {PEBBLE}/log"))
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, out) = run(
        c,
        &[
            "init",
            "--yes",
            "--tls",
            "acme",
            "--domain",
            DOMAIN,
            "--acme-directory",
            "https://127.0.0.1:14000/dir",
            "--acme-ca-cert",
            &format!("{PEBBLE}/cert.pem"),
            "--acme-email",
            "ops@dash.test",
        ],
    );
    assert_eq!(
        code,
        0,
        "{out}\npebble: {}",
        sh(c, &format!("tail -n 20 {PEBBLE}/log"))
    );
    let issuer = sh(
        c,
        "openssl x509 -in /etc/live-dashboard/tls/cert.pem -noout -issuer",
    );
    assert!(issuer.contains("Pebble"), "not pebble's: {issuer}");
    let first = file_serial(c);
    assert_eq!(
        served_serial(c),
        first,
        "nginx does not serve the new certificate"
    );
    // The renewal is scheduled.
    if m.systemd {
        for (verb, want) in [("is-enabled", "enabled"), ("is-active", "active")] {
            let o = c.exec(&["systemctl", verb, "certbot.timer"]);
            assert_eq!(text(&o).trim(), want, "certbot.timer");
        }
    } else {
        assert!(
            c.exec(&["pgrep", "-x", "cron"]).status.success(),
            "cron is not running"
        );
        assert!(
            c.merged.join("etc/cron.d/certbot").is_file(),
            "certbot's cron file"
        );
    }
    let (code, out) = run(c, &["init", "--yes"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("changed=0"),
        "a second init changed something:\n{out}"
    );
    phase("acme: certificate from pebble", t);

    // A renewal (forced: the certificate is fresh) installs a new one and reloads nginx.
    let t = Instant::now();
    sh(
        c,
        &format!("certbot renew --force-renewal --no-random-sleep-on-renew --non-interactive --cert-name {DOMAIN} 2>&1"),
    );
    let renewed = file_serial(c);
    assert_ne!(renewed, first, "the renewal installed nothing");
    assert_eq!(
        served_serial(c),
        renewed,
        "nginx still serves the old certificate"
    );
    // verify's TLS check, trusting pebble's root (from its management API).
    sh(
        c,
        &format!(
            "printf 'GET /roots/0 HTTP/1.0\\r\\n\\r\\n' | openssl s_client -connect 127.0.0.1:15000 -quiet 2>/dev/null \
             | sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' > {PEBBLE}/root.pem; grep -q 'BEGIN CERTIFICATE' {PEBBLE}/root.pem"
        ),
    );
    let (code, out) = run(
        c,
        &[
            "verify",
            "--no-load",
            "--ca-cert",
            &format!("{PEBBLE}/root.pem"),
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("certificate verified, expires"), "{out}");
    phase("acme: renewal, nginx reloaded, verify", t);
}
