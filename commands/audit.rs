//! `/audit`: the server's audit log from Discord, a page at a time. The pager's state (server,
//! position, filter) lives in its button's custom id, so a page opened before Herald restarted
//! still turns after it.

use poise::serenity_prelude as serenity;

use super::{Command, CommandError, Context, answer, caller, locale};
use crate::guilds::audit::{self, Entry, Filter};
use crate::guilds::{Grant, Guilds};
use crate::i18n::{self, Locale};

/// Entries on one page.
const PAGE: u32 = 8;
/// The custom id's prefix of the "older" button.
pub const PAGER: &str = "audit";
/// Discord's limit on a message's content.
const CONTENT_MAX: usize = 2000;

pub fn commands() -> Vec<Command> {
    vec![audit()]
}

/// This server's audit log, newest first
#[poise::command(slash_command, guild_only, default_member_permissions = "MANAGE_GUILD")]
async fn audit(
    ctx: Context<'_>,
    #[description = "Only this action, or a prefix ending in a dot (settings.)"]
    #[max_length = 40]
    action: Option<String>,
) -> Result<(), CommandError> {
    let guilds = ctx.data().guilds();
    let grant = guilds.grant_member(&caller::member(&ctx)?, false).await?;
    let action = action.filter(|a| !a.trim().is_empty());
    let (text, button) = page(guilds, &grant, locale(&ctx).await, None, action.as_deref()).await?;
    answer::page(ctx, text, button).await
}

/// One page of entries older than `before` (the newest without), and the button to the next.
async fn page(
    guilds: &Guilds,
    grant: &Grant,
    locale: Locale,
    before: Option<i64>,
    action: Option<&str>,
) -> Result<(String, Option<serenity::CreateButton>), CommandError> {
    let filter = Filter {
        action: action.map(str::to_owned),
        before,
        limit: PAGE,
        ..Filter::default()
    };
    let entries = guilds.audit_of(grant, &filter).await?;
    if entries.is_empty() {
        return Ok((i18n::text(locale, "dashboard.no_audit"), None));
    }
    let mut text = format!("**{}**", i18n::text(locale, "dashboard.audit"));
    for entry in &entries {
        let line = line(locale, entry);
        if text.chars().count() + line.chars().count() + 1 > CONTENT_MAX {
            break;
        }
        text.push('\n');
        text.push_str(&line);
    }
    let last = entries.last().map(|e| e.id);
    let button = last.filter(|_| entries.len() == PAGE as usize).map(|last| {
        let id = format!(
            "{PAGER}:{}:{last}:{}",
            grant.guild_id(),
            action.unwrap_or_default()
        );
        serenity::CreateButton::new(id)
            .label(i18n::text(locale, "cmd.audit.older"))
            .style(serenity::ButtonStyle::Secondary)
    });
    Ok((text, button))
}

/// An entry on one line: when, who, from where, what, and the fields it changed.
fn line(locale: Locale, e: &Entry) -> String {
    let who = audit::who(e.actor_discord_id.as_deref(), e.actor_user_id);
    let head = audit::headline(locale, &e.action, &who, e.source, &e.detail);
    let line = std::iter::once(format!("<t:{}:f> · {head}", e.at))
        .chain(audit::change_lines(&e.detail))
        .collect::<Vec<_>>()
        .join(" · ");
    line.chars().take(300).collect()
}

/// The "older" button was pressed: the next page, after checking the presser's access anew.
pub async fn turn(
    ctx: &serenity::Context,
    guilds: &Guilds,
    press: &serenity::ComponentInteraction,
) -> Result<(), CommandError> {
    let locale =
        super::speaking(guilds, Some(&press.locale), press.guild_id.map(|g| g.get())).await;
    let response = match older(guilds, press, locale).await {
        Ok((text, button)) => answer::turned(text, button),
        Err(err) => answer::privately(caller::explain(err, locale, "audit")),
    };
    press.create_response(&ctx.http, response).await?;
    Ok(())
}

async fn older(
    guilds: &Guilds,
    press: &serenity::ComponentInteraction,
    locale: Locale,
) -> Result<(String, Option<serenity::CreateButton>), CommandError> {
    let mut parts = press.data.custom_id.splitn(4, ':').skip(1);
    let (guild, before, action) = (parts.next(), parts.next(), parts.next());
    let guild_id = press.guild_id.ok_or(CommandError::ServerOnly)?;
    let member: &serenity::Member = press.member.as_ref().ok_or(CommandError::ServerOnly)?;
    // A button names its server; only that server's members may turn it.
    if guild.and_then(crate::guilds::parse_id) != Some(guild_id.get()) {
        return Err(crate::guilds::GuildsError::NotFound.into());
    }
    let before = before.and_then(|b| b.parse::<i64>().ok());
    let grant = guilds
        .grant_member(&caller::member_of(guild_id, member), false)
        .await?;
    let action = action.filter(|a| !a.is_empty());
    page(guilds, &grant, locale, before, action).await
}
