//! Runs one scenario: opens the sessions its state asks for, plays each step,
//! and turns the first deviation into a verdict with everything a reader needs
//! (the step's position and source, the command sent, expected vs actual, the
//! transcript).

use super::connection::{escape, Body, BodyEnd, Connection, Line, ReadEvent};
use super::target::{apop_timestamp, status_of, Account, OpenError, Target, TargetInfo};
use super::verify::{self, Verification};
use crate::outcome::*;
use crate::scenario::diagnostic::snippet;
use crate::scenario::template::{Value, Vars};
use crate::scenario::*;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::time::Instant;

/// The transcript's name for a session that only checks a seeded fixture.
const CHECK_SESSION: &str = "seed-check";
/// How long a step after an -ERR looks for the close RFC 1939 §4 allows
/// there, before sending on the connection: a close follows the -ERR at once.
const AFTER_ERR_LOOK: Duration = Duration::from_millis(5);
/// How many lines of one multi-line body the transcript keeps.
const BODY_LINES_SHOWN: usize = 40;
/// Pause between logins refused because the maildrop is still locked (or
/// the account logged in a moment ago).
const LOCK_RETRY_PAUSE: Duration = Duration::from_millis(100);
/// How long the harness's own login retries after a `[LOGIN-DELAY]` refusal
/// (RFC 2449 §8.1.1): enough for a delay of 1 s between back-to-back
/// scenarios; a server with a longer LOGIN-DELAY needs an account without one.
const LOGIN_DELAY_WAIT: Duration = Duration::from_millis(2500);

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

/// Transcript lines with secrets already removed.
struct Recorder {
    lines: Vec<TranscriptLine>,
    started: Instant,
    secrets: Vec<String>,
}

impl Recorder {
    /// Hides the account passwords wherever the server (or a message built
    /// from what it said) might have echoed them.
    fn redact(&self, text: String) -> String {
        let mut text = text;
        for s in &self.secrets {
            if !s.is_empty() && text.contains(s.as_str()) {
                text = text.replace(s.as_str(), "***");
            }
        }
        text
    }

    fn redact_finding(&self, f: Finding) -> Finding {
        let all = |v: Vec<String>| v.into_iter().map(|x| self.redact(x)).collect();
        Finding {
            message: self.redact(f.message),
            command: f.command.map(|c| self.redact(c)),
            expected: all(f.expected),
            actual: all(f.actual),
            ..f
        }
    }

    /// A transcript callback for what goes over `session`: (from the server?, text).
    fn log_to<'r>(&'r mut self, session: &'r str) -> impl FnMut(bool, String) + Send + 'r {
        move |server, text| {
            let direction = if server {
                Direction::Server
            } else {
                Direction::Client
            };
            self.push(session, direction, text)
        }
    }

    fn push(&mut self, session: &str, direction: Direction, text: String) {
        let text = self.redact(text);
        self.lines.push(TranscriptLine {
            session: session.to_string(),
            direction,
            text,
            at_ms: self.started.elapsed().as_millis() as u64,
        });
    }
}

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
        if (uses.first || uses.second)
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

    /// Opens (or re-opens) a session. `precondition` failures are errors of the
    /// set-up; the same failures inside a step are judged.
    async fn open(
        &mut self,
        name: &str,
        greet: bool,
        login: bool,
        implicit_tls: bool,
        step: Option<&Step>,
        precondition: bool,
    ) -> Result<(), StepFail> {
        if implicit_tls && !self.target.implicit_tls && self.target.tls_port.is_none() {
            let f = self.finding(step, "this step opens an implicit-TLS session, but no implicit-TLS port is known: pass --tls-port (and add `requires: [implicit-tls]` to the scenario)".into());
            return Err(StepFail::error(f));
        }
        self.rec.push(
            name,
            Direction::Note,
            format!(
                "connect to {}:{}{}",
                self.target.host,
                self.target.port_for(implicit_tls),
                if implicit_tls || self.target.implicit_tls {
                    " (TLS)"
                } else {
                    ""
                }
            ),
        );
        if login {
            // Waited out before connecting, so the new connection does not
            // sit idle (and meet the autologout timer) meanwhile.
            if let Some(account) = &self.target.account {
                self.target
                    .space_login(&account.user, self.login_delay)
                    .await;
            }
        }
        let conn = self
            .target
            .connect(implicit_tls)
            .await
            .map_err(|e| self.open_failure(e, step))?;
        self.sessions.insert(
            name.to_string(),
            Session {
                conn,
                greeted: false,
                last_command: None,
                last_sent: Vec::new(),
                answered: false,
                in_sasl: false,
                last_err: false,
                logged_in: false,
                stalled: false,
                implicit_tls: false,
                out_of_step: None,
                last_response: None,
            },
        );
        if !greet {
            return Ok(());
        }
        let Executor {
            sessions,
            rec,
            target,
            vars,
            ..
        } = self;
        let session = sessions.get_mut(name).expect("inserted above");
        let mut log = |server: bool, text: String| {
            rec.push(
                name,
                if server {
                    Direction::Server
                } else {
                    Direction::Client
                },
                text,
            )
        };
        let greeting = match target.read_status(&mut session.conn, &mut log).await {
            Ok((true, text)) => text,
            Ok((false, text)) => {
                let e = OpenError::Protocol(format!("the greeting is not +OK: `{text}`"));
                return Err(self.open_failure(e, step));
            }
            Err(e) => {
                session.stalled = true;
                return Err(self.open_failure(e.context("waiting for the greeting"), step));
            }
        };
        session.greeted = true;
        set_greeting_vars(vars, name, &greeting);
        if target.starttls {
            if let Err(e) = target.upgrade(&mut session.conn, &mut log).await {
                return Err(self.open_failure(e, step));
            }
        }
        if login {
            self.login(name, None, step, precondition).await?;
        }
        Ok(())
    }

    async fn login(
        &mut self,
        name: &str,
        account: Option<Account>,
        step: Option<&Step>,
        precondition: bool,
    ) -> Result<(), StepFail> {
        let account = match account.or_else(|| self.target.account.clone()) {
            Some(a) => a,
            None => {
                return Err(StepFail::error(
                    self.finding(step, "logging in needs --user and --pass".into()),
                ))
            }
        };
        // A server may take a moment to notice that the previous scenario's
        // connection is gone and release the maildrop lock, or refuse a login
        // right after the previous scenario's under its LOGIN-DELAY.
        self.target
            .space_login(&account.user, self.login_delay)
            .await;
        let mut tries = 0u32;
        loop {
            let Executor {
                sessions,
                rec,
                target,
                vars,
                ..
            } = self;
            let session = sessions.get_mut(name).expect("session exists");
            let greeting = vars
                .get(&format!("greeting_{name}"))
                .map(|v| v.text.clone())
                .unwrap_or_default();
            let mut log = |server: bool, text: String| {
                rec.push(
                    name,
                    if server {
                        Direction::Server
                    } else {
                        Direction::Client
                    },
                    text,
                )
            };
            match target
                .login(&mut session.conn, &account, &greeting, &mut log)
                .await
            {
                Ok(()) => {
                    session.answered = true;
                    session.logged_in = true;
                    session.last_err = false;
                    target.note_login(&account.user);
                    // The login's own responses were read outside the steps.
                    session.last_response = None;
                    return Ok(());
                }
                Err(OpenError::Protocol(m))
                    if (tries * LOCK_RETRY_PAUSE < self.target.lock_wait
                        && is_lock_refusal(&m))
                        || (tries * LOCK_RETRY_PAUSE < LOGIN_DELAY_WAIT
                            && m.contains("[LOGIN-DELAY]")) =>
                {
                    tries += 1;
                    tokio::time::sleep(LOCK_RETRY_PAUSE).await;
                    // The refused attempt reset the AUTHORIZATION state; start
                    // over, on a new connection if the server closed this one
                    // after its -ERR (RFC 1939 §4 allows it).
                    self.reconnect_if_closed(name, step).await?;
                    continue;
                }
                Err(e) => {
                    let msg = format!("the configured account could not log in: {}", e.message());
                    // A refusal under the server's own LOGIN-DELAY (RFC 2449
                    // §6.5) is allowed: the run cannot judge, not a deviation.
                    let delayed = e.message().contains("[LOGIN-DELAY]");
                    let f = self.finding(step, msg);
                    return Err(
                        if precondition || delayed || !matches!(e, OpenError::Protocol(_)) {
                            StepFail::error(f)
                        } else {
                            StepFail::fail(f)
                        },
                    );
                }
            }
        }
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

    fn open_failure(&self, e: OpenError, step: Option<&Step>) -> StepFail {
        let f = self.finding(step, e.message().to_string());
        match e {
            OpenError::Protocol(_) => StepFail::fail(f),
            _ => StepFail::error(f),
        }
    }

    fn finding(&self, step: Option<&Step>, message: String) -> Finding {
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

    fn fail(
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

    fn error(&self, step: &Step, message: impl Into<String>) -> StepFail {
        StepFail::error(self.finding(Some(step), message.into()))
    }

    fn render(
        &self,
        step: &Step,
        t: &Template,
        raw: bool,
    ) -> Result<crate::scenario::template::Rendered, StepFail> {
        t.render(&self.vars, raw).map_err(|e| self.error(step, e))
    }

    fn pattern<'p>(
        &self,
        step: &Step,
        p: &'p crate::scenario::Pattern,
    ) -> Result<std::borrow::Cow<'p, regex::Regex>, StepFail> {
        p.resolve(&self.vars).map_err(|e| self.error(step, e))
    }

    fn duration(&self, step: &Step, t: &Template) -> Result<Duration, StepFail> {
        let text = self.render(step, t, false)?.text();
        parse_duration(&text).map_err(|e| self.error(step, e))
    }

    fn session(&mut self, step: &Step) -> Result<&mut Session, StepFail> {
        if !self.sessions.contains_key(&step.session) {
            return Err(self.error(step, format!("session `{}` is not open", step.session)));
        }
        Ok(self.sessions.get_mut(&step.session).expect("checked"))
    }

    fn step<'s>(
        &'s mut self,
        step: &'s Step,
    ) -> Pin<Box<dyn Future<Output = StepResult> + Send + 's>>
    where
        'a: 's,
    {
        Box::pin(async move {
            let deadline = Instant::now() + self.timeout;
            match &step.action {
                Action::Send(t) | Action::SendRaw(t) => {
                    self.reopen_after_err_close(step).await?;
                    let raw = matches!(step.action, Action::SendRaw(_));
                    let rendered = self.render(step, t, raw)?;
                    let mut bytes = rendered.bytes;
                    let shown = if raw {
                        escape(&bytes)
                    } else {
                        bytes.extend_from_slice(b"\r\n");
                        rendered.display
                    };
                    // A scripted login waits out the announced LOGIN-DELAY
                    // like the harness's own (RFC 2449 §6.5).
                    let in_sasl = self.sessions.get(&step.session).is_some_and(|s| s.in_sasl);
                    let login_user = (is_login_command(&bytes) || in_sasl)
                        .then(|| self.scripted_login_user(step))
                        .flatten();
                    if let Some(user) = &login_user {
                        self.target.space_login(user, self.login_delay).await;
                    }
                    self.rec
                        .push(&step.session, Direction::Client, shown.clone());
                    let session = self.session(step)?;
                    session.last_command = Some(shown);
                    session.last_sent = bytes.clone();
                    let sent = session.conn.send(&bytes).await;
                    let closed_after_err = session.last_err;
                    if let Some(user) = &login_user {
                        self.target.note_login(user);
                    }
                    if let Err(e) = sent {
                        if closed_after_err {
                            return Err(self.closed_after_err(step));
                        }
                        return Err(self.fail(
                            step,
                            format!("sending failed: {e}; the server closed the connection"),
                            vec![],
                            vec![],
                            false,
                        ));
                    }
                    Ok(None)
                }
                Action::Expect(e) => {
                    let line = self.read_line(step, deadline).await?;
                    self.check_in_step(step, e.status, &line, false)?;
                    self.judge_line(step, e, &line)?;
                    Ok(None)
                }
                Action::ExpectMultiline(e) => {
                    self.expect_multiline(step, e, deadline).await?;
                    Ok(None)
                }
                Action::ExpectClose {
                    within,
                    close_notify,
                    allow_line,
                } => {
                    let (deadline, waited, cut_from) = match within {
                        // A scripted wait, like `sleep`: --max-timeout caps
                        // read deadlines, --deadline bounds the whole run.
                        Some(t) => {
                            let d = self.duration(step, t)?;
                            (Instant::now() + d, d, None)
                        }
                        None => (deadline, self.timeout, self.capped_from),
                    };
                    if *allow_line {
                        self.accept_line_before_close(step, deadline).await?;
                    }
                    let session = self.session(step)?;
                    match session.conn.wait_for_bytes(deadline).await {
                        Err(reset) => {
                            let note = closed_note(reset.as_deref());
                            let (tls, notified) =
                                (session.conn.is_tls(), session.conn.tls_close_notify());
                            self.rec.push(&step.session, Direction::Note, note);
                            if !*close_notify {
                                return Ok(None);
                            }
                            if !tls {
                                return Err(self.error(step, "`close_notify` needs a TLS session: connect with `tls: true` or after `tls_handshake`"));
                            }
                            if notified == Some(true) {
                                self.rec.push(&step.session, Direction::Note, "the TLS session ended with close_notify".into());
                                Ok(None)
                            } else {
                                Err(self.fail(
                                    step,
                                    "the server closed the TCP connection without ending the TLS session with close_notify",
                                    vec!["<TLS close_notify, then close>".into()],
                                    vec!["<TCP closed without close_notify>".into()],
                                    false,
                                ))
                            }
                        }
                        Ok(bytes) if bytes.is_empty() && cut_from.is_some() => Err(self.error(
                            step,
                            format!(
                                "not judged: the server had not closed the connection after {waited:?}, where the scenario waits {:?} (cut short by --max-timeout)",
                                cut_from.unwrap_or_default()
                            ),
                        )),
                        Ok(bytes) if bytes.is_empty() => Err(self.fail(
                            step,
                            format!("the server kept the connection open for {waited:?} instead of closing it"),
                            vec!["<connection closed>".into()],
                            vec!["<connection still open>".into()],
                            false,
                        )),
                        Ok(bytes) => {
                            self.rec.push(&step.session, Direction::Server, escape(&bytes));
                            Err(self.fail(step, "the server sent more data instead of closing the connection", vec!["<connection closed>".into()], vec![escape(&bytes)], false))
                        }
                    }
                }
                Action::ExpectSilence(t) => {
                    let d = self.duration(step, t)?;
                    let session = self.session(step)?;
                    match session.conn.wait_for_bytes(Instant::now() + d).await {
                        Ok(bytes) if bytes.is_empty() => Ok(None),
                        Ok(bytes) => {
                            self.rec
                                .push(&step.session, Direction::Server, escape(&bytes));
                            Err(self.fail(
                                step,
                                format!(
                                    "the server sent data where silence was expected for {d:?}"
                                ),
                                vec!["<nothing>".into()],
                                vec![escape(&bytes)],
                                false,
                            ))
                        }
                        Err(_) => {
                            self.rec.push(
                                &step.session,
                                Direction::Note,
                                "connection closed by the server".into(),
                            );
                            if self.sessions.get(&step.session).is_some_and(|s| s.last_err) {
                                // Nothing was sent: a close after -ERR is allowed (RFC 1939 §4).
                                return Ok(None);
                            }
                            Err(self.fail(
                                step,
                                "the server closed the connection where silence was expected",
                                vec!["<nothing>".into()],
                                vec!["<connection closed>".into()],
                                false,
                            ))
                        }
                    }
                }
                Action::Connect { login, .. } | Action::Reconnect { login } => {
                    let implicit_tls = match &step.action {
                        Action::Connect { implicit_tls, .. } => *implicit_tls,
                        _ => self
                            .sessions
                            .get(&step.session)
                            .is_some_and(|s| s.implicit_tls),
                    };
                    if let Some(old) = self.sessions.get_mut(&step.session) {
                        if !old.conn.is_closed() {
                            old.conn.drop_connection().await;
                            self.rec.push(
                                &step.session,
                                Direction::Note,
                                "dropped the connection without QUIT".into(),
                            );
                        }
                    }
                    // A reconnect restores the scenario's precondition; a new
                    // session starts in AUTHORIZATION unless asked otherwise.
                    let reconnect = matches!(step.action, Action::Reconnect { .. });
                    let login =
                        login.unwrap_or(reconnect && self.scenario.state == State::Transaction);
                    self.open(
                        &step.session.clone(),
                        true,
                        login,
                        implicit_tls,
                        Some(step),
                        false,
                    )
                    .await?;
                    if let Some(s) = self.sessions.get_mut(&step.session) {
                        s.implicit_tls = implicit_tls;
                    }
                    Ok(None)
                }
                Action::Disconnect => {
                    let session = self.session(step)?;
                    session.conn.drop_connection().await;
                    self.rec.push(
                        &step.session,
                        Direction::Note,
                        "dropped the connection without QUIT".into(),
                    );
                    // No pause here: a scenario that needs the server to act on
                    // the drop says so with `sleep: "{{settle}}"`.
                    Ok(None)
                }
                Action::Login { user, pass } => {
                    self.session(step)?;
                    self.reopen_after_err_close(step).await?;
                    let account = match (user, pass) {
                        (None, None) => None,
                        _ => {
                            let base = self.target.account.clone().unwrap_or(Account {
                                user: String::new(),
                                pass: String::new(),
                            });
                            Some(Account {
                                user: match user {
                                    Some(t) => self.render(step, t, false)?.text(),
                                    None => base.user,
                                },
                                pass: match pass {
                                    Some(t) => self.render(step, t, false)?.text(),
                                    None => base.pass,
                                },
                            })
                        }
                    };
                    self.login(&step.session.clone(), account, Some(step), false)
                        .await?;
                    Ok(None)
                }
                Action::TlsHandshake { or_close } => {
                    let name =
                        super::tls::server_name(&self.target.host, self.target.tls.sni.as_deref())
                            .map_err(|e| self.error(step, e))?;
                    let connector = self.target.connector.clone();
                    let session = self.session(step)?;
                    // Bytes before the handshake are judged by start_tls
                    // whatever `or_close` says: plaintext after +OK is wrong.
                    let early_bytes = !session.conn.unread().is_empty();
                    match session.conn.start_tls(&connector, name, deadline).await {
                        Ok(()) => {
                            self.rec.push(
                                &step.session,
                                Direction::Note,
                                "TLS handshake complete".into(),
                            );
                            Ok(None)
                        }
                        Err(e) => {
                            self.rec.push(&step.session, Direction::Note, e.clone());
                            if e.contains("did not verify") {
                                Err(self.error(step, e))
                            } else if *or_close && !early_bytes && !e.contains("did not finish") {
                                self.rec.push(&step.session, Direction::Note, "the server ended the connection instead of completing the TLS handshake, which this step accepts; the remaining steps are not run".into());
                                self.finished = true;
                                Ok(None)
                            } else {
                                Err(self.fail(step, e, vec![], vec![], false))
                            }
                        }
                    }
                }
                Action::TlsLegacyHello(version) => {
                    self.tls_legacy_hello(step, *version, deadline).await
                }
                Action::OneOf(alternatives) => self.one_of(step, alternatives).await,
                Action::Assert(a) => match a.evaluate(&self.vars) {
                    Ok(ev) if ev.holds => Ok(None),
                    Ok(ev) => Err(self.fail(
                        step,
                        format!("assertion `{}` does not hold", a.source),
                        vec![a.source.clone()],
                        vec![format!(
                            "left side = {}, right side = {}",
                            ev.left, ev.right
                        )],
                        false,
                    )),
                    Err(e) => Err(self.fail(
                        step,
                        format!("assertion `{}` cannot be evaluated: {e}", a.source),
                        vec![],
                        vec![],
                        false,
                    )),
                },
                Action::Sleep(t) => {
                    let d = self.duration(step, t)?;
                    tokio::time::sleep(d).await;
                    Ok(None)
                }
            }
        })
    }

    /// RFC 8314 §4: a ClientHello offering only `version` (SSL 3.0 or TLS
    /// 1.0), judged by the first record back; the connection is dropped after.
    async fn tls_legacy_hello(
        &mut self,
        step: &Step,
        version: u16,
        deadline: Instant,
    ) -> StepResult {
        use super::legacy_tls::{client_hello, judge, version_name, Answer, JUDGED_PREFIX};
        let offered = version_name(version);
        let host = self
            .target
            .tls
            .sni
            .clone()
            .unwrap_or_else(|| self.target.host.clone());
        let session = self.session(step)?;
        if session.conn.is_tls() {
            return Err(self.error(
                step,
                "`tls_legacy_hello` needs a plain connection: send STLS and expect +OK first",
            ));
        }
        if !session.conn.unread().is_empty() {
            let early = escape(session.conn.unread());
            return Err(self.fail(
                step,
                "the server sent bytes after the STLS response, before the TLS handshake",
                vec!["<nothing before the handshake>".into()],
                vec![early],
                false,
            ));
        }
        let sent = session.conn.send(&client_hello(version, &host)).await;
        let (bytes, ended) = session.conn.peek_at_least(JUDGED_PREFIX, deadline).await;
        session.conn.drop_connection().await;
        self.rec.push(
            &step.session,
            Direction::Client,
            format!("<TLS ClientHello offering only {offered}>"),
        );
        if !bytes.is_empty() {
            self.rec
                .push(&step.session, Direction::Server, escape(&bytes));
        }
        if sent.is_err() && bytes.is_empty() {
            self.rec.push(
                &step.session,
                Direction::Note,
                "the server closed the connection before the ClientHello".into(),
            );
            return Ok(None);
        }
        let note = |this: &mut Self, text: String| {
            this.rec.push(&step.session, Direction::Note, text);
            Ok(None)
        };
        match judge(&bytes) {
            Answer::ServerHello(v) if v <= version => Err(self.fail(
                step,
                format!("the server accepted a handshake offering only {offered}: its ServerHello selects {}", version_name(v)),
                vec!["<a TLS alert or a close>".into()],
                vec![format!("<ServerHello selecting {}>", version_name(v))],
                false,
            )),
            Answer::ServerHello(v) => Err(self.error(
                step,
                format!("the server's ServerHello selects {}, which the ClientHello did not offer: not a TLS exchange this step can judge", version_name(v)),
            )),
            Answer::Alert(level, description) => note(
                self,
                format!("the server refused {offered} with a TLS alert (level {level}, description {description})"),
            ),
            Answer::Other => note(self, format!("the server did not answer the {offered} ClientHello with a TLS handshake")),
            Answer::Incomplete if ended.is_some() => note(self, format!("the server closed the connection on the {offered} ClientHello")),
            Answer::Incomplete => Err(self.error(
                step,
                format!("the server neither answered the {offered} ClientHello nor closed the connection within the step timeout"),
            )),
        }
    }

    async fn one_of(&mut self, step: &Step, alternatives: &[Alternative]) -> StepResult {
        let before: Vec<(String, bool)> = self
            .sessions
            .iter_mut()
            .map(|(n, s)| (n.clone(), s.conn.set_rewindable(true)))
            .collect();
        let result = self.try_alternatives(step, alternatives).await;
        for (n, was) in before {
            if let Some(s) = self.sessions.get_mut(&n) {
                s.conn.set_rewindable(was);
            }
        }
        result
    }

    async fn try_alternatives(&mut self, step: &Step, alternatives: &[Alternative]) -> StepResult {
        // Each alternative reads the same bytes, so it starts from the same
        // idea of where the stream stands.
        let marks: Vec<(String, usize, Option<String>, Option<LastResponse>)> = self
            .sessions
            .iter()
            .map(|(n, s)| {
                (
                    n.clone(),
                    s.conn.mark(),
                    s.out_of_step.clone(),
                    s.last_response.clone(),
                )
            })
            .collect();
        let vars = self.vars.clone();
        let transcript_len = self.rec.lines.len();
        let mut reasons = Vec::new();
        let mut any_fail = false;
        // An allowed behaviour (close after -ERR, LOGIN-DELAY) that kept an
        // alternative from being asked explains the whole step.
        let mut allowed_skip = None;
        for (i, alt) in alternatives.iter().enumerate() {
            for (n, m, out_of_step, last_response) in &marks {
                if let Some(s) = self.sessions.get_mut(n) {
                    s.conn.rewind(*m);
                    s.out_of_step = out_of_step.clone();
                    s.last_response = last_response.clone();
                }
            }
            self.vars = vars.clone();
            self.rec.lines.truncate(transcript_len);
            let mut failed = None;
            for s in &alt.steps {
                if let Err(e) = self.step(s).await {
                    failed = Some(e);
                    break;
                }
            }
            match failed {
                None => {
                    let note = alt
                        .note
                        .clone()
                        .unwrap_or_else(|| format!("alternative {} of one_of matched", i + 1));
                    return match alt.grade {
                        Grade::Pass => Ok(None),
                        Grade::NonStrict => {
                            let f =
                                self.finding(Some(step), format!("SHOULD-level deviation: {note}"));
                            Ok(Some((f, note)))
                        }
                        Grade::Fail => Err(self.fail(step, note, vec![], vec![], false)),
                        Grade::Skip => Err(StepFail::skip(self.finding(Some(step), note))),
                    };
                }
                Some(StepFail::Skip(f)) => {
                    allowed_skip.get_or_insert(f);
                }
                Some(e) => {
                    any_fail |= matches!(e, StepFail::Fail(_));
                    reasons.push(format!(
                        "alternative {} ({}): {}",
                        i + 1,
                        grade_name(alt.grade),
                        e.finding().message
                    ));
                }
            }
        }
        if let Some(f) = allowed_skip {
            return Err(StepFail::Skip(f));
        }
        let f = self.finding(
            Some(step),
            format!("no alternative matched: {}", reasons.join("; ")),
        );
        Err(if any_fail {
            StepFail::fail(f)
        } else {
            StepFail::error(f)
        })
    }

    /// Reads one line for a judging step, recording it; closing, timeouts and
    /// over-long lines become verdicts here.
    async fn read_line(&mut self, step: &Step, deadline: Instant) -> Result<Line, StepFail> {
        let timeout = self.timeout;
        let session = self.session(step)?;
        if let Some(why) = &session.out_of_step {
            let message = format!(
                "not reading session `{}` any further: the stream is out of step ({why}), so the next line would not be the response to this step",
                step.session
            );
            return Err(self.error(step, message));
        }
        let event = session.conn.read_line(deadline).await;
        let name = step.session.clone();
        match event {
            ReadEvent::Line(line) => {
                self.rec.push(
                    &name,
                    Direction::Server,
                    escape(&line.bytes) + if line.crlf { "" } else { "  (bare LF)" },
                );
                let session = self.sessions.get_mut(&name).expect("exists");
                if !session.greeted {
                    session.greeted = true;
                    let text = String::from_utf8_lossy(&line.bytes).into_owned();
                    set_greeting_vars(&mut self.vars, &name, &text);
                } else if !session.last_sent.is_empty() {
                    session.answered = true;
                }
                let status = status_of(&line.bytes[..line.bytes.len().min(4)].to_ascii_uppercase());
                if status == Some(true) && (session.in_sasl || is_login_command(&session.last_sent))
                {
                    session.logged_in = true;
                }
                session.last_err = status == Some(false);
                session.in_sasl = line.bytes == b"+" || line.bytes.starts_with(b"+ ");
                Ok(line)
            }
            ReadEvent::Timeout { ref partial } if partial.is_empty() && self.owes_answer(&name) => {
                let actual = self.note_unfinished(&name, &event);
                if self.accepts_connections().await {
                    self.rec.push(
                        &name,
                        Direction::Note,
                        "a new connection was greeted: the server is up, and this one went silent"
                            .into(),
                    );
                    return Err(self.fail(
                        step,
                        format!("no answer within {timeout:?} to a command that must be answered (RFC 1939 §3: every command gets a +OK or -ERR response); the server answered earlier commands on this connection and still accepts new ones"),
                        vec!["a response line".into()],
                        vec![actual],
                        false,
                    ));
                }
                Err(self.error(
                    step,
                    format!("no complete response line within {timeout:?}, and the server greets no new connection either"),
                ))
            }
            ReadEvent::Closed { ref partial, .. }
                if partial.is_empty() && self.sessions.get(&name).is_some_and(|s| s.last_err) =>
            {
                self.note_unfinished(&name, &event);
                Err(self.closed_after_err(step))
            }
            other => {
                let actual = self.note_unfinished(&name, &other);
                Err(match other {
                    ReadEvent::Closed { reset, .. } => self.fail(
                        step,
                        match &reset {
                            Some(r) => {
                                format!(
                                    "the server reset the connection ({r}) instead of answering"
                                )
                            }
                            None => "the server closed the connection instead of answering".into(),
                        },
                        vec!["a response line".into()],
                        vec![actual],
                        false,
                    ),
                    ReadEvent::Timeout { partial } => self.error(
                        step,
                        format!(
                            "no complete response line within {timeout:?}{}",
                            if partial.is_empty() {
                                String::new()
                            } else {
                                format!(" (received `{actual}` without CRLF)")
                            }
                        ),
                    ),
                    _ => {
                        self.out_of_step(
                            step,
                            format!(
                                "a response line exceeded {} octets, and the rest of it is unread",
                                self.target.max_line
                            ),
                        );
                        self.fail(
                            step,
                            format!(
                                "a response line exceeded {} octets without a line end",
                                self.target.max_line
                            ),
                            vec![],
                            vec![actual],
                            false,
                        )
                    }
                })
            }
        }
    }

    /// `allow_line`: reads one status line if the server sends one before
    /// closing, and records it as allowed (RFC 1939 §3: the autologout close
    /// should, not must, come without a response). Anything else is left for
    /// the close check to judge.
    async fn accept_line_before_close(
        &mut self,
        step: &Step,
        deadline: Instant,
    ) -> Result<(), StepFail> {
        let session = self.session(step)?;
        let Ok(bytes) = session.conn.wait_for_bytes(deadline).await else {
            return Ok(());
        };
        let head = bytes[..bytes.len().min(4)].to_ascii_uppercase();
        if !(head.starts_with(b"+OK") || head.starts_with(b"-ERR")) {
            return Ok(());
        }
        if let ReadEvent::Line(line) = session.conn.read_line(deadline).await {
            self.rec
                .push(&step.session, Direction::Server, escape(&line.bytes));
            self.rec.push(
                &step.session,
                Direction::Note,
                "one response line before the close: allowed (RFC 1939 §3 says should close without one)".into(),
            );
        }
        Ok(())
    }

    /// Before a step writes to a session whose last answer was -ERR: if the
    /// server has closed the connection (allowed, RFC 1939 §4), reconnect
    /// while the session was still in AUTHORIZATION, or skip the rest when
    /// it was logged in (its state cannot be restored).
    async fn reopen_after_err_close(&mut self, step: &Step) -> Result<(), StepFail> {
        let Some(session) = self.sessions.get_mut(&step.session) else {
            return Ok(());
        };
        if !session.last_err {
            return Ok(());
        }
        if !session.conn.closed_within(AFTER_ERR_LOOK).await {
            return Ok(());
        }
        let (logged_in, implicit_tls) = (session.logged_in, session.implicit_tls);
        if logged_in {
            return Err(self.closed_after_err(step));
        }
        self.rec.push(
            &step.session,
            Direction::Note,
            "the server closed the connection after -ERR (RFC 1939 §4 allows it): reconnecting, the session was still in AUTHORIZATION".into(),
        );
        let name = step.session.clone();
        self.open(&name, true, false, implicit_tls, Some(step), false)
            .await?;
        if let Some(s) = self.sessions.get_mut(&name) {
            s.implicit_tls = implicit_tls;
        }
        Ok(())
    }

    /// Opens `name` again (greeting read, `--starttls` applied) when the
    /// server closed it; the harness's own login retries on it.
    async fn reconnect_if_closed(
        &mut self,
        name: &str,
        step: Option<&Step>,
    ) -> Result<(), StepFail> {
        let Some(session) = self.sessions.get_mut(name) else {
            return Ok(());
        };
        if !session.conn.closed_within(AFTER_ERR_LOOK).await {
            return Ok(());
        }
        let implicit_tls = session.implicit_tls;
        let mut conn = self
            .target
            .connect(implicit_tls)
            .await
            .map_err(|e| self.open_failure(e, step))?;
        let Executor {
            rec, target, vars, ..
        } = self;
        rec.push(
            name,
            Direction::Note,
            "the server closed the connection after -ERR (RFC 1939 §4 allows it): reconnecting to log in again".into(),
        );
        let mut log = |server: bool, text: String| {
            rec.push(
                name,
                if server {
                    Direction::Server
                } else {
                    Direction::Client
                },
                text,
            )
        };
        let greeting = match target.read_status(&mut conn, &mut log).await {
            Ok((true, text)) => text,
            Ok((false, text)) => {
                let e = OpenError::Protocol(format!("the greeting is not +OK: `{text}`"));
                return Err(self.open_failure(e, step));
            }
            Err(e) => return Err(self.open_failure(e.context("waiting for the greeting"), step)),
        };
        if target.starttls {
            if let Err(e) = target.upgrade(&mut conn, &mut log).await {
                return Err(self.open_failure(e, step));
            }
        }
        set_greeting_vars(vars, name, &greeting);
        if let Some(session) = self.sessions.get_mut(name) {
            session.conn = conn;
            session.last_err = false;
            session.greeted = true;
        }
        Ok(())
    }

    /// The verdict when a close after -ERR leaves the rest unaskable.
    fn closed_after_err(&mut self, step: &Step) -> StepFail {
        self.rec.push(
            &step.session,
            Direction::Note,
            "connection closed by the server after -ERR".into(),
        );
        StepFail::skip(self.finding(
            Some(step),
            "the server closed the connection after -ERR, which RFC 1939 §4 allows (\"the server may close the connection\"); the steps after it could not run on that session".into(),
        ))
    }

    /// The account a scripted login step names through its variables.
    fn scripted_login_user(&self, step: &Step) -> Option<String> {
        let vars = step.action.variables();
        let names = |a: &str, b: &str| vars.iter().any(|v| *v == a || *v == b);
        if names("user2", "pass2") {
            self.target.account2.as_ref().map(|a| a.user.clone())
        } else if names("user", "pass") {
            self.target.account.as_ref().map(|a| a.user.clone())
        } else {
            None
        }
    }

    /// Whether the session's last send owes an answer: the connection
    /// answered an earlier command, and what was sent is complete command
    /// lines within RFC 2449 §4's 255 octets (a longer or unfinished line
    /// may go unanswered), not a login.
    fn owes_answer(&self, name: &str) -> bool {
        let Some(session) = self.sessions.get(name) else {
            return false;
        };
        let sent = &session.last_sent;
        // Logins are left out: servers delay the answer to a failed one on
        // purpose (seconds of penalty), which is allowed.
        let login = is_login_command(sent)
            || sent
                .get(..5)
                .is_some_and(|w| w.eq_ignore_ascii_case(b"USER "));
        session.answered
            && !login
            && !session.in_sasl
            && sent.ends_with(b"\r\n")
            && sent
                .split_inclusive(|&b| b == b'\n')
                .all(|l| l.len() <= 255 && l.ends_with(b"\r\n") && !l[..l.len() - 2].is_empty())
    }

    /// Whether the server still greets a new connection (then a silent
    /// session is the server's doing, not a dead machine or network).
    async fn accepts_connections(&self) -> bool {
        let implicit = self
            .sessions
            .values()
            .any(|s| s.implicit_tls && !self.target.implicit_tls);
        let Ok(mut conn) = self.target.connect(implicit).await else {
            return false;
        };
        let deadline = Instant::now() + self.timeout;
        let greeted = matches!(conn.read_line(deadline).await, ReadEvent::Line(l) if status_of(&l.bytes.to_ascii_uppercase()).is_some());
        conn.drop_connection().await;
        greeted
    }

    /// Records in the transcript what a read that produced no line left behind
    /// (unfinished bytes, a close or reset, a timeout, an over-long line) and
    /// returns it as the finding's `actual` value.
    fn note_unfinished(&mut self, session: &str, event: &ReadEvent) -> String {
        let partial_line = |rec: &mut Recorder, partial: &[u8]| {
            if !partial.is_empty() {
                rec.push(
                    session,
                    Direction::Server,
                    escape(partial) + "  (no line end)",
                );
            }
        };
        match event {
            ReadEvent::Line(line) => escape(&line.bytes),
            ReadEvent::Closed { partial, reset } => {
                partial_line(&mut self.rec, partial);
                self.rec
                    .push(session, Direction::Note, closed_note(reset.as_deref()));
                if partial.is_empty() {
                    "<connection closed>".into()
                } else {
                    escape(partial)
                }
            }
            ReadEvent::Timeout { partial } => {
                if let Some(s) = self.sessions.get_mut(session) {
                    s.stalled = true;
                }
                partial_line(&mut self.rec, partial);
                self.rec.push(
                    session,
                    Direction::Note,
                    format!("no complete line within {:?}", self.timeout),
                );
                if partial.is_empty() {
                    "<silence>".into()
                } else {
                    escape(partial)
                }
            }
            ReadEvent::TooLong { prefix } => {
                self.rec.push(
                    session,
                    Direction::Server,
                    escape(prefix) + "...  (line too long)",
                );
                escape(prefix) + "..."
            }
        }
    }

    /// Marks the step's session as out of step: nothing more is read from it.
    fn out_of_step(&mut self, step: &Step, why: String) {
        let command = self
            .sessions
            .get(&step.session)
            .and_then(|s| s.last_command.clone());
        let at = match command {
            Some(c) => format!("after `{}` at {}", c.trim_end(), step.pos),
            None => format!("at {}", step.pos),
        };
        if let Some(s) = self.sessions.get_mut(&step.session) {
            s.out_of_step = Some(format!("{at}: {why}"));
        }
    }

    fn remember_response(&mut self, step: &Step, multiline: bool) {
        if let Some(s) = self.sessions.get_mut(&step.session) {
            s.last_response = Some(LastResponse {
                step: step.pos.clone(),
                command: s.last_command.clone(),
                multiline,
            });
        }
    }

    /// A response expected here that is not a status line at all, right after
    /// another response on the session, is most likely the rest of that one:
    /// say so (and stop reading the session) instead of blaming this step's
    /// command for a line it never produced.
    fn check_in_step(
        &mut self,
        step: &Step,
        want: StatusWant,
        line: &Line,
        multiline: bool,
    ) -> Result<(), StepFail> {
        let previous = self
            .sessions
            .get(&step.session)
            .and_then(|s| s.last_response.clone());
        // Anything starting like a status indicator, even a malformed one
        // (`+ok`, `-Err`), is judged as this step's response.
        let looks_like_status = matches!(line.bytes.first(), Some(b'+' | b'-'));
        if looks_like_status {
            self.remember_response(step, multiline);
            return Ok(());
        }
        let Some(previous) = previous else {
            self.remember_response(step, multiline);
            return Ok(());
        };
        let command = previous
            .command
            .as_deref()
            .map(|c| format!(" to `{}`", c.trim_end()))
            .unwrap_or_default();
        let why = if previous.multiline {
            format!(
                "it looks like more of the multi-line response{command} read at {}, which ended at a `.` line (a body line of a single `.` sent without byte-stuffing ends a body early like this, RFC 1939 §3)",
                previous.step
            )
        } else {
            format!(
                "it looks like more of the response{command} read at {} as a single line (a multi-line answer where one line was expected leaves lines behind like this)",
                previous.step
            )
        };
        self.out_of_step(
            step,
            format!("the line `{}` is not a response to it", escape(&line.bytes)),
        );
        Err(self.fail(
            step,
            format!(
                "the stream is out of step: the line `{}` is not a status line, and {why}; this session is not read further",
                escape(&line.bytes)
            ),
            vec![want_text(want).to_string()],
            vec![escape(&line.bytes)],
            false,
        ))
    }

    fn judge_line(&mut self, step: &Step, e: &ExpectLine, line: &Line) -> Result<(), StepFail> {
        // A refusal under the announced LOGIN-DELAY (RFC 2449 §6.5) is an
        // allowed answer to any login, not a wrong answer to the question
        // the step asks (e.g. a second login expected to meet [IN-USE]).
        if is_login_delay_refusal(&line.bytes) && !accepts_login_delay(e) {
            return Err(StepFail::skip(self.finding(
                Some(step),
                "the server refused the login under its LOGIN-DELAY, which RFC 2449 §6.5 allows; what this step asks could not be put to it".into(),
            )));
        }
        let shown = escape(&line.bytes);
        let status = status_of(&line.bytes);
        let expected_status = || vec![want_text(e.status).to_string()];
        match e.status {
            // RFC 5034 §4: a continuation is "+" then a space and base64 (the
            // space may be absent for an empty challenge).
            StatusWant::Continue => {
                if line.bytes != b"+" && !line.bytes.starts_with(b"+ ") {
                    return Err(self.fail(
                        step,
                        "expected a SASL continuation line (`+ ` and a base64 challenge)",
                        expected_status(),
                        vec![shown],
                        false,
                    ));
                }
                // "This line MUST NOT contain any text other than the
                // BASE64-encoded challenge" (RFC 5034 §4, grammar in §5).
                let challenge = line.bytes.get(2..).unwrap_or_default();
                if !is_base64(challenge) {
                    return Err(self.fail(
                        step,
                        "the SASL challenge is not base64: RFC 5034 §4 says the line \"MUST NOT contain any text other than the BASE64-encoded challenge\"",
                        expected_status(),
                        vec![shown],
                        false,
                    ));
                }
            }
            _ if status.is_none() => {
                return Err(self.fail(step, "the response does not start with the status indicator +OK or -ERR (exact, upper case, then a space or CRLF)", expected_status(), vec![shown], false));
            }
            StatusWant::Ok if status == Some(false) => {
                return Err(self.fail(
                    step,
                    "expected +OK, got -ERR",
                    expected_status(),
                    vec![shown],
                    false,
                ));
            }
            StatusWant::Err if status == Some(true) => {
                return Err(self.fail(
                    step,
                    "expected -ERR, got +OK",
                    expected_status(),
                    vec![shown],
                    false,
                ));
            }
            _ => {}
        }
        if !line.crlf {
            return Err(self.fail(
                step,
                "the line ends with a bare LF; POP3 lines end with CRLF (RFC 1939 §3)",
                vec![format!("{shown}\\r\\n")],
                vec![format!("{shown}\\n")],
                false,
            ));
        }
        if let Some(code) = &e.code {
            let text = String::from_utf8_lossy(&line.bytes);
            let rest = text.split_once(' ').map_or("", |(_, r)| r).trim_start();
            let found = rest
                .strip_prefix('[')
                .and_then(|r| r.find(']').map(|end| &r[..end]));
            // RFC 2449 §8: codes are case-insensitive and hierarchical, so
            // `SYS` matches `[SYS/TEMP]`.
            let matches = found.is_some_and(|c| {
                c.eq_ignore_ascii_case(code)
                    || (c.len() > code.len()
                        && c[..code.len()].eq_ignore_ascii_case(code)
                        && c.as_bytes()[code.len()] == b'/')
            });
            if !matches {
                let indicator = if status == Some(true) { "+OK" } else { "-ERR" };
                return Err(self.fail(
                    step,
                    format!("expected the response code [{code}]"),
                    vec![format!("{indicator} [{code}] ...")],
                    vec![shown],
                    false,
                ));
            }
        }
        if let Some(t) = &e.line {
            let want = self.render(step, t, false)?;
            if want.bytes != line.bytes {
                return Err(self.fail(
                    step,
                    "the response line differs",
                    vec![want.display],
                    vec![shown],
                    true,
                ));
            }
        }
        if let Some(pattern) = &e.matches {
            let re = self.pattern(step, pattern)?;
            let re = re.as_ref();
            let text = String::from_utf8_lossy(&line.bytes).into_owned();
            match re.captures(&text) {
                Some(caps) => capture(&mut self.vars, re, &caps),
                None => {
                    return Err(self.fail(
                        step,
                        format!("the line does not match /{}/", re.as_str()),
                        vec![format!("/{}/", re.as_str())],
                        vec![shown],
                        false,
                    ));
                }
            }
        }
        Ok(())
    }

    async fn expect_multiline(
        &mut self,
        step: &Step,
        e: &ExpectMultiline,
        deadline: Instant,
    ) -> Result<(), StepFail> {
        let head = self.read_line(step, deadline).await?;
        self.check_in_step(step, e.head.status, &head, true)?;
        self.judge_line(step, &e.head, &head)?;
        if status_of(&head.bytes) != Some(true) {
            return Ok(());
        }
        let name = step.session.clone();
        let max_body = self.target.max_body;
        let session = self.sessions.get_mut(&name).expect("exists");
        let (body, end) = session.conn.read_body(deadline, max_body, true).await;
        for line in body.lines().take(BODY_LINES_SHOWN) {
            self.rec.push(&name, Direction::Server, escape(line));
        }
        self.note_body(&name, body.len(), body.octets());
        match end {
            BodyEnd::Dot { crlf: true } => {}
            BodyEnd::Dot { crlf: false } => {
                return Err(self.fail(
                    step,
                    "the terminating `.` line ends with a bare LF instead of CRLF",
                    vec![".\\r\\n".into()],
                    vec![".\\n".into()],
                    false,
                ));
            }
            BodyEnd::BareLf(line) => {
                let shown = escape(&line);
                self.out_of_step(
                    step,
                    format!(
                        "reading of the multi-line response stopped at body line {}, which ends with a bare LF; the rest of the body is unread",
                        body.len() + 1
                    ),
                );
                return Err(self.fail(
                    step,
                    format!(
                        "body line {} ends with a bare LF; POP3 lines end with CRLF",
                        body.len() + 1
                    ),
                    vec![format!("{shown}\\r\\n")],
                    vec![format!("{shown}\\n")],
                    false,
                ));
            }
            BodyEnd::OverLimit => {
                self.out_of_step(
                    step,
                    format!("reading of the multi-line response stopped after {max_body} octets (--max-body); the rest of the body is unread"),
                );
                return Err(self.fail(
                    step,
                    format!(
                        "the multi-line body exceeded the limit of {max_body} octets (--max-body)"
                    ),
                    vec![],
                    vec![],
                    false,
                ));
            }
            BodyEnd::Broken(other) => {
                let actual = self.note_unfinished(&name, &other);
                let message = match other {
                    ReadEvent::Closed { .. } => format!("the multi-line response ended without the terminating `.` line: the server closed the connection after {} line(s)", body.len()),
                    ReadEvent::Timeout { .. } => {
                        self.out_of_step(step, format!("the multi-line response had no `.` line after {} line(s) within {:?}; anything later may be more of its body", body.len(), self.timeout));
                        format!("the multi-line response did not end with a `.` line within {:?} ({} line(s) received)", self.timeout, body.len())
                    }
                    _ => {
                        self.out_of_step(step, format!("body line {} of the multi-line response exceeded {} octets; the rest of the body is unread", body.len() + 1, self.target.max_line));
                        format!("a body line exceeded {} octets", self.target.max_line)
                    }
                };
                return Err(self.fail(step, message, vec![".".into()], vec![actual], false));
            }
        }
        self.rec.push(&name, Direction::Server, ".".into());
        self.remember_response(step, true);
        self.judge_body(step, e, &body)
    }

    fn note_body(&mut self, session: &str, lines: usize, octets: usize) {
        if lines > BODY_LINES_SHOWN {
            self.rec.push(
                session,
                Direction::Note,
                format!(
                    "... {} more body line(s) not shown; {lines} line(s), {octets} octets in all",
                    lines - BODY_LINES_SHOWN
                ),
            );
        }
    }

    fn judge_body(
        &mut self,
        step: &Step,
        e: &ExpectMultiline,
        body: &Body,
    ) -> Result<(), StepFail> {
        let octets = body.octets();
        // Comparisons use the bytes as sent; reports get escaped text (the
        // first lines only: a finding need not carry a whole mailbox), and
        // regexes see the lines decoded (invalid UTF-8 as U+FFFD).
        let mut shown: Vec<String> = body.lines().take(BODY_LINES_SHOWN).map(escape).collect();
        if body.len() > BODY_LINES_SHOWN {
            shown.push(format!(
                "... {} more line(s)",
                body.len() - BODY_LINES_SHOWN
            ));
        }
        let text = || body.lines().map(String::from_utf8_lossy);
        if let Some(lines) = &e.lines {
            let want = lines
                .iter()
                .map(|t| self.render(step, t, false))
                .collect::<Result<Vec<_>, _>>()?;
            if want.iter().map(|w| w.bytes.as_slice()).ne(body.lines()) {
                return Err(self.fail(
                    step,
                    "the multi-line body differs from the expected lines",
                    want.iter().map(|w| escape(w.display.as_bytes())).collect(),
                    shown,
                    true,
                ));
            }
        }
        if let Some(tail) = &e.ends_with {
            let want = tail
                .iter()
                .map(|t| self.render(step, t, false))
                .collect::<Result<Vec<_>, _>>()?;
            let skip = body.len().saturating_sub(want.len());
            let ends = body.len() >= want.len()
                && want
                    .iter()
                    .map(|w| w.bytes.as_slice())
                    .eq(body.lines().skip(skip));
            if !ends {
                let last: Vec<String> = body.lines().skip(skip).map(escape).collect();
                return Err(self.fail(
                    step,
                    format!(
                        "the body does not end with the expected {} line(s), in order",
                        want.len()
                    ),
                    want.iter().map(|w| escape(w.display.as_bytes())).collect(),
                    last,
                    true,
                ));
            }
        }
        for t in &e.contains {
            let want = self.render(step, t, false)?;
            if !body.lines().any(|l| l == want.bytes.as_slice()) {
                return Err(self.fail(
                    step,
                    format!("the body has no line `{}`", want.display),
                    vec![want.display],
                    shown,
                    false,
                ));
            }
        }
        for t in &e.absent {
            let unwanted = self.render(step, t, false)?;
            if let Some(i) = body.lines().position(|l| l == unwanted.bytes.as_slice()) {
                return Err(self.fail(
                    step,
                    format!(
                        "body line {} is `{}`, which must not appear",
                        i + 1,
                        unwanted.display
                    ),
                    vec![format!("no line `{}`", unwanted.display)],
                    shown,
                    false,
                ));
            }
        }
        for pattern in &e.contains_match {
            let re = self.pattern(step, pattern)?;
            let re = re.as_ref();
            match text().find(|l| re.is_match(l)) {
                Some(line) => {
                    let caps = re.captures(&line).expect("the line matched");
                    capture(&mut self.vars, re, &caps)
                }
                None => {
                    return Err(self.fail(
                        step,
                        format!("no body line matches /{}/", re.as_str()),
                        vec![format!("a line matching /{}/", re.as_str())],
                        shown,
                        false,
                    ))
                }
            }
        }
        for pattern in &e.absent_match {
            let re = self.pattern(step, pattern)?;
            let re = re.as_ref();
            if let Some((i, line)) = text().enumerate().find(|(_, l)| re.is_match(l)) {
                return Err(self.fail(
                    step,
                    format!(
                        "body line {} matches /{}/, which must not appear",
                        i + 1,
                        re.as_str()
                    ),
                    vec![format!("no line matching /{}/", re.as_str())],
                    vec![escape(line.as_bytes())],
                    false,
                ));
            }
        }
        if let Some(pattern) = &e.each_line {
            let re = self.pattern(step, pattern)?;
            let re = re.as_ref();
            if let Some((i, line)) = text().enumerate().find(|(_, l)| !re.is_match(l)) {
                return Err(self.fail(
                    step,
                    format!("body line {} does not match /{}/", i + 1, re.as_str()),
                    vec![format!("/{}/", re.as_str())],
                    vec![escape(line.as_bytes())],
                    false,
                ));
            }
        }
        if let Some(t) = &e.count {
            let want = self.render(step, t, false)?.text();
            let n: usize = want
                .trim()
                .parse()
                .map_err(|_| self.error(step, format!("count `{want}` is not a number")))?;
            if n != body.len() {
                return Err(self.fail(
                    step,
                    format!("expected {n} body line(s), got {}", body.len()),
                    vec![n.to_string()],
                    vec![body.len().to_string()],
                    false,
                ));
            }
        }
        if let Some(t) = &e.octets {
            let want = self.render(step, t, false)?.text();
            let n: usize = want
                .trim()
                .parse()
                .map_err(|_| self.error(step, format!("octets `{want}` is not a number")))?;
            if n != octets {
                return Err(self.fail(step, format!("the body is {octets} octets (unstuffed, CRLF line ends) but {n} were expected"), vec![n.to_string()], vec![octets.to_string()], false));
            }
        }
        for (name, index) in &e.capture_line {
            let Some(line) = text().nth(*index) else {
                return Err(self.fail(
                    step,
                    format!(
                        "capture_line `{name}`: the body has no line {index} (it has {})",
                        body.len()
                    ),
                    vec![],
                    vec![],
                    false,
                ));
            };
            self.vars.insert(
                name.clone(),
                Value {
                    text: line.into_owned(),
                    secret: false,
                },
            );
        }
        self.vars.insert(
            "body_octets".into(),
            Value {
                text: octets.to_string(),
                secret: false,
            },
        );
        Ok(())
    }

    /// Ends every open session politely so the next scenario finds the maildrop unlocked.
    async fn close_all(&mut self) {
        let names: Vec<String> = self.sessions.keys().cloned().collect();
        for name in names {
            let Executor { sessions, rec, .. } = self;
            let Some(session) = sessions.get_mut(&name) else {
                continue;
            };
            if session.conn.is_closed() {
                continue;
            }
            if let Some(why) = &session.out_of_step {
                rec.push(
                    &name,
                    Direction::Note,
                    format!("end of scenario: dropped without QUIT, since the stream is out of step ({why})"),
                );
                session.conn.drop_connection().await;
                continue;
            }
            if session.stalled {
                continue;
            }
            rec.push(&name, Direction::Note, "end of scenario: QUIT".into());
            if session.conn.send(b"QUIT\r\n").await.is_ok() {
                let deadline = Instant::now() + Duration::from_secs(1).min(self.timeout);
                // Skip anything still unread (e.g. a body a step did not consume).
                loop {
                    match session.conn.read_line(deadline).await {
                        ReadEvent::Line(l) if status_of(&l.bytes).is_some() => {
                            rec.push(&name, Direction::Server, escape(&l.bytes));
                            // Once the server has closed its end, its session is
                            // over and the maildrop lock released for the next scenario.
                            while let Ok(bytes) = session.conn.wait_for_bytes(deadline).await {
                                if bytes.is_empty() {
                                    break;
                                }
                                session.conn.compact_all();
                            }
                            break;
                        }
                        // Forget each skipped line: a server still streaming
                        // a body must not grow the buffer past --max-line.
                        ReadEvent::Line(_) => session.conn.compact(),
                        _ => break,
                    }
                }
            }
            session.conn.drop_connection().await;
        }
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

/// The transcript note for a connection the server ended.
fn closed_note(reset: Option<&str>) -> String {
    match reset {
        Some(r) => format!("connection reset ({r})"),
        None => "connection closed by the server".into(),
    }
}

/// RFC 5034 §5 `base64`: groups of four from the alphabet, `=` padding
/// only at the end; empty is allowed (an empty challenge).
fn is_base64(b: &[u8]) -> bool {
    let alphabet = |c: &u8| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/';
    let data = b.iter().take_while(|c| alphabet(c)).count();
    let pad = b.len() - data;
    b.len() % 4 == 0
        && pad <= 2
        && b[data..].iter().all(|c| *c == b'=')
        && (pad == 0 || data % 4 + pad == 4)
}

fn grade_name(g: Grade) -> &'static str {
    match g {
        Grade::Pass => "pass",
        Grade::NonStrict => "non-strict",
        Grade::Fail => "fail",
        Grade::Skip => "skip",
    }
}

fn want_text(s: StatusWant) -> &'static str {
    match s {
        StatusWant::Ok => "+OK ...",
        StatusWant::Err => "-ERR ...",
        StatusWant::Any => "+OK ... or -ERR ...",
        StatusWant::Continue => "+ <base64 challenge>",
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

/// Whether these bytes start with PASS, APOP or AUTH: a login attempt.
fn is_login_command(sent: &[u8]) -> bool {
    let word = sent
        .split(|&b| b == b' ' || b == b'\r' || b == b'\n')
        .next()
        .unwrap_or_default();
    ["PASS", "APOP", "AUTH"]
        .iter()
        .any(|c| c.as_bytes().eq_ignore_ascii_case(word))
}

/// Whether an expectation is met by `-ERR [LOGIN-DELAY] ...` as it stands:
/// it asks for that code, or for any -ERR without more.
fn accepts_login_delay(e: &ExpectLine) -> bool {
    match e.status {
        StatusWant::Err | StatusWant::Any => match &e.code {
            Some(code) => code.eq_ignore_ascii_case("LOGIN-DELAY"),
            None => e.line.is_none() && e.matches.is_none(),
        },
        _ => false,
    }
}

/// Whether a response line carries the `[LOGIN-DELAY]` code (RFC 2449 §8.1.1).
fn is_login_delay_refusal(line: &[u8]) -> bool {
    let text = String::from_utf8_lossy(line).to_ascii_uppercase();
    text.starts_with("-ERR [LOGIN-DELAY")
}

/// The scenarios about LOGIN-DELAY itself (`requires: [LOGIN-DELAY]`).
fn requires_login_delay(scenario: &Scenario) -> bool {
    scenario.requires.iter().any(|r| {
        r.split_whitespace()
            .next()
            .is_some_and(|t| t.eq_ignore_ascii_case("LOGIN-DELAY"))
    })
}

fn is_lock_refusal(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("in-use") || m.contains("in use") || m.contains("lock")
}

fn set_greeting_vars(vars: &mut Vars, session: &str, greeting: &str) {
    let mut set = |k: String, v: String| {
        vars.insert(
            k,
            Value {
                text: v,
                secret: false,
            },
        );
    };
    let ts = apop_timestamp(greeting).unwrap_or_default();
    if session == MAIN_SESSION {
        set("greeting".into(), greeting.to_string());
        set("timestamp".into(), ts.clone());
    }
    set(format!("greeting_{session}"), greeting.to_string());
    set(format!("timestamp_{session}"), ts);
}

fn capture(vars: &mut Vars, re: &regex::Regex, caps: &regex::Captures<'_>) {
    for name in re.capture_names().flatten() {
        if let Some(m) = caps.name(name) {
            vars.insert(
                name.to_string(),
                Value {
                    text: m.as_str().to_string(),
                    secret: false,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_base64;

    #[test]
    fn base64_challenges_follow_rfc5034_grammar() {
        for ok in [
            "",
            "QUJD",
            "QUI=",
            "QQ==",
            "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
        ] {
            assert!(is_base64(ok.as_bytes()), "{ok:?} is base64");
        }
        for bad in [
            "Go ahead", "=AAA", "AAA=BBB", "AA=A", "QUJ", "Q===", "QUJD\t", "QU JD",
        ] {
            assert!(!is_base64(bad.as_bytes()), "{bad:?} is not base64");
        }
    }
}
