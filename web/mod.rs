//! The HTTP surface: routes assembled from one module per feature, served by `server`.
//! Handlers parse input, call one domain function and render; errors go through `error`.

mod auth_api;
pub mod client_ip;
mod cors;
pub mod error;
mod health;
mod oauth;
pub mod openapi;
mod pages;
mod pages_account;
pub mod server;
pub mod session;

use serde::Serialize;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use warp::reply::{Reply, Response};

pub use error::ApiError;
pub use server::{RequestContext, serve};

use crate::state::AppState;

/// Every route, with the one rejection handler on top.
pub fn routes(state: &AppState) -> BoxedFilter<(Response,)> {
    health::routes(state)
        .or(openapi::routes(state))
        .unify()
        .or(auth_api::routes(state))
        .unify()
        .or(oauth::routes(state))
        .unify()
        .or(pages_account::routes(state))
        .unify()
        .or(pages::routes(state))
        .unify()
        .or(pages::not_found_page(state))
        .unify()
        .recover(error::recover)
        .unify()
        .boxed()
}

/// Hands the state to a handler.
pub(crate) fn with_state(
    state: &AppState,
) -> impl Filter<Extract = (AppState,), Error = std::convert::Infallible> + Clone + use<> {
    let state = state.clone();
    warp::any().map(move || state.clone())
}

/// Runs a handler's result through the one error mapping.
pub(crate) fn respond<T: Reply>(result: Result<T, ApiError>) -> Response {
    match result {
        Ok(reply) => reply.into_response(),
        Err(err) => err.into_response(),
    }
}

/// Renders a page in the session's language with what every page needs (texts, the signed-in
/// user, the CSRF token, the configured providers), then `data`; sets the session's cookies.
pub(crate) fn render_page(
    state: &AppState,
    session: &session::PageSession,
    template: &str,
    status: warp::http::StatusCode,
    data: serde_json::Value,
) -> Response {
    let mut context = serde_json::json!({
        "t": crate::i18n::texts_json(session.locale),
        "lang": session.locale.code(),
        "csrf": session.csrf_token,
        "version": crate::VERSION,
        "signed_in": session.user.is_some(),
        "user_name": session.user.as_ref().map(|u| {
            u.display_name.clone().or_else(|| u.email.clone()).unwrap_or_else(|| format!("#{}", u.id))
        }),
        "title": page_title(session.locale, template),
        "notice": null,
        "error": null,
        "error_page": false,
    });
    if let (Some(base), serde_json::Value::Object(extra)) = (context.as_object_mut(), data) {
        base.extend(extra);
    }
    let mut response = render(state, template, &context);
    *response.status_mut() = status;
    session.apply(&mut response);
    response
}

/// "Sign in · Herald": each page's own title, for tabs, history and screen readers.
fn page_title(locale: crate::i18n::Locale, template: &str) -> String {
    let key = match template {
        "pages/login" => "login_title",
        "pages/register" => "register_title",
        "pages/forgot" => "forgot_title",
        "pages/reset" => "reset_title",
        "pages/verify" => "verify_title",
        "pages/account" => "account_title",
        "pages/error" => "error_title",
        "pages/docs" => "nav_docs",
        _ => return "Herald".to_owned(),
    };
    format!("{} · Herald", crate::i18n::text(locale, key))
}

/// Renders a template; a rendering failure is a logged 500, never a panic.
pub(crate) fn render<T: Serialize>(state: &AppState, template: &str, data: &T) -> Response {
    match state.templates().render(template, data) {
        Ok(html) => {
            let mut response = Response::new(html.into());
            let headers = response.headers_mut();
            headers.insert(
                CONTENT_TYPE,
                "text/html; charset=utf-8".parse().expect("static"),
            );
            headers.insert(CACHE_CONTROL, "no-store".parse().expect("static"));
            response
        }
        Err(err) => {
            tracing::error!(template, error = %err, "template rendering failed");
            ApiError::new(error::ErrorCode::Internal, "a page failed to render").into_response()
        }
    }
}
