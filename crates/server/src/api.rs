//! Read routes over what the pipeline produced: events, assessments with
//! their explanations, the map summary, exposure and the quarantine.
//!
//! The API owns its wire types (`*Out`); domain types never derive
//! `Serialize`. Events (TLP:CLEAR) and levels (TLP:GREEN) are the same for
//! every caller, so the rows behind them are cached for two seconds; the
//! registry-backed parts (sites, people counts) are filtered per caller.

use crate::auth::{Action, Principal, Scope, markings};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use farguard_expose::{Presence, QueryArea, SiteIndex, Window};
use farguard_model::{
    Area, Assessment, Category, CountryCode, Event, EventId, Level, Point, Radius,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use utoipa::{IntoParams, ToSchema};

/// How long cached event windows and levels are served before re-reading.
const CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(2);
const MAX_LIMIT: u32 = 1000;

/// One cached value with single-flight refresh, valid for one data
/// generation ([`AppState::generation`]): a change made here or seen in the
/// store's change stamps makes it cold at once. Within a generation it is
/// re-read after [`CACHE_TTL`] (for changes no stamp covers, such as
/// events): the one request that wins the refresh lock reloads while the
/// others keep answering from the stale copy, so an expiry never sends every
/// concurrent request to the store at once. Only a cold slot makes callers
/// wait.
#[derive(Debug)]
pub struct Slot<T> {
    value: Mutex<Option<(Instant, u64, T)>>,
    loading: tokio::sync::Mutex<()>,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot {
            value: Mutex::new(None),
            loading: tokio::sync::Mutex::new(()),
        }
    }
}

impl<T: Clone> Slot<T> {
    /// `Some((fresh, value))` when a value of generation `generation` is held.
    fn peek(&self, generation: u64) -> Option<(bool, T)> {
        let g = self.value.lock().ok()?;
        g.as_ref()
            .filter(|(_, vg, _)| *vg == generation)
            .map(|(at, _, v)| (at.elapsed() < CACHE_TTL, v.clone()))
    }

    fn put(&self, generation: u64, v: T) {
        if let Ok(mut g) = self.value.lock() {
            *g = Some((Instant::now(), generation, v));
        }
    }

    pub fn clear(&self) {
        if let Ok(mut g) = self.value.lock() {
            *g = None;
        }
    }

    /// The value for data generation `generation`, loading it when needed.
    pub async fn get<F, Fut>(&self, generation: u64, load: F) -> ApiResult<T>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = ApiResult<T>>,
    {
        match self.peek(generation) {
            Some((true, v)) => return Ok(v),
            Some((false, stale)) => {
                let Ok(_guard) = self.loading.try_lock() else {
                    return Ok(stale);
                };
                let v = load().await?;
                self.put(generation, v.clone());
                return Ok(v);
            }
            None => {}
        }
        let _guard = self.loading.lock().await;
        if let Some((_, v)) = self.peek(generation) {
            return Ok(v);
        }
        let v = load().await?;
        self.put(generation, v.clone());
        Ok(v)
    }
}

/// Slots by key (bounded: a full map is cleared, slots are cheap to refill).
#[derive(Debug)]
pub struct Keyed<K, T>(Mutex<HashMap<K, Arc<Slot<T>>>>);

impl<K, T> Default for Keyed<K, T> {
    fn default() -> Self {
        Keyed(Mutex::new(HashMap::new()))
    }
}

impl<K: std::hash::Hash + Eq + Clone, T> Keyed<K, T> {
    pub fn slot(&self, k: &K) -> Arc<Slot<T>> {
        let mut g = match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if g.len() > 1024 && !g.contains_key(k) {
            g.clear();
        }
        Arc::clone(g.entry(k.clone()).or_default())
    }
    pub fn clear(&self) {
        if let Ok(mut g) = self.0.lock() {
            g.clear();
        }
    }
}

type TimeRange = Option<(DateTime<Utc>, DateTime<Utc>)>;

/// Store reads that do not depend on the caller, and whole answers (JSON
/// bytes) by route, query and caller scope.
#[derive(Debug, Default)]
pub struct ReadCache {
    events: Keyed<(i64, i64), Arc<Vec<Event>>>,
    assessments: Slot<Arc<Vec<Assessment>>>,
    range: Slot<TimeRange>,
    incidents: Slot<Arc<Vec<farguard_model::Incident>>>,
    /// Incident titles by id (`None`: no such incident), for check-in pages.
    pub titles: Keyed<String, Option<String>>,
    /// Whole answers, as JSON.
    answers: Keyed<String, axum::body::Bytes>,
}

impl ReadCache {
    /// Drops everything (after a change).
    pub fn clear(&self) {
        self.events.clear();
        self.assessments.clear();
        self.range.clear();
        self.incidents.clear();
        self.titles.clear();
        self.answers.clear();
    }
}

/// What a caller may see, as a cache key part.
pub fn scope_key(p: &Principal) -> String {
    format!(
        "{}|{}|{}|{}",
        p.role.code(),
        p.org.as_deref().unwrap_or(""),
        p.country.as_ref().map_or("", |c| c.as_str()),
        p.person.as_deref().unwrap_or("")
    )
}

/// A JSON answer cached under `key` for the current data generation: built
/// by `build` once, then served as bytes until the data change.
pub async fn cached_answer<T, F, Fut>(
    state: &AppState,
    key: String,
    build: F,
) -> ApiResult<axum::response::Response>
where
    T: Serialize,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ApiResult<T>>,
{
    let generation = state.generation();
    let body = state
        .cache
        .answers
        .slot(&key)
        .get(generation, || async {
            let out = build().await?;
            Ok(axum::body::Bytes::from(
                serde_json::to_vec(&out).map_err(|e| ApiError::internal("answer json", e))?,
            ))
        })
        .await?;
    Ok(axum::response::IntoResponse::into_response((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )))
}

pub async fn latest_assessments(state: &AppState) -> ApiResult<Arc<Vec<Assessment>>> {
    state
        .cache
        .assessments
        .get(state.generation(), || async {
            Ok(Arc::new(state.pool.run(|s| s.latest_assessments()).await?))
        })
        .await
}

/// Open incidents (real and drills), cached like the levels.
pub async fn open_incidents(state: &AppState) -> ApiResult<Arc<Vec<farguard_model::Incident>>> {
    state
        .cache
        .incidents
        .get(state.generation(), || async {
            Ok(Arc::new(
                state
                    .pool
                    .run(|s| {
                        s.incidents(&farguard_store::IncidentQuery {
                            open_only: true,
                            exercise: None,
                        })
                    })
                    .await?,
            ))
        })
        .await
}

async fn event_range(state: &AppState) -> ApiResult<TimeRange> {
    state
        .cache
        .range
        .get(state.generation(), || async {
            state.pool.run(|s| s.event_time_range()).await
        })
        .await
}

async fn events_between(
    state: &AppState,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> ApiResult<Arc<Vec<Event>>> {
    let key = (from.timestamp_micros(), to.timestamp_micros());
    state
        .cache
        .events
        .slot(&key)
        .get(state.generation(), || async {
            Ok(Arc::new(
                state.pool.run(move |s| s.events_between(from, to)).await?,
            ))
        })
        .await
}

// --- shared parsing -------------------------------------------------------

pub fn parse_time(pointer: &str, s: &str) -> ApiResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            ApiError::field(
                pointer,
                format!("{s:?} is not an RFC 3339 time such as 2019-10-24T14:30:00Z: {e}"),
            )
        })
}

pub fn parse_country(pointer: &str, s: &str) -> ApiResult<CountryCode> {
    CountryCode::parse(s).map_err(|e| ApiError::field(pointer, e.to_string()))
}

pub fn parse_category(pointer: &str, s: &str) -> ApiResult<Category> {
    Category::parse(s).map_err(|_| {
        ApiError::field(
            pointer,
            format!(
                "{s:?} is not a category; expected one of: security, political, legal, economic, reputation, natural, health"
            ),
        )
    })
}

fn limit(pointer: &str, l: Option<u32>, default: u32) -> ApiResult<usize> {
    match l.unwrap_or(default) {
        0 => Err(ApiError::field(pointer, "limit must be at least 1")),
        n if n > MAX_LIMIT => Err(ApiError::field(
            pointer,
            format!("limit must be at most {MAX_LIMIT}"),
        )),
        n => Ok(n as usize),
    }
}

// --- events ---------------------------------------------------------------

/// One event as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    /// `source:source_id`.
    pub id: String,
    pub occurred_at: DateTime<Utc>,
    pub reported_at: DateTime<Utc>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// How precise the location is: `point`, `city`, `admin1`, `country`.
    pub precision: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub place: Option<String>,
    pub category: String,
    pub subtype: String,
    pub subtype_zh: String,
    /// 1 (minor) to 5 (critical).
    pub severity: u8,
    pub confidence: f32,
    pub title: String,
    pub actors: Vec<String>,
    pub links: Vec<String>,
    pub fatalities: Option<u32>,
    pub goldstein: Option<f32>,
    pub tone: Option<f32>,
    pub mentions: Option<u32>,
    /// Why it was classified so.
    pub reason: String,
    pub marking: crate::auth::Marking,
}

pub fn event_out(e: &Event) -> EventOut {
    let country = e
        .country
        .or_else(|| e.location.as_ref().and_then(|l| l.country));
    EventOut {
        id: e.id.to_string(),
        occurred_at: e.occurred_at,
        reported_at: e.reported_at,
        lat: e.location.as_ref().map(|l| l.point.lat()),
        lon: e.location.as_ref().map(|l| l.point.lon()),
        precision: e.location.as_ref().map(|l| l.precision.code().to_string()),
        country: country.map(|c| c.as_str().to_string()),
        place: e.location.as_ref().and_then(|l| l.place.clone()),
        category: e.category.code().into(),
        subtype: e.subtype.code().into(),
        subtype_zh: e.subtype.label_zh().into(),
        severity: e.severity.get(),
        confidence: e.confidence,
        title: e.title.clone(),
        actors: e.actors.clone(),
        links: e.links.clone(),
        fatalities: e.fatalities,
        goldstein: e.goldstein,
        tone: e.tone,
        mentions: e.mentions,
        reason: e.reason.clone(),
        marking: markings::EVENT,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Window start (RFC 3339, inclusive). Default: `window_days` before `to`.
    from: Option<String>,
    /// Window end (RFC 3339, exclusive). Default: just after the newest event.
    to: Option<String>,
    /// ISO 3166-1 country (alpha-2 or alpha-3).
    country: Option<String>,
    /// security, political, legal, economic, reputation, natural, health.
    category: Option<String>,
    /// Only events at or above this severity (1–5).
    min_severity: Option<u8>,
    /// Only events with a point location (for the map).
    located: Option<bool>,
    /// 1–1000, default 100.
    limit: Option<u32>,
    offset: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventsPage {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Events matching the filters in the window.
    pub total: usize,
    pub offset: usize,
    pub items: Vec<EventOut>,
}

/// Events in a time window, newest first, with filters.
#[utoipa::path(get, path = "/api/v1/events", tag = "risk", params(EventsQuery),
    responses((status = 200, body = EventsPage), (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_events(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> ApiResult<Json<EventsPage>> {
    p.require(Action::ReadEvents)?;
    let country = q
        .country
        .as_deref()
        .map(|c| parse_country("/query/country", c))
        .transpose()?;
    let category = q
        .category
        .as_deref()
        .map(|c| parse_category("/query/category", c))
        .transpose()?;
    if let Some(s) = q.min_severity
        && !(1..=5).contains(&s)
    {
        return Err(ApiError::field(
            "/query/min_severity",
            "severity is 1 (minor) to 5 (critical)",
        ));
    }
    let n = limit("/query/limit", q.limit, 100)?;
    let offset = q.offset.unwrap_or(0) as usize;
    let window = Duration::days(state.guideline.window_days);
    let to = match q.to.as_deref() {
        Some(s) => parse_time("/query/to", s)?,
        None => match event_range(&state).await? {
            Some((_, newest)) => newest + Duration::microseconds(1),
            None => Utc::now(),
        },
    };
    let from = match q.from.as_deref() {
        Some(s) => parse_time("/query/from", s)?,
        None => to - window,
    };
    if from > to {
        return Err(ApiError::field("/query/from", "from must not be after to"));
    }
    if to - from > Duration::days(366) {
        return Err(ApiError::field(
            "/query/from",
            "the window is at most 366 days; page through longer periods",
        ));
    }
    let events = events_between(&state, from, to).await?;
    let matching: Vec<&Event> = events
        .iter()
        .rev()
        .filter(|e| {
            country.is_none_or(|c| {
                e.country
                    .or_else(|| e.location.as_ref().and_then(|l| l.country))
                    == Some(c)
            })
        })
        .filter(|e| category.is_none_or(|c| e.category == c))
        .filter(|e| q.min_severity.is_none_or(|s| e.severity.get() >= s))
        .filter(|e| !q.located.unwrap_or(false) || e.local_point().is_some())
        .collect();
    Ok(Json(EventsPage {
        from,
        to,
        total: matching.len(),
        offset,
        items: matching
            .into_iter()
            .skip(offset)
            .take(n)
            .map(event_out)
            .collect(),
    }))
}

/// One event by id (`source:source_id`).
#[utoipa::path(get, path = "/api/v1/events/{id}", tag = "risk",
    params(("id" = String, Path, description = "source:source_id, e.g. gdelt:881991040")),
    responses((status = 200, body = EventOut), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_event(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<EventOut>> {
    p.require(Action::ReadEvents)?;
    let eid = EventId::parse(&id).ok_or_else(|| {
        ApiError::field(
            "/path/id",
            format!("{id:?} is not an event id; expected source:source_id such as gdelt:881991040"),
        )
    })?;
    let ev = state.pool.run(move |s| s.event(&eid)).await?;
    ev.map(|e| Json(event_out(&e)))
        .ok_or_else(|| ApiError::not_found("/path/id", format!("no event {id}")))
}

// --- assessments ----------------------------------------------------------

/// A graded level with its explanation.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssessmentOut {
    /// `KE`, `KE/KE05`, `h3:…`, `site:…`.
    pub area: String,
    pub area_kind: String,
    /// ISO alpha-2 when the area is a country or in one.
    pub country: Option<String>,
    pub country_name: Option<String>,
    pub category: String,
    pub category_zh: String,
    /// `0`, `IV`, `III`, `II`, `I`.
    pub level: String,
    /// 0 (normal) to 4 (I, red).
    pub level_rank: u8,
    pub colour: String,
    pub label_en: String,
    pub label_zh: String,
    /// Who commands at this level.
    pub command: String,
    pub trend: String,
    pub score: f64,
    pub at: DateTime<Utc>,
    pub guideline: String,
    /// Why: indicators, thresholds crossed and the top contributing events
    /// (the grade stage's explanation, as stored).
    #[schema(value_type = Option<Object>)]
    pub explanation: serde_json::Value,
    pub marking: crate::auth::Marking,
}

fn area_country(a: &Area) -> Option<CountryCode> {
    match a {
        Area::Country(c) | Area::Admin1(c, _) => Some(*c),
        _ => None,
    }
}

pub fn assessment_out(a: &Assessment) -> AssessmentOut {
    assessment_out_with(a, true)
}

fn assessment_out_with(a: &Assessment, explain: bool) -> AssessmentOut {
    let c = area_country(&a.area);
    AssessmentOut {
        area: a.area.to_string(),
        area_kind: a.area.kind().into(),
        country: c.map(|c| c.as_str().to_string()),
        country_name: c.map(|c| crate::state::country_name(c).to_string()),
        category: a.category.code().into(),
        category_zh: a.category.label_zh().into(),
        level: a.level.code().into(),
        level_rank: a.level.rank(),
        colour: a.level.colour().into(),
        label_en: a.level.label_en().into(),
        label_zh: a.level.label_zh().into(),
        command: a.level.command().into(),
        trend: a.trend.code().into(),
        score: (a.score * 100.0).round() / 100.0,
        at: a.at,
        guideline: a.guideline.clone(),
        explanation: if explain {
            serde_json::from_str(&a.explanation).unwrap_or(serde_json::Value::Null)
        } else {
            serde_json::Value::Null
        },
        marking: markings::ASSESSMENT,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AssessmentsQuery {
    category: Option<String>,
    country: Option<String>,
    /// Only levels at or above this one (`IV`, `III`, `II`, `I`).
    min_level: Option<String>,
    /// Leave the explanation out (smaller answers for lists).
    brief: Option<bool>,
    limit: Option<u32>,
    offset: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AssessmentsPage {
    pub total: usize,
    pub offset: usize,
    pub items: Vec<AssessmentOut>,
}

/// The latest level of every area × category, highest first.
#[utoipa::path(get, path = "/api/v1/assessments", tag = "risk", params(AssessmentsQuery),
    responses((status = 200, body = AssessmentsPage), (status = 400, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_assessments(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<AssessmentsQuery>,
) -> ApiResult<axum::response::Response> {
    p.require(Action::ReadAssessments)?;
    let category = q
        .category
        .as_deref()
        .map(|c| parse_category("/query/category", c))
        .transpose()?;
    let country = q
        .country
        .as_deref()
        .map(|c| parse_country("/query/country", c))
        .transpose()?;
    let min = q
        .min_level
        .as_deref()
        .map(|l| Level::parse(l).map_err(|e| ApiError::field("/query/min_level", e.to_string())))
        .transpose()?;
    let n = limit("/query/limit", q.limit, 200)?;
    let offset = q.offset.unwrap_or(0) as usize;
    let brief = q.brief.unwrap_or(false);
    // Levels are the same for every caller (TLP:GREEN): one answer per query.
    let key = format!(
        "assessments|{}|{}|{}|{brief}|{n}|{offset}",
        category.map_or("", Category::code),
        country.as_ref().map_or("", |c| c.as_str()),
        min.map_or("", Level::code),
    );
    cached_answer(&state, key, || async {
        let rows = latest_assessments(&state).await?;
        let mut m: Vec<&Assessment> = rows
            .iter()
            .filter(|a| category.is_none_or(|c| a.category == c))
            .filter(|a| country.is_none_or(|c| area_country(&a.area) == Some(c)))
            .filter(|a| min.is_none_or(|l| a.level >= l))
            .collect();
        m.sort_by(|a, b| {
            b.level
                .cmp(&a.level)
                .then(b.score.total_cmp(&a.score))
                .then(a.area.cmp(&b.area))
        });
        Ok(AssessmentsPage {
            total: m.len(),
            offset,
            items: m
                .into_iter()
                .skip(offset)
                .take(n)
                .map(|a| assessment_out_with(a, !brief))
                .collect(),
        })
    })
    .await
}

/// One area × category with the full explanation of its level.
#[utoipa::path(get, path = "/api/v1/assessments/{area}/{category}", tag = "risk",
    params(("area" = String, Path, description = "KE, KE/KE05, h3:…, site:…"),
           ("category" = String, Path, description = "security, political, …")),
    responses((status = 200, body = AssessmentOut), (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_assessment(
    State(state): State<AppState>,
    p: Principal,
    ApiPath((area, category)): ApiPath<(String, String)>,
) -> ApiResult<Json<AssessmentOut>> {
    p.require(Action::ReadAssessments)?;
    let a = Area::parse(&area).map_err(|e| ApiError::field("/path/area", e.to_string()))?;
    let c = parse_category("/path/category", &category)?;
    let rows = latest_assessments(&state).await?;
    rows.iter()
        .find(|x| x.area == a && x.category == c)
        .map(|x| Json(assessment_out(x)))
        .ok_or_else(|| {
            ApiError::not_found(
                "/path/area",
                format!(
                    "no {} assessment for {area}: it has not been graded",
                    c.code()
                ),
            )
        })
}

// --- map ------------------------------------------------------------------

/// One country on the map.
#[derive(Debug, Serialize, ToSchema)]
pub struct MapCountry {
    /// ISO alpha-2.
    pub country: String,
    /// ISO numeric, as the TopoJSON ids it (`404` for Kenya).
    pub numeric: Option<String>,
    pub name: String,
    pub level: String,
    pub level_rank: u8,
    pub colour: String,
    pub label_zh: String,
    pub score: f64,
    pub trend: String,
    /// Events counted by the level's rule.
    pub events: u64,
    /// Registered sites the caller may see.
    pub sites: usize,
    /// Registered people the caller may see.
    pub people: usize,
    /// Open incidents (0 until the response stage stores incidents).
    pub incidents: usize,
    /// The rule in words.
    pub why: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MapOut {
    pub category: String,
    pub category_zh: String,
    /// When the levels were graded (the newest assessment).
    pub at: Option<DateTime<Utc>>,
    pub countries: Vec<MapCountry>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MapQuery {
    /// Category to colour by (default security).
    category: Option<String>,
}

/// Country levels for one category with the caller's interests per country.
#[utoipa::path(get, path = "/api/v1/map", tag = "risk", params(MapQuery),
    responses((status = 200, body = MapOut), (status = 400, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn map(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<MapQuery>,
) -> ApiResult<axum::response::Response> {
    p.require(Action::ReadMap)?;
    let category = match q.category.as_deref() {
        Some(c) => parse_category("/query/category", c)?,
        None => Category::Security,
    };
    // The answer depends only on what the caller may see and the category.
    let key = format!("map|{}|{}", scope_key(&p), category.code());
    cached_answer(&state, key, || map_for(&state, &p, category)).await
}

async fn map_for(state: &AppState, p: &Principal, category: Category) -> ApiResult<MapOut> {
    let state = state.clone();
    let rows = latest_assessments(&state).await?;
    let mut by_country: HashMap<CountryCode, MapCountry> = HashMap::new();
    let mut at: Option<DateTime<Utc>> = None;
    for a in rows.iter().filter(|a| a.category == category) {
        let Area::Country(c) = a.area else { continue };
        at = at.max(Some(a.at));
        let ex: serde_json::Value = serde_json::from_str(&a.explanation).unwrap_or_default();
        by_country.insert(c, country_row(&state, c, Some(a), &ex));
    }
    {
        let reg = state.registry();
        let mut sites: HashMap<CountryCode, usize> = HashMap::new();
        for s in reg.sites.sites() {
            let countries = [s.country];
            if p.may_see(Scope {
                marking: markings::SITE,
                org: Some(&s.org),
                countries: &countries,
                person: None,
            }) {
                *sites.entry(s.country).or_default() += 1;
            }
        }
        let mut people: HashMap<CountryCode, usize> = HashMap::new();
        for person in reg.people() {
            let countries = reg.countries_of(&person.id);
            if p.may_see(Scope {
                marking: markings::PERSON,
                org: person.org.as_deref(),
                countries,
                person: Some(&person.id),
            }) {
                for c in countries {
                    *people.entry(*c).or_default() += 1;
                }
            }
        }
        for (c, n) in sites {
            by_country
                .entry(c)
                .or_insert_with(|| country_row(&state, c, None, &serde_json::Value::Null))
                .sites = n;
        }
        for (c, n) in people {
            by_country
                .entry(c)
                .or_insert_with(|| country_row(&state, c, None, &serde_json::Value::Null))
                .people = n;
        }
    }
    let open = open_incidents(&state).await?;
    for inc in open
        .iter()
        .filter(|i| !i.exercise && crate::incidents::visible(p, i))
    {
        if let Some(c) = area_country(&inc.area) {
            by_country
                .entry(c)
                .or_insert_with(|| country_row(&state, c, None, &serde_json::Value::Null))
                .incidents += 1;
        }
    }
    let mut countries: Vec<MapCountry> = by_country.into_values().collect();
    countries.sort_by(|a, b| a.country.cmp(&b.country));
    Ok(MapOut {
        category: category.code().into(),
        category_zh: category.label_zh().into(),
        at,
        countries,
    })
}

fn country_row(
    state: &AppState,
    c: CountryCode,
    a: Option<&Assessment>,
    ex: &serde_json::Value,
) -> MapCountry {
    let level = a.map_or(Level::Normal, |a| a.level);
    MapCountry {
        country: c.as_str().into(),
        numeric: state.numeric.get(c.as_str()).cloned(),
        name: crate::state::country_name(c).into(),
        level: level.code().into(),
        level_rank: level.rank(),
        colour: level.colour().into(),
        label_zh: level.label_zh().into(),
        score: a.map_or(0.0, |a| (a.score * 100.0).round() / 100.0),
        trend: a.map_or("steady", |a| a.trend.code()).into(),
        events: ex
            .get("events_counted")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0),
        sites: 0,
        people: 0,
        incidents: 0,
        why: ex
            .get("rule")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string),
    }
}

// --- exposure -------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExposureQuery {
    /// An event id (`gdelt:881991040`): radius from the guideline by its
    /// category and severity.
    event: Option<String>,
    /// Or a point and radius.
    lat: Option<f64>,
    lon: Option<f64>,
    radius_km: Option<f64>,
    /// People are counted while their itinerary or posting puts them in the
    /// area from `at` (RFC 3339; default: when the event occurred, or now)…
    at: Option<String>,
    /// …until `until` (default: the instant `at`).
    until: Option<String>,
}

/// One exposed site.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExposedSiteOut {
    pub site: String,
    pub name: String,
    pub org: String,
    pub kind: String,
    pub country: String,
    pub distance_km: f64,
    pub headcount: u32,
    pub value_usd: Option<f64>,
    pub reason: String,
}

/// One exposed person.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExposedPersonOut {
    pub person: String,
    pub name: String,
    pub org: Option<String>,
    /// Needs to plan for (mobility, medical, language…).
    pub needs: Vec<String>,
    /// Nearest distance among the reasons (0 inside a polygon).
    pub distance_km: f64,
    /// Why they count: the itinerary leg or posting that puts them there.
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExposureOut {
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub radius_km: f64,
    pub event: Option<EventOut>,
    /// The window people were counted in: `[from, to]`.
    pub window: [DateTime<Utc>; 2],
    /// Sites touched that the caller may see, nearest first.
    pub sites: Vec<ExposedSiteOut>,
    /// People there during the window that the caller may see (an
    /// enterprise its own staff, an embassy those in its country, a citizen
    /// only themself), nearest first.
    pub people: Vec<ExposedPersonOut>,
    /// Why nothing could be matched (an event located only to a country).
    pub not_matched: Option<String>,
}

/// Which registered sites and people an event (or a point and radius)
/// touches, and why.
#[utoipa::path(get, path = "/api/v1/exposure", tag = "risk", params(ExposureQuery),
    responses((status = 200, body = ExposureOut), (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn exposure(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<ExposureQuery>,
) -> ApiResult<Json<ExposureOut>> {
    p.require(Action::ReadExposure)?;
    let at =
        q.at.as_deref()
            .map(|s| parse_time("/query/at", s))
            .transpose()?;
    let until = q
        .until
        .as_deref()
        .map(|s| parse_time("/query/until", s))
        .transpose()?;
    let (center, radius, event, not_matched) = if let Some(id) = q.event.as_deref() {
        if q.lat.is_some() || q.lon.is_some() || q.radius_km.is_some() {
            return Err(ApiError::field(
                "/query/event",
                "give either event or lat, lon and radius_km, not both",
            ));
        }
        let eid = EventId::parse(id).ok_or_else(|| {
            ApiError::field(
                "/query/event",
                format!("{id:?} is not an event id; expected source:source_id"),
            )
        })?;
        let ev = state
            .pool
            .run(move |s| s.event(&eid))
            .await?
            .ok_or_else(|| ApiError::not_found("/query/event", format!("no event {id}")))?;
        let radius = state.guideline.radius_for(ev.subtype, ev.severity);
        // Asked against an empty index, `expose_event` says only why an
        // event cannot be matched by distance (no point location).
        let not_matched =
            farguard_expose::expose_event(&SiteIndex::build(Vec::new()), &ev, radius).err();
        (ev.local_point(), radius, Some(ev), not_matched)
    } else {
        let (Some(lat), Some(lon), Some(r)) = (q.lat, q.lon, q.radius_km) else {
            let missing = if q.lat.is_none() {
                "/query/lat"
            } else if q.lon.is_none() {
                "/query/lon"
            } else {
                "/query/radius_km"
            };
            return Err(ApiError::field(
                missing,
                "give event=source:id, or lat, lon and radius_km",
            ));
        };
        let point = Point::new(lat, lon).map_err(|e| {
            let ptr = if (-90.0..=90.0).contains(&lat) {
                "/query/lon"
            } else {
                "/query/lat"
            };
            ApiError::field(ptr, e.to_string())
        })?;
        let radius =
            Radius::km(r).map_err(|e| ApiError::field("/query/radius_km", e.to_string()))?;
        (Some(point), radius, None, None)
    };
    let from = at.unwrap_or_else(|| event.as_ref().map_or_else(Utc::now, |e| e.occurred_at));
    let w = Window::new(from, until.unwrap_or(from)).ok_or_else(|| {
        ApiError::field(
            "/query/until",
            "until is before at: the window must not end before it starts",
        )
    })?;
    let (sites, people) = match center {
        Some(c) => exposed_in(&state, &p, c, radius, event.as_ref(), w),
        None => (Vec::new(), Vec::new()),
    };
    Ok(Json(ExposureOut {
        lat: center.map(Point::lat),
        lon: center.map(Point::lon),
        radius_km: radius.get_km(),
        event: event.as_ref().map(event_out),
        window: [w.from, w.to],
        sites,
        people,
        not_matched,
    }))
}

fn site_visible(p: &Principal, s: &farguard_model::Site) -> bool {
    let countries = [s.country];
    p.may_see(Scope {
        marking: markings::SITE,
        org: Some(&s.org),
        countries: &countries,
        person: None,
    })
}

/// Sites and people within `radius` of `center` that `p` may see.
fn exposed_in(
    state: &AppState,
    p: &Principal,
    center: Point,
    radius: Radius,
    event: Option<&Event>,
    w: Window,
) -> (Vec<ExposedSiteOut>, Vec<ExposedPersonOut>) {
    let reg = state.registry();
    let area = QueryArea::Circle { center, radius };
    let hits = reg.sites.in_area(&area);
    let sites = hits
        .iter()
        .map(|h| (reg.sites.site(h.site), h))
        .filter(|(s, _)| site_visible(p, s))
        .map(|(s, h)| {
            let km = h.distance_m / 1000.0;
            let reason = match (h.inside, event) {
                (true, _) => "the point lies inside the site's polygon".to_string(),
                (false, Some(e)) => format!(
                    "{} of severity {} at {:.1} km, within the {:.0} km radius for this kind of event",
                    e.subtype.label_en(),
                    e.severity.label(),
                    km,
                    radius.get_km()
                ),
                (false, None) => format!(
                    "{:.1} km from the point, within the {:.0} km radius",
                    km,
                    radius.get_km()
                ),
            };
            ExposedSiteOut {
                site: s.id.clone(),
                name: s.name.clone(),
                org: s.org.clone(),
                kind: s.kind.code().into(),
                country: s.country.as_str().into(),
                distance_km: (km * 1000.0).round() / 1000.0,
                headcount: s.headcount,
                value_usd: s.value_usd,
                reason,
            }
        })
        .collect();
    let people = reg
        .roster
        .exposed(&reg.sites, &hits, &area, w)
        .into_iter()
        .filter_map(|h| {
            let x = reg.roster.person(h.person);
            if !p.may_see(Scope {
                marking: markings::PERSON,
                org: x.org.as_deref(),
                countries: reg.countries_of(&x.id),
                person: Some(&x.id),
            }) {
                return None;
            }
            // The reason names the posting site: only when the caller may see it.
            let hidden_site = h.presence.iter().any(|pr| match pr {
                Presence::Posted { site, .. } => !site_visible(p, reg.sites.site(*site)),
                Presence::Leg { .. } => false,
            });
            let reason = if hidden_site {
                h.presence
                    .iter()
                    .map(|pr| match pr {
                        Presence::Posted { distance_m, .. } => format!(
                            "posted to an exposed site {:.1} km away and not away on a leg for the whole window",
                            distance_m / 1000.0
                        ),
                        Presence::Leg { leg, distance_m } => {
                            let l = &reg.roster.legs()[*leg];
                            format!(
                                "itinerary leg {} puts them at {} from {} to {}, {:.1} km away",
                                l.id,
                                l.place,
                                l.from.to_rfc3339(),
                                l.to.to_rfc3339(),
                                distance_m / 1000.0
                            )
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            } else {
                h.reason
            };
            Some(ExposedPersonOut {
                person: x.id.clone(),
                name: x.name.clone(),
                org: x.org.clone(),
                needs: x.needs.clone(),
                distance_km: h.distance_m.round() / 1000.0,
                reason,
            })
        })
        .collect();
    (sites, people)
}

// --- quarantine -----------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct QuarantineOut {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub source: String,
    pub file: String,
    pub line: u64,
    pub reason: String,
    /// The raw bytes as text (invalid UTF-8 replaced).
    pub raw: String,
    pub raw_len: usize,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QuarantineQuery {
    /// 1–1000, default 100.
    limit: Option<u32>,
}

/// Records that could not be read: where, why, and their raw bytes.
#[utoipa::path(get, path = "/api/v1/quarantine", tag = "risk", params(QuarantineQuery),
    responses((status = 200, body = Vec<QuarantineOut>), (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn quarantine(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<QuarantineQuery>,
) -> ApiResult<Json<Vec<QuarantineOut>>> {
    p.require(Action::ReadQuarantine)?;
    let n = limit("/query/limit", q.limit, 100)? as u32;
    let rows = state.pool.run(move |s| s.quarantined(n)).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| QuarantineOut {
                id: r.id,
                at: r.at,
                source: r.record.source,
                file: r.record.file,
                line: r.record.line,
                reason: r.record.reason,
                raw_len: r.record.raw.len(),
                raw: String::from_utf8_lossy(&r.record.raw).into_owned(),
            })
            .collect(),
    ))
}
