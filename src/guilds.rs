//! Discord servers the bot is in, kept current from gateway events so that pages and the API
//! read them from the database instead of asking Discord on every request.

use sqlx::Row;

use crate::db::{Db, DbError, now_unix};

/// What the gateway tells us about a server the bot is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuildInfo {
    pub id: u64,
    pub name: String,
    pub icon: Option<String>,
    pub member_count: Option<u64>,
}

/// Records that the bot is in `guild` (first join, rejoin or an update of its name or icon).
pub async fn record_present(db: &Db, guild: &GuildInfo) -> Result<(), DbError> {
    let now = now_unix();
    // A rejoin copies `left_at = NULL` from the values inserted: present again.
    let upsert = db.upsert(
        &["id"],
        &["name", "icon", "member_count", "left_at", "updated_at"],
    );
    let sql = format!(
        "INSERT INTO guilds (id, name, icon, member_count, joined_at, left_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, NULL, ?) {upsert}"
    );
    // Built from constants only: the values are bound.
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(snowflake(guild.id))
        .bind(&guild.name)
        .bind(guild.icon.as_deref())
        .bind(guild.member_count.map(|n| n as i64))
        .bind(now)
        .bind(now)
        .execute(db.writer())
        .await?;
    Ok(())
}

/// Records that the bot left (or was removed from) a server.
pub async fn record_left(db: &Db, guild_id: u64) -> Result<(), DbError> {
    let now = now_unix();
    sqlx::query("UPDATE guilds SET left_at = ?, updated_at = ? WHERE id = ? AND left_at IS NULL")
        .bind(now)
        .bind(now)
        .bind(snowflake(guild_id))
        .execute(db.writer())
        .await?;
    Ok(())
}

/// How many servers the bot is in now.
pub async fn active_count(db: &Db) -> Result<u64, DbError> {
    let row = sqlx::query("SELECT COUNT(*) FROM guilds WHERE left_at IS NULL")
        .fetch_one(db.pool())
        .await?;
    Ok(row.try_get::<i64, _>(0)?.max(0) as u64)
}

/// Discord ids are below 2^63 for centuries to come; storing them signed suits both backends.
fn snowflake(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}
