//! Server-rendered pages and the static files under `public/` (embedded in the binary).

use rust_embed::RustEmbed;
use serde::Serialize;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use warp::reply::{Reply, Response};

use super::error::{ApiError, ErrorCode};
use super::{render, with_state};
use crate::state::{AppState, BotStatus};

#[derive(RustEmbed)]
#[folder = "public/"]
struct Public;

pub fn routes(state: &AppState) -> BoxedFilter<(Response,)> {
    let home = warp::path::end()
        .and(warp::get())
        .and(with_state(state))
        .then(home);
    let assets = warp::path("static")
        .and(warp::path::tail())
        .and(warp::get())
        .map(|tail: warp::path::Tail| asset(tail.as_str()));
    home.or(assets).unify().boxed()
}

#[derive(Serialize)]
struct HomePage {
    title: &'static str,
    version: &'static str,
    bot_state: &'static str,
    bot_detail: String,
    guild_count: u64,
}

async fn home(state: AppState) -> Response {
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
    let page = HomePage {
        title: "Herald",
        version: crate::VERSION,
        bot_state,
        bot_detail,
        guild_count,
    };
    render(&state, "pages/home", &page)
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
