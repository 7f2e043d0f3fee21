//! A fake OAuth2 provider on 127.0.0.1 speaking the shapes of Discord, Google and Kakao:
//! authorization-code flow with PKCE (S256) and `state`, refresh grants, and a bearer-protected
//! profile endpoint. Consent is automatic. It records every authorize query and every token form
//! body, and lets a test choose the profile, deny the next authorization, shorten token lifetimes
//! and turn on refresh-token rotation.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use warp::Filter;
use warp::Reply;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Discord,
    Google,
    Kakao,
}

impl Shape {
    fn authorize_path(self) -> &'static str {
        match self {
            Shape::Discord => "/oauth2/authorize",
            Shape::Google => "/o/oauth2/v2/auth",
            Shape::Kakao => "/oauth/authorize",
        }
    }

    fn token_path(self) -> &'static str {
        match self {
            Shape::Discord => "/api/oauth2/token",
            Shape::Google => "/token",
            Shape::Kakao => "/oauth/token",
        }
    }

    fn profile_path(self) -> &'static str {
        match self {
            Shape::Discord => "/api/v10/users/@me",
            Shape::Google => "/v1/userinfo",
            Shape::Kakao => "/v2/user/me",
        }
    }

    fn default_expires_in(self) -> i64 {
        match self {
            Shape::Kakao => 21599,
            _ => 3600,
        }
    }

    /// The profile returned until a test calls `set_profile`.
    pub fn default_profile(self) -> Value {
        match self {
            Shape::Discord => json!({
                "id": "80351110224678912", "username": "nelly", "global_name": "Nelly",
                "avatar": "8342729096ea3675442027381ff50dfe", "email": "nelly@discord.com",
                "verified": true, "locale": "en-US"
            }),
            Shape::Google => json!({
                "sub": "110169484474386276334", "email": "x@gmail.com", "email_verified": true,
                "name": "X", "picture": "https://lh3.googleusercontent.com/a/x", "locale": "en"
            }),
            Shape::Kakao => json!({
                "id": 123456789,
                "kakao_account": {
                    "email": "k@kakao.com", "is_email_verified": true, "is_email_valid": true,
                    "profile": {"nickname": "K", "profile_image_url": "https://k.kakaocdn.net/k.png"}
                }
            }),
        }
    }
}

/// The user id inside a profile, whatever the shape (`id` or `sub`, string or number).
fn profile_id(profile: &Value) -> Value {
    profile
        .get("id")
        .or_else(|| profile.get("sub"))
        .cloned()
        .unwrap_or(Value::Null)
}

struct PendingCode {
    redirect_uri: String,
    code_challenge: String,
    scope: String,
    profile: Value,
    used: bool,
}

struct AccessToken {
    profile: Value,
    expires_at: Instant,
}

struct RefreshToken {
    scope: String,
    profile: Value,
    current: bool,
}

struct State {
    profile: Value,
    deny_next: bool,
    expires_in: i64,
    rotate: bool,
    codes: HashMap<String, PendingCode>,
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    token_requests: Vec<HashMap<String, String>>,
    authorize_requests: Vec<HashMap<String, String>>,
    issued_access: Vec<String>,
    issued_refresh: Vec<String>,
    /// Kakao: whether users agreed to `talk_message`, and the memos sent (token, template).
    memo_consent: bool,
    memos: Vec<(String, Value)>,
    /// Discord: each user's servers (by profile id), as `GET /users/@me/guilds` lists them.
    user_guilds: HashMap<String, Vec<Value>>,
    guild_list_requests: usize,
}

struct Inner {
    shape: Shape,
    addr: Option<SocketAddr>,
    state: Mutex<State>,
}

#[derive(Clone)]
pub struct FakeOAuth {
    inner: Arc<Inner>,
}

impl FakeOAuth {
    pub const CLIENT_ID: &'static str = "fake-client-id";
    pub const CLIENT_SECRET: &'static str = "fake-client-secret";

    /// A standalone server on 127.0.0.1:0 serving `shape`'s paths.
    pub async fn start(shape: Shape) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let fake = Self::with_addr(shape, Some(addr));
        let routes = fake.routes();
        tokio::spawn(warp::serve(routes).incoming(listener).run());
        fake
    }

    /// Discord's OAuth side, served by the fake Discord on `addr` (one base URL for both).
    pub fn discord_at(addr: SocketAddr) -> Self {
        Self::with_addr(Shape::Discord, Some(addr))
    }

    /// The servers Discord lists for user `user_id`: `(id, name, owner, permission bits)`.
    pub fn set_user_guilds(&self, user_id: &str, guilds: &[(u64, &str, bool, u64)]) {
        let listed = guilds
            .iter()
            .map(|(id, name, owner, bits)| {
                json!({"id": id.to_string(), "name": name, "icon": null, "owner": owner,
                    "permissions": bits.to_string(), "features": []})
            })
            .collect();
        self.state().user_guilds.insert(user_id.to_owned(), listed);
    }

    /// Gives the user's listed servers icons (Discord's icon hashes, or anything else).
    pub fn set_user_guild_icons(&self, user_id: &str, icons: &[(u64, &str)]) {
        let mut state = self.state();
        for guild in state.user_guilds.get_mut(user_id).into_iter().flatten() {
            let id: Option<u64> = guild["id"].as_str().and_then(|id| id.parse().ok());
            let found = icons.iter().find(|(listed, _)| Some(*listed) == id);
            if let Some((_, icon)) = found {
                guild["icon"] = json!(icon);
            }
        }
    }

    /// How many times Herald asked for a user's servers.
    pub fn guild_list_requests(&self) -> usize {
        self.state().guild_list_requests
    }

    fn with_addr(shape: Shape, addr: Option<SocketAddr>) -> Self {
        let state = State {
            profile: shape.default_profile(),
            deny_next: false,
            expires_in: shape.default_expires_in(),
            rotate: false,
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            token_requests: Vec::new(),
            authorize_requests: Vec::new(),
            issued_access: Vec::new(),
            issued_refresh: Vec::new(),
            memo_consent: true,
            memos: Vec::new(),
            user_guilds: HashMap::new(),
            guild_list_requests: 0,
        };
        Self {
            inner: Arc::new(Inner {
                shape,
                addr,
                state: Mutex::new(state),
            }),
        }
    }

    pub fn shape(&self) -> Shape {
        self.inner.shape
    }

    /// This provider's three endpoints; anything else is rejected (404, or falls through an `or`).
    pub fn routes(&self) -> BoxedFilter<(Response,)> {
        let shape = self.inner.shape;

        let inner = self.inner.clone();
        let authorize = warp::get()
            .and(exact_path(shape.authorize_path()))
            .and(raw_query())
            .map(move |query: String| authorize(&inner, &query));

        let inner = self.inner.clone();
        let token = warp::post()
            .and(exact_path(shape.token_path()))
            .and(warp::header::optional::<String>("authorization"))
            .and(warp::body::bytes())
            .map(move |auth: Option<String>, body: bytes::Bytes| {
                token(&inner, auth.as_deref(), &body)
            });

        let inner = self.inner.clone();
        let profile = warp::get()
            .and(exact_path(shape.profile_path()))
            .and(warp::header::optional::<String>("authorization"))
            .map(move |auth: Option<String>| profile(&inner, auth.as_deref()));

        let inner = self.inner.clone();
        let guilds = warp::get()
            .and(exact_path("/api/v10/users/@me/guilds"))
            .and(warp::header::optional::<String>("authorization"))
            .and_then(move |auth: Option<String>| {
                let answer =
                    (shape == Shape::Discord).then(|| user_guilds(&inner, auth.as_deref()));
                async move { answer.ok_or_else(warp::reject::not_found) }
            });

        let inner = self.inner.clone();
        let memo = warp::post()
            .and(exact_path("/v2/api/talk/memo/default/send"))
            .and(warp::header::optional::<String>("authorization"))
            .and(warp::body::bytes())
            .and_then(move |auth: Option<String>, body: bytes::Bytes| {
                let answer = (shape == Shape::Kakao).then(|| memo(&inner, auth.as_deref(), &body));
                async move { answer.ok_or_else(warp::reject::not_found) }
            });

        authorize
            .or(token)
            .unify()
            .or(profile)
            .unify()
            .or(guilds)
            .unify()
            .or(memo)
            .unify()
            .boxed()
    }

    /// Tokens as if issued to the current profile by an earlier sign-in: (access, refresh).
    pub fn grant(&self, scope: &str) -> (String, String) {
        let mut state = self.state();
        let profile = state.profile.clone();
        let access = issue_access(&mut state, profile.clone());
        let refresh = issue_refresh(&mut state, scope, profile);
        (access, refresh)
    }

    /// Kakao: whether "send to me" is allowed (the user agreed to `talk_message`).
    pub fn set_memo_consent(&self, consent: bool) {
        self.state().memo_consent = consent;
    }

    /// Kakao: the memos sent so far, as (access token, template object).
    pub fn memos(&self) -> Vec<(String, Value)> {
        self.state().memos.clone()
    }

    /// "http://127.0.0.1:PORT" of a server made by `start`.
    pub fn base_url(&self) -> String {
        let addr = self
            .inner
            .addr
            .expect("base_url() is only known for a FakeOAuth made by start()");
        format!("http://{addr}")
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap()
    }

    /// The profile (in this provider's JSON shape) for authorizations from now on. A refresh
    /// grant for the same user id also picks it up (the user edited their account).
    pub fn set_profile(&self, profile: Value) {
        self.state().profile = profile;
    }

    /// The next authorize request is answered with `error=access_denied` (user cancelled).
    pub fn deny_next(&self) {
        self.state().deny_next = true;
    }

    /// Access tokens issued from now on last `secs` seconds (`expires_in`); 0 or less means
    /// they are already expired when issued.
    pub fn set_expires_in(&self, secs: i64) {
        self.state().expires_in = secs;
    }

    /// When true, refresh grants return a new refresh token and the old one stops working.
    pub fn rotate_refresh_tokens(&self, rotate: bool) {
        self.state().rotate = rotate;
    }

    /// Form bodies received at the token endpoint, in order, as received.
    pub fn token_requests(&self) -> Vec<HashMap<String, String>> {
        self.state().token_requests.clone()
    }

    /// Query parameters received at the authorize endpoint, in order.
    pub fn authorize_requests(&self) -> Vec<HashMap<String, String>> {
        self.state().authorize_requests.clone()
    }

    pub fn issued_access_tokens(&self) -> Vec<String> {
        self.state().issued_access.clone()
    }

    pub fn issued_refresh_tokens(&self) -> Vec<String> {
        self.state().issued_refresh.clone()
    }
}

fn exact_path(
    expected: &'static str,
) -> impl Filter<Extract = (), Error = warp::Rejection> + Clone {
    warp::path::full()
        .and_then(move |path: warp::path::FullPath| async move {
            if path.as_str() == expected {
                Ok(())
            } else {
                Err(warp::reject::not_found())
            }
        })
        .untuple_one()
}

fn raw_query() -> impl Filter<Extract = (String,), Error = std::convert::Infallible> + Clone {
    warp::query::raw().or(warp::any().map(String::new)).unify()
}

fn parse_form(s: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(s).into_owned().collect()
}

fn random() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn text(status: StatusCode, message: &str) -> Response {
    warp::reply::with_status(message.to_owned(), status).into_response()
}

fn json_reply(status: StatusCode, body: Value) -> Response {
    warp::reply::with_status(warp::reply::json(&body), status).into_response()
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    json_reply(status, json!({"error": error}))
}

fn authorize(inner: &Inner, query: &str) -> Response {
    let params = parse_form(query.as_bytes());
    let mut guard = inner.state.lock().unwrap();
    let state = &mut *guard;
    state.authorize_requests.push(params.clone());
    let get = |k: &str| params.get(k).map(String::as_str).unwrap_or("");

    if get("response_type") != "code" {
        return text(StatusCode::BAD_REQUEST, "unsupported response_type");
    }
    if get("client_id") != FakeOAuth::CLIENT_ID {
        return text(StatusCode::BAD_REQUEST, "unknown client_id");
    }
    let redirect_uri = get("redirect_uri");
    if redirect_uri.is_empty() {
        return text(StatusCode::BAD_REQUEST, "missing redirect_uri");
    }
    let csrf = get("state");
    if csrf.is_empty() {
        return text(StatusCode::BAD_REQUEST, "missing state");
    }
    let challenge = get("code_challenge");
    if challenge.is_empty() || get("code_challenge_method") != "S256" {
        return text(
            StatusCode::BAD_REQUEST,
            "PKCE required: code_challenge with code_challenge_method=S256",
        );
    }

    let mut answer = url::form_urlencoded::Serializer::new(String::new());
    if std::mem::take(&mut state.deny_next) {
        answer
            .append_pair("error", "access_denied")
            .append_pair("error_description", "User denied");
    } else {
        let code = random();
        state.codes.insert(
            code.clone(),
            PendingCode {
                redirect_uri: redirect_uri.to_owned(),
                code_challenge: challenge.to_owned(),
                scope: get("scope").to_owned(),
                profile: state.profile.clone(),
                used: false,
            },
        );
        answer.append_pair("code", &code);
    }
    answer.append_pair("state", csrf);
    // `+` for spaces is valid form encoding, but spell it %20 as providers do.
    let answer = answer.finish().replace('+', "%20");
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let location = format!("{redirect_uri}{separator}{answer}");
    warp::reply::with_header(
        warp::reply::with_status(warp::reply(), StatusCode::FOUND),
        "location",
        location,
    )
    .into_response()
}

/// Client credentials from HTTP Basic auth (form-urlencoded halves, RFC 6749 2.3.1) or the body.
fn client_credentials(
    auth: Option<&str>,
    form: &HashMap<String, String>,
) -> (Option<String>, Option<String>) {
    if let Some(encoded) = auth.and_then(|a| {
        a.strip_prefix("Basic ")
            .or_else(|| a.strip_prefix("basic "))
    }) {
        let decoded = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default();
        let (id, secret) = decoded.split_once(':').unwrap_or((&decoded, ""));
        let unescape = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        return (Some(unescape(id)), Some(unescape(secret)));
    }
    (
        form.get("client_id").cloned(),
        form.get("client_secret").cloned(),
    )
}

fn token(inner: &Inner, auth: Option<&str>, body: &[u8]) -> Response {
    let form = parse_form(body);
    let mut guard = inner.state.lock().unwrap();
    let state = &mut *guard;
    // Recorded with how the client sent its credentials, for tests of the auth method.
    let basic = auth.is_some_and(|a| a.to_ascii_lowercase().starts_with("basic "));
    let mut recorded = form.clone();
    recorded.insert(
        "_client_auth".into(),
        if basic { "basic" } else { "body" }.into(),
    );
    state.token_requests.push(recorded);

    let (id, secret) = client_credentials(auth, &form);
    if id.as_deref() != Some(FakeOAuth::CLIENT_ID)
        || secret.as_deref() != Some(FakeOAuth::CLIENT_SECRET)
    {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let invalid_grant = || oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");

    let shape = inner.shape;
    match get("grant_type") {
        "authorization_code" => {
            let Some(pending) = state.codes.get_mut(get("code")) else {
                return invalid_grant();
            };
            if pending.used {
                return invalid_grant();
            }
            // Like real providers, a code is spent by any attempt to redeem it.
            pending.used = true;
            if pending.redirect_uri != get("redirect_uri") {
                return invalid_grant();
            }
            let verifier = get("code_verifier");
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if verifier.is_empty() || computed != pending.code_challenge {
                return invalid_grant();
            }
            let scope = pending.scope.clone();
            let profile = pending.profile.clone();
            let access = issue_access(state, profile.clone());
            let refresh = issue_refresh(state, &scope, profile);
            let mut answer = json!({
                "access_token": access,
                "token_type": "bearer",
                "expires_in": state.expires_in,
                "refresh_token": refresh,
                "scope": scope,
            });
            if shape == Shape::Kakao {
                answer["refresh_token_expires_in"] = json!(5183999);
            }
            json_reply(StatusCode::OK, answer)
        }
        "refresh_token" => {
            let Some(old) = state.refresh.get(get("refresh_token")) else {
                return invalid_grant();
            };
            if !old.current {
                return invalid_grant();
            }
            let scope = old.scope.clone();
            // The same user may have edited their account since: serve the newest profile then.
            let profile = if profile_id(&state.profile) == profile_id(&old.profile) {
                state.profile.clone()
            } else {
                old.profile.clone()
            };
            let access = issue_access(state, profile.clone());
            let mut answer = json!({
                "access_token": access,
                "token_type": "bearer",
                "expires_in": state.expires_in,
                "scope": scope,
            });
            if state.rotate {
                state.refresh.get_mut(get("refresh_token")).unwrap().current = false;
                let refresh = issue_refresh(state, &scope, profile);
                answer["refresh_token"] = json!(refresh);
                if shape == Shape::Kakao {
                    answer["refresh_token_expires_in"] = json!(5183999);
                }
            }
            json_reply(StatusCode::OK, answer)
        }
        _ => oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
    }
}

fn issue_access(state: &mut State, profile: Value) -> String {
    let token = random();
    let lifetime = Duration::from_secs(state.expires_in.max(0) as u64);
    state.access.insert(
        token.clone(),
        AccessToken {
            profile,
            expires_at: Instant::now() + lifetime,
        },
    );
    state.issued_access.push(token.clone());
    token
}

fn issue_refresh(state: &mut State, scope: &str, profile: Value) -> String {
    let token = random();
    state.refresh.insert(
        token.clone(),
        RefreshToken {
            scope: scope.to_owned(),
            profile,
            current: true,
        },
    );
    state.issued_refresh.push(token.clone());
    token
}

/// Kakao's "send to me": a live bearer token, the consent, and a template object.
fn memo(inner: &Inner, auth: Option<&str>, body: &[u8]) -> Response {
    let mut state = inner.state.lock().unwrap();
    let token = auth
        .and_then(|a| a.strip_prefix("Bearer "))
        .unwrap_or_default()
        .trim()
        .to_owned();
    let live = state
        .access
        .get(&token)
        .is_some_and(|a| Instant::now() < a.expires_at);
    if !live {
        return json_reply(
            StatusCode::UNAUTHORIZED,
            json!({"msg": "this access token does not exist", "code": -401}),
        );
    }
    if !state.memo_consent {
        return json_reply(
            StatusCode::FORBIDDEN,
            json!({"msg": "insufficient scopes.", "code": -402, "required_scopes": ["talk_message"]}),
        );
    }
    let form = parse_form(body);
    let Some(template) = form
        .get("template_object")
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
    else {
        return json_reply(
            StatusCode::BAD_REQUEST,
            json!({"msg": "template_object", "code": -2}),
        );
    };
    state.memos.push((token, template));
    json_reply(StatusCode::OK, json!({"result_code": 0}))
}

fn user_guilds(inner: &Inner, auth: Option<&str>) -> Response {
    let mut state = inner.state.lock().unwrap();
    state.guild_list_requests += 1;
    let token = auth.and_then(|a| a.strip_prefix("Bearer "));
    let profile_id = match token.and_then(|t| state.access.get(t.trim())) {
        Some(access) if Instant::now() < access.expires_at => access.profile["id"].clone(),
        _ => {
            return json_reply(
                StatusCode::UNAUTHORIZED,
                json!({"message": "401: Unauthorized"}),
            );
        }
    };
    let id = profile_id.as_str().unwrap_or_default();
    let guilds = state.user_guilds.get(id).cloned().unwrap_or_default();
    json_reply(StatusCode::OK, Value::Array(guilds))
}

fn profile(inner: &Inner, auth: Option<&str>) -> Response {
    let state = inner.state.lock().unwrap();
    let token = auth.and_then(|a| {
        a.strip_prefix("Bearer ")
            .or_else(|| a.strip_prefix("bearer "))
    });
    match token.and_then(|t| state.access.get(t.trim())) {
        Some(access) if Instant::now() < access.expires_at => {
            json_reply(StatusCode::OK, access.profile.clone())
        }
        _ => json_reply(
            StatusCode::UNAUTHORIZED,
            json!({"message": "401: Unauthorized"}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REDIRECT: &str = "http://127.0.0.1:1/auth/callback?from=test";

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    fn challenge(verifier: &str) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
    }

    fn query_of(location: &str) -> HashMap<String, String> {
        let url = url::Url::parse(location).unwrap();
        url.query_pairs().into_owned().collect()
    }

    /// Authorizes and returns the Location's query parameters.
    async fn authorize(fake: &FakeOAuth, verifier: &str, state: &str) -> HashMap<String, String> {
        let path = fake.shape().authorize_path();
        let response = client()
            .get(format!("{}{path}", fake.base_url()))
            .query(&[
                ("response_type", "code"),
                ("client_id", FakeOAuth::CLIENT_ID),
                ("redirect_uri", REDIRECT),
                ("scope", "identify email"),
                ("state", state),
                ("code_challenge", &challenge(verifier)),
                ("code_challenge_method", "S256"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302);
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with("http://127.0.0.1:1/auth/callback?from=test&"));
        let query = query_of(&location);
        assert_eq!(query["from"], "test");
        assert_eq!(query["state"], state);
        query
    }

    async fn redeem(
        fake: &FakeOAuth,
        form: &[(&str, &str)],
        basic: bool,
    ) -> (reqwest::StatusCode, Value) {
        let mut request =
            client().post(format!("{}{}", fake.base_url(), fake.shape().token_path()));
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        if basic {
            request = request.basic_auth(FakeOAuth::CLIENT_ID, Some(FakeOAuth::CLIENT_SECRET));
        } else {
            fields.push(("client_id", FakeOAuth::CLIENT_ID));
            fields.push(("client_secret", FakeOAuth::CLIENT_SECRET));
        }
        let response = request.form(&fields).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    async fn me(fake: &FakeOAuth, token: &str) -> (reqwest::StatusCode, Value) {
        let response = client()
            .get(format!(
                "{}{}",
                fake.base_url(),
                fake.shape().profile_path()
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    #[tokio::test]
    async fn fake_oauth_round_trip_rejects_bad_verifier_and_code_reuse() {
        let fake = FakeOAuth::start(Shape::Discord).await;
        let verifier = "a-verifier-that-is-long-enough-to-be-a-real-pkce-verifier-123";

        // Wrong verifier: rejected, and the code is spent.
        let code = authorize(&fake, verifier, "s1").await["code"].clone();
        let (status, body) = redeem(
            &fake,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", "wrong"),
            ],
            false,
        )
        .await;
        assert_eq!(
            (status.as_u16(), body),
            (400, json!({"error": "invalid_grant"}))
        );

        // Right verifier: tokens, then the profile.
        let code = authorize(&fake, verifier, "s2").await["code"].clone();
        let grant = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ];
        let (status, tokens) = redeem(&fake, &grant, false).await;
        assert_eq!(status, 200, "{tokens}");
        assert_eq!(tokens["token_type"], "bearer");
        assert_eq!(tokens["expires_in"], 3600);
        assert_eq!(tokens["scope"], "identify email");
        let access = tokens["access_token"].as_str().unwrap();
        assert_eq!(fake.issued_access_tokens(), vec![access.to_owned()]);
        let (status, profile) = me(&fake, access).await;
        assert_eq!(status, 200);
        assert_eq!(profile["id"], "80351110224678912");
        assert_eq!(profile["username"], "nelly");
        assert_eq!(me(&fake, "nope").await.0, 401);

        // The same code again: rejected.
        let (status, body) = redeem(&fake, &grant, false).await;
        assert_eq!(
            (status.as_u16(), body),
            (400, json!({"error": "invalid_grant"}))
        );

        // Wrong client secret: 401.
        let response = client()
            .post(format!("{}/api/oauth2/token", fake.base_url()))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
                ("client_id", FakeOAuth::CLIENT_ID),
                ("client_secret", "bad"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);

        // Refresh (Basic auth): a new access token, no new refresh token.
        let refresh = tokens["refresh_token"].as_str().unwrap();
        let (status, renewed) = redeem(
            &fake,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
            true,
        )
        .await;
        assert_eq!(status, 200, "{renewed}");
        assert!(renewed.get("refresh_token").is_none());
        assert_eq!(
            me(&fake, renewed["access_token"].as_str().unwrap()).await.0,
            200
        );

        assert_eq!(fake.authorize_requests().len(), 2);
        assert_eq!(fake.token_requests().len(), 5);
        assert_eq!(fake.token_requests()[0]["code_verifier"], "wrong");
    }

    #[tokio::test]
    async fn fake_oauth_kakao_deny_expiry_and_rotation() {
        let fake = FakeOAuth::start(Shape::Kakao).await;

        fake.deny_next();
        let denied = authorize(&fake, "v", "s0").await;
        assert_eq!(denied["error"], "access_denied");
        assert!(!denied.contains_key("code"));

        fake.set_expires_in(0);
        fake.rotate_refresh_tokens(true);
        let verifier = "kakao-verifier";
        let code = authorize(&fake, verifier, "s1").await["code"].clone();
        let (status, tokens) = redeem(
            &fake,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier),
            ],
            true,
        )
        .await;
        assert_eq!(status, 200, "{tokens}");
        assert_eq!(tokens["refresh_token_expires_in"], 5183999);
        // Already expired.
        assert_eq!(
            me(&fake, tokens["access_token"].as_str().unwrap()).await.0,
            401
        );

        fake.set_expires_in(21599);
        let old = tokens["refresh_token"].as_str().unwrap();
        let refresh = [("grant_type", "refresh_token"), ("refresh_token", old)];
        let (status, renewed) = redeem(&fake, &refresh, false).await;
        assert_eq!(status, 200);
        let new = renewed["refresh_token"].as_str().unwrap();
        assert_ne!(new, old);
        assert_eq!(
            fake.issued_refresh_tokens(),
            vec![old.to_owned(), new.to_owned()]
        );
        let (status, profile) = me(&fake, renewed["access_token"].as_str().unwrap()).await;
        assert_eq!(status, 200);
        assert_eq!(profile["id"], 123456789);
        assert_eq!(profile["kakao_account"]["email"], "k@kakao.com");
        // The superseded refresh token no longer works.
        assert_eq!(redeem(&fake, &refresh, false).await.0, 400);
    }

    /// The `oauth2` crate (as Herald uses it: PKCE, secret in the body) is happy with the fake.
    #[tokio::test]
    async fn fake_oauth_speaks_to_the_oauth2_crate() {
        use oauth2::basic::BasicClient;
        use oauth2::{
            AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
            PkceCodeChallenge, RedirectUrl, RefreshToken, Scope, TokenResponse, TokenUrl,
        };
        for shape in [Shape::Discord, Shape::Google, Shape::Kakao] {
            let fake = FakeOAuth::start(shape).await;
            let base = fake.base_url();
            let oauth = BasicClient::new(ClientId::new(FakeOAuth::CLIENT_ID.into()))
                .set_client_secret(ClientSecret::new(FakeOAuth::CLIENT_SECRET.into()))
                .set_auth_uri(AuthUrl::new(format!("{base}{}", shape.authorize_path())).unwrap())
                .set_token_uri(TokenUrl::new(format!("{base}{}", shape.token_path())).unwrap())
                .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap())
                .set_auth_type(AuthType::RequestBody);
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            let (url, csrf) = oauth
                .authorize_url(CsrfToken::new_random)
                .add_scope(Scope::new("openid".into()))
                .add_scope(Scope::new("email".into()))
                .set_pkce_challenge(challenge)
                .url();
            let response = client().get(url).send().await.unwrap();
            let location = response.headers()["location"].to_str().unwrap();
            let query = query_of(location);
            assert_eq!(&query["state"], csrf.secret());
            let http = client();
            let tokens = oauth
                .exchange_code(AuthorizationCode::new(query["code"].clone()))
                .set_pkce_verifier(verifier)
                .request_async(&http)
                .await
                .unwrap();
            assert_eq!(
                tokens.scopes().unwrap(),
                &vec![Scope::new("openid".into()), Scope::new("email".into())]
            );
            let (status, profile) = me(&fake, tokens.access_token().secret()).await;
            assert_eq!(status, 200);
            assert_eq!(profile_id(&profile), profile_id(&shape.default_profile()));
            let renewed = oauth
                .exchange_refresh_token(&RefreshToken::new(
                    tokens.refresh_token().unwrap().secret().clone(),
                ))
                .request_async(&http)
                .await
                .unwrap();
            assert!(renewed.refresh_token().is_none());
            let form = &fake.token_requests()[0];
            assert_eq!(form["client_secret"], FakeOAuth::CLIENT_SECRET);
        }
    }
}
