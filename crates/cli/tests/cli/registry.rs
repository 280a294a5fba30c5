//! The registry commands end to end: import with row errors, upsert, export
//! and re-import unchanged, exposure of an area with people in their window
//! and indirect exposure through a port, and `graph critical` — on SQLite,
//! and on PostgreSQL when `FARGUARD_TEST_PG` is set.

use super::{Env, chrono_free_nanos, postgres_client, write};
use serde_json::Value;

const SITES: &str = "id,org,name,kind,lat,lon,country,sector,value_usd,headcount,status,polygon
PORT-MBA,kpa,Port of Mombasa,port,-4.05,39.66,KE,,,40,active,
YARD,acme,Mombasa yard,project,-4.06,39.67,KE,construction,1200000,35,active,
MINE,acme,Concession,mine,-0.5,36.5,KE,mining,50000000,120,active,\"[[36,-1],[37,-1],[37,0],[36,0],[36,-1]]\"
OPEN,acme,Open ring,mine,0,0,KE,,,,,\"[[36,-1],[37,-1],[37,0],[36,0]]\"
NEG,acme,Negative,office,1,1,KE,,,-3,,
YARD,acme,Again,office,1,1,KE,,,,,
";

const BOWTIE: &str = r#"{"type":"FeatureCollection","features":[
 {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]},
  "properties":{"id":"BOW","org":"acme","name":"Bowtie","kind":"mine","country":"KE"}}]}"#;

const PEOPLE: &str = "id,name,nationality,org,email,phone,language,needs,consent,site
P1,Li Wei,CN,acme,li@example.org,,zh,medical,2026-01-05 web form,YARD
P2,Wang Fang,CN,acme,,,zh,,,
";

const LEGS: &str = "id,person,lat,lon,country,place,from,to
L1,P2,-4.05,39.66,KE,Mombasa,2026-03-01T08:00:00Z,2026-03-05T18:00:00Z
L2,P1,-1.29,36.82,KE,Nairobi,2026-03-10T00:00:00Z,2026-03-12T00:00:00Z
L3,P1,-1.29,36.82,KE,Nairobi,2026-03-03,2026-03-02
";

const DEPS: &str = "site,on,kind,criticality
YARD,PORT-MBA,port,0.9
MINE,YARD,supplier,0.5
MINE,GHOST,port,0.5
";

fn errors(v: &Value) -> String {
    v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn flow(env: &Env) {
    let f = write(&env.path("sites.csv"), SITES);
    let v = env.json(&["import", "sites", &f]);
    let e = errors(&v);
    assert_eq!(
        (v["read"].as_u64(), v["accepted"].as_u64()),
        (Some(6), Some(3)),
        "{e}"
    );
    assert!(
        e.contains("sites.csv:5: field `polygon`: polygon is invalid: the ring is not closed"),
        "{e}"
    );
    assert!(
        e.contains("sites.csv:6: field `headcount`: \"-3\" is not a whole number"),
        "{e}"
    );
    assert!(
        e.contains("sites.csv:7: field `id`: duplicate id \"YARD\""),
        "{e}"
    );
    let g = write(&env.path("bow.geojson"), BOWTIE);
    // Every row rejected: the import fails, and still says why.
    let o = env.run(&["--json", "import", "sites", &g]);
    assert!(!o.status.success());
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        errors(&v).contains(
            "bow.geojson:1: field `geometry`: polygon is invalid: the ring intersects itself"
        ),
        "{v}"
    );
    let v = env.json(&["import", "people", &write(&env.path("people.csv"), PEOPLE)]);
    assert_eq!(v["accepted"].as_u64(), Some(2));
    let v = env.json(&["import", "itineraries", &write(&env.path("legs.csv"), LEGS)]);
    assert!(
        errors(&v).contains(
            "legs.csv:4: field `to`: the leg ends (2026-03-02T00:00:00Z) before it starts"
        ),
        "{v}"
    );
    let v = env.json(&[
        "import",
        "dependencies",
        &write(&env.path("deps.csv"), DEPS),
    ]);
    assert!(
        errors(&v).contains("deps.csv:4: field `on`: unknown site \"GHOST\""),
        "{v}"
    );
    assert_eq!(v["accepted"].as_u64(), Some(2));

    // Export both ways and re-import: nothing changes.
    for (what, fmt, ext) in [
        ("sites", "csv", "csv"),
        ("sites", "geojson", "geojson"),
        ("people", "geojson", "geojson"),
        ("itineraries", "csv", "csv"),
        ("dependencies", "csv", "csv"),
    ] {
        let out = env.path(&format!("out-{what}.{ext}")).display().to_string();
        let o = env.run(&["export", what, "--format", fmt, "--out", &out]);
        assert!(o.status.success(), "{}", super::stderr(&o));
        let v = env.json(&["import", what, &out]);
        assert_eq!(
            (
                v["accepted"].as_u64(),
                v["updated"].as_u64(),
                v["rejected"].as_u64()
            ),
            (Some(0), Some(0), Some(0)),
            "{what} {fmt}: {v}"
        );
    }

    // 2 March: P2 is in Mombasa on L1; P1 is posted to the yard (L2 is later).
    let v = env.json(&[
        "exposure",
        "--area",
        "circle:-4.05,39.66,10",
        "--at",
        "2026-03-02T12:00:00Z",
    ]);
    let ids = |k: &str, f: &str| -> Vec<String> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|x| x[f].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids("sites", "site"), ["PORT-MBA", "YARD"]);
    assert_eq!(ids("people", "person"), ["P2", "P1"]);
    assert_eq!(ids("indirect", "site"), ["MINE"]);
    assert_eq!(
        v["indirect"][0]["path"],
        serde_json::json!(["YARD", "MINE"])
    );
    assert_eq!(v["indirect"][0]["impact"].as_f64(), Some(0.5));
    // 11 March: P2's leg is over and P1 is in Nairobi on L2: nobody.
    let v = env.json(&[
        "exposure",
        "--area",
        "circle:-4.05,39.66,10",
        "--at",
        "2026-03-11T00:00:00Z",
    ]);
    assert!(v["people"].as_array().unwrap().is_empty(), "{v}");
    // The country as a raised level's area: every site in Kenya.
    let v = env.json(&["exposure", "--area", "KE", "--at", "2026-03-11T00:00:00Z"]);
    assert_eq!(v["totals"]["sites"].as_u64(), Some(3));
    assert_eq!(
        v["totals"]["people"].as_u64(),
        Some(1),
        "P1 in Nairobi: {v}"
    );
    // The port is the biggest single point of failure by headcount after the yard's value.
    let v = env.json(&["graph", "critical"]);
    let top: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(top, ["YARD", "PORT-MBA"]);
    assert_eq!(
        v[1]["value_at_risk_usd"].as_f64(),
        Some(1_200_000.0 * 0.9 + 50_000_000.0 * 0.45)
    );
}

#[test]
fn registry_import_export_exposure_and_graph_on_sqlite() {
    flow(&Env::sqlite());
}

#[test]
fn registry_import_export_exposure_and_graph_on_postgres() {
    let Ok(url) = std::env::var("FARGUARD_TEST_PG") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but FARGUARD_TEST_PG is not set"
        );
        eprintln!(
            "SKIP registry_import_export_exposure_and_graph_on_postgres: FARGUARD_TEST_PG not set"
        );
        return;
    };
    let schema = format!("cli_reg_{}_{}", std::process::id(), chrono_free_nanos());
    let mut env = Env::sqlite();
    let sep = if url.contains('?') { '&' } else { '?' };
    env.db = format!("{url}{sep}options=-csearch_path%3D{schema}");
    postgres_client(&url)
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .unwrap();
    flow(&env);
    postgres_client(&url)
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .unwrap();
}
