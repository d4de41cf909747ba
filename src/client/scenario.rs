//! Client scenario files (`scenarios/client/`): the YAML shape, the model the
//! player runs, and the loader that checks one against the other with
//! file:line:col for every problem. A client scenario plays the *server*: its
//! steps read the client's commands and answer them, while a built-in mailbox
//! answers everything the script leaves alone, so one file works for clients
//! that send CAPA, STAT, LIST or UIDL in whatever order they like.

use crate::outcome::{Level, SourcePos};
pub use crate::scenario::load::CLIENT_DIR;
use crate::scenario::load::{find_fixture, parse_yaml, with_source, Problem};
use crate::scenario::Diagnostic;
use regex::Regex;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClientScenario {
    id: S<String>,
    title: S<String>,
    spec: S<String>,
    requirement: S<String>,
    level: S<String>,
    #[serde(default)]
    tags: Vec<S<String>>,
    #[serde(default)]
    fixture: Option<S<String>>,
    #[serde(default)]
    client: RawClientConfig,
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    steps: Vec<S<RawStep>>,
    #[serde(default)]
    verdict: RawVerdict,
    /// Faults of the scripted test client this scenario must catch.
    #[serde(default)]
    catches: Vec<S<String>>,
    #[serde(default)]
    timeout: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClientConfig {
    #[serde(default)]
    tls: Option<S<String>>,
    #[serde(default)]
    delete: Option<S<bool>>,
    #[serde(default)]
    auth: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    #[serde(default)]
    greeting: Option<S<String>>,
    /// Replaces the CAPA list; an empty list answers CAPA with -ERR.
    #[serde(default)]
    capa: Option<Vec<S<String>>>,
    /// Added to the default CAPA list.
    #[serde(default)]
    capa_extra: Vec<S<String>>,
    #[serde(default)]
    certificate: Option<S<String>>,
    /// Added to every size LIST and STAT report (the octets sent do not change).
    #[serde(default)]
    size_delta: Option<S<i64>>,
    /// Text appended to STAT's drop listing and every LIST scan listing.
    #[serde(default)]
    listing_suffix: Option<S<String>>,
    /// Speak plaintext although the client is told to use implicit TLS.
    #[serde(default)]
    plaintext: Option<S<bool>>,
    /// The unique-ids UIDL gives the fixture's messages, in order.
    #[serde(default)]
    uids: Option<S<Vec<String>>>,
    /// Answers to given commands of the mailbox, e.g. `{"RETR 2": "-ERR gone"}`.
    #[serde(default)]
    answers: Vec<S<RawAnswer>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnswer {
    command: S<String>,
    #[serde(default)]
    reply: Option<S<RawReply>>,
    #[serde(default)]
    reply_raw: Option<S<String>>,
    #[serde(default)]
    close: Option<S<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawReply {
    Line(String),
    Lines(Vec<String>),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    #[serde(default)]
    expect_command: Option<S<String>>,
    /// With expect_command: what the verdict is when the client never sends it.
    #[serde(default)]
    if_missing: Option<S<String>>,
    /// With expect_command: only a command sent before TLS matches.
    #[serde(default)]
    in_clear: Option<S<bool>>,
    #[serde(default)]
    why: Option<S<String>>,
    #[serde(default)]
    reply: Option<S<RawReply>>,
    #[serde(default)]
    reply_raw: Option<S<String>>,
    #[serde(default)]
    start_tls: Option<S<bool>>,
    #[serde(default)]
    close: Option<S<bool>>,
    #[serde(default)]
    pause: Option<S<String>>,
    /// The client must send nothing for this long (it waits for an answer).
    #[serde(default)]
    expect_quiet: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVerdict {
    #[serde(default)]
    stored: Option<S<RawStored>>,
    #[serde(default)]
    credentials: Option<S<String>>,
    #[serde(default)]
    forbid: Vec<S<RawRule>>,
    #[serde(default)]
    require: Vec<S<RawRule>>,
    #[serde(default)]
    quit: Option<S<bool>>,
    #[serde(default)]
    deleted: Option<S<String>>,
    #[serde(default)]
    max_connections: Option<S<u32>>,
    /// true: the client must send nothing between STLS and the handshake.
    #[serde(default)]
    no_commands_during_stls: Option<S<bool>>,
    #[serde(default)]
    exit: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawStored {
    Word(String),
    Messages(Vec<usize>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    command: S<String>,
    why: S<String>,
}

/// How the client under test is told to reach and use the server; handed
/// to its command as POP3SPEC_TLS, POP3SPEC_DELETE and POP3SPEC_AUTH.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    None,
    Starttls,
    Implicit,
}

impl TlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::None => "none",
            TlsMode::Starttls => "starttls",
            TlsMode::Implicit => "implicit",
        }
    }
}

#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub tls: TlsMode,
    pub delete: bool,
    /// user, apop, plain or any.
    pub auth: String,
}

/// Which certificate the harness presents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertChoice {
    /// Signed by the CA in {cafile}.
    Trusted,
    /// Self-signed, unknown to the client: it must refuse the handshake.
    Untrusted,
    /// Signed by the CA, but for another host name.
    WrongName,
    /// Signed by the CA for the right names, but expired.
    Expired,
}

#[derive(Clone, Debug)]
pub enum Reply {
    /// One line, CRLF added.
    Line(String),
    /// A status line and a body: lines starting with `.` are stuffed and the
    /// `.` terminator is added.
    Multi(Vec<String>),
    /// Bytes as written (escapes \r \n \t \\ \xHH decoded).
    Raw(Vec<u8>),
}

#[derive(Clone, Debug)]
pub struct MailboxAnswer {
    pub command: Regex,
    pub reply: Option<Reply>,
    pub close: bool,
}

#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub greeting: Option<String>,
    pub capa: Option<Vec<String>>,
    pub capa_extra: Vec<String>,
    pub certificate: CertChoice,
    pub size_delta: i64,
    pub listing_suffix: String,
    pub plaintext: bool,
    /// UIDL unique-ids by message (default pop3spec-N).
    pub uids: Vec<String>,
    pub answers: Vec<MailboxAnswer>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfMissing {
    Fail,
    Skip,
    /// The rule the step starts holds trivially when the client never gets
    /// there (it gave up earlier, which is allowed).
    Pass,
}

#[derive(Clone, Debug)]
pub enum StepAction {
    ExpectCommand {
        pattern: Regex,
        if_missing: IfMissing,
        why: Option<String>,
        in_clear: bool,
    },
    Reply(Reply),
    StartTls,
    Close,
    Pause(Duration),
    /// The client sends nothing for this long: it is waiting for the answer
    /// to its last command, as a client in step does.
    ExpectQuiet(Duration),
}

#[derive(Clone, Debug)]
pub struct ClientStep {
    pub pos: SourcePos,
    pub action: StepAction,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stored {
    /// Every fixture message, each exactly once, nothing else.
    All,
    /// Nothing at all.
    None,
    /// Only complete fixture messages, none twice; missing ones allowed.
    Intact,
    /// Exactly these fixture messages (1-based).
    Only(Vec<usize>),
    /// Not judged.
    Unchecked,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credentials {
    /// No USER, PASS, APOP or AUTH command at all.
    Never,
    /// Only on a connection protected by TLS.
    TlsOnly,
    Any,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deleted {
    /// Every message DELE'd and committed by QUIT (after the DELEs).
    All,
    /// No DELE.
    None,
    /// Every message the client retrieved in full (RETR, or TOP with every
    /// line) was marked with DELE on that connection after it was
    /// retrieved, whatever the answer; messages it never downloaded are not
    /// asked for (a client may stop after an -ERR).
    Retrieved,
    Unchecked,
}

#[derive(Clone, Debug)]
pub struct Rule {
    pub pos: SourcePos,
    pub command: Regex,
    pub why: String,
}

#[derive(Clone, Debug)]
pub struct Verdict {
    pub stored: Stored,
    pub credentials: Credentials,
    pub forbid: Vec<Rule>,
    pub require: Vec<Rule>,
    pub quit: bool,
    pub deleted: Deleted,
    pub max_connections: Option<u32>,
    pub no_commands_during_stls: bool,
    /// The client must end by itself before the deadline.
    pub exit_required: bool,
    pub pos: SourcePos,
}

#[derive(Clone, Debug)]
pub struct ClientScenario {
    pub id: String,
    pub title: String,
    pub spec: String,
    pub requirement: String,
    pub level: Level,
    pub tags: Vec<String>,
    pub fixture: Option<String>,
    pub fixture_dir: Option<PathBuf>,
    pub client: ClientConfig,
    pub server: ServerConfig,
    pub steps: Vec<ClientStep>,
    pub verdict: Verdict,
    pub catches: Vec<String>,
    pub timeout: Option<Duration>,
    pub file: PathBuf,
    pub source: Arc<str>,
}

/// The client suite folder: `scenarios/client` next to the server suite.
pub fn default_client_dir() -> PathBuf {
    crate::suite::default_scenario_dir().join(CLIENT_DIR)
}

/// Every `*.yaml` below `paths` (fixtures excluded), sorted.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if name != "fixtures" && !name.starts_with('.') {
                    walk(&path, out)?;
                }
            } else if name.ends_with(".yaml") || name.ends_with(".yml") {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(format!("{}: no such file or folder", p.display()));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Loads every file; problems of all files together, ids checked for duplicates.
pub fn load_all(files: &[PathBuf]) -> (Vec<ClientScenario>, Vec<Problem>) {
    let mut scenarios: Vec<ClientScenario> = Vec::new();
    let mut problems = Vec::new();
    for f in files {
        match load_file(f) {
            Ok(s) => {
                if let Some(first) = scenarios.iter().find(|o| o.id == s.id) {
                    problems.push(Problem {
                        diagnostic: Diagnostic::new(
                            SourcePos {
                                file: s.file.clone(),
                                line: 1,
                                column: 1,
                            },
                            format!("duplicate id `{}`", s.id),
                        )
                        .with_hint(format!("first used in {}", first.file.display())),
                        source: Some(s.source.clone()),
                    });
                } else {
                    scenarios.push(s);
                }
            }
            Err(p) => problems.extend(p),
        }
    }
    (scenarios, problems)
}

pub fn load_file(file: &Path) -> Result<ClientScenario, Vec<Problem>> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        vec![Problem {
            diagnostic: Diagnostic::new(
                SourcePos {
                    file: file.to_path_buf(),
                    line: 1,
                    column: 1,
                },
                format!("cannot read file: {e}"),
            ),
            source: None,
        }]
    })?;
    // A file of the written-out built-in suite is named scenarios/client/...
    // in messages; its fixtures are looked for where it really lies.
    let shown = crate::suite::display_path(file);
    load_named(&shown, file, Arc::from(text.as_str()))
}

pub fn load_str(file: &Path, source: Arc<str>) -> Result<ClientScenario, Vec<Problem>> {
    load_named(file, file, source)
}

fn load_named(
    file: &Path,
    on_disk: &Path,
    source: Arc<str>,
) -> Result<ClientScenario, Vec<Problem>> {
    let raw: RawClientScenario = parse_yaml(
        file,
        &source,
        "see docs/client-scenarios.md for the keys a client scenario may use",
    )?;
    let mut cx = Cx {
        file,
        on_disk,
        problems: Vec::new(),
    };
    let scenario = cx.scenario(raw, source.clone());
    if cx.problems.is_empty() {
        Ok(scenario)
    } else {
        Err(with_source(cx.problems, &source))
    }
}

struct Cx<'a> {
    file: &'a Path,
    on_disk: &'a Path,
    problems: Vec<Diagnostic>,
}

impl Cx<'_> {
    fn pos<T>(&self, s: &S<T>) -> SourcePos {
        SourcePos {
            file: self.file.to_path_buf(),
            line: s.referenced.line() as u32,
            column: s.referenced.column() as u32,
        }
    }

    fn problem<T>(&mut self, at: &S<T>, message: impl Into<String>) {
        let pos = self.pos(at);
        self.problems.push(Diagnostic::new(pos, message));
    }

    fn regex(&mut self, s: &S<String>) -> Regex {
        match Regex::new(&format!("(?i){}", s.value)) {
            Ok(r) => r,
            Err(e) => {
                self.problem(s, format!("`{}` is not a valid regex: {e}", s.value));
                Regex::new("$^").expect("a constant regex")
            }
        }
    }

    fn choice<'v>(
        &mut self,
        s: &'v Option<S<String>>,
        allowed: &[&str],
        default: &'v str,
    ) -> &'v str {
        match s {
            None => default,
            Some(v) if allowed.contains(&v.value.as_str()) => v.value.as_str(),
            Some(v) => {
                self.problem(
                    v,
                    format!("`{}` is not one of: {}", v.value, allowed.join(", ")),
                );
                default
            }
        }
    }

    fn reply(&mut self, r: &S<RawReply>) -> Reply {
        match &r.value {
            RawReply::Line(l) => Reply::Line(l.clone()),
            RawReply::Lines(lines) if lines.is_empty() => {
                self.problem(r, "a multi-line reply needs at least its status line");
                Reply::Multi(vec!["+OK".into()])
            }
            RawReply::Lines(lines) => Reply::Multi(lines.clone()),
        }
    }

    fn raw_bytes(&mut self, s: &S<String>) -> Vec<u8> {
        match unescape(&s.value) {
            Ok(b) => b,
            Err(e) => {
                self.problem(s, e);
                Vec::new()
            }
        }
    }

    fn scenario(&mut self, raw: RawClientScenario, source: Arc<str>) -> ClientScenario {
        let id_ok = !raw.id.value.is_empty()
            && raw.id.value.split('.').all(|part| {
                !part.is_empty()
                    && part.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
                    })
            });
        if !id_ok {
            self.problem(
                &raw.id,
                "an id is dotted lowercase words, e.g. client.rfc1939.stuffing.retr",
            );
        } else if !raw.id.value.starts_with("client.") {
            self.problem(
                &raw.id,
                "client scenario ids start with `client.` so they never clash with server ids",
            );
        }
        let level = match raw.level.value.as_str() {
            "must" => Level::Must,
            "should" => Level::Should,
            "info" => Level::Info,
            other => {
                self.problem(
                    &raw.level,
                    format!("level `{other}` is not must, should or info"),
                );
                Level::Must
            }
        };
        let fixture_dir = raw.fixture.as_ref().and_then(|f| {
            let found = find_fixture(self.on_disk, &f.value);
            if found.is_none() {
                self.problem(
                    f,
                    format!("no fixtures/{} folder next to or above this file", f.value),
                );
            }
            found
        });
        let tls = match self.choice(&raw.client.tls, &["none", "starttls", "implicit"], "none") {
            "starttls" => TlsMode::Starttls,
            "implicit" => TlsMode::Implicit,
            _ => TlsMode::None,
        };
        let auth = self
            .choice(&raw.client.auth, &["user", "apop", "plain", "any"], "user")
            .to_string();
        let certificate = match self.choice(
            &raw.server.certificate,
            &["trusted", "untrusted", "wrong-name", "expired"],
            "trusted",
        ) {
            "untrusted" => CertChoice::Untrusted,
            "wrong-name" => CertChoice::WrongName,
            "expired" => CertChoice::Expired,
            _ => CertChoice::Trusted,
        };
        let answers = raw
            .server
            .answers
            .iter()
            .map(|a| {
                let reply = match (&a.value.reply, &a.value.reply_raw) {
                    (Some(r), None) => Some(self.reply(r)),
                    (None, Some(r)) => Some(Reply::Raw(self.raw_bytes(r))),
                    (None, None) => None,
                    (Some(_), Some(_)) => {
                        self.problem(a, "give reply or reply_raw, not both");
                        None
                    }
                };
                let close = a.value.close.as_ref().is_some_and(|c| c.value);
                if reply.is_none() && !close {
                    self.problem(a, "an answer needs reply, reply_raw or close: true");
                }
                MailboxAnswer {
                    command: self.regex(&a.value.command),
                    reply,
                    close,
                }
            })
            .collect();
        let server = ServerConfig {
            greeting: raw.server.greeting.as_ref().map(|g| g.value.clone()),
            capa: raw
                .server
                .capa
                .as_ref()
                .map(|c| c.iter().map(|c| c.value.clone()).collect()),
            capa_extra: raw
                .server
                .capa_extra
                .iter()
                .map(|c| c.value.clone())
                .collect(),
            certificate,
            size_delta: raw.server.size_delta.as_ref().map_or(0, |d| d.value),
            listing_suffix: raw
                .server
                .listing_suffix
                .as_ref()
                .map(|l| l.value.clone())
                .unwrap_or_default(),
            plaintext: raw.server.plaintext.as_ref().is_some_and(|p| p.value),
            uids: match &raw.server.uids {
                None => Vec::new(),
                Some(list) => {
                    // RFC 1939 §7: 1 to 70 characters in 0x21..0x7E.
                    if let Some(bad) = list.value.iter().find(|u| {
                        u.is_empty()
                            || u.len() > 70
                            || !u.bytes().all(|b| (0x21..=0x7e).contains(&b))
                    }) {
                        self.problem(list, format!("`{bad}` is no unique-id: RFC 1939 §7 allows 1 to 70 characters from 0x21 to 0x7E"));
                    }
                    list.value.clone()
                }
            },
            answers,
        };
        let steps = raw.steps.iter().filter_map(|s| self.step(s)).collect();
        let v = &raw.verdict;
        let stored = match &v.stored {
            None => Stored::All,
            Some(st) => match &st.value {
                RawStored::Word(w) if w == "all" => Stored::All,
                RawStored::Word(w) if w == "none" => Stored::None,
                RawStored::Word(w) if w == "unchecked" => Stored::Unchecked,
                RawStored::Word(w) if w == "intact" => Stored::Intact,
                RawStored::Word(w) => {
                    self.problem(st, format!("stored: `{w}` is not all, none, intact, unchecked or a list of message numbers"));
                    Stored::All
                }
                RawStored::Messages(list) => Stored::Only(list.clone()),
            },
        };
        let credentials = match self.choice(&v.credentials, &["never", "tls-only", "any"], "any") {
            "never" => Credentials::Never,
            "tls-only" => Credentials::TlsOnly,
            _ => Credentials::Any,
        };
        let deleted_default = if raw.client.delete.as_ref().is_some_and(|d| d.value) {
            "all"
        } else {
            "none"
        };
        let deleted = match self.choice(
            &v.deleted,
            &["all", "none", "retrieved", "unchecked"],
            deleted_default,
        ) {
            "all" => Deleted::All,
            "none" => Deleted::None,
            "retrieved" => Deleted::Retrieved,
            _ => Deleted::Unchecked,
        };
        let exit_required =
            self.choice(&v.exit, &["required", "optional"], "required") == "required";
        let rules = |cx: &mut Self, list: &[S<RawRule>]| {
            list.iter()
                .map(|r| Rule {
                    pos: cx.pos(r),
                    command: cx.regex(&r.value.command),
                    why: r.value.why.value.clone(),
                })
                .collect::<Vec<_>>()
        };
        let forbid = rules(self, &v.forbid);
        let require = rules(self, &v.require);
        let timeout =
            raw.timeout
                .as_ref()
                .and_then(|t| match crate::scenario::parse_duration(&t.value) {
                    Ok(d) if !d.is_zero() => Some(d),
                    Ok(_) => {
                        self.problem(t, "a zero timeout would end every client at once");
                        None
                    }
                    Err(e) => {
                        self.problem(t, e);
                        None
                    }
                });
        let catches: Vec<String> = raw.catches.iter().map(|c| c.value.clone()).collect();
        for c in &raw.catches {
            if !crate::client::FAULTS
                .iter()
                .any(|(name, _)| *name == c.value)
            {
                self.problem(
                    c,
                    format!(
                        "`{}` is not a fault of the test client (known: {})",
                        c.value,
                        crate::client::FAULTS
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }
        ClientScenario {
            id: raw.id.value.clone(),
            title: raw.title.value.clone(),
            spec: raw.spec.value.clone(),
            requirement: raw.requirement.value.trim().to_string(),
            level,
            tags: raw.tags.iter().map(|t| t.value.clone()).collect(),
            fixture: raw.fixture.as_ref().map(|f| f.value.clone()),
            fixture_dir,
            client: ClientConfig {
                tls,
                delete: raw.client.delete.as_ref().is_some_and(|d| d.value),
                auth,
            },
            server,
            steps,
            verdict: Verdict {
                stored,
                credentials,
                forbid,
                require,
                quit: v.quit.as_ref().is_some_and(|q| q.value),
                deleted,
                max_connections: v.max_connections.as_ref().map(|m| m.value),
                no_commands_during_stls: v
                    .no_commands_during_stls
                    .as_ref()
                    .is_some_and(|n| n.value),
                exit_required,
                pos: SourcePos {
                    file: self.file.to_path_buf(),
                    line: 1,
                    column: 1,
                },
            },
            catches,
            timeout,
            file: self.file.to_path_buf(),
            source,
        }
    }

    fn step(&mut self, s: &S<RawStep>) -> Option<ClientStep> {
        let r = &s.value;
        let pos = self.pos(s);
        let mut actions = Vec::new();
        if let Some(e) = &r.expect_command {
            let if_missing = match self.choice(&r.if_missing, &["fail", "skip", "pass"], "fail") {
                "skip" => IfMissing::Skip,
                "pass" => IfMissing::Pass,
                _ => IfMissing::Fail,
            };
            actions.push(StepAction::ExpectCommand {
                pattern: self.regex(e),
                if_missing,
                why: r.why.as_ref().map(|w| w.value.clone()),
                in_clear: r.in_clear.as_ref().is_some_and(|c| c.value),
            });
        } else if r.if_missing.is_some() || r.why.is_some() || r.in_clear.is_some() {
            self.problem(
                s,
                "if_missing, why and in_clear belong to an expect_command step",
            );
        }
        if let Some(reply) = &r.reply {
            actions.push(StepAction::Reply(self.reply(reply)));
        }
        if let Some(raw) = &r.reply_raw {
            actions.push(StepAction::Reply(Reply::Raw(self.raw_bytes(raw))));
        }
        if r.start_tls.as_ref().is_some_and(|t| t.value) {
            actions.push(StepAction::StartTls);
        }
        if r.close.as_ref().is_some_and(|c| c.value) {
            actions.push(StepAction::Close);
        }
        if let Some(p) = &r.pause {
            match crate::scenario::parse_duration(&p.value) {
                Ok(d) => actions.push(StepAction::Pause(d)),
                Err(e) => self.problem(p, e),
            }
        }
        if let Some(q) = &r.expect_quiet {
            match crate::scenario::parse_duration(&q.value) {
                Ok(d) => actions.push(StepAction::ExpectQuiet(d)),
                Err(e) => self.problem(q, e),
            }
        }
        if actions.len() != 1 {
            self.problem(
                s,
                "a step has exactly one action: expect_command, reply, reply_raw, start_tls, close, pause or expect_quiet",
            );
            return None;
        }
        Some(ClientStep {
            pos,
            action: actions.remove(0),
        })
    }
}

/// `\r \n \t \\ \xHH` decoded.
pub fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut b = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            continue;
        }
        match chars.next() {
            Some('r') => out.push(b'\r'),
            Some('n') => out.push(b'\n'),
            Some('t') => out.push(b'\t'),
            Some('0') => out.push(0),
            Some('\\') => out.push(b'\\'),
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                let b = u8::from_str_radix(&hex, 16)
                    .map_err(|_| format!("`\\x{hex}` is not two hex digits"))?;
                out.push(b);
            }
            other => {
                return Err(format!(
                    "unknown escape `\\{}` (use \\r \\n \\t \\0 \\\\ \\xHH)",
                    other.map(String::from).unwrap_or_default()
                ))
            }
        }
    }
    Ok(out)
}
