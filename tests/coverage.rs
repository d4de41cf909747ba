//! The coverage map: the committed `scenarios/COVERAGE.md` is what
//! `pop3spec list --coverage` prints now, the `spec:` parser accepts every shape
//! the suite uses and rejects malformed strings, every section in
//! `scenarios/requirements.yaml` exists in the RFC texts and every quoted
//! sentence is in them (when they are at hand), an unknown requirement id in
//! `checks:` is a load error with its position, and a requirement whose
//! scenarios list no fault is reported as covered without a fault.

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
    let out = pop3spec(&["list", "--coverage"]);
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

/// The RFC text with page headers, footers and line breaks taken out, so a
/// sentence can be found whole.
fn flat_rfc(rfc: u32) -> Option<String> {
    let text = pop3spec::suite::rfc_text(rfc)?;
    let kept: Vec<&str> = text
        .lines()
        .map(|l| l.trim_start_matches('\u{c}'))
        .filter(|l| !(l.contains("[Page ") && l.trim_end().ends_with(']')))
        .filter(|l| {
            !(l.starts_with(&format!("RFC {rfc}"))
                && l.trim_end().ends_with(|c: char| c.is_ascii_digit()))
        })
        .collect();
    Some(
        kept.join(" ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// Every quote is the RFC's own text (the texts built into the binary), so no
/// requirement is invented; every RFC with requirements is built in.
#[test]
fn requirement_quotes_are_in_the_rfc_texts() {
    let reqs = Requirements::load(&repo().join("scenarios/requirements.yaml")).unwrap();
    let mut texts = std::collections::BTreeMap::new();
    let mut missing = Vec::new();
    for (section, r) in reqs.all() {
        let rfc = parse_spec(&section.spec).unwrap()[0].rfc;
        let text = texts.entry(rfc).or_insert_with(|| {
            flat_rfc(rfc).unwrap_or_else(|| panic!("RFC {rfc} is not built in"))
        });
        let quote = r.quote.split_whitespace().collect::<Vec<_>>().join(" ");
        if !text.contains(&quote) {
            missing.push(format!("{}: `{quote}`", r.id));
        }
    }
    assert!(
        missing.is_empty(),
        "quotes not found in the RFC texts:\n{}",
        missing.join("\n")
    );
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("pop3spec-coverage-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const MINI_REQUIREMENTS: &str = "\
sections:
  - spec: RFC 1939 §5 (NOOP)
    title: NOOP
    requirements:
      - id: rfc1939.s5.noop.positive
        quote: The POP3 server does nothing, it merely replies with a positive response.
        level: none
      - id: rfc1939.s5.noop.transaction-only
        quote: may only be given in the TRANSACTION state
        level: none
";

fn mini_scenario(checks: &str, catches: &str) -> String {
    format!(
        "id: t.noop\ntitle: t\nspec: RFC 1939 §5 (NOOP)\nrequirement: r\nlevel: must\n\
         checks: {checks}\ncatches: {catches}\nstate: transaction\nsteps:\n  - send: NOOP\n  - expect: {{status: ok}}\n"
    )
}

/// Runs the binary in the repository, free of the caller's POP3SPEC_ settings.
fn pop3spec(args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pop3spec"));
    cmd.current_dir(repo()).env("NO_COLOR", "1").args(args);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("POP3SPEC_") {
            cmd.env_remove(k);
        }
    }
    cmd.output().expect("pop3spec runs")
}

#[test]
fn unknown_requirement_id_is_a_load_error_with_its_position() {
    let dir = scratch("unknown");
    std::fs::write(dir.join("requirements.yaml"), MINI_REQUIREMENTS).unwrap();
    let file = dir.join("noop.yaml");
    std::fs::write(
        &file,
        mini_scenario(
            "[rfc1939.s5.noop.positive, rfc1939.s5.noop.no-such-rule]",
            "[]",
        ),
    )
    .unwrap();
    let out = pop3spec(&["check", dir.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let all = format!("{stdout}{stderr}");
    assert_eq!(out.status.code(), Some(2), "{all}");
    // line 6 is `checks:`; the unknown id is the second item of the flow list.
    let at = format!("{}:6:", file.display());
    assert!(all.contains(&at), "no position {at} in:\n{all}");
    assert!(
        all.contains("unknown requirement `rfc1939.s5.noop.no-such-rule`"),
        "{all}"
    );
    assert!(!all.contains("`rfc1939.s5.noop.positive`"), "{all}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn requirement_without_a_fault_is_reported_as_such() {
    let dir = scratch("nofault");
    std::fs::write(dir.join("requirements.yaml"), MINI_REQUIREMENTS).unwrap();
    std::fs::write(
        dir.join("noop.yaml"),
        mini_scenario("[rfc1939.s5.noop.positive]", "[]"),
    )
    .unwrap();
    let out = pop3spec(&["list", "--coverage", dir.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The other requirement is uncovered: a gap, exit 1.
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("#### `rfc1939.s5.noop.positive`: covered-without-fault"),
        "{stdout}"
    );
    assert!(
        stdout.contains("#### `rfc1939.s5.noop.transaction-only`: uncovered"),
        "{stdout}"
    );
    assert!(
        stdout.contains("| RFC 1939 | 2 | 0 | 1 | 1 | 0 |"),
        "{stdout}"
    );
    assert!(
        stderr.contains("uncovered: rfc1939.s5.noop.transaction-only"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every server scenario of the suite names the requirements it checks, so a
/// scenario added without `checks:` fails here rather than vanish from the map.
#[test]
fn every_suite_scenario_names_what_it_checks() {
    let files = pop3spec::scenario::load::discover(&[repo().join("scenarios")]).unwrap();
    let suite = pop3spec::scenario::load::load_suite(&files, &Default::default());
    assert!(
        suite.problems.is_empty(),
        "the suite does not load: {}",
        suite.problems[0].render()
    );
    let without: Vec<String> = suite
        .scenarios
        .iter()
        .filter(|s| !coverage::is_client_scenario(&s.file) && s.checks.is_empty())
        .map(|s| format!("{} ({})", s.id, s.id_pos))
        .collect();
    assert!(
        without.is_empty(),
        "scenarios without `checks:` (name the ids of scenarios/requirements.yaml \
         whose violation the scenario catches; see scenarios/README.md):\n{}",
        without.join("\n")
    );
}

/// Every testable requirement the suite leaves uncovered says why in
/// requirements.yaml (`uncovered:`), so COVERAGE.md lists each gap with its
/// reason and a new requirement cannot be left open silently.
#[test]
fn every_uncovered_requirement_says_why() {
    let files = pop3spec::scenario::load::discover(&[repo().join("scenarios")]).unwrap();
    let suite = pop3spec::scenario::load::load_suite(&files, &Default::default());
    let requirements =
        coverage::Requirements::load(&repo().join("scenarios/requirements.yaml")).unwrap();
    let map = coverage::build(
        &requirements,
        suite
            .scenarios
            .iter()
            .filter(|s| !coverage::is_client_scenario(&s.file))
            .map(coverage::Cited::from),
    );
    let silent: Vec<&str> = map
        .rows
        .iter()
        .filter(|r| r.status() == coverage::Status::Uncovered && r.requirement.uncovered.is_none())
        .map(|r| r.requirement.id.as_str())
        .collect();
    assert!(
        silent.is_empty(),
        "uncovered without a reason (add `uncovered: why` in scenarios/requirements.yaml, \
         or a scenario that checks it): {silent:?}"
    );
    let stale: Vec<String> = map
        .problems
        .iter()
        .filter(|p| matches!(p, coverage::Problem::StaleUncovered(_)))
        .map(ToString::to_string)
        .collect();
    assert!(stale.is_empty(), "{stale:?}");
}

/// `explain` quotes the sentences a scenario names in `checks:`.
#[test]
fn explain_quotes_the_checked_sentences() {
    let out = pop3spec(&["explain", "rfc1939.noop.ok"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let at = stdout
        .find("the sentences it checks:\n")
        .unwrap_or_else(|| panic!("no checked sentences:\n{stdout}"));
    let tail = &stdout[at..];
    assert!(
        tail.contains("  rfc1939.s5.noop.positive  (RFC 1939 §5 (NOOP), none)\n  | The POP3 server does nothing"),
        "{tail}"
    );
}
