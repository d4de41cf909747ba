//! STLS (RFC 2595) and implicit TLS (RFC 8314).

mod common;

use std::time::Duration;

use base64::Engine;
use common::*;
use pop3_reference_server::{RunningServer, ServerConfig, TlsSetup};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn stls_upgrade() {
    let fx = Fixture::start().await;
    let mut c = fx.connect().await;
    let (_, caps) = c.multi("CAPA").await;
    assert!(caps.iter().any(|l| l == "STLS"));
    assert!(ok(&c.cmd("USER alice").await));
    assert!(ok(&c.cmd("STLS").await));
    c.starttls().await;
    let (_, caps) = c.multi("CAPA").await;
    assert!(!caps.iter().any(|l| l == "STLS"), "STLS offered over TLS");
    assert!(err(&c.cmd("STLS").await), "second STLS");
    // The USER given in plaintext is forgotten.
    assert!(err(&c.cmd("PASS secret").await));
    c.login("alice", "secret").await;
    assert_eq!(c.cmd("RETR 3").await, "+OK 48 octets");
    assert_eq!(c.body().await.len(), 6);
    assert!(ok(&c.quit().await));
    fx.stop().await;
}

#[tokio::test]
async fn stls_discards_plaintext_buffered_before_handshake() {
    let fx = Fixture::start().await;
    let mut c = fx.connect().await;
    c.send_raw(b"STLS\r\nUSER alice\r\nPASS secret\r\n").await;
    assert!(ok(&c.line().await));
    c.starttls().await;
    // Had the injected commands run, this session would be logged in.
    let r = c.cmd("STAT").await;
    assert!(err(&r), "injected plaintext was executed: {r}");
    assert!(!fx.server().is_locked("alice"));
    fx.stop().await;
}

#[tokio::test]
async fn stls_refused_in_transaction() {
    let fx = Fixture::start().await;
    let mut c = fx.alice().await;
    assert!(err(&c.cmd("STLS").await));
    assert!(ok(&c.cmd("NOOP").await));
    fx.stop().await;
}

#[tokio::test]
async fn implicit_tls_listener() {
    let fx = Fixture::start().await;
    let mut c = Client::connect_tls(fx.server().tls_addr().unwrap()).await;
    assert!(c.greeting.starts_with("+OK "), "{}", c.greeting);
    let (_, caps) = c.multi("CAPA").await;
    assert!(!caps.iter().any(|l| l == "STLS"));
    assert!(err(&c.cmd("STLS").await));
    c.login("alice", "secret").await;
    assert!(ok(&c.cmd("DELE 1").await));
    assert!(ok(&c.quit().await));
    assert_eq!(fx.files("alice").len(), 2);
    fx.stop().await;
}

#[tokio::test]
async fn broken_handshakes_are_survived() {
    let fx = Fixture::with(|c| c.idle_timeout = Duration::from_millis(500)).await;
    // Garbage instead of a ClientHello on the implicit-TLS port.
    let mut s = tokio::net::TcpStream::connect(fx.server().tls_addr().unwrap())
        .await
        .unwrap();
    s.write_all(b"USER alice\r\n\x00\xff\r\n").await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await;
    assert!(
        matches!(n, Ok(Ok(_)) | Ok(Err(_))),
        "connection left hanging"
    );
    // A half-done handshake: connect and say nothing; the timeout reaps it.
    let mut silent = tokio::net::TcpStream::connect(fx.server().tls_addr().unwrap())
        .await
        .unwrap();
    // Garbage after STLS.
    let mut c = fx.connect().await;
    assert!(ok(&c.cmd("STLS").await));
    c.send_raw(b"this is not TLS\r\n").await;
    assert!(c.drained_to_close().await);
    // The server still works, in both modes.
    let mut c = Client::connect_tls(fx.server().tls_addr().unwrap()).await;
    c.login("alice", "secret").await;
    let n = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut buf)).await;
    assert!(
        matches!(n, Ok(Ok(0)) | Ok(Err(_))),
        "silent handshake not timed out"
    );
    fx.stop().await;
}

fn pem(label: &str, der: &[u8]) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    let mut s = format!("-----BEGIN {label}-----\n");
    for chunk in b.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(chunk).unwrap());
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s
}

#[tokio::test]
async fn certificate_from_pem_files() {
    let dir = tempfile::tempdir().unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, pem("CERTIFICATE", ck.cert.der())).unwrap();
    std::fs::write(&key, pem("PRIVATE KEY", &ck.signing_key.serialize_der())).unwrap();
    let mut cfg = ServerConfig::new(dir.path().join("mail"), users());
    cfg.tls = TlsSetup::Files {
        cert: cert.clone(),
        key: key.clone(),
    };
    let server = RunningServer::start(cfg).await.unwrap();
    let mut c = Client::connect_tls(server.tls_addr().unwrap()).await;
    c.login("bob", "hunter2").await;
    assert_eq!(c.cmd("STAT").await, "+OK 0 0");
    server.shutdown().await;

    // Bad files are reported at start.
    let mut cfg = ServerConfig::new(dir.path().join("mail"), users());
    cfg.tls = TlsSetup::Files {
        cert: key.clone(),
        key: cert.clone(),
    };
    assert!(RunningServer::start(cfg).await.is_err());
    // TlsSetup::None switches off the implicit-TLS listener too.
    let mut cfg = ServerConfig::new(dir.path().join("mail"), users());
    cfg.tls = TlsSetup::None;
    let server = RunningServer::start(cfg).await.unwrap();
    assert_eq!(server.tls_addr(), None);
    server.shutdown().await;
}
