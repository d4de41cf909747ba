//! CAPA (RFC 2449 §5): capability list, valid in both states.

use std::io;

use super::{ParseResult, Request};
use crate::faults::Fault;
use crate::language::LANGUAGES;
use crate::session::{Flow, Session};
use crate::variants::Variant;

pub struct Capa;

impl Capa {
    pub fn parse(req: &Request) -> ParseResult<Self> {
        req.exactly(0)?;
        Ok(Capa)
    }

    pub async fn apply(self, s: &mut Session) -> io::Result<Flow> {
        if s.variant(Variant::NoCapa) || s.fault(Fault::StlsWithoutCapa) {
            s.err("CAPA not supported").await?;
            return Ok(Flow::Continue);
        }
        let auth = !s.in_transaction();
        // Allowed (RFC 2449 §5): these are simply not offered before login.
        let later = auth && s.variant(Variant::CapaAfterLoginOnly);
        // RFC 2449 §5: what is announced in AUTHORIZATION is announced in
        // both states (USER, SASL, UTF8, LANG are "both / no"); only STLS is
        // AUTHORIZATION-only (RFC 2595 §4).
        let mut caps: Vec<String> = Vec::new();
        // Under require_tls, USER and SASL are not offered on a plaintext
        // connection (RFC 2595 §9 spirit): the client must send STLS first.
        let drop_extensions = !auth && s.fault(Fault::CapaDropsExtensionsAfterLogin);
        if s.auth_allowed() {
            caps.push("USER".into());
            if !drop_extensions {
                caps.push(format!("SASL {}", super::auth::MECHANISMS.join(" ")));
            }
        }
        if !later {
            caps.push("RESP-CODES".into());
        }
        if !drop_extensions && !later && !s.fault(Fault::AuthRespCodeNotAnnounced) {
            caps.push("AUTH-RESP-CODE".into());
        }
        if !later {
            caps.push("PIPELINING".into());
        }
        caps.push("TOP".into());
        caps.push("UIDL".into());
        if !drop_extensions {
            if !auth && s.fault(Fault::ExpireSmallerAfterLogin) {
                caps.push("EXPIRE 0".into());
            } else {
                let value = match s.config().expire {
                    _ if s.variant(Variant::DownloadAndDelete) => "0".into(),
                    Some(d) => d.to_string(),
                    None => "NEVER".into(),
                };
                // RFC 2449 §6.7: the USER token belongs to AUTHORIZATION.
                if !auth && s.fault(Fault::ExpireUserTokenAfterLogin) {
                    caps.push(format!("EXPIRE {value} USER"));
                } else {
                    caps.push(format!("EXPIRE {value}"));
                }
            }
        }
        // RFC 2449 §6.5: one value for every user, so the same in both
        // states and without the USER token.
        if let Some(d) = s
            .config()
            .effective_login_delay()
            .filter(|_| !drop_extensions)
        {
            if s.fault(Fault::LoginDelayUserTokenAfterLogin) {
                caps.push(format!("LOGIN-DELAY {d} USER"));
            } else if !auth && s.fault(Fault::LoginDelayLargerAfterLogin) {
                caps.push(format!("LOGIN-DELAY {}", d + 1));
            } else {
                caps.push(format!("LOGIN-DELAY {d}"));
            }
        }
        let stls_state = auth || s.fault(Fault::CapaStlsAfterLogin);
        if stls_state
            && s.tls_available()
            && (!s.conn.is_tls() || s.fault(Fault::CapaStlsWhenActive))
            && !s.fault(Fault::StlsNotAnnounced)
        {
            caps.push("STLS".into());
        }
        // RFC 6856 §2.2: USER says UTF-8 user names and passwords are
        // accepted (and SASLprep's prohibited characters refused in them).
        caps.push("UTF8 USER".into());
        // RFC 6856 §3.1: no arguments, announced in both states.
        if s.fault(Fault::LangCapaArgument) {
            let tags: Vec<&str> = LANGUAGES.iter().map(|l| l.tag()).collect();
            caps.push(format!("LANG {}", tags.join(" ")));
        } else if auth || !s.fault(Fault::LangNotAnnouncedAfterLogin) {
            caps.push("LANG".into());
        }
        if auth || !s.fault(Fault::ImplementationDroppedAfterLogin) {
            caps.push("IMPLEMENTATION pop3-reference-server".into());
        }
        if auth && s.fault(Fault::UnknownTagDroppedAfterLogin) {
            caps.push("X-REFERENCE-ARCHIVE".into());
        }
        let terminate = !s.fault(Fault::CapaMissingTerminator);
        s.multi(
            "Capability list follows",
            caps.iter().map(|c| c.as_bytes()),
            true,
            terminate,
        )
        .await?;
        Ok(Flow::Continue)
    }
}
