//! Repeating reminders move on: each instance sweeps now and then, and queues the next
//! occurrence of every series whose queued one is due (the row locked and `next_at` checked
//! again, so two instances never both do). A channel reminder goes on only while its setter
//! may still write on the server.

use serde_json::json;
use sqlx::Row;

use super::{Reminders, Result, reminder_on};
use crate::db::{DbError, now_unix};
use crate::guilds::audit::{self, Actor};
use crate::notifications::store;
use crate::when::Tz;

impl Reminders {
    /// Queues the next occurrence of every repeating reminder whose queued one is due; answers
    /// how many moved on. Run periodically by each instance. A channel reminder goes on only
    /// while its setter may still write on the server (`guilds` asks); else it stops, with an
    /// audit entry, so a demoted or departed manager's reminder does not post on for ever.
    pub async fn sweep(&self, guilds: &crate::guilds::Guilds) -> Result<usize> {
        let now = chrono::Utc::now();
        let due = sqlx::query(
            "SELECT id FROM reminders WHERE state = 'active' AND repeat_every IS NOT NULL \
             AND next_at <= ? ORDER BY next_at LIMIT 200",
        )
        .bind(now.timestamp())
        .fetch_all(self.db.pool())
        .await?;
        let mut moved = 0;
        for row in due {
            let id: i64 = row.try_get("id")?;
            match self.setter_may_go_on(guilds, id).await {
                Ok(true) => {}
                Ok(false) => {
                    self.stop(id).await?;
                    continue;
                }
                // The bot cannot tell now: the next sweep asks again.
                Err(err) => {
                    tracing::info!(reminder = id, error = %err, "a channel reminder waits for its check");
                    continue;
                }
            }
            match self.advance(id, now).await {
                Ok(true) => moved += 1,
                Ok(false) => {}
                // One that fails is tried again next sweep; the others go on.
                Err(err) => {
                    tracing::warn!(reminder = id, error = %err, "a repeat could not move on")
                }
            }
        }
        if moved > 0 {
            self.wake.notify_one();
        }
        Ok(moved)
    }

    /// A personal reminder always goes on; a channel reminder while its setter writes there.
    async fn setter_may_go_on(&self, guilds: &crate::guilds::Guilds, id: i64) -> Result<bool> {
        let mut conn = self.db.pool().acquire().await.map_err(DbError::from)?;
        let found = reminder_on(&mut conn, id).await?;
        drop(conn);
        match (found.guild_id, found.channel_id) {
            (Some(guild), Some(_)) => Ok(guilds.still_writes(guild, found.discord_id).await?),
            _ => Ok(true),
        }
    }

    /// Stops a channel reminder whose setter lost their rights: cancelled, with an audit entry.
    async fn stop(&self, id: i64) -> Result<()> {
        let now = now_unix();
        let mut tx = self.db.begin_write().await?;
        let (found, queued) = self.locked(&mut tx, id).await?;
        if found.state != "active" {
            return Ok(());
        }
        for notification in queued.into_iter().flatten() {
            store::cancel_on(&mut tx, notification, now).await?;
        }
        sqlx::query("UPDATE reminders SET state = 'cancelled', updated_at = ? WHERE id = ?")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if let (Some(guild), Some(channel)) = (found.guild_id, found.channel_id) {
            let detail = json!({"reminder_id": id, "channel_id": channel.to_string(),
                "text": found.body, "set_by": found.discord_id.to_string(),
                "reason": "its setter no longer manages the server"});
            audit::record(
                &mut tx,
                &self.keys,
                guild,
                &Actor::bot(),
                "reminder.stopped",
                &detail,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        tracing::info!(
            reminder = id,
            "a channel reminder stopped: its setter lost their rights"
        );
        Ok(())
    }

    /// Moves one repeating reminder to its next occurrence after `now` (occurrences missed
    /// while Herald was down are skipped; the one due was queued long before).
    async fn advance(&self, id: i64, now: chrono::DateTime<chrono::Utc>) -> Result<bool> {
        let mut tx = self.db.begin_write().await?;
        let (found, _) = self.locked(&mut tx, id).await?;
        let (Some(repeat), true) = (found.repeat, found.state == "active") else {
            return Ok(false);
        };
        if found.next_at > now.timestamp() {
            // Another instance moved it first.
            return Ok(false);
        }
        let mut at = chrono::DateTime::from_timestamp(found.next_at, 0).unwrap_or(now);
        while at <= now {
            at = repeat.next(at, found.zone, found.anchor_day);
            // Back to the wall time set (a DST gap moved one occurrence, not the series).
            at = at_wall_time(at, found.zone, found.anchor_minute);
        }
        let owner = found.user_id;
        let queued = self
            .queue(&mut tx, owner, &found, at.timestamp(), now.timestamp())
            .await?;
        sqlx::query(
            "UPDATE reminders SET next_at = ?, notification_id = ?, updated_at = ? WHERE id = ?",
        )
        .bind(at.timestamp())
        .bind(queued)
        .bind(now.timestamp())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// `at`'s day at the wall time `minute` (after midnight) in `zone`; `at` itself when the clocks
/// skip that time that day.
fn at_wall_time(
    at: chrono::DateTime<chrono::Utc>,
    zone: Tz,
    minute: u32,
) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    let day = at.with_timezone(&zone).date_naive();
    chrono::NaiveTime::from_hms_opt(minute / 60, minute % 60, 0)
        .and_then(|time| zone.from_local_datetime(&day.and_time(time)).earliest())
        .map_or(at, |t| t.with_timezone(&chrono::Utc))
}
