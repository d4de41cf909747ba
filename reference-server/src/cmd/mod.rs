//! POP3 commands: one file per command, each with `parse` (syntax only)
//! and `apply` (state rules and effects on the session).
//!
//! Parsing and state checks are split so that every refusal, wrong state or
//! bad argument alike, is a plain `-ERR` after which the session goes on.

use std::io;

use crate::faults::{Fault, FaultSet};
use crate::session::{Flow, Session};

pub mod apop;
pub mod auth;
pub mod capa;
pub mod dele;
pub mod lang;
pub mod list;
pub mod noop;
pub mod pass;
pub mod quit;
pub mod retr;
pub mod rset;
pub mod stat;
pub mod stls;
pub mod top;
pub mod uidl;
pub mod user;
pub mod utf8;

/// A syntactically split command line.
pub struct Request<'a> {
    /// The keyword exactly as sent.
    pub keyword: &'a str,
    /// Arguments split on single spaces (an empty one means a double or trailing space).
    pub args: Vec<&'a str>,
    /// Everything after the keyword and its space, for PASS (spaces allowed).
    pub rest: Option<&'a str>,
    /// The server's faults, for the few that bend argument syntax.
    pub faults: FaultSet,
}

pub type ParseResult<T> = Result<T, &'static str>;

impl<'a> Request<'a> {
    pub fn parse(line: &'a [u8]) -> ParseResult<Request<'a>> {
        if line.contains(&0) {
            return Err("NUL byte in command");
        }
        let text = std::str::from_utf8(line).map_err(|_| "command is not valid UTF-8")?;
        let (keyword, rest) = match text.split_once(' ') {
            Some((k, r)) => (k, Some(r)),
            None => (text, None),
        };
        if keyword.is_empty() {
            return Err("empty command");
        }
        let args = match rest {
            Some(r) => r.split(' ').collect(),
            None => Vec::new(),
        };
        Ok(Request {
            keyword,
            args,
            rest,
            faults: FaultSet::none(),
        })
    }

    /// Exactly `n` non-empty arguments.
    pub fn exactly(&self, n: usize) -> ParseResult<&[&'a str]> {
        self.argument_lengths()?;
        if self.faults.contains(Fault::ExtraArgumentsIgnored) && self.args.len() > n {
            return Ok(&self.args[..n]);
        }
        if self.args.len() != n {
            return Err(if self.args.len() > n {
                "too many arguments"
            } else {
                "missing argument"
            });
        }
        if self.args.iter().any(|a| a.is_empty()) {
            return Err("empty argument");
        }
        Ok(&self.args)
    }

    /// The short-argument-limit fault's fixed-size argument buffer.
    fn argument_lengths(&self) -> ParseResult<()> {
        if self.faults.contains(Fault::ShortArgumentLimit) && self.args.iter().any(|a| a.len() > 32)
        {
            return Err("argument too long");
        }
        Ok(())
    }

    /// None or one non-empty argument.
    pub fn optional(&self) -> ParseResult<Option<&'a str>> {
        self.argument_lengths()?;
        match self.args.len() {
            0 => Ok(None),
            1 if !self.args[0].is_empty() => Ok(Some(self.args[0])),
            1 => Err("empty argument"),
            _ if self.faults.contains(Fault::ExtraArgumentsIgnored) => Ok(Some(self.args[0])),
            _ => Err("too many arguments"),
        }
    }
}

/// A message number or line count: decimal digits only.
pub fn number(s: &str) -> ParseResult<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err("invalid number");
    }
    // Leading zeros carry no value, and RFC 2449 §4 lets an argument fill a
    // 255-octet command line: `LIST 000...01` is message 1.
    let digits = s.trim_start_matches('0');
    if digits.len() > 10 {
        return Err("invalid number");
    }
    if digits.is_empty() {
        return Ok(0);
    }
    digits.parse().map_err(|_| "invalid number")
}

/// A message number: a positive decimal.
pub fn msg_number(s: &str) -> ParseResult<u64> {
    match number(s)? {
        0 => Err("invalid message number"),
        n => Ok(n),
    }
}

macro_rules! run {
    ($s:expr, $req:expr, $ty:path) => {{
        match <$ty>::parse(&$req) {
            Ok(c) => c.apply($s).await,
            Err(msg) => $s.err(msg).await.map(|_| Flow::Continue),
        }
    }};
}

/// Every keyword [`dispatch`] knows.
const KEYWORDS: &[&str] = &[
    "USER", "PASS", "APOP", "AUTH", "STLS", "CAPA", "QUIT", "STAT", "LIST", "RETR", "DELE", "NOOP",
    "RSET", "TOP", "UIDL", "UTF8", "LANG",
];

/// Parse one command line and run it.
pub async fn dispatch(s: &mut Session, line: &[u8]) -> io::Result<Flow> {
    // RFC 6856 §2.2: ill-formed UTF-8 is refused (in Request::parse); the
    // fault drops the octets that are not well-formed instead.
    let dropped: Vec<u8>;
    let line = if s.fault(Fault::IllFormedUtf8Dropped) && std::str::from_utf8(line).is_err() {
        dropped = line.utf8_chunks().flat_map(|c| c.valid().bytes()).collect();
        &dropped[..]
    } else {
        line
    };
    let mut req = match Request::parse(line) {
        Ok(r) => r,
        Err(msg) => {
            s.err(msg).await?;
            return Ok(Flow::Continue);
        }
    };
    if s.fault(Fault::LowercaseQuitIgnored) && req.keyword == "quit" {
        s.err("unknown command").await?;
        return Ok(Flow::Continue);
    }
    req.faults = s.faults().clone();
    let mut keyword = if s.fault(Fault::CaseSensitiveCommands) {
        req.keyword.to_string()
    } else {
        req.keyword.to_ascii_uppercase()
    };
    if s.fault(Fault::KeywordPrefixMatch) && keyword.len() < 3 {
        let mut matches = KEYWORDS.iter().filter(|k| k.starts_with(keyword.as_str()));
        if let (Some(k), None) = (matches.next(), matches.next()) {
            keyword = k.to_string();
        }
    }
    match keyword.as_str() {
        "USER" => run!(s, req, user::User),
        "PASS" => run!(s, req, pass::Pass),
        "APOP" => run!(s, req, apop::Apop),
        "AUTH" => run!(s, req, auth::Auth),
        "STLS" => run!(s, req, stls::Stls),
        "CAPA" => run!(s, req, capa::Capa),
        "QUIT" => run!(s, req, quit::Quit),
        "STAT" => run!(s, req, stat::Stat),
        "LIST" => run!(s, req, list::List),
        "RETR" => run!(s, req, retr::Retr),
        "DELE" => run!(s, req, dele::Dele),
        "NOOP" => run!(s, req, noop::Noop),
        "RSET" => run!(s, req, rset::Rset),
        "TOP" => run!(s, req, top::Top),
        "UIDL" => run!(s, req, uidl::Uidl),
        "UTF8" => run!(s, req, utf8::Utf8),
        "LANG" => run!(s, req, lang::Lang),
        _ if s.fault(Fault::UnknownCommandOk) => {
            s.ok("").await?;
            Ok(Flow::Continue)
        }
        _ => {
            s.err("unknown command").await?;
            Ok(Flow::Continue)
        }
    }
}

/// The common refusal for a command sent in the wrong state.
pub async fn wrong_state(s: &mut Session) -> io::Result<Flow> {
    let msg = if s.in_transaction() {
        "command not valid in TRANSACTION state"
    } else {
        "command not valid in AUTHORIZATION state"
    };
    // Only a login command may carry [LOGIN-DELAY] (RFC 2449 §8.1.1): the
    // fault puts it on any refusal while a delayed user is pending.
    let delayed = !s.in_transaction()
        && s.fault(Fault::LoginDelayCodeOnOtherCommands)
        && s.pending_user
            .as_deref()
            .is_some_and(|user| s.login_too_soon(user).is_some());
    if delayed {
        // The refusal's own text follows the code (translated like any other).
        let coded = format!("[LOGIN-DELAY] {msg}");
        s.err(&coded).await?;
    } else if s.fault(Fault::WrongStateMalformedCode) {
        // Not in the language catalogue: a fault's text stays English.
        let unclosed = format!("[WRONG-STATE {msg}");
        s.err(&unclosed).await?;
    } else {
        s.err(msg).await?;
    }
    Ok(Flow::Continue)
}

/// A TRANSACTION command sent before login: refused, unless `fault` (the
/// command's `*-in-authorization` switch) is on; then answered with a bare
/// `+OK`, followed by an empty body when the reply would be `multi`-line.
pub async fn before_login(s: &mut Session, fault: Fault, multi: bool) -> io::Result<Flow> {
    if !s.fault(fault) {
        return wrong_state(s).await;
    }
    bare_ok(s, multi).await?;
    Ok(Flow::Continue)
}

/// `+OK` alone, or with an empty multi-line body: what the faults that
/// accept a command they should refuse answer.
async fn bare_ok(s: &mut Session, multi: bool) -> io::Result<()> {
    if multi {
        s.multi("", std::iter::empty(), true, true).await
    } else {
        s.ok("").await
    }
}

/// The refusal of message `n`, which [`crate::session::Txn::index`] did
/// not find; under `fault` (a `*-missing-message-ok` switch) a number beyond
/// the maildrop (not a marked message) gets [`bare_ok`] instead.
pub async fn not_found(s: &mut Session, n: u64, fault: Fault, multi: bool) -> io::Result<Flow> {
    let beyond = s
        .txn()
        .is_some_and(|t| usize::try_from(n).map_or(true, |n| n > t.maildrop.messages.len()));
    if beyond && s.fault(fault) {
        bare_ok(s, multi).await?;
    } else {
        no_such_message(s).await?;
    }
    Ok(Flow::Continue)
}

/// The common refusal for a message number that names no message, or a
/// message marked as deleted (RFC 1939 §5).
pub async fn no_such_message(s: &mut Session) -> io::Result<()> {
    if s.fault(Fault::NoSuchMessageMalformedCode) {
        let bracketed = "[no such message]";
        s.err(bracketed).await
    } else if s.fault(Fault::SysCodeWithoutLevel) {
        // RFC 3206 §4: SYS/TEMP or SYS/PERM, never SYS alone.
        s.err("[SYS] no such message").await
    } else {
        s.err("no such message").await
    }
}
