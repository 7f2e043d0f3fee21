//! One-time e-mail tokens (verify an address, reset a password): random, stored hashed,
//! single use, expiring, and bound to the address they were sent to.

use sqlx::{AnyConnection, Row};

use crate::crypto::{opaque_token, sha256_hex};
use crate::db::{Db, DbError, now_unix};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Verify,
    Reset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Verify => "verify",
            Purpose::Reset => "reset",
        }
    }

    /// How long a link stays valid.
    pub fn ttl_secs(self) -> i64 {
        match self {
            Purpose::Verify => 24 * 3600,
            Purpose::Reset => 3600,
        }
    }
}

/// Creates a token for `user_id` at `email`; the plain token goes into the link only.
pub async fn create(
    db: &Db,
    user_id: i64,
    email: &str,
    purpose: Purpose,
) -> Result<String, DbError> {
    let token = opaque_token();
    let now = now_unix();
    sqlx::query(
        "INSERT INTO email_tokens (token_hash, user_id, purpose, email, created_at, expires_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(sha256_hex(&token))
    .bind(user_id)
    .bind(purpose.as_str())
    .bind(email)
    .bind(now)
    .bind(now + purpose.ttl_secs())
    .execute(db.pool())
    .await?;
    Ok(token)
}

#[derive(Debug, PartialEq, Eq)]
pub enum Redeemed {
    /// (user id, the address the token was sent to)
    Valid(i64, String),
    Expired,
    Invalid,
}

/// Spends a token inside `conn`'s transaction; every other outstanding token of the same
/// purpose for that user is spent too, so an older link cannot be used afterwards.
pub async fn redeem(
    conn: &mut AnyConnection,
    token: &str,
    purpose: Purpose,
) -> Result<Redeemed, DbError> {
    let now = now_unix();
    let row = sqlx::query(
        "SELECT user_id, email, expires_at, used_at FROM email_tokens \
         WHERE token_hash = ? AND purpose = ?",
    )
    .bind(sha256_hex(token))
    .bind(purpose.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(Redeemed::Invalid);
    };
    let user_id: i64 = row.try_get("user_id")?;
    let email: String = row.try_get("email")?;
    let expires_at: i64 = row.try_get("expires_at")?;
    let used_at: Option<i64> = row.try_get("used_at")?;
    if used_at.is_some() {
        return Ok(Redeemed::Invalid);
    }
    if expires_at <= now {
        return Ok(Redeemed::Expired);
    }
    let spent = sqlx::query(
        "UPDATE email_tokens SET used_at = ? WHERE user_id = ? AND purpose = ? AND used_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .bind(purpose.as_str())
    .execute(&mut *conn)
    .await?;
    // Zero rows: a concurrent request spent it first.
    Ok(if spent.rows_affected() == 0 {
        Redeemed::Invalid
    } else {
        Redeemed::Valid(user_id, email)
    })
}
