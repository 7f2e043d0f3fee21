//! Social sign-in in the browser: `/auth/{provider}/login` (and `/link` from the account page)
//! redirects to the provider with `state` and PKCE; both are bound to this browser by a signed,
//! short-lived, HttpOnly cookie that `/auth/{provider}/callback` checks before anything else.
//! `GET /api/v1/auth/{provider}/authorize` gives the same URL as JSON.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::http::header::{HeaderValue, LOCATION};
use warp::reply::{Reply, Response};

use super::error::{ApiError, ErrorBody, ErrorCode};
use super::pages_account::{Form, error_page};
use super::session::{PageSession, append_cookies, page_session, scoped_cookie, session_cookies};
use super::{RequestContext, with_state};
use crate::accounts::AccountsError;
use crate::accounts::oauth::{OAuthError, Provider};
use crate::accounts::sessions::Origin;
use crate::crypto::ct_eq;
use crate::db::now_unix;
use crate::state::AppState;

const OAUTH_COOKIE: &str = "herald_oauth";
const OAUTH_COOKIE_PATH: &str = "/auth";
const OAUTH_TTL_SECS: i64 = 600;

/// What the browser carries between the redirect and the callback, sealed (encrypted and
/// authenticated) so that not even the browser can read the PKCE verifier or alter anything.
#[derive(Serialize, Deserialize)]
struct Pending {
    provider: String,
    state: String,
    verifier: String,
    next: String,
    /// Set when a signed-in user links a provider.
    link_user: Option<i64>,
    expires: i64,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NextQuery {
    /// Where to go after signing in: a path on this site only.
    pub next: Option<String>,
}

#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AuthorizationUrl {
    /// Send the browser here; the callback completes the sign-in with cookies.
    pub authorization_url: String,
}

pub fn routes(state: &AppState) -> BoxedFilter<(Response,)> {
    let login = warp::path!("auth" / String / "login")
        .and(warp::get())
        .and(with_state(state))
        .and(warp::query::<NextQuery>())
        .and(page_session(state))
        .map(
            |p: String, s: AppState, q: NextQuery, session: PageSession| {
                let begun = provider(&p).and_then(|p| begin(&s, p, q.next.as_deref(), None));
                match begun {
                    Ok((url, cookie)) => redirect_with_cookie(&url, &cookie),
                    Err(err) => error_page(&s, &session, err),
                }
            },
        );
    let link = warp::path!("auth" / String / "link")
        .and(warp::post())
        .and(with_state(state))
        .and(page_session(state))
        .and(warp::body::form())
        .map(|p: String, s: AppState, session: PageSession, form: Form| {
            let begun = session
                .check_csrf(form.get("csrf"))
                .and_then(|()| {
                    session.user.as_ref().ok_or_else(|| {
                        ApiError::new(ErrorCode::NotAuthorized, "sign in to link a provider")
                    })
                })
                .and_then(|user| {
                    provider(&p).and_then(|p| begin(&s, p, Some("/account"), Some(user.id)))
                });
            match begun {
                Ok((url, cookie)) => redirect_with_cookie(&url, &cookie),
                Err(err) => error_page(&s, &session, err),
            }
        });
    let callback = warp::path!("auth" / String / "callback")
        .and(warp::get())
        .and(with_state(state))
        .and(warp::query::<Callback>())
        .and(warp::cookie::optional::<String>(OAUTH_COOKIE))
        .and(page_session(state))
        .and(super::session::origin())
        .and(warp::ext::get::<RequestContext>())
        .then(callback);
    let authorize = warp::path!("api" / "v1" / "auth" / String / "authorize")
        .and(warp::get())
        .and(with_state(state))
        .and(warp::query::<NextQuery>())
        .map(authorize_json);
    login
        .or(link)
        .unify()
        .or(callback)
        .unify()
        .or(authorize)
        .unify()
        .boxed()
}

fn provider(raw: &str) -> Result<Provider, ApiError> {
    Provider::parse(raw)
        .ok_or_else(|| ApiError::new(ErrorCode::ProviderUnavailable, "unknown provider"))
}

/// The provider's URL and the cookie that binds this attempt to the browser.
fn begin(
    state: &AppState,
    provider: Provider,
    next: Option<&str>,
    link_user: Option<i64>,
) -> Result<(String, String), ApiError> {
    let accounts = state.accounts();
    let pending = accounts
        .providers()
        .authorize(provider)
        .map_err(|e| ApiError::from(AccountsError::from(e)))?;
    let carried = Pending {
        provider: provider.as_str().to_owned(),
        state: pending.state,
        verifier: pending.pkce_verifier,
        next: safe_next(next),
        link_user,
        expires: now_unix() + OAUTH_TTL_SECS,
    };
    let payload = serde_json::to_string(&carried).expect("plain data serializes");
    let sealed = accounts.keys().encrypt(&payload);
    let cookie = scoped_cookie(
        state,
        OAUTH_COOKIE,
        &sealed,
        OAUTH_COOKIE_PATH,
        Some(OAUTH_TTL_SECS),
    );
    Ok((pending.url.to_string(), cookie))
}

/// Start a social sign-in from a non-browser client: the URL to open, and (as a cookie) the
/// binding the callback checks.
#[utoipa::path(get, path = "/api/v1/auth/{provider}/authorize", tag = "auth",
    params(("provider" = String, Path, description = "discord, google or kakao"), NextQuery),
    responses((status = 200, description = "Where to send the browser", body = AuthorizationUrl),
        (status = 404, description = "4040006 provider not available", body = ErrorBody)))]
fn authorize_json(raw: String, state: AppState, query: NextQuery) -> Response {
    match provider(&raw).and_then(|p| begin(&state, p, query.next.as_deref(), None)) {
        Ok((url, cookie)) => {
            let mut response = warp::reply::json(&AuthorizationUrl {
                authorization_url: url,
            })
            .into_response();
            append_cookies(&mut response, &[cookie]);
            response
        }
        Err(err) => err.into_response(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn callback(
    raw: String,
    state: AppState,
    query: Callback,
    cookie: Option<String>,
    session: PageSession,
    origin: Origin,
    ctx: RequestContext,
) -> Response {
    let result = complete(&state, &raw, query, cookie, &session, &origin).await;
    // The attempt is over whatever happened: the binding cookie goes.
    let clear = scoped_cookie(&state, OAUTH_COOKIE, "", OAUTH_COOKIE_PATH, Some(0));
    let mut response = match result {
        Ok((next, cookies, user)) => {
            super::session::note_user(&ctx, &user);
            let mut response = see_other(&next);
            append_cookies(&mut response, &cookies);
            response
        }
        Err(err) => error_page(&state, &session, err),
    };
    append_cookies(&mut response, &[clear]);
    response
}

async fn complete(
    state: &AppState,
    raw: &str,
    query: Callback,
    cookie: Option<String>,
    session: &PageSession,
    origin: &Origin,
) -> Result<(String, Vec<String>, crate::accounts::users::User), ApiError> {
    let accounts = state.accounts();
    let provider = provider(raw)?;
    let invalid = || ApiError::from(AccountsError::OAuth(OAuthError::StateInvalid));
    let pending: Pending = cookie
        .and_then(|c| accounts.keys().decrypt(&c))
        .and_then(|payload| serde_json::from_str(&payload).ok())
        .filter(|p: &Pending| p.expires > now_unix() && p.provider == provider.as_str())
        .ok_or_else(invalid)?;
    let state_matches = query
        .state
        .as_deref()
        .is_some_and(|s| ct_eq(s.as_bytes(), pending.state.as_bytes()));
    if !state_matches {
        return Err(invalid());
    }
    if let Some(error) = query.error {
        return Err(AccountsError::OAuth(OAuthError::Denied(error)).into());
    }
    // A link started by one user must finish in that user's session.
    if pending.link_user.is_some() && pending.link_user != session.user.as_ref().map(|u| u.id) {
        return Err(invalid());
    }
    let code = query.code.ok_or_else(invalid)?;
    let providers = accounts.providers();
    let tokens = providers
        .exchange(provider, &code, &pending.verifier)
        .await
        .map_err(AccountsError::from)?;
    let profile = providers
        .profile(provider, &tokens.access_token)
        .await
        .map_err(AccountsError::from)?;
    let signed_in = accounts
        .social_sign_in(provider, &profile, &tokens, pending.link_user, origin)
        .await?;
    tracing::info!(
        user_id = signed_in.user.id,
        provider = provider.as_str(),
        created = signed_in.created,
        "social sign-in"
    );
    let cookies = session_cookies(state, &signed_in.tokens);
    Ok((pending.next, cookies, signed_in.user))
}

/// A same-site relative path, or `/account`: `next` must not lead off the site.
pub fn safe_next(next: Option<&str>) -> String {
    const FALLBACK: &str = "/account";
    let Some(next) = next else {
        return FALLBACK.to_owned();
    };
    let plain = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control() || c.is_whitespace());
    // Resolve against a placeholder origin: anything that changes the origin is refused.
    let stays = url::Url::parse("https://herald.invalid")
        .and_then(|base| base.join(next))
        .is_ok_and(|u| u.host_str() == Some("herald.invalid"));
    if plain && stays {
        next.to_owned()
    } else {
        FALLBACK.to_owned()
    }
}

pub fn see_other(location: &str) -> Response {
    let mut response = Response::default();
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

fn redirect_with_cookie(location: &str, cookie: &str) -> Response {
    let mut response = see_other(location);
    append_cookies(&mut response, &[cookie.to_owned()]);
    response
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_the_site() {
        assert_eq!(safe_next(Some("/dashboard?x=1")), "/dashboard?x=1");
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/%0d%0aLocation: x",
            "javascript:alert(1)",
            "evil.example",
            "/ok\nLocation: x",
            "///evil.example",
        ] {
            let got = safe_next(Some(bad));
            assert!(
                got == "/account" || got == bad && got.starts_with("/%0d"),
                "{bad:?} -> {got}"
            );
        }
        assert_eq!(safe_next(None), "/account");
    }
}
