//! Shared fixtures: a real incident-shaped alert input, recipients, and an
//! in-memory outbox backend that behaves like the store's.

use chrono::{DateTime, TimeZone, Utc};
use farguard_model::{
    CapStatus, Category, ChannelKind, CountryCode, Delivery, DeliveryState, Level, MsgType,
    OrgKind, Point, Queued,
};
use farguard_notify::NotifyError;
use farguard_notify::cap::CapArea;
use farguard_notify::checkin::AlertSecret;
use farguard_notify::compose::{
    AlertInput, Composed, Contact, Mission, Options, Recipient, RecipientKind, queued,
};
use farguard_notify::outbox::OutboxBackend;
use farguard_notify::template::Lang;
use std::collections::BTreeMap;

pub fn t0() -> DateTime<Utc> {
    // The shipped GDELT export's DATEADDED.
    Utc.with_ymd_and_hms(2019, 10, 24, 14, 30, 0).unwrap()
}

/// An alert about a real GDELT event of the shipped export (Mombasa, KE).
pub fn input() -> AlertInput {
    AlertInput {
        scope: "event:gdelt:881991040".into(),
        incident: None,
        event: Some("gdelt:881991040".into()),
        sender: "farguard@coordination.example".into(),
        sender_name: "farguard coordination centre".into(),
        sent: t0(),
        status: CapStatus::Exercise,
        msg_type: MsgType::Alert,
        sequence: 1,
        references: vec![],
        category: Category::Security,
        level: Level::II,
        observed: true,
        headline: BTreeMap::from([
            (Lang::En, "Armed clash near Mombasa <port> & city".into()),
            (Lang::Zh, "蒙巴萨港附近发生武装冲突".into()),
        ]),
        event_text: BTreeMap::new(),
        advice: BTreeMap::from([
            (Lang::En, vec!["Shelter in place".into()]),
            (Lang::Zh, vec!["就地躲避".into()]),
        ]),
        emergency_contacts: BTreeMap::from([
            (Lang::En, vec!["+86-10-12308".into()]),
            (Lang::Zh, vec!["+86-10-12308".into()]),
        ]),
        area: CapArea {
            desc: "Mombasa, Kenya".into(),
            circles: vec![(Point::new(-4.05, 39.66).unwrap(), 25.0)],
            polygons: vec![
                farguard_model::Polygon::new(vec![
                    Point::new(-4.2, 39.5).unwrap(),
                    Point::new(-4.2, 39.8).unwrap(),
                    Point::new(-3.9, 39.8).unwrap(),
                    Point::new(-3.9, 39.5).unwrap(),
                    Point::new(-4.2, 39.5).unwrap(),
                ])
                .unwrap(),
            ],
        },
        expires: Some(t0() + chrono::Duration::hours(24)),
        reason: "GDELT 2.0 event 881991040 (CAMEO 190, Goldstein -10)".into(),
        message: None,
    }
}

pub fn person(id: &str, lang: &str, contacts: Vec<Contact>) -> Recipient {
    Recipient {
        id: id.into(),
        name: format!("Name {id}"),
        kind: RecipientKind::Person,
        language: lang.into(),
        contacts,
        location: Some(Point::new(-4.06, 39.67).unwrap()),
        country: Some(CountryCode::parse("KE").unwrap()),
        reason: "leg at Mombasa 2019-10-23..26, 1.4 km from the event".into(),
        mission: None,
    }
}

pub fn contact(channel: ChannelKind, address: &str) -> Contact {
    Contact {
        channel,
        address: address.into(),
    }
}

pub fn missions() -> Vec<Mission> {
    let ke = CountryCode::parse("KE").unwrap();
    vec![
        Mission {
            id: "embassy-ke".into(),
            name: "Embassy in Nairobi".into(),
            kind: OrgKind::Embassy,
            country: ke,
            location: Some(Point::new(-1.29, 36.82).unwrap()),
            phone: Some("+254-20-2726851".into()),
        },
        Mission {
            id: "consulate-mombasa".into(),
            name: "Consulate in Mombasa".into(),
            kind: OrgKind::Consulate,
            country: ke,
            location: Some(Point::new(-4.04, 39.67).unwrap()),
            phone: None,
        },
        Mission {
            id: "embassy-tz".into(),
            name: "Embassy in Dar es Salaam".into(),
            kind: OrgKind::Embassy,
            country: CountryCode::parse("TZ").unwrap(),
            location: Some(Point::new(-6.8, 39.28).unwrap()),
            phone: None,
        },
    ]
}

pub fn options() -> Options {
    Options {
        checkin_ttl: chrono::Duration::hours(72),
        fallback: None,
    }
}

pub const CHECKIN_URL: &str = "http://127.0.0.1:8080/checkin";

/// An outbox in memory with the store's semantics (claim with lease, marks,
/// history), holding one composed alert.
#[derive(Debug, Default)]
pub struct MemOutbox {
    pub rows: Vec<Queued>,
    pub history: Vec<(String, String, String)>,
    pub secret: Option<AlertSecret>,
}

impl MemOutbox {
    pub fn new(c: &Composed) -> Self {
        Self {
            rows: queued(c, 1),
            history: vec![],
            secret: Some(c.secret.clone()),
        }
    }
    pub fn state(&self, key: &str) -> DeliveryState {
        self.rows
            .iter()
            .find(|q| q.delivery.key == key)
            .unwrap()
            .delivery
            .state
    }
    pub fn row(&mut self, id: i64) -> &mut Delivery {
        &mut self
            .rows
            .iter_mut()
            .find(|q| q.delivery.id == id)
            .unwrap()
            .delivery
    }
}

impl OutboxBackend for MemOutbox {
    fn claim(
        &mut self,
        now: DateTime<Utc>,
        limit: u32,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<Queued>, NotifyError> {
        let mut out = vec![];
        for q in &mut self.rows {
            let d = &mut q.delivery;
            let due = (d.state == DeliveryState::Pending && d.next_at <= now)
                || (d.state == DeliveryState::Sending && d.lease_until.is_some_and(|l| l <= now));
            if due && out.len() < limit as usize {
                d.state = DeliveryState::Sending;
                d.lease_until = Some(lease_until);
                out.push(q.clone());
            }
        }
        Ok(out)
    }
    fn secret(&mut self, _alert: &str) -> Result<Option<AlertSecret>, NotifyError> {
        Ok(self.secret.clone())
    }
    fn renew(&mut self, ids: &[i64], lease_until: DateTime<Utc>) -> Result<u64, NotifyError> {
        let mut n = 0;
        for q in &mut self.rows {
            if ids.contains(&q.delivery.id) && q.delivery.state == DeliveryState::Sending {
                q.delivery.lease_until = Some(lease_until);
                n += 1;
            }
        }
        Ok(n)
    }
    fn mark_sent(
        &mut self,
        d: &Delivery,
        at: DateTime<Utc>,
        detail: &str,
    ) -> Result<bool, NotifyError> {
        let r = self.row(d.id);
        r.state = DeliveryState::Sent;
        r.attempts += 1;
        r.sent_at = Some(at);
        self.history
            .push((d.key.clone(), "sent".into(), detail.into()));
        Ok(true)
    }
    fn mark_retry(
        &mut self,
        d: &Delivery,
        attempts: u32,
        next_at: DateTime<Utc>,
        error: &str,
    ) -> Result<bool, NotifyError> {
        let r = self.row(d.id);
        r.state = DeliveryState::Pending;
        r.attempts = attempts;
        r.next_at = next_at;
        r.last_error = Some(error.into());
        self.history
            .push((d.key.clone(), "retry".into(), error.into()));
        Ok(true)
    }
    fn mark_dead(
        &mut self,
        d: &Delivery,
        attempts: u32,
        _at: DateTime<Utc>,
        error: &str,
    ) -> Result<bool, NotifyError> {
        let r = self.row(d.id);
        r.state = DeliveryState::Dead;
        r.attempts = attempts;
        r.last_error = Some(error.into());
        self.history
            .push((d.key.clone(), "dead".into(), error.into()));
        Ok(true)
    }
    fn next_due(&mut self) -> Result<Option<DateTime<Utc>>, NotifyError> {
        Ok(self
            .rows
            .iter()
            .filter_map(|q| match q.delivery.state {
                DeliveryState::Pending => Some(q.delivery.next_at),
                DeliveryState::Sending => q.delivery.lease_until,
                _ => None,
            })
            .min())
    }
}
