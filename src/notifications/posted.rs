//! What the outbox tells the rest of Herald about the messages it posts in Discord servers.
//! The servers' audit logs record each one (`guilds` answers this trait; the app wires it in),
//! written in the same transaction as the delivery's outcome, so a post and its entry are
//! never one without the other. The outbox itself knows nothing of audit logs.

use futures_util::future::BoxFuture;
use sqlx::AnyConnection;

use crate::db::DbError;

/// A message posted in a server's channel for one of a user's notifications.
#[derive(Debug, Clone)]
pub struct Posted {
    pub guild_id: u64,
    pub channel_id: u64,
    pub notification_id: i64,
    pub delivery_id: i64,
    /// The notification's owner.
    pub user_id: i64,
    /// Discord's id of the message.
    pub message_id: Option<String>,
}

pub trait ServerPosts: Send + Sync + 'static {
    /// Called inside the transaction that records the post as sent.
    fn posted<'a>(
        &'a self,
        conn: &'a mut AnyConnection,
        post: &'a Posted,
        now: i64,
    ) -> BoxFuture<'a, Result<(), DbError>>;
}
