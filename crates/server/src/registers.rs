//! The registers over HTTP: organisations, sites (list with search, one,
//! upsert one, bulk import from CSV or GeoJSON) and people. Every list is
//! filtered by what the caller may see; every write is audited with the
//! record before and after, and reaches the in-memory index at once.

use crate::access::{Audited, audited};
use crate::auth::{Action, Principal, Role, Scope, markings};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery, body_bytes};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use chrono::Utc;
use farguard_model::{Geometry, Person, Point, Polygon, Quarantined, Site, SiteKind};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

// --- organisations ----------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgOut {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub country: Option<String>,
    pub marking: crate::auth::Marking,
}

/// Registered organisations (names and kinds are shared with the community).
#[utoipa::path(get, path = "/api/v1/orgs", tag = "registers",
    responses((status = 200, body = Vec<OrgOut>), (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_orgs(
    State(state): State<AppState>,
    p: Principal,
) -> ApiResult<Json<Vec<OrgOut>>> {
    p.require(Action::ReadOrgs)?;
    let reg = state.registry();
    Ok(Json(
        reg.orgs
            .iter()
            .map(|o| OrgOut {
                id: o.id.clone(),
                name: o.name.clone(),
                kind: o.kind.code().into(),
                country: o.country.map(|c| c.as_str().to_string()),
                marking: markings::ORGANISATION,
            })
            .collect(),
    ))
}

// --- sites ------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SiteOut {
    pub id: String,
    pub org: String,
    pub name: String,
    pub kind: String,
    /// The point, or a polygon's anchor.
    pub lat: f64,
    pub lon: f64,
    /// `[[lon, lat], …]` for polygon sites.
    pub polygon: Option<Vec<[f64; 2]>>,
    pub country: String,
    pub sector: Option<String>,
    pub value_usd: Option<f64>,
    pub headcount: u32,
    pub status: String,
    pub marking: crate::auth::Marking,
}

pub fn site_out(s: &Site) -> SiteOut {
    let a = s.anchor();
    SiteOut {
        id: s.id.clone(),
        org: s.org.clone(),
        name: s.name.clone(),
        kind: s.kind.code().into(),
        lat: a.lat(),
        lon: a.lon(),
        polygon: match &s.geometry {
            Geometry::Point(_) => None,
            Geometry::Polygon(p) => Some(p.ring().iter().map(|p| [p.lon(), p.lat()]).collect()),
        },
        country: s.country.as_str().into(),
        sector: s.sector.clone(),
        value_usd: s.value_usd,
        headcount: s.headcount,
        status: s.status.clone(),
        marking: markings::SITE,
    }
}

fn site_visible(p: &Principal, s: &Site) -> bool {
    let countries = [s.country];
    p.may_see(Scope {
        marking: markings::SITE,
        org: Some(&s.org),
        countries: &countries,
        person: None,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SitesQuery {
    /// Words to find in the id, name, sector or organisation (case-insensitive).
    q: Option<String>,
    country: Option<String>,
    org: Option<String>,
    /// project, office, plant, mine, camp, port, airport, corridor, supplier, mission, other.
    kind: Option<String>,
    /// 1–1000, default 100.
    limit: Option<u32>,
    offset: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SitesPage {
    pub total: usize,
    pub offset: usize,
    pub items: Vec<SiteOut>,
}

/// Sites the caller may see, with search.
#[utoipa::path(get, path = "/api/v1/sites", tag = "registers", params(SitesQuery),
    responses((status = 200, body = SitesPage), (status = 400, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_sites(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<SitesQuery>,
) -> ApiResult<axum::response::Response> {
    p.require(Action::ReadSites)?;
    let country = q
        .country
        .as_deref()
        .map(|c| crate::api::parse_country("/query/country", c))
        .transpose()?;
    let kind = q
        .kind
        .as_deref()
        .map(|k| SiteKind::parse(k).map_err(|e| ApiError::field("/query/kind", e.to_string())))
        .transpose()?;
    let n = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&n) {
        return Err(ApiError::field("/query/limit", "limit is 1–1000"));
    }
    let words: Vec<String> =
        q.q.as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
    let offset = q.offset.unwrap_or(0) as usize;
    let key = format!(
        "sites|{}|{}|{}|{}|{}|{n}|{offset}",
        crate::api::scope_key(&p),
        words.join(" "),
        country.as_ref().map_or("", |c| c.as_str()),
        q.org.as_deref().unwrap_or(""),
        kind.map_or("", SiteKind::code),
    );
    crate::api::cached_answer(&state, key, || async {
        let reg = state.registry();
        let matching: Vec<&Site> = reg
            .sites
            .sites()
            .iter()
            .zip(reg.site_text.iter())
            .filter(|(s, _)| country.is_none_or(|c| s.country == c))
            .filter(|(s, _)| kind.is_none_or(|k| s.kind == k))
            .filter(|(s, _)| q.org.as_deref().is_none_or(|o| s.org == o))
            .filter(|(_, hay)| words.iter().all(|w| hay.contains(w.as_str())))
            .filter(|(s, _)| site_visible(&p, s))
            .map(|(s, _)| s)
            .collect();
        Ok(SitesPage {
            total: matching.len(),
            offset,
            items: matching
                .into_iter()
                .skip(offset)
                .take(n as usize)
                .map(site_out)
                .collect(),
        })
    })
    .await
}

/// One site (404 when it does not exist or the caller may not see it).
#[utoipa::path(get, path = "/api/v1/sites/{id}", tag = "registers",
    params(("id" = String, Path, description = "the site's external id")),
    responses((status = 200, body = SiteOut), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_site(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<SiteOut>> {
    p.require(Action::ReadSites)?;
    let reg = state.registry();
    reg.sites
        .sites()
        .iter()
        .find(|s| s.id == id && site_visible(&p, s))
        .map(|s| Json(site_out(s)))
        .ok_or_else(|| ApiError::not_found("/path/id", format!("no site {id:?} that you may see")))
}

/// A site to create or replace.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteIn {
    /// Owning organisation (an enterprise admin may give only their own).
    pub org: String,
    pub name: String,
    /// project, office, plant, mine, camp, port, airport, corridor, supplier, mission, other.
    pub kind: String,
    pub lat: f64,
    pub lon: f64,
    /// Optional boundary, `[[lon, lat], …]`, at least 3 distinct points.
    pub polygon: Option<Vec<[f64; 2]>>,
    /// ISO 3166-1 alpha-2 or alpha-3.
    pub country: String,
    pub sector: Option<String>,
    pub value_usd: Option<f64>,
    pub headcount: Option<u32>,
    pub status: Option<String>,
}

fn text(pointer: &str, v: &str, max: usize) -> ApiResult<()> {
    if v.trim().is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(ApiError::field(
            pointer,
            format!("1–{max} characters, no control characters"),
        ));
    }
    Ok(())
}

fn site_from(id: &str, s: &SiteIn) -> ApiResult<Site> {
    text("/path/id", id, 128)?;
    text("/org", &s.org, 128)?;
    text("/name", &s.name, 300)?;
    let kind = SiteKind::parse(&s.kind).map_err(|e| ApiError::field("/kind", e.to_string()))?;
    let point = Point::new(s.lat, s.lon).map_err(|e| {
        let ptr = if (-90.0..=90.0).contains(&s.lat) {
            "/lon"
        } else {
            "/lat"
        };
        ApiError::field(ptr, e.to_string())
    })?;
    let geometry = match &s.polygon {
        None => Geometry::Point(point),
        Some(ring) => {
            let mut pts = Vec::with_capacity(ring.len());
            for (i, [lon, lat]) in ring.iter().enumerate() {
                pts.push(
                    Point::new(*lat, *lon)
                        .map_err(|e| ApiError::field(format!("/polygon/{i}"), e.to_string()))?,
                );
            }
            Geometry::Polygon(
                Polygon::new(pts).map_err(|e| ApiError::field("/polygon", e.to_string()))?,
            )
        }
    };
    let country = crate::api::parse_country("/country", &s.country)?;
    if let Some(v) = &s.sector {
        text("/sector", v, 200)?;
    }
    if let Some(v) = &s.status {
        text("/status", v, 50)?;
    }
    if let Some(v) = s.value_usd
        && (!v.is_finite() || v < 0.0)
    {
        return Err(ApiError::field("/value_usd", "a non-negative amount"));
    }
    Ok(Site {
        id: id.to_string(),
        org: s.org.clone(),
        name: s.name.clone(),
        kind,
        geometry,
        country,
        sector: s.sector.clone(),
        value_usd: s.value_usd,
        headcount: s.headcount.unwrap_or(0),
        status: s.status.clone().unwrap_or_else(|| "active".into()),
    })
}

fn site_json(s: &Site) -> serde_json::Value {
    serde_json::to_value(site_out(s)).unwrap_or_default()
}

/// May `p` write this site (and the one it replaces)?
fn may_write_site(p: &Principal, new: &Site, old: Option<&Site>) -> Result<(), String> {
    match p.role {
        Role::Coordinator => Ok(()),
        Role::EnterpriseAdmin => {
            if p.org.as_deref() != Some(new.org.as_str()) {
                return Err(format!(
                    "you may register sites only for your own organisation ({})",
                    p.org.as_deref().unwrap_or("none")
                ));
            }
            if old.is_some_and(|o| p.org.as_deref() != Some(o.org.as_str())) {
                return Err("that id belongs to another organisation's site".into());
            }
            Ok(())
        }
        _ => Err(format!("a {} may not write sites", p.role)),
    }
}

/// Creates or replaces one site.
#[utoipa::path(put, path = "/api/v1/sites/{id}", tag = "registers", request_body = SiteIn,
    params(("id" = String, Path, description = "the site's external id")),
    responses((status = 200, body = SiteOut), (status = 201, body = SiteOut),
        (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_site(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<SiteIn>,
) -> ApiResult<(StatusCode, Json<SiteOut>)> {
    p.require(Action::WriteSites)?;
    let site = site_from(&id, &input)?;
    let old = {
        let reg = state.registry();
        reg.sites.sites().iter().find(|s| s.id == id).cloned()
    };
    if let Err(why) = may_write_site(&p, &site, old.as_ref()) {
        return Err(if old.as_ref().is_some_and(|o| !site_visible(&p, o)) {
            ApiError::not_found("/path/id", format!("no site {id:?} that you may see"))
        } else {
            ApiError::Forbidden(why)
        });
    }
    let before = old.as_ref().map(site_json);
    let after = site_json(&site);
    let changed = old.as_ref() != Some(&site);
    let s2 = site.clone();
    audited(
        &state,
        p.actor(),
        "site.upsert",
        format!("site:{id}"),
        move |s| {
            s.upsert_sites(std::slice::from_ref(&s2))?;
            Ok(Audited {
                before,
                after: Some(after),
                changed,
                value: (),
            })
        },
    )
    .await?;
    let out = site_out(&site);
    state.sites_written([site]);
    state.changed();
    Ok((
        if old.is_some() {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        },
        Json(out),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `csv` or `geojson`; by default from the Content-Type.
    format: Option<String>,
    /// A name for the upload, used in row errors (default `upload`).
    name: Option<String>,
}

/// One row that was not imported.
#[derive(Debug, Serialize, ToSchema)]
pub struct RowErrorOut {
    /// 1-based CSV line or GeoJSON feature.
    pub line: u64,
    pub field: Option<String>,
    /// JSON pointer for GeoJSON rows (`/features/3/properties/lat`).
    pub pointer: Option<String>,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportOut {
    pub read: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Rows rejected: reported here and kept in the quarantine with their raw text.
    pub rejected: u64,
    pub errors: Vec<RowErrorOut>,
}

/// Imports sites from a CSV (`text/csv`) or GeoJSON (`application/geo+json`)
/// body; one bad row is reported and quarantined, the rest are upserted.
#[utoipa::path(post, path = "/api/v1/import/sites", tag = "registers", params(ImportQuery),
    request_body(content = String, content_type = "text/csv",
        description = "CSV with header id, org, name, kind, lat, lon, country[, sector, value_usd, headcount, status], or a GeoJSON FeatureCollection"),
    responses((status = 200, body = ImportOut), (status = 400, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 413, body = crate::error::ErrorBody),
        (status = 415, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn import_sites(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<ImportQuery>,
    req: Request,
) -> ApiResult<Json<ImportOut>> {
    p.require(Action::WriteSites)?;
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let format = match q.format.as_deref() {
        Some("csv") => "csv",
        Some("geojson") => "geojson",
        Some(other) => {
            return Err(ApiError::field(
                "/query/format",
                format!("{other:?}: expected csv or geojson"),
            ));
        }
        None => match ct.as_str() {
            "text/csv" | "text/plain" => "csv",
            "application/geo+json" | "application/json" => "geojson",
            _ => {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "send text/csv or application/geo+json (or give ?format=csv|geojson), not {ct:?}"
                )));
            }
        },
    };
    let name = q.name.unwrap_or_else(|| "upload".into());
    text("/query/name", &name, 200)?;
    let bytes = body_bytes(req, &()).await?;
    let imp = if format == "csv" {
        farguard_registry::sites::read_csv(&name, &bytes)
    } else {
        farguard_registry::sites::read_geojson(&name, &bytes)
    }
    .map_err(|e| ApiError::Invalid {
        status: StatusCode::BAD_REQUEST,
        code: "invalid_file",
        pointer: Some(String::new()),
        message: e.to_string(),
    })?;
    let mut errors: Vec<RowErrorOut> = Vec::new();
    let mut quarantined: Vec<Quarantined> = Vec::new();
    for e in &imp.errors {
        errors.push(RowErrorOut {
            line: e.line,
            field: e.field.clone(),
            pointer: (format == "geojson").then(|| {
                format!(
                    "/features/{}{}",
                    e.line.saturating_sub(1),
                    e.field
                        .as_deref()
                        .map(|f| format!("/properties/{f}"))
                        .unwrap_or_default()
                )
            }),
            message: e.message.clone(),
        });
        quarantined.push(Quarantined {
            source: "registry:sites".into(),
            file: format!("api:{}:{name}", p.user_id),
            line: e.line,
            reason: e.to_string(),
            raw: e.raw.clone().into_bytes(),
        });
    }
    let mut accepted: Vec<(Option<Site>, Site)> = Vec::new();
    {
        let reg = state.registry();
        for (line, site) in &imp.rows {
            let old = reg.sites.sites().iter().find(|s| s.id == site.id).cloned();
            match may_write_site(&p, site, old.as_ref()) {
                Ok(()) => accepted.push((old, site.clone())),
                Err(why) => {
                    errors.push(RowErrorOut {
                        line: *line,
                        field: Some("org".into()),
                        pointer: None,
                        message: why.clone(),
                    });
                    quarantined.push(Quarantined {
                        source: "registry:sites".into(),
                        file: format!("api:{}:{name}", p.user_id),
                        line: *line,
                        reason: format!("{name}:{line}: field `org`: {why}"),
                        raw: format!("{} {}", site.id, site.org).into_bytes(),
                    });
                }
            }
        }
    }
    let rejected = errors.len() as u64;
    let actor = p.actor();
    let to_store: Vec<Site> = accepted.iter().map(|(_, s)| s.clone()).collect();
    let audits: Vec<(String, Option<serde_json::Value>, serde_json::Value)> = accepted
        .iter()
        .filter(|(old, new)| old.as_ref() != Some(new))
        .map(|(old, new)| {
            (
                format!("site:{}", new.id),
                old.as_ref().map(site_json),
                site_json(new),
            )
        })
        .collect();
    // Rows, quarantine and audit entries are one job: all kept or none.
    let counts = state
        .writer
        .run(move |s| {
            let c = s.upsert_sites(&to_store)?;
            s.quarantine(&quarantined)?;
            for (target, before, after) in audits {
                s.append_audit(&farguard_store::AuditRecord {
                    at: Utc::now(),
                    actor: actor.clone(),
                    action: "site.import".into(),
                    target,
                    before: before.map(|v| v.to_string()),
                    after: Some(after.to_string()),
                })?;
            }
            Ok(c)
        })
        .await?;
    state.sites_written(accepted.into_iter().map(|(_, s)| s));
    state.changed();
    Ok(Json(ImportOut {
        read: imp.read(),
        inserted: counts.inserted,
        updated: counts.updated,
        unchanged: counts.unchanged,
        rejected,
        errors,
    }))
}

// --- people -----------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonOut {
    pub id: String,
    pub name: String,
    pub nationality: Option<String>,
    pub org: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub language: String,
    pub needs: Vec<String>,
    pub site: Option<String>,
    /// Countries the person is in (their site's, their itinerary's).
    pub countries: Vec<String>,
    pub marking: crate::auth::Marking,
}

fn person_out(p: &Person, countries: &[farguard_model::CountryCode]) -> PersonOut {
    PersonOut {
        id: p.id.clone(),
        name: p.name.clone(),
        nationality: p.nationality.map(|c| c.as_str().to_string()),
        org: p.org.clone(),
        email: p.email.clone(),
        phone: p.phone.clone(),
        language: p.language.clone(),
        needs: p.needs.clone(),
        site: p.site.clone(),
        countries: countries.iter().map(|c| c.as_str().to_string()).collect(),
        marking: markings::PERSON,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeopleQuery {
    /// Words to find in the id, name or organisation.
    q: Option<String>,
    country: Option<String>,
    /// 1–1000, default 100.
    limit: Option<u32>,
    offset: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PeoplePage {
    pub total: usize,
    pub offset: usize,
    pub items: Vec<PersonOut>,
}

/// People the caller may see: a citizen only themselves, an enterprise its
/// own staff, an embassy those in its country.
#[utoipa::path(get, path = "/api/v1/people", tag = "registers", params(PeopleQuery),
    responses((status = 200, body = PeoplePage), (status = 400, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_people(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<PeopleQuery>,
) -> ApiResult<axum::response::Response> {
    p.require(Action::ReadPeople)?;
    let country = q
        .country
        .as_deref()
        .map(|c| crate::api::parse_country("/query/country", c))
        .transpose()?;
    let n = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&n) {
        return Err(ApiError::field("/query/limit", "limit is 1–1000"));
    }
    let words: Vec<String> =
        q.q.as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
    let offset = q.offset.unwrap_or(0) as usize;
    let key = format!(
        "people|{}|{}|{}|{n}|{offset}",
        crate::api::scope_key(&p),
        words.join(" "),
        country.as_ref().map_or("", |c| c.as_str()),
    );
    crate::api::cached_answer(&state, key, || async {
        let reg = state.registry();
        let matching: Vec<&Person> = reg
            .people()
            .iter()
            .filter(|x| {
                let countries = reg.countries_of(&x.id);
                person_visible(&p, x, countries) && country.is_none_or(|c| countries.contains(&c))
            })
            .filter(|x| {
                words.is_empty() || {
                    let hay = format!("{} {} {}", x.id, x.name, x.org.as_deref().unwrap_or(""))
                        .to_lowercase();
                    words.iter().all(|w| hay.contains(w.as_str()))
                }
            })
            .collect();
        Ok(PeoplePage {
            total: matching.len(),
            offset,
            items: matching
                .into_iter()
                .skip(offset)
                .take(n as usize)
                .map(|x| person_out(x, reg.countries_of(&x.id)))
                .collect(),
        })
    })
    .await
}

fn person_visible(p: &Principal, x: &Person, countries: &[farguard_model::CountryCode]) -> bool {
    p.may_see(Scope {
        marking: markings::PERSON,
        org: x.org.as_deref(),
        countries,
        person: Some(&x.id),
    })
}

/// One person (404 when absent or not visible to the caller).
#[utoipa::path(get, path = "/api/v1/people/{id}", tag = "registers",
    params(("id" = String, Path, description = "the person's id")),
    responses((status = 200, body = PersonOut), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_person(
    State(state): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<PersonOut>> {
    p.require(Action::ReadPeople)?;
    let reg = state.registry();
    reg.people()
        .iter()
        .find(|x| x.id == id && person_visible(&p, x, reg.countries_of(&x.id)))
        .map(|x| Json(person_out(x, reg.countries_of(&x.id))))
        .ok_or_else(|| {
            ApiError::not_found("/path/id", format!("no person {id:?} that you may see"))
        })
}
