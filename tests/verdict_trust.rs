//! Verdicts a server maintainer can trust (issue 13): a broken set-up stops
//! the run before anything is judged (exit 3, with a hint), behaviour the RFCs
//! allow is never a failure, and silence where an answer is owed is.
//! Each test runs the real binary against a scripted fake server.

mod support;

use std::time::Duration;
use support::*;

const PASSING: &str = "  - send: NOOP\n  - expect: { status: ok }\n";

fn noop_server() -> Script {
    Script::new().on("NOOP", "+OK\r\n")
}

/// Exit 3, nothing judged (no report written), quickly, and stderr holds
/// every one of `parts`.
fn assert_stopped(out: &RunOutput, parts: &[&str]) {
    assert_eq!(out.code, 3, "{}", out.dump());
    assert!(
        out.json.is_none(),
        "nothing is judged, so no report\n{}",
        out.dump()
    );
    assert!(
        out.elapsed < Duration::from_secs(8),
        "took {:?}\n{}",
        out.elapsed,
        out.dump()
    );
    for part in parts {
        assert!(
            out.stderr.contains(part),
            "stderr lacks {part:?}\n{}",
            out.dump()
        );
    }
}

fn one_passing(ws: &Workspace) {
    ws.write("p.yaml", &scenario("trust.passing", "must", "", PASSING));
}

// ---------------------------------------------------------------- 7: no POP3 on the port

#[test]
fn http_server_on_the_port_stops_the_run_with_exit_3() {
    // Speaks only when spoken to, like any HTTP server.
    let server = FakeServer::start(Script::new().greeting(vec![]).on_fn(
        |_| true,
        vec![
            Act::Send(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".to_vec()),
            Act::Close,
        ],
    ));
    let ws = Workspace::new();
    one_passing(&ws);
    let out = ws.run(server.port, &[]);
    assert_stopped(&out, &["no greeting", "HTTP server", "wrong port"]);
}

#[test]
fn tls_on_a_plaintext_port_stops_the_run_and_suggests_tls() {
    // A TLS server answers a plaintext line with an alert record and closes.
    let alert = vec![0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32];
    let server = FakeServer::start(
        Script::new()
            .greeting(vec![])
            .on_fn(|_| true, vec![Act::Send(alert.clone()), Act::Close]),
    );
    let ws = Workspace::new();
    one_passing(&ws);
    let out = ws.run(server.port, &[]);
    assert_stopped(&out, &["TLS record", "--tls"]);
}

#[test]
fn a_greeting_that_is_not_pop3_stops_the_run() {
    let server = FakeServer::start(
        Script::new().greeting(vec![Act::Send(b"* OK IMAP4rev1 ready\r\n".to_vec())]),
    );
    let ws = Workspace::new();
    one_passing(&ws);
    let out = ws.run(server.port, &[]);
    assert_stopped(&out, &["not a POP3 greeting", "IMAP"]);
}

#[test]
fn nothing_speaking_on_the_port_stops_the_run() {
    let server = FakeServer::start(Script::new().greeting(vec![Act::Hang]));
    let ws = Workspace::new();
    one_passing(&ws);
    let out = ws.run(server.port, &[]);
    assert_stopped(&out, &["no greeting within 1s", "--tls"]);
}

#[test]
fn tls_flag_on_a_plaintext_pop3_port_says_to_drop_it() {
    let server = FakeServer::start(noop_server());
    let ws = Workspace::new();
    one_passing(&ws);
    let out = ws.run(server.port, &["--tls", "--insecure"]);
    assert_stopped(&out, &["drop --tls"]);
}

// ---------------------------------------------------------------- 8: accounts that cannot log in

#[test]
fn rejected_credentials_stop_the_run_naming_the_account_and_the_answer() {
    let server = FakeServer::start(noop_server().account("alice", "right"));
    let ws = Workspace::new();
    one_passing(&ws);
    ws.write(
        "t.yaml",
        &scenario("trust.logged-in", "must", "state: transaction\n", PASSING),
    );
    let out = ws.run(server.port, &["--user", "alice", "--pass", "wrong"]);
    assert_stopped(&out, &["alice could not log in", "-ERR invalid password"]);
    assert!(!out.stderr.contains("wrong"), "{}", out.dump());
}

#[test]
fn a_rejected_second_account_stops_the_run_too() {
    let server = FakeServer::start(
        noop_server()
            .account("alice", "a-pass")
            .on("USER bob", "+OK\r\n"),
    );
    let ws = Workspace::new();
    one_passing(&ws);
    let out = ws.run(
        server.port,
        &[
            "--user", "alice", "--pass", "a-pass", "--user2", "bob", "--pass2", "b-pass",
        ],
    );
    assert_stopped(&out, &["bob could not log in", "-ERR invalid password"]);
}

#[test]
fn a_slow_login_is_waited_for_and_reported_as_slow() {
    // PASS answered after 1.5 s, beyond --timeout 1s: an authentication
    // penalty, not a refusal.
    let server = FakeServer::start(noop_server().account("alice", "pw").on_acts(
        "PASS pw",
        vec![
            Act::Sleep(Duration::from_millis(1500)),
            Act::Send(b"+OK logged in\r\n".to_vec()),
        ],
    ));
    let ws = Workspace::new();
    ws.write(
        "t.yaml",
        &scenario("trust.logged-in", "must", "state: transaction\n", PASSING),
    );
    let out = ws.run(server.port, &["--user", "alice", "--pass", "pw"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(out.outcome("trust.logged-in"), "pass", "{}", out.dump());
    assert!(
        out.stdout.contains("logging in as alice took") && out.stdout.contains("slow"),
        "{}",
        out.dump()
    );
}

#[test]
fn a_login_slower_than_the_login_timeout_stops_the_run_saying_slow() {
    let server = FakeServer::start(
        noop_server()
            .account("alice", "pw")
            .on_acts("PASS pw", vec![Act::Hang]),
    );
    let ws = Workspace::new();
    one_passing(&ws);
    let out = ws.run(
        server.port,
        &["--user", "alice", "--pass", "pw", "--login-timeout", "2s"],
    );
    assert_stopped(
        &out,
        &["alice could not log in within --login-timeout", "slow"],
    );
}

// ---------------------------------------------------------------- 9: no account given

#[test]
fn without_an_account_scenarios_that_need_one_are_skipped() {
    let server = FakeServer::start(noop_server().on("USER *", "+OK\r\n"));
    let ws = Workspace::new();
    one_passing(&ws);
    ws.write(
        "u.yaml",
        &scenario(
            "trust.names-user",
            "must",
            "",
            "  - send: USER {{user}}\n  - expect: { status: ok }\n",
        ),
    );
    ws.write(
        "l.yaml",
        &scenario(
            "trust.logs-in",
            "must",
            "",
            "  - login: true\n  - send: NOOP\n  - expect: { status: ok }\n",
        ),
    );
    ws.write(
        "t.yaml",
        &scenario("trust.transaction", "must", "state: transaction\n", PASSING),
    );
    ws.write(
        "b.yaml",
        &scenario(
            "trust.second",
            "must",
            "",
            "  - send: USER {{user2}}\n  - expect: { status: ok }\n",
        ),
    );
    let out = ws.run(server.port, &[]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(out.outcome("trust.passing"), "pass", "{}", out.dump());
    for id in ["trust.names-user", "trust.logs-in", "trust.transaction"] {
        assert_eq!(out.outcome(id), "skipped", "{id}\n{}", out.dump());
        let reason = out.scenario(id)["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("--user and --pass"), "{id}: {reason}");
    }
    assert_eq!(out.outcome("trust.second"), "skipped", "{}", out.dump());
    let reason = out.scenario("trust.second")["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("--user2"), "{reason}");
}

/// `AUTH PLAIN` then a continuation naming the long-credentials account.
const LONG_LOGIN: &str = "  - send: AUTH PLAIN\n  - expect: { status: continue }\n  - send: '{{base64(\"\\0\", long_user, \"\\0\", long_pass)}}'\n  - expect: { status: ok }\n";

#[test]
fn without_a_long_credentials_account_its_scenarios_are_skipped() {
    let server = FakeServer::start(noop_server());
    let ws = Workspace::new();
    one_passing(&ws);
    ws.write("long.yaml", &scenario("trust.long", "must", "", LONG_LOGIN));
    let out = ws.run(server.port, &[]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(out.outcome("trust.long"), "skipped", "{}", out.dump());
    let reason = out.scenario("trust.long")["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("--long-user"), "{reason}");
}

#[test]
fn the_long_credentials_account_is_not_probed_and_its_password_is_redacted() {
    let user = "l".repeat(255);
    let pass = format!("{}z", "p".repeat(254));
    let plain = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{pass}"))
    };
    let server = FakeServer::start(
        noop_server()
            .on("AUTH PLAIN", "+ \r\n")
            .on(&plain, "+OK logged in\r\n"),
    );
    let ws = Workspace::new();
    ws.write("long.yaml", &scenario("trust.long", "must", "", LONG_LOGIN));
    let out = ws.run(server.port, &["--long-user", &user, "--long-pass", &pass]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(out.outcome("trust.long"), "pass", "{}", out.dump());
    // Its one login that fits the protocol is the exchange under test, so
    // the probe leaves it alone: the server saw one AUTH, the scenario's.
    let auths = server
        .received()
        .iter()
        .flatten()
        .filter(|c| c.as_str() == "AUTH PLAIN")
        .count();
    assert_eq!(auths, 1, "{:?}", server.received());
    let shown = out.scenario("trust.long")["transcript"].to_string();
    assert!(!shown.contains(&plain) && !shown.contains(&pass), "{shown}");
    assert!(shown.contains("***"), "{shown}");
}

// ---------------------------------------------------------------- 1: capabilities per state

/// CAPA lists `USER` before login and adds PIPELINING and RESP-CODES after
/// it; connection 1 is the probe's login, the only one that asks CAPA
/// logged in here.
fn capabilities_after_login_only() -> FakeServer {
    FakeServer::start_each(|i| {
        let script = noop_server().account("alice", "pw");
        if i == 1 {
            script.capa(&["USER", "PIPELINING", "RESP-CODES"])
        } else {
            script.capa(&["USER"])
        }
    })
}

#[test]
fn capabilities_are_kept_per_state_and_checked_in_the_scenarios_state() {
    let server = capabilities_after_login_only();
    let ws = Workspace::new();
    // Before login the server promised no response codes: a failed PASS
    // without [AUTH] is no deviation.
    ws.write(
        "a.yaml",
        &scenario(
            "trust.caps.before",
            "must",
            "requires: [RESP-CODES]\n",
            "  - send: USER alice\n  - expect: { status: ok }\n  - send: PASS nope\n  - expect: { status: err, code: AUTH }\n",
        ),
    );
    ws.write(
        "b.yaml",
        &scenario(
            "trust.caps.after",
            "must",
            "requires: [PIPELINING]\nstate: transaction\n",
            "  - send_raw: \"NOOP\\r\\nNOOP\\r\\n\"\n  - expect: { status: ok }\n  - expect: { status: ok }\n",
        ),
    );
    let out = ws.run(server.port, &["--user", "alice", "--pass", "pw"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(
        out.outcome("trust.caps.before"),
        "skipped",
        "{}",
        out.dump()
    );
    let reason = out.scenario("trust.caps.before")["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(reason.contains("before login"), "{reason}");
    assert_eq!(out.outcome("trust.caps.after"), "pass", "{}", out.dump());
    assert!(
        out.stdout.contains("CAPA before login: USER\n")
            && out
                .stdout
                .contains("CAPA after login: USER, PIPELINING, RESP-CODES"),
        "{}",
        out.dump()
    );
}

// ---------------------------------------------------------------- 5: --capability vs CAPA scenarios

#[test]
fn a_declared_capability_satisfies_requires_but_not_a_capa_listing() {
    let server = FakeServer::start(noop_server());
    let ws = Workspace::new();
    ws.write(
        "a.yaml",
        &scenario(
            "trust.capa.listing",
            "must",
            "requires: [PIPELINING]\n",
            "  - send: CAPA\n  - expect_multiline: { status: ok, contains_match: ['^PIPELINING'] }\n",
        ),
    );
    ws.write(
        "b.yaml",
        &scenario(
            "trust.capa.declared",
            "must",
            "requires: [PIPELINING]\n",
            "  - send_raw: \"NOOP\\r\\nNOOP\\r\\n\"\n  - expect: { status: ok }\n  - expect: { status: ok }\n",
        ),
    );
    let out = ws.run(server.port, &["--capability", "PIPELINING"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(
        out.outcome("trust.capa.listing"),
        "skipped",
        "{}",
        out.dump()
    );
    let reason = out.scenario("trust.capa.listing")["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(reason.contains("does not support CAPA"), "{reason}");
    assert_eq!(out.outcome("trust.capa.declared"), "pass", "{}", out.dump());
}

// ---------------------------------------------------------------- 6: certificate-valid, judged or skipped

/// The bundled server presents a leaf signed by a CA the harness trusts, so
/// the certificate is judged (and valid); against a server whose self-signed
/// certificate is accepted only by `--insecure`, nothing can be judged, so
/// the scenario is skipped saying why, never failed.
#[test]
fn certificate_valid_is_judged_when_trusted_and_skipped_when_verification_is_off() {
    let ws = Workspace::new();
    let scenario = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/rfc8314/tls/certificate-valid.yaml");
    let id = "rfc8314.tls.certificate-valid";
    let out = ws.run_bundled(&scenario, &[]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(out.outcome(id), "pass", "{}", out.dump());

    let rt = tokio::runtime::Runtime::new().unwrap();
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("alice")).unwrap();
    let mut config = pop3_reference_server::ServerConfig::new(
        root.path(),
        vec![("alice".to_string(), "pw".to_string())],
    );
    config.tls = pop3_reference_server::TlsSetup::SelfSigned;
    let server = rt
        .block_on(pop3_reference_server::RunningServer::start(config))
        .unwrap();
    // The suite's own file, run with --host (Workspace::run) and --insecure.
    ws.write(
        "certificate-valid.yaml",
        &std::fs::read_to_string(&scenario).unwrap(),
    );
    let insecure = ws.run(
        server.addr().port(),
        &["--user", "alice", "--pass", "pw", "--insecure"],
    );
    assert_eq!(insecure.code, 0, "{}", insecure.dump());
    assert_eq!(insecure.outcome(id), "skipped", "{}", insecure.dump());
    let reason = insecure.scenario(id)["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("--insecure"), "{reason}");
}

// ---------------------------------------------------------------- 10: silence where an answer is owed

#[test]
fn silence_after_a_command_that_must_be_answered_is_a_failure() {
    let server = FakeServer::start(noop_server().on_acts("STAT", vec![Act::Hang]));
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &scenario(
            "trust.silent",
            "must",
            "",
            "  - send: NOOP\n  - expect: { status: ok }\n  - send: STAT\n  - expect: { status: ok }\n",
        ),
    );
    let out = ws.run(server.port, &[]);
    assert_eq!(out.code, 1, "{}", out.dump());
    assert_eq!(out.outcome("trust.silent"), "fail", "{}", out.dump());
    assert!(
        out.message("trust.silent")
            .contains("no answer within 1s to a command that must be answered"),
        "{}",
        out.dump()
    );
}

#[test]
fn silence_to_a_login_or_to_the_first_command_stays_an_error() {
    // A failed login may be answered late on purpose (a penalty).
    let server = FakeServer::start(
        noop_server()
            .on_acts("PASS *", vec![Act::Hang])
            .on("USER *", "+OK\r\n"),
    );
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &scenario(
            "trust.slow-pass",
            "must",
            "",
            "  - send: NOOP\n  - expect: { status: ok }\n  - send: USER x\n  - expect: { status: ok }\n  - send: PASS y\n  - expect: { status: err }\n",
        ),
    );
    let out = ws.run(server.port, &[]);
    assert_eq!(out.outcome("trust.slow-pass"), "error", "{}", out.dump());
    // The first command on a connection proves nothing about the server yet.
    let server = FakeServer::start(noop_server().on_acts("STAT", vec![Act::Hang]));
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &scenario(
            "trust.first",
            "must",
            "",
            "  - send: STAT\n  - expect: { status: ok }\n",
        ),
    );
    let out = ws.run(server.port, &[]);
    assert_eq!(out.outcome("trust.first"), "error", "{}", out.dump());
}

// ---------------------------------------------------------------- 2: close after -ERR

#[test]
fn a_close_after_err_is_allowed_reconnecting_before_login_and_skipping_after() {
    let server = FakeServer::start(
        noop_server()
            .account("alice", "pw")
            .on_acts(
                "PASS wrong",
                vec![Act::Send(b"-ERR invalid password\r\n".to_vec()), Act::Close],
            )
            .on_acts(
                "RETR 9",
                vec![Act::Send(b"-ERR no such message\r\n".to_vec()), Act::Close],
            ),
    );
    let ws = Workspace::new();
    ws.write(
        "a.yaml",
        &scenario(
            "trust.err-close.retry-login",
            "must",
            "",
            "  - send: USER {{user}}\n  - expect: { status: ok }\n  - send: PASS wrong\n  - expect: { status: err }\n  - send: USER {{user}}\n  - expect: { status: ok }\n  - send: PASS {{pass}}\n  - expect: { status: ok }\n",
        ),
    );
    ws.write(
        "b.yaml",
        &scenario(
            "trust.err-close.logged-in",
            "must",
            "state: transaction\n",
            "  - send: RETR 9\n  - expect: { status: err }\n  - send: NOOP\n  - expect: { status: ok }\n",
        ),
    );
    ws.write(
        "c.yaml",
        &scenario(
            "trust.err-close.silence",
            "must",
            "",
            "  - send: PASS wrong\n  - expect: { status: err }\n  - expect_silence: 300ms\n",
        ),
    );
    let out = ws.run(server.port, &["--user", "alice", "--pass", "pw"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(
        out.outcome("trust.err-close.retry-login"),
        "pass",
        "{}",
        out.dump()
    );
    assert_eq!(
        out.outcome("trust.err-close.logged-in"),
        "skipped",
        "{}",
        out.dump()
    );
    let reason = out.scenario("trust.err-close.logged-in")["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(reason.contains("RFC 1939 §4"), "{reason}");
    assert_eq!(
        out.outcome("trust.err-close.silence"),
        "pass",
        "{}",
        out.dump()
    );
}

// ---------------------------------------------------------------- 3: a line before the autologout close

#[test]
fn one_line_before_the_autologout_close_is_accepted_where_allowed() {
    // Connection 0 is the probe; every later one "times out" after 300 ms
    // with a line before closing.
    let server = FakeServer::start_each(|i| match i {
        0 => noop_server(),
        _ => noop_server().greeting(vec![
            Act::Send(b"+OK fake POP3 ready\r\n".to_vec()),
            Act::Sleep(Duration::from_millis(300)),
            Act::Send(b"-ERR autologout\r\n".to_vec()),
            Act::Close,
        ]),
    });
    let ws = Workspace::new();
    ws.write(
        "a.yaml",
        &scenario(
            "trust.autologout.allowed",
            "must",
            "",
            "  - expect_close: { within: 3s, allow_line: true }\n",
        ),
    );
    ws.write(
        "b.yaml",
        &scenario(
            "trust.autologout.silent",
            "should",
            "",
            "  - expect_close: { within: 3s }\n",
        ),
    );
    let out = ws.run(server.port, &[]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(
        out.outcome("trust.autologout.allowed"),
        "pass",
        "{}",
        out.dump()
    );
    // Without allow_line the line is still graded (the SHOULD scenario).
    assert_eq!(
        out.outcome("trust.autologout.silent"),
        "non-strict",
        "{}",
        out.dump()
    );
}

// ---------------------------------------------------------------- 4: LOGIN-DELAY

/// Announces LOGIN-DELAY `delay` and refuses a PASS within a second of the
/// last accepted one, on any connection.
fn login_delay_server(delay: &str) -> FakeServer {
    use std::sync::{Arc, Mutex};
    use std::time::Instant;
    let last: Arc<Mutex<Option<Instant>>> = Arc::default();
    let (accept, refuse) = (last.clone(), last);
    let script = noop_server()
        .capa(&["USER", "RESP-CODES", &format!("LOGIN-DELAY {delay}")])
        .account("alice", "pw")
        .on_fn(
            move |l| {
                l == "PASS pw" && {
                    *accept.lock().unwrap() = Some(Instant::now());
                    true
                }
            },
            vec![Act::Send(b"+OK logged in\r\n".to_vec())],
        )
        .on_fn(
            move |l| {
                l == "PASS pw"
                    && refuse
                        .lock()
                        .unwrap()
                        .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
            },
            vec![Act::Send(b"-ERR [LOGIN-DELAY] wait a second\r\n".to_vec())],
        );
    FakeServer::start(script)
}

#[test]
fn scripted_logins_wait_out_an_announced_login_delay() {
    let server = login_delay_server("1");
    let ws = Workspace::new();
    for (file, id) in [("a.yaml", "trust.delay.a"), ("b.yaml", "trust.delay.b")] {
        ws.write(
            file,
            &scenario(
                id,
                "must",
                "",
                "  - send: USER {{user}}\n  - expect: { status: ok }\n  - send: PASS {{pass}}\n  - expect: { status: ok }\n",
            ),
        );
    }
    let out = ws.run(server.port, &["--user", "alice", "--pass", "pw"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(out.outcome("trust.delay.a"), "pass", "{}", out.dump());
    assert_eq!(out.outcome("trust.delay.b"), "pass", "{}", out.dump());
}

#[test]
fn a_login_delay_refusal_is_never_a_wrong_answer_to_another_question() {
    let server = login_delay_server("1");
    let ws = Workspace::new();
    // About LOGIN-DELAY, so not spaced out: the second login comes at once.
    ws.write(
        "a.yaml",
        &scenario(
            "trust.delay.in-use",
            "must",
            "requires: [LOGIN-DELAY]\nstate: transaction\n",
            "  - connect: { session: again }\n  - send: USER {{user}}\n    session: again\n  - expect: { status: ok }\n    session: again\n  - send: PASS {{pass}}\n    session: again\n  - expect: { status: err, code: IN-USE }\n    session: again\n",
        ),
    );
    let out = ws.run(server.port, &["--user", "alice", "--pass", "pw"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(
        out.outcome("trust.delay.in-use"),
        "skipped",
        "{}",
        out.dump()
    );
    let reason = out.scenario("trust.delay.in-use")["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(reason.contains("LOGIN-DELAY"), "{reason}");
}

#[test]
fn a_login_delay_too_long_for_the_run_skips_the_scenarios_that_log_in() {
    let server = FakeServer::start(
        noop_server()
            .capa(&["USER", "LOGIN-DELAY 900"])
            .account("alice", "pw"),
    );
    let ws = Workspace::new();
    one_passing(&ws);
    ws.write(
        "t.yaml",
        &scenario("trust.delay.long", "must", "state: transaction\n", PASSING),
    );
    let out = ws.run(server.port, &["--user", "alice", "--pass", "pw"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(out.outcome("trust.passing"), "pass", "{}", out.dump());
    assert_eq!(out.outcome("trust.delay.long"), "skipped", "{}", out.dump());
    let reason = out.scenario("trust.delay.long")["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(reason.contains("LOGIN-DELAY 900"), "{reason}");
}

// ---------------------------------------------------------------- challenges a mechanism cannot use

#[test]
fn a_malformed_challenge_fails_the_server_while_a_scenario_mistake_stays_an_error() {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    // The server-first message's nonce does not start with the client's.
    let server_first = b64.encode("r=someone-elses-nonce,s=c2FsdA==,i=4096");
    let server = FakeServer::start(
        noop_server()
            .on("USER *", "+OK\r\n")
            .on("PASS *", "+OK\r\n")
            .on("QUIT", "+OK\r\n")
            .on(
                "AUTH CRAM-MD5",
                "+ <1896.697170952@postoffice.example.net>\r\n",
            )
            .on("AUTH SCRAM-SHA-256 *", format!("+ {server_first}\r\n")),
    );
    let ws = Workspace::new();
    let cram = "  - send: NOOP\n  - expect: { status: ok }\n  - send: AUTH CRAM-MD5\n  - expect: { status: continue, match: '^\\+ (?P<challenge>\\S+)$' }\n  - send: '{{cram_md5(challenge, user, pass)}}'\n  - expect: { status: ok }\n";
    ws.write("cram.yaml", &scenario("trust.cram", "must", "", cram));
    let scram = |algorithm: &str| {
        format!("  - send: NOOP\n  - expect: {{ status: ok }}\n  - send: AUTH SCRAM-SHA-256 {{{{scram_client_first(user, \"n0nce\")}}}}\n  - expect: {{ status: continue, match: '^\\+ (?P<server_first>\\S+)$' }}\n  - send: '{{{{scram_client_final(\"{algorithm}\", server_first, user, pass, \"n0nce\")}}}}'\n  - expect: {{ status: continue }}\n")
    };
    ws.write(
        "scram.yaml",
        &scenario("trust.scram", "must", "", &scram("SHA-256")),
    );
    // The scenario names no algorithm SCRAM has: its author's mistake.
    ws.write(
        "typo.yaml",
        &scenario("trust.typo", "must", "", &scram("SHA-3")),
    );
    let out = ws.run(server.port, &["--user", "u", "--pass", "p"]);
    assert_eq!(out.outcome("trust.cram"), "fail", "{}", out.dump());
    assert!(
        out.message("trust.cram").contains("not base64")
            && out.message("trust.cram").contains("RFC 5034 §4"),
        "{}",
        out.dump()
    );
    assert_eq!(out.outcome("trust.scram"), "fail", "{}", out.dump());
    assert!(
        out.message("trust.scram")
            .contains("does not extend the client's"),
        "{}",
        out.dump()
    );
    assert_eq!(out.outcome("trust.typo"), "error", "{}", out.dump());
    assert!(
        out.message("trust.typo").contains("SHA-3"),
        "{}",
        out.dump()
    );
}
