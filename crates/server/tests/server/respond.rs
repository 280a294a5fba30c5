//! Plans and alerts over HTTP: the plan library as a list and one plan
//! whole; the alerts of an incident, one alert, and its CAP document as
//! issued, each only to those who may see the incident.

use crate::fixture::{self, Fixture, INCIDENT};
use axum::http::StatusCode;
use farguard_server::auth::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_list_and_show_whole() {
    let fx = Fixture::new(fixture::engines().remove(0));
    let (s, v) = fx.get(Role::Observer, "/api/v1/plans").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let list = v.as_array().unwrap();
    assert_eq!(
        list.len(),
        fixture::plans().len(),
        "every shipped plan loads"
    );
    let evac = list
        .iter()
        .find(|p| p["id"] == "security-evacuation")
        .unwrap();
    assert!(evac["step_count"].as_u64().unwrap() > 0, "{evac}");
    assert_eq!(evac["marking"], "TLP:GREEN");
    let (s, p) = fx
        .get(Role::EnterpriseMember, "/api/v1/plans/security-evacuation")
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let steps = p["steps"].as_array().unwrap();
    assert_eq!(steps.len() as u64, evac["step_count"].as_u64().unwrap());
    assert!(steps.iter().all(|s| s["due_s"].as_i64().unwrap() > 0));
    let owners: Vec<&str> = p["task_force"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(
        steps
            .iter()
            .all(|s| owners.contains(&s["owner"].as_str().unwrap())),
        "every step is owned by a role of the task force"
    );
    let levels: Vec<&str> = p["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, ["IV", "III", "II", "I"]);
    assert!(
        p["trigger"]["categories"]
            .as_array()
            .unwrap()
            .contains(&"security".into())
    );
    let (s, v) = fx.get(Role::Citizen, "/api/v1/plans").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_of_an_incident_and_their_cap_document() {
    let fx = Fixture::new(fixture::engines().remove(0));
    let q = format!("/api/v1/alerts?incident={INCIDENT}");
    let (s, v) = fx.get(Role::EnterpriseMember, &q).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let ids: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["alert-test-1"]);
    assert_eq!(v[0]["cap"], "/api/v1/alerts/alert-test-1/cap");
    let (_, none) = fx
        .get(Role::Coordinator, "/api/v1/alerts?incident=other")
        .await;
    assert_eq!(none.as_array().unwrap().len(), 0);
    // The TZ office is not in the Kenya incident: no alert of it, listed or shown.
    let (_, v) = fx.get(Role::ProvincialOffice, "/api/v1/alerts").await;
    assert_eq!(v.as_array().unwrap().len(), 0, "{v}");
    let (s, _) = fx
        .get(Role::ProvincialOffice, "/api/v1/alerts/alert-test-1")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (s, a) = fx.get(Role::Embassy, "/api/v1/alerts/alert-test-1").await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(a["incident"], INCIDENT);
    assert!(a["deliveries"].is_array());

    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let req = Request::builder()
        .uri("/api/v1/alerts/alert-test-1/cap")
        .header(
            "authorization",
            format!("Bearer {}", fx.token(Role::Coordinator)),
        )
        .body(Body::empty())
        .unwrap();
    let resp = fx.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("application/cap+xml"), "{ct}");
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"<alert/>", "the document exactly as stored");
}
