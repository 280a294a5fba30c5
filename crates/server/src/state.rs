//! What every handler shares: the server's configuration, a small pool of
//! store connections for reads driven from `spawn_blocking`, the one writer
//! (group commit, see [`crate::writer`]), the registry held in memory
//! (sites in the spatial index, organisations, people and their legs —
//! built from the store at start, kept in step with every write that goes
//! through the API, and reloaded when the store's change stamps show that
//! someone else — the CLI, another server — changed it), the data
//! generation that keys every cached answer, and the country tables the map
//! joins on.

use crate::error::ApiError;
use farguard_expose::{Roster, SiteIndex};
use farguard_grade::Guideline;
use farguard_model::{CountryCode, ItineraryLeg, Organisation, Person};
use farguard_store::{Store, StoreError};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Server settings. Built by the CLI from flags.
#[derive(Debug, Clone)]
pub struct Config {
    /// Store connections to open (SQLite WAL readers run in parallel).
    pub pool_size: usize,
    /// Largest request body accepted, in bytes.
    pub max_body: usize,
    /// Sustained requests per second per client (token or address); 0 turns
    /// the limit off.
    pub rate_per_sec: u32,
    /// Requests a client may burst above the sustained rate.
    pub rate_burst: u32,
    /// How long a UI session lasts.
    pub session_ttl: Duration,
    /// Set the `Secure` attribute on the session cookie (behind TLS).
    pub secure_cookies: bool,
    /// Response plan files `(name, TOML text)` served by the plan routes.
    pub plans: Vec<(String, String)>,
    /// How often the store's change stamps are read (registry, levels,
    /// incidents changed by someone else are picked up within this time).
    pub watch_every: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            pool_size: 4,
            max_body: 1 << 20,
            rate_per_sec: 50,
            rate_burst: 200,
            session_ttl: Duration::from_secs(12 * 3600),
            secure_cookies: false,
            plans: Vec::new(),
            watch_every: Duration::from_millis(500),
        }
    }
}

/// Store connections for reads; each call takes a free one on a blocking
/// thread. With a way to reopen them, a connection found lost when a call
/// begins its snapshot is replaced and the call runs on the new one.
pub struct Pool {
    conns: Vec<Mutex<Box<dyn Store>>>,
    next: AtomicUsize,
    reopen: Option<crate::writer::Reopen>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("size", &self.conns.len())
            .finish()
    }
}

impl Pool {
    pub fn new(conns: Vec<Box<dyn Store>>) -> Self {
        Self::reopening(conns, None)
    }

    /// A pool whose lost connections are replaced by `reopen`'s.
    pub fn reopening(conns: Vec<Box<dyn Store>>, reopen: Option<crate::writer::Reopen>) -> Self {
        Self {
            conns: conns.into_iter().map(Mutex::new).collect(),
            next: AtomicUsize::new(0),
            reopen,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Box<dyn Store>) -> T) -> Result<T, ApiError> {
        let n = self.conns.len();
        if n == 0 {
            return Err(ApiError::Unavailable("no store connection".into()));
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Ok(mut c) = self.conns[(start + i) % n].try_lock() {
                return Ok(f(&mut c));
            }
        }
        // All busy: wait for ours. A poisoned lock means a panic mid-call;
        // the connection itself is still consistent (transactions roll back).
        let mut c = match self.conns[start % n].lock() {
            Ok(c) => c,
            Err(p) => p.into_inner(),
        };
        Ok(f(&mut c))
    }

    /// Runs the reads `f` on a store connection off the async threads, in
    /// one read-only snapshot: they see one state of the store and never
    /// wait for the writer's lock (nothing written here would be kept).
    pub async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Store) -> Result<T, StoreError> + Send + 'static,
    {
        let pool = Arc::clone(self);
        let read = move || {
            pool.with(|s| {
                // `farguard_store::snapshot`, with a lost connection replaced
                // before `f` runs (beginning is the first word on it).
                match s.begin_snapshot() {
                    Err(e) if crate::writer::reconnect(s, pool.reopen.as_ref(), &e, "reader") => {
                        s.begin_snapshot()?
                    }
                    r => r?,
                }
                let r = f(s.as_mut());
                let ended = s.rollback_unit();
                let v = r?;
                ended?;
                Ok::<T, StoreError>(v)
            })
        };
        match tokio::task::spawn_blocking(read).await {
            Ok(Ok(Ok(v))) => Ok(v),
            Ok(Ok(Err(e))) => Err(e.into()),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(ApiError::internal("store task", e)),
        }
    }
}

impl Drop for Pool {
    /// The PostgreSQL client blocks on its own runtime when it closes, which
    /// is not allowed on an async worker: close connections on a plain thread.
    fn drop(&mut self) {
        let conns = std::mem::take(&mut self.conns);
        if tokio::runtime::Handle::try_current().is_ok() {
            let _ = std::thread::spawn(move || drop(conns)).join();
        } else {
            drop(conns);
        }
    }
}

/// The registry in memory.
#[derive(Debug)]
pub struct Registry {
    pub orgs: Vec<Organisation>,
    pub sites: SiteIndex,
    /// People and their itinerary legs, for people exposure.
    pub roster: Roster,
    /// Countries each person is in: their site's and their legs'.
    pub person_countries: HashMap<String, Vec<CountryCode>>,
    /// Lower-case search text of each site, aligned with `sites.sites()`.
    pub site_text: Vec<String>,
}

fn site_text(s: &farguard_model::Site) -> String {
    format!(
        "{} {} {} {}",
        s.id,
        s.name,
        s.sector.as_deref().unwrap_or(""),
        s.org
    )
    .to_lowercase()
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            orgs: Vec::new(),
            sites: SiteIndex::build(Vec::new()),
            roster: Roster::default(),
            person_countries: HashMap::new(),
            site_text: Vec::new(),
        }
    }
}

impl Registry {
    pub fn load(store: &mut dyn Store) -> Result<Self, StoreError> {
        let orgs = store.orgs()?;
        let sites = store.sites()?;
        let people = store.people()?;
        let legs = store.legs()?;
        let texts = sites.iter().map(site_text).collect();
        let mut r = Registry {
            orgs,
            sites: SiteIndex::build(sites),
            roster: Roster::default(),
            person_countries: HashMap::new(),
            site_text: texts,
        };
        r.index_people(&people, &legs);
        r.roster = Roster::new(people, legs);
        Ok(r)
    }

    /// Registered people.
    pub fn people(&self) -> &[Person] {
        self.roster.people()
    }

    fn index_people(&mut self, people: &[Person], legs: &[ItineraryLeg]) {
        let site_country: HashMap<&str, CountryCode> = self
            .sites
            .sites()
            .iter()
            .map(|s| (s.id.as_str(), s.country))
            .collect();
        let mut map: HashMap<String, Vec<CountryCode>> = HashMap::new();
        for p in people {
            let e = map.entry(p.id.clone()).or_default();
            if let Some(c) = p.site.as_deref().and_then(|s| site_country.get(s)) {
                e.push(*c);
            }
        }
        for l in legs {
            let e = map.entry(l.person.clone()).or_default();
            if !e.contains(&l.country) {
                e.push(l.country);
            }
        }
        self.person_countries = map;
    }

    /// Inserts or replaces a site in the index and the search text.
    pub fn upsert_site(&mut self, site: farguard_model::Site) {
        let text = site_text(&site);
        let id = site.id.clone();
        self.sites.upsert(site);
        match self.sites.sites().iter().position(|s| s.id == id) {
            Some(i) if i < self.site_text.len() => self.site_text[i] = text,
            _ => self.site_text.push(text),
        }
    }

    pub fn countries_of(&self, person: &str) -> &[CountryCode] {
        self.person_countries
            .get(person)
            .map_or(&[][..], Vec::as_slice)
    }
}

/// A country's English name (a hash lookup in the model's table).
pub fn country_name(c: CountryCode) -> &'static str {
    c.name()
}

/// ISO 3166-1 alpha-2 → numeric code (as the world-atlas TopoJSON ids it),
/// from the GeoNames country table the project ships.
pub fn iso_numeric() -> HashMap<String, String> {
    #[derive(serde::Deserialize)]
    struct C {
        iso: String,
        isonumeric: u32,
    }
    let raw: HashMap<String, C> =
        serde_json::from_str(crate::ui::GEONAMES_COUNTRIES).unwrap_or_default();
    raw.into_values()
        .map(|c| (c.iso, format!("{:03}", c.isonumeric)))
        .collect()
}

/// Everything a handler can reach.
#[derive(Debug, Clone)]
pub struct AppState(pub Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub config: Config,
    /// Connections for reads.
    pub pool: Arc<Pool>,
    /// The one writer (group commit); every write goes through it.
    pub writer: crate::writer::Writer,
    pub registry: RwLock<Registry>,
    pub guideline: Guideline,
    pub plans: farguard_respond::Library,
    pub numeric: HashMap<String, String>,
    pub limiter: crate::limits::RateLimiter,
    pub cache: crate::api::ReadCache,
    /// Bumped whenever registry, levels or incidents change (here or, seen
    /// through the store's change stamps, elsewhere): the key of every
    /// cached answer built from them.
    pub generation: AtomicU64,
    /// The store's change stamps last seen by [`AppState::refresh`].
    pub stamps: Mutex<Option<farguard_store::ChangeStamps>>,
    /// Sites written here, numbered, until a reload has seen them: a reload
    /// that began before one committed replays it, so a write is never
    /// undone in memory by a reload that raced it.
    pub own_sites: Mutex<(u64, Vec<(u64, farguard_model::Site)>)>,
    /// Recently verified tokens by hash (2 s), so a burst of requests does not
    /// look the same token up again and again. Logout evicts at once.
    pub auth_cache: Mutex<HashMap<String, (std::time::Instant, crate::auth::Principal)>>,
    pub started: std::time::Instant,
    /// Where `run` is listening, for logs.
    pub addr: Mutex<Option<SocketAddr>>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Opens `pool_size` reading connections and one writing connection to
    /// `db`, loads the registry, the shipped guideline and the plans. A
    /// connection that is lost later is opened again the same way.
    pub fn open(db: &str, config: Config) -> Result<Self, crate::ServeError> {
        let mut conns = Vec::with_capacity(config.pool_size.max(1) + 1);
        for _ in 0..=config.pool_size.max(1) {
            conns.push(farguard_store::open(db)?);
        }
        let db = db.to_string();
        let reopen: crate::writer::Reopen = Arc::new(move || farguard_store::open(&db));
        Self::from_stores_reopening(conns, Some(reopen), config)
    }

    /// Builds the state on already-open stores (tests pass their own): the
    /// first is the writer's, the others serve reads (at least one). Lost
    /// connections are not replaced.
    pub fn from_stores(
        conns: Vec<Box<dyn Store>>,
        config: Config,
    ) -> Result<Self, crate::ServeError> {
        Self::from_stores_reopening(conns, None, config)
    }

    /// [`AppState::from_stores`], replacing a lost connection with one
    /// `reopen` opens.
    pub fn from_stores_reopening(
        mut conns: Vec<Box<dyn Store>>,
        reopen: Option<crate::writer::Reopen>,
        config: Config,
    ) -> Result<Self, crate::ServeError> {
        if conns.len() < 2 {
            return Err(crate::ServeError::Io(std::io::Error::other(
                "the server needs at least two store connections: one writer and one or more readers",
            )));
        }
        let mut writer = conns.remove(0);
        // Stamps first: a change after this point is seen by the first poll.
        let stamps = writer.change_stamps()?;
        let registry = Registry::load(writer.as_mut())?;
        let guideline = Guideline::default_shipped()?;
        let (plans, report) = farguard_respond::Library::load(
            config.plans.iter().map(|(n, t)| (n.as_str(), t.as_str())),
        );
        for e in &report.errors {
            tracing::warn!(problem = %e, "plan not loaded");
        }
        crate::limits::set_body_limit(config.max_body);
        Ok(AppState(Arc::new(Inner {
            limiter: crate::limits::RateLimiter::new(config.rate_per_sec, config.rate_burst),
            cache: crate::api::ReadCache::default(),
            auth_cache: Mutex::new(HashMap::new()),
            config,
            pool: Arc::new(Pool::reopening(conns, reopen.clone())),
            writer: crate::writer::Writer::start(writer, reopen)?,
            registry: RwLock::new(registry),
            guideline,
            plans,
            numeric: iso_numeric(),
            generation: AtomicU64::new(1),
            stamps: Mutex::new(Some(stamps)),
            own_sites: Mutex::new((0, Vec::new())),
            started: std::time::Instant::now(),
            addr: Mutex::new(None),
        })))
    }

    /// The data generation cached answers are keyed on.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Puts sites written here (committed) into the in-memory registry.
    pub fn sites_written(&self, sites: impl IntoIterator<Item = farguard_model::Site>) {
        let mut reg = self.registry_mut();
        let mut own = match self.own_sites.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        for s in sites {
            let n = own.0;
            own.0 += 1;
            own.1.push((n, s.clone()));
            reg.upsert_site(s);
        }
        // Bounded: a reload that began before the oldest of these has long finished.
        if own.1.len() > 10_000 {
            let cut = own.1.len() - 10_000;
            own.1.drain(..cut);
        }
    }

    /// Marks cached answers stale after a change made here.
    pub fn changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.cache.clear();
    }

    /// Reads the store's change stamps and reloads what someone else changed:
    /// the registry (rebuilt off the async threads, swapped in at once),
    /// levels and incidents (cached copies dropped). Returns whether
    /// anything changed.
    pub async fn refresh(&self) -> Result<bool, ApiError> {
        let now = self.pool.run(|s| s.change_stamps()).await?;
        let before = self.stamps.lock().ok().and_then(|g| *g);
        if before == Some(now) {
            return Ok(false);
        }
        if before.is_none_or(|b| b.registry != now.registry) {
            let start = self.own_sites.lock().map_or(0, |g| g.0);
            let mut fresh = self.pool.run(Registry::load).await?;
            let mut reg = self.registry_mut();
            if let Ok(mut own) = self.own_sites.lock() {
                for (_, s) in own.1.iter().filter(|(n, _)| *n >= start) {
                    fresh.upsert_site(s.clone());
                }
                own.1.retain(|(n, _)| *n >= start);
            }
            *reg = fresh;
            drop(reg);
            tracing::info!(
                stamp = now.registry,
                "registry changed in the store: reloaded"
            );
        }
        if let Ok(mut g) = self.stamps.lock() {
            *g = Some(now);
        }
        self.changed();
        Ok(true)
    }

    /// Polls [`AppState::refresh`] every `config.watch_every` until the
    /// state is dropped (`run` starts it).
    pub fn watch(&self) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(&self.0);
        let every = self.config.watch_every;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                if let Err(e) = AppState(inner).refresh().await {
                    tracing::warn!(error = %crate::error::chain(&e), "cannot read the store's change stamps");
                }
            }
        })
    }

    /// Reads the registry (a poisoned lock still holds consistent data:
    /// writers replace whole entries).
    pub fn registry(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        match self.registry.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    pub fn registry_mut(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        match self.registry.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}
