//! Real clients against the server: curl and Python's poplib.
//! When a tool is missing the test fails under CI and is skipped otherwise.

mod common;

use common::*;
use tokio::process::Command;

async fn available(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .output()
        .await
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!("{tool} is required under CI but was not found");
        }
        eprintln!("NOTICE: {tool} not found; skipping this real-client test");
    }
    found
}

async fn curl(args: &[&str]) -> (bool, Vec<u8>, String) {
    let out = Command::new("curl")
        .args(["-s", "-S", "--max-time", "10"])
        .args(args)
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_lists_retrieves_and_deletes() {
    if !available("curl").await {
        return;
    }
    let fx = Fixture::start().await;
    let base = format!("pop3://{}/", fx.server().addr());
    let (okk, out, e) = curl(&[&base, "-u", "alice:secret"]).await;
    assert!(okk, "{e}");
    assert_eq!(out, b"1 60\r\n2 50\r\n3 48\r\n");
    let (okk, out, e) = curl(&[&format!("{base}2"), "-u", "alice:secret"]).await;
    assert!(okk, "{e}");
    assert_eq!(
        out,
        b"Subject: two\r\n\r\n.dotted\r\nplain\r\n..double\r\n.\r\nend\r\n"
    );
    let (okk, _, e) = curl(&[&base, "-u", "alice:secret", "-X", "DELE 1", "-I"]).await;
    assert!(okk, "{e}");
    assert_eq!(fx.files("alice").len(), 2, "curl's DELE + QUIT removed one");
    // Wrong password is an error for curl.
    let (okk, _, _) = curl(&[&base, "-u", "alice:nope"]).await;
    assert!(!okk);
    // Implicit TLS, and STLS on the plain port.
    let tls = format!("pop3s://{}/", fx.server().tls_addr().unwrap());
    let (okk, out, e) = curl(&[&tls, "-k", "-u", "alice:secret"]).await;
    assert!(okk, "{e}");
    assert_eq!(out, b"1 50\r\n2 48\r\n");
    let (okk, out, e) = curl(&[&format!("{base}1"), "--ssl-reqd", "-k", "-u", "bob:hunter2"]).await;
    assert!(!okk, "bob has no message 1");
    assert!(out.is_empty(), "{e}");
    let (okk, out, e) = curl(&[&base, "--ssl-reqd", "-k", "-u", "alice:secret"]).await;
    assert!(okk, "{e}");
    assert_eq!(out, b"1 50\r\n2 48\r\n");
    fx.stop().await;
}

const POPLIB_SCRIPT: &str = r#"
import poplib, ssl, sys
host, port, tls_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

p = poplib.POP3(host, port, timeout=10)
caps = p.capa()
assert 'STLS' in caps and 'UIDL' in caps and 'TOP' in caps, caps
p.stls(context=ctx)
assert 'STLS' not in p.capa()
p.user('alice')
p.pass_('secret')
assert p.stat() == (3, 158), p.stat()
resp, listing, _ = p.list()
assert listing == [b'1 60', b'2 50', b'3 48'], listing
resp, uids, _ = p.uidl()
assert uids == [b'1 300.c', b'2 200.b', b'3 100.a'], uids
assert p.uidl(2) == b'+OK 2 200.b'
resp, lines, octets = p.top(1, 0)
assert lines == [b'Subject: one', b'From: a@example.org', b''], lines
resp, lines, octets = p.retr(2)
assert resp == b'+OK 50 octets', resp
assert lines == [b'Subject: two', b'', b'.dotted', b'plain', b'..double', b'.', b'end'], lines
assert octets == 50, octets
p.dele(2)
try:
    p.retr(2)
    raise SystemExit('RETR of a deleted message succeeded')
except poplib.error_proto as e:
    assert str(e).startswith("b'-ERR"), e
p.quit()

p = poplib.POP3_SSL(host, tls_port, timeout=10, context=ctx)
p.apop('alice', 'secret')
assert p.stat() == (2, 108), p.stat()
resp, uids, _ = p.uidl()
assert uids == [b'1 300.c', b'2 100.a'], uids
p.quit()
print('poplib OK')
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_poplib_session() {
    if !available("python3").await {
        return;
    }
    let fx = Fixture::start().await;
    let out = Command::new("python3")
        .arg("-c")
        .arg(POPLIB_SCRIPT)
        .arg("127.0.0.1")
        .arg(fx.server().addr().port().to_string())
        .arg(fx.server().tls_addr().unwrap().port().to_string())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "poplib failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("poplib OK"));
    assert_eq!(fx.files("alice"), ["cur/100.a:2,", "cur/300.c:2,S"]);
    fx.stop().await;
}
