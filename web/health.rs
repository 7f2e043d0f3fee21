//! Probes and status: `/healthz` (the process answers), `/readyz` (database and bot),
//! `/api/v1/status` (what a dashboard or a caller may show).

use serde::Serialize;
use utoipa::ToSchema;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::{ApiError, with_state};
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
    pub bot: BotStatus,
}

#[derive(Serialize, ToSchema)]
pub struct DatabaseCheck {
    pub ok: bool,
    /// Why the database is not reachable, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Status {
    #[schema(example = "0.1.0")]
    pub version: &'static str,
    pub bot: BotStatus,
    /// Discord servers the bot is in.
    pub guild_count: u64,
}

pub fn routes(state: &AppState) -> BoxedFilter<(Response,)> {
    let healthz = warp::path!("healthz")
        .and(warp::get())
        .map(|| warp::reply::json(&healthz()).into_response());
    let readyz = warp::path!("readyz")
        .and(warp::get())
        .and(with_state(state))
        .then(readyz);
    let status = warp::path!("api" / "v1" / "status")
        .and(warp::get())
        .and(with_state(state))
        .then(|state| async move { super::respond(status(state).await) });
    healthz.or(readyz).unify().or(status).unify().boxed()
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, description = "The process answers", body = Health)))]
fn healthz() -> Health {
    Health { status: "ok" }
}

/// Whether this instance can do its work: the database answers and the bot is ready (or
/// disabled on purpose). Answers 503 otherwise, with the reason.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses(
    (status = 200, description = "Ready", body = Readiness),
    (status = 503, description = "Not ready: the body says which part and why", body = Readiness)))]
async fn readyz(state: AppState) -> Response {
    let database = match state.db().ping().await {
        Ok(()) => DatabaseCheck {
            ok: true,
            error: None,
        },
        Err(err) => DatabaseCheck {
            ok: false,
            error: Some(err.to_string()),
        },
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
        bot,
    };
    warp::reply::with_status(warp::reply::json(&body), code).into_response()
}

/// Herald's version, the bot's state and how many servers it is in.
#[utoipa::path(get, path = "/api/v1/status", tag = "ops", responses(
    (status = 200, description = "Current status", body = Status),
    (status = 500, description = "Database error", body = super::error::ErrorBody)))]
async fn status(state: AppState) -> Result<warp::reply::Json, ApiError> {
    let guild_count = crate::guilds::active_count(state.db()).await?;
    Ok(warp::reply::json(&Status {
        version: crate::VERSION,
        bot: state.bot().status(),
        guild_count,
    }))
}
