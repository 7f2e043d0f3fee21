//! Social sign-in: the whole round trip to a provider (begin with `state` and PKCE, complete
//! with the checks in order), linking provider accounts to Herald users, storing provider
//! tokens encrypted, and refreshing them when they expire.
//!
//! Linking rules:
//! - by e-mail only when both the provider and Herald have verified the address (otherwise a
//!   stranger could register the address at a provider and walk into the account);
//! - from the account page only when the account's own address, if it has one, is verified
//!   (otherwise an attacker who pre-registered a victim's address could attach their provider
//!   account and keep it after the victim takes the account over by a password reset);
//! - a reset that proves an unverified address for the first time drops every provider link
//!   made before it, for the same reason (see `Accounts::reset_password`).

use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};
use url::Url;

use super::email::Email;
use super::oauth::{OAuthError, Provider, ProviderProfile, ProviderTokens};
use super::profile::{provider_avatar, provider_name};
use super::sessions::{Origin, Tokens};
use super::users::{self, NewUser, Status, User};
use super::{Accounts, AccountsError, Result};
use crate::crypto::ct_eq;
use crate::db::{now_unix, on_unique};
use crate::i18n::Locale;

/// How long a started sign-in may take at the provider.
pub const PENDING_TTL_SECS: i64 = 600;
/// Provider user ids longer than this are refused (no provider issues them).
const PROVIDER_ID_MAX: usize = 128;

/// A provider account linked to a user, as the account page shows it.
#[derive(Debug, Clone)]
pub struct LinkedAccount {
    pub provider: Provider,
    /// The user's id at the provider (a Discord snowflake, say).
    pub provider_user_id: String,
    pub provider_email: Option<String>,
    pub linked_at: i64,
}

/// How a social sign-in ended.
#[derive(Debug)]
pub struct SocialSignIn {
    pub user: User,
    pub tokens: Tokens,
    /// A new Herald account was created.
    pub created: bool,
    /// Where the browser goes next (a path on this site).
    pub next: String,
}

/// A started sign-in: the provider's URL, and the sealed value the browser keeps (in a
/// cookie) until the callback.
#[derive(Debug, Clone)]
pub struct Started {
    pub url: Url,
    pub sealed: String,
}

/// What the provider's callback brought back.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

/// What the browser carries between the redirect and the callback, sealed (encrypted and
/// authenticated) so that not even the browser can read the PKCE verifier or alter anything.
#[derive(Serialize, Deserialize)]
struct Pending {
    provider: String,
    state: String,
    verifier: String,
    next: String,
    /// Set when a signed-in user links a provider.
    link_user: Option<i64>,
    expires: i64,
}

struct StoredLink {
    id: i64,
    user_id: i64,
}

impl Accounts {
    /// Starts a sign-in (or, with `link_user`, a link) with `provider`.
    pub async fn begin_social(
        &self,
        provider: Provider,
        next: Option<&str>,
        link_user: Option<&User>,
    ) -> Result<Started> {
        if let Some(user) = link_user {
            self.require_verified_email(user)?;
        }
        let pending = self.providers().authorize(provider)?;
        let carried = Pending {
            provider: provider.as_str().to_owned(),
            state: pending.state,
            verifier: pending.pkce_verifier,
            next: safe_next(next),
            link_user: link_user.map(|u| u.id),
            expires: now_unix() + PENDING_TTL_SECS,
        };
        let payload = serde_json::to_string(&carried).expect("plain data serializes");
        Ok(Started {
            url: pending.url,
            sealed: self.keys().encrypt(&payload),
        })
    }

    /// Completes a sign-in from the provider's callback: the sealed value must be this
    /// provider's, unexpired, with the same `state`; a link must finish in the session of the
    /// user who started it; then the code is exchanged, the profile read and the user signed in.
    pub async fn complete_social(
        &self,
        provider: Provider,
        sealed: Option<&str>,
        callback: Callback,
        signed_in: Option<i64>,
        origin: &Origin,
    ) -> Result<SocialSignIn> {
        let invalid = || AccountsError::OAuth(OAuthError::StateInvalid);
        let pending: Pending = sealed
            .and_then(|c| self.keys().decrypt(c))
            .and_then(|payload| serde_json::from_str(&payload).ok())
            .filter(|p: &Pending| p.expires > now_unix() && p.provider == provider.as_str())
            .ok_or_else(invalid)?;
        let state_matches = callback
            .state
            .as_deref()
            .is_some_and(|s| ct_eq(s.as_bytes(), pending.state.as_bytes()));
        if !state_matches {
            return Err(invalid());
        }
        if let Some(error) = callback.error {
            return Err(OAuthError::Denied(error.chars().take(100).collect()).into());
        }
        if pending.link_user.is_some() && pending.link_user != signed_in {
            return Err(invalid());
        }
        let code = callback.code.ok_or_else(invalid)?;
        let tokens = self
            .providers()
            .exchange(provider, &code, &pending.verifier)
            .await?;
        let profile = self
            .providers()
            .profile(provider, &tokens.access_token)
            .await?;
        let mut done = self
            .social_sign_in(provider, &profile, &tokens, pending.link_user, origin)
            .await?;
        done.next = pending.next;
        tracing::info!(
            user_id = done.user.id,
            provider = provider.as_str(),
            created = done.created,
            "social sign-in"
        );
        Ok(done)
    }

    /// Signs in (or links, when `link_to` is the signed-in user) with a provider profile.
    pub async fn social_sign_in(
        &self,
        provider: Provider,
        profile: &ProviderProfile,
        tokens: &ProviderTokens,
        link_to: Option<i64>,
        origin: &Origin,
    ) -> Result<SocialSignIn> {
        if profile.provider_user_id.len() > PROVIDER_ID_MAX {
            return Err(OAuthError::Profile("the provider's user id is too long".into()).into());
        }
        let existing = self.link_of(provider, &profile.provider_user_id).await?;
        let (user_id, created) = match (existing, link_to) {
            (Some(link), Some(me)) if link.user_id != me => {
                return Err(OAuthError::LinkedElsewhere.into());
            }
            (Some(link), _) => {
                self.update_link(link.id, profile, tokens).await?;
                self.linked_cache().forget(&link.user_id);
                (link.user_id, false)
            }
            (None, Some(me)) => {
                self.require_verified_email(&self.user(me).await?)?;
                self.insert_link(me, provider, profile, tokens).await?;
                self.notify_new_method(me, provider).await;
                (me, false)
            }
            (None, None) => {
                self.sign_up_or_link_by_email(provider, profile, tokens)
                    .await?
            }
        };
        let user = self.user(user_id).await?;
        match user.status {
            Status::Active => {}
            Status::Blocked => return Err(AccountsError::Blocked),
            Status::Deleted => return Err(AccountsError::UserNotFound),
        }
        let tokens = self.start_session(user_id, origin).await?;
        Ok(SocialSignIn {
            user,
            tokens,
            created,
            next: safe_next(None),
        })
    }

    /// Linking needs a verified address when the account has one (see the module comment).
    fn require_verified_email(&self, user: &User) -> Result<()> {
        if user.email.is_some() && !user.email_verified() {
            return Err(AccountsError::VerifyEmailFirst);
        }
        Ok(())
    }

    /// No link yet and nobody signed in: join a verified account with the same verified
    /// address, refuse to join an unverified one, or create a new account.
    async fn sign_up_or_link_by_email(
        &self,
        provider: Provider,
        profile: &ProviderProfile,
        tokens: &ProviderTokens,
    ) -> Result<(i64, bool)> {
        let email = profile.email.as_deref().and_then(Email::parse);
        if let Some(email) = &email
            && let Some(user) = users::by_email(self.db(), email).await?
        {
            if !(profile.email_verified && user.email_verified()) {
                return Err(OAuthError::EmailConflict.into());
            }
            self.insert_link(user.id, provider, profile, tokens).await?;
            self.notify_new_method(user.id, provider).await;
            return Ok((user.id, false));
        }
        // An address the provider did not verify is not kept: it could block its real owner.
        let verified_email = email.filter(|_| profile.email_verified);
        let new = NewUser {
            email_verified: verified_email.is_some(),
            email: verified_email,
            display_name: provider_name(profile.display_name.as_deref()),
            nickname: provider_name(profile.nickname.as_deref()),
            avatar_url: provider_avatar(profile.avatar_url.as_deref()),
            locale: profile.locale.as_deref().and_then(Locale::parse),
            ..NewUser::default()
        };
        let mut tx = self.db().begin_write().await?;
        // A unique violation: someone registered the address between the look-up and now.
        let user_id = users::insert(&mut tx, new)
            .await
            .map_err(|err| on_unique(err, AccountsError::OAuth(OAuthError::EmailConflict)))?;
        tx.commit().await?;
        self.insert_link(user_id, provider, profile, tokens).await?;
        Ok((user_id, true))
    }

    /// The provider accounts linked to a user, cached briefly (`/users/me` asks on every call);
    /// a link or an unlink through this instance drops the entry at once.
    pub async fn linked_accounts(&self, user_id: i64) -> Result<Vec<LinkedAccount>> {
        if let Some(linked) = self.linked_cache().get(&user_id) {
            return Ok(linked);
        }
        let linked = self.read_linked(user_id).await?;
        self.linked_cache().put(user_id, linked.clone());
        Ok(linked)
    }

    async fn read_linked(&self, user_id: i64) -> Result<Vec<LinkedAccount>> {
        let rows = sqlx::query(
            "SELECT provider, provider_user_id, provider_email, created_at FROM oauth_accounts \
             WHERE user_id = ? ORDER BY created_at",
        )
        .bind(user_id)
        .fetch_all(self.db().pool())
        .await?;
        let mut linked = Vec::new();
        for row in rows {
            let provider: String = row.try_get("provider")?;
            if let Some(provider) = Provider::parse(&provider) {
                linked.push(LinkedAccount {
                    provider,
                    provider_user_id: row.try_get("provider_user_id")?,
                    provider_email: row.try_get("provider_email")?,
                    linked_at: row.try_get("created_at")?,
                });
            }
        }
        Ok(linked)
    }

    /// Removes a provider link, unless it is the user's last way to sign in. Counted and
    /// deleted under the write lock: two unlinks at once cannot remove the last two ways in.
    pub async fn unlink(&self, user: &User, provider: Provider) -> Result<()> {
        let mut tx = self.db().begin_write().await?;
        let lock = self.db().lock_rows();
        let sql = format!("SELECT provider FROM oauth_accounts WHERE user_id = ?{lock}");
        let linked: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.id)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|row| row.try_get("provider"))
            .collect::<Result<_, _>>()?;
        let sql = format!("SELECT password_hash FROM users WHERE id = ?{lock}");
        let password: Option<String> = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("password_hash")?;
        if !linked.iter().any(|p| p == provider.as_str()) {
            return Err(OAuthError::NotLinked(provider.label()).into());
        }
        if linked.len() + usize::from(password.is_some()) <= 1 {
            return Err(AccountsError::LastLoginMethod);
        }
        sqlx::query("DELETE FROM oauth_accounts WHERE user_id = ? AND provider = ?")
            .bind(user.id)
            .bind(provider.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.linked_cache().forget(&user.id);
        tracing::info!(
            user_id = user.id,
            provider = provider.as_str(),
            "provider unlinked"
        );
        Ok(())
    }

    /// A usable access token for the user's provider account, refreshed when it has expired
    /// (or is about to); a rotated refresh token is stored in place of the old one.
    pub async fn provider_access_token(&self, user_id: i64, provider: Provider) -> Result<String> {
        let row = sqlx::query(
            "SELECT id, access_token, refresh_token, token_expires_at FROM oauth_accounts \
             WHERE user_id = ? AND provider = ?",
        )
        .bind(user_id)
        .bind(provider.as_str())
        .fetch_optional(self.db().pool())
        .await?
        .ok_or(OAuthError::NotLinked(provider.label()))?;
        let id: i64 = row.try_get("id")?;
        let expires_at: Option<i64> = row.try_get("token_expires_at")?;
        let sealed_access: Option<String> = row.try_get("access_token")?;
        let sealed_refresh: Option<String> = row.try_get("refresh_token")?;
        let fresh = expires_at.is_none_or(|at| at > now_unix() + 60);
        if fresh && let Some(access) = sealed_access.and_then(|s| self.keys().decrypt(&s)) {
            return Ok(access);
        }
        let refresh = sealed_refresh
            .and_then(|s| self.keys().decrypt(&s))
            .ok_or(OAuthError::TokenUnavailable)?;
        let tokens = self.providers().refresh(provider, &refresh).await?;
        self.store_tokens(id, &tokens).await?;
        Ok(tokens.access_token)
    }

    /// The Herald user a provider's account is linked to, if any (byte-exact id match).
    pub async fn user_of_provider(
        &self,
        provider: Provider,
        provider_user_id: &str,
    ) -> Result<Option<i64>> {
        Ok(self
            .link_of(provider, provider_user_id)
            .await?
            .map(|l| l.user_id))
    }

    /// The Herald user a Discord user linked, if any: who a slash command or a button acts for.
    pub async fn user_of_discord(&self, discord_id: u64) -> Result<Option<i64>> {
        self.user_of_provider(Provider::Discord, &discord_id.to_string())
            .await
    }

    async fn link_of(
        &self,
        provider: Provider,
        provider_user_id: &str,
    ) -> Result<Option<StoredLink>> {
        let row = sqlx::query(
            "SELECT id, user_id FROM oauth_accounts WHERE provider = ? AND provider_user_id = ?",
        )
        .bind(provider.as_str())
        .bind(provider_user_id)
        .fetch_optional(self.db().pool())
        .await?;
        Ok(match row {
            Some(row) => Some(StoredLink {
                id: row.try_get("id")?,
                user_id: row.try_get("user_id")?,
            }),
            None => None,
        })
    }

    async fn insert_link(
        &self,
        user_id: i64,
        provider: Provider,
        profile: &ProviderProfile,
        tokens: &ProviderTokens,
    ) -> Result<()> {
        let now = now_unix();
        let (access, refresh) = self.seal(tokens);
        let inserted = sqlx::query(
            "INSERT INTO oauth_accounts (user_id, provider, provider_user_id, provider_email, \
             provider_email_verified, scopes, access_token, refresh_token, token_expires_at, \
             created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(user_id)
        .bind(provider.as_str())
        .bind(&profile.provider_user_id)
        .bind(provider_email(profile))
        .bind(i64::from(profile.email_verified))
        .bind(scopes(tokens))
        .bind(access)
        .bind(refresh)
        .bind(tokens.expires_at)
        .bind(now)
        .bind(now)
        .execute(self.db().writer())
        .await;
        self.linked_cache().forget(&user_id);
        // A unique violation: the user already has another account of this provider linked.
        inserted.map(|_| ()).map_err(|err| {
            on_unique(
                err.into(),
                AccountsError::OAuth(OAuthError::LinkedElsewhere),
            )
        })
    }

    async fn update_link(
        &self,
        id: i64,
        profile: &ProviderProfile,
        tokens: &ProviderTokens,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE oauth_accounts SET provider_email = ?, provider_email_verified = ?, scopes = ?, \
             updated_at = ? WHERE id = ?",
        )
        .bind(provider_email(profile))
        .bind(i64::from(profile.email_verified))
        .bind(scopes(tokens))
        .bind(now_unix())
        .bind(id)
        .execute(self.db().writer())
        .await?;
        self.store_tokens(id, tokens).await
    }

    async fn store_tokens(&self, id: i64, tokens: &ProviderTokens) -> Result<()> {
        let (access, refresh) = self.seal(tokens);
        sqlx::query(
            "UPDATE oauth_accounts SET access_token = ?, \
             refresh_token = COALESCE(?, refresh_token), token_expires_at = ?, updated_at = ? \
             WHERE id = ?",
        )
        .bind(access)
        .bind(refresh)
        .bind(tokens.expires_at)
        .bind(now_unix())
        .bind(id)
        .execute(self.db().writer())
        .await?;
        Ok(())
    }

    /// Provider tokens as they are stored: encrypted.
    fn seal(&self, tokens: &ProviderTokens) -> (String, Option<String>) {
        (
            self.keys().encrypt(&tokens.access_token),
            tokens
                .refresh_token
                .as_deref()
                .map(|t| self.keys().encrypt(t)),
        )
    }

    /// Tells the user a sign-in method was added, in case it was not them.
    async fn notify_new_method(&self, user_id: i64, provider: Provider) {
        if let Ok(user) = self.user(user_id).await {
            self.messages().new_sign_in_method(&user, provider);
        }
    }
}

/// How many ways a user has to sign in: a password and each linked provider.
pub fn sign_in_methods(user: &User, linked: &[LinkedAccount]) -> usize {
    linked.len() + usize::from(user.password_hash.is_some())
}

/// Removes every provider link of a user inside a transaction; returns the providers removed.
pub async fn unlink_all(conn: &mut AnyConnection, user_id: i64) -> Result<Vec<Provider>> {
    let rows = sqlx::query("SELECT provider FROM oauth_accounts WHERE user_id = ?")
        .bind(user_id)
        .fetch_all(&mut *conn)
        .await?;
    let mut removed = Vec::new();
    for row in rows {
        if let Some(provider) = Provider::parse(&row.try_get::<String, _>("provider")?) {
            removed.push(provider);
        }
    }
    sqlx::query("DELETE FROM oauth_accounts WHERE user_id = ?")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(removed)
}

/// The provider's address as stored with the link: only a plausible one, canonicalised.
fn provider_email(profile: &ProviderProfile) -> Option<String> {
    profile
        .email
        .as_deref()
        .and_then(Email::parse)
        .map(|e| e.to_string())
}

/// Granted scopes as stored (bounded: a provider may list anything).
fn scopes(tokens: &ProviderTokens) -> String {
    tokens.scopes.chars().take(512).collect()
}

/// A same-site relative path, or `/account`: `next` must not lead off the site.
pub fn safe_next(next: Option<&str>) -> String {
    const FALLBACK: &str = "/account";
    let Some(next) = next else {
        return FALLBACK.to_owned();
    };
    let plain = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && next.len() <= 512
        && !next.chars().any(|c| c.is_control() || c.is_whitespace());
    // Resolve against a placeholder origin: anything that changes the origin is refused.
    let stays = Url::parse("https://herald.invalid")
        .and_then(|base| base.join(next))
        .is_ok_and(|u| u.host_str() == Some("herald.invalid"));
    if plain && stays {
        next.to_owned()
    } else {
        FALLBACK.to_owned()
    }
}
