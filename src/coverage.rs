//! The coverage map (`pop3spec list --coverage`): which RFC requirements the
//! suite's scenarios check, one requirement being one RFC sentence (or clause)
//! with its keyword, as curated in `scenarios/requirements.yaml`.
//!
//! A scenario names what it checks (`checks: [requirement-ids]`); a requirement
//! is credited with exactly the scenarios that name it, and with the reference
//! server faults those scenarios `catch` (which `pop3spec selftest` proves). So
//! the map says per requirement whether a server that breaks it is known to be
//! caught (covered with a fault), is claimed to be caught without a fault that
//! shows it (covered without a fault), is not checked at all (uncovered), or
//! cannot be seen from the wire (untestable, with the reason).
//!
//! Scenarios whose file sits under a `client/` folder judge POP3 clients, not
//! servers: they are left out of this map.

pub use crate::scenario::requirements::{
    requirements_for, Binds, Requirement, Requirements, Section, Strength, Supporting,
};
pub use crate::scenario::spec::{parse_spec, Citation};
use crate::scenario::Scenario;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::path::Path;

/// The file name of the curated requirements, in the scenario folder.
pub const REQUIREMENTS_FILE: &str = crate::scenario::load::REQUIREMENTS_FILE;

/// How to rebuild the committed map.
pub const REGENERATE: &str = "cargo run -q -- list --coverage > scenarios/COVERAGE.md";

/// Whether a scenario judges a POP3 client rather than a server: its file sits
/// in a `client/` folder right below the suite folder (`scenarios/client/...`),
/// or, outside a `scenarios` folder, in any folder named `client`. Such
/// scenarios are not part of the server map.
pub fn is_client_scenario(file: &Path) -> bool {
    let parts: Vec<&std::ffi::OsStr> = file
        .parent()
        .map(|d| d.components().map(|c| c.as_os_str()).collect())
        .unwrap_or_default();
    match parts.iter().rposition(|p| *p == "scenarios") {
        Some(i) => parts
            .get(i + 1)
            .is_some_and(|p| *p == crate::scenario::load::CLIENT_DIR),
        None => parts
            .iter()
            .any(|p| *p == crate::scenario::load::CLIENT_DIR),
    }
}

// ------------------------------------------------------------------- the map

/// Where a requirement stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Scenarios check it and at least one of them lists a fault it catches.
    CoveredWithFault,
    /// Scenarios check it, but none lists a fault that proves it bites.
    CoveredWithoutFault,
    /// Testable, but no scenario checks it.
    Uncovered,
    /// Not observable by a server suite (`why` says why).
    Untestable,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::CoveredWithFault,
        Status::CoveredWithoutFault,
        Status::Uncovered,
        Status::Untestable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::CoveredWithFault => "covered-with-fault",
            Status::CoveredWithoutFault => "covered-without-fault",
            Status::Uncovered => "uncovered",
            Status::Untestable => "untestable",
        }
    }
}

/// A scenario credited to a requirement.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Credit {
    pub id: String,
    pub level: &'static str,
}

/// One requirement with what the suite does about it.
#[derive(Clone, Debug)]
pub struct Row {
    pub key: Citation,
    pub title: String,
    pub requirement: Requirement,
    /// Scenarios at level must or should: a server that breaks the requirement
    /// gets a verdict from them.
    pub scenarios: Vec<Credit>,
    /// Scenarios at level info that name it: they report what a server does
    /// and never fail, so they do not cover it.
    pub reported_by: Vec<Credit>,
    /// The union of the judging scenarios' `catches`.
    pub faults: BTreeSet<String>,
}

impl Row {
    pub fn status(&self) -> Status {
        if !self.requirement.testable {
            Status::Untestable
        } else if self.scenarios.is_empty() {
            Status::Uncovered
        } else if self.faults.is_empty() {
            Status::CoveredWithoutFault
        } else {
            Status::CoveredWithFault
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// A testable requirement no scenario checks.
    Uncovered(String),
    /// A requirement some scenario now checks still says why it is uncovered.
    StaleUncovered(String),
    /// A scenario names a requirement requirements.yaml does not list.
    Unknown {
        scenario: String,
        requirement: String,
    },
    /// A scenario claims to check a requirement no server suite can judge.
    ChecksUntestable {
        scenario: String,
        requirement: String,
    },
    /// A server scenario that names no requirement.
    NoChecks(String),
    /// A scenario's spec string does not parse.
    Malformed {
        id: String,
        spec: String,
        reason: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Uncovered(r) => write!(f, "uncovered: {r} is testable but no scenario checks it"),
            Problem::StaleUncovered(r) => write!(
                f,
                "stale: {r} is checked by a scenario now; remove its `uncovered:` reason from {REQUIREMENTS_FILE}"
            ),
            Problem::Unknown { scenario, requirement } => write!(
                f,
                "unknown: {scenario} checks `{requirement}`, which {REQUIREMENTS_FILE} does not list"
            ),
            Problem::ChecksUntestable { scenario, requirement } => write!(
                f,
                "untestable: {scenario} checks `{requirement}`, which {REQUIREMENTS_FILE} marks untestable"
            ),
            Problem::NoChecks(id) => write!(f, "no checks: {id} names no requirement in `checks:`"),
            Problem::Malformed { id, spec, reason } => {
                write!(f, "malformed: {id}: spec `{spec}`: {reason}")
            }
        }
    }
}

/// The requirements in requirements.yaml order, with their credited scenarios.
#[derive(Clone, Debug)]
pub struct Map {
    pub rows: Vec<Row>,
    pub supporting: Vec<Supporting>,
    pub problems: Vec<Problem>,
}

/// What the map needs of a scenario.
pub struct Cited<'a> {
    pub id: &'a str,
    pub level: crate::outcome::Level,
    pub spec: &'a str,
    pub checks: &'a [String],
    pub catches: &'a [String],
}

impl<'a> From<&'a Scenario> for Cited<'a> {
    fn from(s: &'a Scenario) -> Self {
        Cited {
            id: &s.id,
            level: s.level,
            spec: &s.spec,
            checks: &s.checks,
            catches: &s.catches,
        }
    }
}

/// Builds the map from server scenarios (client scenarios are the caller's to
/// leave out).
pub fn build<'a>(
    requirements: &Requirements,
    scenarios: impl IntoIterator<Item = Cited<'a>>,
) -> Map {
    let mut rows = Vec::new();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (section, r) in requirements.all() {
        let key = parse_spec(&section.spec)
            .ok()
            .and_then(|c| c.into_iter().next())
            .expect("validated when requirements.yaml was read");
        index.insert(r.id.as_str(), rows.len());
        rows.push(Row {
            key,
            title: section.title.clone(),
            requirement: r.clone(),
            scenarios: Vec::new(),
            reported_by: Vec::new(),
            faults: BTreeSet::new(),
        });
    }
    let mut problems = Vec::new();
    let mut later = Vec::new();
    for s in scenarios {
        if let Err(reason) = parse_spec(s.spec) {
            later.push(Problem::Malformed {
                id: s.id.to_string(),
                spec: s.spec.to_string(),
                reason,
            });
        }
        if s.checks.is_empty() {
            later.push(Problem::NoChecks(s.id.to_string()));
        }
        for check in s.checks {
            let Some(&i) = index.get(check.as_str()) else {
                later.push(Problem::Unknown {
                    scenario: s.id.to_string(),
                    requirement: check.clone(),
                });
                continue;
            };
            let row = &mut rows[i];
            let credit = Credit {
                id: s.id.to_string(),
                level: s.level.as_str(),
            };
            // An info scenario never fails, so it covers nothing; it may
            // report on a permission as well as on a rule.
            if s.level == crate::outcome::Level::Info {
                row.reported_by.push(credit);
                continue;
            }
            if !row.requirement.testable {
                later.push(Problem::ChecksUntestable {
                    scenario: s.id.to_string(),
                    requirement: check.clone(),
                });
            }
            row.scenarios.push(credit);
            row.faults.extend(s.catches.iter().cloned());
        }
    }
    for r in &mut rows {
        r.scenarios.sort();
        r.scenarios.dedup();
        r.reported_by.sort();
        r.reported_by.dedup();
        if r.status() == Status::Uncovered {
            problems.push(Problem::Uncovered(r.requirement.id.clone()));
        } else if r.requirement.uncovered.is_some() {
            problems.push(Problem::StaleUncovered(r.requirement.id.clone()));
        }
    }
    problems.extend(later);
    Map {
        rows,
        supporting: requirements.supporting.clone(),
        problems,
    }
}

// ---------------------------------------------------------------- rendering

impl Map {
    /// The RFCs in order of first appearance in requirements.yaml.
    fn rfcs(&self) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::new();
        for r in &self.rows {
            if !out.contains(&r.key.rfc) {
                out.push(r.key.rfc);
            }
        }
        out
    }

    /// `[requirements, then one count per Status::ALL]`, for one RFC or all.
    pub fn counts(&self, rfc: Option<u32>) -> [usize; 5] {
        let mut n = [0; 5];
        for r in self
            .rows
            .iter()
            .filter(|r| rfc.is_none_or(|x| r.key.rfc == x))
        {
            n[0] += 1;
            let at = Status::ALL
                .iter()
                .position(|s| *s == r.status())
                .unwrap_or(0);
            n[1 + at] += 1;
        }
        n
    }

    pub fn render_markdown(&self) -> String {
        let mut out = String::new();
        let w = &mut out;
        let _ = writeln!(w, "# Coverage of the RFC requirements\n");
        let _ = writeln!(
            w,
            "Generated by `pop3spec list --coverage` from `scenarios/{REQUIREMENTS_FILE}` \
             (every keyword sentence of the RFCs, one requirement each) and the `checks:` \
             and `catches:` fields of every server scenario. Do not edit by hand; \
             regenerate with\n`{REGENERATE}`.\n"
        );
        let _ = writeln!(
            w,
            "A requirement is credited with the scenarios that name it in `checks:` (a \
             scenario names a requirement only if a server that breaks it would fail the \
             scenario) at level must or should, and with the reference-server faults those \
             scenarios list in `catches:` (`pop3spec selftest` proves each one is caught). Its status is \
             *covered-with-fault* when some crediting scenario lists a fault, \
             *covered-without-fault* when scenarios check it but no fault proves that \
             they bite, *uncovered* when it is testable and no scenario checks it, and \
             *untestable* when a server suite cannot observe it (the reason is given). \
             A scenario's faults are credited to every requirement it checks, so a fault \
             listed here may target another requirement of the same scenario: read \
             covered-with-fault as \"its scenarios are proven to catch something\". \
             Scenarios at level info name what they report on but never fail, so they \
             are listed and cover nothing. Scenarios under `scenarios/client/` judge \
             clients and are not counted here.\n"
        );
        let _ = writeln!(w, "## Summary\n");
        let _ = writeln!(
            w,
            "| RFC | Requirements | Covered with fault | Covered without fault | Uncovered | Untestable |"
        );
        let _ = writeln!(w, "| --- | ---: | ---: | ---: | ---: | ---: |");
        for rfc in self.rfcs() {
            let [n, a, b, c, d] = self.counts(Some(rfc));
            let _ = writeln!(w, "| RFC {rfc} | {n} | {a} | {b} | {c} | {d} |");
        }
        let [n, a, b, c, d] = self.counts(None);
        let _ = writeln!(
            w,
            "| **Total** | **{n}** | **{a}** | **{b}** | **{c}** | **{d}** |\n"
        );
        let uncovered: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| r.status() == Status::Uncovered)
            .collect();
        if !uncovered.is_empty() {
            let _ = writeln!(w, "## Uncovered testable requirements\n");
            for r in uncovered {
                let _ = write!(
                    w,
                    "- `{}` ({}, {})",
                    r.requirement.id,
                    r.key,
                    r.requirement.level.as_str()
                );
                match &r.requirement.uncovered {
                    Some(why) => {
                        let why = why.split_whitespace().collect::<Vec<_>>().join(" ");
                        let _ = writeln!(w, ": {why}");
                    }
                    None => {
                        let _ = writeln!(w, ": no reason given");
                    }
                }
            }
            let _ = writeln!(w);
        }
        for rfc in self.rfcs() {
            let _ = writeln!(w, "## RFC {rfc}\n");
            let mut last: Option<&Citation> = None;
            for r in self.rows.iter().filter(|r| r.key.rfc == rfc) {
                if last != Some(&r.key) {
                    let _ = writeln!(w, "### {}\n", heading(r));
                    last = Some(&r.key);
                }
                render_row(w, r);
            }
        }
        if !self.supporting.is_empty() {
            let _ = writeln!(w, "## Supporting references\n");
            let _ = writeln!(
                w,
                "Scenarios may cite these for definitions the POP3 rules rely on; they hold no requirement of their own here.\n"
            );
            for s in &self.supporting {
                let _ = writeln!(w, "- RFC {}: {}", s.rfc, s.title);
            }
            let _ = writeln!(w);
        }
        let listed: Vec<&Problem> = self
            .problems
            .iter()
            .filter(|p| !matches!(p, Problem::Uncovered(_)))
            .collect();
        if !listed.is_empty() {
            let _ = writeln!(w, "## Problems\n");
            for p in listed {
                let _ = writeln!(w, "- {p}");
            }
            let _ = writeln!(w);
        }
        while out.ends_with("\n\n") {
            out.pop();
        }
        out
    }
}

/// `§5 LIST [msg]` rather than `§5 (LIST) LIST [msg]` when the title names the topic.
fn heading(r: &Row) -> String {
    let label = match &r.key.topic {
        Some(t) if r.title.starts_with(t.as_str()) => r.key.untopic().section_label(),
        _ => r.key.section_label(),
    };
    format!("{label} {}", r.title)
}

fn render_row(w: &mut String, r: &Row) {
    let q = &r.requirement;
    let _ = writeln!(
        w,
        "#### `{}`: {} ({}, {})\n",
        q.id,
        r.status().as_str(),
        q.level.as_str(),
        q.binds.as_str()
    );
    let quote = q.quote.split_whitespace().collect::<Vec<_>>().join(" ");
    let _ = writeln!(w, "> {quote}\n");
    if let Some(note) = &q.note {
        let _ = writeln!(w, "Reading: {}\n", note.trim());
    }
    if let Some(why) = &q.why {
        let _ = writeln!(w, "Why untestable: {}\n", why.trim());
    }
    if let Some(why) = q
        .uncovered
        .as_ref()
        .filter(|_| r.status() == Status::Uncovered)
    {
        let _ = writeln!(w, "Why uncovered: {}\n", why.trim());
    }
    if !r.scenarios.is_empty() {
        let list: Vec<String> = r
            .scenarios
            .iter()
            .map(|c| format!("`{}` ({})", c.id, c.level))
            .collect();
        let _ = writeln!(w, "Scenarios: {}\n", list.join(", "));
    }
    if !r.reported_by.is_empty() {
        let list: Vec<String> = r
            .reported_by
            .iter()
            .map(|c| format!("`{}`", c.id))
            .collect();
        let _ = writeln!(w, "Reported (info, never fails) by: {}\n", list.join(", "));
    }
    if !r.faults.is_empty() {
        let list: Vec<String> = r.faults.iter().map(|f| format!("`{f}`")).collect();
        let _ = writeln!(w, "Faults: {}\n", list.join(", "));
    }
}

// ------------------------------------------------------------------ command

/// requirements.yaml for a `list` selection: `explicit`, else the one in the
/// first scenario folder that has one, else the default scenario folder's.
pub fn requirements_path(
    explicit: Option<&Path>,
    folders: &[std::path::PathBuf],
) -> std::path::PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    folders
        .iter()
        .map(|d| d.join(REQUIREMENTS_FILE))
        .find(|p| p.is_file())
        .unwrap_or_else(|| crate::suite::default_scenario_dir().join(REQUIREMENTS_FILE))
}

/// `pop3spec list --coverage`: the Markdown on stdout; exit 0 without problems,
/// 1 with them listed on stderr (uncovered requirements among them), 2 when
/// requirements.yaml is unusable.
pub fn list(scenarios: &[Scenario], requirements: &Path) -> u8 {
    use std::io::Write;
    let map = match Requirements::load(requirements) {
        Ok(r) => build(
            &r,
            scenarios
                .iter()
                .filter(|s| !is_client_scenario(&s.file))
                .map(Cited::from),
        ),
        Err(e) => {
            eprintln!("error: {e}");
            return crate::exit::EXIT_USAGE;
        }
    };
    let _ = writeln!(std::io::stdout().lock(), "{}", map.render_markdown());
    if map.problems.is_empty() {
        return crate::exit::EXIT_OK;
    }
    let mut err = std::io::stderr().lock();
    for p in &map.problems {
        let _ = writeln!(err, "{p}");
    }
    let _ = writeln!(err, "{} coverage problem(s)", map.problems.len());
    crate::exit::EXIT_FAILED
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Level;

    const REQ: &str = "\
supporting:
  - { rfc: 4616, title: PLAIN }
sections:
  - spec: RFC 1939 §3
    title: Basic Operation
    requirements:
      - { id: rfc1939.s3.a, quote: A MUST, level: must }
      - { id: rfc1939.s3.b, quote: B MUST, level: must }
      - { id: rfc1939.s3.c, quote: C MUST, level: must }
      - { id: rfc1939.s3.d, quote: client must, level: none, binds: client, testable: false, why: client rule }
";

    fn cited<'a>(id: &'a str, checks: &'a [String], catches: &'a [String]) -> Cited<'a> {
        Cited {
            id,
            level: Level::Must,
            spec: "RFC 1939 §3",
            checks,
            catches,
        }
    }

    #[test]
    fn status_per_requirement() {
        let r = Requirements::parse(REQ).unwrap();
        let a = vec!["rfc1939.s3.a".to_string()];
        let ab = vec!["rfc1939.s3.a".to_string(), "rfc1939.s3.b".to_string()];
        let fault = vec!["some-fault".to_string()];
        let map = build(
            &r,
            [
                cited("x", &a, &fault),
                cited("y", &ab, &[]),
                cited("z", &[], &[]),
            ],
        );
        let status: Vec<Status> = map.rows.iter().map(Row::status).collect();
        assert_eq!(
            status,
            [
                Status::CoveredWithFault,
                Status::CoveredWithoutFault,
                Status::Uncovered,
                Status::Untestable
            ]
        );
        assert_eq!(
            map.rows[0].faults.iter().collect::<Vec<_>>(),
            ["some-fault"]
        );
        assert_eq!(map.rows[0].scenarios.len(), 2);
        assert_eq!(
            map.problems,
            [
                Problem::Uncovered("rfc1939.s3.c".into()),
                Problem::NoChecks("z".into())
            ]
        );
        assert_eq!(map.counts(None), [4, 1, 1, 1, 1]);
    }

    /// An uncovered requirement shows its reason beside the gap; a reason
    /// left on a requirement a scenario now checks is a problem, so reasons
    /// cannot outlive the gap they explain.
    #[test]
    fn uncovered_reasons_are_shown_and_cannot_go_stale() {
        let text = REQ
            .replace(
                "quote: B MUST, level: must }",
                "quote: B MUST, level: must, uncovered: needs a second server }",
            )
            .replace(
                "quote: C MUST, level: must }",
                "quote: C MUST, level: must, uncovered: needs a clock }",
            );
        let r = Requirements::parse(&text).unwrap();
        let b = vec!["rfc1939.s3.b".to_string()];
        let map = build(&r, [cited("x", &b, &[])]);
        let md = map.render_markdown();
        assert!(
            md.contains("- `rfc1939.s3.c` (RFC 1939 §3, must): needs a clock\n"),
            "{md}"
        );
        assert!(md.contains("Why uncovered: needs a clock"), "{md}");
        assert!(!md.contains("needs a second server"), "{md}");
        assert!(map
            .problems
            .contains(&Problem::StaleUncovered("rfc1939.s3.b".into())));
        assert!(map
            .problems
            .contains(&Problem::Uncovered("rfc1939.s3.c".into())));
        let untestable = REQ.replace("why: client rule }", "why: client rule, uncovered: x }");
        assert!(Requirements::parse(&untestable).is_err());
    }

    #[test]
    fn info_scenarios_report_but_do_not_cover() {
        let r = Requirements::parse(REQ).unwrap();
        let c_and_d = vec!["rfc1939.s3.c".to_string(), "rfc1939.s3.d".to_string()];
        let mut s = cited("i", &c_and_d, &[]);
        s.level = Level::Info;
        let map = build(&r, [s]);
        assert_eq!(map.rows[2].status(), Status::Uncovered);
        assert_eq!(map.rows[2].reported_by.len(), 1);
        assert!(map.rows[2].scenarios.is_empty());
        // Reporting on an untestable sentence is no problem for an info scenario.
        assert!(!map
            .problems
            .iter()
            .any(|p| matches!(p, Problem::ChecksUntestable { .. })));
    }

    #[test]
    fn client_scenarios_are_told_apart() {
        assert!(is_client_scenario(Path::new(
            "scenarios/client/retr/a.yaml"
        )));
        assert!(is_client_scenario(Path::new(
            "/home/client/pop3spec/scenarios/client/a.yaml"
        )));
        assert!(!is_client_scenario(Path::new(
            "/home/client/pop3spec/scenarios/rfc1939/a.yaml"
        )));
        assert!(is_client_scenario(Path::new("mine/client/a.yaml")));
        assert!(!is_client_scenario(Path::new("mine/server/a.yaml")));
    }
}
