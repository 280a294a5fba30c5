//! The one writer: every write the API makes runs here, on one store
//! connection in one thread, with group commit.
//!
//! Design note. Requests hand the writer a job (a closure over the store)
//! and wait for its answer. The writer takes every job that is waiting —
//! one, or all that arrived while the previous batch committed — opens one
//! unit of work, runs each job in its own savepoint (a job that fails
//! undoes only its own writes) and commits once. Only then does any job's
//! caller get its answer, so an answer is never given for a write that is
//! not durable; when the commit fails, every job of the batch answers an
//! error. A write and its audit entry are one job, so they commit together
//! or not at all. One writer means the server's writes never contend for
//! SQLite's write lock (the cause of long waits in the busy handler), and
//! batching spreads one commit over many answers. The queue is bounded: a
//! full queue answers 503 at once instead of piling up latency. A lost
//! connection (PostgreSQL restarted, the session was ended) is replaced
//! by a new one when the writer can open one: at once when a batch cannot
//! begin — the batch then runs on the new connection — and after a batch
//! whose commit failed with it.

use crate::error::{ApiError, ApiResult};
use farguard_store::{Store, StoreError};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, mpsc};

/// Opens a new connection to the same store, in place of a lost one.
pub type Reopen = Arc<dyn Fn() -> Result<Box<dyn Store>, StoreError> + Send + Sync>;

/// Replaces `store` with a new connection after `e` when `e` says the
/// connection is lost and a new one opens; returns whether it did.
pub(crate) fn reconnect(
    store: &mut Box<dyn Store>,
    reopen: Option<&Reopen>,
    e: &StoreError,
    who: &str,
) -> bool {
    let Some(reopen) = reopen.filter(|_| e.is_connection_lost()) else {
        return false;
    };
    match reopen() {
        Ok(fresh) => {
            let lost = std::mem::replace(store, fresh);
            // Closing the old client talks to its runtime: not on an async worker.
            drop(lost);
            tracing::warn!(connection = who, error = %crate::error::chain(e), "store connection lost: reconnected");
            true
        }
        Err(again) => {
            tracing::error!(connection = who, error = %crate::error::chain(e), reopen = %crate::error::chain(&again), "store connection lost and cannot reconnect yet");
            false
        }
    }
}

/// Jobs waiting before new writes are refused with 503.
const QUEUE: usize = 8192;
/// Most jobs in one transaction (bounds how long the write lock is held).
const MAX_BATCH: usize = 512;

/// Called after the batch's commit with whether it committed.
type Done = Box<dyn FnOnce(Result<(), String>) + Send>;
/// Runs in the open unit (`Some`), or answers without running (`None`:
/// the batch could not begin).
type Job = Box<dyn FnOnce(Option<&mut dyn Store>) -> Done + Send>;

/// The writer thread's mailbox.
pub struct Writer {
    tx: mpsc::SyncSender<Job>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

/// Group-commit counters, for `/metrics`.
fn record_batch(n: usize, committed: bool) {
    metrics::counter!("farguard_write_batches_total", "committed" => if committed { "true" } else { "false" }).increment(1);
    metrics::histogram!("farguard_write_batch_jobs").record(n as f64);
}

impl Writer {
    /// Starts the writer thread on `store`; it ends when the last `Writer`
    /// handle is dropped, after finishing the jobs already queued. With
    /// `reopen` a lost connection is replaced.
    pub fn start(mut store: Box<dyn Store>, reopen: Option<Reopen>) -> std::io::Result<Writer> {
        let (tx, rx) = mpsc::sync_channel::<Job>(QUEUE);
        std::thread::Builder::new()
            .name("farguard-writer".into())
            .spawn(move || {
                let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
                while let Ok(first) = rx.recv() {
                    batch.push(first);
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(j) => batch.push(j),
                            Err(_) => break,
                        }
                    }
                    run_batch(&mut store, reopen.as_ref(), &mut batch);
                }
            })?;
        Ok(Writer { tx })
    }

    /// Runs `f` in the next batch and answers once that batch committed.
    /// Everything `f` writes (and audits) is one savepoint: on an error
    /// nothing of it is kept.
    pub async fn run<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Store) -> ApiResult<T> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel::<ApiResult<T>>();
        let job: Job = Box::new(move |s: Option<&mut dyn Store>| {
            let r = match s {
                Some(s) => in_savepoint(s, f),
                None => Err(ApiError::Unavailable(
                    "the store cannot take writes right now; nothing was stored: try again".into(),
                )),
            };
            Box::new(move |committed: Result<(), String>| {
                let out = match (r, committed) {
                    (Err(e), _) => Err(e),
                    (Ok(v), Ok(())) => Ok(v),
                    (Ok(_), Err(why)) => Err(ApiError::Unavailable(format!(
                        "the write could not be committed ({why}); nothing was stored: try again"
                    ))),
                };
                let _ = reply.send(out);
            })
        });
        self.tx.try_send(job).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => {
                ApiError::Unavailable("too many writes are waiting: try again shortly".into())
            }
            mpsc::TrySendError::Disconnected(_) => {
                ApiError::Unavailable("the writer has stopped".into())
            }
        })?;
        answer
            .await
            .map_err(|_| ApiError::Unavailable("the writer has stopped".into()))?
    }
}

/// One job in a savepoint; a panic in the job is caught, its writes undone
/// and answered as an internal error (the writer carries on).
fn in_savepoint<T>(
    s: &mut dyn Store,
    f: impl FnOnce(&mut dyn Store) -> ApiResult<T>,
) -> ApiResult<T> {
    s.savepoint()?;
    let r = match std::panic::catch_unwind(AssertUnwindSafe(|| f(&mut *s))) {
        Ok(r) => r,
        Err(_) => Err(ApiError::internal(
            "a write job panicked",
            std::io::Error::other("panic in write job"),
        )),
    };
    match r {
        Ok(v) => {
            s.release_savepoint()?;
            Ok(v)
        }
        Err(e) => {
            s.rollback_savepoint()?;
            Err(e)
        }
    }
}

fn run_batch(store: &mut Box<dyn Store>, reopen: Option<&Reopen>, batch: &mut Vec<Job>) {
    let n = batch.len();
    let begun = match store.begin_unit() {
        Err(e) if reconnect(store, reopen, &e, "writer") => store.begin_unit(),
        r => r,
    };
    if let Err(e) = begun {
        let why = crate::error::chain(&e);
        tracing::error!(error = %why, jobs = n, "cannot begin a write batch");
        for job in batch.drain(..) {
            job(None)(Err(why.clone()));
        }
        record_batch(n, false);
        return;
    }
    let mut dones: Vec<Done> = Vec::with_capacity(n);
    for job in batch.drain(..) {
        dones.push(job(Some(store.as_mut())));
    }
    let committed = store.commit_unit().map_err(|e| {
        let why = crate::error::chain(&e);
        tracing::error!(error = %why, jobs = n, "a write batch did not commit: nothing of it was stored");
        let _ = store.rollback_unit();
        reconnect(store, reopen, &e, "writer");
        why
    });
    record_batch(n, committed.is_ok());
    for d in dones {
        d(committed.clone());
    }
}
