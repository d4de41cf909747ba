//! Runs one scenario: opens the sessions its state asks for, plays each step,
//! and turns the first deviation into a verdict with everything a reader needs
//! (the step's position and source, the command sent, expected vs actual, the
//! transcript).
//!
//! This file holds the scenario's run (fixtures, the first session, the steps
//! in order), the step dispatch and the findings; each step kind's code lives
//! with its family:
//!
//! | file | step kinds |
//! |---|---|
//! | `send.rs` | `send`, `send_raw` |
//! | `expect.rs` | `expect` (one status line), and the line reads every judging step shares |
//! | `body.rs` | `expect_multiline` |
//! | `waits.rs` | `expect_close`, `expect_silence`, `sleep` |
//! | `sessions.rs` | `connect`, `reconnect`, `disconnect`; opening and closing sessions |
//! | `handshake.rs` | `tls_handshake`, `tls_legacy_hello` |
//! | `login.rs` | `login`; the harness's own login and LOGIN-DELAY rules |
//! | `control.rs` | `one_of`, `assert` |
//!
//! `recorder.rs` keeps the transcript with secrets removed.

mod body;
mod control;
mod expect;
mod handshake;
mod login;
mod recorder;
mod send;
mod sessions;
mod waits;

use super::connection::Connection;
use super::target::{OpenError, Target, TargetInfo};
use super::verify::{self, Verification};
use crate::outcome::*;
use crate::scenario::diagnostic::snippet;
use crate::scenario::template::{Value, Vars};
use crate::scenario::*;
use login::requires_login_delay;
use recorder::Recorder;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::time::Instant;

/// The transcript's name for a session that only checks a seeded fixture.
const CHECK_SESSION: &str = "seed-check";

/// A step that did not pass: `Fail` is a judged deviation, `Error` means the
/// dialogue could not be judged (timeout, I/O, TLS set-up, configuration).
/// Boxed: a `Result<_, StepFail>` is returned by nearly every step function,
/// and a finding is large.
enum StepFail {
    Fail(Box<Finding>),
    Error(Box<Finding>),
    /// The server did something the RFCs allow that leaves the scenario's
    /// question unasked (a close after -ERR, a LOGIN-DELAY refusal): skipped.
    Skip(Box<Finding>),
}

impl StepFail {
    fn fail(f: Finding) -> Self {
        StepFail::Fail(Box::new(f))
    }

    fn error(f: Finding) -> Self {
        StepFail::Error(Box::new(f))
    }

    fn skip(f: Finding) -> Self {
        StepFail::Skip(Box::new(f))
    }

    fn finding(&self) -> &Finding {
        match self {
            StepFail::Fail(f) | StepFail::Error(f) | StepFail::Skip(f) => f,
        }
    }
}

/// `Some(note)` when a `one_of` matched a non-strict alternative.
type StepResult = Result<Option<(Finding, String)>, StepFail>;

struct Session {
    conn: Connection,
    /// False until the greeting was read (state `connected` leaves it to the steps).
    greeted: bool,
    last_command: Option<String>,
    /// The bytes of the last send, to tell whether they owe an answer.
    last_sent: Vec<u8>,
    /// The server answered a command on this connection (a step's or the
    /// harness's login): it was working before any later silence.
    answered: bool,
    /// The last line read was a SASL continuation (`+ ...`).
    in_sasl: bool,
    /// The last status line read was -ERR, after which RFC 1939 §4 lets the
    /// server close the connection.
    last_err: bool,
    /// Logged in (by the harness, or a scripted PASS/APOP/AUTH answered +OK):
    /// a close here cannot be undone by reconnecting.
    logged_in: bool,
    /// A read timed out: the server is not answering, so ending the session
    /// politely would only wait for another timeout.
    stalled: bool,
    /// Opened on the implicit-TLS port; a reconnect goes there again.
    implicit_tls: bool,
    /// Why the harness no longer knows where a response starts (a multi-line
    /// read broke off, a line overflowed): nothing more is read from this
    /// session, since whatever comes next is the rest of that response.
    out_of_step: Option<String>,
    /// The response read last, for explaining a line that is not a status
    /// line: it may be the rest of that one.
    last_response: Option<LastResponse>,
}

/// The previous response on a session: which step read it, after which
/// command, and whether it was read as a multi-line response.
#[derive(Clone)]
struct LastResponse {
    step: SourcePos,
    command: Option<String>,
    multiline: bool,
}

struct Executor<'a> {
    scenario: &'a Scenario,
    target: &'a Target,
    vars: Vars,
    sessions: BTreeMap<String, Session>,
    rec: Recorder,
    timeout: Duration,
    /// The step timeout the scenario asked for, when --max-timeout cut it
    /// shorter: a wait cut short is not judged (error, never fail).
    capped_from: Option<Duration>,
    /// The LOGIN-DELAY to leave between logins of one account (none in the
    /// scenarios about LOGIN-DELAY itself, which log in back to back on purpose).
    login_delay: Option<Duration>,
    /// Set by a step that settles the scenario on its own (`tls_handshake`
    /// with `or_close` met a close): the remaining steps are not run.
    finished: bool,
}

pub async fn run_scenario(
    scenario: &Scenario,
    target: &Target,
    info: &TargetInfo,
    strict: bool,
) -> ScenarioResult {
    let started = Instant::now();
    let mut result = ScenarioResult {
        id: scenario.id.clone(),
        title: scenario.title.clone(),
        spec: scenario.spec.clone(),
        requirement: scenario.requirement.clone(),
        level: scenario.level,
        tags: scenario.tags.clone(),
        file: scenario.file.clone(),
        outcome: Outcome::Pass,
        reason: None,
        finding: None,
        duration: Duration::ZERO,
        transcript: Vec::new(),
        known_failure: false,
    };
    if let Some(reason) = skip_reason(scenario, target, info) {
        result.outcome = Outcome::Skipped;
        result.reason = Some(reason);
        return result;
    }
    let mut exec = Executor::new(scenario, target, started);
    if !requires_login_delay(scenario) {
        exec.login_delay = info.login_delay();
    }
    let verdict = exec.run(info).await;
    exec.close_all().await;
    let (outcome, reason, finding) = match verdict {
        Ok(None) => (Outcome::Pass, None, None),
        // An informational scenario never fails, not even through a graded
        // alternative under --strict.
        Ok(Some((finding, note))) => {
            let outcome = match scenario.level {
                Level::Info => Outcome::Info,
                Level::Must | Level::Should => Outcome::NonStrict,
            };
            (outcome, Some(note), Some(finding))
        }
        Err(StepFail::Error(f)) => (Outcome::Error, Some(f.message.clone()), Some(*f)),
        Err(StepFail::Skip(f)) => (Outcome::Skipped, Some(f.message.clone()), None),
        Err(StepFail::Fail(f)) => {
            let outcome = match scenario.level {
                Level::Must => Outcome::Fail,
                Level::Should => Outcome::NonStrict,
                Level::Info => Outcome::Info,
            };
            (outcome, Some(f.message.clone()), Some(*f))
        }
    };
    result.outcome = if strict && outcome == Outcome::NonStrict {
        Outcome::Fail
    } else {
        outcome
    };
    result.reason = reason.map(|r| exec.rec.redact(r));
    result.finding = finding.map(|f| exec.rec.redact_finding(f));
    result.transcript = exec.rec.lines;
    result.duration = started.elapsed();
    result
}

fn skip_reason(scenario: &Scenario, target: &Target, info: &TargetInfo) -> Option<String> {
    let logged_in = scenario.state == State::Transaction;
    for r in &scenario.requires {
        if let Some(why) = info.unmet(r, target, logged_in) {
            return Some(format!("requires {r}: {why}"));
        }
    }
    // A capability declared with --capability stands in for `requires:`
    // only: a scenario that asks the server for its CAPA list tests the CAPA
    // command itself, which RFC 2449 leaves optional.
    if !info.capa_supported && scenario.expects_capa_listing() {
        return Some(
            "it asks for the CAPA list, and the server does not support CAPA (optional, RFC 2449 §5)"
                .into(),
        );
    }
    let uses = scenario.account_use();
    if let Some(delay) = info.login_delay() {
        if (uses.first || uses.second || uses.long)
            && delay > super::target::LOGIN_DELAY_LIMIT
            && !requires_login_delay(scenario)
        {
            return Some(format!(
                "the server announces LOGIN-DELAY {}: it may refuse logins closer together than that (RFC 2449 §6.5), and waiting that long between logins is beyond this run (at most {:?})",
                delay.as_secs(),
                super::target::LOGIN_DELAY_LIMIT
            ));
        }
    }
    if uses.first && target.account.is_none() {
        return Some(if logged_in {
            "needs a logged-in session: pass --user and --pass".into()
        } else {
            "needs the test account: pass --user and --pass".into()
        });
    }
    if uses.second && target.account2.is_none() {
        return Some("needs the second test account: pass --user2 and --pass2".into());
    }
    if uses.long && target.account_long.is_none() {
        return Some(
            "needs the long-credentials account: pass --long-user and --long-pass (a user name and a password of up to 255 octets each)"
                .into(),
        );
    }
    if let Some(f) = &scenario.fixture {
        if target.seeder.is_none() {
            return Some(format!(
                "needs fixture `{f}` in the maildrop: pass --maildir DIR, --mbox FILE, --deliver URL or --seed-command CMD"
            ));
        }
    }
    if let Some(f) = &scenario.fixture2 {
        if target.account2.is_none() || target.seeder2.is_none() {
            return Some(format!(
                "needs fixture `{f}` in the second account's maildrop: pass --user2/--pass2 and --maildir2 DIR, --mbox2 FILE, --deliver URL or --seed-command CMD"
            ));
        }
    }
    None
}

impl<'a> Executor<'a> {
    fn new(scenario: &'a Scenario, target: &'a Target, started: Instant) -> Self {
        let mut vars = Vars::new();
        let mut secrets = Vec::new();
        let mut set = |name: &str, text: &str, secret: bool| {
            vars.insert(
                name.to_string(),
                Value {
                    text: text.to_string(),
                    secret,
                },
            );
        };
        for (n, v) in crate::scenario::load::TIMING_DEFAULTS {
            set(n, v, false);
        }
        for (n, v) in &scenario.vars {
            set(n, v, false);
        }
        if let Some(a) = &target.account {
            set("user", &a.user, false);
            set("pass", &a.pass, true);
            secrets.push(a.pass.clone());
        }
        if let Some(a) = &target.account2 {
            set("user2", &a.user, false);
            set("pass2", &a.pass, true);
            secrets.push(a.pass.clone());
        }
        if let Some(a) = &target.account_long {
            set("long_user", &a.user, false);
            set("long_pass", &a.pass, true);
            secrets.push(a.pass.clone());
        }
        for (n, v) in &target.extra_vars {
            set(n, v, false);
        }
        let (timeout, capped_from) = capped(scenario.timeout.unwrap_or(target.timeout), target);
        Executor {
            scenario,
            target,
            vars,
            sessions: BTreeMap::new(),
            rec: Recorder {
                lines: Vec::new(),
                started,
                secrets,
            },
            timeout,
            capped_from,
            login_delay: None,
            finished: false,
        }
    }

    async fn run(&mut self, info: &TargetInfo) -> StepResult {
        let fixtures = [
            (
                &self.scenario.fixture,
                &self.scenario.fixture_dir,
                &self.target.seeder,
                &self.target.account,
            ),
            (
                &self.scenario.fixture2,
                &self.scenario.fixture2_dir,
                &self.target.seeder2,
                &self.target.account2,
            ),
        ];
        // (fixture name, account, what was seeded), first account first.
        let mut seeded = Vec::new();
        for (name, dir, seeder, account) in fixtures {
            let (Some(name), Some(dir)) = (name, dir) else {
                continue;
            };
            let seeder = seeder.as_ref().expect("checked by skip_reason");
            let Some(account) = account.as_ref() else {
                return Err(StepFail::error(Finding {
                    message: format!(
                        "fixture `{name}` needs the account it seeds: pass --user and --pass"
                    ),
                    ..Default::default()
                }));
            };
            let user = &account.user;
            let (note, fixture) = match seeder.seed_account(self.target, account, dir).await {
                Ok(done) => done,
                Err(e) => {
                    return Err(StepFail::error(Finding {
                        message: format!("could not seed fixture `{name}` for {user}: {e}"),
                        ..Default::default()
                    }))
                }
            };
            let how = note.map(|n| format!(": {n}")).unwrap_or_default();
            self.rec.push(
                MAIN_SESSION,
                Direction::Note,
                format!("seeded fixture {name} for {user}{how}"),
            );
            seeded.push((name.clone(), account.clone(), fixture));
        }
        let login = self.scenario.state == State::Transaction;
        let top = may_use_top(info, self.target);
        // The scenario's first session checks its own account's fixture once
        // logged in; any other check needs a login of its own, which would
        // cost the scenario its login where the server enforces LOGIN-DELAY.
        for (i, (name, account, fixture)) in seeded.iter().enumerate() {
            if i == 0 && login && self.scenario.fixture.is_some() {
                continue;
            }
            if let Some(delay) = login_delay(info) {
                self.rec.push(CHECK_SESSION, Direction::Note, format!("fixture {name} for {} not checked: the server announces LOGIN-DELAY {delay}, and a login to check it would hold off the scenario's own", account.user));
                continue;
            }
            self.rec.push(
                CHECK_SESSION,
                Direction::Note,
                format!(
                    "logging in as {} to check that the server serves fixture {name} (not judged)",
                    account.user
                ),
            );
            let verification = {
                let Executor { rec, target, .. } = self;
                let mut log = rec.log_to(CHECK_SESSION);
                verify::check_new_session(target, account, fixture, top, &mut log).await
            };
            self.judge_check(name, &account.user, verification, CHECK_SESSION)?;
        }
        self.open(
            MAIN_SESSION,
            self.scenario.state != State::Connected,
            login,
            false,
            None,
            true,
        )
        .await?;
        if let (true, Some((name, account, fixture))) =
            (login && self.scenario.fixture.is_some(), seeded.first())
        {
            self.rec.push(
                MAIN_SESSION,
                Direction::Note,
                format!(
                    "checking that the server serves fixture {name} before the steps (not judged)"
                ),
            );
            let checked = {
                let Executor {
                    rec,
                    target,
                    sessions,
                    ..
                } = self;
                let session = sessions.get_mut(MAIN_SESSION).expect("opened above");
                let mut log = rec.log_to(MAIN_SESSION);
                verify::check_session(target, &mut session.conn, fixture, top, &mut log).await
            };
            self.judge_check(name, &account.user, checked.verification, MAIN_SESSION)?;
            if !checked.session_usable {
                // The steps need a session in step: start them on a fresh one.
                if let Some(old) = self.sessions.get_mut(MAIN_SESSION) {
                    old.conn.drop_connection().await;
                }
                self.open(MAIN_SESSION, true, true, false, None, true)
                    .await?;
            }
        }
        let mut graded = None;
        for step in &self.scenario.steps {
            let r = self.step(step).await?;
            if graded.is_none() {
                graded = r;
            }
            if self.finished {
                break;
            }
            for s in self.sessions.values_mut() {
                s.conn.compact();
            }
        }
        Ok(graded)
    }

    /// A seeded fixture the server does not serve makes the scenario an error
    /// (nothing it judged would be the server's doing); a check that could
    /// not tell is only noted.
    fn judge_check(
        &mut self,
        fixture: &str,
        user: &str,
        verification: Verification,
        session: &str,
    ) -> Result<(), StepFail> {
        match verification {
            Verification::Holds => {
                self.rec.push(
                    session,
                    Direction::Note,
                    format!("the server serves fixture {fixture} as seeded"),
                );
                Ok(())
            }
            Verification::Unknown(why) => {
                self.rec.push(
                    session,
                    Direction::Note,
                    format!(
                        "could not check fixture {fixture}: {why}; the scenario runs unchecked"
                    ),
                );
                Ok(())
            }
            Verification::Differs(what) => Err(StepFail::error(Finding {
                message: format!(
                    "the server does not serve fixture `{fixture}` as seeded for {user}: {what}"
                ),
                ..Default::default()
            })),
        }
    }

    pub(super) fn open_failure(&self, e: OpenError, step: Option<&Step>) -> StepFail {
        let f = self.finding(step, e.message().to_string());
        match e {
            OpenError::Protocol(_) => StepFail::fail(f),
            _ => StepFail::error(f),
        }
    }

    pub(super) fn finding(&self, step: Option<&Step>, message: String) -> Finding {
        let (pos, command) = match step {
            Some(s) => (
                Some(s.pos.clone()),
                self.sessions
                    .get(&s.session)
                    .and_then(|x| x.last_command.clone()),
            ),
            None => (
                None,
                self.sessions
                    .get(MAIN_SESSION)
                    .and_then(|x| x.last_command.clone()),
            ),
        };
        Finding {
            message,
            snippet: pos
                .as_ref()
                .map(|p| snippet(&self.scenario.source, p.line, p.column)),
            step: pos,
            command,
            ..Default::default()
        }
    }

    pub(super) fn fail(
        &self,
        step: &Step,
        message: impl Into<String>,
        expected: Vec<String>,
        actual: Vec<String>,
        diffable: bool,
    ) -> StepFail {
        let mut f = self.finding(Some(step), message.into());
        f.expected = expected;
        f.actual = actual;
        f.diffable = diffable;
        StepFail::fail(f)
    }

    pub(super) fn error(&self, step: &Step, message: impl Into<String>) -> StepFail {
        StepFail::error(self.finding(Some(step), message.into()))
    }

    pub(super) fn render(
        &self,
        step: &Step,
        t: &Template,
        raw: bool,
    ) -> Result<crate::scenario::template::Rendered, StepFail> {
        use crate::scenario::template::RenderError;
        t.render(&self.vars, raw).map_err(|e| match e {
            RenderError::Scenario(m) => self.error(step, m),
            RenderError::ServerData(m) => self.fail(step, m, vec![], vec![], false),
        })
    }

    pub(super) fn pattern<'p>(
        &self,
        step: &Step,
        p: &'p crate::scenario::Pattern,
    ) -> Result<std::borrow::Cow<'p, regex::Regex>, StepFail> {
        p.resolve(&self.vars).map_err(|e| self.error(step, e))
    }

    pub(super) fn duration(&self, step: &Step, t: &Template) -> Result<Duration, StepFail> {
        let text = self.render(step, t, false)?.text();
        parse_duration(&text).map_err(|e| self.error(step, e))
    }

    pub(super) fn session(&mut self, step: &Step) -> Result<&mut Session, StepFail> {
        if !self.sessions.contains_key(&step.session) {
            return Err(self.error(step, format!("session `{}` is not open", step.session)));
        }
        Ok(self.sessions.get_mut(&step.session).expect("checked"))
    }

    /// Plays one step. Each step kind's code lives in the file of its family
    /// (see the module comment); this match is the index.
    pub(super) fn step<'s>(
        &'s mut self,
        step: &'s Step,
    ) -> Pin<Box<dyn Future<Output = StepResult> + Send + 's>>
    where
        'a: 's,
    {
        Box::pin(async move {
            let deadline = Instant::now() + self.timeout;
            match &step.action {
                Action::Send(t) | Action::SendRaw(t) => self.send(step, t).await,
                Action::Expect(e) => self.expect(step, e, deadline).await,
                Action::ExpectMultiline(e) => {
                    self.expect_multiline(step, e, deadline).await?;
                    Ok(None)
                }
                Action::ExpectClose {
                    within,
                    close_notify,
                    allow_line,
                } => {
                    self.expect_close(step, within.as_ref(), *close_notify, *allow_line, deadline)
                        .await
                }
                Action::ExpectSilence(t) => self.expect_silence(step, t).await,
                Action::Connect { login, .. } | Action::Reconnect { login } => {
                    self.connect(step, *login).await
                }
                Action::Disconnect => self.disconnect(step).await,
                Action::Login { user, pass } => {
                    self.login_step(step, user.as_ref(), pass.as_ref()).await
                }
                Action::TlsHandshake {
                    or_close,
                    judge_certificate,
                } => {
                    self.tls_handshake(step, *or_close, *judge_certificate, deadline)
                        .await
                }
                Action::TlsLegacyHello(version) => {
                    self.tls_legacy_hello(step, *version, deadline).await
                }
                Action::OneOf(alternatives) => self.one_of(step, alternatives).await,
                Action::Assert(a) => self.assert(step, a),
                Action::Sleep(t) => self.sleep(step, t).await,
            }
        })
    }
}

/// The step timeout under --max-timeout: the duration to wait, and the one
/// asked for when the cap cut it shorter.
fn capped(asked: Duration, target: &Target) -> (Duration, Option<Duration>) {
    match target.max_timeout {
        Some(cap) if cap < asked => (cap, Some(asked)),
        _ => (asked, None),
    }
}

/// Whether TOP may be tried for the seeding check: announced after login (or
/// declared), or the server has no CAPA to say.
fn may_use_top(info: &TargetInfo, target: &Target) -> bool {
    !info.capa_supported
        || info
            .capabilities_in(true)
            .iter()
            .chain(&target.declared_capabilities)
            .any(|c| {
                c.split_whitespace()
                    .next()
                    .is_some_and(|t| t.eq_ignore_ascii_case("TOP"))
            })
}

/// The LOGIN-DELAY the server announces, when above 0.
fn login_delay(info: &TargetInfo) -> Option<String> {
    info.capabilities
        .iter()
        .chain(info.capabilities_after_login.iter().flatten())
        .find_map(|c| {
            let mut w = c.split_whitespace();
            let tag = w.next()?;
            let secs = w.next()?;
            (tag.eq_ignore_ascii_case("LOGIN-DELAY") && secs.parse::<u64>().is_ok_and(|n| n > 0))
                .then(|| secs.to_string())
        })
}
