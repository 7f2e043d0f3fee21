//! `herald healthcheck`: asks the local server's `/healthz`, for container health checks that
//! should not need curl in the image.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use crate::config::Config;

/// Ok when the server on this configuration's port answers `/healthz` with 200.
pub fn healthz(config: &Config) -> Result<(), String> {
    // A server bound to every address is reached on loopback.
    let host = if config.host.is_unspecified() {
        match config.host {
            IpAddr::V4(_) => IpAddr::from([127, 0, 0, 1]),
            IpAddr::V6(_) => IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        }
    } else {
        config.host
    };
    let addr = SocketAddr::new(host, config.port);
    let timeout = Duration::from_secs(3);
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{addr}: {e}"))?;
    stream.set_read_timeout(Some(timeout)).ok();
    write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    match response.lines().next() {
        Some(status) if status.contains(" 200 ") => Ok(()),
        Some(status) => Err(format!("{addr} answered {status}")),
        None => Err(format!("{addr} closed the connection")),
    }
}
