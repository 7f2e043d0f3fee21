//! One-time e-mail tokens (verify an address, reset a password, add an address): random,
//! stored hashed, single use, expiring, and bound to the address they were sent to.

use sqlx::{AnyConnection, Row};

use crate::crypto::{opaque_token, sha256_hex};
use crate::db::{Db, DbError, now_unix};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Confirm the account's current address.
    Verify,
    /// Choose a new password.
    Reset,
    /// Make the address the token was sent to the account's address (adding or changing it).
    SetEmail,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Verify => "verify",
            Purpose::Reset => "reset",
            Purpose::SetEmail => "set_email",
        }
    }

    /// How long a link stays valid.
    pub fn ttl_secs(self) -> i64 {
        match self {
            Purpose::Verify | Purpose::SetEmail => 24 * 3600,
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
    .execute(db.writer())
    .await?;
    Ok(token)
}

#[derive(Debug, PartialEq, Eq)]
pub enum Redeemed {
    /// (user id, the address the token was sent to)
    Valid(i64, String),
    /// Spent already: (user id, address), so a second click can say what happened.
    Used(i64, String),
    Expired,
    Invalid,
}

/// What a token would give, without spending it (a reset checks the token before it pays for
/// hashing the new password).
pub async fn peek(db: &Db, token: &str, purpose: Purpose) -> Result<Redeemed, DbError> {
    let mut conn = db.pool().acquire().await?;
    read(&mut conn, token, purpose, "").await
}

async fn read(
    conn: &mut AnyConnection,
    token: &str,
    purpose: Purpose,
    lock: &str,
) -> Result<Redeemed, DbError> {
    let sql = format!(
        "SELECT user_id, email, expires_at, used_at FROM email_tokens \
         WHERE token_hash = ? AND purpose = ?{lock}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
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
    Ok(if used_at.is_some() {
        Redeemed::Used(user_id, email)
    } else if expires_at <= now_unix() {
        Redeemed::Expired
    } else {
        Redeemed::Valid(user_id, email)
    })
}

/// Spends a token inside a write transaction (`Db::begin_write`); every other outstanding
/// token of the same purpose for that user is spent too, so an older link cannot be used
/// afterwards. Of two concurrent redemptions exactly one gets `Valid`.
pub async fn redeem(
    db: &Db,
    conn: &mut AnyConnection,
    token: &str,
    purpose: Purpose,
) -> Result<Redeemed, DbError> {
    let found = read(conn, token, purpose, db.lock_rows()).await?;
    let Redeemed::Valid(user_id, email) = found else {
        return Ok(found);
    };
    let spent = sqlx::query(
        "UPDATE email_tokens SET used_at = ? WHERE user_id = ? AND purpose = ? AND used_at IS NULL",
    )
    .bind(now_unix())
    .bind(user_id)
    .bind(purpose.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(if spent.rows_affected() == 0 {
        Redeemed::Used(user_id, email)
    } else {
        Redeemed::Valid(user_id, email)
    })
}

/// Spends every outstanding token of `purpose` for a user (their address changed: links sent
/// to the old one must stop working).
pub async fn spend_all(
    conn: &mut AnyConnection,
    user_id: i64,
    purpose: Purpose,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE email_tokens SET used_at = ? WHERE user_id = ? AND purpose = ? AND used_at IS NULL",
    )
    .bind(now_unix())
    .bind(user_id)
    .bind(purpose.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}
