//! About the bot itself.

use super::{Command, CommandError, Context};

pub fn commands() -> Vec<Command> {
    vec![ping()]
}

/// Check that the bot answers, with its gateway latency.
#[poise::command(slash_command)]
async fn ping(ctx: Context<'_>) -> Result<(), CommandError> {
    let latency = ctx.ping().await;
    // Zero until the first heartbeat is acknowledged.
    let text = if latency.is_zero() {
        "Pong! Gateway latency is not measured yet.".to_owned()
    } else {
        format!("Pong! Gateway latency: {} ms.", latency.as_millis())
    };
    ctx.send(poise::CreateReply::default().content(text).ephemeral(true))
        .await?;
    Ok(())
}
