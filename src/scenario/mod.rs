//! Scenario files: the model the runner executes, and the loader and checks that
//! build it from YAML with every position kept for error messages.

pub mod diagnostic;
pub mod expr;
pub mod load;
pub mod raw;
pub mod requirements;
pub mod spec;
pub mod template;

pub use crate::outcome::{Level, SourcePos};
pub use diagnostic::Diagnostic;
pub use expr::Assertion;
use std::borrow::Cow;
pub use template::Template;
use template::{Value, Vars};

use regex::Regex;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The session every step addresses unless it names another.
pub const MAIN_SESSION: &str = "main";

#[derive(Clone, Debug)]
pub struct Scenario {
    pub id: String,
    pub title: String,
    pub spec: String,
    pub requirement: String,
    pub level: Level,
    pub tags: Vec<String>,
    pub requires: Vec<String>,
    pub state: State,
    pub fixture: Option<String>,
    /// Where the fixture's message files are, resolved at load time.
    pub fixture_dir: Option<PathBuf>,
    /// A fixture for the second account, and where it is.
    pub fixture2: Option<String>,
    pub fixture2_dir: Option<PathBuf>,
    /// Requirement ids (scenarios/requirements.yaml) this scenario checks.
    pub checks: Vec<String>,
    pub catches: Vec<String>,
    pub timeout: Option<Duration>,
    pub vars: BTreeMap<String, String>,
    pub steps: Vec<Step>,
    pub file: PathBuf,
    /// The file's text, for source snippets in failure reports.
    pub source: Arc<str>,
    pub id_pos: SourcePos,
    pub catches_pos: Vec<SourcePos>,
    pub checks_pos: Vec<SourcePos>,
}

/// Which of the configured accounts a scenario may log in to, seed, or name in
/// a command. A parallel run never lets two scenarios that use one account
/// overlap, so their results are those of a serial run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccountUse {
    pub first: bool,
    pub second: bool,
    /// The long-credentials account (`--long-user`).
    pub long: bool,
}

/// The variable that holds the wait for the server's autologout timer; a
/// scenario that reads it depends on that timer (see `Scenario::uses_autologout`).
pub const AUTOLOGOUT_VAR: &str = "idle_wait";

/// The variables that hold how long a session idles and must still be alive:
/// a short check for ordinary runs and one just under RFC 1939's ten minutes.
/// Their scenarios depend on the autologout timer too.
pub const IDLE_ALIVE_VARS: [&str; 2] = ["idle_alive", "idle_under_ten_minutes"];

impl Scenario {
    pub fn account_use(&self) -> AccountUse {
        let mut uses = AccountUse {
            first: self.state == State::Transaction || self.fixture.is_some(),
            second: self.fixture2.is_some()
                || self.requires.iter().any(|r| r.trim() == "second-account"),
            long: self.requires.iter().any(|r| r.trim() == "long-credentials"),
        };
        visit_steps(&self.steps, &mut |step| {
            match &step.action {
                Action::Login { user: None, .. }
                | Action::Connect {
                    login: Some(true), ..
                }
                | Action::Reconnect { login: Some(true) } => uses.first = true,
                _ => {}
            }
            for var in step.action.variables() {
                match var {
                    "user" | "pass" => uses.first = true,
                    "user2" | "pass2" => uses.second = true,
                    "long_user" | "long_pass" => uses.long = true,
                    _ => {}
                }
            }
        });
        uses
    }

    /// The durations of the steps that wait on purpose (sleep,
    /// expect_silence, expect_close with `within`): wall time no server can
    /// shorten, so a parallel run starts these scenarios first.
    pub fn wait_steps(&self) -> Vec<&Template> {
        let mut waits = Vec::new();
        visit_steps(&self.steps, &mut |step| match &step.action {
            Action::Sleep(t)
            | Action::ExpectSilence(t)
            | Action::ExpectClose {
                within: Some(t), ..
            } => waits.push(t),
            _ => {}
        });
        waits
    }

    pub fn scripted_waits(&self) -> usize {
        self.wait_steps().len()
    }

    /// Whether the scenario sends CAPA and expects the listing (`+OK` and a
    /// body): it tests the CAPA command, so a server without CAPA skips it
    /// even when `--capability` declares what `requires:` names.
    pub fn expects_capa_listing(&self) -> bool {
        fn scan(steps: &[Step]) -> bool {
            steps.windows(2).any(|pair| {
                let sends_capa = matches!(&pair[0].action, Action::Send(t)
                    if t.source.split_whitespace().next().is_some_and(|w| w.eq_ignore_ascii_case("CAPA")));
                let wants_listing = matches!(&pair[1].action, Action::ExpectMultiline(e)
                    if e.head.status == StatusWant::Ok);
                sends_capa && wants_listing && pair[0].session == pair[1].session
            }) || steps.iter().any(|step| match &step.action {
                Action::OneOf(alternatives) => alternatives.iter().any(|a| scan(&a.steps)),
                _ => false,
            })
        }
        scan(&self.steps)
    }

    /// Whether the scenario depends on the server's autologout timer (it
    /// reads `idle_wait` or one of the idle-alive variables), which the
    /// bundled server runs short on a server of its own.
    pub fn uses_autologout(&self) -> bool {
        let mut found = false;
        visit_steps(&self.steps, &mut |step| {
            found |= step
                .action
                .variables()
                .iter()
                .any(|v| *v == AUTOLOGOUT_VAR || IDLE_ALIVE_VARS.contains(v));
        });
        found
    }
}

/// Calls `f` on every step, those inside `one_of` alternatives included.
fn visit_steps<'a>(steps: &'a [Step], f: &mut impl FnMut(&'a Step)) {
    for step in steps {
        f(step);
        if let Action::OneOf(alternatives) = &step.action {
            for alternative in alternatives {
                visit_steps(&alternative.steps, f);
            }
        }
    }
}

/// What holds for the main session before the first step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Connected; the greeting is still unread.
    Connected,
    /// Greeting read and `+OK`.
    Authorization,
    /// Logged in with the configured account.
    Transaction,
}

#[derive(Clone, Debug)]
pub struct Step {
    pub pos: SourcePos,
    pub session: String,
    pub action: Action,
}

#[derive(Clone, Debug)]
pub enum Action {
    Send(Template),
    SendRaw(Template),
    Expect(ExpectLine),
    /// Boxed: by far the largest variant, and every step pays for the largest.
    ExpectMultiline(Box<ExpectMultiline>),
    /// The connection ends; `within` waits this long instead of the step
    /// timeout; `close_notify` requires a TLS close alert first (RFC 8314 §3.4).
    ExpectClose {
        within: Option<Template>,
        close_notify: bool,
        /// One status line before the close is accepted (autologout, RFC 1939 §3).
        allow_line: bool,
    },
    ExpectSilence(Template),
    Connect {
        login: Option<bool>,
        /// Open the session on the implicit-TLS port (RFC 8314).
        implicit_tls: bool,
    },
    Reconnect {
        login: Option<bool>,
    },
    Disconnect,
    Login {
        user: Option<Template>,
        pass: Option<Template>,
    },
    /// `or_close`: a server that ends the connection instead of negotiating
    /// passes and ends the scenario; `judge_certificate`: a certificate
    /// that does not verify fails the step instead of being a set-up error.
    TlsHandshake {
        or_close: bool,
        judge_certificate: bool,
    },
    /// A ClientHello offering only this version (0x0300 or 0x0301), judged
    /// by the first record back (RFC 8314 §4).
    TlsLegacyHello(u16),
    OneOf(Vec<Alternative>),
    Assert(Assertion),
    Sleep(Template),
}

impl Action {
    /// The variables this step itself reads (not those of nested alternatives).
    pub fn variables(&self) -> Vec<&str> {
        fn pattern_vars(p: &Pattern) -> Vec<&str> {
            match p {
                Pattern::Fixed(_) => Vec::new(),
                Pattern::WithVariables(t) => t.variables(),
            }
        }
        fn line_vars(e: &ExpectLine) -> Vec<&str> {
            let mut v: Vec<&str> = e.line.iter().flat_map(|t| t.variables()).collect();
            v.extend(e.matches.iter().flat_map(pattern_vars));
            v
        }
        match self {
            Action::Send(t) | Action::SendRaw(t) | Action::ExpectSilence(t) | Action::Sleep(t) => {
                t.variables()
            }
            Action::ExpectClose { within, .. } => {
                within.iter().flat_map(|t| t.variables()).collect()
            }
            Action::Expect(e) => line_vars(e),
            Action::ExpectMultiline(m) => {
                let mut v = line_vars(&m.head);
                for t in m
                    .lines
                    .iter()
                    .flatten()
                    .chain(m.ends_with.iter().flatten())
                    .chain(&m.contains)
                    .chain(&m.absent)
                    .chain(&m.count)
                    .chain(&m.octets)
                    .chain(m.contains_tags.iter().map(|c| &c.tags))
                {
                    v.extend(t.variables());
                }
                for p in m
                    .contains_match
                    .iter()
                    .chain(&m.absent_match)
                    .chain(&m.each_line)
                {
                    v.extend(pattern_vars(p));
                }
                v
            }
            Action::Login { user, pass } => user
                .iter()
                .chain(pass)
                .flat_map(|t| t.variables())
                .collect(),
            Action::Assert(a) => a.variables(),
            Action::Connect { .. }
            | Action::Reconnect { .. }
            | Action::Disconnect
            | Action::TlsHandshake { .. }
            | Action::TlsLegacyHello(_)
            | Action::OneOf(_) => Vec::new(),
        }
    }

    /// Whether the step only reads and judges, so a `one_of` can retry it on the same data.
    pub fn is_reading(&self) -> bool {
        matches!(
            self,
            Action::Expect(_)
                | Action::ExpectMultiline(_)
                | Action::ExpectClose { .. }
                | Action::ExpectSilence(_)
                | Action::Assert(_)
                | Action::OneOf(_)
        )
    }
}

/// A regular expression from a scenario file. `{{name}}` in it stands for the
/// variable's value when the step runs, matched literally (regex-escaped), so
/// a step can look for what an earlier one captured.
#[derive(Clone, Debug)]
pub enum Pattern {
    Fixed(Regex),
    WithVariables(Template),
}

impl Pattern {
    /// The regular expression for this run of the step.
    pub fn resolve(&self, vars: &Vars) -> Result<Cow<'_, Regex>, String> {
        match self {
            Pattern::Fixed(re) => Ok(Cow::Borrowed(re)),
            Pattern::WithVariables(t) => {
                let escaped: Vars = t
                    .variables()
                    .into_iter()
                    .filter_map(|name| {
                        vars.get(name).map(|v| {
                            let text = regex::escape(&v.text);
                            (
                                name.to_string(),
                                Value {
                                    text,
                                    secret: v.secret,
                                },
                            )
                        })
                    })
                    .collect();
                let source = t.render(&escaped, false).map_err(|e| e.to_string())?.text();
                Regex::new(&source).map(Cow::Owned).map_err(|e| {
                    format!("/{source}/ is not a regular expression once its variables are filled in: {e}")
                })
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusWant {
    Ok,
    Err,
    Any,
    /// A SASL continuation line: `+` alone or `+ ` and a base64 challenge.
    Continue,
}

#[derive(Clone, Debug)]
pub struct ExpectLine {
    pub status: StatusWant,
    pub code: Option<String>,
    /// Text that begins with `[` must be a well-formed RFC 2449 §3 resp-code.
    pub code_syntax: bool,
    /// A response code the text must not start with (hierarchically, as `code`).
    pub not_code: Option<String>,
    pub line: Option<Template>,
    pub matches: Option<Pattern>,
}

#[derive(Clone, Debug)]
pub struct ExpectMultiline {
    pub head: ExpectLine,
    pub lines: Option<Vec<Template>>,
    pub ends_with: Option<Vec<Template>>,
    pub contains: Vec<Template>,
    pub contains_match: Vec<Pattern>,
    pub absent: Vec<Template>,
    pub absent_match: Vec<Pattern>,
    pub each_line: Option<Pattern>,
    pub count: Option<Template>,
    pub octets: Option<Template>,
    pub capture_line: BTreeMap<String, usize>,
    /// Variable set to the body lines' first words (CAPA tags), upper case.
    pub capture_tags: Option<String>,
    pub contains_tags: Option<ContainsTags>,
}

/// Tags that must each open some body line (RFC 2449 §5 CAPA tags).
#[derive(Clone, Debug)]
pub struct ContainsTags {
    pub tags: Template,
    /// Left out of the comparison, upper case.
    pub except: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grade {
    Pass,
    NonStrict,
    Fail,
    /// The server did something allowed that leaves the scenario's question
    /// unasked (a lock scenario on a server that lets a second session in):
    /// the scenario is `skipped` with the alternative's note as the reason.
    Skip,
}

#[derive(Clone, Debug)]
pub struct Alternative {
    pub grade: Grade,
    pub note: Option<String>,
    pub steps: Vec<Step>,
}

/// Reads `250ms`, `2s`, `1.5s`, `1m` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&s[..i], s[i..].trim()),
        None => (s, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration; write e.g. 250ms, 2s or 1m"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" | "min" => n * 60.0,
        _ => return Err(format!("unknown unit `{unit}` in `{s}`; use ms, s or m")),
    };
    if !secs.is_finite() || !(0.0..=86_400.0).contains(&secs) {
        return Err(format!("`{s}` is not between 0 and 24 hours"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(extra: &str) -> Scenario {
        let text = format!(
            "id: t.x\ntitle: t\nspec: RFC 1939 §5\nrequirement: r\nlevel: must\ncatches: []\n{extra}"
        );
        load::load_str(
            std::path::Path::new("t.yaml"),
            Arc::from(text.as_str()),
            &Default::default(),
        )
        .unwrap_or_else(|p| panic!("{}", p[0].render()))
    }

    #[test]
    fn account_use_follows_state_fixtures_logins_and_variables() {
        let uses = |extra: &str| {
            let u = scenario(extra).account_use();
            (u.first, u.second)
        };
        // A greeting-only check touches no account.
        assert_eq!(
            uses("steps:\n  - send: NOOP\n  - expect: { status: err }\n"),
            (false, false)
        );
        assert_eq!(
            uses("state: transaction\nsteps:\n  - send: NOOP\n"),
            (true, false)
        );
        assert_eq!(uses("steps:\n  - send: USER {{user}}\n"), (true, false));
        assert_eq!(uses("steps:\n  - login: true\n"), (true, false));
        assert_eq!(
            uses("steps:\n  - connect: { session: b, login: true }\n"),
            (true, false)
        );
        // Inside an alternative too.
        assert_eq!(
            uses("steps:\n  - send: NOOP\n  - one_of:\n      - grade: pass\n        steps:\n          - expect: { status: err, line: \"-ERR {{user2}}\" }\n"),
            (false, true)
        );
        assert_eq!(
            uses("requires: [second-account]\nsteps:\n  - send: NOOP\n"),
            (false, true)
        );
    }

    #[test]
    fn waits_and_autologout_are_found() {
        let s = scenario("vars: { idle_wait: 5s }\nsteps:\n  - sleep: 1s\n  - expect_silence: 1s\n  - expect_close: { within: \"{{idle_wait}}\" }\n");
        assert_eq!(s.scripted_waits(), 3);
        assert!(s.uses_autologout());
        let quick = scenario("steps:\n  - send: NOOP\n  - expect_close: true\n");
        assert_eq!(quick.scripted_waits(), 0);
        assert!(!quick.uses_autologout());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3h").is_err());
    }
}
