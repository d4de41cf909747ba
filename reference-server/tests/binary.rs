//! The command-line binary: --list-faults, --list-variants, env twins, SIGTERM shutdown.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_pop3-reference-server");

#[tokio::test]
async fn list_faults_prints_every_fault() {
    let out = Command::new(BIN)
        .arg("--list-faults")
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), pop3_reference_server::Fault::ALL.len());
    for (l, f) in lines.iter().zip(pop3_reference_server::Fault::ALL) {
        assert_eq!(l.split('\t').next(), Some(f.name()));
        assert!(l.len() > f.name().len() + 10, "{l}");
    }
}

#[tokio::test]
async fn list_variants_prints_every_allowed_variant_apart_from_the_faults() {
    let out = Command::new(BIN)
        .arg("--list-variants")
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let names: Vec<&str> = text.lines().filter_map(|l| l.split('\t').next()).collect();
    let expected: Vec<&str> = pop3_reference_server::Variant::ALL
        .iter()
        .map(|v| v.name())
        .collect();
    assert_eq!(names, expected);
    for v in [
        "capa-after-login-only",
        "close-after-err",
        "line-before-autologout",
        "login-delay-enforced",
        "no-capa",
    ] {
        assert!(names.contains(&v), "{v} missing from\n{text}");
        assert!(
            pop3_reference_server::Fault::from_name(v).is_none(),
            "{v} is an allowed variant, not a fault"
        );
    }
    for line in text.lines() {
        assert!(
            line.contains("RFC"),
            "each variant names the RFC allowing it: {line}"
        );
    }
}

#[tokio::test]
async fn help_explains_usage() {
    let out = Command::new(BIN).arg("--help").output().await.unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "--mail-root",
        "POP3_REF_MAIL_ROOT",
        "curl pop3://",
        "Thunderbird",
        "--fault",
    ] {
        assert!(text.contains(needle), "--help lacks {needle}");
    }
    let out = Command::new(BIN)
        .args([
            "--fault",
            "no-such-fault",
            "--mail-root",
            "/x",
            "--users",
            "/y",
        ])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    deliver_at(&dir.path().join("mail/alice"), "new", "1.x", MSG2, 1_000);
    let users = dir.path().join("users");
    std::fs::write(&users, "# test users\nalice:secret\n\nbob:hunter2\n").unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = Command::new(BIN)
        .env("POP3_REF_MAIL_ROOT", dir.path().join("mail"))
        .env("POP3_REF_USERS", &users)
        .env("POP3_REF_LISTEN", format!("127.0.0.1:{port}"))
        .env("POP3_REF_FAULT", "unknown-command-ok")
        .env("POP3_REF_EXPIRE", "7")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut tries = 0;
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        tries += 1;
        assert!(tries < 100, "binary did not start listening");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut c = Client::connect(addr).await;
    assert!(ok(&c.cmd("XYZZY").await), "fault from env not applied");
    let (_, caps) = c.multi("CAPA").await;
    assert!(caps.iter().any(|l| l == "EXPIRE 7"));
    c.login("alice", "secret").await;
    assert_eq!(c.cmd("STAT").await, "+OK 1 50");
    let pid = child.id().unwrap().to_string();
    let st = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(st.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("binary did not stop on SIGTERM")
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert!(c.closed().await);
    assert!(dir.path().join("mail/alice/cur/1.x:2,").exists());
}
