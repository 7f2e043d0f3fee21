//! Users and their storage.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use utoipa::ToSchema;

use super::email::Email;
use crate::db::{Db, DbError, now_unix};

/// Roles are ordered: a check for `Staff` admits `Admin` too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Staff,
    Admin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Blocked,
    Deleted,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Staff => "staff",
            Role::Admin => "admin",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        [Role::User, Role::Staff, Role::Admin]
            .into_iter()
            .find(|r| r.as_str() == raw)
    }
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Blocked => "blocked",
            Status::Deleted => "deleted",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        [Status::Active, Status::Blocked, Status::Deleted]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub display_name: Option<String>,
    pub nickname: Option<String>,
    pub avatar_url: Option<String>,
    pub locale: String,
    pub role: Role,
    pub status: Status,
    pub email_verified_at: Option<i64>,
    pub last_seen_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl User {
    pub fn email_verified(&self) -> bool {
        self.email_verified_at.is_some()
    }
}

pub(crate) const COLUMNS: &str = "id, email, password_hash, display_name, nickname, avatar_url, \
     locale, role, status, email_verified_at, last_seen_at, created_at, updated_at";

pub(crate) fn from_row(row: &AnyRow) -> Result<User, sqlx::Error> {
    let decode = |column: &str, value: String| {
        sqlx::Error::Decode(format!("unknown {column} {value:?}").into())
    };
    let role: String = row.try_get("role")?;
    let status: String = row.try_get("status")?;
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        display_name: row.try_get("display_name")?,
        nickname: row.try_get("nickname")?,
        avatar_url: row.try_get("avatar_url")?,
        locale: row.try_get("locale")?,
        role: Role::parse(&role).ok_or_else(|| decode("role", role))?,
        status: Status::parse(&status).ok_or_else(|| decode("status", status))?,
        email_verified_at: row.try_get("email_verified_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// What a new user starts with.
#[derive(Debug, Default)]
pub struct NewUser {
    pub email: Option<Email>,
    pub password_hash: Option<String>,
    pub display_name: Option<String>,
    pub nickname: Option<String>,
    pub avatar_url: Option<String>,
    pub locale: Option<String>,
    pub email_verified: bool,
    pub role: Option<Role>,
}

/// Inserts a user; a taken e-mail is a unique violation (`DbError::is_unique_violation`).
pub async fn insert(conn: &mut AnyConnection, new: NewUser) -> Result<i64, DbError> {
    let now = now_unix();
    sqlx::query(
        "INSERT INTO users (email, password_hash, display_name, nickname, avatar_url, locale, \
         role, status, email_verified_at, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?)",
    )
    .bind(new.email.as_ref().map(Email::as_str))
    .bind(new.password_hash)
    .bind(new.display_name)
    .bind(new.nickname)
    .bind(new.avatar_url)
    .bind(new.locale.unwrap_or_else(|| "en".to_owned()))
    .bind(new.role.unwrap_or(Role::User).as_str())
    .bind(new.email_verified.then_some(now))
    .bind(now)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    crate::db::last_insert_id(conn).await
}

pub async fn by_id(db: &Db, id: i64) -> Result<Option<User>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = ?");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

pub async fn by_email(db: &Db, email: &Email) -> Result<Option<User>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE email = ?");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(email.as_str())
        .fetch_optional(db.pool())
        .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// Profile fields a user may change; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ProfileChange {
    pub display_name: Option<Option<String>>,
    pub nickname: Option<Option<String>>,
    pub avatar_url: Option<Option<String>>,
    pub locale: Option<String>,
}

pub async fn update_profile(db: &Db, id: i64, change: ProfileChange) -> Result<(), DbError> {
    // Fields not given keep their current value.
    let current = by_id(db, id).await?;
    let Some(user) = current else { return Ok(()) };
    sqlx::query(
        "UPDATE users SET display_name = ?, nickname = ?, avatar_url = ?, locale = ?, \
         updated_at = ? WHERE id = ?",
    )
    .bind(change.display_name.unwrap_or(user.display_name))
    .bind(change.nickname.unwrap_or(user.nickname))
    .bind(change.avatar_url.unwrap_or(user.avatar_url))
    .bind(change.locale.unwrap_or(user.locale))
    .bind(now_unix())
    .bind(id)
    .execute(db.pool())
    .await?;
    Ok(())
}

pub async fn set_password_hash(
    conn: &mut AnyConnection,
    id: i64,
    hash: &str,
) -> Result<(), DbError> {
    sqlx::query("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?")
        .bind(hash)
        .bind(now_unix())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Marks the e-mail verified, but only if it is still `email` (it may have changed since).
pub async fn mark_email_verified(
    conn: &mut AnyConnection,
    id: i64,
    email: &str,
) -> Result<bool, DbError> {
    let now = now_unix();
    let done = sqlx::query(
        "UPDATE users SET email_verified_at = COALESCE(email_verified_at, ?), updated_at = ? \
         WHERE id = ? AND email = ?",
    )
    .bind(now)
    .bind(now)
    .bind(id)
    .bind(email)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn touch_last_seen(db: &Db, id: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE users SET last_seen_at = ? WHERE id = ?")
        .bind(now_unix())
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn set_role_and_status(
    db: &Db,
    id: i64,
    role: Role,
    status: Status,
) -> Result<(), DbError> {
    sqlx::query("UPDATE users SET role = ?, status = ?, updated_at = ? WHERE id = ?")
        .bind(role.as_str())
        .bind(status.as_str())
        .bind(now_unix())
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// A page of users, oldest first, and the total count.
pub async fn page(db: &Db, page: u32, per_page: u32) -> Result<(Vec<User>, u64), DbError> {
    let offset = i64::from(page.saturating_sub(1)) * i64::from(per_page);
    let sql = format!("SELECT {COLUMNS} FROM users ORDER BY id LIMIT ? OFFSET ?");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(i64::from(per_page))
        .bind(offset)
        .fetch_all(db.pool())
        .await?;
    let users = rows.iter().map(from_row).collect::<Result<_, _>>()?;
    let total: i64 = sqlx::query("SELECT COUNT(*) FROM users")
        .fetch_one(db.pool())
        .await?
        .try_get(0)?;
    Ok((users, total.max(0) as u64))
}
