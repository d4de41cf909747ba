//! GitHub Actions workflow commands: one `::error` (or `::warning`) line per
//! scenario that failed, pointing at the failing step, so the failure shows on the
//! scenario file in the pull request's diff and in the run's annotation list.
//!
//! Escaping follows the Actions toolkit (`@actions/core`, command.ts): in the
//! message `%`, CR and LF are percent-encoded; in properties also `:` and `,`.
//! Server-supplied text is made visible first, so no control byte reaches the log.

use super::{shown_as_failure, visible};
use crate::outcome::{Outcome, RunResult, ScenarioResult};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// `--annotations`: whether the run prints workflow commands (the choice
/// lives with the reporter, which `cli` offers as a flag).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Annotations {
    /// GitHub Actions workflow commands (::error file=...,line=...::message)
    Github,
    /// No annotations
    None,
}

/// The escaping of a command's message (everything after the second `::`).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// The escaping of a property value (`file=`, `title=`, ...).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `error` for what fails the run, `warning` for non-strict results and for known
/// failures; None for everything else.
fn severity(r: &ScenarioResult, strict: bool) -> Option<&'static str> {
    if shown_as_failure(r, strict) {
        Some(if r.known_failure { "warning" } else { "error" })
    } else if r.outcome == Outcome::NonStrict {
        Some("warning")
    } else {
        None
    }
}

/// A scenario file as GitHub expects it, relative to the repository root
/// with `/` separators, or None when the file is not in the repository (the
/// bundled suite, a folder elsewhere): GitHub cannot place those, so the
/// annotation goes without `file=` and names the place in its message.
/// Relative paths are taken as they are when there is no root to check.
fn workspace_path(path: &Path, root: Option<&Path>) -> Option<String> {
    let shown: PathBuf = match root {
        None if path.is_absolute() => return None,
        None => path.to_path_buf(),
        Some(root) => {
            let absolute = if path.is_absolute() {
                path.to_path_buf()
            } else {
                std::env::current_dir().ok()?.join(path)
            };
            let resolve = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
            resolve(&absolute)
                .strip_prefix(resolve(root))
                .ok()?
                .to_path_buf()
        }
    };
    Some(shown.to_string_lossy().replace('\\', "/"))
}

/// The repository the annotations are placed in: `$GITHUB_WORKSPACE` in
/// GitHub Actions, else the Git work tree around the working directory, else
/// the working directory.
fn repository_root() -> Option<PathBuf> {
    if let Some(ws) = std::env::var_os("GITHUB_WORKSPACE").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(ws));
    }
    let cwd = std::env::current_dir().ok()?;
    let git = cwd.ancestors().find(|d| d.join(".git").exists());
    Some(git.unwrap_or(&cwd).to_path_buf())
}

/// Whether to print annotations: as `--annotations` says, else when running in
/// GitHub Actions (`GITHUB_ACTIONS=true`).
pub fn enabled(choice: Option<Annotations>) -> bool {
    match choice {
        Some(Annotations::Github) => true,
        Some(Annotations::None) => false,
        None => std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"),
    }
}

/// Every annotation of the run, one per line, placed in the repository.
pub fn render(run: &RunResult) -> String {
    render_relative_to(run, repository_root().as_deref())
}

pub fn render_relative_to(run: &RunResult, base: Option<&Path>) -> String {
    let mut out = String::new();
    for r in &run.scenarios {
        let Some(kind) = severity(r, run.strict) else {
            continue;
        };
        let step = r.finding.as_ref().and_then(|f| f.step.as_ref());
        let file = step.map_or(r.file.as_path(), |s| s.file.as_path());
        let placed = workspace_path(file, base);
        let mut props = String::new();
        if let Some(path) = &placed {
            let _ = write!(props, "file={},", escape_property(path));
            if let Some(s) = step {
                let _ = write!(props, "line={},col={},", s.line, s.column);
            }
        }
        let _ = write!(props, "title={}", escape_property(&r.id));
        let what = r
            .finding
            .as_ref()
            .map(|f| f.message.as_str())
            .or(r.reason.as_deref())
            .unwrap_or(r.outcome.as_str());
        let mut message = String::new();
        if r.known_failure {
            message.push_str("known failure (does not fail the run): ");
        }
        let _ = write!(
            message,
            "{}: {}\n{} ({}): {}",
            r.outcome.as_str(),
            visible(what),
            r.spec,
            r.level.as_str(),
            r.requirement
        );
        if placed.is_none() {
            let at = match step {
                Some(s) => format!("{}:{}:{}", file.display(), s.line, s.column),
                None => file.display().to_string(),
            };
            let _ = write!(message, "\nscenario file: {at}");
        }
        let _ = writeln!(out, "::{kind} {props}::{}", escape_data(&visible(&message)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn escaping_follows_the_actions_toolkit() {
        assert_eq!(escape_data("50% a\r\nb: c, d"), "50%25 a%0D%0Ab: c, d");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }

    #[test]
    fn one_command_per_failure_pointing_at_the_step() {
        let run = fixture::run();
        let text = render_relative_to(&run, None);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(
            lines[0],
            "::error file=scenarios/rfc1939/retr.yaml,line=14,col=7,title=rfc1939.retr.body::\
             fail: message body differs%0ARFC 1939 §7 (must): The server must do the thing \
             this scenario checks, stated at enough length that the console has to wrap it \
             over more than one line."
        );
        // An error without a step points at the file only.
        assert!(lines[1].starts_with(
            "::error file=scenarios/rfc2449.capa.list.yaml,title=rfc2449.capa.list::error: connection refused%0A"
        ));
        assert!(lines[2].starts_with(
            "::warning file=scenarios/rfc1939/retr.yaml,line=14,col=7,title=rfc2449.capa.terminator::non-strict: status was -ERR"
        ));
        assert!(lines[3].starts_with(
            "::warning file=scenarios/rfc1939/retr.yaml,line=14,col=7,title=rfc1939.top.lines::known failure (does not fail the run): fail: TOP"
        ));
    }

    #[test]
    fn files_outside_the_repository_get_no_file_property() {
        let mut run = fixture::run();
        let f = run.scenarios[1].finding.as_mut().unwrap();
        f.step.as_mut().unwrap().file = "/opt/pop3spec/scenarios/rfc1939/retr.yaml".into();
        let text = render_relative_to(&run, Some(Path::new("/home/ci/server")));
        let first = text.lines().next().unwrap();
        assert!(
            first.starts_with("::error title=rfc1939.retr.body::fail: message body differs%0ARFC 1939 §7 (must): "),
            "{first}"
        );
        assert!(
            first.ends_with("%0Ascenario file: /opt/pop3spec/scenarios/rfc1939/retr.yaml:14:7"),
            "{first}"
        );
        let inside = render_relative_to(&run, Some(Path::new("/opt/pop3spec")));
        assert!(
            inside.starts_with(
                "::error file=scenarios/rfc1939/retr.yaml,line=14,col=7,title=rfc1939.retr.body::"
            ),
            "{inside}"
        );
    }

    #[test]
    fn strict_makes_non_strict_an_error() {
        let mut run = fixture::run();
        run.strict = true;
        let text = render_relative_to(&run, None);
        assert!(text.contains("::error file=scenarios/rfc1939/retr.yaml,line=14,col=7,title=rfc2449.capa.terminator::"));
    }

    #[test]
    fn hostile_text_cannot_start_another_command() {
        let mut run = fixture::run();
        let f = run.scenarios[1].finding.as_mut().unwrap();
        f.message = "bad\n::add-mask::x\r\n%0A \x1b[31m".into();
        f.step.as_mut().unwrap().file = "/ws/scen,arios/a:b.yaml".into();
        run.scenarios[1].id = "x,y:z".into();
        let text = render_relative_to(&run, Some(Path::new("/ws")));
        let first = text.lines().next().unwrap();
        assert_eq!(
            text.lines().filter(|l| l.starts_with("::")).count(),
            text.lines().count()
        );
        assert!(
            first.starts_with(
                "::error file=scen%2Carios/a%3Ab.yaml,line=14,col=7,title=x%2Cy%3Az::fail: bad%0A::add-mask::x\\r%0A%250A \\x1b[31m%0A"
            ),
            "{first}"
        );
    }
}
