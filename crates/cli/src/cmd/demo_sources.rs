//! The demo's sources step: every shipped feed format beyond GDELT — CAP
//! alerts and the NWS CAP Atom index, GDACS RSS, USGS GeoJSON, and field
//! reports — ingested through format detection, then the merged events
//! (one hazard reported by several sources). ACLED is never shipped (its
//! terms forbid it) and the RSS/Atom news samples are test fixtures only.

use super::ingest::{Summary, ingest_bytes};
use anyhow::Result;
use farguard_store::Store;

macro_rules! feed {
    ($path:literal) => {
        (
            $path,
            include_bytes!(concat!("../../../../", $path)) as &[u8],
        )
    };
}

/// The shipped feeds, compiled in so the demo runs from any directory.
const FEEDS: &[(&str, &[u8])] = &[
    feed!("data/feeds/cap/cap_amber_alert_example.xml"),
    feed!("data/feeds/cap/canada.xml"),
    feed!("data/feeds/cap/canada_signed.xml"),
    feed!("data/feeds/cap/earthquake.xml"),
    feed!("data/feeds/cap/wcatwc-warning.xml"),
    feed!("data/feeds/cap/weather.xml"),
    feed!("data/feeds/cap/airnow.xml"),
    feed!("data/feeds/cap/nws_atom_feed_example.xml"),
    feed!("data/feeds/gdacs/gdacs-rss-7d.xml"),
    feed!("data/feeds/gdacs/gdacs-rss-24h.xml"),
    feed!("data/feeds/gdacs/gdacs-rss.xml"),
    feed!("data/feeds/usgs/all_week_2014-04-15.geojson"),
    feed!("data/feeds/usgs/all_day_2014-04-14.geojson"),
    feed!("data/feeds/usgs/all_day_2019-11-21.geojson"),
    feed!("crates/sources/examples/field-reports.json"),
];

/// Ingests every shipped feed into `store` and prints what each source gave
/// and the merged events.
pub fn run(store: &mut dyn Store) -> Result<()> {
    println!(
        "\n8. SOURCES  every shipped feed format, told apart by content, idempotent on (source, id)"
    );
    let mut summary = Summary::default();
    for (name, bytes) in FEEDS {
        let c = ingest_bytes(store, name, bytes, None, Some(&mut summary))?;
        println!(
            "   {:<46} {:<6} read {:>5}  new {:>5}  dup {:>4}  quarantined {:>3}",
            name.rsplit('/').next().unwrap_or(name),
            c.format.as_deref().unwrap_or("?"),
            c.read,
            c.accepted,
            c.duplicates,
            c.quarantined
        );
    }
    println!("   by source:");
    for (s, c) in &summary.by_source {
        println!(
            "     {s:<7} read {:>5} = new {:>5} + already stored {:>4} + quarantined {:>3}",
            c.read, c.accepted, c.duplicates, c.quarantined
        );
    }
    let links = store.merges(10)?;
    println!(
        "   merged events (same hazard from several sources within its window; see farguard merged): {}",
        if links.is_empty() {
            "none among the shipped feeds".to_string()
        } else {
            String::new()
        }
    );
    let mut last = String::new();
    for l in links {
        let c = l.cluster.to_string();
        if c != last {
            println!("     {c}");
            last = c;
        }
        println!("       {} — {}", l.event, l.reason);
    }
    println!(
        "   (the shipped USGS, GDACS and CAP files are from different days, so none of their hazards\n    coincide; `farguard merged` lists clusters as live feeds from `farguard watch` overlap)"
    );
    Ok(())
}
