//! STAT (RFC 1939 §5): drop listing, marked messages excluded.

use std::io;

use super::{wrong_state, ParseResult, Request};
use crate::faults::Fault;
use crate::session::{count, Flow, Session};

pub struct Stat;

impl Stat {
    pub fn parse(req: &Request) -> ParseResult<Self> {
        req.exactly(0)?;
        Ok(Stat)
    }

    pub async fn apply(self, s: &mut Session) -> io::Result<Flow> {
        let include = s.fault(Fault::StatCountsDeleted);
        let lf = s.fault(Fault::OctetsLfCount);
        let in_auth_ok = s.fault(Fault::StatInAuthorization);
        let (n, size) = match s.txn() {
            Some(t) => count(&t.maildrop, include, lf),
            None if in_auth_ok => (0, 0),
            None => return wrong_state(s).await,
        };
        s.ok(&format!("{n} {size}")).await?;
        Ok(Flow::Continue)
    }
}
