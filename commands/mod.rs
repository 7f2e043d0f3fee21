//! The bot's slash commands ("cogs"), one file per group, collected in `all()`, and the gateway
//! events the bot reacts to. Commands are thin: parse, call the domain, reply.

pub mod events;
mod meta;

use crate::db::DbError;
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

/// Logs the cause and tells the user, privately, that the command failed.
pub async fn on_error(err: poise::FrameworkError<'_, Data, CommandError>) {
    match err {
        poise::FrameworkError::Command { error, ctx, .. } => {
            tracing::error!(command = %ctx.command().qualified_name, error = %error, "command failed");
            let reply = poise::CreateReply::default()
                .content("Sorry, that did not work. The error has been logged.")
                .ephemeral(true);
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
