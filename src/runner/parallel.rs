//! Runs scenarios on several workers at once (`--jobs`). A worker is a target
//! with accounts of its own (account templates, or one bundled server's account
//! pair) or shared with the other workers (one `--user` for all). Scenarios
//! that touch the same account on the same server never overlap, so every
//! scenario sees what it would see in a serial run; scenarios that use no
//! account, and those on accounts of their own, run side by side.

use super::{errored, execute, skipped, RunOptions, Target, TargetInfo};
use crate::outcome::{RunResult, ScenarioResult};
use crate::scenario::{AccountUse, Scenario};
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;

/// One lane of a parallel run.
#[derive(Clone)]
pub struct Worker {
    pub target: Target,
    pub info: TargetInfo,
    /// Servers of its own for some kinds of scenario (the bundled server's
    /// twins; none for other targets).
    pub twins: Vec<Twin>,
}

/// A kind of scenario the bundled server runs on a twin configured for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// Waits for the autologout timer (reads `idle_wait`): a twin with a short
    /// timer, so no other scenario meets it.
    Autologout,
    /// Requires LOGIN-DELAY: a twin that announces and enforces a delay, which
    /// the suite's back-to-back logins could not live with elsewhere.
    LoginDelay,
    /// Tagged `no-plaintext-auth`: about the configuration RFC 5034 §4 wants
    /// by default (no plaintext password mechanism before TLS), a twin set up
    /// that way; the main bundled server allows plaintext logins, as a
    /// compatibility set-up, so the rest of the suite can log in without TLS.
    NoPlaintextAuth,
}

/// The tag of the scenarios that run on the `NoPlaintextAuth` twin.
pub const NO_PLAINTEXT_AUTH_TAG: &str = "no-plaintext-auth";

impl Lane {
    pub const ALL: [Lane; 3] = [Lane::Autologout, Lane::LoginDelay, Lane::NoPlaintextAuth];

    pub fn serves(self, scenario: &Scenario) -> bool {
        match self {
            Lane::Autologout => scenario.uses_autologout(),
            Lane::LoginDelay => scenario.requires.iter().any(|r| {
                r.split_whitespace()
                    .next()
                    .is_some_and(|tag| tag.eq_ignore_ascii_case("LOGIN-DELAY"))
            }),
            Lane::NoPlaintextAuth => scenario.tags.iter().any(|t| t == NO_PLAINTEXT_AUTH_TAG),
        }
    }

    /// The lanes some of `scenarios` need.
    pub fn needed_by(scenarios: &[Scenario]) -> Vec<Lane> {
        Lane::ALL
            .into_iter()
            .filter(|lane| scenarios.iter().any(|s| lane.serves(s)))
            .collect()
    }
}

#[derive(Clone)]
pub struct Twin {
    pub lane: Lane,
    pub target: Target,
    pub info: TargetInfo,
}

impl Worker {
    pub fn new(target: Target, info: TargetInfo) -> Worker {
        Worker {
            target,
            info,
            twins: Vec::new(),
        }
    }

    /// The target for a scenario of `lane`: its twin, or the worker's own.
    fn lane(&self, lane: Option<Lane>) -> (&Target, &TargetInfo) {
        self.twins
            .iter()
            .find(|twin| Some(twin.lane) == lane)
            .map_or((&self.target, &self.info), |twin| {
                (&twin.target, &twin.info)
            })
    }
}

/// Probes the targets at once, answering in their order: a server that makes
/// each probe wait should not make a run of many jobs wait that many times.
pub async fn probe_all(targets: &[Target]) -> Vec<Result<TargetInfo, String>> {
    let tasks: Vec<_> = targets
        .iter()
        .cloned()
        .map(|t| tokio::spawn(async move { t.probe().await }))
        .collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(
            task.await
                .unwrap_or_else(|e| Err(format!("the probe panicked: {e}"))),
        );
    }
    out
}

/// What the scheduler needs of a scenario, worked out once (each reads the
/// scenario's steps).
struct Plan {
    lane: Option<Lane>,
    uses: AccountUse,
}

impl Plan {
    fn of(scenario: &Scenario) -> Plan {
        Plan {
            lane: Lane::ALL.into_iter().find(|lane| lane.serves(scenario)),
            uses: scenario.account_use(),
        }
    }
}

/// The accounts a scenario that uses `uses` would hold on `target`, as
/// `host:port/user` keys.
fn account_keys(uses: AccountUse, target: &Target) -> Vec<String> {
    [
        (uses.first, &target.account),
        (uses.second, &target.account2),
        (uses.long, &target.account_long),
    ]
    .into_iter()
    .filter_map(|(used, account)| {
        let account = account.as_ref().filter(|_| used)?;
        Some(format!("{}:{}/{}", target.host, target.port, account.user))
    })
    .collect()
}

struct Queue {
    /// Indices into the scenario list, in the order they should start.
    pending: VecDeque<usize>,
    /// Accounts a running scenario holds.
    busy: HashSet<String>,
}

struct Shared {
    scenarios: Vec<Scenario>,
    plans: Vec<Plan>,
    queue: Mutex<Queue>,
    /// Signalled whenever a scenario finishes and frees its accounts.
    freed: Notify,
    stop: AtomicBool,
    opts: RunOptions,
    /// When --deadline ends the run.
    ends_at: Option<tokio::time::Instant>,
}

/// Runs `scenarios` over `workers`, reporting each result as it arrives and
/// returning them in the order given. Scenarios with scripted waits start
/// first so they overlap with the quick ones. `--fail-fast` stops the whole
/// run at the first failure.
pub async fn run_parallel(
    scenarios: &[Scenario],
    workers: &[Worker],
    opts: &RunOptions,
    mut on_result: impl FnMut(&ScenarioResult),
) -> RunResult {
    let started = Instant::now();
    let started_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut order: Vec<usize> = (0..scenarios.len()).collect();
    if workers.len() > 1 {
        order.sort_by_cached_key(|&i| std::cmp::Reverse(scenarios[i].scripted_waits()));
    }
    let shared = Arc::new(Shared {
        scenarios: scenarios.to_vec(),
        plans: scenarios.iter().map(Plan::of).collect(),
        queue: Mutex::new(Queue {
            pending: order.into(),
            busy: HashSet::new(),
        }),
        freed: Notify::new(),
        stop: AtomicBool::new(false),
        opts: opts.clone(),
        ends_at: opts.deadline.map(|d| tokio::time::Instant::now() + d),
    });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut tasks = Vec::new();
    for worker in workers {
        let (shared, tx, worker) = (shared.clone(), tx.clone(), worker.clone());
        tasks.push(tokio::spawn(async move {
            work(&shared, &worker, |index, result| {
                let _ = tx.send((index, result));
            })
            .await
        }));
    }
    drop(tx);
    let mut results: Vec<Option<ScenarioResult>> = vec![None; scenarios.len()];
    while let Some((index, result)) = rx.recv().await {
        on_result(&result);
        results[index] = Some(result);
    }
    for task in tasks {
        let _ = task.await;
    }
    RunResult {
        target: workers
            .first()
            .map(|w| w.target.label.clone())
            .unwrap_or_default(),
        strict: opts.strict,
        started_at,
        duration: started.elapsed(),
        scenarios: results
            .into_iter()
            .zip(scenarios)
            .map(|(r, s)| r.unwrap_or_else(|| skipped(s, "not run: the worker running it stopped")))
            .collect(),
    }
}

/// One worker's loop: take the first pending scenario whose accounts are free,
/// run it, free them; wait when every pending scenario needs a busy account.
async fn work(shared: &Shared, worker: &Worker, mut emit: impl FnMut(usize, ScenarioResult)) {
    loop {
        let freed = shared.freed.notified();
        tokio::pin!(freed);
        // Registered before looking, so a release between the look and the
        // wait still wakes this worker.
        freed.as_mut().enable();
        let picked = {
            let mut queue = shared.queue.lock().expect("queue lock");
            if queue.pending.is_empty() {
                return;
            }
            let keys_of = |i: usize| {
                let plan = &shared.plans[i];
                account_keys(plan.uses, worker.lane(plan.lane).0)
            };
            let free = queue
                .pending
                .iter()
                .position(|&i| keys_of(i).iter().all(|k| !queue.busy.contains(k)));
            free.map(|p| {
                let index = queue.pending.remove(p).expect("position is in range");
                let keys = keys_of(index);
                queue.busy.extend(keys.iter().cloned());
                (index, keys)
            })
        };
        let Some((index, keys)) = picked else {
            freed.await;
            continue;
        };
        let scenario = &shared.scenarios[index];
        let past_deadline = shared
            .ends_at
            .is_some_and(|t| tokio::time::Instant::now() >= t);
        let mut result = if shared.stop.load(Ordering::SeqCst) {
            skipped(
                scenario,
                "not run: --fail-fast stopped the run after a failure",
            )
        } else if past_deadline {
            errored(
                scenario,
                format!(
                    "not run: the run's --deadline of {:?} had passed",
                    shared.opts.deadline.unwrap_or_default()
                ),
            )
        } else {
            // Its own task, so a panic in the harness becomes this scenario's
            // error instead of a worker that dies holding its accounts (which
            // would leave the others waiting for them forever).
            let (target, info) = worker.lane(shared.plans[index].lane);
            let (s, t, i, strict) = (
                scenario.clone(),
                target.clone(),
                info.clone(),
                shared.opts.strict,
            );
            let began = Instant::now();
            let task = tokio::spawn(async move { execute::run_scenario(&s, &t, &i, strict).await });
            let abort = task.abort_handle();
            let joined = match shared.ends_at {
                Some(t) => tokio::time::timeout_at(t, task)
                    .await
                    .map_err(|_| abort.abort()),
                None => Ok(task.await),
            };
            match joined {
                Err(()) => ScenarioResult {
                    duration: began.elapsed(),
                    ..errored(
                        scenario,
                        format!(
                            "not finished: the run's --deadline of {:?} passed while it ran, so it was stopped",
                            shared.opts.deadline.unwrap_or_default()
                        ),
                    )
                },
                Ok(Ok(result)) => result,
                Ok(Err(e)) => errored(
                    scenario,
                    format!("the harness failed while running this scenario ({e}); please report it"),
                ),
            }
        };
        {
            let mut queue = shared.queue.lock().expect("queue lock");
            for k in &keys {
                queue.busy.remove(k);
            }
        }
        shared.freed.notify_waiters();
        result.known_failure = shared.opts.known_failures.matches(&result.id);
        if result.fails_run() && shared.opts.fail_fast {
            shared.stop.store(true, Ordering::SeqCst);
        }
        emit(index, result);
    }
}
