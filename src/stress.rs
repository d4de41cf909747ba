//! `pop3spec stress`: many concurrent clients doing random valid POP3 work for
//! a bounded time, checked against a model of each mailbox.
//!
//! The model of an account is the set of unique-ids (UIDL) that exist. Only a
//! QUIT answered `+OK` removes the messages its session marked; a dropped
//! connection, RSET or a session that never reaches QUIT removes nothing. Every
//! session lists UIDL right after logging in and compares the listing with the
//! model, which reveals lost messages (gone without a committed deletion),
//! deleted messages that come back, and unique-ids that change. RETR bodies
//! are hashed, so a unique-id that moves to other content (or content that
//! moves to another unique-id) is caught too. Two sessions logged in to one
//! maildrop at the same time are reported when the server has shown that it
//! locks maildrops (an `[IN-USE]` refusal); `[IN-USE]` refusals are expected.
//!
//! Without `--host` the reference server is started in-process with a few
//! accounts, each seeded with messages and topped up while the run lasts.
//! Against `--host` the accounts are `--user` (and `--user2`), or the
//! `--accounts` that `--user-template` (and `--user2-template`) name; each
//! one with a Maildir (`--maildir-template` for the templated ones) or a
//! `--seed-command` is seeded, and only those have deletions committed.
//!
//! On a server that does not lock maildrops, sessions of one account overlap.
//! A session overlaps another if it logged in while the other held the
//! maildrop, or while the other's QUIT was being answered or its last answer
//! came (the server reads the maildrop while it answers the credentials, and
//! the other may have been in UPDATE then); a session that ends while logins
//! are being answered is judged once they are. Overlapping sessions are not
//! judged one by one: what they see go wrong (a listed message that another
//! session's QUIT removed, a QUIT whose UPDATE another session disturbed), and
//! damage later found to messages they listed, is one violation per maildrop,
//! `sessions-overlapped` (the missing lock of RFC 1939 §4), if anything went
//! wrong at all; overlaps alone are a note. Damage to messages no overlapping
//! session listed is reported as itself. On a server that locks (it refused a
//! login with `[IN-USE]`), each overlap is a `lock` violation and damage is
//! reported as itself. Logins refused with `[IN-USE]` for more than 3 s while
//! no session of the run holds the maildrop are a stale lock.
//!
//! A session that cannot be opened at all (connection refused or timed out,
//! no greeting in time) is an availability problem, counted and shown apart
//! from the invariant violations; errors inside a logged-in session
//! (timeouts, malformed or missing responses) are violations.

use crate::app::{EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE};
use crate::cli::{AccountTemplates, ServerArgs};
use crate::runner::connection::{Body, BodyEnd, Connection, ReadEvent};
use crate::runner::seed::{Seeder, MARKER};
use crate::runner::target::{Account, OpenError, Target};
use md5::{Digest, Md5};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Upper bounds, so a typo cannot start an hour-long run or exhaust file descriptors.
pub const MAX_CLIENTS: usize = 1000;
pub const MAX_DURATION: Duration = Duration::from_secs(600);
pub const EXIT_CODES: &str = "\
Exit codes:
  0  no invariant was violated
  1  at least one violation (lost or resurrected message, changed UIDL, two sessions in one locked maildrop, overlapping sessions that saw their maildrop change, ...)
  2  bad command line (e.g. --clients above 1000 or --duration above 600s)
  3  the target could not be reached at all";
/// How long logins may be refused with [IN-USE] while no session of the run
/// holds the maildrop before the lock is judged stale.
const STALE_LOCK: Duration = Duration::from_secs(3);
/// Violations kept with their details (all are counted).
const KEPT_VIOLATIONS: usize = 200;

#[derive(Debug, clap::Args)]
#[command(
    mut_arg("user_template", |a| a
        .help("Test accounts against --host: `{job}` becomes 1 to --accounts (e.g. 'stress{job}'); every one logs in with --pass")
        .long_help(None)),
    mut_arg("user2_template", |a| a
        .help("More test accounts, numbered as --user-template's (e.g. 'other{job}'); every one logs in with --pass2")
        .long_help(None)),
    mut_arg("maildir_template", |a| a
        .help("Maildir of each templated account, seeded as --maildir is: `{user}` becomes its name, `{job}` its number (e.g. '/srv/mail/{user}/Maildir')")
        .long_help(None)),
)]
pub struct StressArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub templates: AccountTemplates,
    /// Concurrent clients (1 to 1000)
    #[arg(
        long,
        short = 'c',
        env = "POP3SPEC_STRESS_CLIENTS",
        default_value_t = 8
    )]
    pub clients: usize,
    /// How long to run, e.g. 30s or 2m (at most 600s)
    #[arg(long, short = 'd', env = "POP3SPEC_STRESS_DURATION", default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Messages seeded into each account (bundled server, or --maildir/--seed-command)
    #[arg(long, env = "POP3SPEC_STRESS_MESSAGES", default_value_t = 20)]
    pub messages: usize,
    /// Accounts: made on the bundled reference server, or against --host the numbers 1 to N that `{job}` takes in the templates [default: half the clients, at least 1: two clients per maildrop on average, competing for its lock]
    #[arg(long, env = "POP3SPEC_STRESS_ACCOUNTS")]
    pub accounts: Option<usize>,
    /// Seed of the random choices (printed at the start, so a run can be repeated)
    #[arg(long, env = "POP3SPEC_STRESS_SEED")]
    pub seed: Option<u64>,
    /// Write the result (throughput, latencies, violations) as JSON here
    #[arg(long, env = "POP3SPEC_STRESS_JSON", value_name = "FILE")]
    pub json: Option<PathBuf>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    crate::scenario::parse_duration(s)
}

/// A broken invariant.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Violation {
    pub kind: &'static str,
    pub account: String,
    pub detail: String,
    /// Seconds since the start of the run.
    pub at: f64,
}

/// The expected state of one mailbox.
#[derive(Default)]
struct Model {
    /// Unique-ids that exist.
    exists: BTreeSet<String>,
    /// Deleted by a QUIT answered +OK: must never come back.
    gone: HashSet<String>,
    /// Marked by a session whose QUIT is in flight (session id -> uids).
    pending: HashMap<u64, Vec<String>>,
    /// Marked by a QUIT that got no clear answer: either state is fine.
    uncertain: HashSet<String>,
    /// Already reported lost (so each is reported once).
    lost: HashSet<String>,
    uid_content: HashMap<String, [u8; 16]>,
    content_uid: HashMap<[u8; 16], String>,
    /// Messages delivered into new/ that no listing has shown yet.
    pending_deliveries: usize,
    /// Sessions logged in right now (between +OK to the login and sending QUIT or dropping).
    holders: HashSet<u64>,
    /// Sessions that were logged in at the same time as another session of
    /// the account: what they see may be changed under them, so their
    /// listing is not compared with the model and their findings are notes.
    shared: HashSet<u64>,
    /// Sessions that sent QUIT and wait for its answer (the server may still be in UPDATE).
    quitting: HashSet<u64>,
    /// How many sessions that held the maildrop have let it go with the
    /// server possibly still at work for them (QUIT answered, session failed;
    /// not a drop after an answered command). A login whose window
    /// (credentials sent to +OK read) saw this change may have been read by
    /// the server while such a session was still changing the maildrop.
    ended: u64,
    /// Unique-ids listed by sessions that overlapped another session: on a
    /// server that does not lock, damage to them may be what the overlap did.
    contested: HashSet<String>,
    /// Logins that overlapped another session of this maildrop.
    overlapping: u64,
    /// Sessions that sent their credentials and have no answer yet.
    logging_in: HashSet<u64>,
    /// Findings of sessions that ended while a login was being answered:
    /// judged once those logins are answered, and not judged if one of them
    /// got the maildrop (its reading may have disturbed the ending session,
    /// on a server that does not lock).
    parked: Vec<Parked>,
    /// Findings of overlapping sessions, and damage to contested unique-ids, by kind.
    overlap_damage: BTreeMap<&'static str, u64>,
    /// The first of them, for the report.
    overlap_example: Option<(f64, String)>,
    /// When a session of this run last held the maildrop or got QUIT answered.
    last_held: Option<Instant>,
    /// A stale lock was reported and no login has succeeded since.
    stale_reported: bool,
}

struct Parked {
    /// The logins still to be answered.
    waiting: HashSet<u64>,
    listing: Vec<(usize, String)>,
    found: Vec<(&'static str, String)>,
}

struct AccountState {
    account: Account,
    model: Mutex<Model>,
    /// Sessions opened on this account (counted as `Run::sessions` is).
    sessions: AtomicU64,
    /// Where to top the mailbox up (our own Maildir), with the marker to update.
    maildir: Option<(PathBuf, bool)>,
    /// Deletions may be committed (we seeded the account or it is disposable).
    can_commit: bool,
    /// Below this many messages sessions stop deleting (and top up when they can).
    floor: usize,
    /// How many messages the run seeded, if it did.
    seeded: Option<usize>,
}

/// Log-linear latency histogram in microseconds (64 sub-buckets per power of two).
#[derive(Clone)]
struct Histogram {
    counts: Vec<u64>,
    max: u64,
    n: u64,
}

impl Histogram {
    fn new() -> Self {
        Histogram {
            counts: vec![0; 64 * 40],
            max: 0,
            n: 0,
        }
    }
    fn index(v: u64) -> usize {
        if v < 64 {
            return v as usize;
        }
        let exp = 63 - v.leading_zeros() as usize; // >= 6
        let sub = (v >> (exp - 6)) as usize & 63;
        ((exp - 5) * 64 + sub).min(64 * 40 - 1)
    }
    fn lower(i: usize) -> u64 {
        if i < 64 {
            return i as u64;
        }
        let exp = i / 64 + 5;
        ((64 + (i % 64)) as u64) << (exp - 6)
    }
    fn record(&mut self, us: u64) {
        self.counts[Self::index(us)] += 1;
        self.max = self.max.max(us);
        self.n += 1;
    }
    fn merge(&mut self, o: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&o.counts) {
            *a += b;
        }
        self.max = self.max.max(o.max);
        self.n += o.n;
    }
    fn percentile(&self, p: f64) -> u64 {
        let want = ((self.n as f64) * p).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= want {
                return Self::lower(i).min(self.max);
            }
        }
        self.max
    }
}

type Latencies = BTreeMap<&'static str, Histogram>;

struct Run {
    target: Target,
    accounts: Vec<AccountState>,
    start: Instant,
    deadline: Instant,
    next_session: AtomicU64,
    sessions: AtomicU64,
    commands: AtomicU64,
    in_use: AtomicU64,
    refused: AtomicU64,
    drops: AtomicU64,
    /// Findings of sessions that shared a maildrop with another (not judged).
    shared_notes: AtomicU64,
    /// Damage to unique-ids that overlapping sessions listed: reported as
    /// itself on a server that locks, as the overlap on one that does not.
    contested_damage: Mutex<Vec<Violation>>,
    /// Sessions that could not be opened (connect or greeting failed): availability, not an invariant.
    open_errors: AtomicU64,
    first_open_error: Mutex<Option<String>>,
    overlaps: Mutex<Vec<Violation>>,
    violation_count: AtomicUsize,
    violations: Mutex<Vec<Violation>>,
    kinds: Mutex<BTreeMap<&'static str, usize>>,
}

impl Run {
    fn violation(&self, kind: &'static str, account: &str, detail: String) {
        self.record(self.found(kind, account, detail));
    }
    /// A finding stamped with the time it was made.
    fn found(&self, kind: &'static str, account: &str, detail: String) -> Violation {
        Violation {
            kind,
            account: account.to_string(),
            detail,
            at: self.start.elapsed().as_secs_f64(),
        }
    }
    fn record(&self, v: Violation) {
        self.violation_count.fetch_add(1, Ordering::Relaxed);
        *self.kinds.lock().unwrap().entry(v.kind).or_default() += 1;
        let mut kept = self.violations.lock().unwrap();
        if kept.len() < KEPT_VIOLATIONS {
            kept.push(v);
        }
    }
}

impl Model {
    /// A finding that follows from sessions overlapping on this maildrop.
    fn overlap_damage(&mut self, kind: &'static str, at: f64, detail: &str) {
        *self.overlap_damage.entry(kind).or_default() += 1;
        self.overlap_example
            .get_or_insert_with(|| (at, format!("[{kind}] {detail}")));
    }

    /// Login `id` was answered; `opened` says it got the maildrop on a
    /// server not known to lock. Returns the parked findings that are now
    /// judged, and whether any turned out to follow from an overlap with it.
    fn login_answered(
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
    fn leave(&mut self, id: u64, listing: &[(usize, String)], settled: bool) {
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

/// Small deterministic generator (SplitMix64): no dependency, repeatable with --seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// The result of a run, as printed and written with --json.
#[derive(Debug, serde::Serialize)]
pub struct Summary {
    pub target: String,
    pub clients: usize,
    pub accounts: usize,
    pub seed: u64,
    pub seconds: f64,
    pub sessions: u64,
    /// Sessions per account (user name -> sessions; they add up to `sessions`).
    pub account_sessions: BTreeMap<String, u64>,
    pub commands: u64,
    pub sessions_per_second: f64,
    pub commands_per_second: f64,
    pub in_use_refusals: u64,
    pub other_login_refusals: u64,
    pub dropped_connections: u64,
    /// Sessions that could not be opened (connect refused or timed out, no greeting).
    pub open_errors: u64,
    pub first_open_error: Option<String>,
    /// Findings of sessions that shared a maildrop with another session (not
    /// judged one by one; on a server that does not lock they make up the
    /// `sessions-overlapped` violation).
    pub shared_session_findings: u64,
    /// Logins that overlapped another session of their maildrop.
    pub overlapping_logins: u64,
    pub server_locks: bool,
    /// command -> [count, p50, p90, p99, max] in microseconds
    pub latency_us: BTreeMap<String, [u64; 5]>,
    pub violation_count: usize,
    pub violation_kinds: BTreeMap<String, usize>,
    pub violations: Vec<Violation>,
}

pub async fn stress(args: StressArgs) -> u8 {
    if args.clients == 0 || args.clients > MAX_CLIENTS {
        return usage(&format!("--clients must be 1 to {MAX_CLIENTS}"));
    }
    if args.duration > MAX_DURATION || args.duration.is_zero() {
        return usage("--duration must be above 0 and at most 600s");
    }
    if args.messages == 0 || args.messages > 10_000 {
        return usage("--messages must be 1 to 10000");
    }
    if args.accounts.is_some_and(|a| a == 0 || a > 1000) {
        return usage("--accounts must be 1 to 1000");
    }
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64
    });
    let t = &args.templates;
    let templated = t.user_template.is_some() || t.user2_template.is_some();
    if args.server.host.is_none() {
        if templated || t.maildir_template.is_some() {
            return usage("--user-template, --user2-template and --maildir-template name accounts on --host; without --host stress makes its own accounts on the bundled reference server (--accounts says how many)");
        }
    } else if args.accounts.is_some() && !templated {
        return usage("--accounts against --host is how many accounts --user-template (or --user2-template) names; without a template stress uses --user (and --user2)");
    }
    let mut server = None;
    let (target, accounts) = if args.server.host.is_some() {
        let numbers = if templated {
            args.accounts
                .unwrap_or_else(|| default_accounts(args.clients))
        } else {
            1
        };
        let targets =
            match crate::app::host_targets(&args.server, &args.templates, numbers, Vec::new()) {
                Ok(t) => t,
                Err(e) => return usage(&e),
            };
        let target = targets[0].clone();
        if target.account.is_none() {
            return usage("stress needs an account: pass --user and --pass (and --user2/--pass2 for a second one), or --user-template and --pass for several");
        }
        let accounts = match external_accounts(&targets, &args) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_FAILED;
            }
        };
        (target, accounts)
    } else {
        match start_bundled(&args, seed).await {
            Ok((s, root, t, a)) => {
                server = Some((s, root));
                (t, a)
            }
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_FAILED;
            }
        }
    };
    if let Err(e) = target.probe().await {
        eprintln!("error: {e}\nnothing was run: check --host/--port (and --tls), and that the server is up.");
        return EXIT_UNREACHABLE;
    }
    // Baseline: what each mailbox holds before the clients start.
    for acct in &accounts {
        match baseline(&target, acct).await {
            Ok(uids) => acct.model.lock().unwrap().exists = uids,
            Err((code, e)) => {
                eprintln!("error: account {}: {e}", acct.account.user);
                return code;
            }
        }
    }
    let quiet_label = target.label.clone();
    let run = Arc::new(Run {
        target,
        accounts,
        start: Instant::now(),
        deadline: Instant::now() + args.duration,
        next_session: AtomicU64::new(1),
        sessions: AtomicU64::new(0),
        commands: AtomicU64::new(0),
        in_use: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        drops: AtomicU64::new(0),
        shared_notes: AtomicU64::new(0),
        contested_damage: Mutex::new(Vec::new()),
        open_errors: AtomicU64::new(0),
        first_open_error: Mutex::new(None),
        overlaps: Mutex::new(Vec::new()),
        violation_count: AtomicUsize::new(0),
        violations: Mutex::new(Vec::new()),
        kinds: Mutex::new(BTreeMap::new()),
    });
    println!(
        "pop3spec stress: {} client(s) for {:?} against {}, {} account(s), seed {seed}",
        args.clients,
        args.duration,
        quiet_label,
        run.accounts.len()
    );
    let progress = {
        use std::io::IsTerminal;
        std::io::stdout()
            .is_terminal()
            .then(|| tokio::spawn(progress(run.clone())))
    };
    let mut tasks = Vec::new();
    for c in 0..args.clients {
        let run = run.clone();
        let rng = Rng(seed ^ (c as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
        tasks.push(tokio::spawn(client(run, rng)));
    }
    let mut lat = Latencies::new();
    for t in tasks {
        match t.await {
            Ok(l) => {
                for (k, h) in l {
                    lat.entry(k).or_insert_with(Histogram::new).merge(&h);
                }
            }
            Err(e) => run.violation("harness", "-", format!("a client task failed: {e}")),
        }
    }
    let elapsed = run.start.elapsed().as_secs_f64();
    if let Some(p) = progress {
        p.abort();
        println!();
    }
    if let Some((s, _root)) = server {
        let _ = tokio::time::timeout(Duration::from_secs(5), s.shutdown()).await;
    }
    let summary = summarise(&run, &args, seed, elapsed, &lat);
    print!("{}", render(&summary));
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&summary).unwrap_or_default() + "\n";
        if let Err(e) = crate::app::write_file(path, &text) {
            eprintln!("error: {e}");
            return EXIT_FAILED;
        }
    }
    if summary.violation_count > 0 {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

fn usage(message: &str) -> u8 {
    eprintln!("error: {message}");
    EXIT_USAGE
}

/// Accounts when --accounts is not given: half the clients, so each maildrop
/// has two clients competing for its lock on average. Measured against the
/// reference server (BENCHMARKS.md), 16 clients on 8 accounts reach the
/// sessions/s of 16 accounts with more of the logins contended; on fewer
/// accounts the lock holds the run back (1 account: under 40% of them).
fn default_accounts(clients: usize) -> usize {
    (clients / 2).max(1)
}

fn summarise(run: &Run, args: &StressArgs, seed: u64, elapsed: f64, lat: &Latencies) -> Summary {
    let server_locks = run.in_use.load(Ordering::Relaxed) > 0;
    let overlaps = std::mem::take(&mut *run.overlaps.lock().unwrap());
    let contested = std::mem::take(&mut *run.contested_damage.lock().unwrap());
    // Every login has been answered by now; should a parked finding remain,
    // it is judged.
    for acct in &run.accounts {
        let parked = std::mem::take(&mut acct.model.lock().unwrap().parked);
        for (kind, detail) in parked.into_iter().flat_map(|p| p.found) {
            run.violation(kind, &acct.account.user, detail);
        }
    }
    if server_locks {
        // A server that locks: every overlap is a lock violation, and damage
        // to what overlapping sessions listed is reported as itself.
        for v in overlaps.into_iter().chain(contested) {
            run.record(v);
        }
    } else {
        if !overlaps.is_empty() {
            println!(
                "note: {} time(s) two sessions held one maildrop at once; the server never refused a login with [IN-USE], so it is not judged to lock maildrops",
                overlaps.len()
            );
        }
        // A server that does not lock: what overlapping sessions saw change
        // under them, and damage to what they listed, is one finding per
        // maildrop, the missing lock, not mailbox damage of its own.
        for acct in &run.accounts {
            let m = acct.model.lock().unwrap();
            if m.overlapping == 0 || m.overlap_damage.is_empty() {
                continue;
            }
            let (at, example) = m.overlap_example.clone().unwrap_or_default();
            let count: u64 = m.overlap_damage.values().sum();
            let kinds: Vec<String> = m
                .overlap_damage
                .iter()
                .map(|(k, n)| format!("{k}: {n}"))
                .collect();
            run.record(Violation {
                kind: "sessions-overlapped",
                account: acct.account.user.clone(),
                detail: format!(
                    "{} login(s) overlapped another session of this maildrop (the server never refused one with [IN-USE]; RFC 1939 §4 locks the maildrop exclusively) and {count} finding(s) followed from it ({}), counted here and not as damage of their own; the first: {example}",
                    m.overlapping,
                    kinds.join(", ")
                ),
                at,
            });
        }
    }
    let sessions = run.sessions.load(Ordering::Relaxed);
    let commands = run.commands.load(Ordering::Relaxed);
    Summary {
        target: run.target.label.clone(),
        clients: args.clients,
        accounts: run.accounts.len(),
        seed,
        seconds: elapsed,
        sessions,
        account_sessions: run
            .accounts
            .iter()
            .map(|a| (a.account.user.clone(), a.sessions.load(Ordering::Relaxed)))
            .collect(),
        commands,
        sessions_per_second: sessions as f64 / elapsed,
        commands_per_second: commands as f64 / elapsed,
        in_use_refusals: run.in_use.load(Ordering::Relaxed),
        other_login_refusals: run.refused.load(Ordering::Relaxed),
        dropped_connections: run.drops.load(Ordering::Relaxed),
        open_errors: run.open_errors.load(Ordering::Relaxed),
        first_open_error: run.first_open_error.lock().unwrap().clone(),
        shared_session_findings: run.shared_notes.load(Ordering::Relaxed),
        overlapping_logins: run
            .accounts
            .iter()
            .map(|a| a.model.lock().unwrap().overlapping)
            .sum(),
        server_locks,
        latency_us: lat
            .iter()
            .map(|(k, h)| {
                (
                    k.to_string(),
                    [
                        h.n,
                        h.percentile(0.5),
                        h.percentile(0.9),
                        h.percentile(0.99),
                        h.max,
                    ],
                )
            })
            .collect(),
        violation_count: run.violation_count.load(Ordering::Relaxed),
        violation_kinds: run
            .kinds
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
        violations: run.violations.lock().unwrap().clone(),
    }
}

pub fn render(s: &Summary) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "throughput: {:.0} commands/s, {:.0} sessions/s ({} commands, {} sessions in {:.2} s)",
        s.commands_per_second, s.sessions_per_second, s.commands, s.sessions, s.seconds
    );
    if s.account_sessions.len() > 1 {
        let fewest = s.account_sessions.iter().min_by_key(|(_, n)| **n);
        let most = s.account_sessions.values().max().copied().unwrap_or(0);
        if let Some((user, least)) = fewest {
            let _ = writeln!(
                out,
                "sessions per account: {least} ({user}) to {most} over {} accounts",
                s.account_sessions.len()
            );
        }
    }
    let _ = writeln!(
        out,
        "logins refused with [IN-USE]: {} (expected), otherwise: {}; connections dropped on purpose: {}",
        s.in_use_refusals, s.other_login_refusals, s.dropped_connections
    );
    if s.open_errors > 0 {
        let _ = writeln!(
            out,
            "warning: {} session(s) could not be opened (not counted as violations), first: {}",
            s.open_errors,
            s.first_open_error.as_deref().unwrap_or("")
        );
    }
    if s.shared_session_findings > 0 {
        let _ = writeln!(
            out,
            "note: {} finding(s) in sessions that shared their maildrop with another session were not judged one by one{}",
            s.shared_session_findings,
            if s.server_locks {
                ""
            } else {
                " (they are counted in the sessions-overlapped violation)"
            }
        );
    }
    let _ = writeln!(
        out,
        "latency (ms)  {:>9} {:>8} {:>8} {:>8} {:>8}",
        "count", "p50", "p90", "p99", "max"
    );
    let ms = |us: u64| us as f64 / 1000.0;
    for (k, [n, p50, p90, p99, max]) in &s.latency_us {
        let _ = writeln!(
            out,
            "  {k:<11} {n:>9} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
            ms(*p50),
            ms(*p90),
            ms(*p99),
            ms(*max)
        );
    }
    for v in &s.violations {
        let _ = writeln!(
            out,
            "VIOLATION [{}] {} at {:.2}s: {}",
            v.kind, v.account, v.at, v.detail
        );
    }
    if s.violation_count > s.violations.len() {
        let _ = writeln!(
            out,
            "... {} more violation(s) not shown",
            s.violation_count - s.violations.len()
        );
    }
    let kinds: Vec<String> = s
        .violation_kinds
        .iter()
        .map(|(k, n)| format!("{k}: {n}"))
        .collect();
    let _ = writeln!(
        out,
        "violations: {}{}",
        s.violation_count,
        if kinds.is_empty() {
            String::new()
        } else {
            format!(" ({})", kinds.join(", "))
        }
    );
    out
}

async fn progress(run: Arc<Run>) {
    use std::io::Write;
    let total = run.deadline.duration_since(run.start).as_secs();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let t = run.start.elapsed().as_secs_f64();
        let c = run.commands.load(Ordering::Relaxed);
        print!(
            "\r[{:>3.0}s/{total}s] {} sessions, {} commands ({:.0}/s), {} in-use, {} violation(s)   ",
            t,
            run.sessions.load(Ordering::Relaxed),
            c,
            c as f64 / t,
            run.in_use.load(Ordering::Relaxed),
            run.violation_count.load(Ordering::Relaxed)
        );
        let _ = std::io::stdout().flush();
    }
}

/// One stress message: unique content, a dot-leading line (byte-stuffing) and a varying size.
fn message(account: &str, n: u64, rng: &mut Rng) -> String {
    let lines = 3 + rng.below(200);
    let mut body = String::new();
    for i in 0..lines {
        if i == 1 {
            body.push_str(".a line that starts with a dot\r\n");
        }
        body.push_str(&format!("line {i} of stress message {n} for {account}\r\n"));
    }
    format!(
        "From: stress@pop3spec.invalid\r\nTo: {account}@pop3spec.invalid\r\nSubject: stress {n}\r\nMessage-ID: <{n}.{}@pop3spec.invalid>\r\n\r\n{body}",
        rng.next()
    )
}

static DELIVERED: AtomicU64 = AtomicU64::new(0);

/// Delivers one message the Maildir way (tmp/ then rename into new/).
fn deliver(dir: &Path, marker: bool, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(dir)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let name = format!(
        "{}.M{}Q{}P{}.pop3spec-stress",
        now.as_secs(),
        now.subsec_micros(),
        DELIVERED.fetch_add(1, Ordering::Relaxed),
        std::process::id()
    );
    let tmp = dir.join("tmp").join(&name);
    std::fs::write(&tmp, text)?;
    let _ = std::os::unix::fs::chown(&tmp, Some(owner.uid()), Some(owner.gid()));
    if marker {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(dir.join(MARKER))?;
        writeln!(f, "{name}")?;
    }
    std::fs::rename(&tmp, dir.join("new").join(&name))
}

async fn start_bundled(
    args: &StressArgs,
    seed: u64,
) -> Result<
    (
        pop3_reference_server::RunningServer,
        tempfile::TempDir,
        Target,
        Vec<AccountState>,
    ),
    String,
> {
    use pop3_reference_server::{RunningServer, ServerConfig, TlsSetup};
    let root_dir = tempfile::Builder::new()
        .prefix("pop3spec-stress-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary Maildir root: {e}"))?;
    let root = root_dir.path().to_path_buf();
    let count = args
        .accounts
        .unwrap_or_else(|| default_accounts(args.clients));
    let users: Vec<(String, String)> = (1..=count)
        .map(|i| (format!("stress{i}"), format!("pw-{i}-{:x}", seed % 0xffff)))
        .collect();
    let mut rng = Rng(seed);
    let mut accounts = Vec::new();
    for (u, p) in &users {
        let dir = root.join(u);
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(|e| e.to_string())?;
        }
        for n in 0..args.messages {
            deliver(&dir, false, &message(u, n as u64, &mut rng)).map_err(|e| e.to_string())?;
        }
        accounts.push(AccountState {
            account: Account {
                user: u.clone(),
                pass: p.clone(),
            },
            model: Mutex::new(Model::default()),
            sessions: AtomicU64::new(0),
            maildir: Some((dir, false)),
            can_commit: true,
            floor: (args.messages / 2).max(1),
            seeded: Some(args.messages),
        });
    }
    let mut config = ServerConfig::new(&root, users);
    config.tls = TlsSetup::None;
    config.tls_listen = None;
    config.max_connections = MAX_CLIENTS + 24;
    let server = RunningServer::start(config)
        .await
        .map_err(|e| format!("cannot start the bundled reference server: {e}"))?;
    let tls_opts = crate::runner::tls::TlsOptions {
        insecure: true,
        ..Default::default()
    };
    let mut target = Target::new(
        format!("bundled reference server ({})", server.addr()),
        server.addr().ip().to_string(),
        server.addr().port(),
        tls_opts,
    )?;
    target.account = Some(accounts[0].account.clone());
    target.connect_timeout = args.server.connect_timeout;
    target.timeout = args.server.timeout;
    target.max_line = args.server.max_line;
    target.max_body = args.server.max_body;
    Ok((server, root_dir, target, accounts))
}

/// Accounts of an external server (each target's first and second, once
/// each); an account is seeded when it has a seeder (its Maildir, from
/// --maildir, --maildir2 or --maildir-template, or --seed-command).
fn external_accounts(targets: &[Target], args: &StressArgs) -> Result<Vec<AccountState>, String> {
    let mut out: Vec<AccountState> = Vec::new();
    let mut rng = Rng(args.seed.unwrap_or(1));
    let pairs = targets
        .iter()
        .flat_map(|t| [(&t.account, &t.seeder), (&t.account2, &t.seeder2)]);
    for (a, seeder) in pairs {
        let Some(account) = a else { continue };
        if out.iter().any(|o| o.account.user == account.user) {
            continue;
        }
        let mut seeded = false;
        let mut maildir = None;
        if let Some(seeder) = seeder {
            let fixture = tempfile::tempdir().map_err(|e| e.to_string())?;
            for n in 0..args.messages {
                std::fs::write(
                    fixture.path().join(format!("{n:05}.eml")),
                    message(&account.user, n as u64, &mut rng),
                )
                .map_err(|e| e.to_string())?;
            }
            seeder
                .seed(fixture.path(), &account.user)
                .map_err(|e| format!("account {}: {e}", account.user))?;
            seeded = true;
            if let Seeder::Maildir { path, .. } = seeder {
                maildir = Some((path.clone(), true));
            }
        }
        out.push(AccountState {
            account: account.clone(),
            model: Mutex::new(Model::default()),
            sessions: AtomicU64::new(0),
            maildir,
            // Never destroy mail the run did not put there.
            can_commit: seeded || args.server.disposable_account,
            floor: (args.messages / 2).max(1),
            seeded: seeded.then_some(args.messages),
        });
    }
    Ok(out)
}

async fn open(target: &Target) -> Result<(Connection, String), OpenError> {
    let mut quiet = |_: bool, _: String| {};
    let mut conn = target.connect(false).await?;
    let (ok, greeting) = target.read_status(&mut conn, &mut quiet).await?;
    if !ok {
        return Err(OpenError::Protocol(format!(
            "greeting was -ERR: {greeting}"
        )));
    }
    if target.starttls {
        target.upgrade(&mut conn, &mut quiet).await?;
    }
    Ok((conn, greeting))
}

/// The unique-ids of an account before the run; retried while the maildrop is in use.
async fn baseline(target: &Target, acct: &AccountState) -> Result<BTreeSet<String>, (u8, String)> {
    let give_up = Instant::now() + Duration::from_secs(5);
    loop {
        let (mut conn, greeting) = open(target)
            .await
            .map_err(|e| (EXIT_UNREACHABLE, e.message().to_string()))?;
        let mut quiet = |_: bool, _: String| {};
        match target
            .login(&mut conn, &acct.account, &greeting, &mut quiet)
            .await
        {
            Ok(()) => {}
            Err(OpenError::Protocol(m)) if m.contains("[IN-USE]") && Instant::now() < give_up => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Err(e) => {
                let mut m = e.message().to_string();
                if !acct.account.pass.is_empty() {
                    m = m.replace(&acct.account.pass, "***");
                }
                return Err((EXIT_USAGE, format!("cannot log in: {m}")));
            }
        }
        let mut s = Session::new(target, conn);
        let listing = s
            .uidl_all()
            .await
            .map_err(|e| (EXIT_FAILED, format!("UIDL: {e}")))?;
        let _ = s.simple("QUIT").await;
        if acct.seeded.is_some_and(|n| n != listing.len()) {
            // Seeding went wrong or the server hides messages: the run would judge nonsense.
            return Err((
                EXIT_FAILED,
                format!(
                    "seeded {} message(s) but UIDL lists {}",
                    acct.seeded.unwrap_or(0),
                    listing.len()
                ),
            ));
        }
        return Ok(listing.into_iter().map(|(_, u)| u).collect());
    }
}

/// One logged-in connection with timing per command.
struct Session<'a> {
    target: &'a Target,
    conn: Connection,
    lat: Latencies,
    commands: u64,
}

impl<'a> Session<'a> {
    fn new(target: &'a Target, conn: Connection) -> Self {
        Session {
            target,
            conn,
            lat: Latencies::new(),
            commands: 0,
        }
    }

    fn time(&mut self, name: &'static str, since: Instant) {
        let us = since.elapsed().as_micros() as u64;
        self.lat
            .entry(name)
            .or_insert_with(Histogram::new)
            .record(us);
    }

    async fn send(&mut self, line: &str) -> Result<(bool, String), String> {
        let mut quiet = |_: bool, _: String| {};
        self.commands += 1;
        self.conn.compact();
        self.target
            .command(&mut self.conn, line, line, &mut quiet)
            .await
            .map_err(|e| e.message().to_string())
    }

    /// A single-line command, timed under its keyword.
    async fn simple(&mut self, line: &str) -> Result<(bool, String), String> {
        let t = Instant::now();
        let r = self.send(line).await;
        self.time(keyword(line), t);
        r
    }

    /// A multi-line command: Ok(None) on -ERR, else the unstuffed lines.
    async fn multi(&mut self, line: &str) -> Result<Option<Body>, String> {
        let t = Instant::now();
        let (ok, text) = self.send(line).await?;
        if !ok {
            self.time(keyword(line), t);
            let _ = text;
            return Ok(None);
        }
        let deadline = Instant::now() + self.target.timeout;
        let (body, end) = self
            .conn
            .read_body(deadline, self.target.max_body, false)
            .await;
        self.conn.compact();
        match end {
            BodyEnd::Dot { .. } | BodyEnd::BareLf(_) => {}
            BodyEnd::OverLimit => return Err(format!("{line}: response over --max-body")),
            BodyEnd::Broken(ReadEvent::Closed { .. }) => {
                return Err(format!("{line}: connection closed inside the response"))
            }
            BodyEnd::Broken(ReadEvent::TooLong { .. }) => {
                return Err(format!("{line}: over-long line"))
            }
            BodyEnd::Broken(_) => {
                return Err(format!("{line}: no end of the multi-line response in time"))
            }
        }
        self.time(keyword(line), t);
        Ok(Some(body))
    }

    async fn uidl_all(&mut self) -> Result<Vec<(usize, String)>, String> {
        let lines = self
            .multi("UIDL")
            .await?
            .ok_or_else(|| "UIDL was refused".to_string())?;
        let mut out = Vec::new();
        for l in lines.lines() {
            let text = String::from_utf8_lossy(l);
            let mut w = text.split_whitespace();
            match (w.next().and_then(|n| n.parse().ok()), w.next()) {
                (Some(n), Some(u)) => out.push((n, u.to_string())),
                _ => return Err(format!("malformed UIDL line `{text}`")),
            }
        }
        Ok(out)
    }
}

fn keyword(line: &str) -> &'static str {
    match line.split(' ').next().unwrap_or("") {
        "STAT" => "STAT",
        "LIST" => "LIST",
        "UIDL" => "UIDL",
        "RETR" => "RETR",
        "TOP" => "TOP",
        "DELE" => "DELE",
        "RSET" => "RSET",
        "NOOP" => "NOOP",
        "QUIT" => "QUIT",
        _ => "other",
    }
}

async fn client(run: Arc<Run>, mut rng: Rng) -> Latencies {
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
async fn one_session(run: &Run, ai: usize, id: u64, rng: &mut Rng) -> Option<Latencies> {
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

/// Compares a fresh listing with the model and brings the model up to date.
fn check_listing(run: &Run, acct: &AccountState, listing: &[(usize, String)]) {
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

/// Random valid commands in TRANSACTION, then QUIT, RSET+QUIT or a dropped connection.
async fn transaction(
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

/// A unique-id stands for one content, and one content for one unique-id.
fn check_content(run: &Run, acct: &AccountState, uid: &str, lines: &Body) {
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
