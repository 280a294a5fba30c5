//! A store with real events, levels and ports, organisations for every kind
//! of user, a few synthetic people, and one account per role (with its
//! token). SQLite on a temporary file always; PostgreSQL in a fresh schema
//! when `FARGUARD_TEST_PG` is set (visible SKIP otherwise, failure under CI).

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::Duration;
use farguard_model::{CountryCode, OrgKind, Organisation, Person};
use farguard_server::access::{NewUser, create_user_blocking};
use farguard_server::auth::Role;
use farguard_server::{AppState, Config};
use farguard_store::{PgStore, SqliteStore, Store};
use http_body_util::BodyExt;
use std::collections::HashMap;
use std::io::Write as _;
use std::path::PathBuf;
use tower::ServiceExt;

pub const GDELT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/gdelt/20191024143000.export.CSV"
);
pub const WPI: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/ports/WPI_UpdatedPub150.csv"
);

/// Ids the tests refer to.
pub const ACME_SITE: &str = "WPI-47100"; // Mombasa, KE — acme
pub const GLOBEX_SITE: &str = "WPI-47010"; // Dar es Salaam, TZ — globex
pub const ACME_PERSON: &str = "P-ACME-1";
pub const GLOBEX_PERSON: &str = "P-GLOBEX-1";
pub const CITIZEN_PERSON: &str = "P-CITIZEN-1";
pub const INCIDENT: &str = "security-unrest:KE:test";
/// The check-in link token of P-ACME-1 for the incident (only its hash is stored).
pub const CHECKIN_TOKEN: &str = "5f1c0e7a9b3d4c2e8f6a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e";

pub enum Db {
    Sqlite(#[allow(dead_code)] tempfile::TempDir, PathBuf),
    Postgres { url: String, schema: String },
}

impl Db {
    pub fn open(&self) -> Box<dyn Store> {
        match self {
            Db::Sqlite(_, p) => Box::new(SqliteStore::open(p).unwrap()),
            Db::Postgres { url, schema } => Box::new(PgStore::connect(url, Some(schema)).unwrap()),
        }
    }
    /// Raw SQL behind the store's back (to tamper on purpose).
    pub fn exec(&self, sql: &str) {
        tokio::task::block_in_place(|| self.exec_now(sql));
    }

    fn exec_now(&self, sql: &str) {
        match self {
            Db::Sqlite(_, p) => rusqlite_exec(p, sql),
            Db::Postgres { url, schema } => {
                let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
                c.batch_execute(&format!("SET search_path TO \"{schema}\"; {sql}"))
                    .unwrap();
            }
        }
    }
    pub fn name(&self) -> &'static str {
        match self {
            Db::Sqlite(..) => "sqlite",
            Db::Postgres { .. } => "postgres",
        }
    }
}

fn rusqlite_exec(p: &std::path::Path, sql: &str) {
    rusqlite::Connection::open(p)
        .unwrap()
        .execute_batch(sql)
        .unwrap();
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Db::Postgres { url, schema } = self {
            let drop_schema = || {
                if let Ok(mut c) = postgres::Client::connect(url, postgres::NoTls) {
                    let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"));
                }
            };
            match tokio::runtime::Handle::try_current() {
                Ok(_) => tokio::task::block_in_place(drop_schema),
                Err(_) => drop_schema(),
            }
        }
    }
}

/// The engines to run on: SQLite, and PostgreSQL when configured.
pub fn engines() -> Vec<Db> {
    let mut v = vec![{
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("farguard.db");
        Db::Sqlite(dir, p)
    }];
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    match std::env::var("FARGUARD_TEST_PG")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(url) => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos();
            static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let schema = format!(
                "fg_server_{}_{}_{nanos}",
                std::process::id(),
                SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            );
            v.push(Db::Postgres { url, schema });
        }
        None => {
            assert!(!ci, "CI=true but FARGUARD_TEST_PG is not set");
            let _ = writeln!(
                std::io::stderr(),
                "SKIP server tests on postgres: FARGUARD_TEST_PG not set"
            );
        }
    }
    v
}

/// A loaded fixture: the app, the database, and a token per role.
pub struct Fixture {
    pub db: Db,
    pub app: Router,
    pub state: AppState,
    pub tokens: HashMap<Role, String>,
}

fn org(id: &str, name: &str, kind: OrgKind, country: Option<&str>) -> Organisation {
    Organisation {
        id: id.into(),
        name: name.into(),
        kind,
        country: country.map(|c| CountryCode::parse(c).unwrap()),
    }
}

fn person(id: &str, org: &str, site: &str) -> Person {
    Person {
        id: id.into(),
        name: format!("Synthetic {id}"),
        nationality: Some(CountryCode::parse("CN").unwrap()),
        org: Some(org.into()),
        email: None,
        phone: None,
        language: "zh".into(),
        needs: Vec::new(),
        consent: None,
        site: Some(site.into()),
    }
}

/// Loads the real data into `store`.
pub fn load(store: &mut dyn Store) {
    let bytes = std::fs::read(GDELT).unwrap();
    let batch = farguard_sources::parse_gdelt_v2("20191024143000.export.CSV", &bytes);
    store.insert_events(&batch.events).unwrap();
    store.quarantine(&batch.quarantined).unwrap();
    let (_, newest) = store.event_time_range().unwrap().unwrap();
    let at = newest + Duration::days(1);
    let g = farguard_grade::Guideline::default_shipped().unwrap();
    let events = store
        .events_between(at - Duration::days(2 * g.window_days), at)
        .unwrap();
    store
        .save_assessments(&farguard_grade::assess(&g, &events, at))
        .unwrap();

    store
        .upsert_orgs(&[
            org("coord", "Coordination centre", OrgKind::CentralAgency, None),
            org(
                "acme",
                "Acme Engineering",
                OrgKind::StateEnterprise,
                Some("CN"),
            ),
            org(
                "globex",
                "Globex Trading",
                OrgKind::PrivateEnterprise,
                Some("CN"),
            ),
            org("emb-ke", "Embassy in Kenya", OrgKind::Embassy, Some("KE")),
            org(
                "prov-gd",
                "Guangdong FAO",
                OrgKind::ProvincialOffice,
                Some("CN"),
            ),
            org(
                "secure-co",
                "Secure Co",
                OrgKind::ServiceProvider,
                Some("CN"),
            ),
        ])
        .unwrap();
    let wpi = std::fs::read(WPI).unwrap();
    let ports = farguard_registry::wpi::read("WPI_UpdatedPub150.csv", &wpi, "acme").unwrap();
    let mut sites: Vec<farguard_model::Site> = ports
        .values()
        .filter(|s| matches!(s.country.as_str(), "KE" | "TZ"))
        .cloned()
        .collect();
    for s in &mut sites {
        if s.country.as_str() == "TZ" {
            s.org = "globex".into();
        }
    }
    assert!(
        sites.iter().any(|s| s.id == ACME_SITE),
        "Mombasa is in the WPI"
    );
    assert!(
        sites.iter().any(|s| s.id == GLOBEX_SITE),
        "Dar es Salaam is in the WPI"
    );
    store.upsert_sites(&sites).unwrap();
    store
        .upsert_people(&[
            person(ACME_PERSON, "acme", ACME_SITE),
            person(GLOBEX_PERSON, "globex", GLOBEX_SITE),
            person(CITIZEN_PERSON, "acme", ACME_SITE),
        ])
        .unwrap();
}

/// One open incident in Kenya whose task force is the centre and acme, and
/// a check-in request for one acme employee.
pub fn incident(store: &mut dyn Store) {
    use farguard_model::*;
    let now = chrono::Utc::now();
    let inc = Incident {
        id: INCIDENT.into(),
        plan: "security-unrest".into(),
        plan_version: "1".into(),
        title: "Unrest near Mombasa port".into(),
        area: Area::Country(CountryCode::parse("KE").unwrap()),
        category: Category::Security,
        level: Level::III,
        peak_level: Level::III,
        command: CommandLevel::Embassy,
        lead_agency: "emb-ke".into(),
        status: IncidentStatus::Activated,
        exercise: false,
        opened_at: now,
        window_end: now + Duration::days(7),
        activated_at: Some(now),
        calm_since: None,
        closed_at: None,
        updated_at: now,
        reason: "security level III in KE with 2 acme staff exposed".into(),
        members: vec![
            Member {
                role: "lead".into(),
                org: "coord".into(),
                joined_at: now,
                level: Level::III,
            },
            Member {
                role: "enterprise".into(),
                org: "acme".into(),
                joined_at: now,
                level: Level::III,
            },
        ],
        tasks: vec![Task {
            id: "account_for_staff".into(),
            title: "Account for all staff in Mombasa".into(),
            owner_role: "enterprise".into(),
            org: "acme".into(),
            after: Vec::new(),
            checklist: vec!["call every site lead".into()],
            resources: Vec::new(),
            created_at: now,
            due_at: now + Duration::hours(2),
            status: TaskStatus::Open,
            acked_at: None,
            acked_by: None,
            done_at: None,
            done_by: None,
            escalations: 0,
        }],
        timeline: vec![TimelineEntry {
            at: now,
            actor: "farguard".into(),
            kind: "opened".into(),
            text: "opened by plan security-unrest".into(),
        }],
    };
    store.save_incident(&inc).unwrap();
    let scope = format!("incident:{INCIDENT}");
    let alert = AlertRecord {
        id: "alert-test-1".into(),
        scope: scope.clone(),
        incident: Some(INCIDENT.into()),
        event: None,
        sent: now,
        status: CapStatus::Actual,
        msg_type: MsgType::Alert,
        level: Level::III,
        category: "security".into(),
        headline: "Unrest near Mombasa port: are you safe?".into(),
        recipients: 1,
        cap_xml: "<alert/>".into(),
        reason: "staff at an exposed site".into(),
    };
    let token = CheckinToken {
        hash: farguard_notify::checkin::hash(CHECKIN_TOKEN),
        scope: scope.clone(),
        recipient: ACME_PERSON.into(),
        kind: "link".into(),
        created_at: now,
        expires_at: now + Duration::days(3),
    };
    let state = CheckinState {
        scope,
        recipient: ACME_PERSON.into(),
        name: "Synthetic P-ACME-1".into(),
        status: CheckinStatus::NoAnswer,
        message: None,
        location: None,
        answered_at: None,
        reached_at: Some(now),
    };
    store.queue_alert(&alert, &[], &[token], &[state]).unwrap();
}

/// The plan files in `config/plans`.
pub fn plans() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/plans");
    let mut v: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    assert!(!v.is_empty(), "config/plans holds the shipped plans");
    v
}

pub fn new_user(role: Role) -> NewUser {
    let (org, country, person) = match role {
        Role::Coordinator => (Some("coord"), None, None),
        Role::Embassy => (Some("emb-ke"), Some("KE"), None),
        Role::ProvincialOffice => (Some("prov-gd"), Some("TZ"), None),
        Role::EnterpriseAdmin | Role::EnterpriseMember => (Some("acme"), None, None),
        Role::ServiceProvider => (Some("secure-co"), None, None),
        Role::Citizen => (Some("acme"), None, Some(CITIZEN_PERSON)),
        Role::Observer => (None, None, None),
    };
    NewUser {
        name: format!("test-{}", role.code()),
        role: role.code().into(),
        org: org.map(Into::into),
        country: country.map(Into::into),
        person: person.map(Into::into),
        password: None,
    }
}

impl Fixture {
    /// Builds the fixture; safe to call from async tests (the PostgreSQL
    /// client blocks, so the work leaves the async worker).
    pub fn on(db: Db, config: Config) -> Fixture {
        tokio::task::block_in_place(|| Fixture::build(db, config))
    }

    fn build(db: Db, config: Config) -> Fixture {
        Fixture::build_on(db, |db| {
            let conns = (0..2).map(|_| db.open()).collect();
            AppState::from_stores(conns, config).unwrap()
        })
    }

    /// The fixture data in `db`, served by the state `serve` builds on it.
    pub fn build_on(db: Db, serve: impl FnOnce(&Db) -> AppState) -> Fixture {
        let mut store = db.open();
        load(store.as_mut());
        incident(store.as_mut());
        let mut tokens = HashMap::new();
        for role in Role::ALL {
            let (_, secret) =
                create_user_blocking(store.as_mut(), "test", &new_user(role), None).unwrap();
            tokens.insert(role, secret.expose().to_string());
        }
        drop(store);
        let state = serve(&db);
        let app = farguard_server::router(state.clone());
        Fixture {
            db,
            app,
            state,
            tokens,
        }
    }

    /// Tests run with the rate limit off unless they test it, and with the
    /// shipped plans.
    pub fn new(db: Db) -> Fixture {
        Fixture::on(
            db,
            Config {
                rate_per_sec: 0,
                plans: plans(),
                ..Config::default()
            },
        )
    }

    pub fn token(&self, r: Role) -> &str {
        &self.tokens[&r]
    }

    /// Answers the fixture's check-in link with `status` (`safe`,
    /// `need_help`, …), as the check-in page does: no login.
    pub async fn answer_checkin(&self, status: &str) -> (StatusCode, serde_json::Value) {
        self.call(
            "POST",
            &format!("/api/v1/checkin/{CHECKIN_TOKEN}"),
            None,
            Some((
                "application/json",
                format!(r#"{{"status":"{status}"}}"#).into_bytes(),
            )),
        )
        .await
    }

    /// Sends one request; returns status and body (JSON when it parses).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> (StatusCode, serde_json::Value) {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some((ct, bytes)) => b
                .header("content-type", ct)
                .body(Body::from(bytes))
                .unwrap(),
            None => b.body(Body::empty()).unwrap(),
        };
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let v = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, v)
    }

    pub async fn get(&self, role: Role, path: &str) -> (StatusCode, serde_json::Value) {
        self.call("GET", path, Some(self.token(role)), None).await
    }

    pub async fn json(
        &self,
        method: &str,
        role: Role,
        path: &str,
        body: &str,
    ) -> (StatusCode, serde_json::Value) {
        self.call(
            method,
            path,
            Some(self.token(role)),
            Some(("application/json", body.as_bytes().to_vec())),
        )
        .await
    }
}
