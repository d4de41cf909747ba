//! 100 clients racing for one maildrop: RFC 1939 §8 exclusive access.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;

const CLIENTS: usize = 100;
const DELIVERED: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_clients_race_for_one_maildrop() {
    let fx = Fixture::start().await;
    let addr = fx.server().addr();
    let maildir = fx.maildir("alice");
    let holders = Arc::new(AtomicUsize::new(0));
    let max_holders = Arc::new(AtomicUsize::new(0));
    let in_use = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(tokio::sync::Barrier::new(CLIENTS + 2));

    // Meanwhile a delivery agent drops new messages into new/ (Maildir
    // style: write in tmp/, rename into new/), which logins move to cur/.
    let deliverer = {
        let maildir = maildir.clone();
        let start = start.clone();
        tokio::spawn(async move {
            start.wait().await;
            for i in 0..DELIVERED {
                let tmp = maildir.join("tmp").join(format!("d{i}"));
                std::fs::create_dir_all(maildir.join("tmp")).unwrap();
                std::fs::create_dir_all(maildir.join("new")).unwrap();
                std::fs::write(&tmp, format!("Subject: d{i}\r\n\r\nbody {i}\r\n")).unwrap();
                std::fs::rename(&tmp, maildir.join("new").join(format!("9{i:03}.d{i}"))).unwrap();
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };

    let mut tasks = Vec::new();
    for id in 0..CLIENTS {
        let (holders, max_holders, in_use, start) = (
            holders.clone(),
            max_holders.clone(),
            in_use.clone(),
            start.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut c = Client::connect(addr).await;
            start.wait().await;
            // Retry until this client has held the maildrop once.
            for attempt in 0.. {
                assert!(ok(&c.cmd("USER alice").await));
                let r = c.cmd("PASS secret").await;
                if r.starts_with("-ERR") {
                    assert!(r.starts_with("-ERR [IN-USE]"), "client {id}: {r}");
                    in_use.fetch_add(1, Ordering::Relaxed);
                    assert!(attempt < 10_000, "client {id} starved");
                    tokio::time::sleep(Duration::from_millis(1 + (id % 5) as u64)).await;
                    continue;
                }
                assert!(ok(&r), "client {id}: {r}");
                let now = holders.fetch_add(1, Ordering::SeqCst) + 1;
                max_holders.fetch_max(now, Ordering::SeqCst);
                assert_eq!(now, 1, "client {id}: two sessions hold the maildrop");
                // While holding: the listing is consistent (unique UIDs,
                // every listed message retrievable).
                let (_, uids) = c.multi("UIDL").await;
                let set: HashSet<_> = uids.iter().map(|l| l.split(' ').nth(1)).collect();
                assert_eq!(set.len(), uids.len(), "client {id}: duplicate UID");
                if id % 10 == 0 {
                    let n = uids.len();
                    let (_, body) = c.multi(&format!("RETR {n}")).await;
                    assert!(!body.is_empty());
                }
                holders.fetch_sub(1, Ordering::SeqCst);
                // Sometimes QUIT, sometimes just drop: both release the lock.
                if id % 3 == 0 {
                    drop(c);
                } else {
                    assert!(ok(&c.quit().await), "client {id}");
                }
                return uids.len();
            }
            unreachable!()
        }));
    }
    start.wait().await;
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(
            tokio::time::timeout(Duration::from_secs(60), t)
                .await
                .expect("race hangs")
                .unwrap(),
        );
    }
    deliverer.await.unwrap();
    assert_eq!(max_holders.load(Ordering::SeqCst), 1);
    assert!(
        in_use.load(Ordering::Relaxed) > 0,
        "no client was ever refused: the race did not happen"
    );
    // Listings only grow (nothing deleted, deliveries only add).
    assert!(seen.iter().all(|n| (3..=3 + DELIVERED).contains(n)));

    // Nothing lost or duplicated: every message exactly once, intact.
    let mut c = None;
    for _ in 0..100 {
        let mut d = fx.connect().await;
        assert!(ok(&d.cmd("USER alice").await));
        if ok(&d.cmd("PASS secret").await) {
            c = Some(d);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut c = c.expect("maildrop still locked after every client finished");
    let (_, list) = c.multi("UIDL").await;
    assert_eq!(list.len(), 3 + DELIVERED, "{list:?}");
    let uids: HashSet<_> = list.iter().map(|l| l.split(' ').nth(1).unwrap()).collect();
    assert_eq!(uids.len(), 3 + DELIVERED);
    for i in 0..DELIVERED {
        assert!(uids.contains(format!("9{i:03}.d{i}").as_str()), "d{i} lost");
    }
    let files = fx.files("alice");
    assert_eq!(files.len(), 3 + DELIVERED, "{files:?}");
    assert!(files.iter().all(|f| f.starts_with("cur/")));
    for n in 4..=3 + DELIVERED {
        let (_, body) = c.multi(&format!("RETR {n}")).await;
        assert!(body.last().unwrap().starts_with("body "), "{body:?}");
    }
    assert!(ok(&c.quit().await));
    assert!(!fx.server().is_locked("alice"));
    fx.stop().await;
}
