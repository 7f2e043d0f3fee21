//! `/apikey list | create | disable | roll`: the caller's API keys (their linked Herald
//! account's), always answered privately; a new secret is shown this once and never again.

use poise::serenity_prelude as serenity;

use super::answer::{self, reply};
use super::{Command, CommandError, Context, caller, locale};
use crate::i18n::{self, Locale};
use crate::keys::store::{ApiKey, KeyStatus};
use crate::keys::{KeyChange, WithSecret};

pub fn commands() -> Vec<Command> {
    vec![apikey()]
}

/// Your API keys (answers only you see)
#[poise::command(
    slash_command,
    subcommands("list", "create", "disable", "roll"),
    subcommand_required,
    ephemeral
)]
async fn apikey(_: Context<'_>) -> Result<(), CommandError> {
    Ok(())
}

/// Your keys by their memo, for autocomplete.
async fn yours(ctx: Context<'_>, typed: &str) -> serenity::CreateAutocompleteResponse {
    let Ok(owner) = caller::linked_user(&ctx).await else {
        return serenity::CreateAutocompleteResponse::new();
    };
    let keys = ctx.data().keys().list(owner).await.unwrap_or_default();
    let typed = typed.trim().to_lowercase();
    let choices = keys
        .into_iter()
        .filter(|k| k.memo.to_lowercase().contains(&typed) || k.access_key.contains(&typed))
        .take(25)
        .map(|k| {
            let label = format!("#{} · {} · {}", k.id, k.access_key, k.memo);
            serenity::AutocompleteChoice::new(label.chars().take(100).collect::<String>(), k.id)
        })
        .collect();
    serenity::CreateAutocompleteResponse::new().set_choices(choices)
}

/// List your API keys
#[poise::command(slash_command, ephemeral)]
async fn list(ctx: Context<'_>) -> Result<(), CommandError> {
    let owner = caller::linked_user(&ctx).await?;
    let keys = ctx.data().keys().list(owner).await?;
    let locale = locale(&ctx).await;
    if keys.is_empty() {
        return reply(ctx, i18n::text(locale, "cmd.apikey.none")).await;
    }
    let lines = keys.iter().map(|key| line(locale, key));
    let (mut text, held) = answer::fitted(i18n::text(locale, "cmd.apikey.list_title"), lines);
    if held < keys.len() {
        let left = (keys.len() - held).to_string();
        text.push_str(&format!(
            "\n{}",
            i18n::message(locale, "cmd.notify.more", &[("count", &left)])
        ));
    }
    reply(ctx, text).await
}

/// Make a new API key (its secret is shown once)
#[poise::command(slash_command, ephemeral)]
async fn create(
    ctx: Context<'_>,
    #[description = "A note to tell it apart"]
    #[max_length = 40]
    memo: String,
    #[description = "Days until it expires (never, when left out)"]
    #[min = 1]
    #[max = 3650]
    expires_in_days: Option<i64>,
) -> Result<(), CommandError> {
    let owner = caller::linked_user(&ctx).await?;
    let expires = expires_in_days.map(|d| crate::db::now_unix() + d * 86_400);
    let made = ctx.data().keys().create(owner, &memo, expires).await?;
    reply(
        ctx,
        secret_text(locale(&ctx).await, "cmd.apikey.created", &made),
    )
    .await
}

/// Disable one of your API keys (its calls are refused at once)
#[poise::command(slash_command, ephemeral)]
async fn disable(
    ctx: Context<'_>,
    #[description = "The key"]
    #[autocomplete = "yours"]
    key: i64,
) -> Result<(), CommandError> {
    let owner = caller::linked_user(&ctx).await?;
    let change = KeyChange {
        memo: None,
        status: Some(KeyStatus::Disabled),
    };
    let key = ctx.data().keys().update(owner, key, change).await?;
    let locale = locale(&ctx).await;
    let text = format!(
        "{}\n{}",
        i18n::text(locale, "cmd.apikey.disabled"),
        line(locale, &key)
    );
    reply(ctx, text).await
}

/// Give one of your API keys a new secret (shown once); the old one works for a grace period
#[poise::command(slash_command, ephemeral)]
async fn roll(
    ctx: Context<'_>,
    #[description = "The key"]
    #[autocomplete = "yours"]
    key: i64,
    #[description = "Hours the old secret keeps working (default 24, at most 168)"]
    #[min = 0]
    #[max = 168]
    grace_hours: Option<i64>,
) -> Result<(), CommandError> {
    let owner = caller::linked_user(&ctx).await?;
    let grace = grace_hours.map_or(crate::keys::DEFAULT_GRACE_SECS, |h| h * 3600);
    let rolled = ctx.data().keys().roll(owner, key, grace).await?;
    reply(
        ctx,
        secret_text(locale(&ctx).await, "cmd.apikey.rolled", &rolled),
    )
    .await
}

/// `#3 · hk_... · memo · active · expires ... · last used ...`
fn line(locale: Locale, key: &ApiKey) -> String {
    let mut parts = vec![
        format!("**#{}**", key.id),
        format!("`{}`", key.access_key),
        key.memo.clone(),
        i18n::text(
            locale,
            &format!("cmd.apikey.status_{}", key.status.as_str()),
        ),
    ];
    if let Some(at) = key.expires_at {
        parts.push(i18n::message(
            locale,
            "cmd.apikey.expires",
            &[("at", &format!("<t:{at}:d>"))],
        ));
    }
    if let Some(at) = key.last_used_at {
        parts.push(i18n::message(
            locale,
            "cmd.apikey.used",
            &[("at", &format!("<t:{at}:R>"))],
        ));
    }
    parts.join(" · ")
}

/// The key with its secret, said to be shown only now.
fn secret_text(locale: Locale, key: &str, made: &WithSecret) -> String {
    i18n::message(
        locale,
        key,
        &[
            ("id", &made.key.id.to_string()),
            ("access_key", &made.key.access_key),
            ("secret", &made.secret),
        ],
    )
}
