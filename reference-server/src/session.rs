//! One POP3 session: the RFC 1939 state machine around a [`Connection`].
//!
//! The session owns everything a client can change (state, pending USER,
//! the message list and its deletion marks, the maildrop lock) so commands
//! in `cmd/` stay small functions of `&mut Session`. How a session *ends*
//! matters as much as what it does: only QUIT from TRANSACTION enters UPDATE;
//! a dropped connection, autologout or server shutdown must not delete.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::cmd;
use crate::config::ServerConfig;
use crate::connection::{Connection, Line};
use crate::faults::{Fault, FaultSet};
use crate::language::Language;
use crate::locks::{LockGuard, LockTable};
use crate::logins::LoginTimes;
use crate::maildrop::{self, Maildrop};
use crate::variants::Variant;

/// State shared by all sessions of one server instance.
pub(crate) struct Shared {
    pub config: ServerConfig,
    pub users: HashMap<String, String>,
    pub locks: LockTable,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Last successful login per user, for LOGIN-DELAY.
    pub logins: LoginTimes,
    /// Deletion marks of sessions that were dropped, by user: kept only
    /// under the `quit-applies-dropped-marks` fault.
    pub abandoned_marks: std::sync::Mutex<HashMap<String, Vec<(std::path::PathBuf, String)>>>,
}

impl Shared {
    pub fn new(
        config: ServerConfig,
        locks: LockTable,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
        let users = config.users.iter().cloned().collect();
        Shared {
            config,
            users,
            locks,
            tls,
            logins: LoginTimes::default(),
            abandoned_marks: Default::default(),
        }
    }
}

/// Makes APOP timestamps unique even across several servers in one process.
static TIMESTAMP_COUNTER: AtomicU64 = AtomicU64::new(1);

pub enum State {
    Authorization,
    Transaction(Box<Txn>),
}

/// What a logged-in session holds.
pub struct Txn {
    pub user: String,
    pub maildrop: Maildrop,
    /// None only under the `no-maildrop-lock` fault.
    pub lock: Option<LockGuard>,
    /// Messages sent with RETR; read only under the `download-delete-on-drop`
    /// fault, which removes them although the session never reached QUIT.
    pub downloaded: Vec<usize>,
}

/// What the command loop does after a command.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Close,
}

/// Why the command loop ended.
enum End {
    Closed,
    Dropped,
    IdleTimeout,
    Shutdown,
}

pub struct Session {
    pub conn: Connection,
    pub(crate) shared: Arc<Shared>,
    pub state: State,
    pub timestamp: String,
    /// Set by a successful USER, consumed by PASS.
    pub pending_user: Option<String>,
    /// RFC 6856 UTF-8 mode.
    pub utf8: bool,
    /// RFC 6856 §3: the language of response texts, chosen by LANG.
    pub lang: Language,
    /// Close once the current command is answered (`close-after-err`).
    closing: bool,
    /// Only under the implicit-tls-preauthenticated fault: replies are not
    /// sent while the session logs itself in after the greeting.
    muted: bool,
    /// Only under the failed-pass-keeps-lock fault: the lock a wrong PASS took.
    pub stray_lock: Option<LockGuard>,
    /// Only under the noop-flood-guard fault: NOOPs answered so far.
    pub noops: u32,
    /// Only under the quit-after-failed-user-refused fault: the last USER
    /// was answered -ERR.
    pub user_refused: bool,
    shutdown: watch::Receiver<bool>,
}

/// RFC 2449 §4: command lines up to 255 octets including CRLF.
pub const COMMAND_LINE_MAX: usize = 255;
/// SASL continuation lines carry base64 and may be longer than commands.
pub const SASL_LINE_MAX: usize = 4096;
/// RFC 2449 §4: response first lines at most 512 octets including CRLF.
pub const RESPONSE_LINE_MAX: usize = 512;

impl Session {
    pub(crate) fn new(
        conn: Connection,
        shared: Arc<Shared>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let host = &shared.config.hostname;
        let timestamp = if shared.config.faults.contains(Fault::ApopTimestampReused) {
            format!("<{}.0.0@{host}>", std::process::id())
        } else {
            let n = TIMESTAMP_COUNTER.fetch_add(1, Ordering::Relaxed);
            // RFC 822 msg-id: `<` local-part `@` domain `>`; the fault leaves
            // the domain empty, as a server whose host name is unset would.
            let domain = if shared.config.faults.contains(Fault::ApopTimestampNotMsgId) {
                ""
            } else {
                host.as_str()
            };
            format!(
                "<{}.{n}.{}@{domain}>",
                std::process::id(),
                maildrop::now_secs()
            )
        };
        Session {
            conn,
            shared,
            state: State::Authorization,
            timestamp,
            pending_user: None,
            utf8: false,
            lang: Language::preferred(),
            closing: false,
            muted: false,
            stray_lock: None,
            noops: 0,
            user_refused: false,
            shutdown,
        }
    }

    pub fn faults(&self) -> &FaultSet {
        &self.shared.config.faults
    }

    pub fn fault(&self, f: Fault) -> bool {
        self.shared.config.faults.contains(f)
    }

    pub fn variant(&self, v: Variant) -> bool {
        self.shared.config.variants.contains(v)
    }

    pub fn config(&self) -> &ServerConfig {
        &self.shared.config
    }

    pub fn tls_available(&self) -> bool {
        self.shared.tls.is_some()
    }

    pub fn txn(&mut self) -> Option<&mut Txn> {
        match &mut self.state {
            State::Transaction(t) => Some(t),
            State::Authorization => None,
        }
    }

    pub fn in_transaction(&self) -> bool {
        matches!(self.state, State::Transaction(_))
    }

    fn status_line(&self, ok: bool, text: &str) -> Vec<u8> {
        let lower = self.fault(Fault::LowercaseStatus);
        let status = match (ok, lower) {
            (true, false) => "+OK",
            (true, true) => "+ok",
            (false, false) => "-ERR",
            (false, true) => "-err",
        };
        let mut line = status.to_string();
        if !text.is_empty() {
            line.push(' ');
            line.push_str(&self.lang.translate(text));
        }
        // Cut at a character boundary: a translated text is UTF-8.
        let mut end = line.len().min(RESPONSE_LINE_MAX - 2);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
        line.into_bytes()
    }

    async fn single(&mut self, ok: bool, text: &str) -> io::Result<()> {
        let mut line = self.status_line(ok, text);
        if self.fault(Fault::BareLfResponses) {
            line.push(b'\n');
        } else {
            line.extend_from_slice(b"\r\n");
        }
        self.send(&line).await
    }

    /// Write to the client. A client that stops reading cannot hold the
    /// session (and so server shutdown) hostage: writes give up after the
    /// autologout time, or at once when the server shuts down.
    pub async fn send(&mut self, data: &[u8]) -> io::Result<()> {
        if self.muted {
            return Ok(());
        }
        let idle = self.shared.config.idle_timeout;
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            r = self.conn.write_all(data) => r,
            _ = tokio::time::sleep(idle) => Err(io::Error::new(io::ErrorKind::TimedOut, "client not reading")),
            _ = shutdown.wait_for(|v| *v) => Err(io::Error::other("server shutting down")),
        }
    }

    pub async fn ok(&mut self, text: &str) -> io::Result<()> {
        self.single(true, text).await
    }

    pub async fn err(&mut self, text: &str) -> io::Result<()> {
        // RFC 1939 §4: the server may close the connection after -ERR.
        self.closing |= self.variant(Variant::CloseAfterErr);
        self.single(false, text).await
    }

    /// A multi-line response: status line, lines (byte-stuffed when `stuff`),
    /// and the terminating `.` line when `terminate`.
    pub async fn multi<'a, I>(
        &mut self,
        first: &str,
        lines: I,
        stuff: bool,
        terminate: bool,
    ) -> io::Result<()>
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let mut out = self.status_line(true, first);
        out.extend_from_slice(b"\r\n");
        for l in lines {
            if stuff && l.first() == Some(&b'.') {
                out.push(b'.');
            }
            out.extend_from_slice(l);
            out.extend_from_slice(b"\r\n");
        }
        if terminate {
            out.extend_from_slice(b".\r\n");
        }
        self.send(&out).await
    }

    /// The autologout timer: the configured one, or a tenth of it under the
    /// `autologout-too-short` fault.
    pub fn idle_timeout(&self) -> Duration {
        let idle = self.shared.config.idle_timeout;
        if self.fault(Fault::AutologoutTooShort) {
            idle / 10
        } else {
            idle
        }
    }

    /// Read a SASL continuation line with the autologout timer running.
    pub async fn read_continuation(&mut self) -> io::Result<Line> {
        let idle = self.idle_timeout();
        let max = if self.fault(Fault::SaslContinuation255Limit) {
            COMMAND_LINE_MAX
        } else {
            SASL_LINE_MAX
        };
        match tokio::time::timeout(idle, self.conn.read_line(max)).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "autologout")),
        }
    }

    /// Whether credentials may be sent now: always, unless `require_tls`
    /// is set and the connection is still plaintext.
    pub fn auth_allowed(&self) -> bool {
        !self.shared.config.require_tls
            || self.conn.is_tls()
            || self.fault(Fault::CleartextAuthBeforeTls)
    }

    /// The refusal of USER/PASS/APOP/AUTH on a plaintext connection under
    /// `require_tls` (RFC 2595 §9: no cleartext passwords without TLS).
    pub async fn refuse_cleartext(&mut self) -> io::Result<Flow> {
        self.pending_user = None;
        self.err("TLS required: send STLS first").await?;
        Ok(Flow::Continue)
    }

    /// Answer a failed authentication after the configured delay, which
    /// slows down password guessing on one connection.
    pub async fn auth_failed(&mut self, text: &str) -> io::Result<Flow> {
        let delay = self.shared.config.auth_failure_delay;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        self.err(text).await?;
        Ok(Flow::Continue)
    }

    pub fn check_password(&self, user: &str, password: &str) -> bool {
        match self.shared.users.get(user) {
            Some(p) => {
                p == password
                    || self.fault(Fault::WrongPasswordAccepted)
                    || (self.fault(Fault::PasswordPrefixAccepted)
                        && !password.is_empty()
                        && p.starts_with(password))
                    || (self.fault(Fault::PasswordCaseInsensitive)
                        && p.eq_ignore_ascii_case(password))
            }
            None => false,
        }
    }

    /// A USER or PASS argument as it is compared: `None` when it holds a
    /// character SASLprep prohibits, which RFC 6856 §2.2 has the server
    /// reject (the saslprep-strips-prohibited fault drops them instead).
    pub fn prepared_credential(&self, text: &str) -> Option<String> {
        if !text.chars().any(crate::saslprep::prohibited) {
            return Some(text.to_string());
        }
        self.fault(Fault::SaslprepStripsProhibited).then(|| {
            text.chars()
                .filter(|c| !crate::saslprep::prohibited(*c))
                .collect()
        })
    }

    /// The announced LOGIN-DELAY in seconds, when `user` last logged in less
    /// than that long ago (RFC 2449 §6.5).
    pub fn login_too_soon(&self, user: &str) -> Option<u32> {
        let secs = self.config().effective_login_delay().unwrap_or(0);
        let delay = Duration::from_secs(secs.into());
        self.shared.logins.too_soon(user, delay).then_some(secs)
    }

    pub fn password_of(&self, user: &str) -> Option<&str> {
        self.shared.users.get(user).map(String::as_str)
    }

    /// Credentials are verified: lock and open the maildrop, enter
    /// TRANSACTION, and answer. Any failure leaves the session in
    /// AUTHORIZATION with no lock held.
    pub async fn login(&mut self, user: &str) -> io::Result<()> {
        self.pending_user = None;
        if !crate::config::valid_user_name(user) {
            // The name cannot be a directory under mail_root: no retry helps.
            return self.err("[SYS/PERM] maildrop name not usable").await;
        }
        // RFC 2449 §6.5, §8.1.1: checked once the credentials are proven, so
        // only the account's owner learns when it last logged in.
        let secs = self.config().effective_login_delay().unwrap_or(0);
        let delay = Duration::from_secs(secs.into());
        if !self.fault(Fault::LoginDelayNotEnforced) && self.shared.logins.too_soon(user, delay) {
            return self
                .err(&format!(
                    "[LOGIN-DELAY] last login less than {secs} seconds ago"
                ))
                .await;
        }
        // Set only under the lock-refusal-enters-transaction fault: the
        // refusal is sent, but after entering TRANSACTION without the lock.
        let mut refusal = None;
        let lock = if self.fault(Fault::NoMaildropLock) {
            None
        } else {
            match self.shared.locks.try_lock(user) {
                Some(g) => Some(g),
                None => {
                    let msg = if self.fault(Fault::InUseWithoutCode) {
                        "maildrop already locked"
                    } else {
                        "[IN-USE] maildrop already locked by another session"
                    };
                    if !self.fault(Fault::LockRefusalEntersTransaction) {
                        return self.err(msg).await;
                    }
                    refusal = Some(msg);
                    None
                }
            }
        };
        let dir = self.shared.config.mail_root.join(user);
        let faults = self.faults().clone();
        let opened = tokio::task::spawn_blocking(move || maildrop::open(&dir, &faults))
            .await
            .unwrap_or_else(|e| Err(io::Error::other(e)));
        let maildrop = match opened {
            Ok(m) => m,
            Err(_) => {
                drop(lock);
                return self.err("[SYS/TEMP] maildrop unavailable").await;
            }
        };
        let (n, size) = count(&maildrop, false, self.fault(Fault::OctetsLfCount));
        if refusal.is_none() {
            self.shared.logins.record(user, delay);
        }
        self.state = State::Transaction(Box::new(Txn {
            user: user.to_string(),
            maildrop,
            lock,
            downloaded: Vec::new(),
        }));
        match refusal {
            Some(msg) => self.err(msg).await,
            None => {
                self.ok(&format!("maildrop has {n} messages ({size} octets)"))
                    .await
            }
        }
    }

    /// The files of the messages marked as deleted, with their base names.
    fn marked(&mut self) -> Vec<(std::path::PathBuf, String)> {
        let Some(txn) = self.txn() else {
            return Vec::new();
        };
        txn.maildrop
            .messages
            .iter()
            .filter(|m| m.deleted)
            .map(|m| (m.path.clone(), m.base.clone()))
            .collect()
    }

    /// RFC 1939 §6 UPDATE: remove every marked message.
    pub(crate) async fn update(&mut self) -> io::Result<()> {
        let Some(txn) = self.txn() else {
            return Ok(());
        };
        let dir = txn.maildrop.dir.clone();
        let doomed = self.marked();
        remove(dir, doomed).await
    }

    /// The `quit-applies-dropped-marks` fault: QUIT in AUTHORIZATION after
    /// USER removes what a dropped session of that user had marked.
    pub(crate) async fn apply_abandoned_marks(&mut self) -> io::Result<()> {
        let Some(user) = self.pending_user.clone() else {
            return Ok(());
        };
        let doomed = self
            .shared
            .abandoned_marks
            .lock()
            .map(|mut m| m.remove(&user))
            .ok()
            .flatten()
            .unwrap_or_default();
        let dir = self.shared.config.mail_root.join(&user);
        remove(dir, doomed).await
    }

    /// Run the session to its end, then apply the end-of-session rules.
    pub(crate) async fn run(mut self) {
        let mut shutdown = self.shutdown.clone();
        let end = match self.greet().await {
            Ok(()) => self.command_loop(&mut shutdown).await,
            Err(_) => End::Dropped,
        };
        match end {
            End::Dropped if self.fault(Fault::DeleteOnDisconnect) => {
                let _ = self.update().await;
            }
            End::Dropped if self.fault(Fault::DownloadDeleteOnDrop) => {
                if let Some(txn) = self.txn() {
                    for i in std::mem::take(&mut txn.downloaded) {
                        txn.maildrop.messages[i].deleted = true;
                    }
                }
                let _ = self.update().await;
            }
            End::Dropped if self.fault(Fault::QuitAppliesDroppedMarks) => {
                let doomed = self.marked();
                if let (Some(txn), false) = (self.txn(), doomed.is_empty()) {
                    let user = txn.user.clone();
                    if let Ok(mut kept) = self.shared.abandoned_marks.lock() {
                        kept.insert(user, doomed);
                    }
                }
            }
            End::IdleTimeout if self.fault(Fault::UpdateOnIdleTimeout) => {
                let _ = self.update().await;
            }
            _ => {}
        }
        if matches!(end, End::Dropped) && self.fault(Fault::LockNotReleasedOnDrop) {
            if let Some(txn) = self.txn() {
                if let Some(g) = txn.lock.take() {
                    std::mem::forget(g);
                }
            }
        }
        if !matches!(end, End::Dropped) {
            let close = self.conn.shutdown(!self.fault(Fault::NoCloseNotify));
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), close).await;
        }
    }

    async fn greet(&mut self) -> io::Result<()> {
        let mut text = if self.fault(Fault::GreetingMalformedCode) {
            format!("[POP3 server ready] {}", self.timestamp)
        } else {
            format!("POP3 server ready {}", self.timestamp)
        };
        if self.fault(Fault::LongResponseLine) {
            let pad = 600usize.saturating_sub(text.len() + 6);
            text = format!("POP3 server ready {}{}", " ".repeat(pad), self.timestamp);
        }
        let status = if self.fault(Fault::GreetingLowercaseOk) {
            "+ok"
        } else {
            "+OK"
        };
        let eol = if self.fault(Fault::GreetingBareLf) {
            "\n"
        } else {
            "\r\n"
        };
        let mut g = format!("{status} {text}{eol}");
        if self.fault(Fault::GreetingExtraLine) {
            g.push_str("Welcome to the reference server\r\n");
        }
        self.send(g.as_bytes()).await?;
        if self.fault(Fault::ImplicitTlsPreauthenticated) && self.conn.is_tls() {
            // The first account whose maildrop is free: another session may
            // hold the lock of the first one.
            let users: Vec<String> = self
                .shared
                .config
                .users
                .iter()
                .map(|(u, _)| u.clone())
                .collect();
            self.muted = true;
            for user in users {
                if self.login(&user).await.is_err() || self.in_transaction() {
                    break;
                }
            }
            self.muted = false;
        }
        Ok(())
    }

    async fn command_loop(&mut self, shutdown: &mut watch::Receiver<bool>) -> End {
        let idle = self.idle_timeout();
        let limit = if self.fault(Fault::ShortLineLimit) {
            64
        } else if self.fault(Fault::LineLimitOffByOne) {
            COMMAND_LINE_MAX - 1
        } else {
            COMMAND_LINE_MAX
        };
        let mut deadline = tokio::time::Instant::now() + idle;
        loop {
            let line = tokio::select! {
                r = self.conn.read_line(limit) => Some(r),
                _ = tokio::time::sleep_until(deadline) => None,
                _ = shutdown.wait_for(|v| *v) => return End::Shutdown,
            };
            let Some(line) = line else {
                if self.variant(Variant::LineBeforeAutologout)
                    || self.fault(Fault::AutologoutWithResponse)
                {
                    let _ = self.err("autologout: idle for too long").await;
                }
                return End::IdleTimeout;
            };
            let noop = matches!(&line, Ok(Line::Line(l)) if l.len() >= 4 && l[..4].eq_ignore_ascii_case(b"NOOP"));
            if !(noop && self.fault(Fault::NoopKeepsTimer)) {
                deadline = tokio::time::Instant::now() + idle;
            }
            let flow = match line {
                Ok(Line::Eof) | Err(_) => return End::Dropped,
                Ok(Line::TooLong) if self.fault(Fault::LongLineCloses) => return End::Closed,
                Ok(Line::TooLong) => self.err("line too long").await.map(|_| Flow::Continue),
                // Boxed so an idle session's future stays small.
                Ok(Line::Line(l)) => Box::pin(cmd::dispatch(self, &l)).await,
            };
            match flow {
                Ok(Flow::Continue) if self.closing => return End::Closed,
                Ok(Flow::Continue) => {}
                Ok(Flow::Close) => return End::Closed,
                Err(_) => return End::Dropped,
            }
            if self.fault(Fault::PipeliningDropsBuffered) {
                self.conn.discard_buffer();
            }
        }
    }
}

/// Removes `doomed` from the maildrop in `dir` (UPDATE's file work).
async fn remove(
    dir: std::path::PathBuf,
    doomed: Vec<(std::path::PathBuf, String)>,
) -> io::Result<()> {
    tokio::task::spawn_blocking(move || maildrop::update(&dir, &doomed))
        .await
        .unwrap_or_else(|e| Err(io::Error::other(e)))
}

/// (messages, octets) for STAT and the login reply.
pub fn count(m: &Maildrop, include_deleted: bool, lf_sizes: bool) -> (usize, u64) {
    let mut n = 0;
    let mut size = 0;
    for msg in &m.messages {
        if msg.deleted && !include_deleted {
            continue;
        }
        n += 1;
        size += if lf_sizes { msg.raw_size } else { msg.size };
    }
    (n, size)
}

impl Txn {
    /// Message index for number `n`, or None when it does not exist or is
    /// marked (unless `allow_deleted`).
    pub fn index(&self, n: u64, faults: &FaultSet, allow_deleted: bool) -> Option<usize> {
        if n == 0 {
            return None;
        }
        if faults.contains(Fault::RenumberAfterDele) {
            return self
                .maildrop
                .messages
                .iter()
                .enumerate()
                .filter(|(_, m)| !m.deleted)
                .nth((n - 1) as usize)
                .map(|(i, _)| i);
        }
        let i = usize::try_from(n - 1).ok()?;
        let m = self.maildrop.messages.get(i)?;
        if m.deleted && !allow_deleted {
            return None;
        }
        Some(i)
    }

    /// (number, index) of each listed message.
    pub fn listing(&self, faults: &FaultSet, include_deleted: bool) -> Vec<(u64, usize)> {
        let renumber = faults.contains(Fault::RenumberAfterDele);
        let mut out = Vec::new();
        let mut k = 0u64;
        for (i, m) in self.maildrop.messages.iter().enumerate() {
            if m.deleted && !include_deleted {
                continue;
            }
            k += 1;
            out.push((if renumber { k } else { i as u64 + 1 }, i));
        }
        out
    }

    pub fn size_of(&self, i: usize, faults: &FaultSet) -> u64 {
        let m = &self.maildrop.messages[i];
        if faults.contains(Fault::OctetsLfCount) {
            m.raw_size
        } else {
            m.size
        }
    }
}
