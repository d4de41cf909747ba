//! Deletion only in UPDATE, durable journalled UPDATE, maildrop locking,
//! and UID persistence across sessions.

mod common;

use std::time::Duration;

use common::*;

#[tokio::test]
async fn quit_removes_marked_messages() {
    let fx = Fixture::start().await;
    let mut c = fx.alice().await;
    assert!(ok(&c.cmd("DELE 1").await));
    assert!(ok(&c.cmd("DELE 3").await));
    let r = c.quit().await;
    assert!(ok(&r), "{r}");
    assert_eq!(fx.files("alice"), ["cur/200.b:2,"]);
    assert!(!fx.maildir("alice").join(".pop3-update-journal").exists());
    let mut c = fx.alice().await;
    assert_eq!(c.cmd("STAT").await, "+OK 1 50");
    assert_eq!(c.cmd("UIDL 1").await, "+OK 1 200.b");
    fx.stop().await;
}

#[tokio::test]
async fn dropped_connection_never_deletes() {
    let fx = Fixture::start().await;
    let mut c = fx.alice().await;
    assert!(ok(&c.cmd("DELE 1").await));
    drop(c);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(fx.files("alice").len(), 3);
    // Lock released on drop: a new session logs in.
    let mut c = fx.alice().await;
    assert_eq!(c.cmd("STAT").await, "+OK 3 158");
    fx.stop().await;
}

#[tokio::test]
async fn quit_from_authorization_and_rset_never_delete() {
    let fx = Fixture::start().await;
    let c = fx.connect().await;
    assert!(ok(&c.quit().await));
    let mut c = fx.alice().await;
    assert!(ok(&c.cmd("DELE 1").await));
    assert!(ok(&c.cmd("RSET").await));
    assert!(ok(&c.quit().await));
    assert_eq!(fx.files("alice").len(), 3);
    fx.stop().await;
}

#[tokio::test]
async fn idle_timeout_never_deletes() {
    let fx = Fixture::with(|c| c.idle_timeout = Duration::from_millis(300)).await;
    let mut c = fx.alice().await;
    assert!(ok(&c.cmd("DELE 2").await));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(c.closed().await);
    assert_eq!(fx.files("alice").len(), 3);
    assert!(!fx.server().is_locked("alice"));
    fx.stop().await;
}

#[tokio::test]
async fn shutdown_closes_sessions_without_update() {
    let fx = Fixture::start().await;
    let mut c = fx.alice().await;
    assert!(ok(&c.cmd("DELE 1").await));
    let mut idle = fx.connect().await;
    let server = fx.server.as_ref().unwrap();
    let addr = server.addr();
    let Fixture { dir, server } = fx;
    tokio::time::timeout(Duration::from_secs(5), server.unwrap().shutdown())
        .await
        .expect("shutdown hangs");
    assert!(c.closed().await);
    assert!(idle.closed().await);
    assert_eq!(
        std::fs::read_dir(dir.path().join("alice/cur"))
            .unwrap()
            .count(),
        3
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still accepting"
    );
}

#[tokio::test]
async fn exclusive_lock_in_use() {
    let fx = Fixture::start().await;
    let mut a = fx.alice().await;
    let mut b = fx.connect().await;
    assert!(ok(&b.cmd("USER alice").await));
    let r = b.cmd("PASS secret").await;
    assert!(r.starts_with("-ERR [IN-USE]"), "{r}");
    // Still in AUTHORIZATION: a new USER is needed and other users work.
    assert!(err(&b.cmd("STAT").await));
    assert!(err(&b.cmd("PASS secret").await));
    // AUTH PLAIN is refused the same way.
    use base64::Engine;
    let ir = base64::engine::general_purpose::STANDARD.encode(b"\0alice\0secret");
    assert!(b
        .cmd(&format!("AUTH PLAIN {ir}"))
        .await
        .starts_with("-ERR [IN-USE]"));
    // Wrong password on a locked maildrop is [AUTH], and leaks nothing.
    assert!(ok(&b.cmd("USER alice").await));
    assert!(b.cmd("PASS bad").await.starts_with("-ERR [AUTH]"));
    // Released at QUIT.
    assert!(ok(&a.cmd("DELE 1").await));
    assert!(ok(&a.cmd("QUIT").await));
    assert!(a.closed().await);
    b.login("alice", "secret").await;
    assert_eq!(b.cmd("STAT").await, "+OK 2 98");
    fx.stop().await;
}

#[tokio::test]
async fn failed_logins_do_not_leak_the_lock() {
    let fx = Fixture::start().await;
    let mut c = fx.connect().await;
    assert!(ok(&c.cmd("USER alice").await));
    assert!(err(&c.cmd("PASS nope").await));
    assert!(!fx.server().is_locked("alice"));
    drop(c);
    let mut a = fx.alice().await;
    assert!(fx.server().is_locked("alice"));
    assert!(ok(&a.cmd("NOOP").await));
    drop(a);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!fx.server().is_locked("alice"));
    fx.stop().await;
}

#[tokio::test]
async fn lock_tables_are_per_server() {
    let fx1 = Fixture::start().await;
    let fx2 = Fixture::start().await;
    let _a = fx1.alice().await;
    let mut b = fx2.alice().await;
    assert_eq!(b.cmd("STAT").await, "+OK 3 158");
    fx1.stop().await;
    fx2.stop().await;
}

#[tokio::test]
async fn journal_replayed_at_next_login() {
    let fx = Fixture::start().await;
    // A crash after the journal was synced and one file was already unlinked.
    let md = fx.maildir("alice");
    std::fs::write(md.join(".pop3-update-journal"), "300.c\n200.b\n").unwrap();
    std::fs::remove_file(md.join("cur/300.c:2,S")).unwrap();
    let mut c = fx.alice().await;
    assert_eq!(c.cmd("STAT").await, "+OK 1 48");
    assert_eq!(c.cmd("UIDL 1").await, "+OK 1 100.a");
    assert!(!md.join(".pop3-update-journal").exists());
    assert_eq!(fx.files("alice"), ["cur/100.a:2,"]);
    fx.stop().await;
}

#[tokio::test]
async fn journal_matches_by_base_name_even_if_flags_changed() {
    let fx = Fixture::start().await;
    let md = fx.maildir("alice");
    std::fs::rename(md.join("cur/200.b:2,"), md.join("cur/200.b:2,RS")).unwrap();
    std::fs::write(md.join(".pop3-update-journal"), "200.b\n").unwrap();
    let mut c = fx.alice().await;
    assert_eq!(c.cmd("STAT").await, "+OK 2 108");
    fx.stop().await;
}

#[tokio::test]
async fn new_messages_move_to_cur_and_uids_persist() {
    let fx = Fixture::start().await;
    let md = fx.maildir("alice");
    deliver_at(&md, "new", "999.fresh", b"Subject: new\n\nhi\n", 5_000);
    // Things that are not messages.
    deliver_at(&md, "new", ".hidden", b"x", 5_001);
    deliver_at(&md, "tmp", "888.partial", b"x", 5_002);
    std::fs::create_dir_all(md.join("new/subdir")).unwrap();
    std::fs::create_dir_all(md.join("cur/adir")).unwrap();
    let mut c = fx.alice().await;
    let (_, u1) = c.multi("UIDL").await;
    assert_eq!(u1, ["1 300.c", "2 200.b", "3 100.a", "4 999.fresh"]);
    assert!(md.join("cur/999.fresh:2,").exists());
    assert!(!md.join("new/999.fresh").exists());
    // A delivery during the session does not appear in it.
    deliver_at(&md, "new", "1000.later", b"Subject: later\n\nx\n", 6_000);
    assert_eq!(c.cmd("STAT").await.split(' ').nth(1), Some("4"));
    assert!(ok(&c.quit().await));
    // Flags changed by another client do not change the UID.
    std::fs::rename(md.join("cur/300.c:2,S"), md.join("cur/300.c:2,RS")).unwrap();
    let mut c = fx.alice().await;
    let (_, u2) = c.multi("UIDL").await;
    assert_eq!(
        u2,
        [
            "1 300.c",
            "2 200.b",
            "3 100.a",
            "4 999.fresh",
            "5 1000.later"
        ]
    );
    fx.stop().await;
}

#[tokio::test]
async fn missing_maildir_is_created() {
    let fx = Fixture::start().await;
    let mut c = fx.connect().await;
    c.login("bob", "hunter2").await;
    assert_eq!(c.cmd("STAT").await, "+OK 0 0");
    let (_, l) = c.multi("LIST").await;
    assert!(l.is_empty());
    for sub in ["cur", "new", "tmp"] {
        assert!(fx.maildir("bob").join(sub).is_dir());
    }
    fx.stop().await;
}

#[tokio::test]
async fn failed_removal_reports_sys_temp_and_keeps_journal() {
    let fx = Fixture::start().await;
    let md = fx.maildir("alice");
    let mut c = fx.alice().await;
    // Replace message 1 by a directory of the same name: unlink must fail.
    std::fs::remove_file(md.join("cur/300.c:2,S")).unwrap();
    std::fs::create_dir(md.join("cur/300.c:2,S")).unwrap();
    assert!(ok(&c.cmd("DELE 1").await));
    assert!(ok(&c.cmd("DELE 2").await));
    let r = c.quit().await;
    assert!(r.starts_with("-ERR [SYS/TEMP]"), "{r}");
    // What could be removed was removed; the journal stays for the next login.
    assert!(!md.join("cur/200.b:2,").exists());
    assert!(md.join(".pop3-update-journal").exists());
    assert!(!fx.server().is_locked("alice"));
    let mut c = fx.alice().await;
    assert_eq!(c.cmd("STAT").await, "+OK 1 48");
    assert!(!md.join(".pop3-update-journal").exists());
    fx.stop().await;
}

#[tokio::test]
async fn shutdown_is_not_held_up_by_a_client_that_stops_reading() {
    let fx = Fixture::start().await;
    let big: Vec<u8> =
        b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n".repeat(512 * 1024);
    deliver_at(&fx.maildir("bob"), "cur", "big:2,", &big, 10);
    let mut c = fx.connect().await;
    c.login("bob", "hunter2").await;
    c.send("RETR 1").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let Fixture { dir: _dir, server } = fx;
    tokio::time::timeout(Duration::from_secs(5), server.unwrap().shutdown())
        .await
        .expect("shutdown waited for a client that does not read");
}
