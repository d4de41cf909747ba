//! The model of `requirements.yaml`, the curated list of RFC requirement
//! sentences a scenario's `checks:` names. It sits in the scenario layer
//! because the loader checks every `checks:` id against it; the coverage map
//! (`crate::coverage`) builds on the same model.

use super::load::REQUIREMENTS_FILE;
use super::spec::parse_spec;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::Path;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirements {
    #[serde(default)]
    pub supporting: Vec<Supporting>,
    pub sections: Vec<Section>,
}

/// An RFC scenarios may cite for definitions; not mapped.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Supporting {
    pub rfc: u32,
    pub title: String,
}

/// One RFC section of requirements.yaml and its requirement sentences.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub spec: String,
    pub title: String,
    pub requirements: Vec<Requirement>,
}

/// What the RFC sentence says a conforming party must, should or may do.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Strength {
    Must,
    Should,
    May,
    /// A rule RFC 1939 states without a keyword ("the POP3 server responds with
    /// -ERR"), which the suite judges as a must.
    None,
}

impl Strength {
    pub fn as_str(self) -> &'static str {
        match self {
            Strength::Must => "must",
            Strength::Should => "should",
            Strength::May => "may",
            Strength::None => "none",
        }
    }
}

/// Whose behaviour the sentence rules.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Binds {
    #[default]
    Server,
    Client,
    Both,
}

impl Binds {
    pub fn as_str(self) -> &'static str {
        match self {
            Binds::Server => "server",
            Binds::Client => "client",
            Binds::Both => "server and client",
        }
    }
}

/// One requirement: a sentence (or clause) of the RFC with its keyword.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    pub id: String,
    /// The sentence as the RFC writes it (whitespace aside); `...` marks a cut.
    pub quote: String,
    pub level: Strength,
    #[serde(default)]
    pub binds: Binds,
    #[serde(default = "yes")]
    pub testable: bool,
    /// Why a server suite cannot judge it (required when `testable: false`).
    #[serde(default)]
    pub why: Option<String>,
    /// How the suite reads the sentence, where that is not obvious.
    #[serde(default)]
    pub note: Option<String>,
    /// Why no scenario judges this testable requirement yet: COVERAGE.md
    /// shows it beside the gap, and it must go once a scenario checks it.
    #[serde(default)]
    pub uncovered: Option<String>,
}

fn yes() -> bool {
    true
}

impl Requirements {
    pub fn parse(text: &str) -> Result<Requirements, String> {
        let r: Requirements = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        r.validate()?;
        Ok(r)
    }

    pub fn load(path: &Path) -> Result<Requirements, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Requirements::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Every requirement with the section it belongs to, in file order.
    pub fn all(&self) -> impl Iterator<Item = (&Section, &Requirement)> {
        self.sections
            .iter()
            .flat_map(|s| s.requirements.iter().map(move |r| (s, r)))
    }

    pub fn ids(&self) -> BTreeSet<String> {
        self.all().map(|(_, r)| r.id.clone()).collect()
    }

    /// Sections name one RFC section each, once; ids are well-formed, unique and
    /// start with `rfcNNNN.` of their section; an untestable one says why
    /// (`why`, never `uncovered`).
    fn validate(&self) -> Result<(), String> {
        let mut specs = BTreeSet::new();
        let mut ids = BTreeSet::new();
        for s in &self.sections {
            let key = match parse_spec(&s.spec).as_deref() {
                Ok([c]) if c.section.is_some() => c.clone(),
                Ok(_) => {
                    return Err(format!(
                        "`{}`: a section entry names exactly one section (with at most one topic)",
                        s.spec
                    ))
                }
                Err(e) => return Err(e.to_string()),
            };
            if !specs.insert(key.clone()) {
                return Err(format!("`{}` is listed twice", s.spec));
            }
            if s.requirements.is_empty() {
                return Err(format!("`{}`: list at least one requirement", s.spec));
            }
            for r in &s.requirements {
                let well_formed = r.id.split('.').all(|p| {
                    !p.is_empty()
                        && p.chars().all(|c| {
                            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
                        })
                });
                if !well_formed || !r.id.starts_with(&format!("rfc{}.", key.rfc)) {
                    return Err(format!(
                        "`{}`: ids are lower-case dotted words starting with `rfc{}.`",
                        r.id, key.rfc
                    ));
                }
                if !ids.insert(r.id.as_str()) {
                    return Err(format!("requirement id `{}` is listed twice", r.id));
                }
                if !r.testable && r.why.as_deref().is_none_or(|w| w.trim().is_empty()) {
                    return Err(format!("`{}`: say `why` it is not testable", r.id));
                }
                if !r.testable && r.uncovered.is_some() {
                    return Err(format!(
                        "`{}`: an untestable requirement says `why`, not `uncovered`",
                        r.id
                    ));
                }
                if r.quote.trim().is_empty() {
                    return Err(format!("`{}`: quote the RFC sentence", r.id));
                }
            }
        }
        Ok(())
    }
}

/// The requirements.yaml that governs a scenario file's `checks:`: the nearest
/// one in its folder or above, else the default scenario folder's; None when
/// there is none (nothing to check the ids against).
pub fn requirements_for(scenario_file: &Path) -> Option<std::path::PathBuf> {
    scenario_file
        .ancestors()
        .skip(1)
        .map(|d| d.join(REQUIREMENTS_FILE))
        .find(|p| p.is_file())
        .or_else(|| {
            let p = crate::suite::default_scenario_dir().join(REQUIREMENTS_FILE);
            p.is_file().then_some(p)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_broken_requirements() {
        let head = "sections:\n  - spec: RFC 1939 §3\n    title: T\n    requirements:\n";
        for bad in [
            "      - { id: rfc1939.a, quote: q, level: must, testable: false }\n",
            "      - { id: rfc2449.a, quote: q, level: must }\n",
            "      - { id: rfc1939.A, quote: q, level: must }\n",
            "      - { id: rfc1939.a, quote: q, level: must }\n      - { id: rfc1939.a, quote: q, level: may }\n",
            "      - { id: rfc1939.a, quote: q, level: required }\n",
            "      - { id: rfc1939.a, quote: '  ', level: must }\n",
        ] {
            assert!(Requirements::parse(&format!("{head}{bad}")).is_err(), "{bad}");
        }
        assert!(Requirements::parse(
            "sections:\n  - { spec: RFC 1939, title: T, requirements: [] }\n"
        )
        .is_err());
    }
}
