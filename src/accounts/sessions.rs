//! Sign-in sessions. A session is one sign-in on one device; it holds a chain ("family") of
//! opaque refresh tokens, stored hashed. Each refresh spends the token and issues the next;
//! presenting a spent token again means it was stolen, so the whole session is revoked.

use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;

use super::jwt::{Jwt, JwtError};
use super::users::{self, Status, User};
use crate::crypto::{opaque_token, sha256_hex};
use crate::db::{Db, DbError, now_unix};

/// What a client receives at sign-in and at every refresh.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `bearer`.
    #[schema(example = "bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

/// Where a sign-in came from, kept with the session for the user's own review.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the refresh token is unknown, spent, expired or revoked")]
    RefreshInvalid,
    #[error("the access token has expired")]
    AccessExpired,
    #[error("the access token is invalid")]
    AccessInvalid,
    #[error("the session has ended or the account is not active")]
    Ended,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for SessionError {
    fn from(err: sqlx::Error) -> Self {
        Self::Db(err.into())
    }
}

/// Starts a session for `user_id` and returns its first tokens.
pub async fn start(
    db: &Db,
    jwt: &Jwt,
    user_id: i64,
    origin: &Origin,
    ttl_secs: i64,
) -> Result<Tokens, DbError> {
    let now = now_unix();
    let session_id = uuid::Uuid::new_v4().simple().to_string();
    let refresh = opaque_token();
    let mut tx = db.pool().begin().await?;
    sqlx::query(
        "INSERT INTO sessions (id, user_id, user_agent, ip, created_at, last_used_at, expires_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&session_id)
    .bind(user_id)
    .bind(origin.user_agent.as_deref().map(|ua| truncate(ua, 255)))
    .bind(origin.ip.as_deref())
    .bind(now)
    .bind(now)
    .bind(now + ttl_secs)
    .execute(&mut *tx)
    .await?;
    insert_refresh(&mut tx, &session_id, &refresh, now + ttl_secs).await?;
    tx.commit().await?;
    users::touch_last_seen(db, user_id).await?;
    Ok(tokens(jwt, user_id, &session_id, refresh))
}

/// Spends `refresh_token` and issues the next pair. A spent token revokes its session.
pub async fn rotate(db: &Db, jwt: &Jwt, refresh_token: &str) -> Result<Tokens, SessionError> {
    let now = now_unix();
    let hash = sha256_hex(refresh_token);
    let mut tx = db.pool().begin().await?;
    let row = sqlx::query(
        "SELECT r.session_id, r.expires_at, r.used_at, s.user_id, s.revoked_at, u.status \
         FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id \
         JOIN users u ON u.id = s.user_id WHERE r.token_hash = ?",
    )
    .bind(&hash)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(SessionError::RefreshInvalid)?;
    let session_id: String = row.try_get("session_id")?;
    let user_id: i64 = row.try_get("user_id")?;
    let used_at: Option<i64> = row.try_get("used_at")?;
    let revoked_at: Option<i64> = row.try_get("revoked_at")?;
    let expires_at: i64 = row.try_get("expires_at")?;
    let status: String = row.try_get("status")?;

    // Spend the token; zero rows means another request spent it first: also a reuse.
    let spent = sqlx::query(
        "UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL",
    )
    .bind(now)
    .bind(&hash)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if used_at.is_some() || !spent {
        revoke_in(&mut tx, &session_id, now).await?;
        tx.commit().await?;
        tracing::warn!(session = %session_id, user_id, "refresh token reused: session revoked");
        return Err(SessionError::RefreshInvalid);
    }
    if revoked_at.is_some() || expires_at <= now || status != Status::Active.as_str() {
        tx.commit().await?;
        return Err(SessionError::RefreshInvalid);
    }
    let next = opaque_token();
    insert_refresh(&mut tx, &session_id, &next, expires_at).await?;
    sqlx::query("UPDATE sessions SET last_used_at = ? WHERE id = ?")
        .bind(now)
        .bind(&session_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    users::touch_last_seen(db, user_id).await?;
    Ok(tokens(jwt, user_id, &session_id, next))
}

/// The user behind an access token, provided its session is live and the account active.
pub async fn authenticate(
    db: &Db,
    jwt: &Jwt,
    access_token: &str,
) -> Result<(User, String), SessionError> {
    let claims = jwt.verify(access_token).map_err(|err| match err {
        JwtError::Expired => SessionError::AccessExpired,
        JwtError::Invalid => SessionError::AccessInvalid,
    })?;
    let user_id: i64 = claims
        .sub
        .parse()
        .map_err(|_| SessionError::AccessInvalid)?;
    let row =
        sqlx::query("SELECT revoked_at, expires_at FROM sessions WHERE id = ? AND user_id = ?")
            .bind(&claims.sid)
            .bind(user_id)
            .fetch_optional(db.pool())
            .await?
            .ok_or(SessionError::Ended)?;
    let revoked_at: Option<i64> = row.try_get("revoked_at")?;
    let expires_at: i64 = row.try_get("expires_at")?;
    if revoked_at.is_some() || expires_at <= now_unix() {
        return Err(SessionError::Ended);
    }
    let user = users::by_id(db, user_id)
        .await?
        .ok_or(SessionError::Ended)?;
    if user.status != Status::Active {
        return Err(SessionError::Ended);
    }
    Ok((user, claims.sid))
}

/// Ends one session (sign out on this device).
pub async fn revoke(db: &Db, session_id: &str) -> Result<(), DbError> {
    let mut conn = db.pool().acquire().await?;
    revoke_in(&mut conn, session_id, now_unix()).await
}

/// Ends every session of a user (sign out everywhere; password reset).
pub async fn revoke_all(conn: &mut sqlx::AnyConnection, user_id: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL")
        .bind(now_unix())
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The session a refresh token belongs to, if the token is known (used to sign out a page).
pub async fn session_of_refresh(db: &Db, refresh_token: &str) -> Result<Option<String>, DbError> {
    let row = sqlx::query("SELECT session_id FROM refresh_tokens WHERE token_hash = ?")
        .bind(sha256_hex(refresh_token))
        .fetch_optional(db.pool())
        .await?;
    Ok(row.map(|r| r.try_get("session_id")).transpose()?)
}

async fn revoke_in(
    conn: &mut sqlx::AnyConnection,
    session_id: &str,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query("UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
        .bind(now)
        .bind(session_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn insert_refresh(
    conn: &mut sqlx::AnyConnection,
    session_id: &str,
    token: &str,
    expires_at: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) \
         VALUES (?, ?, ?, ?)",
    )
    .bind(sha256_hex(token))
    .bind(session_id)
    .bind(now_unix())
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn tokens(jwt: &Jwt, user_id: i64, session_id: &str, refresh_token: String) -> Tokens {
    Tokens {
        access_token: jwt.issue(user_id, session_id),
        refresh_token,
        token_type: "bearer",
        expires_in: jwt.ttl_secs,
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}
