//! `postgres_role:` and `postgres_database:`: SQL to psql over the unix socket as the
//! `postgres` user, always on stdin (never argv). A role's password is sent as a
//! SCRAM-SHA-256 verifier computed here, so the plain password reaches neither the server
//! nor its logs, and it is changed only when logging in with the configured one fails.

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{Ctx, Plan, StepError};
use crate::host::exec::Cmd;
use crate::playbook::model::{PostgresDatabaseStep, PostgresRoleStep};
use crate::settings::Secret;

use crate::host::psql::{admin as psql, ident, literal};

/// PostgreSQL's SCRAM-SHA-256 verifier for `password` (RFC 5802, 4096 iterations).
pub fn scram_verifier(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    let iterations = 4096;
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt, iterations, &mut salted);
    let hmac = |key: &[u8], msg: &[u8]| {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
        m.update(msg);
        m.finalize().into_bytes()
    };
    let client_key = hmac(&salted, b"Client Key");
    let stored_key = Sha256::digest(client_key);
    let server_key = hmac(&salted, b"Server Key");
    let b64 = base64::engine::general_purpose::STANDARD;
    format!(
        "SCRAM-SHA-256${iterations}:{}${}:{}",
        b64.encode(salt),
        b64.encode(stored_key),
        b64.encode(server_key)
    )
}

fn password(step: &PostgresRoleStep, ctx: &Ctx<'_>) -> Result<Option<String>, StepError> {
    match &step.password_var {
        None => Ok(None),
        Some(v) => ctx.vars.get(v).cloned().map(Some).ok_or_else(|| {
            StepError::Other(format!("password_var {v:?} is not a var of this playbook"))
        }),
    }
}

fn role_exists(step: &PostgresRoleStep) -> Result<bool, StepError> {
    let out = psql(
        &step.socket_dir,
        step.port,
        format!(
            "SELECT 1 FROM pg_roles WHERE rolname = {};",
            literal(&step.name)
        ),
    )
    .run()?;
    Ok(out.stdout.trim() == "1")
}

/// Whether `role` can log in over TCP on 127.0.0.1 with `password`.
fn login_works(step: &PostgresRoleStep, pw: &str) -> Result<bool, StepError> {
    let out = Cmd::new(
        "psql",
        &[
            "-X",
            "-q",
            "-A",
            "-t",
            "-w",
            "-h",
            "127.0.0.1",
            "-p",
            &step.port.to_string(),
            "-U",
            &step.name,
            "-d",
            "postgres",
            "-c",
            "SELECT 1",
        ],
    )
    .secret_env("PGPASSWORD", Secret::new(pw))
    .run_checked(true)?;
    Ok(out.code == Some(0) && out.stdout.trim() == "1")
}

/// Whether PostgreSQL answers on its socket at all. When it does not (a fresh host, where an
/// earlier step would start it), queries report what they would create; applying still
/// fails clearly if it is down by then.
fn server_up(socket_dir: &str, port: u16) -> bool {
    psql(socket_dir, port, "SELECT 1;".into())
        .run_checked(true)
        .is_ok_and(|o| o.code == Some(0))
}

pub fn query_role(step: &PostgresRoleStep, ctx: &Ctx<'_>) -> Result<Plan, StepError> {
    if !server_up(&step.socket_dir, step.port) {
        return Ok(Plan::Create(format!(
            "create role {} (PostgreSQL is not running yet)",
            step.name
        )));
    }
    if !role_exists(step)? {
        return Ok(Plan::Create(format!("create role {}", step.name)));
    }
    if let Some(pw) = password(step, ctx)? {
        if !login_works(step, &pw)? {
            return Ok(Plan::Modify(format!(
                "set the password of role {} (logging in with the configured one fails)",
                step.name
            )));
        }
    }
    let missing = missing_memberships(step)?;
    if !missing.is_empty() {
        return Ok(Plan::Modify(format!(
            "grant {} to role {}",
            missing.join(", "),
            step.name
        )));
    }
    Ok(Plan::Matched)
}

/// The roles of `member_of` the role is not yet a member of.
fn missing_memberships(step: &PostgresRoleStep) -> Result<Vec<String>, StepError> {
    let mut out = Vec::new();
    for group in &step.member_of {
        let o = psql(
            &step.socket_dir,
            step.port,
            format!(
                "SELECT pg_has_role({}, {}, 'MEMBER');",
                literal(&step.name),
                literal(group)
            ),
        )
        .run()?;
        if o.stdout.trim() != "t" {
            out.push(group.clone());
        }
    }
    Ok(out)
}

pub fn apply_role(step: &PostgresRoleStep, ctx: &Ctx<'_>) -> Result<(), StepError> {
    let verb = if role_exists(step)? {
        "ALTER"
    } else {
        "CREATE"
    };
    let mut sql = format!("{verb} ROLE {} LOGIN", ident(&step.name));
    if let Some(pw) = password(step, ctx)? {
        sql.push_str(&format!(" PASSWORD {}", literal(&scram_verifier(&pw))));
    }
    sql.push(';');
    for group in &step.member_of {
        sql.push_str(&format!(
            "\nGRANT {} TO {};",
            ident(group),
            ident(&step.name)
        ));
    }
    psql(&step.socket_dir, step.port, sql).run()?;
    Ok(())
}

fn db_owner(step: &PostgresDatabaseStep) -> Result<Option<String>, StepError> {
    let out = psql(
        &step.socket_dir,
        step.port,
        format!(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = {};",
            literal(&step.name)
        ),
    )
    .run()?;
    let owner = out.stdout.trim();
    Ok((!owner.is_empty()).then(|| owner.to_string()))
}

pub fn query_database(step: &PostgresDatabaseStep) -> Result<Plan, StepError> {
    if !server_up(&step.socket_dir, step.port) {
        return Ok(Plan::Create(format!(
            "create database {} owned by {} (PostgreSQL is not running yet)",
            step.name, step.owner
        )));
    }
    Ok(match db_owner(step)? {
        None => Plan::Create(format!(
            "create database {} owned by {}",
            step.name, step.owner
        )),
        Some(o) if o != step.owner => Plan::Modify(format!(
            "owner of database {}: {o} → {}",
            step.name, step.owner
        )),
        Some(_) => Plan::Matched,
    })
}

pub fn apply_database(step: &PostgresDatabaseStep) -> Result<(), StepError> {
    let sql = match db_owner(step)? {
        None => format!(
            "CREATE DATABASE {} OWNER {};",
            ident(&step.name),
            ident(&step.owner)
        ),
        Some(_) => format!(
            "ALTER DATABASE {} OWNER TO {};",
            ident(&step.name),
            ident(&step.owner)
        ),
    };
    psql(&step.socket_dir, step.port, sql).run()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scram_verifier_shape() {
        let v = scram_verifier("pw");
        assert!(v.starts_with("SCRAM-SHA-256$4096:"), "{v}");
        assert_eq!(v.matches('$').count(), 2);
        assert_ne!(v, scram_verifier("pw"), "salted");
        assert_eq!(literal("a'b"), "'a''b'");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
    }
}
