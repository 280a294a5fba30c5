//! Every write through the API lands in the hash-chained audit log with who,
//! what, before and after; `/api/v1/audit/verify` (and `farguard audit
//! verify`, which runs the same check) names an altered, a removed and a
//! reordered entry.

use crate::fixture::{self, Fixture};
use axum::http::StatusCode;
use farguard_server::auth::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_audited_and_tampering_is_caught() {
    for db in fixture::engines() {
        let fx = Fixture::new(db);
        let body = r#"{"org":"acme","name":"Mombasa port (renamed)","kind":"port","lat":-4.05,"lon":39.66,"country":"KE"}"#;
        let (s, _) = fx
            .json(
                "PUT",
                Role::EnterpriseAdmin,
                "/api/v1/sites/WPI-47100",
                body,
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = fx
            .json(
                "PUT",
                Role::EnterpriseAdmin,
                "/api/v1/sites/WPI-47100",
                body,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "the same write again changes nothing");
        let (s, _) = fx
            .json(
                "POST",
                Role::Observer,
                "/api/v1/tokens",
                r#"{"label":"ci"}"#,
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        let (_, log) = fx.get(Role::Coordinator, "/api/v1/audit?limit=10").await;
        let log = log.as_array().unwrap().clone();
        let site = log.iter().find(|e| e["action"] == "site.upsert").unwrap();
        assert_eq!(site["target"], "site:WPI-47100");
        assert!(site["actor"].as_str().unwrap().starts_with("user:u-"));
        assert_ne!(site["before"]["name"], site["after"]["name"]);
        assert_eq!(site["after"]["name"], "Mombasa port (renamed)");
        assert_eq!(
            log.iter().filter(|e| e["action"] == "site.upsert").count(),
            1,
            "an unchanged write is not logged twice"
        );
        assert!(log.iter().any(|e| e["action"] == "token.create"));
        assert!(
            !log.iter().any(|e| e.to_string().contains("fg_")),
            "no secret in the log"
        );
        let (_, v) = fx.get(Role::Coordinator, "/api/v1/audit/verify").await;
        assert_eq!(v["intact"], true, "{v}");
        let n = v["entries"].as_i64().unwrap();
        assert!(n >= 18, "8 users × 2 + a site + a token: {v}");

        // Altered.
        fx.db
            .exec("UPDATE audit_log SET actor = 'user:someone-else' WHERE action = 'site.upsert'");
        let (_, v) = fx.get(Role::Coordinator, "/api/v1/audit/verify").await;
        assert_eq!(v["intact"], false);
        assert_eq!(v["problems"][0]["kind"], "altered", "{v}");
        // Removed (a middle entry).
        fx.db.exec("DELETE FROM audit_log WHERE seq = 3");
        let (_, v) = fx.get(Role::Coordinator, "/api/v1/audit/verify").await;
        let kinds: Vec<&str> = v["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["kind"].as_str().unwrap())
            .collect();
        assert!(
            kinds.contains(&"missing") && kinds.contains(&"altered"),
            "{v}"
        );
        // Reordered (two entries swap places).
        fx.db.exec(
            "UPDATE audit_log SET seq = -1 WHERE seq = 5; UPDATE audit_log SET seq = 5 WHERE seq = 6; UPDATE audit_log SET seq = 6 WHERE seq = -1;",
        );
        let (_, v) = fx.get(Role::Coordinator, "/api/v1/audit/verify").await;
        let reordered: Vec<i64> = v["problems"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["kind"] == "reordered")
            .map(|p| p["seq"].as_i64().unwrap())
            .collect();
        assert!(reordered.contains(&5), "{v}");
    }
}
