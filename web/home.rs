//! The home page, the static files under `public/` (embedded in the binary), and the page a
//! browser gets for an address that does not exist.

use rust_embed::RustEmbed;
use serde::Serialize;
use warp::Filter;
use warp::http::Method;
use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use warp::reply::{Reply, Response};

use super::context::PageSession;
use super::error::{ApiError, ErrorCode};
use super::reply::{error_page, page};
use super::route::{Matched, Params, Route, Table, params, with_state};
use super::session::page_session;
use crate::accounts::users::Role;
use crate::i18n;
use crate::state::{AppState, BotStatus};

#[derive(RustEmbed)]
#[folder = "public/"]
struct Public;

pub fn routes(state: &AppState, table: &mut Table) {
    table.add(
        Method::GET,
        "/",
        with_state(state)
            .and(page_session(state))
            .then(home)
            .boxed(),
    );
    table.add(
        Method::GET,
        "/static/{*path}",
        params().map(|params: Params| asset(params.get(0))).boxed(),
    );
}

#[derive(Serialize)]
struct HomeView {
    bot_state: &'static str,
    bot_state_text: String,
    bot_detail: String,
    guild_count: u64,
}

async fn home(state: AppState, session: PageSession) -> Response {
    // The count comes from the database, kept current by gateway events: no Discord call here.
    let guild_count = match crate::guilds::active_count(state.db()).await {
        Ok(n) => n,
        Err(err) => return error_page(&state, &session, err.into()),
    };
    let locale = session.locale;
    let status = state.bot().status();
    let is_admin = session.user.as_ref().is_some_and(|u| u.role == Role::Admin);
    let bot_detail = match &status {
        BotStatus::Disabled => i18n::text(locale, "bot.detail_disabled"),
        BotStatus::Connecting { .. } => i18n::text(locale, "bot.detail_connecting"),
        BotStatus::Ready { user, .. } => {
            i18n::message(locale, "bot.detail_ready", &[("user", user)])
        }
        // The reason may name internals: administrators see it, everyone else a plain word.
        BotStatus::Failed { reason, .. } if is_admin => reason.clone(),
        BotStatus::Failed { .. } => i18n::text(locale, "bot.detail_failed"),
    };
    let view = HomeView {
        bot_state: status.name(),
        bot_state_text: i18n::text(locale, &format!("bot.{}", status.name())),
        bot_detail,
        guild_count,
    };
    page(&state, &session, "pages/home").render(&view)
}

/// Browsers asking for a page that does not exist get a page, not JSON. Runs only for
/// requests no route matched; API paths and non-HTML clients fall through to the JSON 404.
pub fn not_found_page(state: &AppState) -> Route {
    warp::ext::optional::<Matched>()
        .and(warp::method())
        .and(warp::path::full())
        .and(warp::header::optional::<String>("accept"))
        .and_then(
            |matched: Option<Matched>,
             method: Method,
             path: warp::path::FullPath,
             accept: Option<String>| async move {
                let wants_html = accept.is_some_and(|a| a.contains("text/html"));
                let page = matched.is_none()
                    && method == Method::GET
                    && wants_html
                    && !path.as_str().starts_with("/api/");
                if page {
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
            error_page(&state, &session, err)
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
    if let Ok(value) = HeaderValue::from_str(mime.as_ref()) {
        headers.insert(CONTENT_TYPE, value);
    }
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}
