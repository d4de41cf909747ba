//! Problems found in scenario files, rendered the same way whether the YAML parser
//! or our own checks found them: `file:line:col`, the source line, a caret, a hint.

use crate::outcome::SourcePos;
use std::fmt;

#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub pos: SourcePos,
    pub message: String,
    pub hint: Option<String>,
    /// Pre-rendered text when the YAML parser already produced a snippet.
    rendered: Option<String>,
}

impl Diagnostic {
    pub fn new(pos: SourcePos, message: impl Into<String>) -> Self {
        Diagnostic {
            pos,
            message: message.into(),
            hint: None,
            rendered: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Wraps a serde-saphyr error; it knows the position and renders its own snippet.
    pub fn from_yaml(file: &std::path::Path, err: &serde_saphyr::Error) -> Self {
        let (line, column) = err
            .location()
            .map(|l| (l.line() as u32, l.column() as u32))
            .unwrap_or((1, 1));
        let pos = SourcePos {
            file: file.to_path_buf(),
            line,
            column,
        };
        if let Some(message) = budget_message(err) {
            // Said in words (serde-saphyr would print `Nodes { nodes: 250001 }`);
            // the snippet comes from the file's text like our own diagnostics.
            return Diagnostic::new(pos, message);
        }
        let name = file.display().to_string();
        let rendered = err.render_with_options(serde_saphyr::render_options! {
            source_name: Some(name.as_str()),
        });
        let message = first_line_message(&rendered);
        Diagnostic {
            pos,
            message,
            hint: None,
            rendered: Some(rendered),
        }
    }

    /// Renders with a source snippet taken from `source` (the file's text).
    pub fn render(&self, source: Option<&str>) -> String {
        let mut out = String::new();
        match &self.rendered {
            Some(r) => {
                out.push_str(r.trim_end());
                out.push('\n');
            }
            None => {
                out.push_str(&format!("error: {}\n --> {}\n", self.message, self.pos));
                if let Some(src) = source {
                    out.push_str(&snippet(src, self.pos.line, self.pos.column));
                }
            }
        }
        if let Some(h) = &self.hint {
            out.push_str(&format!("  = hint: {h}\n"));
        }
        out
    }
}

/// A YAML size limit the file went past, in words with the limit, or None for
/// any other error.
fn budget_message(mut err: &serde_saphyr::Error) -> Option<String> {
    use serde_saphyr::budget::BudgetBreach as B;
    use serde_saphyr::Error as E;
    while let E::WithSnippet { error, .. } | E::AliasError { error, .. } = err {
        err = error;
    }
    let E::Budget { breach, .. } = err else {
        return None;
    };
    let limits = serde_saphyr::Budget::default();
    let what = match breach {
        B::Nodes { .. } => format!(
            "more than {} YAML values (lists, maps and scalars)",
            limits.max_nodes
        ),
        B::Events { .. } => format!("more than {} YAML parser events", limits.max_events),
        B::Depth { .. } => format!("nesting deeper than {} levels", limits.max_depth),
        B::Documents { .. } => format!("more than {} YAML documents", limits.max_documents),
        B::ScalarBytes { .. } => format!(
            "more than {} octets of text in its values",
            limits.max_total_scalar_bytes
        ),
        B::Aliases { .. }
        | B::Anchors { .. }
        | B::AliasAnchorRatio { .. }
        | B::MergeKeys { .. } => "too many YAML anchors, aliases or merge keys".to_string(),
        B::InputBytes { .. } => "more input than the YAML reader accepts".to_string(),
        other => format!("more than the YAML reader accepts ({other:?})"),
    };
    Some(format!(
        "the file is too large to be a scenario: it has {what}, the limit the loader sets against runaway input; split it into several scenario files"
    ))
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pos, self.message)
    }
}

/// The message of a rendered serde-saphyr error without its `line X column Y:` prefix.
fn first_line_message(rendered: &str) -> String {
    let first = rendered.lines().next().unwrap_or("").trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    match first.find(": ") {
        Some(i) if first.starts_with("line ") => first[i + 2..].to_string(),
        _ => first.to_string(),
    }
}

/// Up to two lines of context and a caret under `column` of `line`.
pub fn snippet(source: &str, line: u32, column: u32) -> String {
    let lines: Vec<&str> = source.lines().collect();
    if line == 0 || line as usize > lines.len() {
        return String::new();
    }
    let first = line.saturating_sub(2).max(1);
    let width = line.to_string().len();
    let mut out = format!("{:width$} |\n", "");
    for n in first..=line {
        out.push_str(&format!("{n:>width$} | {}\n", lines[n as usize - 1]));
    }
    let caret_pad: String = lines[line as usize - 1]
        .chars()
        .take(column.saturating_sub(1) as usize)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    out.push_str(&format!("{:width$} | {caret_pad}^\n", ""));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_points_at_the_column() {
        let s = snippet("a: 1\nsteps:\n  - send: X\n", 3, 5);
        assert!(s.contains("3 |   - send: X"), "{s}");
        assert!(s.ends_with("  |     ^\n"), "{s:?}");
    }

    #[test]
    fn yaml_errors_keep_position_and_message() {
        let err = serde_saphyr::from_str::<Vec<u32>>("- 1\n- x\n").unwrap_err();
        let d = Diagnostic::from_yaml(std::path::Path::new("f.yaml"), &err);
        assert_eq!((d.pos.line, d.pos.column), (2, 3));
        assert!(!d.message.starts_with("line"), "{}", d.message);
        assert!(d.render(None).contains("f.yaml:2:3"), "{}", d.render(None));
    }
}
