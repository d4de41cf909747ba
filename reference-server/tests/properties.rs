//! Bounded property tests: the CI stand-in for the fuzz targets in
//! `reference-server/fuzz` (same invariants, few cases).
//!
//! Random command sequences (valid and invalid commands, random case, random
//! arguments, garbage bytes, good and bad logins) are pipelined to a running
//! server on a fresh temporary Maildir. Then, via
//! `pop3_reference_server::fuzzing::check_transcript`: no panic and no
//! dropped connection (every complete line is answered, except after QUIT),
//! every reply starts with `+OK` or `-ERR` (or is a multi-line block ending
//! in `.`, or the SASL `+ ` continuation), nothing follows the QUIT reply;
//! and via `MaildirFixture::check`: no message file changes, and one
//! disappears only if it was marked by DELE and QUIT came in TRANSACTION.

use std::time::Duration;

use base64::Engine;
use md5::{Digest, Md5};
use pop3_reference_server::fuzzing::{
    check_transcript, parse_command, MaildirFixture, MemorySession,
};
use pop3_reference_server::{RunningServer, ServerConfig, TlsSetup};
use proptest::prelude::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

const KEYWORDS: &[&str] = &[
    "USER", "PASS", "APOP", "AUTH", "STLS", "CAPA", "QUIT", "STAT", "LIST", "RETR", "DELE", "NOOP",
    "RSET", "TOP", "UIDL", "UTF8", "LANG", "XTND", "",
];

#[derive(Clone, Debug)]
enum Arg {
    Num(u64),
    Word(&'static str),
    Printable(String),
    Empty,
}

#[derive(Clone, Debug)]
enum Cmd {
    /// Keyword (with a case mask) and arguments.
    Plain(usize, Vec<bool>, Vec<Arg>),
    /// USER alice / PASS secret.
    GoodLogin,
    /// APOP with the right digest for the greeting.
    GoodApop,
    /// AUTH PLAIN with a good initial response.
    GoodAuth,
    /// Bytes without LF (any length, so some lines are over the limit).
    Garbage(Vec<u8>),
}

fn arg() -> impl Strategy<Value = Arg> {
    prop_oneof![
        4 => (0u64..8).prop_map(Arg::Num),
        1 => prop_oneof![Just(0u64), Just(u32::MAX as u64), Just(99_999_999_999u64)].prop_map(Arg::Num),
        2 => prop::sample::select(vec!["alice", "secret", "PLAIN", "plain", "*", "=", "bob",
            "AGFsaWNlAHNlY3JldA==", "AGFsaWNlAHdyb25n", "-1", "1.5", "..", "../x", "de", "en-US"]).prop_map(Arg::Word),
        1 => prop::collection::vec(0x21u8..0x7f, 1..12)
            .prop_map(|v| Arg::Printable(String::from_utf8(v).unwrap())),
        1 => Just(Arg::Empty),
    ]
}

fn cmd() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        12 => (0..KEYWORDS.len(), prop::collection::vec(any::<bool>(), 4), prop::collection::vec(arg(), 0..3))
            .prop_map(|(k, case, args)| Cmd::Plain(k, case, args)),
        2 => Just(Cmd::GoodLogin),
        1 => Just(Cmd::GoodApop),
        1 => Just(Cmd::GoodAuth),
        2 => prop_oneof![
            prop::collection::vec(any::<u8>().prop_filter("no LF", |b| *b != b'\n'), 0..40),
            prop::collection::vec(any::<u8>().prop_filter("no LF", |b| *b != b'\n'), 240..300),
        ].prop_map(Cmd::Garbage),
    ]
}

/// Render commands to the bytes sent after the greeting.
fn render(cmds: &[Cmd], crlf: &[bool], greeting: &str) -> Vec<u8> {
    let timestamp = greeting
        .find('<')
        .and_then(|i| greeting[i..].find('>').map(|j| &greeting[i..=i + j]))
        .unwrap_or("");
    let mut out = Vec::new();
    for (i, c) in cmds.iter().enumerate() {
        let eol: &[u8] = if crlf[i % crlf.len()] { b"\r\n" } else { b"\n" };
        match c {
            Cmd::Plain(k, case, args) => {
                for (j, ch) in KEYWORDS[*k].chars().enumerate() {
                    let lower = case[j % case.len()];
                    out.push(if lower { ch.to_ascii_lowercase() } else { ch } as u8);
                }
                for a in args {
                    out.push(b' ');
                    match a {
                        Arg::Num(n) => out.extend_from_slice(n.to_string().as_bytes()),
                        Arg::Word(w) => out.extend_from_slice(w.as_bytes()),
                        Arg::Printable(p) => out.extend_from_slice(p.as_bytes()),
                        Arg::Empty => {}
                    }
                }
            }
            Cmd::GoodLogin => {
                out.extend_from_slice(b"USER alice");
                out.extend_from_slice(eol);
                out.extend_from_slice(b"PASS secret");
            }
            Cmd::GoodApop => {
                let d = Md5::digest(format!("{timestamp}secret"));
                let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
                out.extend_from_slice(format!("APOP alice {hex}").as_bytes());
            }
            Cmd::GoodAuth => {
                let b = base64::engine::general_purpose::STANDARD.encode(b"\0alice\0secret");
                out.extend_from_slice(format!("AUTH PLAIN {b}").as_bytes());
            }
            Cmd::Garbage(g) => out.extend_from_slice(g),
        }
        out.extend_from_slice(eol);
    }
    out
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn plain_config(root: &std::path::Path) -> ServerConfig {
    let mut cfg = ServerConfig::new(root, MaildirFixture::users());
    cfg.tls = TlsSetup::None;
    cfg.tls_listen = None;
    cfg.idle_timeout = Duration::from_secs(20);
    cfg
}

/// One case over TCP: pipeline the script in `chunks`, read to EOF.
async fn tcp_case(cmds: Vec<Cmd>, crlf: Vec<bool>, chunk: usize) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let fx = MaildirFixture::create(dir.path()).unwrap();
    let server = RunningServer::start(plain_config(dir.path()))
        .await
        .unwrap();
    let sock = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    let mut greeting = String::new();
    r.read_line(&mut greeting).await.unwrap();
    let script = render(&cmds, &crlf, &greeting);
    let to_send = script.clone();
    let writer = tokio::spawn(async move {
        for piece in to_send.chunks(chunk) {
            if w.write_all(piece).await.is_err() {
                return; // the server closed after QUIT
            }
            tokio::task::yield_now().await;
        }
        let _ = w.shutdown().await;
    });
    let mut output = greeting.into_bytes();
    tokio::time::timeout(Duration::from_secs(10), r.read_to_end(&mut output))
        .await
        .map_err(|_| "server neither answered nor closed within 10 s".to_string())?
        .map_err(|e| format!("read error (connection reset?): {e}"))?;
    writer.await.unwrap();
    let outcome = check_transcript(&script, &output).map_err(|e| {
        format!(
            "{e}\n--- script ---\n{}\n--- output ---\n{}",
            String::from_utf8_lossy(&script),
            String::from_utf8_lossy(&output)
        )
    })?;
    fx.check(&outcome)?;
    // The session is over: its lock must be free for the next one.
    tokio::time::timeout(Duration::from_secs(5), server.shutdown())
        .await
        .map_err(|_| "shutdown hangs".to_string())?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_sessions_over_tcp_keep_the_invariants(
        cmds in prop::collection::vec(cmd(), 1..40),
        crlf in prop::collection::vec(prop::bool::weighted(0.8), 1..8),
        chunk in prop_oneof![Just(1usize << 20), 1usize..64],
    ) {
        let rt = runtime();
        rt.block_on(tcp_case(cmds, crlf, chunk)).map_err(TestCaseError::fail)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Same invariants as the `session` fuzz target (arbitrary bytes over an
    /// in-memory pipe), with scripts biased towards a login so that
    /// TRANSACTION commands are reached.
    #[test]
    fn random_byte_scripts_in_memory(
        login in any::<bool>(),
        cmds in prop::collection::vec(cmd(), 0..20),
        tail in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let fx = MaildirFixture::create(dir.path()).unwrap();
        let mut script = if login { b"USER alice\r\nPASS secret\r\n".to_vec() } else { Vec::new() };
        script.extend(render(&cmds, &[true], ""));
        script.extend(tail);
        let rt = runtime();
        let output = rt.block_on(async {
            MemorySession::new(plain_config(dir.path())).unwrap().run(&script).await
        });
        let outcome = check_transcript(&script, &output).map_err(|e| TestCaseError::fail(format!(
            "{e}\n--- output ---\n{}", String::from_utf8_lossy(&output))))?;
        fx.check(&outcome).map_err(TestCaseError::fail)?;
    }

    /// The `parse_command` fuzz target: never panics.
    #[test]
    fn parser_never_panics(line in prop::collection::vec(any::<u8>(), 0..300)) {
        parse_command(&line);
    }
}

/// The transcript checker itself must catch what it claims to catch.
#[test]
fn checker_rejects_broken_transcripts() {
    let script = b"USER alice\r\nPASS secret\r\nDELE 1\r\nLIST\r\nQUIT\r\n";
    let good = b"+OK hi\r\n+OK\r\n+OK in\r\n+OK\r\n+OK\r\n2 5\r\n.\r\n+OK bye\r\n";
    let o = check_transcript(script, good).unwrap();
    assert!(o.quit_in_transaction && o.marked.contains(&1));
    // Dropped before the last reply.
    assert!(check_transcript(script, &good[..good.len() - 9]).is_err());
    // Multi-line block without its terminator.
    assert!(check_transcript(
        script,
        b"+OK hi\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\n2 5\r\n+OK bye\r\n"
    )
    .is_err());
    // A reply that is not a status line.
    assert!(check_transcript(b"NOOP\r\n", b"+OK hi\r\nOK\r\n").is_err());
    // Bytes after the QUIT reply.
    assert!(check_transcript(b"QUIT\r\n", b"+OK hi\r\n+OK\r\n+OK\r\n").is_err());
    // Over-long line accepted.
    let long = format!("NOOP {}\r\n", "x".repeat(300));
    assert!(check_transcript(long.as_bytes(), b"+OK hi\r\n+OK\r\n").is_err());
}
