//! What the outbox did, for people to look at: deliveries per day by outcome (the dashboard's
//! and the notifications page's chart) and the latest deliveries to a server's channels.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row;

use super::store::State;
use crate::db::{Bind, Db, DbError, query_with};

/// Whose deliveries: one user's sends, or every send to some Discord channels (a server's).
pub enum Scope<'a> {
    User(i64),
    DiscordChannels(&'a [u64]),
}

/// One day's deliveries by outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Day {
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    pub sent: i64,
    /// Dead, or failed and waiting for a retry.
    pub failed: i64,
    /// Queued, scheduled or being sent.
    pub pending: i64,
    pub cancelled: i64,
}

/// A delivery as the server page lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Recent {
    pub notification_id: i64,
    pub to: String,
    pub state: State,
    pub attempts: i64,
    pub error: Option<String>,
    pub updated_at: i64,
}

/// The last `days` days (today included), each present, oldest first; by the day each
/// notification was made.
pub async fn daily(db: &Db, scope: Scope<'_>, days: i64, today: i64) -> Result<Vec<Day>, DbError> {
    let first = today - days + 1;
    let day = db.day_of("n.created_at");
    let (filter, binds) = where_scope(&scope);
    if binds.is_empty() && matches!(scope, Scope::DiscordChannels(_)) {
        return Ok(empty_days(first, today));
    }
    let sql = format!(
        "SELECT {day} AS day, d.state, COUNT(*) AS n FROM deliveries d \
         JOIN notifications n ON n.id = d.notification_id \
         WHERE {filter} AND n.created_at >= ? GROUP BY {day}, d.state"
    );
    let rows = query_with(sql, binds)
        .bind(first * 86_400)
        .fetch_all(db.pool())
        .await?;
    let mut by_day: BTreeMap<i64, Day> = (first..=today)
        .map(|d| {
            (
                d,
                Day {
                    day: d,
                    ..Day::default()
                },
            )
        })
        .collect();
    for row in rows {
        let (d, n): (i64, i64) = (row.try_get("day")?, row.try_get("n")?);
        let state: String = row.try_get("state")?;
        let Some(day) = by_day.get_mut(&d) else {
            continue;
        };
        match State::parse(&state) {
            Some(State::Sent) => day.sent += n,
            Some(State::Dead | State::Failed) => day.failed += n,
            Some(State::Cancelled) => day.cancelled += n,
            _ => day.pending += n,
        }
    }
    Ok(by_day.into_values().collect())
}

fn empty_days(first: i64, today: i64) -> Vec<Day> {
    (first..=today)
        .map(|d| Day {
            day: d,
            ..Day::default()
        })
        .collect()
}

/// The latest `limit` deliveries to a server's channels, newest first.
pub async fn recent(db: &Db, channels: &[u64], limit: u32) -> Result<Vec<Recent>, DbError> {
    latest(db, channels, "", limit).await
}

/// The latest `limit` dead deliveries to a server's channels, newest first.
pub async fn dead(db: &Db, channels: &[u64], limit: u32) -> Result<Vec<Recent>, DbError> {
    latest(db, channels, " AND d.state = 'dead'", limit).await
}

async fn latest(db: &Db, channels: &[u64], and: &str, limit: u32) -> Result<Vec<Recent>, DbError> {
    let (filter, binds) = where_scope(&Scope::DiscordChannels(channels));
    if binds.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT d.notification_id, d.recipient_label, d.state, d.attempts, d.last_error, \
         d.updated_at FROM deliveries d JOIN notifications n ON n.id = d.notification_id \
         WHERE {filter}{and} ORDER BY d.id DESC LIMIT ?"
    );
    let rows = query_with(sql, binds)
        .bind(i64::from(limit))
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|row| {
            let state: String = row.try_get("state")?;
            Ok(Recent {
                notification_id: row.try_get("notification_id")?,
                to: row.try_get("recipient_label")?,
                state: State::parse(&state).unwrap_or(State::Queued),
                attempts: row.try_get("attempts")?,
                error: row.try_get("last_error")?,
                updated_at: row.try_get("updated_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// The `WHERE` for a scope and its values. Herald's own mails are never counted.
fn where_scope(scope: &Scope<'_>) -> (String, Vec<Bind>) {
    match scope {
        Scope::User(user_id) => (
            "n.user_id = ? AND n.creator <> 'system'".to_owned(),
            vec![Bind::Int(*user_id)],
        ),
        Scope::DiscordChannels(channels) => {
            // A channel delivery's label is `discord:<channel id>` (see `Recipient::label`).
            let labels: Vec<Bind> = channels
                .iter()
                .map(|c| Bind::Text(format!("discord:{c}")))
                .collect();
            let marks = vec!["?"; labels.len()].join(", ");
            (
                format!("d.channel = 'discord' AND d.recipient_label IN ({marks})"),
                labels,
            )
        }
    }
}
