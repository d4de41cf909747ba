//! The authoring and CI-integration commands through the real binary: `schema`
//! (and the committed copy), `new`, `explain`, `completions`, `man`, and the
//! GitHub annotations and Markdown summary of `run`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::{line_of, scenario, step_col, FakeServer, Script};

const REGENERATE: &str = "cargo run -- schema > docs/scenario.schema.json";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The binary with no POP3SPEC_* or GitHub Actions variables from the environment.
fn cmd(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pop3spec"));
    cmd.current_dir(cwd).env("NO_COLOR", "1");
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("POP3SPEC_") || k.starts_with("GITHUB_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn dump(&self) -> String {
        format!(
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn output(mut cmd: Command) -> Out {
    let out = cmd.output().expect("run pop3spec");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run_in(cwd: &Path, args: &[&str]) -> Out {
    let mut c = cmd(cwd);
    c.args(args);
    output(c)
}

// ---------------------------------------------------------------- schema

#[test]
fn committed_schema_is_the_generated_one() {
    let out = run_in(repo(), &["schema"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    let committed =
        std::fs::read_to_string(repo().join("docs/scenario.schema.json")).unwrap_or_default();
    assert!(
        committed == out.stdout,
        "docs/scenario.schema.json differs from `pop3spec schema` (the scenario types in \
         src/scenario/raw.rs changed); regenerate it with `{REGENERATE}` and commit it"
    );
}

fn scenario_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            // client/ holds client scenarios, another schema (tests/client_suite.rs).
            if name != "fixtures" && name != "client" && !name.starts_with('.') {
                scenario_files(&path, out);
            }
        } else if (name.ends_with(".yaml") || name.ends_with(".yml"))
            && name != pop3spec::scenario::load::REQUIREMENTS_FILE
        {
            out.push(path);
        }
    }
}

fn suite_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    scenario_files(&repo().join("scenarios"), &mut files);
    files.sort();
    assert!(files.len() > 100, "the suite is there: {}", files.len());
    files
}

#[test]
fn every_suite_scenario_validates_against_the_schema() {
    let text = std::fs::read_to_string(repo().join("docs/scenario.schema.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("a valid draft-07 schema");
    let mut problems = Vec::new();
    for file in suite_files() {
        let yaml = std::fs::read_to_string(&file).unwrap();
        let doc: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap();
        for e in validator.iter_errors(&doc) {
            problems.push(format!(
                "{}: {} at {}",
                file.display(),
                e,
                e.instance_path()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "the schema rejects files the loader accepts:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_suite_scenario_names_the_schema_for_editors() {
    let mut missing = Vec::new();
    for file in suite_files() {
        let rel = file.strip_prefix(repo()).unwrap();
        let depth = rel.components().count() - 1;
        let want = format!(
            "# yaml-language-server: $schema={}docs/scenario.schema.json",
            "../".repeat(depth)
        );
        let text = std::fs::read_to_string(&file).unwrap();
        if text.lines().next() != Some(want.as_str()) {
            missing.push(format!("{}: first line should be `{want}`", rel.display()));
        }
    }
    assert!(
        missing.is_empty(),
        "scenario files without the schema line (`pop3spec new` writes it):\n{}",
        missing.join("\n")
    );
}

// ---------------------------------------------------------------- new

#[test]
fn new_writes_a_skeleton_that_checks_and_refuses_to_overwrite() {
    let ws = tempfile::tempdir().unwrap();
    let out = run_in(
        ws.path(),
        &[
            "new",
            "rfc1939.update.foo",
            "--level",
            "should",
            "--spec",
            "RFC 1939 §6",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.dump());
    let path = ws.path().join("scenarios/rfc1939/update/foo.yaml");
    assert!(
        out.stdout.contains("scenarios/rfc1939/update/foo.yaml"),
        "{}",
        out.dump()
    );
    let text = std::fs::read_to_string(&path).unwrap();
    // No checkout around the folder: the schema is written into it, and the
    // `$schema` line resolves to that file.
    assert!(
        text.starts_with("# yaml-language-server: $schema=../../scenario.schema.json\n"),
        "{text}"
    );
    let schema = path.parent().unwrap().join("../../scenario.schema.json");
    assert!(schema.is_file(), "{}", out.dump());
    assert!(
        out.stdout
            .contains("created scenarios/scenario.schema.json"),
        "{}",
        out.dump()
    );
    for line in [
        "id: rfc1939.update.foo\n",
        "spec: RFC 1939 §6  #",
        "level: should  #",
    ] {
        assert!(text.contains(line), "{line:?} missing from\n{text}");
    }

    let check = run_in(ws.path(), &["check"]);
    assert_eq!(check.code, 0, "{}\n{text}", check.dump());
    assert!(
        check.stdout.contains("1 scenario file(s) OK"),
        "{}",
        check.dump()
    );
    let list = run_in(ws.path(), &["list"]);
    assert!(
        list.stdout.contains("rfc1939.update.foo") && list.stdout.contains("should"),
        "{}",
        list.dump()
    );

    std::fs::write(&path, "edited by hand\n").unwrap();
    let again = run_in(ws.path(), &["new", "rfc1939.update.foo"]);
    assert_eq!(again.code, 2, "{}", again.dump());
    assert!(again.stderr.contains("already exists"), "{}", again.dump());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "edited by hand\n");

    let bad = run_in(ws.path(), &["new", "RFC1939/../x"]);
    assert_eq!(bad.code, 2, "{}", bad.dump());
    assert!(bad.stderr.contains("not a valid id"), "{}", bad.dump());
}

#[test]
fn new_skeleton_runs_green_against_the_bundled_server() {
    let ws = tempfile::tempdir().unwrap();
    let mut c = cmd(ws.path());
    c.args(["new", "local.x.quit", "--dir", "suite"])
        .env("POP3SPEC_NEW_LEVEL", "info");
    let out = output(c);
    assert_eq!(out.code, 0, "{}", out.dump());
    let text = std::fs::read_to_string(ws.path().join("suite/local/x/quit.yaml")).unwrap();
    assert!(
        text.contains("level: info"),
        "the env twin is read:\n{text}"
    );
    assert!(text.contains("spec: TODO"), "{text}");
    let run = run_in(
        ws.path(),
        &["run", "suite", "--no-reports", "--color", "never"],
    );
    assert_eq!(run.code, 0, "{}", run.dump());
    assert!(
        run.stdout.contains("1 scenarios: 1 passed"),
        "{}",
        run.dump()
    );
}

// ---------------------------------------------------------------- explain

const RFC_TEXT: &str = "\
1. Introduction

   Words.

6. The UPDATE State

   When the client issues the QUIT command from the TRANSACTION state,
   the POP3 session enters the UPDATE state.

7. Optional POP3 Commands
";

fn explain_workspace() -> (tempfile::TempDir, String) {
    let ws = tempfile::tempdir().unwrap();
    let text = format!(
        "# yaml-language-server: $schema=../../docs/scenario.schema.json\n{}",
        scenario(
            "local.update.quit",
            "must",
            "tags: [update]\n",
            "  - send: QUIT\n  - expect: { status: ok }\n"
        )
        .replace("spec: RFC 1939 §5", "spec: RFC 1939 §6")
    );
    std::fs::create_dir_all(ws.path().join("scenarios/local")).unwrap();
    std::fs::write(ws.path().join("scenarios/local/quit.yaml"), &text).unwrap();
    std::fs::create_dir_all(ws.path().join("rfcs")).unwrap();
    std::fs::write(ws.path().join("rfcs/rfc1939.txt"), RFC_TEXT).unwrap();
    (ws, text)
}

#[test]
fn explain_shows_metadata_steps_and_the_rfc_section() {
    let (ws, _) = explain_workspace();
    let mut c = cmd(ws.path());
    c.args(["explain", "local.update.quit"])
        .env("POP3SPEC_RFC_DIR", ws.path().join("rfcs"));
    let out = output(c);
    assert_eq!(out.code, 0, "{}", out.dump());
    for part in [
        "local.update.quit\n",
        "  title:       test scenario local.update.quit\n",
        "  level:       must\n",
        "  spec:        RFC 1939 §6\n",
        "  file:        scenarios/local/quit.yaml:2:5\n",
        "requirement:\n  the fake server behaves as scripted\n",
        "steps (scenarios/local/quit.yaml:8):\n   8 | steps:\n   9 |   - send: QUIT\n  10 |   - expect: { status: ok }\n",
        "rfc1939.txt:5\n  6. The UPDATE State\n  |    When the client issues the QUIT command",
    ] {
        assert!(out.stdout.contains(part), "{part:?} missing:\n{}", out.dump());
    }
    assert!(!out.stdout.contains("7. Optional"), "{}", out.dump());
    assert!(
        out.stdout
            .ends_with("the POP3 session enters the UPDATE state.\n"),
        "the whole section, no [...]: {}",
        out.dump()
    );
}

#[test]
fn explain_without_rfc_texts_prints_the_reference_only() {
    let (ws, _) = explain_workspace();
    let mut c = cmd(ws.path());
    c.args(["explain", "local.update.quit", "--rfc-dir"])
        .arg(ws.path().join("no-such-folder"));
    let out = output(c);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert!(
        out.stdout
            .contains("where the rule lives:\n  RFC 1939 §6  (RFC texts not found"),
        "{}",
        out.dump()
    );

    let unknown = run_in(ws.path(), &["explain", "local.update.qui"]);
    assert_eq!(unknown.code, 2, "{}", unknown.dump());
    assert!(unknown
        .stderr
        .contains("no scenario with id `local.update.qui`"));
}

/// Without --rfc-dir the RFC texts built into the binary are quoted, so
/// `explain` needs no RFC folder on the machine.
#[test]
fn explain_quotes_the_built_in_rfc_texts() {
    let id = suite_files()
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .find(|t| t.contains("\nspec: RFC 1939 §6\n"))
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("id: ").map(str::to_string))
        })
        .expect("a scenario on RFC 1939 §6");
    let out = run_in(repo(), &["explain", &id]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert!(
        out.stdout
            .contains("rfc1939.txt:520\n  6. The UPDATE State\n"),
        "{}",
        out.dump()
    );
}

// ---------------------------------------------------------------- completions, man

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = run_in(repo(), &["completions", shell]);
        assert_eq!(out.code, 0, "{shell}: {}", out.dump());
        for word in ["explain", "selftest", "annotations", "summary-md"] {
            assert!(out.stdout.contains(word), "{shell} lacks {word}");
        }
    }
    let bash = run_in(repo(), &["completions", "bash"]).stdout;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &bash).unwrap();
    if let Ok(status) = Command::new("bash").arg("-n").arg(file.path()).status() {
        assert!(
            status.success(),
            "bash completion script has a syntax error"
        );
    }
    assert_eq!(run_in(repo(), &["completions", "tcsh"]).code, 2);
}

#[test]
fn man_pages_from_the_clap_definitions() {
    let out = run_in(repo(), &["man"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert!(out.stdout.contains(".TH pop3spec 1"), "{}", out.stdout);
    assert!(out.stdout.contains("explain"), "subcommands listed");
    let run = run_in(repo(), &["man", "run"]);
    assert_eq!(run.code, 0, "{}", run.dump());
    assert!(run.stdout.contains(".TH pop3spec-run 1"), "{}", run.stdout);
    assert!(
        run.stdout.contains("POP3SPEC_ANNOTATIONS"),
        "env twins documented"
    );
    let bad = run_in(repo(), &["man", "nope"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("no subcommand `nope`"),
        "{}",
        bad.dump()
    );
}

// ---------------------------------------------------------------- GitHub Actions

const FAILING: &str = "  - send: NOOP\n  - expect: { status: err }  # HERE\n";

struct CiRun {
    ws: tempfile::TempDir,
    text: String,
    server: FakeServer,
}

fn ci_run() -> CiRun {
    let server = FakeServer::start(Script::new().on("NOOP", "+OK\r\n"));
    let ws = tempfile::tempdir().unwrap();
    let text = scenario("local.ci.noop", "must", "", FAILING);
    std::fs::create_dir_all(ws.path().join("scenarios")).unwrap();
    std::fs::write(ws.path().join("scenarios/noop.yaml"), &text).unwrap();
    CiRun { ws, text, server }
}

impl CiRun {
    fn run(&self, extra: &[&str], env: &[(&str, &Path)]) -> Out {
        let port = self.server.port.to_string();
        let mut c = cmd(self.ws.path());
        c.args([
            "run",
            "scenarios",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--timeout",
            "1s",
            "--color",
            "never",
        ])
        .args(extra);
        for (k, v) in env {
            c.env(k, v);
        }
        output(c)
    }
}

#[test]
fn annotations_point_at_the_failing_step() {
    let ci = ci_run();
    let out = ci.run(&["--annotations", "github", "--no-reports"], &[]);
    assert_eq!(out.code, 1, "{}", out.dump());
    let want = format!(
        "::error file=scenarios/noop.yaml,line={},col={},title=local.ci.noop::fail: ",
        line_of(&ci.text, "# HERE"),
        step_col(&ci.text, "# HERE")
    );
    let lines: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(lines.len(), 1, "{}", out.dump());
    assert!(lines[0].starts_with(&want), "{}\nwant {want}", out.dump());
    assert!(lines[0].contains("%0ARFC 1939 §5 (must): the fake server behaves as scripted"));

    let none = ci.run(&["--no-reports"], &[]);
    assert_eq!(none.code, 1);
    assert!(
        !none.stdout.contains("::error"),
        "off outside Actions: {}",
        none.dump()
    );
}

#[test]
fn github_actions_environment_turns_on_annotations_and_step_summary() {
    let ci = ci_run();
    let summary = ci.ws.path().join("step-summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let out = ci.run(
        &["--no-reports"],
        &[
            ("GITHUB_ACTIONS", Path::new("true")),
            ("GITHUB_STEP_SUMMARY", &summary),
        ],
    );
    assert_eq!(out.code, 1, "{}", out.dump());
    assert!(
        out.stdout
            .contains("::error file=scenarios/noop.yaml,line="),
        "{}",
        out.dump()
    );
    // --no-reports leaves the automatic step summary alone...
    assert_eq!(std::fs::read_to_string(&summary).unwrap(), "earlier step\n");

    let out = ci.run(
        &[],
        &[
            ("GITHUB_ACTIONS", Path::new("true")),
            ("GITHUB_STEP_SUMMARY", &summary),
            ("POP3SPEC_ANNOTATIONS", Path::new("none")),
        ],
    );
    assert!(
        !out.stdout.contains("::error"),
        "the env twin wins: {}",
        out.dump()
    );
    let text = std::fs::read_to_string(&summary).unwrap();
    // ... while a run that writes reports appends to it.
    assert!(
        text.starts_with("earlier step\n## pop3spec: 127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains("| fail | 1 |"), "{text}");
    assert!(
        text.contains("| <code>local.ci.noop</code> | RFC 1939 §5 | must | fail |"),
        "{text}"
    );
}

#[test]
fn summary_md_option_writes_the_file() {
    let ci = ci_run();
    let out = ci.run(&["--summary-md", "out/summary.md", "--no-reports"], &[]);
    assert_eq!(out.code, 1, "{}", out.dump());
    let text = std::fs::read_to_string(ci.ws.path().join("out/summary.md")).unwrap();
    assert!(text.contains("❌ failed: 1 scenario(s)"), "{text}");
    assert!(text.contains("### Failing scenarios (1)"), "{text}");
    assert!(
        text.contains(&format!(
            "at scenarios/noop.yaml:{}:{}",
            line_of(&ci.text, "# HERE"),
            step_col(&ci.text, "# HERE")
        )),
        "{text}"
    );
}
