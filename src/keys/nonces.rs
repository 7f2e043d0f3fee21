//! Replay protection for v2 calls: a nonce is accepted once per key for as long as a signature
//! with it could still be inside the window. In Redis when `REDIS_URL` is set (one `SET NX`),
//! else in the database (one guarded insert): either way every instance sees every nonce.
//! When the store cannot answer, the call is refused: a replay must never get through.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::crypto::sha256_hex;
use crate::db::{Db, now_unix};
use crate::shared::Redis;

use super::signing::V2_WINDOW_SECS;

/// A nonce is remembered for the whole span a signed timestamp may cover (before and after).
const REMEMBER: Duration = Duration::from_secs(2 * V2_WINDOW_SECS as u64);

/// The store could not tell whether the nonce is new.
#[derive(Debug, thiserror::Error)]
#[error("replay protection is unavailable: {0}")]
pub struct NonceUnavailable(pub String);

pub enum Nonces {
    Redis(Redis),
    Database { db: Db, claims: AtomicU64 },
}

impl Nonces {
    pub fn new(redis: Option<Redis>, db: Db) -> Self {
        match redis {
            Some(redis) => Self::Redis(redis),
            None => Self::Database {
                db,
                claims: AtomicU64::new(0),
            },
        }
    }

    /// True when `nonce` is new for `key_id` (and is now recorded), false for a replay.
    pub async fn claim(&self, key_id: i64, nonce: &str) -> Result<bool, NonceUnavailable> {
        let hash = sha256_hex(nonce);
        match self {
            Self::Redis(redis) => redis
                .claim(&format!("nonce:{key_id}:{hash}"), REMEMBER)
                .await
                .map_err(|e| NonceUnavailable(e.to_string())),
            Self::Database { db, claims } => {
                // Now and then, forget nonces whose window has passed.
                if claims.fetch_add(1, Ordering::Relaxed) % 1000 == 0 {
                    let _ = sqlx::query("DELETE FROM api_nonces WHERE expires_at < ?")
                        .bind(now_unix())
                        .execute(db.writer())
                        .await;
                }
                let inserted = sqlx::query(
                    "INSERT INTO api_nonces (key_id, nonce_hash, expires_at) VALUES (?, ?, ?)",
                )
                .bind(key_id)
                .bind(&hash)
                .bind(now_unix() + REMEMBER.as_secs() as i64)
                .execute(db.writer())
                .await
                .map_err(crate::db::DbError::from);
                match inserted {
                    Ok(_) => Ok(true),
                    Err(err) if err.is_unique_violation() => Ok(false),
                    Err(err) => Err(NonceUnavailable(err.to_string())),
                }
            }
        }
    }
}
