//! Seeding against a server started here: the harness checks that the server
//! serves the seeded fixture before it judges anything, and a server that
//! numbers the fixture differently, or reads another store, makes the
//! scenario an `error` that says what was seen, never a `fail`.

mod support;

use pop3_reference_server::{Fault, FaultSet, RunningServer, ServerConfig, TlsSetup};
use std::path::PathBuf;
use support::*;

/// A reference server on a fresh mail root with accounts alice and bob
/// (password `pw`), `fault` switched on (or none).
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
        let users = ["alice", "bob"].map(|u| (u.to_string(), "pw".to_string()));
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

    /// `pop3spec run` of `scenarios` (paths or ids) as alice (and bob),
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
                "pw",
                "--timeout",
                "2s",
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
