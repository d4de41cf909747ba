//! Seeds an account the way mail really arrives: over LMTP or SMTP. This
//! reaches stores pop3spec cannot write itself (Cyrus's spool, a database, a
//! remote host). The account is emptied through POP3 first (of mail pop3spec
//! delivered only, unless the account is disposable); every message gets a
//! Message-ID of its own, so a server that suppresses duplicate deliveries
//! keeps it; and seeding waits, bounded, until POP3 lists every message,
//! because some servers deliver in the background.
//!
//! The LMTP/SMTP client is deliberately small (RFC 2033, RFC 5321): one
//! recipient, no pipelining, no authentication, every reply read within the
//! run's timeout and bounded in size, so a broken or hostile peer can only
//! make seeding fail, never hang.

use super::connection::{escape, ReadEvent};
use super::seed::fixture_messages;
use super::target::{Account, Target};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

/// The domain of every Message-ID pop3spec gives a delivered message; mail
/// carrying it is pop3spec's own and may be deleted when the account is emptied.
pub const MESSAGE_ID_DOMAIN: &str = "pop3spec.invalid";

/// RFC 5321 §4.5.3.1.5 allows 512 octets per reply line; more is a broken peer.
const MAX_REPLY_LINE: usize = 4096;
/// Lines in one (multi-line) reply; an EHLO reply has a few dozen at most.
const MAX_REPLY_LINES: usize = 100;
/// How often POP3 is asked whether the delivered mail has arrived.
const POLL_PAUSE: Duration = Duration::from_millis(100);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Lmtp,
    Smtp,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Lmtp => "LMTP",
            Protocol::Smtp => "SMTP",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    Tcp { host: String, port: u16 },
    Unix(PathBuf),
}

/// Where to deliver: `lmtp://HOST:PORT`, `smtp://HOST[:PORT]`, or a Unix
/// socket as `lmtp:/path/to/socket` (Cyrus's usual LMTP listener).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub protocol: Protocol,
    pub address: Address,
}

impl FromStr for Endpoint {
    type Err = String;

    fn from_str(s: &str) -> Result<Endpoint, String> {
        let usage = "give lmtp://HOST:PORT, smtp://HOST:PORT or lmtp:/path/to/socket";
        let (scheme, rest) = s
            .split_once(':')
            .ok_or_else(|| format!("`{s}` is not a delivery address: {usage}"))?;
        let protocol = match scheme.to_ascii_lowercase().as_str() {
            "lmtp" => Protocol::Lmtp,
            "smtp" => Protocol::Smtp,
            _ => return Err(format!("`{s}`: unknown scheme `{scheme}`: {usage}")),
        };
        let address = if let Some(authority) = rest.strip_prefix("//") {
            let authority = authority.trim_end_matches('/');
            let (host, port) = match authority.rsplit_once(':') {
                Some((h, p)) if !h.is_empty() && !p.contains(']') => {
                    let port = p
                        .parse::<u16>()
                        .map_err(|_| format!("`{s}`: `{p}` is not a port number"))?;
                    (h, Some(port))
                }
                _ => (authority, None),
            };
            let port = match (port, protocol) {
                (Some(p), _) => p,
                (None, Protocol::Smtp) => 25,
                (None, Protocol::Lmtp) => {
                    return Err(format!(
                        "`{s}`: LMTP has no standard port: give lmtp://HOST:PORT"
                    ))
                }
            };
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if host.is_empty() {
                return Err(format!("`{s}` names no host: {usage}"));
            }
            Address::Tcp {
                host: host.to_string(),
                port,
            }
        } else if rest.starts_with('/') {
            Address::Unix(PathBuf::from(rest))
        } else {
            return Err(format!("`{s}`: {usage}"));
        };
        Ok(Endpoint { protocol, address })
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = self.protocol.name().to_ascii_lowercase();
        match &self.address {
            Address::Tcp { host, port } if host.contains(':') => {
                write!(f, "{scheme}://[{host}]:{port}")
            }
            Address::Tcp { host, port } => write!(f, "{scheme}://{host}:{port}"),
            Address::Unix(path) => write!(f, "{scheme}:{}", path.display()),
        }
    }
}

/// `--deliver` and its options: how one account is seeded by delivery.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub endpoint: Endpoint,
    /// The RCPT TO address; `{user}` becomes the POP3 user name.
    pub recipient: String,
    /// How long POP3 may take to list what was delivered.
    pub wait: Duration,
    /// Emptying may delete mail pop3spec did not deliver.
    pub disposable: bool,
}

/// What a delivery did: a note for the transcript, and the Message-ID each
/// fixture message was delivered with (in fixture order), which is how the
/// served messages are told apart afterwards.
#[derive(Clone, Debug)]
pub struct Delivered {
    pub note: String,
    pub message_ids: Vec<String>,
}

impl Delivery {
    /// Empties the account through POP3, delivers the fixture's messages in
    /// order and waits until POP3 lists all of them.
    pub async fn seed(
        &self,
        target: &Target,
        account: &Account,
        fixture_dir: &Path,
    ) -> Result<Delivered, String> {
        let files = fixture_messages(fixture_dir)?;
        let mut messages = Vec::with_capacity(files.len());
        for f in &files {
            messages
                .push(std::fs::read(f).map_err(|e| format!("cannot read {}: {e}", f.display()))?);
        }
        let emptied = empty_account(target, account, self.disposable).await?;
        let recipient = self.recipient.replace("{user}", &account.user);
        let message_ids: Vec<String> = messages.iter().map(|_| unique_message_id()).collect();
        if !messages.is_empty() {
            let timeout = target.timeout;
            let mut session =
                MailSession::open(&self.endpoint, target.connect_timeout, timeout).await?;
            let sent = session
                .deliver_all(&recipient, &messages, &message_ids, &files)
                .await;
            session.quit().await;
            sent?;
        }
        wait_for_count(target, account, messages.len(), self.wait).await?;
        Ok(Delivered {
            note: format!(
                "emptied {emptied} message(s) through POP3, delivered {} over {} to <{recipient}>",
                messages.len(),
                self.endpoint
            ),
            message_ids,
        })
    }
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// A Message-ID no delivery before has used (RFC 5322 §3.6.4 syntax).
pub fn unique_message_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    format!(
        "<pop3spec.{nanos}.{}.{seq}@{MESSAGE_ID_DOMAIN}>",
        std::process::id()
    )
}

/// The message as DATA carries it: CRLF line ends whatever the fixture file
/// uses, its Message-ID header replaced by (or, without one, given) `message_id`,
/// every line starting with `.` doubled (RFC 5321 §4.5.2), and the final
/// `CRLF . CRLF`.
pub fn wire_form(message: &[u8], message_id: &str) -> Vec<u8> {
    let mut lines: Vec<&[u8]> = message
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect();
    if message.ends_with(b"\n") {
        lines.pop();
    }
    let header_end = lines
        .iter()
        .position(|l| l.is_empty())
        .unwrap_or(lines.len());
    let new_header = format!("Message-ID: {message_id}");
    let mut out_lines: Vec<&[u8]> = Vec::with_capacity(lines.len() + 1);
    let mut replaced = false;
    let mut skipping_fold = false;
    for (i, line) in lines.iter().enumerate() {
        if i < header_end {
            let folded = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
            if skipping_fold && folded {
                continue;
            }
            skipping_fold = false;
            let is_message_id = line.len() >= 11 && line[..11].eq_ignore_ascii_case(b"message-id:");
            if is_message_id {
                if !replaced {
                    out_lines.push(new_header.as_bytes());
                    replaced = true;
                }
                skipping_fold = true;
                continue;
            }
        }
        if i == header_end && !replaced {
            out_lines.push(new_header.as_bytes());
            replaced = true;
        }
        out_lines.push(line);
    }
    if !replaced {
        out_lines.push(new_header.as_bytes());
    }
    let mut out = Vec::with_capacity(message.len() + 128);
    for line in out_lines {
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// A connection attempt given up after `limit`, its error naming the peer.
async fn within<S>(
    peer: &str,
    limit: Duration,
    connect: impl std::future::Future<Output = std::io::Result<S>>,
) -> Result<S, String> {
    match tokio::time::timeout(limit, connect).await {
        Err(_) => Err(format!(
            "cannot connect to {peer}: no answer within {limit:?}"
        )),
        Ok(Err(e)) => Err(format!("cannot connect to {peer}: {e}")),
        Ok(Ok(s)) => Ok(s),
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A reply: its three-digit code and the text of every line.
#[derive(Debug)]
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    fn positive(&self) -> bool {
        (200..400).contains(&self.code)
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.lines.join(" / "))
    }
}

/// One LMTP or SMTP connection.
struct MailSession {
    io: Box<dyn Io>,
    buf: Vec<u8>,
    protocol: Protocol,
    peer: String,
    timeout: Duration,
    eight_bit: bool,
}

impl MailSession {
    async fn open(
        endpoint: &Endpoint,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> Result<MailSession, String> {
        let peer = endpoint.to_string();
        let io: Box<dyn Io> = match &endpoint.address {
            Address::Tcp { host, port } => Box::new(
                within(
                    &peer,
                    connect_timeout,
                    tokio::net::TcpStream::connect((host.as_str(), *port)),
                )
                .await?,
            ),
            Address::Unix(path) => Box::new(
                within(
                    &peer,
                    connect_timeout,
                    tokio::net::UnixStream::connect(path),
                )
                .await?,
            ),
        };
        let mut session = MailSession {
            io,
            buf: Vec::new(),
            protocol: endpoint.protocol,
            peer,
            timeout,
            eight_bit: false,
        };
        let greeting = session.reply("the greeting").await?;
        if greeting.code != 220 {
            return Err(session.refused("greeted with", &greeting));
        }
        let hello = match session.protocol {
            Protocol::Lmtp => "LHLO localhost",
            Protocol::Smtp => "EHLO localhost",
        };
        let mut reply = session.command(hello).await?;
        if !reply.positive() && session.protocol == Protocol::Smtp {
            reply = session.command("HELO localhost").await?;
        }
        if !reply.positive() {
            return Err(session.refused(hello, &reply));
        }
        session.eight_bit = reply.lines.iter().skip(1).any(|l| {
            l.get(4..)
                .is_some_and(|kw| kw.trim().eq_ignore_ascii_case("8BITMIME"))
        });
        Ok(session)
    }

    fn refused(&self, what: &str, reply: &Reply) -> String {
        format!(
            "{} {} refused {what}: {reply}",
            self.protocol.name(),
            self.peer
        )
    }

    /// Delivers every message in order in one session; the first refusal ends it.
    async fn deliver_all(
        &mut self,
        recipient: &str,
        messages: &[Vec<u8>],
        message_ids: &[String],
        files: &[PathBuf],
    ) -> Result<(), String> {
        for (i, message) in messages.iter().enumerate() {
            let which = format!(
                "message {} of {} ({})",
                i + 1,
                messages.len(),
                files[i].file_name().unwrap_or_default().to_string_lossy()
            );
            let body = if self.eight_bit && message.iter().any(|b| *b >= 0x80) {
                " BODY=8BITMIME"
            } else {
                ""
            };
            let mail = format!("MAIL FROM:<pop3spec@localhost>{body}");
            let reply = self.command(&mail).await?;
            if !reply.positive() {
                return Err(self.refused(&format!("{mail} for {which}"), &reply));
            }
            let rcpt = format!("RCPT TO:<{recipient}>");
            let reply = self.command(&rcpt).await?;
            if !reply.positive() {
                return Err(self.refused(&rcpt, &reply));
            }
            let reply = self.command("DATA").await?;
            if reply.code != 354 {
                return Err(self.refused(&format!("DATA for {which}"), &reply));
            }
            self.send(&wire_form(message, &message_ids[i])).await?;
            // LMTP answers once per accepted recipient (RFC 2033 §4.2): one here.
            let reply = self.reply(&format!("the reply to {which}")).await?;
            if !reply.positive() {
                return Err(self.refused(&which, &reply));
            }
        }
        Ok(())
    }

    /// Ends the session politely; a peer that does not answer QUIT has
    /// already accepted the mail, so nothing is lost.
    async fn quit(&mut self) {
        if self.send(b"QUIT\r\n").await.is_ok() {
            let _ = self.reply("QUIT").await;
        }
        let _ = self.io.shutdown().await;
    }

    async fn command(&mut self, line: &str) -> Result<Reply, String> {
        self.send(format!("{line}\r\n").as_bytes()).await?;
        self.reply(line).await
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        let write = async {
            self.io.write_all(bytes).await?;
            self.io.flush().await
        };
        match tokio::time::timeout(self.timeout, write).await {
            Err(_) => Err(format!(
                "{} {} took more than {:?} to take what was sent",
                self.protocol.name(),
                self.peer,
                self.timeout
            )),
            Ok(Err(e)) => Err(format!("sending to {} failed: {e}", self.peer)),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Reads one reply (every `NNN-` line and the final `NNN ` line) within the timeout.
    async fn reply(&mut self, waiting_for: &str) -> Result<Reply, String> {
        let deadline = Instant::now() + self.timeout;
        let mut lines = Vec::new();
        let mut code = None;
        loop {
            let line = self.line(deadline, waiting_for).await?;
            let text = escape(&line);
            let parsed = (line.len() >= 3 && line[..3].iter().all(u8::is_ascii_digit))
                .then(|| std::str::from_utf8(&line[..3]).ok()?.parse::<u16>().ok())
                .flatten();
            let Some(this) = parsed.filter(|_| matches!(line.get(3), None | Some(b' ' | b'-')))
            else {
                return Err(format!(
                    "{} {} answered `{text}` to {waiting_for}: not a reply line",
                    self.protocol.name(),
                    self.peer
                ));
            };
            if code.is_some_and(|c| c != this) {
                return Err(format!(
                    "{} {} changed its reply code within one reply to {waiting_for}: `{text}`",
                    self.protocol.name(),
                    self.peer
                ));
            }
            code = Some(this);
            lines.push(text);
            if line.get(3) != Some(&b'-') {
                return Ok(Reply { code: this, lines });
            }
            if lines.len() >= MAX_REPLY_LINES {
                return Err(format!(
                    "{} {} sent more than {MAX_REPLY_LINES} lines in reply to {waiting_for}",
                    self.protocol.name(),
                    self.peer
                ));
            }
        }
    }

    async fn line(&mut self, deadline: Instant, waiting_for: &str) -> Result<Vec<u8>, String> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.buf.len() > MAX_REPLY_LINE {
                return Err(format!(
                    "{} {} sent a reply line longer than {MAX_REPLY_LINE} octets to {waiting_for}",
                    self.protocol.name(),
                    self.peer
                ));
            }
            let mut chunk = [0u8; 4096];
            match tokio::time::timeout_at(deadline, self.io.read(&mut chunk)).await {
                Err(_) => {
                    return Err(format!(
                        "{} {} did not answer {waiting_for} within {:?}",
                        self.protocol.name(),
                        self.peer,
                        self.timeout
                    ))
                }
                Ok(Ok(0)) => {
                    return Err(format!(
                        "{} {} closed the connection while pop3spec waited for {waiting_for}",
                        self.protocol.name(),
                        self.peer
                    ))
                }
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Ok(Err(e)) => return Err(format!("reading from {} failed: {e}", self.peer)),
            }
        }
    }
}

/// A logged-in POP3 session for seeding's own bookkeeping (the target
/// retries a login refused while the previous session's lock is released).
async fn pop3_session(
    target: &Target,
    account: &Account,
) -> Result<super::connection::Connection, String> {
    target.open_logged_in(account).await.map_err(|e| {
        format!(
            "logging in as {} to empty or count the account failed: {}",
            account.user,
            e.message()
        )
    })
}

/// The message count from STAT.
async fn stat(target: &Target, conn: &mut super::connection::Connection) -> Result<usize, String> {
    let mut quiet = |_: bool, _: String| {};
    let (ok, text) = target
        .command(conn, "STAT", "STAT", &mut quiet)
        .await
        .map_err(|e| format!("STAT failed: {}", e.message()))?;
    let count = text
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse::<usize>().ok());
    match (ok, count) {
        (true, Some(n)) => Ok(n),
        _ => Err(format!("STAT answered `{}`", text.trim_end())),
    }
}

async fn quit(target: &Target, conn: &mut super::connection::Connection) -> Result<(), String> {
    let mut quiet = |_: bool, _: String| {};
    match target.command(conn, "QUIT", "QUIT", &mut quiet).await {
        Ok((true, _)) => Ok(()),
        Ok((false, text)) => Err(format!("QUIT answered `{text}`")),
        Err(e) => Err(format!("QUIT failed: {}", e.message())),
    }
}

/// Whether message `n` carries a Message-ID pop3spec gave it (read with `TOP n 0`).
async fn is_ours(
    target: &Target,
    conn: &mut super::connection::Connection,
    n: usize,
) -> Result<bool, String> {
    let mut quiet = |_: bool, _: String| {};
    let (ok, _) = target
        .command(conn, &format!("TOP {n} 0"), "TOP", &mut quiet)
        .await
        .map_err(|e| format!("TOP {n} 0 failed: {}", e.message()))?;
    if !ok {
        return Ok(false);
    }
    let deadline = Instant::now() + target.timeout;
    let mut ours = false;
    let mut octets = 0usize;
    loop {
        match conn.read_line(deadline).await {
            ReadEvent::Line(l) if l.bytes == b"." => return Ok(ours),
            ReadEvent::Line(l) => {
                octets += l.bytes.len() + 2;
                if octets > target.max_body {
                    return Err(format!(
                        "TOP {n} 0 sent more than {} octets",
                        target.max_body
                    ));
                }
                let text = String::from_utf8_lossy(&l.bytes).to_ascii_lowercase();
                if text.starts_with("message-id:")
                    && text.contains(&format!("@{MESSAGE_ID_DOMAIN}>"))
                {
                    ours = true;
                }
            }
            _ => return Err(format!("TOP {n} 0 did not end with a `.` line")),
        }
    }
}

/// Deletes every message of the account through POP3; Ok is how many.
async fn empty_account(
    target: &Target,
    account: &Account,
    disposable: bool,
) -> Result<usize, String> {
    let mut conn = pop3_session(target, account).await?;
    let count = stat(target, &mut conn).await?;
    if !disposable {
        for n in 1..=count {
            if !is_ours(target, &mut conn, n).await? {
                let _ = quit(target, &mut conn).await;
                return Err(format!(
                    "refusing to empty {}'s maildrop: message {n} of {count} was not delivered by pop3spec (no Message-ID @{MESSAGE_ID_DOMAIN}, or TOP refused). Use a test account, or pass --disposable-account if its mail may be destroyed",
                    account.user
                ));
            }
        }
    }
    let mut quiet = |_: bool, _: String| {};
    for n in 1..=count {
        match target
            .command(&mut conn, &format!("DELE {n}"), "DELE", &mut quiet)
            .await
        {
            Ok((true, _)) => {}
            Ok((false, text)) => return Err(format!("DELE {n} answered `{text}`")),
            Err(e) => return Err(format!("DELE {n} failed: {}", e.message())),
        }
    }
    quit(target, &mut conn)
        .await
        .map_err(|e| format!("emptying {}'s maildrop: {e}", account.user))?;
    Ok(count)
}

/// Polls STAT until the account holds `expected` messages, for at most `wait`.
async fn wait_for_count(
    target: &Target,
    account: &Account,
    expected: usize,
    wait: Duration,
) -> Result<(), String> {
    let give_up = Instant::now() + wait;
    loop {
        let mut conn = pop3_session(target, account).await?;
        let seen = stat(target, &mut conn).await;
        let _ = quit(target, &mut conn).await;
        let seen = seen?;
        if seen == expected {
            return Ok(());
        }
        if seen > expected || Instant::now() >= give_up {
            let when = if seen > expected {
                String::new()
            } else {
                format!(" after {wait:?}")
            };
            return Err(format!(
                "delivered {expected} message(s), but{when} the server lists {seen} for {}: is the delivery address the store this account reads?",
                account.user
            ));
        }
        tokio::time::sleep(POLL_PAUSE).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse() {
        let e: Endpoint = "lmtp://127.0.0.1:2424".parse().unwrap();
        assert_eq!(e.protocol, Protocol::Lmtp);
        assert_eq!(
            e.address,
            Address::Tcp {
                host: "127.0.0.1".into(),
                port: 2424
            }
        );
        let e: Endpoint = "smtp://[::1]".parse().unwrap();
        assert_eq!(
            e.address,
            Address::Tcp {
                host: "::1".into(),
                port: 25
            }
        );
        assert_eq!(e.to_string(), "smtp://[::1]:25");
        let e: Endpoint = "lmtp:/run/cyrus/socket/lmtp".parse().unwrap();
        assert_eq!(e.address, Address::Unix("/run/cyrus/socket/lmtp".into()));
        assert!("lmtp://localhost"
            .parse::<Endpoint>()
            .unwrap_err()
            .contains("no standard port"));
        assert!("imap://x:1"
            .parse::<Endpoint>()
            .unwrap_err()
            .contains("scheme"));
        assert!("lmtp://x:99999".parse::<Endpoint>().is_err());
        assert!("lmtp:relative".parse::<Endpoint>().is_err());
    }

    #[test]
    fn wire_form_replaces_the_message_id_and_stuffs_dots() {
        let message = b"Subject: s\nMessage-ID: <old@x>\n folded\nTo: t\n\n.dot\nplain\n..two\n";
        let wire = wire_form(message, "<new@y>");
        assert_eq!(
            wire,
            b"Subject: s\r\nMessage-ID: <new@y>\r\nTo: t\r\n\r\n..dot\r\nplain\r\n...two\r\n.\r\n"
        );
    }

    #[test]
    fn wire_form_adds_a_message_id_and_ends_the_last_line() {
        let wire = wire_form(b"Subject: s\r\n\r\nbody without end", "<id@z>");
        assert_eq!(
            wire,
            b"Subject: s\r\nMessage-ID: <id@z>\r\n\r\nbody without end\r\n.\r\n"
        );
        // A Message-ID-like line in the body is the body's business.
        let wire = wire_form(b"A: b\n\nMessage-ID: <body@x>\n", "<id@z>");
        assert_eq!(
            wire,
            b"A: b\r\nMessage-ID: <id@z>\r\n\r\nMessage-ID: <body@x>\r\n.\r\n"
        );
    }

    #[test]
    fn message_ids_are_unique() {
        let a = unique_message_id();
        let b = unique_message_id();
        assert_ne!(a, b);
        assert!(a.ends_with(&format!("@{MESSAGE_ID_DOMAIN}>")));
    }
}
