//! What init does after its playbook: legacy data (`--sqlite`, or `--demo`'s generated
//! file), the first credentials, and verify — in-process, so no secret reaches argv; then
//! where everything is.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use crate::host::facts::{Facts, InitSystem};
use crate::init::answers::{Answers, Tls};
use crate::init::credentials;
use crate::init::saved::Credentials;
use crate::init::vars::CONFIG_DIR;
use crate::migrate::{self, Outcome, SchemaMode};
use crate::settings::{Secret, Sources, VerifyFlags, VerifySettings};
use crate::verify::{self, load::Rate, report::Report};

/// Where the legacy data comes from.
pub enum Data {
    None,
    Sqlite(PathBuf),
    /// Generated once into the state directory, then migrated like any file.
    Demo(PathBuf),
}

pub struct Finished {
    /// One line per thing changed (for the recap).
    pub changed: Vec<String>,
    pub migrated: Option<migrate::Report>,
    pub report: Report,
}

pub async fn finish(
    database_url: &Secret,
    data: &Data,
    creds: &Credentials,
    config: &Path,
    env_file: &Path,
    with_load: bool,
) -> anyhow::Result<Finished> {
    let (changed, migrated) = data_and_credentials(database_url, data, creds).await?;
    let sources = Sources::load(Some(config), Some(env_file))?;
    let settings = VerifySettings::resolve(
        VerifyFlags {
            wait: Some(Duration::from_secs(60)),
            no_load: !with_load,
            rate: Some(Rate::PerSecond(20.0)),
            duration: Some(Duration::from_secs(5)),
            warmup: Some(Duration::from_secs(1)),
            ..Default::default()
        },
        &sources,
    )?;
    let report = verify::run(&settings, &|_| {}).await?;
    Ok(Finished {
        changed,
        migrated,
        report,
    })
}

/// The legacy data migrated (the demo's generated first) and the first credentials made;
/// what changed, and the migration's report.
pub async fn data_and_credentials(
    database_url: &Secret,
    data: &Data,
    creds: &Credentials,
) -> anyhow::Result<(Vec<String>, Option<migrate::Report>)> {
    let mut changed = Vec::new();
    let source = match data {
        Data::None => None,
        Data::Sqlite(p) => Some(p.clone()),
        Data::Demo(p) => {
            if !p.exists() {
                let spec = crate::fixture::FixtureSpec {
                    runs: 2_000,
                    results_per_run: 10,
                    ..Default::default()
                };
                crate::fixture::write(p, &spec)
                    .with_context(|| format!("generating the demo data at {}", p.display()))?;
                changed.push(format!("demo data generated at {}", p.display()));
            }
            Some(p.clone())
        }
    };
    let mut migrated = None;
    if let Some(from) = source {
        let opts = migrate::Options {
            from: from.clone(),
            to: Some(database_url.clone()),
            replace: false,
            strict: false,
            dry_run: false,
            schema: SchemaMode::Auto,
            progress: None,
        };
        let report = migrate::run(&opts)
            .await
            .with_context(|| format!("migrating {}", from.display()))?;
        if report.outcome == Outcome::Migrated {
            changed.push(format!("migrated {}", from.display()));
        }
        migrated = Some(report);
    }
    for what in credentials::ensure(database_url, creds).await? {
        changed.push(what.to_string());
    }
    Ok((changed, migrated))
}

/// Where the dashboard is, how to log in, where the config and logs are.
pub(super) fn where_everything_is(
    answers: &Answers,
    creds: &Credentials,
    config: &Path,
    facts: &Facts,
    admin_created: bool,
) {
    let scheme = if answers.tls == Tls::Off {
        "http"
    } else {
        "https"
    };
    let host = if answers.domain != "_" {
        answers.domain.clone()
    } else {
        crate::verify::public_address()
            .map(crate::inventory::url_host)
            .unwrap_or_else(|| "127.0.0.1".into())
    };
    let port = match (scheme, answers.http_port, answers.https_port) {
        ("http", 80, _) | ("https", _, 443) => String::new(),
        ("http", p, _) | (_, _, p) => format!(":{p}"),
    };
    println!("\nthe dashboard: {scheme}://{host}{port}/");
    if admin_created {
        println!(
            "log in as {} with password {} (shown once; it is kept in {})",
            creds.admin_user,
            creds.admin_password.expose(),
            config.display()
        );
    } else {
        println!(
            "log in as {} (password in {})",
            creds.admin_user,
            config.display()
        );
    }
    println!(
        "config: {} and {}/.env; logs: {}",
        config.display(),
        CONFIG_DIR,
        if facts.init == InitSystem::Systemd {
            "journalctl -u 'live-dashboard@*'".to_string()
        } else {
            format!("{}/", crate::init::vars::LOG_DIR)
        }
    );
}
