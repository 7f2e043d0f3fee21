//! `/herald link | help | status | timezone | stats`: linking Discord to a Herald account,
//! what the caller may run here, how the bot and the outbox are, the zone the caller's times
//! are read in, and the server's week in figures.

use poise::serenity_prelude as serenity;

use super::answer::reply;
use super::{Command, CommandError, Context, caller, locale};
use crate::db::now_unix;
use crate::guilds::access::Level;
use crate::i18n::{self, Locale};

pub fn commands() -> Vec<Command> {
    vec![herald()]
}

/// Herald itself: your account link, help, status, time zone, stats
#[poise::command(
    slash_command,
    subcommands("link", "help", "status", "timezone", "stats"),
    subcommand_required
)]
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
    ("herald link", Needs::Anyone),
    ("herald help", Needs::Anyone),
    ("herald status", Needs::Anyone),
    ("herald timezone", Needs::Anyone),
    ("ping", Needs::Anyone),
    ("memo show", Needs::Anyone),
    ("memo list", Needs::Anyone),
    ("memo search", Needs::Anyone),
    ("task list", Needs::Anyone),
    ("task done", Needs::Anyone),
    ("task reopen", Needs::Anyone),
    ("remind me", Needs::Anyone),
    ("remind list", Needs::Anyone),
    ("remind cancel", Needs::Anyone),
    ("notify send", Needs::Anyone),
    ("notify status", Needs::Anyone),
    ("notify retry", Needs::Anyone),
    ("apikey list", Needs::Anyone),
    ("apikey create", Needs::Anyone),
    ("apikey disable", Needs::Anyone),
    ("apikey roll", Needs::Anyone),
    ("herald stats", Needs::Read),
    ("settings show", Needs::Read),
    ("settings history", Needs::Read),
    ("audit", Needs::Read),
    ("notify failed", Needs::Read),
    ("settings set", Needs::Write),
    ("settings restore", Needs::Write),
    ("memo add", Needs::Write),
    ("memo edit", Needs::Write),
    ("memo delete", Needs::Write),
    ("task add", Needs::Write),
    ("task assign", Needs::Write),
    ("remind channel", Needs::Write),
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
    let locale = locale(&ctx).await;
    let mut lines: Vec<String> = LISTED
        .iter()
        .filter(|(_, needs)| *needs <= may)
        .map(|(name, needs)| format!("`/{name}`: {}", description(locale, name, *needs)))
        .collect();
    if may < Needs::Write {
        lines.push(i18n::text(locale, "cmd.herald.help_more"));
    }
    // The list outgrows a message's 2,000 characters; an embed holds 4,096.
    let list = serenity::CreateEmbed::new().description(lines.join("\n"));
    let title = i18n::text(locale, "cmd.herald.help_title");
    ctx.send(super::answer::quiet().content(title).embed(list))
        .await?;
    Ok(())
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
    let locale = locale(&ctx).await;
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

/// Link your Discord account to a Herald account
#[poise::command(slash_command)]
async fn link(ctx: Context<'_>) -> Result<(), CommandError> {
    let locale = locale(&ctx).await;
    let site = ctx.data().config().public_url.clone();
    let text = match caller::linked_user(&ctx).await {
        Ok(user) => i18n::message(
            locale,
            "cmd.herald.linked",
            &[
                ("user", &user.to_string()),
                ("account", &join(&site, "/account")),
            ],
        ),
        Err(CommandError::NotLinked) => i18n::message(
            locale,
            "cmd.herald.link_text",
            &[
                ("login", &join(&site, "/auth/discord/login?next=/account")),
                ("account", &join(&site, "/account")),
            ],
        ),
        Err(other) => return Err(other),
    };
    reply(ctx, text).await
}

fn join(site: &url::Url, path: &str) -> String {
    format!("{}{path}", site.as_str().trim_end_matches('/'))
}

/// IANA zones holding what was typed.
async fn zones(_: Context<'_>, typed: &str) -> serenity::CreateAutocompleteResponse {
    let choices = crate::when::zones_like(typed, 25)
        .into_iter()
        .map(|zone| serenity::AutocompleteChoice::new(zone, zone))
        .collect();
    serenity::CreateAutocompleteResponse::new().set_choices(choices)
}

/// The time zone your reminder and due times are read in
#[poise::command(slash_command)]
async fn timezone(
    ctx: Context<'_>,
    #[description = "A zone such as Asia/Seoul or Europe/Berlin (leave out to see yours)"]
    #[autocomplete = "zones"]
    #[max_length = 64]
    zone: Option<String>,
) -> Result<(), CommandError> {
    let locale = locale(&ctx).await;
    let me = ctx.author().id.get();
    let reminders = ctx.data().reminders();
    let text = match zone {
        Some(typed) => match crate::when::zone(&typed) {
            Some(zone) => {
                reminders.set_zone(me, zone).await?;
                i18n::message(locale, "cmd.herald.zone_set", &[("zone", zone.name())])
            }
            None => i18n::message(locale, "cmd.herald.zone_unknown", &[("zone", &typed)]),
        },
        None => {
            let zone = reminders.zone_of(me, locale).await?;
            let key = match reminders.zone_set(me).await? {
                Some(_) => "cmd.herald.zone_is",
                None => "cmd.herald.zone_default",
            };
            i18n::message(locale, key, &[("zone", zone.name())])
        }
    };
    reply(ctx, text).await
}

/// This server's last seven days in figures (managers)
#[poise::command(slash_command, guild_only)]
async fn stats(ctx: Context<'_>) -> Result<(), CommandError> {
    // Slow work ahead (Discord calls, several writes): answer "thinking" within 3 s.
    ctx.defer_ephemeral().await?;
    let guilds = ctx.data().guilds();
    let grant = guilds.grant_member(&caller::member(&ctx)?, false).await?;
    let week = guilds.week(&grant).await?;
    let locale = locale(&ctx).await;
    let mut text = i18n::message(
        locale,
        "cmd.herald.stats_text",
        &[
            ("changes", &week.changes.to_string()),
            ("memos", &week.memos.to_string()),
            ("memos_new", &week.memos_new.to_string()),
            ("tasks_open", &week.tasks_open.to_string()),
            ("tasks_done", &week.tasks_done.to_string()),
            ("reminders", &week.reminders.to_string()),
            ("sent", &week.sent.to_string()),
            ("failed", &week.failed.to_string()),
        ],
    );
    for (action, count) in &week.top_actions {
        text.push_str(&format!("\n• `{action}` × {count}"));
    }
    reply(ctx, text).await
}
