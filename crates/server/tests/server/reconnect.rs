//! PostgreSQL ends the server's sessions (a restart, a failover, an
//! administrator's `pg_terminate_backend`): the next write and the next
//! read each run on a new connection instead of failing from then on.

use crate::fixture::{self, Db, Fixture};
use axum::http::StatusCode;
use farguard_server::{AppState, Config};
use farguard_store::{PgStore, Store};
use std::sync::Arc;

/// `url` with the session named `name` (to find its backends).
fn named(url: &str, name: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}application_name={name}")
}

/// Ends every session named `name`, waiting until each is gone; returns how many.
fn terminate(url: &str, name: &str) -> usize {
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let rows = c
        .query(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = $1",
            &[&name],
        )
        .unwrap();
    assert!(rows.iter().all(|r| r.get::<_, bool>(0)));
    rows.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_and_readers_reconnect_when_postgres_ends_their_sessions() {
    for db in fixture::engines() {
        let Db::Postgres { url, schema } = &db else {
            continue;
        };
        let (url, name) = (url.clone(), schema.clone());
        let open = {
            let (target, schema) = (named(&url, &name), schema.clone());
            move || PgStore::connect(&target, Some(&schema)).map(|s| Box::new(s) as Box<dyn Store>)
        };
        let fx = tokio::task::block_in_place(|| {
            Fixture::build_on(db, |_| {
                let conns = vec![open().unwrap(), open().unwrap()];
                AppState::from_stores_reopening(
                    conns,
                    Some(Arc::new(open)),
                    Config {
                        rate_per_sec: 0,
                        ..Config::default()
                    },
                )
                .unwrap()
            })
        });
        let (s, v) = fx.answer_checkin("need_help").await;
        assert_eq!(s, StatusCode::OK, "{v}");
        // The writer's session and the reader's, ended while idle.
        let ended = tokio::task::block_in_place(|| terminate(&url, &name));
        assert_eq!(ended, 2);
        // The answer reads the credential (a reader) and records (the writer).
        let (s, v) = fx.answer_checkin("safe").await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["answer"], "safe", "{v}");
        let (s, v) = fx
            .call(
                "GET",
                &format!("/api/v1/checkin/{}", fixture::CHECKIN_TOKEN),
                None,
                None,
            )
            .await;
        assert_eq!((s, &v["answer"]), (StatusCode::OK, &"safe".into()), "{v}");
        // Ended again: the new connections are replaced in turn.
        let ended = tokio::task::block_in_place(|| terminate(&url, &name));
        assert_eq!(ended, 2);
        let (s, v) = fx.answer_checkin("need_help").await;
        assert_eq!(
            (s, &v["answer"]),
            (StatusCode::OK, &"need_help".into()),
            "{v}"
        );
    }
}
