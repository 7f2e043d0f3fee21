//! `/settings show | set | history | restore`: the dashboard's per-server settings from Discord,
//! through the same domain calls (validation, revisions, stale refusal, audit entries).

use poise::serenity_prelude as serenity;

use super::answer::reply;
use super::{Command, CommandError, Context, caller, locale};
use crate::guilds::settings::{Current, Language, RoleAccess, Settings};
use crate::i18n::{self, Locale};

pub fn commands() -> Vec<Command> {
    vec![settings()]
}

/// Herald's settings for this server
#[poise::command(
    slash_command,
    guild_only,
    subcommands("show", "set", "history", "restore"),
    subcommand_required,
    default_member_permissions = "MANAGE_GUILD"
)]
async fn settings(_: Context<'_>) -> Result<(), CommandError> {
    Ok(())
}

/// The language a server's bot speaks, as a command offers it.
#[derive(Debug, Clone, Copy, poise::ChoiceParameter)]
pub enum LanguageChoice {
    #[name = "English"]
    En,
    #[name = "Korean"]
    Ko,
    #[name = "The server's language"]
    Server,
}

/// A setting that can be unset.
#[derive(Debug, Clone, Copy, poise::ChoiceParameter)]
pub enum Unset {
    #[name = "Default notification channel"]
    NotifyChannel,
    #[name = "Log channel"]
    LogChannel,
}

/// Show this server's settings
#[poise::command(slash_command)]
async fn show(ctx: Context<'_>) -> Result<(), CommandError> {
    let guilds = ctx.data().guilds();
    let grant = guilds.grant_member(&caller::member(&ctx)?, false).await?;
    let current = guilds.settings_of(&grant).await?;
    reply(ctx, describe(locale(&ctx).await, &current)).await
}

/// Change this server's settings (what you leave out stays as it is)
#[poise::command(slash_command)]
async fn set(
    ctx: Context<'_>,
    #[description = "Where notifications to the server go"]
    #[channel_types("Text", "News")]
    notify_channel: Option<serenity::ChannelId>,
    #[description = "The language Herald speaks here"] language: Option<LanguageChoice>,
    #[description = "Where Herald posts this server's audit entries"]
    #[channel_types("Text", "News")]
    log_channel: Option<serenity::ChannelId>,
    #[description = "A setting to unset"] unset: Option<Unset>,
) -> Result<(), CommandError> {
    let guilds = ctx.data().guilds();
    let grant = guilds.grant_member(&caller::member(&ctx)?, true).await?;
    let current = guilds.settings_of(&grant).await?;
    let mut new = current.settings.clone();
    if let Some(channel) = notify_channel {
        new.notify_channel = Some(channel.get());
    }
    if let Some(channel) = log_channel {
        new.log_channel = Some(channel.get());
    }
    match language {
        Some(LanguageChoice::En) => new.language = Some(Language::En),
        Some(LanguageChoice::Ko) => new.language = Some(Language::Ko),
        Some(LanguageChoice::Server) => new.language = None,
        None => {}
    }
    match unset {
        Some(Unset::NotifyChannel) => new.notify_channel = None,
        Some(Unset::LogChannel) => new.log_channel = None,
        None => {}
    }
    // Based on the revision just read: a save made in between is refused as stale.
    let saved = guilds
        .save_settings_as(&grant, current.revision, &new)
        .await?;
    let locale = locale(&ctx).await;
    let head = i18n::message(
        locale,
        "cmd.settings.saved",
        &[("revision", &saved.revision.to_string())],
    );
    reply(ctx, format!("{head}\n{}", describe(locale, &saved))).await
}

/// The latest revisions of this server's settings
#[poise::command(slash_command)]
async fn history(ctx: Context<'_>) -> Result<(), CommandError> {
    let guilds = ctx.data().guilds();
    let grant = guilds.grant_member(&caller::member(&ctx)?, false).await?;
    let revisions = guilds.revisions_of(&grant, 10).await?;
    let locale = locale(&ctx).await;
    if revisions.is_empty() {
        return reply(ctx, i18n::text(locale, "cmd.settings.no_history")).await;
    }
    let mut text = i18n::text(locale, "cmd.settings.history_title");
    for r in &revisions {
        let who = r
            .author_discord_id
            .as_deref()
            .map_or_else(|| "—".to_owned(), |id| format!("<@{id}>"));
        text.push_str(&format!(
            "\n**#{}** · <t:{}:f> · {who} · {}",
            r.revision,
            r.created_at,
            r.source.as_str()
        ));
        if let Some(from) = r.restored_from {
            let restored = i18n::message(
                locale,
                "dashboard.restored_from",
                &[("number", &from.to_string())],
            );
            text.push_str(&format!(" ({restored})"));
        }
    }
    reply(ctx, text).await
}

/// Make an earlier revision's values current again (as a new revision)
#[poise::command(slash_command)]
async fn restore(
    ctx: Context<'_>,
    #[description = "The revision to restore"]
    #[min = 1]
    revision: i64,
) -> Result<(), CommandError> {
    let guilds = ctx.data().guilds();
    let grant = guilds.grant_member(&caller::member(&ctx)?, true).await?;
    let current = guilds.settings_of(&grant).await?;
    let saved = guilds
        .restore_as(&grant, revision, current.revision)
        .await?;
    let locale = locale(&ctx).await;
    let head = i18n::message(
        locale,
        "cmd.settings.restored",
        &[
            ("from", &revision.to_string()),
            ("revision", &saved.revision.to_string()),
        ],
    );
    reply(ctx, format!("{head}\n{}", describe(locale, &saved))).await
}

/// The settings as lines people read, channels and roles as Discord mentions.
fn describe(locale: Locale, current: &Current) -> String {
    let unset = i18n::text(locale, "dashboard.unset");
    let channel = |id: Option<u64>| id.map_or_else(|| unset.clone(), |id| format!("<#{id}>"));
    let Settings {
        notify_channel,
        language,
        log_channel,
        manager_roles,
    } = &current.settings;
    let language = match language {
        Some(Language::En) => i18n::text(locale, "dashboard.language_en"),
        Some(Language::Ko) => i18n::text(locale, "dashboard.language_ko"),
        None => i18n::text(locale, "dashboard.language_default"),
    };
    let roles = if manager_roles.is_empty() {
        unset.clone()
    } else {
        manager_roles
            .iter()
            .map(|r| {
                let access = match r.access {
                    RoleAccess::Read => i18n::text(locale, "dashboard.access_read"),
                    RoleAccess::ReadWrite => i18n::text(locale, "dashboard.access_write"),
                };
                let until = r
                    .expires_at
                    .map(|at| format!(", <t:{at}:d>"))
                    .unwrap_or_default();
                format!("<@&{}> ({access}{until})", r.role_id)
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let revision = i18n::message(
        locale,
        "dashboard.revision",
        &[("number", &current.revision.to_string())],
    );
    let line = |key: &str, value: &str| format!("\n{}: {value}", i18n::text(locale, key));
    [
        format!(
            "**{}** ({revision})",
            i18n::text(locale, "dashboard.settings")
        ),
        line("dashboard.notify_channel", &channel(*notify_channel)),
        line("dashboard.language", &language),
        line("cmd.settings.log_channel", &channel(*log_channel)),
        line("dashboard.manager_roles", &roles),
    ]
    .concat()
}
