//! API keys for programs: each user's keys (public id, secret encrypted at rest, memo, status,
//! expiry), their allowlists, rolling a secret with a grace period, and the checks of signed
//! calls (`calls`). Every change drops the key from this instance's cache at once.

pub mod allowlist;
pub mod calls;
pub mod format;
pub mod nonces;
pub mod signing;
pub mod store;

use calls::Calls;
use store::{AllowEntry, ApiKey, KeyStatus, NewKey};

use crate::config::Config;
use crate::crypto::Keys;
use crate::db::{Db, DbError, now_unix, on_unique};
use crate::shared::Redis;

/// A memo is a short note of the owner's, at most this many characters.
pub const MEMO_MAX: usize = 40;
/// How long the previous secret may keep working after a roll, at most.
pub const MAX_GRACE_SECS: i64 = 7 * 86_400;
/// The grace when the caller names none.
pub const DEFAULT_GRACE_SECS: i64 = 86_400;

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("no such API key")]
    NotFound,
    #[error("no such allowlist entry")]
    EntryNotFound,
    #[error("at most {0} active API keys per user")]
    TooManyKeys(u32),
    #[error("not an IP address or CIDR range")]
    InvalidIp,
    #[error("at most {} allowlist entries per key", allowlist::MAX_ENTRIES)]
    TooManyEntries,
    #[error("invalid {field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for KeysError {
    fn from(err: sqlx::Error) -> Self {
        Self::Db(err.into())
    }
}

type Result<T, E = KeysError> = std::result::Result<T, E>;

/// A key just made or rolled: the secret is shown this once.
#[derive(Debug, Clone)]
pub struct WithSecret {
    pub key: ApiKey,
    pub secret: String,
}

/// What an owner may change about a key.
#[derive(Debug, Clone, Default)]
pub struct KeyChange {
    pub memo: Option<String>,
    pub status: Option<KeyStatus>,
}

/// How an allowlist entry was added.
#[derive(Debug, Clone)]
pub struct Added {
    pub entry: AllowEntry,
    /// It was there already (the same address or range, in any spelling).
    pub existed: bool,
}

pub struct ApiKeys {
    db: Db,
    keys: Keys,
    per_user: u32,
    calls: Calls,
}

impl ApiKeys {
    pub fn new(config: &Config, db: Db, redis: Option<Redis>) -> Self {
        let keys = Keys::derive(&config.secret_key);
        let nonces = nonces::Nonces::new(redis, db.clone());
        Self {
            calls: Calls::new(db.clone(), keys.clone(), nonces),
            db,
            keys,
            per_user: config.keys.per_user,
        }
    }

    /// The checks of signed calls.
    pub fn calls(&self) -> &Calls {
        &self.calls
    }

    pub async fn list(&self, user_id: i64) -> Result<Vec<ApiKey>> {
        Ok(store::of_user(&self.db, user_id).await?)
    }

    /// One of the user's keys (another user's key answers as a missing one).
    pub async fn get(&self, user_id: i64, key_id: i64) -> Result<ApiKey> {
        let mut conn = self.db.pool().acquire().await?;
        store::owned(&self.db, &mut conn, user_id, key_id)
            .await?
            .ok_or(KeysError::NotFound)
    }

    /// A new key. The count of active keys and the insert happen under the owner's lock, so
    /// requests racing each other cannot pass the limit together.
    pub async fn create(
        &self,
        user_id: i64,
        memo: &str,
        expires_at: Option<i64>,
    ) -> Result<WithSecret> {
        let memo = checked_memo(memo)?;
        if expires_at.is_some_and(|at| at <= now_unix()) {
            return Err(KeysError::InvalidField {
                field: "expires_at",
                reason: "a time in the future".into(),
            });
        }
        let (access_key, secret) = (format::new_access_key(), format::new_secret());
        let sealed = self.keys.encrypt_key_secret(&secret);
        let mut tx = self.db.begin_write().await?;
        store::lock_owner(&self.db, &mut tx, user_id).await?;
        if store::count_active(&mut tx, user_id).await? >= i64::from(self.per_user) {
            return Err(KeysError::TooManyKeys(self.per_user));
        }
        let new = NewKey {
            user_id,
            access_key: &access_key,
            sealed_secret: &sealed,
            memo: &memo,
            expires_at,
        };
        let id = store::insert(&mut tx, new).await?;
        let key = store::owned(&self.db, &mut tx, user_id, id)
            .await?
            .ok_or(KeysError::NotFound)?;
        tx.commit().await?;
        tracing::info!(user_id, key_id = id, "API key created");
        Ok(WithSecret { key, secret })
    }

    /// Changes the memo or the status; activating a key counts against the limit.
    pub async fn update(&self, user_id: i64, key_id: i64, change: KeyChange) -> Result<ApiKey> {
        let mut tx = self.db.begin_write().await?;
        store::lock_owner(&self.db, &mut tx, user_id).await?;
        let key = store::owned(&self.db, &mut tx, user_id, key_id)
            .await?
            .ok_or(KeysError::NotFound)?;
        let memo = match change.memo {
            Some(memo) => checked_memo(&memo)?,
            None => key.memo.clone(),
        };
        let status = change.status.unwrap_or(key.status);
        let activating = status == KeyStatus::Active && key.status != KeyStatus::Active;
        if activating && store::count_active(&mut tx, user_id).await? >= i64::from(self.per_user) {
            return Err(KeysError::TooManyKeys(self.per_user));
        }
        store::update(&mut tx, key_id, &memo, status).await?;
        let key = store::owned(&self.db, &mut tx, user_id, key_id)
            .await?
            .ok_or(KeysError::NotFound)?;
        tx.commit().await?;
        self.calls.forget(&key.access_key);
        Ok(key)
    }

    pub async fn delete(&self, user_id: i64, key_id: i64) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let key = store::owned(&self.db, &mut tx, user_id, key_id)
            .await?
            .ok_or(KeysError::NotFound)?;
        store::delete(&mut tx, key_id).await?;
        tx.commit().await?;
        self.calls.forget(&key.access_key);
        tracing::info!(user_id, key_id, "API key deleted");
        Ok(())
    }

    /// A new secret, shown once; the old one keeps working for `grace_secs` (0 to 7 days).
    pub async fn roll(&self, user_id: i64, key_id: i64, grace_secs: i64) -> Result<WithSecret> {
        if !(0..=MAX_GRACE_SECS).contains(&grace_secs) {
            return Err(KeysError::InvalidField {
                field: "grace_seconds",
                reason: format!("0 to {MAX_GRACE_SECS}"),
            });
        }
        let secret = format::new_secret();
        let sealed = self.keys.encrypt_key_secret(&secret);
        let until = (grace_secs > 0).then(|| now_unix() + grace_secs);
        let mut tx = self.db.begin_write().await?;
        store::owned(&self.db, &mut tx, user_id, key_id)
            .await?
            .ok_or(KeysError::NotFound)?;
        store::roll(&mut tx, key_id, &sealed, until).await?;
        let key = store::owned(&self.db, &mut tx, user_id, key_id)
            .await?
            .ok_or(KeysError::NotFound)?;
        tx.commit().await?;
        self.calls.forget(&key.access_key);
        tracing::info!(user_id, key_id, grace_secs, "API key secret rolled");
        Ok(WithSecret { key, secret })
    }

    pub async fn allowlist(&self, user_id: i64, key_id: i64) -> Result<Vec<AllowEntry>> {
        let mut conn = self.db.pool().acquire().await?;
        store::owned(&self.db, &mut conn, user_id, key_id)
            .await?
            .ok_or(KeysError::NotFound)?;
        Ok(store::allowlist(&mut conn, key_id).await?)
    }

    /// Adds an address or range (at most ten per key); one already there is answered again.
    pub async fn allow(&self, user_id: i64, key_id: i64, raw: &str) -> Result<Added> {
        let ip = allowlist::canonical(raw).ok_or(KeysError::InvalidIp)?;
        let mut tx = self.db.begin_write().await?;
        let key = store::owned(&self.db, &mut tx, user_id, key_id)
            .await?
            .ok_or(KeysError::NotFound)?;
        let entries = store::allowlist(&mut tx, key_id).await?;
        if let Some(entry) = entries.iter().find(|e| e.ip_address == ip) {
            return Ok(Added {
                entry: entry.clone(),
                existed: true,
            });
        }
        if entries.len() >= allowlist::MAX_ENTRIES {
            return Err(KeysError::TooManyEntries);
        }
        let id = store::add_entry(&mut tx, key_id, &ip)
            .await
            .map_err(|err| on_unique(err, KeysError::TooManyEntries))?;
        let entry = store::allowlist(&mut tx, key_id)
            .await?
            .into_iter()
            .find(|e| e.id == id)
            .ok_or(KeysError::EntryNotFound)?;
        tx.commit().await?;
        self.calls.forget(&key.access_key);
        Ok(Added {
            entry,
            existed: false,
        })
    }

    pub async fn disallow(&self, user_id: i64, key_id: i64, entry_id: i64) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let key = store::owned(&self.db, &mut tx, user_id, key_id)
            .await?
            .ok_or(KeysError::NotFound)?;
        if !store::remove_entry(&mut tx, key_id, entry_id).await? {
            return Err(KeysError::EntryNotFound);
        }
        tx.commit().await?;
        self.calls.forget(&key.access_key);
        Ok(())
    }
}

/// A memo of at most 40 printable characters (trimmed).
fn checked_memo(memo: &str) -> Result<String> {
    let memo = memo.trim();
    if memo.chars().count() > MEMO_MAX || memo.chars().any(char::is_control) {
        return Err(KeysError::InvalidField {
            field: "user_memo",
            reason: format!("at most {MEMO_MAX} printable characters"),
        });
    }
    Ok(memo.to_owned())
}
