//! The outbox's SQL: notifications, their deliveries and attempts, as the API shows them.
//! (The workers' claims and outcomes live in `engine`.)

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::idempotency::IdempotencyKey;
use super::request::{Channel, Draft, Priority, Recipient};
use super::{NotifyError, Owner};
use crate::db::{Backend, Bind, Db, DbError, query_with};

/// `next_attempt_at` of a delivery that is final (sent, dead, cancelled): never due, so a
/// claim's index scan never passes over the history.
pub const NEVER: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z

/// Rows per multi-row `INSERT` of deliveries (well under both backends' bind limits).
const INSERT_CHUNK: usize = 100;
/// Rows per multi-row `INSERT` of notifications (13 values each).
const NOTIFICATION_CHUNK: usize = 64;
/// The most notifications one page of the list holds.
pub const PAGE_MAX: u32 = 100;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Due now, waiting for a worker.
    Queued,
    /// Waiting for its `send_at`.
    Scheduled,
    /// A worker holds it (until its lease ends).
    Sending,
    Sent,
    /// The last attempt failed transiently; another follows at `next_attempt_at`.
    Failed,
    /// No attempt is left, or the failure was permanent on every channel: re-drive to retry.
    Dead,
    Cancelled,
}

impl State {
    pub const ALL: [State; 7] = [
        State::Queued,
        State::Scheduled,
        State::Sending,
        State::Sent,
        State::Failed,
        State::Dead,
        State::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Scheduled => "scheduled",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Dead => "dead",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Nothing more happens to the delivery unless someone re-drives it.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Sent | Self::Dead | Self::Cancelled)
    }
}

/// One try of a delivery.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Attempt {
    pub channel: Channel,
    pub started_at: i64,
    pub finished_at: i64,
    /// `sent`, `transient` or `permanent`.
    pub outcome: String,
    /// What the provider answered.
    pub answer: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LastError {
    /// `transient` (retried) or `permanent`.
    pub class: String,
    pub message: String,
}

/// One recipient's delivery.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub id: i64,
    pub to: String,
    pub channel: Channel,
    pub state: State,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub last_error: Option<LastError>,
    /// The provider's id for the message (an e-mail's Message-ID, a Discord message id).
    pub provider_id: Option<String>,
    pub sent_at: Option<i64>,
    /// Every attempt, oldest first.
    pub history: Vec<Attempt>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Creator {
    /// A signed-in user.
    Session,
    /// A program, with the API key that signed the call.
    ApiKey { key_id: i64 },
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Notification {
    pub id: i64,
    pub created_by: Creator,
    pub channels: Vec<Channel>,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub priority: Priority,
    pub created_at: i64,
    pub send_at: i64,
    pub idempotency_key: Option<String>,
    pub deliveries: Vec<Delivery>,
}

impl Notification {
    pub fn is_final(&self) -> bool {
        self.deliveries.iter().all(|d| d.state.is_final())
    }
}

/// A notification in a list: its deliveries counted by state.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Summary {
    pub id: i64,
    pub channels: Vec<Channel>,
    pub subject: String,
    pub created_at: i64,
    pub send_at: i64,
    pub recipients: i64,
    /// Deliveries per state, e.g. `{"sent": 3, "dead": 1}`.
    pub states: BTreeMap<String, i64>,
}

/// What the list shows: newest first, `before` an id for the next page.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub state: Option<State>,
    pub channel: Option<Channel>,
    /// Created at or after (Unix seconds).
    pub since: Option<i64>,
    /// Created before (Unix seconds).
    pub until: Option<i64>,
    pub before: Option<i64>,
    pub limit: u32,
}

pub fn join_channels(channels: &[Channel]) -> String {
    channels
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

pub fn split_channels(raw: &str) -> Vec<Channel> {
    raw.split(',').filter_map(Channel::parse).collect()
}

/// Who made a notification, as stored: 'session', 'api_key', or 'system' (Herald's own
/// account mails, whose content is final, not a template, and never shown by the API).
const SYSTEM: &str = "system";

/// Inserts a notification and one delivery per recipient; answers the notification's id.
pub async fn insert(
    tx: &mut AnyConnection,
    owner: Owner,
    draft: &Draft,
    key: Option<&IdempotencyKey>,
    now: i64,
) -> Result<i64, NotifyError> {
    insert_as(tx, owner, creator_of(owner), draft, key, now).await
}

/// Inserts one of Herald's own messages for `user_id`.
pub async fn insert_system(
    tx: &mut AnyConnection,
    user_id: i64,
    draft: &Draft,
    now: i64,
) -> Result<i64, NotifyError> {
    insert_as(tx, Owner::user(user_id), SYSTEM, draft, None, now).await
}

/// The same inside another domain's transaction (an audit entry's post, say), whose error
/// type is the database's.
pub async fn insert_system_on(
    conn: &mut AnyConnection,
    user_id: i64,
    draft: &Draft,
    now: i64,
) -> Result<i64, DbError> {
    insert_system(conn, user_id, draft, now)
        .await
        .map_err(|e| match e {
            NotifyError::Db(db) => db,
            other => DbError::Sqlx(sqlx::Error::Protocol(other.to_string())),
        })
}

async fn insert_as(
    tx: &mut AnyConnection,
    owner: Owner,
    creator: &str,
    draft: &Draft,
    key: Option<&IdempotencyKey>,
    now: i64,
) -> Result<i64, NotifyError> {
    let row = NewRow {
        id: None,
        owner,
        creator,
        draft,
        key,
    };
    insert_notifications(tx, &[row], now).await?;
    let id = crate::db::last_insert_id(tx).await?;
    insert_deliveries(tx, &[(id, draft)], now).await?;
    Ok(id)
}

/// Inserts sends made without an idempotency key, all in `tx`; answers their ids in order.
pub async fn insert_group(
    tx: &mut AnyConnection,
    backend: Backend,
    sends: &[(Owner, &Draft)],
    now: i64,
) -> Result<Vec<i64>, NotifyError> {
    let ids = match backend {
        Backend::Sqlite => insert_numbered(tx, sends, now).await?,
        Backend::MySql => insert_each(tx, sends, now).await?,
    };
    let drafts: Vec<(i64, &Draft)> = ids.iter().copied().zip(sends.iter().map(|s| s.1)).collect();
    insert_deliveries(tx, &drafts, now).await?;
    Ok(ids)
}

/// SQLite: the ids are chosen here (one past the highest ever given), which is safe because
/// SQLite's write transaction excludes every other writer until commit; the rows then go in
/// multi-row inserts.
async fn insert_numbered(
    tx: &mut AnyConnection,
    sends: &[(Owner, &Draft)],
    now: i64,
) -> Result<Vec<i64>, NotifyError> {
    // AUTOINCREMENT never hands out an id twice, even a deleted row's: neither do we.
    let row = sqlx::query(
        "SELECT MAX(COALESCE((SELECT MAX(id) FROM notifications), 0), \
         COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'notifications'), 0))",
    )
    .fetch_one(&mut *tx)
    .await?;
    let first = row.try_get::<i64, _>(0)? + 1;
    let ids: Vec<i64> = (first..).take(sends.len()).collect();
    let rows: Vec<NewRow> = sends
        .iter()
        .zip(&ids)
        .map(|((owner, draft), id)| NewRow {
            id: Some(*id),
            owner: *owner,
            creator: creator_of(*owner),
            draft,
            key: None,
        })
        .collect();
    for chunk in rows.chunks(NOTIFICATION_CHUNK) {
        insert_notifications(tx, chunk, now).await?;
    }
    Ok(ids)
}

/// MySQL/MariaDB: one insert per notification, its id read from the server's answer (other
/// writers may take ids in between, so a multi-row insert's ids are not known).
async fn insert_each(
    tx: &mut AnyConnection,
    sends: &[(Owner, &Draft)],
    now: i64,
) -> Result<Vec<i64>, NotifyError> {
    let mut ids = Vec::with_capacity(sends.len());
    for (owner, draft) in sends {
        let row = NewRow {
            id: None,
            owner: *owner,
            creator: creator_of(*owner),
            draft,
            key: None,
        };
        let done = insert_notifications(tx, &[row], now).await?;
        ids.push(done.last_insert_id().ok_or(sqlx::Error::RowNotFound)?);
    }
    Ok(ids)
}

/// 'api_key' when a program signed the call, else 'session'.
fn creator_of(owner: Owner) -> &'static str {
    if owner.api_key_id.is_some() {
        "api_key"
    } else {
        "session"
    }
}

/// A notification row to insert; `id` `None` lets the database choose.
struct NewRow<'a> {
    id: Option<i64>,
    owner: Owner,
    creator: &'a str,
    draft: &'a Draft,
    key: Option<&'a IdempotencyKey>,
}

async fn insert_notifications(
    tx: &mut AnyConnection,
    rows: &[NewRow<'_>],
    now: i64,
) -> Result<sqlx::any::AnyQueryResult, NotifyError> {
    let values = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    let sql = format!(
        "INSERT INTO notifications (id, user_id, creator, api_key_id, channels, subject, \
         body_text, body_html, data, priority, idempotency_key, created_at, send_at) VALUES {}",
        vec![values; rows.len()].join(", ")
    );
    // Built from constants only: the values are bound.
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for row in rows {
        let draft = row.draft;
        query = query
            .bind(row.id)
            .bind(row.owner.user_id)
            .bind(row.creator)
            .bind(row.owner.api_key_id)
            .bind(join_channels(&draft.channels))
            .bind(&draft.subject)
            .bind(&draft.text)
            .bind(draft.html.as_deref())
            .bind(draft.data.as_ref().map(|d| d.to_string()))
            .bind(draft.priority.rank())
            .bind(row.key.map(IdempotencyKey::as_str))
            .bind(now)
            .bind(draft.send_at.unwrap_or(now));
    }
    Ok(query.execute(&mut *tx).await?)
}

/// One delivery per recipient of each `(notification id, draft)`, in multi-row inserts.
async fn insert_deliveries(
    tx: &mut AnyConnection,
    notifications: &[(i64, &Draft)],
    now: i64,
) -> Result<(), NotifyError> {
    let rows: Vec<(i64, &Draft, &Recipient)> = notifications
        .iter()
        .flat_map(|(id, draft)| draft.recipients.iter().map(move |r| (*id, *draft, r)))
        .collect();
    for chunk in rows.chunks(INSERT_CHUNK) {
        insert_delivery_rows(tx, chunk, now).await?;
    }
    Ok(())
}

async fn insert_delivery_rows(
    tx: &mut AnyConnection,
    rows: &[(i64, &Draft, &Recipient)],
    now: i64,
) -> Result<(), NotifyError> {
    let values = "(?, ?, ?, ?, ?, ?, ?, ?, ?)";
    let sql = format!(
        "INSERT INTO deliveries (notification_id, recipient, recipient_label, channel_index, \
         channel, state, priority, next_attempt_at, updated_at) VALUES {}",
        vec![values; rows.len()].join(", ")
    );
    // Built from constants only: the values are bound.
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (notification_id, draft, recipient) in rows {
        // The first channel this recipient can be reached on.
        let (index, channel) = draft
            .channels
            .iter()
            .enumerate()
            .find(|(_, c)| recipient.reachable_on(**c))
            .expect("request checking keeps only reachable recipients");
        let state = if draft.send_at.is_some() {
            State::Scheduled
        } else {
            State::Queued
        };
        query = query
            .bind(*notification_id)
            .bind(serde_json::to_string(recipient).expect("a recipient serialises"))
            .bind(recipient.label())
            .bind(index as i64)
            .bind(channel.as_str())
            .bind(state.as_str())
            .bind(draft.priority.rank())
            .bind(draft.send_at.unwrap_or(now))
            .bind(now);
    }
    query.execute(&mut *tx).await?;
    Ok(())
}

/// A notification of `user_id` with its deliveries and their attempts.
pub async fn get(db: &Db, user_id: i64, id: i64) -> Result<Option<Notification>, DbError> {
    let row = sqlx::query(
        "SELECT id, creator, api_key_id, channels, subject, body_text, body_html, priority, \
         created_at, send_at, idempotency_key FROM notifications \
         WHERE id = ? AND user_id = ? AND creator <> 'system'",
    )
    .bind(id)
    .bind(user_id)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let deliveries = deliveries(db, id).await?;
    Ok(Some(notification(&row, deliveries)?))
}

fn notification(row: &AnyRow, deliveries: Vec<Delivery>) -> Result<Notification, sqlx::Error> {
    let created_by = match row.try_get::<Option<i64>, _>("api_key_id")? {
        Some(key_id) => Creator::ApiKey { key_id },
        None => Creator::Session,
    };
    Ok(Notification {
        id: row.try_get("id")?,
        created_by,
        channels: split_channels(&row.try_get::<String, _>("channels")?),
        subject: row.try_get("subject")?,
        text: row.try_get("body_text")?,
        html: row.try_get("body_html")?,
        priority: Priority::from_rank(row.try_get("priority")?),
        created_at: row.try_get("created_at")?,
        send_at: row.try_get("send_at")?,
        idempotency_key: row.try_get("idempotency_key")?,
        deliveries,
    })
}

async fn deliveries(db: &Db, notification_id: i64) -> Result<Vec<Delivery>, DbError> {
    let rows = sqlx::query(
        "SELECT id, recipient_label, channel, state, attempts, next_attempt_at, \
         last_error_class, last_error, provider_id, sent_at FROM deliveries \
         WHERE notification_id = ? ORDER BY id",
    )
    .bind(notification_id)
    .fetch_all(db.pool())
    .await?;
    let mut history = attempts(db, notification_id).await?;
    rows.iter()
        .map(|row| {
            let id: i64 = row.try_get("id")?;
            let state = State::parse(&row.try_get::<String, _>("state")?).unwrap_or(State::Dead);
            let class: Option<String> = row.try_get("last_error_class")?;
            Ok(Delivery {
                id,
                to: row.try_get("recipient_label")?,
                channel: Channel::parse(&row.try_get::<String, _>("channel")?)
                    .unwrap_or(Channel::Email),
                state,
                attempts: row.try_get("attempts")?,
                next_attempt_at: (!state.is_final())
                    .then(|| row.try_get("next_attempt_at"))
                    .transpose()?,
                last_error: class
                    .map(|class| -> Result<LastError, sqlx::Error> {
                        Ok(LastError {
                            class,
                            message: row
                                .try_get::<Option<String>, _>("last_error")?
                                .unwrap_or_default(),
                        })
                    })
                    .transpose()?,
                provider_id: row.try_get("provider_id")?,
                sent_at: row.try_get("sent_at")?,
                history: history.remove(&id).unwrap_or_default(),
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

async fn attempts(db: &Db, notification_id: i64) -> Result<BTreeMap<i64, Vec<Attempt>>, DbError> {
    let rows = sqlx::query(
        "SELECT a.delivery_id, a.channel, a.started_at, a.finished_at, a.outcome, a.answer \
         FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id \
         WHERE d.notification_id = ? ORDER BY a.id",
    )
    .bind(notification_id)
    .fetch_all(db.pool())
    .await?;
    let mut by_delivery: BTreeMap<i64, Vec<Attempt>> = BTreeMap::new();
    for row in rows {
        by_delivery
            .entry(row.try_get("delivery_id")?)
            .or_default()
            .push(Attempt {
                channel: Channel::parse(&row.try_get::<String, _>("channel")?)
                    .unwrap_or(Channel::Email),
                started_at: row.try_get("started_at")?,
                finished_at: row.try_get("finished_at")?,
                outcome: row.try_get("outcome")?,
                answer: row.try_get("answer")?,
            });
    }
    Ok(by_delivery)
}

/// A page of `user_id`'s notifications, newest first.
pub async fn list(db: &Db, user_id: i64, filter: &Filter) -> Result<Vec<Summary>, DbError> {
    let mut sql = String::from(
        "SELECT n.id, n.channels, n.subject, n.created_at, n.send_at FROM notifications n \
         WHERE n.user_id = ? AND n.creator <> 'system'",
    );
    let mut binds: Vec<Bind> = vec![Bind::Int(user_id)];
    if let Some(before) = filter.before {
        sql.push_str(" AND n.id < ?");
        binds.push(Bind::Int(before));
    }
    if let Some(since) = filter.since {
        sql.push_str(" AND n.created_at >= ?");
        binds.push(Bind::Int(since));
    }
    if let Some(until) = filter.until {
        sql.push_str(" AND n.created_at < ?");
        binds.push(Bind::Int(until));
    }
    if filter.state.is_some() || filter.channel.is_some() {
        sql.push_str(" AND EXISTS (SELECT 1 FROM deliveries d WHERE d.notification_id = n.id");
        if let Some(state) = filter.state {
            sql.push_str(" AND d.state = ?");
            binds.push(Bind::Text(state.as_str().to_owned()));
        }
        if let Some(channel) = filter.channel {
            sql.push_str(" AND d.channel = ?");
            binds.push(Bind::Text(channel.as_str().to_owned()));
        }
        sql.push(')');
    }
    sql.push_str(" ORDER BY n.id DESC LIMIT ?");
    binds.push(Bind::Int(i64::from(filter.limit.clamp(1, PAGE_MAX))));
    let rows = query_with(sql, binds).fetch_all(db.pool()).await?;
    let mut summaries = Vec::with_capacity(rows.len());
    for row in rows {
        let id: i64 = row.try_get("id")?;
        let states = state_counts(db, id).await?;
        summaries.push(Summary {
            id,
            channels: split_channels(&row.try_get::<String, _>("channels")?),
            subject: row.try_get("subject")?,
            created_at: row.try_get("created_at")?,
            send_at: row.try_get("send_at")?,
            recipients: states.values().sum(),
            states,
        });
    }
    Ok(summaries)
}

async fn state_counts(db: &Db, notification_id: i64) -> Result<BTreeMap<String, i64>, DbError> {
    let rows = sqlx::query(
        "SELECT state, COUNT(*) AS n FROM deliveries WHERE notification_id = ? GROUP BY state",
    )
    .bind(notification_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("state")?, row.try_get("n")?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// Cancels the scheduled deliveries of a notification; answers how many.
pub async fn cancel(db: &Db, notification_id: i64, now: i64) -> Result<u64, DbError> {
    let mut conn = db.writer().acquire().await?;
    cancel_on(&mut conn, notification_id, now).await
}

/// The same inside another domain's transaction (a reminder marked done, say).
pub async fn cancel_on(
    conn: &mut AnyConnection,
    notification_id: i64,
    now: i64,
) -> Result<u64, DbError> {
    let done = sqlx::query(
        "UPDATE deliveries SET state = 'cancelled', next_attempt_at = ?, updated_at = ? \
         WHERE notification_id = ? AND state = 'scheduled'",
    )
    .bind(NEVER)
    .bind(now)
    .bind(notification_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// Queues the dead deliveries of a notification again, from their first reachable channel,
/// with a fresh count of attempts; answers how many. `only` keeps to the deliveries with
/// those labels (a server's manager re-drives the posts to its channels, nothing else).
pub async fn redrive(
    db: &Db,
    notification_id: i64,
    only: Option<&[String]>,
    now: i64,
) -> Result<u64, DbError> {
    let mut tx = db.begin_write().await?;
    let count = redrive_on(&mut tx, db.lock_rows(), notification_id, only, now).await?;
    tx.commit().await?;
    Ok(count)
}

/// The same inside the caller's write transaction (`lock`: the backend's row-lock suffix).
pub async fn redrive_on(
    tx: &mut AnyConnection,
    lock: &str,
    notification_id: i64,
    only: Option<&[String]>,
    now: i64,
) -> Result<u64, DbError> {
    let sql = format!(
        "SELECT d.id, d.recipient, d.recipient_label, n.channels FROM deliveries d \
         JOIN notifications n ON n.id = d.notification_id \
         WHERE d.notification_id = ? AND d.state = 'dead'{lock}"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(notification_id)
        .fetch_all(&mut *tx)
        .await?;
    let mut count = 0;
    for row in &rows {
        let label: String = row.try_get("recipient_label")?;
        if only.is_some_and(|labels| !labels.contains(&label)) {
            continue;
        }
        count += 1;
        let recipient: Recipient =
            serde_json::from_str(&row.try_get::<String, _>("recipient")?).unwrap_or_default();
        let channels = split_channels(&row.try_get::<String, _>("channels")?);
        let (index, channel) = channels
            .iter()
            .enumerate()
            .find(|(_, c)| recipient.reachable_on(**c))
            .map_or((0, Channel::Email), |(i, c)| (i, *c));
        sqlx::query(
            "UPDATE deliveries SET state = 'queued', attempts = 0, channel_index = ?, \
             channel = ?, next_attempt_at = ?, claimed_by = NULL, lease_until = NULL, \
             updated_at = ? WHERE id = ?",
        )
        .bind(index as i64)
        .bind(channel.as_str())
        .bind(now)
        .bind(now)
        .bind(row.try_get::<i64, _>("id")?)
        .execute(&mut *tx)
        .await?;
    }
    Ok(count)
}

/// Deliveries by state (every state, zeros included) and how long the oldest due one has
/// waited (seconds; 0 when none is due): what `/metrics` reports of the shared queue.
pub async fn queue_depth(db: &Db, now: i64) -> Result<(Vec<(&'static str, i64)>, i64), DbError> {
    let rows = sqlx::query("SELECT state, COUNT(*) FROM deliveries GROUP BY state")
        .fetch_all(db.pool())
        .await?;
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for row in rows {
        counts.insert(row.try_get(0)?, row.try_get(1)?);
    }
    let depth = State::ALL
        .iter()
        .map(|s| (s.as_str(), counts.get(s.as_str()).copied().unwrap_or(0)))
        .collect();
    let oldest: Option<i64> = sqlx::query(
        "SELECT MIN(next_attempt_at) FROM deliveries \
         WHERE state IN ('queued', 'scheduled', 'failed') AND next_attempt_at <= ?",
    )
    .bind(now)
    .fetch_one(db.pool())
    .await?
    .try_get(0)?;
    Ok((depth, oldest.map_or(0, |at| now - at)))
}
