//! A server's week in figures, for `/herald stats`: what its audit log, memos, tasks,
//! reminders and the outbox's posts to its channels came to over the last seven days.

use sqlx::Row;

use crate::db::{Db, DbError};
use crate::guilds::presence::snowflake;
use crate::notifications::history::{self, Scope};

const WEEK: i64 = 7 * 86_400;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Week {
    /// Audit entries, and the most frequent actions among them (at most five).
    pub changes: i64,
    pub top_actions: Vec<(String, i64)>,
    pub memos: i64,
    pub memos_new: i64,
    pub tasks_open: i64,
    pub tasks_done: i64,
    /// Channel reminders set this week.
    pub reminders: i64,
    /// Deliveries to the server's channels made this week, by outcome.
    pub sent: i64,
    pub failed: i64,
}

/// The week up to `now` of the server whose text channels are `channels`.
pub async fn week(db: &Db, guild_id: u64, channels: &[u64], now: i64) -> Result<Week, DbError> {
    let since = now - WEEK;
    let guild = snowflake(guild_id);
    // A count of the server's rows, and one of those since the week's start.
    let count = |sql: &'static str| async move {
        let row = sqlx::query(sql).bind(guild).fetch_one(db.pool()).await?;
        Ok::<i64, DbError>(row.try_get(0)?)
    };
    let count_since = |sql: &'static str| async move {
        let row = sqlx::query(sql)
            .bind(guild)
            .bind(since)
            .fetch_one(db.pool())
            .await?;
        Ok::<i64, DbError>(row.try_get(0)?)
    };
    let actions = sqlx::query(
        "SELECT action, COUNT(*) AS n FROM audit_log WHERE guild_id = ? AND at >= ? \
         GROUP BY action ORDER BY n DESC, action LIMIT 5",
    )
    .bind(guild)
    .bind(since)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| Ok((r.try_get("action")?, r.try_get("n")?)))
    .collect::<Result<Vec<(String, i64)>, sqlx::Error>>()?;
    let today = now.div_euclid(86_400);
    let days = history::daily(db, Scope::DiscordChannels(channels), 7, today).await?;
    Ok(Week {
        changes: count_since("SELECT COUNT(*) FROM audit_log WHERE guild_id = ? AND at >= ?")
            .await?,
        top_actions: actions,
        memos: count("SELECT COUNT(*) FROM memos WHERE guild_id = ?").await?,
        memos_new: count_since("SELECT COUNT(*) FROM memos WHERE guild_id = ? AND created_at >= ?")
            .await?,
        tasks_open: count("SELECT COUNT(*) FROM tasks WHERE guild_id = ? AND state = 'open'")
            .await?,
        tasks_done: count_since(
            "SELECT COUNT(*) FROM tasks WHERE guild_id = ? AND state = 'done' AND updated_at >= ?",
        )
        .await?,
        // Channel reminders only: a member's own reminders are theirs, not the server's.
        reminders: count_since(
            "SELECT COUNT(*) FROM reminders WHERE guild_id = ? AND channel_id IS NOT NULL \
             AND created_at >= ?",
        )
        .await?,
        sent: days.iter().map(|d| d.sent).sum(),
        failed: days.iter().map(|d| d.failed).sum(),
    })
}
