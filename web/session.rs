//! Who is asking: bearer tokens for the API, cookies for pages (the same JWT, plus the refresh
//! token to renew it), and the CSRF token every page form carries.
//!
//! A page request's session is resolved once, however many filters ask for it (renewing an
//! expired access cookie spends the refresh token, which must not happen twice), and the cookies
//! it sets ride on whatever response the request ends with: the server adds them to pages,
//! redirects and error pages alike.
//!
//! Cookies are HttpOnly and SameSite=Lax; over https they are Secure and carry the `__Host-`
//! prefix (bound to this host, path `/`). CSRF: a random cookie, and in each form an HMAC of it
//! and the session id under a key derived from SECRET_KEY, so a token is good for one browser
//! and one session only.

use cookie::{Cookie, SameSite};
use warp::Filter;
use warp::filters::BoxedFilter;

use super::context::{LoggedUser, PageSession, RequestContext};
use super::error::{ApiError, ErrorCode};
use super::route::{reject, with_state};
use crate::accounts::sessions::{Origin, Tokens};
use crate::accounts::users::User;
use crate::crypto::random_token;
use crate::i18n::Locale;
use crate::state::AppState;

/// The cookies Herald sets, named for the transport: `__Host-` / `__Secure-` over https.
pub struct CookieNames {
    pub access: &'static str,
    pub refresh: &'static str,
    pub csrf: &'static str,
    pub device: &'static str,
    pub oauth: &'static str,
}

const PLAIN: CookieNames = CookieNames {
    access: "herald_access",
    refresh: "herald_refresh",
    csrf: "herald_csrf",
    device: "herald_device",
    oauth: "herald_oauth",
};

const SECURE: CookieNames = CookieNames {
    access: "__Host-herald_access",
    refresh: "__Host-herald_refresh",
    csrf: "__Host-herald_csrf",
    device: "__Host-herald_device",
    // Scoped to /auth, so it cannot be a __Host- cookie.
    oauth: "__Secure-herald_oauth",
};

/// Where the OAuth binding cookie is sent.
pub const OAUTH_COOKIE_PATH: &str = "/auth";

pub fn names(state: &AppState) -> &'static CookieNames {
    if state.config().auth.cookie_secure {
        &SECURE
    } else {
        &PLAIN
    }
}

/// A signed-in API caller.
#[derive(Clone, Debug)]
pub struct Authed {
    pub user: User,
    pub session_id: String,
}

/// Requires `Authorization: Bearer <access token>`; answers 401 (4010001) otherwise.
pub fn bearer(state: &AppState) -> BoxedFilter<(Authed,)> {
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
                        reject(ApiError::new(
                            ErrorCode::NotAuthorized,
                            "send Authorization: Bearer <access token>",
                        ))
                    })?;
                let (user, session_id) = state
                    .accounts()
                    .authenticate(token.trim())
                    .await
                    .map_err(|e| reject(ApiError::from(e)))?;
                note_user(&ctx, &user);
                Ok::<_, warp::Rejection>(Authed { user, session_id })
            },
        )
        .boxed()
}

/// Where a request came from: its address, user agent and device cookie.
pub fn origin(state: &AppState) -> BoxedFilter<(Origin,)> {
    let device = names(state).device;
    warp::header::optional::<String>("user-agent")
        .and(warp::cookie::optional::<String>(device))
        .and(warp::ext::get::<RequestContext>())
        .map(|user_agent, device, ctx: RequestContext| Origin {
            ip: ctx.client_ip,
            user_agent,
            device,
        })
        .boxed()
}

/// The access log names the user of each request it can.
pub fn note_user(ctx: &RequestContext, user: &User) {
    let _ = ctx.user.set(LoggedUser {
        id: user.id,
        email: user.email_str().unwrap_or_default().to_owned(),
    });
}

/// The page session, resolved on the first call in a request and shared by every later one.
pub fn page_session(state: &AppState) -> BoxedFilter<(PageSession,)> {
    let names = names(state);
    warp::cookie::optional::<String>(names.access)
        .and(warp::cookie::optional::<String>(names.refresh))
        .and(warp::cookie::optional::<String>(names.csrf))
        .and(warp::header::optional::<String>("accept-language"))
        .and(with_state(state))
        .and(warp::ext::get::<RequestContext>())
        .then(
            |access: Option<String>,
             refresh: Option<String>,
             csrf: Option<String>,
             accept_language: Option<String>,
             state: AppState,
             ctx: RequestContext| async move {
                let cookies = SessionCookies {
                    access,
                    refresh,
                    csrf,
                };
                ctx.session
                    .get_or_init(|| resolve(&state, &ctx, cookies, accept_language))
                    .await
                    .clone()
            },
        )
        .boxed()
}

struct SessionCookies {
    access: Option<String>,
    refresh: Option<String>,
    csrf: Option<String>,
}

async fn resolve(
    state: &AppState,
    ctx: &RequestContext,
    cookies: SessionCookies,
    accept_language: Option<String>,
) -> PageSession {
    let accounts = state.accounts();
    let resumed = accounts
        .resume(cookies.access.as_deref(), cookies.refresh.as_deref())
        .await;
    let mut refresh_token = cookies.refresh.clone();
    if let Some(tokens) = &resumed.renewed {
        ctx.set_cookies(session_cookies(state, tokens));
        refresh_token = Some(tokens.refresh_token.clone());
    }
    if resumed.refresh_dead {
        ctx.set_cookies(clear_session_cookies(state));
    }
    let signed_in = resumed.signed_in;
    let fresh_csrf = cookies.csrf.as_ref().is_none_or(|c| c.len() != 32);
    let csrf_cookie = match cookies.csrf.filter(|c| c.len() == 32) {
        Some(value) => value,
        None => {
            let value = random_token(32);
            ctx.set_cookies(vec![cookie(state, names(state).csrf, &value, None)]);
            value
        }
    };
    if let Some((user, _)) = &signed_in {
        note_user(ctx, user);
    }
    let locale = signed_in
        .as_ref()
        .map(|(u, _)| u.locale)
        .unwrap_or_else(|| Locale::negotiate(accept_language.as_deref()));
    let session_id = signed_in.as_ref().map(|(_, s)| s.clone());
    PageSession {
        csrf_token: accounts
            .keys()
            .csrf_token(&csrf_cookie, session_id.as_deref().unwrap_or("")),
        fresh_csrf,
        locale,
        session_id,
        user: signed_in.map(|(u, _)| u),
        refresh_token,
    }
}

/// The two session cookies for a fresh pair of tokens.
pub fn session_cookies(state: &AppState, tokens: &Tokens) -> Vec<String> {
    let max_age = Some(state.accounts().refresh_ttl());
    let names = names(state);
    vec![
        cookie(state, names.access, &tokens.access_token, max_age),
        cookie(state, names.refresh, &tokens.refresh_token, max_age),
    ]
}

pub fn clear_session_cookies(state: &AppState) -> Vec<String> {
    let names = names(state);
    vec![
        cookie(state, names.access, "", Some(0)),
        cookie(state, names.refresh, "", Some(0)),
    ]
}

/// The device cookie a browser gets when it signs in (see `Accounts::device_token`).
pub fn device_cookie(state: &AppState, user: &User) -> String {
    let token = state.accounts().device_token(user);
    let max_age = crate::accounts::DEVICE_TTL_SECS;
    cookie(state, names(state).device, &token, Some(max_age))
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
