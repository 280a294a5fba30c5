//! The whole role × route matrix from one table: for every route in the
//! OpenAPI document and every role, the expected outcome — A allowed (2xx),
//! F forbidden (403), N not found or not visible (404), U unauthenticated
//! (401). Then every protected route refuses a missing and a forged token,
//! and lists show each role exactly its own slice of the data.

use crate::fixture::{
    self, ACME_PERSON, ACME_SITE, CITIZEN_PERSON, Fixture, GLOBEX_PERSON, GLOBEX_SITE,
};
use axum::http::StatusCode;
use farguard_server::auth::Role;
use std::collections::BTreeSet;

/// (method, OpenAPI path template, concrete path, JSON/CSV body, expected per
/// role in `Role::ALL` order: coordinator, embassy (KE), provincial office
/// (TZ), enterprise admin (acme), enterprise member (acme), service
/// provider, citizen (own record P-CITIZEN-1, acme), observer).
type Row = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
);

const SITE_ACME: &str =
    r#"{"org":"acme","name":"Mombasa","kind":"port","lat":-4.05,"lon":39.66,"country":"KE"}"#;
const SITE_GLOBEX: &str = r#"{"org":"globex","name":"Dar es Salaam","kind":"port","lat":-6.82,"lon":39.29,"country":"TZ"}"#;
const CSV_ACME: &str =
    "id,org,name,kind,lat,lon,country\nACME-CAMP-1,acme,Nairobi camp,camp,-1.28,36.82,KE\n";

const TABLE: &[Row] = &[
    ("GET", "/healthz", "/healthz", None, "AAAAAAAA"),
    ("GET", "/readyz", "/readyz", None, "AAAAAAAA"),
    ("GET", "/metrics", "/metrics", None, "AAAAAAAA"),
    ("GET", "/api/v1/me", "/api/v1/me", None, "AAAAAAAA"),
    (
        "POST",
        "/api/v1/login",
        "/api/v1/login",
        Some(r#"{"name":"test-coordinator","password":"not the password"}"#),
        "UUUUUUUU",
    ),
    ("GET", "/api/v1/users", "/api/v1/users", None, "AFFAFFFF"),
    (
        "POST",
        "/api/v1/users",
        "/api/v1/users",
        Some(r#"{"name":"member-{role}","role":"enterprise_member","org":"acme"}"#),
        "AFFAFFFF",
    ),
    (
        "POST",
        "/api/v1/tokens",
        "/api/v1/tokens",
        Some(r#"{"label":"matrix"}"#),
        "AAAAAAAA",
    ),
    (
        "GET",
        "/api/v1/audit",
        "/api/v1/audit?limit=5",
        None,
        "AFFFFFFF",
    ),
    (
        "GET",
        "/api/v1/audit/verify",
        "/api/v1/audit/verify",
        None,
        "AFFFFFFF",
    ),
    (
        "GET",
        "/api/v1/events",
        "/api/v1/events?limit=5",
        None,
        "AAAAAAAA",
    ),
    (
        "GET",
        "/api/v1/events/{id}",
        "/api/v1/events/{event}",
        None,
        "AAAAAAAA",
    ),
    (
        "GET",
        "/api/v1/assessments",
        "/api/v1/assessments?brief=true",
        None,
        "AAAAAAAA",
    ),
    (
        "GET",
        "/api/v1/assessments/{area}/{category}",
        "/api/v1/assessments/{area}/{category}",
        None,
        "AAAAAAAA",
    ),
    (
        "GET",
        "/api/v1/map",
        "/api/v1/map?category=security",
        None,
        "AAAAAAAA",
    ),
    (
        "GET",
        "/api/v1/exposure",
        "/api/v1/exposure?lat=-4.05&lon=39.66&radius_km=25",
        None,
        "AAAAAFAF",
    ),
    (
        "GET",
        "/api/v1/quarantine",
        "/api/v1/quarantine?limit=5",
        None,
        "AFFFFFFF",
    ),
    ("GET", "/api/v1/orgs", "/api/v1/orgs", None, "AAAAAAFA"),
    (
        "GET",
        "/api/v1/sites",
        "/api/v1/sites?limit=5",
        None,
        "AAAAAAFF",
    ),
    (
        "GET",
        "/api/v1/sites/{id}",
        "/api/v1/sites/WPI-47100",
        None,
        "AANAANFF",
    ),
    (
        "GET",
        "/api/v1/sites/{id}",
        "/api/v1/sites/WPI-47010",
        None,
        "ANANNNFF",
    ),
    (
        "PUT",
        "/api/v1/sites/{id}",
        "/api/v1/sites/WPI-47100",
        Some(SITE_ACME),
        "AFFAFFFF",
    ),
    (
        "PUT",
        "/api/v1/sites/{id}",
        "/api/v1/sites/WPI-47010",
        Some(SITE_GLOBEX),
        "AFFNFFFF",
    ),
    (
        "POST",
        "/api/v1/import/sites",
        "/api/v1/import/sites",
        Some(CSV_ACME),
        "AFFAFFFF",
    ),
    ("GET", "/api/v1/people", "/api/v1/people", None, "AAAAAFAF"),
    (
        "GET",
        "/api/v1/people/{id}",
        "/api/v1/people/P-ACME-1",
        None,
        "AANAAFNF",
    ),
    (
        "GET",
        "/api/v1/people/{id}",
        "/api/v1/people/P-GLOBEX-1",
        None,
        "ANANNFNF",
    ),
    (
        "GET",
        "/api/v1/people/{id}",
        "/api/v1/people/P-CITIZEN-1",
        None,
        "AANAAFAF",
    ),
    (
        "GET",
        "/api/v1/incidents",
        "/api/v1/incidents",
        None,
        "AAAAAAFF",
    ),
    (
        "GET",
        "/api/v1/incidents/{id}",
        "/api/v1/incidents/security-unrest:KE:test",
        None,
        "AANAANFF",
    ),
    ("GET", "/api/v1/plans", "/api/v1/plans", None, "AAAAAAFA"),
    (
        "GET",
        "/api/v1/plans/{id}",
        "/api/v1/plans/security-evacuation",
        None,
        "AAAAAAFA",
    ),
    (
        "GET",
        "/api/v1/plans/{id}",
        "/api/v1/plans/no-such-plan",
        None,
        "NNNNNNFN",
    ),
    ("GET", "/api/v1/alerts", "/api/v1/alerts", None, "AAAAAAFF"),
    (
        "GET",
        "/api/v1/alerts",
        "/api/v1/alerts?incident=security-unrest:KE:test",
        None,
        "AAAAAAFF",
    ),
    (
        "GET",
        "/api/v1/alerts/{id}",
        "/api/v1/alerts/alert-test-1",
        None,
        "AANAANFF",
    ),
    (
        "GET",
        "/api/v1/alerts/{id}",
        "/api/v1/alerts/no-such-alert",
        None,
        "NNNNNNFF",
    ),
    (
        "GET",
        "/api/v1/alerts/{id}/cap",
        "/api/v1/alerts/alert-test-1/cap",
        None,
        "AANAANFF",
    ),
    (
        "GET",
        "/api/v1/checkin/{token}",
        "/api/v1/checkin/no-such-token",
        None,
        "NNNNNNNN",
    ),
    (
        "POST",
        "/api/v1/checkin/{token}",
        "/api/v1/checkin/no-such-token",
        Some(r#"{"status":"safe"}"#),
        "NNNNNNNN",
    ),
    // Last: each role logs out a token made for the purpose.
    ("POST", "/api/v1/logout", "/api/v1/logout", None, "AAAAAAAA"),
];

/// Routes anyone may call without a token.
const PUBLIC: &[&str] = &[
    "/healthz",
    "/readyz",
    "/metrics",
    "/api/v1/login",
    "/api/v1/checkin/{token}",
];

fn expected(c: char) -> &'static [StatusCode] {
    match c {
        'A' => &[StatusCode::OK, StatusCode::CREATED, StatusCode::NO_CONTENT],
        'F' => &[StatusCode::FORBIDDEN],
        'N' => &[StatusCode::NOT_FOUND],
        'U' => &[StatusCode::UNAUTHORIZED],
        _ => unreachable!("bad cell {c}"),
    }
}

async fn concrete(fx: &Fixture, path: &str) -> String {
    let mut p = path.to_string();
    if p.contains("{event}") {
        let (_, v) = fx.get(Role::Coordinator, "/api/v1/events?limit=1").await;
        p = p.replace("{event}", v["items"][0]["id"].as_str().unwrap());
    }
    if p.contains("{area}") {
        let (_, v) = fx
            .get(Role::Coordinator, "/api/v1/assessments?limit=1&brief=true")
            .await;
        let a = &v["items"][0];
        p = p
            .replace("{area}", a["area"].as_str().unwrap())
            .replace("{category}", a["category"].as_str().unwrap());
    }
    p
}

#[test]
fn the_table_covers_every_route_in_the_openapi_document() {
    let doc = serde_json::to_value(farguard_server::openapi()).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in item.as_object().unwrap().keys() {
            documented.insert((m.to_uppercase(), path.clone()));
        }
    }
    let tabled: BTreeSet<(String, String)> = TABLE
        .iter()
        .map(|(m, t, ..)| (m.to_string(), t.to_string()))
        .collect();
    assert_eq!(
        documented, tabled,
        "every documented route needs a row in the matrix, and every row a documented route"
    );
    assert_eq!(doc["openapi"], "3.1.0");
}

async fn walk(fx: &Fixture) {
    let mut failures = Vec::new();
    for (method, template, path, body, cells) in TABLE {
        assert_eq!(cells.chars().count(), Role::ALL.len(), "{method} {path}");
        let path = concrete(fx, path).await;
        for (role, cell) in Role::ALL.into_iter().zip(cells.chars()) {
            let token = if *template == "/api/v1/logout" {
                let (s, v) = fx
                    .json("POST", role, "/api/v1/tokens", r#"{"label":"to log out"}"#)
                    .await;
                assert_eq!(s, StatusCode::CREATED, "{v}");
                v["token"].as_str().unwrap().to_string()
            } else {
                fx.token(role).to_string()
            };
            let body = body.map(|b| {
                let ct = if b.starts_with('{') {
                    "application/json"
                } else {
                    "text/csv"
                };
                (ct, b.replace("{role}", role.code()).into_bytes())
            });
            let (status, v) = fx.call(method, &path, Some(&token), body).await;
            if !expected(cell).contains(&status) {
                failures.push(format!(
                    "{method} {path} as {role}: expected {cell}, got {status} {v}"
                ));
            }
            if !status.is_success() && status != StatusCode::UNAUTHORIZED
                || status.is_client_error()
            {
                assert!(
                    v.get("error").and_then(|e| e.as_str()).is_some(),
                    "{method} {path} as {role}: an error body has an `error` code: {v}"
                );
            }
            assert!(
                !status.is_server_error(),
                "{method} {path} as {role}: {status} {v}"
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} cells wrong on {}:\n{}",
        failures.len(),
        fx.db.name(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_gets_exactly_its_cells_on_every_route() {
    for db in fixture::engines() {
        let fx = Fixture::new(db);
        walk(&fx).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_routes_refuse_missing_and_forged_tokens() {
    let fx = Fixture::new(fixture::engines().remove(0));
    let forged = format!("fg_{}", "0".repeat(64));
    for (method, template, path, body, _) in TABLE {
        if PUBLIC.contains(template) {
            continue;
        }
        let path = concrete(&fx, path).await;
        for token in [None, Some(forged.as_str()), Some("not-a-token"), Some("")] {
            let b = body.map(|b| {
                let ct = if b.starts_with('{') {
                    "application/json"
                } else {
                    "text/csv"
                };
                (ct, b.as_bytes().to_vec())
            });
            let (status, v) = fx.call(method, &path, token, b).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {token:?}: {v}"
            );
            assert_eq!(v["error"], "unauthenticated");
            assert_eq!(v["pointer"], "/headers/authorization");
        }
    }
}

fn ids(v: &serde_json::Value) -> BTreeSet<String> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect()
}

fn orgs(v: &serde_json::Value) -> BTreeSet<String> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["org"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_show_each_role_only_its_own_slice() {
    let fx = Fixture::new(fixture::engines().remove(0));
    let set = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();

    let (_, all) = fx.get(Role::Coordinator, "/api/v1/sites?limit=1000").await;
    assert_eq!(orgs(&all), set(&["acme", "globex"]));
    let (_, mine) = fx
        .get(Role::EnterpriseMember, "/api/v1/sites?limit=1000")
        .await;
    assert_eq!(
        orgs(&mine),
        set(&["acme"]),
        "an enterprise sees only its own sites"
    );
    assert!(ids(&mine).contains(ACME_SITE) && !ids(&mine).contains(GLOBEX_SITE));
    let (_, ke) = fx.get(Role::Embassy, "/api/v1/sites?limit=1000").await;
    assert!(
        ke["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["country"] == "KE"),
        "an embassy sees its own country's sites"
    );
    assert!(ids(&ke).contains(ACME_SITE));
    let (_, provider) = fx
        .get(Role::ServiceProvider, "/api/v1/sites?limit=1000")
        .await;
    assert_eq!(
        provider["total"], 0,
        "a provider sees no enterprise's sites"
    );

    let (_, people) = fx.get(Role::Citizen, "/api/v1/people").await;
    assert_eq!(
        ids(&people),
        set(&[CITIZEN_PERSON]),
        "a citizen sees only their own record"
    );
    let (_, people) = fx.get(Role::EnterpriseAdmin, "/api/v1/people").await;
    assert_eq!(ids(&people), set(&[ACME_PERSON, CITIZEN_PERSON]));
    let (_, people) = fx.get(Role::ProvincialOffice, "/api/v1/people").await;
    assert_eq!(
        ids(&people),
        set(&[GLOBEX_PERSON]),
        "the TZ office sees people in TZ"
    );

    // The map counts only what the caller may see.
    let count = |v: &serde_json::Value, c: &str, f: &str| {
        v["countries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["country"] == c)
            .map_or(0, |x| x[f].as_u64().unwrap())
    };
    let (_, m) = fx.get(Role::Coordinator, "/api/v1/map").await;
    assert!(count(&m, "TZ", "sites") > 0 && count(&m, "KE", "people") == 2);
    let (_, m) = fx.get(Role::EnterpriseMember, "/api/v1/map").await;
    assert_eq!(
        count(&m, "TZ", "sites"),
        0,
        "another organisation's sites are not counted"
    );
    assert_eq!(count(&m, "KE", "people"), 2);
    let (_, m) = fx.get(Role::Citizen, "/api/v1/map").await;
    assert_eq!(count(&m, "KE", "sites"), 0);
    assert_eq!(
        count(&m, "KE", "people"),
        1,
        "a citizen counts only themselves"
    );

    // Exposure answers only with sites the caller may see.
    let q = "/api/v1/exposure?lat=-5.5&lon=39.5&radius_km=300";
    let (_, x) = fx.get(Role::Coordinator, q).await;
    let seen: BTreeSet<String> = x["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["org"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen, set(&["acme", "globex"]));
    let (_, x) = fx.get(Role::EnterpriseAdmin, q).await;
    assert!(
        x["sites"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["org"] == "acme")
    );

    // …and only the exposed people the caller may see.
    let people = |x: &serde_json::Value| -> BTreeSet<String> {
        x["people"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["person"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, x) = fx.get(Role::Coordinator, q).await;
    assert_eq!(
        people(&x),
        set(&[ACME_PERSON, CITIZEN_PERSON, GLOBEX_PERSON]),
        "{x}"
    );
    assert!(
        x["people"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("posted"),
        "{x}"
    );
    let (_, x) = fx.get(Role::EnterpriseAdmin, q).await;
    assert_eq!(
        people(&x),
        set(&[ACME_PERSON, CITIZEN_PERSON]),
        "an enterprise sees its own people"
    );
    let (_, x) = fx.get(Role::Embassy, q).await;
    assert_eq!(
        people(&x),
        set(&[ACME_PERSON, CITIZEN_PERSON]),
        "the KE embassy sees the people in KE"
    );
    let (_, x) = fx.get(Role::ProvincialOffice, q).await;
    assert_eq!(
        people(&x),
        set(&[GLOBEX_PERSON]),
        "the TZ office sees the people in TZ"
    );
    let (_, x) = fx.get(Role::Citizen, q).await;
    assert_eq!(
        people(&x),
        set(&[CITIZEN_PERSON]),
        "a citizen sees only themself"
    );
    assert_eq!(x["sites"].as_array().unwrap().len(), 0, "and no site");

    // An enterprise admin administers only their own organisation's users.
    let (_, users) = fx.get(Role::EnterpriseAdmin, "/api/v1/users").await;
    assert!(users.as_array().unwrap().iter().all(|u| u["org"] == "acme"));
    let (s, v) = fx
        .json(
            "POST",
            Role::EnterpriseAdmin,
            "/api/v1/users",
            r#"{"name":"x1","role":"coordinator"}"#,
        )
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "an admin cannot mint a coordinator: {v}"
    );
    let (s, _) = fx
        .json(
            "POST",
            Role::EnterpriseAdmin,
            "/api/v1/users",
            r#"{"name":"x2","role":"enterprise_member","org":"globex"}"#,
        )
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "nor a user of another organisation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_login_sets_a_strict_httponly_session_cookie() {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;
    let fx = Fixture::new(fixture::engines().remove(0));
    let (s, v) = fx
        .json(
            "POST",
            Role::Coordinator,
            "/api/v1/users",
            r#"{"name":"wang.li","role":"embassy","country":"KE","org":"emb-ke","password":"correct horse battery"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let login = |pw: &str| {
        Request::builder()
            .method("POST")
            .uri("/api/v1/login")
            .header("content-type", "application/json")
            .body(Body::from(format!(
                r#"{{"name":"wang.li","password":"{pw}"}}"#
            )))
            .unwrap()
    };
    let bad = fx
        .app
        .clone()
        .oneshot(login("wrong password!!"))
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    assert!(bad.headers().get("set-cookie").is_none());
    let ok = fx
        .app
        .clone()
        .oneshot(login("correct horse battery"))
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let cookie = ok.headers()["set-cookie"].to_str().unwrap().to_string();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    let pair = cookie.split(';').next().unwrap().to_string();
    let me = |c: &str| {
        Request::builder()
            .uri("/api/v1/me")
            .header("cookie", c)
            .body(Body::empty())
            .unwrap()
    };
    let r = fx.app.clone().oneshot(me(&pair)).await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "the session cookie authenticates"
    );
    let out = Request::builder()
        .method("POST")
        .uri("/api/v1/logout")
        .header("cookie", &pair)
        .body(Body::empty())
        .unwrap();
    let r = fx.app.clone().oneshot(out).await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let r = fx.app.clone().oneshot(me(&pair)).await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "logged out means logged out"
    );
    // The audit log has the session, never the secret.
    let (_, log) = fx.get(Role::Coordinator, "/api/v1/audit?limit=20").await;
    let text = log.to_string();
    assert!(text.contains("session.create") && text.contains("session.delete"));
    assert!(!text.contains(pair.split('=').nth(1).unwrap()));
}
