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
use crate::i18n::{self, Locale};
use crate::state::BotUnavailable;

/// Declares `ErrorCode` once: each variant with its HTTP status and its number within that
/// status. `ALL` and `spec` come from the same list, so every test that walks `ALL` covers every
/// code by construction. Messages for people live in the message catalogue (`error.<code>`).
macro_rules! error_codes {
    ($($(#[$doc:meta])* $name:ident = ($status:literal, $number:literal),)+) => {
        /// Every error code Herald answers with. The seed's codes keep their numbers.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode {
            $($(#[$doc])* $name,)+
        }

        impl ErrorCode {
            pub const ALL: &[ErrorCode] = &[$(Self::$name,)+];

            /// (HTTP status, number within that status).
            const fn spec(self) -> (u16, u16) {
                match self {
                    $(Self::$name => ($status, $number),)+
                }
            }
        }
    };
}

error_codes! {
    MalformedRequest = (400, 0),
    TokenInvalid = (400, 1),
    TokenExpired = (400, 2),
    EmailTaken = (400, 3),
    WrongCredentials = (400, 4),
    UnsupportedLoginType = (400, 5),
    TooManyApiKeys = (400, 7),
    InvalidIp = (400, 9),
    TooManyWhitelistEntries = (400, 10),
    BadServiceQuery = (400, 11),
    BadSignature = (400, 12),
    TimestampOutOfWindow = (400, 13),
    KakaoSendFailed = (400, 14),
    MissingField = (400, 15),
    OAuthStateInvalid = (400, 16),
    MalformedJson = (400, 17),
    HostNotAllowed = (400, 18),
    InvalidEmail = (400, 19),
    InvalidPassword = (400, 20),
    InvalidField = (400, 21),
    LastLoginMethod = (400, 22),
    ProviderLinkedElsewhere = (400, 23),
    EmailConflict = (400, 24),
    OAuthDenied = (400, 25),
    OAuthExchangeFailed = (400, 26),
    /// A v2 call's nonce was used before (a replay).
    NonceReplayed = (400, 27),
    TooManyRecipients = (400, 28),
    SubjectTooLong = (400, 29),
    TextTooLong = (400, 30),
    HtmlTooLarge = (400, 31),
    DataTooLarge = (400, 32),
    InvalidRecipient = (400, 33),
    /// `send_at` / `delay` outside 10 s .. NOTIFY_MAX_SCHEDULE_DAYS.
    BadSchedule = (400, 34),
    /// A reminder's or a task's time that could not be read.
    TimeUnreadable = (400, 35),
    TimeInPast = (400, 36),
    TimeTooFar = (400, 37),
    /// A local time the clocks skip that day (a daylight-saving change).
    TimeSkipped = (400, 38),
    TooManyReminders = (400, 39),
    NotAuthorized = (401, 1),
    Forbidden = (403, 1),
    CsrfFailed = (403, 2),
    AccountBlocked = (403, 3),
    /// Linking a provider needs the account's address verified first.
    VerifyEmailFirst = (403, 4),
    /// An e-mailed link opened in the session of another account.
    OtherAccount = (403, 5),
    /// A signed call's key is disabled or expired, its owner blocked, or the caller's address
    /// not on its allowlist: one answer for all.
    KeyRefused = (403, 6),
    /// A manager role that reads only, or one that cannot remove the bot.
    ReadOnlyAccess = (403, 7),
    /// A Discord user with no Herald account linked, for what needs one (reminders, keys).
    AccountNotLinked = (403, 8),
    /// A reminder's button pressed by someone else than who set it.
    NotYourReminder = (403, 9),
    /// A task changed by someone neither assigned to it nor managing the server.
    NotYourTask = (403, 10),
    /// The bot lacks a permission in the channel a command named (the answer lists them).
    BotLacksPermission = (403, 11),
    RouteNotFound = (404, 0),
    UserNotFound = (404, 1),
    ApiKeyNotFound = (404, 3),
    WhitelistEntryNotFound = (404, 4),
    OAuthProfileFailed = (404, 5),
    ProviderUnavailable = (404, 6),
    ProviderNotLinked = (404, 7),
    NotificationNotFound = (404, 8),
    /// Not a server the caller manages (or one that does not exist: the same answer).
    GuildNotFound = (404, 9),
    RevisionNotFound = (404, 10),
    MemoNotFound = (404, 11),
    ReminderNotFound = (404, 12),
    TaskNotFound = (404, 13),
    MethodNotAllowed = (405, 0),
    /// Cancel with nothing scheduled, retry with nothing dead.
    WrongState = (409, 1),
    /// The first request with this Idempotency-Key has no answer yet.
    IdempotencyInProgress = (409, 2),
    /// The settings were saved by someone else since the caller's revision.
    SettingsStale = (409, 3),
    MemoTitleTaken = (409, 4),
    LengthRequired = (411, 0),
    PayloadTooLarge = (413, 0),
    UnsupportedMediaType = (415, 0),
    /// The same Idempotency-Key with another body or route.
    IdempotencyKeyReused = (422, 1),
    RateLimited = (429, 1),
    AccountLocked = (429, 2),
    Internal = (500, 0),
    DiscordCallFailed = (500, 1),
    BotUnavailable = (503, 1),
    DatabaseUnavailable = (503, 2),
    EmailUnavailable = (503, 3),
    /// Too much password hashing is queued; retry shortly.
    Busy = (503, 4),
    /// The request ran past HTTP_REQUEST_TIMEOUT_SECS.
    RequestTimeout = (503, 5),
    /// The nonce store (Redis or the database) did not answer: v2 calls wait rather than risk
    /// a replay.
    ReplayCheckUnavailable = (503, 6),
    /// Discord did not answer a call made for the user (their servers, a member's roles).
    DiscordUnreachable = (503, 7),
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        StatusCode::from_u16(self.spec().0).expect("valid status in the table")
    }

    /// The seven-digit code: the HTTP status followed by a zero-padded number.
    pub fn code(self) -> String {
        let (status, number) = self.spec();
        format!("{status}{number:04}")
    }

    /// What the code means, for people, in English (the JSON body's `message`).
    pub fn message(self) -> String {
        self.message_in(Locale::En)
    }

    /// What the code means in `locale` (pages show this).
    pub fn message_in(self, locale: Locale) -> String {
        i18n::text(locale, &format!("error.{}", self.code()))
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
    /// What really went wrong, for the log only (a database error's text, say).
    cause: Option<Cause>,
}

#[derive(Debug)]
struct Cause {
    target: &'static str,
    text: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            retry_after: None,
            cause: None,
        }
    }

    /// A 500 whose cause is logged when the response is built and never shown.
    pub fn internal(target: &'static str, cause: impl std::fmt::Display) -> Self {
        Self {
            cause: Some(Cause {
                target,
                text: cause.to_string(),
            }),
            ..Self::new(ErrorCode::Internal, "an internal error occurred")
        }
    }

    /// The same failure (its logged cause kept) answered with another code and detail.
    pub fn with_code(mut self, code: ErrorCode, detail: impl Into<String>) -> Self {
        self.code = code;
        self.detail = detail.into();
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            status: self.code.status().as_u16(),
            code: self.code.code(),
            message: self.code.message(),
            detail: self.detail.clone(),
        }
    }

    /// Logs the cause of a server-side failure, inside the request's span: the one place
    /// where 5xx causes are written down.
    pub fn log(&self) {
        if !self.code.status().is_server_error() {
            return;
        }
        let code = self.code.code();
        match &self.cause {
            Some(Cause { target: "db", text }) => {
                tracing::error!(target: "db", code, error = %text, "request failed")
            }
            Some(Cause { text, .. }) => tracing::error!(code, error = %text, "request failed"),
            None => tracing::error!(code, detail = %self.detail, "request failed"),
        }
    }
}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        self.log();
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
        Self::database(&err)
    }
}

impl ApiError {
    /// A database failure: a 500 whose cause is logged, or, when every connection stayed busy
    /// for the whole acquire timeout (overload), a 503 worth retrying.
    pub fn database(err: &DbError) -> Self {
        let error = Self::internal("db", err);
        if matches!(err, DbError::Sqlx(sqlx::Error::PoolTimedOut)) {
            return error
                .with_code(
                    ErrorCode::DatabaseUnavailable,
                    "the database is busy; retry shortly",
                )
                .retry_after(1);
        }
        error
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
            A::VerifyEmailFirst => ErrorCode::VerifyEmailFirst,
            A::OtherAccount => ErrorCode::OtherAccount,
            A::Busy => {
                return ApiError::new(ErrorCode::Busy, err.to_string()).retry_after(1);
            }
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
            A::Db(db) => return ApiError::database(db),
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
        // Keep everything, Retry-After included (a limit refused in a filter says when).
        let mut copy = ApiError::new(err.0.code, err.0.detail.clone());
        copy.retry_after = err.0.retry_after;
        copy.cause = err.0.cause.as_ref().map(|c| Cause {
            target: c.target,
            text: c.text.clone(),
        });
        return copy;
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

impl From<crate::keys::KeysError> for ApiError {
    fn from(err: crate::keys::KeysError) -> Self {
        use crate::keys::KeysError as K;
        let code = match &err {
            K::NotFound => ErrorCode::ApiKeyNotFound,
            K::EntryNotFound => ErrorCode::WhitelistEntryNotFound,
            K::TooManyKeys(_) => ErrorCode::TooManyApiKeys,
            K::InvalidIp => ErrorCode::InvalidIp,
            K::TooManyEntries => ErrorCode::TooManyWhitelistEntries,
            K::InvalidField { .. } => ErrorCode::InvalidField,
            K::Db(db) => return ApiError::database(db),
        };
        ApiError::new(code, err.to_string())
    }
}

impl From<crate::keys::calls::CallError> for ApiError {
    fn from(err: crate::keys::calls::CallError) -> Self {
        use crate::keys::calls::CallError as C;
        let code = match &err {
            C::BadQuery => ErrorCode::BadServiceQuery,
            C::MissingSignature(_) | C::MissingHeader(_) | C::BadSignature => {
                ErrorCode::BadSignature
            }
            C::UnknownKey => ErrorCode::ApiKeyNotFound,
            C::UnknownOwner => ErrorCode::UserNotFound,
            C::OutOfWindow(_) => ErrorCode::TimestampOutOfWindow,
            C::Replayed => ErrorCode::NonceReplayed,
            C::Refused => ErrorCode::KeyRefused,
            C::ReplayCheck(cause) => {
                return ApiError::internal("app", cause)
                    .with_code(ErrorCode::ReplayCheckUnavailable, "try again shortly")
                    .retry_after(1);
            }
            C::Db(db) => return ApiError::database(db),
        };
        ApiError::new(code, err.to_string())
    }
}

impl From<crate::notifications::NotifyError> for ApiError {
    fn from(err: crate::notifications::NotifyError) -> Self {
        use crate::notifications::NotifyError as N;
        let code = match &err {
            N::InvalidField { .. } => ErrorCode::InvalidField,
            N::Missing(_) => ErrorCode::MissingField,
            N::TooLarge { field, .. } => match *field {
                "subject" => ErrorCode::SubjectTooLong,
                "text" => ErrorCode::TextTooLong,
                "html" => ErrorCode::HtmlTooLarge,
                _ => ErrorCode::DataTooLarge,
            },
            N::TooManyRecipients(_) => ErrorCode::TooManyRecipients,
            N::InvalidRecipient { .. } => ErrorCode::InvalidRecipient,
            N::BadSchedule { .. } => ErrorCode::BadSchedule,
            N::NotFound => ErrorCode::NotificationNotFound,
            N::WrongState(_) => ErrorCode::WrongState,
            N::KeyReused => ErrorCode::IdempotencyKeyReused,
            N::InProgress => {
                return ApiError::new(ErrorCode::IdempotencyInProgress, err.to_string())
                    .retry_after(1);
            }
            N::Db(db) => return ApiError::database(db),
        };
        ApiError::new(code, err.to_string())
    }
}

impl From<crate::memos::MemoError> for ApiError {
    fn from(err: crate::memos::MemoError) -> Self {
        use crate::memos::MemoError as M;
        let detail = err.to_string();
        let code = match err {
            M::Invalid { .. } => ErrorCode::InvalidField,
            M::NotFound => ErrorCode::MemoNotFound,
            M::TitleTaken => ErrorCode::MemoTitleTaken,
            M::Guilds(guilds) => return guilds.into(),
            M::Db(db) => return ApiError::database(&db),
        };
        ApiError::new(code, detail)
    }
}

impl From<crate::reminders::ReminderError> for ApiError {
    fn from(err: crate::reminders::ReminderError) -> Self {
        use crate::reminders::ReminderError as R;
        use crate::when::WhenError as W;
        let detail = err.to_string();
        let code = match err {
            R::NotLinked => ErrorCode::AccountNotLinked,
            R::Time(W::Unreadable(_)) => ErrorCode::TimeUnreadable,
            R::Time(W::Past) => ErrorCode::TimeInPast,
            R::Time(W::TooFar) => ErrorCode::TimeTooFar,
            R::Time(W::Skipped) => ErrorCode::TimeSkipped,
            R::Invalid { .. } => ErrorCode::InvalidField,
            R::NotFound => ErrorCode::ReminderNotFound,
            R::TooMany => ErrorCode::TooManyReminders,
            R::NotYours => ErrorCode::NotYourReminder,
            R::Guilds(guilds) => return guilds.into(),
            R::Accounts(accounts) => return accounts.into(),
            R::Db(db) => return ApiError::database(&db),
        };
        ApiError::new(code, detail)
    }
}

impl From<crate::tasks::TaskError> for ApiError {
    fn from(err: crate::tasks::TaskError) -> Self {
        use crate::tasks::TaskError as T;
        let detail = err.to_string();
        let code = match err {
            T::Invalid { .. } => ErrorCode::InvalidField,
            T::NotFound => ErrorCode::TaskNotFound,
            T::NotAllowed => ErrorCode::NotYourTask,
            T::Guilds(guilds) => return guilds.into(),
            T::Accounts(accounts) => return accounts.into(),
            T::Db(db) => return ApiError::database(&db),
        };
        ApiError::new(code, detail)
    }
}

impl From<crate::guilds::GuildsError> for ApiError {
    fn from(err: crate::guilds::GuildsError) -> Self {
        use crate::guilds::GuildsError as G;
        let code = match &err {
            G::DiscordNotLinked => ErrorCode::ProviderNotLinked,
            G::Discord(cause) => {
                tracing::warn!(error = %cause, "a Discord call for the dashboard failed");
                return ApiError::new(
                    ErrorCode::DiscordUnreachable,
                    "Discord did not answer; retry shortly",
                )
                .retry_after(5);
            }
            G::Bot(bot) => return ApiError::new(ErrorCode::BotUnavailable, bot.to_string()),
            G::NotFound => ErrorCode::GuildNotFound,
            G::ReadOnly => ErrorCode::ReadOnlyAccess,
            G::Stale { .. } => ErrorCode::SettingsStale,
            G::Invalid { .. } => ErrorCode::InvalidField,
            G::RevisionNotFound => ErrorCode::RevisionNotFound,
            G::InviteUnavailable => ErrorCode::ProviderUnavailable,
            G::ManagerRolesLocked => ErrorCode::ReadOnlyAccess,
            G::BotCannotPost { .. } => ErrorCode::BotLacksPermission,
            G::NothingDead => ErrorCode::WrongState,
            G::Db(db) => return ApiError::database(db),
        };
        ApiError::new(code, err.to_string())
    }
}
