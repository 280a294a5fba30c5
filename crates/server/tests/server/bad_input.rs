//! Bad input answers 4xx with a body naming the field — never a 5xx, never
//! another organisation's data: malformed JSON, wrong types, unknown and
//! missing fields, oversized bodies, wrong media types, path traversal, SQL
//! meta-characters in every string field, a citizen on enterprise routes,
//! and a client over its rate.

use crate::fixture::{self, Fixture};
use axum::http::StatusCode;
use farguard_server::Config;
use farguard_server::auth::Role;

async fn expect(
    fx: &Fixture,
    method: &str,
    path: &str,
    body: Option<(&str, &str)>,
    status: StatusCode,
    error: &str,
    pointer: &str,
) {
    let (s, v) = fx
        .call(
            method,
            path,
            Some(fx.token(Role::Coordinator)),
            body.map(|(ct, b)| (ct, b.as_bytes().to_vec())),
        )
        .await;
    assert_eq!(s, status, "{method} {path}: {v}");
    assert_eq!(v["error"], error, "{method} {path}: {v}");
    assert_eq!(v["pointer"], pointer, "{method} {path}: {v}");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
}

const J: &str = "application/json";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_name_the_field() {
    let fx = Fixture::new(fixture::engines().remove(0));
    let put = "/api/v1/sites/S-1";
    expect(
        &fx,
        "PUT",
        put,
        Some((J, "{\"org\": ")),
        StatusCode::BAD_REQUEST,
        "invalid_json",
        "/org",
    )
    .await;
    expect(
        &fx,
        "POST",
        "/api/v1/tokens",
        Some((J, r#"{"label":"x"} trailing"#)),
        StatusCode::BAD_REQUEST,
        "invalid_json",
        "",
    )
    .await;
    expect(
        &fx,
        "PUT",
        put,
        Some((
            J,
            r#"{"org":"acme","name":"x","kind":"camp","lat":"north","lon":1,"country":"KE"}"#,
        )),
        StatusCode::BAD_REQUEST,
        "invalid_field",
        "/lat",
    )
    .await;
    expect(&fx, "PUT", put,
        Some((J, r#"{"org":"acme","name":"x","kind":"camp","lat":1,"lon":1,"country":"KE","polygon":[[1,2],["a",3]]}"#)),
        StatusCode::BAD_REQUEST, "invalid_field", "/polygon/1/0").await;
    expect(&fx, "PUT", put,
        Some((J, r#"{"org":"acme","name":"x","kind":"camp","lat":1,"lon":1,"country":"KE","admin":true}"#)),
        StatusCode::BAD_REQUEST, "unknown_field", "/admin").await;
    expect(
        &fx,
        "PUT",
        put,
        Some((J, r#"{"org":"acme"}"#)),
        StatusCode::BAD_REQUEST,
        "missing_field",
        "/name",
    )
    .await;
    expect(
        &fx,
        "PUT",
        put,
        Some((
            J,
            r#"{"org":"acme","name":"x","kind":"castle","lat":1,"lon":1,"country":"KE"}"#,
        )),
        StatusCode::BAD_REQUEST,
        "invalid_field",
        "/kind",
    )
    .await;
    expect(
        &fx,
        "PUT",
        put,
        Some((
            J,
            r#"{"org":"acme","name":"x","kind":"camp","lat":95,"lon":1,"country":"KE"}"#,
        )),
        StatusCode::BAD_REQUEST,
        "invalid_field",
        "/lat",
    )
    .await;
    expect(
        &fx,
        "PUT",
        put,
        Some((
            J,
            r#"{"org":"acme","name":"x","kind":"camp","lat":1,"lon":1,"country":"Narnia"}"#,
        )),
        StatusCode::BAD_REQUEST,
        "invalid_field",
        "/country",
    )
    .await;
    expect(
        &fx,
        "PUT",
        put,
        Some(("text/plain", "{}")),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "/headers/content-type",
    )
    .await;
    expect(
        &fx,
        "POST",
        "/api/v1/users",
        Some((J, r#"{"name":"a b","role":"citizen"}"#)),
        StatusCode::BAD_REQUEST,
        "invalid_field",
        "/name",
    )
    .await;
    expect(
        &fx,
        "POST",
        "/api/v1/users",
        Some((J, r#"{"name":"ab","role":"king"}"#)),
        StatusCode::BAD_REQUEST,
        "invalid_field",
        "/role",
    )
    .await;
    expect(
        &fx,
        "POST",
        "/api/v1/users",
        Some((J, r#"{"name":"ab","role":"citizen"}"#)),
        StatusCode::BAD_REQUEST,
        "invalid_field",
        "/person",
    )
    .await;
    expect(
        &fx,
        "POST",
        "/api/v1/tokens",
        Some((J, r#"{"label":"x","days":0}"#)),
        StatusCode::BAD_REQUEST,
        "invalid_field",
        "/days",
    )
    .await;
    expect(
        &fx,
        "POST",
        "/api/v1/tokens",
        Some((J, r#"{"label":"x","days":-1}"#)),
        StatusCode::BAD_REQUEST,
        "invalid_field",
        "/days",
    )
    .await;
    expect(
        &fx,
        "GET",
        "/api/v1/events?limit=abc",
        None,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        "/query/limit",
    )
    .await;
    expect(
        &fx,
        "GET",
        "/api/v1/events?limit=0",
        None,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        "/query/limit",
    )
    .await;
    expect(
        &fx,
        "GET",
        "/api/v1/events?from=yesterday",
        None,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        "/query/from",
    )
    .await;
    expect(
        &fx,
        "GET",
        "/api/v1/events?drop=table",
        None,
        StatusCode::BAD_REQUEST,
        "unknown_field",
        "/query/drop",
    )
    .await;
    expect(
        &fx,
        "GET",
        "/api/v1/assessments?category=weather",
        None,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        "/query/category",
    )
    .await;
    expect(
        &fx,
        "GET",
        "/api/v1/exposure?lat=1&lon=2",
        None,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        "/query/radius_km",
    )
    .await;
    expect(
        &fx,
        "GET",
        "/api/v1/exposure?lat=1&lon=200&radius_km=5",
        None,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        "/query/lon",
    )
    .await;
    expect(
        &fx,
        "GET",
        "/api/v1/events/not-an-id",
        None,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        "/path/id",
    )
    .await;
    expect(
        &fx,
        "POST",
        "/api/v1/import/sites?format=xls",
        Some(("text/csv", "id\n")),
        StatusCode::BAD_REQUEST,
        "invalid_field",
        "/query/format",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused_with_413() {
    let fx = Fixture::on(
        fixture::engines().remove(0),
        Config {
            rate_per_sec: 0,
            max_body: 4096,
            ..Config::default()
        },
    );
    let big = format!(r#"{{"label":"{}"}}"#, "x".repeat(10_000));
    expect(
        &fx,
        "POST",
        "/api/v1/tokens",
        Some((J, &big)),
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "",
    )
    .await;
    let csv = format!(
        "id,org,name,kind,lat,lon,country\n{}",
        "A,acme,n,camp,1,1,KE\n".repeat(500)
    );
    expect(
        &fx,
        "POST",
        "/api/v1/import/sites",
        Some(("text/csv", &csv)),
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_traversal_finds_nothing() {
    let fx = Fixture::new(fixture::engines().remove(0));
    for p in [
        "/ui/../../../etc/passwd",
        "/ui/%2e%2e/%2e%2e/etc/passwd",
        "/ui/..%2f..%2fCargo.toml",
        "/ui/....//....//etc/passwd",
        "/api/v1/sites/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/people/%2e%2e",
        "/geo/../Cargo.toml",
    ] {
        let (s, v) = fx
            .call("GET", p, Some(fx.token(Role::Coordinator)), None)
            .await;
        assert!(
            s == StatusCode::NOT_FOUND || s == StatusCode::BAD_REQUEST,
            "{p}: {s} {v}"
        );
        let text = v.to_string();
        assert!(
            !text.contains("root:") && !text.contains("[workspace]"),
            "{p}: {text}"
        );
    }
    let (s, _) = fx.call("GET", "/ui/app.js", None, None).await;
    assert_eq!(s, StatusCode::OK, "the real asset is served");
}

/// Strings that break naive SQL, HTML or path handling.
const NASTY: &[&str] = &[
    "'; DROP TABLE sites; --",
    "\" OR 1=1 --",
    "x' UNION SELECT password_hash FROM users --",
    "%' OR name LIKE '%",
    "\\'; SELECT pg_sleep(5); --",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "名前；删除",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_meta_characters_in_every_string_field_are_plain_text() {
    let fx = Fixture::new(fixture::engines().remove(0));
    for (i, nasty) in NASTY.iter().enumerate() {
        let enc: String = nasty.bytes().map(|b| format!("%{b:02X}")).collect();
        // Query strings: each string parameter of the read routes.
        for path in [
            format!("/api/v1/sites?q={enc}"),
            format!("/api/v1/sites?org={enc}"),
            format!("/api/v1/people?q={enc}"),
            format!("/api/v1/sites/{enc}"),
            format!("/api/v1/people/{enc}"),
            format!("/api/v1/events/{enc}"),
            format!("/api/v1/events?country={enc}"),
            format!("/api/v1/assessments?category={enc}"),
            format!("/api/v1/exposure?event={enc}"),
            format!("/api/v1/checkin/{enc}"),
        ] {
            let (s, v) = fx.get(Role::Coordinator, &path).await;
            assert!(s.is_success() || s.is_client_error(), "{path}: {s} {v}");
            if s.is_success() && v.get("total").is_some() {
                assert_eq!(v["total"], 0, "{path} matched nothing: {v}");
            }
        }
        // JSON bodies: every string field of a site and a user stored verbatim.
        let id = format!("NASTY-{i}");
        let body = serde_json::json!({
            "org": "acme", "name": nasty, "kind": "camp", "lat": 1.0, "lon": 36.0,
            "country": "KE", "sector": nasty, "status": nasty,
        });
        let (s, v) = fx
            .json(
                "PUT",
                Role::Coordinator,
                &format!("/api/v1/sites/{id}"),
                &body.to_string(),
            )
            .await;
        assert!(
            s.is_success() || s == StatusCode::BAD_REQUEST,
            "{nasty}: {s} {v}"
        );
        if s.is_success() {
            let (_, got) = fx
                .get(Role::Coordinator, &format!("/api/v1/sites/{id}"))
                .await;
            assert_eq!(got["name"], *nasty, "stored verbatim");
        }
        let user = serde_json::json!({"name": nasty, "role": "observer"});
        let (s, v) = fx
            .json(
                "POST",
                Role::Coordinator,
                "/api/v1/users",
                &user.to_string(),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{nasty}: {v}");
        let login = serde_json::json!({"name": nasty, "password": nasty});
        let (s, _) = fx
            .call(
                "POST",
                "/api/v1/login",
                None,
                Some((J, login.to_string().into_bytes())),
            )
            .await;
        assert!(s == StatusCode::UNAUTHORIZED || s == StatusCode::BAD_REQUEST);
    }
    // The tables are all still there.
    let (s, v) = fx.get(Role::Coordinator, "/api/v1/sites?limit=1").await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["total"].as_u64().unwrap() > 0);
    let (_, v) = fx.get(Role::Coordinator, "/api/v1/audit/verify").await;
    assert_eq!(v["intact"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_on_enterprise_routes_gets_4xx_and_no_data() {
    let fx = Fixture::new(fixture::engines().remove(0));
    for path in [
        "/api/v1/sites",
        "/api/v1/sites/WPI-47100",
        "/api/v1/people/P-ACME-1",
        "/api/v1/users",
        "/api/v1/quarantine",
        "/api/v1/audit",
        "/api/v1/orgs",
    ] {
        let (s, v) = fx.get(Role::Citizen, path).await;
        assert!(
            s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND,
            "{path}: {s} {v}"
        );
        assert!(
            v.get("items").is_none() && !v.to_string().contains("Mombasa"),
            "{path}: {v}"
        );
    }
    // Exposure answers a citizen with themself only: no site, no other person,
    // not even the name of the site they are posted to.
    let (s, v) = fx
        .get(
            Role::Citizen,
            "/api/v1/exposure?lat=-4.05&lon=39.66&radius_km=50",
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["sites"].as_array().unwrap().len(), 0, "{v}");
    let people: Vec<&str> = v["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["person"].as_str().unwrap())
        .collect();
    assert_eq!(people, [fixture::CITIZEN_PERSON], "{v}");
    assert!(!v.to_string().contains("Mombasa"), "{v}");
    let (s, _) = fx
        .json(
            "PUT",
            Role::Citizen,
            "/api/v1/sites/WPI-47100",
            r#"{"org":"acme","name":"x","kind":"camp","lat":1,"lon":1,"country":"KE"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_its_rate_gets_429_with_retry_after() {
    let fx = Fixture::on(
        fixture::engines().remove(0),
        Config {
            rate_per_sec: 1,
            rate_burst: 3,
            ..Config::default()
        },
    );
    let mut codes = Vec::new();
    for _ in 0..5 {
        codes.push(fx.get(Role::Observer, "/api/v1/me").await.0);
    }
    assert_eq!(&codes[..3], &[StatusCode::OK; 3]);
    assert_eq!(codes[4], StatusCode::TOO_MANY_REQUESTS);
    let (s, _) = fx.get(Role::Coordinator, "/api/v1/me").await;
    assert_eq!(s, StatusCode::OK, "another client is not slowed");
    let (s, _) = fx.call("GET", "/healthz", None, None).await;
    assert_eq!(s, StatusCode::OK, "probes are exempt");
}
