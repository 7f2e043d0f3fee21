//! Social sign-in: linking provider accounts to Herald users, storing provider tokens encrypted,
//! and refreshing them when they expire.
//!
//! Linking by e-mail happens only when both the provider and Herald have verified the address;
//! otherwise a signed-in user links from the account page. This closes the takeover in which
//! someone registers an unverified address at a provider to enter another person's account.

use serde_json::json;
use sqlx::Row;

use super::email::Email;
use super::oauth::{OAuthError, Provider, ProviderProfile, ProviderTokens};
use super::sessions::{Origin, Tokens};
use super::users::{self, NewUser, Status, User};
use super::{Accounts, AccountsError, Result, user_locale};
use crate::db::now_unix;
use crate::i18n::Locale;

/// A provider account linked to a user, as the account page shows it.
#[derive(Debug, Clone)]
pub struct LinkedAccount {
    pub provider: Provider,
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
}

struct SealedTokens {
    access: String,
    refresh: Option<String>,
}

struct StoredLink {
    id: i64,
    user_id: i64,
}

impl Accounts {
    /// Signs in (or links, when `link_to` is the signed-in user) with a provider profile.
    pub async fn social_sign_in(
        &self,
        provider: Provider,
        profile: &ProviderProfile,
        tokens: &ProviderTokens,
        link_to: Option<i64>,
        origin: &Origin,
    ) -> Result<SocialSignIn> {
        let existing = self.link_of(provider, &profile.provider_user_id).await?;
        let (user_id, created) = match (existing, link_to) {
            (Some(link), Some(me)) if link.user_id != me => {
                return Err(OAuthError::LinkedElsewhere.into());
            }
            (Some(link), _) => {
                self.update_link(link.id, profile, tokens).await?;
                (link.user_id, false)
            }
            (None, Some(me)) => {
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
        })
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
            display_name: profile.display_name.clone(),
            nickname: profile.nickname.clone(),
            avatar_url: profile.avatar_url.clone(),
            locale: profile
                .locale
                .as_deref()
                .and_then(Locale::parse)
                .map(|l| l.code().to_owned()),
            ..NewUser::default()
        };
        let mut tx = self.db().pool().begin().await?;
        let user_id = users::insert(&mut tx, new).await?;
        tx.commit().await?;
        self.insert_link(user_id, provider, profile, tokens).await?;
        Ok((user_id, true))
    }

    /// The provider accounts linked to a user.
    pub async fn linked_accounts(&self, user_id: i64) -> Result<Vec<LinkedAccount>> {
        let rows = sqlx::query(
            "SELECT provider, provider_email, created_at FROM oauth_accounts \
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
                    provider_email: row.try_get("provider_email")?,
                    linked_at: row.try_get("created_at")?,
                });
            }
        }
        Ok(linked)
    }

    /// Removes a provider link, unless it is the user's last way to sign in.
    pub async fn unlink(&self, user: &User, provider: Provider) -> Result<()> {
        let linked = self.linked_accounts(user.id).await?;
        if !linked.iter().any(|l| l.provider == provider) {
            return Err(OAuthError::NotLinked(provider.label()).into());
        }
        let methods = linked.len() + usize::from(user.password_hash.is_some());
        if methods <= 1 {
            return Err(AccountsError::LastLoginMethod);
        }
        sqlx::query("DELETE FROM oauth_accounts WHERE user_id = ? AND provider = ?")
            .bind(user.id)
            .bind(provider.as_str())
            .execute(self.db().pool())
            .await?;
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
        let sealed = self.seal(tokens);
        let inserted = sqlx::query(
            "INSERT INTO oauth_accounts (user_id, provider, provider_user_id, provider_email, \
             provider_email_verified, scopes, access_token, refresh_token, token_expires_at, \
             created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(user_id)
        .bind(provider.as_str())
        .bind(&profile.provider_user_id)
        .bind(profile.email.as_deref())
        .bind(i64::from(profile.email_verified))
        .bind(&tokens.scopes)
        .bind(sealed.access)
        .bind(sealed.refresh)
        .bind(tokens.expires_at)
        .bind(now)
        .bind(now)
        .execute(self.db().pool())
        .await;
        match inserted.map_err(crate::db::DbError::from) {
            Ok(_) => Ok(()),
            // The user already has another account of this provider linked.
            Err(err) if err.is_unique_violation() => Err(OAuthError::LinkedElsewhere.into()),
            Err(err) => Err(err.into()),
        }
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
        .bind(profile.email.as_deref())
        .bind(i64::from(profile.email_verified))
        .bind(&tokens.scopes)
        .bind(now_unix())
        .bind(id)
        .execute(self.db().pool())
        .await?;
        self.store_tokens(id, tokens).await
    }

    async fn store_tokens(&self, id: i64, tokens: &ProviderTokens) -> Result<()> {
        let sealed = self.seal(tokens);
        sqlx::query(
            "UPDATE oauth_accounts SET access_token = ?, \
             refresh_token = COALESCE(?, refresh_token), token_expires_at = ?, updated_at = ? \
             WHERE id = ?",
        )
        .bind(sealed.access)
        .bind(sealed.refresh)
        .bind(tokens.expires_at)
        .bind(now_unix())
        .bind(id)
        .execute(self.db().pool())
        .await?;
        Ok(())
    }

    /// Provider tokens as they are stored: encrypted.
    fn seal(&self, tokens: &ProviderTokens) -> SealedTokens {
        SealedTokens {
            access: self.keys().encrypt(&tokens.access_token),
            refresh: tokens
                .refresh_token
                .as_deref()
                .map(|t| self.keys().encrypt(t)),
        }
    }

    /// Tells the user a sign-in method was added, in case it was not them.
    async fn notify_new_method(&self, user_id: i64, provider: Provider) {
        let Ok(user) = self.user(user_id).await else {
            return;
        };
        let Some(email) = user.email.as_deref().filter(|_| self.mailer().available()) else {
            return;
        };
        let data = json!({ "provider": provider.label() });
        self.send_mail_later(email, "new_login", user_locale(&user), data);
    }
}
