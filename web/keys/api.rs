//! Managing one's API keys over the API (`/api/v1/users/apikeys`), with the seed's paths and
//! field names: create, list, edit, delete, roll, and each key's IP allowlist.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warp::Filter;
use warp::http::{Method, StatusCode};
use warp::reply::{Reply, Response};

use crate::keys::store::{AllowEntry, ApiKey, KeyStatus};
use crate::keys::{DEFAULT_GRACE_SECS, KeyChange, WithSecret};
use crate::state::AppState;
use crate::web::error::{ApiError, ErrorBody};
use crate::web::route::{Params, Table, json, params, respond, with_state};
use crate::web::session::{Authed, bearer};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// A note of yours, at most 40 characters.
    #[serde(default)]
    #[schema(max_length = 40, example = "billing worker")]
    pub user_memo: String,
    /// When the key stops working (Unix seconds); never when absent.
    pub expires_at: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateKey {
    #[schema(max_length = 40)]
    pub user_memo: Option<String>,
    pub status: Option<KeyStatus>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RollKey {
    /// How long the previous secret keeps working: 0 to 604800 seconds (7 days); 86400 when
    /// absent.
    #[schema(minimum = 0, maximum = 604800)]
    pub grace_seconds: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowRequest {
    /// An IPv4 or IPv6 address, or a CIDR range such as `203.0.113.0/24`.
    #[schema(example = "203.0.113.7")]
    pub ip_address: String,
}

/// A key as its owner sees it. `secret_key` is there only in the answer that made it.
#[derive(Serialize, ToSchema)]
pub struct KeyView {
    pub id: i64,
    pub access_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    pub user_memo: String,
    pub status: KeyStatus,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    /// During a roll's grace: until when the previous secret works.
    pub previous_secret_valid_until: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
}

impl KeyView {
    fn of(key: ApiKey, secret: Option<String>) -> Self {
        Self {
            id: key.id,
            access_key: key.access_key,
            secret_key: secret,
            user_memo: key.memo,
            status: key.status,
            created_at: key.created_at,
            expires_at: key.expires_at,
            previous_secret_valid_until: key
                .previous_until
                .filter(|at| *at > crate::db::now_unix()),
            last_used_at: key.last_used_at,
            last_used_ip: key.last_used_ip,
        }
    }

    fn with_secret(made: WithSecret) -> Self {
        Self::of(made.key, Some(made.secret))
    }
}

#[derive(Serialize, ToSchema)]
pub struct EntryView {
    pub id: i64,
    pub ip_address: String,
    pub created_at: i64,
}

impl From<AllowEntry> for EntryView {
    fn from(e: AllowEntry) -> Self {
        Self {
            id: e.id,
            ip_address: e.ip_address,
            created_at: e.created_at,
        }
    }
}

pub fn routes(state: &AppState, table: &mut Table) {
    let s = || with_state(state);
    let authed = || bearer(state);
    table.add(
        Method::GET,
        "/api/v1/users/apikeys",
        s().and(authed()).then(list).map(respond).boxed(),
    );
    table.add(
        Method::POST,
        "/api/v1/users/apikeys",
        s().and(authed())
            .and(json())
            .then(create)
            .map(respond)
            .boxed(),
    );
    table.add(
        Method::PUT,
        "/api/v1/users/apikeys/{key_id}",
        params()
            .and(s())
            .and(authed())
            .and(json())
            .then(update)
            .map(respond)
            .boxed(),
    );
    table.add(
        Method::DELETE,
        "/api/v1/users/apikeys/{key_id}",
        params()
            .and(s())
            .and(authed())
            .then(delete)
            .map(respond)
            .boxed(),
    );
    table.add(
        Method::POST,
        "/api/v1/users/apikeys/{key_id}/roll",
        params()
            .and(s())
            .and(authed())
            .and(optional_json())
            .then(roll)
            .map(respond)
            .boxed(),
    );
    table.add(
        Method::GET,
        "/api/v1/users/apikeys/{key_id}/whitelists",
        params()
            .and(s())
            .and(authed())
            .then(allowlist)
            .map(respond)
            .boxed(),
    );
    table.add(
        Method::POST,
        "/api/v1/users/apikeys/{key_id}/whitelists",
        params()
            .and(s())
            .and(authed())
            .and(json())
            .then(allow)
            .map(respond)
            .boxed(),
    );
    table.add(
        Method::DELETE,
        "/api/v1/users/apikeys/{key_id}/whitelists/{list_id}",
        params()
            .and(s())
            .and(authed())
            .then(disallow)
            .map(respond)
            .boxed(),
    );
}

/// A JSON body that may be left out entirely (an empty body is `{}`).
fn optional_json() -> warp::filters::BoxedFilter<(RollKey,)> {
    warp::body::bytes()
        .and_then(|body: bytes::Bytes| async move {
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(RollKey::default());
            }
            serde_json::from_slice(&body).map_err(|err| {
                crate::web::route::reject(ApiError::new(
                    crate::web::error::ErrorCode::MalformedJson,
                    err.to_string(),
                ))
            })
        })
        .boxed()
}

fn json_status<T: Serialize>(value: &T, status: StatusCode) -> Response {
    warp::reply::with_status(warp::reply::json(value), status).into_response()
}

/// Your API keys, without their secrets.
#[utoipa::path(get, path = "/api/v1/users/apikeys", tag = "keys", security(("bearer" = [])),
    responses((status = 200, description = "Your keys, oldest first", body = [KeyView]),
        (status = 401, description = "4010001 not signed in", body = ErrorBody)))]
async fn list(state: AppState, authed: Authed) -> Result<Response, ApiError> {
    let keys = state.keys().list(authed.user.id).await?;
    let views: Vec<KeyView> = keys.into_iter().map(|k| KeyView::of(k, None)).collect();
    Ok(warp::reply::json(&views).into_response())
}

/// A new key. Its `secret_key` is shown in this answer only: keep it.
#[utoipa::path(post, path = "/api/v1/users/apikeys", tag = "keys", security(("bearer" = [])), request_body = CreateKey,
    responses((status = 201, description = "Created; the secret is shown this once", body = KeyView),
        (status = 400, description = "4000007 too many active keys; 4000021 memo too long or expiry in the past; 4000017 malformed JSON", body = ErrorBody),
        (status = 401, description = "4010001 not signed in", body = ErrorBody)))]
async fn create(state: AppState, authed: Authed, body: CreateKey) -> Result<Response, ApiError> {
    let made = state
        .keys()
        .create(authed.user.id, &body.user_memo, body.expires_at)
        .await?;
    Ok(json_status(
        &KeyView::with_secret(made),
        StatusCode::CREATED,
    ))
}

/// Change a key's memo or status (`active`, `disabled`).
#[utoipa::path(put, path = "/api/v1/users/apikeys/{key_id}", tag = "keys", security(("bearer" = [])),
    params(("key_id" = i64, Path, description = "The key's id")), request_body = UpdateKey,
    responses((status = 200, description = "Updated", body = KeyView),
        (status = 400, description = "4000007 activating it would pass the limit; 4000021 memo too long; 4000017 malformed JSON", body = ErrorBody),
        (status = 401, description = "4010001 not signed in", body = ErrorBody),
        (status = 404, description = "4040003 no such key of yours", body = ErrorBody)))]
async fn update(
    params: Params,
    state: AppState,
    authed: Authed,
    body: UpdateKey,
) -> Result<Response, ApiError> {
    let change = KeyChange {
        memo: body.user_memo,
        status: body.status,
    };
    let key = state
        .keys()
        .update(authed.user.id, key_id(&params)?, change)
        .await?;
    Ok(warp::reply::json(&KeyView::of(key, None)).into_response())
}

/// Delete a key; calls signed with it are refused at once.
#[utoipa::path(delete, path = "/api/v1/users/apikeys/{key_id}", tag = "keys", security(("bearer" = [])),
    params(("key_id" = i64, Path, description = "The key's id")),
    responses((status = 204, description = "Deleted"),
        (status = 401, description = "4010001 not signed in", body = ErrorBody),
        (status = 404, description = "4040003 no such key of yours", body = ErrorBody)))]
async fn delete(params: Params, state: AppState, authed: Authed) -> Result<Response, ApiError> {
    state
        .keys()
        .delete(authed.user.id, key_id(&params)?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A new secret for a key (shown this once). The previous secret keeps working for the
/// grace period you choose, so your programs can move over without a failed call.
#[utoipa::path(post, path = "/api/v1/users/apikeys/{key_id}/roll", tag = "keys", security(("bearer" = [])),
    params(("key_id" = i64, Path, description = "The key's id")), request_body(content = RollKey, description = "Optional"),
    responses((status = 200, description = "Rolled; the new secret is shown this once", body = KeyView),
        (status = 400, description = "4000021 grace outside 0 to 604800 seconds; 4000017 malformed JSON", body = ErrorBody),
        (status = 401, description = "4010001 not signed in", body = ErrorBody),
        (status = 404, description = "4040003 no such key of yours", body = ErrorBody)))]
async fn roll(
    params: Params,
    state: AppState,
    authed: Authed,
    body: RollKey,
) -> Result<Response, ApiError> {
    let grace = body.grace_seconds.unwrap_or(DEFAULT_GRACE_SECS);
    let made = state
        .keys()
        .roll(authed.user.id, key_id(&params)?, grace)
        .await?;
    Ok(warp::reply::json(&KeyView::with_secret(made)).into_response())
}

/// A key's IP allowlist. Empty: calls are accepted from anywhere.
#[utoipa::path(get, path = "/api/v1/users/apikeys/{key_id}/whitelists", tag = "keys", security(("bearer" = [])),
    params(("key_id" = i64, Path, description = "The key's id")),
    responses((status = 200, description = "The entries", body = [EntryView]),
        (status = 401, description = "4010001 not signed in", body = ErrorBody),
        (status = 404, description = "4040003 no such key of yours", body = ErrorBody)))]
async fn allowlist(params: Params, state: AppState, authed: Authed) -> Result<Response, ApiError> {
    let entries = state
        .keys()
        .allowlist(authed.user.id, key_id(&params)?)
        .await?;
    let views: Vec<EntryView> = entries.into_iter().map(EntryView::from).collect();
    Ok(warp::reply::json(&views).into_response())
}

/// Allow calls from an address or range (at most ten per key). An entry that is already
/// there (in any spelling) is answered again with 200.
#[utoipa::path(post, path = "/api/v1/users/apikeys/{key_id}/whitelists", tag = "keys", security(("bearer" = [])),
    params(("key_id" = i64, Path, description = "The key's id")), request_body = AllowRequest,
    responses((status = 201, description = "Added", body = EntryView),
        (status = 200, description = "Already there", body = EntryView),
        (status = 400, description = "4000009 not an IP address or CIDR range; 4000010 ten entries already; 4000015 missing field; 4000017 malformed JSON", body = ErrorBody),
        (status = 401, description = "4010001 not signed in", body = ErrorBody),
        (status = 404, description = "4040003 no such key of yours", body = ErrorBody)))]
async fn allow(
    params: Params,
    state: AppState,
    authed: Authed,
    body: AllowRequest,
) -> Result<Response, ApiError> {
    let added = state
        .keys()
        .allow(authed.user.id, key_id(&params)?, &body.ip_address)
        .await?;
    let status = if added.existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(json_status(&EntryView::from(added.entry), status))
}

/// Remove an allowlist entry.
#[utoipa::path(delete, path = "/api/v1/users/apikeys/{key_id}/whitelists/{list_id}", tag = "keys", security(("bearer" = [])),
    params(("key_id" = i64, Path, description = "The key's id"), ("list_id" = i64, Path, description = "The entry's id")),
    responses((status = 204, description = "Removed"),
        (status = 401, description = "4010001 not signed in", body = ErrorBody),
        (status = 404, description = "4040003 no such key of yours; 4040004 no such entry", body = ErrorBody)))]
async fn disallow(params: Params, state: AppState, authed: Authed) -> Result<Response, ApiError> {
    let entry = params.id(1).map_err(|_| {
        ApiError::new(
            crate::web::error::ErrorCode::WhitelistEntryNotFound,
            "no such entry",
        )
    })?;
    state
        .keys()
        .disallow(authed.user.id, key_id(&params)?, entry)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The `{key_id}` of the path; anything but a number names no key.
fn key_id(params: &Params) -> Result<i64, ApiError> {
    params
        .id(0)
        .map_err(|_| ApiError::new(crate::web::error::ErrorCode::ApiKeyNotFound, "no such key"))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, create, update, delete, roll, allowlist, allow, disallow),
    tags((name = "keys", description = "Your API keys and their IP allowlists"))
)]
pub struct Doc;
