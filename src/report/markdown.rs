//! A Markdown summary of a run for CI job pages (GitHub's `$GITHUB_STEP_SUMMARY`,
//! or any `--summary-md FILE`): the tally, then the scenarios that failed with
//! their id, RFC section and message, then SHOULD-level deviations and known
//! failures. GitHub renders the file as HTML, so every cell is escaped.

use super::{shown_as_failure, visible};
use crate::outcome::{Outcome, RunResult, ScenarioResult};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Rows per table; GitHub caps a step summary at 1 MiB.
pub const MAX_ROWS: usize = 200;

/// Text safe inside a table cell: HTML specials escaped, `|` escaped, line breaks as `<br>`.
pub fn cell(text: &str) -> String {
    let text = visible(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' => out.push_str("\\|"),
            '`' => out.push_str("&#96;"),
            '\n' => out.push_str("<br>"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

fn message(r: &ScenarioResult) -> String {
    let mut text = r
        .finding
        .as_ref()
        .map(|f| f.message.clone())
        .or_else(|| r.reason.clone())
        .unwrap_or_default();
    if let Some(step) = r.finding.as_ref().and_then(|f| f.step.as_ref()) {
        let _ = write!(text, "\nat {step}");
    }
    text
}

fn table(out: &mut String, heading: &str, rows: &[&ScenarioResult]) {
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n### {heading} ({})\n", rows.len());
    out.push_str("| scenario | spec | level | outcome | message |\n");
    out.push_str("| --- | --- | --- | --- | --- |\n");
    for r in rows.iter().take(MAX_ROWS) {
        let _ = writeln!(
            out,
            "| <code>{}</code> | {} | {} | {} | {} |",
            cell(&r.id),
            cell(&r.spec),
            r.level.as_str(),
            r.outcome.as_str(),
            cell(&message(r))
        );
    }
    if rows.len() > MAX_ROWS {
        let _ = writeln!(
            out,
            "\n… and {} more (see the JUnit or JSON report).",
            rows.len() - MAX_ROWS
        );
    }
}

/// Where the summary goes and whether to append: `--summary-md FILE` (replaced,
/// even with `--no-reports`), else `$GITHUB_STEP_SUMMARY` (appended, as GitHub
/// expects: earlier steps may have written to it) unless `--no-reports`.
pub fn destination(summary_md: Option<&Path>, no_reports: bool) -> Option<(PathBuf, bool)> {
    if let Some(path) = summary_md {
        return Some((path.to_path_buf(), false));
    }
    if no_reports {
        return None;
    }
    std::env::var_os("GITHUB_STEP_SUMMARY")
        .filter(|v| !v.is_empty())
        .map(|v| (PathBuf::from(v), true))
}

/// Writes `text` to `path`, appending when asked.
pub fn write(path: &Path, append: bool, text: &str) -> Result<(), String> {
    if !append {
        return crate::report::write::write_file(path, text);
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    file.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The whole summary.
pub fn render(run: &RunResult) -> String {
    let t = run.tally();
    let failing: Vec<&ScenarioResult> = run
        .scenarios
        .iter()
        .filter(|r| shown_as_failure(r, run.strict) && !r.known_failure)
        .collect();
    let mut out = String::new();
    let verdict = if failing.is_empty() {
        "✅ passed"
    } else {
        "❌ failed"
    };
    let _ = writeln!(out, "## pop3spec: {}\n", cell(&run.target));
    let _ = writeln!(
        out,
        "{verdict}: {} scenario(s) in {:.1} s{}\n",
        t.total,
        run.duration.as_secs_f64(),
        if run.strict { " (strict)" } else { "" }
    );
    out.push_str("| outcome | scenarios |\n| --- | ---: |\n");
    for (name, n) in [
        (Outcome::Pass, t.passed),
        (Outcome::NonStrict, t.non_strict),
        (Outcome::Info, t.info),
        (Outcome::Skipped, t.skipped),
        (Outcome::Fail, t.failed),
        (Outcome::Error, t.errors),
    ] {
        let _ = writeln!(out, "| {} | {n} |", name.as_str());
    }
    let _ = writeln!(out, "| **total** | **{}** |", t.total);
    table(&mut out, "Failing scenarios", &failing);
    if !run.strict {
        let deviations: Vec<&ScenarioResult> = run
            .scenarios
            .iter()
            .filter(|r| r.outcome == Outcome::NonStrict)
            .collect();
        table(
            &mut out,
            "SHOULD-level deviations (fail only with --strict)",
            &deviations,
        );
    }
    let known: Vec<&ScenarioResult> = run
        .scenarios
        .iter()
        .filter(|r| shown_as_failure(r, run.strict) && r.known_failure)
        .collect();
    table(&mut out, "Known failures (do not fail the run)", &known);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn tally_and_failing_scenarios() {
        let text = render(&fixture::run());
        assert!(
            text.starts_with("## pop3spec: 127.0.0.1:110\n\n❌ failed: 8 scenario(s) in 1.2 s\n"),
            "{text}"
        );
        for row in [
            "| pass | 2 |",
            "| non-strict | 1 |",
            "| info | 1 |",
            "| skipped | 1 |",
            "| fail | 2 |",
            "| error | 1 |",
            "| **total** | **8** |",
            "### Failing scenarios (2)",
            "| <code>rfc1939.retr.body</code> | RFC 1939 §7 | must | fail | message body differs<br>at scenarios/rfc1939/retr.yaml:14:7 |",
            "| <code>rfc2449.capa.list</code> | RFC 2449 §5 | must | error | connection refused |",
            "### SHOULD-level deviations (fail only with --strict) (1)",
            "| <code>rfc2449.capa.terminator</code> | RFC 2449 §5 | should | non-strict | status was -ERR<br>at",
            "### Known failures (do not fail the run) (1)",
            "| <code>rfc1939.top.lines</code> |",
        ] {
            assert!(text.contains(row), "{row:?} missing from:\n{text}");
        }
        assert!(
            !text.contains("rfc1939.greeting.ok"),
            "passes are not listed"
        );
    }

    #[test]
    fn strict_moves_deviations_into_failures() {
        let mut run = fixture::run();
        run.strict = true;
        let text = render(&run);
        assert!(text.contains("### Failing scenarios (3)"));
        assert!(!text.contains("SHOULD-level deviations"));
        assert!(text.contains("(strict)"));
    }

    #[test]
    fn passing_run_has_no_failure_table() {
        let mut run = fixture::run();
        run.scenarios
            .retain(|r| r.outcome == Outcome::Pass && !r.known_failure);
        let text = render(&run);
        assert!(text.contains("✅ passed: 1 scenario(s)"));
        assert!(!text.contains("###"));
    }

    #[test]
    fn cells_cannot_break_the_table_or_inject_html() {
        assert_eq!(
            cell("a|b\r\n<script>&`x`\x1b"),
            "a\\|b\\r<br>&lt;script&gt;&amp;&#96;x&#96;\\x1b"
        );
        let mut run = fixture::run();
        run.scenarios[1].finding.as_mut().unwrap().message = "x | y\n<img src=x>".into();
        let text = render(&run);
        let row = text
            .lines()
            .find(|l| l.contains("rfc1939.retr.body"))
            .unwrap();
        assert_eq!(row.matches(" | ").count(), 4, "{row}");
        assert!(!text.contains("<img"));
    }
}
