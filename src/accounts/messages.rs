//! The e-mails the account flows send: verification, password reset, a new address to
//! confirm, and "a sign-in method was added".
//!
//! Each is prepared in the background, so an answer neither waits nor, by its timing, reveals
//! whether an account exists (a reset request does the same work on the request path either
//! way), and is then queued on the notification outbox, which retries it through an SMTP
//! outage and survives a crash. A link is always bound to, and sent to, the address stored for
//! the account, never to the text someone typed. A message that cannot even be queued is
//! logged with its (masked) recipient and gives back the quota it was counted against.

use std::sync::Arc;

use tracing::Instrument;

use url::Url;

use super::email::Email;
use super::email_tokens::{self, Purpose};
use super::oauth::Provider;
use super::users::{self, Status, User};
use crate::db::Db;
use crate::i18n::Locale;
use crate::limits::{Limiter, Ticket};
use crate::mail::{Composed, MailError, MailQueue, Mailer};
use crate::telemetry::mask_email;

#[derive(Clone)]
pub struct Messages {
    db: Db,
    mailer: Arc<Mailer>,
    queue: Arc<dyn MailQueue>,
    limiter: Arc<Limiter>,
    public_url: Url,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Verify,
    Reset,
    SetEmail,
}

impl Messages {
    pub fn new(
        db: Db,
        mailer: Arc<Mailer>,
        queue: Arc<dyn MailQueue>,
        limiter: Arc<Limiter>,
        public_url: Url,
    ) -> Self {
        Self {
            db,
            mailer,
            queue,
            limiter,
            public_url,
        }
    }

    /// Whether e-mail can go out at all (else the flows answer 503).
    pub fn available(&self) -> bool {
        self.mailer.available()
    }

    /// A verification link for the user's current, unverified address.
    pub fn verification(&self, user: &User, tickets: Vec<Ticket>) {
        let Some(email) = user.email.clone().filter(|_| !user.email_verified()) else {
            return;
        };
        self.spawn_link(user.id, email, user.locale, Kind::Verify, tickets);
    }

    /// A reset link, if an active account has this address; nothing otherwise. The look-up
    /// itself happens in the background, so both cases cost the caller the same.
    pub fn reset(&self, email: Email, tickets: Vec<Ticket>) {
        let this = self.clone();
        tokio::spawn(async move {
            match users::by_email(&this.db, &email).await {
                Ok(Some(user)) if user.status == Status::Active => {
                    // The stored address, not the typed one (they are equal once canonical,
                    // and the stored one is what the account proved it owns).
                    let stored = user.email.clone().unwrap_or(email);
                    this.send_link(user.id, stored, user.locale, Kind::Reset, tickets)
                        .await;
                }
                // No account: nothing to send, and the budget stays spent, as it would for one.
                Ok(_) => {}
                Err(err) => {
                    tracing::error!(target: "db", error = %err, "reset e-mail: user look-up failed");
                    this.refund(tickets).await;
                }
            }
        }.in_current_span());
    }

    /// A link that makes `email` the account's address once clicked.
    pub fn set_email(&self, user: &User, email: Email, tickets: Vec<Ticket>) {
        self.spawn_link(user.id, email, user.locale, Kind::SetEmail, tickets);
    }

    /// "A sign-in method was added to your account."
    pub fn new_sign_in_method(&self, user: &User, provider: Provider) {
        let Some(email) = user.email.clone().filter(|_| self.available()) else {
            return;
        };
        let (this, user_id, locale) = (self.clone(), user.id, user.locale);
        tokio::spawn(
            async move {
                let mail = this.mailer.new_sign_in_method(locale, provider.label());
                let queued = this.queue_mail(user_id, &email, mail).await;
                log_outcome("new_sign_in_method", &email, queued);
            }
            .in_current_span(),
        );
    }

    fn spawn_link(
        &self,
        user_id: i64,
        email: Email,
        locale: Locale,
        kind: Kind,
        tickets: Vec<Ticket>,
    ) {
        let this = self.clone();
        tokio::spawn(
            async move { this.send_link(user_id, email, locale, kind, tickets).await }
                .in_current_span(),
        );
    }

    async fn send_link(
        &self,
        user_id: i64,
        email: Email,
        locale: Locale,
        kind: Kind,
        tickets: Vec<Ticket>,
    ) {
        let (purpose, page) = match kind {
            Kind::Verify => (Purpose::Verify, "verify-email"),
            Kind::Reset => (Purpose::Reset, "reset-password"),
            Kind::SetEmail => (Purpose::SetEmail, "confirm-email"),
        };
        let token = match email_tokens::create(&self.db, user_id, email.as_str(), purpose).await {
            Ok(token) => token,
            Err(err) => {
                tracing::error!(target: "db", error = %err, "e-mail link not created");
                return self.refund(tickets).await;
            }
        };
        let link = self.link(page, &token);
        let mail = match kind {
            Kind::Verify | Kind::SetEmail => self.mailer.verify_email(locale, &link),
            Kind::Reset => self.mailer.reset_password(locale, &link),
        };
        let queued = self.queue_mail(user_id, &email, mail).await;
        let failed = queued.is_err();
        log_outcome(purpose_name(kind), &email, queued);
        if failed {
            self.refund(tickets).await;
        }
    }

    async fn queue_mail(
        &self,
        user_id: i64,
        to: &Email,
        mail: Result<Composed, MailError>,
    ) -> Result<(), MailError> {
        self.queue.queue(user_id, to.as_str(), mail?).await
    }

    async fn refund(&self, tickets: Vec<Ticket>) {
        for ticket in tickets {
            self.limiter.refund(ticket).await;
        }
    }

    fn link(&self, page: &str, token: &str) -> String {
        let mut url = self.public_url.join(page).expect("a relative path joins");
        url.query_pairs_mut().append_pair("token", token);
        url.to_string()
    }
}

fn purpose_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Verify => "verify",
        Kind::Reset => "reset",
        Kind::SetEmail => "set_email",
    }
}

fn log_outcome(kind: &str, to: &Email, queued: Result<(), MailError>) {
    let to = mask_email(to.as_str());
    match queued {
        Ok(()) => tracing::info!(kind, %to, "e-mail queued"),
        Err(err) => tracing::error!(kind, %to, error = %err, "e-mail not queued"),
    }
}
