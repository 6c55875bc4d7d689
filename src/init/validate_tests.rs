//! init's answers refused with the key, where it came from, and the rule; never a secret.
use super::*;
use crate::settings::Secret;

fn origins(text: &str) -> Origins<'_> {
    Origins {
        config: Path::new("/etc/live-dashboard/provision.yaml"),
        config_text: Some(text),
        flags: vec![("nginx.server_name", "--domain")],
    }
}

#[test]
fn acme_needs_a_public_name_and_values_that_add_nothing_to_certbots_command() {
    use crate::init::answers::Acme;
    let with = |domain: &str, email: Option<&str>, directory: &str| Answers {
        domain: domain.into(),
        tls: Tls::Acme(Acme {
            email: email.map(str::to_string),
            directory: directory.into(),
            ca_cert: None,
        }),
        ..Answers::defaults()
    };
    let le = crate::init::answers::LETS_ENCRYPT;
    assert!(answers(
        &with("dash.example.com", Some("ops@example.com"), le),
        &origins("")
    )
    .is_ok());
    for (a, key) in [
        (with("_", None, le), "nginx.server_name"),
        (with("localhost", None, le), "nginx.server_name"),
        (
            with("dash.example.com", Some("ops@example.com --staging"), le),
            "nginx.acme_email",
        ),
        (
            with("dash.example.com", Some("nobody"), le),
            "nginx.acme_email",
        ),
        (
            with("dash.example.com", None, "http://acme.example.com/dir"),
            "nginx.acme_directory",
        ),
        (
            with("dash.example.com", None, "https://acme.example.com/dir --x"),
            "nginx.acme_directory",
        ),
    ] {
        let e = answers(&a, &origins("")).unwrap_err().to_string();
        assert!(e.starts_with(key), "{key}: {e}");
    }
    let mut a = with("dash.example.com", None, le);
    if let Tls::Acme(x) = &mut a.tls {
        x.ca_cert = Some("/no/such/ca.pem".into());
    }
    let e = answers(&a, &origins("")).unwrap_err().to_string();
    assert!(e.starts_with("nginx.acme_ca_cert"), "{e}");
}

#[test]
fn the_rules() {
    assert!(is_identifier("live_validation_dashboard") && is_identifier("_x1"));
    for bad in ["", "1abc", "Dash", "a-b", "a b", "a\nb", &"a".repeat(64)] {
        assert!(!is_identifier(bad), "{bad:?}");
    }
    assert!(is_hostname("dash.example.com") && is_hostname("_") && is_hostname("localhost"));
    for bad in ["", "a..b", "-a.com", "a b", "a;b", "a\nb", "x.com;"] {
        assert!(!is_hostname(bad), "{bad:?}");
    }
    assert!(is_safe_path("/etc/ssl/dash.pem"));
    for bad in ["rel/x.pem", "/a b", "/a;b", "/a\nb", "/a{b", "/a$b"] {
        assert!(!is_safe_path(bad), "{bad:?}");
    }
    assert!(is_safe_password("Abc123._~-"));
    for bad in ["", "a b", "a\nb", "a@b", "a:b", "a/b"] {
        assert!(!is_safe_password(bad), "{bad:?}");
    }
}

#[test]
fn a_newline_in_db_user_is_refused_with_its_file_and_line() {
    let text = "init:\n  db_name: dash\n  db_user: \"dash\\nhost all all 0.0.0.0/0 trust\"\n";
    let a = Answers {
        db_name: "dash".into(),
        db_user: "dash\nhost all all 0.0.0.0/0 trust".into(),
        ..Answers::defaults()
    };
    let e = answers(&a, &origins(text)).unwrap_err().to_string();
    assert!(
        e.starts_with("init.db_user (/etc/live-dashboard/provision.yaml:3): "),
        "{e}"
    );
    assert!(
        e.contains("\\n") && !e.contains('\n'),
        "escaped, on one line: {e}"
    );
}

#[test]
fn a_flag_is_named_and_a_password_never_shown() {
    let a = Answers {
        domain: "x.com; include /etc/shadow".into(),
        ..Answers::defaults()
    };
    let e = answers(&a, &origins("")).unwrap_err().to_string();
    assert!(e.starts_with("nginx.server_name (from --domain)"), "{e}");
    let a = Answers {
        redis_password: Secret::new("pw\nrename-command CONFIG \"\""),
        ..Answers::defaults()
    };
    let e = answers(&a, &origins("init:\n  redis_password: x\n"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("provision.yaml:2") && !e.contains("rename"),
        "{e}"
    );
    assert!(answers(&Answers::defaults(), &origins("")).is_ok());
    let a = Answers {
        base_port: 65_534,
        ..Answers::defaults()
    };
    let e = answers(&a, &origins("server:\n  base_port: 65534\n"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("server.base_port (/etc/live-dashboard/provision.yaml:2)"),
        "{e}"
    );
    for (yaml, key) in [
        ("nginx:\n  api_rate: 100/m\n", "nginx.api_rate"),
        ("nginx:\n  auth_rate: 0r/s\n", "nginx.auth_rate"),
        ("nginx:\n  max_body_kb: 0\n", "nginx.max_body_kb"),
        ("backups:\n  at: 3:30\n", "backups.at"),
        ("backups:\n  keep_daily: 0\n", "backups.keep_daily"),
        ("backups:\n  keep_weekly: 9999\n", "backups.keep_weekly"),
    ] {
        let mut a = Answers::defaults();
        match key {
            "nginx.api_rate" => a.limits.api_rate = "100/m".into(),
            "nginx.auth_rate" => a.limits.auth_rate = "0r/s".into(),
            "backups.at" => a.backups.at = "3:30".into(),
            "backups.keep_daily" => a.backups.keep_daily = 0,
            "backups.keep_weekly" => a.backups.keep_weekly = 9999,
            _ => a.limits.max_body_kb = 0,
        }
        let e = answers(&a, &origins(yaml)).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{key} (/etc/live-dashboard/provision.yaml:2)")),
            "{e}"
        );
    }
    let mut a = Answers::defaults();
    a.limits.api_rate = "5r/s".into();
    assert!(answers(&a, &origins("")).is_ok());
    // A replica URL that would add a line to the .env, and one that is not PostgreSQL's.
    for bad in [
        "postgres://u:p@192.0.2.5/db\nPROVISION_LOG=trace",
        "redis://192.0.2.5/0",
    ] {
        let a = Answers {
            replica_urls: vec![Secret::new(bad)],
            ..Answers::defaults()
        };
        let e = answers(&a, &origins("database:\n  replica_urls: [x]\n"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("database.replica_urls ("), "{e}");
        assert!(
            !e.contains("trace") && !e.contains(":p@"),
            "the value is not shown: {e}"
        );
    }
    let a = Answers {
        log_max_mb: 0,
        ..Answers::defaults()
    };
    let e = answers(&a, &origins("service:\n  log_max_mb: 0\n"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("service.log_max_mb (/etc/live-dashboard/provision.yaml:2)"),
        "{e}"
    );
}
