//! Snapshot tests of every shipped template, rendered for a few host shapes: 1 vs 8 CPUs,
//! 2 vs 64 GB, 2 vs 4 instances, TLS off / self-signed, systemd vs no init system. A
//! change to a template or to the sizing shows up as a reviewed snapshot diff
//! (`cargo insta review`).

use super::answers::{Answers, Tls};
use super::vars::vars;
use crate::render::{Templates, EMBEDDED};
use crate::settings::Secret;

fn answers(instances: u32, tls: Tls) -> Answers {
    Answers {
        db_password: Secret::new("DbPasswordForSnapshots0000000000000000000"),
        redis_password: Secret::new("RedisPasswordForSnapshots00000000000000000"),
        instances,
        tls,
        ..Answers::defaults()
    }
}

fn render_all(shape: &str, a: &Answers, cpus: usize, memory_mb: u64, init: &str) {
    let v = vars(a, cpus, memory_mb, init);
    let t = Templates::default();
    for (name, _) in EMBEDDED {
        let text = t
            .render(name, &v)
            .unwrap_or_else(|e| panic!("{shape}: {e}"));
        let snap = format!("{shape}__{}", name.replace(['/', '@', '.'], "_"));
        insta::assert_snapshot!(snap, text);
    }
}

#[test]
fn a_small_host_under_systemd_without_tls() {
    render_all("small", &answers(2, Tls::Off), 1, 2 * 1024, "systemd");
}

#[test]
fn a_large_host_under_systemd_with_self_signed_tls() {
    render_all(
        "large",
        &answers(4, Tls::SelfSigned),
        8,
        64 * 1024,
        "systemd",
    );
}

#[test]
fn a_container_without_an_init_system() {
    render_all("container", &answers(2, Tls::Off), 2, 4 * 1024, "none");
}
