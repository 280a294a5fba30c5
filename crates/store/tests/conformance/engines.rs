//! The engines the suite runs against: SQLite on a fresh temporary file per
//! test, and PostgreSQL in a fresh schema per test when `FARGUARD_TEST_PG`
//! names a server (the schema is dropped afterwards, even when the check
//! fails). Without the variable the PostgreSQL half prints one visible SKIP
//! line and passes, except under `CI=true`, where it fails.

use farguard_store::{PgStore, SqliteStore, Store};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};

/// An engine under test: can open its database again and run raw SQL on it.
pub trait Engine {
    fn open(&self) -> Box<dyn Store>;
    /// Runs SQL directly, bypassing the store (to corrupt rows on purpose).
    fn exec(&self, sql: &str);
}

pub struct Sqlite {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Sqlite {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("farguard.db");
        Self { _dir: dir, path }
    }
}

impl Engine for Sqlite {
    fn open(&self) -> Box<dyn Store> {
        Box::new(SqliteStore::open(&self.path).unwrap())
    }
    fn exec(&self, sql: &str) {
        rusqlite::Connection::open(&self.path)
            .unwrap()
            .execute_batch(sql)
            .unwrap();
    }
}

pub struct Postgres {
    url: String,
    schema: String,
}

static SKIP_NOTICE: Once = Once::new();
static SCHEMA_SEQ: AtomicU32 = AtomicU32::new(0);

impl Postgres {
    /// `None` (after a visible notice) when PostgreSQL is not configured and
    /// this is not CI.
    fn new() -> Option<Self> {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        let Some(url) = std::env::var("FARGUARD_TEST_PG")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            assert!(
                !ci,
                "CI=true but FARGUARD_TEST_PG is not set: the PostgreSQL conformance suite must run in CI"
            );
            SKIP_NOTICE.call_once(|| {
                // Straight to the stderr handle: libtest captures eprintln!.
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIP postgres conformance: FARGUARD_TEST_PG not set \
                     (e.g. FARGUARD_TEST_PG=postgres://postgres@127.0.0.1:5432/test)"
                );
            });
            return None;
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let schema = format!(
            "fg_test_{}_{}_{nanos}",
            std::process::id(),
            SCHEMA_SEQ.fetch_add(1, Ordering::Relaxed)
        );
        Some(Self { url, schema })
    }

    fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).unwrap_or_else(|e| {
            panic!("FARGUARD_TEST_PG is set but the server is unreachable: {e}")
        })
    }
}

impl Engine for Postgres {
    fn open(&self) -> Box<dyn Store> {
        match PgStore::connect(&self.url, Some(&self.schema)) {
            Ok(s) => Box::new(s),
            Err(e) => panic!("FARGUARD_TEST_PG is set but the store cannot connect: {e}"),
        }
    }
    fn exec(&self, sql: &str) {
        let mut c = self.client();
        c.batch_execute(&format!("SET search_path TO \"{}\"; {sql}", self.schema))
            .unwrap();
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.url, postgres::NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
                self.schema
            ));
        }
    }
}

pub fn sqlite(check: fn(&mut dyn Store)) {
    let engine = Sqlite::new();
    let mut store = engine.open();
    assert_eq!(store.backend(), "sqlite");
    check(&mut *store);
}

pub fn sqlite_engine(check: fn(&dyn Engine)) {
    check(&Sqlite::new());
}

pub fn postgres(check: fn(&mut dyn Store)) {
    let Some(engine) = Postgres::new() else {
        return;
    };
    let mut store = engine.open();
    assert_eq!(store.backend(), "postgres");
    check(&mut *store);
    // `store` closes before `engine` drops the schema.
}

pub fn postgres_engine(check: fn(&dyn Engine)) {
    if let Some(engine) = Postgres::new() {
        check(&engine);
    }
}
