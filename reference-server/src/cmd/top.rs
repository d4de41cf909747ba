//! TOP n lines (RFC 1939 §7): headers, the blank line, and n body lines.

use std::io;

use super::{before_login, msg_number, not_found, number, retr::read, ParseResult, Request};
use crate::faults::Fault;
use crate::maildrop;
use crate::session::{Flow, Session};

pub struct Top {
    pub msg: u64,
    pub lines: u64,
}

impl Top {
    pub fn parse(req: &Request) -> ParseResult<Self> {
        if req.faults.contains(Fault::TopLenientArguments) {
            let arg = |i: usize| req.args.get(i).copied().unwrap_or("");
            return Ok(Top {
                msg: if arg(0).is_empty() { 1 } else { atoi(arg(0)) },
                lines: atoi(arg(1)),
            });
        }
        let a = req.exactly(2)?;
        Ok(Top {
            msg: msg_number(a[0])?,
            lines: number(a[1])?,
        })
    }

    pub async fn apply(self, s: &mut Session) -> io::Result<Flow> {
        let faults = s.faults().clone();
        if faults.contains(Fault::TopAnnouncedUnavailable) {
            // CAPA still announces TOP (RFC 2449 §6.1).
            s.err("TOP not available").await?;
            return Ok(Flow::Continue);
        }
        let Some(t) = s.txn() else {
            return before_login(s, Fault::TopInAuthorization, true).await;
        };
        let Some(i) = t.index(self.msg, &faults, false) else {
            return not_found(s, self.msg, Fault::TopMissingMessageOk, true).await;
        };
        let raw = match read(&t.maildrop.messages[i].path).await {
            Ok(r) => r,
            Err(_) => {
                s.err("[SYS/TEMP] message unreadable").await?;
                return Ok(Flow::Continue);
            }
        };
        let all = maildrop::lines(&raw);
        if super::utf8::refused(s, &all).await? {
            return Ok(Flow::Continue);
        }
        let out: Vec<&[u8]> = if faults.contains(Fault::TopIgnoresLineCount) {
            all
        } else {
            let blank = all.iter().position(|l| l.is_empty());
            match blank {
                None => all,
                Some(b) => {
                    let mut want = self.lines as usize;
                    if faults.contains(Fault::TopOffByOne) {
                        want = want.saturating_add(1);
                    }
                    let mut v: Vec<&[u8]> = all[..b].to_vec();
                    if !faults.contains(Fault::TopNoBlankLine) {
                        v.push(b"");
                    }
                    v.extend(all[b + 1..].iter().take(want).copied());
                    v
                }
            }
        };
        let stuff = !faults.contains(Fault::NoByteStuffing);
        s.multi("top of message follows", out, stuff, true).await?;
        Ok(Flow::Continue)
    }
}

/// C's atoi: the leading digits, or 0 without any.
fn atoi(s: &str) -> u64 {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    s[..digits].parse().unwrap_or(0)
}
