//! RFC 2449 §6.5, §8.1.1: LOGIN-DELAY is announced in both states and, above
//! 0, enforced: a user's next authentication within the delay after a
//! successful one is refused with `[LOGIN-DELAY]`, whatever the mechanism.

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use common::*;

#[tokio::test]
async fn a_login_within_the_delay_is_refused_with_the_code() {
    let fx = Fixture::with(|c| c.login_delay = Some(1)).await;
    let mut c = fx.connect().await;
    assert!(c.multi("CAPA").await.1.iter().any(|l| l == "LOGIN-DELAY 1"));
    c.login("alice", "secret").await;
    let logged_in = Instant::now();
    // The same value after login, without the USER token: it is not per user.
    assert!(c.multi("CAPA").await.1.iter().any(|l| l == "LOGIN-DELAY 1"));
    assert!(ok(&c.quit().await));

    // PASS, APOP and AUTH are all refused, with the code (§8.1.1) ...
    let mut c = fx.connect().await;
    assert!(ok(&c.cmd("USER alice").await), "USER gives nothing away");
    let r = c.cmd("PASS secret").await;
    assert!(r.starts_with("-ERR [LOGIN-DELAY] "), "{r}");
    let r = c
        .cmd(&format!(
            "APOP alice {}",
            apop_digest(&c.greeting.clone(), "secret")
        ))
        .await;
    assert!(r.starts_with("-ERR [LOGIN-DELAY] "), "{r}");
    let plain = base64::engine::general_purpose::STANDARD.encode(b"\0alice\0secret");
    let r = c.cmd(&format!("AUTH PLAIN {plain}")).await;
    assert!(r.starts_with("-ERR [LOGIN-DELAY] "), "{r}");
    // ... but only for the right password: anyone else learns nothing.
    c.cmd("USER alice").await;
    assert_eq!(c.cmd("PASS wrong").await, "-ERR [AUTH] invalid credentials");
    // Other users are not held up, and the session is still in AUTHORIZATION.
    c.login("bob", "hunter2").await;
    assert!(ok(&c.quit().await));

    // Once the delay has passed since the +OK (refusals do not restart it).
    let left = Duration::from_millis(1100).saturating_sub(logged_in.elapsed());
    tokio::time::sleep(left).await;
    let mut c = fx.connect().await;
    c.login("alice", "secret").await;
    // ... and the new login starts a new delay.
    let mut d = fx.connect().await;
    d.cmd("USER alice").await;
    let r = d.cmd("PASS secret").await;
    assert!(r.starts_with("-ERR [LOGIN-DELAY] "), "{r}");
    fx.stop().await;
}

#[tokio::test]
async fn delay_zero_is_announced_but_never_refuses() {
    let fx = Fixture::with(|c| c.login_delay = Some(0)).await;
    for _ in 0..3 {
        let mut c = fx.connect().await;
        assert!(c.multi("CAPA").await.1.iter().any(|l| l == "LOGIN-DELAY 0"));
        c.login("alice", "secret").await;
        assert!(c.multi("CAPA").await.1.iter().any(|l| l == "LOGIN-DELAY 0"));
        assert!(ok(&c.quit().await));
    }
    fx.stop().await;
}

#[tokio::test]
async fn german_refusal_keeps_the_code() {
    let fx = Fixture::with(|c| c.login_delay = Some(60)).await;
    let c = fx.alice().await;
    assert!(ok(&c.quit().await));
    let mut c = fx.connect().await;
    assert!(ok(&c.cmd("LANG de").await));
    c.cmd("USER alice").await;
    assert_eq!(
        c.cmd("PASS secret").await,
        "-ERR [LOGIN-DELAY] letzte Anmeldung vor weniger als 60 Sekunden"
    );
    fx.stop().await;
}
