//! The bot's slash commands ("cogs"), one file per group, collected in `all()`, and the gateway
//! events the bot reacts to. Commands are thin: parse, call the domain, reply.

pub mod events;
mod meta;

use crate::db::DbError;
use crate::i18n::{self, Locale};
use crate::state::AppState;

/// What every command can reach: the same state the web surface uses.
pub type Data = AppState;
pub type Context<'a> = poise::Context<'a, Data, CommandError>;
pub type Command = poise::Command<Data, CommandError>;

/// Why a command failed; the user sees a short message, the log sees the cause.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("Discord request failed: {0}")]
    Discord(#[from] serenity::Error),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Every command the bot registers, group by group.
pub fn all() -> Vec<Command> {
    [meta::commands()].into_iter().flatten().collect()
}

/// The caller's language: the interaction's locale when Herald speaks it, else English.
pub fn locale(ctx: &Context<'_>) -> Locale {
    ctx.locale().and_then(Locale::parse).unwrap_or(Locale::En)
}

/// Logs the cause and tells the user, privately, that the command failed.
pub async fn on_error(err: poise::FrameworkError<'_, Data, CommandError>) {
    match err {
        poise::FrameworkError::Command { error, ctx, .. } => {
            tracing::error!(command = %ctx.command().qualified_name, error = %error, "command failed");
            let text = i18n::text(locale(&ctx), "command.failed");
            let reply = poise::CreateReply::default().content(text).ephemeral(true);
            if let Err(err) = ctx.send(reply).await {
                tracing::warn!(error = %err, "could not report a command error");
            }
        }
        other => {
            if let Err(err) = poise::builtins::on_error(other).await {
                tracing::warn!(error = %err, "could not handle a framework error");
            }
        }
    }
}

/// The framework inside a span per interaction, as the web surface has one per request: the
/// interaction id plays the request id, so every line a command logs (database errors
/// included) names the interaction it served.
pub struct Traced<F>(pub F);

#[poise::serenity_prelude::async_trait]
impl<F: poise::serenity_prelude::Framework> poise::serenity_prelude::Framework for Traced<F> {
    async fn init(&mut self, client: &poise::serenity_prelude::Client) {
        self.0.init(client).await;
    }

    async fn dispatch(
        &self,
        ctx: poise::serenity_prelude::Context,
        event: poise::serenity_prelude::FullEvent,
    ) {
        use tracing::Instrument;
        let span = match &event {
            poise::serenity_prelude::FullEvent::InteractionCreate { interaction } => {
                tracing::info_span!(
                    "interaction",
                    request_id = %interaction.id(),
                    kind = ?interaction.kind(),
                    guild_id = ?interaction.guild_id().map(|g| g.get()),
                )
            }
            _ => tracing::Span::none(),
        };
        self.0.dispatch(ctx, event).instrument(span).await;
    }
}
