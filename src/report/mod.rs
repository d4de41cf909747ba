//! Reporters: turn a finished run into text for a person (console), for CI (JUnit XML)
//! or for tools (JSON).
//!
//! They exist as one module because all three render from the same
//! [`crate::outcome`] values and nothing else: the verdicts are decided once, by the
//! runner, so the console, the CI dashboard and a script reading the JSON can never
//! disagree about what passed. Reporters only format; none of them decides.

pub mod console;
pub mod github;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod matrix;
pub mod write;

use crate::outcome::{Outcome, ScenarioResult};
use std::borrow::Cow;

/// Whether a result is reported as a failure. `non-strict` only is one under
/// `--strict`; every reporter asks here so they agree on what strict means.
pub(crate) fn shown_as_failure(r: &ScenarioResult, strict: bool) -> bool {
    match r.outcome {
        Outcome::Fail | Outcome::Error => true,
        Outcome::NonStrict => strict,
        Outcome::Pass | Outcome::Skipped | Outcome::Info => false,
    }
}

/// `text` with every control character (but tab and newline) and the non-characters
/// U+FFFE/U+FFFF written as a visible escape such as `\x1b`.
///
/// The runner promises printable transcripts, but a stray ESC would still drive the
/// user's terminal and a stray NUL makes JUnit XML unreadable, so reporters do not
/// rely on that promise for server-supplied text.
pub(crate) fn visible(text: &str) -> Cow<'_, str> {
    let escaped = |c: char| {
        (c.is_control() && c != '\t' && c != '\n') || matches!(c, '\u{FFFE}' | '\u{FFFF}')
    };
    if !text.chars().any(escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if !escaped(c) => out.push(c),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

/// One run with every outcome and hostile transcript text, shared by the reporters'
/// tests so each checks the same edge cases.
#[cfg(test)]
pub(crate) mod fixture {
    use crate::outcome::*;
    use std::time::Duration;

    /// Bytes that break naive XML writers and terminals: NUL, ESC, BEL, a CDATA
    /// terminator, the five XML specials, the non-characters U+FFFE/U+FFFF and a
    /// replacement character standing for invalid UTF-8.
    pub const HOSTILE: &str = "+OK \0 \x1b[31mred\x1b[0m \x07 ]]> &<>\"' \u{FFFE}\u{FFFF} \u{FFFD}";

    fn line(session: &str, direction: Direction, text: &str, at_ms: u64) -> TranscriptLine {
        TranscriptLine {
            session: session.into(),
            direction,
            text: text.into(),
            at_ms,
        }
    }

    fn scenario(id: &str, spec: &str, level: Level, outcome: Outcome) -> ScenarioResult {
        ScenarioResult {
            id: id.into(),
            title: format!("title of {id}"),
            spec: spec.into(),
            requirement: "The server must do the thing this scenario checks, stated at \
                          enough length that the console has to wrap it over more than \
                          one line."
                .into(),
            level,
            tags: vec!["core".into()],
            file: format!("scenarios/{id}.yaml").into(),
            outcome,
            reason: None,
            finding: None,
            duration: Duration::from_millis(12),
            transcript: vec![
                line("main", Direction::Note, "connected to 127.0.0.1:110", 0),
                line("main", Direction::Server, "+OK POP3 ready", 1),
                line("main", Direction::Client, "USER alice", 2),
            ],
            known_failure: false,
        }
    }

    fn finding(message: &str) -> Finding {
        Finding {
            message: message.into(),
            step: Some(SourcePos {
                file: "scenarios/rfc1939/retr.yaml".into(),
                line: 14,
                column: 7,
            }),
            snippet: Some("  - send: RETR 1\n  - expect: {body: [a, b, c]}".into()),
            command: Some("RETR 1".into()),
            ..Finding::default()
        }
    }

    pub fn run() -> RunResult {
        let pass = scenario(
            "rfc1939.greeting.ok",
            "RFC 1939 §4",
            Level::Must,
            Outcome::Pass,
        );

        let mut fail = scenario(
            "rfc1939.retr.body",
            "RFC 1939 §7",
            Level::Must,
            Outcome::Fail,
        );
        fail.finding = Some(Finding {
            expected: vec!["line a".into(), "line b".into(), "line c".into()],
            actual: vec!["line a".into(), "line B".into(), "line c".into()],
            diffable: true,
            ..finding("message body differs")
        });
        fail.transcript
            .push(line("main", Direction::Server, HOSTILE, 3));
        fail.transcript
            .push(line("second", Direction::Client, "NOOP", 4));

        let mut error = scenario(
            "rfc2449.capa.list",
            "RFC 2449 §5",
            Level::Must,
            Outcome::Error,
        );
        error.finding = Some(Finding {
            message: "connection refused".into(),
            ..Finding::default()
        });

        let mut non_strict = scenario(
            "rfc2449.capa.terminator",
            "RFC 2449 §5",
            Level::Should,
            Outcome::NonStrict,
        );
        non_strict.reason = Some("should-level requirement not met".into());
        non_strict.finding = Some(Finding {
            expected: vec!["+OK".into()],
            actual: vec!["-ERR no".into()],
            ..finding("status was -ERR")
        });

        let mut info = scenario(
            "rfc2449.capa.impl",
            "RFC 2449 §6.9",
            Level::Info,
            Outcome::Info,
        );
        info.reason = Some("IMPLEMENTATION not advertised".into());

        let mut skipped = scenario(
            "rfc2595.stls.offered",
            "RFC 2595 §4",
            Level::Must,
            Outcome::Skipped,
        );
        skipped.reason = Some("requires STLS".into());
        skipped.duration = Duration::ZERO;
        skipped.transcript.clear();

        let mut known_failed = scenario(
            "rfc1939.top.lines",
            "RFC 1939 §7",
            Level::Must,
            Outcome::Fail,
        );
        known_failed.known_failure = true;
        known_failed.finding = Some(Finding {
            expected: vec!["2 lines".into()],
            actual: vec!["3 lines".into()],
            ..finding("TOP returned too many lines")
        });

        let mut known_passes = scenario(
            "rfc1939.uidl.unique",
            "RFC 1939 §7",
            Level::Must,
            Outcome::Pass,
        );
        known_passes.known_failure = true;

        RunResult {
            target: "127.0.0.1:110".into(),
            strict: false,
            started_at: 1_764_170_642, // 2025-11-26T15:24:02Z
            duration: Duration::from_millis(1234),
            scenarios: vec![
                pass,
                fail,
                error,
                non_strict,
                info,
                skipped,
                known_failed,
                known_passes,
            ],
        }
    }
}
