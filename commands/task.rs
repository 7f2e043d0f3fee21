//! `/task add | assign | list | done | reopen`: the team's tasks with assignees and a due time.
//! Managers add and assign; an assignee or a manager closes and reopens. The assignees are
//! alerted in the task's channel before it is due, with a Done button.

use poise::serenity_prelude as serenity;

use super::answer::{self, reply};
use super::{Command, CommandError, Context, caller, locale};
use crate::i18n::{self, Locale};
use crate::state::AppState;
use crate::tasks::{self, Doer, NewTask, Task};

/// The list's pager: `tasks:<guild>:<offset>:<filter>`.
pub const PAGER: &str = "tasks";
pub use crate::tasks::BUTTON;
const PAGE: u32 = 10;

pub fn commands() -> Vec<Command> {
    vec![task()]
}

/// The team's tasks
#[poise::command(
    slash_command,
    guild_only,
    subcommands("add", "assign", "list", "done", "reopen"),
    subcommand_required
)]
async fn task(_: Context<'_>) -> Result<(), CommandError> {
    Ok(())
}

/// Which tasks a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poise::ChoiceParameter)]
pub enum Shown {
    #[name = "Open tasks"]
    Open,
    #[name = "My open tasks"]
    Mine,
    #[name = "All tasks"]
    All,
}

impl Shown {
    fn slug(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Mine => "mine",
            Self::All => "all",
        }
    }

    fn parse(raw: &str) -> Self {
        match raw {
            "mine" => Self::Mine,
            "all" => Self::All,
            _ => Self::Open,
        }
    }
}

async fn open_tasks(ctx: Context<'_>, typed: &str) -> serenity::CreateAutocompleteResponse {
    choices(ctx, typed, true).await
}

async fn done_tasks(ctx: Context<'_>, typed: &str) -> serenity::CreateAutocompleteResponse {
    choices(ctx, typed, false).await
}

async fn choices(
    ctx: Context<'_>,
    typed: &str,
    open: bool,
) -> serenity::CreateAutocompleteResponse {
    let found = match ctx.guild_id() {
        Some(guild) => ctx
            .data()
            .tasks()
            .choices(guild.get(), typed, open)
            .await
            .unwrap_or_default(),
        None => Vec::new(),
    };
    answer::numbered(found)
}

/// Add a task (managers)
#[poise::command(slash_command)]
async fn add(
    ctx: Context<'_>,
    #[description = "What is to be done"]
    #[max_length = 200]
    title: String,
    #[description = "Who does it"] assignee: Option<serenity::UserId>,
    #[description = "When it is due: tomorrow 17:00, 2026-12-01 10:00"]
    #[autocomplete = "super::remind::preview"]
    #[max_length = 100]
    due: Option<String>,
    #[description = "Alert the assignees this long before (default 24h, 1h; none for no alert)"]
    #[max_length = 40]
    alerts: Option<String>,
    #[description = "Where the alerts are posted (default: this channel)"]
    #[channel_types("Text", "News")]
    channel: Option<serenity::ChannelId>,
) -> Result<(), CommandError> {
    // Slow work ahead (Discord calls, several writes): answer "thinking" within 3 s.
    ctx.defer_ephemeral().await?;
    let member = caller::member(&ctx)?;
    let data = ctx.data();
    let grant = data.guilds().grant_member(&member, true).await?;
    let channel = channel.unwrap_or(ctx.channel_id()).get();
    data.guilds().check_channel(&grant, channel).await?;
    let due_at = match due.as_deref().filter(|d| !d.trim().is_empty()) {
        Some(typed) => {
            let zone = data
                .reminders()
                .zone_of(member.discord_id, locale(&ctx).await)
                .await?;
            let at = crate::when::parse(typed, chrono::Utc::now(), zone)
                .map_err(crate::reminders::ReminderError::from)?;
            Some(at.timestamp())
        }
        None => None,
    };
    let alerts = match alerts {
        Some(raw) => tasks::parse_alerts(&raw)?,
        None => tasks::DEFAULT_ALERTS.to_vec(),
    };
    let new = NewTask {
        channel_id: channel,
        title,
        due_at,
        alerts,
        assignees: assignee.map(|a| vec![a.get()]).unwrap_or_default(),
    };
    let (task, queued) = data.tasks().create(&grant, new).await?;
    let locale = locale(&ctx).await;
    let mut text = i18n::message(
        locale,
        "cmd.task.added",
        &[("id", &task.id.to_string()), ("title", &task.title)],
    );
    text.push_str(&format!("\n{}", describe(locale, &task)));
    if queued > 0 {
        text.push_str(&format!(
            "\n{}",
            i18n::message(
                locale,
                "cmd.task.alerts_queued",
                &[("count", &queued.to_string())]
            )
        ));
    } else if task.due_at.is_some() && !task.alerts.is_empty() && !task.assignees.is_empty() {
        text.push_str(&format!("\n{}", i18n::text(locale, "cmd.task.alerts_none")));
    }
    reply(ctx, text).await
}

/// Assign a task to someone, or take them off it (managers)
#[poise::command(slash_command)]
async fn assign(
    ctx: Context<'_>,
    #[description = "The task"]
    #[autocomplete = "open_tasks"]
    task: i64,
    #[description = "Who"] member: serenity::UserId,
    #[description = "Take them off the task instead"] remove: Option<bool>,
) -> Result<(), CommandError> {
    let grant = ctx
        .data()
        .guilds()
        .grant_member(&caller::member(&ctx)?, true)
        .await?;
    let add = !remove.unwrap_or(false);
    let task = ctx
        .data()
        .tasks()
        .assign(&grant, task, member.get(), add)
        .await?;
    let locale = locale(&ctx).await;
    let text = format!(
        "{}\n{}",
        i18n::message(locale, "cmd.task.assigned", &[("id", &task.id.to_string())]),
        describe(locale, &task)
    );
    reply(ctx, text).await
}

/// This server's tasks
#[poise::command(slash_command)]
async fn list(
    ctx: Context<'_>,
    #[description = "Which tasks"] show: Option<Shown>,
) -> Result<(), CommandError> {
    let member = caller::member(&ctx)?;
    let shown = show.unwrap_or(Shown::Open);
    let (text, button) = page(ctx.data(), locale(&ctx).await, &member, shown, 0).await?;
    answer::page(ctx, text, button).await
}

/// Mark a task done (its assignees and managers)
#[poise::command(slash_command)]
async fn done(
    ctx: Context<'_>,
    #[description = "The task"]
    #[autocomplete = "open_tasks"]
    task: i64,
) -> Result<(), CommandError> {
    set_state(ctx, task, true).await
}

/// Open a done task again (its assignees and managers)
#[poise::command(slash_command)]
async fn reopen(
    ctx: Context<'_>,
    #[description = "The task"]
    #[autocomplete = "done_tasks"]
    task: i64,
) -> Result<(), CommandError> {
    set_state(ctx, task, false).await
}

/// `/task done` and `/task reopen`: the task closed or opened again, and said so.
async fn set_state(ctx: Context<'_>, task: i64, done: bool) -> Result<(), CommandError> {
    let task = close(ctx.data(), &caller::member(&ctx)?, task, done).await?;
    let key = if done {
        "cmd.task.done"
    } else {
        "cmd.task.reopened"
    };
    let id = task.id.to_string();
    let text = i18n::message(
        locale(&ctx).await,
        key,
        &[("id", &id), ("title", &task.title)],
    );
    reply(ctx, text).await
}

async fn close(
    data: &AppState,
    member: &crate::guilds::Member,
    id: i64,
    done: bool,
) -> Result<Task, CommandError> {
    let (actor, manages) = data.guilds().member_actor(member).await?;
    let doer = Doer {
        actor: &actor,
        manages,
    };
    Ok(data
        .tasks()
        .set_done(member.guild_id, id, &doer, done)
        .await?)
}

/// A task's state, assignees and due time on one line.
fn describe(locale: Locale, task: &Task) -> String {
    let state = i18n::text(locale, &format!("cmd.task.state_{}", task.state));
    let due = task.due_at.map_or_else(
        || i18n::text(locale, "cmd.task.no_due"),
        |at| format!("<t:{at}:f> (<t:{at}:R>)"),
    );
    i18n::message(
        locale,
        "cmd.task.line",
        &[
            ("state", &state),
            ("assignees", &tasks::mentions(&task.assignees)),
            ("due", &due),
        ],
    )
}

async fn page(
    data: &AppState,
    locale: Locale,
    member: &crate::guilds::Member,
    shown: Shown,
    offset: u32,
) -> Result<(String, Option<serenity::CreateButton>), CommandError> {
    let mine = (shown == Shown::Mine).then_some(member.discord_id);
    let open = shown != Shown::All;
    let found = data
        .tasks()
        .list(member.guild_id, open, mine, offset, PAGE + 1)
        .await?;
    if found.is_empty() {
        return Ok((i18n::text(locale, "cmd.task.none"), None));
    }
    let lines = found.iter().take(PAGE as usize).map(|task| {
        format!(
            "**#{}** {} · {}",
            task.id,
            task.title,
            describe(locale, task)
        )
    });
    let (text, held) = answer::fitted(i18n::text(locale, "cmd.task.list_title"), lines);
    let next = offset + held as u32;
    let button = (found.len() > held).then(|| {
        let id = format!("{PAGER}:{}:{next}:{}", member.guild_id, shown.slug());
        answer::more(id, locale)
    });
    Ok((text, button))
}

/// The list's "more" button: the next page, for a member of the server it names.
pub async fn turn(
    ctx: &serenity::Context,
    data: &AppState,
    press: &serenity::ComponentInteraction,
) -> Result<(), CommandError> {
    let locale = super::locale_in(data, &press.locale, press.guild_id).await;
    let mut parts = press.data.custom_id.split(':').skip(1);
    let (guild, offset, shown) = (parts.next(), parts.next(), parts.next());
    let response = match (press.guild_id, press.member.as_ref()) {
        (Some(here), Some(member))
            if guild.and_then(crate::guilds::parse_id) == Some(here.get()) =>
        {
            let member = caller::member_of(here, member);
            let offset = offset.and_then(|o| o.parse().ok()).unwrap_or(0);
            let shown = Shown::parse(shown.unwrap_or_default());
            let (text, button) = page(data, locale, &member, shown, offset).await?;
            answer::turned(text, button)
        }
        _ => {
            let refused = crate::guilds::GuildsError::NotFound.into();
            answer::privately(caller::explain(refused, locale, "task list"))
        }
    };
    press.create_response(&ctx.http, response).await?;
    Ok(())
}

/// An alert's Done button: the task closed by its presser, when they may.
pub async fn pressed(
    ctx: &serenity::Context,
    data: &AppState,
    press: &serenity::ComponentInteraction,
) -> Result<(), CommandError> {
    let locale = super::locale_in(data, &press.locale, press.guild_id).await;
    let mut parts = press.data.custom_id.split(':').skip(1);
    let id = parts.next().and_then(|id| id.parse::<i64>().ok());
    let closed = match (id, press.guild_id, press.member.as_ref()) {
        (Some(id), Some(guild), Some(member)) => {
            close(data, &caller::member_of(guild, member), id, true).await
        }
        _ => Err(CommandError::ServerOnly),
    };
    let response = match closed {
        Ok(task) => {
            let note = i18n::message(
                locale,
                "cmd.task.done_by",
                &[("user", &press.user.id.to_string())],
            );
            answer::noted(press, &format!("{note} (#{})", task.id))
        }
        Err(err) => answer::privately(caller::explain(err, locale, "task done")),
    };
    press.create_response(&ctx.http, response).await?;
    Ok(())
}
