//! The model of each mailbox: which unique-ids exist, which deletions are
//! pending, who holds the maildrop, and the overlaps that decide how damage is
//! judged (the rules are in the module comment of `stress`).

use crate::runner::target::Account;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use tokio::time::Instant;

/// The expected state of one mailbox.
#[derive(Default)]
pub(super) struct Model {
    /// Unique-ids that exist.
    pub(super) exists: BTreeSet<String>,
    /// Deleted by a QUIT answered +OK: must never come back.
    pub(super) gone: HashSet<String>,
    /// Marked by a session whose QUIT is in flight (session id -> uids).
    pub(super) pending: HashMap<u64, Vec<String>>,
    /// Marked by a QUIT that got no clear answer: either state is fine.
    pub(super) uncertain: HashSet<String>,
    /// Already reported lost (so each is reported once).
    pub(super) lost: HashSet<String>,
    pub(super) uid_content: HashMap<String, [u8; 16]>,
    pub(super) content_uid: HashMap<[u8; 16], String>,
    /// Messages delivered into new/ that no listing has shown yet.
    pub(super) pending_deliveries: usize,
    /// Sessions logged in right now (between +OK to the login and sending QUIT or dropping).
    pub(super) holders: HashSet<u64>,
    /// Sessions that were logged in at the same time as another session of
    /// the account: what they see may be changed under them, so their
    /// listing is not compared with the model and their findings are notes.
    pub(super) shared: HashSet<u64>,
    /// Sessions that sent QUIT and wait for its answer (the server may still be in UPDATE).
    pub(super) quitting: HashSet<u64>,
    /// How many sessions that held the maildrop have let it go with the
    /// server possibly still at work for them (QUIT answered, session failed;
    /// not a drop after an answered command). A login whose window
    /// (credentials sent to +OK read) saw this change may have been read by
    /// the server while such a session was still changing the maildrop.
    pub(super) ended: u64,
    /// Unique-ids listed by sessions that overlapped another session: on a
    /// server that does not lock, damage to them may be what the overlap did.
    pub(super) contested: HashSet<String>,
    /// Logins that overlapped another session of this maildrop.
    pub(super) overlapping: u64,
    /// Sessions that sent their credentials and have no answer yet.
    pub(super) logging_in: HashSet<u64>,
    /// Findings of sessions that ended while a login was being answered:
    /// judged once those logins are answered, and not judged if one of them
    /// got the maildrop (its reading may have disturbed the ending session,
    /// on a server that does not lock).
    pub(super) parked: Vec<Parked>,
    /// Findings of overlapping sessions, and damage to contested unique-ids, by kind.
    pub(super) overlap_damage: BTreeMap<&'static str, u64>,
    /// The first of them, for the report.
    pub(super) overlap_example: Option<(f64, String)>,
    /// When a session of this run last held the maildrop or got QUIT answered.
    pub(super) last_held: Option<Instant>,
    /// A stale lock was reported and no login has succeeded since.
    pub(super) stale_reported: bool,
}

impl Model {
    /// A finding that follows from sessions overlapping on this maildrop.
    pub(super) fn overlap_damage(&mut self, kind: &'static str, at: f64, detail: &str) {
        *self.overlap_damage.entry(kind).or_default() += 1;
        self.overlap_example
            .get_or_insert_with(|| (at, format!("[{kind}] {detail}")));
    }

    /// Login `id` was answered; `opened` says it got the maildrop on a
    /// server not known to lock. Returns the parked findings that are now
    /// judged, and whether any turned out to follow from an overlap with it.
    pub(super) fn login_answered(
        &mut self,
        id: u64,
        opened: bool,
        at: f64,
    ) -> (Vec<(&'static str, String)>, u64) {
        self.logging_in.remove(&id);
        let mut judged = Vec::new();
        let mut overlapped = 0;
        for mut p in std::mem::take(&mut self.parked) {
            if !p.waiting.remove(&id) {
                self.parked.push(p);
            } else if opened {
                self.contested
                    .extend(p.listing.iter().map(|(_, u)| u.clone()));
                for (kind, detail) in &p.found {
                    self.overlap_damage(kind, at, detail);
                }
                overlapped += p.found.len() as u64;
            } else if p.waiting.is_empty() {
                judged.extend(p.found);
            } else {
                self.parked.push(p);
            }
        }
        (judged, overlapped)
    }

    /// Session `id` no longer holds the maildrop: QUIT answered, connection
    /// dropped, or the session failed. `settled` says the server has nothing
    /// left to do for it (a drop after an answered command); otherwise it may
    /// have changed the maildrop until just now (UPDATE before the answer to
    /// QUIT, a command that timed out). Its listing becomes contested if it
    /// overlapped another session; done under the same lock as the removal,
    /// so no later login can judge a listing in between.
    pub(super) fn leave(&mut self, id: u64, listing: &[(usize, String)], settled: bool) {
        let held = self.holders.remove(&id) | self.quitting.remove(&id);
        if held && !settled {
            self.ended += 1;
        }
        if self.shared.contains(&id) {
            self.contested
                .extend(listing.iter().map(|(_, u)| u.clone()));
        }
        self.last_held = Some(Instant::now());
    }
}

pub(super) struct Parked {
    /// The logins still to be answered.
    pub(super) waiting: HashSet<u64>,
    pub(super) listing: Vec<(usize, String)>,
    pub(super) found: Vec<(&'static str, String)>,
}

pub(super) struct AccountState {
    pub(super) account: Account,
    pub(super) model: Mutex<Model>,
    /// Sessions opened on this account (counted as `Run::sessions` is).
    pub(super) sessions: AtomicU64,
    /// Where to top the mailbox up (our own Maildir), with the marker to update.
    pub(super) maildir: Option<(PathBuf, bool)>,
    /// Deletions may be committed (we seeded the account or it is disposable).
    pub(super) can_commit: bool,
    /// Below this many messages sessions stop deleting (and top up when they can).
    pub(super) floor: usize,
    /// How many messages the run seeded, if it did.
    pub(super) seeded: Option<usize>,
}
