//! The coverage map: the committed `scenarios/COVERAGE.md` is what
//! `pop3spec list --coverage` prints now, the `spec:` parser accepts every shape
//! the suite uses and rejects malformed strings, and every section in
//! `scenarios/requirements.yaml` exists in the RFC texts (when they are at hand).

use pop3spec::authoring::rfc;
use pop3spec::coverage::{self, parse_spec, Citation, Requirements};
use std::path::Path;
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn c(rfc: u32, section: &str, topic: Option<&str>) -> Citation {
    Citation::new(rfc, Some(section), topic)
}

#[test]
fn committed_coverage_map_is_the_generated_one() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pop3spec"));
    cmd.current_dir(repo())
        .env("NO_COLOR", "1")
        .args(["list", "--coverage"]);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("POP3SPEC_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().expect("pop3spec runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Exit 1 only reports gaps in the suite (listed on stderr), which must not fail
    // the tests; 2 (or a crash) means the map could not be built at all.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "pop3spec list --coverage failed: {:?}\n{stderr}",
        out.status
    );
    if out.status.code() == Some(1) {
        eprintln!("coverage gaps (not a test failure):\n{stderr}");
    }
    let committed =
        std::fs::read_to_string(repo().join("scenarios/COVERAGE.md")).unwrap_or_default();
    assert!(
        committed == stdout,
        "scenarios/COVERAGE.md is out of date (scenarios or scenarios/requirements.yaml \
         changed); regenerate it with `{}` and commit it",
        coverage::REGENERATE
    );
}

#[test]
fn parses_a_single_section() {
    assert_eq!(parse_spec("RFC 1939 §6"), Ok(vec![c(1939, "6", None)]));
    assert_eq!(
        parse_spec("RFC 2449 §8.1.2"),
        Ok(vec![c(2449, "8.1.2", None)])
    );
    assert_eq!(
        parse_spec("RFC 1939 §7 (UIDL)"),
        Ok(vec![c(1939, "7", Some("UIDL"))])
    );
    assert_eq!(
        parse_spec("RFC 4616"),
        Ok(vec![Citation::new(4616, None, None)])
    );
}

#[test]
fn parses_several_sections() {
    assert_eq!(
        parse_spec("RFC 1939 §4, §8"),
        Ok(vec![c(1939, "4", None), c(1939, "8", None)])
    );
    assert_eq!(
        parse_spec("RFC 1939 §5 (STAT, LIST)"),
        Ok(vec![c(1939, "5", Some("STAT")), c(1939, "5", Some("LIST"))])
    );
    assert_eq!(
        parse_spec("RFC 1939 §7 (TOP), §5 (RETR)"),
        Ok(vec![c(1939, "7", Some("TOP")), c(1939, "5", Some("RETR"))])
    );
    assert_eq!(
        parse_spec("RFC 2449 §6.5, §8.1.1"),
        Ok(vec![c(2449, "6.5", None), c(2449, "8.1.1", None)])
    );
}

#[test]
fn parses_several_rfcs() {
    assert_eq!(
        parse_spec("RFC 2449 §8.1.2; RFC 5034 §4"),
        Ok(vec![c(2449, "8.1.2", None), c(5034, "4", None)])
    );
    assert_eq!(
        parse_spec("RFC 1939 §4, §8; RFC 5034 §4"),
        Ok(vec![
            c(1939, "4", None),
            c(1939, "8", None),
            c(5034, "4", None)
        ])
    );
    assert_eq!(
        parse_spec("RFC 5034 §4; RFC 4616"),
        Ok(vec![c(5034, "4", None), Citation::new(4616, None, None)])
    );
}

#[test]
fn rejects_malformed_specs() {
    for bad in [
        "",
        "   ",
        "1939 §6",
        "RFC1939 §6",
        "RFC §6",
        "RFC 1939 6",
        "RFC 1939 §",
        "RFC 1939 §6.",
        "RFC 1939 §6..1",
        "RFC 1939 Section 6",
        "RFC 1939 §6 LIST",
        "RFC 1939 §5 (LIST",
        "RFC 1939 §5 ()",
        "RFC 1939 §5 (STAT,)",
        "RFC 1939 §4,",
        "RFC 1939 §4,, §5",
        "RFC 1939 §3, RFC 2449 §5",
        "RFC 1939 §3;",
        "RFC 1939 §3;; RFC 2449 §5",
        "RFC 1939§3",
    ] {
        assert!(parse_spec(bad).is_err(), "`{bad}` should be malformed");
    }
}

#[test]
fn every_suite_spec_parses() {
    let files = pop3spec::scenario::load::discover(&[repo().join("scenarios")]).unwrap();
    let suite = pop3spec::scenario::load::load_suite(&files, &Default::default());
    let bad: Vec<String> = suite
        .scenarios
        .iter()
        .filter_map(|s| parse_spec(&s.spec).err().map(|e| format!("{}: {e}", s.id)))
        .collect();
    // Reported, not failed: the scenario files belong to the suite's author.
    if !bad.is_empty() {
        eprintln!("malformed spec strings:\n{}", bad.join("\n"));
    }
}

/// Each entry names a real heading of its RFC, and a topic a command defined there.
#[test]
fn requirement_sections_exist_in_the_rfc_texts() {
    // The texts built into the binary (docs/rfc/), always at hand.
    let texts = rfc::RfcTexts::BuiltIn;
    let reqs = Requirements::load(&repo().join("scenarios/requirements.yaml")).unwrap();
    let normal = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    for e in &reqs.sections {
        let key = parse_spec(&e.spec).unwrap().remove(0);
        if pop3spec::suite::rfc_text(key.rfc).is_none() {
            continue;
        }
        let ex =
            rfc::excerpt_from(&texts, &key, 3).unwrap_or_else(|err| panic!("{}: {err}", e.spec));
        if key.topic.is_some() {
            assert!(
                ex.start_line > ex.heading_line,
                "{}: the command is not defined in that section",
                e.spec
            );
        } else {
            let heading = normal(
                ex.heading
                    .trim_start_matches(|c: char| c.is_ascii_digit() || c == '.'),
            );
            let title = normal(&e.title);
            assert!(
                heading.contains(&title) || title.starts_with(&heading),
                "{}: title `{title}` does not match the heading `{heading}`",
                e.spec
            );
        }
    }
}
