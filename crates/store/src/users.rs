//! Users, API tokens and UI sessions: the store side of access control.
//!
//! The store keeps what the server needs to authenticate a caller and no
//! more: a user's role, organisation, country scope and (for a citizen) the
//! person record that is theirs, as text codes the server validates; the
//! argon2 PHC string of their password; and tokens by the SHA-256 of their
//! secret only, so a copy of the database never yields a usable token.
//! Rows that no longer parse are `StoreError::Corrupt`, never a panic.

use crate::{PgStore, Result, SqliteStore, StoreError};
use chrono::{DateTime, Utc};
use rusqlite::OptionalExtension;
use std::fmt;

/// The SQL of the access-control tables (users, tokens) and the audit log,
/// appended to the migration list as one version.
pub(crate) const SQLITE_SCHEMA: &str = r#"
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    org TEXT,
    country TEXT,
    person TEXT,
    password_hash TEXT,
    created_at INTEGER NOT NULL,
    disabled INTEGER NOT NULL
) STRICT;

CREATE TABLE api_tokens (
    hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER
) STRICT;
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before TEXT,
    after TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
) STRICT;
"#;

pub(crate) const POSTGRES_SCHEMA: &str = r#"
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    org TEXT,
    country TEXT,
    person TEXT,
    password_hash TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    disabled BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before TEXT,
    after TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
"#;

/// A user account. `Debug` never shows the password hash.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: String,
    /// Login name, unique.
    pub name: String,
    /// Role code (`coordinator`, `embassy`, …), validated by the server.
    pub role: String,
    pub org: Option<String>,
    /// ISO country the user answers for (embassy, provincial office).
    pub country: Option<String>,
    /// For a citizen: the id of their own person record.
    pub person: Option<String>,
    /// argon2 PHC string; `None` for token-only accounts.
    pub password_hash: Option<String>,
    pub created_at: DateTime<Utc>,
    pub disabled: bool,
}

impl fmt::Debug for UserRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("org", &self.org)
            .field("country", &self.country)
            .field("person", &self.person)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<redacted>"),
            )
            .field("created_at", &self.created_at)
            .field("disabled", &self.disabled)
            .finish()
    }
}

/// A stored API token or UI session: the SHA-256 of its secret, never the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRow {
    /// Lower-case hex SHA-256 of the secret.
    pub hash: String,
    pub user_id: String,
    /// `api` or `session`.
    pub kind: String,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for TokenRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Even the hash stays out of logs: it is the lookup key.
        f.debug_struct("TokenRow")
            .field("user_id", &self.user_id)
            .field("kind", &self.kind)
            .field("label", &self.label)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Accounts and credentials.
pub trait UserStore {
    /// Inserts a user; `false` when the id or name is taken (nothing changed).
    fn create_user(&mut self, user: &UserRow) -> Result<bool>;
    fn user(&mut self, id: &str) -> Result<Option<UserRow>>;
    fn user_by_name(&mut self, name: &str) -> Result<Option<UserRow>>;
    /// All users by name.
    fn users(&mut self) -> Result<Vec<UserRow>>;
    fn insert_token(&mut self, token: &TokenRow) -> Result<()>;
    /// The token with this hash and its user, if both exist.
    fn token(&mut self, hash: &str) -> Result<Option<(TokenRow, UserRow)>>;
    /// Removes a token; `false` when there was none.
    fn delete_token(&mut self, hash: &str) -> Result<bool>;
    /// A user's tokens, newest first.
    fn tokens_of(&mut self, user_id: &str) -> Result<Vec<TokenRow>>;
}

const USER_COLS: &str = "id, name, role, org, country, person, password_hash, created_at, disabled";
const TOKEN_COLS: &str = "hash, user_id, kind, label, created_at, expires_at";

fn corrupt(table: &'static str, field: &'static str, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        table,
        field,
        reason: reason.into(),
    }
}

fn from_micros(table: &'static str, field: &'static str, us: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us)
        .ok_or_else(|| corrupt(table, field, format!("{us} µs is out of range")))
}

fn nul_free(table: &'static str, field: &'static str, s: &str) -> Result<()> {
    if s.contains('\0') {
        return Err(StoreError::Unstorable {
            table,
            field,
            reason: "text contains a NUL character".into(),
        });
    }
    Ok(())
}

fn check_user(u: &UserRow) -> Result<()> {
    for (f, v) in [
        ("id", Some(&u.id)),
        ("name", Some(&u.name)),
        ("role", Some(&u.role)),
        ("org", u.org.as_ref()),
        ("country", u.country.as_ref()),
        ("person", u.person.as_ref()),
        ("password_hash", u.password_hash.as_ref()),
    ] {
        if let Some(v) = v {
            nul_free("users", f, v)?;
        }
    }
    Ok(())
}

fn check_token(t: &TokenRow) -> Result<()> {
    for (f, v) in [
        ("hash", &t.hash),
        ("user_id", &t.user_id),
        ("kind", &t.kind),
        ("label", &t.label),
    ] {
        nul_free("api_tokens", f, v)?;
    }
    Ok(())
}

// --- SQLite ---------------------------------------------------------------

fn sqlite_user(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<(UserRow, i64)> {
    let created: i64 = r.get(at + 7)?;
    Ok((
        UserRow {
            id: r.get(at)?,
            name: r.get(at + 1)?,
            role: r.get(at + 2)?,
            org: r.get(at + 3)?,
            country: r.get(at + 4)?,
            person: r.get(at + 5)?,
            password_hash: r.get(at + 6)?,
            created_at: DateTime::<Utc>::UNIX_EPOCH,
            disabled: r.get::<_, i64>(at + 8)? != 0,
        },
        created,
    ))
}

fn sqlite_user_done((mut u, created): (UserRow, i64)) -> Result<UserRow> {
    u.created_at = from_micros("users", "created_at", created)?;
    Ok(u)
}

type RawToken = (String, String, String, String, i64, Option<i64>);

fn sqlite_token(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawToken> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn sqlite_token_done(t: RawToken) -> Result<TokenRow> {
    Ok(TokenRow {
        hash: t.0,
        user_id: t.1,
        kind: t.2,
        label: t.3,
        created_at: from_micros("api_tokens", "created_at", t.4)?,
        expires_at: t
            .5
            .map(|us| from_micros("api_tokens", "expires_at", us))
            .transpose()?,
    })
}

impl UserStore for SqliteStore {
    fn create_user(&mut self, u: &UserRow) -> Result<bool> {
        check_user(u)?;
        let n = self.conn.prepare_cached(&format!(
            "INSERT INTO users ({USER_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING"
        ))?
        .execute(rusqlite::params![
            u.id,
            u.name,
            u.role,
            u.org,
            u.country,
            u.person,
            u.password_hash,
            u.created_at.timestamp_micros(),
            i64::from(u.disabled)
        ])?;
        Ok(n == 1)
    }

    fn user(&mut self, id: &str) -> Result<Option<UserRow>> {
        self.conn
            .prepare_cached(&format!("SELECT {USER_COLS} FROM users WHERE id = ?1"))?
            .query_row([id], |r| sqlite_user(r, 0))
            .optional()?
            .map(sqlite_user_done)
            .transpose()
    }

    fn user_by_name(&mut self, name: &str) -> Result<Option<UserRow>> {
        self.conn
            .prepare_cached(&format!("SELECT {USER_COLS} FROM users WHERE name = ?1"))?
            .query_row([name], |r| sqlite_user(r, 0))
            .optional()?
            .map(sqlite_user_done)
            .transpose()
    }

    fn users(&mut self) -> Result<Vec<UserRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {USER_COLS} FROM users ORDER BY name"))?;
        let raw = stmt
            .query_map([], |r| sqlite_user(r, 0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raw.into_iter().map(sqlite_user_done).collect()
    }

    fn insert_token(&mut self, t: &TokenRow) -> Result<()> {
        check_token(t)?;
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO api_tokens ({TOKEN_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            ))?
            .execute(rusqlite::params![
                t.hash,
                t.user_id,
                t.kind,
                t.label,
                t.created_at.timestamp_micros(),
                t.expires_at.map(|e| e.timestamp_micros())
            ])?;
        Ok(())
    }

    fn token(&mut self, hash: &str) -> Result<Option<(TokenRow, UserRow)>> {
        let cols: Vec<String> = USER_COLS.split(", ").map(|c| format!("u.{c}")).collect();
        let sql = format!(
            "SELECT t.hash, t.user_id, t.kind, t.label, t.created_at, t.expires_at, {} \
             FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?1",
            cols.join(", ")
        );
        let raw = self
            .conn
            .prepare_cached(&sql)?
            .query_row([hash], |r| Ok((sqlite_token(r)?, sqlite_user(r, 6)?)))
            .optional()?;
        match raw {
            None => Ok(None),
            Some((t, u)) => Ok(Some((sqlite_token_done(t)?, sqlite_user_done(u)?))),
        }
    }

    fn delete_token(&mut self, hash: &str) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM api_tokens WHERE hash = ?1")?
            .execute([hash])?;
        Ok(n > 0)
    }

    fn tokens_of(&mut self, user_id: &str) -> Result<Vec<TokenRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {TOKEN_COLS} FROM api_tokens WHERE user_id = ?1 ORDER BY created_at DESC, hash"
        ))?;
        let raw = stmt
            .query_map([user_id], sqlite_token)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raw.into_iter().map(sqlite_token_done).collect()
    }
}

// --- PostgreSQL -----------------------------------------------------------

fn pg_user(r: &postgres::Row, at: usize) -> Result<UserRow> {
    Ok(UserRow {
        id: r.try_get(at)?,
        name: r.try_get(at + 1)?,
        role: r.try_get(at + 2)?,
        org: r.try_get(at + 3)?,
        country: r.try_get(at + 4)?,
        person: r.try_get(at + 5)?,
        password_hash: r.try_get(at + 6)?,
        created_at: r.try_get(at + 7)?,
        disabled: r.try_get::<_, i64>(at + 8)? != 0,
    })
}

fn pg_token(r: &postgres::Row) -> Result<TokenRow> {
    Ok(TokenRow {
        hash: r.try_get(0)?,
        user_id: r.try_get(1)?,
        kind: r.try_get(2)?,
        label: r.try_get(3)?,
        created_at: r.try_get(4)?,
        expires_at: r.try_get(5)?,
    })
}

impl UserStore for PgStore {
    fn create_user(&mut self, u: &UserRow) -> Result<bool> {
        check_user(u)?;
        let n = self.client.execute(
            &format!(
                "INSERT INTO users ({USER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING"
            ),
            &[
                &u.id,
                &u.name,
                &u.role,
                &u.org,
                &u.country,
                &u.person,
                &u.password_hash,
                &u.created_at,
                &i64::from(u.disabled),
            ],
        )?;
        Ok(n == 1)
    }

    fn user(&mut self, id: &str) -> Result<Option<UserRow>> {
        self.client
            .query_opt(
                &format!("SELECT {USER_COLS} FROM users WHERE id = $1"),
                &[&id],
            )?
            .map(|r| pg_user(&r, 0))
            .transpose()
    }

    fn user_by_name(&mut self, name: &str) -> Result<Option<UserRow>> {
        self.client
            .query_opt(
                &format!("SELECT {USER_COLS} FROM users WHERE name = $1"),
                &[&name],
            )?
            .map(|r| pg_user(&r, 0))
            .transpose()
    }

    fn users(&mut self) -> Result<Vec<UserRow>> {
        self.client
            .query(
                &format!("SELECT {USER_COLS} FROM users ORDER BY name COLLATE \"C\""),
                &[],
            )?
            .iter()
            .map(|r| pg_user(r, 0))
            .collect()
    }

    fn insert_token(&mut self, t: &TokenRow) -> Result<()> {
        check_token(t)?;
        self.client.execute(
            &format!("INSERT INTO api_tokens ({TOKEN_COLS}) VALUES ($1, $2, $3, $4, $5, $6)"),
            &[
                &t.hash,
                &t.user_id,
                &t.kind,
                &t.label,
                &t.created_at,
                &t.expires_at,
            ],
        )?;
        Ok(())
    }

    fn token(&mut self, hash: &str) -> Result<Option<(TokenRow, UserRow)>> {
        let cols: Vec<String> = USER_COLS.split(", ").map(|c| format!("u.{c}")).collect();
        let sql = format!(
            "SELECT t.hash, t.user_id, t.kind, t.label, t.created_at, t.expires_at, {} \
             FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = $1",
            cols.join(", ")
        );
        match self.client.query_opt(&sql, &[&hash])? {
            None => Ok(None),
            Some(r) => Ok(Some((pg_token(&r)?, pg_user(&r, 6)?))),
        }
    }

    fn delete_token(&mut self, hash: &str) -> Result<bool> {
        let n = self
            .client
            .execute("DELETE FROM api_tokens WHERE hash = $1", &[&hash])?;
        Ok(n > 0)
    }

    fn tokens_of(&mut self, user_id: &str) -> Result<Vec<TokenRow>> {
        self.client
            .query(
                &format!(
                    "SELECT {TOKEN_COLS} FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, hash COLLATE \"C\""
                ),
                &[&user_id],
            )?
            .iter()
            .map(pg_token)
            .collect()
    }
}
