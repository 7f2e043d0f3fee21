//! Adding the bot to a server: Discord's authorize URL for that server alone, with the least
//! permissions Herald's features need, and a signed `state` that brings the same user back to
//! that server's page.

use url::Url;

use crate::config::Config;
use crate::crypto::Keys;
use crate::db::now_unix;

/// What Herald's features need in a server, with the catalogue key that names each: View
/// Channels, Send Messages and Embed Links, to post notifications, audit entries and replies.
/// Slash commands need the `applications.commands` scope, not a permission.
pub const NEEDED: [(u64, &str); 3] = [
    (1 << 10, "dashboard.perm_view_channels"),
    (1 << 11, "dashboard.perm_send_messages"),
    (1 << 14, "dashboard.perm_embed_links"),
];
/// What Herald asks for when added: exactly `NEEDED`.
pub const BOT_PERMISSIONS: u64 = NEEDED[0].0 | NEEDED[1].0 | NEEDED[2].0;
/// How long an invite's `state` is honoured.
const TTL_SECS: i64 = 600;
const PURPOSE: &str = "dashboard/invite";

pub struct Invites {
    client_id: Option<String>,
    authorize: Url,
    return_url: Url,
    keys: Keys,
}

impl Invites {
    pub fn new(config: &Config) -> Self {
        let join = |base: &Url, path: &str| base.join(path).expect("a path joins a base URL");
        Self {
            client_id: config.oauth.discord.as_ref().map(|c| c.client_id.clone()),
            authorize: join(&config.discord.api_base, "/oauth2/authorize"),
            return_url: join(&config.public_url, "/dashboard/invite/return"),
            keys: Keys::derive(&config.secret_key),
        }
    }

    /// The URL that adds the bot to `guild_id` for `user_id`; `None` without a Discord
    /// application configured (`DISCORD_CLIENT_ID`).
    pub fn url(&self, user_id: i64, guild_id: u64) -> Option<String> {
        let client_id = self.client_id.as_deref()?;
        let payload = format!("{user_id}:{guild_id}:{}", now_unix() + TTL_SECS);
        let state = self.keys.sign(PURPOSE, payload.as_bytes());
        let mut url = self.authorize.clone();
        url.query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("scope", "bot applications.commands")
            .append_pair("permissions", &BOT_PERMISSIONS.to_string())
            .append_pair("guild_id", &guild_id.to_string())
            .append_pair("disable_guild_select", "true")
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", self.return_url.as_str())
            .append_pair("state", &state);
        Some(url.into())
    }

    /// The server a `state` made for `user_id` names, while it is fresh.
    pub fn returned(&self, user_id: i64, state: &str) -> Option<u64> {
        let payload = String::from_utf8(self.keys.verify(PURPOSE, state)?).ok()?;
        let mut parts = payload.split(':');
        let user: i64 = parts.next()?.parse().ok()?;
        let guild: u64 = parts.next()?.parse().ok()?;
        let until: i64 = parts.next()?.parse().ok()?;
        (user == user_id && until > now_unix()).then_some(guild)
    }
}
