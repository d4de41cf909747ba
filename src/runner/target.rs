//! The server under test: how to reach it, the account to use, and what it
//! announced when the run began (greeting, CAPA), which decides the skips.

use super::connection::{escape, BodyEnd, Connection, ReadEvent};
use super::seed::Seeder;
use super::tls::{self, TlsOptions};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMechanism {
    /// USER then PASS (RFC 1939 §7).
    User,
    /// APOP with the greeting's timestamp (RFC 1939 §7).
    Apop,
    /// AUTH PLAIN with an initial response (RFC 5034, RFC 4616).
    Plain,
}

#[derive(Clone, Debug)]
pub struct Account {
    pub user: String,
    pub pass: String,
}

#[derive(Clone)]
pub struct Target {
    /// How the target is shown in reports.
    pub label: String,
    pub host: String,
    pub port: u16,
    /// Every connection starts with TLS (POP3S, RFC 8314).
    pub implicit_tls: bool,
    /// Every connection issues STLS after the greeting.
    pub starttls: bool,
    /// A port with implicit TLS, for the scenarios that require `implicit-tls`.
    pub tls_port: Option<u16>,
    pub tls: TlsOptions,
    pub connector: TlsConnector,
    pub account: Option<Account>,
    pub account2: Option<Account>,
    /// An account whose user name and password are as long as RFC 4616 §2
    /// has servers accept (up to 255 octets each), for the SASL exchanges
    /// longer than a command line. Not probed: its only login that fits the
    /// protocol is the long exchange the scenarios judge.
    pub account_long: Option<Account>,
    pub auth: AuthMechanism,
    pub seeder: Option<Seeder>,
    /// Seeds the second account (`fixture2`).
    pub seeder2: Option<Seeder>,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// How long the harness's own logins (the probe's, a scenario's
    /// precondition, `login:` steps) wait for each answer: longer than
    /// `timeout`, since servers delay answers to logins on purpose
    /// (authentication penalties).
    pub login_timeout: Duration,
    /// Caps every step's timeout, a scenario's own `timeout:` included (the
    /// self-test's fault runs, where a swallowed answer should cost little).
    pub max_timeout: Option<Duration>,
    pub max_line: usize,
    pub max_body: usize,
    /// How long a login refused because the maildrop is locked is retried
    /// (a server may release the previous session's lock a moment late).
    pub lock_wait: Duration,
    /// Capabilities the user declared for servers without CAPA.
    pub declared_capabilities: Vec<String>,
    pub extra_vars: Vec<(String, String)>,
    /// When each account last logged in (shared by the clones of a target,
    /// so every job sees every login): an announced LOGIN-DELAY is waited
    /// out from here.
    pub login_times: Arc<Mutex<HashMap<String, Instant>>>,
}

impl Target {
    /// A target with no accounts, no seeding and the default limits
    /// (5 s timeouts, `DEFAULT_MAX_LINE`, `DEFAULT_MAX_BODY`, 1 s lock wait);
    /// callers set the fields that differ.
    pub fn new(
        label: impl Into<String>,
        host: impl Into<String>,
        port: u16,
        tls: TlsOptions,
    ) -> Result<Target, String> {
        Ok(Target {
            label: label.into(),
            host: host.into(),
            port,
            implicit_tls: false,
            starttls: false,
            tls_port: None,
            connector: tls::connector(&tls)?,
            tls,
            account: None,
            account2: None,
            account_long: None,
            auth: AuthMechanism::User,
            seeder: None,
            seeder2: None,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(5),
            login_timeout: Duration::from_secs(30),
            max_timeout: None,
            max_line: crate::DEFAULT_MAX_LINE,
            max_body: crate::DEFAULT_MAX_BODY,
            lock_wait: Duration::from_secs(1),
            declared_capabilities: Vec::new(),
            extra_vars: Vec::new(),
            login_times: Arc::default(),
        })
    }
}

/// What the server told us before any scenario ran.
#[derive(Clone, Debug, Default)]
pub struct TargetInfo {
    /// The greeting line, escaped for display (control bytes and invalid UTF-8 as `\xNN`).
    pub greeting: String,
    pub apop: bool,
    pub capa_supported: bool,
    /// CAPA before login (AUTHORIZATION state): escaped capability lines (at
    /// most a thousand are kept).
    pub capabilities: Vec<String>,
    /// CAPA after login (TRANSACTION state); None when no account was given or
    /// CAPA was refused there.
    pub capabilities_after_login: Option<Vec<String>>,
    /// Why a CAPA response could not be read whole (over --max-body, no end).
    pub capa_problem: Option<String>,
    /// Accounts whose probe login took longer than the step timeout, and how long.
    pub slow_logins: Vec<(String, Duration)>,
    /// Why a configured account could not log in (a run against `--host`
    /// stops with exit 3; on the bundled server under a fault, the
    /// scenarios judge it).
    pub login_problem: Option<String>,
    /// What the server answered when the probe tried APOP for an account that
    /// logs in otherwise: RFC 1939 §13 lets it refuse one of the two methods.
    pub apop_refused: Option<String>,
    /// The same for USER/PASS when the account logs in with APOP (`--auth
    /// apop`): the other half of RFC 1939 §13.
    pub user_pass_refused: Option<String>,
}

/// Added to an announced LOGIN-DELAY before the next login: the server's
/// clock for it starts when it answered, a moment after the harness sent.
const LOGIN_DELAY_MARGIN: Duration = Duration::from_millis(150);

/// The longest LOGIN-DELAY the harness waits out between logins; with a
/// longer one, the scenarios that log in are skipped.
pub const LOGIN_DELAY_LIMIT: Duration = Duration::from_secs(10);

/// How long the probe retries a login refused for a lock or LOGIN-DELAY.
const LOGIN_RETRY_WAIT: Duration = Duration::from_millis(2500);

/// What a first answer that is not POP3 suggests is listening: ": a TLS
/// server; pass --tls" and the like, or the generic hint.
fn what_speaks(bytes: &[u8], tls_hint: &str) -> String {
    if matches!(bytes.first(), Some(0x14..=0x17)) && bytes.get(1) == Some(&0x03) {
        ": that is a TLS record, so the port speaks TLS: pass --tls (POP3S, RFC 8314)".into()
    } else if bytes.starts_with(b"HTTP/") || bytes.starts_with(b"<") {
        ": that is an HTTP server; wrong port? (POP3 is usually 110, POP3S 995)".into()
    } else if bytes.starts_with(b"* OK") {
        ": that is an IMAP server; wrong port? (POP3 is usually 110, POP3S 995)".into()
    } else if bytes.starts_with(b"220") {
        ": that is an SMTP server; wrong port? (POP3 is usually 110, POP3S 995)".into()
    } else {
        format!(": wrong port?{tls_hint}")
    }
}

impl TargetInfo {
    /// The CAPA list of the state a scenario's commands run in: after login
    /// when it starts logged in (and CAPA answered there), else before login.
    /// RFC 2449 §5 lets the lists differ; a capability announced only after
    /// login says nothing about AUTHORIZATION, and the reverse.
    pub fn capabilities_in(&self, logged_in: bool) -> &[String] {
        match &self.capabilities_after_login {
            Some(after) if logged_in => after,
            _ => &self.capabilities,
        }
    }

    /// The LOGIN-DELAY announced before login (RFC 2449 §6.5), if any.
    pub fn login_delay(&self) -> Option<Duration> {
        self.capabilities.iter().find_map(|line| {
            let mut words = line.split_whitespace();
            let tag = words.next()?;
            if !tag.eq_ignore_ascii_case("LOGIN-DELAY") {
                return None;
            }
            words.next()?.parse().ok().map(Duration::from_secs)
        })
    }

    /// `None` when the requirement holds for a scenario whose commands run
    /// logged in (`logged_in`) or before login, else the reason to skip.
    pub fn unmet(&self, requirement: &str, target: &Target, logged_in: bool) -> Option<String> {
        let r = requirement.trim();
        if let Some(negated) = r.strip_prefix("not ") {
            return self.unmet_negated(negated.trim(), target);
        }
        let ok = |b: bool, why: &str| if b { None } else { Some(why.to_string()) };
        match r {
            "capa" => ok(self.capa_supported, "the server does not support CAPA (optional, RFC 2449 §5)"),
            "apop" => ok(
                self.apop,
                "the greeting carries no APOP timestamp, so APOP is not offered",
            ),
            "apop-allowed" => match &self.apop_refused {
                Some(answer) if target.auth != AuthMechanism::Apop => Some(format!(
                    "the server refuses APOP for this account (`{answer}`), which RFC 1939 §13 allows for an account that logs in with USER/PASS (\"should not allow both methods of access for a given user\"); to judge APOP logins, give an APOP account with --auth apop"
                )),
                _ => ok(
                    self.apop,
                    "the greeting carries no APOP timestamp, so APOP is not offered",
                ),
            },
            "second-account" => ok(
                target.account2.is_some(),
                "no second account (--user2/--pass2)",
            ),
            "long-credentials" => ok(
                target.account_long.is_some(),
                "no long-credentials account (--long-user/--long-pass)",
            ),
            "implicit-tls" => ok(
                target.implicit_tls || target.tls_port.is_some(),
                "no implicit-TLS port (--tls-port)",
            ),
            "certificate-verification" => ok(
                !target.tls.insecure,
                "--insecure turns certificate verification off, so the certificate cannot be judged",
            ),
            "verbatim-fixture" => ok(
                !matches!(target.seeder, Some(Seeder::Deliver(_))),
                "the fixture is seeded by delivery (--deliver), so the server stores it with trace headers of its own and the Message-ID pop3spec gave it: its exact lines are not the fixture's",
            ),
            user if user.eq_ignore_ascii_case("USER")
                && target.auth == AuthMechanism::Apop
                && self.user_pass_refused.is_some() =>
            {
                let answer = self.user_pass_refused.as_deref().unwrap_or_default();
                Some(format!(
                    "the server refuses USER/PASS for this account (`{answer}`), which RFC 1939 §13 allows for an account that logs in with APOP (\"should not allow both methods of access for a given user\"); to judge USER/PASS logins, give a USER/PASS account"
                ))
            }
            _ => {
                let mut words = r.split_whitespace();
                let tag = words.next().unwrap_or("");
                let args: Vec<&str> = words.collect();
                // STLS, USER and SASL announce commands of the AUTHORIZATION
                // state (RFC 2595 §4, RFC 2449 §6.2, RFC 5034 §3): a scenario
                // that checks them after login needs them offered before.
                let logged_in = logged_in
                    && !["STLS", "USER", "SASL"]
                        .iter()
                        .any(|c| c.eq_ignore_ascii_case(tag));
                let state_list = self.capabilities_in(logged_in);
                let announced = state_list
                    .iter()
                    .chain(&target.declared_capabilities)
                    .any(|line| capability_line_matches(line, tag, &args));
                let state = if logged_in && self.capabilities_after_login.is_some() {
                    "after login"
                } else {
                    "before login"
                };
                if announced {
                    None
                } else if !self.capa_supported {
                    Some(format!(
                        "the server does not support CAPA, so `{r}` cannot be confirmed (declare it with --capability '{r}')"
                    ))
                } else {
                    Some(format!("the server does not announce `{r}` in CAPA {state}, the state this scenario's commands run in"))
                }
            }
        }
    }
}

impl TargetInfo {
    /// `not X`: a condition that does not hold, or a capability the server
    /// does not offer at all: absent from CAPA before login and after it,
    /// not declared with --capability, or no CAPA at all. Scenarios about
    /// what a server must not do without a capability (RFC 2595 §4, RFC
    /// 3206 §5) run only then, so a server that offers it is skipped.
    fn unmet_negated(&self, inner: &str, target: &Target) -> Option<String> {
        if crate::scenario::load::CONDITIONS.contains(&inner) {
            return match self.unmet(inner, target, false) {
                Some(_) => None,
                None => Some(format!("`{inner}` holds for this server")),
            };
        }
        let mut words = inner.split_whitespace();
        let tag = words.next().unwrap_or("");
        let args: Vec<&str> = words.collect();
        let lists = [
            ("before login", self.capabilities.as_slice()),
            (
                "after login",
                self.capabilities_after_login.as_deref().unwrap_or(&[]),
            ),
            ("with --capability", target.declared_capabilities.as_slice()),
        ];
        lists.iter().find_map(|(state, list)| {
            list.iter()
                .any(|line| capability_line_matches(line, tag, &args))
                .then(|| format!("the server announces `{inner}` {state}"))
        })
    }
}

/// Whether a CAPA line announces `tag` with each of `args` among its words
/// (all case-insensitive).
fn capability_line_matches(line: &str, tag: &str, args: &[&str]) -> bool {
    let mut w = line.split_whitespace();
    w.next().is_some_and(|t| t.eq_ignore_ascii_case(tag))
        && args.iter().all(|a| {
            line.split_whitespace()
                .skip(1)
                .any(|x| x.eq_ignore_ascii_case(a))
        })
}

/// Why a connection could not be set up.
#[derive(Debug)]
pub enum OpenError {
    /// TCP connect failed: nothing could be judged.
    Unreachable(String),
    /// The server answered but not as a POP3 server should (judged).
    Protocol(String),
    /// Timeouts and TLS problems.
    Other(String),
}

impl OpenError {
    pub fn message(&self) -> &str {
        match self {
            OpenError::Unreachable(m) | OpenError::Protocol(m) | OpenError::Other(m) => m,
        }
    }

    /// The same error with `what` was happening put in front of its message.
    pub fn context(self, what: &str) -> OpenError {
        match self {
            OpenError::Unreachable(m) => OpenError::Unreachable(format!("{what}: {m}")),
            OpenError::Protocol(m) => OpenError::Protocol(format!("{what}: {m}")),
            OpenError::Other(m) => OpenError::Other(format!("{what}: {m}")),
        }
    }
}

/// Callback for transcript lines while opening: (direction is server?, text).
pub type Log<'a> = &'a mut (dyn FnMut(bool, String) + Send);

impl Target {
    /// Notes that `user` logged in (or tried to) now.
    pub fn note_login(&self, user: &str) {
        let mut times = self.login_times.lock().unwrap_or_else(|p| p.into_inner());
        times.insert(user.to_string(), Instant::now());
    }

    /// Waits until `delay` (plus a margin for the server's clock starting a
    /// moment later) has passed since `user` last logged in (RFC 2449 §6.5).
    pub async fn space_login(&self, user: &str, delay: Option<Duration>) {
        let Some(delay) = delay.filter(|d| !d.is_zero()) else {
            return;
        };
        let last = {
            let times = self.login_times.lock().unwrap_or_else(|p| p.into_inner());
            times.get(user).copied()
        };
        if let Some(last) = last {
            tokio::time::sleep_until(last + delay + LOGIN_DELAY_MARGIN).await;
        }
    }

    pub fn port_for(&self, implicit: bool) -> u16 {
        if implicit && !self.implicit_tls {
            self.tls_port.unwrap_or(self.port)
        } else {
            self.port
        }
    }

    /// TCP connect (and the implicit-TLS handshake when asked), within the connect timeout.
    pub async fn connect(&self, implicit_tls: bool) -> Result<Connection, OpenError> {
        let port = self.port_for(implicit_tls);
        let addr = format!("{}:{}", self.host, port);
        let deadline = Instant::now() + self.connect_timeout;
        let stream = match tokio::time::timeout_at(deadline, TcpStream::connect(&addr)).await {
            Err(_) => {
                return Err(OpenError::Unreachable(format!(
                    "cannot connect to {addr}: no answer within {:?}",
                    self.connect_timeout
                )))
            }
            Ok(Err(e)) => {
                return Err(OpenError::Unreachable(format!(
                    "cannot connect to {addr}: {e}"
                )))
            }
            Ok(Ok(s)) => s,
        };
        let mut conn = Connection::new(stream, self.max_line);
        if implicit_tls || self.implicit_tls {
            let name =
                tls::server_name(&self.host, self.tls.sni.as_deref()).map_err(OpenError::Other)?;
            conn.start_tls(&self.connector, name, deadline)
                .await
                .map_err(OpenError::Other)?;
        }
        Ok(conn)
    }

    /// Reads one status line within the step timeout; Ok((is_ok, text)).
    pub async fn read_status(
        &self,
        conn: &mut Connection,
        log: Log<'_>,
    ) -> Result<(bool, String), OpenError> {
        self.read_status_within(conn, log, self.timeout).await
    }

    async fn read_status_within(
        &self,
        conn: &mut Connection,
        log: Log<'_>,
        timeout: Duration,
    ) -> Result<(bool, String), OpenError> {
        let deadline = Instant::now() + timeout;
        match conn.read_line(deadline).await {
            ReadEvent::Line(line) => {
                let text = String::from_utf8_lossy(&line.bytes).into_owned();
                log(true, escape(&line.bytes));
                if status_of(&line.bytes) == Some(true) {
                    Ok((true, text))
                } else if status_of(&line.bytes) == Some(false) {
                    // Only ever shown (in a refusal message): escaped, like the transcript.
                    Ok((false, escape(&line.bytes)))
                } else {
                    Err(OpenError::Protocol(format!(
                        "expected +OK or -ERR, got `{}`",
                        escape(&line.bytes)
                    )))
                }
            }
            ReadEvent::Closed { .. } => Err(OpenError::Protocol(
                "the server closed the connection".into(),
            )),
            ReadEvent::Timeout { .. } => {
                Err(OpenError::Other(format!("no response within {timeout:?}")))
            }
            ReadEvent::TooLong { .. } => Err(OpenError::Protocol("over-long response line".into())),
        }
    }

    /// Sends a command and reads its status line.
    pub async fn command(
        &self,
        conn: &mut Connection,
        line: &str,
        shown: &str,
        log: Log<'_>,
    ) -> Result<(bool, String), OpenError> {
        self.command_within(conn, line, shown, log, self.timeout)
            .await
    }

    async fn command_within(
        &self,
        conn: &mut Connection,
        line: &str,
        shown: &str,
        log: Log<'_>,
        timeout: Duration,
    ) -> Result<(bool, String), OpenError> {
        log(false, shown.to_string());
        conn.send(format!("{line}\r\n").as_bytes())
            .await
            .map_err(|e| OpenError::Protocol(format!("sending `{shown}` failed: {e}")))?;
        self.read_status_within(conn, log, timeout).await
    }

    /// STLS on a fresh connection, when the run uses `--starttls`.
    pub async fn upgrade(&self, conn: &mut Connection, log: Log<'_>) -> Result<(), OpenError> {
        let (ok, text) = self.command(conn, "STLS", "STLS", log).await?;
        if !ok {
            return Err(OpenError::Protocol(format!("STLS was refused: {text}")));
        }
        let name =
            tls::server_name(&self.host, self.tls.sni.as_deref()).map_err(OpenError::Other)?;
        conn.start_tls(&self.connector, name, Instant::now() + self.timeout)
            .await
            .map_err(OpenError::Other)
    }

    /// Logs in with the configured mechanism. Err(Protocol) carries the server's refusal.
    pub async fn login(
        &self,
        conn: &mut Connection,
        account: &Account,
        greeting: &str,
        log: Log<'_>,
    ) -> Result<(), OpenError> {
        let refused =
            |cmd: &str, text: String| OpenError::Protocol(format!("{cmd} was refused: {text}"));
        match self.auth {
            AuthMechanism::User => {
                let (ok, text) = self
                    .command_within(
                        conn,
                        &format!("USER {}", account.user),
                        &format!("USER {}", account.user),
                        log,
                        self.login_timeout,
                    )
                    .await?;
                if !ok {
                    return Err(refused("USER", text));
                }
                let (ok, text) = self
                    .command_within(
                        conn,
                        &format!("PASS {}", account.pass),
                        "PASS ***",
                        log,
                        self.login_timeout,
                    )
                    .await?;
                if !ok {
                    return Err(refused("PASS", text));
                }
            }
            AuthMechanism::Apop => {
                let Some(ts) = apop_timestamp(greeting) else {
                    return Err(OpenError::Other(
                        "--auth apop: the greeting has no APOP timestamp".into(),
                    ));
                };
                let digest = apop_digest(&ts, &account.pass);
                let (ok, text) = self
                    .command_within(
                        conn,
                        &format!("APOP {} {digest}", account.user),
                        &format!("APOP {} ***", account.user),
                        log,
                        self.login_timeout,
                    )
                    .await?;
                if !ok {
                    return Err(refused("APOP", text));
                }
            }
            AuthMechanism::Plain => {
                use base64::Engine;
                let token = base64::engine::general_purpose::STANDARD
                    .encode(format!("\0{}\0{}", account.user, account.pass));
                let (ok, text) = self
                    .command_within(
                        conn,
                        &format!("AUTH PLAIN {token}"),
                        "AUTH PLAIN ***",
                        log,
                        self.login_timeout,
                    )
                    .await?;
                if !ok {
                    return Err(refused("AUTH PLAIN", text));
                }
            }
        }
        Ok(())
    }

    /// Learns the greeting and the capabilities before and after login, and
    /// checks that the configured accounts log in (`login_problem`). Err (the
    /// run stops with exit 3, nothing judged) when nothing POP3 answers on
    /// the port: the set-up's problem, not the server's.
    pub async fn probe(&self) -> Result<TargetInfo, String> {
        let mut info = TargetInfo::default();
        let mut quiet = |_: bool, _: String| {};
        let mut conn = match self.connect(false).await {
            Ok(c) => c,
            Err(OpenError::Other(m)) if m.starts_with("TLS handshake failed") && !m.contains("certificate") => {
                return Err(format!("{m}\nhint: the port may not speak TLS: drop --tls (or use --starttls for STLS on a plain POP3 port)"))
            }
            Err(e) => return Err(e.message().to_string()),
        };
        let greeting = self.probe_greeting(&mut conn).await?;
        info.apop = apop_timestamp(&greeting).is_some();
        info.greeting = greeting.clone();
        if self.starttls {
            if let Err(e) = self.upgrade(&mut conn, &mut quiet).await {
                return Err(format!("--starttls: {}", e.message()));
            }
        }
        if let Some(capa) = self.capa(&mut conn).await {
            info.capa_supported = true;
            info.capabilities = capa.lines;
            info.capa_problem = capa.problem;
        }
        let _ = self.command(&mut conn, "QUIT", "QUIT", &mut quiet).await;
        for account in self.account.iter().chain(&self.account2) {
            let started = Instant::now();
            match self.open_logged_in(account).await {
                Ok(mut conn) => {
                    self.note_login(&account.user);
                    let took = started.elapsed();
                    if took > self.timeout {
                        info.slow_logins.push((account.user.clone(), took));
                    }
                    if info.capabilities_after_login.is_none() {
                        if let Some(capa) = self.capa(&mut conn).await {
                            info.capa_supported = true;
                            info.capa_problem = info.capa_problem.take().or(capa.problem);
                            info.capabilities_after_login = Some(capa.lines);
                        }
                    }
                    let _ = self.command(&mut conn, "QUIT", "QUIT", &mut quiet).await;
                }
                Err(e) => {
                    let took = started.elapsed();
                    let mut problem = match e {
                        OpenError::Other(m) if took >= self.login_timeout => format!(
                            "the account {} could not log in within --login-timeout {:?}: the server is slow to answer a login ({m}); give it more time with --login-timeout",
                            account.user, self.login_timeout
                        ),
                        e => format!(
                            "the account {} could not log in: {}\nhint: check --user/--pass (and --user2/--pass2, --auth); nothing was judged",
                            account.user,
                            e.message()
                        ),
                    };
                    for a in self.account.iter().chain(&self.account2) {
                        if !a.pass.is_empty() {
                            problem = problem.replace(&a.pass, "***");
                        }
                    }
                    info.login_problem = Some(problem);
                    break;
                }
            }
        }
        // RFC 1939 §13: a server "should not allow both methods of access
        // for a given user", so the method the account does not log in with
        // may be refused; the scenarios that need it then skip.
        if let (Some(account), None) = (&self.account, &info.login_problem) {
            if info.apop && self.auth != AuthMechanism::Apop {
                info.apop_refused = self.refusal(account, AuthMechanism::Apop).await;
            }
            if self.auth == AuthMechanism::Apop {
                info.user_pass_refused = self.refusal(account, AuthMechanism::User).await;
            }
        }
        Ok(info)
    }

    /// The server's answer when `method` is refused for an account that logs
    /// in with another one; None when it works or the refusal was for a
    /// reason of the moment (LOGIN-DELAY, the lock) or the dialogue broke,
    /// so that the scenarios using it run and judge for themselves.
    async fn refusal(&self, account: &Account, method: AuthMechanism) -> Option<String> {
        let other = Target {
            auth: method,
            ..self.clone()
        };
        let mut quiet = |_: bool, _: String| {};
        match other.open_logged_in(account).await {
            Ok(mut conn) => {
                let _ = self.command(&mut conn, "QUIT", "QUIT", &mut quiet).await;
                None
            }
            Err(OpenError::Protocol(m))
                if !m.contains("[LOGIN-DELAY]") && !m.contains("[IN-USE]") =>
            {
                Some(if account.pass.is_empty() {
                    m
                } else {
                    m.replace(&account.pass, "***")
                })
            }
            Err(_) => None,
        }
    }

    /// Reads the greeting for the probe; Err (with a hint) when what answers
    /// on the port is not a POP3 server. The greeting's exact form is the
    /// scenarios' to judge: `+ok` still counts as POP3 here.
    async fn probe_greeting(&self, conn: &mut Connection) -> Result<String, String> {
        let port = self.port;
        let deadline = Instant::now() + self.timeout;
        let tls_hint = if self.implicit_tls {
            ""
        } else {
            " (a POP3S port such as 995 needs --tls)"
        };
        match conn.read_line(deadline).await {
            ReadEvent::Line(l) => {
                let upper = l.bytes.to_ascii_uppercase();
                if status_of(&upper).is_some() {
                    return Ok(escape(&l.bytes));
                }
                Err(format!(
                    "port {port} answered `{}`, which is not a POP3 greeting (+OK or -ERR){}",
                    escape(&l.bytes[..l.bytes.len().min(80)]),
                    what_speaks(&l.bytes, tls_hint)
                ))
            }
            ReadEvent::TooLong { prefix } => Err(format!(
                "port {port} sent a line of over {} octets instead of a POP3 greeting{}",
                self.max_line,
                what_speaks(&prefix, tls_hint)
            )),
            ReadEvent::Closed { partial, .. } if !partial.is_empty() => Err(format!(
                "port {port} sent `{}` and closed the connection: not a POP3 greeting{}",
                escape(&partial[..partial.len().min(80)]),
                what_speaks(&partial, tls_hint)
            )),
            ReadEvent::Closed { .. } => Err(format!(
                "port {port} closed the connection without a greeting: is a POP3 server listening there?"
            )),
            ReadEvent::Timeout { partial } if !partial.is_empty() => Err(format!(
                "port {port} sent `{}` and no complete greeting within {:?}{}",
                escape(&partial[..partial.len().min(80)]),
                self.timeout,
                what_speaks(&partial, tls_hint)
            )),
            ReadEvent::Timeout { .. } => {
                // TLS and HTTP servers wait for the client to speak first; a
                // line from us makes them show what they are.
                let _ = conn.send(b"QUIT\r\n").await;
                let answer = conn
                    .wait_for_bytes(Instant::now() + self.timeout.min(Duration::from_secs(2)))
                    .await
                    .unwrap_or_default();
                let kind = if answer.is_empty() {
                    format!(": nothing on it speaks first, and a POP3 server greets at once; wrong port?{tls_hint}")
                } else {
                    what_speaks(&answer, tls_hint)
                };
                Err(format!(
                    "port {port} sent no greeting within {:?}{kind}",
                    self.timeout
                ))
            }
        }
    }

    /// A connection logged in as `account`; a login refused because the
    /// maildrop is still locked, or under LOGIN-DELAY, is tried again for a
    /// while on a fresh connection.
    pub async fn open_logged_in(&self, account: &Account) -> Result<Connection, OpenError> {
        let started = Instant::now();
        loop {
            match self.try_open_logged_in(account).await {
                Err(OpenError::Protocol(m))
                    if started.elapsed() < self.lock_wait.max(LOGIN_RETRY_WAIT)
                        && (m.contains("[LOGIN-DELAY]") || m.contains("[IN-USE]")) =>
                {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                other => return other,
            }
        }
    }

    async fn try_open_logged_in(&self, account: &Account) -> Result<Connection, OpenError> {
        let mut quiet = |_: bool, _: String| {};
        let mut conn = self.connect(false).await?;
        let (ok, greeting) = self.read_status(&mut conn, &mut quiet).await?;
        if !ok {
            return Err(OpenError::Protocol(format!(
                "greeting was not +OK: {greeting}"
            )));
        }
        if self.starttls {
            self.upgrade(&mut conn, &mut quiet).await?;
        }
        self.login(&mut conn, account, &greeting, &mut quiet)
            .await?;
        Ok(conn)
    }

    /// CAPA's capability lines (escaped), read under --max-body like every
    /// multi-line response; None when CAPA is refused or does not answer.
    async fn capa(&self, conn: &mut Connection) -> Option<Capa> {
        let mut quiet = |_: bool, _: String| {};
        let (ok, _) = self.command(conn, "CAPA", "CAPA", &mut quiet).await.ok()?;
        if !ok {
            return None;
        }
        let (body, end) = conn
            .read_body(Instant::now() + self.timeout, self.max_body, false)
            .await;
        conn.compact();
        let problem = match end {
            BodyEnd::Dot { .. } | BodyEnd::BareLf(_) => None,
            BodyEnd::OverLimit => Some(format!(
                "the CAPA response exceeded {} octets (--max-body) and was cut off",
                self.max_body
            )),
            BodyEnd::Broken(_) => Some(format!(
                "the CAPA response did not end with a `.` line within {:?}",
                self.timeout
            )),
        };
        let lines = body.lines().take(MAX_CAPABILITIES).map(escape).collect();
        Some(Capa { lines, problem })
    }
}

/// More capability lines than any server announces; the rest are not kept.
const MAX_CAPABILITIES: usize = 1000;

/// What the probe's CAPA produced.
struct Capa {
    lines: Vec<String>,
    problem: Option<String>,
}

/// `Some(true)` for `+OK`, `Some(false)` for `-ERR`, each followed by a space or
/// nothing; compared case-sensitively as RFC 1939 §3 writes them.
pub fn status_of(line: &[u8]) -> Option<bool> {
    let after = |p: &[u8]| {
        line.strip_prefix(p)
            .map(|rest| rest.is_empty() || rest[0] == b' ')
    };
    if after(b"+OK") == Some(true) {
        Some(true)
    } else if after(b"-ERR") == Some(true) {
        Some(false)
    } else {
        None
    }
}

/// The `<...>` timestamp of an APOP-capable greeting (RFC 1939 §7).
pub fn apop_timestamp(greeting: &str) -> Option<String> {
    let start = greeting.find('<')?;
    let end = start + greeting[start..].find('>')?;
    let ts = &greeting[start..=end];
    (ts.len() > 2 && ts[1..ts.len() - 1].contains('@')).then(|| ts.to_string())
}

pub fn apop_digest(timestamp: &str, pass: &str) -> String {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    h.update(timestamp.as_bytes());
    h.update(pass.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_indicators_are_exact() {
        assert_eq!(status_of(b"+OK"), Some(true));
        assert_eq!(status_of(b"+OK hi"), Some(true));
        assert_eq!(status_of(b"-ERR no"), Some(false));
        assert_eq!(status_of(b"+ok"), None);
        assert_eq!(status_of(b"+OKAY"), None);
        assert_eq!(status_of(b"-ERROR"), None);
    }

    #[test]
    fn apop_timestamp_from_greeting() {
        assert_eq!(
            apop_timestamp("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>").as_deref(),
            Some("<1896.697170952@dbc.mtview.ca.us>")
        );
        assert_eq!(apop_timestamp("+OK ready"), None);
        assert_eq!(
            apop_digest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf"),
            "c4c9334bac560ecc979e58001b3e22fb"
        );
    }
}
