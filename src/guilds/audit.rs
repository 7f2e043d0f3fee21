//! Each server's audit log: who did what, from where, and when, with the before and after of
//! every field a change touched. Written in the same transaction as the change it describes,
//! so the log and the data never disagree.

use serde::Serialize;
use serde_json::Value;
use sqlx::{AnyConnection, Row};

use super::presence::snowflake;
use crate::crypto::Keys;
use crate::db::{Bind, Db, DbError, query_with};
use crate::i18n::{self, Locale};

/// Where a change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A dashboard page.
    Web,
    /// The JSON API.
    Api,
    SlashCommand,
    /// Discord itself, through the gateway (the bot added or removed from Discord's side).
    Bot,
}

impl Source {
    pub const ALL: [Source; 4] = [Source::Web, Source::Api, Source::SlashCommand, Source::Bot];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Api => "api",
            Self::SlashCommand => "slash_command",
            Self::Bot => "bot",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// Who made a change: a Herald user, a Discord user, or both (a linked member).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub discord_id: Option<u64>,
    pub source: Source,
}

impl Actor {
    /// Discord, reporting what happened on its side.
    pub fn bot() -> Self {
        Self {
            user_id: None,
            discord_id: None,
            source: Source::Bot,
        }
    }
}

/// One entry of the log.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Entry {
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    /// The Herald user, when there was one.
    pub actor_user_id: Option<i64>,
    /// The Discord user, as a string (snowflakes pass JavaScript's integers).
    pub actor_discord_id: Option<String>,
    pub source: Source,
    /// `bot.added`, `bot.removed`, `settings.updated`, `settings.restored`, ...
    pub action: String,
    /// What changed: for settings, `changes: [{field, before, after}]`.
    #[schema(value_type = Object)]
    pub detail: Value,
}

/// An entry's headline as Discord shows it (a log-channel post, `/audit`): the action in the
/// reader's words, who, from where, and the channel it concerns.
pub fn headline(locale: Locale, action: &str, who: &str, source: Source, detail: &Value) -> String {
    let key = format!("audit.action.{action}");
    let what = if i18n::has(locale, &key) {
        i18n::text(locale, &key)
    } else {
        action.to_owned()
    };
    let mut text = format!("**{what}** · {who} · {}", source.as_str());
    if let Some(channel) = detail["channel_id"].as_str() {
        text.push_str(&format!(" · <#{channel}>"));
    }
    text
}

/// Who acted, as Discord shows it: a mention of the Discord user, else the Herald user.
pub fn who(discord_id: Option<&str>, user_id: Option<i64>) -> String {
    match (discord_id, user_id) {
        (Some(discord), _) => format!("<@{discord}>"),
        (None, Some(user)) => format!("#{user}"),
        (None, None) => "Discord".to_owned(),
    }
}

/// A line per field the entry changed: `` `field`: before → after ``.
pub fn change_lines(detail: &Value) -> Vec<String> {
    detail["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|change| {
            format!(
                "`{}`: {} → {}",
                change["field"].as_str().unwrap_or_default(),
                shown(&change["before"]),
                shown(&change["after"])
            )
        })
        .collect()
}

/// A value of a change as people read it: unset as "—", text as it is.
pub fn shown(value: &Value) -> String {
    match value {
        Value::Null => "—".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Writes one entry inside the change's own transaction, and queues its post to the server's
/// log channel when one is set (`relay`; `keys` seal the post at rest).
pub async fn record(
    conn: &mut AnyConnection,
    keys: &Keys,
    guild_id: u64,
    actor: &Actor,
    action: &str,
    detail: &Value,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO audit_log (guild_id, at, actor_user_id, actor_discord_id, source, action, \
         detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(snowflake(guild_id))
    .bind(now)
    .bind(actor.user_id)
    .bind(actor.discord_id.map(snowflake))
    .bind(actor.source.as_str())
    .bind(action)
    .bind(detail.to_string())
    .execute(&mut *conn)
    .await?;
    super::relay::post(conn, keys, guild_id, actor, action, detail, now).await
}

/// The most entries one page holds.
pub const PAGE_MAX: u32 = 200;

/// Which entries to show: newest first, `before` an id for the next page.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub actor_user_id: Option<i64>,
    pub actor_discord_id: Option<u64>,
    /// Exact action, or a prefix ending in `.` (`settings.`).
    pub action: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub before: Option<i64>,
    pub limit: u32,
}

pub async fn list(db: &Db, guild_id: u64, filter: &Filter) -> Result<Vec<Entry>, DbError> {
    let mut sql = String::from(
        "SELECT id, at, actor_user_id, actor_discord_id, source, action, detail FROM audit_log \
         WHERE guild_id = ?",
    );
    let mut binds: Vec<Bind> = vec![Bind::Int(snowflake(guild_id))];
    let mut and = |clause: &str, value: Bind| {
        sql.push_str(clause);
        binds.push(value);
    };
    if let Some(user) = filter.actor_user_id {
        and(" AND actor_user_id = ?", Bind::Int(user));
    }
    if let Some(discord) = filter.actor_discord_id {
        and(" AND actor_discord_id = ?", Bind::Int(snowflake(discord)));
    }
    match filter.action.as_deref() {
        Some(prefix) if prefix.ends_with('.') => {
            // A prefix compares with SUBSTR, not LIKE: `_` and `%` in input stay literal.
            and(
                " AND SUBSTR(action, 1, ?)",
                Bind::Int(prefix.chars().count() as i64),
            );
            and(" = ?", Bind::Text(prefix.to_owned()));
        }
        Some(action) => and(" AND action = ?", Bind::Text(action.to_owned())),
        None => {}
    }
    if let Some(since) = filter.since {
        and(" AND at >= ?", Bind::Int(since));
    }
    if let Some(until) = filter.until {
        and(" AND at < ?", Bind::Int(until));
    }
    if let Some(before) = filter.before {
        and(" AND id < ?", Bind::Int(before));
    }
    sql.push_str(" ORDER BY id DESC LIMIT ?");
    binds.push(Bind::Int(i64::from(filter.limit.clamp(1, PAGE_MAX))));
    let rows = query_with(sql, binds).fetch_all(db.pool()).await?;
    rows.iter().map(entry).collect()
}

fn entry(row: &sqlx::any::AnyRow) -> Result<Entry, DbError> {
    let source: String = row.try_get("source")?;
    let detail: String = row.try_get("detail")?;
    Ok(Entry {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        actor_user_id: row.try_get("actor_user_id")?,
        actor_discord_id: row
            .try_get::<Option<i64>, _>("actor_discord_id")?
            .map(|id| id.to_string()),
        source: Source::parse(&source).unwrap_or(Source::Bot),
        action: row.try_get("action")?,
        detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
    })
}

/// The entries as CSV (RFC 4180), one line each. A cell that a spreadsheet would run as a
/// formula (`=`, `+`, `-`, `@` first) is prefixed with `'`: the log holds names people chose.
pub fn to_csv(entries: &[Entry]) -> String {
    let mut out = String::from("id,at,actor_user_id,actor_discord_id,source,action,detail\r\n");
    for e in entries {
        let cells = [
            e.id.to_string(),
            e.at.to_string(),
            e.actor_user_id.map(|id| id.to_string()).unwrap_or_default(),
            e.actor_discord_id.clone().unwrap_or_default(),
            e.source.as_str().to_owned(),
            e.action.clone(),
            e.detail.to_string(),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

fn csv_cell(raw: &str) -> String {
    let guarded = if raw.starts_with(['=', '+', '-', '@']) {
        format!("'{raw}")
    } else {
        raw.to_owned()
    };
    if guarded.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}
