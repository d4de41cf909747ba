//! The coverage map (`pop3spec list --coverage`): which RFC sections the suite's
//! scenarios check, built from every scenario's `spec:` field and the curated
//! list of server requirements in `scenarios/requirements.yaml`.
//!
//! Spec strings are parsed by `scenario::spec`.
//!
//! # How a citation counts
//!
//! Each cited section is credited to exactly one entry of `requirements.yaml`:
//!
//! 1. a topic (`§5 (LIST)`) goes to the entry `§5 (LIST)`; if the section has
//!    per-topic entries but not this topic, the citation is unmapped; if it has
//!    none, the topic is only descriptive and step 2 applies;
//! 2. otherwise the section's own entry (`§8.1.2`), else its nearest ancestor
//!    with an entry (`§8.1`, then `§8`); so a subsection counts for its parent
//!    only when it has no entry of its own, and a parent is never credited for
//!    its listed subsections;
//! 3. a whole-RFC citation, or a section with no entry up its ancestry, is
//!    unmapped, except for RFCs listed under `supporting:` (accepted, not mapped).
//!
//! An entry is *covered* when a scenario is credited to it, *untestable* when none
//! is and it lists no requirement (only an `untestable` reason), and *uncovered*
//! otherwise.

use crate::outcome::Level;
pub use crate::scenario::spec::{parse_spec, Citation};
use crate::scenario::Scenario;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::path::Path;

/// The file name of the curated requirements, in the scenario folder.
pub const REQUIREMENTS_FILE: &str = crate::scenario::load::REQUIREMENTS_FILE;

/// How to rebuild the committed map.
pub const REGENERATE: &str = "cargo run -q -- list --coverage > scenarios/COVERAGE.md";

// ------------------------------------------------------------ requirements.yaml

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirements {
    #[serde(default)]
    pub supporting: Vec<Supporting>,
    pub sections: Vec<Entry>,
}

/// An RFC scenarios may cite for definitions; not mapped.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Supporting {
    pub rfc: u32,
    pub title: String,
}

/// One section of requirements.yaml.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub spec: String,
    pub title: String,
    #[serde(default)]
    pub requirements: Vec<String>,
    #[serde(default)]
    pub untestable: Option<String>,
}

impl Requirements {
    pub fn parse(text: &str) -> Result<Requirements, String> {
        serde_saphyr::from_str(text).map_err(|e| e.to_string())
    }

    pub fn load(path: &Path) -> Result<Requirements, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Requirements::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

// ------------------------------------------------------------------- the map

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Covered,
    Untestable,
    Uncovered,
}

/// A scenario credited to a section.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Credit {
    pub id: String,
    pub level: &'static str,
}

#[derive(Clone, Debug)]
pub struct Section {
    pub key: Citation,
    pub entry: Entry,
    pub scenarios: Vec<Credit>,
}

impl Section {
    pub fn status(&self) -> Status {
        if !self.scenarios.is_empty() {
            Status::Covered
        } else if self.entry.requirements.is_empty() {
            Status::Untestable
        } else {
            Status::Uncovered
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// A section with testable requirements that no scenario cites.
    Uncovered(Citation),
    /// A scenario cites a section requirements.yaml does not list.
    Unmapped { id: String, citation: Citation },
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
            Problem::Uncovered(c) => write!(f, "uncovered: {c} states testable requirements but no scenario cites it"),
            Problem::Unmapped { id, citation } if citation.section.is_none() => write!(
                f,
                "unmapped: {id} cites {citation} without a section (and it is not a supporting RFC in {REQUIREMENTS_FILE})"
            ),
            Problem::Unmapped { id, citation } => write!(
                f,
                "unmapped: {id} cites {citation}, which {REQUIREMENTS_FILE} does not list"
            ),
            Problem::Malformed { id, spec, reason } => {
                write!(f, "malformed: {id}: spec `{spec}`: {reason}")
            }
        }
    }
}

/// The sections in requirements.yaml order, with their credited scenarios.
#[derive(Clone, Debug)]
pub struct Map {
    pub sections: Vec<Section>,
    pub supporting: Vec<(Supporting, Vec<Credit>)>,
    pub problems: Vec<Problem>,
}

/// What the map needs of a scenario.
pub struct Cited<'a> {
    pub id: &'a str,
    pub level: Level,
    pub spec: &'a str,
}

impl<'a> From<&'a Scenario> for Cited<'a> {
    fn from(s: &'a Scenario) -> Self {
        Cited {
            id: &s.id,
            level: s.level,
            spec: &s.spec,
        }
    }
}

/// Builds the map. Err is a broken requirements file (bad or duplicate `spec`,
/// an entry with neither requirements nor an untestable reason).
pub fn build<'a>(
    requirements: &Requirements,
    scenarios: impl IntoIterator<Item = Cited<'a>>,
) -> Result<Map, String> {
    let mut sections = Vec::new();
    let mut index: BTreeMap<Citation, usize> = BTreeMap::new();
    for entry in &requirements.sections {
        let key = match parse_spec(&entry.spec).as_deref() {
            Ok([c]) if c.section.is_some() => c.clone(),
            Ok(_) => {
                return Err(format!(
                    "{REQUIREMENTS_FILE}: `{}`: an entry names exactly one section (with at most one topic)",
                    entry.spec
                ))
            }
            Err(e) => return Err(format!("{REQUIREMENTS_FILE}: {e}")),
        };
        if entry.requirements.is_empty() && entry.untestable.is_none() {
            return Err(format!(
                "{REQUIREMENTS_FILE}: `{}`: give its requirements or an `untestable` reason",
                entry.spec
            ));
        }
        if index.insert(key.clone(), sections.len()).is_some() {
            return Err(format!(
                "{REQUIREMENTS_FILE}: `{}` is listed twice",
                entry.spec
            ));
        }
        sections.push(Section {
            key,
            entry: entry.clone(),
            scenarios: Vec::new(),
        });
    }
    let topical: BTreeSet<Citation> = index
        .keys()
        .filter(|k| k.topic.is_some())
        .map(Citation::untopic)
        .collect();
    let mut supporting: Vec<(Supporting, Vec<Credit>)> = requirements
        .supporting
        .iter()
        .map(|s| (s.clone(), Vec::new()))
        .collect();
    let mut problems = Vec::new();
    let mut unmapped = Vec::new();
    for s in scenarios {
        let credit = Credit {
            id: s.id.to_string(),
            level: s.level.as_str(),
        };
        let citations = match parse_spec(s.spec) {
            Ok(c) => c,
            Err(reason) => {
                problems.push(Problem::Malformed {
                    id: s.id.to_string(),
                    spec: s.spec.to_string(),
                    reason,
                });
                continue;
            }
        };
        for c in citations {
            if let Some((_, credits)) = supporting.iter_mut().find(|(r, _)| r.rfc == c.rfc) {
                credits.push(credit.clone());
            } else if let Some(i) = resolve(&c, &index, &topical) {
                sections[i].scenarios.push(credit.clone());
            } else {
                unmapped.push(Problem::Unmapped {
                    id: s.id.to_string(),
                    citation: c,
                });
            }
        }
    }
    for s in &mut sections {
        s.scenarios.sort();
        s.scenarios.dedup();
    }
    for (_, credits) in &mut supporting {
        credits.sort();
        credits.dedup();
    }
    let mut found: Vec<Problem> = sections
        .iter()
        .filter(|s| s.status() == Status::Uncovered)
        .map(|s| Problem::Uncovered(s.key.clone()))
        .collect();
    found.extend(unmapped);
    found.extend(problems);
    Ok(Map {
        sections,
        supporting,
        problems: found,
    })
}

/// The entry a citation is credited to (see the module documentation).
fn resolve(
    c: &Citation,
    index: &BTreeMap<Citation, usize>,
    topical: &BTreeSet<Citation>,
) -> Option<usize> {
    c.section.as_ref()?;
    if c.topic.is_some() {
        if let Some(&i) = index.get(c) {
            return Some(i);
        }
        if topical.contains(&c.untopic()) {
            return None;
        }
    }
    let mut at = Some(c.untopic());
    while let Some(k) = at {
        if let Some(&i) = index.get(&k) {
            return Some(i);
        }
        at = k.parent();
    }
    None
}

// ---------------------------------------------------------------- rendering

impl Map {
    /// The RFCs in order of first appearance in requirements.yaml.
    fn rfcs(&self) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::new();
        for s in &self.sections {
            if !out.contains(&s.key.rfc) {
                out.push(s.key.rfc);
            }
        }
        out
    }

    fn counts(&self, rfc: Option<u32>) -> [usize; 4] {
        let mut n = [0; 4];
        for s in self
            .sections
            .iter()
            .filter(|s| rfc.is_none_or(|r| s.key.rfc == r))
        {
            n[0] += 1;
            n[match s.status() {
                Status::Covered => 1,
                Status::Untestable => 2,
                Status::Uncovered => 3,
            }] += 1;
        }
        n
    }

    /// `[sections, covered, untestable, uncovered]` over all RFCs.
    pub fn totals(&self) -> [usize; 4] {
        self.counts(None)
    }

    pub fn render_markdown(&self) -> String {
        let mut out = String::new();
        let w = &mut out;
        let _ = writeln!(w, "# Coverage of the RFC server requirements\n");
        let _ = writeln!(
            w,
            "Generated by `pop3spec list --coverage` from `scenarios/{REQUIREMENTS_FILE}` \
             (the curated server requirements of each RFC section) and the `spec:` field of \
             every scenario. Do not edit by hand; regenerate with\n`{REGENERATE}`.\n"
        );
        let _ = writeln!(
            w,
            "A scenario citing a section is credited to that section's entry; a subsection \
             without an entry of its own (`§8.1`) counts for its nearest listed ancestor \
             (`§8`), and a parent is never credited for its listed subsections. `§5 (LIST)` \
             counts for the per-command entry `§5 (LIST)`. A section is *covered* when a \
             scenario is credited to it, *untestable* when it states nothing a client can \
             observe, and *uncovered* otherwise.\n"
        );
        let _ = writeln!(w, "## Summary\n");
        let _ = writeln!(w, "| RFC | Sections | Covered | Untestable | Uncovered |");
        let _ = writeln!(w, "| --- | ---: | ---: | ---: | ---: |");
        for rfc in self.rfcs() {
            let [n, c, u, x] = self.counts(Some(rfc));
            let _ = writeln!(w, "| RFC {rfc} | {n} | {c} | {u} | {x} |");
        }
        let [n, c, u, x] = self.totals();
        let _ = writeln!(w, "| **Total** | **{n}** | **{c}** | **{u}** | **{x}** |\n");
        for rfc in self.rfcs() {
            let _ = writeln!(w, "## RFC {rfc}\n");
            for s in self.sections.iter().filter(|s| s.key.rfc == rfc) {
                render_section(w, s);
            }
        }
        if self.supporting.iter().any(|(_, c)| !c.is_empty()) {
            let _ = writeln!(w, "## Supporting references\n");
            let _ = writeln!(
                w,
                "Cited for definitions the POP3 rules rely on; not mapped section by section.\n"
            );
            for (r, credits) in self.supporting.iter().filter(|(_, c)| !c.is_empty()) {
                let _ = writeln!(w, "### RFC {}: {}\n", r.rfc, r.title);
                render_credits(w, credits);
            }
        }
        if !self.problems.is_empty() {
            let _ = writeln!(w, "## Problems\n");
            for p in &self.problems {
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

fn render_section(w: &mut String, s: &Section) {
    // `§5 LIST [msg]` rather than `§5 (LIST) LIST [msg]` when the title names the topic.
    let label = match &s.key.topic {
        Some(t) if s.entry.title.starts_with(t.as_str()) => s.key.untopic().section_label(),
        _ => s.key.section_label(),
    };
    let _ = writeln!(w, "### {label} {}\n", s.entry.title);
    match s.status() {
        Status::Covered => {
            let n = s.scenarios.len();
            let _ = writeln!(
                w,
                "**Covered** by {n} scenario{}.\n",
                if n == 1 { "" } else { "s" }
            );
        }
        Status::Untestable => {
            let _ = writeln!(w, "**Untestable** from a client.\n");
        }
        Status::Uncovered => {
            let _ = writeln!(w, "**Uncovered**: no scenario cites it yet.\n");
        }
    }
    if !s.entry.requirements.is_empty() {
        let _ = writeln!(w, "Requirements:\n");
        for r in &s.entry.requirements {
            let _ = writeln!(w, "- {r}");
        }
        let _ = writeln!(w);
    }
    if let Some(reason) = &s.entry.untestable {
        let what = if s.entry.requirements.is_empty() {
            "Why untestable"
        } else {
            "Not observable from a client"
        };
        let _ = writeln!(w, "{what}: {}\n", reason.trim());
    }
    if !s.scenarios.is_empty() {
        render_credits(w, &s.scenarios);
    }
}

fn render_credits(w: &mut String, credits: &[Credit]) {
    let _ = writeln!(w, "Scenarios:\n");
    for c in credits {
        let _ = writeln!(w, "- `{}` ({})", c.id, c.level);
    }
    let _ = writeln!(w);
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
        .unwrap_or_else(|| crate::select::default_scenario_dir().join(REQUIREMENTS_FILE))
}

/// `pop3spec list --coverage`: the Markdown on stdout; exit 0 without problems,
/// 1 with them listed on stderr, 2 when requirements.yaml is unusable.
pub fn list(scenarios: &[Scenario], requirements: &Path) -> u8 {
    use std::io::Write;
    let map = match Requirements::load(requirements)
        .and_then(|r| build(&r, scenarios.iter().map(Cited::from)))
    {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return crate::app::EXIT_USAGE;
        }
    };
    let _ = writeln!(std::io::stdout().lock(), "{}", map.render_markdown());
    if map.problems.is_empty() {
        return crate::app::EXIT_OK;
    }
    let mut err = std::io::stderr().lock();
    for p in &map.problems {
        let _ = writeln!(err, "{p}");
    }
    let _ = writeln!(err, "{} coverage problem(s)", map.problems.len());
    crate::app::EXIT_FAILED
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(rfc: u32, s: &str, t: Option<&str>) -> Citation {
        Citation::new(rfc, Some(s), t)
    }

    const REQ: &str = "\
supporting:
  - { rfc: 4616, title: PLAIN }
sections:
  - { spec: RFC 1939 §5, title: T, requirements: [a] }
  - { spec: RFC 1939 §5 (LIST), title: LIST, requirements: [a] }
  - { spec: RFC 2449 §8, title: Codes, requirements: [a] }
  - { spec: RFC 2449 §8.1.2, title: IN-USE, requirements: [a] }
  - { spec: RFC 1939 §10, title: Example, untestable: illustration }
";

    fn cited<'a>(id: &'a str, spec: &'a str) -> Cited<'a> {
        Cited {
            id,
            level: Level::Must,
            spec,
        }
    }

    #[test]
    fn credits_most_specific_entry() {
        let r = Requirements::parse(REQ).unwrap();
        let map = build(
            &r,
            [
                cited("a", "RFC 1939 §5 (LIST, STAT)"),
                cited("b", "RFC 2449 §8.1.1; RFC 4616"),
                cited("c", "RFC 1939 §5 (FOO)"),
                cited("d", "RFC 2449 §8.1.2"),
                cited("e", "RFC 1939 6"),
            ],
        )
        .unwrap();
        let ids = |i: usize| -> Vec<&str> {
            map.sections[i]
                .scenarios
                .iter()
                .map(|c| c.id.as_str())
                .collect()
        };
        assert_eq!(ids(0), Vec::<&str>::new());
        assert_eq!(ids(1), ["a"]);
        assert_eq!(ids(2), ["b"]);
        assert_eq!(ids(3), ["d"]);
        assert_eq!(map.sections[4].status(), Status::Untestable);
        assert_eq!(map.supporting[0].1.len(), 1);
        assert_eq!(
            map.problems,
            vec![
                Problem::Uncovered(c(1939, "5", None)),
                Problem::Unmapped {
                    id: "a".into(),
                    citation: c(1939, "5", Some("STAT"))
                },
                Problem::Unmapped {
                    id: "c".into(),
                    citation: c(1939, "5", Some("FOO"))
                },
                Problem::Malformed {
                    id: "e".into(),
                    spec: "RFC 1939 6".into(),
                    reason: "`RFC 1939 6`: `6` is not a section (`§N` or `§N.M`)".into()
                },
            ]
        );
    }

    #[test]
    fn rejects_broken_requirements() {
        for bad in [
            "sections:\n  - { spec: RFC 1939 §5, title: T }\n",
            "sections:\n  - { spec: RFC 1939, title: T, requirements: [a] }\n",
            "sections:\n  - { spec: RFC 1939 §5, title: T, requirements: [a] }\n  - { spec: RFC 1939 §5, title: U, requirements: [a] }\n",
        ] {
            let r = Requirements::parse(bad).unwrap();
            assert!(build(&r, []).is_err(), "{bad}");
        }
    }
}
