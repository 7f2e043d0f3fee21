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
    let t = |key: &str| crate::i18n::text(session.locale, key);
    let (bot_state, bot_detail) = match state.bot().status() {
        BotStatus::Disabled => ("disabled", t("bot_detail_disabled")),
        BotStatus::Connecting { .. } => ("connecting", t("bot_detail_connecting")),
        BotStatus::Ready { user, .. } => ("ready", format!("{} {user}", t("bot_detail_ready"))),
        // The reason is for the operator, as the log and /readyz say it.
        BotStatus::Failed { reason, .. } => ("failed", reason),
    };
    let data = json!({
        "bot_state": bot_state,
        "bot_state_text": t(&format!("bot_{bot_state}")),
        "one_guild": guild_count == 1,
        "bot_detail": bot_detail,
        "guild_count": guild_count,
    });
    render_page(&state, &session, "pages/home", StatusCode::OK, data)
}

/// Browsers asking for a page that does not exist get a page, not JSON. Runs after every
/// route; API paths and non-HTML clients fall through to the JSON 404.
pub fn not_found_page(state: &AppState) -> BoxedFilter<(Response,)> {
    warp::get()
        .and(warp::path::full())
        .and(warp::header::optional::<String>("accept"))
        .and_then(
            |path: warp::path::FullPath, accept: Option<String>| async move {
                let wants_html = accept.is_some_and(|a| a.contains("text/html"));
                if wants_html && !path.as_str().starts_with("/api/") {
                    Ok(())
                } else {
                    Err(warp::reject::not_found())
                }
            },
        )
        .untuple_one()
        .and(with_state(state))
        .and(page_session(state))
        .map(|state: AppState, session: PageSession| {
            let err = ApiError::new(ErrorCode::RouteNotFound, "no page at this address");
            super::pages_account::error_page(&state, &session, err)
        })
        .boxed()
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
