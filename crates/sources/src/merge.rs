//! Cross-source merging: reports of one hazard from GDACS, USGS and CAP —
//! and re-reports of one incident in the news — grouped into clusters, each
//! link with the reason it was made.
//!
//! Two hazard reports are the same hazard when they have the same subtype,
//! both have a point, and they lie within the subtype's [`Window`] of each
//! other in distance (great-circle) and time (`occurred_at`). The windows,
//! and why:
//!
//! | subtype | distance | time | why |
//! | --- | --- | --- | --- |
//! | earthquake | 100 km | 15 min | agencies' epicentres for one quake differ by up to a few tens of km (teleseismic solutions), origin times by seconds; 15 min leaves room for feeds that stamp the alert, not the origin, while keeping most aftershocks (minutes to hours later) apart |
//! | tsunami | 1,000 km | 6 h | warnings cover ocean basins and follow the quake by minutes to hours |
//! | cyclone | 500 km | 24 h | a cyclone moves up to ~500 km a day; advisories come every 3–6 h |
//! | flood, wildfire | 250 km | 72 h | slow-onset, reported as areas whose centroids differ |
//! | volcano | 50 km | 72 h | volcanoes do not move; eruptions last days |
//! | drought | 1,000 km | 30 days | national-scale, reported weekly or monthly |
//! | other natural | 100 km | 24 h | (e.g. CAP weather warnings) |
//!
//! GDACS episodes of one event (`TC1000643/1`, `TC1000643/2`) are always one
//! cluster, wherever the later episode's point is. News items merge when
//! they share a subtype, are within 48 h, and their titles share at least
//! half their words (Jaccard ≥ 0.5 over words of 3+ letters, or CJK
//! characters). Clusters are transitive (union-find): A~B and B~C put A, B,
//! C together. A cluster is named by its earliest member's id.

use chrono::TimeDelta;
use farguard_model::{Event, EventId, Subtype};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The sources whose events take part in merging.
pub const MERGEABLE: &[&str] = &["gdacs", "usgs", "cap", "news"];

/// How close two reports must be to be one hazard.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub km: f64,
    pub time: TimeDelta,
}

/// The window for a subtype, or `None` when that subtype is not merged
/// across sources.
pub fn window(s: Subtype) -> Option<Window> {
    let w = |km: f64, minutes: i64| {
        Some(Window {
            km,
            time: TimeDelta::minutes(minutes),
        })
    };
    match s {
        Subtype::Earthquake => w(100.0, 15),
        Subtype::Tsunami => w(1000.0, 6 * 60),
        Subtype::Cyclone => w(500.0, 24 * 60),
        Subtype::Flood | Subtype::Wildfire => w(250.0, 72 * 60),
        Subtype::Volcano => w(50.0, 72 * 60),
        Subtype::Drought => w(1000.0, 30 * 24 * 60),
        Subtype::OtherNatural => w(100.0, 24 * 60),
        _ => None,
    }
}

/// The widest time window of any subtype: how far around new events to
/// look for partners.
pub fn max_window() -> TimeDelta {
    TimeDelta::days(30)
}

/// News items: time window and title overlap.
pub const NEWS_HOURS: i64 = 48;
pub const NEWS_JACCARD: f64 = 0.5;

/// One member of a cluster and why it joined.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// The cluster: its earliest member's id.
    pub cluster: EventId,
    pub event: EventId,
    /// Why this event is in the cluster (the pair it matched and the numbers).
    pub reason: String,
}

struct Dsu(Vec<usize>);

impl Dsu {
    fn find(&mut self, mut i: usize) -> usize {
        while self.0[i] != i {
            self.0[i] = self.0[self.0[i]];
            i = self.0[i];
        }
        i
    }
    fn union(&mut self, a: usize, b: usize) -> bool {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.0[b] = a;
        }
        a != b
    }
}

fn words(title: &str) -> HashSet<String> {
    let mut out = HashSet::new();
    let lower = title.to_lowercase();
    for w in lower.split(|c: char| !c.is_alphanumeric()) {
        let cjk: Vec<char> = w
            .chars()
            .filter(|c| ('\u{4e00}'..='\u{9fff}').contains(c))
            .collect();
        if cjk.is_empty() {
            if w.chars().count() >= 3 {
                out.insert(w.to_string());
            }
        } else {
            // Chinese has no spaces: compare character bigrams.
            for p in cjk.windows(2) {
                out.insert(p.iter().collect());
            }
        }
    }
    out
}

/// Clusters `events` (any sources; only [`MERGEABLE`] ones take part) and
/// returns one link per member of every cluster of two or more.
pub fn merge(events: &[Event]) -> Vec<Link> {
    let idx: Vec<usize> = (0..events.len())
        .filter(|&i| MERGEABLE.contains(&events[i].id.source.as_str()))
        .collect();
    let mut dsu = Dsu((0..events.len()).collect());
    let mut why: HashMap<usize, String> = HashMap::new();
    let mut order = idx.clone();
    order.sort_by_key(|&i| (events[i].occurred_at, events[i].id.clone()));

    // GDACS episodes of one event.
    let mut by_gdacs: BTreeMap<&str, usize> = BTreeMap::new();
    for &i in &order {
        let e = &events[i];
        if e.id.source == "gdacs"
            && let Some((ev, _)) = e.id.source_id.split_once('/')
        {
            match by_gdacs.get(ev) {
                Some(&first) => {
                    if dsu.union(first, i) {
                        why.entry(i).or_insert_with(|| {
                            format!(
                                "a later GDACS episode of {} (same GDACS event {ev})",
                                events[first].id
                            )
                        });
                    }
                }
                None => {
                    by_gdacs.insert(ev, i);
                }
            }
        }
    }

    // Hazards: sweep in time order, compare within the window.
    for (k, &i) in order.iter().enumerate() {
        let a = &events[i];
        if a.id.source == "news" {
            continue;
        }
        let (Some(w), Some(la)) = (window(a.subtype), a.location.as_ref()) else {
            continue;
        };
        for &j in &order[k + 1..] {
            let b = &events[j];
            let dt = b.occurred_at - a.occurred_at;
            if dt > w.time {
                break;
            }
            if b.subtype != a.subtype || b.id.source == a.id.source || b.id.source == "news" {
                continue;
            }
            let Some(lb) = b.location.as_ref() else {
                continue;
            };
            let km = la.point.distance_m(lb.point) / 1000.0;
            if km <= w.km && dsu.union(i, j) {
                why.entry(j).or_insert_with(|| {
                    format!(
                        "same {} as {}: {km:.0} km and {} min apart (window {} km, {} min)",
                        a.subtype.code(),
                        a.id,
                        dt.num_minutes(),
                        w.km,
                        w.time.num_minutes()
                    )
                });
            }
        }
    }

    // News re-reports.
    let news: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&i| events[i].id.source == "news")
        .collect();
    let bags: HashMap<usize, HashSet<String>> =
        news.iter().map(|&i| (i, words(&events[i].title))).collect();
    for (k, &i) in news.iter().enumerate() {
        for &j in &news[k + 1..] {
            let (a, b) = (&events[i], &events[j]);
            let dt = b.occurred_at - a.occurred_at;
            if dt > TimeDelta::hours(NEWS_HOURS) {
                break;
            }
            if a.subtype != b.subtype {
                continue;
            }
            let (Some(wa), Some(wb)) = (bags.get(&i), bags.get(&j)) else {
                continue;
            };
            let inter = wa.intersection(wb).count() as f64;
            let union = (wa.len() + wb.len()) as f64 - inter;
            let jac = if union > 0.0 { inter / union } else { 0.0 };
            if jac >= NEWS_JACCARD && dsu.union(i, j) {
                why.entry(j).or_insert_with(|| {
                    format!(
                        "re-report of {}: same {}, titles share {:.0}% of words, {} h apart (window {NEWS_HOURS} h, {:.0}%)",
                        a.id,
                        a.subtype.code(),
                        jac * 100.0,
                        dt.num_hours(),
                        NEWS_JACCARD * 100.0
                    )
                });
            }
        }
    }

    // Clusters of two or more, named by their earliest member.
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &i in &order {
        let r = dsu.find(i);
        groups.entry(r).or_default().push(i);
    }
    let mut out = Vec::new();
    for members in groups.values().filter(|m| m.len() > 1) {
        let first = members[0];
        let cluster = events[first].id.clone();
        for &m in members {
            let reason = if m == first {
                format!("earliest report of the cluster ({} members)", members.len())
            } else {
                why.get(&m)
                    .cloned()
                    .unwrap_or_else(|| "linked through another member".into())
            };
            out.push(Link {
                cluster: cluster.clone(),
                event: events[m].id.clone(),
                reason,
            });
        }
    }
    out
}
