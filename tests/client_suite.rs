//! Proves the client suite (scenarios/client/) bites, the way the server
//! self-test proves the server suite: the scripted test client
//! (src/bin/pop3spec-testclient.rs) passes every client scenario when clean,
//! and each of its fault switches makes every scenario that lists the fault
//! in `catches:` fail. Scenarios run concurrently: each has its own port,
//! {out} folder and client process.

use pop3spec::client::run::{run_scenario, ClientRunOptions, Launch, Shared};
use pop3spec::client::scenario::ClientScenario;
use pop3spec::client::{BEHAVIOURS, FAULTS};
use pop3spec::outcome::{Outcome, ScenarioResult};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

fn suite() -> Vec<ClientScenario> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/client");
    match pop3spec::client::run::load(vec![dir], &pop3spec::cli::SuiteArgs::default()) {
        Ok(s) => s,
        Err((problems, message)) => panic!(
            "client scenarios do not load: {message}\n{}",
            problems
                .iter()
                .map(|p| p.render())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// `args`: the test client's switches, e.g. `--fault no-quit`, `--behave top-whole`.
fn options(args: &[String]) -> ClientRunOptions {
    let mut command = env!("CARGO_BIN_EXE_pop3spec-testclient").to_string();
    for a in args {
        command.push(' ');
        command.push_str(a);
    }
    ClientRunOptions {
        launch: Launch::Command(command),
        user: "pop3spec".into(),
        pass: "client-test-secret".into(),
        // Faults that make the client wait for bytes that never come are
        // ended here; the clean client needs well under a second.
        timeout: Duration::from_secs(6),
        strict: false,
        linger: Duration::from_millis(150),
        keep_dir: None,
        config_template: None,
    }
}

/// Runs (scenario, test client switches) pairs concurrently, a few at a time.
fn run_many(
    jobs: Vec<(ClientScenario, Vec<String>)>,
) -> Vec<(String, Vec<String>, ScenarioResult)> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let shared = Arc::new(Shared::new(&options(&[])).await.unwrap());
        let limit = Arc::new(tokio::sync::Semaphore::new(12));
        let mut set = tokio::task::JoinSet::new();
        for (scenario, args) in jobs {
            let shared = shared.clone();
            let limit = limit.clone();
            set.spawn(async move {
                let _permit = limit.acquire().await.unwrap();
                let r = run_scenario(&scenario, &options(&args), &shared).await;
                (scenario.id.clone(), args, r)
            });
        }
        let mut out = Vec::new();
        while let Some(r) = set.join_next().await {
            out.push(r.unwrap());
        }
        out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        out
    })
}

fn explain(r: &ScenarioResult) -> String {
    let finding = r
        .finding
        .as_ref()
        .map(|f| f.message.clone())
        .unwrap_or_default();
    let transcript: Vec<String> = r
        .transcript
        .iter()
        .map(|l| format!("    [{}] {:?} {}", l.session, l.direction, l.text))
        .collect();
    format!(
        "{} -> {} ({}) {finding}\n{}",
        r.id,
        r.outcome.as_str(),
        r.reason.clone().unwrap_or_default(),
        transcript.join("\n")
    )
}

#[test]
fn client_suite_is_large_and_every_scenario_claims_a_fault() {
    let suite = suite();
    assert!(
        suite.len() >= 24,
        "the client suite shrank to {}",
        suite.len()
    );
    let names: BTreeSet<&str> = FAULTS.iter().map(|(n, _)| *n).collect();
    for s in &suite {
        assert!(
            !s.catches.is_empty(),
            "{} catches no fault of the test client",
            s.id
        );
        for c in &s.catches {
            assert!(names.contains(c.as_str()), "{}: unknown fault {c}", s.id);
        }
    }
    let claimed: BTreeSet<&str> = suite
        .iter()
        .flat_map(|s| s.catches.iter().map(String::as_str))
        .collect();
    let unclaimed: Vec<&&str> = names.iter().filter(|n| !claimed.contains(**n)).collect();
    assert!(
        unclaimed.is_empty(),
        "faults no scenario claims: {unclaimed:?}"
    );
}

#[test]
fn clean_test_client_passes_every_client_scenario_and_each_fault_is_caught() {
    let suite = suite();
    let mut jobs: Vec<(ClientScenario, Vec<String>)> =
        suite.iter().map(|s| (s.clone(), Vec::new())).collect();
    for s in &suite {
        for c in &s.catches {
            jobs.push((s.clone(), vec![format!("--fault {c}")]));
        }
    }
    let results = run_many(jobs);
    let mut problems = Vec::new();
    let mut caught: BTreeMap<&str, usize> = BTreeMap::new();
    for (id, args, r) in &results {
        match args.first().map(|a| a.trim_start_matches("--fault ")) {
            None if r.outcome != Outcome::Pass => {
                problems.push(format!("clean test client: {}", explain(r)));
            }
            None => {}
            Some(fault) if matches!(r.outcome, Outcome::Fail | Outcome::NonStrict) => {
                *caught.entry(fault).or_default() += 1;
            }
            Some(fault) => {
                problems.push(format!("fault {fault} not caught by {id}: {}", explain(r)))
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    for (name, _) in FAULTS {
        assert!(
            caught.get(name).copied().unwrap_or(0) > 0,
            "fault {name} caught by no scenario"
        );
    }
}

/// Commands the client sent, as the transcript shows them.
fn client_lines(r: &ScenarioResult) -> Vec<&str> {
    r.transcript
        .iter()
        .filter(|l| matches!(l.direction, pop3spec::outcome::Direction::Client))
        .map(|l| l.text.as_str())
        .collect()
}

/// What real clients were seen doing, played by the test client's
/// behaviours (no faults): each gets the verdict the RFCs give it, and the
/// scenario still catches its fault when the client takes that path.
#[test]
fn real_client_patterns_get_the_verdict_the_rfcs_give_them() {
    let suite = suite();
    let by_id = |id: &str| suite.iter().find(|s| s.id == id).unwrap().clone();
    let args = |list: &[&str]| list.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let cases: Vec<(&str, Vec<String>)> = vec![
        // curl: AUTH PLAIN when CAPA offers it, never USER/PASS.
        (
            "client.rfc1939.pass.err-stays-unauthorized",
            args(&["--behave sasl-first"]),
        ),
        (
            "client.rfc1939.user.err-no-pass",
            args(&["--behave sasl-first"]),
        ),
        (
            "client.rfc1939.pass.err-stays-unauthorized",
            args(&["--behave sasl-first", "--fault ignore-login-err"]),
        ),
        (
            "client.rfc1939.user.err-no-pass",
            args(&["--behave sasl-first", "--fault ignore-login-err"]),
        ),
        // fetchmail: TOP n 99999999 instead of RETR n.
        (
            "client.rfc1939.dele.then-quit",
            args(&["--behave top-whole"]),
        ),
        (
            "client.rfc1939.dele.then-quit",
            args(&["--behave top-whole", "--fault delete-before-retr"]),
        ),
        (
            "client.rfc1939.close.during-retr",
            args(&["--behave top-whole", "--fault store-partial"]),
        ),
        (
            "client.rfc1939.retr.err-is-single-line",
            args(&["--behave top-whole", "--fault ignore-retr-err"]),
        ),
        // curl: waits for a status line after junk to STLS, sending nothing.
        (
            "client.rfc2595.stls.non-status-reply",
            args(&["--behave wait-after-stls-junk"]),
        ),
        // fetchmail: QUIT after a refused DELE, message 3 never downloaded.
        (
            "client.rfc1939.dele.err-still-quits",
            args(&["--behave stop-after-dele-err"]),
        ),
    ];
    let results = run_many(cases.iter().map(|(id, a)| (by_id(id), a.clone())).collect());
    let get = |id: &str, a: &[&str]| {
        let a = args(a);
        &results
            .iter()
            .find(|(i, ar, _)| i == id && *ar == a)
            .unwrap()
            .2
    };

    for id in [
        "client.rfc1939.pass.err-stays-unauthorized",
        "client.rfc1939.user.err-no-pass",
    ] {
        let r = get(id, &["--behave sasl-first"]);
        assert_eq!(r.outcome, Outcome::Skipped, "{}", explain(r));
        let reason = r.reason.as_deref().unwrap_or("");
        assert!(reason.contains("logs in another way"), "{}", explain(r));
        assert!(
            client_lines(r).iter().any(|c| c.starts_with("AUTH PLAIN")),
            "the client took the AUTH PLAIN path: {}",
            explain(r)
        );
        // A refused AUTH followed by transaction commands is still caught.
        let r = get(id, &["--behave sasl-first", "--fault ignore-login-err"]);
        assert_eq!(r.outcome, Outcome::Fail, "{}", explain(r));
    }

    let r = get("client.rfc1939.dele.then-quit", &["--behave top-whole"]);
    assert_eq!(r.outcome, Outcome::Pass, "{}", explain(r));
    let sent = client_lines(r);
    assert!(sent.contains(&"TOP 3 99999999"), "{}", explain(r));
    assert!(
        !sent.iter().any(|c| c.starts_with("RETR")),
        "{}",
        explain(r)
    );
    for (id, fault) in [
        (
            "client.rfc1939.dele.then-quit",
            "--fault delete-before-retr",
        ),
        ("client.rfc1939.close.during-retr", "--fault store-partial"),
        (
            "client.rfc1939.retr.err-is-single-line",
            "--fault ignore-retr-err",
        ),
    ] {
        let r = get(id, &["--behave top-whole", fault]);
        assert_eq!(r.outcome, Outcome::Fail, "{fault}: {}", explain(r));
    }

    let r = get(
        "client.rfc2595.stls.non-status-reply",
        &["--behave wait-after-stls-junk"],
    );
    assert_eq!(r.outcome, Outcome::Pass, "{}", explain(r));
    assert_eq!(client_lines(r).last(), Some(&"STLS"), "{}", explain(r));
    assert!(
        r.transcript
            .iter()
            .any(|l| l.text.contains("the scenario's deadline passed")),
        "the client waited, silent, until the deadline: {}",
        explain(r)
    );

    let r = get(
        "client.rfc1939.dele.err-still-quits",
        &["--behave stop-after-dele-err"],
    );
    assert_eq!(r.outcome, Outcome::Pass, "{}", explain(r));
    let sent = client_lines(r);
    assert!(!sent.contains(&"RETR 3"), "{}", explain(r));
    assert!(!sent.contains(&"DELE 3"), "{}", explain(r));
    assert_eq!(sent.last(), Some(&"QUIT"), "{}", explain(r));
}

/// Every behaviour is something the RFCs allow: across the whole suite it
/// may make a scenario skip (with its reason), never fail or error.
#[test]
fn no_behaviour_of_the_test_client_fails_a_scenario() {
    let suite = suite();
    let mut jobs = Vec::new();
    for (b, _) in BEHAVIOURS {
        for s in &suite {
            jobs.push((s.clone(), vec![format!("--behave {b}")]));
        }
    }
    let problems: Vec<String> = run_many(jobs)
        .iter()
        .filter(|(_, _, r)| match r.outcome {
            Outcome::Pass => false,
            Outcome::Skipped => r.reason.as_deref().unwrap_or("").is_empty(),
            _ => true,
        })
        .map(|(_, a, r)| format!("{}: {}", a.join(" "), explain(r)))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

fn pop3spec(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_pop3spec"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn client_command_reports_like_run_and_exits_by_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("client.xml");
    let json = dir.path().join("client.json");
    let faulty = format!(
        "{} --fault no-unstuffing",
        env!("CARGO_BIN_EXE_pop3spec-testclient")
    );
    let out = pop3spec(&[
        "client",
        "--command",
        &faulty,
        "--color",
        "never",
        "--junit",
        junit.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "client.rfc1939.stuffing.*",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("client.rfc1939.stuffing.dot-lines"),
        "{stdout}"
    );
    assert!(
        stdout.contains("RFC 1939 §3"),
        "the failure names its RFC section: {stdout}"
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let scenarios = report["scenarios"].as_array().unwrap();
    let dots = scenarios
        .iter()
        .find(|s| s["id"] == "client.rfc1939.stuffing.dot-lines")
        .unwrap();
    assert_eq!(dots["outcome"], "fail");
    assert!(dots["finding"]["message"]
        .as_str()
        .unwrap()
        .contains("not among what the client stored"));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<failure"), "{xml}");

    let clean = pop3spec(&[
        "client",
        "--command",
        env!("CARGO_BIN_EXE_pop3spec-testclient"),
        "--no-reports",
        "client.rfc1939.stuffing.*",
    ]);
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stdout)
    );
}

#[test]
fn client_command_usage_errors_exit_2() {
    let none = pop3spec(&["client", "--no-reports"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("--command"));
    let remote = pop3spec(&["client", "--listen", "192.0.2.1:1110", "--no-reports"]);
    assert_eq!(remote.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&remote.stderr).contains("loopback"));
    let nothing = pop3spec(&[
        "client",
        "--command",
        "true",
        "--no-reports",
        "client.no-such.*",
    ]);
    assert_eq!(nothing.status.code(), Some(2));
}

#[test]
fn listen_mode_judges_a_client_started_by_hand() {
    use std::io::BufRead;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut harness = std::process::Command::new(env!("CARGO_BIN_EXE_pop3spec"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "client",
            "--listen",
            &addr,
            "--no-reports",
            "--color",
            "never",
            "--timeout",
            "30s",
        ])
        .arg("client.rfc1939.retr.download-all")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The harness says, once it listens, where the client should store.
    let stderr = std::io::BufReader::new(harness.stderr.take().unwrap());
    let mut out = None;
    for line in stderr.lines() {
        let line = line.unwrap();
        if let Some(rest) = line.split("store into ").nth(1) {
            out = Some(rest.split(", CA").next().unwrap().to_string());
            break;
        }
    }
    let out = out.expect("the harness names the {out} folder");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_pop3spec-testclient"))
        .env("POP3SPEC_HOST", "127.0.0.1")
        .env("POP3SPEC_PORT", port.to_string())
        .env("POP3SPEC_USER", "pop3spec")
        .env("POP3SPEC_PASS", "client-test-secret")
        .env("POP3SPEC_OUT", &out)
        .status()
        .unwrap();
    assert!(status.success());
    let result = harness.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert_eq!(result.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("1 scenarios: 1 passed"), "{stdout}");
}

#[test]
fn config_template_is_rendered_per_scenario_and_exit_77_skips() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("client.rc");
    std::fs::write(
        &template,
        "server {host} port {port} user {user} tls {tls}\n",
    )
    .unwrap();
    // The test client runs only when its configuration file names this
    // scenario's port and TLS mode, and is private to its owner.
    let command = format!(
        "grep -qx \"server 127.0.0.1 port $POP3SPEC_PORT user pop3spec tls $POP3SPEC_TLS\" {{config}} && \
         test \"$(stat -c %a {{config}})\" = 600 && exec {}",
        env!("CARGO_BIN_EXE_pop3spec-testclient")
    );
    let out = pop3spec(&[
        "client",
        "--command",
        &command,
        "--config-template",
        template.to_str().unwrap(),
        "--no-reports",
        "--color",
        "never",
        "client.rfc1939.retr.download-all",
        "client.rfc8314.implicit.download",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("2 passed"), "{stdout}");

    let skipped = pop3spec(&[
        "client",
        "--command",
        "echo 'no APOP in this client' >&2; exit 77",
        "--no-reports",
        "--color",
        "never",
        "-v",
        "client.rfc1939.apop.digest",
    ]);
    let stdout = String::from_utf8_lossy(&skipped.stdout);
    assert_eq!(skipped.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("1 skipped"), "{stdout}");
    assert!(
        stdout.contains("no APOP in this client"),
        "the driver's reason is shown: {stdout}"
    );
}

#[test]
fn processes_the_client_leaves_behind_are_ended() {
    let keep = tempfile::tempdir().unwrap();
    let command = format!(
        "sleep 120 & echo $! > {{out}}/../leftover.pid; exec {}",
        env!("CARGO_BIN_EXE_pop3spec-testclient")
    );
    let out = pop3spec(&[
        "client",
        "--command",
        &command,
        "--keep",
        keep.path().to_str().unwrap(),
        "--no-reports",
        "client.rfc1939.retr.download-all",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let pid = std::fs::read_to_string(
        keep.path()
            .join("client.rfc1939.retr.download-all/leftover.pid"),
    )
    .unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap_or_default();
    // Gone, or a zombie waiting for a reaper: either way no longer running.
    let state = stat
        .rsplit(") ")
        .next()
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or("");
    assert!(
        stat.is_empty() || state == "Z",
        "the left-behind sleep still runs: {stat}"
    );
}

#[test]
fn a_malformed_client_scenario_names_file_line_col_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "id: client.bad.one\ntitle: t\nspec: RFC 1939 §7\nrequirement: r\nlevel: must\n\
         steps:\n  - expect_command: \"(unclosed\"\ncatches: [no-unstuffing]\n",
    )
    .unwrap();
    let out = pop3spec(&["client", file.to_str().unwrap(), "--list"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("bad.yaml:7:21"), "{stderr}");
    assert!(stderr.contains("not a valid regex"), "{stderr}");
}
