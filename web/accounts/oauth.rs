//! Social sign-in in the browser: `/auth/{provider}/login` (and `/link` from the account page)
//! redirects to the provider; `state` and PKCE are bound to this browser by a sealed,
//! short-lived, HttpOnly cookie that `/auth/{provider}/callback` hands back to the domain,
//! which checks it before anything else. `GET /api/v1/auth/{provider}/authorize` gives the same
//! URL as JSON.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use warp::Filter;
use warp::http::Method;
use warp::reply::{Reply, Response};

use crate::accounts::AccountsError;
use crate::accounts::oauth::{OAuthError, Provider};
use crate::accounts::sessions::Origin;
use crate::accounts::social::{Callback, PENDING_TTL_SECS, Started};
use crate::state::AppState;
use crate::web::context::PageSession;
use crate::web::context::RequestContext;
use crate::web::error::{ApiError, ErrorBody, ErrorCode};
use crate::web::reply::{Form, error_page, see_other, with_cookies};
use crate::web::route::{Params, Table, ctx, params, query, with_state};
use crate::web::session::{
    OAUTH_COOKIE_PATH, device_cookie, names, note_user, origin, page_session, scoped_cookie,
    session_cookies,
};

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct NextQuery {
    /// Where to go after signing in: a path on this site only.
    pub next: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AuthorizationUrl {
    /// Send the browser here; the callback completes the sign-in with cookies.
    pub authorization_url: String,
}

pub fn routes(state: &AppState, table: &mut Table) {
    let s = || with_state(state);
    table.add(
        Method::GET,
        "/auth/{provider}/login",
        params()
            .and(s())
            .and(query::<NextQuery>())
            .and(page_session(state))
            .then(login)
            .boxed(),
    );
    table.add(
        Method::POST,
        "/auth/{provider}/link",
        params()
            .and(s())
            .and(page_session(state))
            .and(warp::body::form::<Form>())
            .then(link)
            .boxed(),
    );
    table.add(
        Method::GET,
        "/auth/{provider}/callback",
        params()
            .and(s())
            .and(query::<Callback>())
            .and(warp::cookie::optional::<String>(names(state).oauth))
            .and(page_session(state))
            .and(origin(state))
            .and(ctx())
            .then(callback)
            .boxed(),
    );
    table.add(
        Method::GET,
        "/api/v1/auth/{provider}/authorize",
        params()
            .and(s())
            .and(query::<NextQuery>())
            .then(authorize_json)
            .boxed(),
    );
}

fn provider(raw: &str) -> Result<Provider, ApiError> {
    Provider::parse(raw)
        .ok_or_else(|| ApiError::new(ErrorCode::ProviderUnavailable, "unknown provider"))
}

/// The cookie that binds a started sign-in to this browser.
fn binding_cookie(state: &AppState, started: &Started) -> String {
    scoped_cookie(
        state,
        names(state).oauth,
        &started.sealed,
        OAUTH_COOKIE_PATH,
        Some(PENDING_TTL_SECS),
    )
}

async fn login(
    params: Params,
    state: AppState,
    query: NextQuery,
    session: PageSession,
) -> Response {
    let started = match provider(params.get(0)) {
        Ok(p) => state
            .accounts()
            .begin_social(p, query.next.as_deref(), None)
            .await
            .map_err(ApiError::from),
        Err(err) => Err(err),
    };
    match started {
        Ok(started) => {
            let cookie = binding_cookie(&state, &started);
            with_cookies(see_other(started.url.as_str()), &[cookie])
        }
        Err(err) => error_page(&state, &session, err),
    }
}

async fn link(params: Params, state: AppState, session: PageSession, form: Form) -> Response {
    let started = async {
        session.check_csrf(form.csrf())?;
        let user = session.signed_in()?;
        let provider = provider(params.get(0))?;
        Ok::<_, ApiError>(
            state
                .accounts()
                .begin_social(provider, Some("/account"), Some(user))
                .await?,
        )
    };
    match started.await {
        Ok(started) => {
            let cookie = binding_cookie(&state, &started);
            with_cookies(see_other(started.url.as_str()), &[cookie])
        }
        Err(err) => error_page(&state, &session, err),
    }
}

/// Start a social sign-in from a non-browser client: the URL to open, and (as a cookie) the
/// binding the callback checks.
#[utoipa::path(get, path = "/api/v1/auth/{provider}/authorize", tag = "auth",
    params(("provider" = String, Path, description = "discord, google or kakao"), NextQuery),
    responses((status = 200, description = "Where to send the browser", body = AuthorizationUrl),
        (status = 404, description = "4040006 provider not available", body = ErrorBody)))]
async fn authorize_json(params: Params, state: AppState, query: NextQuery) -> Response {
    let started = match provider(params.get(0)) {
        Ok(p) => state
            .accounts()
            .begin_social(p, query.next.as_deref(), None)
            .await
            .map_err(ApiError::from),
        Err(err) => Err(err),
    };
    match started {
        Ok(started) => {
            let cookie = binding_cookie(&state, &started);
            let body = AuthorizationUrl {
                authorization_url: started.url.to_string(),
            };
            with_cookies(warp::reply::json(&body).into_response(), &[cookie])
        }
        Err(err) => err.into_response(),
    }
}

async fn callback(
    params: Params,
    state: AppState,
    callback: Callback,
    sealed: Option<String>,
    session: PageSession,
    origin: Origin,
    ctx: RequestContext,
) -> Response {
    let signed_in = session.user.as_ref().map(|u| u.id);
    let result = match provider(params.get(0)) {
        Ok(p) => state
            .accounts()
            .complete_social(p, sealed.as_deref(), callback, signed_in, &origin)
            .await
            .map_err(ApiError::from),
        Err(err) => Err(err),
    };
    // The attempt is over whatever happened: the binding cookie goes.
    let clear = scoped_cookie(&state, names(&state).oauth, "", OAUTH_COOKIE_PATH, Some(0));
    match result {
        Ok(done) => {
            note_user(&ctx, &done.user);
            let mut cookies = session_cookies(&state, &done.tokens);
            cookies.push(device_cookie(&state, &done.user));
            cookies.push(clear);
            with_cookies(see_other(&done.next), &cookies)
        }
        Err(err) => with_cookies(error_page(&state, &session, err), &[clear]),
    }
}

impl From<OAuthError> for ApiError {
    fn from(err: OAuthError) -> Self {
        AccountsError::OAuth(err).into()
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(authorize_json))]
pub struct Doc;
