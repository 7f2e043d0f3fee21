//! The notification routes in the OpenAPI document. Both doors share their handlers (`api`),
//! so each documented operation is declared here, once per path; the test that calls every
//! documented operation keeps this list and the route table in step.
#![allow(dead_code)] // The functions exist for their `#[utoipa::path]` attributes only.

use super::api::{Accepted, KakaoSent, ListQuery, Page, SeedEmail, SeedKakao, SeedSent};
use crate::notifications::request::SendRequest;
use crate::notifications::store::Notification;
use crate::web::error::ErrorBody;
use crate::web::services::Envelope;

/// Sends a notification: committed to the outbox before the 202. With `Idempotency-Key`, the
/// same key and body within 24 h answer the first answer again (`Idempotency-Replay: true`).
#[utoipa::path(post, path = "/api/v1/services/notifications", tag = "services", security(("v1" = []), ("v2" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "at most 255 characters")),
    request_body = SendRequest,
    responses((status = 202, description = "Accepted into the outbox", body = Accepted),
        (status = 400, description = "4000015 a field is missing; 4000017 malformed JSON; 4000021 an invalid field; 4000028 too many recipients; 4000029-4000032 subject, text, html or data too large; 4000033 a recipient is invalid; 4000034 send_at or delay out of range", body = ErrorBody), (status = 409, description = "4090002 the first request with this Idempotency-Key is still in progress (Retry-After)", body = ErrorBody), (status = 422, description = "4220001 this Idempotency-Key came with another body", body = ErrorBody), (status = 400, description = "4000011-4000013, 4000027: the signature checks (see /api/v1/services)", body = ErrorBody), (status = 403, description = "4030006 the key is refused", body = ErrorBody)))]
fn svc_send() {}

/// The caller's notifications, newest first, with their deliveries counted by state.
#[utoipa::path(get, path = "/api/v1/services/notifications", tag = "services", security(("v1" = []), ("v2" = [])), params(ListQuery),
    responses((status = 200, description = "A page", body = Page),
        (status = 400, description = "4000021 an invalid filter", body = ErrorBody), (status = 400, description = "4000011-4000013, 4000027: the signature checks (see /api/v1/services)", body = ErrorBody), (status = 403, description = "4030006 the key is refused", body = ErrorBody)))]
fn svc_list() {}

/// One notification with every delivery and every attempt.
#[utoipa::path(get, path = "/api/v1/services/notifications/{id}", tag = "services", security(("v1" = []), ("v2" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, description = "The notification", body = Notification),
        (status = 404, description = "4040008 no such notification (another owner's included)", body = ErrorBody), (status = 400, description = "4000011-4000013, 4000027: the signature checks (see /api/v1/services)", body = ErrorBody), (status = 403, description = "4030006 the key is refused", body = ErrorBody)))]
fn svc_get() {}

/// Cancels the deliveries still waiting for their send time.
#[utoipa::path(post, path = "/api/v1/services/notifications/{id}/cancel", tag = "services", security(("v1" = []), ("v2" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, description = "The notification after the cancel", body = Notification),
        (status = 404, description = "4040008 no such notification", body = ErrorBody),
        (status = 409, description = "4090001 nothing is scheduled", body = ErrorBody), (status = 400, description = "4000011-4000013, 4000027: the signature checks (see /api/v1/services)", body = ErrorBody), (status = 403, description = "4030006 the key is refused", body = ErrorBody)))]
fn svc_cancel() {}

/// Drives the dead deliveries again, from their first channel, with fresh attempts.
#[utoipa::path(post, path = "/api/v1/services/notifications/{id}/retry", tag = "services", security(("v1" = []), ("v2" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, description = "The notification after the re-drive", body = Notification),
        (status = 404, description = "4040008 no such notification", body = ErrorBody),
        (status = 409, description = "4090001 nothing is dead", body = ErrorBody), (status = 400, description = "4000011-4000013, 4000027: the signature checks (see /api/v1/services)", body = ErrorBody), (status = 403, description = "4030006 the key is refused", body = ErrorBody)))]
fn svc_retry() {}

/// Sends a notification: committed to the outbox before the 202. With `Idempotency-Key`, the
/// same key and body within 24 h answer the first answer again (`Idempotency-Replay: true`).
#[utoipa::path(post, path = "/api/v1/notifications", tag = "notifications", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "at most 255 characters")),
    request_body = SendRequest,
    responses((status = 202, description = "Accepted into the outbox", body = Accepted),
        (status = 400, description = "4000015 a field is missing; 4000017 malformed JSON; 4000021 an invalid field; 4000028 too many recipients; 4000029-4000032 subject, text, html or data too large; 4000033 a recipient is invalid; 4000034 send_at or delay out of range", body = ErrorBody), (status = 409, description = "4090002 the first request with this Idempotency-Key is still in progress (Retry-After)", body = ErrorBody), (status = 422, description = "4220001 this Idempotency-Key came with another body", body = ErrorBody), (status = 401, description = "4010001 no valid bearer token", body = ErrorBody)))]
fn user_send() {}

/// The caller's notifications, newest first, with their deliveries counted by state.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "A page", body = Page),
        (status = 400, description = "4000021 an invalid filter", body = ErrorBody), (status = 401, description = "4010001 no valid bearer token", body = ErrorBody)))]
fn user_list() {}

/// One notification with every delivery and every attempt.
#[utoipa::path(get, path = "/api/v1/notifications/{id}", tag = "notifications", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, description = "The notification", body = Notification),
        (status = 404, description = "4040008 no such notification (another owner's included)", body = ErrorBody), (status = 401, description = "4010001 no valid bearer token", body = ErrorBody)))]
fn user_get() {}

/// Cancels the deliveries still waiting for their send time.
#[utoipa::path(post, path = "/api/v1/notifications/{id}/cancel", tag = "notifications", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, description = "The notification after the cancel", body = Notification),
        (status = 404, description = "4040008 no such notification", body = ErrorBody),
        (status = 409, description = "4090001 nothing is scheduled", body = ErrorBody), (status = 401, description = "4010001 no valid bearer token", body = ErrorBody)))]
fn user_cancel() {}

/// Drives the dead deliveries again, from their first channel, with fresh attempts.
#[utoipa::path(post, path = "/api/v1/notifications/{id}/retry", tag = "notifications", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, description = "The notification after the re-drive", body = Notification),
        (status = 404, description = "4040008 no such notification", body = ErrorBody),
        (status = 409, description = "4090001 nothing is dead", body = ErrorBody), (status = 401, description = "4010001 no valid bearer token", body = ErrorBody)))]
fn user_retry() {}

/// The seed's e-mail route, through the outbox: waits (at most NOTIFY_SYNC_WAIT_SECS) for the outcome.
#[utoipa::path(post, path = "/api/v1/services/email/send_by_gmail_sync", tag = "services",
    security(("v1" = []), ("v2" = [])), request_body = SeedEmail,
    responses((status = 200, description = "The seed's envelope", body = Envelope<SeedSent>),
        (status = 400, description = "4000015 a field is missing; 4000017 malformed JSON; 4000021 an invalid field; 4000028 too many recipients; 4000029-4000032 subject, text, html or data too large; 4000033 a recipient is invalid; 4000034 send_at or delay out of range", body = ErrorBody), (status = 409, description = "4090002 the first request with this Idempotency-Key is still in progress (Retry-After)", body = ErrorBody), (status = 422, description = "4220001 this Idempotency-Key came with another body", body = ErrorBody)))]
fn seed_sync() {}

/// The seed's e-mail route, through the outbox: answers at once.
#[utoipa::path(post, path = "/api/v1/services/email/send_by_gmail_async", tag = "services",
    security(("v1" = []), ("v2" = [])), request_body = SeedEmail,
    responses((status = 200, description = "The seed's envelope", body = Envelope<SeedSent>),
        (status = 400, description = "4000015 a field is missing; 4000017 malformed JSON; 4000021 an invalid field; 4000028 too many recipients; 4000029-4000032 subject, text, html or data too large; 4000033 a recipient is invalid; 4000034 send_at or delay out of range", body = ErrorBody), (status = 409, description = "4090002 the first request with this Idempotency-Key is still in progress (Retry-After)", body = ErrorBody), (status = 422, description = "4220001 this Idempotency-Key came with another body", body = ErrorBody)))]
fn seed_async() {}

/// The seed's Kakao "send to me", through the outbox: waits (at most NOTIFY_SYNC_WAIT_SECS)
/// for Kakao's answer.
#[utoipa::path(post, path = "/api/v1/services/kakao/send", tag = "services",
    security(("v1" = []), ("v2" = [])), request_body = SeedKakao,
    responses((status = 200, description = "Sent, or still being tried", body = Envelope<KakaoSent>),
        (status = 400, description = "4000014 Kakao will not take it (no linked account, no consent): the detail says why; 4000015 a field is missing", body = ErrorBody)))]
fn seed_kakao() {}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(svc_send, svc_list, svc_get, svc_cancel, svc_retry, user_send, user_list, user_get,
        user_cancel, user_retry, seed_sync, seed_async, seed_kakao),
    tags((name = "notifications", description = "Notifications of signed-in users"))
)]
pub struct Doc;
