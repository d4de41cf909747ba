//! USER (RFC 1939 §7): names the mailbox for a following PASS.

use std::io;

use super::{wrong_state, ParseResult, Request};
use crate::faults::Fault;
use crate::session::{Flow, Session};

pub struct User {
    pub name: String,
}

impl User {
    pub fn parse(req: &Request) -> ParseResult<Self> {
        let a = req.exactly(1)?;
        Ok(User {
            name: a[0].to_string(),
        })
    }

    pub async fn apply(self, s: &mut Session) -> io::Result<Flow> {
        if s.in_transaction() {
            if s.fault(Fault::UserInTransaction) {
                s.ok("").await?;
                return Ok(Flow::Continue);
            }
            return wrong_state(s).await;
        }
        if !s.auth_allowed() {
            return s.refuse_cleartext().await;
        }
        if s.fault(Fault::UserAnnouncedDisabled) {
            // CAPA still announces USER (RFC 2449 §6.2).
            s.err("USER/PASS login disabled").await?;
            return Ok(Flow::Continue);
        }
        s.user_refused = false;
        if s.fault(Fault::QuitAfterFailedUserRefused) && s.password_of(&self.name).is_none() {
            s.user_refused = true;
            s.pending_user = None;
            s.err("no such user").await?;
            return Ok(Flow::Continue);
        }
        if s.fault(Fault::AuthCodeOnUser) && s.password_of(&self.name).is_none() {
            s.err("[AUTH] no such user").await?;
            return Ok(Flow::Continue);
        }
        if s.fault(Fault::Utf8CodeOnUser) && !s.utf8 && !self.name.is_ascii() {
            s.err("[UTF8] UTF-8 user names need UTF8 mode").await?;
            return Ok(Flow::Continue);
        }
        if s.fault(Fault::LoginDelayOnUser) {
            if let Some(secs) = s.login_too_soon(&self.name) {
                s.err(&format!(
                    "[LOGIN-DELAY] last login less than {secs} seconds ago"
                ))
                .await?;
                return Ok(Flow::Continue);
            }
        }
        // Unknown users also get +OK so USER cannot probe for valid names;
        // the following PASS fails for them.
        s.pending_user = Some(self.name);
        s.ok("send PASS").await?;
        Ok(Flow::Continue)
    }
}
