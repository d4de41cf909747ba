//! QUIT (RFC 1939 §4/§6): ends the session; from TRANSACTION it enters UPDATE.

use std::io;

use super::{wrong_state, ParseResult, Request};
use crate::faults::Fault;
use crate::session::{Flow, Session, State};
use crate::variants::Variant;

pub struct Quit;

impl Quit {
    pub fn parse(req: &Request) -> ParseResult<Self> {
        req.exactly(0)?;
        Ok(Quit)
    }

    pub async fn apply(self, s: &mut Session) -> io::Result<Flow> {
        if !s.in_transaction() && s.fault(Fault::QuitAppliesDroppedMarks) {
            let _ = s.apply_abandoned_marks().await;
        }
        // RFC 1939 §7: after USER, +OK or -ERR, the client may QUIT.
        if (s.pending_user.is_some() && s.fault(Fault::QuitAfterUserRefused))
            || (s.user_refused && s.fault(Fault::QuitAfterFailedUserRefused))
        {
            return wrong_state(s).await;
        }
        if !s.in_transaction() || s.fault(Fault::QuitNoDelete) {
            s.ok("bye").await?;
            return Ok(Flow::Close);
        }
        // A download-and-delete policy (RFC 2449 §6.7, EXPIRE 0): what RETR
        // sent counts as marked, at QUIT only.
        if s.fault(Fault::DownloadDeleteUnannounced) || s.variant(Variant::DownloadAndDelete) {
            if let Some(t) = s.txn() {
                for i in std::mem::take(&mut t.downloaded) {
                    t.maildrop.messages[i].deleted = true;
                }
            }
        }
        let updated = s.update().await;
        // The lock goes once UPDATE is done and before the reply, so a client
        // that logs in again as soon as it reads +OK finds the maildrop free.
        if let Some(t) = s.txn() {
            t.lock = None;
        }
        match updated {
            Ok(()) => s.ok("bye, marked messages deleted").await?,
            Err(_) => {
                s.err("[SYS/TEMP] some deleted messages not removed")
                    .await?
            }
        }
        if s.fault(Fault::QuitKeepsConnection) {
            // RFC 1939 §6: the connection should close here.
            s.state = State::Authorization;
            return Ok(Flow::Continue);
        }
        Ok(Flow::Close)
    }
}
