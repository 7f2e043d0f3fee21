//! Audit entries posted to the server's log channel through the notification outbox: the post
//! is queued in the same transaction as the entry, so a Discord outage delays it and loses none.
//! The post is Herald's own (sealed at rest like its mails, never shown by the notification
//! API), queued under the user who acted, or else the last user who saved the settings.

use serde_json::Value;
use sqlx::{AnyConnection, Row};

use super::audit::{self, Actor};
use super::presence::snowflake;
use super::settings::{Language, Settings};
use crate::crypto::Keys;
use crate::db::DbError;
use crate::i18n::{self, Locale};
use crate::notifications::request::{Channel, Draft, Priority, Recipient};

/// Queues the entry's post when the server has a log channel; nothing otherwise.
pub async fn post(
    conn: &mut AnyConnection,
    keys: &Keys,
    guild_id: u64,
    actor: &Actor,
    action: &str,
    detail: &Value,
    now: i64,
) -> Result<(), DbError> {
    if action == "bot.removed" {
        // The bot is no longer in the server: it cannot post there.
        return Ok(());
    }
    let row = sqlx::query(
        "SELECT s.settings, g.preferred_locale FROM guild_settings s \
         LEFT JOIN guilds g ON g.id = s.guild_id WHERE s.guild_id = ?",
    )
    .bind(snowflake(guild_id))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(()) };
    let settings: Settings =
        serde_json::from_str(&row.try_get::<String, _>("settings")?).unwrap_or_default();
    let Some(channel) = settings.log_channel else {
        return Ok(());
    };
    let Some(owner) = owner(conn, guild_id, actor).await? else {
        return Ok(());
    };
    let locale_hint: Option<String> = row.try_get("preferred_locale")?;
    let locale = locale_of(&settings, locale_hint.as_deref());
    let text = message(locale, actor, action, detail);
    let draft = Draft {
        channels: vec![Channel::Discord],
        recipients: vec![Recipient {
            discord_channel: Some(channel.to_string()),
            ..Recipient::default()
        }],
        subject: i18n::text(locale, "audit.subject"),
        text: keys.encrypt(&text),
        html: None,
        data: None,
        priority: Priority::Normal,
        send_at: None,
    };
    crate::notifications::store::insert_system_on(conn, owner, &draft, now).await?;
    Ok(())
}

/// The language Herald speaks in a server: its setting, else the server's community language.
pub async fn language(conn: &mut AnyConnection, guild_id: u64) -> Result<Locale, DbError> {
    let row = sqlx::query(
        "SELECT s.settings, g.preferred_locale FROM guilds g \
         LEFT JOIN guild_settings s ON s.guild_id = g.id WHERE g.id = ?",
    )
    .bind(snowflake(guild_id))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(Locale::En);
    };
    let settings: Settings = row
        .try_get::<Option<String>, _>("settings")?
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    let hint: Option<String> = row.try_get("preferred_locale")?;
    Ok(locale_of(&settings, hint.as_deref()))
}

fn locale_of(settings: &Settings, hint: Option<&str>) -> Locale {
    match settings
        .language
        .unwrap_or_else(|| Language::of_locale(hint))
    {
        Language::En => Locale::En,
        Language::Ko => Locale::Ko,
    }
}

/// Who a post of the server is queued under: the user who acted, or the last one who saved
/// its settings (the outbox sends for a Herald account).
pub async fn owner(
    conn: &mut AnyConnection,
    guild_id: u64,
    actor: &Actor,
) -> Result<Option<i64>, DbError> {
    if let Some(user) = actor.user_id {
        return Ok(Some(user));
    }
    let row = sqlx::query(
        "SELECT r.author_user_id FROM guild_setting_revisions r \
         JOIN users u ON u.id = r.author_user_id \
         WHERE r.guild_id = ? ORDER BY r.revision DESC LIMIT 1",
    )
    .bind(snowflake(guild_id))
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| r.try_get("author_user_id")).transpose()?)
}

/// `Settings changed · <@7001> · web` and a line per changed field.
fn message(locale: Locale, actor: &Actor, action: &str, detail: &Value) -> String {
    let discord = actor.discord_id.map(|id| id.to_string());
    let who = audit::who(discord.as_deref(), actor.user_id);
    let lines = audit::change_lines(detail);
    let head = audit::headline(locale, action, &who, actor.source, detail);
    std::iter::once(head)
        .chain(lines)
        .collect::<Vec<_>>()
        .join("\n")
}
