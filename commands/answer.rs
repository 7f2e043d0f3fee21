//! The shapes of Herald's answers: private (ephemeral) and never pinging anyone, a page with
//! its "next" button, the same page turned in place.

use poise::serenity_prelude as serenity;

use super::{CommandError, Context};
use crate::i18n::{self, Locale};

/// A private answer to the caller, still empty (for an embed, say).
pub fn quiet() -> poise::CreateReply {
    poise::CreateReply::default()
        .ephemeral(true)
        .allowed_mentions(serenity::CreateAllowedMentions::new())
}

/// A private answer to the caller.
pub fn private(text: String) -> poise::CreateReply {
    quiet().content(text)
}

/// Sends a private answer.
pub async fn reply(ctx: Context<'_>, text: String) -> Result<(), CommandError> {
    ctx.send(private(text)).await?;
    Ok(())
}

/// A private page, with the button to the next one when there is one.
pub async fn page(
    ctx: Context<'_>,
    text: String,
    next: Option<serenity::CreateButton>,
) -> Result<(), CommandError> {
    ctx.send(private(text).components(rows(next))).await?;
    Ok(())
}

/// The message a pager's button belongs to, showing the next page instead.
pub fn turned(
    text: String,
    next: Option<serenity::CreateButton>,
) -> serenity::CreateInteractionResponse {
    serenity::CreateInteractionResponse::UpdateMessage(
        serenity::CreateInteractionResponseMessage::new()
            .content(text)
            .allowed_mentions(serenity::CreateAllowedMentions::new())
            .components(rows(next)),
    )
}

/// A new private message answering a button or a form (a refusal, say).
pub fn privately(text: String) -> serenity::CreateInteractionResponse {
    serenity::CreateInteractionResponse::Message(
        serenity::CreateInteractionResponseMessage::new()
            .content(text)
            .ephemeral(true)
            .allowed_mentions(serenity::CreateAllowedMentions::new()),
    )
}

/// What one message holds: Discord takes 2,000 characters; some room is kept.
const ROOM: usize = 1900;

/// `head`, then as many of `lines` as fit in one message; answers the text and how many of
/// the lines it holds (a pager's next page starts after them).
pub fn fitted(head: String, lines: impl IntoIterator<Item = String>) -> (String, usize) {
    let (mut text, mut held) = (head, 0);
    let mut size = text.chars().count();
    for line in lines {
        let more = 1 + line.chars().count();
        if size + more > ROOM {
            break;
        }
        text.push('\n');
        text.push_str(&line);
        size += more;
        held += 1;
    }
    (text, held)
}

/// Autocomplete choices naming numbered things (a task, a reminder): the label shown, the
/// number sent.
pub fn numbered(found: Vec<(i64, String)>) -> serenity::CreateAutocompleteResponse {
    let choices = found
        .into_iter()
        .map(|(id, label)| serenity::AutocompleteChoice::new(label, id))
        .collect();
    serenity::CreateAutocompleteResponse::new().set_choices(choices)
}

/// A pager's button to the next page, its state in `custom_id`.
pub fn more(custom_id: String, locale: Locale) -> serenity::CreateButton {
    serenity::CreateButton::new(custom_id)
        .label(i18n::text(locale, "cmd.memo.more"))
        .style(serenity::ButtonStyle::Secondary)
}

/// The message a button was on, with a line saying what its press did and no buttons left.
pub fn noted(
    press: &serenity::ComponentInteraction,
    note: &str,
) -> serenity::CreateInteractionResponse {
    serenity::CreateInteractionResponse::UpdateMessage(
        serenity::CreateInteractionResponseMessage::new()
            .content(format!("{}\n{note}", press.message.content))
            .allowed_mentions(serenity::CreateAllowedMentions::new())
            .components(Vec::new()),
    )
}

fn rows(next: Option<serenity::CreateButton>) -> Vec<serenity::CreateActionRow> {
    next.map(|b| vec![serenity::CreateActionRow::Buttons(vec![b])])
        .unwrap_or_default()
}
