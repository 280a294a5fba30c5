//! `farguard risk explain AREA`: one area's level per category with every
//! indicator's value, the thresholds crossed, the surge test and the top
//! contributing events with their links.

use super::{Ctx, load_guideline};
use crate::cmd::assess::row;
use crate::out;
use anyhow::{Context, Result, bail};
use chrono::{DateTime, Duration, Utc};
use farguard_expose::SiteIndex;
use farguard_grade::{
    Aggregator, Day, DayStats, Explanation, ExternalValues, Guideline, day_of, fnv1a, report_key,
};
use farguard_model::{Area, Category, Event, EventId, Level};
use farguard_store::{FoldOutcome, RiskDay, RiskFolder, RiskTouch, RiskVote, RiskWrite, Store};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Why an area has its level: indicators, thresholds, surge, top events.
    #[command(after_help = "\
Examples:
  farguard risk explain KE --at 2019-10-24
  farguard risk explain IN/Bihar --category political --at 2015-03-01 --json

AREA is a country (CN, KE), a first-level region as COUNTRY/ADMIN1 (the
code the source gives, e.g. KE/KE05), an H3 cell (h3:CELL, or the bare cell
index such as 85283473fffffff), or a registered site (site:ID, or the bare
id when it is not also a country code).")]
    Explain {
        area: String,
        /// Only this category.
        #[arg(long)]
        category: Option<String>,
        /// As of this time (RFC 3339 or a date meaning its end); default now.
        #[arg(long)]
        at: Option<String>,
        /// Guideline file (default: the shipped config/guideline.toml).
        #[arg(long)]
        guideline: Option<PathBuf>,
    },
}

/// Loads the external index CSVs a guideline declares (`area,value` with a
/// header; a bad row names its line).
pub fn load_external(g: &Guideline) -> Result<ExternalValues> {
    let mut out = ExternalValues::new();
    for x in &g.external {
        let mut r = csv::Reader::from_path(&x.file)
            .with_context(|| format!("external index {}: reading {}", x.name, x.file))?;
        let mut m = HashMap::new();
        for (i, rec) in r.records().enumerate() {
            let line = i + 2;
            let rec = rec.with_context(|| format!("{}:{line}: unreadable row", x.file))?;
            let area = rec.get(0).unwrap_or_default();
            let area = Area::parse(area).with_context(|| format!("{}:{line}: area", x.file))?;
            let v: f64 = rec
                .get(1)
                .unwrap_or_default()
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .with_context(|| format!("{}:{line}: value: expected a number", x.file))?;
            m.insert(area, v);
        }
        out.insert(x.name.clone(), m);
    }
    Ok(out)
}

/// Events folded per pass of a fold: each pass loads the stored rows its
/// events touch and writes them back once, so larger passes load and write
/// a busy day's rows fewer times. The size of an ingest chunk, so a chunk
/// is folded in one pass.
pub const FOLD_CHUNK: usize = 65_536;

/// A guideline's aggregation rules as the store's fold needs them: which
/// areas an event counts in (sites by their exposure radius, through the
/// site R-tree), and the spec naming those rules.
pub struct Folder {
    rules: Arc<Rules>,
    /// The areas and touches of the pass being folded (found by `touched`,
    /// or beforehand by a [`Preparer`] and handed over with `prime`).
    pass: Option<Pass>,
}

/// What a [`Folder`] knows that does not change while it folds.
struct Rules {
    g: Guideline,
    sites: Option<SiteIndex>,
    spec: String,
    /// An empty aggregator under `g`'s rules: it knows an event's areas.
    probe: Aggregator,
}

/// The areas and touches of one pass's events, found once: event `i`'s
/// areas are `areas[ends[i - 1]..ends[i]]`.
pub struct Pass {
    n: usize,
    ends_ids: Option<(EventId, EventId)>,
    areas: Vec<Area>,
    ends: Vec<usize>,
    touches: Vec<RiskTouch>,
}

impl Pass {
    /// Whether this pass was found for these events.
    fn is_for(&self, events: &[Event]) -> bool {
        self.n == events.len()
            && self.ends_ids.as_ref().map(|(a, b)| (a, b))
                == events
                    .first()
                    .zip(events.last())
                    .map(|(a, b)| (&a.id, &b.id))
    }

    fn areas_of(&self, i: usize) -> &[Area] {
        let from = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.areas[from..self.ends[i]]
    }
}

/// Finds a pass's areas and touches ahead of its fold, on another thread
/// (an ingest's parse thread, which has time to spare).
#[derive(Clone)]
pub struct Preparer(Arc<Rules>);

impl Preparer {
    pub fn prepare(&self, events: &[Event]) -> Pass {
        self.0.pass(events)
    }
}

/// The shipped guideline, parsed once per process.
pub fn shipped_guideline() -> Result<Guideline> {
    static SHIPPED: std::sync::OnceLock<Guideline> = std::sync::OnceLock::new();
    if let Some(g) = SHIPPED.get() {
        return Ok(g.clone());
    }
    let g = Guideline::default_shipped()?;
    Ok(SHIPPED.get_or_init(|| g).clone())
}

impl Rules {
    /// The sites whose exposure radius (by the event's subtype and
    /// severity) reaches a precisely located event.
    fn sites_of(&self, e: &Event) -> Vec<String> {
        let (Some(ix), Some(p)) = (&self.sites, e.local_point()) else {
            return Vec::new();
        };
        ix.within(p, self.g.radius_for(e.subtype, e.severity))
            .into_iter()
            .map(|h| ix.site(h.site).id.clone())
            .collect()
    }

    /// Every area an event counts in, appended to `out`.
    fn areas_into(&self, e: &Event, out: &mut Vec<Area>) {
        let v = self.probe.areas_of(e);
        if v.is_empty() {
            return;
        }
        out.extend(v);
        out.extend(self.sites_of(e).into_iter().map(Area::Site));
    }

    /// The areas of every event of a pass, and each distinct touch once.
    fn pass(&self, events: &[Event]) -> Pass {
        let (mut areas, mut ends) = (Vec::new(), Vec::with_capacity(events.len()));
        for e in events {
            self.areas_into(e, &mut areas);
            ends.push(areas.len());
        }
        let mut touches = Vec::new();
        {
            let mut seen: HashSet<(&Area, Category, Day, u64)> = HashSet::new();
            let mut names: HashMap<&Area, String> = HashMap::new();
            let mut from = 0;
            for (e, &to) in events.iter().zip(&ends) {
                let (day, report) = (day_of(e.occurred_at), report_key(e));
                for a in &areas[from..to] {
                    if seen.insert((a, e.category, day, report)) {
                        touches.push(RiskTouch {
                            area: names.entry(a).or_insert_with(|| a.to_string()).clone(),
                            category: e.category.code().into(),
                            day,
                            report: report as i64,
                        });
                    }
                }
                from = to;
            }
        }
        Pass {
            n: events.len(),
            ends_ids: events
                .first()
                .zip(events.last())
                .map(|(a, b)| (a.id.clone(), b.id.clone())),
            areas,
            ends,
            touches,
        }
    }
}

impl Folder {
    /// The rules of `g`, with the registry's sites when `g` grades sites.
    pub fn new(store: &mut dyn Store, g: &Guideline) -> Result<Self> {
        let (sites, spec) = if g.grades("site") {
            let sites = store.sites().context("reading sites to grade")?;
            // Sites come ordered by id; their ids and geometries name them.
            let text: Vec<String> = sites
                .iter()
                .map(|s| format!("{}|{:?}", s.id, s.geometry))
                .collect();
            let fp = fnv1a(&[text.join("\n").as_bytes()]);
            let spec = format!("{} sites={}:{fp:016x}", g.aggregation_spec(), sites.len());
            (Some(SiteIndex::build(sites)), spec)
        } else {
            (None, g.aggregation_spec())
        };
        Ok(Self {
            rules: Arc::new(Rules {
                g: g.clone(),
                sites,
                spec,
                probe: Aggregator::new(g),
            }),
            pass: None,
        })
    }

    /// The shipped guideline's rules, with the registry's sites.
    pub fn shipped(store: &mut dyn Store) -> Result<Self> {
        Self::new(store, &shipped_guideline()?)
    }

    pub fn spec(&self) -> &str {
        &self.rules.spec
    }

    /// The sites whose exposure radius (by the event's subtype and
    /// severity) reaches a precisely located event.
    pub fn sites_of(&self, e: &Event) -> Vec<String> {
        self.rules.sites_of(e)
    }

    /// Something that finds a pass's areas and touches under these rules.
    pub fn preparer(&self) -> Preparer {
        Preparer(Arc::clone(&self.rules))
    }

    /// Hands over a pass found beforehand: the next fold of the same
    /// events uses it (a fold of other events finds its own).
    pub fn prime(&mut self, pass: Pass) {
        self.pass = Some(pass);
    }

    /// The pass of these events: the one primed or found last, or found now.
    fn pass_for(&mut self, events: &[Event]) -> Pass {
        match self.pass.take() {
            Some(p) if p.is_for(events) => p,
            _ => self.rules.pass(events),
        }
    }

    /// Aggregates events in memory (when the stored aggregates were built
    /// under other rules).
    pub fn aggregate(&self, events: &[Event]) -> Aggregator {
        let mut agg = Aggregator::new(&self.rules.g);
        for e in events {
            agg.add_with_sites(e, &self.sites_of(e));
        }
        agg
    }
}

fn stats_of(d: &RiskDay) -> Result<DayStats, String> {
    let n = |x: i64, f: &str| u32::try_from(x).map_err(|_| format!("{f} {x} is not a count"));
    Ok(DayStats {
        events: n(d.events, "events")?,
        below: n(d.below, "below")?,
        reports: n(d.reports, "reports")?,
        points: d.points,
        fatalities: u64::try_from(d.fatalities).map_err(|_| "fatalities".to_string())?,
        gold_sum: d.gold_sum,
        gold_n: n(d.gold_n, "gold_n")?,
        tone_sum: d.tone_sum,
        tone_n: n(d.tone_n, "tone_n")?,
        top: DayStats::parse_top(&d.top).map_err(|e| format!("top: {e}"))?,
    })
}

fn cell_of(d: &RiskDay) -> Result<(Area, Category), String> {
    let area = Area::parse(&d.area).map_err(|e| format!("{:?}: {e}", d.area))?;
    let cat = Category::parse(&d.category).map_err(|e| format!("{:?}: {e}", d.category))?;
    Ok((area, cat))
}

impl RiskFolder for Folder {
    fn spec(&self) -> String {
        self.rules.spec.clone()
    }

    fn touched(&mut self, events: &[Event]) -> Vec<RiskTouch> {
        let mut p = self.pass_for(events);
        let touches = std::mem::take(&mut p.touches);
        self.pass = Some(p);
        touches
    }

    fn fold(
        &mut self,
        events: &[Event],
        days: Vec<RiskDay>,
        votes: Vec<RiskVote>,
    ) -> Result<RiskWrite, String> {
        // The pass `touched` found (the store hands the same events).
        let pass = self.pass_for(events);
        let mut agg = Aggregator::new(&self.rules.g);
        for d in days {
            let (area, cat) = cell_of(&d)?;
            let day = d.day;
            agg.seed_day(area, cat, day, stats_of(&d)?);
        }
        // The votes as stored: one that a pass leaves as it was is not
        // written again.
        let mut stored: HashMap<(Area, Category, Day, u64), f32> = HashMap::new();
        for v in &votes {
            let area = Area::parse(&v.area).map_err(|e| format!("{:?}: {e}", v.area))?;
            let cat = Category::parse(&v.category).map_err(|e| e.to_string())?;
            let (report, points) = (v.report as u64, v.points as f32);
            agg.seed_vote(area.clone(), cat, v.day, report, points);
            stored.insert((area, cat, v.day, report), points);
        }
        for (i, e) in events.iter().enumerate() {
            agg.add_in(e, pass.areas_of(i));
        }
        let mut w = RiskWrite::default();
        for (area, cat, day, x) in agg.cells() {
            let name = area.to_string();
            for (k, p) in agg.votes(area, cat, day) {
                if stored.get(&(area.clone(), cat, day, k)) == Some(&p) {
                    continue;
                }
                w.votes.push(RiskVote {
                    area: name.clone(),
                    category: cat.code().into(),
                    day,
                    report: k as i64,
                    points: f64::from(p),
                });
            }
            w.days.push(RiskDay {
                area: name,
                area_kind: area.kind().into(),
                category: cat.code().into(),
                day,
                events: i64::from(x.events),
                below: i64::from(x.below),
                reports: i64::from(x.reports),
                points: x.points,
                fatalities: x.fatalities as i64,
                gold_sum: x.gold_sum,
                gold_n: i64::from(x.gold_n),
                tone_sum: x.tone_sum,
                tone_n: i64::from(x.tone_n),
                top: x.top_json(),
            });
        }
        w.coverage = agg.coverage().map(|(d, n)| (d, n as i64)).collect();
        Ok(w)
    }
}

/// Folds every event stored since the last fold into the persisted daily
/// aggregates, under the shipped guideline's rules (what `ingest` and
/// `watch` do after storing events; grading commands do it first too, so
/// events stored by any other path are caught up).
pub fn fold_pending(store: &mut dyn Store) -> Result<FoldOutcome> {
    let mut f = Folder::shipped(store)?;
    fold_pending_with(store, &mut f)
}

/// [`fold_pending`] under rules already loaded (an ingest loads them once
/// for all its inputs and chunks).
pub fn fold_pending_with(store: &mut dyn Store, f: &mut Folder) -> Result<FoldOutcome> {
    fold_stored_with(store, f, &[])
}

/// [`fold_pending_with`] just after one insert stored every one of `stored`:
/// when nothing else is new, the store folds them as given instead of
/// reading them back.
pub fn fold_stored_with(
    store: &mut dyn Store,
    f: &mut Folder,
    stored: &[Event],
) -> Result<FoldOutcome> {
    let out = if stored.is_empty() {
        store.fold_new_events(f, FOLD_CHUNK)
    } else {
        store.fold_stored_events(f, FOLD_CHUNK, stored)
    }
    .context("folding stored events into the daily risk aggregates")?;
    if out.rebuilt {
        tracing::info!(
            events = out.events,
            "daily risk aggregates rebuilt: the aggregation rules or the sites changed"
        );
    }
    Ok(out)
}

/// The aggregates grading needs for the days `from <= day < to` (of one
/// area, or all): read from the persisted daily aggregates when they were
/// built under `g`'s rules, else aggregated in memory from the stored
/// events of those days. The flag says which.
pub fn aggregator(
    store: &mut dyn Store,
    g: &Guideline,
    from: Day,
    to: Day,
    area: Option<&Area>,
) -> Result<(Aggregator, bool)> {
    fold_pending(store)?;
    let f = Folder::new(store, g)?;
    let stored = store.risk_state()?.map(|(_, s)| s);
    if stored.as_deref() != Some(f.spec()) {
        tracing::info!(
            "the guideline's aggregation rules differ from the stored aggregates': aggregating stored events"
        );
        let at = |d: Day| -> DateTime<Utc> { farguard_grade::start_of(d) };
        let events = store.events_between(at(from), at(to))?;
        return Ok((f.aggregate(&events), false));
    }
    let key = area.map(|a| a.to_string());
    let mut agg = Aggregator::new(g);
    for d in store.risk_days(from, to, key.as_deref())? {
        let (a, c) = cell_of(&d).map_err(|e| anyhow::anyhow!("stored risk_days row: {e}"))?;
        let st = stats_of(&d).map_err(|e| anyhow::anyhow!("stored risk_days row {a}: {e}"))?;
        agg.seed_day(a, c, d.day, st);
    }
    for (d, n) in store.risk_coverage(from, to)? {
        agg.seed_coverage(d, n as u64);
    }
    Ok((agg, true))
}

/// The first day a grading as of `at` does not include.
pub fn end_day(at: DateTime<Utc>) -> Day {
    day_of(at - Duration::microseconds(1)) + 1
}

pub fn run(ctx: &Ctx, action: Action) -> Result<ExitCode> {
    let Action::Explain {
        area,
        category,
        at,
        guideline,
    } = action;
    let g = load_guideline(guideline.as_deref())?;
    let mut store = ctx.store()?;
    let area = match Area::parse(&area) {
        Ok(a) => a,
        Err(e) => match farguard_grade::parse_h3(&area) {
            Some(cell) => Area::H3(cell),
            None if store.site(area.trim())?.is_some() => Area::Site(area.trim().to_string()),
            None => {
                return Err(anyhow::Error::new(e).context(format!(
                    "AREA {area:?}: not a country, COUNTRY/ADMIN1, H3 cell or registered site id"
                )));
            }
        },
    };
    let cats: Vec<Category> = match category.as_deref() {
        Some(c) => vec![Category::parse(c)?],
        None => Category::ALL.to_vec(),
    };
    let at = match &at {
        Some(s) => out::parse_time(s)?,
        None => Utc::now(),
    };
    let end = end_day(at);
    let (agg, _) = aggregator(
        store.as_mut(),
        &g,
        end - g.lookback_days() as Day,
        end,
        Some(&area),
    )?;
    let ext = load_external(&g)?;
    let rows: Vec<_> = cats
        .iter()
        .filter_map(|c| agg.grade_one(&g, &area, *c, at, &ext))
        .collect();
    if ctx.json {
        out::json(&rows.iter().map(row).collect::<Vec<_>>())?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} ({}) as of {} — guideline {}",
        area,
        match &area {
            Area::Country(c) => c.name().to_string(),
            other => other.kind().to_string(),
        },
        at.format("%Y-%m-%d %H:%M UTC"),
        g.version
    );
    if rows.is_empty() {
        match store.event_time_range()? {
            Some((a, b)) => bail!(
                "no events for {area} in the {} days before {}; stored events span {} to {}: try --at {}",
                g.lookback_days(),
                at.format("%Y-%m-%d"),
                a.format("%Y-%m-%d"),
                b.format("%Y-%m-%d"),
                b.format("%Y-%m-%d")
            ),
            None => bail!("no events stored yet: run `farguard ingest FILE` first"),
        }
    }
    for a in &rows {
        let Some(e) = Explanation::from_json(&a.explanation) else {
            continue;
        };
        println!(
            "\n{}: level {} {} ({})  score {:.2}  trend {} (previous window {:.2})",
            a.category,
            a.level.code(),
            a.level.colour(),
            a.level.label_zh(),
            a.score,
            a.trend.code(),
            e.previous_score
        );
        println!(
            "  window {} → {}; {} events in {} reports counted, {} below the minimum severity",
            e.window_from.format("%Y-%m-%d"),
            e.window_to.format("%Y-%m-%d %H:%M"),
            e.events_counted,
            e.reports_counted,
            e.events_below_min
        );
        println!("  indicators ({}):", e.aggregation);
        for i in &e.indicators {
            println!(
                "    {:<24} raw {:>10.3}  {}{} → {:>8.3}  × weight {:<5} = {:>8.3}",
                i.name,
                i.raw,
                i.normalise,
                i.cap.map(|c| format!(" cap {c}")).unwrap_or_default(),
                i.normalised,
                i.weight,
                i.term
            );
        }
        let names = ["IV", "III", "II", "I"];
        let marks: Vec<String> = e
            .thresholds
            .iter()
            .zip(names)
            .map(|(t, n)| {
                let hit = if a.score >= *t { "✓" } else { "·" };
                format!("{n} ≥ {t} {hit}")
            })
            .collect();
        println!("  thresholds ({}): {}", e.area_kind, marks.join("   "));
        if let Some(s) = &e.surge {
            println!("  surge test: {}", s.why);
        }
        if e.base_level != a.level.code() {
            println!(
                "  level {} from thresholds, raised to {} by the surge rule",
                e.base_level,
                a.level.code()
            );
        }
        println!("  why: {}", e.rule);
        if !e.top.is_empty() {
            println!("  top contributing events:");
        }
        for c in &e.top {
            println!(
                "    {:>5.2} pts  {}  sev {}  {}  {}",
                c.points,
                c.occurred_at.format("%Y-%m-%d"),
                c.severity,
                c.event,
                out::short(&c.title, 60)
            );
            if let Some(l) = &c.link {
                println!("               {l}");
            }
        }
    }
    let worst = rows.iter().map(|a| a.level).max().unwrap_or(Level::Normal);
    println!("\nhighest: level {} — {}", worst.code(), worst.command());
    Ok(ExitCode::SUCCESS)
}
