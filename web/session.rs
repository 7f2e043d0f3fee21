//! Who is asking: bearer tokens for the API, cookies for pages (the same JWT, plus the refresh
//! token to renew it), and the CSRF token every page form carries.
//!
//! Cookies are HttpOnly and SameSite=Lax, Secure when configured (or the public URL is https).
//! CSRF: a random cookie, and in each form an HMAC of it under a key derived from SECRET_KEY,
//! so an attacker who can plant a cookie still cannot produce the matching form value.

use cookie::{Cookie, SameSite};
use warp::Filter;
use warp::http::header::{HeaderValue, SET_COOKIE};
use warp::reply::Response;

use super::error::{ApiError, ErrorCode};
use super::server::{LoggedUser, RequestContext};
use super::with_state;
use crate::accounts::sessions::{Origin, Tokens};
use crate::accounts::users::User;
use crate::crypto::{ct_eq, random_token};
use crate::i18n::Locale;
use crate::state::AppState;

pub const ACCESS_COOKIE: &str = "herald_access";
pub const REFRESH_COOKIE: &str = "herald_refresh";
pub const CSRF_COOKIE: &str = "herald_csrf";

/// A signed-in API caller.
#[derive(Clone, Debug)]
pub struct Authed {
    pub user: User,
    pub session_id: String,
}

/// Requires `Authorization: Bearer <access token>`; answers 401 (4010001) otherwise.
pub fn bearer(
    state: &AppState,
) -> impl Filter<Extract = (Authed,), Error = warp::Rejection> + Clone + use<> {
    warp::header::optional::<String>("authorization")
        .and(with_state(state))
        .and(warp::ext::get::<RequestContext>())
        .and_then(
            |header: Option<String>, state: AppState, ctx: RequestContext| async move {
                let token = header
                    .as_deref()
                    .and_then(|h| {
                        h.strip_prefix("Bearer ")
                            .or_else(|| h.strip_prefix("bearer "))
                    })
                    .ok_or_else(|| {
                        warp::reject::Rejection::from(ApiError::new(
                            ErrorCode::NotAuthorized,
                            "send Authorization: Bearer <access token>",
                        ))
                    })?;
                let (user, session_id) = state
                    .accounts()
                    .authenticate(token.trim())
                    .await
                    .map_err(|e| warp::reject::Rejection::from(ApiError::from(e)))?;
                note_user(&ctx, &user);
                Ok::<_, warp::Rejection>(Authed { user, session_id })
            },
        )
}

/// Where a request came from, for the session record.
pub fn origin() -> impl Filter<Extract = (Origin,), Error = warp::Rejection> + Clone {
    warp::header::optional::<String>("user-agent")
        .and(warp::ext::optional::<RequestContext>())
        .map(|user_agent, ctx: Option<RequestContext>| Origin {
            user_agent,
            ip: ctx.map(|c| c.client_ip.to_string()),
        })
}

/// The access log names the user of each request it can.
pub fn note_user(ctx: &RequestContext, user: &User) {
    let _ = ctx.user.set(LoggedUser {
        id: user.id,
        email: user.email.clone().unwrap_or_default(),
    });
}

/// A page request's session: the user if signed in, the CSRF pair, the language, and any
/// cookies to set on the way out (a renewed session, a new CSRF cookie).
#[derive(Clone, Debug)]
pub struct PageSession {
    pub user: Option<User>,
    pub session_id: Option<String>,
    pub locale: Locale,
    pub csrf_cookie: String,
    pub csrf_token: String,
    pub set_cookies: Vec<String>,
    pub refresh_token: Option<String>,
}

impl PageSession {
    /// Adds the session's pending cookies to a response.
    pub fn apply(&self, response: &mut Response) {
        append_cookies(response, &self.set_cookies);
    }

    /// Checks a submitted form's CSRF value against this browser's cookie.
    pub fn check_csrf(&self, submitted: Option<&str>) -> Result<(), ApiError> {
        let fresh = self.set_cookies.iter().any(|c| c.starts_with(CSRF_COOKIE));
        match submitted {
            // A CSRF cookie minted on this very request cannot have been in the form.
            Some(value) if !fresh && ct_eq(value.as_bytes(), self.csrf_token.as_bytes()) => Ok(()),
            _ => Err(ApiError::new(
                ErrorCode::CsrfFailed,
                "missing or wrong CSRF token",
            )),
        }
    }
}

/// Reads the page session from cookies, renewing an expired access cookie with the refresh
/// cookie (the refresh token rotates, as in the API).
pub fn page_session(
    state: &AppState,
) -> impl Filter<Extract = (PageSession,), Error = warp::Rejection> + Clone + use<> {
    warp::cookie::optional::<String>(ACCESS_COOKIE)
        .and(warp::cookie::optional::<String>(REFRESH_COOKIE))
        .and(warp::cookie::optional::<String>(CSRF_COOKIE))
        .and(warp::header::optional::<String>("accept-language"))
        .and(with_state(state))
        .and(warp::ext::get::<RequestContext>())
        .and_then(
            |access: Option<String>,
             refresh: Option<String>,
             csrf: Option<String>,
             accept_language: Option<String>,
             state: AppState,
             ctx: RequestContext| async move {
                Ok::<_, warp::Rejection>(
                    resolve(&state, &ctx, access, refresh, csrf, accept_language).await,
                )
            },
        )
}

async fn resolve(
    state: &AppState,
    ctx: &RequestContext,
    access: Option<String>,
    refresh: Option<String>,
    csrf: Option<String>,
    accept_language: Option<String>,
) -> PageSession {
    let accounts = state.accounts();
    let mut set_cookies = Vec::new();
    let mut signed_in = match &access {
        Some(token) => accounts.authenticate(token).await.ok(),
        None => None,
    };
    let mut refresh_token = refresh.clone();
    if signed_in.is_none()
        && let Some(refresh) = &refresh
    {
        match accounts.refresh(refresh).await {
            Ok(tokens) => {
                signed_in = accounts.authenticate(&tokens.access_token).await.ok();
                set_cookies.extend(session_cookies(state, &tokens));
                refresh_token = Some(tokens.refresh_token);
            }
            Err(_) => set_cookies.extend(clear_session_cookies(state)),
        }
    }
    let csrf_cookie = csrf.filter(|c| c.len() == 32).unwrap_or_else(|| {
        let value = random_token(32);
        set_cookies.push(cookie(state, CSRF_COOKIE, &value, None));
        value
    });
    if let Some((user, _)) = &signed_in {
        note_user(ctx, user);
    }
    let locale = signed_in
        .as_ref()
        .and_then(|(u, _)| Locale::parse(&u.locale))
        .unwrap_or_else(|| Locale::negotiate(accept_language.as_deref()));
    PageSession {
        csrf_token: accounts.keys().csrf_token(&csrf_cookie),
        csrf_cookie,
        locale,
        session_id: signed_in.as_ref().map(|(_, s)| s.clone()),
        user: signed_in.map(|(u, _)| u),
        set_cookies,
        refresh_token,
    }
}

/// Adds `Set-Cookie` headers.
pub fn append_cookies(response: &mut Response, cookies: &[String]) {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
}

/// The two session cookies for a fresh pair of tokens.
pub fn session_cookies(state: &AppState, tokens: &Tokens) -> Vec<String> {
    let max_age = Some(state.accounts().refresh_ttl());
    vec![
        cookie(state, ACCESS_COOKIE, &tokens.access_token, max_age),
        cookie(state, REFRESH_COOKIE, &tokens.refresh_token, max_age),
    ]
}

pub fn clear_session_cookies(state: &AppState) -> Vec<String> {
    vec![
        cookie(state, ACCESS_COOKIE, "", Some(0)),
        cookie(state, REFRESH_COOKIE, "", Some(0)),
    ]
}

/// An HttpOnly, SameSite=Lax cookie for the whole site.
pub fn cookie(state: &AppState, name: &str, value: &str, max_age_secs: Option<i64>) -> String {
    scoped_cookie(state, name, value, "/", max_age_secs)
}

pub fn scoped_cookie(
    state: &AppState,
    name: &str,
    value: &str,
    path: &str,
    max_age_secs: Option<i64>,
) -> String {
    let mut c = Cookie::build((name.to_owned(), value.to_owned()))
        .path(path.to_owned())
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config().auth.cookie_secure)
        .build();
    if let Some(secs) = max_age_secs {
        c.set_max_age(cookie::time::Duration::seconds(secs));
    }
    c.to_string()
}
