//! The report a person reads in a terminal: one line per scenario, then everything
//! needed to understand each failure without rerunning it (the rule, the step, the
//! diff, the end of the dialogue), then the tally.

use super::{shown_as_failure, visible};
use crate::outcome::{Direction, Outcome, RunResult, ScenarioResult, TranscriptLine};
use colored::Color;
use similar::{ChangeTag, TextDiff};
use std::fmt::Write;

/// How to render. The caller resolves `--color`, `NO_COLOR` and whether stdout is a
/// terminal into `color`, so rendering itself is a pure function of its inputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConsoleOptions {
    pub color: bool,
    /// Print the whole transcript of every scenario, passes included.
    pub verbose: bool,
    /// Print only what fails the run, and the summary.
    pub quiet: bool,
    /// Report `non-strict` as a failure.
    pub strict: bool,
}

/// Transcript lines shown under a failure: enough to see the exchange that went
/// wrong without burying the next failure.
const TRANSCRIPT_TAIL: usize = 20;
const WIDTH: usize = 80;
/// Width of the longest label (`requirement: `), so values line up.
const LABEL: usize = 13;

/// `colored`'s own `Display` consults a process-wide decision (tty, environment).
/// The caller has already decided, so the escape is written from the colour's code.
fn paint(text: &str, color: Color, on: bool) -> String {
    if on {
        format!("\x1b[{}m{text}\x1b[0m", color.to_fg_str())
    } else {
        text.to_string()
    }
}

fn mark(r: &ScenarioResult, strict: bool) -> (&'static str, Color) {
    match r.outcome {
        Outcome::Pass => ("✔", Color::Green),
        Outcome::Skipped => ("-", Color::BrightBlack),
        _ if shown_as_failure(r, strict) => ("×", Color::Red),
        Outcome::Info => ("~", Color::Cyan),
        _ => ("~", Color::Yellow),
    }
}

/// One line: mark, outcome word unless it passed, id, duration; the reason of
/// a skip, and of an info result (what the server did instead of the listed
/// behaviour), on one line.
pub fn scenario_line(r: &ScenarioResult, opts: &ConsoleOptions) -> String {
    let (mark, color) = mark(r, opts.strict);
    let mut line = paint(mark, color, opts.color);
    if r.outcome != Outcome::Pass {
        line.push(' ');
        line.push_str(&paint(r.outcome.as_str(), color, opts.color));
    }
    let _ = write!(line, " {} ({} ms)", r.id, r.duration.as_millis());
    if let (Outcome::Skipped | Outcome::Info, Some(reason)) = (r.outcome, &r.reason) {
        let one_line = reason.split_whitespace().collect::<Vec<_>>().join(" ");
        let _ = write!(line, ": {}", visible(&one_line));
    }
    if r.known_failure {
        line.push_str(&paint(" [known failure]", Color::Magenta, opts.color));
    }
    line
}

/// Everything about a fail, error or non-strict result; empty for other outcomes
/// unless `verbose`, which adds the full transcript of every scenario.
pub fn failure_detail(r: &ScenarioResult, opts: &ConsoleOptions) -> String {
    let detailed = matches!(
        r.outcome,
        Outcome::Fail | Outcome::Error | Outcome::NonStrict
    );
    if !detailed && !opts.verbose {
        return String::new();
    }
    let mut out = String::new();
    let (_, color) = mark(r, opts.strict);
    let head = format!("{} — {}", r.id, r.title);
    let _ = writeln!(out, "{}", paint(&head, color, opts.color && detailed));
    if r.known_failure && shown_as_failure(r, opts.strict) {
        let _ = writeln!(out, "  known failure: does not fail the run");
    }
    let finding = r.finding.as_ref().filter(|_| detailed);
    // What went wrong first, then the rule it breaks, then where and how.
    if let Some(f) = finding {
        let _ = writeln!(out, "  {}", visible(&f.message));
    }
    if detailed {
        write_rule(&mut out, r);
    }
    if let Some(f) = finding {
        if let Some(step) = &f.step {
            let _ = writeln!(out, "  at {step}");
        }
        if let Some(snippet) = &f.snippet {
            for l in visible(snippet).lines() {
                let _ = writeln!(out, "      {l}");
            }
        }
        if let Some(command) = &f.command {
            let _ = writeln!(out, "  {:<LABEL$}C: {}", "last sent:", visible(command));
        }
        if f.diffable && f.expected != f.actual {
            out.push_str(&diff(&f.expected, &f.actual, opts.color));
        } else if !(f.expected.is_empty() && f.actual.is_empty()) {
            write_lines(&mut out, "expected:", &f.expected);
            write_lines(&mut out, "actual:", &f.actual);
        }
    }
    let keep = if opts.verbose {
        r.transcript.len()
    } else {
        TRANSCRIPT_TAIL
    };
    let shown = &r.transcript[r.transcript.len().saturating_sub(keep)..];
    if shown.len() < r.transcript.len() {
        let _ = writeln!(
            out,
            "  transcript (last {} of {} lines):",
            shown.len(),
            r.transcript.len()
        );
    } else if !shown.is_empty() {
        let _ = writeln!(out, "  transcript:");
    }
    for l in shown {
        let _ = writeln!(out, "    {}", transcript_line(l));
    }
    out
}

fn write_rule(out: &mut String, r: &ScenarioResult) {
    let spec = format!("{} ({})", r.spec, r.level.as_str());
    let _ = writeln!(out, "  {:<LABEL$}{spec}", "spec:");
    let _ = writeln!(
        out,
        "  {:<LABEL$}{}",
        "requirement:",
        wrap(&r.requirement, 2 + LABEL)
    );
    if let Some(reason) = &r.reason {
        let _ = writeln!(
            out,
            "  {:<LABEL$}{}",
            "reason:",
            wrap(&visible(reason), 2 + LABEL)
        );
    }
}

/// Words of `text` filled to `WIDTH`, continuation lines indented by `indent`.
fn wrap(text: &str, indent: usize) -> String {
    let mut out = String::new();
    let mut col = indent;
    for word in text.split_whitespace() {
        let len = word.chars().count();
        if col > indent && col + 1 + len > WIDTH {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            col = indent;
        } else if col > indent {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += len;
    }
    out
}

fn write_lines(out: &mut String, label: &str, lines: &[String]) {
    match lines {
        [] => {
            let _ = writeln!(out, "  {label:<LABEL$}(nothing)");
        }
        [one] => {
            let _ = writeln!(out, "  {label:<LABEL$}{}", visible(one));
        }
        many => {
            let _ = writeln!(out, "  {label}");
            for l in many {
                let _ = writeln!(out, "    {}", visible(l));
            }
        }
    }
}

/// A unified diff, `-` expected and `+` actual, three lines of context.
fn diff(expected: &[String], actual: &[String], on: bool) -> String {
    let old: Vec<&str> = expected.iter().map(String::as_str).collect();
    let new: Vec<&str> = actual.iter().map(String::as_str).collect();
    let diff = TextDiff::from_slices(&old, &new);
    let mut out = String::from("  diff (- expected, + actual):\n");
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        let _ = writeln!(
            out,
            "    {}",
            paint(&hunk.header().to_string(), Color::Cyan, on)
        );
        for change in hunk.iter_changes() {
            let text = visible(change.value());
            let line = match change.tag() {
                ChangeTag::Delete => paint(&format!("-{text}"), Color::Red, on),
                ChangeTag::Insert => paint(&format!("+{text}"), Color::Green, on),
                ChangeTag::Equal => format!(" {text}"),
            };
            let _ = writeln!(out, "    {line}");
        }
    }
    out
}

/// `C: ...`, `S: ...` or `* ...`, prefixed with the session when there are several.
pub(crate) fn transcript_line(l: &TranscriptLine) -> String {
    let who = match l.direction {
        Direction::Client => "C:",
        Direction::Server => "S:",
        Direction::Note => "*",
    };
    let text = visible(&l.text);
    if l.session == "main" {
        format!("{who} {text}")
    } else {
        format!("[{}] {who} {text}", visible(&l.session))
    }
}

/// The tally, then the known failures: those that failed (named, not counted
/// against the run) and those that pass now, which should leave the list.
pub fn summary(run: &RunResult, opts: &ConsoleOptions) -> String {
    let t = run.tally();
    let line = format!(
        "{} scenarios: {} passed, {} non-strict, {} info, {} skipped, {} failed, {} errors ({:.2} s)",
        t.total,
        t.passed,
        t.non_strict,
        t.info,
        t.skipped,
        t.failed,
        t.errors,
        run.duration.as_secs_f64()
    );
    let failing = run
        .scenarios
        .iter()
        .any(|r| shown_as_failure(r, opts.strict) && !r.known_failure);
    let color = if failing { Color::Red } else { Color::Green };
    let mut out = paint(&line, color, opts.color);
    out.push('\n');
    let (known_failed, known_fixed): (Vec<_>, Vec<_>) = run
        .scenarios
        .iter()
        .filter(|r| r.known_failure && r.outcome != Outcome::Skipped)
        .partition(|r| shown_as_failure(r, opts.strict));
    if !known_failed.is_empty() {
        let ids: Vec<&str> = known_failed.iter().map(|r| r.id.as_str()).collect();
        let _ = writeln!(
            out,
            "known failures that failed (not counted against the run): {}",
            ids.join(", ")
        );
    }
    for r in known_fixed {
        let note = format!(
            "known failure now passes; remove from the known-failures list: {}",
            r.id
        );
        let _ = writeln!(out, "{}", paint(&note, Color::Yellow, opts.color));
    }
    out
}

/// The whole report. Quiet keeps only what fails the run (known failures are named
/// in the summary instead).
pub fn render_run(run: &RunResult, opts: &ConsoleOptions) -> String {
    let mut out = String::new();
    for r in shown(run, opts) {
        let _ = writeln!(out, "{}", scenario_line(r, opts));
    }
    out.push_str(&render_tail(run, opts));
    out
}

/// What follows the per-scenario lines: the failure details and the summary.
/// The CLI prints scenario lines as results arrive, then this.
pub fn render_tail(run: &RunResult, opts: &ConsoleOptions) -> String {
    let mut out = String::new();
    for r in shown(run, opts) {
        let detail = failure_detail(r, opts);
        if !detail.is_empty() {
            out.push('\n');
            out.push_str(&detail);
        }
    }
    if !out.is_empty() || !run.scenarios.is_empty() {
        out.push('\n');
    }
    out.push_str(&summary(run, opts));
    out
}

/// Whether a scenario gets a line: in quiet mode only the ones that fail the run.
pub fn is_shown(r: &ScenarioResult, opts: &ConsoleOptions) -> bool {
    !opts.quiet || (shown_as_failure(r, opts.strict) && !r.known_failure)
}

fn shown<'a>(
    run: &'a RunResult,
    opts: &'a ConsoleOptions,
) -> impl Iterator<Item = &'a ScenarioResult> {
    run.scenarios.iter().filter(move |r| is_shown(r, opts))
}

/// The status line a long run keeps on stderr while stdout is a terminal:
/// `[done/total] failures: F  current: ID`, redrawn in place as each scenario
/// finishes and erased before anything else is printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub total: usize,
    pub done: usize,
    /// Results that fail the run, as the quiet console counts them.
    pub failed: usize,
}

impl Progress {
    /// Goes to the start of the line and clears it.
    pub const ERASE: &'static str = "\r\x1b[K";

    pub fn new(total: usize) -> Self {
        Progress {
            total,
            ..Self::default()
        }
    }

    /// Counts one finished scenario.
    pub fn record(&mut self, r: &ScenarioResult, opts: &ConsoleOptions) {
        self.done += 1;
        if shown_as_failure(r, opts.strict) && !r.known_failure {
            self.failed += 1;
        }
    }

    /// The status line, drawn over the current terminal line, at most `WIDTH`
    /// columns (a long id is cut) so it never wraps on a usual terminal. `current`
    /// is the scenario that just finished; empty before the first one.
    pub fn render(&self, current: &str) -> String {
        let head = format!("[{}/{}] failures: {}", self.done, self.total, self.failed);
        if current.is_empty() {
            return format!("\r{head}\x1b[K");
        }
        let head = format!("{head}  current: ");
        let room = WIDTH.saturating_sub(head.chars().count() + 1);
        let current = visible(current);
        let id: String = if current.chars().count() > room {
            let mut cut: String = current.chars().take(room.saturating_sub(1)).collect();
            cut.push('…');
            cut
        } else {
            current.into_owned()
        };
        format!("\r{head}{id}\x1b[K")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::TranscriptLine;
    use crate::report::fixture;

    const PLAIN: ConsoleOptions = ConsoleOptions {
        color: false,
        verbose: false,
        quiet: false,
        strict: false,
    };

    fn by_id<'a>(run: &'a RunResult, id: &str) -> &'a ScenarioResult {
        run.scenarios.iter().find(|r| r.id == id).unwrap()
    }

    #[test]
    fn lines_carry_mark_outcome_id_and_duration() {
        let run = fixture::run();
        let line = |id| scenario_line(by_id(&run, id), &PLAIN);
        assert_eq!(line("rfc1939.greeting.ok"), "✔ rfc1939.greeting.ok (12 ms)");
        assert_eq!(
            line("rfc1939.retr.body"),
            "× fail rfc1939.retr.body (12 ms)"
        );
        assert_eq!(
            line("rfc2449.capa.list"),
            "× error rfc2449.capa.list (12 ms)"
        );
        assert_eq!(
            line("rfc2449.capa.terminator"),
            "~ non-strict rfc2449.capa.terminator (12 ms)"
        );
        assert_eq!(
            line("rfc2449.capa.impl"),
            "~ info rfc2449.capa.impl (12 ms): IMPLEMENTATION not advertised"
        );
        assert_eq!(
            line("rfc2595.stls.offered"),
            "- skipped rfc2595.stls.offered (0 ms): requires STLS"
        );
        assert_eq!(
            line("rfc1939.top.lines"),
            "× fail rfc1939.top.lines (12 ms) [known failure]"
        );
        let strict = ConsoleOptions {
            strict: true,
            ..PLAIN
        };
        assert!(
            scenario_line(by_id(&run, "rfc2449.capa.terminator"), &strict)
                .starts_with("× non-strict")
        );
    }

    #[test]
    fn colour_codes_only_when_asked() {
        let run = fixture::run();
        let plain = render_run(
            &run,
            &ConsoleOptions {
                verbose: true,
                ..PLAIN
            },
        );
        // Verbose prints the hostile transcript too: its ESC must arrive escaped.
        assert!(!plain.contains('\x1b'), "{plain}");
        assert!(plain.contains("\\x1b[31mred\\x1b[0m"));
        let coloured = render_run(
            &run,
            &ConsoleOptions {
                color: true,
                ..PLAIN
            },
        );
        assert!(coloured.contains("\x1b[32m✔\x1b[0m"));
        assert!(coloured.contains("\x1b[31m×\x1b[0m"));
        assert!(coloured.contains("\x1b[31m-line b\x1b[0m"));
        assert!(coloured.contains("\x1b[32m+line B\x1b[0m"));
    }

    #[test]
    fn diffable_findings_get_a_unified_diff() {
        let run = fixture::run();
        let detail = failure_detail(by_id(&run, "rfc1939.retr.body"), &PLAIN);
        let lines: Vec<&str> = detail.lines().map(str::trim_end).collect();
        let at = lines.iter().position(|l| l.starts_with("    @@")).unwrap();
        assert_eq!(
            &lines[at..at + 5],
            [
                "    @@ -1,3 +1,3 @@",
                "     line a",
                "    -line b",
                "    +line B",
                "     line c"
            ]
        );
        assert!(detail.starts_with("rfc1939.retr.body — title of rfc1939.retr.body\n"));
        assert!(detail.contains("  spec:        RFC 1939 §7 (must)\n"));
        assert!(detail.contains("  at scenarios/rfc1939/retr.yaml:14:7\n        - send: RETR 1\n"));
        assert!(detail.contains("  last sent:   C: RETR 1\n"));
        assert!(detail.contains("    [second] C: NOOP\n"));
        assert!(detail.contains("    S: +OK POP3 ready\n"));
        assert!(!detail.contains("expected:"));
    }

    #[test]
    fn other_findings_list_expected_and_actual() {
        let run = fixture::run();
        let detail = failure_detail(by_id(&run, "rfc2449.capa.terminator"), &PLAIN);
        assert!(
            detail.contains("  expected:    +OK\n  actual:      -ERR no\n"),
            "{detail}"
        );
        assert!(detail.contains("  reason:      should-level requirement not met\n"));
        assert!(!detail.contains("@@"));
    }

    #[test]
    fn requirement_is_wrapped_and_indented() {
        let run = fixture::run();
        let detail = failure_detail(by_id(&run, "rfc1939.retr.body"), &PLAIN);
        let start = detail.find("  requirement: ").unwrap();
        let mut lines = detail[start..].lines();
        let mut block = vec![lines.next().unwrap()];
        block.extend(lines.take_while(|l| l.starts_with(&" ".repeat(15))));
        assert!(block.len() >= 2, "{block:?}");
        assert!(block.iter().all(|l| l.chars().count() <= WIDTH));
        assert!(block[1..].iter().all(|l| !l[15..].starts_with(' ')));
        let words: Vec<&str> = block
            .iter()
            .flat_map(|l| l.split_whitespace())
            .skip(1)
            .collect();
        assert_eq!(
            words.join(" "),
            by_id(&run, "rfc1939.retr.body").requirement
        );
    }

    #[test]
    fn transcript_tail_unless_verbose() {
        let run = fixture::run();
        let mut r = by_id(&run, "rfc1939.retr.body").clone();
        r.transcript = (0..30)
            .map(|i| TranscriptLine {
                session: "main".into(),
                direction: Direction::Client,
                text: format!("NOOP {i}"),
                at_ms: i,
            })
            .collect();
        let tail = failure_detail(&r, &PLAIN);
        assert!(tail.contains("transcript (last 20 of 30 lines):"));
        assert!(
            !tail.contains("C: NOOP 9\n")
                && tail.contains("C: NOOP 10\n")
                && tail.contains("C: NOOP 29\n")
        );
        let full = failure_detail(
            &r,
            &ConsoleOptions {
                verbose: true,
                ..PLAIN
            },
        );
        assert!(full.contains("  transcript:\n    C: NOOP 0\n"));

        let pass = by_id(&run, "rfc1939.greeting.ok");
        assert_eq!(failure_detail(pass, &PLAIN), "");
        let verbose = failure_detail(
            pass,
            &ConsoleOptions {
                verbose: true,
                ..PLAIN
            },
        );
        assert!(verbose.contains(
            "    * connected to 127.0.0.1:110\n    S: +OK POP3 ready\n    C: USER alice\n"
        ));
        assert!(!verbose.contains("requirement:"));
    }

    #[test]
    fn summary_counts_and_known_failures() {
        let run = fixture::run();
        let text = summary(&run, &PLAIN);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "8 scenarios: 2 passed, 1 non-strict, 1 info, 1 skipped, 2 failed, 1 errors (1.23 s)",
                "known failures that failed (not counted against the run): rfc1939.top.lines",
                "known failure now passes; remove from the known-failures list: rfc1939.uidl.unique",
            ]
        );
    }

    #[test]
    fn progress_counts_and_renders_in_place() {
        let run = fixture::run();
        let mut p = Progress::new(run.scenarios.len());
        assert_eq!(p.render(""), "\r[0/8] failures: 0\x1b[K");
        for r in &run.scenarios {
            p.record(r, &PLAIN);
        }
        // fail and error count; the known failure and non-strict do not.
        assert_eq!((p.done, p.failed), (8, 2));
        assert_eq!(
            p.render("rfc1939.retr.body"),
            "\r[8/8] failures: 2  current: rfc1939.retr.body\x1b[K"
        );
        let mut strict = Progress::new(8);
        for r in &run.scenarios {
            strict.record(
                r,
                &ConsoleOptions {
                    strict: true,
                    ..PLAIN
                },
            );
        }
        assert_eq!(strict.failed, 3);
        assert_eq!(Progress::ERASE, "\r\x1b[K");
    }

    #[test]
    fn progress_line_stays_within_the_width() {
        let p = Progress {
            total: 304,
            done: 17,
            failed: 3,
        };
        let long = format!("rfc1939.{}", "x".repeat(100));
        let line = p.render(&long);
        let text = line
            .strip_prefix('\r')
            .and_then(|l| l.strip_suffix("\x1b[K"))
            .unwrap();
        assert!(text.starts_with("[17/304] failures: 3  current: rfc1939.xxx"));
        assert!(text.ends_with('…'));
        assert!(text.chars().count() < WIDTH, "{text}");
        // A hostile id cannot drive the terminal.
        assert_eq!(
            p.render("a\x1bb"),
            "\r[17/304] failures: 3  current: a\\x1bb\x1b[K"
        );
    }

    #[test]
    fn quiet_keeps_failures_and_summary() {
        let run = fixture::run();
        let text = render_run(
            &run,
            &ConsoleOptions {
                quiet: true,
                ..PLAIN
            },
        );
        assert!(text.starts_with(
            "× fail rfc1939.retr.body (12 ms)\n× error rfc2449.capa.list (12 ms)\n\n"
        ));
        assert!(!text.contains("✔") && !text.contains("~ ") && !text.contains("- skipped"));
        assert!(!text.contains("rfc1939.top.lines (12 ms)"));
        assert!(text.ends_with(&summary(&run, &PLAIN)));

        let full = render_run(&run, &PLAIN);
        assert_eq!(full.lines().filter(|l| l.contains(" ms)")).count(), 8);
        assert!(full.contains("\nrfc1939.top.lines — title of rfc1939.top.lines\n  known failure: does not fail the run\n"));
    }
}
