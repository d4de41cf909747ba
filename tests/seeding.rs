//! Seeding against a server started here: the harness checks that the server
//! serves the seeded fixture before it judges anything, and a server that
//! numbers the fixture differently, or reads another store, makes the
//! scenario an `error` that says what was seen, never a `fail`.

mod support;

use pop3_reference_server::{Fault, FaultSet, RunningServer, ServerConfig, TlsSetup};
use std::path::PathBuf;
use support::*;

/// The password of every account here. Reports redact it wherever it
/// appears, so it holds a `!`, which no temporary folder's random name does:
/// a plain word such as `pw` turned up inside those names now and then, and
/// the paths the messages quote came out redacted.
const PASS: &str = "pass!word";

/// A reference server on a fresh mail root with accounts alice and bob
/// (password [`PASS`]), `fault` switched on (or none).
struct Server {
    rt: tokio::runtime::Runtime,
    server: Option<RunningServer>,
    root: tempfile::TempDir,
}

impl Server {
    fn start(fault: Option<Fault>) -> Server {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let root = tempfile::tempdir().unwrap();
        for u in ["alice", "bob"] {
            std::fs::create_dir_all(root.path().join(u)).unwrap();
        }
        let users = ["alice", "bob"].map(|u| (u.to_string(), PASS.to_string()));
        let mut config = ServerConfig::new(root.path(), users.to_vec());
        config.tls = TlsSetup::None;
        config.tls_listen = None;
        if let Some(f) = fault {
            config.faults = FaultSet::single(f);
        }
        let server = rt.block_on(RunningServer::start(config)).unwrap();
        Server {
            rt,
            server: Some(server),
            root,
        }
    }

    fn maildir(&self, user: &str) -> PathBuf {
        self.root.path().join(user)
    }

    fn port(&self) -> String {
        self.server.as_ref().unwrap().addr().port().to_string()
    }

    /// `pop3spec run` of `scenarios` (paths or ids) as alice (and bob), with a
    /// step timeout generous for a loaded machine (nothing here waits for one),
    /// with `extra` flags; the JSON report is parsed into `json`.
    fn run(&self, ws: &Workspace, scenarios: &[&str], extra: &[&str]) -> RunOutput {
        let port = self.port();
        let json = ws.json_path();
        let junit = ws.junit_path();
        let mut args: Vec<String> = vec!["run".into()];
        args.extend(scenarios.iter().map(|s| s.to_string()));
        args.extend(
            [
                "--host",
                "127.0.0.1",
                "--port",
                &port,
                "--user",
                "alice",
                "--pass",
                PASS,
                "--timeout",
                "10s",
                "--color",
                "never",
                "--json",
                json.to_str().unwrap(),
                "--junit",
                junit.to_str().unwrap(),
            ]
            .map(String::from),
        );
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut out = pop3spec(&args, ws.scenarios().parent().unwrap());
        let text = std::fs::read_to_string(&json).ok();
        out.json = text.as_deref().map(|t| serde_json::from_str(t).unwrap());
        out.json_text = text;
        out
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            self.rt.block_on(s.shutdown());
        }
    }
}

/// The message of scenario `id`, which must have ended as `error`.
fn error_message(out: &RunOutput, id: &str) -> String {
    assert_eq!(out.outcome(id), "error", "{}", out.dump());
    out.message(id)
}

fn outcomes(out: &RunOutput) -> Vec<(String, String)> {
    out.json.as_ref().expect("a JSON report")["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                s["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The whole suite against a server that numbers messages newest first (an
/// order RFC 1939 allows and the seeding cannot set): every scenario whose
/// fixture has two or more messages is an error naming the order seen, and
/// nothing fails.
#[test]
fn server_numbering_the_fixture_differently_is_an_error_naming_the_order() {
    let server = Server::start(Some(Fault::MessagesNewestFirst));
    let ws = Workspace::new();
    let maildir = server.maildir("alice");
    let out = server.run(
        &ws,
        &[],
        &["--maildir", maildir.to_str().unwrap(), "--skip-tag", "slow"],
    );
    let all = outcomes(&out);
    let failed: Vec<&(String, String)> = all.iter().filter(|(_, o)| o == "fail").collect();
    assert!(failed.is_empty(), "{failed:?}\n{}", out.dump());
    let message = error_message(&out, "rfc1939.uidl.unique");
    assert!(
        message.contains("seeded 3 messages in the order 1,2,3; the server numbers them 3,2,1"),
        "{message}"
    );
    // dot-lines has two messages; one-message fixtures cannot be misnumbered.
    let dots = out.message("rfc1939.stuffing.retr-dot-lines-lf-stored");
    assert!(dots.contains("the server numbers them 2,1"), "{dots}");
    assert_eq!(
        out.outcome("rfc1939.octets.lf-only-list-equals-retr"),
        "pass"
    );
    // No verdict but `error` came from the check: the same scenarios pass on
    // a correct server.
    let errors = all.iter().filter(|(_, o)| o == "error").count();
    assert!(errors >= 10, "{errors} errors\n{}", out.dump());
}

/// The same scenarios on a correct server: the check passes and says so in
/// the transcript, and the verdicts are the scenarios' own.
#[test]
fn correct_server_passes_the_check() {
    let server = Server::start(None);
    let ws = Workspace::new();
    let maildir = server.maildir("alice");
    let out = server.run(
        &ws,
        &[
            "rfc1939.uidl.unique",
            "rfc1939.stuffing.retr-dot-lines-lf-stored",
        ],
        &["--maildir", maildir.to_str().unwrap()],
    );
    assert_eq!(out.code, 0, "{}", out.dump());
    let text = out.json_text.as_deref().unwrap();
    assert!(
        text.contains("the server serves fixture three-messages as seeded"),
        "{}",
        out.dump()
    );
}

/// Seeding a Maildir the server does not read: the server lists nothing,
/// and the scenario says which store was seeded.
#[test]
fn seeding_a_store_the_server_does_not_read_is_an_error_with_a_hint() {
    let server = Server::start(None);
    let ws = Workspace::new();
    let elsewhere = tempfile::tempdir().unwrap();
    let out = server.run(
        &ws,
        &["rfc1939.uidl.unique"],
        &["--maildir", elsewhere.path().to_str().unwrap()],
    );
    let message = error_message(&out, "rfc1939.uidl.unique");
    assert!(
        message.contains("seeded 3 message(s); the server lists 0 messages")
            && message.contains(&format!(
                "is the Maildir {} the store this account reads?",
                elsewhere.path().display()
            )),
        "{message}"
    );
}

// ---------------------------------------------------------------- mbox

/// An mboxrd reader written here, independent of the writer: a message
/// starts at a `From ` line at the start of the file or after a blank line,
/// the blank line before the next `From ` line (or at the end) is the
/// separator, and one `>` is removed from lines that match `>+From `.
fn read_mboxrd(mbox: &[u8]) -> Vec<Vec<u8>> {
    let mut lines: Vec<&[u8]> = mbox.split(|b| *b == b'\n').collect();
    assert_eq!(lines.pop(), Some(&b""[..]), "an mbox ends with a line end");
    let mut messages: Vec<Vec<&[u8]>> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let starts = line.starts_with(b"From ") && (i == 0 || lines[i - 1].is_empty());
        if starts {
            if let Some(last) = messages.last_mut() {
                assert_eq!(last.pop(), Some(&b""[..]), "a blank line ends each message");
            }
            messages.push(Vec::new());
            continue;
        }
        messages
            .last_mut()
            .expect("the file starts with a From line")
            .push(line);
    }
    if let Some(last) = messages.last_mut() {
        assert_eq!(
            last.pop(),
            Some(&b""[..]),
            "a blank line ends the last message"
        );
    }
    messages
        .into_iter()
        .map(|m| {
            let mut out = Vec::new();
            for line in m {
                let quotes = line.iter().take_while(|b| **b == b'>').count();
                if quotes > 0 && line[quotes..].starts_with(b"From ") {
                    out.extend_from_slice(&line[1..]);
                } else {
                    out.extend_from_slice(line);
                }
                out.push(b'\n');
            }
            out
        })
        .collect()
}

fn mbox_fixture(dir: &std::path::Path) -> Vec<Vec<u8>> {
    let messages: Vec<&[u8]> = vec![
        b"Subject: one\r\n\r\nFrom the start\r\n>From quoted once\r\n>>From twice\r\nFrom\r\n\r\n",
        b"Subject: two\n\n.\n..\nFrom: not an envelope\n From indented\n",
        b"Subject: three\r\n\r\nno final line end",
        b"From: first header line\nSubject: four\n\nbody\n\n\n",
    ];
    for (i, m) in messages.iter().enumerate() {
        std::fs::write(dir.join(format!("{i:02}.eml")), m).unwrap();
    }
    messages.iter().map(|m| m.to_vec()).collect()
}

fn mbox_seeder(path: &std::path::Path, disposable: bool) -> pop3spec::runner::seed::Seeder {
    pop3spec::runner::seed::Seeder::Mbox {
        path: path.to_path_buf(),
        disposable,
        durable: false,
    }
}

/// Every message comes back byte for byte in its stored form (LF line ends;
/// the last line of a message always ends, as mbox requires), in order; the
/// file keeps its mode, and no lock file is left behind.
#[test]
fn mbox_round_trips_through_a_from_quoting_reader() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let fixture = tmp.path().join("fx");
    std::fs::create_dir(&fixture).unwrap();
    let messages = mbox_fixture(&fixture);
    let mbox = tmp.path().join("alice");
    std::fs::write(&mbox, b"").unwrap();
    std::fs::set_permissions(&mbox, std::fs::Permissions::from_mode(0o660)).unwrap();
    let seeder = mbox_seeder(&mbox, false);
    // Twice: the second time replaces what the first wrote.
    for _ in 0..2 {
        seeder.seed(&fixture, "alice").unwrap();
    }
    let text = std::fs::read(&mbox).unwrap();
    assert!(!text.contains(&b'\r'), "LF line ends only");
    let read = read_mboxrd(&text);
    let expected: Vec<Vec<u8>> = messages
        .iter()
        .map(|m| {
            let mut lf = String::from_utf8(m.clone()).unwrap().replace("\r\n", "\n");
            if !lf.ends_with('\n') {
                lf.push('\n');
            }
            lf.into_bytes()
        })
        .collect();
    assert_eq!(read, expected, "{}", String::from_utf8_lossy(&text));
    let mode = std::fs::metadata(&mbox).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o660);
    assert!(!tmp.path().join("alice.lock").exists());
}

/// Mail pop3spec did not write survives unless the account is disposable.
#[test]
fn mbox_with_foreign_mail_is_refused_unless_disposable() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = tmp.path().join("fx");
    std::fs::create_dir(&fixture).unwrap();
    mbox_fixture(&fixture);
    let mbox = tmp.path().join("alice");
    let precious = b"From bob@example.org Thu Dec  4 10:00:00 2026\nSubject: keep\n\nmine\n\n";
    std::fs::write(&mbox, precious).unwrap();
    let err = mbox_seeder(&mbox, false)
        .seed(&fixture, "alice")
        .unwrap_err();
    assert!(err.contains("refusing to replace"), "{err}");
    assert_eq!(std::fs::read(&mbox).unwrap(), precious);
    assert!(!tmp.path().join("alice.lock").exists());
    mbox_seeder(&mbox, true).seed(&fixture, "alice").unwrap();
    assert_eq!(read_mboxrd(&std::fs::read(&mbox).unwrap()).len(), 4);
}

/// While another program holds the dot-lock, seeding waits; it writes once
/// the lock is gone.
#[test]
fn mbox_seeding_waits_for_the_dot_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = tmp.path().join("fx");
    std::fs::create_dir(&fixture).unwrap();
    mbox_fixture(&fixture);
    let mbox = tmp.path().join("alice");
    std::fs::write(&mbox, b"").unwrap();
    let lock = tmp.path().join("alice.lock");
    std::fs::write(&lock, b"12345\n").unwrap();
    let seeder = mbox_seeder(&mbox, false);
    let worker = std::thread::spawn(move || seeder.seed(&fixture, "alice"));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        std::fs::read(&mbox).unwrap(),
        b"",
        "written under someone else's lock"
    );
    std::fs::remove_file(&lock).unwrap();
    worker.join().unwrap().unwrap();
    assert_eq!(read_mboxrd(&std::fs::read(&mbox).unwrap()).len(), 4);
}

// ---------------------------------------------------------------- --seed-command

/// A seed command that replaces `$POP3SPEC_USER`'s Maildir under `root`
/// with the fixture files it is given, and logs who it seeded.
fn seed_script(dir: &std::path::Path, root: &std::path::Path) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("seed.sh");
    let log = dir.join("seeded.log");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nset -e\nbox={root}/$POP3SPEC_USER\nmkdir -p $box/new $box/cur $box/tmp\nrm -f $box/new/* $box/cur/*\nn=0\nfor f; do n=$((n+1)); cp \"$f\" $box/new/$n.seeded; touch -d @$((1700000000+n)) $box/new/$n.seeded; done\necho \"$POP3SPEC_USER $POP3SPEC_FIXTURE $#\" >> {log}\n",
            root = root.display(),
            log = log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, log)
}

/// `--seed-command` seeds the second account too (POP3SPEC_USER says which),
/// alone and beside a `--maildir` for the first account.
#[test]
fn seed_command_seeds_the_second_account() {
    let server = Server::start(None);
    let ws = Workspace::new();
    let (script, log) = seed_script(ws.scenarios().parent().unwrap(), server.root.path());
    let two_accounts = [
        "rfc1939.lock.per-maildrop",
        "rfc1939.uidl.unique",
        "--user2",
        "bob",
        "--pass2",
        PASS,
        "--seed-command",
        script.to_str().unwrap(),
    ];
    let out = server.run(&ws, &two_accounts[..2], &two_accounts[2..]);
    assert_eq!(out.code, 0, "{}", out.dump());
    let seeded = std::fs::read_to_string(&log).unwrap();
    assert!(seeded.contains("alice three-messages 3\n"), "{seeded}");
    assert!(seeded.contains("bob one-message 1\n"), "{seeded}");
    // With a Maildir for alice, the command seeds only bob.
    std::fs::remove_file(&log).unwrap();
    let maildir = server.maildir("alice");
    let mut extra = two_accounts[2..].to_vec();
    // (The command's files are not pop3spec's: the Maildir may be emptied
    // only because the account is declared disposable.)
    extra.extend([
        "--maildir",
        maildir.to_str().unwrap(),
        "--disposable-account",
    ]);
    let out = server.run(&ws, &two_accounts[..2], &extra);
    assert_eq!(out.code, 0, "{}", out.dump());
    let seeded = std::fs::read_to_string(&log).unwrap();
    assert!(!seeded.contains("alice"), "{seeded}");
    assert!(seeded.contains("bob one-message 1\n"), "{seeded}");
}

/// A server that refuses a TOP and then closes (RFC 1939 §4 allows closing
/// after any -ERR): the check cannot tell, and the scenario's steps run on a
/// fresh session rather than on the closed one.
#[test]
fn check_refused_and_closed_leaves_the_steps_a_fresh_session() {
    let server = FakeServer::start(
        Script::new()
            .account("alice", PASS)
            .on("STAT", "+OK 2 80\r\n")
            .on("TOP 1 0", "+OK\r\nSubject: s\r\n\r\n.\r\n")
            .on_acts(
                "TOP 2 0",
                vec![Act::Send(b"-ERR no TOP here\r\n".to_vec()), Act::Close],
            )
            .on("NOOP", "+OK\r\n"),
    );
    let ws = Workspace::new();
    ws.write("fixtures/one/01.eml", "Subject: s\r\n\r\nbody\r\n");
    ws.write("fixtures/one/02.eml", "Subject: t\r\n\r\nbody\r\n");
    ws.write(
        "noop.yaml",
        &scenario(
            "fake.check.closed",
            "must",
            "state: transaction\nfixture: one\n",
            "  - send: NOOP\n  - expect: { status: ok }\n",
        ),
    );
    let maildir = tempfile::tempdir().unwrap();
    let out = ws.run(
        server.port,
        &[
            "--user",
            "alice",
            "--pass",
            PASS,
            "--maildir",
            maildir.path().to_str().unwrap(),
        ],
    );
    assert_eq!(out.outcome("fake.check.closed"), "pass", "{}", out.dump());
    let text = out.json_text.as_deref().unwrap();
    assert!(
        text.contains("could not check fixture one"),
        "{}",
        out.dump()
    );
    let sessions = server.received();
    let with_top = sessions
        .iter()
        .position(|s| s.contains(&"TOP 1 0".to_string()));
    let with_noop = sessions
        .iter()
        .position(|s| s.contains(&"NOOP".to_string()));
    assert!(with_top.is_some() && with_noop > with_top, "{sessions:?}");
}
