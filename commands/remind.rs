//! `/remind me | channel | list | cancel`: reminders in the caller's time zone, previewed while
//! the time is typed, delivered through the outbox with Snooze and Done buttons.

use poise::serenity_prelude as serenity;

use super::answer::{self, reply};
use super::{Command, CommandError, Context, caller, locale};
use crate::i18n::{self, Locale};
use crate::reminders::{Press, Reminder, Setter, Target};
use crate::state::AppState;
use crate::when::Repeat;

/// The list's pager: `reminders:<offset>` (the list is the presser's own).
pub const PAGER: &str = "reminders";
pub use crate::reminders::BUTTON;
const PAGE: u32 = 10;

pub fn commands() -> Vec<Command> {
    vec![remind()]
}

/// Reminders, to you or to a channel
#[poise::command(
    slash_command,
    subcommands("me", "channel", "list", "cancel"),
    subcommand_required
)]
async fn remind(_: Context<'_>) -> Result<(), CommandError> {
    Ok(())
}

/// How often a reminder comes back.
#[derive(Debug, Clone, Copy, poise::ChoiceParameter)]
pub enum RepeatChoice {
    #[name = "Every day"]
    Daily,
    #[name = "Every weekday"]
    Weekdays,
    #[name = "Every week"]
    Weekly,
    #[name = "Every month"]
    Monthly,
}

impl From<RepeatChoice> for Repeat {
    fn from(choice: RepeatChoice) -> Self {
        match choice {
            RepeatChoice::Daily => Repeat::Daily,
            RepeatChoice::Weekdays => Repeat::Weekdays,
            RepeatChoice::Weekly => Repeat::Weekly,
            RepeatChoice::Monthly => Repeat::Monthly,
        }
    }
}

async fn setter(ctx: &Context<'_>) -> Setter {
    Setter {
        discord_id: ctx.author().id.get(),
        locale: locale(ctx).await,
        guild_id: ctx.guild_id().map(|g| g.get()),
    }
}

/// The live preview: what the typed time means, as the only choice (its value is the text).
pub(super) async fn preview(ctx: Context<'_>, typed: &str) -> serenity::CreateAutocompleteResponse {
    let shown = if typed.trim().is_empty() {
        i18n::text(locale(&ctx).await, "cmd.remind.type_a_time")
    } else {
        ctx.data()
            .reminders()
            .preview(&setter(&ctx).await, typed)
            .await
            .unwrap_or_else(|_| typed.to_owned())
    };
    let name: String = shown.chars().take(100).collect();
    let value: String = typed.chars().take(100).collect();
    let choices = if value.is_empty() {
        Vec::new()
    } else {
        vec![serenity::AutocompleteChoice::new(name, value)]
    };
    serenity::CreateAutocompleteResponse::new().set_choices(choices)
}

/// Remind you, in a direct message
#[poise::command(slash_command)]
async fn me(
    ctx: Context<'_>,
    #[description = "When: in 2h, tomorrow 9:00, 2026-12-01 10:00"]
    #[autocomplete = "preview"]
    #[max_length = 100]
    when: String,
    #[description = "What to remind you of"]
    #[max_length = 1000]
    text: String,
    #[description = "Repeat it"] repeat: Option<RepeatChoice>,
) -> Result<(), CommandError> {
    let setter = setter(&ctx).await;
    let reminders = ctx.data().reminders();
    let repeat = repeat.map(Repeat::from);
    let set = reminders
        .create(&setter, Target::Me, &when, &text, repeat)
        .await?;
    confirm(ctx, &set).await
}

/// Remind a channel of this server (managers)
#[poise::command(slash_command, guild_only)]
async fn channel(
    ctx: Context<'_>,
    #[description = "The channel to post in"]
    #[channel_types("Text", "News")]
    channel: serenity::ChannelId,
    #[description = "When: in 2h, tomorrow 9:00, 2026-12-01 10:00"]
    #[autocomplete = "preview"]
    #[max_length = 100]
    when: String,
    #[description = "What to post"]
    #[max_length = 1000]
    text: String,
    #[description = "Repeat it"] repeat: Option<RepeatChoice>,
) -> Result<(), CommandError> {
    // Slow work ahead (Discord calls, several writes): answer "thinking" within 3 s.
    ctx.defer_ephemeral().await?;
    let member = caller::member(&ctx)?;
    let grant = ctx.data().guilds().grant_member(&member, true).await?;
    ctx.data()
        .guilds()
        .check_channel(&grant, channel.get())
        .await?;
    let target = Target::Channel(&grant, channel.get());
    let repeat = repeat.map(Repeat::from);
    let set = ctx
        .data()
        .reminders()
        .create(&setter(&ctx).await, target, &when, &text, repeat)
        .await?;
    confirm(ctx, &set).await
}

async fn confirm(ctx: Context<'_>, set: &Reminder) -> Result<(), CommandError> {
    let locale = locale(&ctx).await;
    let place = match set.channel_id {
        Some(channel) => format!("<#{channel}>"),
        None => i18n::text(locale, "cmd.remind.by_dm"),
    };
    let mut text = i18n::message(
        locale,
        "cmd.remind.set",
        &[
            ("id", &set.id.to_string()),
            ("at", &format!("<t:{0}:F> (<t:{0}:R>)", set.next_at)),
            ("zone", set.zone.name()),
            ("place", &place),
        ],
    );
    if let Some(repeat) = set.repeat {
        text.push_str(&format!("\n{}", repeat_text(locale, repeat)));
    }
    let zone_set = ctx.data().reminders().zone_set(set.discord_id).await?;
    if zone_set.is_none() {
        text.push_str(&format!("\n{}", i18n::text(locale, "cmd.remind.zone_hint")));
    }
    reply(ctx, text).await
}

/// Your reminders still to come (and, for a manager, this server's channel reminders)
#[poise::command(slash_command)]
async fn list(ctx: Context<'_>) -> Result<(), CommandError> {
    let managed = managed(&ctx).await.map(|g| g.guild_id());
    let user = ctx.author().id.get();
    let (text, button) = page(ctx.data(), locale(&ctx).await, user, managed, 0).await?;
    answer::page(ctx, text, button).await
}

/// The caller's write grant on the server they call from, if they manage it: managers see
/// and cancel the server's channel reminders, whoever set them.
async fn managed(ctx: &Context<'_>) -> Option<crate::guilds::Grant> {
    managed_by(ctx.data(), &caller::member(ctx).ok()?).await
}

async fn managed_by(
    data: &AppState,
    member: &crate::guilds::Member,
) -> Option<crate::guilds::Grant> {
    data.guilds().grant_member(member, true).await.ok()
}

/// Your reminders by their text, for autocomplete.
async fn yours(ctx: Context<'_>, typed: &str) -> serenity::CreateAutocompleteResponse {
    let managed = managed(&ctx).await.map(|g| g.guild_id());
    let found = ctx
        .data()
        .reminders()
        .choices(ctx.author().id.get(), managed, typed)
        .await
        .unwrap_or_default();
    answer::numbered(found)
}

/// Cancel one of your reminders (managers: any channel reminder of this server)
#[poise::command(slash_command)]
async fn cancel(
    ctx: Context<'_>,
    #[description = "The reminder"]
    #[autocomplete = "yours"]
    reminder: i64,
) -> Result<(), CommandError> {
    let manager = managed(&ctx).await;
    let gone = ctx
        .data()
        .reminders()
        .cancel(&setter(&ctx).await, manager.as_ref(), reminder)
        .await?;
    let text = i18n::message(
        locale(&ctx).await,
        "cmd.remind.cancelled",
        &[("id", &gone.id.to_string())],
    );
    reply(ctx, text).await
}

fn repeat_text(locale: Locale, repeat: Repeat) -> String {
    i18n::text(locale, &format!("cmd.remind.repeat_{}", repeat.as_str()))
}

/// One page of the user's reminders from `offset` (with the server's channel reminders for a
/// manager), and the button to the next.
async fn page(
    data: &AppState,
    locale: Locale,
    user: u64,
    managed: Option<u64>,
    offset: u32,
) -> Result<(String, Option<serenity::CreateButton>), CommandError> {
    let listed = data
        .reminders()
        .upcoming(user, managed, offset, PAGE + 1)
        .await?;
    if listed.is_empty() {
        return Ok((i18n::text(locale, "cmd.remind.none"), None));
    }
    let lines = listed
        .iter()
        .take(PAGE as usize)
        .map(|r| line(locale, r, user));
    let (text, held) = answer::fitted(i18n::text(locale, "cmd.remind.list_title"), lines);
    let next = offset + held as u32;
    let more = listed.len() > held;
    let button = more.then(|| answer::more(format!("{PAGER}:{next}"), locale));
    Ok((text, button))
}

/// `#3 · <when> · daily · #general · by @x · text · waiting` on one line.
fn line(locale: Locale, r: &Reminder, viewer: u64) -> String {
    let mut parts = vec![format!("**#{}**", r.id), format!("<t:{}:f>", r.next_at)];
    if r.discord_id != viewer {
        parts.push(format!("<@{}>", r.discord_id));
    }
    if let Some(repeat) = r.repeat {
        parts.push(repeat_text(locale, repeat));
    }
    if let Some(channel) = r.channel_id {
        parts.push(format!("<#{channel}>"));
    }
    parts.push(
        r.body
            .chars()
            .take(60)
            .collect::<String>()
            .replace('\n', " "),
    );
    if let Some((state, error)) = &r.delivery {
        let key = format!("cmd.remind.delivery_{state}");
        let mut shown = if i18n::has(locale, &key) {
            i18n::text(locale, &key)
        } else {
            state.clone()
        };
        if let (true, Some(error)) = (state == "dead", error) {
            shown.push_str(&format!(": {}", error.chars().take(80).collect::<String>()));
        }
        parts.push(shown);
    }
    parts.join(" · ")
}

/// The list's "more" button: the presser's own reminders, from the offset it names.
pub async fn turn(
    ctx: &serenity::Context,
    data: &AppState,
    press: &serenity::ComponentInteraction,
) -> Result<(), CommandError> {
    let locale = super::locale_in(data, &press.locale, press.guild_id).await;
    let offset = press
        .data
        .custom_id
        .split(':')
        .nth(1)
        .and_then(|o| o.parse().ok())
        .unwrap_or(0);
    // A manager's list held the server's channel reminders: checked again for this press.
    let managed = match (press.guild_id, press.member.as_ref()) {
        (Some(guild), Some(member)) => managed_by(data, &caller::member_of(guild, member))
            .await
            .map(|g| g.guild_id()),
        _ => None,
    };
    let (text, button) = page(data, locale, press.user.id.get(), managed, offset).await?;
    press
        .create_response(&ctx.http, answer::turned(text, button))
        .await?;
    Ok(())
}

/// A delivered reminder's button: snooze or done, by the one who set it. The message shows
/// what was done and loses its buttons (a snoozed reminder comes again with fresh ones).
pub async fn pressed(
    ctx: &serenity::Context,
    data: &AppState,
    press: &serenity::ComponentInteraction,
) -> Result<(), CommandError> {
    let locale = super::locale_in(data, &press.locale, press.guild_id).await;
    let Some((id, action)) = Press::parse(&press.data.custom_id) else {
        return Ok(());
    };
    let response = match data
        .reminders()
        .press(press.user.id.get(), id, action)
        .await
    {
        Ok((_, again)) => {
            let note = match action {
                Press::Done => i18n::text(locale, "cmd.remind.marked_done"),
                _ => i18n::message(
                    locale,
                    "cmd.remind.snoozed",
                    &[("at", &format!("<t:{again}:f>"))],
                ),
            };
            answer::noted(press, &note)
        }
        Err(err) => answer::privately(caller::explain(err.into(), locale, "remind")),
    };
    press.create_response(&ctx.http, response).await?;
    Ok(())
}
