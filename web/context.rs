//! What a request carries through the routes: its id, the client's address, who it is (for
//! the access log), and the page session once resolved, with the cookies that session needs
//! on the response.

use std::sync::{Arc, Mutex, OnceLock};

use super::error::{ApiError, ErrorCode};
use crate::accounts::users::User;
use crate::crypto::ct_eq;
use crate::i18n::Locale;

/// Per-request facts, put in the request's extensions for handlers (`warp::ext::get`).
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub request_id: String,
    pub client_ip: std::net::IpAddr,
    /// Filled by authentication, read by the access log.
    pub user: Arc<OnceLock<LoggedUser>>,
    /// The page session, resolved by the first filter that asks for it.
    pub session: Arc<tokio::sync::OnceCell<PageSession>>,
    /// `Set-Cookie` values the session needs on whatever response this request ends with.
    cookies: Arc<Mutex<Vec<String>>>,
}

impl RequestContext {
    pub(super) fn new(request_id: String, client_ip: std::net::IpAddr) -> Self {
        Self {
            request_id,
            client_ip,
            user: Arc::default(),
            session: Arc::default(),
            cookies: Arc::default(),
        }
    }

    /// Queues cookies for the response, whichever it turns out to be.
    pub fn set_cookies(&self, cookies: Vec<String>) {
        self.cookies.lock().expect("cookie lock").extend(cookies);
    }

    pub(super) fn take_cookies(&self) -> Vec<String> {
        std::mem::take(&mut *self.cookies.lock().expect("cookie lock"))
    }
}

/// Who made the request, as the access log shows it.
#[derive(Clone, Debug)]
pub struct LoggedUser {
    pub id: i64,
    pub email: String,
}

/// A page request's session: the user if signed in, the CSRF pair, the language.
#[derive(Clone, Debug)]
pub struct PageSession {
    pub user: Option<User>,
    pub session_id: Option<String>,
    pub locale: Locale,
    pub csrf_token: String,
    /// The CSRF cookie was minted on this request, so no form can carry its token yet.
    pub(super) fresh_csrf: bool,
    pub refresh_token: Option<String>,
}

impl PageSession {
    /// Checks a submitted form's CSRF value against this browser's cookie and session.
    pub fn check_csrf(&self, submitted: Option<&str>) -> Result<(), ApiError> {
        match submitted {
            Some(value)
                if !self.fresh_csrf && ct_eq(value.as_bytes(), self.csrf_token.as_bytes()) =>
            {
                Ok(())
            }
            _ => Err(ApiError::new(
                ErrorCode::CsrfFailed,
                "missing or wrong CSRF token",
            )),
        }
    }

    /// A posted form's user: its CSRF token checked first, then that someone is signed in.
    pub fn form_user(&self, form: &super::reply::Form) -> Result<&User, ApiError> {
        self.check_csrf(form.csrf())?;
        self.signed_in()
    }

    pub fn signed_in(&self) -> Result<&User, ApiError> {
        self.user
            .as_ref()
            .ok_or_else(|| ApiError::new(ErrorCode::NotAuthorized, "sign in first"))
    }
}
