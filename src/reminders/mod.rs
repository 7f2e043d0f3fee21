//! Reminders set from Discord: "in 2h", "tomorrow 9:00", a date, read in the user's time zone,
//! once or on repeat, to the user (a direct message) or to a server's channel.
//!
//! A reminder never waits in memory: each occurrence is a notification in the outbox, queued
//! in the same transaction that decides it, so Discord being down delays it and a failure is
//! retried and recorded, never dropped. A repeating reminder keeps exactly one occurrence
//! queued; the sweep queues the one after once it is due (safe on several instances: the row is
//! locked and its `next_at` checked again). The delivered message carries Snooze and Done
//! buttons whose custom ids name the reminder, so any Herald understands them after a restart.

mod press;
mod sweep;

use std::sync::Arc;

use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::accounts::Accounts;
use crate::crypto::Keys;
use crate::db::{Db, DbError, now_unix};
use crate::guilds::audit::{self, Actor, Source};
use crate::guilds::presence::snowflake;
use crate::guilds::{Grant, GuildsError};
use crate::i18n::{self, Locale};
use crate::notifications::request::{Channel, Draft, Priority, Recipient};
use crate::notifications::store;
use crate::when::{self, Repeat, Tz, WhenError};
pub use press::Press;

/// A reminder's text, at most.
pub const BODY_MAX: usize = 1000;
/// Reminders one Discord user may have waiting at once (keeps the sweep and the list bounded).
pub const ACTIVE_MAX: i64 = 100;
/// The prefix of a reminder button's custom id: `remind:<id>:<press>`.
pub const BUTTON: &str = "remind";
/// How long a delivered one-off reminder stays in the list (to be snoozed or marked done).
const SHOWN_AFTER: i64 = 86_400;

#[derive(Debug, thiserror::Error)]
pub enum ReminderError {
    #[error("this Discord account is not linked to a Herald account yet")]
    NotLinked,
    #[error(transparent)]
    Time(#[from] WhenError),
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("no reminder of yours has that number")]
    NotFound,
    #[error("at most {ACTIVE_MAX} reminders may wait at once")]
    TooMany,
    #[error("only the one who set this reminder may do that")]
    NotYours,
    #[error(transparent)]
    Guilds(#[from] GuildsError),
    #[error(transparent)]
    Accounts(#[from] crate::accounts::AccountsError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for ReminderError {
    fn from(err: sqlx::Error) -> Self {
        Self::Db(err.into())
    }
}

type Result<T, E = ReminderError> = std::result::Result<T, E>;

/// Where a reminder goes.
pub enum Target<'a> {
    /// The one who set it, as a direct message.
    Me,
    /// A channel of the server the grant is for (a manager's write grant).
    Channel(&'a Grant, u64),
}

/// Who is setting or pressing, as the interaction describes them.
#[derive(Debug, Clone, Copy)]
pub struct Setter {
    pub discord_id: u64,
    pub locale: Locale,
    /// The server the command was used in, if any.
    pub guild_id: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reminder {
    pub id: i64,
    /// The Herald account it is sent for.
    pub user_id: i64,
    pub discord_id: u64,
    pub guild_id: Option<u64>,
    /// `None`: a direct message.
    pub channel_id: Option<u64>,
    pub body: String,
    pub zone: Tz,
    pub repeat: Option<Repeat>,
    /// The day of the month a monthly repeat returns to, and the wall time (minutes after
    /// midnight) every repeat returns to.
    pub anchor_day: u32,
    pub anchor_minute: u32,
    pub next_at: i64,
    /// `active`, `done` or `cancelled`.
    pub state: String,
    pub locale: Locale,
    /// Where the occurrence waiting in the outbox stands: its delivery's state and last error.
    pub delivery: Option<(String, Option<String>)>,
}

pub struct Reminders {
    db: Db,
    accounts: Arc<Accounts>,
    /// Seal the occurrences' text at rest, as Herald's other own posts.
    keys: Keys,
    /// Wakes the outbox's workers when an occurrence is queued.
    wake: Arc<tokio::sync::Notify>,
}

impl Reminders {
    pub fn new(
        db: Db,
        accounts: Arc<Accounts>,
        keys: Keys,
        wake: Arc<tokio::sync::Notify>,
    ) -> Self {
        Self {
            db,
            accounts,
            keys,
            wake,
        }
    }

    /// The zone the user set, if they set one.
    pub async fn zone_set(&self, discord_id: u64) -> Result<Option<Tz>> {
        let row = sqlx::query("SELECT time_zone FROM discord_users WHERE discord_id = ?")
            .bind(snowflake(discord_id))
            .fetch_optional(self.db.pool())
            .await?;
        Ok(row
            .and_then(|r| r.try_get::<String, _>(0).ok())
            .and_then(|name| when::zone(&name)))
    }

    /// The zone the user's times are read in: theirs, else Seoul for a Korean caller, else UTC.
    pub async fn zone_of(&self, discord_id: u64, locale: Locale) -> Result<Tz> {
        Ok(self
            .zone_set(discord_id)
            .await?
            .unwrap_or_else(|| default_zone(locale)))
    }

    pub async fn set_zone(&self, discord_id: u64, zone: Tz) -> Result<()> {
        let sql = format!(
            "INSERT INTO discord_users (discord_id, time_zone, updated_at) VALUES (?, ?, ?) {}",
            self.db
                .upsert(&["discord_id"], &["time_zone", "updated_at"])
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(snowflake(discord_id))
            .bind(zone.name())
            .bind(now_unix())
            .execute(self.db.writer())
            .await?;
        Ok(())
    }

    /// How a typed time reads back, for the autocomplete's live preview: the time it means in
    /// the user's zone, or why it cannot be read.
    pub async fn preview(&self, setter: &Setter, typed: &str) -> Result<String> {
        let zone = self.zone_of(setter.discord_id, setter.locale).await?;
        let now = chrono::Utc::now();
        let korean = setter.locale == Locale::Ko;
        Ok(match when::parse(typed, now, zone) {
            Ok(at) => format!("✓ {}", when::preview(at, now, zone, korean)),
            Err(err) => format!("✗ {}", explain_time(setter.locale, &err)),
        })
    }

    /// Sets a reminder and queues its first occurrence, in one transaction. A channel
    /// reminder is an audit entry of its server.
    pub async fn create(
        &self,
        setter: &Setter,
        target: Target<'_>,
        typed_when: &str,
        body: &str,
        repeat: Option<Repeat>,
    ) -> Result<Reminder> {
        let owner = self.owner(setter.discord_id).await?;
        let body = checked_body(body)?;
        if let Target::Channel(grant, _) = &target {
            grant.writable()?;
        }
        let zone = self.zone_of(setter.discord_id, setter.locale).await?;
        let now = chrono::Utc::now();
        let at = when::parse(typed_when, now, zone)?;
        let local = at.with_timezone(&zone);
        let anchor = chrono::Datelike::day(&local);
        let minute = chrono::Timelike::hour(&local) * 60 + chrono::Timelike::minute(&local);
        let (guild, channel) = match &target {
            Target::Me => (setter.guild_id, None),
            Target::Channel(grant, channel) => (Some(grant.guild_id()), Some(*channel)),
        };
        let now = now.timestamp();
        let mut tx = self.db.begin_write().await?;
        // The owner's row, locked: two creates at once count each other.
        self.lock_owner(&mut tx, owner).await?;
        if self.waiting(&mut tx, setter.discord_id, now).await? >= ACTIVE_MAX {
            return Err(ReminderError::TooMany);
        }
        sqlx::query(
            "INSERT INTO reminders (user_id, discord_id, guild_id, channel_id, body, time_zone, \
             repeat_every, anchor_day, anchor_minute, locale, next_at, state, created_at, \
             updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?)",
        )
        .bind(owner)
        .bind(snowflake(setter.discord_id))
        .bind(guild.map(snowflake))
        .bind(channel.map(snowflake))
        .bind(&body)
        .bind(zone.name())
        .bind(repeat.map(Repeat::as_str))
        .bind(i64::from(anchor))
        .bind(i64::from(minute))
        .bind(setter.locale.code())
        .bind(at.timestamp())
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let id = crate::db::last_insert_id(&mut tx).await?;
        let mut reminder = reminder_on(&mut tx, id).await?;
        let queued = self
            .queue(&mut tx, owner, &reminder, at.timestamp(), now)
            .await?;
        sqlx::query("UPDATE reminders SET notification_id = ? WHERE id = ?")
            .bind(queued)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if let Target::Channel(grant, channel) = &target {
            let detail = json!({"reminder_id": id, "channel_id": channel.to_string(),
                "at": at.timestamp(), "repeat": repeat.map(Repeat::as_str), "text": body});
            audit::record(
                &mut tx,
                &self.keys,
                grant.guild_id(),
                grant.actor(),
                "reminder.created",
                &detail,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        self.wake.notify_one();
        reminder.delivery = Some(("scheduled".into(), None));
        Ok(reminder)
    }

    /// The user's reminders still to come (and one-offs delivered in the last day), soonest
    /// first: `limit` of them from the `offset`-th, with where each delivery stands. With
    /// `managed` (a server the user manages), that server's channel reminders too, whoever
    /// set them: a manager can see and stop what the server is sent.
    pub async fn upcoming(
        &self,
        discord_id: u64,
        managed: Option<u64>,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<Reminder>> {
        let rows = sqlx::query(
            "SELECT r.*, d.state AS delivery_state, d.last_error FROM reminders r \
             LEFT JOIN deliveries d ON d.notification_id = r.notification_id \
             WHERE (r.discord_id = ? OR (r.channel_id IS NOT NULL AND r.guild_id = ?)) \
             AND r.state = 'active' AND (r.repeat_every IS NOT NULL OR r.next_at > ?) \
             ORDER BY r.next_at, r.id LIMIT ? OFFSET ?",
        )
        .bind(snowflake(discord_id))
        .bind(managed.map(snowflake))
        .bind(now_unix() - SHOWN_AFTER)
        .bind(i64::from(limit.clamp(1, 50)))
        .bind(i64::from(offset))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(reminder).collect()
    }

    /// Cancels a reminder and whatever of it waits in the outbox: one of the user's, or, with
    /// `manager` (a write grant), a channel reminder of that server whoever set it.
    pub async fn cancel(
        &self,
        setter: &Setter,
        manager: Option<&Grant>,
        id: i64,
    ) -> Result<Reminder> {
        let now = now_unix();
        let mut tx = self.db.begin_write().await?;
        let (found, queued) = self.locked(&mut tx, id).await?;
        let mine = found.discord_id == setter.discord_id;
        let managed = manager.filter(|g| {
            g.access().can_write()
                && found.channel_id.is_some()
                && found.guild_id == Some(g.guild_id())
        });
        if !(mine || managed.is_some()) || found.state != "active" {
            return Err(ReminderError::NotFound);
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
            let actor = match managed {
                Some(grant) => grant.actor().clone(),
                None => Actor {
                    user_id: self.owner(setter.discord_id).await.ok(),
                    discord_id: Some(setter.discord_id),
                    source: Source::SlashCommand,
                },
            };
            let detail = json!({"reminder_id": id, "channel_id": channel.to_string(),
                "text": found.body});
            audit::record(
                &mut tx,
                &self.keys,
                guild,
                &actor,
                "reminder.cancelled",
                &detail,
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(found)
    }

    /// A button of a delivered reminder: snooze it (a later snooze replaces an earlier one) or
    /// mark it done. Answers the reminder and, for a snooze, when it comes again.
    ///
    /// A one-off reminder moves to its snooze (its `next_at` and queued occurrence); a
    /// repeating one keeps its series and holds the snooze beside it.
    pub async fn press(&self, presser: u64, id: i64, press: Press) -> Result<(Reminder, i64)> {
        let now = chrono::Utc::now();
        let mut tx = self.db.begin_write().await?;
        // The owner's row first, as `create` takes it: a snooze counts against the limit too.
        let owner: Option<i64> = sqlx::query_scalar("SELECT user_id FROM reminders WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        self.lock_owner(&mut tx, owner.ok_or(ReminderError::NotFound)?)
            .await?;
        let (found, [queued, snoozed]) = self.locked(&mut tx, id).await?;
        if found.discord_id != presser {
            return Err(ReminderError::NotYours);
        }
        if found.state == "cancelled" {
            return Err(ReminderError::NotFound);
        }
        let once = found.repeat.is_none();
        let comes_back = once && found.next_at <= now.timestamp() && press != Press::Done;
        if comes_back && self.waiting(&mut tx, presser, now.timestamp()).await? >= ACTIVE_MAX {
            return Err(ReminderError::TooMany);
        }
        // What this press replaces: a one-off's waiting snooze, a series' extra one.
        let replaced = if once { queued } else { snoozed };
        if let Some(notification) = replaced {
            store::cancel_on(&mut tx, notification, now.timestamp()).await?;
        }
        let again = match press {
            Press::Done => None,
            Press::Snooze(secs) => Some(now.timestamp() + secs),
            Press::Tomorrow => {
                let day = chrono::Datelike::day(&now.with_timezone(&found.zone));
                Some(Repeat::Daily.next(now, found.zone, day).timestamp())
            }
        };
        let queued = match again {
            Some(at) => Some(
                self.queue(&mut tx, found.user_id, &found, at, now.timestamp())
                    .await?,
            ),
            None => None,
        };
        let stamp = now.timestamp();
        let update = match (once, again) {
            (true, Some(at)) => sqlx::query(
                "UPDATE reminders SET state = 'active', next_at = ?, notification_id = ?, \
                 updated_at = ? WHERE id = ?",
            )
            .bind(at)
            .bind(queued),
            (true, None) => {
                sqlx::query("UPDATE reminders SET state = 'done', updated_at = ? WHERE id = ?")
            }
            (false, _) => {
                sqlx::query("UPDATE reminders SET snoozed_id = ?, updated_at = ? WHERE id = ?")
                    .bind(queued)
            }
        };
        update.bind(stamp).bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        self.wake.notify_one();
        Ok((found, again.unwrap_or(0)))
    }

    /// The user's reminders whose text holds `typed`, for autocomplete: (id, label).
    pub async fn choices(
        &self,
        discord_id: u64,
        managed: Option<u64>,
        typed: &str,
    ) -> Result<Vec<(i64, String)>> {
        let listed = self.upcoming(discord_id, managed, 0, 50).await?;
        let typed = typed.trim().to_lowercase();
        Ok(listed
            .into_iter()
            .filter(|r| r.body.to_lowercase().contains(&typed) || r.id.to_string() == typed)
            .take(25)
            .map(|r| {
                let at = when::short(r.next_at, r.zone);
                let text: String = r.body.chars().take(60).collect();
                (r.id, format!("#{} · {at} · {text}", r.id))
            })
            .collect())
    }
}

impl Reminders {
    /// The Herald account linked to a Discord user: the outbox sends for an account.
    async fn owner(&self, discord_id: u64) -> Result<i64> {
        self.accounts
            .user_of_discord(discord_id)
            .await?
            .ok_or(ReminderError::NotLinked)
    }

    /// Locks the owner's row (MySQL; SQLite's write transaction already runs alone).
    async fn lock_owner(&self, conn: &mut AnyConnection, owner: i64) -> Result<()> {
        let lock = format!("SELECT id FROM users WHERE id = ?{}", self.db.lock_rows());
        sqlx::query(sqlx::AssertSqlSafe(lock))
            .bind(owner)
            .fetch_optional(&mut *conn)
            .await?;
        Ok(())
    }

    /// The reminder, its row locked, with its queued occurrence and snooze.
    async fn locked(
        &self,
        conn: &mut AnyConnection,
        id: i64,
    ) -> Result<(Reminder, [Option<i64>; 2])> {
        let sql = format!(
            "SELECT notification_id, snoozed_id FROM reminders WHERE id = ?{}",
            self.db.lock_rows()
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(ReminderError::NotFound)?;
        let queued = [row.try_get("notification_id")?, row.try_get("snoozed_id")?];
        Ok((reminder_on(conn, id).await?, queued))
    }

    /// How many of the user's reminders are still to come.
    async fn waiting(&self, conn: &mut AnyConnection, discord_id: u64, now: i64) -> Result<i64> {
        Ok(sqlx::query(
            "SELECT COUNT(*) FROM reminders WHERE discord_id = ? AND state = 'active' \
             AND (repeat_every IS NOT NULL OR next_at > ?)",
        )
        .bind(snowflake(discord_id))
        .bind(now)
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?)
    }

    /// Queues one occurrence at `at`: Herald's own post (sealed at rest), with the buttons.
    async fn queue(
        &self,
        conn: &mut AnyConnection,
        owner: i64,
        reminder: &Reminder,
        at: i64,
        now: i64,
    ) -> Result<i64> {
        let locale = reminder.locale;
        let label = |key: &str| i18n::text(locale, key);
        let buttons = [
            (Press::Snooze(1200), "reminder.snooze_20m"),
            (Press::Snooze(3600), "reminder.snooze_1h"),
            (Press::Tomorrow, "reminder.snooze_tomorrow"),
        ]
        .into_iter()
        .map(|(press, key)| json!({"id": press.custom_id(reminder.id), "label": label(key)}))
        .chain([json!({"id": Press::Done.custom_id(reminder.id),
            "label": label("reminder.done"), "style": "success"})])
        .collect::<Vec<_>>();
        let subject = match reminder.channel_id {
            Some(_) => i18n::message(
                locale,
                "reminder.subject_channel",
                &[("user", &reminder.discord_id.to_string())],
            ),
            None => label("reminder.subject"),
        };
        // A direct message falls back to the owner's verified address when Discord refuses it
        // for good (closed DMs, say): a reminder is not lost to a privacy setting.
        let channels = match reminder.channel_id {
            Some(_) => vec![Channel::Discord],
            None => vec![Channel::Discord, Channel::Email],
        };
        let draft = Draft {
            channels,
            recipients: vec![Recipient {
                discord_channel: reminder.channel_id.map(|c| c.to_string()),
                // No channel: a direct message to the owner, who is this Discord user.
                me: reminder.channel_id.is_none(),
                ..Recipient::default()
            }],
            subject,
            text: self.keys.encrypt(&reminder.body),
            html: None,
            data: Some(json!({"buttons": buttons, "reminder_id": reminder.id})),
            priority: Priority::Normal,
            send_at: (at > now).then_some(at),
        };
        Ok(store::insert_system_on(conn, owner, &draft, now).await?)
    }
}

/// The zone a user who set none reads times in.
pub fn default_zone(locale: Locale) -> Tz {
    match locale {
        Locale::Ko => chrono_tz::Asia::Seoul,
        Locale::En => chrono_tz::UTC,
    }
}

/// Why a typed time cannot be used, in the user's language.
pub fn explain_time(locale: Locale, err: &WhenError) -> String {
    let key = match err {
        WhenError::Unreadable(_) => "reminder.time_unreadable",
        WhenError::Past => "reminder.time_past",
        WhenError::TooFar => "reminder.time_too_far",
        WhenError::Skipped => "reminder.time_skipped",
    };
    i18n::text(locale, key)
}

fn checked_body(body: &str) -> Result<String> {
    let body = body.trim();
    let count = body.chars().count();
    if count == 0 || count > BODY_MAX {
        return Err(ReminderError::Invalid {
            field: "text",
            reason: format!("1 to {BODY_MAX} characters"),
        });
    }
    Ok(body.to_owned())
}

async fn reminder_on(conn: &mut AnyConnection, id: i64) -> Result<Reminder> {
    let row = sqlx::query(
        "SELECT r.*, NULL AS delivery_state, NULL AS last_error FROM reminders r WHERE r.id = ?",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(ReminderError::NotFound)?;
    reminder(&row)
}

fn reminder(row: &AnyRow) -> Result<Reminder> {
    let id = |column: &str| -> Result<Option<u64>> {
        Ok(row.try_get::<Option<i64>, _>(column)?.map(|v| v as u64))
    };
    let zone: String = row.try_get("time_zone")?;
    let repeat: Option<String> = row.try_get("repeat_every")?;
    let locale: String = row.try_get("locale")?;
    let delivery: Option<String> = row.try_get("delivery_state")?;
    Ok(Reminder {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        discord_id: id("discord_id")?.unwrap_or_default(),
        guild_id: id("guild_id")?,
        channel_id: id("channel_id")?,
        body: row.try_get("body")?,
        zone: when::zone(&zone).unwrap_or(chrono_tz::UTC),
        repeat: repeat.as_deref().and_then(Repeat::parse),
        anchor_day: row.try_get::<i64, _>("anchor_day")?.clamp(1, 31) as u32,
        anchor_minute: row.try_get::<i64, _>("anchor_minute")?.clamp(0, 1439) as u32,
        next_at: row.try_get("next_at")?,
        state: row.try_get("state")?,
        locale: Locale::parse(&locale).unwrap_or(Locale::En),
        delivery: delivery.map(|state| (state, row.try_get("last_error").ok().flatten())),
    })
}
