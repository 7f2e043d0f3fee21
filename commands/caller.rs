//! Who is calling (the member as this interaction describes them) and how a failure is told
//! back: privately, in the caller's language, with the same code the web and the API answer.

use poise::serenity_prelude as serenity;

use super::{CommandError, Context};
use crate::guilds::{GuildsError, Member};
use crate::i18n::{self, Locale};
use crate::web::error::{ApiError, ErrorCode};

/// The calling member, with the permissions Discord computed for this interaction.
pub fn member(ctx: &Context<'_>) -> Result<Member, CommandError> {
    let guild_id = ctx.guild_id().ok_or(CommandError::ServerOnly)?;
    let poise::Context::Application(app) = ctx else {
        return Err(CommandError::ServerOnly);
    };
    let member = app
        .interaction
        .member
        .as_deref()
        .ok_or(CommandError::ServerOnly)?;
    Ok(member_of(guild_id, member))
}

/// A server's member as an interaction (a command, a button) carries them.
pub fn member_of(guild_id: serenity::GuildId, member: &serenity::Member) -> Member {
    Member {
        guild_id: guild_id.get(),
        discord_id: member.user.id.get(),
        roles: member.roles.iter().map(|r| r.get()).collect(),
        permissions: member.permissions.map_or(0, |p| p.bits()),
    }
}

/// The Herald account the caller linked to their Discord account.
pub async fn linked_user(ctx: &Context<'_>) -> Result<i64, CommandError> {
    ctx.data()
        .accounts()
        .user_of_discord(ctx.author().id.get())
        .await?
        .ok_or(CommandError::NotLinked)
}

/// What the caller is told of a failure: the catalogue's message for its code, and the code.
/// Failures that are Herald's own (the database, Discord) are logged with their cause.
pub fn explain(err: CommandError, locale: Locale, command: &str) -> String {
    let cause = err.to_string();
    let checklist = match &err {
        CommandError::Guilds(GuildsError::BotCannotPost { channel, missing }) => {
            Some(checklist(locale, *channel, missing))
        }
        _ => None,
    };
    let code = match err {
        CommandError::Guilds(guilds) => ApiError::from(guilds),
        CommandError::Memos(memos) => ApiError::from(memos),
        CommandError::Reminders(reminders) => ApiError::from(reminders),
        CommandError::Tasks(tasks) => ApiError::from(tasks),
        CommandError::Notify(notify) => ApiError::from(notify),
        CommandError::Keys(keys) => ApiError::from(keys),
        CommandError::Accounts(accounts) => ApiError::from(accounts),
        CommandError::NotLinked => ApiError::new(ErrorCode::AccountNotLinked, "not linked"),
        CommandError::ServerOnly => ApiError::new(ErrorCode::Forbidden, "server only"),
        CommandError::Db(db) => ApiError::database(&db),
        CommandError::Discord(discord) => ApiError::internal("app", discord)
            .with_code(ErrorCode::DiscordCallFailed, "Discord call failed"),
    }
    .code;
    if code.status().is_server_error() {
        tracing::error!(command, code = %code.code(), error = %cause, "command failed");
    }
    let message = match (code, checklist) {
        (_, Some(checklist)) => checklist,
        (ErrorCode::Forbidden, _) => i18n::text(locale, "command.server_only"),
        (other, _) => other.message_in(locale),
    };
    i18n::message(
        locale,
        "command.refused",
        &[("message", &message), ("code", &code.code())],
    )
}

/// What the bot lacks in a channel, one unticked box per permission, for whoever can grant it.
fn checklist(locale: Locale, channel: u64, missing: &[&str]) -> String {
    let mut text = i18n::message(
        locale,
        "command.bot_lacks",
        &[("channel", &format!("<#{channel}>"))],
    );
    for key in missing {
        text.push_str(&format!("\n☐ {}", i18n::text(locale, key)));
    }
    text
}
