//! Accounts: e-mail + password and social sign-in, sessions and tokens, e-mail verification and
//! password reset, profiles and administration. `Accounts` is the one service the web pages, the
//! JSON API and the CLI call; its SQL lives in the submodules.

pub mod email;
pub mod email_tokens;
pub mod jwt;
pub mod limits;
pub mod oauth;
pub mod password;
pub mod sessions;
pub mod social;
pub mod users;

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::json;
use url::Url;

use crate::config::Config;
use crate::crypto::Keys;
use crate::db::{Db, DbError};
use crate::i18n::Locale;
use crate::mail::{MailError, Mailer};
use email::Email;
use email_tokens::{Purpose, Redeemed};
use jwt::Jwt;
use limits::Limits;
use oauth::{OAuthError, Providers};
use password::Verdict;
use sessions::{Origin, SessionError, Tokens};
use users::{NewUser, ProfileChange, Role, Status, User};

#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    #[error("the e-mail address is not valid")]
    InvalidEmail,
    #[error("the password must be 8 to 1024 characters long")]
    InvalidPassword,
    #[error("invalid {field}: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("the e-mail address is already registered")]
    EmailTaken,
    #[error("wrong e-mail or password")]
    WrongCredentials,
    #[error("the account is blocked")]
    Blocked,
    #[error("too many requests")]
    RateLimited { retry_after: u64 },
    #[error("too many failed sign-ins for this account")]
    Locked { retry_after: u64 },
    #[error("the token is invalid or has been used")]
    TokenInvalid,
    #[error("the token has expired")]
    TokenExpired,
    #[error("not signed in: {0}")]
    Unauthenticated(&'static str),
    #[error("not allowed: {0}")]
    Forbidden(&'static str),
    #[error("the user was not found")]
    UserNotFound,
    #[error("this is the account's last way to sign in")]
    LastLoginMethod,
    #[error("e-mail cannot be sent: SMTP is not configured")]
    EmailUnavailable,
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<SessionError> for AccountsError {
    fn from(err: SessionError) -> Self {
        match err {
            SessionError::RefreshInvalid => AccountsError::TokenInvalid,
            SessionError::AccessExpired => {
                AccountsError::Unauthenticated("the access token has expired")
            }
            SessionError::AccessInvalid => {
                AccountsError::Unauthenticated("the access token is invalid")
            }
            SessionError::Ended => AccountsError::Unauthenticated("the session has ended"),
            SessionError::Db(err) => AccountsError::Db(err),
        }
    }
}

impl From<sqlx::Error> for AccountsError {
    fn from(err: sqlx::Error) -> Self {
        AccountsError::Db(err.into())
    }
}

pub type Result<T, E = AccountsError> = std::result::Result<T, E>;

/// Fields a user may set at registration besides the credentials.
#[derive(Debug, Default)]
pub struct Registration {
    pub email: String,
    pub password: String,
    pub display_name: Option<String>,
    pub locale: Option<String>,
}

pub struct Accounts {
    db: Db,
    keys: Keys,
    jwt: Jwt,
    mailer: Arc<Mailer>,
    limits: Limits,
    public_url: Url,
    refresh_ttl: i64,
    providers: Providers,
}

impl Accounts {
    pub fn new(config: &Config, db: Db, mailer: Mailer) -> Self {
        let keys = Keys::derive(&config.secret_key);
        let jwt = Jwt::new(
            &keys.jwt,
            config.public_url.as_str(),
            config.auth.access_ttl.as_secs() as i64,
        );
        Self {
            providers: Providers::new(config),
            db,
            keys,
            jwt,
            mailer: Arc::new(mailer),
            limits: Limits::default(),
            public_url: config.public_url.clone(),
            refresh_ttl: config.auth.refresh_ttl.as_secs() as i64,
        }
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub fn providers(&self) -> &Providers {
        &self.providers
    }

    pub fn refresh_ttl(&self) -> i64 {
        self.refresh_ttl
    }

    /// Creates an account with e-mail and password and signs it in.
    pub async fn register(
        &self,
        form: Registration,
        ip: IpAddr,
        origin: &Origin,
    ) -> Result<(User, Tokens)> {
        self.limits
            .register_ip
            .take(&ip.to_string())
            .map_err(|retry_after| AccountsError::RateLimited { retry_after })?;
        let email = Email::parse(&form.email).ok_or(AccountsError::InvalidEmail)?;
        if !password::acceptable(&form.password) {
            return Err(AccountsError::InvalidPassword);
        }
        let display_name = optional_text("display_name", form.display_name, 100)?;
        let locale = form.locale.map(|l| locale_code(&l)).transpose()?;
        let hash = hash_password(form.password).await;
        let mut conn = self.db.pool().acquire().await?;
        let new = NewUser {
            email: Some(email.clone()),
            password_hash: Some(hash),
            display_name,
            locale,
            ..NewUser::default()
        };
        let id = users::insert(&mut conn, new).await.map_err(|err| {
            if err.is_unique_violation() {
                AccountsError::EmailTaken
            } else {
                err.into()
            }
        })?;
        drop(conn);
        let user = self.user(id).await?;
        let tokens = sessions::start(&self.db, &self.jwt, id, origin, self.refresh_ttl).await?;
        // Best effort: the account exists whether or not the e-mail goes out now.
        if let Err(err) = self.send_verification(&user).await {
            tracing::warn!(user_id = id, error = %err, "verification e-mail not sent at registration");
        }
        Ok((user, tokens))
    }

    /// Signs in with e-mail and password. Unknown e-mail and wrong password answer alike, after
    /// the same work.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        ip: IpAddr,
        origin: &Origin,
    ) -> Result<(User, Tokens)> {
        self.limits
            .login_ip
            .take(&ip.to_string())
            .map_err(|retry_after| AccountsError::RateLimited { retry_after })?;
        let key = email.trim().to_lowercase();
        self.limits
            .login_failures
            .check(&key)
            .map_err(|retry_after| AccountsError::Locked { retry_after })?;
        let user = match Email::parse(email) {
            Some(email) => users::by_email(&self.db, &email).await?,
            None => None,
        };
        let user = user.filter(|u| u.status != Status::Deleted);
        let stored = user.as_ref().and_then(|u| u.password_hash.clone());
        let verdict = verify_password(password.to_owned(), stored).await;
        let user = match (user, verdict) {
            (Some(user), verdict @ (Verdict::Valid | Verdict::ValidNeedsUpgrade)) => {
                if verdict == Verdict::ValidNeedsUpgrade {
                    let hash = hash_password(password.to_owned()).await;
                    let mut conn = self.db.pool().acquire().await?;
                    users::set_password_hash(&mut conn, user.id, &hash).await?;
                    tracing::info!(user_id = user.id, "password hash upgraded to argon2id");
                }
                user
            }
            _ => {
                self.limits.login_failures.hit(&key);
                return Err(AccountsError::WrongCredentials);
            }
        };
        if user.status == Status::Blocked {
            return Err(AccountsError::Blocked);
        }
        self.limits.login_failures.reset(&key);
        let tokens =
            sessions::start(&self.db, &self.jwt, user.id, origin, self.refresh_ttl).await?;
        Ok((user, tokens))
    }

    /// Spends a refresh token for the next pair; a spent one revokes its session.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens> {
        Ok(sessions::rotate(&self.db, &self.jwt, refresh_token).await?)
    }

    /// Starts a session for a user who proved who they are another way (social sign-in).
    pub async fn start_session(&self, user_id: i64, origin: &Origin) -> Result<Tokens> {
        Ok(sessions::start(&self.db, &self.jwt, user_id, origin, self.refresh_ttl).await?)
    }

    /// The active user behind an access token, and the session it belongs to.
    pub async fn authenticate(&self, access_token: &str) -> Result<(User, String)> {
        Ok(sessions::authenticate(&self.db, &self.jwt, access_token).await?)
    }

    pub async fn logout(&self, session_id: &str) -> Result<()> {
        Ok(sessions::revoke(&self.db, session_id).await?)
    }

    /// Ends the session a refresh token belongs to (pages sign out with their cookie).
    pub async fn logout_refresh(&self, refresh_token: &str) -> Result<()> {
        if let Some(session) = sessions::session_of_refresh(&self.db, refresh_token).await? {
            sessions::revoke(&self.db, &session).await?;
        }
        Ok(())
    }

    pub async fn logout_everywhere(&self, user_id: i64) -> Result<()> {
        let mut conn = self.db.pool().acquire().await?;
        Ok(sessions::revoke_all(&mut conn, user_id).await?)
    }

    pub async fn user(&self, id: i64) -> Result<User> {
        users::by_id(&self.db, id)
            .await?
            .ok_or(AccountsError::UserNotFound)
    }

    /// Sends a verification link to the user's address (limited per address and per IP).
    pub async fn request_verification(&self, user: &User, ip: IpAddr) -> Result<()> {
        self.limit_email(ip, user.email.as_deref().unwrap_or_default())?;
        self.send_verification(user).await
    }

    async fn send_verification(&self, user: &User) -> Result<()> {
        let Some(email) = user.email.as_deref().filter(|_| !user.email_verified()) else {
            return Ok(());
        };
        if !self.mailer.available() {
            return Err(AccountsError::EmailUnavailable);
        }
        let token = email_tokens::create(&self.db, user.id, email, Purpose::Verify).await?;
        let link = self.link("verify-email", &token);
        self.send_mail_later(email, "verify", user_locale(user), json!({ "link": link }));
        Ok(())
    }

    /// Marks the address a verification token was sent to as verified.
    pub async fn verify_email(&self, token: &str) -> Result<i64> {
        let mut tx = self.db.pool().begin().await?;
        let (user_id, email) =
            redeemed(email_tokens::redeem(&mut tx, token, Purpose::Verify).await?)?;
        // The address may have changed since the link was sent: then the token proves nothing.
        if !users::mark_email_verified(&mut tx, user_id, &email).await? {
            return Err(AccountsError::TokenInvalid);
        }
        tx.commit().await?;
        Ok(user_id)
    }

    /// Sends a reset link if an active account has this address. The answer never says whether
    /// one does, and takes the same time either way (the e-mail goes out in the background).
    pub async fn forgot_password(&self, email: &str, ip: IpAddr) -> Result<()> {
        if !self.mailer.available() {
            return Err(AccountsError::EmailUnavailable);
        }
        let email = Email::parse(email).ok_or(AccountsError::InvalidEmail)?;
        self.limit_email(ip, email.as_str())?;
        let user = users::by_email(&self.db, &email).await?;
        if let Some(user) = user.filter(|u| u.status == Status::Active) {
            let token =
                email_tokens::create(&self.db, user.id, email.as_str(), Purpose::Reset).await?;
            let link = self.link("reset-password", &token);
            self.send_mail_later(
                email.as_str(),
                "reset",
                user_locale(&user),
                json!({ "link": link }),
            );
        }
        Ok(())
    }

    /// Sets a new password from a reset token, and signs the account out everywhere.
    pub async fn reset_password(&self, token: &str, new_password: &str) -> Result<()> {
        if !password::acceptable(new_password) {
            return Err(AccountsError::InvalidPassword);
        }
        let hash = hash_password(new_password.to_owned()).await;
        let mut tx = self.db.pool().begin().await?;
        let (user_id, email) =
            redeemed(email_tokens::redeem(&mut tx, token, Purpose::Reset).await?)?;
        users::set_password_hash(&mut tx, user_id, &hash).await?;
        // Receiving the link proves the address.
        users::mark_email_verified(&mut tx, user_id, &email).await?;
        sessions::revoke_all(&mut tx, user_id).await?;
        tx.commit().await?;
        self.limits.login_failures.reset(&email);
        Ok(())
    }

    /// Changes the user's own profile fields; nothing else (no role, no status) is reachable.
    pub async fn update_profile(&self, user_id: i64, change: ProfileUpdate) -> Result<User> {
        let change = ProfileChange {
            display_name: change
                .display_name
                .map(|v| optional_text("display_name", v, 100))
                .transpose()?,
            nickname: change
                .nickname
                .map(|v| optional_text("nickname", v, 100))
                .transpose()?,
            avatar_url: change.avatar_url.map(avatar_url).transpose()?,
            locale: change.locale.map(|l| locale_code(&l)).transpose()?,
        };
        users::update_profile(&self.db, user_id, change).await?;
        self.user(user_id).await
    }

    /// A page of users, for administrators.
    pub async fn list_users(
        &self,
        actor: &User,
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<User>, u64)> {
        require_role(actor, Role::Admin)?;
        Ok(users::page(&self.db, page.max(1), per_page.clamp(1, 100)).await?)
    }

    /// Changes another user's role or status, for administrators. Blocking or deleting signs
    /// the user out everywhere.
    pub async fn administer(
        &self,
        actor: &User,
        target: i64,
        role: Option<Role>,
        status: Option<Status>,
    ) -> Result<User> {
        require_role(actor, Role::Admin)?;
        if actor.id == target {
            return Err(AccountsError::Forbidden(
                "administrators cannot change their own role or status",
            ));
        }
        let user = self.user(target).await?;
        let (role, status) = (role.unwrap_or(user.role), status.unwrap_or(user.status));
        users::set_role_and_status(&self.db, target, role, status).await?;
        if status != Status::Active {
            let mut conn = self.db.pool().acquire().await?;
            sessions::revoke_all(&mut conn, target).await?;
        }
        tracing::info!(
            actor = actor.id,
            target,
            role = role.as_str(),
            status = status.as_str(),
            "user administered"
        );
        self.user(target).await
    }

    /// First setup: an administrator with a verified e-mail (`herald user create-admin`).
    pub async fn create_admin(&self, email: &str, password: &str) -> Result<i64> {
        let email = Email::parse(email).ok_or(AccountsError::InvalidEmail)?;
        if !password::acceptable(password) {
            return Err(AccountsError::InvalidPassword);
        }
        let hash = hash_password(password.to_owned()).await;
        let mut conn = self.db.pool().acquire().await?;
        let new = NewUser {
            email: Some(email),
            password_hash: Some(hash),
            email_verified: true,
            role: Some(Role::Admin),
            ..NewUser::default()
        };
        users::insert(&mut conn, new).await.map_err(|err| {
            if err.is_unique_violation() {
                AccountsError::EmailTaken
            } else {
                err.into()
            }
        })
    }

    fn limit_email(&self, ip: IpAddr, address: &str) -> Result<()> {
        let limited = |retry_after| AccountsError::RateLimited { retry_after };
        self.limits
            .email_ip
            .take(&ip.to_string())
            .map_err(limited)?;
        self.limits
            .email_address
            .take(&address.to_lowercase())
            .map_err(limited)
    }

    fn link(&self, page: &str, token: &str) -> String {
        let mut url = self.public_url.join(page).expect("a relative path joins");
        url.query_pairs_mut().append_pair("token", token);
        url.to_string()
    }

    /// Sends in the background so that answers do not wait on (or reveal) the SMTP exchange.
    pub(crate) fn send_mail_later(
        &self,
        to: &str,
        template: &'static str,
        locale: Locale,
        data: serde_json::Value,
    ) {
        let (mailer, to) = (self.mailer.clone(), to.to_owned());
        tokio::spawn(async move {
            if let Err(err) = mailer.send(&to, template, locale, data).await {
                tracing::error!(template, error = %err, "e-mail not sent");
            }
        });
    }

    pub(crate) fn mailer(&self) -> &Arc<Mailer> {
        &self.mailer
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }
}

/// Profile fields as a client sends them: outer `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Default)]
pub struct ProfileUpdate {
    pub display_name: Option<Option<String>>,
    pub nickname: Option<Option<String>>,
    pub avatar_url: Option<Option<String>>,
    pub locale: Option<String>,
}

fn require_role(actor: &User, role: Role) -> Result<()> {
    if actor.role >= role {
        Ok(())
    } else {
        Err(AccountsError::Forbidden("this needs a higher role"))
    }
}

fn redeemed(result: Redeemed) -> Result<(i64, String)> {
    match result {
        Redeemed::Valid(user_id, email) => Ok((user_id, email)),
        Redeemed::Expired => Err(AccountsError::TokenExpired),
        Redeemed::Invalid => Err(AccountsError::TokenInvalid),
    }
}

pub fn user_locale(user: &User) -> Locale {
    Locale::parse(&user.locale).unwrap_or(Locale::En)
}

/// Trimmed text of at most `max` characters; blank means none.
fn optional_text(field: &'static str, value: Option<String>, max: usize) -> Result<Option<String>> {
    let value = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    match value {
        Some(v) if v.chars().count() > max || v.chars().any(char::is_control) => {
            Err(AccountsError::InvalidField {
                field,
                reason: format!("at most {max} printable characters"),
            })
        }
        other => Ok(other),
    }
}

fn avatar_url(value: Option<String>) -> Result<Option<String>> {
    let value = optional_text("avatar_url", value, 1024)?;
    if let Some(url) = &value {
        let ok = Url::parse(url).is_ok_and(|u| u.scheme() == "https");
        if !ok {
            return Err(AccountsError::InvalidField {
                field: "avatar_url",
                reason: "an https URL".into(),
            });
        }
    }
    Ok(value)
}

fn locale_code(raw: &str) -> Result<String> {
    Locale::parse(raw)
        .map(|l| l.code().to_owned())
        .ok_or_else(|| AccountsError::InvalidField {
            field: "locale",
            reason: "en or ko".into(),
        })
}

/// Argon2 takes 19 MiB and real CPU per call: at most this many run at once, so a flood of
/// sign-ins queues instead of exhausting memory.
static HASHING: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    tokio::sync::Semaphore::new(cores * 2)
});

/// Runs password work on the blocking pool (it would stall the async workers), bounded.
async fn password_work<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    let _permit = HASHING
        .acquire()
        .await
        .expect("the semaphore is never closed");
    tokio::task::spawn_blocking(work)
        .await
        .expect("password hashing does not panic")
}

async fn hash_password(password: String) -> String {
    password_work(move || password::hash(&password)).await
}

async fn verify_password(password: String, stored: Option<String>) -> Verdict {
    password_work(move || password::verify(&password, stored.as_deref())).await
}

impl From<MailError> for AccountsError {
    fn from(err: MailError) -> Self {
        tracing::error!(error = %err, "mail error");
        AccountsError::EmailUnavailable
    }
}
