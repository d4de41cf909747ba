//! `send` and `send_raw`: what goes to the server, with the waits a scripted
//! login owes the server's LOGIN-DELAY and the verdict for a connection the
//! server closed after -ERR.

use super::login::is_login_command;
use super::{Executor, StepResult};
use crate::outcome::Direction;
use crate::runner::connection::escape;
use crate::scenario::{Action, Step, Template};

impl Executor<'_> {
    /// `send` and `send_raw`: one command line (CRLF added) or raw bytes.
    pub(super) async fn send(&mut self, step: &Step, t: &Template) -> StepResult {
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
}
