//! The notification API, two doors over the same domain functions: programs sign their calls
//! (`/api/v1/services/notifications`), signed-in users send a bearer token
//! (`/api/v1/notifications`). The seed's e-mail routes go through the same outbox.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::{HeaderValue, Method, StatusCode};
use warp::reply::{Reply, Response};

use crate::notifications::idempotency::IdempotencyKey;
use crate::notifications::request::{Channel, SendRequest};
use crate::notifications::store::{Filter as ListFilter, Notification, State, Summary};
use crate::notifications::{Answer, Owner};
use crate::state::AppState;
use crate::web::error::{ApiError, ErrorCode};
use crate::web::route::{Params, Table, params, reject, respond, with_state};
use crate::web::services::Envelope;
use crate::web::session::{Authed, bearer};
use crate::web::signed::{Signed, signed};

/// What a send answers (202).
#[derive(Serialize, ToSchema)]
pub struct Accepted {
    pub id: i64,
    /// `queued`, or `scheduled` when it has a send time.
    pub state: State,
    pub recipients: usize,
    pub send_at: i64,
    /// Where to follow it.
    pub url: String,
}

/// The list's filters and paging.
#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only notifications with a delivery in this state.
    pub state: Option<String>,
    /// Only notifications with a delivery on this channel.
    pub channel: Option<String>,
    /// Created at or after (Unix seconds).
    pub since: Option<i64>,
    /// Created before (Unix seconds).
    pub until: Option<i64>,
    /// The next page: ids below this one.
    pub before: Option<i64>,
    /// 1 to 100; 20 when absent.
    pub limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct Page {
    pub items: Vec<Summary>,
    /// Pass as `before` for the next page; absent on the last.
    pub next_before: Option<i64>,
}

/// Who is asking, through either door, and the raw body (signed calls sign it).
struct Caller {
    owner: Owner,
    body: Bytes,
    /// Where this door's notifications live (`/api/v1/services/notifications`).
    base: &'static str,
}

const SERVICES: &str = "/api/v1/services/notifications";
const USERS: &str = "/api/v1/notifications";

/// A door's paths: the collection, one notification, cancel, retry.
struct Paths {
    all: &'static str,
    one: &'static str,
    cancel: &'static str,
    retry: &'static str,
}

const SERVICE_PATHS: Paths = Paths {
    all: SERVICES,
    one: "/api/v1/services/notifications/{id}",
    cancel: "/api/v1/services/notifications/{id}/cancel",
    retry: "/api/v1/services/notifications/{id}/retry",
};

const USER_PATHS: Paths = Paths {
    all: USERS,
    one: "/api/v1/notifications/{id}",
    cancel: "/api/v1/notifications/{id}/cancel",
    retry: "/api/v1/notifications/{id}/retry",
};

fn by_key(state: &AppState) -> BoxedFilter<(Caller,)> {
    signed(state)
        .map(|signed: Signed| Caller {
            owner: Owner {
                user_id: signed.caller.user_id,
                api_key_id: Some(signed.caller.key_id),
            },
            body: signed.body,
            base: SERVICES,
        })
        .boxed()
}

fn by_session(state: &AppState) -> BoxedFilter<(Caller,)> {
    bearer(state)
        .and(warp::body::bytes())
        .map(|authed: Authed, body: Bytes| Caller {
            owner: Owner {
                user_id: authed.user.id,
                api_key_id: None,
            },
            body,
            base: USERS,
        })
        .boxed()
}

fn idempotency_key() -> BoxedFilter<(Option<String>,)> {
    warp::header::optional::<String>("idempotency-key").boxed()
}

/// The list's query, strictly: a value that does not parse is refused (4000021), never
/// silently dropped with the rest of the filters.
fn query() -> BoxedFilter<(ListQuery,)> {
    warp::query::raw()
        .or(warp::any().map(String::new))
        .unify()
        .and_then(|raw: String| async move {
            serde_urlencoded::from_str::<ListQuery>(&raw).map_err(|e| {
                reject(ApiError::new(
                    ErrorCode::InvalidField,
                    format!("query: {e}"),
                ))
            })
        })
        .boxed()
}

pub fn routes(state: &AppState, table: &mut Table) {
    for (paths, door) in [
        (SERVICE_PATHS, by_key(state)),
        (USER_PATHS, by_session(state)),
    ] {
        let s = || with_state(state);
        table.add(
            Method::POST,
            paths.all,
            s().and(door.clone())
                .and(idempotency_key())
                .then(send)
                .map(respond)
                .boxed(),
        );
        table.add(
            Method::GET,
            paths.all,
            s().and(door.clone())
                .and(query())
                .then(list)
                .map(respond)
                .boxed(),
        );
        table.add(
            Method::GET,
            paths.one,
            params()
                .and(s())
                .and(door.clone())
                .then(get)
                .map(respond)
                .boxed(),
        );
        table.add(
            Method::POST,
            paths.cancel,
            params()
                .and(s())
                .and(door.clone())
                .then(cancel)
                .map(respond)
                .boxed(),
        );
        table.add(
            Method::POST,
            paths.retry,
            params().and(s()).and(door).then(retry).map(respond).boxed(),
        );
    }
    table.add(
        Method::POST,
        "/api/v1/services/kakao/send",
        with_state(state)
            .and(by_key(state))
            .and(idempotency_key())
            .then(seed_kakao)
            .map(respond)
            .boxed(),
    );
    for (path, wait) in [
        ("/api/v1/services/email/send_by_gmail_sync", true),
        ("/api/v1/services/email/send_by_gmail_async", false),
    ] {
        table.add(
            Method::POST,
            path,
            with_state(state)
                .and(by_key(state))
                .and(idempotency_key())
                .and(warp::any().map(move || wait))
                .then(seed_email)
                .map(respond)
                .boxed(),
        );
    }
}

/// The JSON body of a route; malformed input is 4000017 (4000015 for a missing field).
fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        let detail = e.to_string();
        let code = if detail.contains("missing field") {
            ErrorCode::MissingField
        } else {
            ErrorCode::MalformedJson
        };
        ApiError::new(code, detail)
    })
}

fn idempotency(
    raw: Option<String>,
    route: &str,
    body: &[u8],
) -> Result<Option<IdempotencyKey>, ApiError> {
    raw.map(|key| IdempotencyKey::new(&key, route, body))
        .transpose()
        .map_err(ApiError::from)
}

/// An answer as stored, with `Idempotency-Replay: true` when it is a replay.
fn answer(answer: Answer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = warp::reply::with_status(answer.body, status).into_response();
    let headers = response.headers_mut();
    headers.insert(
        warp::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if answer.replayed {
        headers.insert("idempotency-replay", HeaderValue::from_static("true"));
    }
    response
}

async fn send(state: AppState, caller: Caller, key: Option<String>) -> Result<Response, ApiError> {
    let key = idempotency(key, caller.base, &caller.body)?;
    let request: SendRequest = parse(&caller.body)?;
    let base = caller.base;
    let done = state
        .notifications()
        .send(caller.owner, request, key.as_ref(), false, |id, draft| {
            let accepted = Accepted {
                id,
                state: if draft.send_at.is_some() {
                    State::Scheduled
                } else {
                    State::Queued
                },
                recipients: draft.recipients.len(),
                send_at: draft.send_at.unwrap_or_else(crate::db::now_unix),
                url: format!("{base}/{id}"),
            };
            serde_json::to_string(&accepted).expect("an answer serialises")
        })
        .await?;
    Ok(answer(done))
}

async fn list(state: AppState, caller: Caller, query: ListQuery) -> Result<Response, ApiError> {
    let bad = |field: &str| ApiError::new(ErrorCode::InvalidField, format!("invalid {field}"));
    let filter = ListFilter {
        state: query
            .state
            .map(|s| State::parse(&s).ok_or_else(|| bad("state")))
            .transpose()?,
        channel: query
            .channel
            .map(|c| Channel::parse(&c).ok_or_else(|| bad("channel")))
            .transpose()?,
        since: query.since,
        until: query.until,
        before: query.before,
        limit: query.limit.unwrap_or(20),
    };
    let items = state
        .notifications()
        .list(caller.owner.user_id, &filter)
        .await?;
    let full = items.len() == filter.limit.clamp(1, 100) as usize;
    let next_before = items.last().filter(|_| full).map(|n| n.id);
    Ok(warp::reply::json(&Page { items, next_before }).into_response())
}

async fn get(params: Params, state: AppState, caller: Caller) -> Result<Response, ApiError> {
    let id = params.id(0).map_err(not_found)?;
    let found = state.notifications().get(caller.owner.user_id, id).await?;
    Ok(warp::reply::json(&found).into_response())
}

async fn cancel(params: Params, state: AppState, caller: Caller) -> Result<Response, ApiError> {
    let id = params.id(0).map_err(not_found)?;
    let done = state
        .notifications()
        .cancel(caller.owner.user_id, id)
        .await?;
    Ok(warp::reply::json(&done).into_response())
}

async fn retry(params: Params, state: AppState, caller: Caller) -> Result<Response, ApiError> {
    let id = params.id(0).map_err(not_found)?;
    let done = state
        .notifications()
        .retry(caller.owner.user_id, id)
        .await?;
    Ok(warp::reply::json(&done).into_response())
}

/// A non-numeric id names no notification.
fn not_found(_: ApiError) -> ApiError {
    ApiError::new(ErrorCode::NotificationNotFound, "no such notification")
}

/// The seed's body: a mailing list, with the content Herald adds.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeedEmail {
    pub mailing_list: Vec<SeedRecipient>,
    /// Herald's addition; a generic notice when absent, as old callers sent none.
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
}

#[derive(Deserialize, Serialize, ToSchema)]
pub struct SeedRecipient {
    #[serde(default)]
    pub name: String,
    pub email: String,
}

/// The seed's answer, inside its envelope.
#[derive(Serialize, ToSchema)]
pub struct SeedSent {
    pub id: i64,
    pub recipients: usize,
    /// Sync: deliveries sent by the time of the answer.
    pub sent: Option<usize>,
    /// Sync: deliveries that could not be sent (dead); the rest are still being tried.
    pub failed: Option<usize>,
    pub url: String,
}

async fn seed_email(
    state: AppState,
    caller: Caller,
    key: Option<String>,
    wait: bool,
) -> Result<Response, ApiError> {
    let route = if wait { "gmail_sync" } else { "gmail_async" };
    let key = idempotency(key, route, &caller.body)?;
    let seed: SeedEmail = parse(&caller.body)?;
    let request = SendRequest::email(
        seed.mailing_list
            .into_iter()
            .map(|r| json!({"name": r.name, "email": r.email}))
            .collect(),
        seed.subject
            .unwrap_or_else(|| "A message from Herald".to_owned()),
        seed.text.unwrap_or_else(|| {
            "Hello {{name}},\n\nThis is a message sent to you by Herald.".into()
        }),
        seed.html,
    );
    let notifications = state.notifications();
    let owner = caller.owner;
    let first = notifications
        .send(owner, request, key.as_ref(), wait, |id, draft| {
            Envelope::body(SeedSent {
                id,
                recipients: draft.recipients.len(),
                sent: None,
                failed: None,
                url: format!("{SERVICES}/{id}"),
            })
        })
        .await?;
    if !wait || first.replayed {
        return Ok(seed_answer(first));
    }
    let limit = notifications.config().sync_wait;
    let outcome = notifications
        .wait_final(owner.user_id, first.id, limit)
        .await?;
    let body = Envelope::body(summary(outcome));
    if let Some(key) = &key {
        notifications
            .answer_key(owner, key, first.id, 200, &body)
            .await?;
    }
    Ok(seed_answer(Answer { body, ..first }))
}

/// How long a sync route waits: its setting, but always inside the request timeout, so the
/// answer (and its Idempotency-Key record) is written before the request could be cut off.
fn sync_wait(state: &AppState) -> std::time::Duration {
    let limit = state
        .config()
        .http
        .request_timeout
        .saturating_sub(std::time::Duration::from_secs(5));
    state.notifications().config().sync_wait.min(limit)
}

fn summary(n: Notification) -> SeedSent {
    let count = |state: State| n.deliveries.iter().filter(|d| d.state == state).count();
    SeedSent {
        id: n.id,
        recipients: n.deliveries.len(),
        sent: Some(count(State::Sent)),
        failed: Some(count(State::Dead)),
        url: format!("{SERVICES}/{}", n.id),
    }
}

/// The seed answered 200 with its envelope.
fn seed_answer(mut first: Answer) -> Response {
    first.status = 200;
    answer(first)
}

/// The seed's Kakao body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeedKakao {
    pub title: String,
    pub message: String,
}

/// What the seed's Kakao route answers.
#[derive(Serialize, ToSchema)]
pub struct KakaoSent {
    pub id: i64,
    /// `sent`, or `queued` / `failed` when Kakao has not taken it yet (it is still being
    /// tried: follow `url`).
    pub state: State,
    pub url: String,
}

/// "Send to me" on KakaoTalk, through the outbox; waits (bounded) for Kakao's answer as the
/// seed did, and answers 4000014 with the reason when Kakao will not take it.
async fn seed_kakao(
    state: AppState,
    caller: Caller,
    key: Option<String>,
) -> Result<Response, ApiError> {
    let key = idempotency(key, "kakao_send", &caller.body)?;
    let seed: SeedKakao = parse(&caller.body)?;
    let notifications = state.notifications();
    let owner = caller.owner;
    let request = SendRequest::kakao(seed.title, seed.message);
    let first = notifications
        .send(owner, request, key.as_ref(), true, |id, _| {
            Envelope::body(KakaoSent {
                id,
                state: State::Queued,
                url: format!("{SERVICES}/{id}"),
            })
        })
        .await?;
    if first.replayed {
        // The first answer as it was, a 400 included.
        return Ok(answer(first));
    }
    let outcome = notifications
        .wait_final(owner.user_id, first.id, sync_wait(&state))
        .await?;
    let delivery = outcome.deliveries.first();
    let (status, body) = match delivery {
        Some(d) if d.state == State::Dead => {
            let reason = d.last_error.as_ref().map_or("", |e| e.message.as_str());
            let error = ApiError::new(ErrorCode::KakaoSendFailed, reason);
            (
                400,
                serde_json::to_string(&error.body()).unwrap_or_default(),
            )
        }
        _ => (
            200,
            Envelope::body(KakaoSent {
                id: outcome.id,
                state: delivery.map_or(State::Queued, |d| d.state),
                url: format!("{SERVICES}/{}", outcome.id),
            }),
        ),
    };
    if let Some(key) = &key {
        notifications
            .answer_key(owner, key, first.id, status, &body)
            .await?;
    }
    Ok(answer(Answer {
        status,
        body,
        ..first
    }))
}
