//! Turns scenarios into results against one target: selection has already
//! happened; this applies skips, strictness and the known-failures list, and
//! reports each result as soon as it is known.

pub mod connection;
pub mod execute;
pub mod seed;
pub mod target;
pub mod tls;

use crate::outcome::{Outcome, RunResult, ScenarioResult};
use crate::scenario::Scenario;
use std::collections::BTreeSet;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
pub use target::{Target, TargetInfo};

#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub strict: bool,
    pub fail_fast: bool,
    pub known_failures: BTreeSet<String>,
}

pub async fn run(
    scenarios: &[Scenario],
    target: &Target,
    info: &TargetInfo,
    opts: &RunOptions,
    mut on_result: impl FnMut(&ScenarioResult),
) -> RunResult {
    let started = Instant::now();
    let started_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut results = Vec::with_capacity(scenarios.len());
    let mut stop = false;
    for scenario in scenarios {
        let mut result = if stop {
            skipped(
                scenario,
                "not run: --fail-fast stopped the run after a failure",
            )
        } else {
            execute::run_scenario(scenario, target, info, opts.strict).await
        };
        result.known_failure = opts.known_failures.contains(&result.id);
        if result.fails_run() && opts.fail_fast {
            stop = true;
        }
        on_result(&result);
        results.push(result);
    }
    RunResult {
        target: target.label.clone(),
        strict: opts.strict,
        started_at,
        duration: started.elapsed(),
        scenarios: results,
    }
}

/// Runs the scenarios split over several equivalent targets (each its own
/// server and account, so shards cannot disturb each other), reporting each
/// result as it arrives and returning them in the order given. `--fail-fast`
/// stops each shard at its first failure.
pub async fn run_sharded(
    scenarios: &[Scenario],
    shards: &[(Target, TargetInfo)],
    opts: &RunOptions,
    mut on_result: impl FnMut(&ScenarioResult),
) -> RunResult {
    if let [(target, info)] = shards {
        return run(scenarios, target, info, opts, on_result).await;
    }
    let started = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut tasks = Vec::new();
    for (i, (target, info)) in shards.iter().enumerate() {
        let mine: Vec<Scenario> = scenarios
            .iter()
            .skip(i)
            .step_by(shards.len())
            .cloned()
            .collect();
        let (target, info, opts, tx) = (target.clone(), info.clone(), opts.clone(), tx.clone());
        tasks.push(tokio::spawn(async move {
            run(&mine, &target, &info, &opts, |r| {
                let _ = tx.send(r.clone());
            })
            .await
        }));
    }
    drop(tx);
    let mut by_id = std::collections::HashMap::new();
    while let Some(r) = rx.recv().await {
        on_result(&r);
        by_id.insert(r.id.clone(), r);
    }
    let mut first = None;
    for t in tasks {
        if let Ok(run) = t.await {
            first.get_or_insert(run.started_at);
        }
    }
    RunResult {
        target: shards[0].0.label.clone(),
        strict: opts.strict,
        started_at: first.unwrap_or(0),
        duration: started.elapsed(),
        scenarios: scenarios
            .iter()
            .filter_map(|s| by_id.remove(&s.id))
            .collect(),
    }
}

fn skipped(s: &Scenario, reason: &str) -> ScenarioResult {
    ScenarioResult {
        id: s.id.clone(),
        title: s.title.clone(),
        spec: s.spec.clone(),
        requirement: s.requirement.clone(),
        level: s.level,
        tags: s.tags.clone(),
        file: s.file.clone(),
        outcome: Outcome::Skipped,
        reason: Some(reason.to_string()),
        finding: None,
        duration: Default::default(),
        transcript: Vec::new(),
        known_failure: false,
    }
}

/// Reads a known-failures file: one scenario id per line, `#` comments.
pub fn read_known_failures(path: &std::path::Path) -> Result<BTreeSet<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read --known-failures {}: {e}", path.display()))?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(|l| l.split_whitespace().next().unwrap_or(l).to_string())
        .collect())
}
