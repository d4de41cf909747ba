//! AUTH (RFC 5034): SASL authentication; PLAIN (RFC 4616), a client-first
//! mechanism, and CRAM-MD5 (RFC 2195), a server-first one, are implemented,
//! and LOGIN (draft-murchison-sasl-login), which many servers list, and
//! SCRAM-SHA-256 (RFC 7677) and SCRAM-SHA-1 (RFC 5802), mechanisms without
//! plaintext passwords that RFC 5034 §4 asks servers to offer, so the suite's
//! scenarios for them run against a server that has them.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use md5::{Digest, Md5};

use super::{wrong_state, ParseResult, Request};
use crate::connection::Line;
use crate::faults::Fault;
use crate::maildrop::hex;
use crate::session::{Flow, Session};

pub const MECHANISMS: &[&str] = &["PLAIN", "CRAM-MD5", "LOGIN", "SCRAM-SHA-256", "SCRAM-SHA-1"];

/// Makes CRAM-MD5 challenges unique within the process (RFC 2195 §2).
static CHALLENGES: AtomicU64 = AtomicU64::new(1);

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
            // RFC 5034 §4: any AUTH after a successful one is refused.
            if s.fault(Fault::SecondAuthAccepted) {
                s.ok("already logged in").await?;
                return Ok(Flow::Continue);
            }
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
        let known = |name: &str| {
            if s.fault(Fault::SaslMechanismCaseSensitive) {
                mech == name
            } else {
                mech.eq_ignore_ascii_case(name)
            }
        };
        if known("CRAM-MD5") {
            return cram_md5(s, self.initial).await;
        }
        if known("LOGIN") {
            return login(s, self.initial).await;
        }
        if known("SCRAM-SHA-256") {
            return scram(s, self.initial, &SCRAM_SHA_256).await;
        }
        if known("SCRAM-SHA-1") {
            // The fault reuses SCRAM-SHA-256's keys for SCRAM-SHA-1.
            let hash = if s.fault(Fault::ScramSha1KeysFromSha256) {
                &SCRAM_SHA_256
            } else {
                &SCRAM_SHA_1
            };
            return scram(s, self.initial, hash).await;
        }
        // CAPA announces PLAIN under plain-announced-unsupported all the same.
        if !known("PLAIN") || s.fault(Fault::PlainAnnouncedUnsupported) {
            s.err("unsupported SASL mechanism").await?;
            return Ok(Flow::Continue);
        }
        let response = match self.initial {
            Some(r) => r,
            None => {
                // RFC 5034 §4: an empty challenge is "+" and one space, nothing else.
                let line: &[u8] = if s.fault(Fault::PlainChallengeNotEmpty) {
                    b"+ UGFzc3dvcmQ6\r\n"
                } else if s.fault(Fault::ChallengeNotBase64) {
                    b"+ Go ahead\r\n"
                } else {
                    b"+ \r\n"
                };
                match challenge(s, line).await? {
                    Ok(r) => r,
                    Err(flow) => return Ok(flow),
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
        let Some((authzid, mut authcid, mut password)) = split_plain(&decoded) else {
            return s.auth_failed("[AUTH] malformed PLAIN response").await;
        };
        if s.fault(Fault::PlainCredentialsTruncated) {
            authcid = truncated(authcid, 128);
            password = truncated(password, 128);
        }
        let authzid = if s.fault(Fault::AuthzidControlsStripped) {
            authzid.chars().filter(|c| !c.is_control()).collect()
        } else {
            authzid
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

/// The first `max` octets of `text`, cut back to a character boundary.
fn truncated(mut text: String, max: usize) -> String {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text
}

/// Sends a challenge line and reads the client's response: `Err(flow)` when
/// the exchange is already settled (answered, or the client went away).
async fn challenge(s: &mut Session, line: &[u8]) -> io::Result<Result<String, Flow>> {
    s.send(line).await?;
    match s.read_continuation().await? {
        Line::Line(l) => match String::from_utf8(l) {
            Ok(t) => Ok(Ok(t)),
            Err(_) => s.auth_failed("invalid base64").await.map(Err),
        },
        Line::TooLong => {
            s.err("line too long").await?;
            Ok(Err(Flow::Continue))
        }
        Line::Eof => Ok(Err(Flow::Close)),
    }
}

/// RFC 2195: the server sends a unique `<...@host>` challenge; the client
/// answers with its user name, a space and the hex HMAC-MD5 of the challenge
/// keyed with the password.
async fn cram_md5(s: &mut Session, initial: Option<String>) -> io::Result<Flow> {
    // RFC 5034 §4: an initial response to a mechanism where the server
    // speaks first is refused.
    if initial.is_some() && !s.fault(Fault::InitialResponseIgnored) {
        s.err("CRAM-MD5 takes no initial response").await?;
        return Ok(Flow::Continue);
    }
    let text = format!(
        "<{}.{}.{}@{}>",
        std::process::id(),
        CHALLENGES.fetch_add(1, Ordering::Relaxed),
        crate::maildrop::now_secs(),
        s.config().hostname
    );
    let encoded = if s.fault(Fault::CramMd5ChallengeNotBase64) {
        text.clone()
    } else {
        STANDARD.encode(&text)
    };
    let line = format!("+ {encoded}\r\n");
    let response = match challenge(s, line.as_bytes()).await? {
        Ok(r) => r,
        Err(flow) => return Ok(flow),
    };
    let decoded = match sasl_text(s, &response).await? {
        Ok(text) => text,
        Err(flow) => return Ok(flow),
    };
    let Some((user, digest)) = decoded.rsplit_once(' ') else {
        return s.auth_failed("[AUTH] malformed CRAM-MD5 response").await;
    };
    let good = s.password_of(user).is_some_and(|p| {
        hex(&hmac_md5(p.as_bytes(), text.as_bytes())) == digest
            || s.fault(Fault::WrongPasswordAccepted)
    });
    if !good {
        return s.auth_failed("[AUTH] invalid credentials").await;
    }
    s.login(user).await?;
    Ok(Flow::Continue)
}

/// LOGIN (draft-murchison-sasl-login-00): the user name, then the password,
/// each base64 after a prompt (`Username:`, `Password:`); the user name may
/// come as the initial response.
async fn login(s: &mut Session, initial: Option<String>) -> io::Result<Flow> {
    if s.fault(Fault::LoginAnnouncedUnsupported) {
        s.err("unsupported SASL mechanism").await?;
        return Ok(Flow::Continue);
    }
    let mut answers = Vec::new();
    for prompt in ["Username:", "Password:"] {
        let response = match (answers.is_empty(), &initial) {
            (true, Some(r)) => r.clone(),
            _ => {
                let line = format!("+ {}\r\n", STANDARD.encode(prompt));
                match challenge(s, line.as_bytes()).await? {
                    Ok(r) => r,
                    Err(flow) => return Ok(flow),
                }
            }
        };
        match sasl_text(s, &response).await? {
            Ok(text) => answers.push(text),
            Err(flow) => return Ok(flow),
        }
    }
    let (user, password) = (&answers[0], &answers[1]);
    if !s.check_password(user, password) {
        return s.auth_failed("[AUTH] invalid credentials").await;
    }
    let user = user.clone();
    s.login(&user).await?;
    Ok(Flow::Continue)
}

/// The hash a SCRAM mechanism is built on: SHA-1 for SCRAM-SHA-1 (RFC 5802
/// §4), SHA-256 for SCRAM-SHA-256 (RFC 7677 §3).
struct ScramHash {
    pbkdf2: ring::pbkdf2::Algorithm,
    hmac: ring::hmac::Algorithm,
    digest: &'static ring::digest::Algorithm,
    /// Octets of the hash's output, so of a client proof.
    len: usize,
}

const SCRAM_SHA_1: ScramHash = ScramHash {
    pbkdf2: ring::pbkdf2::PBKDF2_HMAC_SHA1,
    hmac: ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
    digest: &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
    len: 20,
};

const SCRAM_SHA_256: ScramHash = ScramHash {
    pbkdf2: ring::pbkdf2::PBKDF2_HMAC_SHA256,
    hmac: ring::hmac::HMAC_SHA256,
    digest: &ring::digest::SHA256,
    len: 32,
};

/// SCRAM (RFC 5802) without channel binding: client-first (as initial
/// response or after an empty challenge), server-first, the client's proof,
/// then the server signature as a last challenge, since POP3 has no
/// additional data with +OK (RFC 5034 §4), answered by an empty line.
async fn scram(s: &mut Session, initial: Option<String>, hash: &ScramHash) -> io::Result<Flow> {
    use ring::{digest, hmac, pbkdf2, rand::SecureRandom};
    const ITERATIONS: u32 = 4096;
    let first = match initial {
        Some(r) => r,
        None => match challenge(s, b"+ \r\n").await? {
            Ok(r) => r,
            Err(flow) => return Ok(flow),
        },
    };
    let first = match sasl_text(s, &first).await? {
        Ok(text) => text,
        Err(flow) => return Ok(flow),
    };
    let attr = |text: &str, name: &str| {
        text.split(',')
            .find_map(|a| a.strip_prefix(name)?.strip_prefix('='))
            .map(str::to_string)
    };
    // RFC 5802 §5.1: "," and "=" in a name are sent as "=2C" and "=3D".
    let saslname = |v: String| v.replace("=2C", ",").replace("=3D", "=");
    // gs2 header: no channel binding ("n" or "y"), then an optional authzid.
    let (header, bare) = match first.splitn(3, ',').collect::<Vec<_>>()[..] {
        [flag @ ("n" | "y"), authzid, bare] if authzid.is_empty() || authzid.starts_with("a=") => {
            (&first[..flag.len() + authzid.len() + 2], bare)
        }
        _ => return s.auth_failed("[AUTH] unsupported SCRAM gs2 header").await,
    };
    let (Some(user), Some(client_nonce)) = (attr(bare, "n").map(saslname), attr(bare, "r")) else {
        return s
            .auth_failed("[AUTH] malformed SCRAM client-first message")
            .await;
    };
    // Acting as oneself is the only authorization an account has (RFC 5802
    // §5.1: the authzid is checked like PLAIN's, RFC 4616 §2).
    if attr(header, "a")
        .map(saslname)
        .is_some_and(|authzid| authzid != user)
    {
        return s
            .auth_failed("[AUTH] authorization identity not permitted")
            .await;
    }
    let rng = ring::rand::SystemRandom::new();
    let mut random = [0u8; 24];
    rng.fill(&mut random)
        .map_err(|_| io::Error::other("no randomness"))?;
    let mut salt = [0u8; 16];
    rng.fill(&mut salt)
        .map_err(|_| io::Error::other("no randomness"))?;
    let nonce = format!("{client_nonce}{}", STANDARD.encode(random));
    let server_first = format!("r={nonce},s={},i={ITERATIONS}", STANDARD.encode(salt));
    let line = format!("+ {}\r\n", STANDARD.encode(&server_first));
    let last = match challenge(s, line.as_bytes()).await? {
        Ok(r) => r,
        Err(flow) => return Ok(flow),
    };
    let last = match sasl_text(s, &last).await? {
        Ok(text) => text,
        Err(flow) => return Ok(flow),
    };
    let Some((without_proof, proof)) = last.rsplit_once(",p=") else {
        return s
            .auth_failed("[AUTH] malformed SCRAM client-final message")
            .await;
    };
    let binding_ok = attr(without_proof, "c").as_deref() == Some(&STANDARD.encode(header));
    let nonce_ok = attr(without_proof, "r").as_deref() == Some(nonce.as_str());
    let proof = STANDARD.decode(proof).unwrap_or_default();
    let auth_message = format!("{bare},{server_first},{without_proof}");
    let (mut good, mut server_signature) = (false, Vec::new());
    if let (Some(password), true, true) = (s.password_of(&user), binding_ok, nonce_ok) {
        let mut salted = vec![0u8; hash.len];
        let rounds = std::num::NonZeroU32::new(ITERATIONS).expect("non-zero");
        pbkdf2::derive(hash.pbkdf2, rounds, &salt, password.as_bytes(), &mut salted);
        let salted = hmac::Key::new(hash.hmac, &salted);
        let client_key = hmac::sign(&salted, b"Client Key");
        let stored_key = digest::digest(hash.digest, client_key.as_ref());
        let signature = hmac::sign(
            &hmac::Key::new(hash.hmac, stored_key.as_ref()),
            auth_message.as_bytes(),
        );
        let derived: Vec<u8> = proof
            .iter()
            .zip(signature.as_ref())
            .map(|(p, sig)| p ^ sig)
            .collect();
        good = proof.len() == hash.len
            && digest::digest(hash.digest, &derived).as_ref() == stored_key.as_ref();
        let server_key = hmac::sign(&salted, b"Server Key");
        server_signature = hmac::sign(
            &hmac::Key::new(hash.hmac, server_key.as_ref()),
            auth_message.as_bytes(),
        )
        .as_ref()
        .to_vec();
    }
    let lax = s.password_of(&user).is_some() && s.fault(Fault::WrongPasswordAccepted);
    if !good && !lax {
        return s.auth_failed("[AUTH] invalid credentials").await;
    }
    if !s.fault(Fault::ScramServerFinalMissing) {
        let v = format!("v={}", STANDARD.encode(&server_signature));
        let line = format!("+ {}\r\n", STANDARD.encode(v));
        let answer = match challenge(s, line.as_bytes()).await? {
            Ok(r) => r,
            Err(flow) => return Ok(flow),
        };
        if !answer.is_empty() {
            return s.auth_failed("[AUTH] expected an empty response").await;
        }
    }
    s.login(&user).await?;
    Ok(Flow::Continue)
}

/// A client's response to a challenge as text: `*` cancels the exchange
/// (RFC 5034 §4: the server MUST answer -ERR), and anything but base64 of
/// UTF-8 fails it. `Err(flow)` when the refusal has been sent.
async fn sasl_text(s: &mut Session, response: &str) -> io::Result<Result<String, Flow>> {
    if response == "*" {
        s.err("authentication cancelled").await?;
        return Ok(Err(Flow::Continue));
    }
    match STANDARD
        .decode(response.as_bytes())
        .ok()
        .and_then(|d| String::from_utf8(d).ok())
    {
        Some(text) => Ok(Ok(text)),
        None => s.auth_failed("invalid base64").await.map(Err),
    }
}

/// HMAC-MD5 (RFC 2104).
fn hmac_md5(key: &[u8], message: &[u8]) -> [u8; 16] {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..16].copy_from_slice(&Md5::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Md5::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Md5::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_md5_matches_rfc2195_example() {
        let digest = hmac_md5(
            b"tanstaaftanstaaf",
            b"<1896.697170952@postoffice.reston.mci.net>",
        );
        assert_eq!(hex(&digest), "b913a602c7eda7a495b4e6e7334d3890");
    }
}
