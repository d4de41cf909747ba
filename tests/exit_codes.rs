//! Exit codes and limits a CI job can rely on: selections that name nothing,
//! known-failure lists that no longer match, runs bounded by the command line,
//! reports that cannot be written, input that is refused, and messages.
//! Each test runs the real binary, mostly against the scripted fake server.

mod support;

use support::*;

const NOOP: &str = "  - send: NOOP\n  - expect: { status: ok }\n";

fn good() -> Script {
    Script::new().on("NOOP", "+OK\r\n")
}

/// A workspace with two passing scenarios, `t.a.one` (tag `alpha`) and `t.b.two`.
fn two_scenarios() -> Workspace {
    let ws = Workspace::new();
    ws.write("a.yaml", &scenario("t.a.one", "must", "tags: [alpha]\n", NOOP));
    ws.write("b.yaml", &scenario("t.b.two", "must", "", NOOP));
    ws
}

// ------------------------------------------------------------ empty selections

#[test]
fn a_path_that_does_not_exist_is_a_usage_error() {
    let ws = two_scenarios();
    for cmd in ["run", "list"] {
        let out = pop3spec(&[cmd, "/nonexistent/scenarios"], ws.dir.path());
        assert_eq!(out.code, 2, "{cmd}: {}", out.dump());
        assert!(
            out.stderr.contains("/nonexistent/scenarios: no such file or folder"),
            "{cmd}: {}",
            out.dump()
        );
    }
    let out = pop3spec(&["run", "missing.yaml"], ws.dir.path());
    assert_eq!(out.code, 2, "{}", out.dump());
    assert!(out.stderr.contains("missing.yaml: no such file or folder"), "{}", out.dump());
}

#[test]
fn a_selection_that_matches_nothing_is_a_usage_error_with_the_reason() {
    let server = FakeServer::start(good());
    let ws = two_scenarios();
    let cases: [(&[&str], &str); 4] = [
        (&["nomatch.*"], "no scenario id matches 'nomatch.*'"),
        (&["--tag", "typo"], "no scenario has the tag 'typo' (tags in use: alpha)"),
        (&["--exclude", "t.*"], "--exclude 't.*' left out every one"),
        (&["t.b.*", "--tag", "alpha"], "no selected scenario has the tag 'alpha'"),
    ];
    for (args, reason) in cases {
        let out = ws.run(server.port, args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.dump());
        assert!(out.stderr.contains("the selection is empty"), "{args:?}: {}", out.dump());
        assert!(out.stderr.contains(reason), "{args:?} lacks {reason:?}: {}", out.dump());
        assert!(out.stderr.contains("--allow-empty"), "{}", out.dump());
        assert!(out.json.is_none(), "nothing was run, no report: {}", out.dump());
        let listed = pop3spec(&[&["list", "scenarios"], args].concat(), ws.dir.path());
        assert_eq!(listed.code, 2, "list {args:?}: {}", listed.dump());
    }
    assert_eq!(server.connections(), 0, "nothing connected");
}

#[test]
fn an_empty_folder_is_a_usage_error() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.scenarios()).unwrap();
    let out = pop3spec(&["list", "scenarios"], ws.dir.path());
    assert_eq!(out.code, 2, "{}", out.dump());
    assert!(out.stderr.contains("no scenario files in scenarios"), "{}", out.dump());
}

#[test]
fn allow_empty_lets_an_empty_selection_pass() {
    let server = FakeServer::start(good());
    let ws = two_scenarios();
    let out = ws.run(server.port, &["--tag", "typo", "--allow-empty"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(out.json.as_ref().unwrap()["scenarios"].as_array().unwrap().len(), 0);
    let out = pop3spec(&["list", "scenarios", "--tag", "typo"], ws.dir.path());
    assert_eq!(out.code, 2);
    let out = pop3spec_env(&["list", "scenarios", "--tag", "typo"], ws.dir.path(), &[("POP3SPEC_ALLOW_EMPTY", "true")]);
    assert_eq!(out.code, 0, "the env twin: {}", out.dump());
}
