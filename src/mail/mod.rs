//! Transactional e-mail over SMTP (lettre), rendered from handlebars templates as HTML + text,
//! one typed function per message so a caller cannot misspell a template or forget its data.
//!
//! Without `SMTP_URL`, a development instance reached only on this machine writes each message
//! to the log, clearly marked; anything else (production, or a public URL that is not local)
//! answers that e-mail is unavailable, so live reset links never end up in a log pipeline.

use std::sync::Arc;

use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use serde::Serialize;

use crate::config::Config;
use crate::i18n::{self, Locale};
use crate::telemetry::mask_email;
use crate::templates::Templates;

mod smtp;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("e-mail is not configured (set SMTP_URL)")]
    Unavailable,
    #[error("invalid SMTP_URL or MAIL_FROM: {0}")]
    Config(String),
    #[error("the e-mail could not be built: {0}")]
    Build(String),
    #[error("the e-mail could not be queued: {0}")]
    Queue(String),
    #[error("the SMTP server did not take the e-mail: {text}")]
    Send {
        text: String,
        /// A 5xx answer: the same message will never be taken. Anything else (4xx, timeouts,
        /// a server that is down) may pass later.
        permanent: bool,
    },
}

impl MailError {
    fn from_smtp(err: lettre::transport::smtp::Error) -> Self {
        Self::Send {
            permanent: err.is_permanent(),
            text: err.to_string(),
        }
    }
}

/// One of Herald's own messages, rendered and ready to queue.
#[derive(Debug, Clone)]
pub struct Composed {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Where Herald's own messages are queued for delivery (the notification outbox), so a crash
/// or an SMTP outage delays them instead of losing them.
pub trait MailQueue: Send + Sync {
    fn queue<'a>(
        &'a self,
        user_id: i64,
        to: &'a str,
        mail: Composed,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), MailError>> + Send + 'a>>;
}

/// A message with its content ready (the outbox renders it per recipient).
pub struct Outgoing<'a> {
    pub to: &'a str,
    pub name: Option<&'a str>,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: Option<&'a str>,
}

enum Transport {
    Smtp(smtp::Smtp),
    /// Development on this machine without SMTP: write the message to the log.
    Log,
    /// No SMTP, and not a local development instance.
    Off,
}

pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    /// The domain of `MAIL_FROM`, for Message-IDs.
    domain: String,
    templates: Arc<Templates>,
}

/// A message that went out: its `Message-ID`, to keep with the record of the send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub message_id: String,
}

impl Mailer {
    pub fn new(config: &Config, templates: Arc<Templates>) -> Result<Self, MailError> {
        let from: Mailbox = config
            .mail
            .from
            .parse()
            .map_err(|e| MailError::Config(format!("MAIL_FROM: {e}")))?;
        let transport = match &config.mail.smtp_url {
            // Connections for every send the outbox runs at once, so none is opened per message.
            Some(url) => Transport::Smtp(smtp::Smtp::from_url(
                url.expose(),
                config.notify.email_concurrency,
                std::time::Duration::from_secs(15),
            )?),
            None if !config.is_production() && is_local(&config.public_url) => Transport::Log,
            None => Transport::Off,
        };
        let reply_to = config
            .mail
            .reply_to
            .as_deref()
            .map(|v| v.parse::<Mailbox>())
            .transpose()
            .map_err(|e| MailError::Config(format!("MAIL_REPLY_TO: {e}")))?;
        Ok(Self {
            reply_to,
            domain: from.email.domain().to_owned(),
            transport,
            from,
            templates,
        })
    }

    /// Whether e-mail can be sent (or, in local development, logged).
    pub fn available(&self) -> bool {
        !matches!(self.transport, Transport::Off)
    }

    /// "Verify your address": the link proves the reader owns the address it goes to.
    pub fn verify_email(&self, locale: Locale, link: &str) -> Result<Composed, MailError> {
        self.compose("verify", locale, &LinkMail { link })
    }

    /// "Reset your password".
    pub fn reset_password(&self, locale: Locale, link: &str) -> Result<Composed, MailError> {
        self.compose("reset", locale, &LinkMail { link })
    }

    /// "A sign-in method was added to your account", in case it was not the owner.
    pub fn new_sign_in_method(
        &self,
        locale: Locale,
        provider: &str,
    ) -> Result<Composed, MailError> {
        self.compose("new_login", locale, &ProviderMail { provider })
    }

    /// Renders `emails/<name>.{html,txt}` and its subject in `locale`.
    fn compose<T: Serialize>(
        &self,
        name: &str,
        locale: Locale,
        data: &T,
    ) -> Result<Composed, MailError> {
        if let Transport::Off = self.transport {
            return Err(MailError::Unavailable);
        }
        let context = MailContext {
            lang: locale.code(),
            data,
        };
        let html = self
            .templates
            .html(&format!("emails/{name}.html"), &context)
            .map_err(|e| MailError::Build(e.to_string()))?;
        let text = self
            .templates
            .text(&format!("emails/{name}.txt"), &context)
            .map_err(|e| MailError::Build(e.to_string()))?;
        Ok(Composed {
            subject: i18n::text(locale, &format!("email.{name}.subject")),
            text,
            html,
        })
    }

    /// Sends one message as given, with a fresh `Message-ID` and `Date`.
    pub async fn deliver(&self, mail: Outgoing<'_>) -> Result<Sent, MailError> {
        let message_id = format!("<{}@{}>", uuid::Uuid::new_v4().simple(), self.domain);
        match &self.transport {
            Transport::Off => Err(MailError::Unavailable),
            Transport::Log => {
                tracing::warn!(
                    to = %mask_email(mail.to),
                    subject = mail.subject,
                    "DEVELOPMENT E-MAIL, NOT SENT (SMTP_URL is not set):\n{}",
                    mail.text
                );
                Ok(Sent { message_id })
            }
            Transport::Smtp(smtp) => {
                let message = self.build(&mail, &message_id)?;
                smtp.send(message).await?;
                Ok(Sent { message_id })
            }
        }
    }

    fn build(&self, mail: &Outgoing<'_>, message_id: &str) -> Result<Message, MailError> {
        let address = mail
            .to
            .parse()
            .map_err(|e| MailError::Build(format!("{e}")))?;
        let to = Mailbox::new(mail.name.map(str::to_owned), address);
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .message_id(Some(message_id.to_owned()))
            .date_now();
        let builder = match &self.reply_to {
            Some(reply_to) => builder.reply_to(reply_to.clone()),
            None => builder,
        };
        let text = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .body(mail.text.to_owned());
        let message = match mail.html {
            Some(html) => builder.multipart(
                MultiPart::alternative().singlepart(text).singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html.to_owned()),
                ),
            ),
            None => builder.singlepart(text),
        };
        message.map_err(|e| MailError::Build(e.to_string()))
    }
}

/// What every mail template sees: its language (for `{{t ...}}`) and its own data.
#[derive(Serialize)]
struct MailContext<'a, T: Serialize> {
    lang: &'static str,
    #[serde(flatten)]
    data: &'a T,
}

#[derive(Serialize)]
struct LinkMail<'a> {
    link: &'a str,
}

#[derive(Serialize)]
struct ProviderMail<'a> {
    provider: &'a str,
}

/// A public URL that only this machine can reach (`localhost`, a loopback address).
fn is_local(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost" || name.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
