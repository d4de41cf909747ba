//! STLS (RFC 2595 §4): upgrade the plain connection to TLS.

use std::io;

use super::{wrong_state, ParseResult, Request};
use crate::faults::Fault;
use crate::session::{Flow, Session};
use crate::variants::Variant;

pub struct Stls;

/// The `accepts-tls10` fault's answer: one record with a ServerHello that
/// selects TLS 1.0 and TLS_RSA_WITH_AES_128_CBC_SHA (random all zero, no
/// session id), which is all a client needs to see the old version accepted.
const SERVER_HELLO_TLS10: [u8; 47] = {
    let mut r = [0u8; 47];
    let head = [0x16, 0x03, 0x01, 0x00, 42, 0x02, 0x00, 0x00, 38, 0x03, 0x01];
    let mut i = 0;
    while i < head.len() {
        r[i] = head[i];
        i += 1;
    }
    // 32 random octets (zero), session id length 0, the suite, no compression.
    r[44] = 0x00;
    r[45] = 0x2f;
    r[46] = 0x00;
    r
};

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
        if s.fault(Fault::AcceptsTls10) && s.conn.buffered() == 0 {
            let version = s
                .conn
                .peek_client_hello_version(s.config().idle_timeout)
                .await;
            if version.is_some_and(|v| v <= 0x0301) {
                s.send(&SERVER_HELLO_TLS10).await?;
                return Ok(Flow::Close);
            }
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
