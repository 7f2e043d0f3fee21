//! A claimed delivery (`Job`) and what one attempt at it came to (`Outcome`): what the engine
//! hands each channel and what each channel answers.

use std::time::Duration;

use serde_json::Value;

use super::content::{Rendered, Renderer, Source, Who};
use super::request::{Channel, Recipient};
use crate::crypto::Keys;

/// One delivery, claimed, with what its channel needs to send it.
#[derive(Debug, Clone)]
pub struct Job {
    pub delivery_id: i64,
    pub notification_id: i64,
    pub user_id: i64,
    pub recipient: Recipient,
    pub channels: Vec<Channel>,
    pub channel_index: usize,
    pub channel: Channel,
    /// Including this one.
    pub attempts: i64,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub data: Option<Value>,
    /// Herald's own message: the content is final, not a template.
    pub literal: bool,
    /// When the notification was due (Unix seconds).
    pub due_at: i64,
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent {
        provider_id: Option<String>,
        answer: String,
        /// The Discord server whose channel it was posted in (not for DMs or Herald's own).
        server: Option<u64>,
    },
    /// May pass later: retried with backoff until the attempts run out.
    Transient(String),
    /// Will never pass on this channel: the next channel, or dead.
    Permanent(String),
    /// The provider asked to wait: tried again then, without counting as a failure.
    Deferred {
        retry_after: Duration,
        answer: String,
    },
}

impl Job {
    /// Herald's own mails are sealed at rest; a worker opens them just before sending.
    pub(super) fn unsealed(mut self, keys: &Keys) -> Self {
        if self.literal {
            self.text = keys.decrypt(&self.text).unwrap_or_default();
            self.html = self.html.and_then(|html| keys.decrypt(&html));
        }
        self
    }

    /// The message for this recipient: Herald's own content as it is, anything else rendered
    /// from its templates (a template that fails is a permanent failure).
    pub fn render(&self, renderer: &Renderer, with_html: bool) -> Result<Rendered, Outcome> {
        let html = self.html.as_deref().filter(|_| with_html);
        if self.literal {
            return Ok(Rendered {
                subject: self.subject.clone(),
                text: self.text.clone(),
                html: html.map(str::to_owned),
            });
        }
        let source = Source {
            subject: &self.subject,
            text: &self.text,
            html,
            data: self.data.as_ref(),
        };
        renderer
            .render(
                &source,
                &Who {
                    name: self.recipient.name.as_deref().unwrap_or_default(),
                    email: self.recipient.email.as_deref().unwrap_or_default(),
                },
            )
            .map_err(|e| Outcome::Permanent(format!("template: {e}")))
    }
}

impl Outcome {
    /// `sent`, `transient`, `permanent` or `deferred`: how attempts are recorded and counted.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sent { .. } => "sent",
            Self::Transient(_) => "transient",
            Self::Permanent(_) => "permanent",
            Self::Deferred { .. } => "deferred",
        }
    }

    /// What the provider answered, or why the attempt failed.
    pub fn answer(&self) -> &str {
        match self {
            Self::Sent { answer, .. } | Self::Deferred { answer, .. } => answer,
            Self::Transient(error) | Self::Permanent(error) => error,
        }
    }
}
