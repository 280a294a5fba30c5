//! Conformance checks for the persisted daily risk aggregates: a fold counts
//! each stored event exactly once (re-inserting the same events folds
//! nothing), a report seen again in a later fold keeps its one vote, a
//! changed spec rebuilds the rows from every stored event, and day rows and
//! coverage read back by range and area.

use crate::fixtures::{self, t};
use farguard_model::Event;
use farguard_store::{RiskDay, RiskFolder, RiskTouch, RiskVote, RiskWrite, Store};
use std::collections::BTreeMap;

/// A minimal folder: one cell per (country, category, day); events and
/// distinct reports counted; a report's vote is 1 point.
struct Counting {
    spec: &'static str,
}

fn cell(e: &Event) -> (String, String, i32) {
    let c = e
        .country
        .or_else(|| e.location.as_ref().and_then(|l| l.country))
        .map(|c| c.to_string())
        .unwrap_or_else(|| "ZZ".into());
    let day = e.occurred_at.timestamp().div_euclid(86_400) as i32;
    (c, e.category.code().into(), day)
}

fn report(e: &Event) -> i64 {
    let key = e.links.first().cloned().unwrap_or_else(|| e.id.to_string());
    key.bytes()
        .fold(17i64, |h, b| h.wrapping_mul(31).wrapping_add(i64::from(b)))
}

impl RiskFolder for Counting {
    fn spec(&self) -> String {
        self.spec.into()
    }
    fn touched(&mut self, events: &[Event]) -> Vec<RiskTouch> {
        events
            .iter()
            .map(|e| {
                let (area, category, day) = cell(e);
                RiskTouch {
                    area,
                    category,
                    day,
                    report: report(e),
                }
            })
            .collect()
    }
    fn fold(
        &mut self,
        events: &[Event],
        days: Vec<RiskDay>,
        votes: Vec<RiskVote>,
    ) -> Result<RiskWrite, String> {
        let mut rows: BTreeMap<(String, String, i32), RiskDay> = days
            .into_iter()
            .map(|d| ((d.area.clone(), d.category.clone(), d.day), d))
            .collect();
        let mut seen: BTreeMap<(String, String, i32, i64), f64> = votes
            .into_iter()
            .map(|v| ((v.area, v.category, v.day, v.report), v.points))
            .collect();
        let mut w = RiskWrite::default();
        for e in events {
            let k = cell(e);
            let d = rows.entry(k.clone()).or_insert_with(|| RiskDay {
                area: k.0.clone(),
                area_kind: "country".into(),
                category: k.1.clone(),
                day: k.2,
                top: "[]".into(),
                ..RiskDay::default()
            });
            d.events += 1;
            let vk = (k.0, k.1, k.2, report(e));
            if !seen.contains_key(&vk) {
                seen.insert(vk.clone(), 1.0);
                d.reports += 1;
                d.points += 1.0;
                w.votes.push(RiskVote {
                    area: vk.0,
                    category: vk.1,
                    day: vk.2,
                    report: vk.3,
                    points: 1.0,
                });
            }
            w.coverage.push((d.day, 1));
        }
        w.days = rows.into_values().collect();
        Ok(w)
    }
}

fn totals(store: &mut dyn Store) -> (i64, i64, i64) {
    let days = store.risk_days(i32::MIN, i32::MAX, None).unwrap();
    let cov: i64 = store
        .risk_coverage(i32::MIN, i32::MAX)
        .unwrap()
        .iter()
        .map(|c| c.1)
        .sum();
    (
        days.iter().map(|d| d.events).sum(),
        days.iter().map(|d| d.reports).sum(),
        cov,
    )
}

pub fn check_risk_fold_counts_each_stored_event_once(store: &mut dyn Store) {
    let mut f = Counting { spec: "count-v1" };
    assert_eq!(store.risk_state().unwrap(), None);
    // 30 hourly events over two days; every event its own report.
    let mut events = fixtures::many_events(30, t(2019, 10, 23, 12, 0, 0));
    for (i, e) in events.iter_mut().enumerate() {
        e.links = vec![format!("https://example.org/report/{i}")];
    }
    store.insert_events(&events).unwrap();
    let out = store.fold_new_events(&mut f, 7).unwrap();
    assert_eq!((out.events, out.rebuilt), (30, false));
    assert_eq!(totals(store), (30, 30, 30));
    let (last, spec) = store.risk_state().unwrap().unwrap();
    assert_eq!((last, spec.as_str()), (out.last_event, "count-v1"));
    // The same events again are duplicates: nothing new to fold.
    assert_eq!(store.insert_events(&events).unwrap().duplicates, 30);
    let again = store.fold_new_events(&mut f, 7).unwrap();
    assert_eq!((again.events, again.last_event), (0, last));
    assert_eq!(totals(store), (30, 30, 30));
    // New events that re-report an already folded report: counted as
    // events, but the report keeps its one vote.
    let mut more = fixtures::many_events(10, t(2019, 10, 23, 12, 0, 0));
    for (i, e) in more.iter_mut().enumerate() {
        e.id.source_id = format!("re-{i}");
        e.links = events[i].links.clone();
    }
    store.insert_events(&more).unwrap();
    let out = store.fold_new_events(&mut f, 4).unwrap();
    assert_eq!(out.events, 10);
    let (ev, reports, cov) = totals(store);
    assert_eq!((ev, reports, cov), (40, 30, 40));
    // Range and area reads.
    let days = store.risk_days(i32::MIN, i32::MAX, None).unwrap();
    let first = days.iter().map(|d| d.day).min().unwrap();
    let one_day = store.risk_days(first, first + 1, None).unwrap();
    assert!(one_day.iter().all(|d| d.day == first) && !one_day.is_empty());
    let area = days[0].area.clone();
    assert!(
        store
            .risk_days(i32::MIN, i32::MAX, Some(&area))
            .unwrap()
            .iter()
            .all(|d| d.area == area)
    );
    assert!(
        store
            .risk_days(i32::MIN, i32::MAX, Some("nowhere"))
            .unwrap()
            .is_empty()
    );
    // Other rules: the rows are rebuilt from every stored event, not added to.
    let mut g = Counting { spec: "count-v2" };
    let rebuilt = store.fold_new_events(&mut g, 1000).unwrap();
    assert_eq!((rebuilt.events, rebuilt.rebuilt), (40, true));
    assert_eq!(totals(store), (ev, reports, cov));
    assert_eq!(store.risk_state().unwrap().unwrap().1, "count-v2");
}

/// [`Counting`], also counting the events it was handed with their source
/// record (events read back for a fold come without it).
struct CountingGiven {
    inner: Counting,
    with_raw: usize,
}

impl RiskFolder for CountingGiven {
    fn spec(&self) -> String {
        self.inner.spec()
    }
    fn touched(&mut self, events: &[Event]) -> Vec<RiskTouch> {
        self.inner.touched(events)
    }
    fn fold(
        &mut self,
        events: &[Event],
        days: Vec<RiskDay>,
        votes: Vec<RiskVote>,
    ) -> Result<RiskWrite, String> {
        self.with_raw += events.iter().filter(|e| !e.raw.is_empty()).count();
        self.inner.fold(events, days, votes)
    }
}

pub fn check_risk_fold_of_events_just_stored_counts_each_once(store: &mut dyn Store) {
    let mut f = CountingGiven {
        inner: Counting { spec: "count-v1" },
        with_raw: 0,
    };
    let mut events = fixtures::many_events(40, t(2019, 10, 23, 12, 0, 0));
    for (i, e) in events.iter_mut().enumerate() {
        // Five reports, each re-reported every five hours.
        e.links = vec![format!("https://example.org/report/{}", i % 5)];
        assert!(!e.raw.is_empty());
    }
    let fold = |store: &mut dyn Store, f: &mut CountingGiven, given: &[Event]| {
        let before = f.with_raw;
        let out = store.fold_stored_events(f, 4, given).unwrap();
        (out.events, f.with_raw - before)
    };
    // Stored by one insert and all that is new: folded as given, in passes
    // of 4, the watermark at the last one's id.
    store.insert_events(&events[..10]).unwrap();
    let (n, given) = fold(store, &mut f, &events[..10]);
    assert_eq!(n, 10);
    let from_memory = store.backend() == "sqlite";
    assert_eq!(given, if from_memory { 10 } else { 0 });
    assert_eq!(totals(store), (10, 5, 10));
    // An event left unfolded before them: everything new is read back.
    store.insert_events(&events[10..11]).unwrap();
    store.insert_events(&events[11..15]).unwrap();
    assert_eq!(fold(store, &mut f, &events[11..15]), (5, 0));
    // Told of fewer events than one insert stored: read back.
    store.insert_events(&events[15..20]).unwrap();
    assert_eq!(fold(store, &mut f, &events[15..19]), (5, 0));
    // Told of events stored long ago (duplicates now): nothing to fold.
    assert_eq!(store.insert_events(&events[..5]).unwrap().accepted, 0);
    assert_eq!(fold(store, &mut f, &events[..5]), (0, 0));
    // Another writer's events stored after them: read back.
    store.insert_events(&events[20..30]).unwrap();
    store.insert_events(&events[30..32]).unwrap();
    assert_eq!(fold(store, &mut f, &events[20..30]), (12, 0));
    // Given again, the next insert's events, after all that: as given.
    store.insert_events(&events[32..40]).unwrap();
    let (n, given) = fold(store, &mut f, &events[32..40]);
    assert_eq!((n, given), (8, if from_memory { 8 } else { 0 }));
    // Each event and each report of a day counted once (hours 12–23 of
    // the first day, the next day, hours 0–3 of the third): the same rows
    // as folding everything from the start by reading back.
    let (ev, reports, cov) = totals(store);
    assert_eq!((ev, reports, cov), (40, 5 + 5 + 4, 40));
    let (last, _) = store.risk_state().unwrap().unwrap();
    let mut g = Counting { spec: "count-v2" };
    let rebuilt = store.fold_new_events(&mut g, 1000).unwrap();
    assert_eq!((rebuilt.events, rebuilt.last_event), (40, last));
    assert_eq!(totals(store), (ev, reports, cov));
}

pub fn check_risk_fold_refuses_unreadable_rows_and_stores_nothing(store: &mut dyn Store) {
    struct Broken;
    impl RiskFolder for Broken {
        fn spec(&self) -> String {
            "broken".into()
        }
        fn touched(&mut self, _: &[Event]) -> Vec<RiskTouch> {
            Vec::new()
        }
        fn fold(
            &mut self,
            _: &[Event],
            _: Vec<RiskDay>,
            _: Vec<RiskVote>,
        ) -> Result<RiskWrite, String> {
            Err("stored area \"??\" does not parse".into())
        }
    }
    store
        .insert_events(&fixtures::many_events(3, t(2019, 10, 23, 12, 0, 0)))
        .unwrap();
    let err = store
        .fold_new_events(&mut Broken, 10)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("risk_days") && err.contains("does not parse"),
        "{err}"
    );
    assert_eq!(store.risk_state().unwrap(), None);
    let mut f = Counting { spec: "count-v1" };
    assert_eq!(store.fold_new_events(&mut f, 10).unwrap().events, 3);
}
