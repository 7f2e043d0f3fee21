//! Who may manage a server in Herald. Discord decides first: its owner, and members with
//! ADMINISTRATOR or MANAGE_GUILD, read and write (from `GET /users/@me/guilds` with the user's
//! own token). Then the server's manager roles: members holding one read, or read and write,
//! until the role's expiry (their roles come from the bot's view of the member). Both answers
//! are cached per user for at most `DISCORD_USER_CACHE_SECS` (a minute): a user who lost the
//! right is refused within it.

use serde::{Deserialize, Serialize};

use super::settings::{ManagerRole, RoleAccess};

pub const ADMINISTRATOR: u64 = 0x8;
pub const MANAGE_GUILD: u64 = 0x20;

/// A server of the user, as Discord lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserGuild {
    #[serde(deserialize_with = "id_from_text")]
    pub id: u64,
    pub name: String,
    pub icon: Option<String>,
    #[serde(default)]
    pub owner: bool,
    /// The user's permissions there, a bitfield as a string.
    #[serde(default, deserialize_with = "bits_from_text")]
    pub permissions: u64,
}

impl UserGuild {
    /// Discord gives the user the right to manage the server.
    pub fn manageable(&self) -> bool {
        self.owner || self.permissions & (ADMINISTRATOR | MANAGE_GUILD) != 0
    }
}

/// What the user may do in Herald for one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Read,
    ReadWrite,
}

/// Why the user has access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Via {
    /// Owner, ADMINISTRATOR or MANAGE_GUILD on Discord.
    Discord,
    /// One of the server's manager roles.
    Role {
        #[serde(serialize_with = "id_as_text")]
        #[schema(value_type = String)]
        role_id: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Access {
    pub level: Level,
    pub via: Via,
}

impl Access {
    pub fn can_write(&self) -> bool {
        self.level == Level::ReadWrite
    }
}

/// The best access the member's `roles` give through the server's manager roles now.
pub fn by_roles(managers: &[ManagerRole], roles: &[u64], now: i64) -> Option<Access> {
    managers
        .iter()
        .filter(|m| roles.contains(&m.role_id))
        .filter(|m| m.expires_at.is_none_or(|at| at > now))
        .max_by_key(|m| m.access)
        .map(|m| Access {
            level: match m.access {
                RoleAccess::Read => Level::Read,
                RoleAccess::ReadWrite => Level::ReadWrite,
            },
            via: Via::Role { role_id: m.role_id },
        })
}

fn id_from_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map_err(serde::de::Error::custom)
}

fn bits_from_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map_err(serde::de::Error::custom)
}

fn id_as_text<S: serde::Serializer>(id: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&id.to_string())
}
