//! APOP (RFC 1939 §7): MD5 digest of the greeting timestamp and the secret.

use std::io;

use md5::{Digest, Md5};

use super::{wrong_state, ParseResult, Request};
use crate::faults::Fault;
use crate::maildrop::hex;
use crate::session::{Flow, Session};

pub struct Apop {
    pub name: String,
    pub digest: String,
}

impl Apop {
    pub fn parse(req: &Request) -> ParseResult<Self> {
        let a = req.exactly(2)?;
        Ok(Apop {
            name: a[0].to_string(),
            digest: a[1].to_string(),
        })
    }

    pub async fn apply(self, s: &mut Session) -> io::Result<Flow> {
        if s.in_transaction() {
            if s.fault(Fault::ApopInTransaction) && self.digest_valid(s) {
                s.ok("already logged in").await?;
                return Ok(Flow::Continue);
            }
            return wrong_state(s).await;
        }
        if !s.auth_allowed() {
            return s.refuse_cleartext().await;
        }
        s.pending_user = None;
        let good = s.password_of(&self.name).is_some()
            && (s.fault(Fault::ApopAcceptsAnyDigest) || self.digest_valid(s));
        if !good {
            return s.auth_failed("[AUTH] invalid credentials").await;
        }
        s.login(&self.name).await?;
        Ok(Flow::Continue)
    }

    /// The digest is the MD5 of this connection's timestamp and the user's secret.
    fn digest_valid(&self, s: &Session) -> bool {
        s.password_of(&self.name).is_some_and(|secret| {
            let expected = hex(&Md5::digest(format!("{}{}", s.timestamp, secret)));
            expected.eq_ignore_ascii_case(&self.digest)
        })
    }
}
