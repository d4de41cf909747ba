//! AUTH (RFC 5034): SASL authentication; PLAIN (RFC 4616) is implemented.

use std::io;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::{wrong_state, ParseResult, Request};
use crate::connection::Line;
use crate::faults::Fault;
use crate::session::{Flow, Session};

pub const MECHANISMS: &[&str] = &["PLAIN"];

pub struct Auth {
    /// None: list mechanisms.
    pub mechanism: Option<String>,
    pub initial: Option<String>,
}

impl Auth {
    pub fn parse(req: &Request) -> ParseResult<Self> {
        if req.args.iter().any(|a| a.is_empty()) {
            return Err("empty argument");
        }
        match req.args.len() {
            0 => Ok(Auth {
                mechanism: None,
                initial: None,
            }),
            1 | 2 => Ok(Auth {
                mechanism: Some(req.args[0].to_string()),
                initial: req.args.get(1).map(|s| s.to_string()),
            }),
            _ => Err("too many arguments"),
        }
    }

    pub async fn apply(self, s: &mut Session) -> io::Result<Flow> {
        if s.in_transaction() {
            return wrong_state(s).await;
        }
        if !s.auth_allowed() {
            return s.refuse_cleartext().await;
        }
        s.pending_user = None;
        let Some(mech) = self.mechanism else {
            let lines: Vec<&[u8]> = MECHANISMS.iter().map(|m| m.as_bytes()).collect();
            s.multi("SASL mechanisms follow", lines, true, true).await?;
            return Ok(Flow::Continue);
        };
        let known = if s.fault(Fault::SaslMechanismCaseSensitive) {
            mech == "PLAIN"
        } else {
            mech.eq_ignore_ascii_case("PLAIN")
        };
        if !known {
            s.err("unsupported SASL mechanism").await?;
            return Ok(Flow::Continue);
        }
        let response = match self.initial {
            Some(r) => r,
            None => {
                // RFC 5034 §4: an empty challenge is "+" and one space, nothing else.
                let challenge: &[u8] = if s.fault(Fault::PlainChallengeNotEmpty) {
                    b"+ UGFzc3dvcmQ6\r\n"
                } else if s.fault(Fault::ChallengeNotBase64) {
                    b"+ Go ahead\r\n"
                } else {
                    b"+ \r\n"
                };
                s.send(challenge).await?;
                match s.read_continuation().await? {
                    Line::Line(l) => match String::from_utf8(l) {
                        Ok(t) => t,
                        Err(_) => return s.auth_failed("invalid base64").await,
                    },
                    Line::TooLong => {
                        s.err("line too long").await?;
                        return Ok(Flow::Continue);
                    }
                    Line::Eof => return Ok(Flow::Close),
                }
            }
        };
        if response == "*" {
            if s.fault(Fault::AuthCancelAccepted) {
                s.ok("").await?;
            } else {
                s.err("authentication cancelled").await?;
            }
            return Ok(Flow::Continue);
        }
        let decoded = if response == "=" {
            Vec::new()
        } else {
            let response = if s.fault(Fault::AuthBase64Lenient) {
                response
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
                    .collect()
            } else {
                response
            };
            match STANDARD.decode(response.as_bytes()) {
                Ok(d) => d,
                Err(_) => return s.auth_failed("invalid base64").await,
            }
        };
        let Some((authzid, authcid, password)) = split_plain(&decoded) else {
            return s.auth_failed("[AUTH] malformed PLAIN response").await;
        };
        if !authzid.is_empty() && authzid != authcid && !s.fault(Fault::PlainAuthzidUnchecked) {
            return s
                .auth_failed("[AUTH] authorization identity not permitted")
                .await;
        }
        if !s.check_password(&authcid, &password) {
            return s.auth_failed("[AUTH] invalid credentials").await;
        }
        // Under plain-authzid-unchecked the authzid wins whoever it names.
        let user = if authzid.is_empty() { authcid } else { authzid };
        s.login(&user).await?;
        Ok(Flow::Continue)
    }
}

/// RFC 4616: `[authzid] NUL authcid NUL passwd`, all UTF-8, authcid and passwd non-empty.
fn split_plain(d: &[u8]) -> Option<(String, String, String)> {
    let parts: Vec<&[u8]> = d.split(|b| *b == 0).collect();
    if parts.len() != 3 || parts[1].is_empty() || parts[2].is_empty() {
        return None;
    }
    let s = |b: &[u8]| String::from_utf8(b.to_vec()).ok();
    Some((s(parts[0])?, s(parts[1])?, s(parts[2])?))
}
