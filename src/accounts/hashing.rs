//! Where password hashing runs: on the blocking pool (argon2 would stall the async workers),
//! a bounded number at a time (each call takes 19 MiB and real CPU), in two lanes.
//!
//! Sign-in has a lane of its own. Everything else (registration, password reset, setting a
//! password) shares the other lane, which may use at most half of the hashing threads and
//! queue a few calls; past that it answers "busy" at once. A flood of reset requests can
//! therefore slow itself down, never sign-in.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Semaphore;

use super::password::{self, Verdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    SignIn,
    Other,
}

/// Too much hashing is queued already; the caller should answer 503 and let the client retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

pub struct Hasher {
    /// Every hash running at once.
    running: Arc<Semaphore>,
    /// Of those, the ones the other lane may hold.
    other_running: Arc<Semaphore>,
    /// Calls admitted (running or queued) per lane; a full lane answers `Busy`.
    sign_in_admitted: Arc<Semaphore>,
    other_admitted: Arc<Semaphore>,
    /// Calls that ran (a gauge for tests and metrics).
    runs: AtomicU64,
}

impl Default for Hasher {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::new(cores * 2, 128, 16)
    }
}

impl Hasher {
    /// `threads` hashes at once (the other lane at most half), `sign_in_queue` and
    /// `other_queue` calls admitted per lane.
    pub fn new(threads: usize, sign_in_queue: usize, other_queue: usize) -> Self {
        let threads = threads.max(2);
        Self {
            running: Arc::new(Semaphore::new(threads)),
            other_running: Arc::new(Semaphore::new(threads / 2)),
            sign_in_admitted: Arc::new(Semaphore::new(sign_in_queue.max(1))),
            other_admitted: Arc::new(Semaphore::new(other_queue.max(1))),
            runs: AtomicU64::new(0),
        }
    }

    pub async fn hash(&self, lane: Lane, password: String) -> Result<String, Busy> {
        self.run(lane, move || password::hash(&password)).await
    }

    pub async fn verify(
        &self,
        lane: Lane,
        password: String,
        stored: Option<String>,
    ) -> Result<Verdict, Busy> {
        self.run(lane, move || password::verify(&password, stored.as_deref()))
            .await
    }

    /// How many calls have run so far.
    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    /// Runs `work` on the blocking pool in `lane`, or answers `Busy` when the lane is full.
    pub async fn run<T: Send + 'static>(
        &self,
        lane: Lane,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let admitted = match lane {
            Lane::SignIn => &self.sign_in_admitted,
            Lane::Other => &self.other_admitted,
        };
        let admitted = admitted.clone().try_acquire_owned().map_err(|_| Busy)?;
        let other = match lane {
            Lane::Other => Some(
                self.other_running
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| Busy)?,
            ),
            Lane::SignIn => None,
        };
        let running = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Busy)?;
        self.runs.fetch_add(1, Ordering::Relaxed);
        // The permits go with the work: if the request is dropped meanwhile (the client left,
        // the request timed out), the hash still holds its place until it really finishes.
        // The request's span goes along too, so anything logged there carries its id.
        let span = tracing::Span::current();
        Ok(tokio::task::spawn_blocking(move || {
            let _permits = (admitted, other, running);
            span.in_scope(work)
        })
        .await
        .expect("password hashing does not panic"))
    }
}
