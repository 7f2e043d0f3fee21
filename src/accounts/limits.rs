//! In-memory abuse limits: fixed windows of counted events per key (an IP, an e-mail).
//! They are per process: behind several instances each enforces its own share.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most `max` events per key per `window`.
pub struct Limiter {
    max: u32,
    window: Duration,
    hits: Mutex<HashMap<String, (Instant, u32)>>,
}

/// Entries beyond this trigger a sweep of expired windows, bounding memory under attack.
const SWEEP_AT: usize = 10_000;

impl Limiter {
    pub fn new(max: u32, window: Duration) -> Self {
        Self {
            max,
            window,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds to wait)` when `key` has used up its window.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let hits = self.hits.lock().expect("limiter lock");
        match hits.get(key) {
            Some((start, count)) if *count >= self.max && start.elapsed() < self.window => {
                Err((self.window - start.elapsed()).as_secs().max(1))
            }
            _ => Ok(()),
        }
    }

    /// Counts one event for `key`.
    pub fn hit(&self, key: &str) {
        let mut hits = self.hits.lock().expect("limiter lock");
        if hits.len() >= SWEEP_AT {
            let window = self.window;
            hits.retain(|_, (start, _)| start.elapsed() < window);
        }
        let entry = hits.entry(key.to_owned()).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= self.window {
            *entry = (Instant::now(), 0);
        }
        entry.1 += 1;
    }

    /// `check` then `hit`: for limits on requests rather than on failures.
    pub fn take(&self, key: &str) -> Result<(), u64> {
        self.check(key)?;
        self.hit(key);
        Ok(())
    }

    pub fn reset(&self, key: &str) {
        self.hits.lock().expect("limiter lock").remove(key);
    }
}

/// The limits of the account flows.
pub struct Limits {
    /// Sign-in attempts per IP.
    pub login_ip: Limiter,
    /// Failed sign-ins per e-mail: the temporary account lock.
    pub login_failures: Limiter,
    pub register_ip: Limiter,
    /// Password-reset and verification e-mails per IP and per address.
    pub email_ip: Limiter,
    pub email_address: Limiter,
}

impl Default for Limits {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(60 * m);
        Self {
            login_ip: Limiter::new(30, minutes(10)),
            login_failures: Limiter::new(5, minutes(15)),
            register_ip: Limiter::new(10, minutes(60)),
            email_ip: Limiter::new(10, minutes(60)),
            email_address: Limiter::new(3, minutes(60)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_stopped_after_max_events_and_others_are_not() {
        let limiter = Limiter::new(2, Duration::from_secs(60));
        assert!(limiter.take("a").is_ok());
        assert!(limiter.take("a").is_ok());
        let wait = limiter.take("a").unwrap_err();
        assert!((1..=60).contains(&wait));
        assert!(limiter.take("b").is_ok());
        limiter.reset("a");
        assert!(limiter.take("a").is_ok());
    }

    #[test]
    fn windows_expire() {
        let limiter = Limiter::new(1, Duration::from_millis(30));
        limiter.hit("a");
        assert!(limiter.check("a").is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert!(limiter.take("a").is_ok());
    }
}
