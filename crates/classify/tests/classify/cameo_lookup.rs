//! Every CAMEO code in `data/lookups/py-gdelt_cameo_codes.json` (gdelt-py,
//! MIT) classifies, under the name and in the quad class the file gives.

use farguard_classify::{CameoClassifier, CameoInput, cameo};
use farguard_model::{Category, Classifier, Subtype};
use serde_json::Value;

fn lookup_file() -> serde_json::Map<String, Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/lookups/py-gdelt_cameo_codes.json"
    );
    let text = std::fs::read_to_string(path).unwrap();
    match serde_json::from_str(&text).unwrap() {
        Value::Object(m) => m,
        other => panic!("expected an object, got {other}"),
    }
}

/// The file's `1883` is a typo for the codebook's `183` (its parent is given
/// as the non-existent `188`).
fn codebook_code(code: &str) -> &str {
    if code == "1883" { "183" } else { code }
}

/// The normalisation `names.rs` documents.
fn normalise(name: &str) -> String {
    let mut n = name.replace("Threate n", "Threaten");
    for suffix in [", not specified below", " not specified below"] {
        if let Some(s) = n.strip_suffix(suffix) {
            n = s.to_string();
        }
    }
    let n = n.trim().trim_end_matches(',');
    if n.chars().all(|c| !c.is_lowercase()) {
        n.to_lowercase()
    } else {
        let mut c = n.chars();
        c.next()
            .map(|f| f.to_lowercase().chain(c).collect())
            .unwrap_or_default()
    }
}

#[test]
fn names_match_the_lookup_file() {
    let file = lookup_file();
    assert_eq!(file.len(), 316);
    for (code, entry) in &file {
        let want = normalise(entry["name"].as_str().unwrap());
        assert_eq!(
            cameo::name(codebook_code(code)),
            Some(want.as_str()),
            "name of {code}"
        );
    }
}

#[test]
fn every_code_in_the_lookup_file_classifies_in_its_quad_class() {
    for (code, entry) in lookup_file() {
        let code = codebook_code(&code);
        let quad = entry["quad_class"].as_u64().unwrap() as u8;
        let input = CameoInput {
            event_code: code,
            base_code: code.get(..3).unwrap_or(code),
            root_code: &code[..2],
            quad_class: Some(quad),
            goldstein: None,
            num_mentions: Some(1),
            num_sources: Some(1),
            num_articles: Some(1),
        };
        let c = CameoClassifier
            .classify(&input)
            .unwrap_or_else(|| panic!("{code} did not classify"));
        assert!(
            c.reason.starts_with(&format!("CAMEO {code} (")),
            "{code}: the full code was not used: {}",
            c.reason
        );
        // Cooperation (quad classes 1–2) is engagement and nothing else;
        // conflict (3–4) never is.
        assert_eq!(
            c.subtype == Subtype::Engagement,
            quad <= 2,
            "{code} in quad class {quad} → {}",
            c.reason
        );
        // Material conflict is never a merely verbal subtype.
        if quad == 4 {
            assert_ne!(c.subtype, Subtype::DiplomaticTension, "{code}");
        }
        // Verbal conflict is never armed conflict or an attack.
        if quad == 3 {
            assert!(
                c.category != Category::Security || c.subtype == Subtype::MilitaryThreat,
                "{code}: {}",
                c.reason
            );
        }
    }
}
