//! Gateway events the bot turns into state: its own status, and the servers it is in.

use poise::serenity_prelude as serenity;
use serenity::FullEvent;

use super::{CommandError, Data};
use crate::guilds::GuildInfo;
use crate::state::BotStatus;

pub async fn handle(
    framework: poise::FrameworkContext<'_, Data, CommandError>,
    event: &FullEvent,
) -> Result<(), CommandError> {
    let (ctx, data) = (framework.serenity_context, framework.user_data);
    match event {
        FullEvent::Ready { data_about_bot } => {
            data.bot().set_status(ready(&data_about_bot.user.name));
        }
        FullEvent::ShardStageUpdate { event } => {
            let connected = serenity::ConnectionStage::Connected;
            if event.new == connected {
                let user = ctx.cache.current_user().name.clone();
                data.bot().set_status(ready(&user));
            } else if event.old == connected {
                tracing::warn!(stage = ?event.new, "gateway connection lost; reconnecting");
                data.bot().set_status(BotStatus::connecting());
            }
        }
        FullEvent::GuildCreate { guild, .. } => {
            let info = GuildInfo {
                id: guild.id.get(),
                name: guild.name.clone(),
                icon: guild.icon.map(|h| h.to_string()),
                member_count: Some(guild.member_count),
                preferred_locale: Some(guild.preferred_locale.clone()),
            };
            data.guilds().bot_present(&info).await?;
        }
        FullEvent::GuildDelete { incomplete, .. } if !incomplete.unavailable => {
            // `unavailable` means an outage, not that the bot left.
            data.guilds().bot_left(incomplete.id.get()).await?;
        }
        // Buttons carry their state in their custom id (`group:...`); poise leaves them here.
        FullEvent::InteractionCreate {
            interaction: serenity::Interaction::Component(press),
        } => match press.data.custom_id.split(':').next() {
            Some(super::audit::PAGER) => super::audit::turn(ctx, data.guilds(), press).await?,
            Some(super::memo::PAGER) => super::memo::turn(ctx, data, press).await?,
            Some(super::remind::PAGER) => super::remind::turn(ctx, data, press).await?,
            Some(super::remind::BUTTON) => super::remind::pressed(ctx, data, press).await?,
            Some(super::task::PAGER) => super::task::turn(ctx, data, press).await?,
            Some(super::task::BUTTON) => super::task::pressed(ctx, data, press).await?,
            Some(super::notify::BUTTON) => super::notify::pressed(ctx, data, press).await?,
            _ => {}
        },
        FullEvent::InteractionCreate {
            interaction: serenity::Interaction::Modal(submit),
        } if submit.data.custom_id.split(':').next() == Some(super::memo::MODAL) => {
            super::memo::submitted(ctx, data, submit).await?;
        }
        _ => {}
    }
    Ok(())
}

fn ready(user: &str) -> BotStatus {
    BotStatus::Ready {
        user: user.to_owned(),
        since: crate::db::now_unix(),
    }
}
