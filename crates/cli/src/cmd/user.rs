//! `farguard user add|list`: accounts for the API and the web UI. The first
//! coordinator is bootstrapped here (no server needed); the command prints
//! the account's API token once — only its SHA-256 is stored.

use super::Ctx;
use crate::out;
use anyhow::{Context, Result};
use farguard_server::access::{NewUser, create_user_blocking, user_out};
use farguard_server::auth::hash_password;
use serde::Serialize;
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Create an account and print its first API token (shown once).
    ///
    /// Roles: coordinator, embassy, provincial_office, enterprise_admin,
    /// enterprise_member, service_provider, citizen, observer. An enterprise
    /// or provider account needs --org; an embassy or provincial office needs
    /// --country (the country it answers for); a citizen needs --person (their
    /// own person record, the only one they will see).
    ///
    /// Example: farguard user add --name wang.li --role coordinator --password-env FG_PW
    Add {
        /// Login name: letters, digits and . _ @ -
        #[arg(long)]
        name: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        country: Option<String>,
        #[arg(long)]
        person: Option<String>,
        /// Read the UI password (12+ characters) from this environment
        /// variable; without it the account logs in with its token only.
        /// (Never on the command line: it would stay in shell history.)
        #[arg(long, value_name = "VAR")]
        password_env: Option<String>,
    },
    /// List accounts.
    List,
}

#[derive(Debug, Serialize)]
struct Added {
    user: farguard_server::access::UserOut,
    token: String,
    note: &'static str,
}

pub fn run(ctx: &Ctx, action: Action) -> Result<ExitCode> {
    let mut store = ctx.store()?;
    match action {
        Action::Add {
            name,
            role,
            org,
            country,
            person,
            password_env,
        } => {
            let password =
                match password_env {
                    None => None,
                    Some(var) => Some(std::env::var(&var).with_context(|| {
                        format!("--password-env {var}: the variable is not set")
                    })?),
                };
            let new = NewUser {
                name,
                role,
                org,
                country,
                person,
                password,
            };
            farguard_server::access::validate_new_user(&new).map_err(api)?;
            let hash = new
                .password
                .as_deref()
                .map(hash_password)
                .transpose()
                .map_err(api)?;
            let actor = format!(
                "cli:{}",
                std::env::var("USER").unwrap_or_else(|_| "unknown".into())
            );
            let (row, secret) =
                create_user_blocking(store.as_mut(), &actor, &new, hash).map_err(api)?;
            let added = Added {
                user: user_out(&row).map_err(api)?,
                token: secret.expose().to_string(),
                note: "the token is shown once: store it now (only its hash is kept)",
            };
            if ctx.json {
                out::json(&added)?;
            } else {
                println!(
                    "created {} ({}{}) id {}",
                    row.name,
                    row.role,
                    row.org
                        .as_deref()
                        .map(|o| format!(", org {o}"))
                        .unwrap_or_default(),
                    row.id
                );
                println!(
                    "API token (shown once, store it now):\n  {}",
                    secret.expose()
                );
                println!(
                    "use it as: Authorization: Bearer <token>, or paste it on the UI login page"
                );
            }
        }
        Action::List => {
            let users = store.users()?;
            let rows: Vec<_> = users
                .iter()
                .map(user_out)
                .collect::<Result<_, _>>()
                .map_err(api)?;
            if ctx.json {
                out::json(&rows)?;
            } else {
                println!(
                    "{:<24} {:<18} {:<20} {:<8} ID",
                    "NAME", "ROLE", "ORG", "COUNTRY"
                );
                for u in &rows {
                    println!(
                        "{:<24} {:<18} {:<20} {:<8} {}",
                        u.name,
                        u.role.code(),
                        u.org.as_deref().unwrap_or("-"),
                        u.country.as_deref().unwrap_or("-"),
                        u.id
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// An API error as a CLI error: the message already names the field.
fn api(e: farguard_server::ApiError) -> anyhow::Error {
    let s = e.to_string();
    match e {
        farguard_server::ApiError::Invalid {
            pointer: Some(p), ..
        } => {
            let flag = p.trim_start_matches('/').replace('_', "-");
            anyhow::anyhow!("--{flag}: {s}")
        }
        farguard_server::ApiError::Conflict { .. } => anyhow::anyhow!("{s}"),
        other => anyhow::Error::new(other),
    }
}
