//! `/notify send | status | failed | retry`: the notification API from Discord. A send goes
//! through the same checks and outbox as `POST /api/v1/notifications`, for the caller's linked
//! Herald account; `failed` lists the dead deliveries to this server's channels, each with a
//! button that drives it again (managers).

use poise::serenity_prelude as serenity;
use serde_json::{Value, json};

use super::answer::{self, reply};
use super::{Command, CommandError, Context, caller, locale};
use crate::i18n::{self, Locale};
use crate::notifications::request::{Channel, SendRequest};
use crate::notifications::store::Notification;
use crate::notifications::{Owner, history::Recent};
use crate::state::AppState;

/// A retry button: `notify:retry:<guild>:<notification>`.
pub const BUTTON: &str = "notify";
/// Dead deliveries one `/notify failed` shows (Discord allows 5 rows of 5 buttons).
const FAILED_SHOWN: u32 = 5;

pub fn commands() -> Vec<Command> {
    vec![notify()]
}

/// Notifications through Herald's outbox
#[poise::command(
    slash_command,
    subcommands("send", "status", "failed", "retry"),
    subcommand_required
)]
async fn notify(_: Context<'_>) -> Result<(), CommandError> {
    Ok(())
}

#[derive(Debug, Clone, Copy, poise::ChoiceParameter)]
pub enum Via {
    #[name = "E-mail"]
    Email,
    #[name = "Discord"]
    Discord,
    #[name = "KakaoTalk (to me)"]
    Kakao,
}

/// Send a notification: to e-mail addresses, channels (#channel), members (@member) or "me"
#[poise::command(slash_command)]
async fn send(
    ctx: Context<'_>,
    #[description = "How to send it"] via: Via,
    #[description = "Recipients, separated by commas: e-mail addresses, #channels, @members, server, me"]
    #[max_length = 1000]
    to: String,
    #[description = "The subject (the first line on Discord)"]
    #[max_length = 200]
    subject: String,
    #[description = "The text"]
    #[max_length = 2000]
    text: String,
) -> Result<(), CommandError> {
    // Slow work ahead (Discord calls, several writes): answer "thinking" within 3 s.
    ctx.defer_ephemeral().await?;
    let owner = caller::linked_user(&ctx).await?;
    let channel = match via {
        Via::Email => Channel::Email,
        Via::Discord => Channel::Discord,
        Via::Kakao => Channel::Kakao,
    };
    let guild = ctx.guild_id().map(|g| g.get());
    let here = Here {
        guild,
        notify_channel: match guild {
            Some(guild) => ctx.data().guilds().notify_channel(guild).await?,
            None => None,
        },
    };
    let request = SendRequest {
        channel: Some(channel),
        to: recipients(&to, channel, &here),
        ..SendRequest::email(Vec::new(), subject, text, None)
    };
    let answer = ctx
        .data()
        .notifications()
        .send(Owner::user(owner), request, None, false, |_, _| {
            String::new()
        })
        .await?;
    let text = i18n::message(
        locale(&ctx).await,
        "cmd.notify.queued",
        &[("id", &answer.id.to_string())],
    );
    reply(ctx, text).await
}

/// Where `/notify send` is used: the server, and its default notification channel.
struct Here {
    guild: Option<u64>,
    notify_channel: Option<u64>,
}

/// `a@example.com, <#123>, <@456>, server, me` as the API's recipients: a member (`<@id>`) of
/// the server the command is used in gets a direct message, `server` is the server's default
/// notification channel (its setting). Kakao always goes to the sender.
fn recipients(raw: &str, channel: Channel, here: &Here) -> Vec<Value> {
    if channel == Channel::Kakao {
        return Vec::new();
    }
    raw.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| {
            let inside = |open: &str| r.strip_prefix(open).and_then(|r| r.strip_suffix('>'));
            let member = inside("<@!").or_else(|| inside("<@"));
            if let (Some(user), Some(guild)) = (member, here.guild) {
                return json!({"discord_user": user, "guild": guild.to_string()});
            }
            match (r, here.notify_channel) {
                ("server" | "서버", Some(channel)) => Value::String(channel.to_string()),
                _ => Value::String(inside("<#").unwrap_or(r).to_owned()),
            }
        })
        .collect()
}

/// How one of your notifications stands
#[poise::command(slash_command)]
async fn status(
    ctx: Context<'_>,
    #[description = "The notification's number"] id: i64,
) -> Result<(), CommandError> {
    let owner = caller::linked_user(&ctx).await?;
    let found = ctx.data().notifications().get(owner, id).await?;
    reply(ctx, describe(locale(&ctx).await, &found)).await
}

/// Drive the dead deliveries of one of your notifications again
#[poise::command(slash_command)]
async fn retry(
    ctx: Context<'_>,
    #[description = "The notification's number"] id: i64,
) -> Result<(), CommandError> {
    let owner = caller::linked_user(&ctx).await?;
    let found = ctx.data().notifications().retry(owner, id).await?;
    reply(ctx, describe(locale(&ctx).await, &found)).await
}

fn describe(locale: Locale, n: &Notification) -> String {
    let head = i18n::message(
        locale,
        "cmd.notify.status_title",
        &[("id", &n.id.to_string()), ("subject", &n.subject)],
    );
    let lines = n.deliveries.iter().map(|d| {
        let mut line = format!("• {} · {} · {}", d.to, d.channel.as_str(), d.state.as_str());
        if let Some(error) = &d.last_error {
            let said: String = error.message.chars().take(120).collect();
            line.push_str(&format!(" · {said}"));
        }
        line
    });
    let (mut text, held) = answer::fitted(head, lines);
    let left = n.deliveries.len() - held;
    if left > 0 {
        // Room is kept for this line.
        let more = i18n::message(locale, "cmd.notify.more", &[("count", &left.to_string())]);
        text.push_str(&format!("\n{more}"));
    }
    text
}

/// Dead deliveries to this server's channels, each with a Retry button (managers)
#[poise::command(slash_command, guild_only)]
async fn failed(ctx: Context<'_>) -> Result<(), CommandError> {
    // Slow work ahead (Discord calls, several writes): answer "thinking" within 3 s.
    ctx.defer_ephemeral().await?;
    let guilds = ctx.data().guilds();
    let grant = guilds.grant_member(&caller::member(&ctx)?, false).await?;
    let dead = guilds.dead_of(&grant, FAILED_SHOWN).await?;
    let locale = locale(&ctx).await;
    if dead.is_empty() {
        return reply(ctx, i18n::text(locale, "cmd.notify.none_dead")).await;
    }
    let mut text = i18n::text(locale, "cmd.notify.dead_title");
    for d in &dead {
        text.push_str(&format!("\n{}", dead_line(d)));
    }
    let buttons: Vec<serenity::CreateButton> = dead
        .iter()
        .map(|d| d.notification_id)
        .fold(Vec::new(), |mut ids, id| {
            if !ids.contains(&id) {
                ids.push(id);
            }
            ids
        })
        .into_iter()
        .map(|id| {
            let label = i18n::message(
                locale,
                "cmd.notify.retry_button",
                &[("id", &id.to_string())],
            );
            serenity::CreateButton::new(format!("{BUTTON}:retry:{}:{id}", grant.guild_id()))
                .label(label)
                .style(serenity::ButtonStyle::Primary)
        })
        .collect();
    let rows = vec![serenity::CreateActionRow::Buttons(buttons)];
    ctx.send(answer::private(text).components(rows)).await?;
    Ok(())
}

fn dead_line(d: &Recent) -> String {
    let to =
        d.to.strip_prefix("discord:")
            .map_or(d.to.clone(), |c| format!("<#{c}>"));
    let error: String = d
        .error
        .clone()
        .unwrap_or_default()
        .chars()
        .take(100)
        .collect();
    format!(
        "• #{} · {to} · <t:{}:R> · {error}",
        d.notification_id, d.updated_at
    )
}

/// A Retry button: the dead posts to this server's channels driven again, by a manager.
pub async fn pressed(
    ctx: &serenity::Context,
    data: &AppState,
    press: &serenity::ComponentInteraction,
) -> Result<(), CommandError> {
    let locale = super::locale_in(data, &press.locale, press.guild_id).await;
    let text = match redrive(data, press).await {
        Ok((id, count)) => i18n::message(
            locale,
            "cmd.notify.retried",
            &[("id", &id.to_string()), ("count", &count.to_string())],
        ),
        Err(err) => caller::explain(err, locale, "notify failed"),
    };
    press
        .create_response(&ctx.http, answer::privately(text))
        .await?;
    Ok(())
}

async fn redrive(
    data: &AppState,
    press: &serenity::ComponentInteraction,
) -> Result<(i64, u64), CommandError> {
    let mut parts = press.data.custom_id.split(':').skip(2);
    let (guild, id) = (parts.next(), parts.next());
    let here = press.guild_id.ok_or(CommandError::ServerOnly)?;
    let member = press.member.as_ref().ok_or(CommandError::ServerOnly)?;
    let id = id.and_then(|i| i.parse::<i64>().ok());
    let (Some(id), true) = (
        id,
        guild.and_then(crate::guilds::parse_id) == Some(here.get()),
    ) else {
        return Err(crate::guilds::GuildsError::NotFound.into());
    };
    let grant = data
        .guilds()
        .grant_member(&caller::member_of(here, member), true)
        .await?;
    Ok((id, data.guilds().redrive(&grant, id).await?))
}
