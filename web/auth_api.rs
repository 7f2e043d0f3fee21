//! The account API under `/api/v1`: register, sign in, refresh, sign out, e-mail verification,
//! password reset, the caller's profile, and user administration.

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::error::ErrorBody;
use super::session::{Authed, bearer, origin};
use super::{ApiError, RequestContext, respond, with_state};
use crate::accounts::sessions::{Origin, Tokens};
use crate::accounts::users::{Role, Status, User};
use crate::accounts::{ProfileUpdate, Registration};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// 8 to 1024 characters.
    pub password: String,
    pub display_name: Option<String>,
    /// `en` or `ko`.
    pub locale: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
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
    pub email: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub token: String,
    pub password: String,
}

/// Fields to change; an absent field is left alone, `null` clears it. Role and status are not
/// the user's to change: they are refused as unknown fields.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub nickname: Option<Option<String>>,
    /// An https URL.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub avatar_url: Option<Option<String>>,
    pub locale: Option<String>,
}

/// A field that is present (possibly `null`) becomes `Some(..)`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminPatch {
    pub role: Option<Role>,
    pub status: Option<Status>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// From 1.
    pub page: Option<u32>,
    /// 1 to 100, default 20.
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
    pub locale: String,
    pub role: Role,
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
            email: u.email.clone(),
            email_verified: u.email_verified(),
            display_name: u.display_name.clone(),
            nickname: u.nickname.clone(),
            avatar_url: u.avatar_url.clone(),
            locale: u.locale.clone(),
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
    #[schema(example = "accepted")]
    pub status: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct ProviderList {
    /// Providers this server offers, e.g. `["discord", "google"]`.
    pub providers: Vec<String>,
}

pub fn routes(state: &AppState) -> BoxedFilter<(Response,)> {
    let api = warp::path("api").and(warp::path("v1"));
    let ctx = || warp::ext::get::<RequestContext>();

    let register = api
        .and(warp::path!("auth" / "register"))
        .and(warp::post())
        .and(with_state(state))
        .and(json())
        .and(ctx())
        .and(origin())
        .then(|s, b, c, o| async move { respond(register(s, b, c, o).await) });
    let login = api
        .and(warp::path!("auth" / "login"))
        .and(warp::post())
        .and(with_state(state))
        .and(json())
        .and(ctx())
        .and(origin())
        .then(|s, b, c, o| async move { respond(login(s, b, c, o).await) });
    let refresh = api
        .and(warp::path!("auth" / "refresh"))
        .and(warp::post())
        .and(with_state(state))
        .and(json())
        .then(|s, b| async move { respond(refresh(s, b).await) });
    let logout = api
        .and(warp::path!("auth" / "logout"))
        .and(warp::post())
        .and(with_state(state))
        .and(bearer(state))
        .then(|s, a| async move { respond(logout(s, a).await) });
    let logout_all = api
        .and(warp::path!("auth" / "logout-all"))
        .and(warp::post())
        .and(with_state(state))
        .and(bearer(state))
        .then(|s, a| async move { respond(logout_all(s, a).await) });
    let verify_request = api
        .and(warp::path!("auth" / "verify" / "request"))
        .and(warp::post())
        .and(with_state(state))
        .and(bearer(state))
        .and(ctx())
        .then(|s, a, c| async move { respond(verify_request(s, a, c).await) });
    let verify = api
        .and(warp::path!("auth" / "verify"))
        .and(warp::post())
        .and(with_state(state))
        .and(json())
        .then(|s, b| async move { respond(verify(s, b).await) });
    let forgot = api
        .and(warp::path!("auth" / "forgot"))
        .and(warp::post())
        .and(with_state(state))
        .and(json())
        .and(ctx())
        .then(|s, b, c| async move { respond(forgot(s, b, c).await) });
    let reset = api
        .and(warp::path!("auth" / "reset"))
        .and(warp::post())
        .and(with_state(state))
        .and(json())
        .then(|s, b| async move { respond(reset(s, b).await) });
    let providers = api
        .and(warp::path!("auth" / "providers"))
        .and(warp::get())
        .and(with_state(state))
        .map(|s: AppState| providers(s).into_response());
    let me = api
        .and(warp::path!("users" / "me"))
        .and(warp::get())
        .and(with_state(state))
        .and(bearer(state))
        .then(|s, a| async move { respond(me(s, a).await) });
    let update_me = api
        .and(warp::path!("users" / "me"))
        .and(warp::patch())
        .and(with_state(state))
        .and(bearer(state))
        .and(json())
        .then(|s, a, b| async move { respond(update_me(s, a, b).await) });
    let list = api
        .and(warp::path!("users"))
        .and(warp::get())
        .and(with_state(state))
        .and(bearer(state))
        .and(warp::query::<PageQuery>())
        .then(|s, a, q| async move { respond(list_users(s, a, q).await) });
    let administer = api
        .and(warp::path!("users" / i64))
        .and(warp::patch())
        .and(with_state(state))
        .and(bearer(state))
        .and(json())
        .then(|id, s, a, b| async move { respond(administer(id, s, a, b).await) });

    register
        .or(login)
        .unify()
        .or(refresh)
        .unify()
        .or(logout)
        .unify()
        .or(logout_all)
        .unify()
        .or(verify_request)
        .unify()
        .or(verify)
        .unify()
        .or(forgot)
        .unify()
        .or(reset)
        .unify()
        .or(providers)
        .unify()
        .or(me)
        .unify()
        .or(update_me)
        .unify()
        .or(list)
        .unify()
        .or(administer)
        .unify()
        .boxed()
}

/// A JSON body; malformed input is 4000017 (4000015 for a missing field).
fn json<T: serde::de::DeserializeOwned + Send>()
-> impl Filter<Extract = (T,), Error = warp::Rejection> + Copy {
    warp::body::json()
}

fn created(tokens: &Tokens) -> Response {
    warp::reply::with_status(warp::reply::json(tokens), StatusCode::CREATED).into_response()
}

fn no_content() -> Response {
    warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response()
}

fn accepted(status: &'static str, code: StatusCode) -> Response {
    warp::reply::with_status(warp::reply::json(&Accepted { status }), code).into_response()
}

/// Create an account with e-mail and password; answers the first tokens.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, description = "Registered and signed in", body = Tokens),
        (status = 400, description = "4000003 e-mail taken, 4000019 invalid e-mail, 4000020 invalid password", body = ErrorBody),
        (status = 429, description = "4290001 too many registrations from this address", body = ErrorBody)))]
async fn register(
    state: AppState,
    body: RegisterRequest,
    ctx: RequestContext,
    origin: Origin,
) -> Result<Response, ApiError> {
    let form = Registration {
        email: body.email,
        password: body.password,
        display_name: body.display_name,
        locale: body.locale,
    };
    let (user, tokens) = state
        .accounts()
        .register(form, ctx.client_ip, &origin)
        .await?;
    super::session::note_user(&ctx, &user);
    Ok(created(&tokens))
}

/// Sign in with e-mail and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, description = "Signed in", body = Tokens),
        (status = 400, description = "4000004 wrong e-mail or password (one answer for both)", body = ErrorBody),
        (status = 403, description = "4030003 account blocked", body = ErrorBody),
        (status = 429, description = "4290001 too many attempts from this address; 4290002 account temporarily locked", body = ErrorBody)))]
async fn login(
    state: AppState,
    body: LoginRequest,
    ctx: RequestContext,
    origin: Origin,
) -> Result<Response, ApiError> {
    let (user, tokens) = state
        .accounts()
        .login(&body.email, &body.password, ctx.client_ip, &origin)
        .await?;
    super::session::note_user(&ctx, &user);
    Ok(warp::reply::json(&tokens).into_response())
}

/// Trade a refresh token for a new pair. Each refresh token works once; presenting a used one
/// again ends its session.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, description = "New tokens", body = Tokens),
        (status = 400, description = "4000001 unknown, used, expired or revoked refresh token", body = ErrorBody)))]
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
        (status = 429, description = "4290001 too many e-mails", body = ErrorBody),
        (status = 503, description = "5030003 e-mail is not configured", body = ErrorBody)))]
async fn verify_request(
    state: AppState,
    authed: Authed,
    ctx: RequestContext,
) -> Result<Response, ApiError> {
    state
        .accounts()
        .request_verification(&authed.user, ctx.client_ip)
        .await?;
    Ok(accepted("accepted", StatusCode::ACCEPTED))
}

/// Verify an e-mail address with the token from the link.
#[utoipa::path(post, path = "/api/v1/auth/verify", tag = "auth", request_body = TokenRequest,
    responses((status = 200, description = "Verified", body = Accepted),
        (status = 400, description = "4000001 invalid or used token; 4000002 expired", body = ErrorBody)))]
async fn verify(state: AppState, body: TokenRequest) -> Result<Response, ApiError> {
    state.accounts().verify_email(&body.token).await?;
    Ok(accepted("verified", StatusCode::OK))
}

/// E-mail a password-reset link. The answer is the same whether or not the account exists.
#[utoipa::path(post, path = "/api/v1/auth/forgot", tag = "auth", request_body = ForgotRequest,
    responses((status = 202, description = "Accepted", body = Accepted),
        (status = 429, description = "4290001 too many e-mails", body = ErrorBody),
        (status = 503, description = "5030003 e-mail is not configured", body = ErrorBody)))]
async fn forgot(
    state: AppState,
    body: ForgotRequest,
    ctx: RequestContext,
) -> Result<Response, ApiError> {
    state
        .accounts()
        .forgot_password(&body.email, ctx.client_ip)
        .await?;
    Ok(accepted("accepted", StatusCode::ACCEPTED))
}

/// Set a new password with the token from the link; every session of the account ends.
#[utoipa::path(post, path = "/api/v1/auth/reset", tag = "auth", request_body = ResetRequest,
    responses((status = 200, description = "Password changed", body = Accepted),
        (status = 400, description = "4000001 invalid or used token; 4000002 expired; 4000020 invalid password", body = ErrorBody)))]
async fn reset(state: AppState, body: ResetRequest) -> Result<Response, ApiError> {
    state
        .accounts()
        .reset_password(&body.token, &body.password)
        .await?;
    Ok(accepted("reset", StatusCode::OK))
}

/// The social sign-in providers this server offers.
#[utoipa::path(get, path = "/api/v1/auth/providers", tag = "auth",
    responses((status = 200, description = "Configured providers", body = ProviderList)))]
fn providers(state: AppState) -> warp::reply::Json {
    let providers = state
        .accounts()
        .providers()
        .configured()
        .into_iter()
        .map(|p| p.as_str().to_owned())
        .collect();
    warp::reply::json(&ProviderList { providers })
}

/// The signed-in user, with linked providers.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = UserView),
        (status = 401, description = "4010001 not signed in", body = ErrorBody)))]
async fn me(state: AppState, authed: Authed) -> Result<Response, ApiError> {
    Ok(warp::reply::json(&with_providers(&state, &authed.user).await?).into_response())
}

/// Change the caller's own profile.
#[utoipa::path(patch, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])), request_body = ProfilePatch,
    responses((status = 200, description = "Updated", body = UserView),
        (status = 400, description = "4000021 invalid field; 4000017 unknown field (e.g. role)", body = ErrorBody),
        (status = 401, description = "4010001 not signed in", body = ErrorBody)))]
async fn update_me(
    state: AppState,
    authed: Authed,
    body: ProfilePatch,
) -> Result<Response, ApiError> {
    let change = ProfileUpdate {
        display_name: body.display_name,
        nickname: body.nickname,
        avatar_url: body.avatar_url,
        locale: body.locale,
    };
    let user = state
        .accounts()
        .update_profile(authed.user.id, change)
        .await?;
    Ok(warp::reply::json(&with_providers(&state, &user).await?).into_response())
}

/// Every user, a page at a time (administrators).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, description = "A page of users", body = UserPage),
        (status = 401, description = "4010001 not signed in", body = ErrorBody),
        (status = 403, description = "4030001 administrators only", body = ErrorBody)))]
async fn list_users(
    state: AppState,
    authed: Authed,
    query: PageQuery,
) -> Result<Response, ApiError> {
    let (page, per_page) = (
        query.page.unwrap_or(1).max(1),
        query.per_page.unwrap_or(20).clamp(1, 100),
    );
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
        (status = 403, description = "4030001 administrators only, and not on themselves", body = ErrorBody),
        (status = 404, description = "4040001 no such user", body = ErrorBody)))]
async fn administer(
    id: i64,
    state: AppState,
    authed: Authed,
    body: AdminPatch,
) -> Result<Response, ApiError> {
    let user = state
        .accounts()
        .administer(&authed.user, id, body.role, body.status)
        .await?;
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
