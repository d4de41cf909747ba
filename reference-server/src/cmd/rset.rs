//! RSET (RFC 1939 §5): unmark every message marked as deleted.

use std::io;

use super::{before_login, ParseResult, Request};
use crate::faults::Fault;
use crate::session::{count, Flow, Session};

pub struct Rset;

impl Rset {
    pub fn parse(req: &Request) -> ParseResult<Self> {
        req.exactly(0)?;
        Ok(Rset)
    }

    pub async fn apply(self, s: &mut Session) -> io::Result<Flow> {
        let noop = s.fault(Fault::RsetNoop);
        let lf = s.fault(Fault::OctetsLfCount);
        let Some(t) = s.txn() else {
            return before_login(s, Fault::RsetInAuthorization, false).await;
        };
        if !noop {
            for m in &mut t.maildrop.messages {
                m.deleted = false;
            }
        }
        let (n, size) = count(&t.maildrop, false, lf);
        s.ok(&format!("maildrop has {n} messages ({size} octets)"))
            .await?;
        Ok(Flow::Continue)
    }
}
