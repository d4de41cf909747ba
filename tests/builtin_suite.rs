//! The suite built into the binary: every command works from a folder with no
//! source tree (no `scenarios/`, no RFC texts), names built-in files by their
//! path inside the suite, lets a user's own folder use the built-in fixtures,
//! and leaves nothing behind in the temporary folder.

mod support;

use std::path::Path;
use support::*;

/// An empty working folder, a private TMPDIR and a private cache folder
/// (XDG_CACHE_HOME) for runs of the binary, so what a run writes out, and
/// what it leaves behind, can be seen.
struct Elsewhere {
    cwd: tempfile::TempDir,
    tmp: tempfile::TempDir,
    cache: tempfile::TempDir,
}

impl Elsewhere {
    fn new() -> Self {
        Elsewhere {
            cwd: tempfile::tempdir().unwrap(),
            tmp: tempfile::tempdir().unwrap(),
            cache: tempfile::tempdir().unwrap(),
        }
    }

    /// Runs the binary; nothing may be left in TMPDIR, and the cache holds
    /// one folder, the suite's (no half-written copies beside it).
    fn run(&self, args: &[&str]) -> RunOutput {
        let tmp = self.tmp.path().to_str().unwrap();
        let cache = self.cache.path().to_str().unwrap();
        let out = pop3spec_env(
            args,
            self.cwd.path(),
            &[("TMPDIR", tmp), ("XDG_CACHE_HOME", cache)],
        );
        let left: Vec<_> = std::fs::read_dir(self.tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "the run left {left:?} in TMPDIR");
        self.cached_suite();
        out
    }

    /// The one folder in the cache: `pop3spec/suite-<hash>`.
    fn cached_suite(&self) -> std::path::PathBuf {
        let base = self.cache.path().join("pop3spec");
        let names: Vec<String> = std::fs::read_dir(&base)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.len() == 1 && names[0].starts_with("suite-"),
            "the cache holds {names:?}"
        );
        base.join(&names[0])
    }
}

/// A user's folder `mine/` beside the working directory, holding one
/// scenario, `mine.noop.ok`.
fn user_folder(here: &Elsewhere) -> std::path::PathBuf {
    let dir = here.cwd.path().join("mine");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("noop.yaml"),
        scenario(
            "mine.noop.ok",
            "must",
            "state: transaction\n",
            "  - send: NOOP\n  - expect: { status: ok }\n",
        ),
    )
    .unwrap();
    dir
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

/// A fake server with account u/p that wrongly accepts APOP after login, so
/// `rfc1939.state.apop-after-login` fails on it and `noop-before-login` passes.
fn apop_accepting_server() -> FakeServer {
    FakeServer::start(
        Script::new()
            .account("u", "p")
            .on("APOP *", "+OK\r\n")
            .on("STAT", "+OK 0 0\r\n"),
    )
}

impl Elsewhere {
    /// `pop3spec run IDS... --host 127.0.0.1 --port PORT --user u --pass p EXTRA...`.
    fn run_against(&self, server: &FakeServer, ids: &[&str], extra: &[&str]) -> RunOutput {
        let port = server.port.to_string();
        let mut args = vec!["run"];
        args.extend_from_slice(ids);
        args.extend([
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
            "--color",
            "never",
        ]);
        args.extend_from_slice(extra);
        self.run(&args)
    }
}

#[test]
fn reports_name_built_in_files_by_their_path_in_the_suite() {
    let here = Elsewhere::new();
    let server = apop_accepting_server();
    let out = here.run_against(
        &server,
        &["rfc1939.state.apop-after-login"],
        &[
            "--json",
            "out/results.json",
            "--junit",
            "out/junit.xml",
            "--summary-md",
            "out/summary.md",
        ],
    );
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

#[test]
fn list_json_names_every_scenario_with_its_metadata() {
    let here = Elsewhere::new();
    let out = here.run(&["list", "--json"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    let list: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(list.len(), checkout_scenarios());
    let entry = list
        .iter()
        .find(|s| s["id"] == "rfc1939.update.all-marked-removed")
        .expect("a known scenario");
    assert_eq!(entry["spec"], "RFC 1939 §6");
    assert_eq!(entry["level"], "must");
    assert_eq!(
        entry["file"],
        "scenarios/rfc1939/update/all-marked-removed.yaml"
    );
    assert!(entry["tags"].as_array().unwrap().contains(&"update".into()));
    assert!(entry["requires"].is_array());
    assert!(entry["title"].as_str().is_some_and(|t| !t.is_empty()));
    for s in &list {
        assert!(s["file"].as_str().unwrap().starts_with("scenarios/"), "{s}");
    }
    // The selection applies, as for the plain listing.
    let out = here.run(&["list", "--json", "--tag", "update"]);
    let update: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    assert!(!update.is_empty() && update.len() < list.len());
}

#[test]
fn rerun_failed_runs_what_failed_or_errored_last_time() {
    let here = Elsewhere::new();
    let server = apop_accepting_server();
    let ids = [
        "rfc1939.state.apop-after-login",
        "rfc1939.state.noop-before-login",
    ];
    let run = |extra: &[&str]| here.run_against(&server, &ids, extra);
    let results = |name: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(here.cwd.path().join(name)).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let first = run(&["--json", "first.json"]);
    assert_eq!(first.code, 1, "{}", first.dump());
    let verdicts: Vec<(String, String)> = results("first.json")["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().into(),
                s["outcome"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(verdicts.len(), 2, "{verdicts:?}");
    assert!(
        verdicts.contains(&("rfc1939.state.apop-after-login".into(), "fail".into())),
        "{verdicts:?}"
    );
    assert!(
        verdicts.iter().any(|(_, o)| o != "fail" && o != "error"),
        "one of the two must not fail: {verdicts:?}"
    );

    let again = run(&["--rerun-failed", "first.json", "--json", "again.json"]);
    assert_eq!(again.code, 1, "{}", again.dump());
    let rerun = results("again.json");
    let ids: Vec<&str> = rerun["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["rfc1939.state.apop-after-login"]);

    // A report without failures: nothing is run, exit 0.
    let passed = here.run(&[
        "run",
        "rfc1939.update.all-marked-removed",
        "--json",
        "ok.json",
        "-q",
    ]);
    assert_eq!(passed.code, 0, "{}", passed.dump());
    let none = here.run(&["run", "--rerun-failed", "ok.json", "--no-reports"]);
    assert_eq!(none.code, 0, "{}", none.dump());
    assert!(none.stdout.contains("nothing to rerun"), "{}", none.dump());

    // Not a report: a usage error naming the file.
    std::fs::write(here.cwd.path().join("bad.json"), "{}").unwrap();
    let bad = here.run(&["run", "--rerun-failed", "bad.json", "--no-reports"]);
    assert_eq!(bad.code, 2, "{}", bad.dump());
    assert!(
        bad.stderr
            .contains("bad.json is not a pop3spec JSON report"),
        "{}",
        bad.dump()
    );
}

/// The built-in suite is written once into the cache and reused by later
/// runs (the same files, not rewritten); a cache folder that no longer holds
/// exactly the built-in files (edited, or a stray file added) is replaced.
#[test]
fn the_written_out_suite_is_cached_once_and_replaced_when_edited() {
    use std::os::unix::fs::MetadataExt;
    let here = Elsewhere::new();
    assert_eq!(here.run(&["list"]).code, 0);
    let suite = here.cached_suite();
    let file = suite.join("scenarios/requirements.yaml");
    let inode = std::fs::metadata(&file).unwrap().ino();
    let out = here.run(&["check"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(here.cached_suite(), suite);
    assert_eq!(std::fs::metadata(&file).unwrap().ino(), inode, "rewritten");
    // A stray scenario in the cache would join the suite: the folder is
    // written anew instead, and the stray file is gone.
    let stray = suite.join("scenarios/stray.yaml");
    std::fs::write(&stray, "id: stray\n").unwrap();
    let out = here.run(&["check"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert!(!stray.exists());
    assert_eq!(here.cached_suite(), suite);
}

/// `--add` puts a user's folder beside the suite in use (here the built-in
/// one), for list, check and run alike, with POP3SPEC_ADD as its twin;
/// `--suite DIR` replaces the suite; an id found both in the user's folder
/// and in the suite is an error naming both files, exit 2.
#[test]
fn add_puts_a_user_folder_beside_the_suite_and_suite_replaces_it() {
    let here = Elsewhere::new();
    let dir = user_folder(&here);
    let n = checkout_scenarios();
    let out = here.run(&["list", "--add", "mine"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert!(
        out.stdout.ends_with(&format!("\n{} scenario(s)\n", n + 1)),
        "{}",
        out.dump()
    );
    assert!(out.stdout.contains("mine.noop.ok"), "{}", out.dump());
    let out = here.run(&["check", "--add", "mine"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert_eq!(out.stdout, format!("{} scenario file(s) OK\n", n + 1));
    // The environment twin, and a run of the added scenario within the suite.
    let cwd = here.cwd.path();
    let tmp = here.tmp.path().to_str().unwrap();
    let cache = here.cache.path().to_str().unwrap();
    let env = [
        ("TMPDIR", tmp),
        ("XDG_CACHE_HOME", cache),
        ("POP3SPEC_ADD", "mine"),
    ];
    let out = pop3spec_env(&["run", "mine.*", "--no-reports"], cwd, &env);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert!(out.stdout.contains("1 passed"), "{}", out.dump());
    // --suite replaces the suite: only the user's scenario.
    let out = here.run(&["list", "--suite", "mine"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert!(out.stdout.ends_with("\n1 scenario(s)\n"), "{}", out.dump());
    let out = here.run(&["check", "--suite", "nowhere"]);
    assert_eq!(out.code, 2, "{}", out.dump());
    assert!(
        out.stderr
            .contains("--suite nowhere: no such file or folder"),
        "{}",
        out.dump()
    );
    // A built-in id again in the user's folder.
    let id = "rfc1939.update.all-marked-removed";
    std::fs::write(
        dir.join("dup.yaml"),
        scenario(
            id,
            "must",
            "",
            "  - send: NOOP\n  - expect: { status: ok }\n",
        ),
    )
    .unwrap();
    for command in ["check", "list", "run"] {
        let out = here.run(
            &[command, "--add", "mine", "--no-reports"][..if command == "run" { 4 } else { 3 }],
        );
        assert_eq!(out.code, 2, "{command}\n{}", out.dump());
        assert!(
            out.stderr.contains(&format!("duplicate id `{id}`")),
            "{command}\n{}",
            out.dump()
        );
        for file in [
            "mine/dup.yaml:",
            "scenarios/rfc1939/update/all-marked-removed.yaml:",
        ] {
            let at = out
                .stderr
                .find(file)
                .unwrap_or_else(|| panic!("{command}: {file} is not named\n{}", out.dump()));
            // file:line:col
            let rest = &out.stderr[at + file.len()..];
            let end = rest
                .find(|c: char| !c.is_ascii_digit() && c != ':')
                .unwrap_or(rest.len());
            let pos: Vec<&str> = rest[..end].split(':').collect();
            assert!(
                pos.len() == 2 && pos.iter().all(|p| p.parse::<u32>().is_ok()),
                "{command}: {file} without line:col\n{}",
                out.dump()
            );
        }
    }
}

/// A file reached by two spellings (a folder and `./` it, or a folder and a
/// file inside it) is one file: listed once, not a duplicate of itself.
#[test]
fn one_file_named_twice_is_read_once() {
    let here = Elsewhere::new();
    user_folder(&here);
    let cache = here.cache.path().to_str().unwrap();
    let env = [("XDG_CACHE_HOME", cache)];
    for args in [
        &["list", "--suite", "mine", "--add", "./mine"][..],
        &["list", "mine", "./mine/noop.yaml"][..],
        &["check", "mine", "--add", "mine/../mine/noop.yaml"][..],
    ] {
        let out = pop3spec_env(args, here.cwd.path(), &env);
        assert_eq!(out.code, 0, "{args:?}\n{}", out.dump());
        assert!(
            !out.stderr.contains("duplicate id"),
            "{args:?}\n{}",
            out.dump()
        );
    }
    let out = pop3spec_env(
        &["list", "--suite", "mine", "--add", "./mine"],
        here.cwd.path(),
        &env,
    );
    assert!(out.stdout.ends_with("\n1 scenario(s)\n"), "{}", out.dump());
}

/// `explain` reads the suite as `run` does: `--add` puts a user's folder
/// beside it, `--suite` (and its twin POP3SPEC_SUITE) replaces it.
#[test]
fn explain_takes_add_and_suite_like_run() {
    let here = Elsewhere::new();
    user_folder(&here);
    let out = here.run(&["explain", "mine.noop.ok", "--add", "mine"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    assert!(out.stdout.contains("mine.noop.ok"), "{}", out.dump());
    assert!(out.stdout.contains("NOOP"), "{}", out.dump());
    // The built-in scenarios are still there beside it.
    let out = here.run(&[
        "explain",
        "rfc1939.update.all-marked-removed",
        "--add",
        "mine",
    ]);
    assert_eq!(out.code, 0, "{}", out.dump());
    let cache = here.cache.path().to_str().unwrap();
    let out = pop3spec_env(
        &["explain", "mine.noop.ok"],
        here.cwd.path(),
        &[("XDG_CACHE_HOME", cache), ("POP3SPEC_SUITE", "mine")],
    );
    assert_eq!(out.code, 0, "{}", out.dump());
    // --suite replaces the suite: a built-in id is not found there.
    let out = pop3spec_env(
        &[
            "explain",
            "rfc1939.update.all-marked-removed",
            "--suite",
            "mine",
        ],
        here.cwd.path(),
        &[("XDG_CACHE_HOME", cache)],
    );
    assert_eq!(out.code, 2, "{}", out.dump());
    let out = pop3spec_env(
        &["explain", "mine.noop.ok", "--add", "nowhere"],
        here.cwd.path(),
        &[("XDG_CACHE_HOME", cache)],
    );
    assert_eq!(out.code, 2, "{}", out.dump());
    assert!(
        out.stderr.contains("--add nowhere: no such file or folder"),
        "{}",
        out.dump()
    );
}

/// `client` reads the client/ folder of the suite in use, as `run` reads the
/// suite: `--add` puts a user's client scenarios beside the built-in ones
/// (POP3SPEC_CLIENT_ADD is its twin, apart from POP3SPEC_ADD, which names
/// server scenarios), `--suite DIR` reads DIR/client instead, and a path that
/// is not there is a usage error.
#[test]
fn client_takes_suite_and_add_like_run() {
    let here = Elsewhere::new();
    let dir = here.cwd.path().join("mine/client");
    std::fs::create_dir_all(&dir).unwrap();
    let mine = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios/client/rfc1939/retr-empty-mailbox.yaml"),
    )
    .unwrap()
    .replace(
        "id: client.rfc1939.retr.empty-mailbox",
        "id: client.mine.empty-mailbox",
    );
    std::fs::write(dir.join("empty.yaml"), mine).unwrap();
    let ids = |out: &RunOutput| -> Vec<String> {
        assert_eq!(out.code, 0, "{}", out.dump());
        out.stdout
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_string)
            .collect()
    };
    let builtin = ids(&here.run(&["client", "--list"]));
    assert!(builtin.len() > 40, "{builtin:?}");
    assert!(!builtin.iter().any(|i| i == "client.mine.empty-mailbox"));
    let added = ids(&here.run(&["client", "--list", "--add", "mine/client"]));
    assert_eq!(added.len(), builtin.len() + 1, "{added:?}");
    assert!(added.iter().any(|i| i == "client.mine.empty-mailbox"));
    let cwd = here.cwd.path();
    let env = [
        ("TMPDIR", here.tmp.path().to_str().unwrap()),
        ("XDG_CACHE_HOME", here.cache.path().to_str().unwrap()),
        ("POP3SPEC_CLIENT_ADD", "mine/client"),
    ];
    let twin = ids(&pop3spec_env(&["client", "--list"], cwd, &env));
    assert_eq!(twin, added);
    let replaced = ids(&here.run(&["client", "--list", "--suite", "mine"]));
    assert_eq!(replaced, ["client.mine.empty-mailbox"]);
    // A suite folder without client scenarios says so.
    std::fs::create_dir(here.cwd.path().join("servers-only")).unwrap();
    let out = here.run(&["client", "--list", "--suite", "servers-only"]);
    assert_eq!(out.code, 2, "{}", out.dump());
    assert!(
        out.stderr
            .contains("--suite servers-only: it has no client/ folder"),
        "{}",
        out.dump()
    );
    let out = here.run(&["client", "--list", "--add", "nowhere"]);
    assert_eq!(out.code, 2, "{}", out.dump());
    assert!(
        out.stderr.contains("--add nowhere: no such file or folder"),
        "{}",
        out.dump()
    );
}
