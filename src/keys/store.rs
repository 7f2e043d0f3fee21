//! API keys and their allowlists in the database.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{Db, DbError, now_unix};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    Active,
    Disabled,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }

    fn parse(raw: &str) -> Self {
        if raw == "active" {
            Self::Active
        } else {
            Self::Disabled
        }
    }
}

/// A key as its owner sees it (never its secret).
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: i64,
    pub user_id: i64,
    pub access_key: String,
    pub memo: String,
    pub status: KeyStatus,
    pub expires_at: Option<i64>,
    /// While a roll's grace lasts, the previous secret works until then.
    pub previous_until: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    pub created_at: i64,
}

pub(crate) const COLUMNS: &str = "id, user_id, access_key, memo, status, expires_at, previous_until, \
     last_used_at, last_used_ip, created_at";

pub(crate) fn from_row(row: &AnyRow) -> Result<ApiKey, sqlx::Error> {
    Ok(ApiKey {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        access_key: row.try_get("access_key")?,
        memo: row.try_get("memo")?,
        status: KeyStatus::parse(&row.try_get::<String, _>("status")?),
        expires_at: row.try_get("expires_at")?,
        previous_until: row.try_get("previous_until")?,
        last_used_at: row.try_get("last_used_at")?,
        last_used_ip: row.try_get("last_used_ip")?,
        created_at: row.try_get("created_at")?,
    })
}

/// An allowlist entry.
#[derive(Debug, Clone)]
pub struct AllowEntry {
    pub id: i64,
    pub key_id: i64,
    pub ip_address: String,
    pub created_at: i64,
}

/// The user's keys, oldest first.
pub async fn of_user(db: &Db, user_id: i64) -> Result<Vec<ApiKey>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE user_id = ? ORDER BY id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .fetch_all(db.pool())
        .await?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}

/// One of the user's keys: another user's key is as missing as a key that does not exist.
pub async fn owned(
    db: &Db,
    conn: &mut AnyConnection,
    user_id: i64,
    key_id: i64,
) -> Result<Option<ApiKey>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM api_keys WHERE id = ? AND user_id = ?{}",
        db.lock_rows()
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(key_id)
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// Locks the user's row, so key counts and changes per user happen one at a time.
pub async fn lock_owner(db: &Db, conn: &mut AnyConnection, user_id: i64) -> Result<(), DbError> {
    let sql = format!("SELECT id FROM users WHERE id = ?{}", db.lock_rows());
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(())
}

pub async fn count_active(conn: &mut AnyConnection, user_id: i64) -> Result<i64, DbError> {
    let row = sqlx::query("SELECT COUNT(*) FROM api_keys WHERE user_id = ? AND status = 'active'")
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get(0)?)
}

pub struct NewKey<'a> {
    pub user_id: i64,
    pub access_key: &'a str,
    pub sealed_secret: &'a str,
    pub memo: &'a str,
    pub expires_at: Option<i64>,
}

pub async fn insert(conn: &mut AnyConnection, new: NewKey<'_>) -> Result<i64, DbError> {
    let now = now_unix();
    sqlx::query(
        "INSERT INTO api_keys (user_id, access_key, memo, status, secret, expires_at, \
         created_at, updated_at) VALUES (?, ?, ?, 'active', ?, ?, ?, ?)",
    )
    .bind(new.user_id)
    .bind(new.access_key)
    .bind(new.memo)
    .bind(new.sealed_secret)
    .bind(new.expires_at)
    .bind(now)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    crate::db::last_insert_id(conn).await
}

pub async fn update(
    conn: &mut AnyConnection,
    key_id: i64,
    memo: &str,
    status: KeyStatus,
) -> Result<(), DbError> {
    sqlx::query("UPDATE api_keys SET memo = ?, status = ?, updated_at = ? WHERE id = ?")
        .bind(memo)
        .bind(status.as_str())
        .bind(now_unix())
        .bind(key_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A new secret; the current one becomes the previous one until `previous_until` (or is
/// dropped at once when that is `None`).
pub async fn roll(
    conn: &mut AnyConnection,
    key_id: i64,
    sealed_secret: &str,
    previous_until: Option<i64>,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE api_keys SET previous_secret = CASE WHEN ? IS NULL THEN NULL ELSE secret END, \
         previous_until = ?, secret = ?, updated_at = ? WHERE id = ?",
    )
    .bind(previous_until)
    .bind(previous_until)
    .bind(sealed_secret)
    .bind(now_unix())
    .bind(key_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn delete(conn: &mut AnyConnection, key_id: i64) -> Result<(), DbError> {
    sqlx::query("DELETE FROM api_keys WHERE id = ?")
        .bind(key_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Notes that a key was used, from where.
pub async fn mark_used(db: &Db, key_id: i64, at: i64, ip: &str) -> Result<(), DbError> {
    sqlx::query("UPDATE api_keys SET last_used_at = ?, last_used_ip = ? WHERE id = ?")
        .bind(at)
        .bind(ip)
        .bind(key_id)
        .execute(db.writer())
        .await?;
    Ok(())
}

pub async fn allowlist(conn: &mut AnyConnection, key_id: i64) -> Result<Vec<AllowEntry>, DbError> {
    let rows = sqlx::query(
        "SELECT id, key_id, ip_address, created_at FROM api_key_allowlist \
         WHERE key_id = ? ORDER BY id",
    )
    .bind(key_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(AllowEntry {
                id: row.try_get("id")?,
                key_id: row.try_get("key_id")?,
                ip_address: row.try_get("ip_address")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

pub async fn add_entry(conn: &mut AnyConnection, key_id: i64, ip: &str) -> Result<i64, DbError> {
    sqlx::query("INSERT INTO api_key_allowlist (key_id, ip_address, created_at) VALUES (?, ?, ?)")
        .bind(key_id)
        .bind(ip)
        .bind(now_unix())
        .execute(&mut *conn)
        .await?;
    crate::db::last_insert_id(conn).await
}

pub async fn remove_entry(
    conn: &mut AnyConnection,
    key_id: i64,
    entry_id: i64,
) -> Result<bool, DbError> {
    let done = sqlx::query("DELETE FROM api_key_allowlist WHERE id = ? AND key_id = ?")
        .bind(entry_id)
        .bind(key_id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Everything a signed call needs to know about a key, in two queries: the key with its
/// secrets (sealed) and owner, and its allowlist.
pub struct ForCall {
    pub key: ApiKey,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub owner_email: Option<String>,
    pub owner_status: String,
    pub allowlist: Vec<String>,
}

pub async fn for_call(db: &Db, access_key: &str) -> Result<Option<ForCall>, DbError> {
    let sql = format!(
        "SELECT k.{}, k.secret, k.previous_secret, u.email, u.status AS owner_status \
         FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.access_key = ?",
        COLUMNS.replace(", ", ", k.")
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(access_key)
        .fetch_optional(db.pool())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let key = from_row(&row)?;
    let mut conn = db.pool().acquire().await?;
    let allowlist = allowlist(&mut conn, key.id)
        .await?
        .into_iter()
        .map(|e| e.ip_address)
        .collect();
    Ok(Some(ForCall {
        secret: row.try_get("secret")?,
        previous_secret: row.try_get("previous_secret")?,
        owner_email: row.try_get("email")?,
        owner_status: row.try_get("owner_status")?,
        key,
        allowlist,
    }))
}
