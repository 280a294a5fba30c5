//! The store's error type.

/// A storage failure. Messages say which engine and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("cannot open database {target}: {reason}")]
    Open { target: String, reason: String },
    #[error("stored row is corrupt ({table}.{field}): {reason}")]
    Corrupt {
        table: &'static str,
        field: &'static str,
        reason: String,
    },
}
