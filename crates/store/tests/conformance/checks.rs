//! The behaviour every engine must show, written once. Each check starts
//! from an empty, migrated database.

use crate::engines::Engine;
use crate::fixtures::{self, added, t};
use chrono::{DateTime, TimeDelta, Utc};
use farguard_model::{Category, Event, EventId, Geometry, Quarantined};
use farguard_store::{InsertCounts, Store, StoreError, UpsertCounts};

fn counts(accepted: u64, duplicates: u64) -> InsertCounts {
    InsertCounts {
        accepted,
        duplicates,
    }
}

fn upserts(inserted: u64, updated: u64, unchanged: u64) -> UpsertCounts {
    UpsertCounts {
        inserted,
        updated,
        unchanged,
    }
}

fn by_time(mut events: Vec<Event>) -> Vec<Event> {
    // Stable: ties keep insertion order, as the engines do.
    events.sort_by_key(|e| e.occurred_at);
    events
}

fn all_events(store: &mut dyn Store) -> Vec<Event> {
    store
        .events_between(t(1900, 1, 1, 0, 0, 0), t(2100, 1, 1, 0, 0, 0))
        .unwrap()
}

// --- events ---------------------------------------------------------------

pub fn check_event_round_trip(store: &mut dyn Store) {
    let events = fixtures::gdelt_events();
    assert_eq!(store.insert_events(&events).unwrap(), counts(5, 0));
    for e in &events {
        let back = store.event(&e.id).unwrap();
        assert_eq!(back.as_ref(), Some(e), "{}", e.id);
    }
    assert_eq!(all_events(store), by_time(events));
    assert_eq!(store.event(&EventId::new("gdelt", "1")).unwrap(), None);
    assert_eq!(
        store.event(&EventId::new("acled", "881990839")).unwrap(),
        None,
        "identity is (source, source id), not the source id alone"
    );
}

pub fn check_reinsert_is_all_duplicates(store: &mut dyn Store) {
    let events = fixtures::gdelt_events();
    assert_eq!(store.insert_events(&events).unwrap(), counts(5, 0));
    assert_eq!(store.insert_events(&events).unwrap(), counts(0, 5));
    assert_eq!(store.count_events().unwrap(), 5);
}

pub fn check_mixed_batch_counts(store: &mut dyn Store) {
    let events = fixtures::gdelt_events();
    assert_eq!(store.insert_events(&events[..2]).unwrap(), counts(2, 0));

    // Old, new, old, new, the same new again (reworded), new.
    let mut reworded = events[3].clone();
    reworded.title = "a later, different rendering of the same GDELT row".into();
    let batch = vec![
        events[0].clone(),
        events[2].clone(),
        events[1].clone(),
        events[3].clone(),
        reworded,
        events[4].clone(),
    ];
    assert_eq!(store.insert_events(&batch).unwrap(), counts(3, 3));
    assert_eq!(store.count_events().unwrap(), 5);
    // The first occurrence in the batch is the one kept.
    assert_eq!(
        store.event(&events[3].id).unwrap().as_ref(),
        Some(&events[3])
    );
    assert_eq!(store.insert_events(&[]).unwrap(), counts(0, 0));
}

pub fn check_bulk_batch_spans_chunks(store: &mut dyn Store) {
    // Larger than PostgreSQL's 1,000-row chunks, with a partial last chunk.
    let events = fixtures::many_events(2_500, t(2019, 1, 1, 0, 0, 0));
    assert_eq!(
        store.insert_events(&events[..1_200]).unwrap(),
        counts(1_200, 0)
    );
    assert_eq!(store.insert_events(&events).unwrap(), counts(1_300, 1_200));
    assert_eq!(store.count_events().unwrap(), 2_500);
    let window = store
        .events_between(events[1_000].occurred_at, events[2_000].occurred_at)
        .unwrap();
    assert_eq!(window, events[1_000..2_000]);
}

pub fn check_events_between_is_half_open(store: &mut dyn Store) {
    let mut events = fixtures::gdelt_events();
    let t0 = t(2019, 10, 24, 6, 0, 0);
    let times = [t0 + TimeDelta::hours(2), t0, t0 + TimeDelta::hours(1)];
    events.truncate(3);
    for (e, at) in events.iter_mut().zip(times) {
        e.occurred_at = at;
    }
    store.insert_events(&events).unwrap();
    let ids = |v: Vec<Event>| v.into_iter().map(|e| e.id.source_id).collect::<Vec<_>>();
    let [late, early, mid] = [&events[0], &events[1], &events[2]].map(|e| e.id.source_id.as_str());

    let h = |n: i64| t0 + TimeDelta::hours(n);
    assert_eq!(ids(store.events_between(h(0), h(2)).unwrap()), [early, mid]);
    assert_eq!(
        ids(store.events_between(h(0), h(3)).unwrap()),
        [early, mid, late]
    );
    assert_eq!(
        ids(store.events_between(h(1), h(1)).unwrap()),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(store.events_between(h(2), h(1)).unwrap()),
        Vec::<String>::new()
    );
    // Bounds finer than the stored microseconds: `from` just after an event
    // excludes it, `to` just after an event includes it.
    let ns = TimeDelta::nanoseconds(1);
    assert_eq!(
        ids(store.events_between(h(0) + ns, h(2) + ns).unwrap()),
        [mid, late]
    );
    assert_eq!(
        ids(store.events_between(h(1) - ns, h(1)).unwrap()),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(store.events_between(h(1) - ns, h(1) + ns).unwrap()),
        [mid]
    );
}

pub fn check_event_time_range(store: &mut dyn Store) {
    assert_eq!(store.event_time_range().unwrap(), None);
    assert_eq!(store.count_events().unwrap(), 0);
    store.insert_events(&fixtures::gdelt_events()).unwrap();
    assert_eq!(
        store.event_time_range().unwrap(),
        Some((t(2018, 10, 24, 0, 0, 0), t(2019, 10, 24, 0, 0, 0)))
    );
}

pub fn check_times_keep_microseconds(store: &mut dyn Store) {
    let mut e = fixtures::gdelt_events().remove(2);
    // Just before PostgreSQL's epoch (2000-01-01), where naive conversion
    // would round the other way.
    e.occurred_at = DateTime::from_timestamp(946_684_799, 999_999_999).unwrap();
    e.reported_at = DateTime::from_timestamp(1_571_927_400, 123_456_789).unwrap();
    store.insert_events(std::slice::from_ref(&e)).unwrap();
    let back = store.event(&e.id).unwrap().unwrap();
    assert_eq!(back.occurred_at.timestamp_micros(), 946_684_799_999_999);
    assert_eq!(back.occurred_at.timestamp_subsec_nanos(), 999_999_000);
    assert_eq!(back.reported_at.timestamp_subsec_nanos(), 123_456_000);
    assert_eq!(
        store.event_time_range().unwrap(),
        Some((back.occurred_at, back.occurred_at))
    );
}

// --- schema -----------------------------------------------------------------

pub fn check_migrations_are_idempotent(engine: &dyn Engine) {
    let version = {
        let mut store = engine.open();
        let v = store.schema_version().unwrap();
        assert!(v >= 1, "schema version {v}");
        store.insert_events(&fixtures::gdelt_events()).unwrap();
        store.upsert_sites(&fixtures::sites()).unwrap();
        v
    };
    for _ in 0..2 {
        let mut store = engine.open();
        assert_eq!(store.schema_version().unwrap(), version);
        assert_eq!(store.count_events().unwrap(), 5);
        assert_eq!(store.sites().unwrap().len(), 3);
        assert_eq!(
            store.insert_events(&fixtures::gdelt_events()).unwrap(),
            counts(0, 5)
        );
    }
}

pub fn check_corrupt_rows_are_errors_not_panics(engine: &dyn Engine) {
    let mut store = engine.open();
    store.insert_events(&fixtures::gdelt_events()).unwrap();
    store.upsert_sites(&fixtures::sites()).unwrap();
    let berlin = EventId::new("gdelt", "881990839");
    let iraq = EventId::new("gdelt", "881990846");

    let expect_corrupt = |r: Result<_, StoreError>, table: &str, field: &str| match r {
        Err(StoreError::Corrupt {
            table: t, field: f, ..
        }) if t == table && f == field => {}
        other => panic!("expected Corrupt({table}.{field}), got {other:?}"),
    };

    engine.exec("UPDATE events SET lat = 123.5 WHERE source_id = '881990839'");
    expect_corrupt(store.event(&berlin).map(|_| ()), "events", "lat");
    engine.exec("UPDATE events SET subtype = 'earthquake' WHERE source_id = '881990846'");
    expect_corrupt(store.event(&iraq).map(|_| ()), "events", "subtype");
    expect_corrupt(
        store
            .events_between(t(2000, 1, 1, 0, 0, 0), t(2030, 1, 1, 0, 0, 0))
            .map(|_| ()),
        "events",
        "lat",
    );

    // A bow-tie ring: closed, but its edges cross.
    engine.exec(
        "UPDATE sites SET polygon = '[[0,0],[1,1],[0,1],[1,0],[0,0]]' WHERE id = 'PK-GWD-PORT'",
    );
    expect_corrupt(store.site("PK-GWD-PORT").map(|_| ()), "sites", "polygon");
    engine.exec("UPDATE sites SET country = 'XX' WHERE id = 'KE-MSA-PORT'");
    expect_corrupt(store.site("KE-MSA-PORT").map(|_| ()), "sites", "country");
    // The rest of the table still reads.
    assert!(store.site("KE-NBO-SGR").unwrap().is_some());
}

// --- quarantine ---------------------------------------------------------------

pub fn check_quarantine_dedups_reruns(store: &mut dyn Store) {
    let records = fixtures::quarantined();
    assert_eq!(store.quarantine(&records).unwrap(), 3);
    // Re-running the same bad file must not grow the quarantine.
    assert_eq!(store.quarantine(&records).unwrap(), 0);
    assert_eq!(store.quarantine(&[]).unwrap(), 0);

    let rows = store.quarantined(10).unwrap();
    assert_eq!(rows.len(), 3);
    let mut got: Vec<Quarantined> = rows.iter().map(|r| r.record.clone()).collect();
    got.reverse();
    assert_eq!(got, records, "newest first, bytes intact");
    assert!(rows.windows(2).all(|w| w[0].id > w[1].id));
    let now = Utc::now();
    assert!(rows.iter().all(|r| (now - r.at).num_minutes().abs() < 5));

    // Same line, different bytes: a different rejection, kept.
    let mut changed = records[0].clone();
    changed.raw.push(b'!');
    // Same bytes, another file: kept too.
    let mut other_file = records[1].clone();
    other_file.file = "20191024144500.export.CSV".into();
    assert_eq!(
        store
            .quarantine(&[changed.clone(), other_file, changed])
            .unwrap(),
        2
    );
    let newest = store.quarantined(2).unwrap();
    assert_eq!(newest.len(), 2);
    assert_eq!(newest[0].record.file, "20191024144500.export.CSV");
}

// --- registry -----------------------------------------------------------------

pub fn check_sites_round_trip_points_and_polygons(store: &mut dyn Store) {
    let sites = fixtures::sites();
    assert_eq!(store.upsert_sites(&sites).unwrap(), upserts(3, 0, 0));
    let mut want = sites.clone();
    want.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(store.sites().unwrap(), want);
    let gwadar = store.site("PK-GWD-PORT").unwrap().unwrap();
    assert_eq!(gwadar, sites[1]);
    match &gwadar.geometry {
        Geometry::Polygon(p) => assert_eq!(p, &fixtures::gwadar_polygon()),
        other => panic!("expected a polygon, got {other:?}"),
    }
    assert_eq!(store.site("KE-MSA-PORT").unwrap().as_ref(), Some(&sites[0]));
    assert_eq!(store.site("ke-msa-port").unwrap(), None);
}

pub fn check_upserts_tell_inserted_updated_unchanged(store: &mut dyn Store) {
    let orgs = fixtures::orgs();
    assert_eq!(store.upsert_orgs(&orgs).unwrap(), upserts(2, 0, 0));
    assert_eq!(store.upsert_orgs(&orgs).unwrap(), upserts(0, 0, 2));
    let mut renamed = orgs.clone();
    renamed[1].country = Some(fixtures::cc("CN"));
    assert_eq!(store.upsert_orgs(&renamed).unwrap(), upserts(0, 1, 1));
    assert_eq!(store.orgs().unwrap(), renamed);
    assert_eq!(store.upsert_orgs(&[]).unwrap(), upserts(0, 0, 0));

    let mut sites = fixtures::sites();
    store.upsert_sites(&sites).unwrap();
    // Only a NULL becoming a value, and only a polygon becoming a point.
    sites[1].value_usd = Some(1.62e9);
    sites[2].geometry = Geometry::Point(sites[2].anchor());
    let mut new_site = sites[0].clone();
    new_site.id = "LK-HBT-PORT".into();
    new_site.country = fixtures::cc("LK");
    sites.push(new_site);
    assert_eq!(store.upsert_sites(&sites).unwrap(), upserts(1, 1, 2));
    sites[1].geometry = Geometry::Point(sites[1].anchor());
    assert_eq!(store.upsert_sites(&sites).unwrap(), upserts(0, 1, 3));
    assert_eq!(store.site("PK-GWD-PORT").unwrap().as_ref(), Some(&sites[1]));

    // The same id twice in one batch: the later one wins.
    let mut twice = vec![sites[0].clone(), sites[0].clone()];
    twice[1].headcount = 121;
    assert_eq!(store.upsert_sites(&twice).unwrap(), upserts(0, 1, 1));
    assert_eq!(store.site("KE-MSA-PORT").unwrap().unwrap().headcount, 121);
}

pub fn check_people_legs_dependencies_round_trip(store: &mut dyn Store) {
    let people = fixtures::people();
    let legs = fixtures::legs();
    let deps = fixtures::dependencies();
    assert_eq!(store.upsert_people(&people).unwrap(), upserts(2, 0, 0));
    assert_eq!(store.upsert_legs(&legs).unwrap(), upserts(2, 0, 0));
    assert_eq!(store.upsert_dependencies(&deps).unwrap(), upserts(2, 0, 0));
    assert_eq!(store.people().unwrap(), people);
    assert_eq!(store.legs().unwrap(), legs);
    let mut want = deps.clone();
    want.sort_by(|a, b| (&a.site, &a.on).cmp(&(&b.site, &b.on)));
    assert_eq!(store.dependencies().unwrap(), want);

    assert_eq!(store.upsert_people(&people).unwrap(), upserts(0, 0, 2));
    assert_eq!(store.upsert_legs(&legs).unwrap(), upserts(0, 0, 2));
    assert_eq!(store.upsert_dependencies(&deps).unwrap(), upserts(0, 0, 2));

    let mut people2 = people.clone();
    people2[0].needs.push("halal meals".into());
    assert_eq!(store.upsert_people(&people2).unwrap(), upserts(0, 1, 1));
    let mut legs2 = legs.clone();
    legs2[1].to += TimeDelta::days(2);
    assert_eq!(store.upsert_legs(&legs2).unwrap(), upserts(0, 1, 1));
    // Dependencies are keyed on (site, on): a new pair is an insert.
    let mut deps2 = deps.clone();
    deps2[0].criticality = 0.9;
    deps2.push(farguard_model::Dependency {
        site: "PK-GWD-PORT".into(),
        on: "KE-MSA-PORT".into(),
        kind: farguard_model::DependencyKind::Supplier,
        criticality: 0.1,
    });
    assert_eq!(store.upsert_dependencies(&deps2).unwrap(), upserts(1, 1, 1));
    assert_eq!(store.people().unwrap(), people2);
    assert_eq!(store.legs().unwrap(), legs2);
    assert_eq!(store.dependencies().unwrap().len(), 3);
}

// --- assessments and runs -----------------------------------------------------

pub fn check_assessments_replace_and_latest(store: &mut dyn Store) {
    use fixtures::assessment as a;
    let (t1, t2) = (added(), added() + TimeDelta::hours(24));
    store
        .save_assessments(&[
            a("KE", Category::Security, t1, 41.0),
            a("KE", Category::Security, t2, 55.5),
            a("KE", Category::Political, t1, 12.0),
            a("KE/KE05", Category::Security, t2, 70.25),
            a("h3:8a2a1072b59ffff", Category::Natural, t1, 3.0),
            a("site:KE-MSA-PORT", Category::Security, t1, 60.0),
        ])
        .unwrap();
    // Grading the same moment again replaces, it does not add.
    let regraded = a("KE", Category::Security, t2, 61.0);
    store
        .save_assessments(&[a("KE", Category::Security, t2, 58.0), regraded.clone()])
        .unwrap();
    store.save_assessments(&[]).unwrap();

    let latest = store.latest_assessments().unwrap();
    assert_eq!(
        latest,
        vec![
            a("KE", Category::Political, t1, 12.0),
            regraded,
            a("KE/KE05", Category::Security, t2, 70.25),
            a("h3:8a2a1072b59ffff", Category::Natural, t1, 3.0),
            a("site:KE-MSA-PORT", Category::Security, t1, 60.0),
        ]
    );
}

pub fn check_runs_newest_first(store: &mut dyn Store) {
    let runs = [
        fixtures::run("ingest", added(), 2_111),
        fixtures::run("import-sites", added() + TimeDelta::minutes(5), 3),
        fixtures::run("ingest", added() - TimeDelta::minutes(15), 1_980),
    ];
    for r in &runs {
        store.record_run(r).unwrap();
    }
    assert_eq!(
        store.runs(10).unwrap(),
        vec![runs[1].clone(), runs[0].clone(), runs[2].clone()]
    );
    assert_eq!(store.runs(1).unwrap(), vec![runs[1].clone()]);

    let mut huge = runs[0].clone();
    huge.read = u64::MAX;
    match store.record_run(&huge) {
        Err(StoreError::Unstorable { field, .. }) => assert_eq!(field, "records_read"),
        other => panic!("expected Unstorable, got {other:?}"),
    }
    assert_eq!(store.runs(10).unwrap().len(), 3);
}

pub fn check_failed_batch_stores_nothing(store: &mut dyn Store) {
    let mut events = fixtures::gdelt_events();
    // PostgreSQL text cannot hold NUL, so neither engine takes it.
    events[3].raw.push('\0');
    match store.insert_events(&events) {
        Err(StoreError::Unstorable { table, field, .. }) => {
            assert_eq!((table, field), ("events", "raw"));
        }
        other => panic!("expected Unstorable, got {other:?}"),
    }
    // One transaction: the rows before the bad one are gone too.
    assert_eq!(store.count_events().unwrap(), 0);
    events[3].raw.pop();
    assert_eq!(store.insert_events(&events).unwrap(), counts(5, 0));
}

// Checks kept in their own files, registered through this module.
pub use crate::access::*;
pub use crate::feeds::*;
pub use crate::incidents::*;
pub use crate::risk::*;
