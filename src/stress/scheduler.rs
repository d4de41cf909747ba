//! The clients: each runs sessions back to back until the deadline, choosing
//! accounts and commands at random (seeded, so a run can be repeated).

use super::checks::{check_content, check_listing};
use super::model::{AccountState, Parked};
use super::report::{Histogram, Latencies};
use super::session::{open, Session};
use super::setup::{deliver, message};
use super::{Run, Violation, STALE_LOCK};
use crate::runner::target::OpenError;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Small deterministic generator (SplitMix64): no dependency, repeatable with --seed.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub(super) fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

pub(super) async fn client(run: Arc<Run>, mut rng: Rng) -> Latencies {
    let mut lat = Latencies::new();
    while Instant::now() < run.deadline {
        let acct = rng.below(run.accounts.len());
        let id = run.next_session.fetch_add(1, Ordering::Relaxed);
        if let Some(l) = one_session(&run, acct, id, &mut rng).await {
            for (k, h) in l {
                lat.entry(k).or_insert_with(Histogram::new).merge(&h);
            }
        }
    }
    lat
}

/// Runs one session; returns its latencies.
pub(super) async fn one_session(run: &Run, ai: usize, id: u64, rng: &mut Rng) -> Option<Latencies> {
    let acct = &run.accounts[ai];
    let user = acct.account.user.as_str();
    let t = Instant::now();
    let (conn, greeting) = match open(&run.target).await {
        Ok(c) => c,
        Err(e) => {
            run.open_errors.fetch_add(1, Ordering::Relaxed);
            run.first_open_error
                .lock()
                .unwrap()
                .get_or_insert_with(|| e.message().to_string());
            tokio::time::sleep(Duration::from_millis(50)).await;
            return None;
        }
    };
    let mut s = Session::new(&run.target, conn);
    s.time("connect", t);
    // Now and then a client gives up before logging in.
    if rng.chance(3) {
        s.conn.drop_connection().await;
        run.drops.fetch_add(1, Ordering::Relaxed);
        run.sessions.fetch_add(1, Ordering::Relaxed);
        acct.sessions.fetch_add(1, Ordering::Relaxed);
        return Some(s.lat);
    }
    let t = Instant::now();
    // The server reads the maildrop while it answers the credentials, so a
    // session that lets the maildrop go from here to the +OK may have changed
    // it under this login (on a server that does not lock).
    let ended_before = {
        let mut m = acct.model.lock().unwrap();
        m.logging_in.insert(id);
        m.ended
    };
    let mut quiet = |_: bool, _: String| {};
    let login = run
        .target
        .login(&mut s.conn, &acct.account, &greeting, &mut quiet)
        .await;
    s.commands += if run.target.auth == crate::runner::target::AuthMechanism::User {
        2
    } else {
        1
    };
    s.time("login", t);
    if let Err(e) = login {
        let at = run.start.elapsed().as_secs_f64();
        let (judged, _) = acct.model.lock().unwrap().login_answered(id, false, at);
        for (kind, detail) in judged {
            run.violation(kind, user, detail);
        }
        let m = e.message().to_string();
        if m.contains("[IN-USE]") {
            run.in_use.fetch_add(1, Ordering::Relaxed);
            let stale = {
                let mut model = acct.model.lock().unwrap();
                let idle = model.last_held.unwrap_or(run.start).elapsed();
                let stale = model.holders.is_empty()
                    && model.quitting.is_empty()
                    && idle > STALE_LOCK
                    && !model.stale_reported;
                model.stale_reported |= stale;
                stale.then_some(idle)
            };
            if let Some(idle) = stale {
                run.violation(
                    "stale-lock",
                    user,
                    format!(
                        "login refused with [IN-USE] although no session of this run has held the maildrop for {:.1} s (a lock that outlived its session, or a client outside this run)",
                        idle.as_secs_f64()
                    ),
                );
            }
        } else if matches!(e, OpenError::Protocol(_)) && m.contains("refused") {
            run.refused.fetch_add(1, Ordering::Relaxed);
        } else {
            run.violation("session", user, format!("login: {m}"));
        }
        let _ = s.simple("QUIT").await;
        run.commands.fetch_add(s.commands, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_micros(200 + rng.below(2000) as u64)).await;
        return Some(s.lat);
    }
    let judged = {
        let mut m = acct.model.lock().unwrap();
        let unlocked = run.in_use.load(Ordering::Relaxed) == 0;
        let at = run.start.elapsed().as_secs_f64();
        let (judged, parked_overlap) = m.login_answered(id, unlocked, at);
        run.shared_notes
            .fetch_add(parked_overlap, Ordering::Relaxed);
        let others: Vec<u64> = m.holders.iter().copied().collect();
        m.shared.extend(others.iter().copied());
        // A session whose QUIT is still being answered may be changing the
        // maildrop too (only on a server without locking), and so may one
        // that let the maildrop go while this login was answered. A server
        // that has refused a login with [IN-USE] locks: its +OK comes after
        // the previous session's UPDATE, so only the first two count there.
        // A session whose findings waited for this login overlapped it too.
        let ended_meanwhile = unlocked && (m.ended != ended_before || parked_overlap > 0);
        if !others.is_empty() || !m.quitting.is_empty() || ended_meanwhile {
            m.shared.insert(id);
            m.overlapping += 1;
            let quitting: Vec<u64> = m.quitting.iter().copied().collect();
            m.shared.extend(quitting);
        }
        m.last_held = Some(Instant::now());
        m.stale_reported = false;
        if let Some(other) = others.first() {
            run.overlaps.lock().unwrap().push(Violation {
                kind: "lock",
                account: user.to_string(),
                detail: format!(
                    "session {id} logged in while session {other} still held the maildrop"
                ),
                at: run.start.elapsed().as_secs_f64(),
            });
        }
        m.holders.insert(id);
        judged
    };
    for (kind, detail) in judged {
        run.violation(kind, user, detail);
    }
    let mut found = Vec::new();
    let mut listing = Vec::new();
    let result = transaction(run, acct, id, &mut s, rng, &mut listing, &mut found).await;
    if let Err(e) = result {
        found.push(("session", e));
        s.conn.drop_connection().await;
    }
    // Whatever happened, this session no longer holds the maildrop.
    let shared = {
        let mut m = acct.model.lock().unwrap();
        m.leave(id, &listing, false);
        let shared = m.shared.remove(&id);
        if shared {
            let at = run.start.elapsed().as_secs_f64();
            for (kind, detail) in &found {
                m.overlap_damage(kind, at, detail);
            }
        } else if !found.is_empty()
            && !m.logging_in.is_empty()
            && run.in_use.load(Ordering::Relaxed) == 0
        {
            // A login being answered now may have read the maildrop while
            // this session was still changing it: judge when it is answered.
            let waiting = m.logging_in.clone();
            m.parked.push(Parked {
                waiting,
                listing: std::mem::take(&mut listing),
                found: std::mem::take(&mut found),
            });
        }
        shared
    };
    for (kind, detail) in found {
        if shared {
            run.shared_notes.fetch_add(1, Ordering::Relaxed);
        } else {
            run.violation(kind, user, detail);
        }
    }
    run.commands.fetch_add(s.commands, Ordering::Relaxed);
    run.sessions.fetch_add(1, Ordering::Relaxed);
    acct.sessions.fetch_add(1, Ordering::Relaxed);
    Some(s.lat)
}

/// Random valid commands in TRANSACTION, then QUIT, RSET+QUIT or a dropped connection.
pub(super) async fn transaction(
    run: &Run,
    acct: &AccountState,
    id: u64,
    s: &mut Session<'_>,
    rng: &mut Rng,
    listing: &mut Vec<(usize, String)>,
    found: &mut Vec<(&'static str, String)>,
) -> Result<(), String> {
    let user = acct.account.user.as_str();
    *listing = s.uidl_all().await?;
    let listing = &*listing;
    if !acct.model.lock().unwrap().shared.contains(&id) {
        check_listing(run, acct, listing);
    }
    if listing.len() <= acct.floor {
        if let Some((dir, marker)) = &acct.maildir {
            let want = acct
                .seeded
                .unwrap_or(acct.floor * 2)
                .saturating_sub(listing.len());
            let dir = dir.clone();
            let marker = *marker;
            let texts: Vec<String> = (0..want)
                .map(|_| message(user, rng.next() % 1_000_000, rng))
                .collect();
            acct.model.lock().unwrap().pending_deliveries += want;
            let delivered = tokio::task::spawn_blocking(move || {
                texts
                    .iter()
                    .filter(|t| deliver(&dir, marker, t).is_ok())
                    .count()
            })
            .await
            .unwrap_or(0);
            acct.model.lock().unwrap().pending_deliveries -= want - delivered;
        }
    }
    let mut marked: BTreeSet<usize> = BTreeSet::new();
    let uid_of: HashMap<usize, String> = listing.iter().cloned().collect();
    let ops = rng.below(8);
    for _ in 0..ops {
        let live: Vec<usize> = listing
            .iter()
            .map(|(n, _)| *n)
            .filter(|n| !marked.contains(n))
            .collect();
        let pick = |rng: &mut Rng| live.get(rng.below(live.len())).copied();
        match rng.below(9) {
            0 => {
                let (ok, text) = s.simple("STAT").await?;
                let count = text
                    .split_whitespace()
                    .nth(1)
                    .and_then(|c| c.parse::<usize>().ok());
                if !ok || count != Some(live.len()) {
                    found.push((
                        "session-view",
                        format!(
                            "STAT answered `{text}` with {} message(s) listed and not marked",
                            live.len()
                        ),
                    ));
                }
            }
            1 => match s.multi("LIST").await? {
                Some(l) if l.len() == live.len() => {}
                other => found.push((
                    "session-view",
                    format!(
                        "LIST gave {:?} line(s) with {} message(s) listed and not marked",
                        other.map(|l| l.len()),
                        live.len()
                    ),
                )),
            },
            2 => {
                if let Some(n) = pick(rng) {
                    let (ok, text) = s.simple(&format!("UIDL {n}")).await?;
                    let got = text.split_whitespace().nth(2).unwrap_or("");
                    if !ok || got != uid_of[&n] {
                        found.push((
                            "uidl-changed",
                            format!(
                                "UIDL {n} answered `{text}`; the session's listing said {}",
                                uid_of[&n]
                            ),
                        ));
                    }
                }
            }
            3 | 4 => {
                if let Some(n) = pick(rng) {
                    match s.multi(&format!("RETR {n}")).await? {
                        Some(lines) => check_content(run, acct, &uid_of[&n], &lines),
                        None => found.push((
                            "refused",
                            format!("RETR {n} of a listed, unmarked message was refused"),
                        )),
                    }
                }
            }
            5 => {
                if let Some(n) = pick(rng) {
                    let k = rng.below(5);
                    if s.multi(&format!("TOP {n} {k}")).await?.is_none() {
                        found.push((
                            "refused",
                            format!("TOP {n} {k} of a listed, unmarked message was refused"),
                        ));
                    }
                }
            }
            6 | 7 => {
                // Keep the mailbox above the floor so the run never empties it.
                if live.len() > acct.floor {
                    if let Some(n) = pick(rng) {
                        let (ok, text) = s.simple(&format!("DELE {n}")).await?;
                        if ok {
                            marked.insert(n);
                        } else {
                            found.push((
                                "refused",
                                format!("DELE {n} of a listed, unmarked message: `{text}`"),
                            ));
                        }
                    }
                }
            }
            _ => {
                let (ok, text) = s.simple("RSET").await?;
                if ok {
                    marked.clear();
                } else {
                    found.push(("refused", format!("RSET: `{text}`")));
                }
            }
        }
    }
    // A run that may not commit deletions undoes them first.
    if !acct.can_commit && !marked.is_empty() {
        s.simple("RSET").await?;
        marked.clear();
    }
    if rng.chance(15) {
        acct.model.lock().unwrap().leave(id, listing, true);
        s.conn.drop_connection().await;
        run.drops.fetch_add(1, Ordering::Relaxed);
        return Ok(());
    }
    let doomed: Vec<String> = marked.iter().map(|n| uid_of[n].clone()).collect();
    {
        let mut m = acct.model.lock().unwrap();
        m.holders.remove(&id);
        m.quitting.insert(id);
        if !doomed.is_empty() {
            m.pending.insert(id, doomed.clone());
        }
    }
    let answer = s.simple("QUIT").await;
    let mut m = acct.model.lock().unwrap();
    m.pending.remove(&id);
    m.leave(id, listing, false);
    match answer {
        Ok((true, _)) => {
            for u in doomed {
                m.exists.remove(&u);
                m.gone.insert(u);
            }
            Ok(())
        }
        other => {
            m.uncertain.extend(doomed);
            drop(m);
            match other {
                Ok((_, text)) => Err(format!("QUIT answered `{text}`")),
                Err(e) => Err(format!("QUIT: {e}")),
            }
        }
    }
}
