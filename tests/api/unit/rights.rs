//! The bot's rights in a channel: Discord's order of overwrites (@everyone, the member's roles
//! together, the member), and Administrator over all of them.

use herald::guilds::rights::{can_post, in_channel};
use serde_json::json;
use serenity::all::GuildChannel;

const SERVER: u64 = 500;
const BOT: u64 = 42;
const BOT_ROLE: u64 = 600;
const OTHER_ROLE: u64 = 601;
const VIEW_AND_SEND: u64 = 0x400 | 0x800;

fn channel(overwrites: serde_json::Value) -> GuildChannel {
    serde_json::from_value(json!({
        "id": "700", "type": 0, "guild_id": SERVER.to_string(), "name": "general",
        "position": 0, "permission_overwrites": overwrites, "nsfw": false
    }))
    .expect("a channel")
}

fn overwrite(id: u64, kind: u8, allow: u64, deny: u64) -> serde_json::Value {
    json!({"id": id.to_string(), "type": kind, "allow": allow.to_string(), "deny": deny.to_string()})
}

fn posts(server_bits: u64, overwrites: serde_json::Value) -> bool {
    can_post(in_channel(
        server_bits,
        &channel(overwrites),
        &[BOT_ROLE],
        BOT,
    ))
}

#[test]
fn no_overwrite_keeps_the_servers_rights() {
    assert!(posts(VIEW_AND_SEND, json!([])));
    assert!(!posts(0x400, json!([])), "no Send Messages in the server");
}

#[test]
fn a_role_the_member_holds_overrides_everyone_and_the_member_overrides_both() {
    let everyone_denies = overwrite(SERVER, 0, 0, 0x800);
    assert!(!posts(VIEW_AND_SEND, json!([everyone_denies])));
    let role_allows = overwrite(BOT_ROLE, 0, 0x800, 0);
    assert!(posts(VIEW_AND_SEND, json!([role_allows, everyone_denies])));
    // A role the member does not hold changes nothing.
    let other_allows = overwrite(OTHER_ROLE, 0, 0x800, 0);
    assert!(!posts(
        VIEW_AND_SEND,
        json!([everyone_denies, other_allows])
    ));
    // Among the member's roles an allow wins over a deny.
    let role_denies_view = overwrite(BOT_ROLE, 0, 0, 0x400);
    let member_allows = overwrite(BOT, 1, 0x400, 0);
    assert!(!posts(VIEW_AND_SEND, json!([role_denies_view])));
    assert!(posts(
        VIEW_AND_SEND,
        json!([role_denies_view, member_allows])
    ));
    let member_denies = overwrite(BOT, 1, 0, 0x800);
    assert!(!posts(VIEW_AND_SEND, json!([role_allows, member_denies])));
}

#[test]
fn administrator_is_never_held_back_by_a_channel() {
    let everyone_denies = overwrite(SERVER, 0, 0, VIEW_AND_SEND);
    assert!(posts(u64::MAX, json!([everyone_denies])));
}
