//! Where password hashing runs: on the blocking pool (argon2 would stall the async workers),
//! a bounded number at a time (each call takes 19 MiB and real CPU), in two lanes.
//!
//! Sign-in has a lane of its own. Everything else (registration, password reset, setting a
//! password) shares the other lane, which may use at most half of the hashing threads and
//! queue a few calls; past that it answers "busy" at once. A flood of reset requests can
//! therefore slow itself down, never sign-in.

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
    running: Semaphore,
    /// Of those, the ones the other lane may hold.
    other_running: Semaphore,
    /// Calls admitted (running or queued) per lane; a full lane answers `Busy`.
    sign_in_admitted: Semaphore,
    other_admitted: Semaphore,
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
            running: Semaphore::new(threads),
            other_running: Semaphore::new(threads / 2),
            sign_in_admitted: Semaphore::new(sign_in_queue.max(1)),
            other_admitted: Semaphore::new(other_queue.max(1)),
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

    async fn run<T: Send + 'static>(
        &self,
        lane: Lane,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let admitted = match lane {
            Lane::SignIn => &self.sign_in_admitted,
            Lane::Other => &self.other_admitted,
        };
        let _admitted = admitted.try_acquire().map_err(|_| Busy)?;
        let _other = match lane {
            Lane::Other => Some(self.other_running.acquire().await.map_err(|_| Busy)?),
            Lane::SignIn => None,
        };
        let _running = self.running.acquire().await.map_err(|_| Busy)?;
        Ok(tokio::task::spawn_blocking(work)
            .await
            .expect("password hashing does not panic"))
    }
}
