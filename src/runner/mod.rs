//! Turns scenarios into results against a target: selection has already
//! happened; `parallel` spreads them over the jobs and applies `--fail-fast`
//! and the known-failures list, `execute` runs one scenario and judges it.

pub mod connection;
pub mod deliver;
pub mod execute;
pub mod legacy_tls;
pub mod mbox;
pub mod parallel;
pub mod seed;
pub mod target;
pub mod tls;
pub mod verify;

use crate::outcome::{Outcome, ScenarioResult};
use crate::scenario::Scenario;
pub use parallel::{run_parallel, Lane, Worker};
pub use target::{Target, TargetInfo};

#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub strict: bool,
    pub fail_fast: bool,
    pub known_failures: KnownFailures,
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

/// The --known-failures list: ids or id globs (ids are hierarchical, so
/// `rfc2449.capa.*` names a family), each with the line it came from.
#[derive(Clone, Debug, Default)]
pub struct KnownFailures {
    /// Where the list came from, for messages.
    pub file: String,
    /// (entry, line number).
    pub entries: Vec<(String, usize)>,
    globs: Option<globset::GlobSet>,
}

impl KnownFailures {
    pub fn matches(&self, id: &str) -> bool {
        self.globs.as_ref().is_some_and(|g| g.is_match(id))
    }

    /// Entries that match none of `ids` (a typo, or an id that is gone), as
    /// `FILE:LINE: \`entry\``.
    pub fn unused<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let Some(globs) = &self.globs else {
            return Vec::new();
        };
        let mut used = vec![false; self.entries.len()];
        for id in ids {
            for i in globs.matches(id) {
                used[i] = true;
            }
        }
        self.entries
            .iter()
            .zip(used)
            .filter(|(_, used)| !used)
            .map(|((entry, line), _)| format!("{}:{line}: `{entry}`", self.file))
            .collect()
    }
}

/// Reads a known-failures file: one scenario id or id glob per line, `#` comments.
pub fn read_known_failures(path: &std::path::Path) -> Result<KnownFailures, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read --known-failures {}: {e}", path.display()))?;
    let file = path.display().to_string();
    let mut entries = Vec::new();
    let mut builder = globset::GlobSetBuilder::new();
    for (n, line) in text.lines().enumerate() {
        let Some(entry) = line
            .split('#')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .next()
        else {
            continue;
        };
        let glob = globset::GlobBuilder::new(entry)
            .literal_separator(false)
            .build()
            .map_err(|e| format!("{file}:{}: `{entry}` is not a valid id glob: {e}", n + 1))?;
        builder.add(glob);
        entries.push((entry.to_string(), n + 1));
    }
    let globs = builder.build().map_err(|e| format!("{file}: {e}"))?;
    Ok(KnownFailures {
        file,
        entries,
        globs: Some(globs),
    })
}
