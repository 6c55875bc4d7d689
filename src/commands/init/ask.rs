//! init's questions (dialoguer), asked only on a terminal, only on the first run and only
//! for what flags did not already give.

use dialoguer::{Confirm, Input, Password, Select};

use crate::init::answers::{generate_password, Answers, Tls};
use crate::settings::Secret;

/// Which answers the flags already gave (those are not asked).
pub struct Given {
    pub instances: bool,
    pub domain: bool,
    pub tls: bool,
}

pub fn answers(a: &mut Answers, given: &Given) -> Result<(), dialoguer::Error> {
    a.db_name = Input::new()
        .with_prompt("Database name")
        .default(a.db_name.clone())
        .interact_text()?;
    a.db_user = Input::new()
        .with_prompt("Database user")
        .default(a.db_user.clone())
        .interact_text()?;
    let generate = Confirm::new()
        .with_prompt("Generate the database password (40 random characters)?")
        .default(true)
        .interact()?;
    a.db_password = if generate {
        generate_password()
    } else {
        Secret::new(
            Password::new()
                .with_prompt("Database password")
                .with_confirmation("Again", "The two did not match")
                .interact()?,
        )
    };
    if !given.instances {
        a.instances = Input::new()
            .with_prompt("Server instances")
            .default(a.instances)
            .validate_with(|n: &u32| {
                if (1..=64).contains(n) {
                    Ok(())
                } else {
                    Err("1 to 64")
                }
            })
            .interact_text()?;
    }
    if !given.domain {
        let d: String = Input::new()
            .with_prompt("Domain (empty: any name)")
            .allow_empty(true)
            .interact_text()?;
        a.domain = if d.trim().is_empty() {
            "_".into()
        } else {
            d.trim().into()
        };
    }
    if !given.tls {
        let choice = Select::new()
            .with_prompt("TLS")
            .items(&[
                "off (http only)",
                "self-signed certificate",
                "my certificate and key files",
            ])
            .default(0)
            .interact()?;
        a.tls = match choice {
            1 => Tls::SelfSigned,
            2 => Tls::Files {
                cert: Input::new()
                    .with_prompt("Certificate file (PEM)")
                    .interact_text()?,
                key: Input::new().with_prompt("Key file (PEM)").interact_text()?,
            },
            _ => Tls::Off,
        };
    }
    Ok(())
}
