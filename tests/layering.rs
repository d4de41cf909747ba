//! The layering ARCHITECTURE.md states, checked from the source: every
//! `crate::` path (in `use` lines, grouped or not, and inline) and every
//! `super::` path that leaves its top-level module must point to a lower
//! layer. There is no list of exceptions: the six upward imports the check
//! first found were fixed by moving what both sides need down (issue 18), so
//! a new one is fixed the same way rather than allowed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layers from the bottom; a module may use only modules on lower layers
/// (and itself); modules on one layer do not use each other. `""` is the
/// crate root (lib.rs constants).
const LAYERS: &[&[&str]] = &[
    &[""],
    &["calendar", "certificates", "exit", "outcome", "suite"],
    &["scenario"],
    &["runner", "report"],
    &["cli"],
    &["select", "targets"],
    &["bundled", "client", "coverage"],
    &["authoring", "selftest", "stress"],
    &["app"],
];

/// Files that may use the reference server's library: only to start it.
const MAY_START_REFERENCE_SERVER: &[&str] =
    &["src/bundled.rs", "src/selftest.rs", "src/stress/setup.rs"];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The module path of a source file: `src/stress/setup.rs` is
/// `["stress", "setup"]`, `src/stress/mod.rs` is `["stress"]`.
fn module_path(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix("src").unwrap_or(file);
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// Source text without comments (line comments, doc comments and block
/// comments), so that a path named in prose is not taken for an import.
/// String literals are kept as they are: a `//` inside one is not a comment.
fn strip_comments(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'"' {
            let start = i;
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(b.len());
            out.push_str(&text[start..i]);
        } else if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            while i < b.len() && !b[i..].starts_with(b"*/") {
                i += 1;
            }
            i = (i + 2).min(b.len());
        } else {
            let c = text[i..].chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Every path a file names that starts at `crate` or `super`, as segments:
/// `use crate::{a::b, c}` gives `[crate, a, b]` and `[crate, c]`;
/// `use super::super::x` gives `[super, super, x]`.
fn paths(source: &str) -> Vec<Vec<String>> {
    let text = strip_comments(source);
    let tokens = tokenize(&text);
    let mut found = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i].as_str();
        let starts_path = (t == "crate" || t == "super")
            && tokens.get(i + 1).map(String::as_str) == Some("::")
            && (i == 0 || tokens[i - 1] != "::");
        if starts_path {
            i = expand(&tokens, i, Vec::new(), &mut found);
        } else {
            i += 1;
        }
    }
    found
}

/// Reads one path from `tokens[i]`, with `{...}` groups expanded, onto
/// `prefix`; returns the index after it.
fn expand(
    tokens: &[String],
    mut i: usize,
    mut prefix: Vec<String>,
    found: &mut Vec<Vec<String>>,
) -> usize {
    loop {
        match tokens.get(i).map(String::as_str) {
            Some("{") => {
                i += 1;
                loop {
                    match tokens.get(i).map(String::as_str) {
                        Some("}") => return i + 1,
                        Some(",") => i += 1,
                        None => return i,
                        _ => i = expand(tokens, i, prefix.clone(), found),
                    }
                }
            }
            Some(t) if t.chars().all(|c| c.is_alphanumeric() || c == '_') || t == "*" => {
                prefix.push(t.to_string());
                i += 1;
                if tokens.get(i).map(String::as_str) == Some("::") {
                    i += 1;
                    continue;
                }
                // `as name` renames the last segment; the path is what counts.
                if tokens.get(i).map(String::as_str) == Some("as") {
                    i += 2;
                }
                found.push(prefix);
                return i;
            }
            _ => {
                if !prefix.is_empty() {
                    found.push(prefix);
                }
                return i;
            }
        }
    }
}

/// Identifiers, `::`, and single punctuation characters; string literals are
/// one token each, so their insides are never read as paths.
fn tokenize(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push("::".into());
            i += 2;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            tokens.push("\"\"".into());
        } else {
            tokens.push(c.to_string());
            i += 1;
        }
    }
    tokens
}

/// The top-level module a path points to, seen from the file at `module`:
/// `None` for a path inside the file's own top-level module.
fn target(module: &[String], path: &[String]) -> Option<String> {
    let mut base: Vec<String> = module.to_vec();
    let mut rest = path;
    if rest.first().map(String::as_str) == Some("crate") {
        base.clear();
        rest = &rest[1..];
    } else {
        while rest.first().map(String::as_str) == Some("super") {
            base.pop();
            rest = &rest[1..];
        }
    }
    let top = match base.first() {
        Some(m) => m.clone(),
        // At the crate root: the next segment names the module, or the path
        // is a root item (a lib.rs constant) when it has no more segments.
        None if rest.len() > 1 => rest[0].clone(),
        None => String::new(),
    };
    (module.first() != Some(&top)).then_some(top)
}

/// (file, imported module) for every import that points upward.
fn upward(files: &[(PathBuf, String)]) -> BTreeSet<(String, String)> {
    let mut bad = BTreeSet::new();
    for (file, source) in files {
        let module = module_path(file);
        let Some(own) = module.first().and_then(|m| layer(m)) else {
            continue;
        };
        for p in paths(source) {
            if let Some(t) = target(&module, &p) {
                let theirs = layer(&t).unwrap_or_else(|| {
                    panic!("{}: module `{t}` is in no layer of LAYERS", file.display())
                });
                if theirs >= own {
                    bad.insert((file.display().to_string(), t));
                }
            }
        }
    }
    bad
}

fn sources() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        for e in std::fs::read_dir(dir).expect("src is readable") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).expect("source is UTF-8");
                out.push((p, text));
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::set_current_dir(root).expect("crate root");
    let mut out = Vec::new();
    walk(Path::new("src"), &mut out);
    // Binaries sit on top of everything and are not layered.
    out.retain(|(p, _)| {
        !p.starts_with("src/bin") && p != Path::new("src/main.rs") && p != Path::new("src/lib.rs")
    });
    out.sort();
    out
}

#[test]
fn no_module_imports_from_a_layer_above_it() {
    let mut files = sources();
    assert!(files.len() > 50, "found only {} source files", files.len());
    let found = upward(&files);
    assert!(
        found.is_empty(),
        "imports from a higher layer (see ARCHITECTURE.md, Layers): {found:?}"
    );
    // The same walk over the same files sees an upward import once one is
    // there, so the empty result above is not the walk reading nothing.
    let (_, outcome) = files
        .iter_mut()
        .find(|(f, _)| f == Path::new("src/outcome.rs"))
        .expect("src/outcome.rs is among the sources");
    outcome.push_str("\nfn upward() { crate::app::run(); }\n");
    assert_eq!(
        upward(&files),
        BTreeSet::from([("src/outcome.rs".to_string(), "app".to_string())])
    );
}

#[test]
fn every_top_level_module_has_a_layer() {
    let mut modules = BTreeMap::new();
    for (file, _) in sources() {
        if let Some(m) = module_path(&file).first() {
            modules.insert(m.clone(), file);
        }
    }
    for (m, file) in modules {
        assert!(
            layer(&m).is_some(),
            "{}: module `{m}` has no layer",
            file.display()
        );
    }
}

#[test]
fn only_the_starters_use_the_reference_server() {
    for (file, source) in sources() {
        let text = strip_comments(&source);
        if text.contains("pop3_reference_server") {
            assert!(
                MAY_START_REFERENCE_SERVER.iter().any(|f| Path::new(f) == file),
                "{} uses the reference server's library; the harness may only start it (bundled, selftest, stress set-up)",
                file.display()
            );
        }
    }
}

/// The checker itself, on sources written here: it must see grouped,
/// nested, renamed and `super::` imports and inline paths, and ignore paths
/// in comments and strings.
#[test]
fn the_checker_catches_upward_imports_in_every_form() {
    let sample = |file: &str, text: &str| upward(&[(PathBuf::from(file), text.to_string())]);
    let pair = |f: &str, m: &str| BTreeSet::from([(f.to_string(), m.to_string())]);
    // Grouped, nested and renamed.
    assert_eq!(
        sample(
            "src/report/junit.rs",
            "use crate::{outcome::X, app::{a, b::{c as d}}};"
        ),
        pair("src/report/junit.rs", "app")
    );
    // Same layer counts as upward.
    assert_eq!(
        sample(
            "src/runner/mbox.rs",
            "use crate::report::junit::civil_date;"
        ),
        pair("src/runner/mbox.rs", "report")
    );
    // Inline paths, not only `use` lines.
    assert_eq!(
        sample("src/scenario/load.rs", "fn f() { crate::stress::run(); }"),
        pair("src/scenario/load.rs", "stress")
    );
    // `super::` that climbs out of the file's top-level module.
    assert_eq!(
        sample(
            "src/runner/execute/send.rs",
            "use super::super::super::cli::Args;"
        ),
        pair("src/runner/execute/send.rs", "cli")
    );
    assert_eq!(
        sample("src/outcome.rs", "use super::{DEFAULT_MAX_LINE, app::run};"),
        pair("src/outcome.rs", "app")
    );
    // Inside one module, downward, in comments and in strings: nothing.
    let clean = "use super::super::connection::Line;\nuse super::{Executor, StepResult};\n\
                 use crate::{outcome::Direction, scenario::Step};\n\
                 // use crate::app::x;\n/// crate::cli::Y\n/* crate::app::z */\n\
                 const S: &str = \"crate::app::w\";";
    assert!(sample("src/runner/execute/send.rs", clean).is_empty());
}
