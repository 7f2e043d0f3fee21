//! What a caller asks for, checked once before anything is written: channels, recipients,
//! content, schedule and priority. A request that passes here is stored whole or not at all.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::NotifyError;
use super::content::Renderer;
use crate::accounts::email::Email;
use crate::config::NotifyConfig;

/// Characters of a subject; an e-mail header line, and a Discord embed title is 256.
pub const SUBJECT_MAX: usize = 255;
/// Characters of the text body (a Discord embed description is 4,096).
pub const TEXT_MAX: usize = 4_000;
/// Bytes of the HTML body.
pub const HTML_MAX: usize = 256 * 1024;
/// Bytes of the template data, as JSON.
pub const DATA_MAX: usize = 64 * 1024;
/// The earliest a scheduled notification may be due, from now.
pub const MIN_DELAY_SECS: i64 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Discord,
    Kakao,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Email, Channel::Discord, Channel::Kakao];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Discord => "discord",
            Self::Kakao => "kakao",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == raw)
    }
}

/// Where one recipient is reached, on each channel they may be tried on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    /// For `{{name}}` in the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// A Discord channel id (a message in a server's channel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discord_channel: Option<String>,
    /// A member of a server the owner manages (`guild`): a direct message from the bot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discord_user: Option<String>,
    /// The server `discord_user` is a member of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild: Option<String>,
    /// The owner: a Discord direct message, their own Kakao ("send to me"), or their address.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub me: bool,
}

impl Recipient {
    /// Whether this recipient can be reached on `channel` at all.
    pub fn reachable_on(&self, channel: Channel) -> bool {
        match channel {
            Channel::Email => self.email.is_some() || self.me,
            Channel::Discord => {
                self.discord_channel.is_some() || self.discord_user.is_some() || self.me
            }
            Channel::Kakao => self.me,
        }
    }

    /// How the recipient is shown (`to` in answers).
    pub fn label(&self) -> String {
        if let Some(email) = &self.email {
            email.clone()
        } else if let Some(channel) = &self.discord_channel {
            format!("discord:{channel}")
        } else if let Some(user) = &self.discord_user {
            format!("discord-user:{user}")
        } else {
            "me".to_owned()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    /// Herald's own mails (verification, reset): ahead of everything a caller can send.
    #[serde(skip)]
    System,
}

impl Priority {
    pub fn rank(self) -> i64 {
        match self {
            Self::Low => -1,
            Self::Normal => 0,
            Self::High => 1,
            Self::System => 2,
        }
    }

    pub fn from_rank(rank: i64) -> Self {
        match rank {
            r if r < 0 => Self::Low,
            0 => Self::Normal,
            1 => Self::High,
            _ => Self::System,
        }
    }
}

/// The request body of a send, as callers write it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// One channel (`email`, `discord`, `kakao`) ...
    pub channel: Option<Channel>,
    /// ... or several, in fallback order: a permanent failure moves a recipient to the next.
    pub channels: Option<Vec<Channel>>,
    /// Recipients: an e-mail address, a Discord channel id (digits), `"me"`, or an object
    /// `{"name", "email", "discord_channel", "me"}`, or a member of a server you manage,
    /// `{"discord_user", "guild"}` (a direct message from the bot). May be left out for `kakao`
    /// (always "me").
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub to: Vec<Value>,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub text: String,
    pub html: Option<String>,
    /// Named templates are not offered yet: subject, text and html are themselves handlebars
    /// templates, rendered per recipient with `data` and the recipient's `name` and `email`.
    pub template: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
    /// When to send: RFC 3339 or Unix seconds, at least 10 s ahead.
    #[schema(value_type = Option<String>, example = "2026-12-01T09:00:00+09:00")]
    pub send_at: Option<Value>,
    /// Or after a delay: `90s`, `15m`, `2h`, `3d`.
    pub delay: Option<String>,
    pub priority: Option<Priority>,
}

/// A checked request, ready to store.
#[derive(Debug, Clone)]
pub struct Draft {
    pub channels: Vec<Channel>,
    pub recipients: Vec<Recipient>,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub data: Option<Value>,
    pub priority: Priority,
    /// Unix seconds; `None` sends at once.
    pub send_at: Option<i64>,
}

impl SendRequest {
    /// A KakaoTalk message to the owner, sent at once (the seed's route).
    pub fn kakao(subject: String, text: String) -> Self {
        Self {
            channel: Some(Channel::Kakao),
            ..Self::email(Vec::new(), subject, text, None)
        }
    }

    /// An e-mail to `to`, sent at once (the seed's routes).
    pub fn email(to: Vec<Value>, subject: String, text: String, html: Option<String>) -> Self {
        Self {
            channel: Some(Channel::Email),
            channels: None,
            to,
            subject,
            text,
            html,
            template: None,
            data: None,
            send_at: None,
            delay: None,
            priority: None,
        }
    }

    /// Checks everything; `now` is the intake time (Unix seconds).
    pub fn check(self, config: &NotifyConfig, now: i64) -> Result<Draft, NotifyError> {
        let channels = channels(self.channel, self.channels)?;
        if self.template.is_some() {
            return Err(invalid(
                "template",
                "named templates are not offered yet; put the handlebars source in \
                 subject, text or html",
            ));
        }
        check_content(&self.subject, &self.text, self.html.as_deref(), &channels)?;
        let data = match self.data {
            None | Some(Value::Null) => None,
            Some(data @ Value::Object(_)) => {
                if data.to_string().len() > DATA_MAX {
                    return Err(NotifyError::TooLarge {
                        field: "data",
                        max: DATA_MAX,
                    });
                }
                Some(data)
            }
            Some(_) => return Err(invalid("data", "an object")),
        };
        let recipients = recipients(self.to, &channels, config.max_recipients)?;
        let send_at = schedule(self.send_at, self.delay.as_deref(), config, now)?;
        Ok(Draft {
            channels,
            recipients,
            subject: self.subject,
            text: self.text,
            html: self.html,
            data,
            priority: self.priority.unwrap_or_default(),
            send_at,
        })
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> NotifyError {
    NotifyError::InvalidField {
        field,
        reason: reason.into(),
    }
}

fn channels(one: Option<Channel>, many: Option<Vec<Channel>>) -> Result<Vec<Channel>, NotifyError> {
    let channels = match (one, many) {
        (Some(one), None) => vec![one],
        (None, Some(many)) if !many.is_empty() => many,
        (Some(_), Some(_)) => {
            return Err(invalid("channels", "give channel or channels, not both"));
        }
        _ => return Err(invalid("channel", "email, discord or kakao")),
    };
    for (i, channel) in channels.iter().enumerate() {
        if channels[..i].contains(channel) {
            return Err(invalid("channels", "each channel at most once"));
        }
    }
    Ok(channels)
}

fn check_content(
    subject: &str,
    text: &str,
    html: Option<&str>,
    channels: &[Channel],
) -> Result<(), NotifyError> {
    if subject.chars().count() > SUBJECT_MAX {
        return Err(NotifyError::TooLarge {
            field: "subject",
            max: SUBJECT_MAX,
        });
    }
    if subject.contains(['\r', '\n']) {
        return Err(invalid("subject", "one line"));
    }
    if text.chars().count() > TEXT_MAX {
        return Err(NotifyError::TooLarge {
            field: "text",
            max: TEXT_MAX,
        });
    }
    if html.is_some_and(|h| h.len() > HTML_MAX) {
        return Err(NotifyError::TooLarge {
            field: "html",
            max: HTML_MAX,
        });
    }
    // Discord and Kakao show text only; HTML is for e-mail.
    let text_only = channels.iter().any(|c| *c != Channel::Email);
    if text.trim().is_empty() && (text_only || html.is_none_or(|h| h.trim().is_empty())) {
        return Err(NotifyError::Missing("text"));
    }
    if channels.contains(&Channel::Email) && subject.trim().is_empty() {
        return Err(NotifyError::Missing("subject"));
    }
    for (field, source) in [
        ("subject", Some(subject)),
        ("text", Some(text)),
        ("html", html),
    ] {
        if let Some(source) = source {
            Renderer::check(source).map_err(|reason| invalid(field, reason))?;
        }
    }
    Ok(())
}

fn recipients(
    raw: Vec<Value>,
    channels: &[Channel],
    max: usize,
) -> Result<Vec<Recipient>, NotifyError> {
    let raw = if raw.is_empty() && channels == [Channel::Kakao] {
        vec![Value::String("me".into())]
    } else {
        raw
    };
    if raw.is_empty() {
        return Err(NotifyError::Missing("to"));
    }
    if raw.len() > max {
        return Err(NotifyError::TooManyRecipients(max));
    }
    raw.into_iter()
        .enumerate()
        .map(|(i, value)| recipient(value, channels).map_err(|reason| bad_recipient(i, reason)))
        .collect()
}

fn bad_recipient(index: usize, reason: String) -> NotifyError {
    NotifyError::InvalidRecipient { index, reason }
}

/// One recipient from its string or object form, reachable on at least the first channel.
fn recipient(value: Value, channels: &[Channel]) -> Result<Recipient, String> {
    let mut recipient = match value {
        Value::String(s) if s == "me" => Recipient {
            me: true,
            ..Recipient::default()
        },
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => Recipient {
            discord_channel: Some(s),
            ..Recipient::default()
        },
        Value::String(s) => Recipient {
            email: Some(s),
            ..Recipient::default()
        },
        Value::Object(_) => serde_json::from_value(value).map_err(|e| {
            format!("expected name, email, discord_channel, discord_user and guild, or me: {e}")
        })?,
        _ => return Err("a string or an object".into()),
    };
    if let Some(raw) = recipient.email.take() {
        let email =
            Email::parse(&raw).ok_or_else(|| format!("{raw:?} is not an e-mail address"))?;
        recipient.email = Some(email.as_str().to_owned());
    }
    let snowflake =
        |id: &str| !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit());
    if let Some(id) = &recipient.discord_channel
        && !snowflake(id)
    {
        return Err(format!("{id:?} is not a Discord channel id"));
    }
    match (&recipient.discord_user, &recipient.guild) {
        (None, None) => {}
        (Some(user), Some(guild)) if snowflake(user) && snowflake(guild) => {}
        (Some(_), Some(_)) => return Err("discord_user and guild are Discord ids".into()),
        _ => return Err("discord_user and guild go together".into()),
    }
    if recipient
        .name
        .as_ref()
        .is_some_and(|n| n.chars().count() > 100)
    {
        return Err("a name of at most 100 characters".into());
    }
    if !channels.iter().any(|c| recipient.reachable_on(*c)) {
        return Err(format!(
            "no address for {}",
            channels
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(" or ")
        ));
    }
    Ok(recipient)
}

/// When to send: `None` is now.
fn schedule(
    send_at: Option<Value>,
    delay: Option<&str>,
    config: &NotifyConfig,
    now: i64,
) -> Result<Option<i64>, NotifyError> {
    let at = match (send_at, delay) {
        (None | Some(Value::Null), None) => return Ok(None),
        (Some(_), Some(_)) => return Err(invalid("send_at", "give send_at or delay, not both")),
        (Some(Value::Number(n)), None) => n
            .as_i64()
            .ok_or_else(|| invalid("send_at", "whole Unix seconds"))?,
        (Some(Value::String(s)), None) => chrono::DateTime::parse_from_rfc3339(&s)
            .map_err(|_| invalid("send_at", "RFC 3339, such as 2026-12-01T09:00:00Z"))?
            .timestamp(),
        (Some(_), None) => return Err(invalid("send_at", "RFC 3339 text or Unix seconds")),
        (None, Some(delay)) => now.saturating_add(
            parse_delay(delay).ok_or_else(|| invalid("delay", "such as 90s, 15m, 2h or 3d"))?,
        ),
    };
    let max = config.max_schedule.as_secs() as i64;
    if at < now + MIN_DELAY_SECS || at > now + max {
        return Err(NotifyError::BadSchedule {
            min: MIN_DELAY_SECS,
            max,
        });
    }
    Ok(Some(at))
}

/// `90s`, `15m`, `2h`, `3d` in seconds.
pub fn parse_delay(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    let unit = raw.chars().last()?;
    let number: i64 = raw[..raw.len() - unit.len_utf8()].parse().ok()?;
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    number.checked_mul(scale).filter(|s| *s >= 0)
}
