//! UTF8 (RFC 6856 §2.1): switch the session to UTF-8 mode.
//!
//! Without it, messages whose header section carries non-ASCII octets are
//! refused with `[UTF8]` (RFC 6856 §2.1, §5) instead of being sent as is.

use std::io;

use super::{wrong_state, ParseResult, Request};
use crate::faults::Fault;
use crate::session::{Flow, Session};

pub struct Utf8;

impl Utf8 {
    pub fn parse(req: &Request) -> ParseResult<Self> {
        req.exactly(0)?;
        Ok(Utf8)
    }

    pub async fn apply(self, s: &mut Session) -> io::Result<Flow> {
        if s.in_transaction() && !s.fault(Fault::Utf8InTransaction) {
            return wrong_state(s).await;
        }
        s.utf8 = true;
        s.ok("UTF8 mode enabled").await?;
        Ok(Flow::Continue)
    }
}

/// RFC 6856 §2.1: without UTF-8 mode a message with UTF-8 header fields is
/// not sent as it is but refused with `[UTF8]` (RFC 6856 §5). True when it
/// was refused; the `utf8-sent-without-mode` fault sends it all the same.
pub async fn refused(s: &mut Session, lines: &[&[u8]]) -> io::Result<bool> {
    if s.utf8 || !needs_utf8(lines) || s.fault(Fault::Utf8SentWithoutMode) {
        return Ok(false);
    }
    s.err("[UTF8] message has UTF-8 headers; issue UTF8 first")
        .await?;
    Ok(true)
}

/// Whether the header section (up to the first empty line) has non-ASCII octets.
pub fn needs_utf8(lines: &[&[u8]]) -> bool {
    lines
        .iter()
        .take_while(|l| !l.is_empty())
        .any(|l| !l.is_ascii())
}
