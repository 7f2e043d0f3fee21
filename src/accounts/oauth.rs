//! The OAuth2 providers (Discord, Google, Kakao): authorization URLs with state and PKCE (S256),
//! code exchange, token refresh, and each provider's profile shape. Every URL comes from the
//! configuration so tests can point them at local fakes.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RefreshToken, Scope, TokenResponse, TokenUrl,
};
use serde::Serialize;
use serde_json::Value;
use url::Url;

use crate::config::{ClientCredentials, Config, TokenAuth};
use crate::db::now_unix;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Discord,
    Google,
    Kakao,
}

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::Discord, Provider::Google, Provider::Kakao];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Discord => "discord",
            Provider::Google => "google",
            Provider::Kakao => "kakao",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Provider::Discord => "Discord",
            Provider::Google => "Google",
            Provider::Kakao => "Kakao",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == raw)
    }

    /// Discord: the dashboard needs `guilds`. Kakao: notifications need `talk_message`.
    fn scopes(self) -> &'static [&'static str] {
        match self {
            Provider::Discord => &["identify", "email", "guilds"],
            Provider::Google => &["openid", "email", "profile"],
            // Kakao separates scopes with commas.
            Provider::Kakao => &["profile_nickname,profile_image,account_email,talk_message"],
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("{0} sign-in is not configured")]
    NotConfigured(&'static str),
    #[error("the sign-in attempt is invalid or has expired")]
    StateInvalid,
    #[error("the sign-in was cancelled at the provider ({0})")]
    Denied(String),
    #[error("the provider refused the code exchange: {0}")]
    Exchange(String),
    #[error("the provider's profile could not be read: {0}")]
    Profile(String),
    #[error("this provider account is linked to another Herald account")]
    LinkedElsewhere,
    #[error(
        "an account with this e-mail exists; sign in and link the provider from the account page"
    )]
    EmailConflict,
    #[error("no {0} account is linked")]
    NotLinked(&'static str),
    #[error("the stored provider token cannot be used; sign in with the provider again")]
    TokenUnavailable,
}

/// Tokens a provider issued, as received.
#[derive(Debug, Clone)]
pub struct ProviderTokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_at: Option<i64>,
    pub scopes: String,
}

/// The parts of a provider profile Herald uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderProfile {
    pub provider_user_id: String,
    pub email: Option<String>,
    /// The provider says it verified `email`.
    pub email_verified: bool,
    pub display_name: Option<String>,
    pub nickname: Option<String>,
    pub avatar_url: Option<String>,
    pub locale: Option<String>,
}

/// What the browser must keep (in a signed cookie) between the redirect and the callback.
#[derive(Debug, Clone)]
pub struct PendingAuthorization {
    pub url: Url,
    pub state: String,
    pub pkce_verifier: String,
}

struct Endpoints {
    credentials: ClientCredentials,
    authorize: Url,
    token: Url,
    profile: Url,
}

pub struct Providers {
    discord: Option<Endpoints>,
    google: Option<Endpoints>,
    kakao: Option<Endpoints>,
    public_url: Url,
    http: reqwest::Client,
}

impl Providers {
    pub fn new(config: &Config) -> Self {
        let o = &config.oauth;
        let join = |base: &Url, path: &str| base.join(path).expect("a path joins a base URL");
        let discord_base = &config.discord.api_base;
        let endpoints = |creds: &Option<ClientCredentials>, authorize, token, profile| {
            creds.clone().map(|credentials| Endpoints {
                credentials,
                authorize,
                token,
                profile,
            })
        };
        Self {
            discord: endpoints(
                &o.discord,
                join(discord_base, "/oauth2/authorize"),
                join(discord_base, "/api/oauth2/token"),
                join(discord_base, "/api/v10/users/@me"),
            ),
            google: endpoints(
                &o.google,
                o.google_authorize_url.clone(),
                o.google_token_url.clone(),
                o.google_userinfo_url.clone(),
            ),
            kakao: endpoints(
                &o.kakao,
                join(&o.kakao_auth_base, "/oauth/authorize"),
                join(&o.kakao_auth_base, "/oauth/token"),
                join(&o.kakao_api_base, "/v2/user/me"),
            ),
            public_url: config.public_url.clone(),
            // Never follow redirects from a provider's API: a token response is never one.
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(15))
                .build()
                .expect("the HTTP client builds"),
        }
    }

    /// The providers an operator configured, in display order.
    pub fn configured(&self) -> Vec<Provider> {
        Provider::ALL
            .into_iter()
            .filter(|p| self.endpoints(*p).is_ok())
            .collect()
    }

    fn endpoints(&self, provider: Provider) -> Result<&Endpoints, OAuthError> {
        match provider {
            Provider::Discord => self.discord.as_ref(),
            Provider::Google => self.google.as_ref(),
            Provider::Kakao => self.kakao.as_ref(),
        }
        .ok_or(OAuthError::NotConfigured(provider.label()))
    }

    /// Where the provider sends the browser back.
    pub fn redirect_url(&self, provider: Provider) -> Url {
        self.public_url
            .join(&format!("/auth/{}/callback", provider.as_str()))
            .expect("a path joins the public URL")
    }

    fn client(
        &self,
        provider: Provider,
    ) -> Result<
        BasicClient<
            oauth2::EndpointSet,
            oauth2::EndpointNotSet,
            oauth2::EndpointNotSet,
            oauth2::EndpointNotSet,
            oauth2::EndpointSet,
        >,
        OAuthError,
    > {
        let e = self.endpoints(provider)?;
        Ok(
            BasicClient::new(ClientId::new(e.credentials.client_id.clone()))
                .set_client_secret(ClientSecret::new(
                    e.credentials.client_secret.expose().to_owned(),
                ))
                .set_auth_uri(AuthUrl::from_url(e.authorize.clone()))
                .set_token_uri(TokenUrl::from_url(e.token.clone()))
                .set_redirect_uri(RedirectUrl::from_url(self.redirect_url(provider)))
                .set_auth_type(match e.credentials.auth {
                    TokenAuth::Basic => AuthType::BasicAuth,
                    TokenAuth::Body => AuthType::RequestBody,
                }),
        )
    }

    /// The provider's consent page, with a fresh `state` and PKCE challenge.
    pub fn authorize(&self, provider: Provider) -> Result<PendingAuthorization, OAuthError> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .client(provider)?
            .authorize_url(CsrfToken::new_random)
            .add_scopes(
                provider
                    .scopes()
                    .iter()
                    .map(|s| Scope::new((*s).to_owned())),
            )
            .set_pkce_challenge(challenge)
            .url();
        Ok(PendingAuthorization {
            url,
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Trades the callback's code for tokens, proving possession of the PKCE verifier.
    pub async fn exchange(
        &self,
        provider: Provider,
        code: &str,
        pkce_verifier: &str,
    ) -> Result<ProviderTokens, OAuthError> {
        let response = self
            .client(provider)?
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| OAuthError::Exchange(describe(&e)))?;
        Ok(tokens(&response, None))
    }

    /// New tokens from a refresh token. Providers that rotate refresh tokens (Kakao, when less
    /// than a month remains) return a new one, which must replace the old.
    pub async fn refresh(
        &self,
        provider: Provider,
        refresh_token: &str,
    ) -> Result<ProviderTokens, OAuthError> {
        let refresh = RefreshToken::new(refresh_token.to_owned());
        let response = self
            .client(provider)?
            .exchange_refresh_token(&refresh)
            .request_async(&self.http)
            .await
            .map_err(|e| OAuthError::Exchange(describe(&e)))?;
        Ok(tokens(&response, Some(refresh_token)))
    }

    /// Reads the signed-in user's profile with their access token.
    pub async fn profile(
        &self,
        provider: Provider,
        access_token: &str,
    ) -> Result<ProviderProfile, OAuthError> {
        let url = self.endpoints(provider)?.profile.clone();
        let response = self
            .http
            .get(url)
            .bearer_auth(access_token)
            .send()
            .await
            .map_err(|e| OAuthError::Profile(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(OAuthError::Profile(format!("HTTP {}", response.status())));
        }
        let body: Value = response
            .json()
            .await
            .map_err(|e| OAuthError::Profile(e.without_url().to_string()))?;
        parse_profile(provider, &body)
            .ok_or_else(|| OAuthError::Profile("the profile lacks an id".into()))
    }
}

fn tokens(
    response: &oauth2::basic::BasicTokenResponse,
    old_refresh: Option<&str>,
) -> ProviderTokens {
    ProviderTokens {
        access_token: response.access_token().secret().clone(),
        refresh_token: response
            .refresh_token()
            .map(|t| t.secret().clone())
            .or_else(|| old_refresh.map(str::to_owned)),
        expires_at: response
            .expires_in()
            .map(|d| now_unix() + d.as_secs() as i64),
        scopes: response
            .scopes()
            .map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "))
            .unwrap_or_default(),
    }
}

/// An error's description without anything secret (request bodies are not part of it).
fn describe<E: std::error::Error>(err: &E) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Each provider's profile JSON, reduced to what Herald keeps.
pub fn parse_profile(provider: Provider, body: &Value) -> Option<ProviderProfile> {
    Some(match provider {
        Provider::Discord => {
            let id = string(&body["id"])?;
            ProviderProfile {
                avatar_url: string(&body["avatar"])
                    .map(|hash| format!("https://cdn.discordapp.com/avatars/{id}/{hash}.png")),
                provider_user_id: id,
                email: string(&body["email"]),
                email_verified: body["verified"].as_bool().unwrap_or(false),
                display_name: string(&body["global_name"]).or_else(|| string(&body["username"])),
                nickname: string(&body["username"]),
                locale: string(&body["locale"]),
            }
        }
        Provider::Google => ProviderProfile {
            provider_user_id: string(&body["sub"])?,
            email: string(&body["email"]),
            email_verified: body["email_verified"].as_bool().unwrap_or(false),
            display_name: string(&body["name"]),
            nickname: string(&body["given_name"]),
            avatar_url: string(&body["picture"]),
            locale: string(&body["locale"]),
        },
        Provider::Kakao => {
            let account = &body["kakao_account"];
            let profile = &account["profile"];
            ProviderProfile {
                provider_user_id: string(&body["id"])?,
                email: string(&account["email"]),
                email_verified: account["is_email_verified"].as_bool().unwrap_or(false)
                    && account["is_email_valid"].as_bool().unwrap_or(false),
                display_name: string(&profile["nickname"]),
                nickname: string(&profile["nickname"]),
                avatar_url: string(&profile["profile_image_url"]),
                locale: Some("ko".to_owned()),
            }
        }
    })
}
