//! The Kakao channel: "send to me" (`/v2/api/talk/memo/default/send`) with the owner's own
//! Kakao token from social sign-in, refreshed when it has expired (a rotated refresh token is
//! stored by the accounts code). No linked Kakao account, no `talk_message` consent, or a
//! token Kakao no longer takes are permanent failures that say what to do.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::content::Renderer;
use super::job::{Job, Outcome};
use crate::accounts::oauth::{OAuthError, Provider};
use crate::accounts::{Accounts, AccountsError};

/// Kakao's limit on a text template's text.
const TEXT_MAX: usize = 200;

pub struct KakaoChannel {
    accounts: Arc<Accounts>,
    http: reqwest::Client,
    /// kapi.kakao.com, or a fake in tests.
    api_base: url::Url,
    /// Where the message's link points (Kakao requires one).
    link: String,
    renderer: Renderer,
}

impl KakaoChannel {
    pub fn new(accounts: Arc<Accounts>, api_base: url::Url, public_url: &url::Url) -> Self {
        Self {
            accounts,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()
                .expect("a TLS client with default settings"),
            api_base,
            link: public_url.to_string(),
            renderer: Renderer::default(),
        }
    }

    pub async fn send(&self, job: &Job) -> Outcome {
        let token = match self
            .accounts
            .provider_access_token(job.user_id, Provider::Kakao)
            .await
        {
            Ok(token) => token,
            Err(e) => return token_failure(e),
        };
        let text = match self.text(job) {
            Ok(text) => text,
            Err(outcome) => return outcome,
        };
        let template = json!({
            "object_type": "text",
            "text": text,
            "link": {"web_url": self.link, "mobile_web_url": self.link},
        });
        let url = self
            .api_base
            .join("/v2/api/talk/memo/default/send")
            .expect("a fixed path joins any base");
        let response = self
            .http
            .post(url)
            .bearer_auth(token)
            .form(&[("template_object", template.to_string())])
            .send()
            .await;
        match response {
            Err(e) => Outcome::Transient(format!("Kakao did not answer: {e}")),
            Ok(response) => {
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                answer(status, &body)
            }
        }
    }

    /// The subject and the text in one message, as Kakao shows only text.
    fn text(&self, job: &Job) -> Result<String, Outcome> {
        let rendered = job.render(&self.renderer, false)?;
        let joined = match (rendered.subject.is_empty(), rendered.text.is_empty()) {
            (false, false) => format!("{}\n\n{}", rendered.subject, rendered.text),
            (false, true) => rendered.subject,
            _ => rendered.text,
        };
        Ok(joined.chars().take(TEXT_MAX).collect())
    }
}

fn token_failure(err: AccountsError) -> Outcome {
    match err {
        AccountsError::OAuth(OAuthError::NotLinked(_)) => {
            Outcome::Permanent("no Kakao account is linked: sign in with Kakao once".into())
        }
        AccountsError::OAuth(OAuthError::TokenUnavailable) => Outcome::Permanent(
            "the stored Kakao token cannot be used: sign in with Kakao again".into(),
        ),
        AccountsError::OAuth(OAuthError::NotConfigured(_)) => {
            Outcome::Permanent("Kakao is not configured on this server".into())
        }
        other => Outcome::Transient(format!("refreshing the Kakao token failed: {other}")),
    }
}

/// Kakao's answer: HTTP 200 with `result_code` 0 is sent; its error codes say the rest.
fn answer(status: u16, body: &Value) -> Outcome {
    if status == 200 && body["result_code"] == 0 {
        return Outcome::Sent {
            provider_id: None,
            answer: "sent to the owner's KakaoTalk".into(),
            server: None,
        };
    }
    let code = body["code"].as_i64().unwrap_or_default();
    let said = format!(
        "{} (code {code}, HTTP {status})",
        body["msg"].as_str().unwrap_or("no message")
    );
    match (status, code) {
        (_, -402) => Outcome::Permanent(format!(
            "the owner has not agreed to KakaoTalk messages (talk_message): {said}"
        )),
        (401, _) | (_, -401) => Outcome::Permanent(format!(
            "Kakao no longer accepts the owner's token; sign in with Kakao again: {said}"
        )),
        (429, _) | (500.., _) | (_, -10) => Outcome::Transient(said),
        _ => Outcome::Permanent(said),
    }
}
