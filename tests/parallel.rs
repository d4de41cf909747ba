//! `--jobs` against a server named by --host (a reference server started here):
//! with account templates every job has accounts of its own; without them the
//! scenarios that use the one account take turns. Either way each verdict is
//! the serial run's.

use pop3_reference_server::{RunningServer, ServerConfig, TlsSetup};
use serde_json::Value;
use std::process::Command;

const JOBS: usize = 4;

struct Server {
    _rt: tokio::runtime::Runtime,
    server: RunningServer,
    root: tempfile::TempDir,
}

/// A reference server with the accounts pop3spec1..JOBS (password `pw1`) and
/// other1..JOBS (password `pw2`), each with its Maildir under the root.
fn server() -> Server {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let root = tempfile::tempdir().unwrap();
    let mut users = Vec::new();
    for n in 1..=JOBS {
        users.push((format!("pop3spec{n}"), "pw1".to_string()));
        users.push((format!("other{n}"), "pw2".to_string()));
    }
    for (user, _) in &users {
        std::fs::create_dir_all(root.path().join(user)).unwrap();
    }
    let mut config = ServerConfig::new(root.path(), users);
    config.tls = TlsSetup::SelfSigned;
    let server = rt.block_on(RunningServer::start(config)).unwrap();
    Server {
        _rt: rt,
        server,
        root,
    }
}

/// Runs the suite (without the autologout scenarios, with short scripted
/// waits) against `server` with `extra` arguments; returns the exit code, the
/// console output and the JSON report.
fn run(server: &Server, extra: &[String]) -> (i32, String, Value) {
    let out_dir = tempfile::tempdir().unwrap();
    let json = out_dir.path().join("results.json");
    let out = Command::new(env!("CARGO_BIN_EXE_pop3spec"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--skip-tag", "slow"])
        .args(["--json", json.to_str().unwrap(), "--junit"])
        .arg(out_dir.path().join("junit.xml"))
        .args(["--host", "127.0.0.1", "--port"])
        .arg(server.server.addr().port().to_string())
        .args(["--tls-port"])
        .arg(server.server.tls_addr().unwrap().port().to_string())
        .args([
            "--insecure",
            "--var",
            "settle=20ms",
            "--var",
            "silence=100ms",
        ])
        .args(extra)
        .env_remove("POP3SPEC_JOBS")
        .output()
        .expect("run pop3spec");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let report = std::fs::read_to_string(&json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), text, report)
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn maildir(server: &Server, user: &str) -> String {
    server.root.path().join(user).display().to_string()
}

/// (id, outcome) of every scenario in report order.
fn verdicts(report: &Value) -> Vec<(String, String)> {
    report["scenarios"]
        .as_array()
        .expect("a JSON report with scenarios")
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                s["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn serial(server: &Server) -> Vec<(String, String)> {
    let mut a = args(&["-j", "1", "--user", "pop3spec1", "--pass", "pw1"]);
    a.extend(args(&["--user2", "other1", "--pass2", "pw2", "--maildir"]));
    a.push(maildir(server, "pop3spec1"));
    a.push("--maildir2".into());
    a.push(maildir(server, "other1"));
    let (code, out, report) = run(server, &a);
    assert_eq!(
        code, 0,
        "the serial run fails against the reference server:\n{out}"
    );
    let v = verdicts(&report);
    assert!(
        v.iter().filter(|(_, o)| o == "pass").count() > 250,
        "most scenarios should pass:\n{out}"
    );
    v
}

#[test]
fn account_templates_give_the_serial_verdicts() {
    let server = server();
    let expected = serial(&server);
    let template = server.root.path().join("{user}").display().to_string();
    let mut a = args(&["-j", &JOBS.to_string(), "--user-template", "pop3spec{job}"]);
    a.extend(args(&["--pass", "pw1", "--user2-template", "other{n}"]));
    a.extend(args(&["--pass2", "pw2", "--maildir-template", &template]));
    let (code, out, report) = run(&server, &a);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("{JOBS} jobs")), "{out}");
    assert_eq!(verdicts(&report), expected, "{out}");
    // Every job seeded and used its own accounts.
    let users: std::collections::BTreeSet<String> = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["transcript"].as_array().unwrap().iter())
        .filter_map(|l| l["text"].as_str())
        .filter_map(|t| t.strip_prefix("USER "))
        .map(str::to_string)
        .collect();
    for n in 1..=JOBS {
        assert!(users.contains(&format!("pop3spec{n}")), "{users:?}");
    }
}

#[test]
fn one_shared_account_takes_turns_with_the_serial_verdicts() {
    let server = server();
    let expected = serial(&server);
    let mut a = args(&[
        "-j",
        &JOBS.to_string(),
        "--user",
        "pop3spec1",
        "--pass",
        "pw1",
    ]);
    a.extend(args(&["--user2", "other1", "--pass2", "pw2", "--maildir"]));
    a.push(maildir(&server, "pop3spec1"));
    a.push("--maildir2".into());
    a.push(maildir(&server, "other1"));
    let (code, out, report) = run(&server, &a);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("run one at a time"), "{out}");
    assert_eq!(verdicts(&report), expected, "{out}");
}

#[test]
fn bad_templates_are_usage_errors() {
    let server = server();
    let cases: [(&[&str], &str); 5] = [
        (
            &[
                "--user-template",
                "u{job}",
                "--pass",
                "x",
                "--maildir",
                "/tmp/m",
            ],
            "--maildir-template",
        ),
        (&["--user-template", "pop3spec", "--pass", "x"], "{job}"),
        (&["--user-template", "pop3spec{n}"], "password"),
        (
            &[
                "--user",
                "a",
                "--pass",
                "b",
                "--maildir-template",
                "/tmp/fixed",
            ],
            "{user}",
        ),
        (
            &["--user", "a", "--user-template", "b{n}", "--pass", "c"],
            "cannot be used with",
        ),
    ];
    for (extra, wanted) in cases {
        let (code, out, _) = run(&server, &args(extra));
        assert_eq!(code, 2, "{extra:?}: {out}");
        assert!(
            out.contains(wanted),
            "{extra:?} should mention {wanted}: {out}"
        );
    }
}

#[test]
fn templates_are_refused_for_the_bundled_server() {
    let out = Command::new(env!("CARGO_BIN_EXE_pop3spec"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--no-reports", "--user-template", "x{n}"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--host"));
}

/// The bundled server: 8 jobs (account pairs, autologout twin) and one job
/// give the same verdicts, `slow` scenarios included.
#[test]
fn bundled_jobs_give_the_serial_verdicts() {
    let bundled = |jobs: &str| {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("results.json");
        let out = Command::new(env!("CARGO_BIN_EXE_pop3spec"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["run", "--color", "never", "-j", jobs])
            .args(["--json", json.to_str().unwrap()])
            .arg("--junit")
            .arg(dir.path().join("junit.xml"))
            .env_remove("POP3SPEC_JOBS")
            .output()
            .expect("run pop3spec");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "-j {jobs}:\n{text}");
        let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        // Jobs finish out of order, but the console lists the scenarios in
        // the suite's order, as the reports do.
        let printed: Vec<&str> = text
            .lines()
            .filter_map(|l| l.split_once(' ').map(|(_, rest)| rest))
            .filter_map(|rest| rest.split_once(" (").map(|(id, _)| id))
            .filter(|id| id.starts_with("rfc"))
            .collect();
        let v = verdicts(&report);
        let ids: Vec<&str> = v
            .iter()
            .map(|(id, _)| id.as_str())
            .filter(|id| printed.contains(id))
            .collect();
        assert!(printed.len() > 250, "-j {jobs}:\n{text}");
        assert_eq!(printed, ids, "-j {jobs}:\n{text}");
        v
    };
    let serial = bundled("1");
    assert!(
        serial
            .iter()
            .any(|(id, o)| id.starts_with("rfc1939.autologout.") && o == "pass"),
        "the autologout scenarios run on the bundled server: {serial:?}"
    );
    assert_eq!(bundled("8"), serial);
}
