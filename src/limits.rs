//! Abuse limits: at most `max` events per key in a fixed window.
//!
//! Every event is counted *before* the work it guards (a password hash, an e-mail), in one
//! atomic step, so a burst of concurrent requests cannot all pass a check that only later
//! counts them. Keys are hashes of bounded, parsed values (an account id, an IP or its IPv6
//! /64), never the raw input, and each store holds at most `MAX_KEYS` of them: nothing an
//! unauthenticated caller sends can grow memory without bound. With `REDIS_URL`, the counts
//! live in Redis, shared by every instance, and expire there with their window.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::shared::{Redis, SharedError};

/// One kind of limit: its name (part of every key) and its budget.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub name: &'static str,
    pub max: u32,
    pub window: Duration,
}

impl Limit {
    pub const fn new(name: &'static str, max: u32, window_secs: u64) -> Self {
        Self {
            name,
            max,
            window: Duration::from_secs(window_secs),
        }
    }

    /// The key for `parts` under this limit: a fixed-size hash, whatever the parts' length.
    pub fn key(&self, parts: &[&str]) -> Key {
        let mut hash = Sha256::new();
        hash.update(self.name.as_bytes());
        for part in parts {
            hash.update([0]);
            hash.update(part.as_bytes());
        }
        let mut key = [0u8; 16];
        key.copy_from_slice(&hash.finalize()[..16]);
        Key(key)
    }
}

/// A counted key. 16 bytes whatever it was made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key([u8; 16]);

impl Key {
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Refused: try again after this many seconds (at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

/// How an IP address counts: IPv4 as itself, IPv6 by its /64 (one subscriber's whole
/// allocation), IPv4-mapped IPv6 as the IPv4 address.
pub fn ip_subject(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// Keys one store keeps at most; past it, expired windows go first, then the oldest.
pub const MAX_KEYS: usize = 100_000;

/// Counters in this process's memory (one instance; several instances share Redis instead).
pub struct MemoryStore {
    windows: Mutex<HashMap<Key, Window>>,
    max_keys: usize,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    window: Duration,
    count: u32,
}

impl Window {
    fn expired(&self, now: Instant) -> bool {
        now.duration_since(self.started) >= self.window
    }

    fn retry_after(&self, now: Instant) -> RetryAfter {
        let left = self.window.saturating_sub(now.duration_since(self.started));
        RetryAfter(left.as_secs_f64().ceil().max(1.0) as u64)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::with_capacity(MAX_KEYS)
    }
}

impl MemoryStore {
    pub fn with_capacity(max_keys: usize) -> Self {
        Self {
            windows: Mutex::new(HashMap::new()),
            max_keys,
        }
    }

    /// Counts one event unless the window is full: check and count in one step.
    pub fn take(&self, limit: &Limit, key: Key) -> Result<(), RetryAfter> {
        let now = Instant::now();
        let mut windows = self.windows.lock().expect("limit lock");
        if !windows.contains_key(&key) && windows.len() >= self.max_keys {
            make_room(&mut windows, now);
        }
        let window = windows.entry(key).or_insert(Window {
            started: now,
            window: limit.window,
            count: 0,
        });
        if window.expired(now) {
            *window = Window {
                started: now,
                window: limit.window,
                count: 0,
            };
        }
        if window.count >= limit.max {
            return Err(window.retry_after(now));
        }
        window.count += 1;
        Ok(())
    }

    /// Gives back one counted event (the work it guarded did not happen, or succeeded).
    pub fn refund(&self, key: Key) {
        let mut windows = self.windows.lock().expect("limit lock");
        if let Some(window) = windows.get_mut(&key) {
            window.count = window.count.saturating_sub(1);
        }
    }

    pub fn reset(&self, key: Key) {
        self.windows.lock().expect("limit lock").remove(&key);
    }

    pub fn len(&self) -> usize {
        self.windows.lock().expect("limit lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Drops expired windows; if that freed nothing, the oldest hundredth (only under a flood of
/// keys for this one limit: each limit has a store of its own, so flooding one cannot evict
/// another's counts).
fn make_room(windows: &mut HashMap<Key, Window>, now: Instant) {
    let before = windows.len();
    windows.retain(|_, w| !w.expired(now));
    if windows.len() < before || windows.is_empty() {
        return;
    }
    let mut oldest: Vec<(Instant, Key)> = windows.iter().map(|(k, w)| (w.started, *k)).collect();
    // A hundredth at a time, so a flood pays for this scan once per many new keys.
    let excess = (oldest.len() / 100 + 1).min(oldest.len());
    oldest.select_nth_unstable_by_key(excess - 1, |(started, _)| *started);
    for (_, key) in oldest.into_iter().take(excess) {
        windows.remove(&key);
    }
}

/// The limits every domain uses. With Redis, every instance counts in the same place; when
/// Redis fails, counting goes on in this process's memory (a warning says so) rather than
/// letting everything through or stopping sign-in.
#[derive(Default)]
pub struct Limiter {
    /// One store per limit, created on first use.
    stores: Mutex<HashMap<&'static str, Arc<MemoryStore>>>,
    redis: Option<Redis>,
    /// When the last fall-back warning was logged (one a minute is enough).
    warned: Mutex<Option<Instant>>,
}

impl Limiter {
    pub fn new(redis: Option<Redis>) -> Self {
        Self {
            redis,
            ..Self::default()
        }
    }

    fn store(&self, limit: &Limit) -> Arc<MemoryStore> {
        let mut stores = self.stores.lock().expect("limit lock");
        stores.entry(limit.name).or_default().clone()
    }

    /// Counts one event for `parts` under `limit`; refuses when the window is full.
    pub async fn take(&self, limit: &Limit, parts: &[&str]) -> Result<Ticket, RetryAfter> {
        let key = limit.key(parts);
        if let Some(redis) = &self.redis {
            match redis
                .take(&redis_key(limit.name, key), limit.max, limit.window)
                .await
            {
                Ok(answer) => {
                    return answer.map(|()| Ticket {
                        limit: limit.name,
                        key,
                        shared: true,
                    });
                }
                Err(err) => self.fall_back(&err),
            }
        }
        self.store(limit).take(limit, key)?;
        Ok(Ticket {
            limit: limit.name,
            key,
            shared: false,
        })
    }

    /// Gives back the event a ticket counted.
    pub async fn refund(&self, ticket: Ticket) {
        if ticket.shared
            && let Some(redis) = &self.redis
        {
            if let Err(err) = redis.refund(&redis_key(ticket.limit, ticket.key)).await {
                self.fall_back(&err);
            }
            return;
        }
        let store = self
            .stores
            .lock()
            .expect("limit lock")
            .get(ticket.limit)
            .cloned();
        if let Some(store) = store {
            store.refund(ticket.key);
        }
    }

    /// Forgets every event counted for `parts` under `limit`, wherever it was counted.
    pub async fn reset(&self, limit: &Limit, parts: &[&str]) {
        let key = limit.key(parts);
        if let Some(redis) = &self.redis
            && let Err(err) = redis.reset(&redis_key(limit.name, key)).await
        {
            self.fall_back(&err);
        }
        self.store(limit).reset(key);
    }

    /// Keys held in this process's memory over every limit (for tests of the bound).
    pub fn memory_keys(&self) -> usize {
        let stores = self.stores.lock().expect("limit lock");
        stores.values().map(|s| s.len()).sum()
    }

    fn fall_back(&self, err: &SharedError) {
        let mut warned = self.warned.lock().expect("limit lock");
        if warned.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
            *warned = Some(Instant::now());
            tracing::warn!(
                error = %err,
                "Redis is unavailable: limits are counted in this process's memory meanwhile"
            );
        }
    }
}

fn redis_key(limit: &str, key: Key) -> String {
    format!("limit:{limit}:{}", key.hex())
}

/// Proof that an event was counted; `Limiter::refund` gives it back.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    limit: &'static str,
    key: Key,
    /// Counted in Redis (else in this process).
    shared: bool,
}
