//! Sign-in sessions. A session is one sign-in on one device; it holds a chain of opaque refresh
//! tokens, stored hashed. Each refresh spends the token and issues the next.
//!
//! Presenting a spent token again normally means it was stolen, and the whole session ends.
//! The exception is a short grace period: two tabs renewing at once, or a client retrying a
//! refresh whose answer it lost, present the same token twice within seconds. While the
//! successor has not been used, they get that same successor again (it is kept encrypted on
//! the spent row), so the session survives and nobody is signed out.

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;
use sqlx::{AnyConnection, Row};
use utoipa::ToSchema;

use super::jwt::{Jwt, JwtError};
use super::users::{self, Status, User};
use crate::cache::TtlCache;
use crate::crypto::{Keys, opaque_token, sha256_hex};
use crate::db::{Db, DbError, now_unix};

/// How long a spent refresh token still yields its successor (same token twice, at once).
pub const REUSE_GRACE_SECS: i64 = 30;

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

/// Who is signing in, and from where: kept with the session for the user's own review, and
/// the source the sign-in limits count by.
#[derive(Debug, Clone)]
pub struct Origin {
    pub ip: IpAddr,
    pub user_agent: Option<String>,
    /// The browser's device cookie: proof of an earlier sign-in from this browser.
    pub device: Option<String>,
}

impl Origin {
    /// A request with nothing but an address (command line, tests).
    pub fn from_ip(ip: IpAddr) -> Self {
        Self {
            ip,
            user_agent: None,
            device: None,
        }
    }
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

/// How long a checked session (and its user) may be used before it is read again: the bound
/// on how late another instance sees a sign-out, a reset or a block. This instance forgets at
/// once.
pub const CACHE_TTL: Duration = Duration::from_secs(5);
/// Sessions the cache holds at most; past it, it starts afresh.
const CACHE_MAX: usize = 100_000;

/// Issues, renews, checks and ends sessions.
pub struct Sessions {
    db: Db,
    jwt: Jwt,
    keys: Keys,
    ttl_secs: i64,
    /// Session id -> its user and when the session expires.
    cache: TtlCache<String, (User, i64)>,
}

impl Sessions {
    pub fn new(db: Db, jwt: Jwt, keys: Keys, ttl_secs: i64) -> Self {
        Self {
            db,
            jwt,
            keys,
            ttl_secs,
            cache: TtlCache::new(CACHE_TTL, CACHE_MAX),
        }
    }

    /// Forgets a session in this instance's cache (it was revoked).
    pub fn forget_session(&self, session_id: &str) {
        self.cache.forget(session_id);
    }

    /// Forgets every session of a user in this instance's cache (the user changed, or all
    /// their sessions ended).
    pub fn forget_user(&self, user_id: i64) {
        self.cache.retain(|_, (user, _)| user.id != user_id);
    }

    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// Starts a session for `user_id` and returns its first tokens.
    pub async fn start(&self, user_id: i64, origin: &Origin) -> Result<Tokens, DbError> {
        let now = now_unix();
        let session_id = uuid::Uuid::new_v4().simple().to_string();
        let refresh = opaque_token();
        let expires_at = now + self.ttl_secs;
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "INSERT INTO sessions (id, user_id, user_agent, ip, created_at, last_used_at, \
             expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&session_id)
        .bind(user_id)
        .bind(origin.user_agent.as_deref().map(|ua| truncate(ua, 255)))
        .bind(origin.ip.to_string())
        .bind(now)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        insert_refresh(&mut tx, &session_id, &refresh, expires_at).await?;
        tx.commit().await?;
        self.touch(user_id).await;
        Ok(self.tokens(user_id, &session_id, refresh))
    }

    /// Spends `refresh_token` and issues the next pair. Within the grace period a spent token
    /// yields its successor again; otherwise a spent token ends its session.
    pub async fn rotate(&self, refresh_token: &str) -> Result<Tokens, SessionError> {
        let now = now_unix();
        let hash = sha256_hex(refresh_token);
        let next = opaque_token();
        let mut tx = self.db.begin_write().await?;
        // Spend first, in one guarded write: of two concurrent refreshes exactly one wins.
        let won = sqlx::query(
            "UPDATE refresh_tokens SET used_at = ?, successor = ? \
             WHERE token_hash = ? AND used_at IS NULL",
        )
        .bind(now)
        .bind(self.keys.encrypt(&next))
        .bind(&hash)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let Some(spent) = self.spent_token(&mut tx, &hash).await? else {
            return Err(SessionError::RefreshInvalid);
        };
        let live = spent.revoked_at.is_none()
            && spent.expires_at > now
            && spent.status == Status::Active.as_str();
        if won {
            if !live {
                // Rolls back the spend as well: a dead session stays as it was.
                return Err(SessionError::RefreshInvalid);
            }
            insert_refresh(&mut tx, &spent.session_id, &next, spent.expires_at).await?;
            sqlx::query("UPDATE sessions SET last_used_at = ? WHERE id = ?")
                .bind(now)
                .bind(&spent.session_id)
                .execute(&mut *tx)
                .await?;
            // Successors are kept only as long as the grace period needs them.
            sqlx::query(
                "UPDATE refresh_tokens SET successor = NULL \
                 WHERE session_id = ? AND successor IS NOT NULL AND used_at < ?",
            )
            .bind(&spent.session_id)
            .bind(now - REUSE_GRACE_SECS)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            self.touch(spent.user_id).await;
            return Ok(self.tokens(spent.user_id, &spent.session_id, next));
        }
        if live && let Some(successor) = self.reusable_successor(&mut tx, &spent, now).await? {
            tx.commit().await?;
            return Ok(self.tokens(spent.user_id, &spent.session_id, successor));
        }
        if live {
            revoke_in(&mut tx, &spent.session_id, now).await?;
            self.forget_session(&spent.session_id);
            tracing::warn!(
                session = %spent.session_id,
                user_id = spent.user_id,
                "refresh token reused after its grace period: session revoked"
            );
        }
        tx.commit().await?;
        Err(SessionError::RefreshInvalid)
    }

    /// The spent token's row (read under the write lock: a concurrent spend's successor is
    /// seen), with its session and user (a plain read: locking them too would take locks in
    /// another order than a password reset does).
    async fn spent_token(
        &self,
        conn: &mut AnyConnection,
        hash: &str,
    ) -> Result<Option<SpentToken>, SessionError> {
        let sql = format!(
            "SELECT session_id, expires_at, used_at, successor FROM refresh_tokens \
             WHERE token_hash = ?{}",
            self.db.lock_rows()
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(hash)
            .fetch_optional(&mut *conn)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let session_id: String = row.try_get("session_id")?;
        let owner = sqlx::query(
            "SELECT s.user_id, s.revoked_at, u.status FROM sessions s \
             JOIN users u ON u.id = s.user_id WHERE s.id = ?",
        )
        .bind(&session_id)
        .fetch_one(&mut *conn)
        .await?;
        Ok(Some(SpentToken {
            session_id,
            expires_at: row.try_get("expires_at")?,
            used_at: row.try_get("used_at")?,
            successor: row.try_get("successor")?,
            user_id: owner.try_get("user_id")?,
            revoked_at: owner.try_get("revoked_at")?,
            status: owner.try_get("status")?,
        }))
    }

    /// Notes when the user was last seen; outside any transaction, and not worth failing for.
    async fn touch(&self, user_id: i64) {
        let touched = async {
            let mut conn = self.db.writer().acquire().await?;
            users::touch_last_seen(&mut conn, user_id).await
        };
        if let Err(err) = touched.await {
            tracing::warn!(target: "db", user_id, error = %err, "last-seen time not updated");
        }
    }

    /// The successor of a token spent moments ago, if that successor is still unused.
    async fn reusable_successor(
        &self,
        conn: &mut AnyConnection,
        spent: &SpentToken,
        now: i64,
    ) -> Result<Option<String>, SessionError> {
        let recent = spent.used_at.is_some_and(|at| now - at <= REUSE_GRACE_SECS);
        let Some(successor) = spent
            .successor
            .as_deref()
            .and_then(|s| self.keys.decrypt(s))
        else {
            return Ok(None);
        };
        if !recent {
            return Ok(None);
        }
        let unused = sqlx::query("SELECT used_at FROM refresh_tokens WHERE token_hash = ?")
            .bind(sha256_hex(&successor))
            .fetch_optional(&mut *conn)
            .await?
            .map(|row| row.try_get::<Option<i64>, _>("used_at"))
            .transpose()?
            .is_some_and(|used_at| used_at.is_none());
        Ok(unused.then_some(successor))
    }

    /// The user behind an access token, provided its session is live and the account active.
    pub async fn authenticate(&self, access_token: &str) -> Result<(User, String), SessionError> {
        let claims = self.jwt.verify(access_token).map_err(|err| match err {
            JwtError::Expired => SessionError::AccessExpired,
            JwtError::Invalid => SessionError::AccessInvalid,
        })?;
        let user_id: i64 = claims
            .sub
            .parse()
            .map_err(|_| SessionError::AccessInvalid)?;
        let cached = self
            .cache
            .get(claims.sid.as_str())
            .filter(|(user, expires_at)| user.id == user_id && *expires_at > now_unix())
            .map(|(user, _)| user);
        if let Some(user) = cached {
            return Ok((user, claims.sid));
        }
        let row =
            sqlx::query("SELECT revoked_at, expires_at FROM sessions WHERE id = ? AND user_id = ?")
                .bind(&claims.sid)
                .bind(user_id)
                .fetch_optional(self.db.pool())
                .await?
                .ok_or(SessionError::Ended)?;
        let revoked_at: Option<i64> = row.try_get("revoked_at")?;
        let expires_at: i64 = row.try_get("expires_at")?;
        if revoked_at.is_some() || expires_at <= now_unix() {
            return Err(SessionError::Ended);
        }
        let user = users::by_id(&self.db, user_id)
            .await?
            .ok_or(SessionError::Ended)?;
        if user.status != Status::Active {
            return Err(SessionError::Ended);
        }
        self.cache
            .put(claims.sid.clone(), (user.clone(), expires_at));
        Ok((user, claims.sid))
    }

    /// Ends one session (sign out on this device).
    pub async fn revoke(&self, session_id: &str) -> Result<(), DbError> {
        let mut conn = self.db.writer().acquire().await?;
        revoke_in(&mut conn, session_id, now_unix()).await?;
        self.forget_session(session_id);
        Ok(())
    }

    /// The session a refresh token belongs to, if the token is known (used to sign out a page).
    pub async fn session_of_refresh(&self, refresh_token: &str) -> Result<Option<String>, DbError> {
        let row = sqlx::query("SELECT session_id FROM refresh_tokens WHERE token_hash = ?")
            .bind(sha256_hex(refresh_token))
            .fetch_optional(self.db.pool())
            .await?;
        Ok(row.map(|r| r.try_get("session_id")).transpose()?)
    }

    fn tokens(&self, user_id: i64, session_id: &str, refresh_token: String) -> Tokens {
        Tokens {
            access_token: self.jwt.issue(user_id, session_id),
            refresh_token,
            token_type: "bearer",
            expires_in: self.jwt.ttl_secs,
        }
    }
}

struct SpentToken {
    session_id: String,
    expires_at: i64,
    used_at: Option<i64>,
    successor: Option<String>,
    user_id: i64,
    revoked_at: Option<i64>,
    status: String,
}

/// Ends every session of a user (sign out everywhere; password reset; blocking).
pub async fn revoke_all(conn: &mut AnyConnection, user_id: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL")
        .bind(now_unix())
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn revoke_in(conn: &mut AnyConnection, session_id: &str, now: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
        .bind(now)
        .bind(session_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn insert_refresh(
    conn: &mut AnyConnection,
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

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}
