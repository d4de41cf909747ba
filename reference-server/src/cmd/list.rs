//! LIST [n] (RFC 1939 §5): scan listings of message sizes.

use std::io;

use super::{before_login, msg_number, ParseResult, Request};
use crate::faults::Fault;
use crate::session::{count, Flow, Session};

pub struct List {
    pub msg: Option<u64>,
}

impl List {
    pub fn parse(req: &Request) -> ParseResult<Self> {
        Ok(List {
            msg: req.optional()?.map(msg_number).transpose()?,
        })
    }

    pub async fn apply(self, s: &mut Session) -> io::Result<Flow> {
        let faults = s.faults().clone();
        let Some(t) = s.txn() else {
            return before_login(s, Fault::ListInAuthorization, self.msg.is_none()).await;
        };
        match self.msg {
            Some(n) if !faults.contains(Fault::ListIgnoresArgument) => {
                let marked_ok = faults.contains(Fault::ListArgIncludesDeleted);
                let reply = t
                    .index(n, &faults, marked_ok)
                    .map(|i| t.size_of(i, &faults));
                match reply {
                    Some(size) => s.ok(&format!("{n} {size}")).await?,
                    None => super::no_such_message(s).await?,
                }
            }
            _ => {
                let include = faults.contains(Fault::ListIncludesDeleted);
                let (n, size) = count(&t.maildrop, include, faults.contains(Fault::OctetsLfCount));
                let lines: Vec<Vec<u8>> = t
                    .listing(&faults, include)
                    .into_iter()
                    .map(|(k, i)| format!("{k} {}", t.size_of(i, &faults)).into_bytes())
                    .collect();
                let terminate = !faults.contains(Fault::ListMissingTerminator);
                s.multi(
                    &format!("{n} messages ({size} octets)"),
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
