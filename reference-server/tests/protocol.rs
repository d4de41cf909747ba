//! RFC 1939 / 2449 / 5034 behaviour of the correct server, command by command.

mod common;

use base64::Engine;
use common::*;
use md5::{Digest, Md5};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[tokio::test]
async fn greeting_has_unique_apop_timestamp() {
    let fx = Fixture::start().await;
    let a = fx.connect().await;
    let b = fx.connect().await;
    for g in [&a.greeting, &b.greeting] {
        assert!(g.starts_with("+OK "), "{g}");
        let ts = &g[g.find('<').unwrap()..];
        assert!(ts.ends_with('>') && ts.contains('@'), "{ts}");
        assert!(g.len() + 2 <= 512);
    }
    assert_ne!(a.greeting, b.greeting);
    fx.stop().await;
}

#[tokio::test]
async fn authorization_state_refuses_transaction_commands() {
    let fx = Fixture::start().await;
    let mut c = fx.connect().await;
    for cmd in [
        "STAT",
        "LIST",
        "LIST 1",
        "RETR 1",
        "DELE 1",
        "NOOP",
        "RSET",
        "TOP 1 0",
        "UIDL",
        "UIDL 1",
        "XYZZY",
        "PASS secret",
    ] {
        let r = c.cmd(cmd).await;
        assert!(err(&r), "{cmd} in AUTHORIZATION: {r}");
    }
    // Still usable afterwards.
    c.login("alice", "secret").await;
    assert_eq!(c.cmd("STAT").await, "+OK 3 158");
    fx.stop().await;
}

#[tokio::test]
async fn transaction_state_refuses_authorization_commands() {
    let fx = Fixture::start().await;
    let mut c = fx.alice().await;
    for cmd in [
        "USER alice",
        "PASS secret",
        "APOP alice 0123",
        "AUTH PLAIN",
        "STLS",
        "AUTH",
    ] {
        let r = c.cmd(cmd).await;
        assert!(err(&r), "{cmd} in TRANSACTION: {r}");
    }
    assert!(ok(&c.cmd("NOOP").await));
    fx.stop().await;
}

#[tokio::test]
async fn user_pass_rules() {
    let fx = Fixture::start().await;
    let mut c = fx.connect().await;
    // Unknown user: USER does not leak, PASS fails with [AUTH].
    assert!(ok(&c.cmd("USER nobody").await));
    let r = c.cmd("PASS x").await;
    assert!(r.starts_with("-ERR [AUTH]"), "{r}");
    // Wrong password, then PASS alone is refused: a failed PASS needs a new USER.
    assert!(ok(&c.cmd("USER alice").await));
    assert!(c.cmd("PASS wrong").await.starts_with("-ERR [AUTH]"));
    let r = c.cmd("PASS secret").await;
    assert!(err(&r) && !r.contains("[AUTH]"), "{r}");
    // USER without argument, with two arguments.
    assert!(err(&c.cmd("USER").await));
    assert!(err(&c.cmd("USER a b").await));
    // Keywords are case-insensitive; arguments are not folded.
    assert!(ok(&c.cmd("user ALICE").await));
    assert!(err(&c.cmd("pass secret").await));
    assert!(ok(&c.cmd("uSeR alice").await));
    let r = c.cmd("pAsS secret").await;
    assert_eq!(r, "+OK maildrop has 3 messages (158 octets)");
    fx.stop().await;
}

#[tokio::test]
async fn password_with_spaces() {
    let fx = Fixture::with(|c| c.users.push(("carol".into(), "two words".into()))).await;
    let mut c = fx.connect().await;
    c.login("carol", "two words").await;
    assert_eq!(c.cmd("STAT").await, "+OK 0 0");
    fx.stop().await;
}

#[tokio::test]
async fn apop_login() {
    let fx = Fixture::start().await;
    let mut c = fx.connect().await;
    let ts = c.greeting[c.greeting.find('<').unwrap()..].to_string();
    let digest = |pw: &str| {
        Md5::digest(format!("{ts}{pw}"))
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    assert!(c
        .cmd(&format!("APOP alice {}", digest("nope")))
        .await
        .starts_with("-ERR [AUTH]"));
    assert!(c
        .cmd(&format!("APOP nobody {}", digest("secret")))
        .await
        .starts_with("-ERR [AUTH]"));
    assert!(err(&c.cmd("APOP alice").await));
    let r = c.cmd(&format!("APOP alice {}", digest("secret"))).await;
    assert!(ok(&r), "{r}");
    assert_eq!(c.cmd("STAT").await, "+OK 3 158");
    // A digest from another connection's timestamp does not work.
    let mut d = fx.connect().await;
    assert!(d
        .cmd(&format!("APOP bob {}", digest("hunter2")))
        .await
        .starts_with("-ERR [AUTH]"));
    fx.stop().await;
}

#[tokio::test]
async fn stat_list_uidl() {
    let fx = Fixture::start().await;
    let mut c = fx.alice().await;
    assert_eq!(c.cmd("STAT").await, "+OK 3 158");
    let (_, l) = c.multi("LIST").await;
    assert_eq!(l, ["1 60", "2 50", "3 48"]);
    assert_eq!(c.cmd("LIST 2").await, "+OK 2 50");
    let (_, u) = c.multi("UIDL").await;
    assert_eq!(u, ["1 300.c", "2 200.b", "3 100.a"]);
    assert_eq!(c.cmd("UIDL 3").await, "+OK 3 100.a");
    for bad in [
        "LIST 0", "LIST 4", "LIST x", "LIST 1 2", "LIST -1", "LIST +1", "UIDL 0", "UIDL 9",
        "UIDL a", "STAT 1", "LIST  1", "LIST ",
    ] {
        assert!(err(&c.cmd(bad).await), "{bad}");
    }
    fx.stop().await;
}

#[tokio::test]
async fn retr_octets_and_byte_stuffing() {
    let fx = Fixture::start().await;
    let mut c = fx.alice().await;
    // CRLF-stored: sent as stored.
    assert_eq!(c.cmd("RETR 1").await, "+OK 60 octets");
    let b = c.raw_body().await;
    assert_eq!(&b[..b.len() - 3], MSG1);
    // LF-stored with dot-leading lines: CRLF and stuffed.
    assert_eq!(c.cmd("RETR 2").await, "+OK 50 octets");
    let b = c.raw_body().await;
    assert_eq!(
        b,
        b"Subject: two\r\n\r\n..dotted\r\nplain\r\n...double\r\n..\r\nend\r\n.\r\n"
    );
    // No final newline: CRLF added before the terminator and counted.
    assert_eq!(c.cmd("RETR 3").await, "+OK 48 octets");
    let b = c.raw_body().await;
    assert_eq!(
        b,
        b"Subject: three\r\n\r\nb1\r\nb2\r\nb3\r\nno final newline\r\n.\r\n"
    );
    // The unstuffed size matches the advertised size exactly.
    for bad in ["RETR", "RETR 0", "RETR 4", "RETR 1 1", "RETR one"] {
        assert!(err(&c.cmd(bad).await), "{bad}");
    }
    fx.stop().await;
}

#[tokio::test]
async fn top_rules() {
    let fx = Fixture::start().await;
    let mut c = fx.alice().await;
    let (_, b) = c.multi("TOP 1 0").await;
    assert_eq!(b, ["Subject: one", "From: a@example.org", ""]);
    let (_, b) = c.multi("TOP 1 1").await;
    assert_eq!(b, ["Subject: one", "From: a@example.org", "", "body one"]);
    let (_, b) = c.multi("TOP 3 100").await;
    assert_eq!(
        b,
        ["Subject: three", "", "b1", "b2", "b3", "no final newline"]
    );
    c.send("TOP 2 2").await;
    assert!(ok(&c.line().await));
    let raw = c.raw_body().await;
    assert_eq!(raw, b"Subject: two\r\n\r\n..dotted\r\nplain\r\n.\r\n");
    for bad in [
        "TOP 1",
        "TOP 0 1",
        "TOP 9 1",
        "TOP 1 -1",
        "TOP 1 x",
        "TOP 1 1 1",
    ] {
        assert!(err(&c.cmd(bad).await), "{bad}");
    }
    fx.stop().await;
}

#[tokio::test]
async fn dele_rset_noop_and_marked_messages() {
    let fx = Fixture::start().await;
    let mut c = fx.alice().await;
    assert!(ok(&c.cmd("DELE 2").await));
    assert!(err(&c.cmd("DELE 2").await), "double DELE");
    assert_eq!(c.cmd("STAT").await, "+OK 2 108");
    let (_, l) = c.multi("LIST").await;
    assert_eq!(l, ["1 60", "3 48"], "numbers are stable after DELE");
    let (_, u) = c.multi("UIDL").await;
    assert_eq!(u, ["1 300.c", "3 100.a"]);
    for cmd in ["RETR 2", "TOP 2 0", "LIST 2", "UIDL 2", "DELE 2"] {
        assert!(err(&c.cmd(cmd).await), "{cmd} on a marked message");
    }
    assert_eq!(c.cmd("LIST 3").await, "+OK 3 48");
    assert!(ok(&c.cmd("NOOP").await));
    assert!(err(&c.cmd("NOOP x").await));
    let r = c.cmd("RSET").await;
    assert!(ok(&r), "{r}");
    assert_eq!(c.cmd("STAT").await, "+OK 3 158");
    assert_eq!(c.cmd("LIST 2").await, "+OK 2 50");
    assert!(err(&c.cmd("RSET 1").await));
    fx.stop().await;
}

#[tokio::test]
async fn capa_per_state() {
    let fx = Fixture::with(|c| {
        c.expire = Some(30);
        c.login_delay = Some(60);
    })
    .await;
    let mut c = fx.connect().await;
    let (_, auth) = c.multi("CAPA").await;
    for cap in [
        "USER",
        SASL_CAPABILITY,
        "RESP-CODES",
        "AUTH-RESP-CODE",
        "PIPELINING",
        "TOP",
        "UIDL",
        "EXPIRE 30",
        "LOGIN-DELAY 60",
        "STLS",
        "IMPLEMENTATION pop3-reference-server",
    ] {
        assert!(auth.iter().any(|l| l == cap), "missing {cap} in {auth:?}");
    }
    c.login("alice", "secret").await;
    let (_, tx) = c.multi("CAPA").await;
    // STLS is AUTHORIZATION-only (RFC 2595 §4); everything announced before
    // login is announced after it too (RFC 2449 §5).
    assert!(!tx.iter().any(|l| l == "STLS"), "STLS in TRANSACTION CAPA");
    for cap in [
        "USER",
        SASL_CAPABILITY,
        "UTF8 USER",
        "TOP",
        "UIDL",
        "PIPELINING",
        "RESP-CODES",
        "EXPIRE 30",
    ] {
        assert!(tx.iter().any(|l| l == cap), "missing {cap}");
    }
    assert!(err(&c.cmd("CAPA x").await));
    fx.stop().await;

    let fx = Fixture::with(|c| {
        c.tls = pop3_reference_server::TlsSetup::None;
        c.tls_listen = None;
    })
    .await;
    let mut c = fx.connect().await;
    let (_, auth) = c.multi("CAPA").await;
    assert!(auth.iter().any(|l| l == "EXPIRE NEVER"));
    assert!(!auth
        .iter()
        .any(|l| l == "STLS" || l.starts_with("LOGIN-DELAY")));
    assert!(err(&c.cmd("STLS").await), "STLS without TLS configured");
    fx.stop().await;
}

#[tokio::test]
async fn quit_in_authorization() {
    let fx = Fixture::start().await;
    let mut c = fx.connect().await;
    assert!(err(&c.cmd("QUIT now").await));
    assert!(ok(&c.cmd("QUIT").await));
    assert!(c.closed().await);
    fx.stop().await;
}

#[tokio::test]
async fn long_lines_and_garbage() {
    let fx = Fixture::start().await;
    let mut c = fx.connect().await;
    // 255 octets including CRLF are accepted: USER + space + 248 chars + CRLF.
    let name = "u".repeat(248);
    assert!(ok(&c.cmd(&format!("USER {name}")).await));
    // 256 octets are refused, and the session goes on.
    let name = "u".repeat(249);
    assert!(err(&c.cmd(&format!("USER {name}")).await));
    // A huge line (1 MB) is consumed and refused once.
    let mut big = vec![b'A'; 1 << 20];
    big.extend_from_slice(b"\r\n");
    c.send_raw(&big).await;
    assert!(err(&c.line().await));
    for junk in [
        &b"\x00\x01\x02\r\n"[..],
        b"\xff\xfe USER\r\n",
        b"\r\n",
        b" \r\n",
        b"USER\x00x\r\n",
    ] {
        c.send_raw(junk).await;
        let r = c.line().await;
        assert!(err(&r), "{junk:?}: {r}");
    }
    c.login("alice", "secret").await;
    assert_eq!(c.cmd("STAT").await, "+OK 3 158");
    fx.stop().await;
}

#[tokio::test]
async fn pipelining_answers_in_order() {
    let fx = Fixture::start().await;
    let mut c = fx.connect().await;
    c.send_raw(b"CAPA\r\nUSER alice\r\nPASS secret\r\nSTAT\r\nLIST 1\r\nRETR 3\r\nBOGUS\r\nNOOP\r\nQUIT\r\n")
        .await;
    let first = c.line().await;
    assert!(ok(&first));
    c.body().await;
    assert!(ok(&c.line().await));
    assert!(ok(&c.line().await));
    assert_eq!(c.line().await, "+OK 3 158");
    assert_eq!(c.line().await, "+OK 1 60");
    assert_eq!(c.line().await, "+OK 48 octets");
    assert_eq!(c.body().await.len(), 6);
    assert!(err(&c.line().await));
    assert!(ok(&c.line().await));
    assert!(ok(&c.line().await));
    assert!(c.closed().await);
    fx.stop().await;
}

#[tokio::test]
async fn auth_cram_md5() {
    let fx = Fixture::start().await;
    let mut c = fx.connect().await;
    // RFC 5034 §4: no initial response for a mechanism where the server speaks first.
    assert!(err(&c.cmd("AUTH CRAM-MD5 YWxpY2U=").await));
    let line = c.cmd("AUTH CRAM-MD5").await;
    let challenge = B64.decode(line.strip_prefix("+ ").unwrap()).unwrap();
    assert!(challenge.starts_with(b"<") && challenge.ends_with(b"@localhost>"));
    // The client side of RFC 2195, written out: HMAC-MD5 keyed with "secret".
    let mut key = [0u8; 64];
    key[..6].copy_from_slice(b"secret");
    let inner = Md5::new()
        .chain_update(key.map(|b| b ^ 0x36))
        .chain_update(&challenge)
        .finalize();
    let digest = Md5::new()
        .chain_update(key.map(|b| b ^ 0x5c))
        .chain_update(inner)
        .finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert!(ok(&c.cmd(&B64.encode(format!("alice {hex}"))).await));
    assert!(c.cmd("STAT").await.starts_with("+OK 3 "));
    // A digest keyed with another password fails, and the session stays.
    let mut d = fx.connect().await;
    d.cmd("AUTH CRAM-MD5").await;
    assert!(err(&d.cmd(&B64.encode(format!("bob {hex}"))).await));
    assert!(err(&d.cmd("STAT").await));
    fx.stop().await;
}

#[tokio::test]
async fn auth_login() {
    let fx = Fixture::start().await;
    let mut c = fx.connect().await;
    // Prompts are base64 of "Username:" and "Password:".
    assert_eq!(c.cmd("AUTH LOGIN").await, "+ VXNlcm5hbWU6");
    assert_eq!(c.cmd(&B64.encode("alice")).await, "+ UGFzc3dvcmQ6");
    assert!(c.cmd(&B64.encode("nope")).await.starts_with("-ERR [AUTH]"));
    assert!(err(&c.cmd("STAT").await));
    // Cancelled at either prompt.
    c.cmd("AUTH LOGIN").await;
    assert!(err(&c.cmd("*").await));
    c.cmd("auth login").await;
    c.cmd(&B64.encode("alice")).await;
    assert!(err(&c.cmd("*").await));
    // The user name as initial response, then the password.
    let first = c.cmd(&format!("AUTH LOGIN {}", B64.encode("alice"))).await;
    assert_eq!(first, "+ UGFzc3dvcmQ6");
    let r = c.cmd(&B64.encode("secret")).await;
    assert!(ok(&r), "{r}");
    assert_eq!(c.cmd("STAT").await, "+OK 3 158");
    fx.stop().await;
}

/// Logs alice in with SCRAM: `gs2_header` and her name as the initial
/// response, the right proof, then the server signature as a last challenge
/// (answered by an empty line) and +OK.
async fn scram_login(c: &mut Client, mechanism: &str, hash: Scram, gs2_header: &str, nonce: &str) {
    let first = B64.encode(format!("{gs2_header}n=alice,r={nonce}"));
    let reply = c.cmd(&format!("AUTH {mechanism} {first}")).await;
    let server_first = B64.decode(reply.strip_prefix("+ ").unwrap()).unwrap();
    let proof = scram_client_final_with(hash, gs2_header, &server_first, "alice", "secret", nonce);
    let last = c.cmd(&proof).await;
    let server_final = B64.decode(last.strip_prefix("+ ").unwrap()).unwrap();
    assert!(server_final.starts_with(b"v="), "{last}");
    assert!(ok(&c.cmd("").await));
    assert_eq!(c.cmd("STAT").await, "+OK 3 158");
}

#[tokio::test]
async fn auth_scram_sha256() {
    let fx = Fixture::start().await;
    let mut c = fx.connect().await;
    // After an empty challenge, client-first; then server-first extends the nonce.
    assert_eq!(c.cmd("AUTH SCRAM-SHA-256").await, "+ ");
    let reply = c.cmd(&B64.encode("n,,n=alice,r=test-nonce")).await;
    let server_first = B64.decode(reply.strip_prefix("+ ").unwrap()).unwrap();
    assert!(server_first.starts_with(b"r=test-nonce"), "{reply}");
    // A proof from the wrong password is refused and nothing changes.
    let wrong = scram_client_final(&server_first, "alice", "nope", "test-nonce");
    assert!(c.cmd(&wrong).await.starts_with("-ERR [AUTH]"));
    assert!(err(&c.cmd("STAT").await));
    scram_login(&mut c, "SCRAM-SHA-256", Scram::Sha256, "n,,", "n2").await;
    fx.stop().await;
}

#[tokio::test]
async fn auth_scram_sha1() {
    let fx = Fixture::start().await;
    let mut c = fx.connect().await;
    let first = B64.encode("n,,n=alice,r=sha1-nonce");
    let reply = c.cmd(&format!("AUTH scram-sha-1 {first}")).await;
    let server_first = B64.decode(reply.strip_prefix("+ ").unwrap()).unwrap();
    // A SCRAM-SHA-256 proof is the wrong length and the wrong value here.
    let wrong = scram_client_final(&server_first, "alice", "secret", "sha1-nonce");
    assert!(c.cmd(&wrong).await.starts_with("-ERR [AUTH]"));
    scram_login(&mut c, "SCRAM-SHA-1", Scram::Sha1, "n,,", "sha1-nonce").await;
    fx.stop().await;
}

#[tokio::test]
async fn auth_scram_authzid_must_be_the_user() {
    let fx = Fixture::start().await;
    let mut c = fx.connect().await;
    // Acting as another user is refused before any proof is asked for.
    let first = B64.encode("n,a=bob,n=alice,r=z1");
    let reply = c.cmd(&format!("AUTH SCRAM-SHA-256 {first}")).await;
    assert!(reply.starts_with("-ERR [AUTH]"), "{reply}");
    // Naming oneself as the authzid is the same as naming none; the channel
    // binding then carries that header.
    scram_login(&mut c, "SCRAM-SHA-256", Scram::Sha256, "n,a=alice,", "z2").await;
    fx.stop().await;
}

#[tokio::test]
async fn auth_plain() {
    let fx = Fixture::start().await;
    let mut c = fx.connect().await;
    // Mechanism list.
    let (_, mechs) = c.multi("AUTH").await;
    assert_eq!(
        mechs,
        ["PLAIN", "CRAM-MD5", "LOGIN", "SCRAM-SHA-256", "SCRAM-SHA-1"]
    );
    assert!(err(&c.cmd("AUTH CRAM-FOO").await));
    // Initial response, wrong password.
    let bad = B64.encode(b"\0alice\0nope");
    assert!(c
        .cmd(&format!("AUTH PLAIN {bad}"))
        .await
        .starts_with("-ERR [AUTH]"));
    // Invalid base64.
    assert!(err(&c.cmd("AUTH PLAIN !!!notbase64").await));
    // `=` is an empty initial response: not valid PLAIN.
    assert!(err(&c.cmd("AUTH PLAIN =").await));
    // Continuation cancelled with `*`.
    assert_eq!(c.cmd("AUTH PLAIN").await, "+ ");
    assert!(err(&c.cmd("*").await));
    // Continuation with invalid base64.
    assert_eq!(c.cmd("AUTH PLAIN").await, "+ ");
    assert!(err(&c.cmd("%%%").await));
    // authzid different from authcid.
    let other = B64.encode(b"bob\0alice\0secret");
    assert!(c
        .cmd(&format!("AUTH PLAIN {other}"))
        .await
        .starts_with("-ERR [AUTH]"));
    // Continuation, success with authzid == authcid.
    assert_eq!(c.cmd("auth plain").await, "+ ");
    let r = c.cmd(&B64.encode(b"alice\0alice\0secret")).await;
    assert!(ok(&r), "{r}");
    assert_eq!(c.cmd("STAT").await, "+OK 3 158");
    assert!(err(&c.cmd("AUTH PLAIN").await));
    // Initial response success for bob on another connection.
    let mut d = fx.connect().await;
    let r = d
        .cmd(&format!("AUTH PLAIN {}", B64.encode(b"\0bob\0hunter2")))
        .await;
    assert!(ok(&r), "{r}");
    fx.stop().await;
}

#[tokio::test]
async fn too_many_connections() {
    let fx = Fixture::with(|c| c.max_connections = 2).await;
    let _a = fx.connect().await;
    let _b = fx.connect().await;
    let mut c = Client::connect(fx.server().addr()).await;
    assert_eq!(c.greeting, "-ERR [SYS/TEMP] too many connections");
    assert!(c.closed().await);
    drop(_a);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let c = Client::connect(fx.server().addr()).await;
    assert!(ok(&c.greeting), "{}", c.greeting);
    fx.stop().await;
}

#[tokio::test]
async fn unreadable_maildrop_is_sys_temp() {
    let fx = Fixture::start().await;
    // A regular file where bob's Maildir should be: it cannot be opened.
    std::fs::write(fx.maildir("bob"), b"not a directory").unwrap();
    let mut c = fx.connect().await;
    assert!(ok(&c.cmd("USER bob").await));
    let r = c.cmd("PASS hunter2").await;
    assert!(r.starts_with("-ERR [SYS/TEMP]"), "{r}");
    assert!(
        !fx.server().is_locked("bob"),
        "failed login leaked the lock"
    );
    // Still in AUTHORIZATION.
    c.login("alice", "secret").await;
    fx.stop().await;
}

#[tokio::test]
async fn uid_of_unfit_base_name_is_a_digest() {
    let fx = Fixture::start().await;
    let long = "x".repeat(100);
    deliver_at(&fx.maildir("bob"), "cur", &format!("{long}:2,"), b"a\n", 10);
    deliver_at(&fx.maildir("bob"), "cur", "sp ace:2,S", b"b\n", 20);
    let mut c = fx.connect().await;
    c.login("bob", "hunter2").await;
    let (_, u) = c.multi("UIDL").await;
    assert_eq!(u.len(), 2);
    for l in &u {
        let uid = l.split_once(' ').unwrap().1;
        assert!(!uid.is_empty() && uid.len() <= 70, "{uid}");
        assert!(uid.bytes().all(|b| (0x21..=0x7e).contains(&b)), "{uid}");
    }
    assert_ne!(u[0].split(' ').nth(1), u[1].split(' ').nth(1));
    fx.stop().await;
}

#[tokio::test]
async fn idle_timeout_closes_silently() {
    let fx = Fixture::with(|c| c.idle_timeout = std::time::Duration::from_millis(300)).await;
    let mut c = fx.alice().await;
    assert!(ok(&c.cmd("DELE 1").await));
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert!(c.closed().await);
    assert_eq!(fx.files("alice").len(), 3, "autologout must not delete");
    fx.stop().await;
}

#[tokio::test]
async fn utf8_mode() {
    let fx = Fixture::start().await;
    deliver_at(
        &fx.maildir("bob"),
        "cur",
        "1.u:2,",
        "Subject: caf\u{e9}\n\nbody \u{e9}\n".as_bytes(),
        10,
    );
    deliver_at(
        &fx.maildir("bob"),
        "cur",
        "2.a:2,",
        "Subject: x\n\n8bit body \u{e9}\n".as_bytes(),
        20,
    );
    let mut c = fx.connect().await;
    let (_, caps) = c.multi("CAPA").await;
    assert!(caps.iter().any(|l| l == "UTF8 USER"));
    c.login("bob", "hunter2").await;
    let (_, caps) = c.multi("CAPA").await;
    assert!(
        caps.iter().any(|l| l == "UTF8 USER"),
        "UTF8 is announced in both states"
    );
    let r = c.cmd("RETR 1").await;
    assert!(r.starts_with("-ERR [UTF8]"), "{r}");
    assert!(c.cmd("TOP 1 0").await.starts_with("-ERR [UTF8]"));
    // Non-ASCII only in the body is sent as before.
    assert!(ok(&c.cmd("RETR 2").await));
    c.body().await;
    assert!(err(&c.cmd("UTF8").await), "UTF8 in TRANSACTION");
    drop(c);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    let mut c = fx.connect().await;
    assert!(err(&c.cmd("UTF8 x").await));
    assert!(ok(&c.cmd("UTF8").await));
    assert!(err(&c.cmd("STLS").await), "STLS after UTF8");
    c.login("bob", "hunter2").await;
    c.send("RETR 1").await;
    assert_eq!(c.line().await, "+OK 27 octets");
    let b = c.raw_body().await;
    assert_eq!(
        b,
        "Subject: caf\u{e9}\r\n\r\nbody \u{e9}\r\n.\r\n".as_bytes()
    );
    fx.stop().await;
}

#[tokio::test]
async fn unusable_maildrop_name_is_sys_perm() {
    let fx = Fixture::with(|c| c.users.push(("../escape".into(), "pw".into()))).await;
    let mut c = fx.connect().await;
    assert!(ok(&c.cmd("USER ../escape").await));
    let r = c.cmd("PASS pw").await;
    assert!(r.starts_with("-ERR [SYS/PERM]"), "{r}");
    assert!(!fx.dir.path().parent().unwrap().join("escape").exists());
    c.login("alice", "secret").await;
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_flood_is_answered_in_order() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let fx = Fixture::start().await;
    let s = tokio::net::TcpStream::connect(fx.server().addr())
        .await
        .unwrap();
    let (r, mut w) = s.into_split();
    let n = 5000;
    let writer = tokio::spawn(async move {
        let mut batch = Vec::new();
        for i in 0..n {
            batch.extend_from_slice(if i % 2 == 0 {
                b"NOOP\r\n"
            } else {
                b"CAPA x\r\n"
            });
        }
        batch.extend_from_slice(b"QUIT\r\n");
        w.write_all(&batch).await.unwrap();
        w
    });
    let mut r = BufReader::new(r);
    let mut line = String::new();
    r.read_line(&mut line).await.unwrap();
    assert!(line.starts_with("+OK"));
    for i in 0..n {
        line.clear();
        tokio::time::timeout(TIMEOUT, r.read_line(&mut line))
            .await
            .unwrap()
            .unwrap();
        assert!(
            line.starts_with("-ERR") && line.ends_with("\r\n"),
            "{i}: {line}"
        );
    }
    line.clear();
    r.read_line(&mut line).await.unwrap();
    assert!(line.starts_with("+OK"), "{line}");
    let _w = writer.await.unwrap();
    fx.stop().await;
}

#[tokio::test]
async fn random_bytes_never_kill_the_session() {
    let fx = Fixture::start().await;
    let mut c = fx.connect().await;
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut junk = Vec::new();
    for _ in 0..20_000 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let b = (state >> 56) as u8;
        // Keep lines short enough to be answered, and avoid accidental keywords.
        junk.push(if b % 23 == 0 { b'\n' } else { b | 0x80 });
    }
    junk.extend_from_slice(b"\r\n");
    let lines = junk.iter().filter(|b| **b == b'\n').count();
    c.send_raw(&junk).await;
    for _ in 0..lines {
        let r = c.line().await;
        assert!(err(&r), "{r}");
    }
    c.login("alice", "secret").await;
    assert_eq!(c.cmd("STAT").await, "+OK 3 158");
    assert!(ok(&c.quit().await));
    fx.stop().await;
}
