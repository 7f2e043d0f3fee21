//! The client's address: the peer's, unless the peer is a trusted proxy, in which case
//! `X-Forwarded-For` is read from the right, skipping our own proxies.

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse().ok())
        .collect();
    // The right-most hop not ours is the client; anything left of it could be forged.
    hops.iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or(hops.first())
        .copied()
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peers_cannot_claim_another_address() {
        let got = resolve(ip("203.0.113.9"), &headers("1.2.3.4"), &[]);
        assert_eq!(got, ip("203.0.113.9"));
    }

    #[test]
    fn trusted_proxy_passes_on_the_client() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        let got = resolve(ip("10.0.0.2"), &headers("198.51.100.7, 10.0.0.3"), &trusted);
        assert_eq!(got, ip("198.51.100.7"));
    }

    #[test]
    fn forged_left_hops_are_ignored() {
        let trusted = ["10.0.0.2/32".parse().unwrap()];
        let got = resolve(ip("10.0.0.2"), &headers("6.6.6.6, 198.51.100.7"), &trusted);
        assert_eq!(got, ip("198.51.100.7"));
    }

    #[test]
    fn trusted_proxy_without_header_is_the_client() {
        let trusted = ["127.0.0.1/32".parse().unwrap()];
        assert_eq!(
            resolve(ip("127.0.0.1"), &HeaderMap::new(), &trusted),
            ip("127.0.0.1")
        );
    }
}
