//! PASS (RFC 1939 §7): completes USER/PASS authentication.

use std::io;

use super::{wrong_state, ParseResult, Request};
use crate::faults::Fault;
use crate::session::{Flow, Session};

pub struct Pass {
    pub password: String,
}

impl Pass {
    pub fn parse(req: &Request) -> ParseResult<Self> {
        // RFC 1939 allows spaces inside the password: the argument is the rest of the line.
        match req.rest {
            Some(r) if !r.is_empty() => Ok(Pass {
                password: r.to_string(),
            }),
            _ => Err("missing argument"),
        }
    }

    pub async fn apply(self, s: &mut Session) -> io::Result<Flow> {
        if s.in_transaction() {
            return wrong_state(s).await;
        }
        if !s.auth_allowed() {
            return s.refuse_cleartext().await;
        }
        let user = match s.pending_user.take() {
            Some(u) => u,
            None if s.fault(Fault::PassWithoutUser) => {
                match s.config().users.iter().find(|(_, p)| *p == self.password) {
                    Some((u, _)) => u.clone(),
                    None => return s.auth_failed("[AUTH] invalid credentials").await,
                }
            }
            None => {
                s.err("USER first").await?;
                return Ok(Flow::Continue);
            }
        };
        if s.fault(Fault::Utf8CodeOnPass) && !s.utf8 && !self.password.is_ascii() {
            s.err("[UTF8] UTF-8 passwords need UTF8 mode").await?;
            return Ok(Flow::Continue);
        }
        let (Some(user), Some(password)) = (
            s.prepared_credential(&user),
            s.prepared_credential(&self.password),
        ) else {
            return s
                .auth_failed("[AUTH] prohibited character in credentials")
                .await;
        };
        if s.fault(Fault::InUseBeforePassword) && s.shared.locks.is_locked(&user) {
            s.err("[IN-USE] maildrop already locked by another session")
                .await?;
            return Ok(Flow::Continue);
        }
        if !s.check_password(&user, &password) {
            if s.fault(Fault::FailedPassKeepsLock) {
                s.stray_lock = s.shared.locks.try_lock(&user);
            }
            return s.auth_failed("[AUTH] invalid credentials").await;
        }
        s.login(&user).await?;
        Ok(Flow::Continue)
    }
}
