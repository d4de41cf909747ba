//! DELE n (RFC 1939 §5): mark a message; removal waits for UPDATE.

use std::io;

use super::{before_login, msg_number, not_found, ParseResult, Request};
use crate::faults::Fault;
use crate::maildrop;
use crate::session::{Flow, Session};

pub struct Dele {
    pub msg: u64,
}

impl Dele {
    pub fn parse(req: &Request) -> ParseResult<Self> {
        let a = req.exactly(1)?;
        Ok(Dele {
            msg: msg_number(a[0])?,
        })
    }

    pub async fn apply(self, s: &mut Session) -> io::Result<Flow> {
        let faults = s.faults().clone();
        let Some(t) = s.txn() else {
            return before_login(s, Fault::DeleInAuthorization, false).await;
        };
        let Some(i) = t.index(self.msg, &faults, false) else {
            return not_found(s, self.msg, Fault::DeleMissingMessageOk, false).await;
        };
        let m = &mut t.maildrop.messages[i];
        m.deleted = true;
        if faults.contains(Fault::DeleImmediate) {
            let _ = std::fs::remove_file(&m.path);
        } else if faults.contains(Fault::DeleMovesImmediately) {
            let _ = maildrop::move_to_trash(&t.maildrop.dir, &m.path);
        }
        if faults.contains(Fault::DeleOkMalformedCode) {
            // Not in the language catalogue: a fault's text stays English.
            let bracketed = format!("[message {} deleted]", self.msg);
            s.ok(&bracketed).await?;
        } else {
            s.ok(&format!("message {} deleted", self.msg)).await?;
        }
        Ok(Flow::Continue)
    }
}
