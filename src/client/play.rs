//! The server side of a client scenario: one accepted connection, played
//! from the scenario's script where it has a step for the client's command,
//! and from a small built-in mailbox (RFC 1939 with CAPA, STLS, APOP and
//! AUTH PLAIN) everywhere else. Everything the client sends is logged for
//! the verdict; nothing here judges.

use super::scenario::{
    CertChoice, ClientScenario, IfMissing, MailboxAnswer, Reply, StepAction, TlsMode,
};
use crate::outcome::{Direction, SourcePos, TranscriptLine};
use crate::runner::connection::escape;
use base64::Engine;
use md5::{Digest, Md5};
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

/// Longest command line read from a client (RFC 2449 allows 255 octets; a
/// longer one is read, logged and answered, never buffered without bound).
const MAX_COMMAND: usize = 64 * 1024;

/// One message of the fixture as the mailbox serves it.
#[derive(Clone, Debug)]
pub struct Message {
    /// The message as stored (LF or CRLF, as in the fixture file).
    pub stored: Vec<u8>,
    /// Its lines with CRLF, as sent on the wire before stuffing.
    pub wire: Vec<u8>,
    pub uid: String,
    pub name: String,
}

pub fn load_fixture(dir: Option<&std::path::Path>) -> Result<Vec<Message>, String> {
    let Some(dir) = dir else {
        return Ok(Vec::new());
    };
    let mut names: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read fixture {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        // .keep holds an empty folder in git; it is no message.
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    names.sort();
    names
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let stored =
                std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            let mut wire = Vec::with_capacity(stored.len() + 64);
            let text = stored.strip_suffix(b"\n").unwrap_or(&stored);
            for line in text.split(|b| *b == b'\n') {
                wire.extend_from_slice(line.strip_suffix(b"\r").unwrap_or(line));
                wire.extend_from_slice(b"\r\n");
            }
            Ok(Message {
                stored,
                wire,
                uid: format!("pop3spec-{}", i + 1),
                name: p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// A command as the client sent it.
#[derive(Clone, Debug)]
pub struct Command {
    pub connection: usize,
    /// Escaped for printing.
    pub text: String,
    /// Upper-cased keyword.
    pub keyword: String,
    pub tls: bool,
    pub at_ms: u64,
}

/// What happened on one connection.
#[derive(Clone, Debug, Default)]
pub struct ConnectionLog {
    pub started_ms: u64,
    pub quit: bool,
    /// The first expect_command step the client never matched.
    pub unmet: Option<(SourcePos, String, IfMissing, Option<String>)>,
    /// Messages sent in full (RETR, or a TOP that carried every line), in order.
    pub retrieved: Vec<usize>,
    pub tls: bool,
    /// What the client sent after STLS before the handshake (RFC 2595 §4
    /// forbids any command there).
    pub sent_during_stls: Option<String>,
    /// What the client sent during an expect_quiet step, and the step.
    pub spoke_early: Option<(SourcePos, String)>,
}

/// Everything a scenario's connections leave for the verdict; also the
/// mailbox state that outlives a connection (what QUIT removed).
#[derive(Debug)]
pub struct ScenarioLog {
    pub started: Instant,
    pub transcript: Vec<TranscriptLine>,
    pub commands: Vec<Command>,
    pub connections: Vec<ConnectionLog>,
    /// Messages (1-based) removed at UPDATE, in the order DELE marked them.
    pub removed: Vec<usize>,
    /// DELE n sent before RETR n had completed (connection, n).
    pub deleted_unread: Vec<usize>,
    /// A connection was still open at the scenario's deadline: the client
    /// was stuck, whatever it did once the harness dropped the connection.
    pub deadline_reached: bool,
}

impl ScenarioLog {
    pub fn new() -> Self {
        ScenarioLog {
            started: Instant::now(),
            transcript: Vec::new(),
            commands: Vec::new(),
            connections: Vec::new(),
            removed: Vec::new(),
            deleted_unread: Vec::new(),
            deadline_reached: false,
        }
    }

    pub fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    pub fn note(&mut self, session: &str, text: impl Into<String>) {
        let at_ms = self.elapsed_ms();
        self.transcript.push(TranscriptLine {
            session: session.to_string(),
            direction: Direction::Note,
            text: text.into(),
            at_ms,
        });
    }

    fn line(&mut self, session: &str, direction: Direction, bytes: &[u8]) {
        let at_ms = self.elapsed_ms();
        self.transcript.push(TranscriptLine {
            session: session.to_string(),
            direction,
            text: escape(bytes),
            at_ms,
        });
    }
}

impl Default for ScenarioLog {
    fn default() -> Self {
        Self::new()
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Gone,
}

/// Why a connection ended.
enum End {
    Eof,
    Deadline,
    Io(String),
    Closed,
}

struct Conn<'a> {
    stream: Stream,
    buf: Vec<u8>,
    deadline: tokio::time::Instant,
    session: String,
    log: &'a mut ScenarioLog,
}

impl Conn<'_> {
    fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), End> {
        for line in bytes.split_inclusive(|b| *b == b'\n') {
            let shown = line.strip_suffix(b"\n").unwrap_or(line);
            let shown = shown.strip_suffix(b"\r").unwrap_or(shown);
            let session = self.session.clone();
            self.log.line(&session, Direction::Server, shown);
        }
        let write = async {
            match &mut self.stream {
                Stream::Plain(s) => s.write_all(bytes).await,
                Stream::Tls(s) => {
                    s.write_all(bytes).await?;
                    s.flush().await
                }
                Stream::Gone => Err(std::io::ErrorKind::NotConnected.into()),
            }
        };
        match tokio::time::timeout_at(self.deadline, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(End::Io(e.to_string())),
            Err(_) => Err(End::Deadline),
        }
    }

    /// One line without its CRLF (or LF).
    async fn read_line(&mut self) -> Result<Vec<u8>, End> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                let session = self.session.clone();
                self.log.line(&session, Direction::Client, &line);
                return Ok(line);
            }
            if self.buf.len() > MAX_COMMAND {
                let line: Vec<u8> = std::mem::take(&mut self.buf);
                let session = self.session.clone();
                self.log.line(&session, Direction::Client, &line[..200]);
                self.log.note(
                    &session,
                    format!("a command line longer than {MAX_COMMAND} octets; cut"),
                );
                return Ok(line);
            }
            match self.fill(self.deadline).await? {
                Some(0) => return Err(End::Eof),
                Some(_) => {}
                None => return Err(End::Deadline),
            }
        }
    }

    /// Reads what arrives before `until` into the buffer: Some(octets read,
    /// 0 at the end of the stream), None when nothing came in time.
    async fn fill(&mut self, until: tokio::time::Instant) -> Result<Option<usize>, End> {
        let mut chunk = [0u8; 4096];
        let read = async {
            match &mut self.stream {
                Stream::Plain(s) => s.read(&mut chunk).await,
                Stream::Tls(s) => s.read(&mut chunk).await,
                Stream::Gone => Ok(0),
            }
        };
        match tokio::time::timeout_at(until, read).await {
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(Some(n))
            }
            Ok(Err(e)) => Err(End::Io(e.to_string())),
            Err(_) => Ok(None),
        }
    }

    /// Waits `d` and notes anything the client sends meanwhile (kept for
    /// the next read); an end of stream is left for the next read too.
    async fn expect_quiet(&mut self, d: std::time::Duration, pos: &SourcePos) -> Result<(), End> {
        let until = (tokio::time::Instant::now() + d).min(self.deadline);
        if self.buf.is_empty() {
            self.fill(until).await?;
        }
        if !self.buf.is_empty() {
            let text = escape(&self.buf);
            let session = self.session.clone();
            self.log.note(
                &session,
                format!("the client spoke while its command was unanswered: {text}"),
            );
            if let Some(c) = self.log.connections.last_mut() {
                c.spoke_early.get_or_insert((pos.clone(), text));
            }
        }
        Ok(())
    }

    async fn start_tls(&mut self, config: Arc<rustls::ServerConfig>) -> Result<(), End> {
        let session = self.session.clone();
        if !self.buf.is_empty() {
            // Plaintext the client sent after STLS belongs to no one once TLS
            // starts (RFC 2595 §4 for the client side); a server must drop it.
            let dropped = std::mem::take(&mut self.buf);
            if let Some(c) = self.log.connections.last_mut() {
                c.sent_during_stls = Some(escape(&dropped));
            }
            self.log.note(
                &session,
                format!(
                    "discarded {} octet(s) the client sent before the handshake: {}",
                    dropped.len(),
                    escape(&dropped)
                ),
            );
        }
        let tcp = match std::mem::replace(&mut self.stream, Stream::Gone) {
            Stream::Plain(s) => s,
            other => {
                self.stream = other;
                self.log.note(
                    &session,
                    "start_tls on a connection that is already TLS: ignored",
                );
                return Ok(());
            }
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        match tokio::time::timeout_at(self.deadline, acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => {
                self.log.note(&session, "TLS handshake completed");
                self.stream = Stream::Tls(Box::new(tls));
                Ok(())
            }
            Ok(Err(e)) => {
                self.log
                    .note(&session, format!("TLS handshake failed: {e}"));
                Err(End::Io(format!("TLS handshake failed: {e}")))
            }
            Err(_) => Err(End::Deadline),
        }
    }

    async fn shutdown(&mut self) {
        let _ = tokio::time::timeout(std::time::Duration::from_millis(500), async {
            match &mut self.stream {
                Stream::Plain(s) => {
                    let _ = s.shutdown().await;
                }
                Stream::Tls(s) => {
                    let _ = s.shutdown().await;
                }
                Stream::Gone => {}
            }
        })
        .await;
        self.stream = Stream::Gone;
    }
}

/// The wire form of a reply.
pub fn render_reply(reply: &Reply) -> Vec<u8> {
    match reply {
        Reply::Line(l) => format!("{l}\r\n").into_bytes(),
        Reply::Raw(b) => b.clone(),
        Reply::Multi(lines) => {
            let mut out = Vec::new();
            for (i, l) in lines.iter().enumerate() {
                if i > 0 && l.starts_with('.') {
                    out.push(b'.');
                }
                out.extend_from_slice(l.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b".\r\n");
            out
        }
    }
}

/// The body of a multi-line answer with every line that starts with `.`
/// stuffed and the terminator added (RFC 1939 §3).
fn stuffed(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 16);
    for line in body.split_inclusive(|b| *b == b'\n') {
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// What the harness needs besides the scenario to play a connection.
pub struct PlayContext<'a> {
    pub scenario: &'a ClientScenario,
    pub messages: &'a [Message],
    pub user: &'a str,
    pub pass: &'a str,
    pub certs: &'a crate::certificates::Certificates,
    pub deadline: tokio::time::Instant,
}

impl PlayContext<'_> {
    fn tls_config(&self) -> Arc<rustls::ServerConfig> {
        match self.scenario.server.certificate {
            CertChoice::Trusted => self.certs.trusted.clone(),
            CertChoice::Untrusted => self.certs.untrusted.clone(),
            CertChoice::WrongName => self.certs.wrong_name.clone(),
            CertChoice::Expired => self.certs.expired.clone(),
        }
    }

    fn greeting(&self, timestamp: &str) -> String {
        self.scenario
            .server
            .greeting
            .clone()
            .unwrap_or_else(|| format!("+OK pop3spec client harness ready {timestamp}"))
    }

    fn capabilities(&self) -> Vec<String> {
        let mut caps = match &self.scenario.server.capa {
            Some(list) => list.clone(),
            None => {
                let mut c: Vec<String> = [
                    "TOP",
                    "UIDL",
                    "USER",
                    "RESP-CODES",
                    "AUTH-RESP-CODE",
                    "SASL PLAIN",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                if self.scenario.client.tls == TlsMode::Starttls {
                    c.push("STLS".into());
                }
                c
            }
        };
        caps.extend(self.scenario.server.capa_extra.iter().cloned());
        caps
    }
}

#[derive(PartialEq, Eq)]
enum MailState {
    Authorization,
    Transaction,
}

struct Mailbox {
    state: MailState,
    user: Option<String>,
    marked: Vec<usize>,
    timestamp: String,
}

/// Plays one connection to its end and logs it in `log`.
pub async fn play_connection(tcp: TcpStream, cx: &PlayContext<'_>, log: &mut ScenarioLog) {
    let number = log.connections.len() + 1;
    let session = format!("conn{number}");
    let started_ms = log.elapsed_ms();
    log.connections.push(ConnectionLog {
        started_ms,
        ..ConnectionLog::default()
    });
    let peer = tcp
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "?".into());
    log.note(&session, format!("client connected from {peer}"));
    let timestamp = format!("<{}.{}@pop3spec.test>", std::process::id(), number);
    let mut conn = Conn {
        stream: Stream::Plain(tcp),
        buf: Vec::new(),
        deadline: cx.deadline,
        session: session.clone(),
        log,
    };
    let end = play(&mut conn, cx, number, &timestamp).await;
    let why = match end {
        End::Eof => "the client closed the connection".to_string(),
        End::Deadline => {
            conn.log.deadline_reached = true;
            "the scenario's deadline passed; connection dropped".to_string()
        }
        End::Io(e) => format!("connection ended: {e}"),
        End::Closed => "the harness closed the connection".to_string(),
    };
    conn.shutdown().await;
    conn.log.note(&session, why);
}

/// Index of the next step; runs answer steps until the next expect_command.
async fn play(conn: &mut Conn<'_>, cx: &PlayContext<'_>, number: usize, timestamp: &str) -> End {
    let steps = &cx.scenario.steps;
    let mut cursor = 0;
    if cx.scenario.client.tls == TlsMode::Implicit && !cx.scenario.server.plaintext {
        if let Err(e) = conn.start_tls(cx.tls_config()).await {
            return finish(conn, steps, cursor, e);
        }
        conn.log.connections[number - 1].tls = true;
    }
    if let Err(e) = conn
        .write(format!("{}\r\n", cx.greeting(timestamp)).as_bytes())
        .await
    {
        return finish(conn, steps, cursor, e);
    }
    match run_answers(conn, cx, &mut cursor).await {
        Ok(Flow::Closed) => return finish(conn, steps, cursor, End::Closed),
        Ok(_) => {}
        Err(e) => return finish(conn, steps, cursor, e),
    }
    // APOP digests are checked against the timestamp the greeting really
    // carried (a scenario's own greeting may have another one, or none).
    let greeting = cx.greeting(timestamp);
    let timestamp = greeting
        .find('<')
        .and_then(|start| {
            greeting[start..]
                .find('>')
                .map(|end| &greeting[start..=start + end])
        })
        .unwrap_or("");
    let mut mailbox = Mailbox {
        state: MailState::Authorization,
        user: None,
        marked: Vec::new(),
        timestamp: timestamp.to_string(),
    };
    loop {
        let line = match conn.read_line().await {
            Ok(l) => l,
            Err(e) => return finish(conn, steps, cursor, e),
        };
        let text = String::from_utf8_lossy(&line).into_owned();
        let keyword = text
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let at_ms = conn.log.elapsed_ms();
        let tls = conn.is_tls();
        conn.log.commands.push(Command {
            connection: number,
            text: escape(&line),
            keyword: keyword.clone(),
            tls,
            at_ms,
        });
        let scripted = match steps.get(cursor).map(|s| &s.action) {
            Some(StepAction::ExpectCommand {
                pattern, in_clear, ..
            }) if pattern.is_match(&text) && !(*in_clear && tls) => {
                cursor += 1;
                true
            }
            _ => false,
        };
        if scripted
            && steps
                .get(cursor)
                .is_some_and(|s| !matches!(s.action, StepAction::ExpectCommand { .. }))
        {
            match run_answers(conn, cx, &mut cursor).await {
                Ok(Flow::Replied) => continue,
                Ok(Flow::Closed) => return finish(conn, steps, cursor, End::Closed),
                Ok(Flow::Unanswered) => {}
                Err(e) => return finish(conn, steps, cursor, e),
            }
        }
        match mailbox_answer(conn, cx, &mut mailbox, &text, &keyword, number).await {
            Ok(false) => {}
            Ok(true) => return finish(conn, steps, cursor, End::Closed),
            Err(e) => return finish(conn, steps, cursor, e),
        }
    }
}

/// What the answer steps after a matched command did.
#[derive(PartialEq, Eq)]
enum Flow {
    /// A step closed the connection.
    Closed,
    /// A step answered the command.
    Replied,
    /// No step answered it: the mailbox does.
    Unanswered,
}

/// Runs steps from `cursor` up to the next expect_command.
async fn run_answers(
    conn: &mut Conn<'_>,
    cx: &PlayContext<'_>,
    cursor: &mut usize,
) -> Result<Flow, End> {
    let mut flow = Flow::Unanswered;
    while let Some(step) = cx.scenario.steps.get(*cursor) {
        match &step.action {
            StepAction::ExpectCommand { .. } => break,
            StepAction::Reply(r) => {
                conn.write(&render_reply(r)).await?;
                flow = Flow::Replied;
            }
            StepAction::StartTls => conn.start_tls(cx.tls_config()).await?,
            StepAction::Close => {
                *cursor += 1;
                return Ok(Flow::Closed);
            }
            StepAction::Pause(d) => {
                tokio::time::sleep_until((tokio::time::Instant::now() + *d).min(cx.deadline)).await
            }
            StepAction::ExpectQuiet(d) => conn.expect_quiet(*d, &step.pos).await?,
        }
        *cursor += 1;
    }
    Ok(flow)
}

fn finish(
    conn: &mut Conn<'_>,
    steps: &[super::scenario::ClientStep],
    cursor: usize,
    end: End,
) -> End {
    let index = conn.log.connections.len() - 1;
    let tls = conn.is_tls();
    let entry = &mut conn.log.connections[index];
    entry.tls |= tls;
    if let Some(step) = steps[cursor.min(steps.len())..]
        .iter()
        .find(|s| matches!(s.action, StepAction::ExpectCommand { .. }))
    {
        if let StepAction::ExpectCommand {
            pattern,
            if_missing,
            why,
            ..
        } = &step.action
        {
            let shown = pattern.as_str().trim_start_matches("(?i)").to_string();
            entry.unmet = Some((step.pos.clone(), shown, *if_missing, why.clone()));
        }
    }
    end
}

fn find_answer<'a>(answers: &'a [MailboxAnswer], text: &str) -> Option<&'a MailboxAnswer> {
    answers.iter().find(|a| a.command.is_match(text))
}

/// Answers one command as the built-in mailbox. Ok(true) when the
/// connection is to be closed.
async fn mailbox_answer(
    conn: &mut Conn<'_>,
    cx: &PlayContext<'_>,
    mb: &mut Mailbox,
    text: &str,
    keyword: &str,
    number: usize,
) -> Result<bool, End> {
    if let Some(a) = find_answer(&cx.scenario.server.answers, text) {
        if let Some(r) = &a.reply {
            conn.write(&render_reply(r)).await?;
        }
        return Ok(a.close);
    }
    let args: Vec<&str> = text.split_whitespace().skip(1).collect();
    let live = |n: usize, mb: &Mailbox| n >= 1 && n <= cx.messages.len() && !mb.marked.contains(&n);
    let msg_arg = |i: usize| args.get(i).and_then(|a| a.parse::<usize>().ok());
    let size =
        |n: usize| (cx.messages[n - 1].wire.len() as i64 + cx.scenario.server.size_delta).max(0);
    let reply: Vec<u8> = match (keyword, &mb.state) {
        ("CAPA", _) => {
            let mut caps = cx.capabilities();
            if conn.is_tls() {
                // STLS is only offered where it is permitted (RFC 2595 §4).
                caps.retain(|c| !c.eq_ignore_ascii_case("STLS"));
            }
            if cx
                .scenario
                .server
                .capa
                .as_ref()
                .is_some_and(|c| c.is_empty())
                && cx.scenario.server.capa_extra.is_empty()
            {
                b"-ERR CAPA not supported\r\n".to_vec()
            } else {
                let mut lines = vec!["+OK Capability list follows".to_string()];
                lines.extend(caps);
                render_reply(&Reply::Multi(lines))
            }
        }
        ("QUIT", MailState::Authorization) => {
            conn.log.connections[number - 1].quit = true;
            conn.write(b"+OK bye\r\n").await?;
            return Ok(true);
        }
        ("QUIT", MailState::Transaction) => {
            conn.log.connections[number - 1].quit = true;
            let marked = std::mem::take(&mut mb.marked);
            conn.log.removed.extend(marked.iter().copied());
            conn.write(format!("+OK bye, {} message(s) removed\r\n", marked.len()).as_bytes())
                .await?;
            return Ok(true);
        }
        ("NOOP", MailState::Transaction) => b"+OK\r\n".to_vec(),
        ("STLS", MailState::Authorization)
            if !conn.is_tls()
                && cx
                    .capabilities()
                    .iter()
                    .any(|c| c.eq_ignore_ascii_case("STLS")) =>
        {
            conn.write(b"+OK Begin TLS negotiation\r\n").await?;
            conn.start_tls(cx.tls_config()).await?;
            conn.log.connections[number - 1].tls = true;
            return Ok(false);
        }
        ("USER", MailState::Authorization) if args.len() == 1 => {
            mb.user = Some(args[0].to_string());
            b"+OK\r\n".to_vec()
        }
        ("PASS", MailState::Authorization) => {
            let pass = text.split_once(' ').map(|(_, p)| p).unwrap_or("");
            if mb.user.as_deref() == Some(cx.user) && pass == cx.pass {
                mb.state = MailState::Transaction;
                b"+OK logged in\r\n".to_vec()
            } else {
                mb.user = None;
                b"-ERR [AUTH] invalid user name or password\r\n".to_vec()
            }
        }
        ("APOP", MailState::Authorization) if args.len() == 2 => {
            let mut h = Md5::new();
            h.update(mb.timestamp.as_bytes());
            h.update(cx.pass.as_bytes());
            let want: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
            if !mb.timestamp.is_empty() && args[0] == cx.user && args[1].eq_ignore_ascii_case(&want)
            {
                mb.state = MailState::Transaction;
                b"+OK logged in\r\n".to_vec()
            } else {
                b"-ERR [AUTH] authentication failed\r\n".to_vec()
            }
        }
        ("AUTH", MailState::Authorization)
            if args
                .first()
                .is_some_and(|m| m.eq_ignore_ascii_case("PLAIN")) =>
        {
            let initial = match args.get(1) {
                Some(i) => i.to_string(),
                None => {
                    conn.write(b"+ \r\n").await?;
                    let l = conn.read_line().await?;
                    String::from_utf8_lossy(&l).into_owned()
                }
            };
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(initial.trim())
                .unwrap_or_default();
            let parts: Vec<&[u8]> = decoded.split(|b| *b == 0).collect();
            if parts.len() == 3 && parts[1] == cx.user.as_bytes() && parts[2] == cx.pass.as_bytes()
            {
                mb.state = MailState::Transaction;
                b"+OK logged in\r\n".to_vec()
            } else {
                b"-ERR [AUTH] authentication failed\r\n".to_vec()
            }
        }
        ("STAT", MailState::Transaction) => {
            let live_msgs: Vec<usize> = (1..=cx.messages.len()).filter(|n| live(*n, mb)).collect();
            let total: i64 = live_msgs.iter().map(|n| size(*n)).sum();
            format!(
                "+OK {} {total}{}\r\n",
                live_msgs.len(),
                cx.scenario.server.listing_suffix
            )
            .into_bytes()
        }
        ("LIST" | "UIDL", MailState::Transaction) => {
            let item = |n: usize| {
                if keyword == "LIST" {
                    format!("{n} {}{}", size(n), cx.scenario.server.listing_suffix)
                } else {
                    let uid = cx
                        .scenario
                        .server
                        .uids
                        .get(n - 1)
                        .unwrap_or(&cx.messages[n - 1].uid);
                    format!("{n} {uid}")
                }
            };
            match args.first() {
                None => {
                    let mut lines = vec!["+OK".to_string()];
                    lines.extend((1..=cx.messages.len()).filter(|n| live(*n, mb)).map(item));
                    render_reply(&Reply::Multi(lines))
                }
                Some(_) => match msg_arg(0) {
                    Some(n) if live(n, mb) => format!("+OK {}\r\n", item(n)).into_bytes(),
                    _ => b"-ERR no such message\r\n".to_vec(),
                },
            }
        }
        ("RETR" | "TOP", MailState::Transaction) => {
            let lines = if keyword == "TOP" {
                msg_arg(1)
            } else {
                Some(usize::MAX)
            };
            match (msg_arg(0), lines) {
                (Some(n), Some(k)) if live(n, mb) => {
                    let wire = &cx.messages[n - 1].wire;
                    let body = if k == usize::MAX {
                        wire.clone()
                    } else {
                        top(wire, k)
                    };
                    let mut out = format!("+OK {} octets\r\n", size(n)).into_bytes();
                    out.extend_from_slice(&stuffed(&body));
                    conn.write(&out).await?;
                    // A TOP asking for more body lines than the message has
                    // (fetchmail's `TOP n 99999999`) downloads it as RETR does.
                    if body == *wire {
                        conn.log.connections[number - 1].retrieved.push(n);
                    }
                    return Ok(false);
                }
                _ => b"-ERR no such message\r\n".to_vec(),
            }
        }
        ("DELE", MailState::Transaction) => match msg_arg(0) {
            Some(n) if live(n, mb) => {
                if !conn.log.connections[number - 1].retrieved.contains(&n) {
                    conn.log.deleted_unread.push(n);
                }
                mb.marked.push(n);
                format!("+OK message {n} marked\r\n").into_bytes()
            }
            _ => b"-ERR no such message\r\n".to_vec(),
        },
        ("RSET", MailState::Transaction) => {
            mb.marked.clear();
            b"+OK\r\n".to_vec()
        }
        _ => b"-ERR unknown command or wrong state\r\n".to_vec(),
    };
    conn.write(&reply).await?;
    Ok(false)
}

/// The header, the blank line and `k` body lines of a wire message.
fn top(wire: &[u8], k: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut in_body = false;
    let mut body_lines = 0;
    for line in wire.split_inclusive(|b| *b == b'\n') {
        if in_body {
            if body_lines == k {
                break;
            }
            body_lines += 1;
        } else if line == b"\r\n" {
            in_body = true;
        }
        out.extend_from_slice(line);
    }
    out
}
