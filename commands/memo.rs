//! `/memo add | show | edit | delete | list | search`: the team's shared notes. Members read;
//! managers (Manage Server, or a read-write manager role) write. A body is typed in a modal
//! whose custom id says what it is for, so a submit is understood by any Herald, even one
//! started after the modal opened.

use poise::serenity_prelude as serenity;

use super::answer::{self, reply};
use super::{Command, CommandError, Context, caller, locale};
use crate::i18n::{self, Locale};
use crate::memos::{self, Draft, Memo};
use crate::state::AppState;

/// Custom ids: the add modal, an edit modal (`memo:edit:<id>`), the list's pager
/// (`memos:<guild>:<offset>`).
pub const MODAL: &str = "memo";
pub const PAGER: &str = "memos";
/// Titles on one page of the list.
const PAGE: u32 = 15;

pub fn commands() -> Vec<Command> {
    vec![memo()]
}

/// The team's shared notes
#[poise::command(
    slash_command,
    guild_only,
    subcommands("add", "show", "edit", "delete", "list", "search"),
    subcommand_required
)]
async fn memo(_: Context<'_>) -> Result<(), CommandError> {
    Ok(())
}

/// Titles of this server's memos holding what was typed.
async fn titles(ctx: Context<'_>, partial: &str) -> serenity::CreateAutocompleteResponse {
    let found = match ctx.guild_id() {
        Some(guild) => ctx
            .data()
            .memos()
            .titles(guild.get(), partial)
            .await
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let choices = found
        .into_iter()
        .map(|t| serenity::AutocompleteChoice::new(t.clone(), t))
        .collect();
    serenity::CreateAutocompleteResponse::new().set_choices(choices)
}

/// Write a new memo (title, tags and body in a form)
#[poise::command(slash_command)]
async fn add(ctx: Context<'_>) -> Result<(), CommandError> {
    // Refused before anything is typed, and checked again when the form comes back.
    ctx.data()
        .guilds()
        .grant_member(&caller::member(&ctx)?, true)
        .await?;
    open_form(ctx, MODAL.to_owned(), None).await
}

/// Show a memo
#[poise::command(slash_command)]
async fn show(
    ctx: Context<'_>,
    #[description = "The memo's title"]
    #[autocomplete = "titles"]
    title: String,
) -> Result<(), CommandError> {
    let guild = caller::member(&ctx)?.guild_id;
    let memo = ctx.data().memos().by_title(guild, &title).await?;
    let card = answer::quiet().embed(card(locale(&ctx).await, &memo));
    ctx.send(card).await?;
    Ok(())
}

/// Edit a memo (its title, tags and body in a form)
#[poise::command(slash_command)]
async fn edit(
    ctx: Context<'_>,
    #[description = "The memo's title"]
    #[autocomplete = "titles"]
    title: String,
) -> Result<(), CommandError> {
    let member = caller::member(&ctx)?;
    ctx.data().guilds().grant_member(&member, true).await?;
    let memo = ctx.data().memos().by_title(member.guild_id, &title).await?;
    open_form(ctx, format!("{MODAL}:edit:{}", memo.id), Some(&memo)).await
}

/// Delete a memo
#[poise::command(slash_command)]
async fn delete(
    ctx: Context<'_>,
    #[description = "The memo's title"]
    #[autocomplete = "titles"]
    title: String,
) -> Result<(), CommandError> {
    let member = caller::member(&ctx)?;
    let grant = ctx.data().guilds().grant_member(&member, true).await?;
    let memos = ctx.data().memos();
    let memo = memos.by_title(member.guild_id, &title).await?;
    let gone = memos.delete(&grant, memo.id).await?;
    let text = i18n::message(
        locale(&ctx).await,
        "cmd.memo.deleted",
        &[("title", &gone.title)],
    );
    reply(ctx, text).await
}

/// List this server's memos
#[poise::command(slash_command)]
async fn list(ctx: Context<'_>) -> Result<(), CommandError> {
    let guild = caller::member(&ctx)?.guild_id;
    let (text, button) = page(ctx.data(), locale(&ctx).await, guild, 0).await?;
    answer::page(ctx, text, button).await
}

/// Find memos by a word of their title, body or tags
#[poise::command(slash_command)]
async fn search(
    ctx: Context<'_>,
    #[description = "What to look for"]
    #[max_length = 100]
    query: String,
) -> Result<(), CommandError> {
    let guild = caller::member(&ctx)?.guild_id;
    let found = ctx.data().memos().search(guild, &query, 10).await?;
    let locale = locale(&ctx).await;
    if found.is_empty() {
        return reply(ctx, i18n::text(locale, "cmd.memo.none_found")).await;
    }
    let mut text = i18n::message(locale, "cmd.memo.found", &[("query", &query)]);
    for memo in &found {
        let start: String = memo.body.chars().take(80).collect();
        text.push_str(&format!(
            "\n**{}**: {}",
            memo.title,
            start.replace('\n', " ")
        ));
    }
    reply(ctx, text).await
}

/// Opens the memo form (prefilled from `memo` when editing one).
async fn open_form(
    ctx: Context<'_>,
    custom_id: String,
    memo: Option<&Memo>,
) -> Result<(), CommandError> {
    let poise::Context::Application(app) = ctx else {
        return Err(CommandError::ServerOnly);
    };
    let locale = locale(&ctx).await;
    let field = |id: &str, style, label: &str, max: usize, value: Option<String>| {
        let mut input = serenity::CreateInputText::new(style, i18n::text(locale, label), id)
            .max_length(max as u16)
            .required(id != "tags");
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            input = input.value(value);
        }
        serenity::CreateActionRow::InputText(input)
    };
    let short = serenity::InputTextStyle::Short;
    let modal = serenity::CreateModal::new(custom_id, i18n::text(locale, "cmd.memo.form_title"))
        .components(vec![
            field(
                "title",
                short,
                "cmd.memo.form_field_title",
                memos::TITLE_MAX,
                memo.map(|m| m.title.clone()),
            ),
            field(
                "tags",
                short,
                "cmd.memo.form_field_tags",
                255,
                memo.map(|m| m.tags.join(", ")),
            ),
            field(
                "body",
                serenity::InputTextStyle::Paragraph,
                "cmd.memo.form_field_body",
                memos::BODY_MAX,
                memo.map(|m| m.body.clone()),
            ),
        ]);
    app.interaction
        .create_response(
            ctx.http(),
            serenity::CreateInteractionResponse::Modal(modal),
        )
        .await?;
    app.has_sent_initial_response
        .store(true, std::sync::atomic::Ordering::SeqCst);
    Ok(())
}

/// The memo form came back: create or edit, after checking the sender's access anew.
pub async fn submitted(
    ctx: &serenity::Context,
    data: &AppState,
    submit: &serenity::ModalInteraction,
) -> Result<(), CommandError> {
    let locale = super::locale_in(data, &submit.locale, submit.guild_id).await;
    let text = match save(data, submit, locale).await {
        Ok(text) => text,
        Err(err) => caller::explain(err, locale, "memo"),
    };
    submit
        .create_response(&ctx.http, answer::privately(text))
        .await?;
    Ok(())
}

async fn save(
    data: &AppState,
    submit: &serenity::ModalInteraction,
    locale: Locale,
) -> Result<String, CommandError> {
    let guild_id = submit.guild_id.ok_or(CommandError::ServerOnly)?;
    let member = submit.member.as_ref().ok_or(CommandError::ServerOnly)?;
    let grant = data
        .guilds()
        .grant_member(&caller::member_of(guild_id, member), true)
        .await?;
    let value = |id: &str| {
        submit
            .data
            .components
            .iter()
            .flat_map(|row| row.components.iter())
            .find_map(|c| match c {
                serenity::ActionRowComponent::InputText(input) if input.custom_id == id => {
                    input.value.clone()
                }
                _ => None,
            })
            .unwrap_or_default()
    };
    let draft = Draft::parse(&value("title"), &value("body"), &value("tags"))?;
    let edit = submit
        .data
        .custom_id
        .strip_prefix(&format!("{MODAL}:edit:"))
        .and_then(|id| id.parse::<i64>().ok());
    let (key, memo) = match edit {
        Some(id) => (
            "cmd.memo.updated",
            data.memos().update(&grant, id, &draft).await?,
        ),
        None => (
            "cmd.memo.created",
            data.memos().create(&grant, &draft).await?,
        ),
    };
    Ok(i18n::message(locale, key, &[("title", &memo.title)]))
}

/// A memo as Discord shows it: its title, body, tags, and when it last changed.
fn card(locale: Locale, memo: &Memo) -> serenity::CreateEmbed {
    let mut footer = i18n::text(locale, "cmd.memo.footer");
    if !memo.tags.is_empty() {
        footer.push_str(&format!(" · #{}", memo.tags.join(" #")));
    }
    serenity::CreateEmbed::new()
        .title(&memo.title)
        .description(&memo.body)
        .footer(serenity::CreateEmbedFooter::new(footer))
        .timestamp(serenity::Timestamp::from_unix_timestamp(memo.updated_at).unwrap_or_default())
}

/// One page of titles from `offset`, and the button to the next.
async fn page(
    data: &AppState,
    locale: Locale,
    guild: u64,
    offset: u32,
) -> Result<(String, Option<serenity::CreateButton>), CommandError> {
    let titles = data.memos().page(guild, offset, PAGE + 1).await?;
    if titles.is_empty() {
        return Ok((i18n::text(locale, "cmd.memo.none"), None));
    }
    let more = titles.len() > PAGE as usize;
    let mut text = i18n::text(locale, "cmd.memo.list_title");
    for memo in titles.iter().take(PAGE as usize) {
        text.push_str(&format!("\n• **{}**", memo.title));
        if !memo.tags.is_empty() {
            text.push_str(&format!(" #{}", memo.tags.join(" #")));
        }
    }
    let button = more.then(|| answer::more(format!("{PAGER}:{guild}:{}", offset + PAGE), locale));
    Ok((text, button))
}

/// The list's "more" button: the next page (members may read, so no access beyond the server).
pub async fn turn(
    ctx: &serenity::Context,
    data: &AppState,
    press: &serenity::ComponentInteraction,
) -> Result<(), CommandError> {
    let locale = super::locale_in(data, &press.locale, press.guild_id).await;
    let mut parts = press.data.custom_id.split(':').skip(1);
    let (guild, offset) = (parts.next(), parts.next());
    let here = press.guild_id.map(|g| g.get());
    let response = match (
        guild.and_then(crate::guilds::parse_id),
        offset.and_then(|o| o.parse().ok()),
    ) {
        (Some(guild), Some(offset)) if Some(guild) == here => {
            let (text, button) = page(data, locale, guild, offset).await?;
            answer::turned(text, button)
        }
        _ => {
            let refused = crate::guilds::GuildsError::NotFound.into();
            answer::privately(caller::explain(refused, locale, "memo list"))
        }
    };
    press.create_response(&ctx.http, response).await?;
    Ok(())
}
