//! RETR n (RFC 1939 §5): send a whole message, CRLF-normalised and byte-stuffed.

use std::io;

use super::{msg_number, not_found, wrong_state, ParseResult, Request};
use crate::faults::Fault;
use crate::maildrop;
use crate::session::{Flow, Session};
use crate::variants::Variant;

pub struct Retr {
    pub msg: u64,
}

impl Retr {
    pub fn parse(req: &Request) -> ParseResult<Self> {
        let a = req.exactly(1)?;
        Ok(Retr {
            msg: msg_number(a[0])?,
        })
    }

    pub async fn apply(self, s: &mut Session) -> io::Result<Flow> {
        let faults = s.faults().clone();
        let Some(t) = s.txn() else {
            return wrong_state(s).await;
        };
        let allow = faults.contains(Fault::RetrMarkedMessage);
        let Some(i) = t.index(self.msg, &faults, allow) else {
            return not_found(s, self.msg, Fault::RetrMissingMessageOk, true).await;
        };
        let size = t.size_of(i, &faults);
        let raw = match read(&t.maildrop.messages[i].path).await {
            Ok(r) => r,
            Err(_) => {
                s.err("[SYS/TEMP] message unreadable").await?;
                return Ok(Flow::Continue);
            }
        };
        let mut lines = maildrop::lines(&raw);
        if super::utf8::refused(s, &lines).await? {
            return Ok(Flow::Continue);
        }
        if faults.contains(Fault::RetrExtraBlankLine) {
            lines.push(b"");
        }
        let stuff = !faults.contains(Fault::NoByteStuffing);
        s.multi(&format!("{size} octets"), lines, stuff, true)
            .await?;
        if faults.contains(Fault::UidlFromFlags) {
            if let Some(t) = s.txn() {
                let m = &mut t.maildrop.messages[i];
                if let Some(seen) = maildrop::mark_seen(&m.path) {
                    m.path = seen;
                }
            }
        }
        if faults.contains(Fault::DownloadDeleteOnDrop)
            || faults.contains(Fault::DownloadDeleteUnannounced)
            || s.variant(Variant::DownloadAndDelete)
        {
            if let Some(t) = s.txn() {
                t.downloaded.push(i);
            }
        }
        Ok(Flow::Continue)
    }
}

/// Message files are read off the reactor thread.
pub async fn read(path: &std::path::Path) -> io::Result<Vec<u8>> {
    let p = path.to_path_buf();
    tokio::task::spawn_blocking(move || std::fs::read(p))
        .await
        .unwrap_or_else(|e| Err(io::Error::other(e)))
}
