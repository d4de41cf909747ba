//! Checks, through POP3 and before any step is judged, that the server serves
//! the fixture that was just seeded: as many messages, and message n is the
//! fixture's message n. Seeding can miss in ways no scenario should be blamed
//! for (the wrong store, mail the seeding did not replace, a delivery not yet
//! picked up, a server numbering by an order the seeding does not control);
//! a verdict built on such a maildrop would be the harness's fault, so a
//! mismatch is the scenario's `error`, saying what was seen.
//!
//! The check only reads (STAT, `TOP n 0`, or `LIST n` where TOP is not
//! offered) and never judges the server: an answer it cannot use leaves the
//! question open and the scenario runs as it would have without the check.

use super::connection::{escape, Body, BodyEnd, Connection, ReadEvent};
use super::seed::{fixture_messages, wire_form};
use super::target::{Account, Log, Target};
use std::path::Path;
use std::time::Duration;
use tokio::time::Instant;

/// How long the check looks for a close (or stray bytes) after a -ERR.
const AFTER_ERR_LOOK: Duration = Duration::from_millis(50);

/// What the seeding put into the account, as the server should serve it.
#[derive(Clone, Debug)]
pub struct Seeded {
    /// Where the fixture went, for the hint when the server shows nothing
    /// (`--maildir /home/alice/Maildir`, `--seed-command`, ...).
    pub store: String,
    pub messages: Vec<SeededMessage>,
}

#[derive(Clone, Debug)]
pub struct SeededMessage {
    /// Header lines (without line ends) up to the blank line.
    pub header: Vec<Vec<u8>>,
    /// The Message-ID header's value, trimmed, when the message has one.
    pub message_id: Option<Vec<u8>>,
    /// Octets as sent: every line with CRLF, before byte-stuffing.
    pub size: usize,
}

impl SeededMessage {
    /// `bytes` is the message as the fixture file holds it (CRLF or LF).
    pub fn new(bytes: &[u8]) -> SeededMessage {
        let wire = wire_form(bytes);
        let header = header_lines(
            wire.split(|b| *b == b'\n')
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l)),
        );
        SeededMessage {
            message_id: message_id(&header),
            header,
            size: wire.len(),
        }
    }
}

impl SeededMessage {
    /// The message as delivered with Message-ID `id` in place of its own (or
    /// added after its header lines). Its size is then only what the fixture
    /// gives: a delivery agent adds header lines of its own.
    pub fn replace_message_id(&mut self, id: &[u8]) {
        let line = [&b"Message-ID: "[..], id].concat();
        let old = self
            .header
            .iter()
            .position(|l| message_id(std::slice::from_ref(l)).is_some());
        match old {
            Some(i) => {
                self.size = self.size + line.len() - self.header[i].len();
                self.header[i] = line;
            }
            None => {
                self.size += line.len() + 2;
                self.header.push(line);
            }
        }
        self.message_id = Some(id.to_vec());
    }
}

impl Seeded {
    /// Reads the fixture folder the way seeding does (same files, same order).
    pub fn from_fixture(dir: &Path, store: impl Into<String>) -> Result<Seeded, String> {
        let mut messages = Vec::new();
        for file in fixture_messages(dir)? {
            let bytes =
                std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            messages.push(SeededMessage::new(&bytes));
        }
        Ok(Seeded {
            store: store.into(),
            messages,
        })
    }
}

/// The outcome of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verification {
    /// The server serves the fixture, in order.
    Holds,
    /// It does not: the scenario cannot be judged. Says what was seen.
    Differs(String),
    /// The check could not tell (an answer it cannot use); says why.
    Unknown(String),
}

/// A check and whether the session it ran on is still in step (a read that
/// timed out or stopped half-way leaves it unusable for the scenario).
pub struct Checked {
    pub verification: Verification,
    pub session_usable: bool,
}

/// Checks on a session already logged in (in TRANSACTION). `top` says TOP may
/// be tried: announced in CAPA, or CAPA not supported. `log` gets the commands
/// and status lines (not the header lines) for the transcript.
pub async fn check_session(
    target: &Target,
    conn: &mut Connection,
    seeded: &Seeded,
    top: bool,
    log: Log<'_>,
) -> Checked {
    let mut checker = Checker {
        target,
        conn,
        log,
        usable: true,
    };
    let verification = checker.run(seeded, top).await;
    Checked {
        verification,
        session_usable: checker.usable,
    }
}

/// Checks on a session of its own: logs `account` in (retrying while the
/// maildrop is locked or under LOGIN-DELAY, like the probe), checks, QUITs
/// and waits until the server has closed, so the maildrop lock is released
/// for what comes next. For stores seeded out of band (delivery) and for an
/// account the scenario's first session does not log in.
pub async fn check_new_session(
    target: &Target,
    account: &Account,
    seeded: &Seeded,
    top: bool,
    log: Log<'_>,
) -> Verification {
    let mut conn = match target.open_logged_in(account).await {
        Ok(c) => c,
        Err(e) => {
            return Verification::Unknown(format!(
                "{} could not log in to check the seeded mail: {}",
                account.user,
                e.message()
            ))
        }
    };
    let checked = check_session(target, &mut conn, seeded, top, log).await;
    if checked.session_usable {
        let _ = target.command(&mut conn, "QUIT", "QUIT", log).await;
        let deadline = Instant::now() + Duration::from_secs(1).min(target.timeout);
        while let Ok(bytes) = conn.wait_for_bytes(deadline).await {
            if bytes.is_empty() {
                break;
            }
            conn.compact_all();
        }
    }
    conn.drop_connection().await;
    checked.verification
}

struct Checker<'c, 'l> {
    target: &'c Target,
    conn: &'c mut Connection,
    log: Log<'l>,
    usable: bool,
}

impl Checker<'_, '_> {
    async fn run(&mut self, seeded: &Seeded, top: bool) -> Verification {
        let seeded_count = seeded.messages.len();
        let stat = match self.command("STAT").await {
            Ok(Some(text)) => text,
            Ok(None) => return Verification::Unknown("STAT was refused".into()),
            Err(why) => return Verification::Unknown(why),
        };
        let Some(count) = stat_count(&stat) else {
            return Verification::Unknown(format!(
                "STAT answered `{}`, not `+OK n size`",
                escape(stat.as_bytes())
            ));
        };
        if count != seeded_count {
            return Verification::Differs(count_mismatch(seeded, count, &stat));
        }
        if seeded_count == 0 {
            return Verification::Holds;
        }
        let mut order = Vec::with_capacity(count);
        if top {
            for n in 1..=count {
                match self.top_header(n).await {
                    Ok(Some(header)) => order.push(identify_by_header(seeded, &header)),
                    // TOP refused: the sizes are all there is.
                    Ok(None) if n == 1 => return self.by_sizes(seeded).await,
                    Ok(None) => {
                        return Verification::Unknown(format!(
                            "TOP {n} 0 was refused after TOP 1 0 was answered"
                        ))
                    }
                    Err(why) => return Verification::Unknown(why),
                }
            }
        } else {
            return self.by_sizes(seeded).await;
        }
        judge_order(seeded, &order)
    }

    /// `LIST n` for every message, matched against the fixture's sizes. A
    /// size that is no fixture message's leaves the question open: counting
    /// octets is what the scenarios judge.
    async fn by_sizes(&mut self, seeded: &Seeded) -> Verification {
        let mut order = Vec::new();
        for n in 1..=seeded.messages.len() {
            let line = match self.command(&format!("LIST {n}")).await {
                Ok(Some(text)) => text,
                Ok(None) => return Verification::Unknown(format!("LIST {n} was refused")),
                Err(why) => return Verification::Unknown(why),
            };
            let size = line
                .split_whitespace()
                .nth(2)
                .and_then(|s| s.parse::<usize>().ok());
            let Some(size) = size else {
                return Verification::Unknown(format!(
                    "LIST {n} answered `{}`",
                    escape(line.as_bytes())
                ));
            };
            let matching: Vec<usize> = seeded
                .messages
                .iter()
                .enumerate()
                .filter(|(_, m)| m.size == size)
                .map(|(i, _)| i)
                .collect();
            if matching.is_empty() {
                return Verification::Unknown(format!(
                    "message {n} is {size} octets, the size of no fixture message (without TOP, sizes are all there is to tell them apart)"
                ));
            }
            order.push(Identity::Fixture(matching));
        }
        judge_order(seeded, &order)
    }

    /// Sends a command; Ok(Some(line)) for +OK, Ok(None) for -ERR.
    async fn command(&mut self, line: &str) -> Result<Option<String>, String> {
        match self
            .target
            .command(self.conn, line, line, &mut *self.log)
            .await
        {
            Ok((true, text)) => Ok(Some(text)),
            Ok((false, _)) => {
                // A server may close after any -ERR (RFC 1939 §4 allows it);
                // the scenario must not start on a session that is gone.
                let look = Instant::now() + AFTER_ERR_LOOK;
                if !matches!(self.conn.wait_for_bytes(look).await, Ok(b) if b.is_empty()) {
                    self.usable = false;
                }
                Ok(None)
            }
            Err(e) => {
                self.usable = false;
                Err(format!("`{line}`: {}", e.message()))
            }
        }
    }

    /// The header lines `TOP n 0` sends; None when TOP is refused.
    async fn top_header(&mut self, n: usize) -> Result<Option<Vec<Vec<u8>>>, String> {
        let line = format!("TOP {n} 0");
        if self.command(&line).await?.is_none() {
            return Ok(None);
        }
        let deadline = Instant::now() + self.target.timeout;
        let (body, end): (Body, BodyEnd) = self
            .conn
            .read_body(deadline, self.target.max_body, false)
            .await;
        match end {
            BodyEnd::Dot { .. } => {
                (self.log)(true, format!("({} line(s), not shown)", body.len()));
                (self.log)(true, ".".into());
                Ok(Some(header_lines(body.lines())))
            }
            BodyEnd::Broken(event) => {
                self.usable = false;
                Err(format!(
                    "`{line}` did not end with a `.` line: {}",
                    match event {
                        ReadEvent::Closed { .. } => "the server closed the connection".to_string(),
                        ReadEvent::Timeout { .. } =>
                            format!("nothing more within {:?}", self.target.timeout),
                        _ => "a line was too long".to_string(),
                    }
                ))
            }
            _ => {
                self.usable = false;
                Err(format!("`{line}` sent more than --max-body octets"))
            }
        }
    }
}

/// Which fixture message a served one is.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Identity {
    /// One of these (0-based) fixture messages (more than one when the
    /// fixture holds look-alikes).
    Fixture(Vec<usize>),
    /// Certainly none of them: its Message-ID is no fixture message's.
    Foreign(Vec<u8>),
    /// Cannot tell (no Message-ID to go by, and the header lines differ).
    Unclear,
}

/// A served header is fixture message i's when it carries i's Message-ID, or,
/// for fixture messages without one, all of i's header lines (a server may
/// add lines of its own, such as `Status:`).
fn identify_by_header(seeded: &Seeded, served: &[Vec<u8>]) -> Identity {
    let served_id = message_id(served);
    let matching: Vec<usize> = seeded
        .messages
        .iter()
        .enumerate()
        .filter(|(_, m)| match (&m.message_id, &served_id) {
            (Some(want), Some(got)) => want == got,
            _ => m.header.iter().all(|l| served.contains(l)),
        })
        .map(|(i, _)| i)
        .collect();
    if !matching.is_empty() {
        return Identity::Fixture(matching);
    }
    match served_id {
        Some(id) if seeded.messages.iter().all(|m| m.message_id.is_some()) => Identity::Foreign(id),
        _ => Identity::Unclear,
    }
}

fn judge_order(seeded: &Seeded, order: &[Identity]) -> Verification {
    let count = seeded.messages.len();
    for (i, id) in order.iter().enumerate() {
        match id {
            Identity::Foreign(msgid) => {
                return Verification::Differs(format!(
                    "seeded {count} message(s), but the server's message {} is none of them (Message-ID {}): the maildrop holds mail the seeding did not replace",
                    i + 1,
                    escape(msgid)
                ))
            }
            Identity::Unclear => {
                return Verification::Unknown(format!(
                    "message {} carries neither a fixture Message-ID nor a fixture's header lines",
                    i + 1
                ))
            }
            Identity::Fixture(_) => {}
        }
    }
    if order
        .iter()
        .enumerate()
        .all(|(i, id)| matches!(id, Identity::Fixture(c) if c.contains(&i)))
    {
        return Verification::Holds;
    }
    let seen: Vec<String> = order
        .iter()
        .map(|id| match id {
            Identity::Fixture(c) if c.len() == 1 => (c[0] + 1).to_string(),
            Identity::Fixture(c) => c
                .iter()
                .map(|i| (i + 1).to_string())
                .collect::<Vec<_>>()
                .join("|"),
            _ => "?".into(),
        })
        .collect();
    let identity: Vec<String> = (1..=count).map(|i| i.to_string()).collect();
    Verification::Differs(format!(
        "seeded {count} messages in the order {}; the server numbers them {} (its message n is the fixture's message at place n). Servers number by delivery time, file name or directory order; this one follows an order the seeding does not set, so no scenario that names a message number can be judged here",
        identity.join(","),
        seen.join(",")
    ))
}

fn count_mismatch(seeded: &Seeded, count: usize, stat: &str) -> String {
    let seeded_count = seeded.messages.len();
    let stat = escape(stat.as_bytes());
    if count == 0 {
        format!(
            "seeded {seeded_count} message(s); the server lists 0 messages (`{stat}`): is {} the store this account reads?",
            seeded.store
        )
    } else if count > seeded_count {
        format!(
            "seeded {seeded_count} message(s); the server lists {count} (`{stat}`): the maildrop holds mail the seeding did not replace (is {} the store this account reads?)",
            seeded.store
        )
    } else {
        format!(
            "seeded {seeded_count} message(s); the server lists {count} (`{stat}`): it has not picked up every message the seeding wrote into {}",
            seeded.store
        )
    }
}

/// The message count of `+OK n size`.
fn stat_count(line: &str) -> Option<usize> {
    let mut words = line.split_whitespace();
    (words.next() == Some("+OK")).then_some(())?;
    let n = words.next()?.parse().ok()?;
    words.next()?.parse::<u64>().ok()?;
    Some(n)
}

/// The header lines of a message given as lines, up to the first empty one.
fn header_lines<'a>(lines: impl Iterator<Item = &'a [u8]>) -> Vec<Vec<u8>> {
    lines
        .take_while(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn message_id(header: &[Vec<u8>]) -> Option<Vec<u8>> {
    const NAME: &[u8] = b"message-id:";
    header.iter().find_map(|l| {
        (l.len() >= NAME.len() && l[..NAME.len()].eq_ignore_ascii_case(NAME))
            .then(|| l[NAME.len()..].trim_ascii().to_vec())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeded(messages: &[&[u8]]) -> Seeded {
        Seeded {
            store: "--maildir /m".into(),
            messages: messages.iter().map(|m| SeededMessage::new(m)).collect(),
        }
    }

    const A: &[u8] = b"Subject: a\r\nMessage-ID: <a@x>\r\n\r\nA\r\n";
    const B: &[u8] = b"Subject: b\nMessage-ID: <b@x>\n\nBB\n";
    const C: &[u8] = b"Subject: c\r\n\r\nno id, no final line end";

    fn header(m: &[u8]) -> Vec<Vec<u8>> {
        SeededMessage::new(m).header
    }

    #[test]
    fn wire_sizes_and_ids() {
        let s = seeded(&[A, B, C]);
        assert_eq!(
            s.messages[1].size,
            b"Subject: b\r\nMessage-ID: <b@x>\r\n\r\nBB\r\n".len()
        );
        assert_eq!(s.messages[0].message_id.as_deref(), Some(&b"<a@x>"[..]));
        assert_eq!(s.messages[2].message_id, None);
        assert_eq!(s.messages[2].size, C.len() + 2);
    }

    #[test]
    fn order_seen_is_named() {
        let s = seeded(&[A, B, C]);
        let served = [header(B), header(C), header(A)];
        let order: Vec<Identity> = served.iter().map(|h| identify_by_header(&s, h)).collect();
        let Verification::Differs(m) = judge_order(&s, &order) else {
            panic!("a different order must be reported");
        };
        assert!(
            m.contains("seeded 3 messages in the order 1,2,3; the server numbers them 2,3,1"),
            "{m}"
        );
        let served = [header(A), header(B), header(C)];
        let order: Vec<Identity> = served.iter().map(|h| identify_by_header(&s, h)).collect();
        assert_eq!(judge_order(&s, &order), Verification::Holds);
    }

    #[test]
    fn added_header_lines_still_identify_and_strangers_are_named() {
        let s = seeded(&[C]);
        let mut served = header(C);
        served.push(b"Status: RO".to_vec());
        assert_eq!(identify_by_header(&s, &served), Identity::Fixture(vec![0]));
        let s = seeded(&[A, B]);
        let stranger = header(b"Subject: old\r\nMessage-ID: <old@x>\r\n\r\n");
        assert_eq!(
            identify_by_header(&s, &stranger),
            Identity::Foreign(b"<old@x>".to_vec())
        );
        let Verification::Differs(m) = judge_order(
            &s,
            &[
                Identity::Fixture(vec![0]),
                Identity::Foreign(b"<old@x>".to_vec()),
            ],
        ) else {
            panic!()
        };
        assert!(
            m.contains("message 2 is none of them (Message-ID <old@x>)"),
            "{m}"
        );
    }

    #[test]
    fn counts() {
        assert_eq!(stat_count("+OK 3 2634"), Some(3));
        assert_eq!(stat_count("+OK 3"), None);
        assert_eq!(stat_count("+ok 3 10"), None);
        let m = count_mismatch(&seeded(&[A]), 0, "+OK 0 0");
        assert_eq!(m, "seeded 1 message(s); the server lists 0 messages (`+OK 0 0`): is --maildir /m the store this account reads?");
    }
}
