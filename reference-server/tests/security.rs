//! `require_tls` (RFC 2595 §9 spirit: no cleartext credentials) and the
//! loopback-only default listen addresses.

mod common;

use base64::Engine;
use common::*;
use pop3_reference_server::{RunningServer, ServerConfig, TlsSetup};

fn plain_b64() -> String {
    base64::engine::general_purpose::STANDARD.encode(b"\0alice\0secret")
}

async fn capa(c: &mut Client) -> Vec<String> {
    c.multi("CAPA").await.1
}

#[tokio::test]
async fn require_tls_refuses_credentials_before_stls() {
    let fx = Fixture::with(|c| c.require_tls = true).await;
    let mut c = fx.connect().await;
    let caps = capa(&mut c).await;
    assert!(caps.iter().any(|l| l == "STLS"), "{caps:?}");
    assert!(
        !caps.iter().any(|l| l == "USER" || l.starts_with("SASL")),
        "USER/SASL announced before TLS: {caps:?}"
    );
    for cmd in [
        "USER alice".to_string(),
        "PASS secret".to_string(),
        "APOP alice 0123456789abcdef0123456789abcdef".to_string(),
        "AUTH".to_string(),
        "AUTH PLAIN".to_string(),
        format!("AUTH PLAIN {}", plain_b64()),
    ] {
        let r = c.cmd(&cmd).await;
        assert!(err(&r), "{cmd} before TLS: {r}");
    }
    // USER was refused, so PASS cannot complete it either.
    assert!(err(&c.cmd("PASS secret").await));
    assert!(!fx.server().is_locked("alice"));

    // After STLS everything is offered and works.
    assert!(ok(&c.cmd("STLS").await));
    c.starttls().await;
    let caps = capa(&mut c).await;
    assert!(caps.iter().any(|l| l == "USER"), "{caps:?}");
    assert!(caps.iter().any(|l| l == SASL_CAPABILITY), "{caps:?}");
    assert!(!caps.iter().any(|l| l == "STLS"));
    c.login("alice", "secret").await;
    assert!(c.cmd("STAT").await.starts_with("+OK 3 "));
    assert!(ok(&c.quit().await));

    let mut d = fx.connect().await;
    assert!(ok(&d.cmd("STLS").await));
    d.starttls().await;
    assert!(ok(&d.cmd(&format!("AUTH PLAIN {}", plain_b64())).await));

    // The implicit-TLS listener counts as TLS.
    drop(d);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let mut t = Client::connect_tls(fx.server().tls_addr().unwrap()).await;
    assert!(capa(&mut t).await.iter().any(|l| l == "USER"));
    t.login("alice", "secret").await;
    fx.stop().await;
}

#[tokio::test]
async fn default_allows_plaintext_login_and_announces_it() {
    let cfg = ServerConfig::new("/x", vec![]);
    assert!(!cfg.require_tls);
    let fx = Fixture::start().await;
    let mut c = fx.connect().await;
    let caps = capa(&mut c).await;
    assert!(caps.iter().any(|l| l == "USER") && caps.iter().any(|l| l == SASL_CAPABILITY));
    c.login("alice", "secret").await;
    fx.stop().await;
}

#[tokio::test]
async fn require_tls_without_tls_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ServerConfig::new(dir.path(), users());
    cfg.require_tls = true;
    cfg.tls = TlsSetup::None;
    let e = RunningServer::start(cfg).await.err().expect("must refuse");
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}

#[tokio::test]
async fn listeners_default_to_loopback() {
    let cfg = ServerConfig::new("/x", vec![]);
    assert!(cfg.listen.ip().is_loopback());
    assert!(cfg.tls_listen.unwrap().ip().is_loopback());
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_pop3-reference-server"))
        .arg("--help")
        .output()
        .await
        .unwrap();
    // Collapse the wrapping of the help text.
    let help = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(help.contains("[default: 127.0.0.1:1110]"), "{help}");
    assert!(help.contains("--require-tls") && help.contains("--auth-failure-delay"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_require_tls_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mail");
    deliver_at(&root.join("alice"), "cur", "1.a:2,", MSG1, 1_000);
    let server = ChildServer::spawn(&root, &[("alice", "secret")], &["--require-tls"], &[]).await;
    let mut c = Client::connect(server.addr).await;
    assert!(err(&c.cmd("USER alice").await));
    assert!(ok(&c.cmd("STLS").await));
    c.starttls().await;
    c.login("alice", "secret").await;
    server.kill().await;
    // --require-tls with --no-tls is rejected at start.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_pop3-reference-server"))
        .args([
            "--require-tls",
            "--no-tls",
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
