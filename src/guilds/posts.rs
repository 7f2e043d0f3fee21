//! Users' notifications posted in a server's channels, written to that server's audit log (and
//! so to its log channel) in the transaction that records the delivery as sent.

use futures_util::future::BoxFuture;
use serde_json::json;
use sqlx::{AnyConnection, Row};

use super::audit::{self, Actor, Source};
use crate::crypto::Keys;
use crate::db::DbError;
use crate::notifications::posted::{Posted, ServerPosts};

/// The audit action of a notification posted in one of the server's channels.
pub const NOTIFICATION_SENT: &str = "notification.sent";

pub struct NotificationAudit {
    /// Seal the log-channel posts the entries queue.
    keys: Keys,
}

impl NotificationAudit {
    pub fn new(keys: Keys) -> Self {
        Self { keys }
    }

    async fn record(
        &self,
        conn: &mut AnyConnection,
        post: &Posted,
        now: i64,
    ) -> Result<(), DbError> {
        let actor = actor(conn, post).await?;
        let detail = json!({
            "notification_id": post.notification_id,
            "delivery_id": post.delivery_id,
            "channel_id": post.channel_id.to_string(),
            "message_id": post.message_id,
        });
        audit::record(
            conn,
            &self.keys,
            post.guild_id,
            &actor,
            NOTIFICATION_SENT,
            &detail,
            now,
        )
        .await
    }
}

impl ServerPosts for NotificationAudit {
    fn posted<'a>(
        &'a self,
        conn: &'a mut AnyConnection,
        post: &'a Posted,
        now: i64,
    ) -> BoxFuture<'a, Result<(), DbError>> {
        Box::pin(self.record(conn, post, now))
    }
}

/// The notification's owner, with their Discord id, and the door the notification came in by.
async fn actor(conn: &mut AnyConnection, post: &Posted) -> Result<Actor, DbError> {
    let row = sqlx::query(
        "SELECT n.creator, o.provider_user_id FROM notifications n \
         LEFT JOIN oauth_accounts o ON o.user_id = n.user_id AND o.provider = 'discord' \
         WHERE n.id = ?",
    )
    .bind(post.notification_id)
    .fetch_optional(&mut *conn)
    .await?;
    let (creator, discord) = match row {
        Some(row) => (
            row.try_get::<String, _>("creator")?,
            row.try_get::<Option<String>, _>("provider_user_id")?,
        ),
        None => (String::new(), None),
    };
    Ok(Actor {
        user_id: Some(post.user_id),
        discord_id: discord.and_then(|id| id.parse().ok()),
        // Signed calls and bearer tokens both come through the JSON API.
        source: match creator.as_str() {
            "slash_command" => Source::SlashCommand,
            _ => Source::Api,
        },
    })
}
