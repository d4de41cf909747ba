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
    ws.write(
        "a.yaml",
        &scenario("t.a.one", "must", "tags: [alpha]\n", NOOP),
    );
    ws.write("b.yaml", &scenario("t.b.two", "must", "", NOOP));
    ws
}

// ------------------------------------------------------------ bounded reads

/// A body is kept once (as its lines) rather than also as raw bytes, except
/// inside `one_of`, whose alternatives read the same bytes again.
#[test]
fn one_of_alternatives_reread_a_long_body() {
    let lines = 3000;
    let mut body = String::from("+OK\r\n");
    for i in 0..lines {
        body.push_str(&format!(
            "line {i} of a body longer than the read chunk\r\n"
        ));
    }
    body.push_str(".\r\n");
    let server = FakeServer::start(good().on("RETR 1", body));
    let ws = Workspace::new();
    let steps = format!(
        "  - send: RETR 1\n  - one_of:\n      - grade: fail\n        note: wrong count\n        steps:\n          - expect_multiline: {{ status: ok, count: 1 }}\n      - grade: pass\n        steps:\n          - expect_multiline: {{ status: ok, count: {lines} }}\n"
    );
    ws.write("a.yaml", &scenario("t.a.reread", "must", "", &steps));
    let out = ws.run(server.port, &[]);
    assert_eq!(out.outcome("t.a.reread"), "pass", "{}", out.dump());
}

// ------------------------------------------------------------ empty selections

#[test]
fn a_path_that_does_not_exist_is_a_usage_error() {
    let ws = two_scenarios();
    for cmd in ["run", "list"] {
        let out = pop3spec(&[cmd, "/nonexistent/scenarios"], ws.dir.path());
        assert_eq!(out.code, 2, "{cmd}: {}", out.dump());
        assert!(
            out.stderr
                .contains("/nonexistent/scenarios: no such file or folder"),
            "{cmd}: {}",
            out.dump()
        );
    }
    let out = pop3spec(&["run", "missing.yaml"], ws.dir.path());
    assert_eq!(out.code, 2, "{}", out.dump());
    assert!(
        out.stderr.contains("missing.yaml: no such file or folder"),
        "{}",
        out.dump()
    );
}

#[test]
fn a_selection_that_matches_nothing_is_a_usage_error_with_the_reason() {
    let server = FakeServer::start(good());
    let ws = two_scenarios();
    let cases: [(&[&str], &str); 4] = [
        (&["nomatch.*"], "no scenario id matches 'nomatch.*'"),
        (
            &["--tag", "typo"],
            "no scenario has the tag 'typo' (tags in use: alpha)",
        ),
        (&["--exclude", "t.*"], "--exclude 't.*' left out every one"),
        (
            &["t.b.*", "--tag", "alpha"],
            "no selected scenario has the tag 'alpha'",
        ),
    ];
    for (args, reason) in cases {
        let out = ws.run(server.port, args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.dump());
        assert!(
            out.stderr.contains("the selection is empty"),
            "{args:?}: {}",
            out.dump()
        );
        assert!(
            out.stderr.contains(reason),
            "{args:?} lacks {reason:?}: {}",
            out.dump()
        );
        assert!(out.stderr.contains("--allow-empty"), "{}", out.dump());
        assert!(
            out.json.is_none(),
            "nothing was run, no report: {}",
            out.dump()
        );
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
    assert!(
        out.stderr.contains("no scenario files in scenarios"),
        "{}",
        out.dump()
    );
}

#[test]
fn allow_empty_lets_an_empty_selection_pass() {
    let server = FakeServer::start(good());
    let ws = two_scenarios();
    let out = ws.run(server.port, &["--tag", "typo", "--allow-empty"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(
        out.json.as_ref().unwrap()["scenarios"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let out = pop3spec(&["list", "scenarios", "--tag", "typo"], ws.dir.path());
    assert_eq!(out.code, 2);
    let out = pop3spec_env(
        &["list", "scenarios", "--tag", "typo"],
        ws.dir.path(),
        &[("POP3SPEC_ALLOW_EMPTY", "true")],
    );
    assert_eq!(out.code, 0, "the env twin: {}", out.dump());
}

// ------------------------------------------------------------ bounded runs

/// A server that greets and then never answers NOOP.
fn silent_on_noop() -> Script {
    Script::new().on_acts("NOOP", vec![Act::Hang])
}

#[test]
fn max_timeout_caps_a_scenarios_own_timeout() {
    let server = FakeServer::start(silent_on_noop());
    let ws = Workspace::new();
    ws.write(
        "a.yaml",
        &scenario("t.a.slow", "must", "timeout: 30s\n", NOOP),
    );
    let out = ws.run(server.port, &["--max-timeout", "1s"]);
    assert!(
        out.elapsed.as_secs() < 8,
        "took {:?}\n{}",
        out.elapsed,
        out.dump()
    );
    assert_eq!(out.code, 1, "{}", out.dump());
    assert_eq!(out.outcome("t.a.slow"), "error", "{}", out.dump());
    assert!(
        out.message("t.a.slow").contains("within 1s"),
        "{}",
        out.dump()
    );
    // The env twin does the same.
    let out = pop3spec_env(
        &[
            "run",
            "scenarios",
            "--host",
            "127.0.0.1",
            "--port",
            &server.port.to_string(),
            "--no-reports",
        ],
        ws.dir.path(),
        &[("POP3SPEC_MAX_TIMEOUT", "1s")],
    );
    assert!(
        out.elapsed.as_secs() < 8,
        "took {:?}\n{}",
        out.elapsed,
        out.dump()
    );
    assert_eq!(out.code, 1, "{}", out.dump());
}

#[test]
fn a_close_wait_cut_short_by_max_timeout_is_not_judged() {
    // The server answers and keeps the connection open: with the scenario's
    // own 30 s it would be a failure, but after 1 s nothing can be said.
    let server = FakeServer::start(Script::new().on("NOOP", "+OK\r\n"));
    let ws = Workspace::new();
    ws.write(
        "a.yaml",
        &scenario(
            "t.a.close",
            "must",
            "timeout: 30s\n",
            &format!("{NOOP}  - expect_close: true\n"),
        ),
    );
    let out = ws.run(server.port, &["--max-timeout", "1s"]);
    assert_eq!(out.outcome("t.a.close"), "error", "{}", out.dump());
    assert!(
        out.message("t.a.close")
            .contains("cut short by --max-timeout"),
        "{}",
        out.dump()
    );
}

#[test]
fn deadline_ends_the_run_and_reports_what_was_not_run() {
    let server = FakeServer::start(silent_on_noop());
    let ws = Workspace::new();
    for (file, id) in [
        ("a.yaml", "t.a.first"),
        ("b.yaml", "t.b.second"),
        ("c.yaml", "t.c.third"),
    ] {
        ws.write(file, &scenario(id, "must", "timeout: 30s\n", NOOP));
    }
    let out = ws.run(server.port, &["--deadline", "2s", "-j", "1"]);
    assert!(
        out.elapsed.as_secs() < 8,
        "took {:?}\n{}",
        out.elapsed,
        out.dump()
    );
    assert_eq!(out.code, 1, "{}", out.dump());
    assert!(
        out.json.is_some() && out.junit.is_some(),
        "reports written: {}",
        out.dump()
    );
    assert_eq!(out.outcome("t.a.first"), "error", "{}", out.dump());
    let reason = |id: &str| {
        out.scenario(id)["reason"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        reason("t.a.first").contains("--deadline of 2s passed while it ran"),
        "{}",
        out.dump()
    );
    for id in ["t.b.second", "t.c.third"] {
        assert_eq!(out.outcome(id), "error", "{}", out.dump());
        assert!(
            reason(id).contains("not run: the run's --deadline of 2s had passed"),
            "{}",
            out.dump()
        );
    }
}

// ------------------------------------------------------------ refused input

#[test]
fn zero_jobs_and_zero_timeouts_are_refused() {
    let ws = two_scenarios();
    let cases: [(&[&str], &str); 5] = [
        (&["-j", "0"], "at least one job"),
        (&["--jobs", "0"], "at least one job"),
        (&["--timeout", "0s"], "a zero duration"),
        (&["--timeout", "0ms"], "a zero duration"),
        (&["--deadline", "0s"], "a zero duration"),
    ];
    for (args, reason) in cases {
        let out = pop3spec(
            &[
                &["run", "scenarios", "--host", "127.0.0.1", "--port", "1"],
                args,
            ]
            .concat(),
            ws.dir.path(),
        );
        assert_eq!(out.code, 2, "{args:?}: {}", out.dump());
        assert!(out.stderr.contains(reason), "{args:?}: {}", out.dump());
    }
    let out = pop3spec_env(
        &["run", "scenarios"],
        ws.dir.path(),
        &[("POP3SPEC_JOBS", "0")],
    );
    assert_eq!(out.code, 2, "{}", out.dump());
}

// ------------------------------------------------------------ known failures

#[test]
fn known_failures_take_globs_and_unused_entries_are_warned_about() {
    // NOOP is answered -ERR, so `t.fam.*` scenarios expecting +OK fail.
    let server = FakeServer::start(Script::new());
    let ws = Workspace::new();
    ws.write("a.yaml", &scenario("t.fam.one", "must", "", NOOP));
    ws.write("b.yaml", &scenario("t.fam.two", "must", "", NOOP));
    let list = ws.dir.path().join("known.txt");
    std::fs::write(
        &list,
        "# accepted deviations\nt.fam.*   # a family\nt.fma.one # a typo\nt.gone.away\n",
    )
    .unwrap();
    let list = list.to_str().unwrap();

    let out = ws.run(server.port, &["--known-failures", list]);
    assert_eq!(out.code, 0, "the glob covers both failures: {}", out.dump());
    for id in ["t.fam.one", "t.fam.two"] {
        assert_eq!(out.outcome(id), "fail", "{}", out.dump());
        assert_eq!(out.scenario(id)["known_failure"], true, "{}", out.dump());
    }
    for (line, entry) in [(3, "t.fma.one"), (4, "t.gone.away")] {
        let want = format!("known.txt:{line}: `{entry}` matches no scenario id");
        assert!(out.stderr.contains(&want), "lacks {want:?}: {}", out.dump());
    }
    assert!(
        !out.stderr.contains("`t.fam.*` matches no"),
        "{}",
        out.dump()
    );

    // An entry for a scenario left out by the selection is still in use.
    let out = ws.run(server.port, &["t.fam.two", "--known-failures", list]);
    assert!(
        !out.stderr.contains("`t.fam.*` matches no"),
        "{}",
        out.dump()
    );

    let strict = ws.run(server.port, &["--known-failures", list, "--strict"]);
    assert_eq!(
        strict.code,
        1,
        "stale entries fail a strict run: {}",
        strict.dump()
    );
    assert!(
        strict
            .stderr
            .contains("2 --known-failures entries match no scenario"),
        "{}",
        strict.dump()
    );
    assert!(strict.json.is_some(), "the reports are still written");
}

// ------------------------------------------------------------ report destinations

#[test]
fn a_report_that_cannot_be_written_is_found_before_connecting() {
    let server = FakeServer::start(good());
    let ws = two_scenarios();
    let blocker = ws.dir.path().join("not-a-folder");
    std::fs::write(&blocker, "a file where a folder should be").unwrap();
    let under_file = blocker.join("junit.xml");
    let folder = ws.dir.path().join("a-folder");
    std::fs::create_dir_all(&folder).unwrap();
    let port = server.port.to_string();
    let base = [
        "run",
        "scenarios",
        "--host",
        "127.0.0.1",
        "--port",
        port.as_str(),
    ];
    let cases: [(Vec<&str>, &str); 3] = [
        (vec!["--junit", under_file.to_str().unwrap()], "--junit"),
        (vec!["--json", folder.to_str().unwrap()], "--json"),
        (
            vec!["--no-reports", "--summary-md", under_file.to_str().unwrap()],
            "Markdown summary",
        ),
    ];
    for (args, what) in cases {
        let out = pop3spec(&[&base[..], &args].concat(), ws.dir.path());
        assert_eq!(out.code, 2, "{args:?}: {}", out.dump());
        assert!(
            out.stderr.contains(what) && out.stderr.contains("nothing was run"),
            "{args:?}: {}",
            out.dump()
        );
    }
    assert_eq!(
        server.connections(),
        0,
        "nothing connected before the check"
    );
    // A writable destination is left as it was found until the run writes it.
    let out = ws.run(server.port, &[]);
    assert_eq!(out.code, 0, "{}", out.dump());
}

// ------------------------------------------------------------ the loader

/// Runs the binary, killing it after `limit` (a loader blocked on a FIFO would
/// otherwise hang the test). Returns (exit code or None when killed, stderr, stdout).
fn run_with_limit(
    args: &[&str],
    cwd: &std::path::Path,
    limit: std::time::Duration,
) -> (Option<i32>, String, String) {
    use std::io::Read;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pop3spec"))
        .args(args)
        .current_dir(cwd)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let (mut out, mut err) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (code, err, out)
}

#[test]
fn the_loader_reads_only_regular_files_and_reports_a_symlink_loop_once() {
    let ws = two_scenarios();
    let fifo = ws.scenarios().join("pipe.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo");
    std::os::unix::fs::symlink(".", ws.scenarios().join("loop")).unwrap();
    std::os::unix::fs::symlink("self.yaml", ws.scenarios().join("self.yaml")).unwrap();
    let limit = std::time::Duration::from_secs(20);
    let (code, stderr, stdout) = run_with_limit(&["check", "scenarios"], ws.dir.path(), limit);
    assert_eq!(code, Some(0), "check ended: {stdout}\n{stderr}");
    assert!(
        stdout.contains("2 scenario file(s) OK"),
        "{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("pipe.yaml: a FIFO (named pipe), not a scenario file; left out"),
        "{stderr}"
    );
    assert!(
        stderr.contains("self.yaml: a symbolic-link loop"),
        "{stderr}"
    );
    assert_eq!(
        stderr
            .matches("loop: a symbolic-link loop (it leads back to")
            .count(),
        1,
        "{stderr}"
    );
    assert!(!stderr.contains("duplicate"), "{stderr}");
    let (code, stderr, stdout) = run_with_limit(&["list", "scenarios"], ws.dir.path(), limit);
    assert_eq!(code, Some(0), "list ended: {stdout}\n{stderr}");
    // Named on the command line, a FIFO is refused, not opened.
    let (code, stderr, _) = run_with_limit(&["check", "scenarios/pipe.yaml"], ws.dir.path(), limit);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("a FIFO (named pipe), not a scenario file"),
        "{stderr}"
    );
}

// ------------------------------------------------------------ messages

#[test]
fn a_huge_scenario_file_says_which_limit_it_hit_and_where() {
    let ws = Workspace::new();
    let steps = "  - send: NOOP\n".repeat(130_000);
    ws.write("huge.yaml", &scenario("t.a.huge", "must", "", &steps));
    let out = pop3spec(&["check", "scenarios"], ws.dir.path());
    assert_eq!(out.code, 2, "{}", &out.stderr[..out.stderr.len().min(2000)]);
    assert!(
        !out.stderr.contains("budget breached"),
        "{}",
        &out.stderr[..out.stderr.len().min(2000)]
    );
    assert!(
        !out.stderr.contains("Nodes {"),
        "{}",
        &out.stderr[..out.stderr.len().min(2000)]
    );
    assert!(
        out.stderr
            .contains("too large to be a scenario: it has more than 250000 YAML values"),
        "{}",
        &out.stderr[..out.stderr.len().min(2000)]
    );
    assert!(
        out.stderr.contains("huge.yaml:"),
        "the position is given: {}",
        &out.stderr[..out.stderr.len().min(2000)]
    );
}

/// Runs the binary with stdout on a stream whose reader has already gone
/// (a socket pair with one end closed: writes fail with EPIPE, as on a pipe).
fn run_into_closed_pipe(args: &[&str], cwd: &std::path::Path) -> (Option<i32>, String) {
    let (writer, reader) = std::os::unix::net::UnixStream::pair().unwrap();
    drop(reader);
    let writer = std::os::fd::OwnedFd::from(writer);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pop3spec"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_reader_that_goes_away_ends_output_quietly() {
    let ws = two_scenarios();
    for args in [
        &["man"][..],
        &["man", "run"],
        &["completions", "bash"],
        &["schema"],
        &["list", "scenarios"],
        &["explain", "t.a.one", "--dir", "scenarios"],
        &["--help"],
    ] {
        let (code, stderr) = run_into_closed_pipe(args, ws.dir.path());
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?} printed: {stderr}");
    }
    // A run keeps going: its reports are written and its exit code is the verdict.
    let server = FakeServer::start(good());
    let port = server.port.to_string();
    let json = ws.dir.path().join("r.json");
    let (code, stderr) = run_into_closed_pipe(
        &[
            "run",
            "scenarios",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--json",
            json.to_str().unwrap(),
            "--junit",
            "j.xml",
        ],
        ws.dir.path(),
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        !stderr.contains("Broken pipe") && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert!(json.exists(), "the report was written");
}

#[test]
fn completions_cover_nushell_and_name_the_shells_otherwise() {
    let ws = Workspace::new();
    let out = pop3spec(&["completions", "nushell"], ws.dir.path());
    assert_eq!(out.code, 0, "{}", out.dump());
    assert!(
        out.stdout.contains("export extern pop3spec"),
        "{}",
        out.stdout
    );
    let out = pop3spec(&["completions", "tcsh"], ws.dir.path());
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("bash, elvish, fish, nushell, powershell, zsh"),
        "{}",
        out.stderr
    );
}

// ------------------------------------------------------------ GitHub annotations

#[test]
fn annotations_point_only_at_files_in_the_repository() {
    // NOOP is answered -ERR: both scenarios fail.
    let server = FakeServer::start(Script::new());
    let repo = Workspace::new();
    std::fs::create_dir_all(repo.dir.path().join(".git")).unwrap();
    repo.write("mine.yaml", &scenario("t.a.mine", "must", "", NOOP));
    let elsewhere = Workspace::new();
    elsewhere.write("theirs.yaml", &scenario("t.b.theirs", "must", "", NOOP));
    let port = server.port.to_string();
    let other_folder = elsewhere.scenarios();
    let args = [
        "run",
        "scenarios",
        other_folder.to_str().unwrap(),
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--annotations",
        "github",
        "--no-reports",
    ];
    let root = repo.dir.path().to_str().unwrap();
    for workspace in [root, ""] {
        // In Actions ($GITHUB_WORKSPACE), and found from the .git folder.
        let out = pop3spec_env(&args, repo.dir.path(), &[("GITHUB_WORKSPACE", workspace)]);
        assert_eq!(out.code, 1, "{}", out.dump());
        let lines: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("::")).collect();
        assert_eq!(lines.len(), 2, "{}", out.dump());
        let mine = lines.iter().find(|l| l.contains("title=t.a.mine")).unwrap();
        assert!(
            mine.starts_with(
                "::error file=scenarios/mine.yaml,line=8,col=5,title=t.a.mine::fail: "
            ),
            "{mine}"
        );
        let theirs = lines
            .iter()
            .find(|l| l.contains("title=t.b.theirs"))
            .unwrap();
        assert!(
            theirs.starts_with("::error title=t.b.theirs::fail: "),
            "{theirs}"
        );
        assert!(!theirs.contains("file="), "{theirs}");
        assert!(
            theirs.contains("RFC 1939 §5 (must): the fake server behaves as scripted"),
            "{theirs}"
        );
        assert!(
            theirs.contains("%0Ascenario file: ") && theirs.contains("theirs.yaml:8:5"),
            "{theirs}"
        );
    }
}

#[test]
fn selftest_checks_its_matrix_file_and_an_empty_folder_before_starting() {
    let ws = two_scenarios();
    let folder = ws.dir.path().join("a-folder");
    std::fs::create_dir_all(&folder).unwrap();
    let out = pop3spec(
        &["selftest", "scenarios", "--json", folder.to_str().unwrap()],
        ws.dir.path(),
    );
    assert_eq!(out.code, 2, "{}", out.dump());
    assert!(
        out.stderr.contains("--json") && out.stderr.contains("is a folder"),
        "{}",
        out.dump()
    );
    assert!(
        out.elapsed.as_secs() < 5,
        "refused before any server started: {:?}",
        out.elapsed
    );
    let empty = ws.dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = pop3spec(&["selftest", "empty"], ws.dir.path());
    assert_eq!(out.code, 2, "{}", out.dump());
    assert!(out.stderr.contains("no scenario files"), "{}", out.dump());
}
