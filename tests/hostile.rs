//! Hostile servers: each test runs the real binary against a fake server that
//! misbehaves in one way during the first scenario and behaves on the next
//! connection, and checks that the run ends within its timeouts, that the
//! verdict names what happened and where, that the next scenario still runs and
//! passes, that the read limits hold, and that no raw control byte or invalid
//! UTF-8 reaches the console, the JSON report or the JUnit file.
//!
//! Memory: the streaming tests run the binary under GNU `/usr/bin/time -v` and
//! assert its peak RSS; without `/usr/bin/time` they rely on the limits alone.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;
use support::*;

/// Every run here uses `--timeout 1s` (and `--connect-timeout 2s`); a run that
/// takes this long has waited on something unbounded.
const BOUND: Duration = Duration::from_secs(6);
const MAX_LINE: &str = "65536";
const MAX_BODY: &str = "1048576";
/// Peak RSS a run may reach while the server offers far more than the limits.
const RSS_BOUND_KB: u64 = 64 * 1024;

const NEXT_ID: &str = "hostile.z.next";
const NEXT: &str = "  - send: NOOP\n  - expect: { status: ok }\n";

fn good() -> Script {
    Script::new().on("NOOP", "+OK\r\n")
}

/// Writes the hostile scenario (file `1-...`, so it runs first) and the
/// passing one after it; returns the hostile scenario's text.
fn write_pair(ws: &Workspace, id: &str, extra: &str, steps: &str) -> String {
    let text = scenario(id, "must", extra, steps);
    ws.write("1-hostile.yaml", &text);
    ws.write("2-next.yaml", &scenario(NEXT_ID, "must", "", NEXT));
    text
}

/// The checks every hostile run shares.
fn assert_contained(out: &RunOutput, id: &str, outcome: &str, message_parts: &[&str]) {
    assert_contained_within(out, BOUND, id, outcome, message_parts)
}

/// [`assert_contained`] for a run whose timeouts allow up to `bound`.
fn assert_contained_within(
    out: &RunOutput,
    bound: Duration,
    id: &str,
    outcome: &str,
    message_parts: &[&str],
) {
    assert!(
        out.elapsed < bound,
        "took {:?}, more than its timeouts allow ({bound:?})\n{}",
        out.elapsed,
        out.dump()
    );
    assert_eq!(out.code, 1, "{}", out.dump());
    assert_eq!(out.outcome(id), outcome, "{}", out.dump());
    let message = out.message(id);
    for part in message_parts {
        assert!(
            message.contains(part),
            "message {message:?} lacks {part:?}\n{}",
            out.dump()
        );
    }
    assert!(
        out.stdout.contains(id),
        "the console names the scenario\n{}",
        out.dump()
    );
    assert_eq!(
        out.outcome(NEXT_ID),
        "pass",
        "the next scenario still runs\n{}",
        out.dump()
    );
    assert_no_raw_bytes(out);
}

fn assert_step(out: &RunOutput, id: &str, text: &str, marker: &str) {
    assert_eq!(
        out.step_pos(id),
        Some((line_of(text, marker), step_col(text, marker))),
        "{}",
        out.dump()
    );
}

fn assert_rss(peak: Option<u64>, out: &RunOutput) {
    match peak {
        Some(kb) => {
            eprintln!("peak RSS {kb} KiB, run took {:?}", out.elapsed);
            assert!(
                kb < RSS_BOUND_KB,
                "peak RSS {kb} KiB exceeds {RSS_BOUND_KB} KiB\n{}",
                out.dump()
            )
        }
        None => eprintln!("/usr/bin/time not found: peak RSS not measured"),
    }
}

/// No NUL, ESC or U+FFFD (a lossy stand-in for invalid UTF-8) in stdout, in any
/// string of the JSON report or its text, or in the JUnit file, which must be
/// UTF-8 and well-formed.
fn assert_no_raw_bytes(out: &RunOutput) {
    let mut problems = Vec::new();
    let mut check = |what: &str, s: &str| {
        for bad in ['\u{0}', '\u{1b}', '\u{fffd}'] {
            if s.contains(bad) {
                problems.push(format!("{what} holds {bad:?}: {s:?}"));
            }
        }
    };
    check("stdout", &out.stdout);
    check(
        "the JSON text",
        out.json_text.as_deref().expect("JSON written"),
    );
    fn walk(v: &serde_json::Value, f: &mut dyn FnMut(&str)) {
        match v {
            serde_json::Value::String(s) => f(s),
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, f)),
            serde_json::Value::Object(o) => o.values().for_each(|x| walk(x, f)),
            _ => {}
        }
    }
    walk(out.json.as_ref().unwrap(), &mut |s| {
        check("a JSON string", s)
    });
    let junit = out.junit.as_deref().expect("JUnit written");
    check("the JUnit file", junit);
    if let Err(e) = roxmltree::Document::parse(junit) {
        problems.push(format!("the JUnit file is not well-formed: {e}"));
    }
    assert!(
        problems.is_empty(),
        "raw bytes leak:\n{}",
        problems.join("\n")
    );
}

fn transcript(out: &RunOutput, id: &str) -> Vec<String> {
    out.scenario(id)["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["text"].as_str().unwrap().to_string())
        .collect()
}

// ---------------------------------------------------------------- greetings

#[test]
fn no_greeting_at_all() {
    // Connection 0 is the probe; 1 and 2 are the two hostile scenarios.
    let server = FakeServer::start_each(|i| match i {
        1 | 2 => good().greeting(vec![Act::Hang]),
        _ => good(),
    });
    let ws = Workspace::new();
    let text = write_pair(
        &ws,
        "hostile.a.no-greeting-step",
        "state: connected\n",
        "  - expect: { status: ok }  # HERE\n",
    );
    // The same server silence as the precondition of a scenario.
    ws.write(
        "1b-hostile.yaml",
        &scenario("hostile.b.no-greeting-precondition", "must", "", NEXT),
    );
    let out = ws.run(server.port, &[]);
    assert_contained(
        &out,
        "hostile.a.no-greeting-step",
        "error",
        &["no complete response line within 1s"],
    );
    assert_step(&out, "hostile.a.no-greeting-step", &text, "# HERE");
    assert_eq!(
        out.outcome("hostile.b.no-greeting-precondition"),
        "error",
        "{}",
        out.dump()
    );
    let m = out.message("hostile.b.no-greeting-precondition");
    assert!(m.contains("greeting") && m.contains("1s"), "{m}");
}

#[test]
fn greeting_trickled_one_byte_per_second_ends_at_the_step_deadline() {
    let trickle: Vec<Act> = b"+OK slow\r\n"
        .iter()
        .flat_map(|b| [Act::Send(vec![*b]), Act::Sleep(Duration::from_secs(1))])
        .collect();
    let server = FakeServer::start_each(move |i| match i {
        1 => good().greeting(trickle.clone()),
        _ => good(),
    });
    let ws = Workspace::new();
    let text = write_pair(
        &ws,
        "hostile.a.trickle",
        "state: connected\n",
        "  - expect: { status: ok }  # HERE\n",
    );
    let out = ws.run(server.port, &[]);
    assert_contained(
        &out,
        "hostile.a.trickle",
        "error",
        &["no complete response line within 1s", "without CRLF"],
    );
    assert_step(&out, "hostile.a.trickle", &text, "# HERE");
    // The 10-byte greeting would take 10 s; the step deadline stops it at 1 s.
    let took = out.scenario("hostile.a.trickle")["duration"]
        .as_f64()
        .expect("duration in seconds");
    assert!(
        took < 2.5,
        "the trickled scenario took {took} s\n{}",
        out.dump()
    );
}

// ---------------------------------------------------------------- size limits

#[test]
fn endless_line_without_crlf_stops_at_max_line() {
    let server = FakeServer::start(good().on_acts(
        "LONG",
        vec![Act::Stream {
            chunk: b"A\x00\x1b".to_vec(),
            total: u64::MAX,
        }],
    ));
    let ws = Workspace::new();
    let text = write_pair(
        &ws,
        "hostile.a.endless-line",
        "",
        "  - send: LONG\n  - expect: { status: ok }  # HERE\n",
    );
    let (out, peak) = ws.run_measured(server.port, &["--max-line", MAX_LINE]);
    assert_contained(
        &out,
        "hostile.a.endless-line",
        "fail",
        &["exceeded 65536 octets without a line end"],
    );
    assert_step(&out, "hostile.a.endless-line", &text, "# HERE");
    assert_rss(peak, &out);
}

#[test]
fn endless_multiline_body_stops_at_max_body() {
    let server = FakeServer::start(good().on_acts(
        "RETR 1",
        vec![
            Act::Send(b"+OK endless\r\n".to_vec()),
            Act::Stream {
                chunk: b"body line \x00\x1b[31m\xff\r\n".to_vec(),
                total: u64::MAX,
            },
        ],
    ));
    let ws = Workspace::new();
    let text = write_pair(
        &ws,
        "hostile.a.endless-body",
        "",
        "  - send: RETR 1\n  - expect_multiline: { status: ok }  # HERE\n",
    );
    let (out, peak) = ws.run_measured(
        server.port,
        &["--max-line", MAX_LINE, "--max-body", MAX_BODY],
    );
    assert_contained(
        &out,
        "hostile.a.endless-body",
        "fail",
        &["exceeded the limit of 1048576 octets (--max-body)"],
    );
    assert_step(&out, "hostile.a.endless-body", &text, "# HERE");
    assert_rss(peak, &out);
}

#[test]
fn hundred_megabyte_response_stops_at_max_body() {
    const SIZE: u64 = 100 * 1024 * 1024;
    let server = FakeServer::start(good().on_acts(
        "RETR 1",
        vec![
            Act::Send(format!("+OK {SIZE} octets\r\n").into_bytes()),
            Act::Stream {
                chunk: [b"x".repeat(78), b"\r\n".to_vec()].concat(),
                total: SIZE,
            },
            Act::Send(b".\r\n".to_vec()),
        ],
    ));
    let ws = Workspace::new();
    let text = write_pair(
        &ws,
        "hostile.a.100mb",
        "",
        "  - send: RETR 1\n  - expect_multiline: { status: ok }  # HERE\n",
    );
    let (out, peak) = ws.run_measured(
        server.port,
        &["--max-line", MAX_LINE, "--max-body", MAX_BODY],
    );
    assert_contained(
        &out,
        "hostile.a.100mb",
        "fail",
        &["exceeded the limit of 1048576 octets (--max-body)"],
    );
    assert_step(&out, "hostile.a.100mb", &text, "# HERE");
    assert_rss(peak, &out);
}

/// CAPA answered with a capability list that never ends, on every connection:
/// the start-up probe (before and after login) and a scenario step all read it
/// under --max-body, and the run header prints a few lines, not the flood.
///
/// Each of those three reads must take in 1 MiB of short, escaped lines
/// before --max-body stops it, which a debug build on a loaded machine does
/// not always manage within the 1s the other tests use (the step then ended
/// on its read deadline instead, and the verdict named the timeout). So this
/// run gets a step timeout no read of 1 MiB comes near, and --max-body alone
/// must be what stops every read.
#[test]
fn endless_multiline_capa_stops_at_max_body_everywhere() {
    const TIMEOUT: &str = "60s";
    const TIMEOUT_BOUND: Duration = Duration::from_secs(60);
    let server = FakeServer::start(good().account("user", "secret").on_acts(
        "CAPA",
        vec![
            Act::Send(b"+OK endless capabilities\r\n".to_vec()),
            Act::Stream {
                chunk: b"X-CAP\x00\x1b[31m\xff\r\n\r\n..\r\nUIDL\r\n".to_vec(),
                total: u64::MAX,
            },
        ],
    ));
    let ws = Workspace::new();
    let text = write_pair(
        &ws,
        "hostile.a.endless-capa",
        "",
        "  - send: CAPA\n  - expect_multiline: { status: ok }  # HERE\n",
    );
    let (out, peak) = ws.run_measured_timeout(
        server.port,
        TIMEOUT,
        &["--max-body", MAX_BODY, "--user", "user", "--pass", "secret"],
    );
    assert_contained_within(
        &out,
        TIMEOUT_BOUND,
        "hostile.a.endless-capa",
        "fail",
        &["exceeded the limit of 1048576 octets (--max-body)"],
    );
    assert_step(&out, "hostile.a.endless-capa", &text, "# HERE");
    assert_rss(peak, &out);
    let header: Vec<&str> = out.stdout.lines().take_while(|l| !l.is_empty()).collect();
    // Both lists, before and after login.
    let capa: Vec<&&str> = header
        .iter()
        .filter(|l| l.trim_start().starts_with("CAPA "))
        .collect();
    assert_eq!(capa.len(), 2, "the header shows CAPA\n{}", out.dump());
    for line in capa {
        assert!(
            line.len() < 1000 && line.contains("more"),
            "the header's CAPA line is {} characters\n{}",
            line.len(),
            out.dump()
        );
    }
    // The probe's read stops at --max-body, and the header says so (one
    // warning for both lists: the first problem found).
    assert!(
        header
            .iter()
            .any(|l| l.contains("CAPA response exceeded 1048576 octets (--max-body)")),
        "the header says the CAPA response was cut off at --max-body\n{}",
        out.dump()
    );
    assert!(
        out.stdout.len() < 64 * 1024,
        "stdout is {} bytes\n{}",
        out.stdout.len(),
        out.dump()
    );
}

// ---------------------------------------------------------------- bytes and line ends

#[test]
fn nul_bytes_and_invalid_utf8_are_escaped_everywhere() {
    let server = FakeServer::start_each(|i| match i {
        // A greeting that is not +OK and holds raw bytes: its text ends up in
        // the finding's message.
        2 => good().greeting(vec![Act::Send(
            b"-ERR a\x00b\x1b[2Jc\xff\xfed\r\n".to_vec(),
        )]),
        _ => good()
            .on("HOSTILE", b"+OK a\x00b\x1b[31mc\xffd\r\n")
            .on("RETR 1", b"+OK\r\nx\x00y\x1b]0;title\x07z\xfe\r\n.\r\n"),
    });
    let ws = Workspace::new();
    let text = write_pair(
        &ws,
        "hostile.a.bytes-line",
        "",
        "  - send: HOSTILE\n  - expect: { status: ok, line: \"+OK plain\" }  # HERE\n",
    );
    ws.write(
        "1b-hostile.yaml",
        &scenario("hostile.b.bytes-greeting", "must", "", NEXT),
    );
    ws.write(
        "1c-hostile.yaml",
        &scenario(
            "hostile.c.bytes-body",
            "must",
            "",
            "  - send: RETR 1\n  - expect_multiline: { lines: [\"plain\"] }\n",
        ),
    );
    let out = ws.run(server.port, &["--verbose"]);
    assert_contained(
        &out,
        "hostile.a.bytes-line",
        "fail",
        &["the response line differs"],
    );
    assert_step(&out, "hostile.a.bytes-line", &text, "# HERE");
    assert!(
        transcript(&out, "hostile.a.bytes-line")
            .iter()
            .any(|t| t == r"+OK a\x00b\x1b[31mc\xffd"),
        "{}",
        out.dump()
    );
    assert_eq!(
        out.outcome("hostile.b.bytes-greeting"),
        "fail",
        "{}",
        out.dump()
    );
    let m = out.message("hostile.b.bytes-greeting");
    assert!(m.contains("greeting"), "{m}");
    assert!(m.contains(r"a\x00b\x1b[2Jc\xff\xfed"), "{m}");
    assert_eq!(
        out.outcome("hostile.c.bytes-body"),
        "fail",
        "{}",
        out.dump()
    );
    assert!(
        transcript(&out, "hostile.c.bytes-body")
            .iter()
            .any(|t| t == r"x\x00y\x1b]0;title\x07z\xfe"),
        "{}",
        out.dump()
    );
    let junit = out.junit.as_deref().unwrap();
    assert!(
        junit.contains(r"\x00") && junit.contains(r"\xff"),
        "{junit}"
    );
}

#[test]
fn bare_cr_line_ends_are_not_lines() {
    let server = FakeServer::start(
        good()
            .on("CR", "+OK one\r+OK two\r")
            .on("RETR 1", "+OK\r\nline one\rline two\r.\r"),
    );
    let ws = Workspace::new();
    let text = write_pair(
        &ws,
        "hostile.a.bare-cr",
        "",
        "  - send: CR\n  - expect: { status: ok }  # HERE\n",
    );
    ws.write(
        "1b-hostile.yaml",
        &scenario(
            "hostile.b.bare-cr-body",
            "must",
            "",
            "  - send: RETR 1\n  - expect_multiline: { status: ok }\n",
        ),
    );
    let out = ws.run(server.port, &[]);
    assert_contained(
        &out,
        "hostile.a.bare-cr",
        "error",
        &[r"(received `+OK one\r+OK two\r` without CRLF)"],
    );
    assert_step(&out, "hostile.a.bare-cr", &text, "# HERE");
    assert_eq!(
        out.outcome("hostile.b.bare-cr-body"),
        "fail",
        "{}",
        out.dump()
    );
    let m = out.message("hostile.b.bare-cr-body");
    assert!(m.contains("did not end with a `.` line within 1s"), "{m}");
}

#[test]
fn bare_lf_line_ends_fail() {
    let server = FakeServer::start(
        good()
            .on("LF", "+OK bare\n")
            .on("RETR 1", "+OK\r\nline one\nline two\n.\n"),
    );
    let ws = Workspace::new();
    let text = write_pair(
        &ws,
        "hostile.a.bare-lf",
        "",
        "  - send: LF\n  - expect: { status: ok }  # HERE\n",
    );
    ws.write(
        "1b-hostile.yaml",
        &scenario(
            "hostile.b.bare-lf-body",
            "must",
            "",
            "  - send: RETR 1\n  - expect_multiline: { status: ok }\n",
        ),
    );
    let out = ws.run(server.port, &[]);
    assert_contained(&out, "hostile.a.bare-lf", "fail", &["ends with a bare LF"]);
    assert_step(&out, "hostile.a.bare-lf", &text, "# HERE");
    assert_eq!(
        out.outcome("hostile.b.bare-lf-body"),
        "fail",
        "{}",
        out.dump()
    );
    let m = out.message("hostile.b.bare-lf-body");
    assert!(m.contains("body line 1 ends with a bare LF"), "{m}");
}

// ---------------------------------------------------------------- closes and resets

#[test]
fn close_in_the_middle_of_a_response() {
    let server = FakeServer::start(
        good()
            .on_acts("HALF", vec![Act::Send(b"+O".to_vec()), Act::Close])
            .on_acts(
                "RETR 1",
                vec![Act::Send(b"+OK\r\nline one\r\nline t".to_vec()), Act::Close],
            ),
    );
    let ws = Workspace::new();
    let text = write_pair(
        &ws,
        "hostile.a.close-line",
        "",
        "  - send: HALF\n  - expect: { status: ok }  # HERE\n",
    );
    ws.write(
        "1b-hostile.yaml",
        &scenario(
            "hostile.b.close-body",
            "must",
            "",
            "  - send: RETR 1\n  - expect_multiline: { status: ok }\n",
        ),
    );
    let out = ws.run(server.port, &[]);
    assert_contained(
        &out,
        "hostile.a.close-line",
        "fail",
        &["closed the connection instead of answering"],
    );
    assert_step(&out, "hostile.a.close-line", &text, "# HERE");
    assert_eq!(
        out.outcome("hostile.b.close-body"),
        "fail",
        "{}",
        out.dump()
    );
    let m = out.message("hostile.b.close-body");
    assert!(
        m.contains("without the terminating `.` line")
            && m.contains("closed the connection after 1 line(s)"),
        "{m}"
    );
}

#[test]
fn connection_reset_by_the_server() {
    let server = FakeServer::start(good().on_acts("RESET", vec![Act::Reset]));
    let ws = Workspace::new();
    let text = write_pair(
        &ws,
        "hostile.a.reset",
        "",
        "  - send: RESET\n  - expect: { status: ok }  # HERE\n",
    );
    let out = ws.run(server.port, &[]);
    assert_contained(&out, "hostile.a.reset", "fail", &["reset the connection"]);
    assert_step(&out, "hostile.a.reset", &text, "# HERE");
    assert!(
        transcript(&out, "hostile.a.reset")
            .iter()
            .any(|t| t.starts_with("connection reset (")),
        "{}",
        out.dump()
    );
}

#[test]
fn refused_connection() {
    // Nothing listens: the probe cannot connect, nothing runs, exit 3.
    let ws = Workspace::new();
    write_pair(&ws, "hostile.a.refused", "", NEXT);
    let port = dead_port();
    let out = ws.run(port, &[]);
    assert!(out.elapsed < BOUND, "{:?}\n{}", out.elapsed, out.dump());
    assert_eq!(out.code, 3, "{}", out.dump());
    assert!(
        out.stderr
            .contains(&format!("cannot connect to 127.0.0.1:{port}"))
            && out.stderr.contains("nothing was run"),
        "{}",
        out.dump()
    );

    // Refused in the middle of a run (a second session to a dead TLS port):
    // that scenario errors at its step and the next one still runs.
    let server = FakeServer::start(good());
    let text = write_pair(
        &ws,
        "hostile.a.refused",
        "requires: [implicit-tls]\n",
        "  - connect: { session: s, tls: true }  # HERE\n",
    );
    let out = ws.run(
        server.port,
        &["--tls-port", &port.to_string(), "--insecure"],
    );
    assert_contained(
        &out,
        "hostile.a.refused",
        "error",
        &[&format!("cannot connect to 127.0.0.1:{port}")],
    );
    assert_step(&out, "hostile.a.refused", &text, "# HERE");
}

// ---------------------------------------------------------------- TLS

#[derive(Clone, Copy, Debug)]
enum TlsMode {
    /// A POP3 server over TLS: greeting, NOOP and QUIT.
    Good,
    /// Reads the ClientHello and answers with bytes that are not TLS.
    Garbage,
    /// Reads the ClientHello and never answers.
    Stall,
    /// Like `Good`, but after QUIT's answer closes TCP without close_notify.
    NoCloseNotify,
}

/// A TLS fake on 127.0.0.1 with a fresh self-signed certificate; connection N
/// (0-based) behaves as `mode_for(N)`.
fn tls_server(mode_for: impl Fn(usize) -> TlsMode + Send + 'static) -> u16 {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let cert = ck.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        ck.signing_key.serialize_der(),
    ));
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { continue };
            let mode = mode_for(i);
            let config = config.clone();
            std::thread::spawn(move || serve_tls(stream, mode, config));
        }
    });
    port
}

fn serve_tls(mut tcp: TcpStream, mode: TlsMode, config: Arc<rustls::ServerConfig>) {
    let drain = |tcp: &mut TcpStream| {
        let mut sink = [0u8; 4096];
        while matches!(tcp.read(&mut sink), Ok(n) if n > 0) {}
    };
    match mode {
        TlsMode::Garbage => {
            let mut hello = [0u8; 4096];
            let _ = tcp.read(&mut hello);
            let _ = tcp.write_all(b"-ERR this is not TLS\r\n\x00\xff\x1b[31m");
            drain(&mut tcp);
        }
        TlsMode::Stall => {
            let mut hello = [0u8; 4096];
            let _ = tcp.read(&mut hello);
            drain(&mut tcp);
        }
        TlsMode::Good | TlsMode::NoCloseNotify => {
            let Ok(conn) = rustls::ServerConnection::new(config) else {
                return;
            };
            let mut tls = BufReader::new(rustls::StreamOwned::new(conn, tcp));
            if tls.get_mut().write_all(b"+OK TLS fake ready\r\n").is_err() {
                return;
            }
            let _ = tls.get_mut().flush();
            let mut line = String::new();
            while matches!(tls.read_line(&mut line), Ok(n) if n > 0) {
                let reply: &[u8] = match line.trim_end() {
                    "NOOP" => b"+OK\r\n",
                    "QUIT" => b"+OK bye\r\n",
                    _ => b"-ERR unknown command\r\n",
                };
                let quit = line.trim_end() == "QUIT";
                let s = tls.get_mut();
                if s.write_all(reply).and_then(|_| s.flush()).is_err() || quit {
                    if matches!(mode, TlsMode::Good) {
                        s.conn.send_close_notify();
                        let _ = s.flush();
                    }
                    let _ = s.sock.shutdown(std::net::Shutdown::Both);
                    return;
                }
                line.clear();
            }
        }
    }
}

/// `--tls --insecure`: the probe (connection 0) finds a good TLS server, the
/// first scenario's connection meets `mode`, the next one a good server again.
fn tls_precondition(mode: TlsMode, id: &str, parts: &[&str]) {
    let port = tls_server(move |i| if i == 1 { mode } else { TlsMode::Good });
    let ws = Workspace::new();
    write_pair(&ws, id, "", NEXT);
    let out = ws.run(port, &["--tls", "--insecure"]);
    assert_contained(&out, id, "error", parts);
    // The handshake is the scenario's precondition, before any step: the
    // finding has no step position.
    assert_eq!(out.step_pos(id), None, "{}", out.dump());
}

/// `--tls-port` and a `connect: {tls: true}` step: the same failures, at a step.
fn tls_step(mode: TlsMode, id: &str, parts: &[&str]) {
    let plain = FakeServer::start(good());
    let tls_port = tls_server(move |i| if i == 0 { mode } else { TlsMode::Good });
    let ws = Workspace::new();
    let text = write_pair(
        &ws,
        id,
        "requires: [implicit-tls]\n",
        "  - connect: { session: s, tls: true }  # HERE\n",
    );
    ws.write(
        "3-next-tls.yaml",
        &scenario(
            "hostile.z.next-tls",
            "must",
            "requires: [implicit-tls]\n",
            "  - connect: { session: s, tls: true }\n  - { send: NOOP, session: s }\n  - { expect: { status: ok }, session: s }\n",
        ),
    );
    let out = ws.run(
        plain.port,
        &["--tls-port", &tls_port.to_string(), "--insecure"],
    );
    assert_contained(&out, id, "error", parts);
    assert_step(&out, id, &text, "# HERE");
    assert_eq!(out.outcome("hostile.z.next-tls"), "pass", "{}", out.dump());
}

#[test]
fn tls_handshake_answered_with_garbage() {
    tls_precondition(
        TlsMode::Garbage,
        "hostile.a.tls-garbage",
        &["TLS handshake failed"],
    );
    tls_step(
        TlsMode::Garbage,
        "hostile.a.tls-garbage-step",
        &["TLS handshake failed"],
    );
}

#[test]
fn tls_handshake_that_stalls() {
    tls_precondition(
        TlsMode::Stall,
        "hostile.a.tls-stall",
        &["TLS handshake did not finish"],
    );
    tls_step(
        TlsMode::Stall,
        "hostile.a.tls-stall-step",
        &["TLS handshake did not finish"],
    );
}

#[test]
fn certificate_that_does_not_verify_is_refused_by_the_probe() {
    let port = tls_server(|_| TlsMode::Good);
    let ws = Workspace::new();
    write_pair(&ws, "hostile.a.untrusted", "", NEXT);
    let out = ws.run(port, &["--tls"]);
    assert!(out.elapsed < BOUND, "{:?}\n{}", out.elapsed, out.dump());
    assert_eq!(out.code, 3, "{}", out.dump());
    for part in [
        "did not verify",
        "--insecure",
        "--ca-file",
        "nothing was run",
    ] {
        assert!(out.stderr.contains(part), "lacks {part:?}\n{}", out.dump());
    }
    // The same server is fine once the user opts out of verification.
    let out = ws.run(port, &["--tls", "--insecure"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(out.outcome(NEXT_ID), "pass", "{}", out.dump());
}

#[test]
fn tls_close_without_close_notify_is_told_apart() {
    let steps = "  - connect: { session: s, tls: true }\n  - { send: QUIT, session: s }\n  - { expect: { status: ok }, session: s }\n  - expect_close: { close_notify: true }  # HERE\n    session: s\n";
    for (mode, outcome) in [(TlsMode::Good, "pass"), (TlsMode::NoCloseNotify, "fail")] {
        let plain = FakeServer::start(good());
        let tls_port = tls_server(move |_| mode);
        let ws = Workspace::new();
        let text = write_pair(
            &ws,
            "hostile.a.close-notify",
            "requires: [implicit-tls]\n",
            steps,
        );
        let out = ws.run(
            plain.port,
            &["--tls-port", &tls_port.to_string(), "--insecure"],
        );
        assert!(out.elapsed < BOUND, "{:?}\n{}", out.elapsed, out.dump());
        if outcome == "pass" {
            assert_eq!(
                out.outcome("hostile.a.close-notify"),
                "pass",
                "{}",
                out.dump()
            );
            let t = transcript(&out, "hostile.a.close-notify").join("\n");
            assert!(t.contains("ended with close_notify"), "{t}");
        } else {
            assert_contained(
                &out,
                "hostile.a.close-notify",
                "fail",
                &["without ending the TLS session with close_notify"],
            );
            assert_step(&out, "hostile.a.close-notify", &text, "# HERE");
        }
        assert_eq!(out.outcome(NEXT_ID), "pass", "{}", out.dump());
    }
    // On a plain connection the option is a mistake in the scenario.
    let plain = FakeServer::start(good());
    let ws = Workspace::new();
    write_pair(
        &ws,
        "hostile.a.close-notify-plain",
        "",
        "  - send: QUIT\n  - expect: { status: ok }\n  - expect_close: { close_notify: true }\n",
    );
    let out = ws.run(plain.port, &[]);
    assert_contained(
        &out,
        "hostile.a.close-notify-plain",
        "error",
        &["needs a TLS session"],
    );
}

// ---------------------------------------------------------------- answers

#[test]
fn one_command_answered_twice() {
    let server = FakeServer::start(
        good()
            .on("TWICE", "+OK first\r\n+OK second\r\n")
            .on("STAT", "+OK 0 0\r\n"),
    );
    let ws = Workspace::new();
    let text = write_pair(
        &ws,
        "hostile.a.twice",
        "",
        "  - send: TWICE\n  - expect: { status: ok }\n  - send: STAT\n  - expect: { status: ok, match: '^\\+OK \\d+ \\d+$' }  # HERE\n",
    );
    ws.write(
        "1b-hostile.yaml",
        &scenario(
            "hostile.b.twice-silence",
            "must",
            "",
            "  - send: TWICE\n  - expect: { status: ok }\n  - expect_silence: 300ms\n",
        ),
    );
    let out = ws.run(server.port, &[]);
    assert_contained(&out, "hostile.a.twice", "fail", &["does not match"]);
    assert_step(&out, "hostile.a.twice", &text, "# HERE");
    // The stale second answer is what the STAT step saw.
    let actual = &out.scenario("hostile.a.twice")["finding"]["actual"];
    assert!(actual.to_string().contains("+OK second"), "{}", out.dump());
    assert_eq!(
        out.outcome("hostile.b.twice-silence"),
        "fail",
        "{}",
        out.dump()
    );
    assert!(
        out.message("hostile.b.twice-silence")
            .contains("sent data where silence was expected"),
        "{}",
        out.dump()
    );
}

#[test]
fn command_never_answered() {
    let server = FakeServer::start(good().on_acts("STAT", vec![Act::Hang]));
    let ws = Workspace::new();
    let text = write_pair(
        &ws,
        "hostile.a.never",
        "",
        "  - send: STAT\n  - expect: { status: ok }  # HERE\n",
    );
    let out = ws.run(server.port, &[]);
    assert_contained(
        &out,
        "hostile.a.never",
        "error",
        &["no complete response line within 1s"],
    );
    assert_step(&out, "hostile.a.never", &text, "# HERE");
}
