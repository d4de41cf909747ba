//! What a run found: latency histograms, the summary (also written as JSON)
//! and its text rendering.

use super::{Run, Violation};
use crate::cli::StressArgs;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

/// Log-linear latency histogram in microseconds (64 sub-buckets per power of two).
#[derive(Clone)]
pub(super) struct Histogram {
    pub(super) counts: Vec<u64>,
    pub(super) max: u64,
    pub(super) n: u64,
}

impl Histogram {
    pub(super) fn new() -> Self {
        Histogram {
            counts: vec![0; 64 * 40],
            max: 0,
            n: 0,
        }
    }
    pub(super) fn index(v: u64) -> usize {
        if v < 64 {
            return v as usize;
        }
        let exp = 63 - v.leading_zeros() as usize; // >= 6
        let sub = (v >> (exp - 6)) as usize & 63;
        ((exp - 5) * 64 + sub).min(64 * 40 - 1)
    }
    pub(super) fn lower(i: usize) -> u64 {
        if i < 64 {
            return i as u64;
        }
        let exp = i / 64 + 5;
        ((64 + (i % 64)) as u64) << (exp - 6)
    }
    pub(super) fn record(&mut self, us: u64) {
        self.counts[Self::index(us)] += 1;
        self.max = self.max.max(us);
        self.n += 1;
    }
    pub(super) fn merge(&mut self, o: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&o.counts) {
            *a += b;
        }
        self.max = self.max.max(o.max);
        self.n += o.n;
    }
    pub(super) fn percentile(&self, p: f64) -> u64 {
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

pub(super) type Latencies = BTreeMap<&'static str, Histogram>;

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

pub(super) fn summarise(
    run: &Run,
    args: &StressArgs,
    seed: u64,
    elapsed: f64,
    lat: &Latencies,
) -> Summary {
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
