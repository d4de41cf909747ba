//! Turns scenarios into results against a target: selection has already
//! happened; `parallel` spreads them over the jobs and applies `--fail-fast`
//! and the known-failures list, `execute` runs one scenario and judges it.

pub mod connection;
pub mod execute;
pub mod parallel;
pub mod seed;
pub mod target;
pub mod tls;

use crate::outcome::{Outcome, ScenarioResult};
use crate::scenario::Scenario;
pub use parallel::{run_parallel, Lane, Worker};
use std::collections::BTreeSet;
pub use target::{Target, TargetInfo};

#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub strict: bool,
    pub fail_fast: bool,
    pub known_failures: BTreeSet<String>,
    /// How long the scenarios may take in all (--deadline).
    pub deadline: Option<std::time::Duration>,
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

/// A scenario that could not be judged, with the reason.
fn errored(s: &Scenario, reason: String) -> ScenarioResult {
    ScenarioResult {
        outcome: Outcome::Error,
        ..skipped(s, &reason)
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
