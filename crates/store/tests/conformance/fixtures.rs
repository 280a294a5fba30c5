//! Real-looking values for the checks: events hand-built from five lines of
//! the GDELT 2.0 export `data/gdelt/20191024143000.export.CSV` (GDELT
//! Project, free to use with attribution), and a small registry around the
//! port of Mombasa and the port of Gwadar.

use chrono::{DateTime, TimeZone, Utc};
use farguard_model::{
    Area, Assessment, Category, CountryCode, Dependency, DependencyKind, Event, EventId,
    GeoPrecision, Geometry, ItineraryLeg, Level, Location, OrgKind, Organisation, Person, Point,
    Polygon, Quarantined, Severity, Site, SiteKind, Subtype, Trend,
};
use farguard_store::RunRecord;

pub fn t(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

pub fn cc(s: &str) -> CountryCode {
    CountryCode::parse(s).unwrap()
}

fn p(lat: f64, lon: f64) -> Point {
    Point::new(lat, lon).unwrap()
}

/// When the 2019-10-24 14:30 export file was published.
pub fn added() -> DateTime<Utc> {
    t(2019, 10, 24, 14, 30, 0)
}

const LINE_8: &str = "881990839\t20181024\t201810\t2018\t2018.8055\tCOP\tPOLICE\t\t\t\t\t\tCOP\t\t\tDEU\tGERMAN\tDEU\t\t\t\t\t\t\t\t1\t190\t190\t19\t4\t-10.0\t20\t2\t20\t-8.03827751196173\t4\tBerlin, Berlin, Germany\tGM\tGM16\t16538\t52.5167\t13.4\t-1746443\t4\tBerlin, Berlin, Germany\tGM\tGM16\t16538\t52.5167\t13.4\t-1746443\t4\tBerlin, Berlin, Germany\tGM\tGM16\t16538\t52.5167\t13.4\t-1746443\t20191024143000\thttps://www.bgdailynews.com/news/international/germany-arrests-people-suspected-of-trafficking-syrians/article_824a692c-a4e9-577a-bdfa-bd01d220bb84.html";
const LINE_15: &str = "881990846\t20181024\t201810\t2018\t2018.8055\tGBRCVL\tUNITED KINGDOM\tGBR\t\t\t\t\tCVL\t\t\t\t\t\t\t\t\t\t\t\t\t1\t190\t190\t19\t4\t-10.0\t6\t1\t6\t0.28735632183908\t1\tIraq\tIZ\tIZ\t\t33\t44\tIZ\t0\t\t\t\t\t\t\t\t1\tIraq\tIZ\tIZ\t\t33\t44\tIZ\t20191024143000\thttps://www.trustedreviews.com/news/facebook-getting-more-involved-in-news-could-be-this-years-scariest-halloween-horror-story-3949244";
const LINE_27: &str = "881990858\t20190924\t201909\t2019\t2019.7233\t\t\t\t\t\t\t\t\t\t\tMED\tNEWS OUTLET\t\t\t\t\t\tMED\t\t\t1\t190\t190\t19\t4\t-10.0\t2\t1\t2\t-8.72483221476506\t0\t\t\t\t\t\t\t\t3\tLiberty County, Georgia, United States\tUS\tUSGA\t\t31.8335\t-81.5004\t357095\t3\tLiberty County, Georgia, United States\tUS\tUSGA\t\t31.8335\t-81.5004\t357095\t20191024143000\thttp://www.northwestgeorgianews.com/associated_press/foster-mom-charged-with-murder-of-twins-who-died-in/article_496ab8e4-1827-5f89-b7c0-3550ee792972.html";
const LINE_120: &str = "881990951\t20191024\t201910\t2019\t2019.8055\t\t\t\t\t\t\t\t\t\t\tGOV\tGOVERNMENT\t\t\t\t\t\tGOV\t\t\t1\t130\t130\t13\t3\t-4.4\t10\t1\t10\t-1.13960113960114\t0\t\t\t\t\t\t\t\t5\tBayelsa State, Bayelsa, Nigeria\tNI\tNI52\t191393\t4.75\t6.08333\t9098614\t5\tBayelsa State, Bayelsa, Nigeria\tNI\tNI52\t191393\t4.75\t6.08333\t9098614\t20191024143000\thttps://www.today.ng/news/politics/apc-warns-releasing-billion-vat-refund-bayelsa-government-259187";
const LINE_153: &str = "881990984\t20191024\t201910\t2019\t2019.8055\t\t\t\t\t\t\t\t\t\t\tKEN\tKENYA\tKEN\t\t\t\t\t\t\t\t1\t112\t112\t11\t3\t-2.0\t2\t1\t2\t-3.3955857385399\t0\t\t\t\t\t\t\t\t4\tGatundu, Central, Kenya\tKE\tKE01\t18585\t-0.733333\t37.05\t-2245193\t4\tGatundu, Central, Kenya\tKE\tKE01\t18585\t-0.733333\t37.05\t-2245193\t20191024143000\thttps://www.tuko.co.ke/320851-over-30-mt-kenya-mps-vow-oppose-bbi-proposals-undermining-inclusivity.html";

fn last_field(line: &str) -> String {
    line.rsplit('\t').next().unwrap().to_string()
}

/// Five GDELT events covering every shape of location: a city point, a
/// country centroid, a US county, an admin1 centroid and none at all.
pub fn gdelt_events() -> Vec<Event> {
    vec![
        Event {
            id: EventId::new("gdelt", "881990839"),
            occurred_at: t(2018, 10, 24, 0, 0, 0),
            reported_at: added(),
            location: Some(Location {
                point: p(52.5167, 13.4),
                precision: GeoPrecision::City,
                country: Some(cc("DE")),
                admin1: Some("GM16".into()),
                place: Some("Berlin, Berlin, Germany".into()),
            }),
            country: Some(cc("DE")),
            category: Category::Security,
            subtype: Subtype::ArmedConflict,
            severity: Severity::SEVERE,
            confidence: 0.6,
            title: "POLICE vs GERMAN: use conventional military force".into(),
            actors: vec!["POLICE".into(), "GERMAN".into()],
            links: vec![last_field(LINE_8)],
            fatalities: None,
            goldstein: Some(-10.0),
            tone: Some(-8.038_277),
            mentions: Some(20),
            reason: "CAMEO 190 (root 19, quad class 4) → security/armed_conflict".into(),
            raw: LINE_8.into(),
        },
        Event {
            id: EventId::new("gdelt", "881990846"),
            occurred_at: t(2018, 10, 24, 0, 0, 0),
            reported_at: added(),
            location: Some(Location {
                point: p(33.0, 44.0),
                precision: GeoPrecision::Country,
                country: Some(cc("IQ")),
                admin1: None,
                place: Some("Iraq".into()),
            }),
            country: Some(cc("IRQ")),
            category: Category::Security,
            subtype: Subtype::ArmedConflict,
            severity: Severity::SEVERE,
            confidence: 0.35,
            title: "UNITED KINGDOM: use conventional military force in Iraq".into(),
            actors: vec!["UNITED KINGDOM".into()],
            links: vec![last_field(LINE_15)],
            fatalities: None,
            goldstein: Some(-10.0),
            tone: Some(0.287_356_3),
            mentions: Some(6),
            reason: "CAMEO 190; country-level location, not used for radius exposure".into(),
            raw: LINE_15.into(),
        },
        Event {
            id: EventId::new("gdelt", "881990858"),
            occurred_at: t(2019, 9, 24, 0, 0, 0),
            reported_at: added(),
            location: Some(Location {
                point: p(31.8335, -81.5004),
                precision: GeoPrecision::City,
                country: Some(cc("US")),
                admin1: Some("USGA".into()),
                place: Some("Liberty County, Georgia, United States".into()),
            }),
            country: Some(cc("US")),
            category: Category::Security,
            subtype: Subtype::Crime,
            severity: Severity::MODERATE,
            confidence: 0.5,
            title: "NEWS OUTLET: foster mom charged with murder of twins".into(),
            actors: vec!["NEWS OUTLET".into()],
            links: vec![last_field(LINE_27)],
            fatalities: Some(2),
            goldstein: Some(-10.0),
            tone: Some(-8.724_832),
            mentions: Some(2),
            reason: "CAMEO 190 with a crime keyword in the URL → security/crime".into(),
            raw: LINE_27.into(),
        },
        Event {
            id: EventId::new("gdelt", "881990951"),
            occurred_at: t(2019, 10, 24, 0, 0, 0),
            reported_at: added(),
            location: Some(Location {
                point: p(4.75, 6.08333),
                precision: GeoPrecision::Admin1,
                country: Some(cc("NG")),
                admin1: Some("NI52".into()),
                place: Some("Bayelsa State, Bayelsa, Nigeria".into()),
            }),
            country: Some(cc("NG")),
            category: Category::Political,
            subtype: Subtype::HostilePolicy,
            severity: Severity::MINOR,
            confidence: 0.4,
            title: "GOVERNMENT: threaten (VAT refund, Bayelsa)".into(),
            actors: vec!["GOVERNMENT".into()],
            links: vec![last_field(LINE_120)],
            fatalities: None,
            goldstein: Some(-4.4),
            tone: Some(-1.139_601_1),
            mentions: Some(10),
            reason: "CAMEO 130 threaten → political/hostile_policy（敌对政策）".into(),
            raw: LINE_120.into(),
        },
        Event {
            id: EventId::new("gdelt", "881990984"),
            occurred_at: t(2019, 10, 24, 0, 0, 0),
            reported_at: added(),
            location: None,
            country: None,
            category: Category::Political,
            subtype: Subtype::DiplomaticTension,
            severity: Severity::MINIMAL,
            confidence: 0.25,
            title: "KENYA: accuse — \"over 30 Mt Kenya MPs vow to oppose BBI\"".into(),
            actors: vec![],
            links: vec![],
            fatalities: None,
            goldstein: None,
            tone: None,
            mentions: None,
            reason: "CAMEO 112 accuse; location withheld to test the empty shape".into(),
            raw: LINE_153.into(),
        },
    ]
}

/// `n` distinct events shaped like the first GDELT event, an hour apart
/// from `start`.
pub fn many_events(n: usize, start: DateTime<Utc>) -> Vec<Event> {
    let base = gdelt_events().remove(0);
    (0..n)
        .map(|i| {
            let mut e = base.clone();
            e.id = EventId::new("gdelt", format!("9{i:09}"));
            e.occurred_at = start + chrono::TimeDelta::hours(i as i64);
            e.mentions = Some(i as u32);
            e
        })
        .collect()
}

pub fn orgs() -> Vec<Organisation> {
    vec![
        Organisation {
            id: "ORG-CRBC".into(),
            name: "China Road and Bridge Corporation".into(),
            kind: OrgKind::StateEnterprise,
            country: Some(cc("CN")),
        },
        Organisation {
            id: "ORG-EMB-NBO".into(),
            name: "Embassy in Nairobi".into(),
            kind: OrgKind::Embassy,
            country: None,
        },
    ]
}

pub fn gwadar_polygon() -> Polygon {
    Polygon::new(vec![
        p(25.095, 62.325),
        p(25.095, 62.345),
        // A value with no short decimal form: must come back bit-exact.
        p(0.1 + 0.2 + 25.0, 62.355_555_555_555_55),
        p(25.115, 62.325),
        p(25.095, 62.325),
    ])
    .unwrap()
}

pub fn sites() -> Vec<Site> {
    vec![
        Site {
            id: "KE-MSA-PORT".into(),
            org: "ORG-CRBC".into(),
            name: "Port of Mombasa berth 19".into(),
            kind: SiteKind::Port,
            geometry: Geometry::Point(p(-4.0435, 39.6682)),
            country: cc("KE"),
            sector: Some("transport".into()),
            value_usd: Some(347_000_000.0),
            headcount: 120,
            status: "operating".into(),
        },
        Site {
            id: "PK-GWD-PORT".into(),
            org: "ORG-CRBC".into(),
            name: "瓜达尔港 Gwadar port".into(),
            kind: SiteKind::Port,
            geometry: Geometry::Polygon(gwadar_polygon()),
            country: cc("PK"),
            sector: None,
            value_usd: None,
            headcount: 0,
            status: "construction".into(),
        },
        Site {
            id: "KE-NBO-SGR".into(),
            org: "ORG-CRBC".into(),
            name: "Standard Gauge Railway, Nairobi terminus".into(),
            kind: SiteKind::Corridor,
            geometry: Geometry::Point(p(-1.3643, 36.9087)),
            country: cc("KE"),
            sector: Some("rail".into()),
            value_usd: Some(3.2e9),
            headcount: 45,
            status: "operating".into(),
        },
    ]
}

pub fn people() -> Vec<Person> {
    vec![
        Person {
            id: "P-0001".into(),
            name: "王伟 Wang Wei".into(),
            nationality: Some(cc("CN")),
            org: Some("ORG-CRBC".into()),
            email: Some("wang.wei@example.cn".into()),
            phone: Some("+254 700 000 001".into()),
            language: "zh".into(),
            needs: vec!["insulin".into(), "wheelchair access".into()],
            consent: Some("2026-01-05 signed registration form".into()),
            site: Some("KE-MSA-PORT".into()),
        },
        Person {
            id: "P-0002".into(),
            name: "Amina Odhiambo".into(),
            nationality: None,
            org: None,
            email: None,
            phone: None,
            language: "en".into(),
            needs: vec![],
            consent: None,
            site: None,
        },
    ]
}

pub fn legs() -> Vec<ItineraryLeg> {
    vec![
        ItineraryLeg::new(
            "L-0001".into(),
            "P-0001".into(),
            p(-1.2921, 36.8219),
            cc("KE"),
            "Nairobi".into(),
            t(2026, 3, 1, 6, 0, 0),
            t(2026, 3, 4, 18, 30, 0),
        )
        .unwrap(),
        ItineraryLeg::new(
            "L-0002".into(),
            "P-0001".into(),
            p(-4.0435, 39.6682),
            cc("KE"),
            "Mombasa".into(),
            t(2026, 3, 4, 18, 30, 0),
            t(2026, 3, 20, 9, 0, 0),
        )
        .unwrap(),
    ]
}

pub fn dependencies() -> Vec<Dependency> {
    vec![
        Dependency {
            site: "KE-NBO-SGR".into(),
            on: "KE-MSA-PORT".into(),
            kind: DependencyKind::Port,
            criticality: 0.8,
        },
        Dependency {
            site: "KE-MSA-PORT".into(),
            on: "KE-NBO-SGR".into(),
            kind: DependencyKind::Corridor,
            criticality: 0.35,
        },
    ]
}

pub fn assessment(area: &str, category: Category, at: DateTime<Utc>, score: f64) -> Assessment {
    Assessment {
        area: Area::parse(area).unwrap(),
        category,
        at,
        score,
        level: Level::III,
        trend: Trend::Rising,
        guideline: "2026-01".into(),
        explanation: format!("{{\"score\":{score},\"top_events\":[\"gdelt:881990839\"]}}"),
    }
}

pub fn quarantined() -> Vec<Quarantined> {
    vec![
        Quarantined {
            source: "gdelt".into(),
            file: "20191024143000.export.CSV".into(),
            line: 17,
            reason: "field 41 (ActionGeo_Lat) \"91.5\" is out of range".into(),
            raw: LINE_15.replace("\t33\t", "\t91.5\t").into_bytes(),
        },
        Quarantined {
            source: "gdelt".into(),
            file: "20191024143000.export.CSV".into(),
            line: 18,
            reason: "line is not valid UTF-8".into(),
            raw: vec![0x38, 0x38, 0x31, 0xff, 0xfe, 0x09, 0x00],
        },
        Quarantined {
            source: "gdelt".into(),
            file: "20191024143000.export.CSV".into(),
            line: 0,
            reason: "the file is truncated".into(),
            raw: vec![],
        },
    ]
}

pub fn run(kind: &str, started_at: DateTime<Utc>, read: u64) -> RunRecord {
    RunRecord {
        kind: kind.into(),
        file: "data/gdelt/20191024143000.export.CSV".into(),
        started_at,
        read,
        accepted: read - 3,
        duplicates: 1,
        quarantined: 2,
    }
}
