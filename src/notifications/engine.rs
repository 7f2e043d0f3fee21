//! The delivery engine: workers claim due deliveries with a lease, send each through its
//! channel, and record the outcome.
//!
//! Claims: in a write transaction, select due rows (`FOR UPDATE SKIP LOCKED` on MySQL/MariaDB,
//! so instances pass over each other's rows; SQLite's write transaction excludes every other
//! writer), mark them `sending` with this worker's id and a lease, commit. A worker that dies
//! leaves its rows `sending` until the lease ends; then any worker claims them again. Every
//! outcome is written only by the worker that still holds the claim.
//!
//! Each channel has its own concurrency, so a slow Discord never holds up e-mail. A commit on
//! this instance wakes the workers at once; work from other instances, schedules and retries
//! are found by polling every `NOTIFY_POLL_MS`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sqlx::Row;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::discord::DiscordChannel;
use super::email::EmailChannel;
use super::job::{Job, Outcome};
use super::kakao::KakaoChannel;
use super::request::Channel;
use super::store::{NEVER, split_channels};
use crate::config::NotifyConfig;
use crate::crypto::Keys;
use crate::db::{Db, DbError, now_unix};
use crate::metrics::Metrics;

/// Rows one claim takes at most, per channel.
const CLAIM_BATCH: usize = 64;
/// A send must end this long before its lease does.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// Where each channel's deliveries go.
pub struct Channels {
    pub email: EmailChannel,
    pub discord: DiscordChannel,
    pub kakao: KakaoChannel,
}

impl Channels {
    async fn send(&self, job: &Job) -> Outcome {
        match job.channel {
            Channel::Email => self.email.send(job).await,
            Channel::Discord => self.discord.send(job).await,
            Channel::Kakao => self.kakao.send(job).await,
        }
    }

    /// Whether the channel can send now; its deliveries stay queued, untouched, until then.
    fn ready(&self, channel: Channel) -> bool {
        match channel {
            Channel::Discord => self.discord.ready(),
            Channel::Email | Channel::Kakao => true,
        }
    }
}

pub struct Engine {
    db: Db,
    config: NotifyConfig,
    channels: Arc<Channels>,
    wake: Arc<Notify>,
    worker: String,
    /// Each channel's slots for sends in flight, and how many there are.
    limits: HashMap<Channel, (Arc<Semaphore>, usize)>,
    metrics: Arc<Metrics>,
    /// Opens Herald's own mails, sealed at rest.
    keys: Keys,
}

impl Engine {
    pub fn new(
        db: Db,
        config: NotifyConfig,
        channels: Channels,
        wake: Arc<Notify>,
        metrics: Arc<Metrics>,
        keys: Keys,
    ) -> Self {
        let limits = [
            (Channel::Email, config.email_concurrency),
            (Channel::Discord, config.discord_concurrency),
            (Channel::Kakao, config.kakao_concurrency),
        ]
        .into_iter()
        .map(|(c, n)| (c, (Arc::new(Semaphore::new(n)), n)))
        .collect();
        Self {
            db,
            config,
            channels: Arc::new(channels),
            wake,
            worker: format!("w-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
            limits,
            metrics,
            keys,
        }
    }

    /// Runs until `shutdown`; then lets sends in flight finish for up to `grace`, and hands
    /// back the leases of those that did not.
    pub async fn run(self, shutdown: CancellationToken, grace: Duration) {
        tracing::info!(worker = %self.worker, "notification workers started");
        let mut tasks = JoinSet::new();
        let mut last_prune = 0;
        while !shutdown.is_cancelled() {
            while tasks.try_join_next().is_some() {}
            let claimed = self.claim_all(&mut tasks).await;
            if now_unix() - last_prune > 3600 {
                last_prune = now_unix();
                let _ = super::idempotency::prune(&self.db).await;
            }
            if claimed {
                continue;
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.config.poll_interval) => {}
                _ = shutdown.cancelled() => {}
            }
        }
        self.drain(tasks, grace).await;
    }

    /// Claims and starts what each channel has room for; whether a claim came back full
    /// (more may be waiting).
    async fn claim_all(&self, tasks: &mut JoinSet<()>) -> bool {
        let mut full = false;
        for channel in Channel::ALL {
            let (limit, size) = &self.limits[&channel];
            let room = limit.available_permits().min(CLAIM_BATCH);
            // A claim costs a write transaction whatever it takes: while sends are in flight,
            // wait until a quarter of the slots are free and take them together.
            let busy = room < *size;
            if room == 0 || (busy && room < (size / 4).max(1)) || !self.channels.ready(channel) {
                continue;
            }
            let claimed = claim(&self.db, &self.worker, channel, room, &self.config).await;
            let jobs: Vec<Job> = match claimed {
                Ok(jobs) => jobs
                    .into_iter()
                    .map(|job| job.unsealed(&self.keys))
                    .collect(),
                Err(e) => {
                    tracing::error!(target: "db", error = %e, "claiming deliveries failed");
                    tokio::time::sleep(self.config.poll_interval).await;
                    return false;
                }
            };
            full |= jobs.len() == room;
            for job in jobs {
                let permit = limit.clone().try_acquire_owned().expect("room was counted");
                let (db, channels, config) =
                    (self.db.clone(), self.channels.clone(), self.config.clone());
                let (worker, wake) = (self.worker.clone(), self.wake.clone());
                let metrics = self.metrics.clone();
                tasks.spawn(async move {
                    let started = now_unix();
                    let outcome = send_within_lease(&channels, &job, &config).await;
                    metrics.attempt(job.channel.as_str(), outcome.name());
                    if matches!(outcome, Outcome::Sent { .. }) {
                        metrics.delivered_after((now_unix() - job.due_at) as f64);
                    }
                    record(&db, &worker, &job, &outcome, started, &config).await;
                    drop(permit);
                    // Room for the next claim.
                    wake.notify_one();
                });
            }
        }
        full
    }

    async fn drain(&self, mut tasks: JoinSet<()>, grace: Duration) {
        let finished =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if finished.is_err() {
            tasks.abort_all();
            match release(&self.db, &self.worker).await {
                Ok(n) => tracing::warn!(
                    released = n,
                    "sends still in flight at shutdown were handed back"
                ),
                Err(e) => tracing::error!(target: "db", error = %e, "handing back leases failed"),
            }
        }
        tracing::info!(worker = %self.worker, "notification workers stopped");
    }
}

/// The attempt, given up (as transient) before the lease ends, so no other claim of the same
/// delivery can start while this one may still be sending.
async fn send_within_lease(channels: &Channels, job: &Job, config: &NotifyConfig) -> Outcome {
    let limit = config.lease.saturating_sub(LEASE_MARGIN).max(LEASE_MARGIN);
    match tokio::time::timeout(limit, channels.send(job)).await {
        Ok(outcome) => outcome,
        Err(_) => Outcome::Transient(format!("no answer within {}s", limit.as_secs())),
    }
}

/// Records the outcome, trying again through a busy database (a lost record would mean a
/// second send once the lease ends), until shortly before the lease would.
async fn record(
    db: &Db,
    worker: &str,
    job: &Job,
    outcome: &Outcome,
    started: i64,
    config: &NotifyConfig,
) {
    let mut wait = Duration::from_millis(100);
    let give_up = tokio::time::Instant::now() + config.lease.saturating_sub(LEASE_MARGIN);
    loop {
        match finish(db, worker, job, outcome, started, config).await {
            Ok(()) => return,
            Err(e) if tokio::time::Instant::now() + wait < give_up => {
                tracing::warn!(target: "db", error = %e, delivery = job.delivery_id,
                    "recording a delivery's outcome failed; trying again");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
            }
            Err(e) => {
                tracing::error!(target: "db", error = %e, delivery = job.delivery_id,
                    "recording a delivery's outcome failed; it will be tried again");
                return;
            }
        }
    }
}

/// Claims up to `limit` due deliveries of `channel` for `worker`, highest priority first.
///
/// `next_attempt_at` is the one "due" column: the send time or the next retry while waiting,
/// the lease's end while `sending` (so an abandoned claim falls due by itself), and `NEVER`
/// once final. A claim is then an index range scan on (channel, priority, next_attempt_at)
/// per priority, reading only the rows it takes.
pub async fn claim(
    db: &Db,
    worker: &str,
    channel: Channel,
    limit: usize,
    config: &NotifyConfig,
) -> Result<Vec<Job>, DbError> {
    let now = now_unix();
    // Most polls find nothing: look without taking the write lock first.
    if !anything_due(db, channel, now).await? {
        return Ok(Vec::new());
    }
    let mut tx = db.begin_write().await?;
    bury_abandoned(&mut tx, channel, now, config).await?;
    let mut ids: Vec<i64> = Vec::new();
    for priority in PRIORITIES {
        let sql = format!(
            "SELECT id FROM deliveries WHERE channel = ? AND priority = ? \
             AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?{}",
            db.skip_locked()
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(channel.as_str())
            .bind(priority)
            .bind(now)
            .bind((limit - ids.len()) as i64)
            .fetch_all(&mut *tx)
            .await?;
        for row in rows {
            ids.push(row.try_get(0)?);
        }
        if ids.len() == limit {
            break;
        }
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = vec!["?"; ids.len()].join(", ");
    let lease_until = now + config.lease.as_secs() as i64;
    let update = format!(
        "UPDATE deliveries SET state = 'sending', claimed_by = ?, lease_until = ?, \
         next_attempt_at = ?, attempts = attempts + 1, updated_at = ? WHERE id IN ({list})"
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(update))
        .bind(worker)
        .bind(lease_until)
        .bind(lease_until)
        .bind(now);
    for id in &ids {
        query = query.bind(id);
    }
    query.execute(&mut *tx).await?;
    let select = format!(
        "SELECT d.id, d.notification_id, d.recipient, d.channel_index, d.attempts, \
         n.user_id, n.creator, n.send_at, n.channels, n.subject, n.body_text, n.body_html, n.data \
         FROM deliveries d JOIN notifications n ON n.id = d.notification_id \
         WHERE d.id IN ({list}) ORDER BY d.id"
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(select));
    for id in &ids {
        query = query.bind(id);
    }
    let rows = query.fetch_all(&mut *tx).await?;
    tx.commit().await?;
    rows.iter().map(|row| job(row, channel)).collect()
}

/// The priority ranks, highest first (Herald's own mails, high, normal, low).
const PRIORITIES: [i64; 4] = [2, 1, 0, -1];

async fn anything_due(db: &Db, channel: Channel, now: i64) -> Result<bool, DbError> {
    let found = sqlx::query(
        "SELECT 1 FROM deliveries WHERE channel = ? AND priority IN (2, 1, 0, -1) \
         AND next_attempt_at <= ? LIMIT 1",
    )
    .bind(channel.as_str())
    .bind(now)
    .fetch_optional(db.pool())
    .await?;
    Ok(found.is_some())
}

/// A delivery whose worker died with it every time (its lease ran out with no outcome) is
/// not claimed forever: past the last attempt it is dead.
async fn bury_abandoned(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    channel: Channel,
    now: i64,
    config: &NotifyConfig,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE deliveries SET state = 'dead', last_error_class = 'transient', \
         last_error = 'its worker stopped during every attempt', claimed_by = NULL, \
         lease_until = NULL, next_attempt_at = ?, updated_at = ? \
         WHERE channel = ? AND state = 'sending' AND next_attempt_at <= ? AND attempts >= ?",
    )
    .bind(NEVER)
    .bind(now)
    .bind(channel.as_str())
    .bind(now)
    .bind(i64::from(config.max_attempts))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn job(row: &sqlx::any::AnyRow, channel: Channel) -> Result<Job, DbError> {
    let data: Option<String> = row.try_get("data")?;
    let recipient: String = row.try_get("recipient")?;
    Ok(Job {
        delivery_id: row.try_get("id")?,
        notification_id: row.try_get("notification_id")?,
        user_id: row.try_get("user_id")?,
        recipient: serde_json::from_str(&recipient).unwrap_or_default(),
        channels: split_channels(&row.try_get::<String, _>("channels")?),
        channel_index: row.try_get::<i64, _>("channel_index")? as usize,
        channel,
        attempts: row.try_get("attempts")?,
        subject: row.try_get("subject")?,
        text: row.try_get("body_text")?,
        html: row.try_get("body_html")?,
        data: data.and_then(|d| serde_json::from_str(&d).ok()),
        literal: row.try_get::<String, _>("creator")? == "system",
        due_at: row.try_get("send_at")?,
    })
}

/// The delay before retry number `attempt` (1-based): `base * 2^(attempt-1)` capped at `max`,
/// then a random point between half of it and all of it, so retries of many deliveries
/// failing together do not arrive together.
pub fn backoff(attempt: i64, config: &NotifyConfig) -> Duration {
    let base = config.backoff_base.as_secs_f64();
    let exp = base * 2f64.powi((attempt - 1).clamp(0, 30) as i32);
    let capped = exp.min(config.backoff_max.as_secs_f64()).max(1.0);
    let unit = getrandom::u64().unwrap_or(u64::MAX / 2) as f64 / u64::MAX as f64;
    Duration::from_secs_f64(capped * (0.5 + 0.5 * unit))
}

/// Where a delivery goes after `outcome`.
enum Next {
    Sent {
        provider_id: Option<String>,
    },
    Retry {
        at: i64,
        class: &'static str,
        error: String,
        counts: bool,
    },
    Fallback {
        index: usize,
        channel: Channel,
        error: String,
    },
    Dead {
        class: &'static str,
        error: String,
    },
}

fn next(job: &Job, outcome: &Outcome, now: i64, config: &NotifyConfig) -> Next {
    match outcome {
        Outcome::Sent { provider_id, .. } => Next::Sent {
            provider_id: provider_id.clone(),
        },
        Outcome::Deferred {
            retry_after,
            answer,
        } => Next::Retry {
            at: now + retry_after.as_secs().max(1) as i64,
            class: "transient",
            error: answer.clone(),
            counts: false,
        },
        Outcome::Transient(error) if job.attempts < i64::from(config.max_attempts) => Next::Retry {
            at: now + (backoff(job.attempts, config).as_secs_f64().ceil() as i64).max(1),
            class: "transient",
            error: error.clone(),
            counts: true,
        },
        Outcome::Transient(error) => Next::Dead {
            class: "transient",
            error: format!("{error} (after {} attempts)", job.attempts),
        },
        Outcome::Permanent(error) => {
            let fallback = job
                .channels
                .iter()
                .enumerate()
                .skip(job.channel_index + 1)
                .find(|(_, c)| job.recipient.reachable_on(**c));
            match fallback {
                Some((index, channel)) => Next::Fallback {
                    index,
                    channel: *channel,
                    error: format!("{}: {error}", job.channel.as_str()),
                },
                None => Next::Dead {
                    class: "permanent",
                    error: error.clone(),
                },
            }
        }
    }
}

/// Records an attempt and moves the delivery on, if `worker` still holds it.
async fn finish(
    db: &Db,
    worker: &str,
    job: &Job,
    outcome: &Outcome,
    started: i64,
    config: &NotifyConfig,
) -> Result<(), DbError> {
    let now = now_unix();
    let kind = outcome.name();
    let answer = match outcome {
        Outcome::Sent { answer, .. } | Outcome::Deferred { answer, .. } => answer.as_str(),
        Outcome::Transient(e) | Outcome::Permanent(e) => e.as_str(),
    };
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO delivery_attempts (delivery_id, channel, started_at, finished_at, outcome, \
         answer) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(job.delivery_id)
    .bind(job.channel.as_str())
    .bind(started)
    .bind(now)
    .bind(kind)
    .bind(truncate(answer, 1000))
    .execute(&mut *tx)
    .await?;
    let update = match next(job, outcome, now, config) {
        Next::Sent { provider_id } => sqlx::query(
            "UPDATE deliveries SET state = 'sent', provider_id = ?, sent_at = ?, \
             last_error_class = NULL, last_error = NULL, claimed_by = NULL, lease_until = NULL, \
             next_attempt_at = ?, updated_at = ? \
             WHERE id = ? AND claimed_by = ? AND attempts = ? AND state = 'sending'",
        )
        .bind(provider_id)
        .bind(now)
        .bind(NEVER)
        .bind(now),
        Next::Retry {
            at,
            class,
            error,
            counts,
        } => sqlx::query(
            "UPDATE deliveries SET state = ?, next_attempt_at = ?, attempts = attempts - ?, \
             last_error_class = ?, last_error = ?, claimed_by = NULL, lease_until = NULL, \
             updated_at = ? WHERE id = ? AND claimed_by = ? AND attempts = ? AND state = 'sending'",
        )
        .bind(if counts { "failed" } else { "queued" })
        .bind(at)
        .bind(if counts { 0i64 } else { 1 })
        .bind(class)
        .bind(truncate(&error, 1000))
        .bind(now),
        Next::Fallback {
            index,
            channel,
            error,
        } => sqlx::query(
            "UPDATE deliveries SET state = 'queued', channel_index = ?, channel = ?, \
             attempts = 0, next_attempt_at = ?, last_error_class = 'permanent', \
             last_error = ?, claimed_by = NULL, lease_until = NULL, updated_at = ? \
             WHERE id = ? AND claimed_by = ? AND attempts = ? AND state = 'sending'",
        )
        .bind(index as i64)
        .bind(channel.as_str())
        .bind(now)
        .bind(truncate(&error, 1000))
        .bind(now),
        Next::Dead { class, error } => sqlx::query(
            "UPDATE deliveries SET state = 'dead', last_error_class = ?, last_error = ?, \
             claimed_by = NULL, lease_until = NULL, next_attempt_at = ?, updated_at = ? \
             WHERE id = ? AND claimed_by = ? AND attempts = ? AND state = 'sending'",
        )
        .bind(class)
        .bind(truncate(&error, 1000))
        .bind(NEVER)
        .bind(now),
    };
    // The claim's attempt number fences it: a later claim of the same row (this worker's or
    // another's, after the lease) has a higher one, and this outcome no longer applies.
    let done = update
        .bind(job.delivery_id)
        .bind(worker)
        .bind(job.attempts)
        .execute(&mut *tx)
        .await?;
    let held = done.rows_affected() == 1;
    if job.literal && held && is_final(outcome, job, config) {
        // Herald's own mails carry live links: keep no copy once the mail is out (or dead).
        sqlx::query(
            "UPDATE notifications SET body_text = '', body_html = NULL \
             WHERE id = ? AND creator = 'system'",
        )
        .bind(job.notification_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    if !held {
        tracing::warn!(
            delivery = job.delivery_id,
            "the lease ended before the outcome was recorded"
        );
    }
    log_outcome(job, kind, answer);
    Ok(())
}

/// One line per attempt, the recipient masked.
fn log_outcome(job: &Job, outcome: &str, answer: &str) {
    let to = match &job.recipient.email {
        Some(email) => crate::telemetry::mask_email(email),
        None => job.recipient.label(),
    };
    let (delivery, channel) = (job.delivery_id, job.channel.as_str());
    // An SMTP answer often quotes the address: it stays in the attempt's record, not the log.
    let error = if job.channel == Channel::Email {
        "see the delivery's attempts"
    } else {
        answer
    };
    match outcome {
        "sent" => tracing::info!(delivery, channel, %to, "delivery sent"),
        _ => tracing::warn!(delivery, channel, %to, outcome, error, "delivery failed"),
    }
}

/// Whether `outcome` ends the delivery (sent, or dead with no channel left).
fn is_final(outcome: &Outcome, job: &Job, config: &NotifyConfig) -> bool {
    matches!(
        next(job, outcome, 0, config),
        Next::Sent { .. } | Next::Dead { .. }
    )
}

/// Hands back every delivery `worker` holds (at shutdown), the interrupted attempt uncounted.
pub async fn release(db: &Db, worker: &str) -> Result<u64, DbError> {
    let done = sqlx::query(
        "UPDATE deliveries SET state = 'queued', claimed_by = NULL, lease_until = NULL, \
         next_attempt_at = ?, attempts = attempts - 1, updated_at = ? \
         WHERE claimed_by = ? AND state = 'sending'",
    )
    .bind(now_unix())
    .bind(now_unix())
    .bind(worker)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected())
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}
