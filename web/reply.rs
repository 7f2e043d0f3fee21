//! How pages answer: rendered pages with what every layout needs, the error page, redirects,
//! submitted forms and cookies. Features use these instead of importing each other.

use std::collections::HashMap;

use serde::Serialize;
use warp::http::StatusCode;
use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, LOCATION, SET_COOKIE};
use warp::reply::Response;

use super::context::PageSession;
use super::error::{ApiError, ErrorCode};
use crate::accounts::users::Role;
use crate::i18n::{self, Locale};
use crate::state::AppState;

/// A submitted form's fields (the first value of each name).
#[derive(serde::Deserialize, Default)]
#[serde(transparent)]
pub struct Form(HashMap<String, String>);

impl Form {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_owned()
    }

    pub fn csrf(&self) -> Option<&str> {
        self.get("csrf")
    }
}

/// An error as a page shows it: in the page's language.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorView {
    pub code: String,
    pub message: String,
}

impl ErrorView {
    pub fn new(locale: Locale, err: &ApiError) -> Self {
        Self {
            code: err.code.code(),
            message: err.code.message_in(locale),
        }
    }
}

/// What the layout of every page reads.
#[derive(Serialize)]
struct Layout<'a> {
    lang: &'static str,
    title: String,
    csrf: &'a str,
    version: &'static str,
    signed_in: bool,
    is_admin: bool,
    user_name: Option<String>,
    notice: Option<String>,
    error: Option<ErrorView>,
    /// `<meta http-equiv=refresh>`: the page reloads itself (waiting for Discord, no script).
    refresh: Option<String>,
}

#[derive(Serialize)]
struct PageContext<'a, T: Serialize> {
    #[serde(flatten)]
    layout: Layout<'a>,
    #[serde(flatten)]
    view: &'a T,
}

/// A page about to be rendered: `page(..).status(..).error(..).render(&view)`.
pub struct PageReply<'a> {
    state: &'a AppState,
    session: &'a PageSession,
    template: &'static str,
    status: StatusCode,
    notice: Option<String>,
    error: Option<ErrorView>,
    refresh: Option<String>,
}

pub fn page<'a>(
    state: &'a AppState,
    session: &'a PageSession,
    template: &'static str,
) -> PageReply<'a> {
    PageReply {
        state,
        session,
        template,
        status: StatusCode::OK,
        notice: None,
        error: None,
        refresh: None,
    }
}

impl PageReply<'_> {
    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Reloads the page as `refresh` says (`2; url=...`), when given.
    pub fn refresh(mut self, refresh: Option<String>) -> Self {
        self.refresh = refresh;
        self
    }

    /// A message from the catalogue shown above the page.
    pub fn notice(mut self, key: Option<&str>) -> Self {
        self.notice = key.map(|k| i18n::text(self.session.locale, k));
        self
    }

    /// An error shown above the page; the status follows the error's.
    pub fn error(mut self, err: Option<&ApiError>) -> Self {
        if let Some(err) = err {
            self.status = err.code.status();
            self.error = Some(ErrorView::new(self.session.locale, err));
        }
        self
    }

    pub fn render<T: Serialize>(self, view: &T) -> Response {
        let session = self.session;
        let context = PageContext {
            layout: Layout {
                lang: session.locale.code(),
                title: title(session.locale, self.template),
                csrf: &session.csrf_token,
                version: crate::VERSION,
                signed_in: session.user.is_some(),
                is_admin: session.user.as_ref().is_some_and(|u| u.role == Role::Admin),
                user_name: session.user.as_ref().map(|u| u.label()),
                notice: self.notice,
                error: self.error,
                refresh: self.refresh,
            },
            view,
        };
        let mut response = html(self.state, self.template, &context);
        if response.status() == StatusCode::OK {
            *response.status_mut() = self.status;
        }
        response
    }
}

/// A page with nothing of its own to show.
#[derive(Serialize)]
pub struct Empty {}

/// "Sign in · Herald": each page's own title, for tabs, history and screen readers.
fn title(locale: Locale, template: &str) -> String {
    let key = match template {
        "pages/login" => "login.title",
        "pages/register" => "register.title",
        "pages/forgot" => "forgot.title",
        "pages/reset" => "reset.title",
        "pages/verify" => "verify.title",
        "pages/confirm_email" => "confirm_email.title",
        "pages/account" => "account.title",
        "pages/keys" => "keys.title",
        "pages/dashboard" | "pages/guild" => "dashboard.title",
        "pages/docs" => "nav.docs",
        _ => return "Herald".to_owned(),
    };
    format!("{} · Herald", i18n::text(locale, key))
}

/// The error page: what happened in words that fit the status, the code, and a way back
/// that suits the visitor (their account when signed in, sign-in otherwise).
pub fn error_page(state: &AppState, session: &PageSession, err: ApiError) -> Response {
    #[derive(Serialize)]
    struct ErrorPage {
        heading: String,
        back_href: &'static str,
        back_label: String,
    }
    let locale = session.locale;
    let heading = match err.code.status().as_u16() {
        404 => "errorpage.not_found",
        401 => "errorpage.sign_in",
        403 => "errorpage.forbidden",
        429 => "errorpage.too_many",
        400..=499 => "errorpage.bad_request",
        _ => "errorpage.title",
    };
    let (back_href, back_label) = if session.user.is_some() {
        ("/account", "errorpage.back_account")
    } else {
        ("/login", "errorpage.back")
    };
    let view = ErrorPage {
        heading: i18n::text(locale, heading),
        back_href,
        back_label: i18n::text(locale, back_label),
    };
    err.log();
    let mut reply = page(state, session, "pages/error").error(Some(&err));
    reply.notice = None;
    let mut response = reply.render(&view);
    if let Some(seconds) = err.retry_after {
        response
            .headers_mut()
            .insert(warp::http::header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// Renders a template as an HTML page; a rendering failure is a logged 500, never a panic.
pub fn html<T: Serialize>(state: &AppState, template: &str, data: &T) -> Response {
    match state.templates().html(template, data) {
        Ok(html) => {
            let mut response = Response::new(html.into());
            let headers = response.headers_mut();
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(err) => {
            let err = ApiError::internal("app", format!("template {template}: {err}"));
            err.into_reply()
        }
    }
}

impl ApiError {
    fn into_reply(self) -> Response {
        warp::reply::Reply::into_response(self)
    }
}

/// 303 See Other to `location` (after a form, and for redirects to providers).
pub fn see_other(location: &str) -> Response {
    let mut response = Response::default();
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// Adds `Set-Cookie` headers.
pub fn with_cookies(mut response: Response, cookies: &[String]) -> Response {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    response
}

/// A page that needs a signed-in user sends others to sign in and come back.
pub fn sign_in_first(back_to: &str) -> Response {
    let next: String = url::form_urlencoded::byte_serialize(back_to.as_bytes()).collect();
    see_other(&format!("/login?next={next}"))
}

/// The 404 of a route that exists but names nothing (a page for browsers).
pub fn not_found(detail: &str) -> ApiError {
    ApiError::new(ErrorCode::RouteNotFound, detail.to_owned())
}

/// A time as the page shows it: UTC, to the minute.
pub fn when(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}
