//! A fast SMTP sink for the delivery benchmark: accepts every message, counts it, and notes
//! when the first and the last arrived. One thread per connection (the outbox keeps a few
//! pooled connections open), plain SMTP, no TLS, no AUTH.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Default)]
struct Seen {
    count: u64,
    first: Option<Instant>,
    last: Option<Instant>,
}

#[derive(Clone)]
pub struct Sink {
    pub port: u16,
    seen: Arc<Mutex<Seen>>,
}

impl Sink {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port for the sink");
        let port = listener.local_addr().expect("an address").port();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let shared = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let seen = shared.clone();
                std::thread::spawn(move || session(stream, &seen));
            }
        });
        Self { port, seen }
    }

    pub fn count(&self) -> u64 {
        self.seen.lock().expect("sink lock").count
    }

    /// Messages and the time from the first to the last.
    pub fn span(&self) -> (u64, f64) {
        let seen = self.seen.lock().expect("sink lock");
        let secs = match (seen.first, seen.last) {
            (Some(first), Some(last)) => (last - first).as_secs_f64(),
            _ => 0.0,
        };
        (seen.count, secs)
    }

    pub fn reset(&self) {
        *self.seen.lock().expect("sink lock") = Seen::default();
    }
}

fn session(stream: TcpStream, seen: &Mutex<Seen>) {
    let mut out = stream.try_clone().expect("a second handle");
    let mut lines = BufReader::new(stream);
    let _ = out.write_all(b"220 sink ESMTP\r\n");
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let command = line.get(..4).unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match command.as_str() {
            "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
            "DATA" => {
                let _ = out.write_all(b"354 go ahead\r\n");
                if !read_data(&mut lines) {
                    return;
                }
                let mut seen = seen.lock().expect("sink lock");
                let now = Instant::now();
                seen.count += 1;
                seen.first.get_or_insert(now);
                seen.last = Some(now);
                b"250 queued\r\n"
            }
            "QUIT" => {
                let _ = out.write_all(b"221 bye\r\n");
                return;
            }
            _ => b"250 OK\r\n",
        };
        if out.write_all(reply).is_err() {
            return;
        }
    }
}

/// Reads a message up to the line holding a single dot.
fn read_data(lines: &mut BufReader<TcpStream>) -> bool {
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line) {
            Ok(0) | Err(_) => return false,
            Ok(_) if line == ".\r\n" || line == ".\n" => return true,
            Ok(_) => {}
        }
    }
}
