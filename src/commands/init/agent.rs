//! `provision init --agent`: one host's part of a deployment of several hosts, run on that
//! host by the controller over ssh. The job (the controller's config with its secrets, and
//! this host's place in the deployment) comes on stdin; the host's own config is written
//! from it, its roles' part of the playbook runs with the same engine, and the database
//! host also migrates the legacy data and makes the first credentials. Everything it says
//! goes to stdout as JSON lines (`deploy::Line`), the recap last.

use std::io::Read;

use super::{finish, host_facts, prepare, usage, CommandError, ExitStatus};
use crate::cli::{GlobalArgs, InitArgs};
use crate::deploy::{Job, JobData, Line};
use crate::init::saved;
use crate::inventory::Role;
use crate::settings::ConfigFile;

pub fn run(global: &GlobalArgs, args: &InitArgs) -> Result<ExitStatus, CommandError> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| usage(format!("--agent reads its job on stdin: {e}")))?;
    let job: Job = serde_json::from_str(&text)
        .map_err(|e| usage(format!("--agent: the job on stdin is not one: {e}")))?;
    let file = ConfigFile::parse(&job.config)
        .map_err(|(line, e)| usage(format!("the job's config, line {line}: {e}")))?;
    let (mut answers, creds, _) = saved::read(&file);
    answers.instances = u32::from(job.deployment.instances);
    // Events as JSON lines, whatever the controller's own flags.
    let json = GlobalArgs {
        config: global.config.clone(),
        env_file: global.env_file.clone(),
        verbose: global.verbose,
        quiet: false,
        json: true,
    };
    let facts = host_facts()?;
    let prepared = prepare(&json, args, facts, &answers, &creds, Some(&job.deployment))?;
    let run = prepared.run(&json, args);
    let relocated = prepared.relocated.len();
    let mut recap = if args.check {
        run.check(relocated)?
    } else {
        run.apply(relocated)?
    };
    let database = job
        .deployment
        .roles
        .iter()
        .any(|r| r == Role::Postgres.name());
    if recap.failed == 0 && !args.check && database {
        // On the database host itself, over loopback (pg_hba admits the app role there).
        let url = saved::database_url_at(&answers, &prepared.vars, "127.0.0.1");
        let data = match &job.data {
            JobData::None => finish::Data::None,
            JobData::Demo => finish::Data::Demo(args.state_dir.join("demo-legacy.db")),
            JobData::Sqlite(p) => finish::Data::Sqlite(p.clone()),
        };
        let changed = crate::commands::runtime()?
            .block_on(async {
                let pool = sqlx::PgPool::connect(url.expose()).await?;
                crate::schema::apply(&pool).await?;
                pool.close().await;
                finish::data_and_credentials(&url, &data, &creds).await
            })
            .map_err(|error| CommandError {
                status: ExitStatus::Failure,
                error,
            })?
            .0;
        for c in changed {
            println!("{}", Line::Changed(c).json());
            recap.changed += 1;
        }
    }
    println!("{}", Line::recap(&recap).json());
    Ok(if recap.failed > 0 {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}
