//! Every fault switch must change observable behaviour: for each fault a
//! probe dialogue returns whether the RFC violation was seen; it must be seen
//! with the fault on and not seen on the correct server.

mod common;

use std::time::Duration;

use common::*;
use pop3_reference_server::{Fault, FaultSet, TlsSetup};

async fn fixture(f: Fault, on: bool) -> Fixture {
    Fixture::with(move |c| {
        if on {
            c.faults = FaultSet::single(f);
        }
        if f == Fault::UpdateOnIdleTimeout
            || f == Fault::AutologoutWithResponse
            || f == Fault::AutologoutTooShort
            || f == Fault::NoopKeepsTimer
        {
            c.idle_timeout = Duration::from_millis(300);
        }
        if f == Fault::LoginDelayUserTokenAfterLogin || f == Fault::LoginDelayLargerAfterLogin {
            c.login_delay = Some(0);
        }
        if f == Fault::LoginDelayNotEnforced
            || f == Fault::LoginDelayOnUser
            || f == Fault::LoginDelayCodeOnOtherCommands
        {
            c.login_delay = Some(60);
        }
        if f == Fault::SaslContinuation255Limit || f == Fault::PlainCredentialsTruncated {
            c.users.push((LONG_USER.repeat(255), long_password()));
        }
        if f == Fault::CleartextAuthBeforeTls {
            c.require_tls = true;
        }
        if f == Fault::UntrustedCertificate {
            // A configured certificate, so the one served can be compared
            // with it.
            let dir = c.mail_root.join(".tls");
            std::fs::create_dir_all(&dir).unwrap();
            let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
            std::fs::write(dir.join("cert.pem"), pem("CERTIFICATE", ck.cert.der())).unwrap();
            std::fs::write(
                dir.join("key.pem"),
                pem("PRIVATE KEY", &ck.signing_key.serialize_der()),
            )
            .unwrap();
            c.tls = TlsSetup::Files {
                cert: dir.join("cert.pem"),
                key: dir.join("key.pem"),
            };
        }
    })
    .await
}

/// The server's answer to alice's right SCRAM proof for `mechanism`,
/// computed here as a client would: the server-final challenge when the
/// exchange is right.
async fn scram_reply_to_right_proof(fx: &Fixture, mechanism: &str, hash: Scram) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut c = fx.connect().await;
    let first = b64.encode("n,,n=alice,r=probe-nonce");
    let server_first = c.cmd(&format!("AUTH {mechanism} {first}")).await;
    let server_first = b64
        .decode(server_first.strip_prefix("+ ").expect("a challenge"))
        .unwrap();
    c.cmd(&scram_client_final_with(
        hash,
        "n,,",
        &server_first,
        "alice",
        "secret",
        "probe-nonce",
    ))
    .await
}

/// CAPA lists `mechanism` in its SASL line, and `auth` is answered -ERR.
async fn mechanism_announced_but_refused(fx: &Fixture, mechanism: &str, auth: &str) -> bool {
    let mut c = fx.connect().await;
    let capa = c.multi("CAPA").await.1;
    let announced = capa
        .iter()
        .any(|l| l.starts_with("SASL ") && l.split(' ').any(|m| m == mechanism));
    announced && err(&c.cmd(auth).await)
}

/// `der` as a PEM block (rcgen is built without its PEM feature).
fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// The long account of the SASL length faults: a 255-octet name and password
/// (RFC 4616 §2), the password's last octet unlike the rest so a cut shows.
const LONG_USER: &str = "l";

fn long_password() -> String {
    format!("{}z", "p".repeat(254))
}

/// A line, or None when nothing arrives within a second.
async fn line_within(c: &mut Client, d: Duration) -> Option<Vec<u8>> {
    tokio::time::timeout(d, c.raw_line()).await.ok()
}

/// Whether a command that answers +OK with a body (RETR, TOP, UIDL) got
/// +OK; the body is read, so the session can go on.
async fn multi_ok(c: &mut Client, cmd: &str) -> bool {
    let r = c.cmd(cmd).await;
    if ok(&r) {
        c.body().await;
    }
    ok(&r)
}

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Whether the violation that fault `f` introduces is observed on a server
/// with (`on`) or without the fault.
async fn violation(f: Fault, on: bool) -> bool {
    let fx = fixture(f, on).await;
    let addr = fx.server().addr();
    let seen = match f {
        Fault::GreetingLowercaseOk => {
            let mut c = Client::connect_raw(addr).await;
            c.raw_line().await.starts_with(b"+ok ")
        }
        Fault::GreetingBareLf => {
            let mut c = Client::connect_raw(addr).await;
            !c.raw_line().await.ends_with(b"\r\n")
        }
        Fault::GreetingExtraLine => {
            let mut c = fx.connect().await;
            let r = c.cmd("NOOP").await;
            !ok(&r) && !err(&r)
        }
        Fault::ApopTimestampReused => {
            let a = fx.connect().await;
            let b = fx.connect().await;
            a.greeting == b.greeting
        }
        Fault::CaseSensitiveCommands => {
            let mut c = fx.connect().await;
            err(&c.cmd("user alice").await)
        }
        Fault::LowercaseQuitIgnored => {
            let mut c = fx.connect().await;
            err(&c.cmd("quit").await)
        }
        Fault::LowercaseStatus => {
            let mut c = fx.connect().await;
            c.cmd("NOOP").await.starts_with("-err")
        }
        Fault::UnknownCommandOk => {
            let mut c = fx.connect().await;
            ok(&c.cmd("XYZZY").await)
        }
        Fault::BareLfResponses => {
            let mut c = fx.connect().await;
            c.send("NOOP").await;
            !c.raw_line().await.ends_with(b"\r\n")
        }
        Fault::NoByteStuffing => {
            let mut c = fx.alice().await;
            c.send("RETR 2").await;
            c.line().await;
            let b = c.raw_body().await;
            b.windows(11).any(|w| w == b"\r\n.dotted\r\n")
        }
        Fault::ListMissingTerminator | Fault::UidlMissingTerminator => {
            let mut c = fx.alice().await;
            if f == Fault::ListMissingTerminator {
                c.send_raw(b"LIST\r\nNOOP\r\n").await;
            } else {
                c.send_raw(b"UIDL\r\nNOOP\r\n").await;
            }
            c.line().await;
            loop {
                let l = c.line().await;
                if l == "." {
                    break false;
                }
                if l == "+OK" {
                    break true;
                }
            }
        }
        Fault::OctetsLfCount => {
            let mut c = fx.alice().await;
            c.cmd("STAT").await != "+OK 3 158"
        }
        Fault::StatCountsDeleted => {
            let mut c = fx.alice().await;
            c.cmd("DELE 1").await;
            c.cmd("STAT").await == "+OK 3 158"
        }
        Fault::StatInAuthorization => {
            let mut c = fx.connect().await;
            ok(&c.cmd("STAT").await)
        }
        Fault::UserInTransaction => {
            let mut c = fx.alice().await;
            ok(&c.cmd("USER bob").await)
        }
        Fault::NoopInAuthorization => {
            let mut c = fx.connect().await;
            ok(&c.cmd("NOOP").await)
        }
        Fault::PassWithoutUser => {
            let mut c = fx.connect().await;
            ok(&c.cmd("PASS secret").await)
        }
        Fault::WrongPasswordAccepted => {
            let mut c = fx.connect().await;
            c.cmd("USER alice").await;
            ok(&c.cmd("PASS wrong").await)
        }
        Fault::PasswordPrefixAccepted => {
            let mut c = fx.connect().await;
            c.cmd("USER alice").await;
            ok(&c.cmd("PASS secre").await)
        }
        Fault::PasswordCaseInsensitive => {
            let mut c = fx.connect().await;
            c.cmd("USER alice").await;
            ok(&c.cmd("PASS Secret").await)
        }
        Fault::ApopAcceptsAnyDigest => {
            let mut c = fx.connect().await;
            ok(&c.cmd("APOP alice 00000000000000000000000000000000").await)
        }
        Fault::DeleImmediate => {
            let mut c = fx.alice().await;
            c.cmd("DELE 1").await;
            fx.files("alice").len() != 3
        }
        Fault::DeleMovesImmediately => {
            let mut c = fx.alice().await;
            c.cmd("DELE 1").await;
            let trashed = fx.maildir("alice").join(".Trash/cur/300.c:2,S").exists();
            fx.files("alice").len() != 3 && trashed
        }
        Fault::DeleteOnDisconnect => {
            let mut c = fx.alice().await;
            c.cmd("DELE 1").await;
            drop(c);
            tokio::time::sleep(Duration::from_millis(300)).await;
            fx.files("alice").len() != 3
        }
        Fault::UpdateOnIdleTimeout => {
            let mut c = fx.alice().await;
            c.cmd("DELE 1").await;
            tokio::time::sleep(Duration::from_millis(800)).await;
            fx.files("alice").len() != 3
        }
        Fault::AutologoutWithResponse => {
            let mut c = fx.alice().await;
            // The clean server closes without a byte.
            let sent = c.read_to_end().await.unwrap_or_default();
            sent.starts_with(b"-ERR")
        }
        Fault::QuitAppliesDroppedMarks => {
            let mut c = fx.alice().await;
            c.cmd("DELE 1").await;
            drop(c);
            tokio::time::sleep(Duration::from_millis(300)).await;
            let mut c = fx.connect().await;
            c.cmd("USER alice").await;
            assert!(ok(&c.quit().await));
            fx.files("alice").len() != 3
        }
        Fault::AutologoutTooShort => {
            // The timer is 300 ms here; the fault makes it 30 ms.
            let mut c = fx.alice().await;
            tokio::time::sleep(Duration::from_millis(150)).await;
            c.send("NOOP").await;
            c.closed().await
        }
        Fault::NoopKeepsTimer => {
            // The timer is 300 ms here: a NOOP every 150 ms, 600 ms in all.
            let mut c = fx.alice().await;
            let mut alive = true;
            for _ in 0..4 {
                tokio::time::sleep(Duration::from_millis(150)).await;
                c.send("NOOP").await;
                if line_within(&mut c, Duration::from_secs(1))
                    .await
                    .is_none_or(|l| !l.starts_with(b"+OK"))
                {
                    alive = false;
                    break;
                }
            }
            !alive
        }
        Fault::InUseBeforePassword => {
            let _first = fx.alice().await;
            let mut c = fx.connect().await;
            c.cmd("USER alice").await;
            c.cmd("PASS wrong").await.starts_with("-ERR [IN-USE]")
        }
        Fault::GreetingMalformedCode => {
            let mut c = Client::connect_raw(addr).await;
            c.raw_line().await.starts_with(b"+OK [")
        }
        Fault::NoSuchMessageMalformedCode => {
            let mut c = fx.alice().await;
            c.cmd("DELE 1").await;
            c.cmd("LIST 9").await.starts_with("-ERR [")
                && c.cmd("RETR 1").await.starts_with("-ERR [")
        }
        Fault::WrongStateMalformedCode => {
            let mut c = fx.connect().await;
            c.cmd("STAT").await.starts_with("-ERR [")
        }
        Fault::ImplementationDroppedAfterLogin | Fault::UnknownTagDroppedAfterLogin => {
            let tag = if f == Fault::ImplementationDroppedAfterLogin {
                "IMPLEMENTATION"
            } else {
                "X-REFERENCE-ARCHIVE"
            };
            let listed = |capa: &[String]| capa.iter().any(|l| l.split(' ').next() == Some(tag));
            let mut c = fx.connect().await;
            let before = c.multi("CAPA").await.1;
            c.login("alice", "secret").await;
            let after = c.multi("CAPA").await.1;
            listed(&before) && !listed(&after)
        }
        Fault::LoginDelayOnUser => {
            let first = fx.alice().await;
            first.quit().await;
            let mut c = fx.connect().await;
            c.cmd("USER alice").await.starts_with("-ERR [LOGIN-DELAY]")
        }
        Fault::LoginDelayCodeOnOtherCommands => {
            let first = fx.alice().await;
            first.quit().await;
            let mut c = fx.connect().await;
            c.cmd("USER alice").await;
            c.cmd("STAT").await.starts_with("-ERR [LOGIN-DELAY]")
        }
        Fault::DeleOkMalformedCode => {
            let mut c = fx.alice().await;
            c.cmd("DELE 1").await.starts_with("+OK [")
        }
        Fault::QuitNoDelete => {
            let mut c = fx.alice().await;
            c.cmd("DELE 1").await;
            c.quit().await;
            fx.files("alice").len() == 3
        }
        Fault::RsetNoop => {
            let mut c = fx.alice().await;
            c.cmd("DELE 1").await;
            c.cmd("RSET").await;
            c.cmd("STAT").await != "+OK 3 158"
        }
        Fault::RetrMarkedMessage => {
            let mut c = fx.alice().await;
            c.cmd("DELE 1").await;
            ok(&c.cmd("RETR 1").await)
        }
        Fault::RenumberAfterDele | Fault::ListArgIncludesDeleted => {
            // Renumbered, LIST 1 is the former message 2; or the marked 1.
            let mut c = fx.alice().await;
            c.cmd("DELE 1").await;
            ok(&c.cmd("LIST 1").await)
        }
        Fault::MessagesNewestFirst => {
            let mut c = fx.alice().await;
            c.multi("TOP 1 0")
                .await
                .1
                .contains(&"Subject: three".to_string())
        }
        Fault::ListIgnoresArgument => {
            let mut c = fx.alice().await;
            c.cmd("LIST 1").await != "+OK 1 60"
        }
        Fault::ListIncludesDeleted => {
            let mut c = fx.alice().await;
            c.cmd("DELE 1").await;
            c.multi("LIST").await.1.len() == 3
        }
        Fault::UidlIncludesDeleted => {
            let mut c = fx.alice().await;
            c.cmd("DELE 1").await;
            c.multi("UIDL").await.1.len() == 3
        }
        Fault::UidlUnstable => {
            deliver_at(&fx.maildir("alice"), "new", "999.x", b"S: x\n\nx\n", 9_000);
            let mut c = fx.alice().await;
            let first = c.multi("UIDL").await.1;
            c.quit().await;
            let mut c = fx.alice().await;
            first != c.multi("UIDL").await.1
        }
        Fault::UidlFromMessageNumber => {
            // Message 3's id after message 1 is removed is message 2's before.
            let mut c = fx.alice().await;
            let uid2 = c.cmd("UIDL 2").await;
            assert_eq!(c.cmd("DELE 1").await.get(..3), Some("+OK"));
            c.quit().await;
            let mut c = fx.alice().await;
            let id = |r: &str| r.split(' ').nth(2).map(str::to_string);
            id(&c.cmd("UIDL 2").await) == id(&uid2)
        }
        Fault::UidlSameSecondCollision => {
            deliver_at(&fx.maildir("bob"), "cur", "1.a:2,", b"x\n", 7_000);
            deliver_at(&fx.maildir("bob"), "cur", "1.b:2,", b"y\n", 7_000);
            let mut c = fx.connect().await;
            c.login("bob", "hunter2").await;
            let u = c.multi("UIDL").await.1;
            u[0].split(' ').nth(1) == u[1].split(' ').nth(1)
        }
        Fault::TopIgnoresLineCount => {
            let mut c = fx.alice().await;
            c.multi("TOP 1 0").await.1.len() > 3
        }
        Fault::TopNoBlankLine => {
            let mut c = fx.alice().await;
            !c.multi("TOP 1 0").await.1.iter().any(|l| l.is_empty())
        }
        Fault::TopOffByOne => {
            let mut c = fx.alice().await;
            c.multi("TOP 1 1").await.1.len() != 4
        }
        Fault::CapaStlsWhenActive => {
            let mut c = Client::connect_tls(fx.server().tls_addr().unwrap()).await;
            c.multi("CAPA").await.1.iter().any(|l| l == "STLS")
        }
        Fault::CapaMissingTerminator => {
            let mut c = fx.connect().await;
            c.send_raw(b"CAPA\r\nNOOP\r\n").await;
            c.line().await;
            loop {
                let l = c.line().await;
                if l == "." {
                    break false;
                }
                if l.starts_with("-ERR") {
                    break true;
                }
            }
        }
        Fault::NoMaildropLock => {
            let _a = fx.alice().await;
            let mut b = fx.connect().await;
            b.cmd("USER alice").await;
            ok(&b.cmd("PASS secret").await)
        }
        Fault::LockNotReleasedOnDrop => {
            let a = fx.alice().await;
            drop(a);
            tokio::time::sleep(Duration::from_millis(300)).await;
            let mut b = fx.connect().await;
            b.cmd("USER alice").await;
            b.cmd("PASS secret").await.starts_with("-ERR [IN-USE]")
        }
        Fault::InUseWithoutCode => {
            let _a = fx.alice().await;
            let mut b = fx.connect().await;
            b.cmd("USER alice").await;
            let r = b.cmd("PASS secret").await;
            assert!(err(&r));
            !r.starts_with("-ERR [IN-USE]")
        }
        Fault::AuthCancelAccepted => {
            let mut c = fx.connect().await;
            assert_eq!(c.cmd("AUTH PLAIN").await, "+ ");
            ok(&c.cmd("*").await)
        }
        Fault::AuthBase64Lenient => {
            // "\0alice\0secret" in base64, with a `!` the alphabet lacks.
            let mut c = fx.connect().await;
            ok(&c.cmd("AUTH PLAIN !AGFsaWNlAHNlY3JldA==").await)
        }
        Fault::StlsInTransaction => {
            let mut c = fx.alice().await;
            ok(&c.cmd("STLS").await)
        }
        Fault::StlsBufferCarryover => {
            let mut c = fx.connect().await;
            c.send_raw(b"STLS\r\nUSER alice\r\nPASS secret\r\n").await;
            c.line().await;
            c.starttls().await;
            c.send("STAT").await;
            ok(&c.line().await)
        }
        Fault::ShortLineLimit => {
            let mut c = fx.connect().await;
            err(&c.cmd(&format!("USER {}", "x".repeat(70))).await)
        }
        Fault::LineLimitOffByOne => {
            // USER, a space, 248 characters and CRLF: 255 octets.
            let mut c = fx.connect().await;
            err(&c.cmd(&format!("USER {}", "x".repeat(248))).await)
        }
        Fault::LongLineCloses => {
            let mut c = fx.connect().await;
            c.send(&format!("XLNG {}", "a".repeat(293))).await;
            c.closed().await
        }
        Fault::PipeliningDropsBuffered => {
            let mut c = fx.connect().await;
            c.send_raw(b"USER alice\r\nPASS secret\r\nSTAT\r\n").await;
            c.line().await;
            line_within(&mut c, Duration::from_millis(700))
                .await
                .is_none()
        }
        Fault::LongResponseLine => {
            let mut c = Client::connect_raw(addr).await;
            c.raw_line().await.len() > 512
        }
        Fault::RetrExtraBlankLine => {
            let mut c = fx.alice().await;
            c.send("RETR 1").await;
            c.line().await;
            let b = c.raw_body().await;
            s(&b) != format!("{}.\r\n", s(MSG1))
        }
        Fault::LangCapaArgument => {
            let mut c = fx.connect().await;
            !c.multi("CAPA").await.1.iter().any(|l| l == "LANG")
        }
        Fault::LangListTabSeparated => {
            let mut c = fx.connect().await;
            c.multi("LANG").await.1.iter().any(|l| l.contains('\t'))
        }
        Fault::LangOkWithoutTag => {
            let mut c = fx.connect().await;
            let reply = c.cmd("LANG de").await;
            ok(&reply) && !reply.starts_with("+OK de ")
        }
        Fault::LangUnknownAccepted => {
            let mut c = fx.connect().await;
            ok(&c.cmd("LANG x-pop3spec").await)
        }
        Fault::LangAuthorizationOnly => {
            let mut c = fx.alice().await;
            err(&c.cmd("LANG *").await)
        }
        Fault::LangNotAnnouncedAfterLogin => {
            let mut c = fx.alice().await;
            !c.multi("CAPA").await.1.iter().any(|l| l == "LANG")
        }
        Fault::NoCloseNotify => {
            let mut c = Client::connect_tls(fx.server().tls_addr().unwrap()).await;
            assert!(ok(&c.cmd("QUIT").await));
            c.read_to_end().await.is_err()
        }
        Fault::LoginDelayNotEnforced => {
            // Logged in and out: the next login comes within the 60 s delay.
            let mut first = fx.alice().await;
            assert!(ok(&first.cmd("QUIT").await));
            let mut c = fx.connect().await;
            c.cmd("USER alice").await;
            ok(&c.cmd("PASS secret").await)
        }
        Fault::LoginDelayUserTokenAfterLogin | Fault::ExpireUserTokenAfterLogin => {
            // The USER token belongs to AUTHORIZATION (RFC 2449 §6.5, §6.7).
            let line = if f == Fault::LoginDelayUserTokenAfterLogin {
                "LOGIN-DELAY 0 USER"
            } else {
                "EXPIRE NEVER USER"
            };
            let mut c = fx.alice().await;
            c.multi("CAPA").await.1.iter().any(|l| l == line)
        }
        Fault::LoginDelayLargerAfterLogin => {
            let mut c = fx.connect().await;
            let before = c.multi("CAPA").await.1;
            assert!(before.iter().any(|l| l == "LOGIN-DELAY 0"));
            let mut c = fx.alice().await;
            let after = c.multi("CAPA").await.1;
            !after.iter().any(|l| l == "LOGIN-DELAY 0")
        }
        Fault::ExpireSmallerAfterLogin => {
            let mut c = fx.connect().await;
            let before = c.multi("CAPA").await.1;
            assert!(before.iter().any(|l| l == "EXPIRE NEVER"));
            let mut c = fx.alice().await;
            let after = c.multi("CAPA").await.1;
            !after.iter().any(|l| l == "EXPIRE NEVER")
        }
        Fault::CapaDropsExtensionsAfterLogin => {
            let mut c = fx.alice().await;
            let after = c.multi("CAPA").await.1;
            !after.iter().any(|l| l.starts_with("SASL"))
                && !after.iter().any(|l| l == "AUTH-RESP-CODE")
                && !after.iter().any(|l| l.starts_with("EXPIRE"))
        }
        Fault::SaslMechanismCaseSensitive => {
            // "\0alice\0secret" in base64.
            let mut c = fx.connect().await;
            err(&c.cmd("AUTH plain AGFsaWNlAHNlY3JldA==").await)
        }
        Fault::Utf8InTransaction => {
            let mut c = fx.alice().await;
            ok(&c.cmd("UTF8").await)
        }
        Fault::DownloadDeleteOnDrop => {
            let mut c = fx.alice().await;
            assert!(ok(&c.multi("RETR 1").await.0));
            drop(c);
            tokio::time::sleep(Duration::from_millis(300)).await;
            fx.files("alice").len() != 3
        }
        Fault::DownloadDeleteUnannounced => {
            let mut c = fx.alice().await;
            let capa = c.multi("CAPA").await.1;
            assert!(ok(&c.multi("RETR 1").await.0));
            assert!(ok(&c.cmd("QUIT").await));
            drop(c);
            tokio::time::sleep(Duration::from_millis(300)).await;
            !capa.iter().any(|l| l == "EXPIRE 0") && fx.files("alice").len() != 3
        }
        Fault::CapaStlsAfterLogin => {
            let mut c = fx.alice().await;
            c.multi("CAPA").await.1.iter().any(|l| l == "STLS")
        }
        Fault::KeywordPrefixMatch => {
            let mut c = fx.alice().await;
            ok(&c.cmd("NO").await)
        }
        Fault::ExtraArgumentsIgnored => {
            let mut c = fx.alice().await;
            ok(&c.cmd("LIST 1 2").await)
        }
        Fault::TopLenientArguments => {
            let mut c = fx.alice().await;
            multi_ok(&mut c, "TOP 1 x").await
        }
        Fault::ApopInTransaction => {
            let mut c = fx.alice().await;
            let digest = apop_digest(&c.greeting.clone(), "secret");
            ok(&c.cmd(&format!("APOP alice {digest}")).await)
        }
        Fault::LockRefusalEntersTransaction => {
            let _a = fx.alice().await;
            let mut b = fx.connect().await;
            b.cmd("USER alice").await;
            assert!(err(&b.cmd("PASS secret").await));
            ok(&b.cmd("STAT").await)
        }
        Fault::FailedPassKeepsLock => {
            let mut a = fx.connect().await;
            a.cmd("USER alice").await;
            assert!(err(&a.cmd("PASS wrong").await));
            let mut b = fx.connect().await;
            b.cmd("USER alice").await;
            err(&b.cmd("PASS secret").await)
        }
        Fault::ShortArgumentLimit => {
            let mut c = fx.alice().await;
            let zeros = "0".repeat(39);
            err(&c.cmd(&format!("LIST {zeros}1")).await)
        }
        Fault::UidlFromFlags => {
            let mut c = fx.alice().await;
            let before = c.multi("UIDL").await.1;
            for n in 1..=before.len() {
                c.send(&format!("RETR {n}")).await;
                c.line().await;
                c.raw_body().await;
            }
            c.quit().await;
            let mut c = fx.alice().await;
            before != c.multi("UIDL").await.1
        }
        Fault::CleartextAuthBeforeTls => {
            let mut c = fx.connect().await;
            let capa = c.multi("CAPA").await.1;
            capa.iter()
                .any(|l| l.starts_with("SASL") && l.contains("PLAIN"))
                && ok(&c.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==").await)
        }
        Fault::AcceptsTls10 => {
            let mut c = fx.connect().await;
            assert!(ok(&c.cmd("STLS").await));
            // A TLS 1.0-only ClientHello: record and handshake headers, the
            // version, 32 random octets, no session id, one suite, null
            // compression, no extensions.
            let mut hello = vec![0x16, 3, 1, 0, 45, 1, 0, 0, 41, 3, 1];
            hello.extend([7u8; 32]);
            hello.extend([0, 0, 2, 0, 0x2f, 1, 0]);
            c.send_raw(&hello).await;
            let answer = c.read_to_end().await.unwrap_or_default();
            answer.len() > 10 && answer[0] == 0x16 && answer[5] == 2 && answer[9..11] == [3, 1]
        }
        Fault::UntrustedCertificate => {
            use rustls_pki_types::pem::PemObject;
            let configured = rustls_pki_types::CertificateDer::from_pem_file(
                fx.dir.path().join(".tls/cert.pem"),
            )
            .unwrap();
            let c = Client::connect_tls(fx.server().tls_addr().unwrap()).await;
            c.peer_certificate().unwrap() != configured.to_vec()
        }
        Fault::ImplicitTlsPreauthenticated => {
            let mut c = Client::connect_tls(fx.server().tls_addr().unwrap()).await;
            ok(&c.cmd("STAT").await)
        }
        Fault::InitialResponseIgnored => {
            let mut c = fx.connect().await;
            c.cmd("AUTH CRAM-MD5 YWxpY2U=").await.starts_with("+ ")
        }
        Fault::CramMd5ChallengeNotBase64 => {
            let mut c = fx.connect().await;
            c.cmd("AUTH CRAM-MD5").await.starts_with("+ <")
        }
        Fault::Utf8CodeOnUser => {
            let mut c = fx.connect().await;
            c.send_raw("USER jürgen\r\n".as_bytes()).await;
            c.line().await.starts_with("-ERR [UTF8]")
        }
        Fault::Utf8CodeOnPass => {
            let mut c = fx.connect().await;
            assert!(ok(&c.cmd("USER alice").await));
            c.send_raw("PASS s\u{e4}cret\r\n".as_bytes()).await;
            c.line().await.starts_with("-ERR [UTF8]")
        }
        Fault::StlsKeepsUser => {
            let mut c = fx.connect().await;
            assert!(ok(&c.cmd("USER alice").await));
            assert!(ok(&c.cmd("STLS").await));
            c.starttls().await;
            ok(&c.cmd("PASS secret").await)
        }
        Fault::StlsWithoutCapa => {
            let mut c = fx.connect().await;
            let capa = c.cmd("CAPA").await;
            err(&capa) && ok(&c.cmd("STLS").await)
        }
        Fault::StlsNotAnnounced => {
            let mut c = fx.connect().await;
            let capa = c.multi("CAPA").await.1;
            !capa.iter().any(|l| l == "STLS") && ok(&c.cmd("STLS").await)
        }
        Fault::AuthRespCodeNotAnnounced => {
            let mut c = fx.connect().await;
            let capa = c.multi("CAPA").await.1;
            c.cmd("USER alice").await;
            let r = c.cmd("PASS wrong").await;
            !capa.iter().any(|l| l == "AUTH-RESP-CODE") && r.starts_with("-ERR [AUTH]")
        }
        Fault::PlainAuthzidUnchecked => {
            // "bob\0alice\0secret" in base64.
            let mut c = fx.connect().await;
            ok(&c.cmd("AUTH PLAIN Ym9iAGFsaWNlAHNlY3JldA==").await)
        }
        Fault::AuthzidControlsStripped => {
            // "alice<BEL>\0alice\0secret" in base64.
            let mut c = fx.connect().await;
            ok(&c.cmd("AUTH PLAIN YWxpY2UHAGFsaWNlAHNlY3JldA==").await)
        }
        Fault::SaslprepStripsProhibited => {
            // alice's password with U+E000 (private use) appended, and her
            // name with U+200E (left-to-right mark): both prohibited.
            let mut c = fx.connect().await;
            c.cmd("USER alice").await;
            let pass = ok(&c.cmd("PASS secret\u{E000}").await);
            c.cmd("QUIT").await;
            let mut c = fx.connect().await;
            c.cmd("USER alice\u{200E}").await;
            pass && ok(&c.cmd("PASS secret").await)
        }
        Fault::SaslContinuation255Limit | Fault::PlainCredentialsTruncated => {
            // 512 octets of PLAIN, 684 of base64: only a continuation takes it.
            use base64::Engine;
            let response = base64::engine::general_purpose::STANDARD.encode(format!(
                "\0{}\0{}",
                LONG_USER.repeat(255),
                long_password()
            ));
            let mut c = fx.connect().await;
            assert_eq!(c.cmd("AUTH PLAIN").await, "+ ");
            !ok(&c.cmd(&response).await)
        }
        Fault::ApopTimestampNotMsgId => {
            // RFC 822 msg-id: `<` local-part `@` domain `>`, neither empty.
            let mut c = Client::connect_raw(addr).await;
            let greeting = s(&c.raw_line().await);
            let ts = greeting
                .split_once('<')
                .and_then(|(_, rest)| rest.split_once('>'))
                .map(|(ts, _)| ts.to_string())
                .unwrap_or_default();
            ts.split_once('@')
                .is_none_or(|(local, domain)| local.is_empty() || domain.is_empty())
        }
        Fault::TopAnnouncedUnavailable | Fault::UidlAnnouncedUnavailable => {
            let (tag, command) = if f == Fault::TopAnnouncedUnavailable {
                ("TOP", "TOP 1 0")
            } else {
                ("UIDL", "UIDL")
            };
            let mut c = fx.alice().await;
            let capa = c.multi("CAPA").await.1;
            capa.iter().any(|l| l == tag) && !multi_ok(&mut c, command).await
        }
        Fault::UserAnnouncedDisabled => {
            let mut c = fx.connect().await;
            let capa = c.multi("CAPA").await.1;
            capa.iter().any(|l| l == "USER") && err(&c.cmd("USER alice").await)
        }
        Fault::ScramServerFinalMissing => {
            ok(&scram_reply_to_right_proof(&fx, "SCRAM-SHA-256", Scram::Sha256).await)
        }
        Fault::ScramSha1KeysFromSha256 => {
            err(&scram_reply_to_right_proof(&fx, "SCRAM-SHA-1", Scram::Sha1).await)
        }
        Fault::LoginAnnouncedUnsupported => {
            mechanism_announced_but_refused(&fx, "LOGIN", "AUTH LOGIN").await
        }
        // "\0alice\0secret" in base64.
        Fault::PlainAnnouncedUnsupported => {
            mechanism_announced_but_refused(&fx, "PLAIN", "AUTH PLAIN AGFsaWNlAHNlY3JldA==").await
        }
        Fault::SecondAuthAccepted => {
            let mut c = fx.connect().await;
            assert!(ok(&c.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==").await));
            ok(&c.cmd("AUTH PLAIN AGFsaWNlAHNlY3JldA==").await)
        }
        Fault::AuthCodeOnUser => {
            let mut c = fx.connect().await;
            c.cmd("USER nobody").await.starts_with("-ERR [AUTH]")
        }
        Fault::SysCodeWithoutLevel => {
            let mut c = fx.alice().await;
            c.cmd("RETR 9").await.starts_with("-ERR [SYS]")
        }
        Fault::Utf8SentWithoutMode | Fault::Utf8SizeCountsCharacters => {
            // 26 octets as sent, 24 characters: `ü` and `ß` are two octets each.
            let msg = "Subject: Grüße\n\nbody\n";
            deliver_at(&fx.maildir("bob"), "cur", "1.u:2,", msg.as_bytes(), 5_000);
            let mut c = fx.connect().await;
            if f == Fault::Utf8SizeCountsCharacters {
                assert!(ok(&c.cmd("UTF8").await));
            }
            c.login("bob", "hunter2").await;
            if f == Fault::Utf8SizeCountsCharacters {
                c.cmd("LIST 1").await != "+OK 1 26"
            } else {
                multi_ok(&mut c, "RETR 1").await
            }
        }
        Fault::StlsPlaintextAfterOk => {
            let mut c = fx.connect().await;
            assert!(ok(&c.cmd("STLS").await));
            line_within(&mut c, Duration::from_millis(500))
                .await
                .is_some()
        }
        Fault::StlsHandshakeFails => {
            let mut c = fx.connect().await;
            let capa = c.multi("CAPA").await.1;
            assert!(ok(&c.cmd("STLS").await));
            capa.iter().any(|l| l == "STLS") && c.try_starttls().await.is_err()
        }
        Fault::TlsBelow12Only => {
            // rustls offers TLS 1.2 and 1.3; the answer selects TLS 1.1.
            let mut c = fx.connect().await;
            assert!(ok(&c.cmd("STLS").await));
            c.try_starttls().await.is_err()
        }
        Fault::IllFormedUtf8Dropped => {
            let mut c = fx.connect().await;
            c.send_raw(b"USER alice\xff\r\n").await;
            let user = ok(&c.line().await);
            let pass = user && ok(&c.cmd("PASS secret").await);
            c.cmd("QUIT").await;
            let mut c = fx.connect().await;
            assert!(ok(&c.cmd("USER alice").await));
            c.send_raw(b"PASS secret\xc3\r\n").await;
            pass && ok(&c.line().await)
        }
        Fault::ListInAuthorization
        | Fault::DeleInAuthorization
        | Fault::RsetInAuthorization
        | Fault::TopInAuthorization
        | Fault::UidlInAuthorization
        | Fault::RetrMissingMessageOk
        | Fault::DeleMissingMessageOk
        | Fault::TopMissingMessageOk
        | Fault::UidlMissingMessageOk => {
            // (command, sent after login): before login, or naming message 9
            // of three.
            let (command, logged_in) = match f {
                Fault::ListInAuthorization => ("LIST", false),
                Fault::DeleInAuthorization => ("DELE 1", false),
                Fault::RsetInAuthorization => ("RSET", false),
                Fault::TopInAuthorization => ("TOP 1 0", false),
                Fault::UidlInAuthorization => ("UIDL", false),
                Fault::RetrMissingMessageOk => ("RETR 9", true),
                Fault::DeleMissingMessageOk => ("DELE 9", true),
                Fault::TopMissingMessageOk => ("TOP 9 0", true),
                _ => ("UIDL 9", true),
            };
            let mut c = if logged_in {
                fx.alice().await
            } else {
                fx.connect().await
            };
            ok(&c.cmd(command).await)
        }
        Fault::UidlIgnoresArgument => {
            let mut c = fx.alice().await;
            !c.cmd("UIDL 1").await.starts_with("+OK 1 ")
        }
        Fault::UidlTabSeparated | Fault::UidlSizeAfterId | Fault::UidlIdPadded => {
            let mut c = fx.alice().await;
            let lines = c.multi("UIDL").await.1;
            lines.iter().any(|l| match f {
                Fault::UidlTabSeparated => l.contains('\t'),
                Fault::UidlSizeAfterId => l.split(' ').count() > 2,
                _ => l.split(' ').nth(1).is_some_and(|id| id.len() > 70),
            })
        }
        Fault::NoopFloodGuard => {
            let mut c = fx.alice().await;
            let mut refused = false;
            for _ in 0..5 {
                refused |= err(&c.cmd("NOOP").await);
            }
            refused
        }
        Fault::QuitKeepsConnection => {
            let mut c = fx.alice().await;
            assert!(ok(&c.cmd("QUIT").await));
            tokio::time::timeout(Duration::from_secs(1), c.closed())
                .await
                .is_err()
        }
        Fault::QuitAfterUserRefused | Fault::QuitAfterFailedUserRefused => {
            let user = if f == Fault::QuitAfterUserRefused {
                "alice"
            } else {
                "nobody"
            };
            let mut c = fx.connect().await;
            c.cmd(&format!("USER {user}")).await;
            err(&c.cmd("QUIT").await)
        }
        Fault::PlainChallengeNotEmpty | Fault::ChallengeNotBase64 => {
            let mut c = fx.connect().await;
            let challenge = c.cmd("AUTH PLAIN").await;
            let expected = if f == Fault::PlainChallengeNotEmpty {
                "+ UGFzc3dvcmQ6"
            } else {
                "+ Go ahead"
            };
            assert!(challenge == "+ " || challenge == expected, "{challenge:?}");
            challenge != "+ "
        }
    };
    fx.stop().await;
    seen
}

async fn check(f: Fault) {
    assert!(
        Box::pin(violation(f, true)).await,
        "fault {} has no observable effect",
        f.name()
    );
    assert!(
        !Box::pin(violation(f, false)).await,
        "probe for {} flags the correct server",
        f.name()
    );
}

/// The probe's big `match` needs more stack in debug builds than a test
/// thread has, so each check runs on its own thread and runtime.
fn run_check(f: Fault) {
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(check(f))
        })
        .unwrap()
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
}

macro_rules! fault_tests {
    ($( $test:ident => $variant:ident, )*) => {
        $(
            #[test]
            fn $test() {
                run_check(Fault::$variant);
            }
        )*
        const PROBED: &[Fault] = &[ $( Fault::$variant, )* ];
    };
}

fault_tests! {
    greeting_lowercase_ok => GreetingLowercaseOk,
    greeting_bare_lf => GreetingBareLf,
    greeting_extra_line => GreetingExtraLine,
    apop_timestamp_reused => ApopTimestampReused,
    case_sensitive_commands => CaseSensitiveCommands,
    lowercase_quit_ignored => LowercaseQuitIgnored,
    lowercase_status => LowercaseStatus,
    unknown_command_ok => UnknownCommandOk,
    bare_lf_responses => BareLfResponses,
    no_byte_stuffing => NoByteStuffing,
    list_missing_terminator => ListMissingTerminator,
    octets_lf_count => OctetsLfCount,
    stat_counts_deleted => StatCountsDeleted,
    stat_in_authorization => StatInAuthorization,
    user_in_transaction => UserInTransaction,
    noop_in_authorization => NoopInAuthorization,
    pass_without_user => PassWithoutUser,
    wrong_password_accepted => WrongPasswordAccepted,
    password_prefix_accepted => PasswordPrefixAccepted,
    password_case_insensitive => PasswordCaseInsensitive,
    apop_accepts_any_digest => ApopAcceptsAnyDigest,
    dele_immediate => DeleImmediate,
    dele_moves_immediately => DeleMovesImmediately,
    delete_on_disconnect => DeleteOnDisconnect,
    update_on_idle_timeout => UpdateOnIdleTimeout,
    autologout_with_response => AutologoutWithResponse,
    quit_applies_dropped_marks => QuitAppliesDroppedMarks,
    autologout_too_short => AutologoutTooShort,
    quit_no_delete => QuitNoDelete,
    rset_noop => RsetNoop,
    retr_marked_message => RetrMarkedMessage,
    renumber_after_dele => RenumberAfterDele,
    list_ignores_argument => ListIgnoresArgument,
    list_includes_deleted => ListIncludesDeleted,
    uidl_includes_deleted => UidlIncludesDeleted,
    uidl_unstable => UidlUnstable,
    uidl_same_second_collision => UidlSameSecondCollision,
    top_ignores_line_count => TopIgnoresLineCount,
    top_no_blank_line => TopNoBlankLine,
    top_off_by_one => TopOffByOne,
    capa_stls_when_active => CapaStlsWhenActive,
    capa_missing_terminator => CapaMissingTerminator,
    no_maildrop_lock => NoMaildropLock,
    lock_not_released_on_drop => LockNotReleasedOnDrop,
    in_use_without_code => InUseWithoutCode,
    auth_cancel_accepted => AuthCancelAccepted,
    auth_base64_lenient => AuthBase64Lenient,
    stls_in_transaction => StlsInTransaction,
    stls_buffer_carryover => StlsBufferCarryover,
    short_line_limit => ShortLineLimit,
    line_limit_off_by_one => LineLimitOffByOne,
    long_line_closes => LongLineCloses,
    pipelining_drops_buffered => PipeliningDropsBuffered,
    long_response_line => LongResponseLine,
    retr_extra_blank_line => RetrExtraBlankLine,
    lang_capa_argument => LangCapaArgument,
    lang_list_tab_separated => LangListTabSeparated,
    lang_ok_without_tag => LangOkWithoutTag,
    lang_unknown_accepted => LangUnknownAccepted,
    lang_authorization_only => LangAuthorizationOnly,
    lang_not_announced_after_login => LangNotAnnouncedAfterLogin,
    no_close_notify => NoCloseNotify,
    login_delay_not_enforced => LoginDelayNotEnforced,
    login_delay_user_token_after_login => LoginDelayUserTokenAfterLogin,
    capa_drops_extensions_after_login => CapaDropsExtensionsAfterLogin,
    sasl_mechanism_case_sensitive => SaslMechanismCaseSensitive,
    utf8_in_transaction => Utf8InTransaction,
    capa_stls_after_login => CapaStlsAfterLogin,
    download_delete_on_drop => DownloadDeleteOnDrop,
    download_delete_unannounced => DownloadDeleteUnannounced,
    messages_newest_first => MessagesNewestFirst,
    keyword_prefix_match => KeywordPrefixMatch,
    extra_arguments_ignored => ExtraArgumentsIgnored,
    top_lenient_arguments => TopLenientArguments,
    apop_in_transaction => ApopInTransaction,
    lock_refusal_enters_transaction => LockRefusalEntersTransaction,
    failed_pass_keeps_lock => FailedPassKeepsLock,
    short_argument_limit => ShortArgumentLimit,
    uidl_from_flags => UidlFromFlags,
    cleartext_auth_before_tls => CleartextAuthBeforeTls,
    stls_keeps_user => StlsKeepsUser,
    utf8_code_on_user => Utf8CodeOnUser,
    utf8_code_on_pass => Utf8CodeOnPass,
    accepts_tls10 => AcceptsTls10,
    initial_response_ignored => InitialResponseIgnored,
    cram_md5_challenge_not_base64 => CramMd5ChallengeNotBase64,
    stls_without_capa => StlsWithoutCapa,
    stls_not_announced => StlsNotAnnounced,
    auth_resp_code_not_announced => AuthRespCodeNotAnnounced,
    plain_authzid_unchecked => PlainAuthzidUnchecked,
    plain_challenge_not_empty => PlainChallengeNotEmpty,
    challenge_not_base64 => ChallengeNotBase64,
    login_delay_larger_after_login => LoginDelayLargerAfterLogin,
    expire_smaller_after_login => ExpireSmallerAfterLogin,
    authzid_controls_stripped => AuthzidControlsStripped,
    noop_keeps_timer => NoopKeepsTimer,
    in_use_before_password => InUseBeforePassword,
    saslprep_strips_prohibited => SaslprepStripsProhibited,
    greeting_malformed_code => GreetingMalformedCode,
    no_such_message_malformed_code => NoSuchMessageMalformedCode,
    wrong_state_malformed_code => WrongStateMalformedCode,
    dele_ok_malformed_code => DeleOkMalformedCode,
    login_delay_on_user => LoginDelayOnUser,
    login_delay_code_on_other_commands => LoginDelayCodeOnOtherCommands,
    scram_sha_1_keys_from_sha_256 => ScramSha1KeysFromSha256,
    uidl_from_message_number => UidlFromMessageNumber,
    sasl_continuation_255_limit => SaslContinuation255Limit,
    plain_credentials_truncated => PlainCredentialsTruncated,
    untrusted_certificate => UntrustedCertificate,
    implicit_tls_preauthenticated => ImplicitTlsPreauthenticated,
    implementation_dropped_after_login => ImplementationDroppedAfterLogin,
    unknown_tag_dropped_after_login => UnknownTagDroppedAfterLogin,
    apop_timestamp_not_msg_id => ApopTimestampNotMsgId,
    top_announced_unavailable => TopAnnouncedUnavailable,
    uidl_announced_unavailable => UidlAnnouncedUnavailable,
    user_announced_disabled => UserAnnouncedDisabled,
    plain_announced_unsupported => PlainAnnouncedUnsupported,
    login_announced_unsupported => LoginAnnouncedUnsupported,
    scram_server_final_missing => ScramServerFinalMissing,
    second_auth_accepted => SecondAuthAccepted,
    expire_user_token_after_login => ExpireUserTokenAfterLogin,
    auth_code_on_user => AuthCodeOnUser,
    sys_code_without_level => SysCodeWithoutLevel,
    utf8_sent_without_mode => Utf8SentWithoutMode,
    utf8_size_counts_characters => Utf8SizeCountsCharacters,
    stls_plaintext_after_ok => StlsPlaintextAfterOk,
    stls_handshake_fails => StlsHandshakeFails,
    tls_below_1_2_only => TlsBelow12Only,
    ill_formed_utf8_dropped => IllFormedUtf8Dropped,
    list_in_authorization => ListInAuthorization,
    dele_in_authorization => DeleInAuthorization,
    rset_in_authorization => RsetInAuthorization,
    top_in_authorization => TopInAuthorization,
    uidl_in_authorization => UidlInAuthorization,
    retr_missing_message_ok => RetrMissingMessageOk,
    dele_missing_message_ok => DeleMissingMessageOk,
    top_missing_message_ok => TopMissingMessageOk,
    uidl_missing_message_ok => UidlMissingMessageOk,
    list_arg_includes_deleted => ListArgIncludesDeleted,
    uidl_ignores_argument => UidlIgnoresArgument,
    uidl_missing_terminator => UidlMissingTerminator,
    uidl_tab_separated => UidlTabSeparated,
    uidl_size_after_id => UidlSizeAfterId,
    uidl_id_padded => UidlIdPadded,
    noop_flood_guard => NoopFloodGuard,
    quit_keeps_connection => QuitKeepsConnection,
    quit_after_user_refused => QuitAfterUserRefused,
    quit_after_failed_user_refused => QuitAfterFailedUserRefused,
}

#[test]
fn every_fault_has_a_probe_and_a_unique_name() {
    for f in Fault::ALL {
        assert!(PROBED.contains(f), "{} has no test", f.name());
        assert_eq!(Fault::from_name(f.name()), Some(*f));
        assert!(!f.description().is_empty() && !f.description().contains('\n'));
        let n = f.name();
        assert!(
            n.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{n}"
        );
    }
    let mut names: Vec<_> = Fault::ALL.iter().map(|f| f.name()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), Fault::ALL.len());
    assert_eq!(Fault::from_name("no-such-fault"), None);
}

#[tokio::test]
async fn several_faults_at_once() {
    let fx = Fixture::with(|c| {
        let mut fs = FaultSet::none();
        fs.insert(Fault::UnknownCommandOk);
        fs.insert(Fault::NoopInAuthorization);
        assert!(fs.contains(Fault::UnknownCommandOk) && !fs.contains(Fault::RsetNoop));
        c.faults = fs;
    })
    .await;
    let mut c = fx.connect().await;
    assert!(ok(&c.cmd("XYZZY").await));
    assert!(ok(&c.cmd("NOOP").await));
    assert!(err(&c.cmd("STAT").await));
    fx.stop().await;
}
