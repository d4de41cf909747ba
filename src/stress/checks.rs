//! The invariant checks: a UIDL listing against the model of its mailbox, and
//! a RETR body against the content first seen under its unique-id.

use super::model::AccountState;
use super::Run;
use crate::runner::connection::Body;
use md5::{Digest, Md5};
use std::collections::HashSet;

/// Compares a fresh listing with the model and brings the model up to date.
pub(super) fn check_listing(run: &Run, acct: &AccountState, listing: &[(usize, String)]) {
    let user = &acct.account.user;
    let mut m = acct.model.lock().unwrap();
    let listed: HashSet<&str> = listing.iter().map(|(_, u)| u.as_str()).collect();
    let in_flight: HashSet<String> = m.pending.values().flatten().cloned().collect();
    let missing: Vec<String> = m
        .exists
        .iter()
        .filter(|u| !listed.contains(u.as_str()) && !in_flight.contains(*u))
        .cloned()
        .collect();
    // (kind, unique-id, detail)
    let mut problems: Vec<(&'static str, String, String)> = Vec::new();
    for u in missing {
        m.exists.remove(&u);
        if m.uncertain.remove(&u) {
            m.gone.insert(u);
        } else if m.lost.insert(u.clone()) {
            let detail = format!("message {u} is gone although no session deleted it with QUIT");
            problems.push(("lost", u, detail));
        }
    }
    for (n, u) in listing {
        if m.exists.contains(u) {
            continue;
        }
        if m.gone.remove(u) {
            problems.push((
                "resurrected",
                u.clone(),
                format!("message {n} has UIDL {u}, which a committed QUIT deleted"),
            ));
        } else if m.uncertain.remove(u) || in_flight.contains(u) {
            // An unanswered QUIT did not delete it after all.
        } else if m.pending_deliveries > 0 {
            m.pending_deliveries -= 1;
        } else if m.lost.remove(u) {
            problems.push((
                "resurrected",
                u.clone(),
                format!("message {u}, missing from an earlier listing, is back"),
            ));
        } else {
            problems.push((
                "unexpected-uidl",
                u.clone(),
                format!("message {n} has UIDL {u}, which no earlier listing showed and nobody delivered (a changed UIDL?)"),
            ));
        }
        m.exists.insert(u.clone());
    }
    // Damage to a message that sessions overlapping each other had listed is
    // set aside: on a server that does not lock it is what the overlap did.
    let mut own = Vec::new();
    for (kind, u, detail) in problems {
        let v = run.found(kind, user, detail);
        if m.contested.contains(&u) {
            m.overlap_damage(kind, v.at, &v.detail);
            run.contested_damage.lock().unwrap().push(v);
        } else {
            own.push(v);
        }
    }
    drop(m);
    for v in own {
        run.record(v);
    }
}

/// A unique-id stands for one content, and one content for one unique-id.
pub(super) fn check_content(run: &Run, acct: &AccountState, uid: &str, lines: &Body) {
    let mut h = Md5::new();
    for l in lines.lines() {
        h.update(l);
        h.update(b"\r\n");
    }
    let digest: [u8; 16] = h.finalize().into();
    let mut m = acct.model.lock().unwrap();
    let mut problems = Vec::new();
    match m.uid_content.get(uid) {
        Some(d) if *d != digest => problems.push((
            "uidl-reused",
            format!("UIDL {uid} now names different content than before"),
        )),
        Some(_) => {}
        None => {
            m.uid_content.insert(uid.to_string(), digest);
        }
    }
    match m.content_uid.get(&digest) {
        Some(u) if u != uid => problems.push((
            "uidl-changed",
            format!("the message that had UIDL {u} now has UIDL {uid}"),
        )),
        Some(_) => {}
        None => {
            m.content_uid.insert(digest, uid.to_string());
        }
    }
    drop(m);
    for (k, d) in problems {
        run.violation(k, &acct.account.user, d);
    }
}
