//! Connections and sessions: opening one (greeting, `--starttls`, the
//! harness's login), the `connect`, `reconnect` and `disconnect` steps, the
//! reconnects RFC 1939 §4 makes necessary after a close on -ERR, and the
//! polite QUIT at the end of a scenario.

use super::{Executor, Session, StepFail, StepResult};
use crate::outcome::Direction;
use crate::runner::connection::{escape, ReadEvent};
use crate::runner::target::{apop_timestamp, status_of, OpenError};
use crate::scenario::template::{Value, Vars};
use crate::scenario::{Action, State, Step, MAIN_SESSION};
use std::time::Duration;
use tokio::time::Instant;

/// How long a step after an -ERR looks for the close RFC 1939 §4 allows
/// there, before sending on the connection: a close follows the -ERR at once.
const AFTER_ERR_LOOK: Duration = Duration::from_millis(5);

impl Executor<'_> {
    /// `connect` and `reconnect`: a new connection for the step's session,
    /// the old one dropped without QUIT.
    pub(super) async fn connect(&mut self, step: &Step, login: Option<bool>) -> StepResult {
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
        let login = login.unwrap_or(reconnect && self.scenario.state == State::Transaction);
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

    /// `disconnect`: the connection dropped without QUIT.
    pub(super) async fn disconnect(&mut self, step: &Step) -> StepResult {
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

    /// Opens (or re-opens) a session. `precondition` failures are errors of the
    /// set-up; the same failures inside a step are judged.
    pub(super) async fn open(
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
        // The log is a temporary of each call: an opaque closure held across
        // the arms would keep `rec` (and so `self`) borrowed in them.
        let read = target
            .read_status(&mut session.conn, &mut rec.log_to(name))
            .await;
        let greeting = match read {
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
            let upgraded = target
                .upgrade(&mut session.conn, &mut rec.log_to(name))
                .await;
            if let Err(e) = upgraded {
                return Err(self.open_failure(e, step));
            }
        }
        if login {
            self.login(name, None, step, precondition).await?;
        }
        Ok(())
    }

    /// Before a step writes to a session whose last answer was -ERR: if the
    /// server has closed the connection (allowed, RFC 1939 §4), reconnect
    /// while the session was still in AUTHORIZATION, or skip the rest when
    /// it was logged in (its state cannot be restored).
    pub(super) async fn reopen_after_err_close(&mut self, step: &Step) -> Result<(), StepFail> {
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
    pub(super) async fn reconnect_if_closed(
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
        let read = target.read_status(&mut conn, &mut rec.log_to(name)).await;
        let greeting = match read {
            Ok((true, text)) => text,
            Ok((false, text)) => {
                let e = OpenError::Protocol(format!("the greeting is not +OK: `{text}`"));
                return Err(self.open_failure(e, step));
            }
            Err(e) => return Err(self.open_failure(e.context("waiting for the greeting"), step)),
        };
        if target.starttls {
            let upgraded = target.upgrade(&mut conn, &mut rec.log_to(name)).await;
            if let Err(e) = upgraded {
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
    pub(super) fn closed_after_err(&mut self, step: &Step) -> StepFail {
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

    /// Ends every open session politely so the next scenario finds the maildrop unlocked.
    pub(super) async fn close_all(&mut self) {
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

pub(super) fn set_greeting_vars(vars: &mut Vars, session: &str, greeting: &str) {
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
