//! Recording what each attempt came to: the attempt's row, and where the delivery goes next
//! (sent, a retry, the next channel, dead).
//!
//! Sends finish many at a time; each outcome is written by one recorder task that takes every
//! outcome waiting and writes them in one transaction. One commit (on MariaDB one log flush)
//! per group instead of per message is what lets delivery keep up with the sends. A send's
//! slot is freed only once its outcome is written, so what is in flight stays bounded.

use std::sync::Arc;
use std::time::Duration;

use sqlx::{Any, Transaction};
use tokio::sync::{mpsc, oneshot};

use super::engine::LEASE_MARGIN;
use super::job::{Job, Outcome};
use super::posted::{Posted, ServerPosts};
use super::request::Channel;
use super::store::NEVER;
use crate::config::NotifyConfig;
use crate::db::{Db, DbError, now_unix};

/// Outcomes one transaction writes at most.
const GROUP: usize = 128;

/// An attempt that has ended, waiting to be written.
struct Done {
    job: Job,
    outcome: Outcome,
    /// When the attempt started (Unix seconds).
    started: i64,
    written: oneshot::Sender<()>,
}

/// Hands outcomes to the recorder task.
#[derive(Clone)]
pub struct Recorder {
    queue: mpsc::Sender<Done>,
}

impl Recorder {
    /// Starts the recorder task for `worker`; it ends once every `Recorder` is dropped and
    /// what they handed over is written.
    pub fn start(
        db: Db,
        worker: String,
        config: NotifyConfig,
        posts: Arc<dyn ServerPosts>,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (queue, outcomes) = mpsc::channel(GROUP * 4);
        let writer = Writer {
            db,
            worker,
            config,
            posts,
        };
        let task = tokio::spawn(writer.run(outcomes));
        (Self { queue }, task)
    }

    /// Records the outcome; returns once it is written (or writing it was given up on).
    pub async fn record(&self, job: Job, outcome: Outcome, started: i64) {
        let (written, wait) = oneshot::channel();
        let done = Done {
            job,
            outcome,
            started,
            written,
        };
        if self.queue.send(done).await.is_ok() {
            let _ = wait.await;
        }
    }
}

/// The recorder task's part: where and for whom outcomes are written.
struct Writer {
    db: Db,
    worker: String,
    config: NotifyConfig,
    /// Told of each post in a server's channel (its audit log), in the same transaction.
    posts: Arc<dyn ServerPosts>,
}

impl Writer {
    async fn run(self, mut outcomes: mpsc::Receiver<Done>) {
        let mut group = Vec::with_capacity(GROUP);
        while outcomes.recv_many(&mut group, GROUP).await > 0 {
            if let Err(e) = self.write_group(&group).await {
                // One bad row must not hold back the others: each on its own, with retries.
                tracing::warn!(target: "db", error = %e, outcomes = group.len(),
                    "recording a group of outcomes failed; recording each on its own");
                for done in &group {
                    self.write_one(done).await;
                }
            }
            for done in group.drain(..) {
                log_outcome(&done.job, &done.outcome);
                let _ = done.written.send(());
            }
        }
    }

    /// Every outcome of `group` in one transaction: the attempts in one statement, the sends
    /// that went out in another, anything else (rarer) one by one.
    async fn write_group(&self, group: &[Done]) -> Result<(), DbError> {
        let (worker, now) = (self.worker.as_str(), now_unix());
        let mut tx = self.db.begin_write().await?;
        insert_attempts(&mut tx, group, now).await?;
        // Herald's own mails also drop their content once final: they take the single path.
        let (sent, others): (Vec<&Done>, Vec<&Done>) = group
            .iter()
            .partition(|d| matches!(d.outcome, Outcome::Sent { .. }) && !d.job.literal);
        let mut held = mark_sent(&mut tx, worker, &sent, now).await?;
        for done in others {
            held += u64::from(move_on(&mut tx, worker, done, now, &self.config).await?);
        }
        // Every post is told, held or not: it is in the server's channel either way.
        for post in sent.iter().filter_map(|done| server_post(done)) {
            self.posts.posted(&mut tx, &post, now).await?;
        }
        tx.commit().await?;
        if held < group.len() as u64 {
            tracing::warn!(
                late = group.len() as u64 - held,
                "outcomes came after their lease ended; those deliveries will be tried again"
            );
        }
        Ok(())
    }

    /// One outcome, trying again through a busy database (a lost record would mean a second
    /// send once the lease ends), until shortly before the lease would end.
    async fn write_one(&self, done: &Done) {
        let mut wait = Duration::from_millis(100);
        let give_up = tokio::time::Instant::now() + self.config.lease.saturating_sub(LEASE_MARGIN);
        loop {
            match self.write_group(std::slice::from_ref(done)).await {
                Ok(()) => return,
                Err(e) if tokio::time::Instant::now() + wait < give_up => {
                    tracing::warn!(target: "db", error = %e, delivery = done.job.delivery_id,
                        "recording a delivery's outcome failed; trying again");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
                Err(e) => {
                    tracing::error!(target: "db", error = %e, delivery = done.job.delivery_id,
                        "recording a delivery's outcome failed; it will be tried again");
                    return;
                }
            }
        }
    }
}

/// A user's message posted in a server's channel, as the audit log is told of it.
fn server_post(done: &Done) -> Option<Posted> {
    let Outcome::Sent {
        server: Some(guild_id),
        provider_id,
        ..
    } = &done.outcome
    else {
        return None;
    };
    let channel_id = done.job.recipient.discord_channel.as_ref()?.parse().ok()?;
    Some(Posted {
        guild_id: *guild_id,
        channel_id,
        notification_id: done.job.notification_id,
        delivery_id: done.job.delivery_id,
        user_id: done.job.user_id,
        message_id: provider_id.clone(),
    })
}

/// One attempt row per outcome.
async fn insert_attempts(
    tx: &mut Transaction<'static, Any>,
    group: &[Done],
    now: i64,
) -> Result<(), DbError> {
    let rows = vec!["(?, ?, ?, ?, ?, ?)"; group.len()].join(", ");
    let sql = format!(
        "INSERT INTO delivery_attempts (delivery_id, channel, started_at, finished_at, outcome, \
         answer) VALUES {rows}"
    );
    let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
    for done in group {
        insert = insert
            .bind(done.job.delivery_id)
            .bind(done.job.channel.as_str())
            .bind(done.started)
            .bind(now)
            .bind(done.outcome.name())
            .bind(truncate(done.outcome.answer(), 1000));
    }
    insert.execute(&mut **tx).await?;
    Ok(())
}

/// Marks `sent` as sent, each with its provider id, where `worker` still holds the claim
/// (its attempt number fences it, as in `move_on`); how many it held.
async fn mark_sent(
    tx: &mut Transaction<'static, Any>,
    worker: &str,
    sent: &[&Done],
    now: i64,
) -> Result<u64, DbError> {
    if sent.is_empty() {
        return Ok(0);
    }
    let cases = "WHEN ? THEN ? ".repeat(sent.len());
    let ids = vec!["?"; sent.len()].join(", ");
    let sql = format!(
        "UPDATE deliveries SET state = 'sent', provider_id = CASE id {cases}END, sent_at = ?, \
         last_error_class = NULL, last_error = NULL, claimed_by = NULL, lease_until = NULL, \
         next_attempt_at = ?, updated_at = ? \
         WHERE id IN ({ids}) AND claimed_by = ? AND state = 'sending' \
         AND attempts = CASE id {cases}END"
    );
    let mut update = sqlx::query(sqlx::AssertSqlSafe(sql));
    for done in sent {
        let provider_id = match &done.outcome {
            Outcome::Sent { provider_id, .. } => provider_id.clone(),
            _ => None,
        };
        update = update.bind(done.job.delivery_id).bind(provider_id);
    }
    update = update.bind(now).bind(NEVER).bind(now);
    for done in sent {
        update = update.bind(done.job.delivery_id);
    }
    update = update.bind(worker);
    for done in sent {
        update = update.bind(done.job.delivery_id).bind(done.job.attempts);
    }
    Ok(update.execute(&mut **tx).await?.rows_affected())
}

/// Moves the delivery on after its attempt, if `worker` still holds it; whether it did.
async fn move_on(
    tx: &mut Transaction<'static, Any>,
    worker: &str,
    done: &Done,
    now: i64,
    config: &NotifyConfig,
) -> Result<bool, DbError> {
    let Done { job, outcome, .. } = done;
    let next_state = next(job, outcome, now, config);
    let dead = matches!(next_state, Next::Dead { .. });
    let update = match next_state {
        Next::Sent => return finish_sent(tx, worker, done, now).await,
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
        .execute(&mut **tx)
        .await?;
    let held = done.rows_affected() == 1;
    if held && dead {
        forget_literal(tx, job).await?;
    }
    Ok(held)
}

/// A sent delivery of Herald's own mails (the rest go through `mark_sent` together).
async fn finish_sent(
    tx: &mut Transaction<'static, Any>,
    worker: &str,
    done: &Done,
    now: i64,
) -> Result<bool, DbError> {
    let held = mark_sent(tx, worker, &[done], now).await? == 1;
    if held {
        forget_literal(tx, &done.job).await?;
    }
    Ok(held)
}

/// Herald's own mails (verification, reset: e-mail only) carry live links: keep no copy once
/// the mail is out (or dead). Its own posts (reminders, task alerts, audit posts) carry none and
/// stay sealed, so a dead one can be driven again with its text.
async fn forget_literal(tx: &mut Transaction<'static, Any>, job: &Job) -> Result<(), DbError> {
    if job.literal && job.channels == [super::request::Channel::Email] {
        sqlx::query(
            "UPDATE notifications SET body_text = '', body_html = NULL \
             WHERE id = ? AND creator = 'system'",
        )
        .bind(job.notification_id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
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
    Sent,
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
        Outcome::Sent { .. } => Next::Sent,
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

/// One line per attempt, the recipient masked.
fn log_outcome(job: &Job, outcome: &Outcome) {
    let answer = outcome.answer();
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
    match outcome.name() {
        "sent" => tracing::info!(delivery, channel, %to, "delivery sent"),
        _ => {
            tracing::warn!(delivery, channel, %to, outcome = outcome.name(), error, "delivery failed")
        }
    }
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}
