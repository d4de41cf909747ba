//! Steps that wait on the server without sending: `expect_close`,
//! `expect_silence` and `sleep`.

use super::expect::closed_note;
use super::{Executor, StepFail, StepResult};
use crate::outcome::Direction;
use crate::runner::connection::{escape, ReadEvent};
use crate::scenario::{Step, Template};
use tokio::time::Instant;

impl Executor<'_> {
    /// `expect_close`: the server ends the connection (with `close_notify`
    /// first when asked, with one status line before it when allowed).
    pub(super) async fn expect_close(
        &mut self,
        step: &Step,
        within: Option<&Template>,
        close_notify: bool,
        allow_line: bool,
        deadline: Instant,
    ) -> StepResult {
        let (deadline, waited, cut_from) = match within {
            // A scripted wait, like `sleep`: --max-timeout caps
            // read deadlines, --deadline bounds the whole run.
            Some(t) => {
                let d = self.duration(step, t)?;
                (Instant::now() + d, d, None)
            }
            None => (deadline, self.timeout, self.capped_from),
        };
        if allow_line {
            self.accept_line_before_close(step, deadline).await?;
        }
        let session = self.session(step)?;
        match session.conn.wait_for_bytes(deadline).await {
            Err(reset) => {
                let note = closed_note(reset.as_deref());
                let (tls, notified) =
                    (session.conn.is_tls(), session.conn.tls_close_notify());
                self.rec.push(&step.session, Direction::Note, note);
                if !close_notify {
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

    /// `expect_silence`: nothing arrives for the given time.
    pub(super) async fn expect_silence(&mut self, step: &Step, t: &Template) -> StepResult {
        let d = self.duration(step, t)?;
        let session = self.session(step)?;
        match session.conn.wait_for_bytes(Instant::now() + d).await {
            Ok(bytes) if bytes.is_empty() => Ok(None),
            Ok(bytes) => {
                self.rec
                    .push(&step.session, Direction::Server, escape(&bytes));
                Err(self.fail(
                    step,
                    format!("the server sent data where silence was expected for {d:?}"),
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

    /// `sleep`: a scripted pause.
    pub(super) async fn sleep(&mut self, step: &Step, t: &Template) -> StepResult {
        let d = self.duration(step, t)?;
        tokio::time::sleep(d).await;
        Ok(None)
    }
}
