//! `pop3spec new ID`: a commented skeleton scenario at the path its id implies
//! (`rfc1939.update.foo` → `scenarios/rfc1939/update/foo.yaml`) that passes
//! `pop3spec check` as written, so an author starts from something valid.

use super::schema::{modeline, SCHEMA_PATH};
use crate::outcome::Level;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

/// Whether `id` is what the loader accepts: lower-case dotted words of a-z, 0-9, - and _.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        })
}

/// `dir/rfc1939/update/foo.yaml` for `rfc1939.update.foo`.
pub fn path_for(dir: &Path, id: &str) -> PathBuf {
    let mut path = dir.to_path_buf();
    let parts: Vec<&str> = id.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        path.push(part);
    }
    path.push(format!("{}.yaml", parts[parts.len() - 1]));
    path
}

/// `RFC 1939` for ids under `rfc1939.`, the section left to the author.
fn default_spec(id: &str) -> Option<String> {
    let first = id.split('.').next()?;
    let number = first.strip_prefix("rfc")?;
    (!number.is_empty() && number.chars().all(|c| c.is_ascii_digit()))
        .then(|| format!("RFC {number}"))
}

/// `s` as a YAML scalar: plain when that is unambiguous, else double-quoted
/// (a JSON string is a valid YAML double-quoted scalar).
fn yaml_scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().next().is_some_and(|c| c.is_alphanumeric())
        && s.chars()
            .all(|c| c.is_alphanumeric() || " §.,()/_-+".contains(c))
        && !s.ends_with(' ');
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).expect("strings serialise")
    }
}

/// The text of a new scenario. `schema` is the path from the file's folder to
/// the JSON Schema, for the editor modeline.
pub fn render(id: &str, level: Level, spec: Option<&str>, schema: Option<&str>) -> String {
    let name = id.rsplit('.').next().unwrap_or(id).replace(['-', '_'], " ");
    let (spec_line, spec_note) = match spec.map(str::to_string).or_else(|| default_spec(id)) {
        Some(s) if spec.is_some() => (yaml_scalar(&s), "the RFC section that states the rule"),
        Some(s) => (yaml_scalar(&s), "TODO: add the section, e.g. `RFC 1939 §6`"),
        None => (
            "TODO".to_string(),
            "TODO: the RFC and section, e.g. `RFC 1939 §6`",
        ),
    };
    let mut out = String::new();
    if let Some(schema) = schema {
        out.push_str(&modeline(schema));
        out.push('\n');
    }
    out.push_str(&format!(
        "\
# A new pop3spec scenario. Fill in the TODOs, replace the steps with the dialogue
# that shows the rule, then: pop3spec check FILE && pop3spec run FILE
# Every key and step kind: docs/scenario-format.md
id: {id}
title: {title}
spec: {spec_line}  # {spec_note}
requirement: >-
  TODO: the rule in your own words; it is printed under every failure.
level: {level}  # must: a deviation fails | should: graded non-strict | info: never fails
tags: []  # labels for --tag / --skip-tag
checks: []  # TODO: ids from scenarios/requirements.yaml of the RFC sentences a violating server fails here
# requires: [UIDL]          # CAPA tags, or capa, apop, second-account, implicit-tls, certificate-verification
# state: transaction        # connected | authorization (default) | transaction
# fixture: three-messages   # a folder of scenarios/fixtures/ seeded before the run
# catches: []               # reference-server faults this scenario must detect
# timeout: 5s               # read timeout per step
steps:
  # A dialogue every server passes, so the file checks and runs as it is.
  - send: QUIT
  - expect: {{ status: ok }}
  - expect_close: true
  # More step kinds:
  # - send: STAT
  # - expect: {{ status: ok, match: '^\\+OK (?P<count>\\d+) (?P<octets>\\d+)' }}
  # - send: LIST
  # - expect_multiline: {{ status: ok, each_line: '^\\d+ \\d+$', count: \"{{{{count}}}}\" }}
  # - assert: count == 0
  # - send: BOGUS
  # - expect: {{ status: err }}
",
        title = yaml_scalar(&format!("TODO: {name}")),
        level = level.as_str(),
    ));
    out
}

/// The relative path from folder `from` to `to` (both absolute, normalised).
fn relative(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for c in &to[common..] {
        out.push(c.as_os_str());
    }
    out
}

/// The schema file `new` writes into a scenario folder that has none above it.
pub const FOLDER_SCHEMA: &str = "scenario.schema.json";

fn absolute(p: &Path) -> PathBuf {
    normalise(&std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()))
}

/// The nearest schema in `file_dir` or above: `scenario.schema.json` (as
/// `new` writes into a user's folder) or `docs/scenario.schema.json` (a checkout).
fn schema_above(file_dir: &Path) -> Option<PathBuf> {
    absolute(file_dir).ancestors().find_map(|d| {
        [d.join(FOLDER_SCHEMA), d.join(SCHEMA_PATH)]
            .into_iter()
            .find(|p| p.is_file())
    })
}

/// The schema path for a file in `file_dir`: the nearest schema above (see
/// [`schema_above`]), else the `docs/` one beside the scenario folder `dir`.
pub fn schema_path_from(file_dir: &Path, dir: &Path) -> String {
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let file_dir = normalise(&abs(file_dir));
    let found = schema_above(&file_dir);
    let target = found.unwrap_or_else(|| {
        let dir = normalise(&abs(dir));
        dir.parent().unwrap_or(&dir).join(SCHEMA_PATH)
    });
    relative(&file_dir, &target)
        .to_string_lossy()
        .replace('\\', "/")
}

/// `a/./b/../c` as `a/c`, without touching the file system.
fn normalise(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c.as_os_str()),
        }
    }
    out
}

/// What `new` wrote.
#[derive(Debug)]
pub struct Created {
    pub scenario: PathBuf,
    /// `DIR/scenario.schema.json`, written when no schema was found above the
    /// new file, so its `$schema` line resolves (a folder outside a checkout).
    pub schema: Option<PathBuf>,
}

/// Writes the skeleton for `id` below `dir`, and the schema into `dir` when
/// none is above the file; never overwrites.
pub fn create(dir: &Path, id: &str, level: Level, spec: Option<&str>) -> Result<Created, String> {
    if !valid_id(id) {
        return Err(format!(
            "`{id}` is not a valid id: use lower-case dotted words, e.g. rfc1939.update.quit-removes-marked"
        ));
    }
    let path = path_for(dir, id);
    if path.exists() {
        return Err(format!(
            "{} already exists; pick another id or edit that file",
            path.display()
        ));
    }
    if dir.is_dir() {
        let files = crate::scenario::load::discover(&[dir.to_path_buf()])?;
        let suite = crate::scenario::load::load_suite(&files, &Default::default());
        if let Some(other) = suite.scenarios.iter().find(|s| s.id == id) {
            return Err(format!(
                "id `{id}` is already used by {}; ids must be unique",
                other.file.display()
            ));
        }
    }
    let parent = path
        .parent()
        .expect("a path built from a folder has a parent");
    std::fs::create_dir_all(parent)
        .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    let written_schema = if schema_above(parent).is_none() {
        let file = dir.join(FOLDER_SCHEMA);
        std::fs::write(&file, super::schema::render())
            .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        Some(file)
    } else {
        None
    };
    let schema = schema_path_from(parent, dir);
    let text = render(id, level, spec, Some(&schema));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(Created {
        scenario: path,
        schema: written_schema,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load;

    #[test]
    fn paths_follow_the_id() {
        assert_eq!(
            path_for(Path::new("scenarios"), "rfc1939.update.foo"),
            Path::new("scenarios/rfc1939/update/foo.yaml")
        );
        assert_eq!(path_for(Path::new("s"), "solo"), Path::new("s/solo.yaml"));
        assert!(valid_id("rfc1939.update.foo-bar_2"));
        for bad in ["", "Rfc.x", "a..b", "a.b.", "a/b", "a b", "../x"] {
            assert!(!valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn skeleton_loads_with_the_given_metadata() {
        for (spec, level) in [
            (Some("RFC 1939 §6"), Level::Must),
            (None, Level::Should),
            (Some("odd: \"spec\" # with specials"), Level::Info),
        ] {
            let text = render("rfc1939.update.foo-bar", level, spec, Some("../x.json"));
            assert!(text.starts_with("# yaml-language-server: $schema=../x.json\n"));
            let s = load::load_str(
                Path::new("f.yaml"),
                text.as_str().into(),
                &Default::default(),
            )
            .unwrap_or_else(|p| panic!("{}\n{text}", p[0].render()));
            assert_eq!(s.id, "rfc1939.update.foo-bar");
            assert_eq!(s.level, level);
            assert_eq!(s.spec, spec.unwrap_or("RFC 1939"));
            assert_eq!(s.title, "TODO: foo bar");
            assert_eq!(s.steps.len(), 3);
        }
        let text = render("local.x", Level::Must, None, None);
        assert!(text.starts_with("# A new pop3spec scenario"));
        let s = load::load_str(
            Path::new("f.yaml"),
            text.as_str().into(),
            &Default::default(),
        )
        .unwrap();
        assert_eq!(s.spec, "TODO");
    }

    #[test]
    fn relative_schema_path_depends_on_depth() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        let dir = root.join("scenarios");
        assert_eq!(
            schema_path_from(&dir.join("rfc1939/update"), &dir),
            "../../../docs/scenario.schema.json"
        );
        assert_eq!(schema_path_from(&dir, &dir), "../docs/scenario.schema.json");
        // A schema found further up wins over the guess beside `dir`.
        std::fs::create_dir_all(root.join("docs")).unwrap();
        std::fs::write(root.join(SCHEMA_PATH), "{}").unwrap();
        let nested = root.join("suites/mine");
        assert_eq!(
            schema_path_from(&nested.join("a"), &nested),
            "../../../docs/scenario.schema.json"
        );
    }

    #[test]
    fn create_refuses_to_overwrite_or_reuse_an_id() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("scenarios");
        let created = create(&dir, "rfc1939.update.foo", Level::Must, None).unwrap();
        let path = created.scenario;
        assert_eq!(path, dir.join("rfc1939/update/foo.yaml"));
        // No schema above the folder: one is written into it and referenced.
        assert_eq!(created.schema, Some(dir.join(FOLDER_SCHEMA)));
        assert_eq!(
            std::fs::read_to_string(dir.join(FOLDER_SCHEMA)).unwrap(),
            crate::authoring::schema::render()
        );
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .starts_with("# yaml-language-server: $schema=../../scenario.schema.json\n"));
        let second = create(&dir, "rfc1939.update.bar", Level::Must, None).unwrap();
        assert_eq!(second.schema, None, "written once");
        let before = std::fs::read_to_string(&path).unwrap();
        let err = create(&dir, "rfc1939.update.foo", Level::Info, None).unwrap_err();
        assert!(err.contains("already exists"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
        // The same id in a file at another path.
        std::fs::rename(&path, dir.join("moved.yaml")).unwrap();
        let err = create(&dir, "rfc1939.update.foo", Level::Must, None).unwrap_err();
        assert!(err.contains("already used by"), "{err}");
        assert!(create(&dir, "Bad.Id", Level::Must, None).is_err());
    }
}
