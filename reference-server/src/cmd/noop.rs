//! NOOP (RFC 1939 §5): TRANSACTION only; keeps the autologout timer fresh.

use std::io;

use super::{wrong_state, ParseResult, Request};
use crate::faults::Fault;
use crate::session::{Flow, Session};

pub struct Noop;

impl Noop {
    pub fn parse(req: &Request) -> ParseResult<Self> {
        req.exactly(0)?;
        Ok(Noop)
    }

    pub async fn apply(self, s: &mut Session) -> io::Result<Flow> {
        if !s.in_transaction() && !s.fault(Fault::NoopInAuthorization) {
            return wrong_state(s).await;
        }
        if s.fault(Fault::NoopFloodGuard) {
            s.noops += 1;
            if s.noops > 2 {
                s.err("too many NOOP commands").await?;
                return Ok(Flow::Continue);
            }
        }
        s.ok("").await?;
        Ok(Flow::Continue)
    }
}
