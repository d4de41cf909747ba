//! Crash safety of UPDATE, with the real binary as a child process.
//!
//! The server is SIGKILLed at many points of a QUIT-triggered UPDATE. With
//! the test-only env `POP3_REF_TEST_UPDATE_PAUSE_MS` the server sleeps after
//! the journal is durable and before each unlink, which widens the window so
//! that the kills land before, inside and after the unlinks. After each kill:
//! every message is present with its exact bytes or gone, only marked ones
//! can be gone; after a restart and a login the journal has been replayed and
//! exactly the marked messages are gone.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

const N: usize = 10;
const PAUSE_MS: u64 = 12;
const JOURNAL: &str = ".pop3-update-journal";

fn body(i: usize) -> Vec<u8> {
    format!(
        "Subject: message {i}\r\n\r\n{}\r\n",
        "line\r\n".repeat(i + 1)
    )
    .into_bytes()
}

/// alice's Maildir with N messages in delivery order; returns their paths.
fn populate(root: &Path) -> Vec<std::path::PathBuf> {
    let dir = root.join("alice");
    (0..N)
        .map(|i| {
            let name = format!("{}.m{i}:2,", 5000 + i);
            deliver_at(&dir, "cur", &name, &body(i), 10_000 + i as u64);
            dir.join("cur").join(name)
        })
        .collect()
}

/// Present-and-intact or gone; gone only if marked. Returns how many marked
/// messages are gone.
fn check_files(paths: &[std::path::PathBuf], marked: &[usize], when: &str) -> usize {
    let mut gone = 0;
    for (i, p) in paths.iter().enumerate() {
        match std::fs::read(p) {
            Ok(b) => assert_eq!(b, body(i), "{when}: message {} corrupted", i + 1),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                assert!(
                    marked.contains(&i),
                    "{when}: unmarked message {} deleted",
                    i + 1
                );
                gone += 1;
            }
            Err(e) => panic!("{when}: {e}"),
        }
    }
    gone
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_update_loses_nothing_and_replays_the_journal() {
    let pause = PAUSE_MS.to_string();
    let env = [("POP3_REF_TEST_UPDATE_PAUSE_MS", pause.as_str())];
    let iterations = 18;
    let (mut none_gone, mut partial, mut all_gone, mut journal_left) = (0, 0, 0, 0);
    for k in 0..iterations {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("mail");
        let paths = populate(&root);
        // Vary which messages are marked (always at least three).
        let marked: Vec<usize> = (0..N).filter(|i| (i + k) % 3 != 0).collect();
        let server = ChildServer::spawn(&root, &[("alice", "secret")], &[], &env).await;
        let mut c = Client::connect(server.addr).await;
        c.login("alice", "secret").await;
        for i in &marked {
            assert!(ok(&c.cmd(&format!("DELE {}", i + 1)).await));
        }
        // UPDATE takes about (marked + 1) * PAUSE_MS: kill from before the
        // first unlink to after the last.
        let window = (marked.len() as u64 + 2) * PAUSE_MS;
        let delay = Duration::from_micros(window * 1000 * k as u64 / (iterations as u64 - 1));
        c.send("QUIT").await;
        tokio::time::sleep(delay).await;
        server.kill().await;
        let when = format!("iteration {k}, killed {delay:?} after QUIT");
        let gone = check_files(&paths, &marked, &when);
        let journal = root.join("alice").join(JOURNAL).exists();
        match gone {
            0 => none_gone += 1,
            g if g == marked.len() => all_gone += 1,
            _ => partial += 1,
        }
        if journal {
            journal_left += 1;
        }

        // Restart without the pause: the login replays the journal.
        let server = ChildServer::spawn(&root, &[("alice", "secret")], &[], &[]).await;
        let mut c = Client::connect(server.addr).await;
        c.login("alice", "secret").await;
        let stat = c.cmd("STAT").await;
        let kept = N - if journal || gone > 0 { marked.len() } else { 0 };
        assert!(
            stat.starts_with(&format!("+OK {kept} ")),
            "{when}: after restart {stat}, expected {kept} (journal left: {journal}, gone: {gone})"
        );
        assert!(
            !root.join("alice").join(JOURNAL).exists(),
            "{when}: journal not removed by the replay"
        );
        let gone_now = check_files(&paths, &marked, &when);
        assert_eq!(gone_now, N - kept, "{when}");
        assert!(ok(&c.quit().await));
        assert_eq!(check_files(&paths, &marked, &when), N - kept);
        server.kill().await;
    }
    eprintln!(
        "{iterations} kills: {none_gone} before any unlink, {partial} mid-way, \
         {all_gone} after all unlinks; journal left {journal_left} times"
    );
    // The kills must really have landed inside UPDATE, not only around it.
    assert!(
        partial >= 2,
        "only {partial} kills landed between unlinks; widen the window"
    );
    assert!(journal_left >= 2);
}

/// Kills with the real (unpaused) UPDATE speed: the same invariants hold
/// wherever the kill lands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_full_speed_keeps_files_whole() {
    for k in 0..6u64 {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("mail");
        let paths = populate(&root);
        let marked: Vec<usize> = (0..N).filter(|i| i % 2 == (k % 2) as usize).collect();
        let server = ChildServer::spawn(&root, &[("alice", "secret")], &[], &[]).await;
        let mut c = Client::connect(server.addr).await;
        c.login("alice", "secret").await;
        for i in &marked {
            assert!(ok(&c.cmd(&format!("DELE {}", i + 1)).await));
        }
        c.send("QUIT").await;
        tokio::time::sleep(Duration::from_micros(300 * k)).await;
        server.kill().await;
        let gone = check_files(&paths, &marked, "full speed");
        let journal = root.join("alice").join(JOURNAL).exists();
        let server = ChildServer::spawn(&root, &[("alice", "secret")], &[], &[]).await;
        let mut c = Client::connect(server.addr).await;
        c.login("alice", "secret").await;
        let kept = if journal || gone > 0 {
            N - marked.len()
        } else {
            N
        };
        let stat = c.cmd("STAT").await;
        assert!(stat.starts_with(&format!("+OK {kept} ")), "{stat}");
        server.kill().await;
    }
}

/// A dropped connection, and a server killed while a session holds marks,
/// never delete anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connection_or_killed_session_never_deletes() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mail");
    let paths = populate(&root);
    let all: Vec<usize> = (0..N).collect();
    let server = ChildServer::spawn(&root, &[("alice", "secret")], &[], &[]).await;

    let mut c = Client::connect(server.addr).await;
    c.login("alice", "secret").await;
    for i in 1..=N {
        assert!(ok(&c.cmd(&format!("DELE {i}")).await));
    }
    drop(c);
    // The lock is released once the server notices the drop.
    let mut c = None;
    for _ in 0..50 {
        let mut d = Client::connect(server.addr).await;
        assert!(ok(&d.cmd("USER alice").await));
        let r = d.cmd("PASS secret").await;
        if ok(&r) {
            c = Some(d);
            break;
        }
        assert!(r.starts_with("-ERR [IN-USE]"), "{r}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut c = c.expect("lock never released after the drop");
    assert_eq!(check_files(&paths, &all, "after drop"), 0);
    assert!(c.cmd("STAT").await.starts_with(&format!("+OK {N} ")));

    // Same session marks everything, then the server dies before QUIT.
    for i in 1..=N {
        assert!(ok(&c.cmd(&format!("DELE {i}")).await));
    }
    server.kill().await;
    assert_eq!(check_files(&paths, &all, "after kill"), 0);
    assert!(!root.join("alice").join(JOURNAL).exists());
    let server = ChildServer::spawn(&root, &[("alice", "secret")], &[], &[]).await;
    let mut c = Client::connect(server.addr).await;
    c.login("alice", "secret").await;
    assert!(c.cmd("STAT").await.starts_with(&format!("+OK {N} ")));
    server.kill().await;
}
