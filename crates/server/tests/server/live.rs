//! The server while it runs: registry and levels changed by someone else
//! (the CLI, a script) show up through the store's change stamps; a write
//! and its audit entry are one transaction — when the database refuses the
//! audit insert the write is not kept either; concurrent writes grouped into
//! shared transactions each answer only once committed, each audited once.

use crate::fixture::{self, ACME_SITE, Db, Fixture};
use axum::http::StatusCode;
use farguard_server::Config;
use farguard_server::auth::Role;
use std::time::{Duration, Instant};

/// Polls `f` until it is true or `secs` pass.
async fn eventually(secs: u64, mut f: impl AsyncFnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

fn refuse_audit_sql(db: &Db) -> &'static str {
    match db {
        Db::Postgres { .. } => {
            "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit refused'; END $$; \
             CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_audit();"
        }
        Db::Sqlite(..) => {
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit refused'); END;"
        }
    }
}

fn allow_audit_sql(db: &Db) -> &'static str {
    match db {
        Db::Postgres { .. } => "DROP TRIGGER refuse_audit ON audit_log;",
        Db::Sqlite(..) => "DROP TRIGGER refuse_audit;",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_made_outside_the_server_show_while_it_runs() {
    for db in fixture::engines() {
        let fx = Fixture::on(
            db,
            Config {
                rate_per_sec: 0,
                watch_every: Duration::from_millis(100),
                ..Config::default()
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(farguard_server::run(listener, fx.state.clone(), async {
            let _ = stopped.await;
        }));
        let (s, _) = fx.get(Role::Coordinator, "/api/v1/sites/CLI-CAMP-1").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (_, before) = fx
            .get(Role::Coordinator, "/api/v1/sites?q=nakuru&limit=5")
            .await;
        assert_eq!(before["total"], 0, "{before}");

        // What `farguard import sites` does, on its own connection.
        let csv =
            "id,org,name,kind,lat,lon,country\nCLI-CAMP-1,acme,Nakuru camp,camp,-0.30,36.07,KE\n";
        let imp = farguard_registry::sites::read_csv("cli.csv", csv.as_bytes()).unwrap();
        let rows: Vec<farguard_model::Site> = imp.rows.into_iter().map(|(_, s)| s).collect();
        tokio::task::block_in_place(|| {
            let mut cli = fx.db.open();
            cli.upsert_sites(&rows).unwrap();
        });
        let seen = eventually(10, async || {
            fx.get(Role::Coordinator, "/api/v1/sites/CLI-CAMP-1")
                .await
                .0
                == StatusCode::OK
        })
        .await;
        assert!(seen, "{}: the site imported by the CLI shows", fx.db.name());
        let (_, after) = fx
            .get(Role::Coordinator, "/api/v1/sites?q=nakuru&limit=5")
            .await;
        assert_eq!(after["total"], 1, "the cached list was refreshed: {after}");
        let (_, x) = fx
            .get(
                Role::EnterpriseMember,
                "/api/v1/exposure?lat=-0.3&lon=36.07&radius_km=5",
            )
            .await;
        assert_eq!(x["sites"][0]["site"], "CLI-CAMP-1", "and exposure finds it");

        // A level graded by the CLI replaces the one served.
        let (_, a) = fx
            .get(
                Role::Observer,
                "/api/v1/assessments?category=security&brief=true&limit=1000",
            )
            .await;
        let area = a["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["area_kind"] == "country" && x["level"] != "I")
            .expect("a country graded below I")["area"]
            .as_str()
            .unwrap()
            .to_string();
        let graded_at = chrono::Utc::now();
        tokio::task::block_in_place(|| {
            let mut cli = fx.db.open();
            let mut x = cli
                .latest_assessments()
                .unwrap()
                .into_iter()
                .find(|x| {
                    x.area.to_string() == area && x.category == farguard_model::Category::Security
                })
                .unwrap();
            x.at = graded_at;
            x.level = farguard_model::Level::I;
            x.score = 99.0;
            cli.save_assessments(&[x]).unwrap();
        });
        let path = format!("/api/v1/assessments/{area}/security");
        let seen = eventually(10, async || {
            fx.get(Role::Observer, &path).await.1["level"] == "I"
        })
        .await;
        assert!(seen, "{}: the new level shows", fx.db.name());
        let (_, m) = fx
            .get(Role::Observer, "/api/v1/map?category=security")
            .await;
        let row = m["countries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["country"] == area.as_str())
            .unwrap();
        assert_eq!(row["level"], "I", "the cached map was rebuilt");
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_audit_entry_fails_is_not_kept() {
    for db in fixture::engines() {
        let fx = Fixture::new(db);
        let (_, v) = fx.get(Role::Coordinator, "/api/v1/audit/verify").await;
        let entries = v["entries"].as_i64().unwrap();
        let path = format!("/api/v1/sites/{ACME_SITE}");
        let (_, site) = fx.get(Role::Coordinator, &path).await;
        let name = site["name"].as_str().unwrap().to_string();
        fx.db.exec(refuse_audit_sql(&fx.db));

        let body = r#"{"org":"acme","name":"Mombasa (never stored)","kind":"port","lat":-4.05,"lon":39.66,"country":"KE"}"#;
        let (s, v) = fx.json("PUT", Role::EnterpriseAdmin, &path, body).await;
        assert!(s.is_server_error(), "{}: {s} {v}", fx.db.name());
        assert!(
            !v.to_string().contains("audit refused"),
            "internals stay in the log: {v}"
        );
        let (s, _) = fx
            .json(
                "PUT",
                Role::EnterpriseAdmin,
                "/api/v1/sites/NEW-SITE-1",
                body,
            )
            .await;
        assert!(s.is_server_error());
        let (s, _) = fx
            .call(
                "POST",
                "/api/v1/import/sites",
                Some(fx.token(Role::EnterpriseAdmin)),
                Some((
                    "text/csv",
                    b"id,org,name,kind,lat,lon,country\nIMP-1,acme,Imported,camp,-1.28,36.82,KE\n"
                        .to_vec(),
                )),
            )
            .await;
        assert!(s.is_server_error());
        let (s, _) = fx
            .json(
                "POST",
                Role::Observer,
                "/api/v1/tokens",
                r#"{"label":"never"}"#,
            )
            .await;
        assert!(s.is_server_error());
        let (s, _) = fx
            .call(
                "POST",
                &format!("/api/v1/checkin/{}", fixture::CHECKIN_TOKEN),
                None,
                Some(("application/json", br#"{"status":"need_help"}"#.to_vec())),
            )
            .await;
        assert!(s.is_server_error());

        // Nothing of it was kept: not in the store, not in the server's memory.
        tokio::task::block_in_place(|| {
            let mut st = fx.db.open();
            assert_eq!(st.site(ACME_SITE).unwrap().unwrap().name, name);
            assert!(st.site("NEW-SITE-1").unwrap().is_none());
            assert!(st.site("IMP-1").unwrap().is_none());
            let c = st
                .checkin_state(
                    &format!("incident:{}", fixture::INCIDENT),
                    fixture::ACME_PERSON,
                )
                .unwrap()
                .unwrap();
            assert_eq!(c.status, farguard_model::CheckinStatus::NoAnswer);
        });
        let (_, site) = fx.get(Role::Coordinator, &path).await;
        assert_eq!(site["name"], name.as_str(), "{site}");
        let (s, _) = fx.get(Role::Coordinator, "/api/v1/sites/NEW-SITE-1").await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        // With the audit log writable again the same writes go through, audited.
        fx.db.exec(allow_audit_sql(&fx.db));
        let (s, v) = fx.json("PUT", Role::EnterpriseAdmin, &path, body).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (_, v) = fx.get(Role::Coordinator, "/api/v1/audit/verify").await;
        assert_eq!(v["intact"], true, "{v}");
        assert_eq!(v["entries"].as_i64().unwrap(), entries + 1, "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_commit_in_groups_each_audited_once() {
    for db in fixture::engines() {
        let fx = std::sync::Arc::new(Fixture::new(db));
        let (_, v) = fx.get(Role::Coordinator, "/api/v1/audit/verify").await;
        let entries = v["entries"].as_i64().unwrap();
        let n = 64;
        let mut tasks = Vec::new();
        for i in 0..n {
            let fx = std::sync::Arc::clone(&fx);
            tasks.push(tokio::spawn(async move {
                let body = format!(
                    r#"{{"org":"acme","name":"Camp {i}","kind":"camp","lat":-1.{i:02},"lon":36.8,"country":"KE"}}"#
                );
                fx.json(
                    "PUT",
                    Role::EnterpriseAdmin,
                    &format!("/api/v1/sites/BATCH-{i}"),
                    &body,
                )
                .await
            }));
        }
        // Answers to one check-in, concurrently: each decided on the state
        // the one before it left.
        for i in 0..16 {
            let fx = std::sync::Arc::clone(&fx);
            tasks.push(tokio::spawn(async move {
                let status = if i % 2 == 0 { "safe" } else { "need_help" };
                fx.answer_checkin(status).await
            }));
        }
        let mut checkins_recorded = 0;
        for (i, t) in tasks.into_iter().enumerate() {
            let (s, v) = t.await.unwrap();
            if i < n {
                assert_eq!(s, StatusCode::CREATED, "{v}");
            } else {
                assert!(
                    s == StatusCode::OK || s == StatusCode::CONFLICT,
                    "a later answer is recorded, an older one refused: {s} {v}"
                );
                checkins_recorded += 1;
            }
        }
        assert_eq!(checkins_recorded, 16);
        let (_, sites) = fx
            .get(Role::Coordinator, "/api/v1/sites?q=batch-&limit=100")
            .await;
        assert_eq!(sites["total"], n, "{sites}");
        let (_, log) = fx.get(Role::Coordinator, "/api/v1/audit?limit=1000").await;
        let log = log.as_array().unwrap();
        for i in 0..n {
            let target = format!("site:BATCH-{i}");
            assert_eq!(
                log.iter()
                    .filter(|e| e["target"] == target.as_str())
                    .count(),
                1,
                "{target} audited once"
            );
        }
        let (_, v) = fx.get(Role::Coordinator, "/api/v1/audit/verify").await;
        assert_eq!(v["intact"], true, "{v}");
        let answers = v["entries"].as_i64().unwrap() - entries - n as i64;
        assert!(
            (1..=16).contains(&answers),
            "every recorded answer audited once: {answers}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_racing_a_write_never_undoes_it_in_memory() {
    let fx = std::sync::Arc::new(Fixture::new(fixture::engines().remove(0)));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Someone else keeps changing the registry; the server keeps reloading it.
    let reloader = {
        let fx = std::sync::Arc::clone(&fx);
        let done = std::sync::Arc::clone(&done);
        tokio::spawn(async move {
            let csv = "id,org,name,kind,lat,lon,country\nOTHER-1,acme,Other,camp,-0.30,36.07,KE\n";
            let imp = farguard_registry::sites::read_csv("o.csv", csv.as_bytes()).unwrap();
            let mut site = imp.rows[0].1.clone();
            let mut i = 0u32;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                site.headcount = i;
                let s = site.clone();
                tokio::task::block_in_place(|| fx.db.open().upsert_sites(&[s]).unwrap());
                fx.state.refresh().await.unwrap();
            }
            i
        })
    };
    for i in 0..100 {
        let body = format!(
            r#"{{"org":"acme","name":"Raced {i}","kind":"camp","lat":-1.2,"lon":36.8,"country":"KE"}}"#
        );
        let path = format!("/api/v1/sites/RACE-{i}");
        let (s, v) = fx.json("PUT", Role::EnterpriseAdmin, &path, &body).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let (s, v) = fx.get(Role::EnterpriseAdmin, &path).await;
        assert_eq!(s, StatusCode::OK, "a site just written is there: {v}");
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let reloads = reloader.await.unwrap();
    assert!(reloads > 1, "the registry was reloaded while writing");
}
