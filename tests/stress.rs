//! `pop3spec stress` end to end: clean against the bundled reference server,
//! and violations reported against a reference server with a fault.

use pop3_reference_server::{Fault, FaultSet, RunningServer, ServerConfig, TlsSetup};
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

/// Runs stress with `clients` clients on the one account of a reference
/// server started here with `fault` switched on (or none).
fn stress_one_account(
    fault: Option<Fault>,
    clients: &str,
    duration: &str,
    seed: &str,
) -> (i32, String, serde_json::Value) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("alice")).unwrap();
    let mut config = ServerConfig::new(root.path(), vec![("alice".into(), "pw".into())]);
    config.tls = TlsSetup::None;
    config.tls_listen = None;
    if let Some(f) = fault {
        config.faults = FaultSet::single(f);
    }
    let server = rt.block_on(RunningServer::start(config)).unwrap();
    let port = server.addr().port().to_string();
    let maildir = root.path().join("alice");
    let result = stress(&[
        "--host",
        "127.0.0.1",
        "--port",
        &port,
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
    ]);
    rt.block_on(server.shutdown());
    result
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
