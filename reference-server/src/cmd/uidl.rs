//! UIDL [n] (RFC 1939 §7): unique-id listings, persistent across sessions.

use std::io;

use super::{before_login, msg_number, not_found, ParseResult, Request};
use crate::faults::{Fault, FaultSet};
use crate::session::{Flow, Session, Txn};

pub struct Uidl {
    pub msg: Option<u64>,
}

impl Uidl {
    pub fn parse(req: &Request) -> ParseResult<Self> {
        Ok(Uidl {
            msg: req.optional()?.map(msg_number).transpose()?,
        })
    }

    pub async fn apply(self, s: &mut Session) -> io::Result<Flow> {
        let faults = s.faults().clone();
        if faults.contains(Fault::UidlAnnouncedUnavailable) {
            // CAPA still announces UIDL (RFC 2449 §6.8).
            s.err("UIDL not available").await?;
            return Ok(Flow::Continue);
        }
        let Some(t) = s.txn() else {
            return before_login(s, Fault::UidlInAuthorization, self.msg.is_none()).await;
        };
        match self.msg {
            Some(n) if !faults.contains(Fault::UidlIgnoresArgument) => {
                let allow = faults.contains(Fault::UidlIncludesDeleted);
                match t.index(n, &faults, allow) {
                    Some(i) => {
                        let line = listing(t, n, i, &faults);
                        s.ok(&line).await?
                    }
                    None => return not_found(s, n, Fault::UidlMissingMessageOk, false).await,
                }
            }
            _ => {
                let include = faults.contains(Fault::UidlIncludesDeleted);
                let lines: Vec<Vec<u8>> = t
                    .listing(&faults, include)
                    .into_iter()
                    .map(|(k, i)| listing(t, k, i, &faults).into_bytes())
                    .collect();
                let terminate = !faults.contains(Fault::UidlMissingTerminator);
                s.multi(
                    "unique-id listing follows",
                    lines.iter().map(Vec::as_slice),
                    true,
                    terminate,
                )
                .await?;
            }
        }
        Ok(Flow::Continue)
    }
}

/// The unique-id listing of message `k` (index `i`): number, one space and
/// unique-id, bent by the listing faults.
fn listing(t: &Txn, k: u64, i: usize, faults: &FaultSet) -> String {
    let uid = &t.maildrop.messages[i].uid;
    let sep = if faults.contains(Fault::UidlTabSeparated) {
        '\t'
    } else {
        ' '
    };
    let mut line = if faults.contains(Fault::UidlIdPadded) {
        format!("{k}{sep}{uid:0>80}")
    } else {
        format!("{k}{sep}{uid}")
    };
    if faults.contains(Fault::UidlSizeAfterId) {
        line.push_str(&format!(" {}", t.size_of(i, faults)));
    }
    line
}
