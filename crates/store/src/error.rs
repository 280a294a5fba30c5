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
    /// A value the schema cannot hold (e.g. a count above `i64::MAX`).
    #[error("cannot store {table}.{field}: {reason}")]
    Unstorable {
        table: &'static str,
        field: &'static str,
        reason: String,
    },
}

impl StoreError {
    /// The connection to the database is gone for good — the server ended
    /// the session or shut down, or the socket failed — so only a new
    /// connection can work (SQLite files have no connection to lose).
    pub fn is_connection_lost(&self) -> bool {
        let StoreError::Postgres(e) = self else {
            return false;
        };
        // 57P01 admin_shutdown (pg_terminate_backend), 57P02
        // crash_shutdown, 57P03 cannot_connect_now.
        e.is_closed()
            || e.code()
                .is_some_and(|c| matches!(c.code(), "57P01" | "57P02" | "57P03"))
            || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
    }
}

/// An error and all its sources on one line (`a: b: c`). `postgres::Error`
/// shows only its kind ("db error") and keeps the server's message as its
/// source, so messages built from one must walk the chain.
pub(crate) fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let next = c.to_string();
        if !s.ends_with(&next) {
            s.push_str(": ");
            s.push_str(&next);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_walks_the_source_chain() {
        let io = std::io::Error::other("connection refused");
        let e = StoreError::Open {
            target: "x".into(),
            reason: "unused".into(),
        };
        assert_eq!(describe(&e), "cannot open database x: unused");
        #[derive(Debug, thiserror::Error)]
        #[error("error connecting to server")]
        struct Outer(#[source] std::io::Error);
        assert_eq!(
            describe(&Outer(io)),
            "error connecting to server: connection refused"
        );
    }
}
