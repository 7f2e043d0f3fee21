//! The e-mail channel: one rendered message per recipient through the pooled SMTP transport.
//! SMTP 5xx is permanent; 4xx, timeouts and connection failures are transient.

use std::sync::Arc;

use sqlx::Row;

use super::content::Renderer;
use super::job::{Job, Outcome};
use crate::db::Db;
use crate::mail::{MailError, Mailer, Outgoing};

pub struct EmailChannel {
    mailer: Arc<Mailer>,
    db: Db,
    renderer: Renderer,
}

impl EmailChannel {
    pub fn new(mailer: Arc<Mailer>, db: Db) -> Self {
        Self {
            mailer,
            db,
            renderer: Renderer::default(),
        }
    }

    pub async fn send(&self, job: &Job) -> Outcome {
        let address = match &job.recipient.email {
            Some(address) => address.clone(),
            None => match self.owner_address(job.user_id).await {
                Ok(Some(address)) => address,
                Ok(None) => return Outcome::Permanent("the owner has no verified e-mail".into()),
                Err(e) => return Outcome::Transient(format!("database: {e}")),
            },
        };
        let rendered = match job.render(&self.renderer, true) {
            Ok(rendered) => rendered,
            Err(outcome) => return outcome,
        };
        let mail = Outgoing {
            to: &address,
            name: job.recipient.name.as_deref(),
            subject: &rendered.subject,
            text: &rendered.text,
            html: rendered.html.as_deref(),
        };
        match self.mailer.deliver(mail).await {
            Ok(sent) => Outcome::Sent {
                provider_id: Some(sent.message_id),
                answer: "accepted by the SMTP server".into(),
                server: None,
            },
            Err(MailError::Send { text, permanent }) if permanent => Outcome::Permanent(text),
            Err(MailError::Send { text, .. }) => Outcome::Transient(text),
            Err(MailError::Unavailable) => {
                Outcome::Permanent("e-mail is not configured on this server (SMTP_URL)".into())
            }
            Err(e @ (MailError::Build(_) | MailError::Config(_) | MailError::Queue(_))) => {
                Outcome::Permanent(e.to_string())
            }
        }
    }

    /// The owner's own address, when verified ("me").
    async fn owner_address(&self, user_id: i64) -> Result<Option<String>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT email FROM users WHERE id = ? AND email IS NOT NULL \
             AND email_verified_at IS NOT NULL",
        )
        .bind(user_id)
        .fetch_optional(self.db.pool())
        .await?;
        row.map(|r| r.try_get("email")).transpose()
    }
}
