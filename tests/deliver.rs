//! `--deliver lmtp://`: scenarios seeded through a fake LMTP peer that files
//! what it receives into a reference server's Maildirs, as a real delivery
//! agent would. The peer sees the fixture's messages in order, each with a
//! Message-ID of its own and its dot lines stuffed; a recipient or message the
//! peer refuses makes the scenario an `error` naming the reply, never a `fail`;
//! mail pop3spec did not deliver is not deleted unless the account is disposable.

use pop3_reference_server::{RunningServer, ServerConfig};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

struct Server {
    _rt: tokio::runtime::Runtime,
    server: RunningServer,
    root: tempfile::TempDir,
}

/// A reference server with alice (`pw1`) and bob (`pw2`), whose Maildirs are root/alice and root/bob.
fn server() -> Server {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let root = tempfile::tempdir().unwrap();
    let users = vec![
        ("alice".to_string(), "pw1".to_string()),
        ("bob".to_string(), "pw2".to_string()),
    ];
    for (user, _) in &users {
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(root.path().join(user).join(sub)).unwrap();
        }
    }
    let server = rt
        .block_on(RunningServer::start(ServerConfig::new(root.path(), users)))
        .unwrap();
    Server {
        _rt: rt,
        server,
        root,
    }
}

/// One message as the peer received it: the recipient and the DATA octets
/// exactly as they came, before the terminating `.` line.
#[derive(Clone, Debug)]
struct Received {
    recipient: String,
    data: Vec<u8>,
}

/// A fake LMTP server on 127.0.0.1 that answers RCPT TO with `rcpt_reply` and
/// the end of DATA with `data_reply`; accepted messages are un-stuffed and
/// filed, LF-terminated, into `maildirs/<recipient>/new/`.
struct Peer {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

fn peer(maildirs: PathBuf, rcpt_reply: &'static str, data_reply: &'static str) -> Peer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    std::thread::spawn(move || {
        let mut filed = 0u32;
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut out = stream.try_clone().unwrap();
            let mut lines = BufReader::new(stream);
            let mut say = |text: &str| out.write_all(format!("{text}\r\n").as_bytes());
            say("220 fake LMTP ready").unwrap();
            let mut recipient = String::new();
            loop {
                let mut line = String::new();
                if lines.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let command = line.trim_end().to_string();
                let upper = command.to_ascii_uppercase();
                if upper.starts_with("LHLO") {
                    say("250-fake\r\n250-PIPELINING\r\n250 8BITMIME").unwrap();
                } else if upper.starts_with("MAIL FROM:") {
                    say("250 2.1.0 ok").unwrap();
                } else if upper.starts_with("RCPT TO:<") {
                    recipient = command[9..command.len() - 1].to_string();
                    say(rcpt_reply).unwrap();
                } else if upper == "DATA" {
                    say("354 go ahead").unwrap();
                    let mut data = Vec::new();
                    loop {
                        let mut raw = Vec::new();
                        lines.read_until(b'\n', &mut raw).unwrap();
                        if raw == b".\r\n" || raw.is_empty() {
                            break;
                        }
                        data.extend_from_slice(&raw);
                    }
                    log.lock().unwrap().push(Received {
                        recipient: recipient.clone(),
                        data: data.clone(),
                    });
                    if data_reply.starts_with('2') {
                        filed += 1;
                        file(&maildirs.join(&recipient), filed, &data);
                    }
                    say(data_reply).unwrap();
                } else if upper == "QUIT" {
                    say("221 bye").unwrap();
                    break;
                } else {
                    say("500 5.5.1 unknown command").unwrap();
                }
            }
        }
    });
    Peer { port, received }
}

/// Files a message the way a delivery agent does: un-stuffed, LF line ends,
/// tmp/ then new/, names that sort in arrival order.
fn file(maildir: &Path, n: u32, data: &[u8]) {
    let mut stored = Vec::new();
    for line in data.split_inclusive(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r\n").unwrap_or(line);
        stored.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
        stored.push(b'\n');
    }
    let name = format!("{n:08}.fake-lmtp");
    let tmp = maildir.join("tmp").join(&name);
    std::fs::write(&tmp, stored).unwrap();
    std::fs::rename(&tmp, maildir.join("new").join(&name)).unwrap();
}

/// Runs the scenarios whose ids match `include` against `server`, seeded
/// through `peer`; returns the exit code, the console output and the JSON report.
fn run(server: &Server, peer: &Peer, include: &[&str], extra: &[&str]) -> (i32, String, Value) {
    let out_dir = tempfile::tempdir().unwrap();
    let json = out_dir.path().join("results.json");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pop3spec"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--json"])
        .arg(&json)
        .arg("--junit")
        .arg(out_dir.path().join("junit.xml"))
        .args(["--host", "127.0.0.1", "--port"])
        .arg(server.server.addr().port().to_string())
        .args([
            "--user", "alice", "--pass", "pw1", "--user2", "bob", "--pass2", "pw2",
        ])
        .arg("--deliver")
        .arg(format!("lmtp://127.0.0.1:{}", peer.port))
        .args(["--var", "settle=20ms", "--var", "silence=100ms"])
        .args(extra)
        .env_remove("POP3SPEC_JOBS");
    for glob in include {
        cmd.args(["--include", glob]);
    }
    let out = cmd.output().expect("run pop3spec");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let report = std::fs::read_to_string(&json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    assert!(report.is_object(), "no JSON report:\n{text}");
    (out.status.code().unwrap_or(-1), text, report)
}

fn scenarios(report: &Value) -> &Vec<Value> {
    report["scenarios"].as_array().expect("a JSON report")
}

fn message_id(data: &[u8]) -> String {
    String::from_utf8_lossy(data)
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
        .expect("every delivered message has a Message-ID")
        .to_string()
}

#[test]
fn delivered_fixtures_arrive_in_order_with_unique_ids_and_stuffed_dots() {
    let server = server();
    let peer = peer(
        server.root.path().to_path_buf(),
        "250 2.1.5 ok",
        "250 2.0.0 delivered",
    );
    let ids = [
        "rfc1939.dele.numbers-stable",
        "rfc1939.update.only-marked-removed",
        "rfc1939.stuffing.retr-dot-lines",
        "rfc1939.lock.per-maildrop",
    ];
    let (code, out, report) = run(&server, &peer, &ids, &[]);
    assert_eq!(code, 0, "{out}");
    let results = scenarios(&report);
    assert_eq!(results.len(), ids.len(), "{out}");
    for r in results {
        assert_eq!(r["outcome"], "pass", "{}: {out}", r["id"]);
        let notes: Vec<&str> = r["transcript"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|l| l["text"].as_str())
            .filter(|t| t.starts_with("seeded fixture"))
            .collect();
        assert!(
            notes.iter().all(|n| n.contains("over lmtp://127.0.0.1:")),
            "{notes:?}"
        );
    }

    let received = peer.received.lock().unwrap().clone();
    // The three-message fixture, twice, in order; the per-maildrop scenario's
    // second account got its own fixture.
    let markers: Vec<String> = received
        .iter()
        .filter(|r| r.recipient == "alice")
        .filter_map(|r| {
            String::from_utf8_lossy(&r.data)
                .lines()
                .find(|l| l.starts_with("Marker: "))
                .map(str::to_string)
        })
        .collect();
    assert_eq!(
        markers[..6],
        [1, 2, 3, 1, 2, 3].map(|n| format!("Marker: message-{n}")),
        "{markers:?}"
    );
    assert!(received.iter().any(|r| r.recipient == "bob"));
    let mut message_ids: Vec<String> = received.iter().map(|r| message_id(&r.data)).collect();
    assert!(message_ids
        .iter()
        .all(|m| m.ends_with("@pop3spec.invalid>")));
    message_ids.sort();
    message_ids.dedup();
    assert_eq!(message_ids.len(), received.len(), "Message-IDs repeat");
    // Every line of the dot-lines fixture that starts with a dot went out doubled,
    // with CRLF line ends whatever the fixture file used.
    let dots = received
        .iter()
        .find(|r| String::from_utf8_lossy(&r.data).contains("Subject: Dot lines"))
        .expect("the dot-lines fixture was delivered");
    let text = String::from_utf8_lossy(&dots.data);
    for line in ["..leading dot", "..", "...", "....", ".. space after dot"] {
        assert!(
            text.split("\r\n").any(|l| l == line),
            "`{line}` missing from {text:?}"
        );
    }
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "bare LF in {text:?}"
    );
}

/// The scenario ends as an error that quotes the peer's reply.
fn assert_seeding_error(server: &Server, peer: &Peer, reply: &str) {
    let (code, out, report) = run(server, peer, &["rfc1939.dele.numbers-stable"], &[]);
    assert_ne!(code, 0, "{out}");
    let results = scenarios(&report);
    assert_eq!(results.len(), 1, "{out}");
    assert_eq!(results[0]["outcome"], "error", "{out}");
    let message = results[0]["finding"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("could not seed fixture") && message.contains(reply),
        "{message}"
    );
}

#[test]
fn refused_recipient_is_a_seeding_error() {
    let server = server();
    let peer = peer(
        server.root.path().to_path_buf(),
        "550 5.1.1 no such user",
        "250 ok",
    );
    assert_seeding_error(&server, &peer, "550 5.1.1 no such user");
}

#[test]
fn refused_message_after_data_is_a_seeding_error() {
    let server = server();
    let peer = peer(
        server.root.path().to_path_buf(),
        "250 ok",
        "452 4.2.2 mailbox full",
    );
    assert_seeding_error(&server, &peer, "452 4.2.2 mailbox full");
}

#[test]
fn mail_pop3spec_did_not_deliver_is_kept_unless_disposable() {
    let server = server();
    let peer = peer(server.root.path().to_path_buf(), "250 ok", "250 ok");
    let precious = server.root.path().join("alice/cur/1.precious:2,S");
    std::fs::write(
        &precious,
        "Subject: keep me\nMessage-ID: <mine@example.org>\n\nhi\n",
    )
    .unwrap();
    let (_, out, report) = run(&server, &peer, &["rfc1939.dele.numbers-stable"], &[]);
    assert_eq!(scenarios(&report)[0]["outcome"], "error", "{out}");
    assert!(out.contains("refusing to empty"), "{out}");
    let kept = std::fs::read_dir(server.root.path().join("alice/cur"))
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .any(|text| text.contains("keep me"));
    assert!(kept, "a refused seed must not delete foreign mail");
    assert!(peer.received.lock().unwrap().is_empty());

    let (code, out, report) = run(
        &server,
        &peer,
        &["rfc1939.dele.numbers-stable"],
        &["--disposable-account"],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(scenarios(&report)[0]["outcome"], "pass", "{out}");
}
