//! `pop3spec check`: every kind of problem in a scenario file is reported with
//! `file:line:col`, the command exits 2, and nothing panics.

mod support;

use regex::Regex;
use std::path::PathBuf;
use support::*;

const OK_STEPS: &str = "  - send: NOOP\n  - expect: { status: ok }\n";

struct Case {
    name: &'static str,
    text: String,
    /// A message fragment the report must hold for this file.
    message: &'static str,
    /// The exact line:col expected, when the test pins it.
    pos: Option<(u64, u64)>,
}

fn cases() -> Vec<Case> {
    let unknown = scenario("chk.unknown-key", "must", "colour: blue\n", OK_STEPS);
    let unknown_pos = (line_of(&unknown, "colour:"), 1);
    let undefined = scenario(
        "chk.undefined-var",
        "must",
        "",
        "  - send: STAT\n  - expect: { status: ok, match: '^\\+OK (?P<count>\\d+)' }\n  - assert: count == nope + 1\n",
    );
    let undefined_line = undefined
        .lines()
        .find(|l| l.contains("assert:"))
        .unwrap()
        .to_string();
    let undefined_pos = (
        line_of(&undefined, "assert:"),
        undefined_line.find("count ==").unwrap() as u64 + 1,
    );
    let wrong_type = scenario(
        "chk.wrong-type",
        "must",
        "",
        "  - send: NOOP\n  - expect_multiline: { count: 2, capture_line: { first: many } }\n",
    );
    let wrong_type_pos = (
        line_of(&wrong_type, "many"),
        wrong_type
            .lines()
            .find(|l| l.contains("many"))
            .unwrap()
            .find("many")
            .unwrap() as u64
            + 1,
    );
    let used_early = scenario(
        "chk.used-before-capture",
        "must",
        "",
        "  - send: RETR {{msgno}}\n  - expect: { match: '^\\+OK (?P<msgno>\\d+)' }\n",
    );
    let used_early_pos = (line_of(&used_early, "RETR"), 11);
    vec![
        Case {
            name: "syntax.yaml",
            text: "id: chk.syntax\ntitle: [unclosed\nspec: RFC 1939\nrequirement: x\nlevel: must\nsteps:\n  - send: NOOP\n".into(),
            message: "",
            pos: None,
        },
        Case {
            name: "unknown-key.yaml",
            text: unknown,
            message: "colour",
            pos: Some(unknown_pos),
        },
        Case {
            name: "wrong-type.yaml",
            text: wrong_type,
            message: "",
            pos: Some(wrong_type_pos),
        },
        Case {
            name: "used-before-capture.yaml",
            text: used_early,
            message: "`msgno` is not defined",
            pos: Some(used_early_pos),
        },
        Case {
            name: "dup-a.yaml",
            text: scenario("chk.duplicate", "must", "", OK_STEPS),
            message: "duplicate id",
            pos: None,
        },
        Case {
            name: "dup-b.yaml",
            text: scenario("chk.duplicate", "must", "", OK_STEPS),
            message: "duplicate id",
            pos: None,
        },
        Case {
            name: "bad-regex.yaml",
            text: scenario(
                "chk.bad-regex",
                "must",
                "",
                "  - send: NOOP\n  - expect: { match: '^\\+OK (unclosed' }\n",
            ),
            message: "regular expression",
            pos: None,
        },
        Case {
            name: "undefined-var.yaml",
            text: undefined,
            message: "`nope` is not defined",
            pos: Some(undefined_pos),
        },
        Case {
            name: "unknown-fixture.yaml",
            text: scenario(
                "chk.unknown-fixture",
                "must",
                "fixture: no-such-fixture\n",
                OK_STEPS,
            ),
            message: "unknown fixture",
            pos: None,
        },
        Case {
            name: "two-actions.yaml",
            text: scenario(
                "chk.two-actions",
                "must",
                "",
                "  - send: NOOP\n    expect: { status: ok }\n",
            ),
            message: "several actions",
            pos: None,
        },
    ]
}

fn no_panic(out: &RunOutput) {
    assert!(!out.stderr.contains("panicked"), "{}", out.dump());
    assert!(!out.stdout.contains("panicked"), "{}", out.dump());
}

#[test]
fn every_problem_is_reported_with_its_position() {
    let ws = Workspace::new();
    let cases = cases();
    let paths: Vec<PathBuf> = cases.iter().map(|c| ws.write(c.name, &c.text)).collect();
    let out = ws.check(&[&ws.scenarios()]);
    assert_eq!(out.code, 2, "{}", out.dump());
    no_panic(&out);
    let mut missing = Vec::new();
    for (case, path) in cases.iter().zip(&paths) {
        let file = regex::escape(&path.display().to_string());
        let re = Regex::new(&format!(r"{file}:(\d+):(\d+)")).unwrap();
        let positions: Vec<(u64, u64)> = re
            .captures_iter(&out.stderr)
            .map(|c| (c[1].parse().unwrap(), c[2].parse().unwrap()))
            .collect();
        if positions.is_empty() {
            missing.push(format!("{}: no file:line:col in the report", case.name));
            continue;
        }
        if let Some(want) = case.pos {
            if !positions.contains(&want) {
                missing.push(format!(
                    "{}: expected {}:{}, reported {positions:?}",
                    case.name, want.0, want.1
                ));
            }
        }
        if !case.message.is_empty() && !out.stderr.contains(case.message) {
            missing.push(format!("{}: no message {:?}", case.name, case.message));
        }
    }
    assert!(
        missing.is_empty(),
        "{}\n--- stderr\n{}",
        missing.join("\n"),
        out.stderr
    );
    assert!(
        out.stderr.contains("problem(s) in scenario files"),
        "{}",
        out.dump()
    );
}

/// Each file alone: exit 2 and its own position, so one problem does not hide
/// behind another.
#[test]
fn each_problem_alone_exits_2() {
    let ws = Workspace::new();
    for case in cases() {
        if case.name.starts_with("dup-") {
            continue;
        }
        let path = ws.write(case.name, &case.text);
        let out = ws.check(&[&path]);
        assert_eq!(out.code, 2, "{}\n{}", case.name, out.dump());
        no_panic(&out);
        let prefix = format!("{}:", path.display());
        assert!(
            out.stderr.contains(&prefix),
            "{}: no {prefix}line:col\n{}",
            case.name,
            out.dump()
        );
        if let Some((line, col)) = case.pos {
            let want = format!("{}:{line}:{col}", path.display());
            assert!(out.stderr.contains(&want), "{want}\n{}", out.dump());
        }
        std::fs::remove_file(&path).unwrap();
    }
    // Both duplicates together: the second names the first.
    let a = ws.write(
        "dup-a.yaml",
        &scenario("chk.duplicate", "must", "", OK_STEPS),
    );
    let b = ws.write(
        "dup-b.yaml",
        &scenario("chk.duplicate", "must", "", OK_STEPS),
    );
    let out = ws.check(&[&a, &b]);
    assert_eq!(out.code, 2, "{}", out.dump());
    assert!(
        out.stderr.contains(&format!("{}:1:5", b.display())),
        "{}",
        out.dump()
    );
    assert!(
        out.stderr.contains(&format!("{}:1:5", a.display())),
        "the hint names the first use\n{}",
        out.dump()
    );
}

#[test]
fn a_valid_file_checks_clean() {
    let ws = Workspace::new();
    let path = ws.write("ok.yaml", &scenario("chk.ok", "must", "", OK_STEPS));
    let out = ws.check(&[&path]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert!(
        out.stdout.contains("1 scenario file(s) OK"),
        "{}",
        out.dump()
    );
}
