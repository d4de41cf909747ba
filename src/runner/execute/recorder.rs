//! The transcript of one scenario, with the account passwords removed from
//! everything that goes into it (server lines, notes, findings).

use crate::outcome::{Direction, Finding, TranscriptLine};
use tokio::time::Instant;

/// Transcript lines with secrets already removed.
pub(super) struct Recorder {
    pub(super) lines: Vec<TranscriptLine>,
    pub(super) started: Instant,
    pub(super) secrets: Vec<String>,
}

impl Recorder {
    /// Hides the account passwords wherever the server (or a message built
    /// from what it said) might have echoed them.
    pub(super) fn redact(&self, text: String) -> String {
        let mut text = text;
        for s in &self.secrets {
            if !s.is_empty() && text.contains(s.as_str()) {
                text = text.replace(s.as_str(), "***");
            }
        }
        text
    }

    pub(super) fn redact_finding(&self, f: Finding) -> Finding {
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
    pub(super) fn log_to<'r>(
        &'r mut self,
        session: &'r str,
    ) -> impl FnMut(bool, String) + Send + 'r {
        move |server, text| {
            let direction = if server {
                Direction::Server
            } else {
                Direction::Client
            };
            self.push(session, direction, text)
        }
    }

    pub(super) fn push(&mut self, session: &str, direction: Direction, text: String) {
        let text = self.redact(text);
        self.lines.push(TranscriptLine {
            session: session.to_string(),
            direction,
            text,
            at_ms: self.started.elapsed().as_millis() as u64,
        });
    }
}
