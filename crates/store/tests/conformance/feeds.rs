//! Conformance checks for the sources stage's storage: feed polling state
//! survives a reopen (so `watch` resumes), merge links are idempotent and
//! move with their cluster, and one quarantine record can be read and
//! dropped by id.

use crate::engines::Engine;
use crate::fixtures::{self, t};
use farguard_model::EventId;
use farguard_store::{FeedState, MergeLink, Store, StoreError};

fn state() -> FeedState {
    FeedState {
        name: "usgs-day".into(),
        url: "https://earthquake.usgs.gov/earthquakes/feed/v1.0/summary/all_day.geojson".into(),
        etag: Some("\"5dd6d2bc-3fb04\"".into()),
        last_modified: Some("Thu, 21 Nov 2019 18:02:04 GMT".into()),
        last_key: None,
        last_ok_at: Some(t(2019, 11, 21, 18, 2, 4)),
        failures: 0,
        next_at: Some(t(2019, 11, 21, 18, 7, 4)),
        last_error: None,
    }
}

pub fn check_feed_state_survives_reopen(engine: &dyn Engine) {
    let mut s = state();
    {
        let mut store = engine.open();
        assert_eq!(store.feed_state("usgs-day").unwrap(), None);
        store.save_feed_state(&s).unwrap();
    }
    let mut store = engine.open();
    assert_eq!(store.feed_state("usgs-day").unwrap().as_ref(), Some(&s));
    // A failure replaces the row whole.
    s.failures = 3;
    s.etag = None;
    s.last_error = Some("connection refused".into());
    s.last_key = Some("http://data.gdeltproject.org/gdeltv2/20191024143000.export.CSV.zip".into());
    store.save_feed_state(&s).unwrap();
    assert_eq!(store.feed_state("usgs-day").unwrap(), Some(s.clone()));
    s.last_error = Some("bad\0byte".into());
    assert!(matches!(
        store.save_feed_state(&s),
        Err(StoreError::Unstorable { .. })
    ));
}

fn link(cluster: &str, event: &str, reason: &str) -> MergeLink {
    MergeLink {
        cluster: EventId::parse(cluster).unwrap(),
        event: EventId::parse(event).unwrap(),
        reason: reason.into(),
    }
}

pub fn check_merges_are_idempotent_and_move_with_their_cluster(store: &mut dyn Store) {
    let a = [
        link(
            "usgs:us70006nxg",
            "usgs:us70006nxg",
            "earliest report of the cluster (2 members)",
        ),
        link(
            "usgs:us70006nxg",
            "gdacs:EQ1208012/1",
            "same earthquake as usgs:us70006nxg: 12 km and 2 min apart",
        ),
    ];
    assert_eq!(store.save_merges(&a).unwrap(), 2);
    assert_eq!(
        store.save_merges(&a).unwrap(),
        0,
        "a re-run changes nothing"
    );
    let got = store.merges(10).unwrap();
    assert_eq!(got, a, "the cluster's first member first");
    // A later, earlier-dated report makes a larger cluster: the links move.
    let b = [
        link(
            "cap:sender,id1",
            "cap:sender,id1",
            "earliest report of the cluster (3 members)",
        ),
        link(
            "cap:sender,id1",
            "usgs:us70006nxg",
            "same earthquake as cap:sender,id1",
        ),
        link(
            "cap:sender,id1",
            "gdacs:EQ1208012/1",
            "same earthquake as usgs:us70006nxg",
        ),
    ];
    assert_eq!(store.save_merges(&b).unwrap(), 3);
    let got = store.merges(10).unwrap();
    assert_eq!(got.len(), 3);
    assert!(
        got.iter()
            .all(|l| l.cluster.to_string() == "cap:sender,id1")
    );
    assert_eq!(got[0].event.to_string(), "cap:sender,id1");
    assert_eq!(store.merges(0).unwrap(), []);
}

pub fn check_quarantine_rows_by_id(store: &mut dyn Store) {
    let records = fixtures::quarantined();
    store.quarantine(&records).unwrap();
    let rows = store.quarantined(10).unwrap();
    let id = rows[0].id;
    let one = store.quarantine_row(id).unwrap().unwrap();
    assert_eq!(one, rows[0]);
    assert_eq!(store.quarantine_row(id + 1000).unwrap(), None);
    assert!(store.drop_quarantined(id).unwrap());
    assert!(!store.drop_quarantined(id).unwrap());
    assert_eq!(store.quarantine_row(id).unwrap(), None);
    assert_eq!(store.quarantined(10).unwrap().len(), records.len() - 1);
}
