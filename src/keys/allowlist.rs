//! Allowlist entries: a single IPv4 or IPv6 address, or a CIDR range, stored in one canonical
//! text form (`203.0.113.7/32` is `203.0.113.7`; a range keeps its network address), so an
//! entry given twice in two spellings is the same entry.

use std::net::IpAddr;

use ipnet::IpNet;

/// The most entries one key may have.
pub const MAX_ENTRIES: usize = 10;

/// The canonical form of an entry, or `None` when it is not an address or a range.
pub fn canonical(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.len() > 64 {
        return None;
    }
    if let Ok(ip) = raw.parse::<IpAddr>() {
        return Some(plain(ip).to_string());
    }
    let net: IpNet = raw.parse().ok()?;
    let net = net.trunc();
    Some(if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    })
}

/// Whether `ip` is allowed by `entries` (canonical forms); an empty list allows everyone.
pub fn allows(entries: &[IpNet], ip: IpAddr) -> bool {
    let ip = plain(ip);
    entries.is_empty() || entries.iter().any(|net| net.contains(&ip))
}

/// Parses stored entries (canonical, so they always parse; anything else is skipped).
pub fn nets(entries: &[String]) -> Vec<IpNet> {
    entries
        .iter()
        .filter_map(|e| {
            e.parse::<IpNet>()
                .ok()
                .or_else(|| e.parse::<IpAddr>().ok().map(IpNet::from))
        })
        .collect()
}

/// An IPv4-mapped IPv6 address is the IPv4 address.
fn plain(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}
