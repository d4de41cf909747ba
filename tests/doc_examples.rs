//! The YAML examples in README.md and docs/scenario-format.md are real: every
//! whole scenario passes `pop3spec check`, the README tutorial scenario runs green
//! against the bundled server, step-list fragments pass `check` inside a minimal
//! scenario, and every other block (single illustrative expectations, CI configs,
//! the schema comment) at least parses as YAML of the expected shape.
//!
//! When this fails, fix the documentation, not the test.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const DOCS: [&str; 2] = ["README.md", "docs/scenario-format.md"];

/// The id of the README tutorial scenario, which must also run green.
const TUTORIAL_ID: &str = "local.case.noop-lower";

/// Step-list blocks that list every key of one step for reference (keys that would
/// not be combined in a real step, variables nothing defines, such as `{{size}}`):
/// they are parsed, not checked. Each is named by its document and its first line,
/// and each must still be found, so the list cannot go stale silently.
const ILLUSTRATIVE: [(&str, &str); 1] = [("docs/scenario-format.md", "- expect_multiline:")];

/// Keys that make a mapping a step.
const STEP_KEYS: [&str; 13] = [
    "send",
    "send_raw",
    "expect",
    "expect_multiline",
    "expect_close",
    "expect_silence",
    "connect",
    "reconnect",
    "tls_handshake",
    "disconnect",
    "login",
    "one_of",
    "assert",
];

struct Block {
    doc: &'static str,
    /// 1-based line of the opening fence.
    line: usize,
    text: String,
}

impl Block {
    fn name(&self) -> String {
        format!("{}:{}", self.doc, self.line)
    }

    fn first_line(&self) -> &str {
        self.text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or("")
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every fenced ```yaml block of a Markdown file, with the fence's indentation
/// removed from its lines (blocks inside list items are indented).
fn yaml_blocks(doc: &'static str) -> Vec<Block> {
    let text = std::fs::read_to_string(root().join(doc)).unwrap();
    let mut blocks = Vec::new();
    let mut open: Option<(usize, usize, String)> = None; // (line, indent, text)
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match &mut open {
            None => {
                if trimmed.trim_end() == "```yaml" {
                    open = Some((i + 1, indent, String::new()));
                }
            }
            Some((start, ind, body)) => {
                if trimmed.trim_end() == "```" {
                    blocks.push(Block {
                        doc,
                        line: *start,
                        text: std::mem::take(body),
                    });
                    open = None;
                } else {
                    let cut = line
                        .char_indices()
                        .take_while(|&(n, c)| n < *ind && c == ' ')
                        .count();
                    body.push_str(&line[cut..]);
                    body.push('\n');
                }
            }
        }
    }
    assert!(open.is_none(), "{doc}: unterminated ```yaml block");
    blocks
}

fn pop3spec(args: &[&str], dir: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pop3spec"));
    cmd.args(args).current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("POP3SPEC_") || k == "GITHUB_ACTIONS" {
            cmd.env_remove(k);
        }
    }
    cmd.output().expect("runs pop3spec")
}

fn dump(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A temporary folder with `fixtures/` linked to the suite's fixtures, so scenarios
/// naming a fixture resolve as they would under `scenarios/`.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = root().join("scenarios/fixtures");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&fixtures, dir.path().join("fixtures")).unwrap();
    #[cfg(not(unix))]
    copy_dir(&fixtures, &dir.path().join("fixtures"));
    dir
}

#[cfg(not(unix))]
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `pop3spec check` on one file written into its own workspace.
fn check(name: &str, yaml: &str) {
    let ws = workspace();
    let file = ws.path().join("example.yaml");
    std::fs::write(&file, yaml).unwrap();
    let out = pop3spec(&["check", file.to_str().unwrap()], ws.path());
    assert!(
        out.status.success(),
        "{name}: the example does not pass `pop3spec check`:\n{yaml}\n{}",
        dump(&out)
    );
}

/// A step-list fragment inside the least a scenario needs.
fn wrap_steps(block: &Block) -> String {
    let mut yaml = format!(
        "id: doc.example.line-{}\ntitle: example from {}\nspec: RFC 1939 §3\n\
         requirement: the documentation's example is valid\nlevel: must\nsteps:\n",
        block.line,
        block.name()
    );
    for l in block.text.lines() {
        yaml.push_str("  ");
        yaml.push_str(l);
        yaml.push('\n');
    }
    yaml
}

fn parse(block: &Block) -> Value {
    // A block of comments only is an empty document.
    if block
        .text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Value::Null;
    }
    serde_saphyr::from_str::<Value>(&block.text)
        .unwrap_or_else(|e| panic!("{}: not valid YAML: {e}\n{}", block.name(), block.text))
}

fn is_step_list(v: &Value) -> bool {
    match v {
        Value::Array(items) => {
            !items.is_empty()
                && items.iter().all(|step| {
                    step.as_object().is_some_and(|m| {
                        m.keys().filter(|k| STEP_KEYS.contains(&k.as_str())).count() == 1
                    })
                })
        }
        _ => false,
    }
}

#[derive(Debug, Default)]
struct Seen {
    scenarios: Vec<String>,
    checked_fragments: usize,
    illustrative: Vec<(&'static str, String)>,
    other: usize,
}

#[test]
fn yaml_examples_in_the_docs_are_valid() {
    let mut seen = Seen::default();
    let mut tutorial: Option<String> = None;
    for doc in DOCS {
        let blocks = yaml_blocks(doc);
        assert!(!blocks.is_empty(), "{doc}: no ```yaml blocks found");
        for block in &blocks {
            let value = parse(block);
            let map = value.as_object();
            let has = |k: &str| map.is_some_and(|m| m.contains_key(k));
            if has("id") && has("steps") {
                check(&block.name(), &block.text);
                let id = map.unwrap()["id"].as_str().unwrap_or_default().to_string();
                if id == TUTORIAL_ID {
                    tutorial = Some(block.text.clone());
                }
                seen.scenarios.push(id);
            } else if has("id") || has("steps") {
                panic!(
                    "{}: looks like a scenario but lacks `id:` or `steps:`\n{}",
                    block.name(),
                    block.text
                );
            } else if is_step_list(&value) {
                if ILLUSTRATIVE.contains(&(doc, block.first_line())) {
                    seen.illustrative
                        .push((doc, block.first_line().to_string()));
                } else {
                    check(&block.name(), &wrap_steps(block));
                    seen.checked_fragments += 1;
                }
            } else {
                // CI configurations and the schema comment: parsing is all we ask.
                assert!(
                    value.is_null() || value.is_object(),
                    "{}: expected a mapping or only comments, got {value}",
                    block.name()
                );
                seen.other += 1;
            }
        }
    }
    for (doc, first) in ILLUSTRATIVE {
        assert!(
            seen.illustrative
                .iter()
                .any(|(d, f)| *d == doc && f == first),
            "illustrative block `{first}` in {doc} not found: update ILLUSTRATIVE ({seen:?})"
        );
    }
    assert!(
        seen.scenarios.len() >= 2 && seen.checked_fragments >= 3,
        "{seen:?}"
    );

    let tutorial = tutorial.unwrap_or_else(|| panic!("README: no scenario with id {TUTORIAL_ID}"));
    let ws = workspace();
    let dir = ws.path().join("my-scenarios");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("noop-lower.yaml"), &tutorial).unwrap();
    let out = pop3spec(
        &[
            "run",
            dir.to_str().unwrap(),
            "--no-reports",
            "--color",
            "never",
        ],
        ws.path(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "the README tutorial scenario does not run green against the bundled server:\n{}",
        dump(&out)
    );
}
