//! Times the reverse geocoder and the USGS reader (a development aid).
fn main() {
    let t = std::time::Instant::now();
    let _ = farguard_sources::geo::country_at(0.0, 0.0);
    println!("country index built in {:?}", t.elapsed());
    let t = std::time::Instant::now();
    let mut n = 0;
    for i in 0..10_000 {
        let lat = -60.0 + (i % 120) as f64;
        let lon = -180.0 + (i * 7 % 360) as f64;
        n += usize::from(farguard_sources::geo::country_at(lat, lon).is_some());
    }
    println!("10,000 lookups in {:?} ({n} on land)", t.elapsed());
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/feeds/usgs/all_week_2014-04-15.geojson"
    ))
    .unwrap_or_default();
    let t = std::time::Instant::now();
    let b = farguard_sources::usgs::parse_usgs("week", &bytes);
    println!("USGS week: {} events in {:?}", b.events.len(), t.elapsed());
}
