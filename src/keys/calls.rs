//! Who is calling `/api/v1/services`: the v1 and v2 checks, in the order the seed's callers
//! know, over a short-lived cache of keys so the hot path does not query the database.
//!
//! The cache holds each key (secrets decrypted, owner's status, allowlist) for at most
//! `CACHE_TTL`. A change made through this instance (disable, roll, delete, an allowlist
//! edit, blocking the owner) drops the entry at once; other instances see it within the TTL.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use ipnet::IpNet;

use super::nonces::Nonces;
use super::signing::{self, V1_WINDOW_SECS, V2_WINDOW_SECS, V2Request};
use super::store::{self, KeyStatus};
use crate::cache::TtlCache;
use crate::crypto::Keys;
use crate::db::{Db, DbError, now_unix};

/// How long a cached key may be used before it is read again (the bound on how late another
/// instance sees a change).
pub const CACHE_TTL: Duration = Duration::from_secs(5);
/// Keys the cache holds at most (unknown keys included); past it, it starts afresh.
const CACHE_MAX: usize = 10_000;
/// `last_used_at` is written at most this often per key (and instance).
const LAST_USED_EVERY: i64 = 60;

/// The verified caller of a signed request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: i64,
    pub access_key: String,
    pub user_id: i64,
    pub email: Option<String>,
    pub scheme: Scheme,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    V1,
    V2,
}

/// Why a signed call is refused, in the order the checks run.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("the query string must be key=...&timestamp=... and nothing else")]
    BadQuery,
    #[error("the signature is missing or malformed: {0}")]
    MissingSignature(&'static str),
    #[error("a v2 call needs the {0} header")]
    MissingHeader(&'static str),
    #[error("no such API key")]
    UnknownKey,
    #[error("the key's owner does not exist")]
    UnknownOwner,
    #[error("the signature does not match")]
    BadSignature,
    #[error("the timestamp is outside the window of {0} seconds")]
    OutOfWindow(i64),
    #[error("this nonce was used before")]
    Replayed,
    /// Disabled or expired key, blocked owner, or an address not on the allowlist: one answer
    /// for all, so a caller learns nothing about the allowlist.
    #[error("this key cannot be used for this request")]
    Refused,
    #[error(transparent)]
    ReplayCheck(#[from] super::nonces::NonceUnavailable),
    #[error(transparent)]
    Db(#[from] DbError),
}

struct CachedKey {
    id: i64,
    user_id: i64,
    access_key: String,
    email: Option<String>,
    owner: String,
    usable: bool,
    expires_at: Option<i64>,
    secret: String,
    previous: Option<(String, i64)>,
    allowlist: Vec<IpNet>,
    last_used_written: AtomicI64,
}

impl CachedKey {
    /// The secrets that sign now: the current one, and the previous one during a roll.
    fn secrets(&self, now: i64) -> impl Iterator<Item = &str> {
        let previous = self
            .previous
            .as_ref()
            .filter(|(_, until)| *until > now)
            .map(|(s, _)| s.as_str());
        std::iter::once(self.secret.as_str()).chain(previous)
    }
}

pub struct Calls {
    db: Db,
    keys: Keys,
    nonces: Nonces,
    /// Access key -> the key, or `None` for no such key (cached too, so a flood of unknown
    /// keys does not reach the database more than once per key and TTL).
    cache: TtlCache<String, Arc<Option<CachedKey>>>,
}

/// A v2 call as it arrived.
pub struct V2Call<'a> {
    pub request: V2Request<'a>,
    pub key: &'a str,
    pub signature: &'a str,
}

impl Calls {
    pub fn new(db: Db, keys: Keys, nonces: Nonces) -> Self {
        Self {
            db,
            keys,
            nonces,
            cache: TtlCache::new(CACHE_TTL, CACHE_MAX),
        }
    }

    /// Drops a key from this instance's cache (after any change to it).
    pub fn forget(&self, access_key: &str) {
        self.cache.forget(access_key);
    }

    /// Drops every key of a user (their status changed).
    pub fn forget_user(&self, user_id: i64) {
        self.cache
            .retain(|_, key| key.as_ref().as_ref().is_none_or(|k| k.user_id != user_id));
    }

    /// v1: `raw_query` must be `key=..&timestamp=..` only; `secret` is the header.
    pub async fn verify_v1(
        &self,
        raw_query: &str,
        secret: Option<&str>,
        ip: IpAddr,
    ) -> Result<Caller, CallError> {
        let (access_key, timestamp) = v1_parts(raw_query).ok_or(CallError::BadQuery)?;
        let signature = secret.ok_or(CallError::MissingSignature("send the `secret` header"))?;
        let key = self.key(access_key).await?;
        let now = now_unix();
        if !key
            .secrets(now)
            .any(|s| signing::v1_verify(s, raw_query, signature))
        {
            return Err(CallError::BadSignature);
        }
        let within = now - V1_WINDOW_SECS < timestamp && timestamp < now + V1_WINDOW_SECS;
        if !within {
            return Err(CallError::OutOfWindow(V1_WINDOW_SECS));
        }
        self.admit(&key, ip, now, Scheme::V1)
    }

    /// v2: the signature headers and the request they cover.
    pub async fn verify_v2(&self, call: &V2Call<'_>, ip: IpAddr) -> Result<Caller, CallError> {
        let missing = [
            (call.key, "Herald-Key"),
            (call.request.timestamp, "Herald-Timestamp"),
            (call.request.nonce, "Herald-Nonce"),
            (call.signature, "Herald-Signature"),
        ]
        .into_iter()
        .find(|(value, _)| value.is_empty());
        if let Some((_, header)) = missing {
            return Err(CallError::MissingHeader(header));
        }
        if !signing::valid_nonce(call.request.nonce) {
            return Err(CallError::MissingSignature(
                "Herald-Nonce must be 16 to 64 characters of A-Z a-z 0-9 - _",
            ));
        }
        let timestamp: i64 =
            call.request.timestamp.parse().map_err(|_| {
                CallError::MissingSignature("Herald-Timestamp must be Unix seconds")
            })?;
        let key = self.key(call.key).await?;
        let now = now_unix();
        if !key
            .secrets(now)
            .any(|s| signing::v2_verify(s, &call.request, call.signature))
        {
            return Err(CallError::BadSignature);
        }
        if (now - timestamp).abs() > V2_WINDOW_SECS {
            return Err(CallError::OutOfWindow(V2_WINDOW_SECS));
        }
        if !self.nonces.claim(key.id, call.request.nonce).await? {
            return Err(CallError::Replayed);
        }
        self.admit(&key, ip, now, Scheme::V2)
    }

    /// The checks after the signature, all answered alike; then the caller.
    fn admit(
        &self,
        key: &CachedKey,
        ip: IpAddr,
        now: i64,
        scheme: Scheme,
    ) -> Result<Caller, CallError> {
        let expired = key.expires_at.is_some_and(|at| at <= now);
        let allowed = super::allowlist::allows(&key.allowlist, ip);
        if !key.usable || expired || key.owner != "active" || !allowed {
            return Err(CallError::Refused);
        }
        self.note_use(key, now, ip);
        Ok(Caller {
            key_id: key.id,
            access_key: key.access_key.clone(),
            user_id: key.user_id,
            email: key.email.clone(),
            scheme,
        })
    }

    /// Writes `last_used_at`/`last_used_ip` in the background, at most once a minute per key.
    fn note_use(&self, key: &CachedKey, now: i64, ip: IpAddr) {
        let last = key.last_used_written.load(Ordering::Relaxed);
        if now - last < LAST_USED_EVERY
            || key
                .last_used_written
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let (db, id, ip) = (self.db.clone(), key.id, ip.to_string());
        tokio::spawn(async move {
            if let Err(err) = store::mark_used(&db, id, now, &ip).await {
                tracing::warn!(target: "db", key_id = id, error = %err, "last use of a key not recorded");
            }
        });
    }

    /// The key from the cache, or read (and cached) when missing or older than the TTL.
    async fn key(&self, access_key: &str) -> Result<CachedKeyRef, CallError> {
        let cached = match self.cache.get(access_key) {
            Some(cached) => cached,
            None => {
                let fresh = Arc::new(self.read(access_key).await?);
                self.cache.put(access_key.to_owned(), fresh.clone());
                fresh
            }
        };
        match cached.as_ref() {
            None => Err(CallError::UnknownKey),
            Some(key) if key.owner == "deleted" => Err(CallError::UnknownOwner),
            Some(_) => Ok(CachedKeyRef(cached)),
        }
    }

    async fn read(&self, access_key: &str) -> Result<Option<CachedKey>, DbError> {
        let Some(found) = store::for_call(&self.db, access_key).await? else {
            return Ok(None);
        };
        // A secret that no longer decrypts (SECRET_KEY changed) signs nothing.
        let unseal = |sealed: &str| self.keys.decrypt_key_secret(sealed).unwrap_or_default();
        let previous = found
            .previous_secret
            .as_deref()
            .zip(found.key.previous_until)
            .map(|(sealed, until)| (unseal(sealed), until));
        Ok(Some(CachedKey {
            id: found.key.id,
            user_id: found.key.user_id,
            email: found.owner_email,
            owner: found.owner_status,
            usable: found.key.status == KeyStatus::Active,
            expires_at: found.key.expires_at,
            secret: unseal(&found.secret),
            previous,
            allowlist: super::allowlist::nets(&found.allowlist),
            last_used_written: AtomicI64::new(found.key.last_used_at.unwrap_or(0)),
            access_key: found.key.access_key,
        }))
    }
}

/// A cached entry known to hold a key.
struct CachedKeyRef(Arc<Option<CachedKey>>);

impl std::ops::Deref for CachedKeyRef {
    type Target = CachedKey;
    fn deref(&self) -> &CachedKey {
        self.0.as_ref().as_ref().expect("checked when made")
    }
}

/// `key` and `timestamp` from a v1 query string holding those two and nothing else.
fn v1_parts(raw_query: &str) -> Option<(&str, i64)> {
    let mut key = None;
    let mut timestamp = None;
    for pair in raw_query.split('&') {
        let (name, value) = pair.split_once('=')?;
        let slot = match name {
            "key" => &mut key,
            "timestamp" => &mut timestamp,
            _ => return None,
        };
        if slot.replace(value).is_some() {
            return None;
        }
    }
    let key = key.filter(|k| !k.is_empty() && k.len() <= 128)?;
    Some((key, timestamp?.parse().ok()?))
}
