//! The values a run produces. Every reporter (console, JUnit, JSON) renders from
//! these and nothing else, so the three can never disagree about a verdict.

use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// Where something stands in a scenario file; 1-based like editors show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourcePos {
    pub file: PathBuf,
    pub line: u32,
    pub column: u32,
}

impl std::fmt::Display for SourcePos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Must,
    Should,
    Info,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "must",
            Level::Should => "should",
            Level::Info => "info",
        }
    }
}

/// The verdict on one scenario. Ordered from best to worst so the worst of several
/// partial verdicts is simply the maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Pass,
    Skipped,
    Info,
    NonStrict,
    Fail,
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Skipped => "skipped",
            Outcome::Info => "info",
            Outcome::NonStrict => "non-strict",
            Outcome::Fail => "fail",
            Outcome::Error => "error",
        }
    }
}

/// Who wrote a transcript line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Bytes the harness sent (`C:`).
    Client,
    /// Bytes the server sent (`S:`).
    Server,
    /// A remark of the harness: connect, close, TLS handshake, timeout (`*`).
    Note,
}

/// One line of a dialogue. `text` is already printable: control characters and
/// invalid UTF-8 are escaped (`\r`, `\x00`, ...) and secrets are redacted, so a
/// reporter may print it as it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TranscriptLine {
    pub session: String,
    pub direction: Direction,
    pub text: String,
    /// Milliseconds since the scenario started.
    pub at_ms: u64,
}

/// Why a scenario did not pass, pointing at the step that decided it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// One sentence: what was wrong.
    pub message: String,
    /// The step that failed, if a step did (a setup error may have none).
    pub step: Option<SourcePos>,
    /// The source lines around `step`, ready to print.
    pub snippet: Option<String>,
    /// The command last sent on the session the step read from (escaped, redacted).
    pub command: Option<String>,
    /// What the step expected, one item per line where it expected lines.
    pub expected: Vec<String>,
    /// What arrived, one item per line.
    pub actual: Vec<String>,
    /// Whether `expected`/`actual` are line lists worth a diff (bodies, exact lines).
    pub diffable: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct ScenarioResult {
    pub id: String,
    pub title: String,
    pub spec: String,
    pub requirement: String,
    pub level: Level,
    pub tags: Vec<String>,
    pub file: PathBuf,
    pub outcome: Outcome,
    /// Set for `skipped` (the unmet requirement) and for graded outcomes.
    pub reason: Option<String>,
    pub finding: Option<Finding>,
    #[serde(serialize_with = "serialize_secs")]
    pub duration: Duration,
    pub transcript: Vec<TranscriptLine>,
    /// Listed in `--known-failures`: a fail/error here does not fail the run.
    pub known_failure: bool,
}

impl ScenarioResult {
    /// Whether this result makes the run exit 1.
    pub fn fails_run(&self) -> bool {
        matches!(self.outcome, Outcome::Fail | Outcome::Error) && !self.known_failure
    }
}

/// Everything a run produced, in the order scenarios were listed.
#[derive(Clone, Debug, Serialize)]
pub struct RunResult {
    /// The target as the user named it, e.g. `127.0.0.1:110` or `bundled reference server`.
    pub target: String,
    pub strict: bool,
    /// Seconds since the Unix epoch at the start of the run.
    pub started_at: u64,
    #[serde(serialize_with = "serialize_secs")]
    pub duration: Duration,
    pub scenarios: Vec<ScenarioResult>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub total: usize,
    pub passed: usize,
    pub non_strict: usize,
    pub info: usize,
    pub skipped: usize,
    pub failed: usize,
    pub errors: usize,
}

impl RunResult {
    pub fn tally(&self) -> Tally {
        tally(&self.scenarios)
    }
}

pub fn tally<'a>(results: impl IntoIterator<Item = &'a ScenarioResult>) -> Tally {
    let mut t = Tally::default();
    for r in results {
        t.total += 1;
        match r.outcome {
            Outcome::Pass => t.passed += 1,
            Outcome::NonStrict => t.non_strict += 1,
            Outcome::Info => t.info += 1,
            Outcome::Skipped => t.skipped += 1,
            Outcome::Fail => t.failed += 1,
            Outcome::Error => t.errors += 1,
        }
    }
    t
}

fn serialize_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}
