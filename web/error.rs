//! The one mapping from every failure to the JSON error body:
//! `{"status": <http>, "code": "<http><4 digits>", "message": "...", "detail": "..."}`.
//!
//! Codes are stable: a number never changes meaning (docs/errors.md lists them all, and a test
//! keeps that table complete).

use std::convert::Infallible;

use http::StatusCode;
use http::header::{HeaderValue, RETRY_AFTER};
use serde::Serialize;
use utoipa::ToSchema;
use warp::Rejection;
use warp::reply::{Reply, Response};

use crate::accounts::AccountsError;
use crate::accounts::oauth::OAuthError;
use crate::db::DbError;
use crate::state::BotUnavailable;

/// Every error code Herald answers with. The seed's codes keep their numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    MalformedRequest,
    TokenInvalid,
    TokenExpired,
    EmailTaken,
    WrongCredentials,
    UnsupportedLoginType,
    TooManyApiKeys,
    InvalidIp,
    TooManyWhitelistEntries,
    BadServiceQuery,
    BadSignature,
    TimestampOutOfWindow,
    KakaoSendFailed,
    MissingField,
    OAuthStateInvalid,
    MalformedJson,
    HostNotAllowed,
    InvalidEmail,
    InvalidPassword,
    InvalidField,
    LastLoginMethod,
    ProviderLinkedElsewhere,
    EmailConflict,
    OAuthDenied,
    OAuthExchangeFailed,
    NotAuthorized,
    Forbidden,
    CsrfFailed,
    AccountBlocked,
    RouteNotFound,
    UserNotFound,
    ApiKeyNotFound,
    WhitelistEntryNotFound,
    OAuthProfileFailed,
    ProviderUnavailable,
    ProviderNotLinked,
    MethodNotAllowed,
    LengthRequired,
    PayloadTooLarge,
    UnsupportedMediaType,
    RateLimited,
    AccountLocked,
    Internal,
    DiscordCallFailed,
    BotUnavailable,
    DatabaseUnavailable,
    EmailUnavailable,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 47] = [
        Self::MalformedRequest,
        Self::TokenInvalid,
        Self::TokenExpired,
        Self::EmailTaken,
        Self::WrongCredentials,
        Self::UnsupportedLoginType,
        Self::TooManyApiKeys,
        Self::InvalidIp,
        Self::TooManyWhitelistEntries,
        Self::BadServiceQuery,
        Self::BadSignature,
        Self::TimestampOutOfWindow,
        Self::KakaoSendFailed,
        Self::MissingField,
        Self::OAuthStateInvalid,
        Self::MalformedJson,
        Self::HostNotAllowed,
        Self::InvalidEmail,
        Self::InvalidPassword,
        Self::InvalidField,
        Self::LastLoginMethod,
        Self::ProviderLinkedElsewhere,
        Self::EmailConflict,
        Self::OAuthDenied,
        Self::OAuthExchangeFailed,
        Self::NotAuthorized,
        Self::Forbidden,
        Self::CsrfFailed,
        Self::AccountBlocked,
        Self::RouteNotFound,
        Self::UserNotFound,
        Self::ApiKeyNotFound,
        Self::WhitelistEntryNotFound,
        Self::OAuthProfileFailed,
        Self::ProviderUnavailable,
        Self::ProviderNotLinked,
        Self::MethodNotAllowed,
        Self::LengthRequired,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::RateLimited,
        Self::AccountLocked,
        Self::Internal,
        Self::DiscordCallFailed,
        Self::BotUnavailable,
        Self::DatabaseUnavailable,
        Self::EmailUnavailable,
    ];

    /// (HTTP status, number within that status, message for people).
    const fn spec(self) -> (u16, u16, &'static str) {
        match self {
            Self::MalformedRequest => (400, 0, "The request is malformed."),
            Self::TokenInvalid => (400, 1, "The token is invalid."),
            Self::TokenExpired => (400, 2, "The token has expired."),
            Self::EmailTaken => (400, 3, "This e-mail address is already registered."),
            Self::WrongCredentials => (400, 4, "Wrong e-mail or password."),
            Self::UnsupportedLoginType => (400, 5, "This login type is not supported."),
            Self::TooManyApiKeys => (400, 7, "You have reached the maximum number of API keys."),
            Self::InvalidIp => (400, 9, "The IP address is invalid."),
            Self::TooManyWhitelistEntries => (400, 10, "The IP whitelist is full."),
            Self::BadServiceQuery => (
                400,
                11,
                "The query string must hold key and timestamp only.",
            ),
            Self::BadSignature => (400, 12, "The request signature is missing or wrong."),
            Self::TimestampOutOfWindow => (400, 13, "The request timestamp is outside the window."),
            Self::KakaoSendFailed => (400, 14, "Kakao could not deliver the message."),
            Self::MissingField => (400, 15, "A required field is missing."),
            Self::OAuthStateInvalid => (400, 16, "The sign-in attempt is invalid or has expired."),
            Self::MalformedJson => (
                400,
                17,
                "The request body is not valid JSON for this route.",
            ),
            Self::HostNotAllowed => (400, 18, "This host name is not served here."),
            Self::InvalidEmail => (400, 19, "The e-mail address is not valid."),
            Self::InvalidPassword => (400, 20, "The password must be 8 to 1024 characters long."),
            Self::InvalidField => (400, 21, "A field has an invalid value."),
            Self::LastLoginMethod => (400, 22, "You cannot remove your last way to sign in."),
            Self::ProviderLinkedElsewhere => (
                400,
                23,
                "This provider account is linked to another Herald account.",
            ),
            Self::EmailConflict => (
                400,
                24,
                "An account with this e-mail already exists. Sign in, then link this provider from your account page.",
            ),
            Self::OAuthDenied => (400, 25, "The sign-in was cancelled."),
            Self::OAuthExchangeFailed => {
                (400, 26, "The sign-in provider did not accept the sign-in.")
            }
            Self::NotAuthorized => (401, 1, "You are not signed in."),
            Self::Forbidden => (403, 1, "You may not do this."),
            Self::CsrfFailed => (
                403,
                2,
                "The form has expired; reload the page and try again.",
            ),
            Self::AccountBlocked => (403, 3, "This account is blocked."),
            Self::RouteNotFound => (404, 0, "There is nothing at this address."),
            Self::UserNotFound => (404, 1, "The user was not found."),
            Self::ApiKeyNotFound => (404, 3, "The API key was not found."),
            Self::WhitelistEntryNotFound => (404, 4, "The whitelist entry was not found."),
            Self::OAuthProfileFailed => (404, 5, "The sign-in provider did not return a profile."),
            Self::ProviderUnavailable => (404, 6, "This sign-in provider is not available."),
            Self::ProviderNotLinked => (404, 7, "This provider is not linked to your account."),
            Self::MethodNotAllowed => (405, 0, "This method is not allowed here."),
            Self::LengthRequired => (411, 0, "A Content-Length header is required."),
            Self::PayloadTooLarge => (413, 0, "The request body is too large."),
            Self::UnsupportedMediaType => (415, 0, "The request's content type is not supported."),
            Self::RateLimited => (429, 1, "Too many requests; try again later."),
            Self::AccountLocked => (429, 2, "Too many failed sign-ins; try again later."),
            Self::Internal => (500, 0, "Something went wrong on our side."),
            Self::DiscordCallFailed => (500, 1, "The call to Discord failed."),
            Self::BotUnavailable => (503, 1, "The Discord bot is unavailable right now."),
            Self::DatabaseUnavailable => (503, 2, "The database is unavailable right now."),
            Self::EmailUnavailable => (503, 3, "E-mail cannot be sent from this server right now."),
        }
    }

    pub fn status(self) -> StatusCode {
        StatusCode::from_u16(self.spec().0).expect("valid status in the table")
    }

    /// The seven-digit code: the HTTP status followed by a zero-padded number.
    pub fn code(self) -> String {
        let (status, number, _) = self.spec();
        format!("{status}{number:04}")
    }

    pub fn message(self) -> &'static str {
        self.spec().2
    }
}

/// The error body every route answers with.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The HTTP status, repeated.
    #[schema(example = 404)]
    pub status: u16,
    /// Stable machine-readable code.
    #[schema(example = "4040000")]
    pub code: String,
    /// For people.
    pub message: String,
    /// For developers.
    pub detail: String,
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub detail: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            retry_after: None,
        }
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            status: self.code.status().as_u16(),
            code: self.code.code(),
            message: self.code.message().to_owned(),
            detail: self.detail.clone(),
        }
    }
}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        let mut response =
            warp::reply::with_status(warp::reply::json(&self.body()), self.code.status())
                .into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        // The cause goes to the log, never to the client.
        tracing::error!(target: "db", error = %err, "database error");
        Self::new(ErrorCode::Internal, "an internal error occurred")
    }
}

impl From<AccountsError> for ApiError {
    fn from(err: AccountsError) -> Self {
        use AccountsError as A;
        let code = match &err {
            A::InvalidEmail => ErrorCode::InvalidEmail,
            A::InvalidPassword => ErrorCode::InvalidPassword,
            A::InvalidField { .. } => ErrorCode::InvalidField,
            A::EmailTaken => ErrorCode::EmailTaken,
            A::WrongCredentials => ErrorCode::WrongCredentials,
            A::Blocked => ErrorCode::AccountBlocked,
            A::RateLimited { retry_after } => {
                return ApiError::new(ErrorCode::RateLimited, err.to_string())
                    .retry_after(*retry_after);
            }
            A::Locked { retry_after } => {
                return ApiError::new(ErrorCode::AccountLocked, err.to_string())
                    .retry_after(*retry_after);
            }
            A::TokenInvalid => ErrorCode::TokenInvalid,
            A::TokenExpired => ErrorCode::TokenExpired,
            A::Unauthenticated(_) => ErrorCode::NotAuthorized,
            A::Forbidden(_) => ErrorCode::Forbidden,
            A::UserNotFound => ErrorCode::UserNotFound,
            A::LastLoginMethod => ErrorCode::LastLoginMethod,
            A::EmailUnavailable => ErrorCode::EmailUnavailable,
            A::OAuth(oauth) => match oauth {
                OAuthError::NotConfigured(_) => ErrorCode::ProviderUnavailable,
                OAuthError::StateInvalid => ErrorCode::OAuthStateInvalid,
                OAuthError::Denied(_) => ErrorCode::OAuthDenied,
                OAuthError::Exchange(_) => ErrorCode::OAuthExchangeFailed,
                OAuthError::Profile(_) => ErrorCode::OAuthProfileFailed,
                OAuthError::LinkedElsewhere => ErrorCode::ProviderLinkedElsewhere,
                OAuthError::EmailConflict => ErrorCode::EmailConflict,
                OAuthError::NotLinked(_) => ErrorCode::ProviderNotLinked,
                OAuthError::TokenUnavailable => ErrorCode::OAuthExchangeFailed,
            },
            A::Db(_) => {
                tracing::error!(target: "db", error = %err, "database error");
                return ApiError::new(ErrorCode::Internal, "an internal error occurred");
            }
        };
        if matches!(
            err,
            A::OAuth(OAuthError::Exchange(_) | OAuthError::Profile(_))
        ) {
            tracing::warn!(error = %err, "social sign-in failed at the provider");
        }
        ApiError::new(code, err.to_string())
    }
}

impl From<BotUnavailable> for ApiError {
    fn from(err: BotUnavailable) -> Self {
        Self::new(ErrorCode::BotUnavailable, err.to_string())
    }
}

/// The one rejection handler, mounted at the top so a 404 comes only after every route.
pub async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    Ok(from_rejection(&rejection).into_response())
}

fn from_rejection(rejection: &Rejection) -> ApiError {
    use warp::filters::body::BodyDeserializeError;
    use warp::reject;

    if let Some(err) = rejection.find::<ApiErrorRejection>() {
        return ApiError::new(err.0.code, err.0.detail.clone());
    }
    if rejection.is_not_found() {
        return ApiError::new(ErrorCode::RouteNotFound, "no route matches this path");
    }
    if let Some(err) = rejection.find::<BodyDeserializeError>() {
        let detail = err.to_string();
        let code = if detail.contains("missing field") {
            ErrorCode::MissingField
        } else {
            ErrorCode::MalformedJson
        };
        return ApiError::new(code, detail);
    }
    if rejection.find::<reject::MethodNotAllowed>().is_some() {
        return ApiError::new(
            ErrorCode::MethodNotAllowed,
            "see /api/openapi.json for methods",
        );
    }
    if rejection.find::<reject::PayloadTooLarge>().is_some() {
        return ApiError::new(
            ErrorCode::PayloadTooLarge,
            "the body exceeds HTTP_BODY_LIMIT",
        );
    }
    if rejection.find::<reject::LengthRequired>().is_some() {
        return ApiError::new(ErrorCode::LengthRequired, "send a Content-Length header");
    }
    if rejection.find::<reject::UnsupportedMediaType>().is_some() {
        return ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send Content-Type: application/json",
        );
    }
    if let Some(err) = rejection.find::<reject::InvalidQuery>() {
        return ApiError::new(ErrorCode::MalformedRequest, err.to_string());
    }
    if let Some(err) = rejection.find::<reject::MissingHeader>() {
        return ApiError::new(ErrorCode::MalformedRequest, err.to_string());
    }
    if let Some(err) = rejection.find::<reject::InvalidHeader>() {
        return ApiError::new(ErrorCode::MalformedRequest, err.to_string());
    }
    tracing::warn!(?rejection, "unhandled rejection");
    ApiError::new(
        ErrorCode::MalformedRequest,
        "the request could not be processed",
    )
}

/// Lets a filter (not a handler) reject with an `ApiError`; handlers return it directly.
#[derive(Debug)]
pub struct ApiErrorRejection(pub ApiError);

impl warp::reject::Reject for ApiErrorRejection {}

impl From<ApiError> for Rejection {
    fn from(err: ApiError) -> Self {
        warp::reject::custom(ApiErrorRejection(err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_start_with_their_status() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            let text = code.code();
            assert_eq!(text.len(), 7, "{code:?}");
            assert!(text.starts_with(code.status().as_str()), "{code:?}");
            assert!(seen.insert(text), "{code:?} reuses a number");
        }
    }

    #[test]
    fn seed_codes_keep_their_numbers() {
        assert_eq!(ErrorCode::NotAuthorized.code(), "4010001");
        assert_eq!(ErrorCode::EmailTaken.code(), "4000003");
        assert_eq!(ErrorCode::WrongCredentials.code(), "4000004");
        assert_eq!(ErrorCode::BadServiceQuery.code(), "4000011");
        assert_eq!(ErrorCode::OAuthStateInvalid.code(), "4000016");
        assert_eq!(ErrorCode::ApiKeyNotFound.code(), "4040003");
        assert_eq!(ErrorCode::DiscordCallFailed.code(), "5000001");
    }

    #[tokio::test]
    async fn malformed_json_and_wrong_content_type_map_to_their_codes() {
        use warp::Filter;
        let route = warp::post()
            .and(warp::body::json::<serde_json::Value>())
            .map(|v: serde_json::Value| warp::reply::json(&v))
            .recover(recover);
        let response = warp::test::request()
            .method("POST")
            .header("content-type", "application/json")
            .body("{not json")
            .reply(&route)
            .await;
        assert_eq!(response.status(), 400);
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(body["code"], "4000017");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("key must be a string"),
            "{body}"
        );

        let response = warp::test::request()
            .method("POST")
            .header("content-type", "text/plain")
            .body("{}")
            .reply(&route)
            .await;
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(
            (response.status().as_u16(), body["code"].as_str()),
            (415, Some("4150000"))
        );
    }

    #[test]
    fn the_docs_table_lists_every_code() {
        let table = include_str!("../docs/errors.md");
        for code in ErrorCode::ALL {
            let row = format!(
                "| {} | {} | {} |",
                code.code(),
                code.status().as_u16(),
                code.message()
            );
            assert!(table.contains(&row), "docs/errors.md lacks: {row}");
        }
    }
}
