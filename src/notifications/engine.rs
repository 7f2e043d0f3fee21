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
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::discord::DiscordChannel;
use super::email::EmailChannel;
use super::job::{Job, Outcome};
use super::kakao::KakaoChannel;
use super::outcomes::Recorder;
use super::posted::ServerPosts;
use super::request::Channel;
use super::store::{NEVER, split_channels};
use crate::config::NotifyConfig;
use crate::crypto::Keys;
use crate::db::{Db, DbError, now_unix};
use crate::metrics::Metrics;

/// Rows one claim takes at most, per channel.
const CLAIM_BATCH: usize = 64;
/// A send must end this long before its lease does.
pub(super) const LEASE_MARGIN: Duration = Duration::from_secs(5);

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

/// A channel's slots: `size` sends at once, and twice that claimed (claimed deliveries wait
/// in hand for a send slot, so sends never wait for a claim's transaction).
struct Slots {
    sending: Arc<Semaphore>,
    claimed: Arc<Semaphore>,
    size: usize,
}

impl Slots {
    fn new(size: usize) -> Self {
        Self {
            sending: Arc::new(Semaphore::new(size)),
            claimed: Arc::new(Semaphore::new(2 * size)),
            size,
        }
    }
}

pub struct Engine {
    db: Db,
    config: NotifyConfig,
    channels: Arc<Channels>,
    wake: Arc<Notify>,
    worker: String,
    /// Each channel's slots.
    limits: HashMap<Channel, Slots>,
    metrics: Arc<Metrics>,
    /// Opens Herald's own mails, sealed at rest.
    keys: Keys,
    /// Told of each post in a server's channel.
    posts: Arc<dyn ServerPosts>,
}

impl Engine {
    pub fn new(
        db: Db,
        config: NotifyConfig,
        channels: Channels,
        wake: Arc<Notify>,
        metrics: Arc<Metrics>,
        keys: Keys,
        posts: Arc<dyn ServerPosts>,
    ) -> Self {
        let limits = [
            (Channel::Email, config.email_concurrency),
            (Channel::Discord, config.discord_concurrency),
            (Channel::Kakao, config.kakao_concurrency),
        ]
        .into_iter()
        .map(|(c, n)| (c, Slots::new(n)))
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
            posts,
        }
    }

    /// Runs until `shutdown`; then lets sends in flight finish for up to `grace`, and hands
    /// back the leases of those that did not.
    pub async fn run(self, shutdown: CancellationToken, grace: Duration) {
        tracing::info!(worker = %self.worker, "notification workers started");
        let mut tasks = JoinSet::new();
        let (recorder, recording) = Recorder::start(
            self.db.clone(),
            self.worker.clone(),
            self.config.clone(),
            self.posts.clone(),
        );
        let (mut last_prune, mut last_bury) = (0, None::<tokio::time::Instant>);
        let bury_every = self.config.poll_interval * 10;
        while !shutdown.is_cancelled() {
            while tasks.try_join_next().is_some() {}
            if last_bury.is_none_or(|at| at.elapsed() >= bury_every) {
                last_bury = Some(tokio::time::Instant::now());
                if let Err(e) = bury_abandoned(&self.db, &self.config).await {
                    tracing::error!(target: "db", error = %e, "burying abandoned deliveries failed");
                }
            }
            let claimed = self.claim_all(&mut tasks, &recorder).await;
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
        drop(recorder);
        self.drain(tasks, recording, grace).await;
    }

    /// Claims and starts what each channel has room for; whether a claim came back full
    /// (more may be waiting).
    async fn claim_all(&self, tasks: &mut JoinSet<()>, recorder: &Recorder) -> bool {
        let mut full = false;
        for channel in Channel::ALL {
            let slots = &self.limits[&channel];
            let room = slots.claimed.available_permits().min(CLAIM_BATCH);
            // A claim costs a write transaction whatever it takes: while work is in hand,
            // wait until a quarter of a channel's sends can be claimed and take them together.
            let busy = room < 2 * slots.size;
            if room == 0
                || (busy && room < (slots.size / 4).max(1))
                || !self.channels.ready(channel)
            {
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
            let claimed_at = tokio::time::Instant::now();
            for job in jobs {
                let claim = slots
                    .claimed
                    .clone()
                    .try_acquire_owned()
                    .expect("room was counted");
                let sending = slots.sending.clone();
                let (channels, config) = (self.channels.clone(), self.config.clone());
                let (recorder, wake) = (recorder.clone(), self.wake.clone());
                let metrics = self.metrics.clone();
                tasks.spawn(async move {
                    let slot = sending.acquire_owned().await.expect("never closed");
                    let started = now_unix();
                    let outcome = send_within_lease(&channels, &job, &config, claimed_at).await;
                    metrics.attempt(job.channel.as_str(), outcome.name());
                    if matches!(outcome, Outcome::Sent { .. }) {
                        metrics.delivered_after((now_unix() - job.due_at) as f64);
                    }
                    recorder.record(job, outcome, started).await;
                    // Only now: a crash can repeat at most one send per slot (sent, but its
                    // outcome not yet written).
                    drop((slot, claim));
                    // Room for the next claim.
                    wake.notify_one();
                });
            }
        }
        full
    }

    /// Waits for sends in flight (up to `grace`) and for the recorder to write what they
    /// handed over; what is left unsent then goes back to the queue.
    async fn drain(&self, mut tasks: JoinSet<()>, recording: JoinHandle<()>, grace: Duration) {
        let finished =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if finished.is_err() {
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
        // Every sender is gone: the recorder ends once the outcomes it holds are written.
        let _ = recording.await;
        if finished.is_err() {
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
/// delivery can start while this one may still be sending. One that waited for a slot until
/// less than a second of its lease was left goes back to the queue unsent, uncounted.
async fn send_within_lease(
    channels: &Channels,
    job: &Job,
    config: &NotifyConfig,
    claimed_at: tokio::time::Instant,
) -> Outcome {
    let lease = config.lease.saturating_sub(LEASE_MARGIN).max(LEASE_MARGIN);
    let limit = lease.saturating_sub(claimed_at.elapsed());
    if limit < Duration::from_secs(1) {
        return Outcome::Deferred {
            retry_after: Duration::ZERO,
            answer: "waited for a free slot until its lease was nearly over".into(),
        };
    }
    match tokio::time::timeout(limit, channels.send(job)).await {
        Ok(outcome) => outcome,
        Err(_) => Outcome::Transient(format!("no answer within {}s", limit.as_secs())),
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
    let mut ids: Vec<i64> = Vec::new();
    for priority in PRIORITIES {
        let sql = format!(
            "SELECT id FROM deliveries WHERE channel = ? AND priority = ? \
             AND next_attempt_at <= ? AND (state <> 'sending' OR attempts < ?) \
             ORDER BY next_attempt_at LIMIT ?{}",
            db.skip_locked()
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(channel.as_str())
            .bind(priority)
            .bind(now)
            .bind(i64::from(config.max_attempts))
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
/// not claimed again (see `claim`): past the last attempt it is dead. Run now and then, not in
/// every claim: on MariaDB its range update would wait on the row locks of outcomes being
/// written. (`priority IN` lets the index on (channel, priority, next_attempt_at) read only
/// the due rows.)
async fn bury_abandoned(db: &Db, config: &NotifyConfig) -> Result<u64, DbError> {
    let now = now_unix();
    let done = sqlx::query(
        "UPDATE deliveries SET state = 'dead', last_error_class = 'transient', \
         last_error = 'its worker stopped during every attempt', claimed_by = NULL, \
         lease_until = NULL, next_attempt_at = ?, updated_at = ? \
         WHERE channel IN ('email', 'discord', 'kakao') AND priority IN (2, 1, 0, -1) \
         AND next_attempt_at <= ? AND state = 'sending' AND attempts >= ?",
    )
    .bind(NEVER)
    .bind(now)
    .bind(now)
    .bind(i64::from(config.max_attempts))
    .execute(db.writer())
    .await?;
    Ok(done.rows_affected())
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
    .execute(db.writer())
    .await?;
    Ok(done.rows_affected())
}
