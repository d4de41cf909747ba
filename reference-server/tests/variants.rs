//! Allowed variants: each switch does what `--list-variants` says, so the
//! self-test's "the suite passes under every variant" is about real
//! behaviour, not a switch that does nothing.

mod common;

use std::time::Duration;

use common::*;
use pop3_reference_server::{Variant, VariantSet};

async fn with_variant(v: Variant) -> Fixture {
    Fixture::with(|c| c.variants = VariantSet::single(v)).await
}

#[tokio::test]
async fn capa_after_login_only_adds_capabilities_after_login() {
    let fx = with_variant(Variant::CapaAfterLoginOnly).await;
    let mut c = fx.connect().await;
    let before = c.multi("CAPA").await.1;
    c.login("alice", "secret").await;
    let after = c.multi("CAPA").await.1;
    for cap in ["PIPELINING", "RESP-CODES", "AUTH-RESP-CODE"] {
        assert!(
            !before.iter().any(|l| l == cap),
            "{cap} before login: {before:?}"
        );
        assert!(
            after.iter().any(|l| l == cap),
            "{cap} after login: {after:?}"
        );
    }
    // What is available before login is still announced in both states.
    assert!(before.iter().any(|l| l == "USER") && after.iter().any(|l| l == "USER"));
}

#[tokio::test]
async fn close_after_err_closes_once_the_err_is_sent() {
    let fx = with_variant(Variant::CloseAfterErr).await;
    let mut c = fx.connect().await;
    let r = c.cmd("STAT").await;
    assert!(r.starts_with("-ERR"), "{r}");
    assert!(c.closed().await, "the connection stays open after -ERR");
    // +OK answers leave it open.
    let mut c = fx.connect().await;
    c.login("alice", "secret").await;
    assert!(ok(&c.cmd("STAT").await));
    assert!(ok(&c.cmd("NOOP").await));
}

#[tokio::test]
async fn line_before_autologout_sends_one_line_then_closes() {
    let fx = Fixture::with(|c| {
        c.variants = VariantSet::single(Variant::LineBeforeAutologout);
        c.idle_timeout = Duration::from_millis(200);
    })
    .await;
    let mut c = fx.connect().await;
    let line = c.line().await;
    assert!(line.starts_with("-ERR autologout"), "{line}");
    assert!(c.closed().await);
}

#[tokio::test]
async fn login_delay_enforced_announces_and_enforces_one_second() {
    let fx = with_variant(Variant::LoginDelayEnforced).await;
    let mut c = fx.connect().await;
    assert!(c.multi("CAPA").await.1.iter().any(|l| l == "LOGIN-DELAY 1"));
    c.login("alice", "secret").await;
    assert!(ok(&c.quit().await));
    let mut c = fx.connect().await;
    assert!(ok(&c.cmd("USER alice").await));
    let r = c.cmd("PASS secret").await;
    assert!(r.starts_with("-ERR [LOGIN-DELAY]"), "{r}");
}

#[tokio::test]
async fn no_capa_refuses_capa() {
    let fx = with_variant(Variant::NoCapa).await;
    let mut c = fx.connect().await;
    let r = c.cmd("CAPA").await;
    assert!(r.starts_with("-ERR"), "{r}");
    // RFC 2595 §4: STLS needs CAPA, so a server without CAPA has no STLS.
    let r = c.cmd("STLS").await;
    assert!(r.starts_with("-ERR"), "{r}");
}

#[tokio::test]
async fn stls_pipelined_closes_closes_instead_of_negotiating() {
    let fx = with_variant(Variant::StlsPipelinedCloses).await;
    let mut c = fx.connect().await;
    c.send_raw(b"STLS\r\nNOOP\r\n").await;
    assert!(ok(&c.line().await));
    assert!(c.closed().await);
    // STLS alone still negotiates.
    let mut c = fx.connect().await;
    assert!(ok(&c.cmd("STLS").await));
    c.starttls().await;
    assert!(ok(&c.cmd("CAPA").await));
}

#[tokio::test]
async fn download_and_delete_announces_expire_0_and_removes_retrieved_mail_at_quit_only() {
    let fx = with_variant(Variant::DownloadAndDelete).await;
    let mut c = fx.connect().await;
    assert!(c.multi("CAPA").await.1.iter().any(|l| l == "EXPIRE 0"));
    c.login("alice", "secret").await;
    assert!(c.multi("CAPA").await.1.iter().any(|l| l == "EXPIRE 0"));
    // A dropped session removes nothing (RFC 1939 §8).
    assert!(ok(&c.multi("RETR 1").await.0));
    drop(c);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fx.files("alice").len(), 3);
    // QUIT removes what RETR sent, and only that.
    let mut c = fx.connect().await;
    c.login("alice", "secret").await;
    assert!(ok(&c.multi("RETR 2").await.0));
    assert!(ok(&c.cmd("QUIT").await));
    drop(c);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fx.files("alice").len(), 2);
}
