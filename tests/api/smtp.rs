//! A real SMTP server on 127.0.0.1 (mailin-embedded, plain SMTP, no TLS, no AUTH) that captures
//! every message it is given. Each test starts its own.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mailin_embedded::{Handler, Response, Server, response};

#[derive(Clone, Debug)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The full raw message, headers included, as received after DATA (dot-unstuffed).
    pub data: String,
}

impl Mail {
    /// The value of a header (first occurrence, case-insensitive name), unfolded, not decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        let mut found: Option<String> = None;
        for line in self.data.split("\r\n").flat_map(|l| l.split('\n')) {
            if line.is_empty() {
                break; // end of the top-level headers
            }
            if let Some(value) = found.as_mut() {
                if line.starts_with([' ', '\t']) {
                    value.push_str(line);
                    continue;
                }
                break;
            }
            if let Some((key, value)) = line.split_once(':')
                && key.trim().eq_ignore_ascii_case(name)
            {
                found = Some(value.trim_start().to_owned());
            }
        }
        found.map(|v| v.trim().to_owned())
    }

    /// The Subject header, with RFC 2047 encoded words (utf-8, B or Q) decoded.
    pub fn subject(&self) -> String {
        decode_rfc2047(&self.header("subject").unwrap_or_default())
    }

    /// The first URL in the message (any part) that contains `needle`. Quoted-printable soft
    /// line breaks are removed and "=3D" decoded first; base64 parts are decoded too.
    pub fn link_containing(&self, needle: &str) -> Option<String> {
        let mut texts = vec![
            self.data
                .replace("=\r\n", "")
                .replace("=\n", "")
                .replace("=3D", "="),
        ];
        texts.extend(base64_parts(&self.data));
        texts
            .iter()
            .flat_map(|text| urls(text))
            .find(|url| url.contains(needle))
    }
}

/// Every http(s) URL in `text`, up to whitespace, '"', '<' or '>'.
fn urls(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = [rest.find("http://"), rest.find("https://")]
        .into_iter()
        .flatten()
        .min()
    {
        let candidate = &rest[start..];
        let end = candidate
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '<' | '>'))
            .unwrap_or(candidate.len());
        found.push(candidate[..end].to_owned());
        rest = &candidate[end..];
    }
    found
}

/// The decoded bodies of parts sent with `Content-Transfer-Encoding: base64`.
fn base64_parts(data: &str) -> Vec<String> {
    let lower = data.to_ascii_lowercase();
    let mut parts = Vec::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find("content-transfer-encoding: base64") {
        let header = from + at;
        from = header + 1;
        // The body starts after the part's blank line.
        let Some(blank) = data[header..]
            .find("\r\n\r\n")
            .map(|i| i + 4)
            .or_else(|| data[header..].find("\n\n").map(|i| i + 2))
        else {
            continue;
        };
        let encoded: String = data[header + blank..]
            .lines()
            .map(str::trim)
            .take_while(|l| {
                !l.is_empty()
                    && l.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
            })
            .collect();
        if let Ok(bytes) = STANDARD.decode(encoded.as_bytes()) {
            parts.push(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    parts
}

/// Decodes `=?utf-8?B?...?=` / `=?utf-8?Q?...?=` words; whitespace between adjacent encoded
/// words is dropped. Anything it does not understand is left as is.
fn decode_rfc2047(value: &str) -> String {
    let mut out = String::new();
    let mut pending_space = String::new();
    let mut previous_encoded = false;
    for (i, token) in value.split([' ', '\t']).enumerate() {
        if i > 0 {
            pending_space.push(' ');
        }
        if token.is_empty() {
            continue;
        }
        match decode_word(token) {
            Some(decoded) => {
                if !previous_encoded {
                    out.push_str(&pending_space);
                }
                out.push_str(&decoded);
                previous_encoded = true;
            }
            None => {
                out.push_str(&pending_space);
                out.push_str(token);
                previous_encoded = false;
            }
        }
        pending_space.clear();
    }
    out
}

fn decode_word(word: &str) -> Option<String> {
    let inner = word.strip_prefix("=?")?.strip_suffix("?=")?;
    let mut pieces = inner.splitn(3, '?');
    let charset = pieces.next()?.to_ascii_lowercase();
    let encoding = pieces.next()?.to_ascii_lowercase();
    let text = pieces.next()?;
    if !matches!(charset.as_str(), "utf-8" | "utf8" | "us-ascii") {
        return None;
    }
    let bytes = match encoding.as_str() {
        "b" => STANDARD.decode(text).ok()?,
        "q" => {
            let mut bytes = Vec::new();
            let mut input = text.bytes();
            while let Some(b) = input.next() {
                match b {
                    b'_' => bytes.push(b' '),
                    b'=' => {
                        let hex = [input.next()?, input.next()?];
                        let hex = std::str::from_utf8(&hex).ok()?;
                        bytes.push(u8::from_str_radix(hex, 16).ok()?);
                    }
                    _ => bytes.push(b),
                }
            }
            bytes
        }
        _ => return None,
    };
    String::from_utf8(bytes).ok()
}

/// One clone per SMTP session; collects the message being received.
#[derive(Clone)]
struct Capture {
    mails: Arc<Mutex<Vec<Mail>>>,
    /// While set, every message is refused with 554 at DATA.
    refuse: Arc<AtomicBool>,
    /// How long each message takes to be accepted after its data (ms): a slow server.
    delay_ms: Arc<AtomicU64>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Capture {
    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        // Refused at DATA: mailin would treat whatever follows a refusal after the data as
        // more data, so a refusal must come before it.
        if self.refuse.load(Ordering::SeqCst) {
            return response::TRANSACTION_FAILED;
        }
        self.from = from.to_owned();
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            std::thread::sleep(std::time::Duration::from_millis(delay));
        }
        let mail = Mail {
            from: std::mem::take(&mut self.from),
            to: std::mem::take(&mut self.to),
            data: String::from_utf8_lossy(&std::mem::take(&mut self.data)).into_owned(),
        };
        self.mails.lock().unwrap().push(mail);
        response::OK
    }

    // Not reachable without TLS (mailin refuses AUTH in plaintext), but accept anything anyway.
    fn auth_plain(&mut self, _: &str, _: &str, _: &str) -> Response {
        response::AUTH_OK
    }

    fn auth_login(&mut self, _: &str, _: &str) -> Response {
        response::AUTH_OK
    }
}

#[derive(Clone)]
pub struct SmtpCapture {
    pub addr: SocketAddr,
    mails: Arc<Mutex<Vec<Mail>>>,
    refuse: Arc<AtomicBool>,
    delay_ms: Arc<AtomicU64>,
}

impl SmtpCapture {
    /// Binds 127.0.0.1:0 and serves SMTP from a background thread for the rest of the process.
    pub fn start() -> Self {
        Self::start_on(0)
    }

    /// A port where no SMTP server listens yet (`start_on` it later: a server coming back).
    pub fn free_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }

    /// Serves on 127.0.0.1:`port` (0: any free port).
    pub fn start_on(port: u16) -> Self {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        let addr = listener.local_addr().unwrap();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let refuse = Arc::new(AtomicBool::new(false));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let handler = Capture {
            mails: mails.clone(),
            refuse: refuse.clone(),
            delay_ms: delay_ms.clone(),
            from: String::new(),
            to: Vec::new(),
            data: Vec::new(),
        };
        let mut server = Server::new(handler);
        // One thread per concurrent session; pooled client connections each hold one.
        server
            .with_name("smtp.test")
            .with_num_threads(32)
            .with_tcp_listener(listener);
        std::thread::Builder::new()
            .name(format!("smtp-capture-{}", addr.port()))
            .spawn(move || {
                if let Err(err) = server.serve() {
                    eprintln!("SMTP capture on {addr} stopped: {err}");
                }
            })
            .unwrap();
        Self {
            addr,
            mails,
            refuse,
            delay_ms,
        }
    }

    /// Takes this long to accept each message (the message is kept even if the client is
    /// gone by then, as a real server would have it).
    pub fn slow(&self, per_message: std::time::Duration) {
        self.delay_ms
            .store(per_message.as_millis() as u64, Ordering::SeqCst);
    }

    /// Refuses every message from now on (554 at DATA), or accepts them again.
    pub fn refuse_all(&self, refuse: bool) {
        self.refuse.store(refuse, Ordering::SeqCst);
    }

    /// "smtp://127.0.0.1:PORT" (plain SMTP, no TLS, no AUTH).
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every message received so far, in order.
    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    /// Waits for the first message to `to` (a RCPT TO address, case-insensitive) matching `pred`.
    pub async fn wait_for_mail(&self, to: &str, pred: impl Fn(&Mail) -> bool) -> Mail {
        crate::helpers::eventually(&format!("a mail to {to}"), || async {
            self.mails()
                .into_iter()
                .find(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)) && pred(m))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    /// Reads one (possibly multi-line) SMTP reply and returns its code.
    async fn reply(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> u16 {
        loop {
            let mut line = String::new();
            assert!(
                reader.read_line(&mut line).await.unwrap() > 0,
                "connection closed"
            );
            if line.as_bytes().get(3) != Some(&b'-') {
                return line[..3].parse().unwrap();
            }
        }
    }

    async fn send(port: u16, from: &str, to: &[&str], message: &str) {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        assert_eq!(reply(&mut reader).await, 220);
        let mut command = async |line: String, expected: u16| {
            write.write_all(line.as_bytes()).await.unwrap();
            assert_eq!(reply(&mut reader).await, expected, "after {line:?}");
        };
        command("EHLO client.test\r\n".into(), 250).await;
        command(format!("MAIL FROM:<{from}>\r\n"), 250).await;
        for rcpt in to {
            command(format!("RCPT TO:<{rcpt}>\r\n"), 250).await;
        }
        command("DATA\r\n".into(), 354).await;
        command(format!("{message}\r\n.\r\n"), 250).await;
        command("QUIT\r\n".into(), 221).await;
    }

    #[tokio::test]
    async fn smtp_capture_receives_a_quoted_printable_message() {
        let smtp = SmtpCapture::start();
        assert_eq!(smtp.url(), format!("smtp://127.0.0.1:{}", smtp.port()));
        let message = [
            "From: Herald <herald@example.test>",
            "To: alice@example.test",
            "Subject: =?utf-8?B?VmVyaWZ5IHlvdXIg?=",
            " =?utf-8?Q?email_=E2=9C=94?=",
            "MIME-Version: 1.0",
            "Content-Type: multipart/alternative; boundary=\"b1\"",
            "",
            "--b1",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: quoted-printable",
            "",
            "Open http://127.0.0.1:8080/verify-email?token=3Dabc123def456abc123def456abc123def=",
            "456&next=3D/home to verify.",
            "..a dot-stuffed line",
            "--b1",
            "Content-Type: text/html; charset=utf-8",
            "Content-Transfer-Encoding: base64",
            "",
            // <a href="http://127.0.0.1:8080/reset?token=xyz">reset</a>
            "PGEgaHJlZj0iaHR0cDovLzEyNy4wLjAuMTo4MDgwL3Jlc2V0P3Rva2VuPXh5eiI+cmVzZXQ8L2E+",
            "--b1--",
        ]
        .join("\r\n");
        send(
            smtp.port(),
            "herald@example.test",
            &["alice@example.test", "bob@example.test"],
            &message,
        )
        .await;

        let mail = smtp
            .wait_for_mail("Alice@example.test", |m| m.subject().contains("Verify"))
            .await;
        assert_eq!(mail.from, "herald@example.test");
        assert_eq!(mail.to, vec!["alice@example.test", "bob@example.test"]);
        assert_eq!(mail.subject(), "Verify your email ✔");
        assert!(mail.data.contains("\r\n.a dot-stuffed line\r\n"));
        assert_eq!(
            mail.link_containing("/verify-email").as_deref(),
            Some(
                "http://127.0.0.1:8080/verify-email?token=abc123def456abc123def456abc123def456&next=/home"
            )
        );
        assert_eq!(
            mail.link_containing("/reset").as_deref(),
            Some("http://127.0.0.1:8080/reset?token=xyz")
        );
        assert_eq!(mail.link_containing("/nowhere"), None);
        assert_eq!(smtp.mails().len(), 1);
    }

    /// lettre (as Herald uses it: plain SMTP from a URL, HTML + text) delivers to the capture.
    #[tokio::test]
    async fn smtp_capture_accepts_lettre() {
        use lettre::message::MultiPart;
        use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
        let smtp = SmtpCapture::start();
        let link = format!("http://127.0.0.1:9/verify-email?token={}", "ab".repeat(40));
        let message = Message::builder()
            .from("Herald <herald@example.test>".parse().unwrap())
            .to("carol@example.test".parse().unwrap())
            .subject("Vérifiez votre adresse e-mail")
            .multipart(MultiPart::alternative_plain_html(
                format!("Café: open {link} to verify."),
                format!("<p>Café: <a href=\"{link}\">verify</a></p>"),
            ))
            .unwrap();
        let mailer = AsyncSmtpTransport::<Tokio1Executor>::from_url(&smtp.url())
            .unwrap()
            .build();
        mailer.send(message).await.unwrap();
        let mail = smtp.wait_for_mail("carol@example.test", |_| true).await;
        assert_eq!(mail.from, "herald@example.test");
        assert_eq!(mail.subject(), "Vérifiez votre adresse e-mail");
        assert_eq!(mail.link_containing("verify-email"), Some(link));
    }

    #[tokio::test]
    async fn smtp_captures_are_independent() {
        let (a, b) = (SmtpCapture::start(), SmtpCapture::start());
        send(
            a.port(),
            "x@a.test",
            &["one@a.test"],
            "Subject: one\r\n\r\nhi",
        )
        .await;
        send(
            a.port(),
            "x@a.test",
            &["two@a.test"],
            "Subject: two\r\n\r\nhi",
        )
        .await;
        let two = a.wait_for_mail("two@a.test", |_| true).await;
        assert_eq!(two.subject(), "two");
        assert_eq!(a.mails().len(), 2);
        assert!(b.mails().is_empty());
    }
}
