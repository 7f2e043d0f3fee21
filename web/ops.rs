//! Probes and status: `/healthz` (the process answers), `/readyz` (database and bot),
//! `/api/v1/status` (what a dashboard or a caller may show). None of them shows the cause of
//! a failure to the public (a database error's text, the bot's failure reason): that goes to
//! the log, and administrators see the bot's reason on the home page.

use serde::Serialize;
use utoipa::ToSchema;
use warp::Filter;
use warp::http::Method;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::error::{ApiError, ErrorBody};
use super::route::{Table, respond, with_state};
use crate::state::{AppState, BotStatus};

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the process answers.
    #[schema(example = "ok")]
    pub status: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// True when the database answers and the bot is ready or deliberately disabled.
    pub ready: bool,
    pub database: DatabaseCheck,
    pub bot: PublicBotStatus,
}

#[derive(Serialize, ToSchema)]
pub struct DatabaseCheck {
    pub ok: bool,
    /// `unavailable` when the database does not answer (the cause is in the log).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "unavailable")]
    pub error: Option<&'static str>,
}

/// The bot's state as anyone may see it.
#[derive(Serialize, ToSchema)]
pub struct PublicBotStatus {
    /// `disabled`, `connecting`, `ready` or `failed`.
    #[schema(example = "ready")]
    pub state: &'static str,
    /// Since when (Unix seconds), for `connecting` and `ready`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// The bot's user name, when ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// When the next attempt starts (Unix seconds), when failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<i64>,
}

impl From<BotStatus> for PublicBotStatus {
    fn from(status: BotStatus) -> Self {
        let state = status.name();
        match status {
            BotStatus::Disabled => Self::bare(state),
            BotStatus::Connecting { since } => Self {
                since: Some(since),
                ..Self::bare(state)
            },
            BotStatus::Ready { user, since } => Self {
                since: Some(since),
                user: Some(user),
                ..Self::bare(state)
            },
            BotStatus::Failed { retry_at, .. } => Self {
                retry_at: Some(retry_at),
                ..Self::bare(state)
            },
        }
    }
}

impl PublicBotStatus {
    fn bare(state: &'static str) -> Self {
        Self {
            state,
            since: None,
            user: None,
            retry_at: None,
        }
    }
}

/// What `/api/v1/status` answers.
#[derive(Serialize, ToSchema)]
pub struct ServiceStatus {
    #[schema(example = "0.1.0")]
    pub version: &'static str,
    pub bot: PublicBotStatus,
    /// Discord servers the bot is in.
    pub guild_count: u64,
}

pub fn routes(state: &AppState, table: &mut Table) {
    table.add(
        Method::GET,
        "/healthz",
        warp::any()
            .map(|| warp::reply::json(&healthz()).into_response())
            .boxed(),
    );
    table.add(
        Method::GET,
        "/readyz",
        with_state(state).then(readyz).boxed(),
    );
    table.add(
        Method::GET,
        "/api/v1/status",
        with_state(state).then(status).map(respond).boxed(),
    );
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, description = "The process answers", body = Health)))]
fn healthz() -> Health {
    Health { status: "ok" }
}

/// Whether this instance can do its work: the database answers and the bot is ready (or
/// disabled on purpose). Answers 503 otherwise, saying which part is not ready.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses(
    (status = 200, description = "Ready", body = Readiness),
    (status = 503, description = "Not ready: the body says which part", body = Readiness)))]
async fn readyz(state: AppState) -> Response {
    let database = match state.db().ping().await {
        Ok(()) => DatabaseCheck {
            ok: true,
            error: None,
        },
        Err(err) => {
            tracing::error!(target: "db", error = %err, "readiness: the database does not answer");
            DatabaseCheck {
                ok: false,
                error: Some("unavailable"),
            }
        }
    };
    let bot = state.bot().status();
    let ready = database.ok && bot.is_healthy();
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Readiness {
        ready,
        database,
        bot: bot.into(),
    };
    warp::reply::with_status(warp::reply::json(&body), code).into_response()
}

/// Herald's version, the bot's state and how many servers it is in.
#[utoipa::path(get, path = "/api/v1/status", tag = "ops", responses(
    (status = 200, description = "Current status", body = ServiceStatus),
    (status = 500, description = "5000000 database error", body = ErrorBody)))]
async fn status(state: AppState) -> Result<warp::reply::Json, ApiError> {
    let guild_count = crate::guilds::active_count(state.db()).await?;
    Ok(warp::reply::json(&ServiceStatus {
        version: crate::VERSION,
        bot: state.bot().status().into(),
        guild_count,
    }))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(healthz, readyz, status),
    tags((name = "ops", description = "Probes and status"))
)]
pub struct Doc;
