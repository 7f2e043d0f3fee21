//! `GET /metrics`: Prometheus text, for a bearer token from `METRICS_TOKEN`; or, with
//! `METRICS_ADDR`, on a separate address without a token (`metrics_only`).

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::{Method, StatusCode};
use warp::reply::{Reply, Response};

use super::error::{ApiError, ErrorCode};
use super::route::{Table, respond, with_state};
use crate::crypto::ct_eq;
use crate::state::AppState;

pub fn routes(state: &AppState, table: &mut Table) {
    table.add(
        Method::GET,
        "/metrics",
        with_state(state)
            .and(warp::header::optional::<String>("authorization"))
            .then(metrics)
            .map(respond)
            .boxed(),
    );
}

/// Prometheus text, for the operator's token: 401 (4010001) without it, 404 (4040000) when
/// no token is configured. An operations endpoint, outside the API document (the README
/// describes it).
async fn metrics(state: AppState, authorization: Option<String>) -> Result<Response, ApiError> {
    let Some(token) = &state.config().metrics.token else {
        return Err(ApiError::new(
            ErrorCode::RouteNotFound,
            "metrics are off here: set METRICS_TOKEN, or read them on METRICS_ADDR",
        ));
    };
    let given = authorization
        .as_deref()
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !ct_eq(given.as_bytes(), token.expose().as_bytes()) {
        return Err(ApiError::new(
            ErrorCode::NotAuthorized,
            "send Authorization: Bearer <METRICS_TOKEN>",
        ));
    }
    exposition(&state).await
}

async fn exposition(state: &AppState) -> Result<Response, ApiError> {
    let (depth, oldest_due_secs) =
        crate::notifications::store::queue_depth(state.db(), crate::db::now_unix()).await?;
    let text = state.metrics().render(&crate::metrics::Queue {
        depth,
        oldest_due_secs,
    });
    Ok(warp::reply::with_header(
        warp::reply::with_status(text, StatusCode::OK),
        "content-type",
        "text/plain; version=0.0.4",
    )
    .into_response())
}

/// The whole server on `METRICS_ADDR`: `/metrics`, no token (the address is the protection).
pub fn metrics_only(state: &AppState) -> BoxedFilter<(Response,)> {
    warp::path!("metrics")
        .and(warp::get())
        .and(with_state(state))
        .then(|state: AppState| async move { exposition(&state).await })
        .map(respond)
        .boxed()
}
