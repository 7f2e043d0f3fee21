//! Users and their storage.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use utoipa::ToSchema;

use super::email::Email;
use crate::db::{Db, DbError, now_unix};
use crate::i18n::Locale;

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
    pub email: Option<Email>,
    pub password_hash: Option<String>,
    pub display_name: Option<String>,
    pub nickname: Option<String>,
    pub avatar_url: Option<String>,
    pub locale: Locale,
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

    /// The address as text, when there is one.
    pub fn email_str(&self) -> Option<&str> {
        self.email.as_ref().map(Email::as_str)
    }

    /// What to call the user on a page: display name, else address, else `#id`.
    pub fn label(&self) -> String {
        self.display_name
            .clone()
            .or_else(|| self.email.as_ref().map(Email::to_string))
            .unwrap_or_else(|| format!("#{}", self.id))
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
        email: row
            .try_get::<Option<String>, _>("email")?
            .map(Email::stored),
        password_hash: row.try_get("password_hash")?,
        display_name: row.try_get("display_name")?,
        nickname: row.try_get("nickname")?,
        avatar_url: row.try_get("avatar_url")?,
        locale: Locale::parse(&row.try_get::<String, _>("locale")?).unwrap_or(Locale::En),
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
    pub locale: Option<Locale>,
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
    .bind(new.locale.unwrap_or(Locale::En).code())
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

/// Profile fields a user may change, validated (`accounts::profile`); `None` leaves a field as
/// it is, `Some(None)` clears it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProfileChange {
    pub display_name: Option<Option<String>>,
    pub nickname: Option<Option<String>>,
    pub avatar_url: Option<Option<String>>,
    pub locale: Option<Locale>,
}

/// Writes the fields the change names, in one statement (no read-then-write race).
pub async fn update_profile(db: &Db, id: i64, change: ProfileChange) -> Result<(), DbError> {
    let mut sets: Vec<&str> = Vec::new();
    let mut values: Vec<Option<String>> = Vec::new();
    let fields = [
        ("display_name = ?", change.display_name),
        ("nickname = ?", change.nickname),
        ("avatar_url = ?", change.avatar_url),
        (
            "locale = ?",
            change.locale.map(|l| Some(l.code().to_owned())),
        ),
    ];
    for (set, value) in fields {
        if let Some(value) = value {
            sets.push(set);
            values.push(value);
        }
    }
    let sql = format!(
        "UPDATE users SET {}updated_at = ? WHERE id = ?",
        sets.iter().map(|s| format!("{s}, ")).collect::<String>()
    );
    // Built from the constant fragments above: the values are bound.
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for value in values {
        query = query.bind(value);
    }
    query.bind(now_unix()).bind(id).execute(db.writer()).await?;
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

/// Sets a password on an account that has none; false when one was set meanwhile.
pub async fn set_first_password(db: &Db, id: i64, hash: &str) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ? AND password_hash IS NULL",
    )
    .bind(hash)
    .bind(now_unix())
    .bind(id)
    .execute(db.writer())
    .await?;
    Ok(done.rows_affected() == 1)
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

pub async fn touch_last_seen(conn: &mut AnyConnection, id: i64) -> Result<(), DbError> {
    sqlx::query("UPDATE users SET last_seen_at = ? WHERE id = ?")
        .bind(now_unix())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn set_role_and_status(
    conn: &mut AnyConnection,
    id: i64,
    role: Role,
    status: Status,
) -> Result<(), DbError> {
    sqlx::query("UPDATE users SET role = ?, status = ?, updated_at = ? WHERE id = ?")
        .bind(role.as_str())
        .bind(status.as_str())
        .bind(now_unix())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Users `ids`, read under the write lock in id order (two transactions locking the same rows
/// take them in the same order, so they queue instead of deadlocking).
pub async fn lock(db: &Db, conn: &mut AnyConnection, ids: [i64; 2]) -> Result<Vec<User>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM users WHERE id IN (?, ?) ORDER BY id{}",
        db.lock_rows()
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(ids[0])
        .bind(ids[1])
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}

/// The user's e-mail and whether it is verified, read inside a transaction.
pub async fn email_state(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Option<(Option<String>, bool)>, DbError> {
    let row = sqlx::query("SELECT email, email_verified_at FROM users WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(match row {
        Some(row) => Some((
            row.try_get("email")?,
            row.try_get::<Option<i64>, _>("email_verified_at")?
                .is_some(),
        )),
        None => None,
    })
}

/// Sets a new, verified address (the owner clicked the link sent to it).
pub async fn set_verified_email(
    conn: &mut AnyConnection,
    id: i64,
    email: &str,
) -> Result<(), DbError> {
    let now = now_unix();
    sqlx::query("UPDATE users SET email = ?, email_verified_at = ?, updated_at = ? WHERE id = ?")
        .bind(email)
        .bind(now)
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
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

/// Rewrites stored addresses into today's canonical form (rows written before it existed, e.g.
/// an IDN domain kept in Unicode), so look-ups, which compare byte for byte, find them. An
/// address that would collide with another account's, or is no longer valid, is left as it is
/// and logged for the operator. Returns how many were rewritten.
pub async fn recanonicalise(db: &Db) -> Result<usize, DbError> {
    let rows = sqlx::query("SELECT id, email FROM users WHERE email IS NOT NULL")
        .fetch_all(db.pool())
        .await?;
    let mut rewritten = 0;
    for row in rows {
        let (id, stored): (i64, String) = (row.try_get("id")?, row.try_get("email")?);
        match Email::parse(&stored) {
            Some(canonical) if canonical.as_str() == stored => {}
            Some(canonical) => {
                let updated = sqlx::query("UPDATE users SET email = ? WHERE id = ?")
                    .bind(canonical.as_str())
                    .bind(id)
                    .execute(db.writer())
                    .await
                    .map_err(DbError::from);
                match updated {
                    Ok(_) => rewritten += 1,
                    Err(err) if err.is_unique_violation() => tracing::warn!(
                        user_id = id,
                        "stored e-mail address collides with another account once canonical; left as it is"
                    ),
                    Err(err) => return Err(err),
                }
            }
            None => tracing::warn!(
                user_id = id,
                "stored e-mail address is no longer valid; left as it is"
            ),
        }
    }
    if rewritten > 0 {
        tracing::info!(
            rewritten,
            "stored e-mail addresses rewritten into canonical form"
        );
    }
    Ok(rewritten)
}
