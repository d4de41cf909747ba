//! `expect_multiline`: a status line and, after +OK, a dot-terminated body
//! (RFC 1939 §3), read to its end and judged line by line.

use super::expect::capture;
use super::{Executor, StepFail};
use crate::outcome::Direction;
use crate::runner::connection::{escape, Body, BodyEnd, ReadEvent};
use crate::runner::target::status_of;
use crate::scenario::template::Value;
use crate::scenario::{ExpectMultiline, Step};
use tokio::time::Instant;

/// How many lines of one multi-line body the transcript keeps.
const BODY_LINES_SHOWN: usize = 40;

impl Executor<'_> {
    pub(super) async fn expect_multiline(
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
        // RFC 2449 §5: a capability line is its tag, then parameters after
        // single spaces; tags compare case-insensitively.
        let tags = || {
            body.lines().map(|l| {
                let word = l.split(|&b| b == b' ').next().unwrap_or_default();
                String::from_utf8_lossy(word).to_ascii_uppercase()
            })
        };
        if let Some(c) = &e.contains_tags {
            let want = self.render(step, &c.tags, false)?.text();
            let listed: Vec<String> = tags().collect();
            let missing: Vec<&str> = want
                .split_whitespace()
                .filter(|t| {
                    let t = t.to_ascii_uppercase();
                    !c.except.contains(&t) && !listed.contains(&t)
                })
                .collect();
            if !missing.is_empty() {
                return Err(self.fail(
                    step,
                    format!("the listing lacks the tag(s) {}", missing.join(", ")),
                    vec![format!("lines starting with {}", missing.join(", "))],
                    shown,
                    false,
                ));
            }
        }
        if let Some(name) = &e.capture_tags {
            let mut seen: Vec<String> = tags().filter(|t| !t.is_empty()).collect();
            seen.dedup();
            self.vars.insert(
                name.clone(),
                Value {
                    text: seen.join(" "),
                    secret: false,
                },
            );
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
}
