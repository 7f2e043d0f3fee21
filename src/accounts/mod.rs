//! Accounts: e-mail + password and social sign-in, sessions and tokens, e-mail verification and
//! password reset, profiles and administration. `Accounts` is the one service the web pages, the
//! JSON API and the CLI call; its SQL lives in the submodules.

pub mod email;
pub mod email_tokens;
pub mod hashing;
pub mod jwt;
pub mod limits;
pub mod messages;
pub mod oauth;
pub mod password;
pub mod profile;
pub mod sessions;
pub mod social;
pub mod users;

use std::sync::Arc;

use crate::cache::TtlCache;
use crate::config::Config;
use crate::crypto::Keys;
use crate::db::{Db, DbError, on_unique};
use crate::limits::{Limiter, RetryAfter, Ticket, ip_subject};
use crate::mail::{MailQueue, Mailer};
use email::Email;
use email_tokens::{Purpose, Redeemed};
use hashing::{Busy, Hasher, Lane};
use jwt::Jwt;
use limits::*;
use messages::Messages;
use oauth::{OAuthError, Provider, Providers};
use password::Verdict;
use sessions::{Origin, SessionError, Sessions, Tokens};
use users::{NewUser, Role, Status, User};

pub use profile::ProfileUpdate;

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
    #[error("verify the account's e-mail address first")]
    VerifyEmailFirst,
    #[error("this link belongs to another account: sign in as that account to use it")]
    OtherAccount,
    #[error("the user was not found")]
    UserNotFound,
    #[error("this is the account's last way to sign in")]
    LastLoginMethod,
    #[error("e-mail cannot be sent: SMTP is not configured")]
    EmailUnavailable,
    #[error("too many password checks are queued; try again in a moment")]
    Busy,
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

impl From<Busy> for AccountsError {
    fn from(_: Busy) -> Self {
        AccountsError::Busy
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

/// How a verification link ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// The address is verified now.
    Now,
    /// The link was used before and the address is verified: nothing to do.
    Already,
}

/// A browser's session, resumed from its cookies.
#[derive(Debug, Default)]
pub struct Resumed {
    /// The user and the session, when the cookies still sign someone in.
    pub signed_in: Option<(User, String)>,
    /// New tokens, when the session was renewed with the refresh token.
    pub renewed: Option<Tokens>,
    /// The refresh token is unknown, spent or revoked: its cookie should go.
    pub refresh_dead: bool,
}

/// How a password reset ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResetDone {
    /// Providers unlinked because they were linked before the address was ever proven.
    pub unlinked: Vec<Provider>,
}

pub struct Accounts {
    db: Db,
    keys: Keys,
    sessions: Sessions,
    messages: Messages,
    limiter: Arc<Limiter>,
    hasher: Hasher,
    providers: Providers,
    /// User id -> their linked provider accounts (see `linked_accounts`).
    linked: TtlCache<i64, Vec<social::LinkedAccount>>,
}

impl Accounts {
    pub fn new(
        config: &Config,
        db: Db,
        mailer: Arc<Mailer>,
        queue: Arc<dyn MailQueue>,
        limiter: Arc<Limiter>,
    ) -> Self {
        let keys = Keys::derive(&config.secret_key);
        let jwt = Jwt::new(
            &keys.jwt,
            config.public_url.as_str(),
            config.auth.access_ttl.as_secs() as i64,
        );
        let ttl = config.auth.refresh_ttl.as_secs() as i64;
        Self {
            sessions: Sessions::new(db.clone(), jwt, keys.clone(), ttl),
            messages: Messages::new(
                db.clone(),
                mailer,
                queue,
                limiter.clone(),
                config.public_url.clone(),
            ),
            providers: Providers::new(config),
            hasher: Hasher::default(),
            linked: TtlCache::new(sessions::CACHE_TTL, 100_000),
            db,
            keys,
            limiter,
        }
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub fn providers(&self) -> &Providers {
        &self.providers
    }

    pub fn hasher(&self) -> &Hasher {
        &self.hasher
    }

    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    pub(crate) fn messages(&self) -> &Messages {
        &self.messages
    }

    pub(crate) fn linked_cache(&self) -> &TtlCache<i64, Vec<social::LinkedAccount>> {
        &self.linked
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    pub fn refresh_ttl(&self) -> i64 {
        self.sessions.ttl_secs()
    }

    /// Creates an account with e-mail and password and signs it in.
    pub async fn register(&self, form: Registration, origin: &Origin) -> Result<(User, Tokens)> {
        let source = ip_subject(origin.ip);
        let ticket = self
            .limiter
            .take(&REGISTER_IP, &[&source])
            .await
            .map_err(rate_limited)?;
        let checked = self.check_registration(&form);
        let new = match checked {
            Ok(new) => new,
            Err(err) => {
                // Input the server refused costs no registration from the caller's budget.
                self.limiter.refund(ticket).await;
                return Err(err);
            }
        };
        let hash = self.hasher.hash(Lane::Other, form.password).await?;
        let mut tx = self.db.begin_write().await?;
        let id = users::insert(
            &mut tx,
            NewUser {
                password_hash: Some(hash),
                ..new
            },
        )
        .await
        .map_err(|err| on_unique(err, AccountsError::EmailTaken))?;
        tx.commit().await?;
        let user = self.user(id).await?;
        let tokens = self.sessions.start(id, origin).await?;
        if self.messages.available() {
            self.messages.verification(&user, Vec::new());
        }
        Ok((user, tokens))
    }

    fn check_registration(&self, form: &Registration) -> Result<NewUser> {
        let email = Email::parse(&form.email).ok_or(AccountsError::InvalidEmail)?;
        if !password::acceptable(&form.password) {
            return Err(AccountsError::InvalidPassword);
        }
        Ok(NewUser {
            email: Some(email),
            display_name: profile::name("display_name", form.display_name.clone())?,
            locale: form.locale.as_deref().map(profile::locale).transpose()?,
            ..NewUser::default()
        })
    }

    /// Signs in with e-mail and password. Unknown e-mail and wrong password answer alike, after
    /// the same work. The attempt is counted against the locks before the password is checked,
    /// so concurrent guesses cannot overtake the count.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        origin: &Origin,
    ) -> Result<(User, Tokens)> {
        let source = ip_subject(origin.ip);
        self.limiter
            .take(&LOGIN_IP, &[&source])
            .await
            .map_err(rate_limited)?;
        let email = Email::parse(email).ok_or(AccountsError::InvalidEmail)?;
        let user = users::by_email(&self.db, &email)
            .await?
            .filter(|u| u.status != Status::Deleted);
        // The lock belongs to the account (an unknown address stands for itself).
        let account = match &user {
            Some(u) => format!("user:{}", u.id),
            None => format!("email:{email}"),
        };
        let trusted = user
            .as_ref()
            .is_some_and(|u| self.device_trusted(origin.device.as_deref(), u));
        let attempt = self.reserve_attempt(&account, &source, trusted).await?;
        let stored = user.as_ref().and_then(|u| u.password_hash.clone());
        let verdict = match self
            .hasher
            .verify(Lane::SignIn, password.to_owned(), stored)
            .await
        {
            Ok(verdict) => verdict,
            Err(busy) => {
                // Nothing was checked: the attempt does not count.
                for ticket in attempt {
                    self.limiter.refund(ticket).await;
                }
                return Err(busy.into());
            }
        };
        let Some(user) = user.filter(|_| verdict != Verdict::Invalid) else {
            return Err(AccountsError::WrongCredentials);
        };
        if user.status == Status::Blocked {
            // The attempt stays counted: a blocked account is no place to test passwords.
            return Err(AccountsError::Blocked);
        }
        // A correct password: this source starts afresh, the account-wide count gets it back.
        self.limiter
            .reset(&LOGIN_SOURCE, &[&account, &source])
            .await;
        if let Some(ticket) = attempt.get(1).copied() {
            self.limiter.refund(ticket).await;
        }
        if verdict == Verdict::ValidNeedsUpgrade {
            self.upgrade_hash(user.id, password).await;
        }
        let tokens = self.sessions.start(user.id, origin).await?;
        Ok((user, tokens))
    }

    /// Counts a sign-in attempt against the account's lock for this source and, unless the
    /// browser is trusted, its account-wide ceiling. Returns the tickets (source first).
    async fn reserve_attempt(
        &self,
        account: &str,
        source: &str,
        trusted: bool,
    ) -> Result<Vec<Ticket>> {
        let locked = |RetryAfter(retry_after)| AccountsError::Locked { retry_after };
        let by_source = self
            .limiter
            .take(&LOGIN_SOURCE, &[account, source])
            .await
            .map_err(locked)?;
        if trusted {
            return Ok(vec![by_source]);
        }
        match self.limiter.take(&LOGIN_ACCOUNT, &[account]).await {
            Ok(by_account) => Ok(vec![by_source, by_account]),
            Err(retry) => {
                self.limiter.refund(by_source).await;
                Err(locked(retry))
            }
        }
    }

    /// Rehashes a seed bcrypt password as argon2id; a busy moment just postpones it.
    async fn upgrade_hash(&self, user_id: i64, password: &str) {
        let Ok(hash) = self.hasher.hash(Lane::SignIn, password.to_owned()).await else {
            return;
        };
        let upgraded = async {
            let mut conn = self.db.writer().acquire().await?;
            users::set_password_hash(&mut conn, user_id, &hash).await
        };
        match upgraded.await {
            Ok(()) => tracing::info!(user_id, "password hash upgraded to argon2id"),
            Err(err) => tracing::warn!(user_id, error = %err, "password hash not upgraded"),
        }
    }

    /// A device token for a browser that just signed in as `user`: later sign-ins from it are
    /// not held by the account-wide lock a distributed guesser may have set off. It names the
    /// user, when it was issued and the password it was issued under: a new password (a
    /// reset) or age (`DEVICE_TTL_SECS`) ends it.
    pub fn device_token(&self, user: &User) -> String {
        let payload = format!(
            "{}:{}:{}",
            user.id,
            crate::db::now_unix(),
            password_fingerprint(user)
        );
        self.keys.sign("device", payload.as_bytes())
    }

    fn device_trusted(&self, token: Option<&str>, user: &User) -> bool {
        let Some(payload) = token
            .and_then(|t| self.keys.verify("device", t))
            .and_then(|payload| String::from_utf8(payload).ok())
        else {
            return false;
        };
        let mut parts = payload.splitn(3, ':');
        let (Some(id), Some(issued), Some(fingerprint)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        let fresh = issued
            .parse::<i64>()
            .is_ok_and(|at| crate::db::now_unix() - at < DEVICE_TTL_SECS);
        id == user.id.to_string() && fresh && fingerprint == password_fingerprint(user)
    }

    /// Resumes a browser's session from its cookies: the access token if it still works,
    /// else a renewal with the refresh token (which rotates it). A refresh token that is dead
    /// says so, so its cookie can go; a failure of the database does not count as dead.
    pub async fn resume(&self, access: Option<&str>, refresh: Option<&str>) -> Resumed {
        if let Some(token) = access
            && let Ok((user, session_id)) = self.authenticate(token).await
        {
            return Resumed {
                signed_in: Some((user, session_id)),
                ..Resumed::default()
            };
        }
        let Some(refresh) = refresh else {
            return Resumed::default();
        };
        match self.refresh(refresh).await {
            Ok(tokens) => Resumed {
                signed_in: self.authenticate(&tokens.access_token).await.ok(),
                renewed: Some(tokens),
                refresh_dead: false,
            },
            Err(AccountsError::TokenInvalid) => Resumed {
                refresh_dead: true,
                ..Resumed::default()
            },
            Err(err) => {
                tracing::warn!(error = %err, "session not renewed");
                Resumed::default()
            }
        }
    }

    /// Spends a refresh token for the next pair (see `Sessions::rotate`).
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens> {
        Ok(self.sessions.rotate(refresh_token).await?)
    }

    /// Starts a session for a user who proved who they are another way (social sign-in).
    pub async fn start_session(&self, user_id: i64, origin: &Origin) -> Result<Tokens> {
        Ok(self.sessions.start(user_id, origin).await?)
    }

    /// The active user behind an access token, and the session it belongs to.
    pub async fn authenticate(&self, access_token: &str) -> Result<(User, String)> {
        Ok(self.sessions.authenticate(access_token).await?)
    }

    pub async fn logout(&self, session_id: &str) -> Result<()> {
        Ok(self.sessions.revoke(session_id).await?)
    }

    /// Ends the session a refresh token belongs to (pages sign out with their cookie).
    pub async fn logout_refresh(&self, refresh_token: &str) -> Result<()> {
        if let Some(session) = self.sessions.session_of_refresh(refresh_token).await? {
            self.sessions.revoke(&session).await?;
        }
        Ok(())
    }

    pub async fn logout_everywhere(&self, user_id: i64) -> Result<()> {
        let mut conn = self.db.writer().acquire().await?;
        sessions::revoke_all(&mut conn, user_id).await?;
        self.sessions.forget_user(user_id);
        Ok(())
    }

    pub async fn user(&self, id: i64) -> Result<User> {
        users::by_id(&self.db, id)
            .await?
            .ok_or(AccountsError::UserNotFound)
    }

    /// Sends a verification link to the user's address (limited per address and per IP).
    pub async fn request_verification(&self, user: &User, origin: &Origin) -> Result<()> {
        let Some(email) = user.email.as_ref().filter(|_| !user.email_verified()) else {
            return Ok(());
        };
        if !self.messages.available() {
            return Err(AccountsError::EmailUnavailable);
        }
        let tickets = self.take_email_quota(origin, email).await?;
        self.messages.verification(user, tickets);
        Ok(())
    }

    /// Marks the address a verification token was sent to as verified. Only the account's own
    /// session may do it: whoever registered an address that is not theirs cannot have its
    /// owner confirm it for them by clicking the link. A link used before for the same, still
    /// current and verified address answers `Already`.
    pub async fn verify_email(&self, token: &str, signed_in: i64) -> Result<Verified> {
        let mut tx = self.db.begin_write().await?;
        let redeemed = email_tokens::redeem(&self.db, &mut tx, token, Purpose::Verify).await?;
        let (user_id, email) = match redeemed {
            Redeemed::Valid(user_id, _) | Redeemed::Used(user_id, _) if user_id != signed_in => {
                // Dropping the transaction un-spends the token.
                return Err(AccountsError::OtherAccount);
            }
            Redeemed::Valid(user_id, email) => (user_id, email),
            Redeemed::Used(user_id, email) => {
                let state = users::email_state(&mut tx, user_id).await?;
                return match state {
                    Some((Some(current), true)) if current == email => Ok(Verified::Already),
                    _ => Err(AccountsError::TokenInvalid),
                };
            }
            other => return Err(dead_token(other)),
        };
        // The address may have changed since the link was sent: then the token proves nothing.
        if !users::mark_email_verified(&mut tx, user_id, &email).await? {
            return Err(AccountsError::TokenInvalid);
        }
        tx.commit().await?;
        self.sessions.forget_user(user_id);
        Ok(Verified::Now)
    }

    /// Sends a reset link if an active account has this address. The answer never says whether
    /// one does; the look-up and the mail happen in the background, so it takes the same time.
    ///
    /// Only the caller's own budget answers 429. The recipient's budget is spent alike for
    /// every address, and when it is used up the answer is still 202, nothing sent: a 429
    /// there would tell which addresses have accounts.
    pub async fn forgot_password(&self, email: &str, origin: &Origin) -> Result<()> {
        if !self.messages.available() {
            return Err(AccountsError::EmailUnavailable);
        }
        let email = Email::parse(email).ok_or(AccountsError::InvalidEmail)?;
        let source = ip_subject(origin.ip);
        let by_ip = self
            .limiter
            .take(&EMAIL_IP, &[&source])
            .await
            .map_err(rate_limited)?;
        match self.take_recipient_quota(&source, &email).await {
            Ok(mut tickets) => {
                tickets.push(by_ip);
                self.messages.reset(email, tickets);
            }
            Err(_) => {
                tracing::info!("reset e-mail not sent: the recipient's hourly budget is spent")
            }
        }
        Ok(())
    }

    /// Sets a new password from a reset token and signs the account out everywhere. The token
    /// is checked before any hashing, so a flood of bad tokens costs nothing. If the reset is
    /// the first proof of the address, provider links made before it are removed.
    pub async fn reset_password(
        &self,
        token: &str,
        new_password: &str,
        origin: &Origin,
    ) -> Result<ResetDone> {
        self.limiter
            .take(&RESET_IP, &[&ip_subject(origin.ip)])
            .await
            .map_err(rate_limited)?;
        if !password::acceptable(new_password) {
            return Err(AccountsError::InvalidPassword);
        }
        match email_tokens::peek(&self.db, token, Purpose::Reset).await? {
            Redeemed::Valid(..) => {}
            other => return Err(dead_token(other)),
        }
        let hash = self
            .hasher
            .hash(Lane::Other, new_password.to_owned())
            .await?;
        let mut tx = self.db.begin_write().await?;
        let (user_id, email) =
            match email_tokens::redeem(&self.db, &mut tx, token, Purpose::Reset).await? {
                Redeemed::Valid(user_id, email) => (user_id, email),
                other => return Err(dead_token(other)),
            };
        let was_verified = users::email_state(&mut tx, user_id)
            .await?
            .is_some_and(|(_, verified)| verified);
        // Receiving the link proves the address, if it is still the account's: a link sent
        // to an address the account has since left proves nothing.
        if !users::mark_email_verified(&mut tx, user_id, &email).await? {
            return Err(AccountsError::TokenInvalid);
        }
        users::set_password_hash(&mut tx, user_id, &hash).await?;
        sessions::revoke_all(&mut tx, user_id).await?;
        let unlinked = if was_verified {
            Vec::new()
        } else {
            social::unlink_all(&mut tx, user_id).await?
        };
        tx.commit().await?;
        self.sessions.forget_user(user_id);
        self.linked.forget(&user_id);
        if !unlinked.is_empty() {
            tracing::warn!(
                user_id,
                ?unlinked,
                "reset proved the address: earlier provider links removed"
            );
        }
        let account = format!("user:{user_id}");
        self.limiter.reset(&LOGIN_ACCOUNT, &[&account]).await;
        self.limiter
            .reset(&LOGIN_SOURCE, &[&account, &ip_subject(origin.ip)])
            .await;
        Ok(ResetDone { unlinked })
    }

    /// Sets a password on an account that has none (it signed up with a provider).
    pub async fn set_password(&self, user: &User, new_password: &str) -> Result<()> {
        if user.password_hash.is_some() {
            return Err(AccountsError::Forbidden(
                "the account has a password; reset it instead",
            ));
        }
        if !password::acceptable(new_password) {
            return Err(AccountsError::InvalidPassword);
        }
        let hash = self
            .hasher
            .hash(Lane::Other, new_password.to_owned())
            .await?;
        // Only where there is still none: two forms at once cannot overwrite each other.
        if !users::set_first_password(&self.db, user.id, &hash).await? {
            return Err(AccountsError::Forbidden(
                "the account has a password; reset it instead",
            ));
        }
        self.sessions.forget_user(user.id);
        Ok(())
    }

    /// Sends a link to `email`; the account takes that address (verified) once it is opened.
    /// Until then nothing changes, so nobody can attach an address they cannot read.
    /// The answer is the same whether or not another account has the address (nothing is
    /// sent then): the form must not tell a signed-in stranger who is registered.
    pub async fn request_email(&self, user: &User, email: &str, origin: &Origin) -> Result<()> {
        if !self.messages.available() {
            return Err(AccountsError::EmailUnavailable);
        }
        let email = Email::parse(email).ok_or(AccountsError::InvalidEmail)?;
        let tickets = self.take_email_quota(origin, &email).await?;
        if users::by_email(&self.db, &email).await?.is_none() {
            self.messages.set_email(user, email, tickets);
        }
        Ok(())
    }

    /// Opens a link `request_email` sent: the address becomes the account's, verified.
    /// Only in the session of the account that asked: the owner of an address cannot be
    /// tricked into attaching it to somebody else's account by clicking a link. Reset links
    /// sent to the previous address stop working.
    pub async fn confirm_email(&self, token: &str, signed_in: i64) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let (user_id, email) =
            match email_tokens::redeem(&self.db, &mut tx, token, Purpose::SetEmail).await? {
                Redeemed::Valid(user_id, _) if user_id != signed_in => {
                    return Err(AccountsError::OtherAccount);
                }
                Redeemed::Valid(user_id, email) => (user_id, email),
                other => return Err(dead_token(other)),
            };
        users::set_verified_email(&mut tx, user_id, &email)
            .await
            .map_err(|err| on_unique(err, AccountsError::EmailTaken))?;
        email_tokens::spend_all(&mut tx, user_id, Purpose::Reset).await?;
        tx.commit().await?;
        self.sessions.forget_user(user_id);
        Ok(())
    }

    /// Changes the user's own profile fields; nothing else (no role, no status) is reachable.
    pub async fn update_profile(&self, user_id: i64, change: ProfileUpdate) -> Result<User> {
        users::update_profile(&self.db, user_id, change.validate()?).await?;
        self.sessions.forget_user(user_id);
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

    /// Changes another user's role or status, for administrators. Both users are read under
    /// the write lock, so two administrators acting on each other at once cannot both win:
    /// the second finds that its actor is no longer an active administrator. Blocking or
    /// deleting signs the user out everywhere.
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
        let mut tx = self.db.begin_write().await?;
        let locked = users::lock(&self.db, &mut tx, ordered(actor.id, target)).await?;
        let current_actor = locked.iter().find(|u| u.id == actor.id);
        if !current_actor.is_some_and(|a| a.role == Role::Admin && a.status == Status::Active) {
            return Err(AccountsError::Forbidden(
                "this needs an active administrator",
            ));
        }
        let user = locked
            .into_iter()
            .find(|u| u.id == target)
            .ok_or(AccountsError::UserNotFound)?;
        let (role, status) = (role.unwrap_or(user.role), status.unwrap_or(user.status));
        users::set_role_and_status(&mut tx, target, role, status).await?;
        if status != Status::Active {
            sessions::revoke_all(&mut tx, target).await?;
        }
        tx.commit().await?;
        self.sessions.forget_user(target);
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
        let hash = self.hasher.hash(Lane::Other, password.to_owned()).await?;
        let mut tx = self.db.begin_write().await?;
        let new = NewUser {
            email: Some(email),
            password_hash: Some(hash),
            email_verified: true,
            role: Some(Role::Admin),
            ..NewUser::default()
        };
        let id = users::insert(&mut tx, new)
            .await
            .map_err(|err| on_unique(err, AccountsError::EmailTaken))?;
        tx.commit().await?;
        Ok(id)
    }

    /// Counts one e-mail against the caller's address and the recipient's; the tickets go back
    /// if the mail cannot be sent.
    async fn take_email_quota(&self, origin: &Origin, to: &Email) -> Result<Vec<Ticket>> {
        let source = ip_subject(origin.ip);
        let by_ip = self
            .limiter
            .take(&EMAIL_IP, &[&source])
            .await
            .map_err(rate_limited)?;
        match self.take_recipient_quota(&source, to).await {
            Ok(mut tickets) => {
                tickets.push(by_ip);
                Ok(tickets)
            }
            Err(retry) => {
                self.limiter.refund(by_ip).await;
                Err(rate_limited(retry))
            }
        }
    }

    /// The recipient's budget: per sender and, against mail bombing from many senders, in all.
    async fn take_recipient_quota(
        &self,
        source: &str,
        to: &Email,
    ) -> Result<Vec<Ticket>, RetryAfter> {
        let from_here = self
            .limiter
            .take(&EMAIL_ADDRESS, &[to.as_str(), source])
            .await?;
        match self.limiter.take(&EMAIL_RECIPIENT, &[to.as_str()]).await {
            Ok(in_all) => Ok(vec![from_here, in_all]),
            Err(retry) => {
                self.limiter.refund(from_here).await;
                Err(retry)
            }
        }
    }
}

/// How long a browser stays known after a sign-in there.
pub const DEVICE_TTL_SECS: i64 = 180 * 86_400;

/// A short digest of the stored password hash: it changes with every new password.
fn password_fingerprint(user: &User) -> String {
    crate::crypto::sha256_hex(user.password_hash.as_deref().unwrap_or(""))[..16].to_owned()
}

fn rate_limited(RetryAfter(retry_after): RetryAfter) -> AccountsError {
    AccountsError::RateLimited { retry_after }
}

fn ordered(a: i64, b: i64) -> [i64; 2] {
    if a < b { [a, b] } else { [b, a] }
}

fn require_role(actor: &User, role: Role) -> Result<()> {
    if actor.role >= role {
        Ok(())
    } else {
        Err(AccountsError::Forbidden("this needs a higher role"))
    }
}

/// Why a token that is not `Valid` cannot be used.
fn dead_token(redeemed: Redeemed) -> AccountsError {
    match redeemed {
        Redeemed::Expired => AccountsError::TokenExpired,
        _ => AccountsError::TokenInvalid,
    }
}
