//! ACLED exports, read in place from `FARGUARD_ACLED_DIR` (ACLED's terms
//! forbid shipping them). Without the variable these tests print a visible
//! SKIP and pass; under `CI=true` a missing directory is a failure.

use crate::feeds::check;
use farguard_model::Subtype;
use farguard_sources::Format;
use std::io::Write as _;
use std::path::PathBuf;

fn acled_dir() -> Option<PathBuf> {
    match std::env::var("FARGUARD_ACLED_DIR")
        .ok()
        .filter(|d| !d.is_empty())
    {
        Some(d) => Some(PathBuf::from(d)),
        None => {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "CI=true but FARGUARD_ACLED_DIR is not set"
            );
            let _ = writeln!(
                std::io::stderr(),
                "SKIP acled: FARGUARD_ACLED_DIR not set (e.g. FARGUARD_ACLED_DIR=../shared/data/acled)"
            );
            None
        }
    }
}

#[test]
fn current_schema_export() {
    let Some(dir) = acled_dir() else { return };
    let b = check(
        &dir.join("acled_global_2020-04-27_2020-05-09_excl_MiddleEast_CaucasusCentralAsia_NorthernAfrica.csv"),
        Format::Acled,
        3335,
        3333,
        2,
    );
    // The two defects of the real file, each named with its line.
    assert!(
        b.quarantined[0]
            .reason
            .starts_with("line 155: event_id_cnty is empty"),
        "{}",
        b.quarantined[0].reason
    );
    assert!(
        b.quarantined[1]
            .reason
            .starts_with("line 3335: latitude \"\" is not a number"),
        "{}",
        b.quarantined[1].reason
    );
    let e = b
        .events
        .iter()
        .find(|e| e.id.source_id == "SOM31065")
        .unwrap();
    assert_eq!(
        e.occurred_at.to_rfc3339(),
        "2020-05-09T00:00:00+00:00",
        "9-May-20"
    );
    assert_eq!(e.subtype, Subtype::ArmedConflict);
    assert_eq!(e.fatalities, Some(2));
    assert_eq!(e.country.unwrap().as_str(), "SO");
    assert_eq!(e.severity.get(), 4);
    assert_eq!(e.reported_at.timestamp(), 1589234730);
}

#[test]
fn old_upper_case_schema_with_multi_line_notes() {
    let Some(dir) = acled_dir() else { return };
    let b = check(
        &dir.join("acled_asia_2015_excl_PAK_MMR_LKA.csv"),
        Format::Acled,
        7772,
        7772,
        0,
    );
    let e = b.events.iter().find(|e| e.id.source_id == "1BNG").unwrap();
    assert_eq!(
        e.occurred_at.to_rfc3339(),
        "2015-01-01T00:00:00+00:00",
        "01-January-2015"
    );
    assert!(
        e.raw
            .contains("Police arrested two people along with three bombs from the spot. \n"),
        "the multi-line note is kept whole"
    );
    assert_eq!(
        e.actors,
        [
            "Rioters (Bangladesh)",
            "AL: Awami League",
            "Rioters (Bangladesh)",
            "AL: Awami League"
        ]
    );
    assert_eq!(e.country.unwrap().as_str(), "BD");
}
