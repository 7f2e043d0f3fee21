//! Notifications: one durable outbox for e-mail, Discord and Kakao.
//!
//! A send is checked whole (`request`), then the notification, one delivery per recipient and
//! the idempotency record are committed in one transaction (`store`, `idempotency`) before the
//! caller hears 202 (unkeyed sends share that transaction with the sends arriving at the same
//! moment: `intake`). Workers (`engine`) claim due deliveries with a lease, hand each to its
//! channel (`email`, ...), and record every attempt: sent, retried later with backoff on a
//! transient error, moved to the next channel or dead on a permanent one. Delivery is
//! at-least-once: a crash between the provider's acceptance and the record of it sends again.

pub mod content;
pub mod discord;
pub mod email;
pub mod engine;
pub mod history;
pub mod idempotency;
mod intake;
pub mod job;
pub mod kakao;
mod outcomes;
pub mod posted;
pub mod request;
pub mod store;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::Notify;

use crate::config::{Config, NotifyConfig};
use crate::crypto::Keys;
use crate::db::{Db, DbError, now_unix};
use crate::mail::{Composed, MailError, MailQueue};
use idempotency::{Claim, IdempotencyKey};
use request::{Channel, Priority, Recipient};
use request::{Draft, SendRequest};
use store::{Filter, Notification, Summary};

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("invalid {field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("{0} is required")]
    Missing(&'static str),
    #[error("{field} is longer than {max}")]
    TooLarge { field: &'static str, max: usize },
    #[error("at most {0} recipients per call")]
    TooManyRecipients(usize),
    #[error("recipient {index}: {reason}")]
    InvalidRecipient { index: usize, reason: String },
    #[error("send_at or delay must be from {min} s to {max} s ahead")]
    BadSchedule { min: i64, max: i64 },
    #[error("no such notification")]
    NotFound,
    #[error("nothing to {0}: no delivery of this notification is in a state for it")]
    WrongState(&'static str),
    #[error("this Idempotency-Key was used with another request")]
    KeyReused,
    #[error("a request with this Idempotency-Key is still in progress")]
    InProgress,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for NotifyError {
    fn from(err: sqlx::Error) -> Self {
        Self::Db(err.into())
    }
}

type Result<T, E = NotifyError> = std::result::Result<T, E>;

/// Who asked: the owner, and through which door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub user_id: i64,
    /// The API key that signed the call; `None` for a signed-in user.
    pub api_key_id: Option<i64>,
}

impl Owner {
    /// A signed-in user.
    pub fn user(user_id: i64) -> Self {
        Self {
            user_id,
            api_key_id: None,
        }
    }
}

/// What a create answered (or answers again for a replayed Idempotency-Key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The notification the answer is about.
    pub id: i64,
    pub status: u16,
    pub body: String,
    /// The answer is a replay of the first request with this key.
    pub replayed: bool,
}

pub struct Notifications {
    db: Db,
    config: NotifyConfig,
    /// Seals Herald's own mails at rest (they carry live links).
    keys: Keys,
    /// Wakes this instance's workers when a notification is committed.
    wake: Arc<Notify>,
    /// Group commit of unkeyed sends, started with the first one.
    intake: std::sync::OnceLock<intake::Intake>,
}

impl Notifications {
    pub fn new(config: &Config, db: Db) -> Self {
        Self {
            db,
            config: config.notify.clone(),
            keys: Keys::derive(&config.secret_key),
            wake: Arc::new(Notify::new()),
            intake: std::sync::OnceLock::new(),
        }
    }

    pub fn config(&self) -> &NotifyConfig {
        &self.config
    }

    /// The keys that seal Herald's own mails (the workers open them).
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Checks and stores a send. `render` makes the 202 body from the new notification; with
    /// an idempotency key, the same key and body answer that body again, unless `pending`:
    /// then the caller answers later (`answer_key`) and a replay meanwhile is told to retry.
    pub async fn send(
        &self,
        owner: Owner,
        request: SendRequest,
        key: Option<&IdempotencyKey>,
        pending: bool,
        render: impl Fn(i64, &Draft) -> String,
    ) -> Result<Answer> {
        let now = now_unix();
        // Replays answer before the body is checked: the first request's answer stands.
        if let Some(key) = key
            && let Some(answer) = idempotency::lookup(&self.db, owner.user_id, key).await?
        {
            return answer;
        }
        let draft = request.check(&self.config, now)?;
        if key.is_none() {
            return self.store_grouped(owner, draft, now, render).await;
        }
        for attempt in 1.. {
            match self.store(owner, &draft, key, pending, now, &render).await {
                // MySQL may pick this transaction as a deadlock's victim: nothing was written.
                Err(NotifyError::Db(e)) if e.is_deadlock() && attempt < 3 => continue,
                done => return done,
            }
        }
        unreachable!("the loop returns")
    }

    /// Stores the final answer of a request made with `pending`.
    pub async fn answer_key(
        &self,
        owner: Owner,
        key: &IdempotencyKey,
        id: i64,
        status: u16,
        body: &str,
    ) -> Result<()> {
        let mut conn = self.db.writer().acquire().await?;
        idempotency::record(&mut conn, owner.user_id, key, id, status, body).await
    }

    /// Stores an unkeyed send through the group writer (see `intake`).
    async fn store_grouped(
        &self,
        owner: Owner,
        draft: Draft,
        now: i64,
        render: impl Fn(i64, &Draft) -> String,
    ) -> Result<Answer> {
        let intake = self
            .intake
            .get_or_init(|| intake::Intake::start(self.db.clone()));
        let draft = Arc::new(draft);
        let id = intake.store(owner, draft.clone(), now).await?;
        if draft.send_at.is_none() {
            self.wake.notify_one();
        }
        Ok(Answer {
            id,
            status: 202,
            body: render(id, &draft),
            replayed: false,
        })
    }

    /// Stores a checked draft with its idempotency record, in one transaction.
    async fn store(
        &self,
        owner: Owner,
        draft: &Draft,
        key: Option<&IdempotencyKey>,
        pending: bool,
        now: i64,
        render: impl Fn(i64, &Draft) -> String,
    ) -> Result<Answer> {
        let mut tx = self.db.begin_write().await?;
        if let Some(key) = key
            && let Claim::Taken = idempotency::claim(&mut tx, owner.user_id, key, now).await?
        {
            // Release this connection and the write lock before reading the other's answer.
            drop(tx);
            let found = idempotency::lookup(&self.db, owner.user_id, key).await?;
            return found.unwrap_or(Err(NotifyError::InProgress));
        }
        let id = store::insert(&mut tx, owner, draft, key, now).await?;
        let body = render(id, draft);
        if let Some(key) = key {
            let status = if pending { 0 } else { 202 };
            idempotency::record(&mut tx, owner.user_id, key, id, status, &body).await?;
        }
        tx.commit().await?;
        if draft.send_at.is_none() {
            self.wake.notify_one();
        }
        Ok(Answer {
            id,
            status: 202,
            body,
            replayed: false,
        })
    }

    /// One of the owner's notifications with its deliveries and every attempt.
    pub async fn get(&self, user_id: i64, id: i64) -> Result<Notification> {
        store::get(&self.db, user_id, id)
            .await?
            .ok_or(NotifyError::NotFound)
    }

    /// The user's deliveries per day by outcome over the last `days` days.
    pub async fn daily(&self, user_id: i64, days: i64) -> Result<Vec<history::Day>> {
        let today = now_unix().div_euclid(86_400);
        let scope = history::Scope::User(user_id);
        Ok(history::daily(&self.db, scope, days, today).await?)
    }

    pub async fn list(&self, user_id: i64, filter: &Filter) -> Result<Vec<Summary>> {
        Ok(store::list(&self.db, user_id, filter).await?)
    }

    /// Cancels the deliveries of a notification that are still waiting for their time.
    pub async fn cancel(&self, user_id: i64, id: i64) -> Result<Notification> {
        self.get(user_id, id).await?;
        if store::cancel(&self.db, id, now_unix()).await? == 0 {
            return Err(NotifyError::WrongState("cancel"));
        }
        self.get(user_id, id).await
    }

    /// Drives the dead deliveries of a notification again, from their first channel.
    pub async fn retry(&self, user_id: i64, id: i64) -> Result<Notification> {
        self.get(user_id, id).await?;
        if store::redrive(&self.db, id, None, now_unix()).await? == 0 {
            return Err(NotifyError::WrongState("retry"));
        }
        self.wake.notify_one();
        self.get(user_id, id).await
    }

    /// Waits until every delivery of a notification is final (sent, dead or cancelled), or
    /// `limit` passes; answers the notification as it then stands.
    pub async fn wait_final(
        &self,
        user_id: i64,
        id: i64,
        limit: std::time::Duration,
    ) -> Result<Notification> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notification = self.get(user_id, id).await?;
            if notification.is_final() || tokio::time::Instant::now() >= deadline {
                return Ok(notification);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

impl Notifications {
    /// Queues one of Herald's own messages (verification, reset, ...) for `user_id`: sent like
    /// any e-mail, with high priority, but never shown through the notification API (it
    /// carries live links) and emptied once final.
    pub async fn queue_system_mail(&self, user_id: i64, to: &str, mail: Composed) -> Result<()> {
        let draft = Draft {
            channels: vec![Channel::Email],
            recipients: vec![Recipient {
                email: Some(to.to_owned()),
                ..Recipient::default()
            }],
            subject: mail.subject,
            // Sealed until a worker sends it: the link is live, and the database keeps
            // only hashes of its tokens otherwise.
            text: self.keys.encrypt(&mail.text),
            html: Some(self.keys.encrypt(&mail.html)),
            data: None,
            priority: Priority::System,
            send_at: None,
        };
        let now = now_unix();
        let mut attempt = 1;
        loop {
            match self.insert_system(user_id, &draft, now).await {
                // MySQL may pick this transaction as a deadlock's victim: nothing was written.
                Err(NotifyError::Db(e)) if e.is_deadlock() && attempt < 3 => attempt += 1,
                done => break done?,
            }
        }
        self.wake.notify_one();
        Ok(())
    }
}

impl Notifications {
    async fn insert_system(&self, user_id: i64, draft: &Draft, now: i64) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        store::insert_system(&mut tx, user_id, draft, now).await?;
        tx.commit().await?;
        Ok(())
    }
}

impl MailQueue for Notifications {
    fn queue<'a>(
        &'a self,
        user_id: i64,
        to: &'a str,
        mail: Composed,
    ) -> Pin<Box<dyn Future<Output = Result<(), MailError>> + Send + 'a>> {
        Box::pin(async move {
            self.queue_system_mail(user_id, to, mail)
                .await
                .map_err(|e| MailError::Queue(e.to_string()))
        })
    }
}
