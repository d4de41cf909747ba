//! QUIT (RFC 1939 §4/§6): ends the session; from TRANSACTION it enters UPDATE.

use std::io;

use super::{ParseResult, Request};
use crate::faults::Fault;
use crate::session::{Flow, Session};

pub struct Quit;

impl Quit {
    pub fn parse(req: &Request) -> ParseResult<Self> {
        req.exactly(0)?;
        Ok(Quit)
    }

    pub async fn apply(self, s: &mut Session) -> io::Result<Flow> {
        if !s.in_transaction() || s.fault(Fault::QuitNoDelete) {
            s.ok("bye").await?;
            return Ok(Flow::Close);
        }
        match s.update().await {
            Ok(()) => s.ok("bye, marked messages deleted").await?,
            Err(_) => {
                s.err("[SYS/TEMP] some deleted messages not removed")
                    .await?
            }
        }
        // The lock goes with the session once UPDATE is done.
        if let Some(t) = s.txn() {
            t.lock = None;
        }
        Ok(Flow::Close)
    }
}
