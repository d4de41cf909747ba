//! `expect`: reading one response line and judging it (status indicator,
//! CRLF, response code, `line`, `matches`), and what every read shares: the
//! verdict for a close, a timeout or an over-long line, and the bookkeeping
//! that tells when a session's stream is out of step.

use super::login::{accepts_login_delay, is_login_command, is_login_delay_refusal};
use super::recorder::Recorder;
use super::sessions::set_greeting_vars;
use super::{Executor, LastResponse, StepFail, StepResult};
use crate::outcome::Direction;
use crate::runner::connection::{escape, Line, ReadEvent};
use crate::runner::target::status_of;
use crate::scenario::template::{Value, Vars};
use crate::scenario::{ExpectLine, StatusWant, Step};
use tokio::time::Instant;

impl Executor<'_> {
    /// `expect`: one status line, judged.
    pub(super) async fn expect(
        &mut self,
        step: &Step,
        e: &ExpectLine,
        deadline: Instant,
    ) -> StepResult {
        let line = self.read_line(step, deadline).await?;
        self.check_in_step(step, e.status, &line, false)?;
        self.judge_line(step, e, &line)?;
        Ok(None)
    }

    /// Reads one line for a judging step, recording it; closing, timeouts and
    /// over-long lines become verdicts here.
    pub(super) async fn read_line(
        &mut self,
        step: &Step,
        deadline: Instant,
    ) -> Result<Line, StepFail> {
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
    pub(super) fn note_unfinished(&mut self, session: &str, event: &ReadEvent) -> String {
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
    pub(super) fn out_of_step(&mut self, step: &Step, why: String) {
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

    pub(super) fn remember_response(&mut self, step: &Step, multiline: bool) {
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
    pub(super) fn check_in_step(
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

    pub(super) fn judge_line(
        &mut self,
        step: &Step,
        e: &ExpectLine,
        line: &Line,
    ) -> Result<(), StepFail> {
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
        if e.code_syntax && status.is_some() {
            if let Some(why) = malformed_resp_code(&line.bytes) {
                return Err(self.fail(
                    step,
                    format!("the text begins with `[` but is not a response code: {why} (RFC 2449 §3, §6.4: with RESP-CODES announced, text that begins with \"[\" is a resp-code, `\"[\" resp-level *(\"/\" resp-level) \"]\"`)"),
                    vec!["no `[`, or [LEVEL/LEVEL...] with printable ASCII levels".into()],
                    vec![shown],
                    false,
                ));
            }
        }
        if let Some(code) = &e.code {
            if !has_code(&line.bytes, code) {
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
        if let Some(code) = &e.not_code {
            if has_code(&line.bytes, code) {
                return Err(self.fail(
                    step,
                    format!("the response carries the response code [{code}]"),
                    vec![format!("no [{code}] code")],
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
}

/// The transcript note for a connection the server ended.
pub(super) fn closed_note(reset: Option<&str>) -> String {
    match reset {
        Some(r) => format!("connection reset ({r})"),
        None => "connection closed by the server".into(),
    }
}

/// Whether the text after the status indicator starts with the response
/// code `code`. RFC 2449 §8: codes are case-insensitive and hierarchical, so
/// `SYS` matches `[SYS/TEMP]`.
pub(super) fn has_code(line: &[u8], code: &str) -> bool {
    let text = String::from_utf8_lossy(line);
    let rest = text.split_once(' ').map_or("", |(_, r)| r).trim_start();
    let found = rest
        .strip_prefix('[')
        .and_then(|r| r.find(']').map(|end| &r[..end]));
    found.is_some_and(|c| {
        c.eq_ignore_ascii_case(code)
            || (c.len() > code.len()
                && c[..code.len()].eq_ignore_ascii_case(code)
                && c.as_bytes()[code.len()] == b'/')
    })
}

/// Why the response code that opens this status line's text is malformed,
/// or None when it is well formed or the text does not begin with `[`.
///
/// The grammar lives here alone (the reference server has its own writer):
/// RFC 2449 §3 `single-line = status [SP text] CRLF`, `text = *schar /
/// resp-code *CHAR`, `resp-code = "[" resp-level *("/" resp-level) "]"`,
/// `resp-level = 1*rchar`, `rchar = %x21-2E / %x30-5C / %x5E-7F` (printable
/// ASCII other than "/" and "]"). The greeting's own rule glues the code to
/// "+OK" without a space, which no server does and which contradicts the
/// single-line rule, so the greeting is read like any status line. Only the
/// code is judged: what follows it is free text, and RFC 6856 lets it be
/// UTF-8.
pub(crate) fn malformed_resp_code(line: &[u8]) -> Option<String> {
    let text = line
        .strip_prefix(b"+OK ")
        .or_else(|| line.strip_prefix(b"-ERR "))?;
    let code = text.strip_prefix(b"[")?;
    let rchar = |c: u8| matches!(c, 0x21..=0x2E | 0x30..=0x5C | 0x5E..=0x7F);
    let mut at = 0;
    loop {
        let level = code[at..].iter().take_while(|&&c| rchar(c)).count();
        let after = escape(&code[..at + level]);
        match (level, code.get(at + level)) {
            (_, None) if level == 0 => return Some("the text ends before the code does".into()),
            (_, None) => return Some(format!("no closing `]` after `[{after}`")),
            (0, Some(b']')) if at == 0 => return Some("the code is empty (`[]`)".into()),
            (0, Some(b'/' | b']')) => return Some(format!("an empty level after `[{after}`")),
            (_, Some(b']')) => return None,
            (_, Some(b'/')) => at += level + 1,
            (_, Some(&c)) => {
                return Some(format!(
                    "{} is not allowed in a code, after `[{after}`",
                    describe(c)
                ))
            }
        }
    }
}

fn describe(c: u8) -> String {
    match c {
        b' ' => "a space".into(),
        0x21..=0x7E => format!("`{}`", c as char),
        _ => format!("the octet 0x{c:02X}"),
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

fn want_text(s: StatusWant) -> &'static str {
    match s {
        StatusWant::Ok => "+OK ...",
        StatusWant::Err => "-ERR ...",
        StatusWant::Any => "+OK ... or -ERR ...",
        StatusWant::Continue => "+ <base64 challenge>",
    }
}

pub(super) fn capture(vars: &mut Vars, re: &regex::Regex, caps: &regex::Captures<'_>) {
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
    use super::{has_code, is_base64, malformed_resp_code};

    #[test]
    fn codes_match_case_insensitively_and_by_hierarchy() {
        assert!(has_code(b"-ERR [AUTH] bad", "AUTH"));
        assert!(has_code(b"-ERR [auth/x] bad", "AUTH"));
        assert!(has_code(b"-ERR [LOGIN-DELAY] wait", "login-delay"));
        assert!(!has_code(b"-ERR [AUTHX] bad", "AUTH"));
        assert!(!has_code(b"-ERR AUTH bad", "AUTH"));
        assert!(!has_code(b"+OK send PASS", "LOGIN-DELAY"));
    }

    #[test]
    fn response_codes_follow_rfc2449_grammar() {
        for ok in [
            "+OK",
            "+OK ",
            "+OK maildrop ready",
            "-ERR [IN-USE] locked",
            "-ERR [SYS/TEMP] try later",
            "-ERR [in-use]",
            "-ERR [LOGIN-DELAY]",
            "+OK [X-A/B/C]text right after",
            "-ERR [A[B] a `[` is an rchar",
            "-ERR  [two spaces: the text begins with a space",
            "+OK [UTF8] \u{e4}",
        ] {
            assert_eq!(
                malformed_resp_code(ok.as_bytes()),
                None,
                "{ok:?} is well formed"
            );
        }
        for (bad, why) in [
            ("-ERR [no such message]", "a space"),
            ("-ERR [", "ends before"),
            ("-ERR []", "empty (`[]`)"),
            ("-ERR [SYS/]", "empty level after `[SYS/`"),
            ("-ERR [SYS//TEMP]", "empty level after `[SYS/`"),
            ("-ERR [/SYS]", "empty level after `[`"),
            ("+OK [IN-USE", "no closing `]` after `[IN-USE`"),
            ("+OK [IN-USE maildrop locked", "a space is not allowed"),
            ("-ERR [AB\tC]", "0x09"),
            ("-ERR [\u{e4}]", "0xC3"),
        ] {
            let found = malformed_resp_code(bad.as_bytes());
            assert!(
                found.as_deref().is_some_and(|f| f.contains(why)),
                "{bad:?}: expected a reason with {why:?}, got {found:?}"
            );
        }
    }

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
