//! Discord's list of the user's servers (`GET /users/@me/guilds`, with the user's own OAuth
//! token), cached per user for at most `DISCORD_USER_CACHE_SECS`.

use std::future::Future;
use std::sync::Arc;

use reqwest::StatusCode;
use url::Url;

use super::GuildsError;
use super::access::UserGuild;
use crate::accounts::AccountsError;
use crate::accounts::oauth::OAuthError;
use crate::cache::TtlCache;
use crate::config::Config;

/// Discord answers at most 200 servers a page.
const PAGE: usize = 200;
/// Pages read at most (Discord caps a user's servers well below this).
const PAGES_MAX: usize = 5;

pub struct UserGuilds {
    http: reqwest::Client,
    url: Url,
    cache: TtlCache<i64, Arc<Vec<UserGuild>>>,
}

impl UserGuilds {
    pub fn new(config: &Config) -> Self {
        let url = config
            .discord
            .api_base
            .join("/api/v10/users/@me/guilds")
            .expect("a path joins the API base");
        Self {
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .expect("an HTTP client builds"),
            url,
            cache: TtlCache::new(config.discord.user_cache, 100_000),
        }
    }

    /// The user's servers; `refresh` skips the cache. `token` gives a live access token.
    pub async fn of<F, Fut>(
        &self,
        user_id: i64,
        refresh: bool,
        token: F,
    ) -> Result<Arc<Vec<UserGuild>>, GuildsError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<String, GuildsError>>,
    {
        if !refresh && let Some(guilds) = self.cache.get(&user_id) {
            return Ok(guilds);
        }
        let token = token().await?;
        let mut all: Vec<UserGuild> = Vec::new();
        for _ in 0..PAGES_MAX {
            let page = self.page(&token, all.last().map(|g| g.id)).await?;
            let done = page.len() < PAGE;
            all.extend(page);
            if done {
                break;
            }
        }
        let all = Arc::new(all);
        self.cache.put(user_id, all.clone());
        Ok(all)
    }

    async fn page(&self, token: &str, after: Option<u64>) -> Result<Vec<UserGuild>, GuildsError> {
        let mut url = self.url.clone();
        url.query_pairs_mut()
            .append_pair("limit", &PAGE.to_string());
        if let Some(after) = after {
            url.query_pairs_mut()
                .append_pair("after", &after.to_string());
        }
        let failed = |e: reqwest::Error| GuildsError::Discord(e.without_url().to_string());
        let response = self
            .http
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(failed)?;
        match response.status() {
            s if s.is_success() => response.json().await.map_err(failed),
            // The user revoked Herald on Discord's side: signing in again grants it anew.
            StatusCode::UNAUTHORIZED => Err(GuildsError::DiscordNotLinked),
            s => Err(GuildsError::Discord(format!(
                "GET /users/@me/guilds answered {s}"
            ))),
        }
    }
}

/// A failure to get the user's Discord token, as the dashboard reports it.
pub fn token_error(err: AccountsError) -> GuildsError {
    match err {
        AccountsError::OAuth(OAuthError::NotLinked(_) | OAuthError::TokenUnavailable) => {
            GuildsError::DiscordNotLinked
        }
        AccountsError::Db(db) => GuildsError::Db(db),
        other => GuildsError::Discord(other.to_string()),
    }
}

/// Discord answered 404 (an unknown member, say).
pub fn is_not_found(err: &serenity::Error) -> bool {
    status_of(err) == Some(404)
}

/// Discord answered 403 (the bot has no access to the server).
pub fn is_forbidden(err: &serenity::Error) -> bool {
    status_of(err) == Some(403)
}

fn status_of(err: &serenity::Error) -> Option<u16> {
    match err {
        serenity::Error::Http(serenity::all::HttpError::UnsuccessfulRequest(r)) => {
            Some(r.status_code.as_u16())
        }
        _ => None,
    }
}
