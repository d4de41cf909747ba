//! The scenario loader never panics, whatever a file holds: random text and
//! mutations of the suite's own files (bytes flipped, lines dropped, cut short,
//! YAML punctuation spliced in). Each rejected file gets at least one problem
//! with a position inside the file.

use pop3spec::scenario::load::{load_str, Problem};
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The suite's files, read once for all cases.
fn suite_files() -> &'static [(PathBuf, String)] {
    static FILES: std::sync::OnceLock<Vec<(PathBuf, String)>> = std::sync::OnceLock::new();
    FILES.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let files = pop3spec::scenario::load::discover(&[root]).unwrap();
        files
            .into_iter()
            .filter(|f| f.file_name().is_some_and(|n| n != "requirements.yaml"))
            .map(|f| {
                let text = std::fs::read_to_string(&f).unwrap();
                (f, text)
            })
            .collect()
    })
}

/// Loads `text` as if it were `file`; returns the problems (empty when it loaded).
fn load(file: &Path, text: &str) -> Vec<Problem> {
    match load_str(file, Arc::from(text), &BTreeSet::new()) {
        Ok(_) => Vec::new(),
        Err(p) => p,
    }
}

fn assert_positions_inside(file: &Path, text: &str, problems: &[Problem]) {
    let lines = text.lines().count().max(1) as u32;
    for p in problems {
        let pos = &p.diagnostic.pos;
        assert_eq!(pos.file, file);
        assert!(
            pos.line >= 1 && pos.line <= lines + 1,
            "problem outside the file ({} lines): {}",
            lines,
            p.render()
        );
        assert!(!p.render().is_empty());
    }
}

#[derive(Clone, Debug)]
enum Mutation {
    FlipByte(usize, u8),
    DropLine(usize),
    Truncate(usize),
    Splice(usize, &'static str),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    const SPLICES: &[&str] = &[
        ":",
        "- ",
        "{",
        "}",
        "[",
        "]",
        "'",
        "\"",
        "&a ",
        "*a",
        "!!str ",
        "\t",
        "\n  - send: X\n",
        "{{",
        "}}",
        "steps:\n",
        "  expect: {status: maybe}\n",
        "\u{0}",
        "é",
        "#",
        "? ",
        "| ",
        "---\n",
        "...\n",
        "<<: *a\n",
    ];
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::FlipByte(i, b)),
        any::<usize>().prop_map(Mutation::DropLine),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), prop::sample::select(SPLICES)).prop_map(|(i, s)| Mutation::Splice(i, s)),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let bytes = text.as_bytes();
    let at = |i: usize| if bytes.is_empty() { 0 } else { i % bytes.len() };
    let out: Vec<u8> = match m {
        Mutation::FlipByte(i, b) => {
            let mut v = bytes.to_vec();
            if !v.is_empty() {
                let i = at(*i);
                v[i] = *b;
            }
            v
        }
        Mutation::DropLine(i) => {
            let lines: Vec<&str> = text.lines().collect();
            let n = i % lines.len().max(1);
            lines
                .iter()
                .enumerate()
                .filter(|(k, _)| *k != n)
                .map(|(_, l)| *l)
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes()
        }
        Mutation::Truncate(i) => bytes[..at(*i)].to_vec(),
        Mutation::Splice(i, s) => {
            let i = at(*i);
            let mut v = bytes[..i].to_vec();
            v.extend_from_slice(s.as_bytes());
            v.extend_from_slice(&bytes[i..]);
            v
        }
    };
    // The loader takes text: invalid UTF-8 is rejected before parsing (tested
    // through the CLI elsewhere), so mutations are made to stay text.
    String::from_utf8_lossy(&out).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,400}") {
        let file = Path::new("random.yaml");
        let problems = load(file, &text);
        assert_positions_inside(file, &text, &problems);
    }

    #[test]
    fn mutated_suite_files_never_panic(
        pick in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let files = suite_files();
        let (file, original) = &files[pick.index(files.len())];
        let mut text = original.clone();
        for m in &mutations {
            text = apply(&text, m);
        }
        let problems = load(file, &text);
        assert_positions_inside(file, &text, &problems);
    }
}

#[test]
fn every_suite_file_loads_unmutated() {
    for (file, text) in suite_files() {
        let problems = load(file, text);
        assert!(problems.is_empty(), "{}", problems[0].render());
    }
}
