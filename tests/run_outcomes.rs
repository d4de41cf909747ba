//! `pop3spec run` outcomes other than pass/fail of one step: skips, levels and
//! --strict, known failures, exit codes, the JUnit file, hostile bytes, and the
//! redaction of the password.

mod support;

use std::time::Duration;
use support::*;

const PASSING: &str = "  - send: NOOP\n  - expect: { status: ok }\n";
const FAILING: &str = "  - send: NOOP\n  - expect: { status: err }  # HERE\n";

fn noop_server() -> Script {
    Script::new().on("NOOP", "+OK\r\n")
}

// ---------------------------------------------------------------- skips

#[test]
fn requirement_missing_from_capa_skips_the_scenario() {
    let server = FakeServer::start(noop_server().capa(&["USER", "UIDL"]));
    let ws = Workspace::new();
    ws.write(
        "top.yaml",
        &scenario("fake.skip.top", "must", "requires: [TOP]\n", PASSING),
    );
    let out = ws.run(server.port, &[]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(out.outcome("fake.skip.top"), "skipped", "{}", out.dump());
    let reason = out.scenario("fake.skip.top")["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(reason.contains("TOP"), "{reason}");
    assert!(out.stdout.contains("fake.skip.top"), "{}", out.dump());
    assert!(out.stdout.contains(&reason), "{}", out.dump());
    assert_eq!(out.json.as_ref().unwrap()["summary"]["skipped"], 1);
    // Only the probe connected: a skipped scenario opens no session.
    assert_eq!(server.connections(), 1, "{:?}", server.received());
}

#[test]
fn requirement_without_capa_skips_and_points_at_capability_flag() {
    let server = FakeServer::start(noop_server()); // CAPA → -ERR
    let ws = Workspace::new();
    ws.write(
        "top.yaml",
        &scenario("fake.skip.nocapa", "must", "requires: [TOP]\n", PASSING),
    );
    let out = ws.run(server.port, &[]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(out.outcome("fake.skip.nocapa"), "skipped", "{}", out.dump());
    let reason = out.scenario("fake.skip.nocapa")["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("--capability"), "{reason}");
    assert!(out.stdout.contains("CAPA: not supported"), "{}", out.dump());
}

#[test]
fn declared_capability_makes_the_scenario_run() {
    let server = FakeServer::start(noop_server());
    let ws = Workspace::new();
    ws.write(
        "top.yaml",
        &scenario("fake.skip.declared", "must", "requires: [TOP]\n", PASSING),
    );
    let out = ws.run(server.port, &["--capability", "TOP"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(out.outcome("fake.skip.declared"), "pass", "{}", out.dump());
    assert!(server.received().iter().any(|c| c.contains(&"NOOP".into())));
}

// ---------------------------------------------------------------- levels

#[test]
fn should_failure_is_non_strict_and_fails_only_with_strict() {
    let server = FakeServer::start(noop_server());
    let ws = Workspace::new();
    ws.write(
        "should.yaml",
        &scenario("fake.level.should", "should", "", FAILING),
    );
    let out = ws.run(server.port, &[]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(
        out.outcome("fake.level.should"),
        "non-strict",
        "{}",
        out.dump()
    );
    assert_eq!(out.json.as_ref().unwrap()["summary"]["non_strict"], 1);

    let strict = ws.run(server.port, &["--strict"]);
    assert_eq!(strict.code, 1, "{}", strict.dump());
    assert_eq!(strict.json.as_ref().unwrap()["strict"], true);
    assert_eq!(
        strict.outcome("fake.level.should"),
        "fail",
        "{}",
        strict.dump()
    );
    // JUnit counts it as a failure under --strict.
    let junit = strict.junit.as_deref().expect("junit written");
    let doc = roxmltree::Document::parse(junit).expect("well-formed JUnit");
    assert_eq!(
        doc.root_element().attribute("failures"),
        Some("1"),
        "{junit}"
    );
}

#[test]
fn info_failure_is_info_and_never_fails_the_run() {
    let server = FakeServer::start(noop_server());
    let ws = Workspace::new();
    ws.write(
        "info.yaml",
        &scenario("fake.level.info", "info", "", FAILING),
    );
    for extra in [&[][..], &["--strict"][..]] {
        let out = ws.run(server.port, extra);
        assert_eq!(out.code, 0, "{extra:?}\n{}", out.dump());
        assert_eq!(out.outcome("fake.level.info"), "info", "{}", out.dump());
        assert_eq!(out.json.as_ref().unwrap()["summary"]["info"], 1);
        // The console line says what was seen instead, on the same line.
        let line = out
            .stdout
            .lines()
            .find(|l| l.contains("fake.level.info"))
            .unwrap_or_else(|| panic!("no console line\n{}", out.dump()));
        assert!(line.starts_with("~ info fake.level.info ("), "{line}");
        assert!(line.ends_with("ms): expected -ERR, got +OK"), "{line}");
    }
}

#[test]
fn non_strict_alternative_in_an_info_scenario_stays_info_under_strict() {
    let server = FakeServer::start(noop_server());
    let ws = Workspace::new();
    let steps = "  - send: NOOP\n  - one_of:\n      - grade: pass\n        steps:\n          - expect: { status: err }\n      - grade: non-strict\n        steps:\n          - expect: { status: ok }\n";
    ws.write(
        "info.yaml",
        &scenario("fake.level.info-graded", "info", "", steps),
    );
    ws.write(
        "must.yaml",
        &scenario("fake.level.must-graded", "must", "", steps),
    );
    let out = ws.run(server.port, &[]);
    assert_eq!(
        out.outcome("fake.level.info-graded"),
        "info",
        "{}",
        out.dump()
    );
    // The graded alternative's note (here the default one) is the reason shown.
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("~ info fake.level.info-graded (")
                && l.ends_with("ms): alternative 2 of one_of matched")),
        "{}",
        out.dump()
    );
    assert_eq!(
        out.outcome("fake.level.must-graded"),
        "non-strict",
        "{}",
        out.dump()
    );
    assert_eq!(out.code, 0, "{}", out.dump());
    let out = ws.run(server.port, &["--strict"]);
    assert_eq!(
        out.outcome("fake.level.info-graded"),
        "info",
        "{}",
        out.dump()
    );
    assert_eq!(
        out.outcome("fake.level.must-graded"),
        "fail",
        "{}",
        out.dump()
    );
    assert_eq!(out.code, 1, "{}", out.dump());
}

// ---------------------------------------------------------------- known failures

#[test]
fn known_failures_do_not_fail_the_run_and_fixed_ones_are_reported() {
    let server = FakeServer::start(noop_server());
    let ws = Workspace::new();
    ws.write("a.yaml", &scenario("fake.known.fails", "must", "", FAILING));
    ws.write(
        "b.yaml",
        &scenario("fake.known.passes", "must", "", PASSING),
    );
    let list = ws.dir.path().join("known-failures.txt");
    std::fs::write(
        &list,
        "# expected to fail on this server\nfake.known.fails\nfake.known.passes  # fixed?\n",
    )
    .unwrap();
    let out = ws.run(server.port, &["--known-failures", list.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(out.outcome("fake.known.fails"), "fail", "{}", out.dump());
    assert_eq!(out.scenario("fake.known.fails")["known_failure"], true);
    assert_eq!(out.outcome("fake.known.passes"), "pass", "{}", out.dump());
    assert_eq!(out.scenario("fake.known.passes")["known_failure"], true);
    assert!(
        out.stdout
            .contains("known failures that failed (not counted against the run): fake.known.fails"),
        "{}",
        out.dump()
    );
    assert!(
        out.stdout
            .contains("remove from the known-failures list: fake.known.passes"),
        "{}",
        out.dump()
    );

    // Without the list, the same run fails.
    let plain = ws.run(server.port, &[]);
    assert_eq!(plain.code, 1, "{}", plain.dump());
}

// ---------------------------------------------------------------- exit codes

#[test]
fn malformed_scenario_file_exits_2_without_connecting() {
    let server = FakeServer::start(noop_server());
    let ws = Workspace::new();
    ws.write(
        "good.yaml",
        &scenario("fake.exit.good", "must", "", PASSING),
    );
    ws.write(
        "bad.yaml",
        "id: fake.exit.bad\ntitle: [unclosed\nsteps:\n  - send: NOOP\n",
    );
    let out = ws.run(server.port, &[]);
    assert_eq!(out.code, 2, "{}", out.dump());
    assert!(out.stderr.contains("bad.yaml"), "{}", out.dump());
    assert!(
        out.json.is_none(),
        "no report for a run that did not happen"
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(server.connections(), 0, "{:?}", server.received());
}

#[test]
fn bad_flag_exits_2() {
    let ws = Workspace::new();
    ws.write(
        "good.yaml",
        &scenario("fake.exit.good", "must", "", PASSING),
    );
    let out = ws.run(dead_port(), &["--no-such-flag"]);
    assert_eq!(out.code, 2, "{}", out.dump());
    assert!(out.stderr.contains("--no-such-flag"), "{}", out.dump());

    let out = ws.run(dead_port(), &["--timeout", "soon"]);
    assert_eq!(out.code, 2, "{}", out.dump());
}

#[test]
fn nothing_listening_exits_3() {
    let ws = Workspace::new();
    ws.write(
        "good.yaml",
        &scenario("fake.exit.good", "must", "", PASSING),
    );
    let out = ws.run(dead_port(), &[]);
    assert_eq!(out.code, 3, "{}", out.dump());
    assert!(out.stderr.contains("nothing was run"), "{}", out.dump());
}

// ---------------------------------------------------------------- JUnit and hostile bytes

fn attr<'a>(n: roxmltree::Node<'a, '_>, name: &str) -> &'a str {
    n.attribute(name)
        .unwrap_or_else(|| panic!("no attribute {name}"))
}

#[test]
fn junit_counts_one_testcase_per_scenario() {
    let server = FakeServer::start(
        noop_server()
            .capa(&["USER"])
            .on_acts("STAT", vec![Act::Hang]),
    );
    let ws = Workspace::new();
    ws.write("1.yaml", &scenario("fake.junit.pass", "must", "", PASSING));
    ws.write("2.yaml", &scenario("fake.junit.fail", "must", "", FAILING));
    ws.write(
        "3.yaml",
        &scenario(
            "fake.junit.error",
            "must",
            "",
            "  - send: STAT\n  - expect: { status: ok }\n",
        ),
    );
    ws.write(
        "4.yaml",
        &scenario("fake.junit.skip", "must", "requires: [TOP]\n", PASSING),
    );
    let out = ws.run(server.port, &[]);
    assert_eq!(out.code, 1, "{}", out.dump());
    let junit = out.junit.as_deref().expect("junit written");
    let doc = roxmltree::Document::parse(junit).expect("well-formed JUnit");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(
        (
            attr(root, "tests"),
            attr(root, "failures"),
            attr(root, "errors")
        ),
        ("4", "1", "1"),
        "{junit}"
    );
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    let sum = |a: &str| -> u32 {
        suites
            .iter()
            .map(|s| attr(*s, a).parse::<u32>().unwrap())
            .sum()
    };
    assert_eq!(
        (sum("tests"), sum("failures"), sum("errors"), sum("skipped")),
        (4, 1, 1, 1),
        "{junit}"
    );
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 4, "{junit}");
    let case = |id: &str| {
        *cases
            .iter()
            .find(|c| attr(**c, "name").starts_with(id))
            .unwrap_or_else(|| panic!("no testcase {id}\n{junit}"))
    };
    let child_tags = |id: &str| -> Vec<String> {
        case(id)
            .children()
            .filter(|n| n.is_element())
            .map(|n| n.tag_name().name().to_string())
            .collect()
    };
    assert!(!child_tags("fake.junit.pass").contains(&"failure".to_string()));
    assert!(child_tags("fake.junit.fail").contains(&"failure".to_string()));
    assert!(child_tags("fake.junit.error").contains(&"error".to_string()));
    assert!(child_tags("fake.junit.skip").contains(&"skipped".to_string()));
    let failure = case("fake.junit.fail")
        .children()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    assert!(
        attr(failure, "message").contains("expected -ERR, got +OK"),
        "{junit}"
    );
}

#[test]
fn hostile_server_bytes_are_escaped_in_every_report() {
    let server = FakeServer::start(
        noop_server()
            .on("HOSTILE", b"+OK a\x00b\x1bc\xffd\r\n")
            .on("RETR 1", b"+OK\r\nx\x00y\x1b[31mz\xfe\r\n.\r\n"),
    );
    let ws = Workspace::new();
    ws.write(
        "h1.yaml",
        &scenario(
            "fake.hostile.line",
            "must",
            "",
            "  - send: HOSTILE\n  - expect: { status: ok, line: \"+OK plain\" }\n",
        ),
    );
    ws.write(
        "h2.yaml",
        &scenario(
            "fake.hostile.body",
            "must",
            "",
            "  - send: RETR 1\n  - expect_multiline: { lines: [\"plain\"] }\n",
        ),
    );
    let out = ws.run(server.port, &[]);
    assert_eq!(out.code, 1, "{}", out.dump());
    assert_eq!(out.outcome("fake.hostile.line"), "fail", "{}", out.dump());
    assert_eq!(out.outcome("fake.hostile.body"), "fail", "{}", out.dump());

    // JSON: the transcript shows the bytes as escapes, never raw.
    let texts = |id: &str| -> Vec<String> {
        out.scenario(id)["transcript"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["text"].as_str().unwrap().to_string())
            .collect()
    };
    let line_texts = texts("fake.hostile.line");
    assert!(
        line_texts.iter().any(|t| t == r"+OK a\x00b\x1bc\xffd"),
        "{line_texts:?}"
    );
    let body_texts = texts("fake.hostile.body");
    assert!(
        body_texts.iter().any(|t| t == r"x\x00y\x1b[31mz\xfe"),
        "{body_texts:?}"
    );
    // Nothing anywhere in the report holds a raw control character or a
    // replacement character standing for lost bytes.
    let problems = std::cell::RefCell::new(Vec::<String>::new());
    let raw_free = |what: &str, s: &str| {
        for bad in ['\u{0}', '\u{1b}', '\u{fffd}'] {
            if s.contains(bad) {
                problems
                    .borrow_mut()
                    .push(format!("{what} holds {bad:?}: {s:?}"));
            }
        }
    };
    let json = out.json.as_ref().unwrap();
    fn walk(v: &serde_json::Value, f: &mut dyn FnMut(&str)) {
        match v {
            serde_json::Value::String(s) => f(s),
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, f)),
            serde_json::Value::Object(o) => o.values().for_each(|x| walk(x, f)),
            _ => {}
        }
    }
    for r in json["scenarios"].as_array().unwrap() {
        let id = r["id"].as_str().unwrap();
        for (key, value) in r.as_object().unwrap() {
            walk(value, &mut |s| raw_free(&format!("JSON {id} `{key}`"), s));
        }
    }
    raw_free("the JSON text", out.json_text.as_deref().unwrap());

    // JUnit: well-formed (XML 1.0 forbids NUL and ESC), valid UTF-8, escaped.
    let junit_bytes = std::fs::read(ws.junit_path()).unwrap();
    match String::from_utf8(junit_bytes) {
        Err(e) => problems
            .borrow_mut()
            .push(format!("the JUnit file is not UTF-8: {e}")),
        Ok(junit) => {
            raw_free("the JUnit file", &junit);
            match roxmltree::Document::parse(&junit) {
                Err(e) => problems
                    .borrow_mut()
                    .push(format!("the JUnit file is not well-formed XML: {e}")),
                Ok(doc) => {
                    let all_text: String = doc
                        .descendants()
                        .filter_map(|n| n.text())
                        .collect::<Vec<_>>()
                        .join("\n");
                    if !all_text.contains(r"\x00") || !all_text.contains(r"\xff") {
                        problems
                            .borrow_mut()
                            .push(format!("the JUnit transcript lacks the escapes:\n{junit}"));
                    }
                }
            }
        }
    }
    // The console too (with --color never there is no escape at all).
    raw_free("stdout", &out.stdout);
    let problems = problems.into_inner();
    assert!(
        problems.is_empty(),
        "raw bytes leak:\n{}",
        problems.join("\n")
    );
}

// ---------------------------------------------------------------- secrets

const SECRET: &str = "S3cr3t-value";

fn assert_no_secret(out: &RunOutput) {
    assert!(
        out.json_text.is_some() && out.junit.is_some(),
        "{}",
        out.dump()
    );
    let mut leaks = Vec::new();
    for (what, text) in [
        ("stdout", out.stdout.as_str()),
        ("stderr", out.stderr.as_str()),
        ("JSON", out.json_text.as_deref().unwrap_or("")),
        ("JUnit", out.junit.as_deref().unwrap_or("")),
    ] {
        for line in text.lines().filter(|l| l.contains(SECRET)) {
            leaks.push(format!("{what}: {}", line.trim()));
        }
    }
    assert!(
        leaks.is_empty(),
        "the password appears in the output:\n{}",
        leaks.join("\n")
    );
}

#[test]
fn password_never_appears_in_any_output() {
    let server = FakeServer::start(
        noop_server()
            .capa(&["USER", "UIDL"])
            .account("alice", SECRET)
            .on("STAT", "+OK 0 0\r\n"),
    );
    let ws = Workspace::new();
    ws.write(
        "t1.yaml",
        &scenario(
            "fake.secret.transaction",
            "must",
            "state: transaction\n",
            "  - send: STAT\n  - expect: { status: ok }\n",
        ),
    );
    ws.write(
        "t2.yaml",
        &scenario(
            "fake.secret.explicit",
            "must",
            "",
            "  - send: USER {{user}}\n  - expect: { status: ok }\n  - send: PASS {{pass}}\n  - expect: { status: err }\n",
        ),
    );
    ws.write(
        "t3.yaml",
        &scenario(
            "fake.secret.login-step",
            "must",
            "",
            "  - login: true\n  - send: STAT\n  - expect: { status: err }\n",
        ),
    );
    let out = ws.run(
        server.port,
        &["--user", "alice", "--pass", SECRET, "--verbose"],
    );
    assert_eq!(out.code, 1, "{}", out.dump());
    assert_eq!(
        out.outcome("fake.secret.transaction"),
        "pass",
        "{}",
        out.dump()
    );
    assert_eq!(
        out.outcome("fake.secret.explicit"),
        "fail",
        "{}",
        out.dump()
    );
    assert_eq!(
        out.outcome("fake.secret.login-step"),
        "fail",
        "{}",
        out.dump()
    );
    // The password was really sent...
    assert!(
        server
            .received()
            .iter()
            .flatten()
            .any(|l| l == &format!("PASS {SECRET}")),
        "{:?}",
        server.received()
    );
    // ...and never shown.
    assert_no_secret(&out);
    for id in ["fake.secret.transaction", "fake.secret.explicit"] {
        let shown: Vec<&str> = out.scenario(id)["transcript"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["text"].as_str().unwrap())
            .collect();
        assert!(shown.contains(&"PASS ***"), "{id}: {shown:?}");
    }
    assert_eq!(
        out.scenario("fake.secret.explicit")["finding"]["command"],
        "PASS ***"
    );
}

#[test]
fn password_echoed_in_a_response_is_redacted() {
    let server = FakeServer::start(
        noop_server()
            .account("alice", SECRET)
            .on("ECHO", format!("+OK you said {SECRET}\r\n")),
    );
    let ws = Workspace::new();
    ws.write(
        "e.yaml",
        &scenario(
            "fake.secret.echo",
            "must",
            "",
            "  - send: ECHO\n  - expect: { status: ok, line: \"+OK\" }\n",
        ),
    );
    let out = ws.run(server.port, &["--user", "alice", "--pass", SECRET]);
    assert_eq!(out.code, 1, "{}", out.dump());
    assert_eq!(out.outcome("fake.secret.echo"), "fail", "{}", out.dump());
    assert_no_secret(&out);
}

#[test]
fn password_echoed_in_the_probe_login_refusal_is_redacted() {
    let server = FakeServer::start(
        noop_server()
            .account("alice", SECRET)
            .on("PASS *", format!("-ERR wrong password {SECRET}\r\n")),
    );
    let ws = Workspace::new();
    ws.write(
        "p.yaml",
        &scenario("fake.secret.probe", "must", "", PASSING),
    );
    let out = ws.run(server.port, &["--user", "alice", "--pass", SECRET]);
    // An account that cannot log in stops the run before anything is judged.
    assert_eq!(out.code, 3, "{}", out.dump());
    assert!(
        out.stderr.contains("alice could not log in"),
        "the probe's login failure is reported\n{}",
        out.dump()
    );
    assert!(
        !out.stdout.contains(SECRET) && !out.stderr.contains(SECRET),
        "the password appears in the output\n{}",
        out.dump()
    );
}

// ---------------------------------------------------------------- fail-fast

/// `--fail-fast` stops the run at the first failure: serially every later
/// scenario is skipped with the reason; with jobs, nothing starts after the
/// failure is known (scenarios already running finish).
#[test]
fn fail_fast_stops_the_run_serially_and_with_jobs() {
    let ws = Workspace::new();
    ws.write("a.yaml", &scenario("fake.ff.a", "must", "", PASSING));
    ws.write("b.yaml", &scenario("fake.ff.b", "must", "", FAILING));
    for c in ["c", "d", "e", "f", "g", "h"] {
        ws.write(
            &format!("{c}.yaml"),
            &scenario(&format!("fake.ff.{c}"), "must", "", PASSING),
        );
    }
    let server = FakeServer::start(noop_server());
    let out = ws.run(server.port, &["--fail-fast", "-j", "1"]);
    assert_eq!(out.code, 1, "{}", out.dump());
    assert_eq!(out.outcome("fake.ff.a"), "pass", "{}", out.dump());
    assert_eq!(out.outcome("fake.ff.b"), "fail", "{}", out.dump());
    for c in ["c", "d", "e", "f", "g", "h"] {
        let id = format!("fake.ff.{c}");
        assert_eq!(out.outcome(&id), "skipped", "{}", out.dump());
        let reason = out.scenario(&id)["reason"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(reason.contains("--fail-fast"), "{reason}");
    }

    // Two jobs: the failure still fails the run, and whatever did not run is
    // skipped for --fail-fast, never lost from the report.
    let server = FakeServer::start(noop_server());
    let out = ws.run(server.port, &["--fail-fast", "-j", "2"]);
    assert_eq!(out.code, 1, "{}", out.dump());
    assert_eq!(out.outcome("fake.ff.b"), "fail", "{}", out.dump());
    let json = out.json.as_ref().unwrap();
    assert_eq!(json["summary"]["total"], 8, "{}", out.dump());
    for s in json["scenarios"].as_array().unwrap() {
        let outcome = s["outcome"].as_str().unwrap();
        assert!(
            outcome == "pass"
                || s["id"] == "fake.ff.b"
                || (outcome == "skipped"
                    && s["reason"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("--fail-fast")),
            "{s}"
        );
    }
}

/// RFC 1939 §13: a server "should not allow both methods of access for a given
/// user". When it refuses APOP for an account that logs in with USER/PASS, the
/// scenarios that need APOP to succeed are skipped with its answer; when APOP
/// works they run (and judge).
#[test]
fn apop_refused_for_a_user_pass_account_skips_apop_logins() {
    let greeting = || vec![Act::Send(b"+OK ready <1.2@fake.test>\r\n".to_vec())];
    let steps = "  - send: APOP {{user}} {{apop(timestamp, pass)}}\n  - expect: { status: ok }\n";
    let extra = "requires: [apop-allowed]\n";
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &scenario("fake.apop.allowed", "must", extra, steps),
    );
    let args = ["--user", "alice", "--pass", "pw1"];

    let strict = FakeServer::start(
        Script::new()
            .greeting(greeting())
            .account("alice", "pw1")
            .on(
                "APOP *",
                "-ERR [AUTH] APOP is not enabled for this user\r\n",
            ),
    );
    let out = ws.run(strict.port, &args);
    assert_eq!(
        out.outcome("fake.apop.allowed"),
        "skipped",
        "{}",
        out.dump()
    );
    let reason = out.scenario("fake.apop.allowed")["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(reason.contains("RFC 1939 §13"), "{reason}");
    assert!(reason.contains("APOP is not enabled"), "{reason}");
    assert_eq!(out.code, 0, "{}", out.dump());

    let both = FakeServer::start(
        Script::new()
            .greeting(greeting())
            .account("alice", "pw1")
            .on("APOP *", "+OK maildrop ready\r\n"),
    );
    let out = ws.run(both.port, &args);
    assert_eq!(out.outcome("fake.apop.allowed"), "pass", "{}", out.dump());
}

/// The other half of RFC 1939 §13: an account that logs in with APOP
/// (`--auth apop`) may be refused USER/PASS; the scenarios that need USER
/// are then skipped with the server's answer, never failed. A server that
/// allows both runs them.
#[test]
fn user_pass_refused_for_an_apop_account_skips_user_logins() {
    let greeting = || vec![Act::Send(b"+OK ready <1.2@fake.test>\r\n".to_vec())];
    let steps = "  - send: USER {{user}}\n  - expect: { status: ok }\n  - send: PASS {{pass}}\n  - expect: { status: ok }\n";
    let extra = "requires: [USER]\n";
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &scenario("fake.user.allowed", "must", extra, steps),
    );
    let args = [
        "--user",
        "alice",
        "--pass",
        "pw1",
        "--auth",
        "apop",
        "--capability",
        "USER",
    ];

    let strict = FakeServer::start(
        Script::new()
            .greeting(greeting())
            .account("alice", "pw1")
            .on("APOP *", "+OK maildrop ready\r\n")
            .on(
                "USER *",
                "-ERR [AUTH] USER/PASS is not enabled for this user\r\n",
            ),
    );
    let out = ws.run(strict.port, &args);
    assert_eq!(
        out.outcome("fake.user.allowed"),
        "skipped",
        "{}",
        out.dump()
    );
    let reason = out.scenario("fake.user.allowed")["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(reason.contains("RFC 1939 §13"), "{reason}");
    assert!(reason.contains("USER/PASS is not enabled"), "{reason}");
    assert_eq!(out.code, 0, "{}", out.dump());

    let both = FakeServer::start(
        Script::new()
            .greeting(greeting())
            .account("alice", "pw1")
            .on("APOP *", "+OK maildrop ready\r\n"),
    );
    let out = ws.run(both.port, &args);
    assert_eq!(out.outcome("fake.user.allowed"), "pass", "{}", out.dump());
}
