//! What the bot may do in a server and in each of its channels, from the gateway's cache:
//! its roles' permissions, then each channel's overwrites in Discord's order (@everyone, the
//! member's roles together, the member).

use serenity::all::{Guild, GuildChannel, PermissionOverwriteType};

use super::access::ADMINISTRATOR;

/// Everything, as Discord grants it to ADMINISTRATOR.
const ALL: u64 = u64::MAX;
const VIEW_CHANNEL: u64 = 1 << 10;
const SEND_MESSAGES: u64 = 1 << 11;

/// The member's permissions in the server: @everyone's (the role with the server's id) and
/// those of each role it holds.
pub fn in_server(guild: &Guild, roles: &[u64]) -> u64 {
    let everyone = guild.id.get();
    let bits = guild
        .roles
        .iter()
        .filter(|(id, _)| id.get() == everyone || roles.contains(&id.get()))
        .fold(0, |bits, (_, role)| bits | role.permissions.bits());
    if bits & ADMINISTRATOR != 0 { ALL } else { bits }
}

/// The member's permissions in `channel`, from its server-wide ones.
pub fn in_channel(server: u64, channel: &GuildChannel, roles: &[u64], member: u64) -> u64 {
    if server == ALL {
        return ALL;
    }
    let everyone = channel.guild_id.get();
    let mut bits = server;
    let (mut allow, mut deny) = (0, 0);
    let mut member_overwrite = None;
    for overwrite in &channel.permission_overwrites {
        let (a, d) = (overwrite.allow.bits(), overwrite.deny.bits());
        match overwrite.kind {
            PermissionOverwriteType::Role(id) if id.get() == everyone => bits = (bits & !d) | a,
            PermissionOverwriteType::Role(id) if roles.contains(&id.get()) => {
                allow |= a;
                deny |= d;
            }
            PermissionOverwriteType::Member(id) if id.get() == member => {
                member_overwrite = Some((a, d));
            }
            _ => {}
        }
    }
    bits = (bits & !deny) | allow;
    if let Some((a, d)) = member_overwrite {
        bits = (bits & !d) | a;
    }
    bits
}

/// The member can see the channel and post in it.
pub fn can_post(bits: u64) -> bool {
    bits & (VIEW_CHANNEL | SEND_MESSAGES) == VIEW_CHANNEL | SEND_MESSAGES
}
