//! Logins: the harness's own (retried while the maildrop is locked or under
//! an announced LOGIN-DELAY), the `login` step, and how a scripted login is
//! recognised so that LOGIN-DELAY refusals are never judged as deviations.

use super::{Executor, StepFail, StepResult};
use crate::runner::target::{Account, OpenError};
use crate::scenario::{ExpectLine, Scenario, StatusWant, Step, Template};
use std::time::Duration;

/// Pause between logins refused because the maildrop is still locked (or
/// the account logged in a moment ago).
const LOCK_RETRY_PAUSE: Duration = Duration::from_millis(100);

/// How long the harness's own login retries after a `[LOGIN-DELAY]` refusal
/// (RFC 2449 §8.1.1): enough for a delay of 1 s between back-to-back
/// scenarios; a server with a longer LOGIN-DELAY needs an account without one.
const LOGIN_DELAY_WAIT: Duration = Duration::from_millis(2500);

impl Executor<'_> {
    /// `login`: the harness's login, as a step (another account when it
    /// names a user or password).
    pub(super) async fn login_step(
        &mut self,
        step: &Step,
        user: Option<&Template>,
        pass: Option<&Template>,
    ) -> StepResult {
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

    pub(super) async fn login(
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
            let logged_in = target
                .login(
                    &mut session.conn,
                    &account,
                    &greeting,
                    &mut rec.log_to(name),
                )
                .await;
            match logged_in {
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

    /// The account a scripted login step names through its variables.
    pub(super) fn scripted_login_user(&self, step: &Step) -> Option<String> {
        let vars = step.action.variables();
        let names = |a: &str, b: &str| vars.iter().any(|v| *v == a || *v == b);
        if names("user2", "pass2") {
            self.target.account2.as_ref().map(|a| a.user.clone())
        } else if names("long_user", "long_pass") {
            self.target.account_long.as_ref().map(|a| a.user.clone())
        } else if names("user", "pass") {
            self.target.account.as_ref().map(|a| a.user.clone())
        } else {
            None
        }
    }
}

/// Whether these bytes start with PASS, APOP or AUTH: a login attempt.
pub(super) fn is_login_command(sent: &[u8]) -> bool {
    let word = sent
        .split(|&b| b == b' ' || b == b'\r' || b == b'\n')
        .next()
        .unwrap_or_default();
    ["PASS", "APOP", "AUTH"]
        .iter()
        .any(|c| c.as_bytes().eq_ignore_ascii_case(word))
}

/// Whether an expectation is met by `-ERR [LOGIN-DELAY] ...` as it stands
/// (it asks for that code, or for any -ERR without more), or judges that
/// code itself (`not_code: LOGIN-DELAY`, RFC 2449 §8.1.1: not on USER).
pub(super) fn accepts_login_delay(e: &ExpectLine) -> bool {
    if e.not_code
        .as_deref()
        .is_some_and(|c| c.eq_ignore_ascii_case("LOGIN-DELAY"))
    {
        return true;
    }
    match e.status {
        StatusWant::Err | StatusWant::Any => match &e.code {
            Some(code) => code.eq_ignore_ascii_case("LOGIN-DELAY"),
            None => e.line.is_none() && e.matches.is_none(),
        },
        _ => false,
    }
}

/// Whether a response line carries the `[LOGIN-DELAY]` code (RFC 2449 §8.1.1).
pub(super) fn is_login_delay_refusal(line: &[u8]) -> bool {
    let text = String::from_utf8_lossy(line).to_ascii_uppercase();
    text.starts_with("-ERR [LOGIN-DELAY")
}

/// The scenarios about LOGIN-DELAY itself (`requires: [LOGIN-DELAY]`).
pub(super) fn requires_login_delay(scenario: &Scenario) -> bool {
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
