//! Server-rendered pages and the static files under `public/` (embedded in the binary).

use rust_embed::RustEmbed;
use serde_json::json;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use warp::reply::{Reply, Response};

use super::error::{ApiError, ErrorCode};
use super::session::{PageSession, page_session};
use super::{render_page, with_state};
use crate::state::{AppState, BotStatus};
use warp::http::StatusCode;

#[derive(RustEmbed)]
#[folder = "public/"]
struct Public;

pub fn routes(state: &AppState) -> BoxedFilter<(Response,)> {
    let home = warp::path::end()
        .and(warp::get())
        .and(with_state(state))
        .and(page_session(state))
        .then(home);
    let assets = warp::path("static")
        .and(warp::path::tail())
        .and(warp::get())
        .map(|tail: warp::path::Tail| asset(tail.as_str()));
    home.or(assets).unify().boxed()
}

async fn home(state: AppState, session: PageSession) -> Response {
    // The count comes from the database, kept current by gateway events: no Discord call here.
    let guild_count = crate::guilds::active_count(state.db()).await;
    let guild_count = match guild_count {
        Ok(n) => n,
        Err(err) => return ApiError::from(err).into_response(),
    };
    let (bot_state, bot_detail) = match state.bot().status() {
        BotStatus::Disabled => ("disabled", "No bot token is configured.".to_owned()),
        BotStatus::Connecting { .. } => ("connecting", "Connecting to Discord…".to_owned()),
        BotStatus::Ready { user, .. } => ("ready", format!("Signed in to Discord as {user}.")),
        BotStatus::Failed { reason, .. } => ("failed", reason),
    };
    let data = json!({
        "bot_state": bot_state,
        "bot_detail": bot_detail,
        "guild_count": guild_count,
    });
    render_page(&state, &session, "pages/home", StatusCode::OK, data)
}

fn asset(path: &str) -> Response {
    let Some(file) = Public::get(path) else {
        return ApiError::new(ErrorCode::RouteNotFound, "no such static file").into_response();
    };
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let mut response = Response::new(file.data.into_owned().into());
    let headers = response.headers_mut();
    if let Ok(value) = mime.as_ref().parse() {
        headers.insert(CONTENT_TYPE, value);
    }
    headers.insert(
        CACHE_CONTROL,
        "public, max-age=3600".parse().expect("static"),
    );
    response
}
