//! The wiring, and the only place in `src/` that knows `web/` and `commands/`.
//!
//! Boot: connect and migrate the database, bind the listener (a taken port fails here, fast),
//! then either start the bot, whose setup hook starts the web surface with the bot's `Http` and
//! `Cache` attached, or, with no token or no bot within `DISCORD_READY_TIMEOUT_SECS`, start the
//! web surface without it. A bot that comes up later attaches to the running web surface.

mod bot;
mod launcher;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::db::{Db, DbError};
use crate::guilds::posts::NotificationAudit;
use crate::mail::Mailer;
use crate::notifications::discord::DiscordChannel;
use crate::notifications::email::EmailChannel;
use crate::notifications::engine::{Channels, Engine};
use crate::notifications::kakao::KakaoChannel;
use crate::shared::Redis;
use crate::state::AppState;
use crate::templates::Templates;
use launcher::WebLauncher;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("templates failed to load: {0}")]
    Templates(#[from] Box<handlebars::TemplateError>),
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
    #[error(transparent)]
    Shared(#[from] crate::shared::SharedError),
}

/// A running Herald: its address and state, and a way to stop it.
pub struct Herald {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl Herald {
    /// Asks Herald to stop: no new connections, requests in flight finish, the gateway closes.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Waits until everything has stopped.
    pub async fn stopped(self) {
        if let Err(err) = self.task.await {
            tracing::error!(error = %err, "the main task ended abnormally");
        }
    }
}

/// Connects and migrates the database.
pub async fn open_database(config: &Config) -> Result<Db, AppError> {
    let db = Db::connect(&config.database).await?;
    db.migrate().await?;
    crate::accounts::users::recanonicalise(&db).await?;
    Ok(db)
}

/// The accounts service alone, for command-line administration.
pub async fn accounts(config: &Config) -> Result<crate::accounts::Accounts, AppError> {
    let db = open_database(config).await?;
    let templates = Arc::new(Templates::load().map_err(Box::new)?);
    let mailer = Arc::new(Mailer::new(config, templates)?);
    let redis = config
        .redis
        .url
        .as_ref()
        .map(|url| Redis::connect(url, &config.redis.namespace))
        .transpose()?;
    let limiter = Arc::new(crate::limits::Limiter::new(redis));
    // Mail queued here is sent by the workers of a running Herald on the same database.
    let queue = Arc::new(crate::notifications::Notifications::new(config, db.clone()));
    Ok(crate::accounts::Accounts::new(
        config, db, mailer, queue, limiter,
    ))
}

/// Boots Herald and returns once it is listening (the bot may still be connecting).
pub async fn start(config: Config) -> Result<Herald, AppError> {
    let db = open_database(&config).await?;
    let addr = SocketAddr::new(config.host, config.port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| AppError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| AppError::Bind { addr, source })?;
    let mut config = config;
    // Port 0 asks the OS for a port; links must carry the one it gave.
    if config.public_url.port() == Some(0) {
        let _ = config.public_url.set_port(Some(addr.port()));
    }
    let templates = Arc::new(Templates::load().map_err(Box::new)?);
    let mailer = Arc::new(Mailer::new(&config, templates.clone())?);
    let redis = config
        .redis
        .url
        .as_ref()
        .map(|url| Redis::connect(url, &config.redis.namespace))
        .transpose()?;
    let state = AppState::new(config, db, templates, mailer, redis);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(lifecycle(state.clone(), listener, shutdown.clone()));
    Ok(Herald {
        addr,
        state,
        shutdown,
        task,
    })
}

async fn lifecycle(state: AppState, listener: TcpListener, shutdown: CancellationToken) {
    let config = state.config().clone();
    let workers = tokio::spawn(
        notification_workers(&state).run(shutdown.clone(), config.http.shutdown_timeout),
    );
    tokio::spawn({
        let (state, shutdown) = (state.clone(), shutdown.clone());
        async move {
            if let Err(err) = metrics_server(state, shutdown).await {
                tracing::error!(error = %err, "the metrics address could not be served");
            }
        }
    });
    tokio::spawn(reminder_sweep(state.clone(), shutdown.clone()));
    let web = WebLauncher::new(listener, state.clone(), shutdown.clone());
    let bot = match config.discord.token.clone() {
        None => {
            tracing::warn!(
                "DISCORD_TOKEN is not set: the Discord bot is disabled; \
                 the web surface and everything that does not need Discord work as usual"
            );
            web.start("bot disabled");
            None
        }
        Some(token) => {
            let bot = tokio::spawn(bot::supervise(
                state.clone(),
                token,
                web.clone(),
                shutdown.clone(),
            ));
            // The web surface never waits on Discord for longer than the ready timeout.
            tokio::select! {
                _ = web.started() => {}
                _ = tokio::time::sleep(config.discord.ready_timeout) => {
                    web.start("bot not ready yet; it attaches when it comes up");
                }
                _ = shutdown.cancelled() => {}
            }
            Some(bot)
        }
    };

    shutdown.cancelled().await;
    tracing::info!("shutting down");
    web.stopped().await;
    if let Some(bot) = bot {
        let limit = config.http.shutdown_timeout;
        if tokio::time::timeout(limit, bot).await.is_err() {
            tracing::warn!("the bot did not stop within {}s", limit.as_secs());
        }
    }
    if let Err(err) = workers.await {
        tracing::error!(error = %err, "the notification workers ended abnormally");
    }
    state.db().close().await;
    tracing::info!("stopped");
}

/// Queues the next occurrence of repeating reminders as their current one comes due, every
/// `REMINDER_SWEEP` until shutdown. The occurrence itself was queued long before, so this
/// never makes a reminder late; it only keeps one queued ahead.
async fn reminder_sweep(state: AppState, shutdown: CancellationToken) {
    const REMINDER_SWEEP: std::time::Duration = std::time::Duration::from_secs(15);
    loop {
        if let Err(err) = state.reminders().sweep(state.guilds()).await {
            tracing::warn!(error = %err, "the reminder sweep failed; it runs again shortly");
        }
        tokio::select! {
            _ = tokio::time::sleep(REMINDER_SWEEP) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// The outbox's workers, with every channel.
fn notification_workers(state: &AppState) -> Engine {
    let channels = Channels {
        email: EmailChannel::new(state.mailer().clone(), state.db().clone()),
        discord: DiscordChannel::new(state.bot().clone(), state.db().clone()),
        kakao: KakaoChannel::new(
            state.accounts().clone(),
            state.config().oauth.kakao_api_base.clone(),
            &state.config().public_url,
        ),
    };
    Engine::new(
        state.db().clone(),
        state.config().notify.clone(),
        channels,
        state.notifications().wake(),
        state.metrics().clone(),
        state.notifications().keys().clone(),
        Arc::new(NotificationAudit::new(state.notifications().keys().clone())),
    )
}

/// `/metrics` alone on METRICS_ADDR, when set, until shutdown.
async fn metrics_server(state: AppState, shutdown: CancellationToken) -> Result<(), AppError> {
    let Some(addr) = state.config().metrics.addr else {
        return Ok(());
    };
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| AppError::Bind { addr, source })?;
    tracing::info!(%addr, "metrics served on their own address");
    warp::serve(crate::web::metrics::metrics_only(&state))
        .incoming(listener)
        .graceful(async move { shutdown.cancelled().await })
        .run()
        .await;
    Ok(())
}
