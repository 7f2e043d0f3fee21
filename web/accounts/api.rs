//! The account API under `/api/v1`: register, sign in, refresh, sign out, e-mail verification,
//! password reset, the caller's profile, and user administration.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use warp::Filter;
use warp::http::{Method, StatusCode};
use warp::reply::{Reply, Response};

use crate::accounts::sessions::{Origin, Tokens};
use crate::accounts::users::{Role, Status, User};
use crate::accounts::{ProfileUpdate, Registration, Verified};
use crate::state::AppState;
use crate::web::context::RequestContext;
use crate::web::error::{ApiError, ErrorBody, ErrorCode};
use crate::web::route::{Params, Table, ctx, json, params, respond, with_state};
use crate::web::session::{Authed, bearer, note_user, origin};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(example = "ada@example.com", format = "email", max_length = 254)]
    pub email: String,
    /// 8 to 1024 characters.
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
    /// Shown to others; at most 100 characters.
    #[schema(max_length = 100)]
    pub display_name: Option<String>,
    /// `en` or `ko` (a region such as `ko-KR` is accepted and dropped).
    #[schema(pattern = "^(en|ko)([-_][A-Za-z0-9]+)*$")]
    pub locale: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The token from the e-mailed link.
    pub token: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotRequest {
    #[schema(format = "email", max_length = 254)]
    pub email: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub token: String,
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminPatch {
    pub role: Option<Role>,
    #[schema(value_type = Option<UserStatus>)]
    pub status: Option<Status>,
}

/// An account's standing.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "lowercase")]
pub enum UserStatus {
    Active,
    Blocked,
    Deleted,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// From 1.
    #[param(minimum = 1)]
    pub page: Option<u32>,
    /// 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct LinkedProvider {
    pub provider: String,
    pub email: Option<String>,
    pub linked_at: i64,
}

#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub email: Option<String>,
    pub email_verified: bool,
    pub display_name: Option<String>,
    pub nickname: Option<String>,
    pub avatar_url: Option<String>,
    /// `en` or `ko`.
    pub locale: String,
    pub role: Role,
    #[schema(value_type = UserStatus)]
    pub status: Status,
    pub has_password: bool,
    pub created_at: i64,
    pub last_seen_at: Option<i64>,
    /// Only in `/users/me`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub providers: Option<Vec<LinkedProvider>>,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id,
            email: u.email_str().map(str::to_owned),
            email_verified: u.email_verified(),
            display_name: u.display_name.clone(),
            nickname: u.nickname.clone(),
            avatar_url: u.avatar_url.clone(),
            locale: u.locale.code().to_owned(),
            role: u.role,
            status: u.status,
            has_password: u.password_hash.is_some(),
            created_at: u.created_at,
            last_seen_at: u.last_seen_at,
            providers: None,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<UserView>,
    pub page: u32,
    pub per_page: u32,
    pub total: u64,
}

#[derive(Serialize, ToSchema)]
pub struct Accepted {
    /// `accepted`, `verified`, `already_verified` or `reset`.
    #[schema(example = "accepted")]
    pub status: &'static str,
    /// After a reset that proved the address for the first time: providers unlinked because
    /// they were linked before the address was proven (nobody could know who linked them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unlinked_providers: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ProviderList {
    /// Providers this server offers, e.g. `["discord", "google"]`.
    pub providers: Vec<String>,
}

pub fn routes(state: &AppState, table: &mut Table) {
    let s = || with_state(state);
    let authed = || bearer(state);
    table.add(
        Method::POST,
        "/api/v1/auth/register",
        s().and(json())
            .and(origin(state))
            .and(ctx())
            .then(register)
            .map(respond)
            .boxed(),
    );
    table.add(
        Method::POST,
        "/api/v1/auth/login",
        s().and(json())
            .and(origin(state))
            .and(ctx())
            .then(login)
            .map(respond)
            .boxed(),
    );
    table.add(
        Method::POST,
        "/api/v1/auth/refresh",
        s().and(json()).then(refresh).map(respond).boxed(),
    );
    table.add(
        Method::POST,
        "/api/v1/auth/logout",
        s().and(authed()).then(logout).map(respond).boxed(),
    );
    table.add(
        Method::POST,
        "/api/v1/auth/logout-all",
        s().and(authed()).then(logout_all).map(respond).boxed(),
    );
    table.add(
        Method::POST,
        "/api/v1/auth/verify/request",
        s().and(authed())
            .and(origin(state))
            .then(verify_request)
            .map(respond)
            .boxed(),
    );
    table.add(
        Method::POST,
        "/api/v1/auth/verify",
        s().and(authed())
            .and(json())
            .then(verify)
            .map(respond)
            .boxed(),
    );
    table.add(
        Method::POST,
        "/api/v1/auth/forgot",
        s().and(json())
            .and(origin(state))
            .then(forgot)
            .map(respond)
            .boxed(),
    );
    table.add(
        Method::POST,
        "/api/v1/auth/reset",
        s().and(json())
            .and(origin(state))
            .then(reset)
            .map(respond)
            .boxed(),
    );
    table.add(
        Method::GET,
        "/api/v1/auth/providers",
        s().map(providers).boxed(),
    );
    table.add(
        Method::GET,
        "/api/v1/users/me",
        s().and(authed()).then(me).map(respond).boxed(),
    );
    table.add(
        Method::PATCH,
        "/api/v1/users/me",
        s().and(authed())
            .and(json())
            .then(update_me)
            .map(respond)
            .boxed(),
    );
    table.add(
        Method::GET,
        "/api/v1/users",
        s().and(authed())
            .and(warp::query::<PageQuery>())
            .then(list_users)
            .map(respond)
            .boxed(),
    );
    table.add(
        Method::PATCH,
        "/api/v1/users/{id}",
        params()
            .and(s())
            .and(authed())
            .and(json())
            .then(administer)
            .map(respond)
            .boxed(),
    );
}

fn created(tokens: &Tokens) -> Response {
    warp::reply::with_status(warp::reply::json(tokens), StatusCode::CREATED).into_response()
}

fn no_content() -> Response {
    warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response()
}

fn accepted(status: &'static str, code: StatusCode) -> Response {
    let body = Accepted {
        status,
        unlinked_providers: Vec::new(),
    };
    warp::reply::with_status(warp::reply::json(&body), code).into_response()
}

/// Create an account with e-mail and password; answers the first tokens.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, description = "Registered and signed in", body = Tokens),
        (status = 400, description = "4000003 e-mail taken; 4000019 invalid e-mail; 4000020 invalid password; 4000021 invalid field; 4000015 missing field; 4000017 malformed JSON or unknown field", body = ErrorBody),
        (status = 429, description = "4290001 too many registrations from this address", body = ErrorBody),
        (status = 503, description = "5030004 busy: retry after the Retry-After seconds", body = ErrorBody)))]
async fn register(
    state: AppState,
    body: RegisterRequest,
    origin: Origin,
    ctx: RequestContext,
) -> Result<Response, ApiError> {
    let form = Registration {
        email: body.email,
        password: body.password,
        display_name: body.display_name,
        locale: body.locale,
    };
    let (user, tokens) = state.accounts().register(form, &origin).await?;
    note_user(&ctx, &user);
    Ok(created(&tokens))
}

/// Sign in with e-mail and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, description = "Signed in", body = Tokens),
        (status = 400, description = "4000004 wrong e-mail or password (one answer for both); 4000019 not an e-mail address; 4000015 missing field; 4000017 malformed JSON", body = ErrorBody),
        (status = 403, description = "4030003 account blocked", body = ErrorBody),
        (status = 429, description = "4290001 too many attempts from this address; 4290002 too many failed sign-ins for this account from here", body = ErrorBody),
        (status = 503, description = "5030004 busy: retry after the Retry-After seconds", body = ErrorBody)))]
async fn login(
    state: AppState,
    body: LoginRequest,
    origin: Origin,
    ctx: RequestContext,
) -> Result<Response, ApiError> {
    let (user, tokens) = state
        .accounts()
        .login(&body.email, &body.password, &origin)
        .await?;
    note_user(&ctx, &user);
    Ok(warp::reply::json(&tokens).into_response())
}

/// Trade a refresh token for a new pair. Each refresh token works once; presenting a used one
/// again ends its session, except within a few seconds of its first use (two tabs, a retry),
/// when it yields the same new pair again.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, description = "New tokens", body = Tokens),
        (status = 400, description = "4000001 unknown, used, expired or revoked refresh token; 4000015 missing field; 4000017 malformed JSON", body = ErrorBody)))]
async fn refresh(state: AppState, body: RefreshRequest) -> Result<Response, ApiError> {
    let tokens = state.accounts().refresh(&body.refresh_token).await?;
    Ok(warp::reply::json(&tokens).into_response())
}

/// End this session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Signed out"),
        (status = 401, description = "4010001 not signed in", body = ErrorBody)))]
async fn logout(state: AppState, authed: Authed) -> Result<Response, ApiError> {
    state.accounts().logout(&authed.session_id).await?;
    Ok(no_content())
}

/// End every session of this account, on every device.
#[utoipa::path(post, path = "/api/v1/auth/logout-all", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Signed out everywhere"),
        (status = 401, description = "4010001 not signed in", body = ErrorBody)))]
async fn logout_all(state: AppState, authed: Authed) -> Result<Response, ApiError> {
    state.accounts().logout_everywhere(authed.user.id).await?;
    Ok(no_content())
}

/// E-mail a verification link to the caller's address.
#[utoipa::path(post, path = "/api/v1/auth/verify/request", tag = "auth", security(("bearer" = [])),
    responses((status = 202, description = "Sent (or already verified)", body = Accepted),
        (status = 401, description = "4010001 not signed in", body = ErrorBody),
        (status = 429, description = "4290001 too many e-mails", body = ErrorBody),
        (status = 503, description = "5030003 e-mail is not configured", body = ErrorBody)))]
async fn verify_request(
    state: AppState,
    authed: Authed,
    origin: Origin,
) -> Result<Response, ApiError> {
    state
        .accounts()
        .request_verification(&authed.user, &origin)
        .await?;
    Ok(accepted("accepted", StatusCode::ACCEPTED))
}

/// Verify an e-mail address with the token from the link, signed in as the account it was
/// sent for (nobody can have an address's owner verify it for an account they do not own).
#[utoipa::path(post, path = "/api/v1/auth/verify", tag = "auth", request_body = TokenRequest, security(("bearer" = [])),
    responses((status = 200, description = "`verified`, or `already_verified` when the link was used before", body = Accepted),
        (status = 400, description = "4000001 invalid or used token; 4000002 expired; 4000015 missing field; 4000017 malformed JSON", body = ErrorBody),
        (status = 401, description = "4010001 not signed in", body = ErrorBody),
        (status = 403, description = "4030005 the token belongs to another account", body = ErrorBody)))]
async fn verify(state: AppState, authed: Authed, body: TokenRequest) -> Result<Response, ApiError> {
    let status = match state
        .accounts()
        .verify_email(&body.token, authed.user.id)
        .await?
    {
        Verified::Now => "verified",
        Verified::Already => "already_verified",
    };
    Ok(accepted(status, StatusCode::OK))
}

/// E-mail a password-reset link. The answer is the same whether or not the account exists.
#[utoipa::path(post, path = "/api/v1/auth/forgot", tag = "auth", request_body = ForgotRequest,
    responses((status = 202, description = "Accepted", body = Accepted),
        (status = 400, description = "4000019 not an e-mail address; 4000015 missing field; 4000017 malformed JSON", body = ErrorBody),
        (status = 429, description = "4290001 too many e-mails", body = ErrorBody),
        (status = 503, description = "5030003 e-mail is not configured", body = ErrorBody)))]
async fn forgot(
    state: AppState,
    body: ForgotRequest,
    origin: Origin,
) -> Result<Response, ApiError> {
    state
        .accounts()
        .forgot_password(&body.email, &origin)
        .await?;
    Ok(accepted("accepted", StatusCode::ACCEPTED))
}

/// Set a new password with the token from the link; every session of the account ends.
#[utoipa::path(post, path = "/api/v1/auth/reset", tag = "auth", request_body = ResetRequest,
    responses((status = 200, description = "Password changed", body = Accepted),
        (status = 400, description = "4000001 invalid or used token; 4000002 expired; 4000020 invalid password; 4000015 missing field; 4000017 malformed JSON", body = ErrorBody),
        (status = 429, description = "4290001 too many resets from this address", body = ErrorBody),
        (status = 503, description = "5030004 busy: retry after the Retry-After seconds", body = ErrorBody)))]
async fn reset(state: AppState, body: ResetRequest, origin: Origin) -> Result<Response, ApiError> {
    let done = state
        .accounts()
        .reset_password(&body.token, &body.password, &origin)
        .await?;
    let body = Accepted {
        status: "reset",
        unlinked_providers: done
            .unlinked
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect(),
    };
    Ok(warp::reply::json(&body).into_response())
}

/// The social sign-in providers this server offers.
#[utoipa::path(get, path = "/api/v1/auth/providers", tag = "auth",
    responses((status = 200, description = "Configured providers", body = ProviderList)))]
fn providers(state: AppState) -> Response {
    let providers = state
        .accounts()
        .providers()
        .configured()
        .into_iter()
        .map(|p| p.as_str().to_owned())
        .collect();
    warp::reply::json(&ProviderList { providers }).into_response()
}

/// The signed-in user, with linked providers.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = UserView),
        (status = 401, description = "4010001 not signed in", body = ErrorBody)))]
async fn me(state: AppState, authed: Authed) -> Result<Response, ApiError> {
    Ok(warp::reply::json(&with_providers(&state, &authed.user).await?).into_response())
}

/// Change the caller's own profile.
#[utoipa::path(patch, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])), request_body = ProfileUpdate,
    responses((status = 200, description = "Updated", body = UserView),
        (status = 400, description = "4000021 invalid field; 4000017 malformed JSON or unknown field (e.g. role)", body = ErrorBody),
        (status = 401, description = "4010001 not signed in", body = ErrorBody)))]
async fn update_me(
    state: AppState,
    authed: Authed,
    change: ProfileUpdate,
) -> Result<Response, ApiError> {
    let user = state
        .accounts()
        .update_profile(authed.user.id, change)
        .await?;
    Ok(warp::reply::json(&with_providers(&state, &user).await?).into_response())
}

/// Every user, a page at a time (administrators).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, description = "A page of users", body = UserPage),
        (status = 400, description = "4000000 page or per_page is not a number; 4000021 out of range", body = ErrorBody),
        (status = 401, description = "4010001 not signed in", body = ErrorBody),
        (status = 403, description = "4030001 administrators only", body = ErrorBody)))]
async fn list_users(
    state: AppState,
    authed: Authed,
    query: PageQuery,
) -> Result<Response, ApiError> {
    let page = query.page.unwrap_or(1);
    let per_page = query.per_page.unwrap_or(20);
    if page == 0 || !(1..=100).contains(&per_page) {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            "page starts at 1; per_page is 1 to 100",
        ));
    }
    let (users, total) = state
        .accounts()
        .list_users(&authed.user, page, per_page)
        .await?;
    let items = users.iter().map(UserView::from).collect();
    Ok(warp::reply::json(&UserPage {
        items,
        page,
        per_page,
        total,
    })
    .into_response())
}

/// Change a user's role or status (administrators; not their own).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id")), request_body = AdminPatch,
    responses((status = 200, description = "Updated", body = UserView),
        (status = 400, description = "4000017 malformed JSON or unknown role or status", body = ErrorBody),
        (status = 401, description = "4010001 not signed in", body = ErrorBody),
        (status = 403, description = "4030001 administrators only, and not on themselves", body = ErrorBody),
        (status = 404, description = "4040001 no such user; 4040000 the id is not a number", body = ErrorBody)))]
async fn administer(
    params: Params,
    state: AppState,
    authed: Authed,
    body: AdminPatch,
) -> Result<Response, ApiError> {
    let id = params.id(0)?;
    let user = state
        .accounts()
        .administer(&authed.user, id, body.role, body.status)
        .await?;
    // A blocked owner's keys stop working at once here (within the cache bound elsewhere).
    state.keys().calls().forget_user(id);
    Ok(warp::reply::json(&UserView::from(&user)).into_response())
}

async fn with_providers(state: &AppState, user: &User) -> Result<UserView, ApiError> {
    let linked = state.accounts().linked_accounts(user.id).await?;
    let mut view = UserView::from(user);
    view.providers = Some(
        linked
            .into_iter()
            .map(|l| LinkedProvider {
                provider: l.provider.as_str().to_owned(),
                email: l.provider_email,
                linked_at: l.linked_at,
            })
            .collect(),
    );
    Ok(view)
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        register, login, refresh, logout, logout_all, verify_request, verify, forgot, reset,
        providers, me, update_me, list_users, administer,
    ),
    components(schemas(UserStatus)),
    tags(
        (name = "auth", description = "Sign-up, sign-in, tokens, e-mail verification, password reset, social sign-in"),
        (name = "users", description = "Profiles and administration"),
    )
)]
pub struct Doc;
