//! `pop3spec stress` end to end: clean against the bundled reference server,
//! and violations reported against a reference server with a fault.

use pop3_reference_server::{Fault, FaultSet, RunningServer, ServerConfig, TlsSetup};
use std::path::Path;
use std::process::Command;

fn stress(args: &[&str]) -> (i32, String, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("stress.json");
    let out = Command::new(env!("CARGO_BIN_EXE_pop3spec"))
        .arg("stress")
        .args(args)
        .arg("--json")
        .arg(&json)
        .output()
        .expect("run pop3spec");
    let stdout =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let summary = std::fs::read_to_string(&json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), stdout, summary)
}

#[test]
fn bundled_server_has_no_violations() {
    let (code, out, s) = stress(&["-d", "3s", "-c", "8", "--seed", "7"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(s["violation_count"], 0, "{out}");
    assert!(s["sessions_per_second"].as_f64().unwrap() > 0.0, "{out}");
    assert!(s["commands_per_second"].as_f64().unwrap() > 0.0, "{out}");
    assert!(s["latency_us"]["RETR"][0].as_u64().unwrap() > 0, "{out}");
    assert!(out.contains("violations: 0"), "{out}");
}

#[test]
fn limits_are_usage_errors() {
    assert_eq!(stress(&["-c", "1001"]).0, 2);
    assert_eq!(stress(&["-d", "601s"]).0, 2);
}

#[test]
fn unreachable_server_exits_3() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, out, _) = stress(&[
        "--host",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--user",
        "a",
        "--pass",
        "b",
        "-d",
        "1s",
    ]);
    assert_eq!(code, 3, "{out}");
}

/// Runs stress with the arguments `args` makes from the port of a reference
/// server started here on the mail root `root` with the accounts `users`
/// (password `pw`; a Maildir folder each, made if missing) and `fault`
/// switched on (or none).
fn stress_on_server(
    root: &Path,
    users: &[&str],
    fault: Option<Fault>,
    args: impl FnOnce(&str) -> Vec<String>,
) -> (i32, String, serde_json::Value) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for u in users {
        std::fs::create_dir_all(root.join(u)).unwrap();
    }
    let accounts = users.iter().map(|u| (u.to_string(), "pw".into()));
    let mut config = ServerConfig::new(root, accounts.collect());
    config.tls = TlsSetup::None;
    config.tls_listen = None;
    if let Some(f) = fault {
        config.faults = FaultSet::single(f);
    }
    let server = rt.block_on(RunningServer::start(config)).unwrap();
    let args = args(&server.addr().port().to_string());
    let result = stress(&args.iter().map(String::as_str).collect::<Vec<_>>());
    rt.block_on(server.shutdown());
    result
}

/// Runs stress with `clients` clients on the one account of a reference
/// server started here with `fault` switched on (or none).
fn stress_one_account(
    fault: Option<Fault>,
    clients: &str,
    duration: &str,
    seed: &str,
) -> (i32, String, serde_json::Value) {
    let root = tempfile::tempdir().unwrap();
    let maildir = root.path().join("alice");
    stress_on_server(root.path(), &["alice"], fault, |port| {
        [
            "--host",
            "127.0.0.1",
            "--port",
            port,
            "--user",
            "alice",
            "--pass",
            "pw",
            "--maildir",
            maildir.to_str().unwrap(),
            "-d",
            duration,
            "-c",
            clients,
            "--seed",
            seed,
        ]
        .map(String::from)
        .to_vec()
    })
}

/// The set-up of the fault tests below without a fault: clients competing
/// for one locked maildrop find nothing wrong.
#[test]
fn one_account_without_fault_has_no_violations() {
    let (code, out, s) = stress_one_account(None, "4", "3s", "3");
    assert_eq!(code, 0, "{out}");
    assert_eq!(s["violation_count"], 0, "{out}");
    assert_eq!(s["server_locks"], true, "{out}");
    assert!(s["in_use_refusals"].as_u64().unwrap() > 0, "{out}");
    assert!(out.contains("violations: 0"), "{out}");
}

/// Deletion on a dropped connection (RFC 1939 §6: only QUIT enters UPDATE)
/// loses messages nobody deleted with QUIT.
#[test]
fn delete_on_disconnect_is_a_violation() {
    let (code, out, s) = stress_one_account(Some(Fault::DeleteOnDisconnect), "4", "3s", "11");
    assert_eq!(code, 1, "{out}");
    assert!(
        s["violation_kinds"]["lost"].as_u64().unwrap_or(0) > 0,
        "{out}"
    );
    assert!(out.contains("VIOLATION [lost]"), "{out}");
}

/// A maildrop lock that outlives its dropped session (RFC 1939 §8) keeps every
/// later login out with [IN-USE]: a stale lock, not an expected refusal.
#[test]
fn leaked_lock_is_a_violation() {
    let (code, out, s) = stress_one_account(Some(Fault::LockNotReleasedOnDrop), "2", "4s", "5");
    assert_eq!(code, 1, "{out}");
    assert!(
        s["violation_kinds"]["stale-lock"].as_u64().unwrap_or(0) > 0,
        "{out}"
    );
}

/// Without the maildrop lock (RFC 1939 §4) sessions of one account overlap,
/// and what they see go wrong (a listed message that another session's QUIT
/// removed, a QUIT whose UPDATE another session disturbed) is one finding,
/// the overlap, and not mailbox damage of its own: no message is reported
/// lost or resurrected, as none is.
#[test]
fn missing_lock_is_reported_as_overlapping_sessions() {
    let (code, out, s) = stress_one_account(Some(Fault::NoMaildropLock), "4", "3s", "1");
    assert_eq!(code, 1, "{out}");
    assert_eq!(s["server_locks"], false, "{out}");
    assert_eq!(s["in_use_refusals"], 0, "{out}");
    assert_eq!(
        s["violation_kinds"],
        serde_json::json!({ "sessions-overlapped": 1 }),
        "{out}"
    );
    let v = &s["violations"][0];
    assert_eq!(v["account"], "alice", "{out}");
    assert!(
        v["detail"].as_str().unwrap().contains("overlapped"),
        "{out}"
    );
    assert!(s["overlapping_logins"].as_u64().unwrap() > 0, "{out}");
    assert!(s["shared_session_findings"].as_u64().unwrap() > 0, "{out}");
    assert!(out.contains("VIOLATION [sessions-overlapped]"), "{out}");
}

/// The accounts of the four-account tests below.
const FOUR: [&str; 4] = ["u1", "u2", "u3", "u4"];

/// `--host`, the port, the templated accounts u1..u4 (password pw) and a
/// two-second run with 8 clients, followed by `more`.
fn templated(port: &str, more: &[&str]) -> Vec<String> {
    let args = [
        "--host",
        "127.0.0.1",
        "--port",
        port,
        "--user-template",
        "u{job}",
        "--pass",
        "pw",
        "--accounts",
        "4",
        "-c",
        "8",
        "-d",
        "2s",
    ];
    args.iter().chain(more).map(|a| a.to_string()).collect()
}

/// The number of sessions on each of u1..u4, checked to add up to the total.
fn sessions_per_account(s: &serde_json::Value, out: &str) -> Vec<u64> {
    let per = s["account_sessions"].as_object().expect(out);
    let names: Vec<&str> = per.keys().map(String::as_str).collect();
    assert_eq!(names, FOUR, "{out}");
    let counts: Vec<u64> = per.values().map(|n| n.as_u64().unwrap()).collect();
    assert_eq!(counts.iter().sum::<u64>(), s["sessions"], "{out}");
    counts
}

/// --user-template with --accounts 4 spreads the clients over u1..u4, each
/// seeded through the Maildir that --maildir-template names, and a server
/// that locks each maildrop shows nothing wrong.
#[test]
fn templated_accounts_are_all_used() {
    let root = tempfile::tempdir().unwrap();
    let maildirs = format!("{}/{{user}}", root.path().display());
    let (code, out, s) = stress_on_server(root.path(), &FOUR, None, |port| {
        templated(port, &["--maildir-template", &maildirs, "--seed", "4"])
    });
    assert_eq!(code, 0, "{out}");
    assert_eq!(s["violation_count"], 0, "{out}");
    assert_eq!(s["accounts"], 4, "{out}");
    let counts = sessions_per_account(&s, &out);
    assert!(counts.iter().all(|n| *n > 0), "{counts:?}\n{out}");
    assert!(out.contains("over 4 accounts"), "{out}");
    for u in FOUR {
        let seeded = std::fs::read_to_string(root.path().join(u).join(".pop3spec-seeded"));
        assert!(
            seeded.is_ok_and(|t| !t.is_empty()),
            "{u} was not seeded\n{out}"
        );
    }
}

/// Without a Maildir to seed, templated accounts keep the mail they had:
/// stress resets its deletions before every QUIT.
#[test]
fn templated_accounts_without_maildir_keep_their_mail() {
    let root = tempfile::tempdir().unwrap();
    let messages = |u: &str| {
        let dir = |sub: &str| std::fs::read_dir(root.path().join(u).join(sub));
        let names = ["new", "cur"].into_iter().filter_map(|sub| dir(sub).ok());
        let mut names: Vec<String> = names
            .flatten()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    for u in FOUR {
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(root.path().join(u).join(sub)).unwrap();
        }
        for n in 0..5 {
            let text = format!("Subject: kept {n}\r\n\r\nmail of {u}\r\n");
            std::fs::write(
                root.path().join(u).join("new").join(format!("{n}.kept")),
                text,
            )
            .unwrap();
        }
    }
    let before: Vec<usize> = FOUR.iter().map(|u| messages(u).len()).collect();
    // Two messages make the floor one, so sessions mark messages with DELE.
    let (code, out, s) = stress_on_server(root.path(), &FOUR, None, |port| {
        templated(port, &["--messages", "2", "--seed", "5"])
    });
    assert_eq!(code, 0, "{out}");
    assert_eq!(s["violation_count"], 0, "{out}");
    assert!(
        sessions_per_account(&s, &out).iter().all(|n| *n > 0),
        "{out}"
    );
    assert!(
        s["latency_us"]["DELE"][0].as_u64().unwrap_or(0) > 0,
        "{out}"
    );
    let after: Vec<usize> = FOUR.iter().map(|u| messages(u).len()).collect();
    assert_eq!(before, vec![5; 4]);
    assert_eq!(after, before, "{out}");
}

/// Templates are checked before anything connects: each mistake is exit 2
/// with a message that names the option.
#[test]
fn template_mistakes_are_usage_errors() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let host = |more: &[&'static str]| {
        let mut args = vec!["--host", "127.0.0.1", "--port", &port, "--pass", "pw"];
        args.extend(more);
        args
    };
    let cases = [
        // A template without `{job}` names one account, not several.
        (host(&["--user-template", "u"]), "needs `{job}`"),
        (
            host(&["--user", "u", "--user2-template", "v"]),
            "needs `{job}`",
        ),
        // Templates name accounts on --host; the bundled server makes its own.
        (
            vec!["--user-template", "u{job}", "--pass", "pw"],
            "on --host",
        ),
        (
            vec!["--maildir-template", "/nonexistent/{user}"],
            "on --host",
        ),
        // Against --host, --accounts is how many accounts a template names.
        (
            host(&["--user", "u", "--accounts", "4"]),
            "--accounts against --host",
        ),
        // One Maildir cannot seed several accounts.
        (
            host(&["--user-template", "u{job}", "--maildir", "/m"]),
            "--maildir-template",
        ),
    ];
    for (args, message) in cases {
        let (code, out, _) = stress(&args);
        assert_eq!(code, 2, "{args:?}: {out}");
        assert!(out.contains(message), "{args:?}: {out}");
    }
}
