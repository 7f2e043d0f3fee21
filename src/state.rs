//! The state shared by the web surface and the bot: configuration, database, templates, and the
//! bot's handle (its status and, once it is up, serenity's `Http` and `Cache`).

use std::sync::{Arc, RwLock};

use serde::Serialize;
use serenity::all::{Cache, Http};

use crate::accounts::Accounts;
use crate::config::Config;
use crate::db::{Db, now_unix};
use crate::guilds::Guilds;
use crate::keys::ApiKeys;
use crate::limits::Limiter;
use crate::mail::Mailer;
use crate::metrics::Metrics;
use crate::notifications::Notifications;
use crate::shared::Redis;
use crate::templates::Templates;

/// Where the Discord bot stands. Serialized as `{"state": "...", ...}` in `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum BotStatus {
    /// No `DISCORD_TOKEN`: the bot is off by choice.
    Disabled,
    /// Logging in or reconnecting to the gateway.
    Connecting { since: i64 },
    /// Connected; commands answer.
    Ready { user: String, since: i64 },
    /// The last attempt failed; another follows at `retry_at` (Unix seconds).
    Failed { reason: String, retry_at: i64 },
}

impl BotStatus {
    pub fn connecting() -> Self {
        Self::Connecting { since: now_unix() }
    }

    /// `disabled`, `connecting`, `ready` or `failed`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Disabled => "disabled",
            Self::Connecting { .. } => "connecting",
            Self::Ready { .. } => "ready",
            Self::Failed { .. } => "failed",
        }
    }

    /// The status is one an operator expects when all is well.
    pub fn is_healthy(&self) -> bool {
        matches!(self, Self::Disabled | Self::Ready { .. })
    }
}

/// Serenity's REST client and cache, shared with the web surface once the bot is up.
#[derive(Clone)]
pub struct Discord {
    pub http: Arc<Http>,
    pub cache: Arc<Cache>,
}

/// Why a Discord-backed feature cannot run right now.
#[derive(Debug, thiserror::Error)]
#[error("the Discord bot is unavailable ({0})")]
pub struct BotUnavailable(pub String);

/// The bot's status and its Discord context; both change while the process runs.
pub struct BotHandle {
    status: RwLock<BotStatus>,
    discord: RwLock<Option<Discord>>,
}

impl BotHandle {
    fn new(status: BotStatus) -> Self {
        Self {
            status: RwLock::new(status),
            discord: RwLock::new(None),
        }
    }

    pub fn status(&self) -> BotStatus {
        self.status.read().expect("bot status lock").clone()
    }

    pub fn set_status(&self, status: BotStatus) {
        *self.status.write().expect("bot status lock") = status;
    }

    /// Makes the bot's `Http` and `Cache` available to the web surface.
    pub fn attach(&self, discord: Discord) {
        *self.discord.write().expect("discord lock") = Some(discord);
    }

    pub fn detach(&self) {
        *self.discord.write().expect("discord lock") = None;
    }

    /// The Discord context, or why it is not there.
    pub fn discord(&self) -> Result<Discord, BotUnavailable> {
        if let Some(discord) = self.discord.read().expect("discord lock").clone() {
            return Ok(discord);
        }
        let reason = match self.status() {
            BotStatus::Disabled => "no DISCORD_TOKEN is configured".to_owned(),
            BotStatus::Connecting { .. } => "still connecting to Discord".to_owned(),
            BotStatus::Failed { reason, .. } => reason,
            BotStatus::Ready { .. } => "not attached yet".to_owned(),
        };
        Err(BotUnavailable(reason))
    }
}

struct Inner {
    config: Config,
    db: Db,
    templates: Arc<Templates>,
    limiter: Arc<Limiter>,
    accounts: Arc<Accounts>,
    keys: ApiKeys,
    notifications: Arc<Notifications>,
    guilds: Guilds,
    memos: crate::memos::Memos,
    reminders: crate::reminders::Reminders,
    tasks: crate::tasks::Tasks,
    mailer: Arc<Mailer>,
    metrics: Arc<Metrics>,
    bot: Arc<BotHandle>,
}

/// Cheap to clone; every clone sees the same state.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    pub fn new(
        config: Config,
        db: Db,
        templates: Arc<Templates>,
        mailer: Arc<Mailer>,
        redis: Option<Redis>,
    ) -> Self {
        let limiter = Arc::new(Limiter::new(redis.clone()));
        let notifications = Arc::new(Notifications::new(&config, db.clone()));
        let accounts = Arc::new(Accounts::new(
            &config,
            db.clone(),
            mailer.clone(),
            notifications.clone(),
            limiter.clone(),
        ));
        let keys = ApiKeys::new(&config, db.clone(), redis);
        let status = if config.discord.token.is_some() {
            BotStatus::connecting()
        } else {
            BotStatus::Disabled
        };
        let bot = Arc::new(BotHandle::new(status));
        let wake = notifications.wake();
        let guilds = Guilds::new(&config, db.clone(), accounts.clone(), bot.clone(), wake);
        let seal = notifications.keys().clone();
        let memos = crate::memos::Memos::new(db.clone(), seal.clone());
        let reminders = crate::reminders::Reminders::new(
            db.clone(),
            accounts.clone(),
            seal.clone(),
            notifications.wake(),
        );
        let tasks =
            crate::tasks::Tasks::new(db.clone(), accounts.clone(), seal, notifications.wake());
        Self(Arc::new(Inner {
            config,
            db,
            templates,
            limiter,
            accounts,
            keys,
            notifications,
            guilds,
            memos,
            reminders,
            tasks,
            mailer,
            metrics: Arc::default(),
            bot,
        }))
    }

    pub fn config(&self) -> &Config {
        &self.0.config
    }

    pub fn db(&self) -> &Db {
        &self.0.db
    }

    pub fn templates(&self) -> &Templates {
        &self.0.templates
    }

    /// The abuse limits every feature counts against.
    pub fn limiter(&self) -> &Limiter {
        &self.0.limiter
    }

    pub fn keys(&self) -> &ApiKeys {
        &self.0.keys
    }

    pub fn notifications(&self) -> &Notifications {
        &self.0.notifications
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.0.metrics
    }

    pub fn mailer(&self) -> &Arc<Mailer> {
        &self.0.mailer
    }

    pub fn accounts(&self) -> &Arc<Accounts> {
        &self.0.accounts
    }

    pub fn bot(&self) -> &Arc<BotHandle> {
        &self.0.bot
    }

    /// The dashboard: servers, their settings and audit log.
    pub fn guilds(&self) -> &Guilds {
        &self.0.guilds
    }

    pub fn memos(&self) -> &crate::memos::Memos {
        &self.0.memos
    }

    pub fn reminders(&self) -> &crate::reminders::Reminders {
        &self.0.reminders
    }

    pub fn tasks(&self) -> &crate::tasks::Tasks {
        &self.0.tasks
    }
}
