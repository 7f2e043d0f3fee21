//! Transactional e-mail over SMTP (lettre), rendered from handlebars templates as HTML + text.
//! Without `SMTP_URL`: in development the message is written to the log, clearly marked; in
//! production the e-mail flows answer that e-mail is unavailable.

use std::sync::Arc;

use handlebars::Handlebars;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::Value;

use crate::config::Config;
use crate::i18n::{self, Locale};

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("e-mail is not configured (set SMTP_URL)")]
    Unavailable,
    #[error("invalid SMTP_URL or MAIL_FROM: {0}")]
    Config(String),
    #[error("the e-mail could not be built: {0}")]
    Build(String),
    #[error("the SMTP server did not take the e-mail: {0}")]
    Send(String),
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// Development without SMTP: write the message to the log.
    Log,
    /// Production without SMTP.
    Off,
}

pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    templates: Arc<Handlebars<'static>>,
}

impl Mailer {
    pub fn new(config: &Config, templates: Arc<Handlebars<'static>>) -> Result<Self, MailError> {
        let from = config
            .mail
            .from
            .parse()
            .map_err(|e| MailError::Config(format!("MAIL_FROM: {e}")))?;
        let transport = match &config.mail.smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    // The error may quote the URL, password included: say only what failed.
                    .map_err(|_| MailError::Config("SMTP_URL could not be parsed".into()))?
                    .timeout(Some(std::time::Duration::from_secs(15)))
                    .build(),
            ),
            None if config.is_production() => Transport::Off,
            None => Transport::Log,
        };
        Ok(Self {
            transport,
            from,
            templates,
        })
    }

    /// Whether e-mail can be sent (or, in development, logged).
    pub fn available(&self) -> bool {
        !matches!(self.transport, Transport::Off)
    }

    /// Renders `emails/<template>.{html,txt}` in `locale` with `data` and sends it to `to`.
    pub async fn send(
        &self,
        to: &str,
        template: &str,
        locale: Locale,
        mut data: Value,
    ) -> Result<(), MailError> {
        if let Value::Object(map) = &mut data {
            map.insert("t".into(), i18n::texts_json(locale));
        }
        let render = |kind: &str| {
            self.templates
                .render(&format!("emails/{template}.{kind}"), &data)
                .map_err(|e| MailError::Build(e.to_string()))
        };
        let (html, text) = (render("html")?, render("txt")?);
        let subject = i18n::text(locale, &format!("email_{template}_subject"));
        match &self.transport {
            Transport::Off => Err(MailError::Unavailable),
            Transport::Log => {
                tracing::warn!(
                    to,
                    subject,
                    "DEVELOPMENT E-MAIL, NOT SENT (SMTP_URL is not set):\n{text}"
                );
                Ok(())
            }
            Transport::Smtp(smtp) => {
                let to: Mailbox = to.parse().map_err(|e| MailError::Build(format!("{e}")))?;
                let message = Message::builder()
                    .from(self.from.clone())
                    .to(to)
                    .subject(subject)
                    .multipart(MultiPart::alternative_plain_html(text, html))
                    .map_err(|e| MailError::Build(e.to_string()))?;
                smtp.send(message)
                    .await
                    .map(|_| ())
                    .map_err(|e| MailError::Send(e.to_string()))
            }
        }
    }
}
