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
const SERVER_HELLO_TLS10: [u8; 47] = server_hello(0x01);

/// The `tls-below-1-2-only` fault's answer: the same, selecting TLS 1.1.
const SERVER_HELLO_TLS11: [u8; 47] = server_hello(0x02);

/// A ServerHello record selecting protocol version 3.`minor` (TLS 1.0 is 3.1).
const fn server_hello(minor: u8) -> [u8; 47] {
    let mut r = [0u8; 47];
    let head = [
        0x16, 0x03, 0x01, 0x00, 42, 0x02, 0x00, 0x00, 38, 0x03, minor,
    ];
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
}

/// A fatal handshake_failure alert (TLS 1.2 record layer).
const HANDSHAKE_FAILURE: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28];

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
        if s.fault(Fault::StlsPlaintextAfterOk) {
            s.send(b"+OK ready for TLS\r\n").await?;
        }
        if s.conn.buffered() > 0 && s.variant(Variant::StlsPipelinedCloses) {
            return Ok(Flow::Close);
        }
        // The faults that answer the ClientHello with a canned record.
        let canned = [
            Fault::AcceptsTls10,
            Fault::TlsBelow12Only,
            Fault::StlsHandshakeFails,
        ];
        if canned.iter().any(|f| s.fault(*f)) && s.conn.buffered() == 0 {
            let version = s
                .conn
                .peek_client_hello_version(s.config().idle_timeout)
                .await;
            let answer: Option<&[u8]> = if s.fault(Fault::StlsHandshakeFails) {
                Some(&HANDSHAKE_FAILURE)
            } else if s.fault(Fault::AcceptsTls10) && version.is_some_and(|v| v <= 0x0301) {
                Some(&SERVER_HELLO_TLS10)
            } else if s.fault(Fault::TlsBelow12Only) && version.is_some_and(|v| v >= 0x0302) {
                Some(&SERVER_HELLO_TLS11)
            } else {
                None
            };
            if let Some(answer) = answer {
                s.send(answer).await?;
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
