//! Every CAP document farguard writes validates against the official OASIS
//! CAP 1.2 schema (`schema/CAP-v1.2.xsd`), checked with `xmllint`. Without
//! xmllint the check prints a visible SKIP, and fails under `CI=true`
//! (`.ci/run` installs libxml2-utils).

use crate::support::{input, missions, options, person};
use farguard_model::{CapStatus, MsgType};
use farguard_notify::compose::compose;
use farguard_notify::template::Templates;
use std::io::Write as _;
use std::path::Path;
use std::process::Command;

fn xmllint() -> bool {
    let ok = Command::new("xmllint").arg("--version").output().is_ok();
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but xmllint is missing: apt-get install -y libxml2-utils"
        );
        let _ = writeln!(
            std::io::stderr(),
            "SKIP CAP schema validation: xmllint not installed (apt-get install -y libxml2-utils)"
        );
    }
    ok
}

fn validate(xml: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("alert.xml");
    std::fs::write(&f, xml).unwrap();
    let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/CAP-v1.2.xsd");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&xsd)
        .arg(&f)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn composed_alerts_validate_against_the_cap_schema_in_every_status_and_type() {
    if !xmllint() {
        return;
    }
    let people = [person("p1", "zh", vec![]), person("p2", "en", vec![])];
    for status in CapStatus::ALL {
        for msg_type in MsgType::ALL {
            let mut i = input();
            i.status = *status;
            i.msg_type = *msg_type;
            if *msg_type != MsgType::Alert {
                i.references = vec![
                    "farguard@coordination.example,fg.event-gdelt-881991040.alert.1,2019-10-24T14:30:00+00:00".into(),
                ];
            }
            let c = compose(&i, &people, &missions(), &Templates::default(), &options()).unwrap();
            let xml = &c.record.cap_xml;
            validate(xml).unwrap_or_else(|e| panic!("{status} {msg_type}: {e}\n{xml}"));
            assert!(xml.contains(&format!("<status>{status}</status>")));
            assert!(xml.contains(&format!("<msgType>{msg_type}</msgType>")));
            assert_eq!(xml.matches("<info>").count(), 2, "one info per language");
            assert!(
                xml.contains("<language>zh-CN</language>")
                    && xml.contains("<language>en-US</language>")
            );
            assert!(xml.contains("<circle>-4.05,39.66 25</circle>"));
            assert!(
                xml.contains(
                    "<polygon>-4.2,39.5 -4.2,39.8 -3.9,39.8 -3.9,39.5 -4.2,39.5</polygon>"
                )
            );
            assert!(xml.contains("&lt;port&gt; &amp; city"), "text is escaped");
        }
    }
}

#[test]
fn the_validator_itself_rejects_a_broken_document() {
    if !xmllint() {
        return;
    }
    let c = compose(&input(), &[], &[], &Templates::default(), &options()).unwrap();
    let broken = c
        .record
        .cap_xml
        .replace("<status>Exercise</status>", "<status>Drill</status>");
    assert!(
        validate(&broken).is_err(),
        "the schema must refuse an unknown status"
    );
    // The official example from the specification validates too (the schema copy is whole).
    let spec = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/cap/cap_amber_alert_example.xml"),
    );
    if let Ok(spec) = spec {
        validate(&spec).unwrap();
    }
}
