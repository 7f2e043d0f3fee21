//! `Idempotency-Key` on creating requests, per owner, for 24 hours: the same key and body
//! answer the first answer again; the same key with another body (or on another route) is
//! refused; while the first is still being answered, the second is told to retry.
//!
//! The key's row is inserted first in the transaction that creates the notification, so two
//! racing requests meet at the primary key: the second waits for the first's commit, then
//! fails on the unique key and answers the stored answer. Nothing is created twice.

use sqlx::{Any, Row, Transaction};

use super::{Answer, NotifyError, Result};
use crate::crypto::sha256_hex;
use crate::db::{Db, DbError, now_unix};

/// How long a key is remembered.
pub const TTL_SECS: i64 = 86_400;
/// The longest key accepted.
pub const MAX_LEN: usize = 255;
/// An answer still pending after this long belongs to a request that died with its process
/// (the sync routes answer well within the request timeout).
const STALE_PENDING_SECS: i64 = 300;

/// A caller's key, bound to the route and the exact body it came with.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    key: String,
    route: String,
    body_hash: String,
}

impl IdempotencyKey {
    /// 1 to 255 visible ASCII characters.
    pub fn new(key: &str, route: &str, body: &[u8]) -> Result<Self> {
        let valid = !key.is_empty()
            && key.len() <= MAX_LEN
            && key.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
        if !valid {
            return Err(NotifyError::InvalidField {
                field: "Idempotency-Key",
                reason: format!("1 to {MAX_LEN} visible ASCII characters"),
            });
        }
        Ok(Self {
            key: key.to_owned(),
            route: route.to_owned(),
            body_hash: sha256_hex(&String::from_utf8_lossy(body)),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.key
    }
}

/// What claiming a key found.
pub enum Claim {
    /// The key is this request's now.
    Fresh,
    /// Another request has it: roll back, then `lookup` its answer.
    Taken,
}

/// The stored answer for `key`, if a live one exists (an expired one is removed).
pub async fn lookup(db: &Db, user_id: i64, key: &IdempotencyKey) -> Result<Option<Result<Answer>>> {
    let row = sqlx::query(
        "SELECT route, body_hash, status, response, notification_id, created_at \
         FROM idempotency_keys WHERE user_id = ? AND idem_key = ?",
    )
    .bind(user_id)
    .bind(&key.key)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let created_at: i64 = row.try_get("created_at")?;
    let status: i64 = row.try_get("status")?;
    let now = now_unix();
    if created_at <= now - TTL_SECS {
        // By its primary key and the time read: a fresh claim made meanwhile stays.
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE user_id = ? AND idem_key = ? AND created_at = ?",
        )
        .bind(user_id)
        .bind(&key.key)
        .bind(created_at)
        .execute(db.writer())
        .await?;
        return Ok(None);
    }
    let same = row.try_get::<String, _>("route")? == key.route
        && row.try_get::<String, _>("body_hash")? == key.body_hash;
    // A pending answer whose request died with its process: the notification was made, so
    // answer what was stored with it (its id and where to follow it), never make another.
    let stale = status == 0 && created_at <= now - STALE_PENDING_SECS;
    Ok(Some(if !same {
        Err(NotifyError::KeyReused)
    } else if status == 0 && !stale {
        Err(NotifyError::InProgress)
    } else {
        Ok(Answer {
            id: row
                .try_get::<Option<i64>, _>("notification_id")?
                .unwrap_or_default(),
            status: if stale { 200 } else { status as u16 },
            body: row.try_get("response")?,
            replayed: true,
        })
    }))
}

/// Takes `key` for this request inside `tx`, its first write: the key's row is inserted, so a
/// racing request with the same key waits at the primary key until this one commits.
pub async fn claim(
    tx: &mut Transaction<'static, Any>,
    user_id: i64,
    key: &IdempotencyKey,
    now: i64,
) -> Result<Claim> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys \
         (user_id, idem_key, route, body_hash, status, response, created_at) \
         VALUES (?, ?, ?, ?, 0, '', ?)",
    )
    .bind(user_id)
    .bind(&key.key)
    .bind(&key.route)
    .bind(&key.body_hash)
    .bind(now)
    .execute(&mut **tx)
    .await;
    match inserted {
        Ok(_) => Ok(Claim::Fresh),
        Err(e) => {
            let e = DbError::from(e);
            if e.is_unique_violation() {
                Ok(Claim::Taken)
            } else {
                Err(e.into())
            }
        }
    }
}

/// Stores the answer for `key` (a status of 0 keeps it pending).
pub async fn record(
    conn: &mut sqlx::AnyConnection,
    user_id: i64,
    key: &IdempotencyKey,
    notification_id: i64,
    status: u16,
    body: &str,
) -> Result<()> {
    // Only this request's pending record: never an answer already given, nor a newer claim.
    sqlx::query(
        "UPDATE idempotency_keys SET notification_id = ?, status = ?, response = ? \
         WHERE user_id = ? AND idem_key = ? AND status = 0 \
         AND (notification_id IS NULL OR notification_id = ?)",
    )
    .bind(notification_id)
    .bind(i64::from(status))
    .bind(body)
    .bind(user_id)
    .bind(&key.key)
    .bind(notification_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Forgets keys older than a day (run by the workers now and then).
pub async fn prune(db: &Db) -> Result<u64> {
    let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at <= ?")
        .bind(now_unix() - TTL_SECS)
        .execute(db.writer())
        .await?;
    Ok(done.rows_affected())
}
