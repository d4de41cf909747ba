//! `pop3spec run` against a scripted fake server: every step kind passing on a
//! correct dialogue, and each way a response can be wrong turning into the right
//! verdict, message and step position.

mod support;

use serde_json::json;
use std::time::Duration;
use support::*;

const ALL_STEPS: &str = r#"  - send: STAT
  - expect: { status: ok, match: '^\+OK (?P<count>\d+) (?P<size>\d+)$' }
  - assert: count == 2
  - assert: size == count + 318
  - assert: size - 20 >= 300
  - send: XTEST
  - expect: { status: err, code: SYS }
  - send: NOOP
  - expect: { status: ok, line: "+OK" }
  - send_raw: "NOOP\r\n"
  - expect: { status: any }
  - send: LIST
  - expect_multiline:
      status: ok
      match: '^\+OK (?P<n>\d+) messages$'
      lines: ["1 120", "2 200"]
      each_line: '^\d+ \d+$'
      count: "{{n}}"
  - send: RETR {{msg}}
  - expect_multiline:
      contains: ["body", ".dotted", ""]
      absent: ["..dotted", "missing"]
      contains_match: ['^Subject: (?P<subject>.*)$']
      count: 4
      octets: "29"
      capture_line: { last: 3 }
  - assert: subject == "x"
  - assert: last == "body"
  - assert: body_octets == 29
  - send: UIDL 1
  - one_of:
      - grade: pass
        steps:
          - expect: { status: err }
      - grade: pass
        steps:
          - expect: { status: ok, match: '^\+OK 1 (?P<uid>\S+)$' }
  - assert: uid == "abc"
  - expect_silence: 200ms
  - sleep: 100ms
  - connect: second
  - session: second
    send: NOOP
  - session: second
    expect: { status: ok }
  - disconnect: second
  - send: QUIT
  - expect: { status: ok }
  - expect_close: true
  - reconnect: true
  - login: true
  - send: STAT
  - expect: { status: ok, match: '^\+OK (?P<again>\d+) ' }
  - assert: again == count
"#;

fn full_script() -> Script {
    Script::new()
        .greeting(vec![Act::Send(
            b"+OK fake POP3 ready <1.2@fake.test>\r\n".to_vec(),
        )])
        .capa(&["TOP", "UIDL", "USER"])
        .account("alice", "pw1")
        .on("STAT", "+OK 2 320\r\n")
        .on("XTEST", "-ERR [SYS/TEMP] try later\r\n")
        .on("NOOP", "+OK\r\n")
        .on("LIST", "+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n")
        .on(
            "RETR 1",
            "+OK 29 octets\r\nSubject: x\r\n\r\n..dotted\r\nbody\r\n.\r\n",
        )
        .on("UIDL 1", "+OK 1 abc\r\n")
}

#[test]
fn every_step_kind_passes_on_a_correct_dialogue() {
    let server = FakeServer::start(full_script());
    let ws = Workspace::new();
    ws.write(
        "all.yaml",
        &scenario(
            "fake.steps.all",
            "must",
            "vars: { msg: \"1\" }\n",
            ALL_STEPS,
        ),
    );
    let out = ws.run(server.port, &["--user", "alice", "--pass", "pw1"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(out.outcome("fake.steps.all"), "pass", "{}", out.dump());
    assert!(out.scenario("fake.steps.all")["finding"].is_null());
    let json = out.json.as_ref().unwrap();
    assert_eq!(json["summary"]["passed"], 1);
    assert_eq!(json["summary"]["total"], 1);

    // The dialogue really happened: the second session sent its NOOP, the main
    // session came back after QUIT and logged in again.
    let received = server.received();
    assert!(
        received.iter().any(|c| c == &["NOOP".to_string()]),
        "{received:?}"
    );
    assert!(
        received.iter().any(|c| c.starts_with(&[
            "USER alice".into(),
            "PASS pw1".into(),
            "STAT".into()
        ])),
        "{received:?}"
    );
    let transcript = out.scenario("fake.steps.all")["transcript"]
        .as_array()
        .unwrap()
        .clone();
    let texts: Vec<&str> = transcript
        .iter()
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert!(texts.contains(&"PASS ***"), "{texts:?}");
    assert!(
        transcript
            .iter()
            .any(|l| l["session"] == "second" && l["direction"] == "client"),
        "{texts:?}"
    );
}

/// Runs one `must` scenario against `script` and returns the output; the
/// scenario text is also returned so positions can be checked.
fn run_one(script: Script, id: &str, steps: &str) -> (RunOutput, String) {
    let server = FakeServer::start(script);
    let ws = Workspace::new();
    let text = scenario(id, "must", "", steps);
    ws.write("s.yaml", &text);
    let out = ws.run(server.port, &[]);
    (out, text)
}

fn assert_fail_at(out: &RunOutput, text: &str, id: &str, marker: &str, message_part: &str) {
    assert_eq!(out.code, 1, "{}", out.dump());
    assert_eq!(out.outcome(id), "fail", "{}", out.dump());
    let message = out.message(id);
    assert!(
        message.contains(message_part),
        "message {message:?} lacks {message_part:?}\n{}",
        out.dump()
    );
    assert_eq!(
        out.step_pos(id),
        Some((line_of(text, marker), step_col(text, marker))),
        "step position\n{}",
        out.dump()
    );
    assert!(
        out.scenario(id)["finding"]["step"]["file"]
            .as_str()
            .unwrap()
            .ends_with("s.yaml"),
        "{}",
        out.dump()
    );
    // The console names the scenario and the message too.
    assert!(out.stdout.contains(id), "{}", out.dump());
    assert!(out.stdout.contains(message_part), "{}", out.dump());
}

#[test]
fn err_where_ok_expected_fails() {
    let (out, text) = run_one(
        Script::new().on("STAT", "-ERR no\r\n"),
        "fake.fail.status",
        "  - send: STAT\n  - expect: { status: ok }  # HERE\n",
    );
    assert_fail_at(
        &out,
        &text,
        "fake.fail.status",
        "# HERE",
        "expected +OK, got -ERR",
    );
    let f = &out.scenario("fake.fail.status")["finding"];
    assert_eq!(f["actual"], json!(["-ERR no"]));
    assert_eq!(f["command"], "STAT");
}

#[test]
fn lower_case_ok_is_not_a_status_indicator() {
    let (out, text) = run_one(
        Script::new().on("NOOP", "+ok fine\r\n"),
        "fake.fail.lowercase",
        "  - send: NOOP\n  - expect: { status: any }  # HERE\n",
    );
    assert_fail_at(
        &out,
        &text,
        "fake.fail.lowercase",
        "# HERE",
        "status indicator",
    );
}

#[test]
fn bare_lf_line_end_fails() {
    let (out, text) = run_one(
        Script::new().on("NOOP", "+OK\n"),
        "fake.fail.bare-lf",
        "  - send: NOOP\n  - expect: { status: ok }  # HERE\n",
    );
    assert_fail_at(&out, &text, "fake.fail.bare-lf", "# HERE", "bare LF");
}

#[test]
fn wrong_multiline_body_fails_with_a_diff() {
    let (out, text) = run_one(
        Script::new().on("LIST", "+OK\r\n1 120\r\n2 999\r\n.\r\n"),
        "fake.fail.body",
        "  - send: LIST\n  - expect_multiline: { lines: [\"1 120\", \"2 200\"] }  # HERE\n",
    );
    assert_fail_at(&out, &text, "fake.fail.body", "# HERE", "body differs");
    let f = &out.scenario("fake.fail.body")["finding"];
    assert_eq!(f["diffable"], true);
    assert_eq!(f["expected"], json!(["1 120", "2 200"]));
    assert_eq!(f["actual"], json!(["1 120", "2 999"]));
}

#[test]
fn ends_with_judges_the_last_lines_in_order() {
    // Headers a server adds before the body are free; the order of the body is not.
    let steps =
        "  - send: RETR 1\n  - expect_multiline: { ends_with: [\"\", \"a\", \"b\"] }  # HERE\n";
    let (ok, _) = run_one(
        Script::new().on(
            "RETR 1",
            "+OK\r\nX-Added: 1\r\nSubject: s\r\n\r\na\r\nb\r\n.\r\n",
        ),
        "fake.ends-with.ok",
        steps,
    );
    assert_eq!(ok.outcome("fake.ends-with.ok"), "pass");
    let (out, text) = run_one(
        Script::new().on("RETR 1", "+OK\r\nSubject: s\r\n\r\nb\r\na\r\n.\r\n"),
        "fake.ends-with.swapped",
        steps,
    );
    assert_fail_at(
        &out,
        &text,
        "fake.ends-with.swapped",
        "# HERE",
        "does not end with",
    );
    let f = &out.scenario("fake.ends-with.swapped")["finding"];
    assert_eq!(f["expected"], json!(["", "a", "b"]));
    assert_eq!(f["actual"], json!(["", "b", "a"]));
    let (short, text) = run_one(
        Script::new().on("RETR 1", "+OK\r\nb\r\n.\r\n"),
        "fake.ends-with.short",
        steps,
    );
    assert_fail_at(
        &short,
        &text,
        "fake.ends-with.short",
        "# HERE",
        "does not end with",
    );
}

#[test]
fn missing_terminator_fails_when_the_server_closes_mid_body() {
    let (out, text) = run_one(
        Script::new().on_acts(
            "RETR 1",
            vec![Act::Send(b"+OK\r\nline one\r\n".to_vec()), Act::Close],
        ),
        "fake.fail.terminator",
        "  - send: RETR 1\n  - expect_multiline: { status: ok }  # HERE\n",
    );
    assert_fail_at(
        &out,
        &text,
        "fake.fail.terminator",
        "# HERE",
        "without the terminating `.` line",
    );
    assert!(out.message("fake.fail.terminator").contains("closed"));
}

#[test]
fn dot_stuffed_body_lines_are_unstuffed() {
    let script = || Script::new().on("RETR 1", "+OK\r\n..x\r\n...\r\nplain\r\n.\r\n");
    let (ok, _) = run_one(
        script(),
        "fake.dot.unstuffed",
        "  - send: RETR 1\n  - expect_multiline: { lines: [\".x\", \"..\", \"plain\"], octets: \"15\" }\n",
    );
    assert_eq!(ok.code, 0, "{}", ok.dump());
    assert_eq!(ok.outcome("fake.dot.unstuffed"), "pass", "{}", ok.dump());

    // Expecting the stuffed form fails and shows the unstuffed body.
    let (out, text) = run_one(
        script(),
        "fake.dot.stuffed",
        "  - send: RETR 1\n  - expect_multiline: { lines: [\"..x\", \"...\", \"plain\"] }  # HERE\n",
    );
    assert_fail_at(&out, &text, "fake.dot.stuffed", "# HERE", "body differs");
    assert_eq!(
        out.scenario("fake.dot.stuffed")["finding"]["actual"],
        json!([".x", "..", "plain"])
    );
}

#[test]
fn a_server_that_closes_early_fails_the_expect() {
    let (out, text) = run_one(
        Script::new().on_acts("STAT", vec![Act::Close]),
        "fake.fail.closed",
        "  - send: STAT\n  - expect: { status: ok }  # HERE\n",
    );
    assert_fail_at(&out, &text, "fake.fail.closed", "# HERE", "closed");
}

#[test]
fn a_server_that_never_answers_is_an_error_within_the_timeout() {
    let server = FakeServer::start(Script::new().on_acts("NOOP", vec![Act::Hang]));
    let ws = Workspace::new();
    let text = scenario(
        "fake.error.silent",
        "must",
        "",
        "  - send: NOOP\n  - expect: { status: ok }  # HERE\n",
    );
    ws.write("s.yaml", &text);
    let out = ws.run(server.port, &[]);
    assert_eq!(out.code, 1, "{}", out.dump());
    assert_eq!(out.outcome("fake.error.silent"), "error", "{}", out.dump());
    assert!(
        out.elapsed < Duration::from_secs(5),
        "took {:?} with --timeout 1s\n{}",
        out.elapsed,
        out.dump()
    );
    assert!(
        out.message("fake.error.silent").contains("within"),
        "{}",
        out.dump()
    );
    assert_eq!(
        out.step_pos("fake.error.silent"),
        Some((line_of(&text, "# HERE"), step_col(&text, "# HERE")))
    );
    assert_eq!(out.json.as_ref().unwrap()["summary"]["errors"], 1);
}

#[test]
fn expect_close_fails_when_the_server_stays_open() {
    let (out, text) = run_one(
        Script::new().on("QUIT", "+OK but staying\r\n"),
        "fake.fail.stays-open",
        "  - send: QUIT\n  - expect: { status: ok }\n  - expect_close: true  # HERE\n",
    );
    assert_fail_at(
        &out,
        &text,
        "fake.fail.stays-open",
        "# HERE",
        "kept the connection open",
    );
}

#[test]
fn a_server_that_never_sends_a_greeting_is_an_error_within_the_timeout() {
    // The probe (connection 0) is greeted; a port that never greets at all
    // stops the run before any scenario (tests/verdict_trust.rs).
    let server = FakeServer::start_each(|i| match i {
        0 => Script::new(),
        _ => Script::new().greeting(vec![Act::Hang]),
    });
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &scenario(
            "fake.error.no-greeting",
            "must",
            "",
            "  - send: NOOP\n  - expect: { status: ok }\n",
        ),
    );
    let out = ws.run(server.port, &[]);
    assert_eq!(out.code, 1, "{}", out.dump());
    assert_eq!(
        out.outcome("fake.error.no-greeting"),
        "error",
        "{}",
        out.dump()
    );
    assert!(
        out.elapsed < Duration::from_secs(5),
        "took {:?} with --timeout 1s\n{}",
        out.elapsed,
        out.dump()
    );
}

/// `{{name}}` in a regex stands for the captured value, matched literally:
/// the `.` in `a.b` matches only a dot, so `+OK aXb` fails the second check.
#[test]
fn variables_in_regexes_match_their_values_literally() {
    let steps = r#"  - send: LANG
  - expect_multiline: { status: ok, contains_match: ['^(?P<tag>\S+) '] }
  - send: LANG {{tag}}
  - expect: { status: ok, match: '^\+OK {{tag}}( |$)' }
  - send: NOOP
  - expect: { status: ok, match: '^\+OK {{tag}}$' }  # HERE
"#;
    let script = || {
        Script::new()
            .on("LANG", "+OK\r\na.b first\r\nde second\r\n.\r\n")
            .on("LANG a.b", "+OK a.b changed\r\n")
            .on("NOOP", "+OK aXb\r\n")
    };
    let (out, text) = run_one(script(), "fake.regex.vars", steps);
    assert_fail_at(
        &out,
        &text,
        "fake.regex.vars",
        "# HERE",
        "does not match /^\\+OK a\\.b$/",
    );

    // Functions are refused where a regex is read: a load error, exit 2.
    let ws = Workspace::new();
    ws.write(
        "bad.yaml",
        &scenario(
            "fake.regex.func",
            "must",
            "",
            "  - send: NOOP\n  - expect: { status: ok, match: '^\\+OK {{base64(user)}}' }\n",
        ),
    );
    let out = ws.run(FakeServer::start(Script::new()).port, &[]);
    assert_eq!(out.code, 2, "{}", out.dump());
    assert!(
        out.stderr.contains("variables but not functions"),
        "{}",
        out.dump()
    );
}

/// A login refused under the server's own LOGIN-DELAY is retried for a while
/// and then an error (the run could not judge), not a failure of the server.
#[test]
fn login_refused_for_login_delay_is_an_error_not_a_failure() {
    // Connections 0 and 1 are the probe's (greeting and CAPA, then its
    // login, which succeeds); every later login is refused under the delay.
    let server = FakeServer::start_each(|i| {
        let refusal = if i < 2 {
            "+OK logged in\r\n"
        } else {
            "-ERR [LOGIN-DELAY] wait 900 seconds\r\n"
        };
        Script::new()
            .on("USER alice", "+OK\r\n")
            .on("PASS pw1", refusal)
            .on("NOOP", "+OK\r\n")
    });
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &scenario(
            "fake.login.delay",
            "must",
            "",
            "  - login: true\n  - send: NOOP\n",
        ),
    );
    let out = ws.run(server.port, &["--user", "alice", "--pass", "pw1"]);
    assert_eq!(out.outcome("fake.login.delay"), "error", "{}", out.dump());
    assert!(
        out.message("fake.login.delay").contains("[LOGIN-DELAY]"),
        "{}",
        out.dump()
    );
    // Retried: more than one PASS reached the server.
    let passes = server
        .received()
        .iter()
        .flatten()
        .filter(|c| c.as_str() == "PASS pw1")
        .count();
    assert!(passes > 2, "{passes} PASS commands");
}

// ---------------------------------------------------------------- out of step

/// Whether the scenario's JSON transcript has a line containing `text`.
fn transcript_has(out: &RunOutput, id: &str, text: &str) -> bool {
    out.scenario(id)["transcript"]
        .as_array()
        .is_some_and(|lines| {
            lines
                .iter()
                .any(|l| l["text"].as_str().is_some_and(|t| t.contains(text)))
        })
}

#[test]
fn a_line_left_by_an_early_ended_body_says_the_stream_is_out_of_step() {
    // The body's `.` and `..` lines are not byte-stuffed: the first ends the
    // body for the client, and the rest arrives where NOOP's answer belongs.
    let id = "fake.fail.out-of-step";
    let (out, text) = run_one(
        Script::new().on("RETR 1", "+OK\r\nSubject: x\r\n\r\n.\r\n..\r\nlast\r\n.\r\n"),
        id,
        "  - send: RETR 1\n  - expect_multiline: { status: ok }\n  - send: NOOP\n  - expect: { status: ok }  # HERE\n",
    );
    assert_fail_at(&out, &text, id, "# HERE", "the stream is out of step");
    let message = out.message(id);
    for part in [
        "the line `..` is not a status line",
        "more of the multi-line response to `RETR 1` read at",
        "without byte-stuffing",
        "not read further",
    ] {
        assert!(message.contains(part), "{part:?} missing from {message:?}");
    }
    // Nothing more is read from that session: no QUIT at the end.
    assert!(
        transcript_has(
            &out,
            id,
            "dropped without QUIT, since the stream is out of step"
        ),
        "{}",
        out.dump()
    );
    assert!(
        !transcript_has(&out, id, "end of scenario: QUIT"),
        "{}",
        out.dump()
    );
}

#[test]
fn a_body_without_its_end_leaves_the_session_unread() {
    let id = "fake.fail.unterminated";
    let (out, text) = run_one(
        Script::new().on_acts(
            "RETR 1",
            vec![
                Act::Send(b"+OK\r\nline one\r\n".to_vec()),
                Act::Sleep(Duration::from_secs(3)),
            ],
        ),
        id,
        "  - send: RETR 1\n  - expect_multiline: { status: ok }  # HERE\n",
    );
    assert_fail_at(&out, &text, id, "# HERE", "did not end with a `.` line");
    // The QUIT answer would be lost in the rest of the body: the harness
    // says why it drops the connection instead.
    assert!(
        transcript_has(
            &out,
            id,
            "dropped without QUIT, since the stream is out of step (after `RETR 1` at"
        ),
        "{}",
        out.dump()
    );
    assert!(
        transcript_has(&out, id, "had no `.` line after 1 line(s)"),
        "{}",
        out.dump()
    );
    assert!(
        !transcript_has(&out, id, "end of scenario: QUIT"),
        "{}",
        out.dump()
    );
}

#[test]
fn a_malformed_status_after_a_response_is_judged_as_a_status() {
    // `+ok` starts like a status indicator: it is this step's (wrong)
    // answer, not a leftover, so the usual message stands.
    let (out, text) = run_one(
        Script::new().on("NOOP", "+OK\r\n").on("STAT", "+ok 1 2\r\n"),
        "fake.fail.lower-after",
        "  - send: NOOP\n  - expect: { status: ok }\n  - send: STAT\n  - expect: { status: ok }  # HERE\n",
    );
    assert_fail_at(
        &out,
        &text,
        "fake.fail.lower-after",
        "# HERE",
        "status indicator",
    );
    assert!(!out.message("fake.fail.lower-after").contains("out of step"));
}
