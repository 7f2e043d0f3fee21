//! Discord servers the bot is in, kept current from gateway events so that pages and the API
//! read them from the database instead of asking Discord on every request.

use sqlx::Row;

use super::audit::{self, Actor};
use crate::crypto::Keys;
use crate::db::{Db, DbError, now_unix};

/// What the gateway tells us about a server the bot is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuildInfo {
    pub id: u64,
    pub name: String,
    pub icon: Option<String>,
    pub member_count: Option<u64>,
    /// The server's community language, such as `ko` or `en-US`.
    pub preferred_locale: Option<String>,
}

/// A server as Herald last heard of it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Known {
    pub id: u64,
    pub name: String,
    pub icon: Option<String>,
    pub member_count: Option<u64>,
    pub preferred_locale: Option<String>,
    /// The bot is in the server now.
    pub present: bool,
}

/// Records that the bot is in `guild` (first join, rejoin or an update of its name or icon);
/// a join (not a reconnect's re-announcement) goes into the server's audit log.
pub async fn record_present(db: &Db, keys: &Keys, guild: &GuildInfo) -> Result<(), DbError> {
    let now = now_unix();
    let mut tx = db.begin_write().await?;
    let sql = format!("SELECT left_at FROM guilds WHERE id = ?{}", db.lock_rows());
    let before: Option<Option<i64>> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(snowflake(guild.id))
        .fetch_optional(&mut *tx)
        .await?;
    // A rejoin copies `left_at = NULL` from the values inserted: present again.
    let upsert = db.upsert(
        &["id"],
        &[
            "name",
            "icon",
            "member_count",
            "preferred_locale",
            "left_at",
            "updated_at",
        ],
    );
    let sql = format!(
        "INSERT INTO guilds (id, name, icon, member_count, preferred_locale, joined_at, left_at, \
         updated_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?) {upsert}"
    );
    // Built from constants only: the values are bound.
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(snowflake(guild.id))
        .bind(&guild.name)
        .bind(guild.icon.as_deref())
        .bind(guild.member_count.map(|n| n as i64))
        .bind(guild.preferred_locale.as_deref())
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let joined = !matches!(before, Some(None));
    if joined {
        let detail = serde_json::json!({"name": guild.name});
        audit::record(
            &mut tx,
            keys,
            guild.id,
            &Actor::bot(),
            "bot.added",
            &detail,
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Records that the bot left (or was removed from) a server, with an audit entry naming
/// `actor`; nothing when it had already left.
pub async fn record_left(
    db: &Db,
    keys: &Keys,
    guild_id: u64,
    actor: &Actor,
) -> Result<(), DbError> {
    let now = now_unix();
    let mut tx = db.begin_write().await?;
    let left = sqlx::query(
        "UPDATE guilds SET left_at = ?, updated_at = ? WHERE id = ? AND left_at IS NULL",
    )
    .bind(now)
    .bind(now)
    .bind(snowflake(guild_id))
    .execute(&mut *tx)
    .await?;
    if left.rows_affected() > 0 {
        let detail = serde_json::json!({});
        audit::record(&mut tx, keys, guild_id, actor, "bot.removed", &detail, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// How many servers the bot is in now.
pub async fn active_count(db: &Db) -> Result<u64, DbError> {
    let row = sqlx::query("SELECT COUNT(*) FROM guilds WHERE left_at IS NULL")
        .fetch_one(db.pool())
        .await?;
    Ok(row.try_get::<i64, _>(0)?.max(0) as u64)
}

/// What Herald knows of each of `ids` (servers it never heard of are left out).
pub async fn known(db: &Db, ids: &[u64]) -> Result<Vec<Known>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks = vec!["?"; ids.len()].join(", ");
    let sql = format!(
        "SELECT id, name, icon, member_count, preferred_locale, left_at FROM guilds \
         WHERE id IN ({marks})"
    );
    // Built from constants only: the ids are bound.
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in ids {
        query = query.bind(snowflake(*id));
    }
    let rows = query.fetch_all(db.pool()).await?;
    rows.iter()
        .map(|row| {
            Ok(Known {
                id: row.try_get::<i64, _>("id")? as u64,
                name: row.try_get("name")?,
                icon: row.try_get("icon")?,
                member_count: row
                    .try_get::<Option<i64>, _>("member_count")?
                    .map(|n| n.max(0) as u64),
                preferred_locale: row.try_get("preferred_locale")?,
                present: row.try_get::<Option<i64>, _>("left_at")?.is_none(),
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// Discord ids are below 2^63 for centuries to come; storing them signed suits both backends.
pub fn snowflake(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}
