//! UIDL [n] (RFC 1939 §7): unique-id listings, persistent across sessions.

use std::io;

use super::{msg_number, wrong_state, ParseResult, Request};
use crate::faults::Fault;
use crate::session::{Flow, Session};

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
            return wrong_state(s).await;
        };
        match self.msg {
            Some(n) => {
                let allow = faults.contains(Fault::UidlIncludesDeleted);
                match t.index(n, &faults, allow) {
                    Some(i) => {
                        let uid = t.maildrop.messages[i].uid.clone();
                        s.ok(&format!("{n} {uid}")).await?
                    }
                    None => super::no_such_message(s).await?,
                }
            }
            None => {
                let include = faults.contains(Fault::UidlIncludesDeleted);
                let lines: Vec<Vec<u8>> = t
                    .listing(&faults, include)
                    .into_iter()
                    .map(|(k, i)| format!("{k} {}", t.maildrop.messages[i].uid).into_bytes())
                    .collect();
                s.multi(
                    "unique-id listing follows",
                    lines.iter().map(Vec::as_slice),
                    true,
                    true,
                )
                .await?;
            }
        }
        Ok(Flow::Continue)
    }
}
