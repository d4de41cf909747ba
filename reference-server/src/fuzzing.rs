//! Hidden entry points for the fuzz targets (`reference-server/fuzz`) and
//! the property tests (`tests/properties.rs`). Not a stable API.
//!
//! * [`parse_command`]: every parser a command line goes through.
//! * [`MemorySession`]: a whole session over an in-memory duplex pipe, no
//!   sockets, so a fuzzer can run thousands of sessions a second.
//! * [`check_transcript`]: the reply invariants, shared by the fuzz target
//!   and the TCP property tests: every complete command line gets exactly one
//!   reply, each reply starts with `+OK` or `-ERR` (or is the `+ ` SASL
//!   continuation, or a multi-line block ending in `.`), and nothing follows
//!   the reply to QUIT.
//! * [`MaildirFixture`]: a small Maildir whose files can be checked after a
//!   session: only marked messages may go, and only at QUIT in TRANSACTION.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use crate::cmd::{self, Request};
use crate::config::{build_tls, ServerConfig};
use crate::connection::Connection;
use crate::locks::LockTable;
use crate::session::{Session, Shared, COMMAND_LINE_MAX, SASL_LINE_MAX};

/// Run a command line through every parser; none may panic.
pub fn parse_command(line: &[u8]) {
    let _ = cmd::number(&String::from_utf8_lossy(line));
    let _ = cmd::msg_number(&String::from_utf8_lossy(line));
    let Ok(req) = Request::parse(line) else {
        return;
    };
    let _ = req.exactly(0);
    let _ = req.exactly(1);
    let _ = req.exactly(2);
    let _ = req.optional();
    let _ = cmd::user::User::parse(&req);
    let _ = cmd::pass::Pass::parse(&req);
    let _ = cmd::apop::Apop::parse(&req);
    let _ = cmd::auth::Auth::parse(&req);
    let _ = cmd::stls::Stls::parse(&req);
    let _ = cmd::capa::Capa::parse(&req);
    let _ = cmd::quit::Quit::parse(&req);
    let _ = cmd::stat::Stat::parse(&req);
    let _ = cmd::list::List::parse(&req);
    let _ = cmd::retr::Retr::parse(&req);
    let _ = cmd::dele::Dele::parse(&req);
    let _ = cmd::noop::Noop::parse(&req);
    let _ = cmd::rset::Rset::parse(&req);
    let _ = cmd::top::Top::parse(&req);
    let _ = cmd::uidl::Uidl::parse(&req);
    let _ = cmd::utf8::Utf8::parse(&req);
    if let Ok(lang) = cmd::lang::Lang::parse(&req) {
        if let Some(range) = lang.range {
            let _ = crate::language::Language::select(&range);
        }
    }
    for a in &req.args {
        let _ = cmd::number(a);
        let _ = cmd::msg_number(a);
    }
}

/// Sessions of one server configuration over in-memory pipes.
pub struct MemorySession {
    shared: Arc<Shared>,
    _shutdown_tx: watch::Sender<bool>,
    shutdown_rx: watch::Receiver<bool>,
}

impl MemorySession {
    /// STLS cannot work over a memory pipe: use `TlsSetup::None`.
    pub fn new(config: ServerConfig) -> io::Result<Self> {
        let tls = build_tls(&config.tls, &config.faults)?;
        let shared = Arc::new(Shared::new(config, LockTable::new(), tls));
        let (tx, rx) = watch::channel(false);
        Ok(MemorySession {
            shared,
            _shutdown_tx: tx,
            shutdown_rx: rx,
        })
    }

    /// Greeting timestamp of the next session is not known in advance; the
    /// script is sent as is, then the client half-closes. Returns everything
    /// the server wrote. A panic inside the session is propagated.
    pub async fn run(&self, script: &[u8]) -> Vec<u8> {
        let (client, server) = tokio::io::duplex(16 * 1024);
        let session = Session::new(
            Connection::memory(server),
            self.shared.clone(),
            self.shutdown_rx.clone(),
        );
        let task = tokio::spawn(session.run());
        let (mut rd, mut wr) = tokio::io::split(client);
        let script = script.to_vec();
        let writer = async move {
            // Errors only mean the server closed first (after QUIT).
            let _ = wr.write_all(&script).await;
            let _ = wr.shutdown().await;
        };
        let reader = async move {
            let mut out = Vec::new();
            let _ = rd.read_to_end(&mut out).await;
            out
        };
        let ((), out) = tokio::join!(writer, reader);
        if let Err(e) = task.await {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
        }
        out
    }
}

/// What a checked session did to the maildrop, according to its replies.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The session reached TRANSACTION.
    pub logged_in: bool,
    /// QUIT was answered in TRANSACTION: UPDATE ran.
    pub quit_in_transaction: bool,
    /// Message numbers marked by DELE (and not unmarked by RSET) at the end.
    pub marked: BTreeSet<u64>,
    /// Number of replies checked.
    pub replies: usize,
}

struct Output<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Output<'a> {
    fn line(&mut self) -> Result<&'a [u8], String> {
        let rest = &self.data[self.pos..];
        let Some(i) = rest.iter().position(|b| *b == b'\n') else {
            return Err(format!(
                "reply missing or cut short (connection dropped?): {:?}",
                String::from_utf8_lossy(rest)
            ));
        };
        self.pos += i + 1;
        let l = &rest[..=i];
        if !l.ends_with(b"\r\n") {
            return Err(format!(
                "reply line not CRLF-terminated: {:?}",
                String::from_utf8_lossy(l)
            ));
        }
        Ok(&l[..l.len() - 2])
    }
}

fn status(l: &[u8]) -> Option<bool> {
    if l == b"+OK" || l.starts_with(b"+OK ") {
        Some(true)
    } else if l == b"-ERR" || l.starts_with(b"-ERR ") {
        Some(false)
    } else {
        None
    }
}

/// Split a script the way the server frames it: LF-terminated lines (an
/// unterminated tail is never a command), each with its length on the wire.
fn script_lines(script: &[u8]) -> Vec<&[u8]> {
    let mut v: Vec<&[u8]> = script.split_inclusive(|b| *b == b'\n').collect();
    if v.last().is_some_and(|l| !l.ends_with(b"\n")) {
        v.pop();
    }
    v
}

/// Check the server's output for a pipelined `script` (sent after the
/// greeting, which `output` must start with) against the reply invariants.
/// The server must run without faults and without TLS.
pub fn check_transcript(script: &[u8], output: &[u8]) -> Result<Outcome, String> {
    let mut out = Output {
        data: output,
        pos: 0,
    };
    let g = out.line()?;
    if status(g) != Some(true) {
        return Err(format!("bad greeting {:?}", String::from_utf8_lossy(g)));
    }
    let mut o = Outcome::default();
    let mut in_auth_continuation = false;
    let mut closed = false;
    for raw in script_lines(script) {
        if closed {
            break;
        }
        let max = if in_auth_continuation {
            SASL_LINE_MAX
        } else {
            COMMAND_LINE_MAX
        };
        let first = out.line()?;
        o.replies += 1;
        if first.len() + 2 > crate::session::RESPONSE_LINE_MAX {
            return Err("status line over 512 octets".into());
        }
        let continuation = in_auth_continuation;
        in_auth_continuation = false;
        if raw.len() > max {
            if status(first) != Some(false) {
                return Err(format!(
                    "over-long line not refused: {:?}",
                    String::from_utf8_lossy(first)
                ));
            }
            continue;
        }
        let mut line = &raw[..raw.len() - 1];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        let (kw, rest) = match line.iter().position(|b| *b == b' ') {
            Some(i) => (line[..i].to_ascii_uppercase(), Some(&line[i + 1..])),
            None => (line.to_ascii_uppercase(), None),
        };
        let kw = if continuation { Vec::new() } else { kw };
        if first == b"+ " {
            let plain_without_initial = kw == b"AUTH"
                && rest.is_some_and(|r| r.eq_ignore_ascii_case(b"PLAIN"))
                && !o.logged_in;
            if !plain_without_initial {
                return Err(format!(
                    "unexpected continuation for {:?}",
                    String::from_utf8_lossy(line)
                ));
            }
            in_auth_continuation = true;
            continue;
        }
        let Some(ok) = status(first) else {
            return Err(format!(
                "reply is neither +OK nor -ERR: {:?} (to {:?})",
                String::from_utf8_lossy(first),
                String::from_utf8_lossy(line)
            ));
        };
        let multi = ok
            && match kw.as_slice() {
                b"CAPA" | b"RETR" | b"TOP" => true,
                b"LIST" | b"UIDL" | b"AUTH" | b"LANG" => rest.is_none(),
                _ => false,
            };
        if multi {
            loop {
                let l = out.line()?;
                if l == b"." {
                    break;
                }
                if l.contains(&b'\r') {
                    return Err("bare CR inside a multi-line response".into());
                }
            }
        }
        if continuation {
            if ok {
                o.logged_in = true;
            }
            continue;
        }
        match kw.as_slice() {
            b"PASS" | b"APOP" if ok => o.logged_in = true,
            // AUTH without arguments only lists mechanisms.
            b"AUTH" if ok && rest.is_some() => o.logged_in = true,
            b"DELE" if ok => {
                let n = rest
                    .and_then(|r| std::str::from_utf8(r).ok())
                    .and_then(|r| r.parse::<u64>().ok())
                    .ok_or("DELE +OK without a message number")?;
                if !o.logged_in {
                    return Err("DELE accepted in AUTHORIZATION".into());
                }
                o.marked.insert(n);
            }
            b"RSET" if ok => o.marked.clear(),
            b"STLS" if ok => return Err("STLS accepted without TLS configured".into()),
            b"QUIT" if rest.is_none() => {
                o.quit_in_transaction = o.logged_in;
                closed = true;
            }
            _ => {}
        }
    }
    if out.pos != output.len() {
        return Err(format!(
            "unexpected output after the last reply: {:?}",
            String::from_utf8_lossy(&output[out.pos..])
        ));
    }
    Ok(o)
}

/// A Maildir for user `alice` (password `secret`) holding a few awkward
/// messages in a known order (message n is `files()[n-1]`).
pub struct MaildirFixture {
    pub root: PathBuf,
    pub files: Vec<(PathBuf, Vec<u8>)>,
}

/// Messages with CRLF and LF line ends, dot lines, no final newline and a
/// non-ASCII header (refused by RETR until UTF8).
pub const MESSAGES: &[&[u8]] = &[
    b"Subject: one\r\nFrom: a@example.org\r\n\r\nbody one\r\nsecond line\r\n",
    b"Subject: two\n\n.dotted\nplain\n..double\n.\nend\n",
    b"Subject: three\n\nb1\nb2\nb3\nno final newline",
    "Subject: caf\u{e9}\n\nbody\n".as_bytes(),
    b"",
];

impl MaildirFixture {
    /// Create (or refill) `root/alice` with [`MESSAGES`].
    pub fn create(root: &Path) -> io::Result<Self> {
        let dir = root.join("alice");
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        let mut files = Vec::new();
        for (i, body) in MESSAGES.iter().enumerate() {
            let p = dir.join("cur").join(format!("{}.m{i}:2,", 1000 + i));
            std::fs::write(&p, body)?;
            let f = std::fs::File::options().write(true).open(&p)?;
            f.set_modified(UNIX_EPOCH + Duration::from_secs(1_000_000 + i as u64))?;
            files.push((p, body.to_vec()));
        }
        Ok(MaildirFixture {
            root: root.to_path_buf(),
            files,
        })
    }

    pub fn users() -> Vec<(String, String)> {
        vec![("alice".into(), "secret".into())]
    }

    /// Every file is intact or gone, and exactly the marked ones are gone
    /// when UPDATE ran (none otherwise).
    pub fn check(&self, o: &Outcome) -> Result<(), String> {
        for (i, (p, body)) in self.files.iter().enumerate() {
            let n = i as u64 + 1;
            let should_go = o.quit_in_transaction && o.marked.contains(&n);
            match std::fs::read(p) {
                Ok(b) if b == *body && !should_go => {}
                Ok(b) if b != *body => return Err(format!("message {n} changed")),
                Ok(_) => return Err(format!("marked message {n} not deleted at QUIT")),
                Err(_) if should_go => {}
                Err(e) => return Err(format!("message {n} disappeared ({e}) in {o:?}")),
            }
        }
        Ok(())
    }
}
