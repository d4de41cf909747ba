//! `pop3spec explain ID`: one scenario in full (metadata, the YAML of its steps)
//! and the RFC text it checks, so a failing id can be understood without hunting
//! through the suite and the RFCs.

use super::rfc::{self, Citation, RfcTexts};
use crate::coverage::Requirements;
use crate::scenario::{Scenario, State};
use std::fmt::Write;

/// Lines of RFC text shown per referenced section.
pub const RFC_LINES: usize = 14;

/// The `steps:` block of a scenario file with 1-based line numbers: from the
/// `steps:` key to the next top-level key or the end of the file.
pub fn steps_source(source: &str) -> Option<(usize, Vec<&str>)> {
    let lines: Vec<&str> = source.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("steps:") || l.starts_with("\"steps\":"))?;
    let mut end = start + 1;
    while end < lines.len() {
        let l = lines[end];
        let top_level_key =
            !l.is_empty() && !l.starts_with([' ', '\t', '#', '-']) && !l.trim().is_empty();
        if top_level_key {
            break;
        }
        end += 1;
    }
    while end > start + 1 && lines[end - 1].trim().is_empty() {
        end -= 1;
    }
    Some((start + 1, lines[start..end].to_vec()))
}

fn state_name(s: State) -> &'static str {
    match s {
        State::Connected => "connected",
        State::Authorization => "authorization",
        State::Transaction => "transaction",
    }
}

/// The whole explanation, quoting the RFC sections from `rfc_texts`.
pub fn render(s: &Scenario, rfc_texts: &RfcTexts) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", s.id);
    let field = |out: &mut String, name: &str, value: &str| {
        if !value.is_empty() {
            let _ = writeln!(out, "  {:<12} {value}", format!("{name}:"));
        }
    };
    field(&mut out, "title", &s.title);
    field(&mut out, "level", s.level.as_str());
    field(&mut out, "spec", &s.spec);
    field(&mut out, "file", &s.id_pos.to_string());
    field(&mut out, "state", state_name(s.state));
    field(&mut out, "tags", &s.tags.join(", "));
    field(&mut out, "requires", &s.requires.join(", "));
    field(&mut out, "fixture", s.fixture.as_deref().unwrap_or(""));
    field(&mut out, "checks", &s.checks.join(", "));
    field(&mut out, "catches", &s.catches.join(", "));
    let _ = writeln!(out, "\nrequirement:");
    for line in wrap(&s.requirement, 76) {
        let _ = writeln!(out, "  {line}");
    }
    if let Some((first, lines)) = steps_source(&s.source) {
        let _ = writeln!(out, "\nsteps ({}:{first}):", s.file.display());
        let width = (first + lines.len()).to_string().len();
        for (i, line) in lines.iter().enumerate() {
            let _ = writeln!(out, "  {:>width$} | {line}", first + i);
        }
    }
    // The loader has already rejected malformed spec fields.
    let refs = crate::scenario::spec::rfc_citations(&s.spec).unwrap_or_default();
    let _ = writeln!(out, "\nwhere the rule lives:");
    if refs.is_empty() {
        let _ = writeln!(out, "  `{}` names no RFC section", s.spec);
    }
    for r in &refs {
        rfc_section(&mut out, r, rfc_texts);
    }
    out
}

/// The RFC sentences a scenario names in `checks:`, quoted from the
/// requirements file (ids it does not list are shown bare).
pub fn checked_sentences(s: &Scenario, requirements: Option<&Requirements>) -> String {
    let mut out = String::new();
    if s.checks.is_empty() {
        return out;
    }
    let _ = writeln!(out, "\nthe sentences it checks:");
    for id in &s.checks {
        let found = requirements.and_then(|r| r.all().find(|(_, q)| &q.id == id));
        match found {
            Some((section, q)) => {
                let _ = writeln!(out, "  {id}  ({}, {})", section.spec, q.level.as_str());
                for line in wrap(&q.quote, 72) {
                    let _ = writeln!(out, "  | {line}");
                }
            }
            None => {
                let _ = writeln!(out, "  {id}");
            }
        }
    }
    out
}

fn rfc_section(out: &mut String, r: &Citation, rfc_texts: &RfcTexts) {
    if let RfcTexts::Missing(dir) = rfc_texts {
        let _ = writeln!(
            out,
            "  {r}  (RFC texts not found: {} is not a folder; pass --rfc-dir or set POP3SPEC_RFC_DIR to a folder of rfcNNNN.txt files, or neither for the built-in texts)",
            dir.display()
        );
        return;
    }
    match rfc::excerpt_from(rfc_texts, r, RFC_LINES) {
        Ok(e) => {
            let _ = writeln!(
                out,
                "  {r}  {}:{}\n  {}",
                e.file.display(),
                e.heading_line,
                e.heading
            );
            if e.start_line != e.heading_line + 1 {
                let _ = writeln!(out, "  [...]  from line {}:", e.start_line);
            }
            for line in &e.lines {
                let _ = writeln!(out, "{}", format!("  | {line}").trim_end());
            }
            if e.more {
                let _ = writeln!(out, "  [...]");
            }
        }
        Err(why) => {
            let _ = writeln!(out, "  {r}  ({why})");
        }
    }
}

/// Words of `text` in lines of at most `width` characters.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Ids in `ids` that look like `wanted`: sharing its last word or containing it.
pub fn similar_ids<'a>(wanted: &str, ids: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let last = wanted.rsplit('.').next().unwrap_or(wanted);
    let mut out: Vec<&str> = ids
        .filter(|id| id.contains(wanted) || (!last.is_empty() && id.contains(last)))
        .collect();
    out.sort_unstable();
    out.truncate(8);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const SOURCE: &str = "\
# yaml-language-server: $schema=../../../docs/scenario.schema.json
id: local.x.y
title: A title
spec: RFC 9999 §2 (THING); local note
requirement: >-
  The server must do the thing.
level: should
tags: [a, b]
steps:
  - send: THING

  # a comment inside
  - expect: { status: ok }

vars: { v: \"1\" }
";

    fn scenario() -> Scenario {
        crate::scenario::load::load_str(
            Path::new("scen/x/y.yaml"),
            SOURCE.into(),
            &Default::default(),
        )
        .unwrap()
    }

    #[test]
    fn steps_block_runs_to_the_next_top_level_key() {
        let (first, lines) = steps_source(SOURCE).unwrap();
        assert_eq!(first, 9);
        assert_eq!(
            lines,
            [
                "steps:",
                "  - send: THING",
                "",
                "  # a comment inside",
                "  - expect: { status: ok }"
            ]
        );
        let flush = "id: a\nsteps:\n- send: A\n- expect: {}\n";
        assert_eq!(steps_source(flush).unwrap().1.len(), 3);
    }

    #[test]
    fn explains_metadata_steps_and_rfc_text() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("rfc9999.txt"),
            "1. Intro\n\n   x\n\n2. The Thing\n\n   Words.\n\n      THING\n\n         Must work.\n\n3. Next\n",
        )
        .unwrap();
        let text = render(&scenario(), &RfcTexts::Dir(dir.path().to_path_buf()));
        for part in [
            "local.x.y\n",
            "  title:       A title\n",
            "  level:       should\n",
            "  file:        scen/x/y.yaml:2:5\n",
            "  tags:        a, b\n",
            "requirement:\n  The server must do the thing.\n",
            "steps (scen/x/y.yaml:9):\n   9 | steps:\n  10 |   - send: THING\n",
            "  13 |   - expect: { status: ok }\n\n",
            "RFC 9999 §2 (THING)",
            "rfc9999.txt:5\n  2. The Thing\n  [...]  from line 9:\n  |       THING\n  |\n  |          Must work.\n",
        ] {
            assert!(text.contains(part), "{part:?} missing from:\n{text}");
        }
        assert!(!text.contains("vars:"), "{text}");
        assert!(!text.contains("3. Next"), "{text}");
    }

    #[test]
    fn without_rfc_texts_prints_the_reference_only() {
        let gone = tempfile::tempdir().unwrap().path().join("gone");
        let text = render(&scenario(), &RfcTexts::Missing(gone));
        assert!(
            text.contains("where the rule lives:\n  RFC 9999 §2 (THING)  (RFC texts not found"),
            "{text}"
        );
        let text = render(&scenario(), &RfcTexts::BuiltIn);
        assert!(
            text.contains("RFC 9999 §2 (THING)  (RFC 9999 is not built in"),
            "{text}"
        );
        let missing = tempfile::tempdir().unwrap();
        let text = render(&scenario(), &RfcTexts::Dir(missing.path().to_path_buf()));
        assert!(text.contains("RFC 9999 §2 (THING)  ("), "{text}");
        assert!(text.contains("rfc9999.txt"), "{text}");
    }

    #[test]
    fn suggestions_share_the_last_word() {
        let ids = [
            "rfc1939.update.quit",
            "rfc1939.auth.quit",
            "rfc1939.stat.ok",
        ];
        assert_eq!(
            similar_ids("rfc1939.upd.quit", ids.into_iter()),
            ["rfc1939.auth.quit", "rfc1939.update.quit"]
        );
        assert!(similar_ids("zzz", ids.into_iter()).is_empty());
    }
}
