//! Scenario files: the model the runner executes, and the loader and checks that
//! build it from YAML with every position kept for error messages.

pub mod diagnostic;
pub mod expr;
pub mod load;
pub mod raw;
pub mod spec;
pub mod template;

pub use crate::outcome::{Level, SourcePos};
pub use diagnostic::Diagnostic;
pub use expr::Assertion;
pub use template::Template;

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
    pub catches: Vec<String>,
    pub timeout: Option<Duration>,
    pub vars: BTreeMap<String, String>,
    pub steps: Vec<Step>,
    pub file: PathBuf,
    /// The file's text, for source snippets in failure reports.
    pub source: Arc<str>,
    pub id_pos: SourcePos,
    pub catches_pos: Vec<SourcePos>,
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
    ExpectMultiline(ExpectMultiline),
    ExpectClose,
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
    TlsHandshake,
    OneOf(Vec<Alternative>),
    Assert(Assertion),
    Sleep(Template),
}

impl Action {
    /// Whether the step only reads and judges, so a `one_of` can retry it on the same data.
    pub fn is_reading(&self) -> bool {
        matches!(
            self,
            Action::Expect(_)
                | Action::ExpectMultiline(_)
                | Action::ExpectClose
                | Action::ExpectSilence(_)
                | Action::Assert(_)
                | Action::OneOf(_)
        )
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
    pub line: Option<Template>,
    pub matches: Option<Regex>,
}

#[derive(Clone, Debug)]
pub struct ExpectMultiline {
    pub head: ExpectLine,
    pub lines: Option<Vec<Template>>,
    pub contains: Vec<Template>,
    pub contains_match: Vec<Regex>,
    pub absent: Vec<Template>,
    pub each_line: Option<Regex>,
    pub count: Option<Template>,
    pub octets: Option<Template>,
    pub capture_line: BTreeMap<String, usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grade {
    Pass,
    NonStrict,
    Fail,
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
