//! Resource limits: connection cap, bounded per-connection memory against
//! hostile clients, idle timeout, and the delay after failed logins.

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use common::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn connection_cap_refuses_extra_clients_and_recovers() {
    let fx = Fixture::with(|c| c.max_connections = 4).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(fx.connect().await);
    }
    held[0].login("alice", "secret").await;
    for _ in 0..20 {
        let mut c = Client::connect(fx.server().addr()).await;
        assert_eq!(c.greeting, "-ERR [SYS/TEMP] too many connections");
        assert!(c.closed().await);
    }
    // Refused connections did not take slots: the held ones still work.
    assert!(held[0].cmd("STAT").await.starts_with("+OK 3 "));
    assert!(ok(&held[1].cmd("USER bob").await));
    held.clear();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = Vec::new();
    for _ in 0..4 {
        let c = Client::connect(fx.server().addr()).await;
        assert!(ok(&c.greeting), "{}", c.greeting);
        again.push(c);
    }
    again[0].login("alice", "secret").await;
    fx.stop().await;
}

/// Bytes of the endless line; more than the server may grow by.
const ENDLESS: usize = 64 << 20;
/// Allowed RSS growth, far below what buffering the endless line would take.
const BOUND_MIB: u64 = 24;

/// Write `chunk` repeatedly for at most `time` or `limit` bytes; returns
/// how much the server took. Writes block once the server stops reading.
async fn pump(mut s: TcpStream, chunk: Vec<u8>, time: Duration, limit: usize) -> usize {
    let deadline = Instant::now() + time;
    let mut sent = 0;
    while sent < limit {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.write_all(&chunk)).await {
            Ok(Ok(())) => sent += chunk.len(),
            _ => break,
        }
    }
    sent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_clients_cannot_grow_server_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mail");
    // A 2 MB message for clients that request it over and over.
    let big: Vec<u8> = b"Subject: big\r\n\r\n"
        .iter()
        .copied()
        .chain((0..40_000).flat_map(|i| format!("line {i:044}\r\n").into_bytes()))
        .collect();
    deliver_at(&root.join("alice"), "cur", "1.big:2,", &big, 1_000);
    let server = ChildServer::spawn(&root, &[("alice", "secret")], &[], &[]).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let base = server.status_kb("VmRSS");

    let time = Duration::from_secs(3);
    let mut tasks = Vec::new();
    // An endless line (no LF ever).
    let s = TcpStream::connect(server.addr).await.unwrap();
    let endless = tokio::spawn(pump(
        s,
        vec![b'x'; 64 * 1024],
        Duration::from_secs(10),
        ENDLESS,
    ));
    // Pipelined command floods from clients that never read a reply.
    for _ in 0..4 {
        let s = TcpStream::connect(server.addr).await.unwrap();
        tasks.push(tokio::spawn(pump(
            s,
            b"NOOP\r\nCAPA\r\nXYZZY\r\n".repeat(2000),
            time,
            1 << 30,
        )));
    }
    // Logged-in clients asking for the big message without reading.
    for _ in 0..2 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(b"USER alice\r\nPASS secret\r\n").await.unwrap();
        tasks.push(tokio::spawn(pump(
            s,
            b"RETR 1\r\n".repeat(100),
            time,
            1 << 30,
        )));
    }
    let endless_sent = endless.await.unwrap();
    let mut flood_sent = 0;
    for t in tasks {
        flood_sent += t.await.unwrap();
    }
    let peak = server.status_kb("VmHWM");
    let now = server.status_kb("VmRSS");
    eprintln!(
        "endless line: {} MiB sent; floods: {} MiB sent; RSS {base} kB at start, \
         {now} kB now, peak {peak} kB",
        endless_sent >> 20,
        flood_sent >> 20
    );
    // Had the server buffered the endless line, it would hold all of it.
    assert!(
        endless_sent >= ENDLESS,
        "server took only {endless_sent} bytes of an endless line in {time:?} (buffering it? stalled?)"
    );
    let bound_kb = base + BOUND_MIB * 1024;
    assert!(
        peak < bound_kb,
        "server peak RSS {peak} kB exceeds {bound_kb} kB"
    );
    // And it still serves normally.
    let mut c = Client::connect(server.addr).await;
    assert!(ok(&c.cmd("USER alice").await));
    server.kill().await;
}

#[tokio::test]
async fn idle_timeout_closes_silent_trickling_and_non_reading_clients() {
    let fx = Fixture::with(|c| c.idle_timeout = Duration::from_millis(300)).await;
    // Silent after the greeting.
    let t = Instant::now();
    let mut silent = fx.connect().await;
    assert!(silent.closed().await);
    assert!(t.elapsed() < Duration::from_secs(2));

    // Trickling a line that never ends (one byte every 50 ms).
    let mut s = TcpStream::connect(fx.server().addr()).await.unwrap();
    let t = Instant::now();
    let closed = loop {
        if s.write_all(b"N").await.is_err() {
            break true;
        }
        if t.elapsed() > Duration::from_secs(3) {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(closed, "a trickled line kept the session alive");

    // Logged in, marks a message, then floods RETR without reading: the
    // blocked write gives up after the idle time, and nothing is deleted.
    let big: Vec<u8> = (0..200_000)
        .flat_map(|i| format!("l{i:030}\r\n").into_bytes())
        .collect();
    deliver_at(&fx.maildir("bob"), "cur", "1.big:2,", &big, 1_000);
    let mut c = fx.connect().await;
    c.login("bob", "hunter2").await;
    assert!(ok(&c.cmd("DELE 1").await));
    assert!(ok(&c.cmd("RSET").await));
    assert!(ok(&c.cmd("DELE 1").await));
    c.send_raw(&b"RETR 1\r\n".repeat(20)).await;
    let t = Instant::now();
    while fx.server().is_locked("bob") {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "non-reading client holds the session"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(fx.files("bob"), ["cur/1.big:2,"]);
    fx.stop().await;
}

#[tokio::test]
async fn failed_logins_are_answered_after_the_delay() {
    assert_eq!(
        pop3_reference_server::ServerConfig::new("/x", vec![]).auth_failure_delay,
        Duration::ZERO,
        "library default must keep tests fast"
    );
    let delay = Duration::from_millis(300);
    let fx = Fixture::with(|c| c.auth_failure_delay = delay).await;
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    let mut c = fx.connect().await;
    let timed = |r: String, t: Instant| (r, t.elapsed());

    assert!(ok(&c.cmd("USER alice").await));
    let t = Instant::now();
    let (r, e) = timed(c.cmd("PASS wrong").await, t);
    assert!(r.starts_with("-ERR [AUTH]") && e >= delay, "{r} {e:?}");

    // Unknown user: same delay, same answer.
    assert!(ok(&c.cmd("USER nobody").await));
    let t = Instant::now();
    let (r, e) = timed(c.cmd("PASS wrong").await, t);
    assert!(r.starts_with("-ERR [AUTH]") && e >= delay, "{r} {e:?}");

    let t = Instant::now();
    let (r, e) = timed(
        c.cmd("APOP alice 00000000000000000000000000000000").await,
        t,
    );
    assert!(r.starts_with("-ERR [AUTH]") && e >= delay, "APOP {r} {e:?}");

    let t = Instant::now();
    let cmd = format!("AUTH PLAIN {}", b64(b"\0alice\0wrong"));
    let (r, e) = timed(c.cmd(&cmd).await, t);
    assert!(r.starts_with("-ERR [AUTH]") && e >= delay, "AUTH {r} {e:?}");

    assert_eq!(c.cmd("AUTH PLAIN").await, "+ ");
    let t = Instant::now();
    let (r, e) = timed(c.cmd("%%%not-base64").await, t);
    assert!(err(&r) && e >= delay, "AUTH continuation {r} {e:?}");

    // Not failures: no delay.
    let t = Instant::now();
    assert_eq!(c.cmd("AUTH PLAIN").await, "+ ");
    assert!(err(&c.cmd("*").await));
    assert!(err(&c.cmd("PASS x").await)); // PASS without USER
    c.login("alice", "secret").await;
    assert!(t.elapsed() < delay, "{:?}", t.elapsed());
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_delays_failed_logins_by_default() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mail");
    deliver_at(&root.join("alice"), "cur", "1.a:2,", MSG1, 1_000);
    for (args, min, max) in [
        (&[][..], 450, 5_000),
        (&["--auth-failure-delay", "0"][..], 0, 300),
    ] {
        let server = ChildServer::spawn(&root, &[("alice", "secret")], args, &[]).await;
        let mut c = Client::connect(server.addr).await;
        assert!(ok(&c.cmd("USER alice").await));
        let t = Instant::now();
        let r = c.cmd("PASS wrong").await;
        let e = t.elapsed();
        assert!(r.starts_with("-ERR [AUTH]"), "{r}");
        assert!(
            e >= Duration::from_millis(min) && e < Duration::from_millis(max),
            "{args:?}: failed PASS answered after {e:?}"
        );
        c.login("alice", "secret").await;
        server.kill().await;
    }
}

/// RFC 2449 §4: a command may fill 255 octets, so a message number padded with
/// zeros to that length is still the number (`pop3spec`'s
/// rfc2449.limits.command-255-octets compares it with a 47-octet LIST).
#[tokio::test]
async fn zero_padded_message_number_fills_a_255_octet_line() {
    let fx = Fixture::start().await;
    let mut c = fx.alice().await;
    let padded = format!("LIST {}1", "0".repeat(247));
    assert_eq!(padded.len() + 2, 255);
    let short = c.cmd("LIST 1").await;
    assert!(ok(&short), "{short}");
    assert_eq!(c.cmd(&padded).await, short);
    assert!(err(&c.cmd("LIST 00000000000").await), "message 0");
    assert!(err(&c.cmd(&format!("LIST {}", "9".repeat(11))).await));
    fx.stop().await;
}
