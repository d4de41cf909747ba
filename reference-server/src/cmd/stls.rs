//! STLS (RFC 2595 §4): upgrade the plain connection to TLS.

use std::io;

use super::{wrong_state, ParseResult, Request};
use crate::faults::Fault;
use crate::session::{Flow, Session};
use crate::variants::Variant;

pub struct Stls;

impl Stls {
    pub fn parse(req: &Request) -> ParseResult<Self> {
        req.exactly(0)?;
        Ok(Stls)
    }

    pub async fn apply(self, s: &mut Session) -> io::Result<Flow> {
        if s.in_transaction() && !s.fault(Fault::StlsInTransaction) {
            return wrong_state(s).await;
        }
        // RFC 2595 §4: a server with STLS MUST implement CAPA, so the
        // variant without CAPA is a server without STLS too.
        if s.variant(Variant::NoCapa) {
            s.err("STLS not supported").await?;
            return Ok(Flow::Continue);
        }
        let Some(tls) = s.shared.tls.clone() else {
            s.err("TLS not available").await?;
            return Ok(Flow::Continue);
        };
        if s.utf8 {
            // RFC 6856 §2.1: STLS after UTF8 is a protocol error.
            s.err("STLS not allowed after UTF8").await?;
            return Ok(Flow::Continue);
        }
        if s.conn.is_tls() {
            s.err("TLS already active").await?;
            return Ok(Flow::Continue);
        }
        s.ok("begin TLS negotiation").await?;
        if s.conn.buffered() > 0 && s.variant(Variant::StlsPipelinedCloses) {
            return Ok(Flow::Close);
        }
        let keep = s.fault(Fault::StlsBufferCarryover);
        let timeout = s.config().idle_timeout;
        s.conn.upgrade(tls, timeout, keep).await?;
        // RFC 2595 §4: the client forgets what it learnt in plaintext; so do we.
        if !s.fault(Fault::StlsKeepsUser) {
            s.pending_user = None;
        }
        Ok(Flow::Continue)
    }
}
