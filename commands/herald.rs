//! `/herald help | status`: what the caller may run here, and how the bot and the outbox are.

use super::answer::reply;
use super::{Command, CommandError, Context, caller, locale};
use crate::db::now_unix;
use crate::guilds::access::Level;
use crate::i18n::{self, Locale};

pub fn commands() -> Vec<Command> {
    vec![herald()]
}

/// Herald itself: help and status
#[poise::command(slash_command, subcommands("help", "status"), subcommand_required)]
async fn herald(_: Context<'_>) -> Result<(), CommandError> {
    Ok(())
}

/// What a caller needs to run a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Needs {
    Anyone,
    /// A manager of the server, read-only access being enough.
    Read,
    Write,
}

/// Every command the help lists, with what it needs (server commands need a server).
const LISTED: &[(&str, Needs)] = &[
    ("herald help", Needs::Anyone),
    ("herald status", Needs::Anyone),
    ("ping", Needs::Anyone),
    ("memo show", Needs::Anyone),
    ("memo list", Needs::Anyone),
    ("memo search", Needs::Anyone),
    ("settings show", Needs::Read),
    ("settings history", Needs::Read),
    ("audit", Needs::Read),
    ("settings set", Needs::Write),
    ("settings restore", Needs::Write),
    ("memo add", Needs::Write),
    ("memo edit", Needs::Write),
    ("memo delete", Needs::Write),
];

/// The commands you may run here
#[poise::command(slash_command)]
async fn help(ctx: Context<'_>) -> Result<(), CommandError> {
    let may = match caller::member(&ctx) {
        Ok(member) => match ctx.data().guilds().grant_member(&member, false).await {
            Ok(grant) if grant.access().level == Level::ReadWrite => Needs::Write,
            Ok(_) => Needs::Read,
            Err(crate::guilds::GuildsError::NotFound) => Needs::Anyone,
            Err(other) => return Err(other.into()),
        },
        // In a direct message only what needs no server.
        Err(_) => Needs::Anyone,
    };
    let locale = locale(&ctx);
    let mut text = i18n::text(locale, "cmd.herald.help_title");
    for (name, needs) in LISTED.iter().filter(|(_, needs)| *needs <= may) {
        text.push_str(&format!(
            "\n`/{name}`: {}",
            description(locale, name, *needs)
        ));
    }
    if may < Needs::Write {
        text.push_str(&format!("\n{}", i18n::text(locale, "cmd.herald.help_more")));
    }
    reply(ctx, text).await
}

fn description(locale: Locale, name: &str, needs: Needs) -> String {
    let key = format!("cmd.{}.description", name.replace(' ', "."));
    let text = i18n::text(locale, &key);
    match needs {
        Needs::Anyone => text,
        Needs::Read => format!("{text} ({})", i18n::text(locale, "cmd.herald.needs_read")),
        Needs::Write => format!("{text} ({})", i18n::text(locale, "cmd.herald.needs_write")),
    }
}

/// How the bot and the notification outbox are doing
#[poise::command(slash_command)]
async fn status(ctx: Context<'_>) -> Result<(), CommandError> {
    let data = ctx.data();
    let servers = crate::guilds::active_count(data.db()).await?;
    let (depth, oldest) = crate::notifications::store::queue_depth(data.db(), now_unix()).await?;
    let count = |state: &str| {
        depth
            .iter()
            .find(|(s, _)| *s == state)
            .map_or(0, |(_, n)| *n)
    };
    let waiting = count("queued") + count("scheduled") + count("failed") + count("sending");
    let locale = locale(&ctx);
    let text = i18n::message(
        locale,
        "cmd.herald.status_text",
        &[
            ("bot", data.bot().status().name()),
            ("servers", &servers.to_string()),
            ("waiting", &waiting.to_string()),
            ("dead", &count("dead").to_string()),
            ("oldest", &oldest.to_string()),
        ],
    );
    reply(ctx, text).await
}
