//! The Discord bot's supervisor: builds the poise framework, runs the gateway client, and when
//! the client stops (bad token, Discord gone) reports why and tries again with backoff.

use std::time::Duration;

use poise::serenity_prelude as serenity;
use tokio_util::sync::CancellationToken;

use super::launcher::WebLauncher;
use crate::commands;
use crate::config::DISCORD_API_DEFAULT;
use crate::crypto::Secret;
use crate::db::now_unix;
use crate::state::{AppState, BotStatus, Discord};

const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Runs the bot until `shutdown`, restarting it after every failure.
pub async fn supervise(
    state: AppState,
    token: Secret,
    web: WebLauncher,
    shutdown: CancellationToken,
) {
    let mut backoff = state.config().discord.retry_initial;
    loop {
        state.bot().set_status(BotStatus::connecting());
        let reason = match client(&state, &token, &web).await {
            Err(err) => format!("could not build the Discord client: {err}"),
            Ok(mut client) => {
                let shards = client.shard_manager.clone();
                let shards_wanted = state.config().discord.shards;
                let run = async {
                    match shards_wanted {
                        // Serenity takes the range's end as the last shard, inclusive.
                        Some(s) => client.start_shard_range(s.first..s.last, s.total).await,
                        None => client.start().await,
                    }
                };
                tokio::select! {
                    result = run => describe_stop(result),
                    _ = shutdown.cancelled() => {
                        // Closes the gateway with a normal close frame.
                        shards.shutdown_all().await;
                        state.bot().detach();
                        return;
                    }
                }
            }
        };
        state.bot().detach();
        // A client that got as far as ready earns a fresh, short backoff.
        if matches!(state.bot().status(), BotStatus::Ready { .. }) {
            backoff = state.config().discord.retry_initial;
        }
        let retry_at = now_unix() + backoff.as_secs() as i64;
        tracing::error!(
            %reason,
            retry_in_secs = backoff.as_secs(),
            "the Discord bot stopped; trying again later"
        );
        state
            .bot()
            .set_status(BotStatus::Failed { reason, retry_at });
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.cancelled() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// A gateway client whose first ready event runs `setup`.
async fn client(
    state: &AppState,
    token: &Secret,
    web: &WebLauncher,
) -> serenity::Result<serenity::Client> {
    let discord = &state.config().discord;
    let mut http = serenity::HttpBuilder::new(token.expose());
    let base = discord.api_base.as_str().trim_end_matches('/');
    if base != DISCORD_API_DEFAULT {
        // Serenity's rate limiter ignores the proxy; a non-Discord base is a test or a
        // gateway proxy, which does its own limiting.
        http = http.proxy(base).ratelimiter_disabled(true);
    }
    let (setup_state, setup_web) = (state.clone(), web.clone());
    let framework = poise::Framework::builder()
        .options(poise::FrameworkOptions {
            commands: commands::all(),
            on_error: |err| Box::pin(commands::on_error(err)),
            event_handler: |framework, event| Box::pin(commands::events::handle(framework, event)),
            ..Default::default()
        })
        // Herald has no owner-only commands: skip the lookup of the application's owners.
        .initialize_owners(false)
        .setup(move |ctx, ready, framework| {
            Box::pin(async move {
                setup(ctx, ready, framework, &setup_state, &setup_web).await;
                Ok(setup_state)
            })
        })
        .build();
    serenity::ClientBuilder::new_with_http(http.build(), serenity::GatewayIntents::GUILDS)
        .framework(commands::Traced(framework))
        .await
}

/// The setup hook: register commands, share `Http`/`Cache`, start (or attach to) the web
/// surface. It never fails: poise would never set its data if it did.
async fn setup(
    ctx: &serenity::Context,
    ready: &serenity::Ready,
    framework: &poise::Framework<AppState, commands::CommandError>,
    state: &AppState,
    web: &WebLauncher,
) {
    let commands = &framework.options().commands;
    let registered = match state.config().discord.dev_guild_id {
        Some(guild) => {
            poise::builtins::register_in_guild(ctx, commands, serenity::GuildId::new(guild)).await
        }
        None => poise::builtins::register_globally(ctx, commands).await,
    };
    match registered {
        Ok(()) => tracing::info!(count = commands.len(), "slash commands registered"),
        Err(err) => tracing::error!(error = %err, "slash command registration failed"),
    }
    state.bot().attach(Discord {
        http: ctx.http.clone(),
        cache: ctx.cache.clone(),
    });
    state.bot().set_status(BotStatus::Ready {
        user: ready.user.name.clone(),
        since: now_unix(),
    });
    tracing::info!(user = %ready.user.name, "the Discord bot is ready");
    web.start("bot ready");
}

/// Why the gateway client stopped, in words for `/readyz` and the log.
fn describe_stop(result: serenity::Result<()>) -> String {
    use serenity::{Error, GatewayError};
    match result {
        Ok(()) => "the gateway connection ended".to_owned(),
        Err(Error::Gateway(GatewayError::InvalidAuthentication)) => {
            "invalid token: Discord rejected DISCORD_TOKEN".to_owned()
        }
        Err(Error::Gateway(GatewayError::DisallowedGatewayIntents)) => {
            "disallowed intents: enable them for the bot in Discord's developer portal".to_owned()
        }
        Err(err) => format!("gateway error: {err}"),
    }
}
