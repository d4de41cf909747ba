//! JUnit XML, the format CI dashboards read, valid against Jenkins' `junit-10.xsd`.
//!
//! Written by hand rather than with a JUnit crate: the schema fixes details such a
//! crate does not let us control (suite `time` as plain decimal seconds, no `file`
//! on a test case), and whatever bytes a server sends must still give well-formed
//! XML, which needs escaping of characters XML 1.0 forbids outright.

use super::console::{failure_detail, transcript_line, ConsoleOptions};
use super::{shown_as_failure, visible};
use crate::calendar::civil_date;
use crate::outcome::{Outcome, RunResult, ScenarioResult};
use std::fmt::Write;
use std::time::Duration;

/// JUnit knows pass, failure, error and skip; every outcome maps onto one of them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pass,
    Failure,
    Error,
    Skipped,
    /// A known failure that failed, rendered as `<skipped>`: CI stays green as
    /// `--known-failures` promises, yet it stays listed, counted and explained,
    /// which a pass with a note in `system-out` would hide.
    KnownFailure,
}

fn kind(r: &ScenarioResult, strict: bool) -> Kind {
    match r.outcome {
        _ if shown_as_failure(r, strict) && r.known_failure => Kind::KnownFailure,
        Outcome::Error => Kind::Error,
        _ if shown_as_failure(r, strict) => Kind::Failure,
        Outcome::Skipped => Kind::Skipped,
        _ => Kind::Pass,
    }
}

/// The whole run: one `<testsuite>` per RFC, in the order the RFCs first appear.
pub fn render(run: &RunResult) -> String {
    let mut suites: Vec<(&str, Vec<&ScenarioResult>)> = Vec::new();
    for r in &run.scenarios {
        let name = suite_name(&r.spec);
        match suites.iter_mut().find(|(n, _)| *n == name) {
            Some((_, members)) => members.push(r),
            None => suites.push((name, vec![r])),
        }
    }
    let count = |k: Kind| {
        run.scenarios
            .iter()
            .filter(|r| kind(r, run.strict) == k)
            .count()
    };
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        r#"<testsuites name="pop3spec" tests="{}" failures="{}" errors="{}" time="{}">"#,
        run.scenarios.len(),
        count(Kind::Failure),
        count(Kind::Error),
        secs(run.duration)
    );
    for (name, members) in suites {
        write_suite(&mut out, run, name, &members);
    }
    out.push_str("</testsuites>\n");
    out
}

/// The RFC part of `spec` (`RFC 1939 §6` → `RFC 1939`): sections are too fine to be
/// suites and would split one RFC's results across many.
fn suite_name(spec: &str) -> &str {
    match spec.split('§').next().unwrap_or_default().trim() {
        "" => "unspecified",
        name => name,
    }
}

fn write_suite(out: &mut String, run: &RunResult, name: &str, members: &[&ScenarioResult]) {
    let count = |k: Kind| members.iter().filter(|r| kind(r, run.strict) == k).count();
    let skipped = count(Kind::Skipped) + count(Kind::KnownFailure);
    let time: Duration = members.iter().map(|r| r.duration).sum();
    let _ = writeln!(
        out,
        r#"  <testsuite name="{}" tests="{}" failures="{}" errors="{}" skipped="{}" time="{}" timestamp="{}">"#,
        escape_attr(name),
        members.len(),
        count(Kind::Failure),
        count(Kind::Error),
        skipped,
        secs(time),
        timestamp(run.started_at)
    );
    let _ = writeln!(
        out,
        "    <properties>\n      <property name=\"target\" value=\"{}\"/>\n      \
         <property name=\"strict\" value=\"{}\"/>\n    </properties>",
        escape_attr(&run.target),
        run.strict
    );
    let class: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    for r in members {
        write_case(out, r, run.strict, &class);
    }
    out.push_str("  </testsuite>\n");
}

fn write_case(out: &mut String, r: &ScenarioResult, strict: bool, class: &str) {
    let _ = writeln!(
        out,
        r#"    <testcase name="{}" classname="pop3spec.{}" time="{}">"#,
        escape_attr(&format!("{} — {}", r.id, r.title)),
        if class.is_empty() { "other" } else { class },
        secs(r.duration)
    );
    let message = r
        .finding
        .as_ref()
        .map(|f| f.message.as_str())
        .or(r.reason.as_deref())
        .unwrap_or(r.outcome.as_str());
    let detail = |verbose| {
        let opts = ConsoleOptions {
            verbose,
            strict,
            ..ConsoleOptions::default()
        };
        escape_text(&failure_detail(r, &opts))
    };
    let verdict = kind(r, strict);
    let element = match verdict {
        Kind::Pass => None,
        Kind::Failure => Some(("failure", r.outcome.as_str(), message.to_string())),
        Kind::Error => Some(("error", "error", message.to_string())),
        Kind::KnownFailure => Some((
            "skipped",
            "known-failure",
            format!("known failure: {}: {message}", r.outcome.as_str()),
        )),
        Kind::Skipped => {
            let _ = writeln!(
                out,
                r#"      <skipped message="{}"/>"#,
                escape_attr(message)
            );
            None
        }
    };
    if let Some((tag, ty, message)) = element {
        let _ = writeln!(
            out,
            r#"      <{tag} type="{ty}" message="{}">{}</{tag}>"#,
            escape_attr(&message),
            detail(false)
        );
    }
    let mut system_out = String::new();
    if r.known_failure && verdict == Kind::Pass {
        system_out.push_str("known failure now passes: remove it from the known-failures list\n");
    }
    if r.outcome == Outcome::Info {
        system_out.push_str(&escape_text(&format!("info: {message}\n")));
    }
    if r.outcome == Outcome::NonStrict && !strict {
        // A graded pass has no element to explain it, so the explanation goes here;
        // verbose detail ends with the full transcript.
        system_out.push_str(&detail(true));
    } else {
        for l in &r.transcript {
            system_out.push_str(&escape_text(&transcript_line(l)));
            system_out.push('\n');
        }
    }
    if !system_out.is_empty() {
        let _ = writeln!(out, "      <system-out>{system_out}</system-out>");
    }
    out.push_str("    </testcase>\n");
}

/// Decimal seconds with a dot, as the schema's `SUREFIRE_TIME` pattern wants.
fn secs(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

/// ISO 8601 in UTC without a zone designator, the form Ant's JUnit schema defines
/// for `timestamp` (which is why it carries no `Z`).
fn timestamp(epoch_secs: u64) -> String {
    let (year, month, day) = civil_date(epoch_secs);
    let s = epoch_secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        s / 3_600,
        s / 60 % 60,
        s % 60
    )
}

/// Element content: the five specials as entities (all five, so the same helper is
/// safe anywhere) and characters XML 1.0 forbids as visible escapes (see [`visible`]).
fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in visible(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// An attribute value: as element content, plus tab and newline as character
/// references, which attribute-value normalisation would otherwise turn into spaces.
fn escape_attr(text: &str) -> String {
    escape_text(text)
        .replace('\t', "&#9;")
        .replace('\n', "&#10;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    fn attr<'a>(node: roxmltree::Node<'a, '_>, name: &str) -> &'a str {
        node.attribute(name)
            .unwrap_or_else(|| panic!("<{}> has no {name}", node.tag_name().name()))
    }

    fn case<'a, 'i>(doc: &'a roxmltree::Document<'i>, id: &str) -> roxmltree::Node<'a, 'i> {
        doc.descendants()
            .find(|n| {
                n.has_tag_name("testcase") && attr(*n, "name").starts_with(&format!("{id} — "))
            })
            .unwrap_or_else(|| panic!("no testcase for {id}"))
    }

    fn child_text<'a>(node: roxmltree::Node<'a, '_>, tag: &str) -> &'a str {
        node.children()
            .find(|n| n.has_tag_name(tag))
            .and_then(|n| n.text())
            .unwrap_or_else(|| panic!("no <{tag}> text"))
    }

    fn is_decimal(time: &str) -> bool {
        let (int, frac) = time.split_once('.').unwrap_or((time, ""));
        !int.is_empty() && int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    }

    #[test]
    fn suites_and_counts() {
        let xml = render(&fixture::run());
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        assert_eq!(
            [
                attr(root, "tests"),
                attr(root, "failures"),
                attr(root, "errors"),
                attr(root, "time")
            ],
            ["8", "1", "1", "1.234"]
        );
        let suites: Vec<[&str; 5]> = root
            .children()
            .filter(|n| n.is_element())
            .map(|s| ["name", "tests", "failures", "errors", "skipped"].map(|a| attr(s, a)))
            .collect();
        assert_eq!(
            suites,
            [
                ["RFC 1939", "4", "1", "0", "1"],
                ["RFC 2449", "3", "0", "1", "0"],
                ["RFC 2595", "1", "0", "0", "1"],
            ]
        );
        for suite in root.children().filter(|n| n.is_element()) {
            assert!(is_decimal(attr(suite, "time")));
            assert_eq!(attr(suite, "timestamp"), "2025-11-26T15:24:02");
        }
        let cases: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(cases.len(), 8);
        let mut names: Vec<&str> = cases.iter().map(|c| attr(*c, "name")).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 8, "testcase names must be unique");
        assert!(cases.iter().all(|c| is_decimal(attr(*c, "time"))));
        assert_eq!(
            attr(case(&doc, "rfc1939.retr.body"), "classname"),
            "pop3spec.rfc1939"
        );
        assert_eq!(
            attr(case(&doc, "rfc2449.capa.list"), "classname"),
            "pop3spec.rfc2449"
        );
    }

    #[test]
    fn each_outcome_maps_to_its_element() {
        let xml = render(&fixture::run());
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let elements = |id| -> Vec<&str> {
            case(&doc, id)
                .children()
                .filter(|n| n.is_element())
                .map(|n| n.tag_name().name())
                .collect()
        };
        assert_eq!(elements("rfc1939.greeting.ok"), ["system-out"]);
        assert_eq!(elements("rfc1939.retr.body"), ["failure", "system-out"]);
        assert_eq!(elements("rfc2449.capa.list"), ["error", "system-out"]);
        assert_eq!(elements("rfc2449.capa.terminator"), ["system-out"]);
        assert_eq!(elements("rfc2449.capa.impl"), ["system-out"]);
        assert_eq!(elements("rfc2595.stls.offered"), ["skipped"]);
        assert_eq!(elements("rfc1939.top.lines"), ["skipped", "system-out"]);

        let failure = case(&doc, "rfc1939.retr.body")
            .first_element_child()
            .unwrap();
        assert_eq!(attr(failure, "type"), "fail");
        assert_eq!(attr(failure, "message"), "message body differs");
        let body = failure.text().unwrap();
        for part in [
            "scenarios/rfc1939/retr.yaml:14:7",
            "requirement: The server must",
            "-line b",
            "+line B",
            "S: +OK POP3 ready",
        ] {
            assert!(body.contains(part), "{part:?} missing from {body}");
        }
        let skip = case(&doc, "rfc2595.stls.offered")
            .first_element_child()
            .unwrap();
        assert_eq!(attr(skip, "message"), "requires STLS");
        let known = case(&doc, "rfc1939.top.lines")
            .first_element_child()
            .unwrap();
        assert_eq!(
            attr(known, "message"),
            "known failure: fail: TOP returned too many lines"
        );
        assert!(known.text().unwrap().contains("actual:      3 lines"));

        let graded = child_text(case(&doc, "rfc2449.capa.terminator"), "system-out");
        assert!(graded.contains("status was -ERR") && graded.contains("C: USER alice"));
        let info = child_text(case(&doc, "rfc2449.capa.impl"), "system-out");
        assert!(info.starts_with("info: IMPLEMENTATION not advertised\n"));
        let fixed = child_text(case(&doc, "rfc1939.uidl.unique"), "system-out");
        assert!(fixed.starts_with("known failure now passes"));
    }

    #[test]
    fn strict_turns_non_strict_into_failure() {
        let mut run = fixture::run();
        run.strict = true;
        let xml = render(&run);
        let doc = roxmltree::Document::parse(&xml).unwrap();
        assert_eq!(attr(doc.root_element(), "failures"), "2");
        let failure = case(&doc, "rfc2449.capa.terminator")
            .first_element_child()
            .unwrap();
        assert_eq!(
            (failure.tag_name().name(), attr(failure, "type")),
            ("failure", "non-strict")
        );
    }

    #[test]
    fn hostile_text_stays_well_formed_and_visible() {
        let mut run = fixture::run();
        run.scenarios[1].finding.as_mut().unwrap().message = "two\nlines\tand \0 ]]> &<>\"'".into();
        let xml = render(&run);
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let fail = case(&doc, "rfc1939.retr.body");
        // Attribute normalisation would turn these newlines and tabs into spaces.
        assert_eq!(
            attr(fail.first_element_child().unwrap(), "message"),
            "two\nlines\tand \\x00 ]]> &<>\"'"
        );
        let out = child_text(fail, "system-out");
        assert!(
            out.contains(r#"S: +OK \x00 \x1b[31mred\x1b[0m \x07 ]]> &<>"' \u{fffe}\u{ffff} �"#),
            "{out}"
        );
        assert!(
            !xml.contains("]]>"),
            "no raw CDATA terminator in the document"
        );
    }

    #[test]
    fn skipped_known_failure_is_a_plain_skip() {
        let mut run = fixture::run();
        run.scenarios[5].known_failure = true;
        let xml = render(&run);
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let skip = case(&doc, "rfc2595.stls.offered")
            .first_element_child()
            .unwrap();
        assert_eq!(skip.tag_name().name(), "skipped");
        assert_eq!(attr(skip, "message"), "requires STLS");
    }

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00");
        assert_eq!(timestamp(951_782_400), "2000-02-29T00:00:00");
        assert_eq!(timestamp(1_709_251_199), "2024-02-29T23:59:59");
        assert_eq!(timestamp(4_107_542_400), "2100-03-01T00:00:00");
    }

    /// Jenkins' schema, from the `shared/` folder laid beside the repository.
    fn schema() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/schemas/junit-10.xsd")
    }

    /// `Some(passed)` from xmllint, or `None` when it cannot run here; CI must run it.
    fn xmllint(xml: &str, name: &str) -> Option<bool> {
        let file =
            std::env::temp_dir().join(format!("pop3spec-junit-{}-{name}.xml", std::process::id()));
        std::fs::write(&file, xml).unwrap();
        let output = Command::new("xmllint")
            .args(["--noout", "--schema"])
            .arg(schema())
            .arg(&file)
            .output();
        std::fs::remove_file(&file).unwrap();
        match output {
            Ok(output) if schema().is_file() => {
                eprintln!("{}", String::from_utf8_lossy(&output.stderr));
                Some(output.status.success())
            }
            _ if std::env::var_os("CI").is_some() => {
                panic!(
                    "xmllint or {} missing: install libxml2-utils",
                    schema().display()
                )
            }
            _ => {
                eprintln!("notice: xmllint or the JUnit schema missing; schema validation skipped");
                None
            }
        }
    }

    #[test]
    fn validates_against_jenkins_schema() {
        let mut run = fixture::run();
        if xmllint(&render(&run), "lenient") == Some(false) {
            panic!("lenient report is not valid JUnit:\n{}", render(&run));
        }
        run.strict = true;
        assert_ne!(
            xmllint(&render(&run), "strict"),
            Some(false),
            "strict report is not valid JUnit"
        );
        // The check can fail at all: a suite without its required attributes.
        let broken = "<testsuites><testsuite name=\"x\"/></testsuites>";
        assert_ne!(
            xmllint(broken, "broken"),
            Some(true),
            "xmllint accepted an invalid report"
        );
    }
}
