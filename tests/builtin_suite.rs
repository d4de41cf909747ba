//! The suite built into the binary: every command works from a folder with no
//! source tree (no `scenarios/`, no RFC texts), names built-in files by their
//! path inside the suite, lets a user's own folder use the built-in fixtures,
//! and leaves nothing behind in the temporary folder.

mod support;

use std::path::Path;
use support::*;

/// An empty working folder and a private TMPDIR for one run of the binary, so
/// what the run writes out (and whether it removes it) can be seen.
struct Elsewhere {
    cwd: tempfile::TempDir,
    tmp: tempfile::TempDir,
}

impl Elsewhere {
    fn new() -> Self {
        Elsewhere {
            cwd: tempfile::tempdir().unwrap(),
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> RunOutput {
        let tmp = self.tmp.path().to_str().unwrap();
        let out = pop3spec_env(args, self.cwd.path(), &[("TMPDIR", tmp)]);
        let left: Vec<_> = std::fs::read_dir(self.tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "the run left {left:?} in TMPDIR");
        out
    }
}

/// The scenario files of the checkout, as the loader counts them.
fn checkout_scenarios() -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    pop3spec::scenario::load::discover_noting(&[root])
        .unwrap()
        .0
        .len()
}

#[test]
fn list_and_check_see_the_whole_suite_without_a_source_tree() {
    let here = Elsewhere::new();
    let out = here.run(&["list"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    let n = checkout_scenarios();
    assert!(
        out.stdout.ends_with(&format!("\n{n} scenario(s)\n")),
        "{}",
        out.dump()
    );
    let out = here.run(&["check"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(out.stdout, format!("{n} scenario file(s) OK\n"));
}

#[test]
fn reports_name_built_in_files_by_their_path_in_the_suite() {
    let here = Elsewhere::new();
    let server = FakeServer::start(Script::new().account("u", "p").on("APOP *", "+OK\r\n"));
    let port = server.port.to_string();
    let out = here.run(&[
        "run",
        "rfc1939.state.apop-after-login",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--user",
        "u",
        "--pass",
        "p",
        "--timeout",
        "2s",
        "--json",
        "out/results.json",
        "--junit",
        "out/junit.xml",
        "--summary-md",
        "out/summary.md",
    ]);
    assert_eq!(out.code, 1, "{}", out.dump());
    let file = "scenarios/rfc1939/state/apop-after-login.yaml";
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
    let pos = format!(
        "{file}:{}:{}",
        line_of(&text, "- expect: { status: err }"),
        step_col(&text, "- expect: { status: err }")
    );
    assert!(out.stdout.contains(&format!("at {pos}")), "{}", out.dump());
    let json = std::fs::read_to_string(here.cwd.path().join("out/results.json")).unwrap();
    let junit = std::fs::read_to_string(here.cwd.path().join("out/junit.xml")).unwrap();
    let summary = std::fs::read_to_string(here.cwd.path().join("out/summary.md")).unwrap();
    assert!(json.contains(&format!("\"file\": \"{file}\"")), "{json}");
    assert!(junit.contains(file), "{junit}");
    assert!(summary.contains(file), "{summary}");
    for (name, report) in [
        ("console", &out.stdout),
        ("json", &json),
        ("junit", &junit),
        ("summary", &summary),
    ] {
        assert!(
            !report.contains("pop3spec-suite-") && !report.contains(env!("CARGO_MANIFEST_DIR")),
            "{name} names a build or temporary path:\n{report}"
        );
    }
}

#[test]
fn the_bundled_server_passes_the_built_in_suite_run_from_elsewhere() {
    let here = Elsewhere::new();
    let out = here.run(&["run", "rfc1939.update.*", "-q", "--no-reports"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert!(out.stdout.contains(" 0 failed, 0 errors"), "{}", out.dump());
}

#[test]
fn a_user_folder_uses_a_built_in_fixture() {
    let here = Elsewhere::new();
    let dir = here.cwd.path().join("mine");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("forty.yaml"),
        scenario(
            "mine.retr.forty-lines",
            "must",
            "state: transaction\nfixture: long-body\n",
            "  - send: RETR 1\n  - expect_multiline: { status: ok, contains: ['Line 40'] }\n",
        ),
    )
    .unwrap();
    let out = here.run(&["run", "mine", "--no-reports"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert!(out.stdout.contains("1 passed"), "{}", out.dump());

    // A fixture neither beside the scenario nor built in is named, with the
    // built-in ones listed.
    std::fs::write(
        dir.join("forty.yaml"),
        scenario(
            "mine.retr.forty-lines",
            "must",
            "state: transaction\nfixture: fifty-lines\n",
            "  - send: RETR 1\n  - expect: { status: ok }\n",
        ),
    )
    .unwrap();
    let out = here.run(&["check", "mine"]);
    assert_eq!(out.code, 2, "{}", out.dump());
    assert!(
        out.stderr.contains("unknown fixture `fifty-lines`"),
        "{}",
        out.dump()
    );
    assert!(out.stderr.contains("built in: crlf, "), "{}", out.dump());
    assert!(out.stderr.contains("long-body"), "{}", out.dump());
}

#[test]
fn explain_quotes_the_built_in_rfc_from_elsewhere() {
    let here = Elsewhere::new();
    let out = here.run(&["explain", "rfc1939.update.all-marked-removed"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    for part in [
        "  file:        scenarios/rfc1939/update/all-marked-removed.yaml:",
        "steps (scenarios/rfc1939/update/all-marked-removed.yaml:",
        "RFC 1939 §6  rfc1939.txt:520\n  6. The UPDATE State\n",
    ] {
        assert!(out.stdout.contains(part), "{part:?}\n{}", out.dump());
    }
}
