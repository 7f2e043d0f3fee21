//! About the bot itself.

use super::{Command, CommandError, Context, locale};
use crate::i18n;

pub fn commands() -> Vec<Command> {
    vec![ping()]
}

/// Check that the bot answers, with its gateway latency.
#[poise::command(slash_command)]
async fn ping(ctx: Context<'_>) -> Result<(), CommandError> {
    let latency = ctx.ping().await;
    let locale = locale(&ctx).await;
    // Zero until the first heartbeat is acknowledged.
    let text = if latency.is_zero() {
        i18n::text(locale, "ping.unmeasured")
    } else {
        let ms = latency.as_millis().to_string();
        i18n::message(locale, "ping.pong", &[("ms", &ms)])
    };
    ctx.send(poise::CreateReply::default().content(text).ephemeral(true))
        .await?;
    Ok(())
}
