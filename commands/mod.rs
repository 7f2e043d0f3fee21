//! The bot's slash commands ("cogs"), one file per group, collected in `all()`, and the gateway
//! events the bot reacts to. Commands are thin: parse, call the domain, reply.

mod answer;
mod apikey;
mod audit;
mod caller;
pub mod events;
mod herald;
mod localize;
mod memo;
mod meta;
mod notify;
mod remind;
mod settings;
mod task;

use crate::db::DbError;
use crate::guilds::GuildsError;
use crate::i18n::Locale;
use crate::state::AppState;

/// What every command can reach: the same state the web surface uses.
pub type Data = AppState;
pub type Context<'a> = poise::Context<'a, Data, CommandError>;
pub type Command = poise::Command<Data, CommandError>;

/// Why a command failed; the user sees a short message, the log sees the cause.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Boxed: serenity's error is large, and every command returns this type.
    #[error("Discord request failed: {0}")]
    Discord(Box<serenity::Error>),
    #[error(transparent)]
    Db(#[from] DbError),
    /// A refusal or a bad input the caller can act on: shown with its code.
    #[error(transparent)]
    Guilds(#[from] GuildsError),
    #[error(transparent)]
    Memos(#[from] crate::memos::MemoError),
    #[error(transparent)]
    Reminders(#[from] crate::reminders::ReminderError),
    #[error(transparent)]
    Tasks(#[from] crate::tasks::TaskError),
    #[error(transparent)]
    Notify(#[from] crate::notifications::NotifyError),
    #[error(transparent)]
    Keys(#[from] crate::keys::KeysError),
    #[error(transparent)]
    Accounts(#[from] crate::accounts::AccountsError),
    /// The command was used outside a server.
    #[error("this command works in a server only")]
    ServerOnly,
    /// The caller's Discord account has no Herald account linked, and the command needs one.
    #[error("no Herald account is linked to this Discord account")]
    NotLinked,
}

impl From<serenity::Error> for CommandError {
    fn from(err: serenity::Error) -> Self {
        Self::Discord(Box::new(err))
    }
}

/// Every command the bot registers, group by group, with their Korean names and descriptions
/// from the message catalogue.
pub fn all() -> Vec<Command> {
    let mut commands: Vec<Command> = [
        meta::commands(),
        herald::commands(),
        settings::commands(),
        audit::commands(),
        memo::commands(),
        task::commands(),
        remind::commands(),
        notify::commands(),
        apikey::commands(),
    ]
    .into_iter()
    .flatten()
    .collect();
    localize::apply(&mut commands);
    commands
}

/// The caller's language: the interaction's locale when Herald speaks it, else Herald's
/// language for the server (its setting, else the server's community language), else English.
pub async fn locale(ctx: &Context<'_>) -> Locale {
    let guild = ctx.guild_id().map(|g| g.get());
    speaking(ctx.data().guilds(), ctx.locale(), guild).await
}

/// The language for a button or a form, from what its interaction carries.
pub async fn locale_in(
    data: &AppState,
    user: &str,
    guild: Option<poise::serenity_prelude::GuildId>,
) -> Locale {
    speaking(data.guilds(), Some(user), guild.map(|g| g.get())).await
}

/// The same choice, from the locale an interaction carries.
pub async fn speaking(
    guilds: &crate::guilds::Guilds,
    user: Option<&str>,
    guild: Option<u64>,
) -> Locale {
    if let Some(locale) = user.and_then(Locale::parse) {
        return locale;
    }
    match guild {
        Some(guild) => guilds.language(guild).await.unwrap_or_else(|err| {
            tracing::warn!(error = %err, "the server's language could not be read");
            Locale::En
        }),
        None => Locale::En,
    }
}

/// Logs the cause and tells the user, privately, that the command failed.
pub async fn on_error(err: poise::FrameworkError<'_, Data, CommandError>) {
    match err {
        poise::FrameworkError::Command { error, ctx, .. } => {
            let text = caller::explain(error, locale(&ctx).await, &ctx.command().qualified_name);
            if let Err(err) = ctx.send(answer::private(text)).await {
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
