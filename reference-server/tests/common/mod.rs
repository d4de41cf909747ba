//! Test helpers: a Maildir fixture, a server started through the library,
//! and a tiny raw-socket POP3 client (plain, STLS-upgraded or implicit TLS).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pop3_reference_server::{Fault, FaultSet, RunningServer, ServerConfig};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const TIMEOUT: Duration = Duration::from_secs(5);

pub const MSG1: &[u8] = b"Subject: one\r\nFrom: a@example.org\r\n\r\nbody one\r\nsecond line\r\n";
pub const MSG2: &[u8] = b"Subject: two\n\n.dotted\nplain\n..double\n.\nend\n";
pub const MSG3: &[u8] = b"Subject: three\n\nb1\nb2\nb3\nno final newline";

pub fn users() -> Vec<(String, String)> {
    vec![
        ("alice".into(), "secret".into()),
        ("bob".into(), "hunter2".into()),
    ]
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub server: Option<RunningServer>,
}

impl Fixture {
    /// alice has MSG1..MSG3 in cur/ with increasing mtimes; bob is empty.
    pub async fn start() -> Fixture {
        Self::with(|_| {}).await
    }

    pub async fn with_fault(f: Fault) -> Fixture {
        Self::with(move |c| c.faults = FaultSet::single(f)).await
    }

    pub async fn with(tweak: impl FnOnce(&mut ServerConfig)) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        // Names sort against delivery order on purpose: order must follow mtime.
        deliver_at(&dir.path().join("alice"), "cur", "300.c:2,S", MSG1, 1_000);
        deliver_at(&dir.path().join("alice"), "cur", "200.b:2,", MSG2, 2_000);
        deliver_at(&dir.path().join("alice"), "cur", "100.a:2,", MSG3, 3_000);
        let mut cfg = ServerConfig::new(dir.path(), users());
        cfg.idle_timeout = Duration::from_secs(30);
        tweak(&mut cfg);
        let server = RunningServer::start(cfg).await.unwrap();
        Fixture {
            dir,
            server: Some(server),
        }
    }

    pub fn server(&self) -> &RunningServer {
        self.server.as_ref().unwrap()
    }

    pub fn maildir(&self, user: &str) -> PathBuf {
        self.dir.path().join(user)
    }

    pub async fn connect(&self) -> Client {
        Client::connect(self.server().addr()).await
    }

    /// Connected and logged in as alice.
    pub async fn alice(&self) -> Client {
        let mut c = self.connect().await;
        c.login("alice", "secret").await;
        c
    }

    /// Message files currently stored (cur/ and new/).
    pub fn files(&self, user: &str) -> Vec<String> {
        let mut v = Vec::new();
        for sub in ["cur", "new"] {
            if let Ok(rd) = std::fs::read_dir(self.maildir(user).join(sub)) {
                for e in rd {
                    v.push(format!(
                        "{sub}/{}",
                        e.unwrap().file_name().to_string_lossy()
                    ));
                }
            }
        }
        v.sort();
        v
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }
}

/// Write a message file with a given mtime (seconds since the epoch).
pub fn deliver_at(maildir: &Path, sub: &str, name: &str, body: &[u8], mtime: u64) {
    let d = maildir.join(sub);
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join(name);
    std::fs::write(&p, body).unwrap();
    let f = std::fs::File::options().write(true).open(&p).unwrap();
    f.set_modified(UNIX_EPOCH + Duration::from_secs(mtime))
        .unwrap();
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    Gone,
}

pub struct Client {
    stream: Stream,
    buf: Vec<u8>,
    pub greeting: String,
}

impl Client {
    pub async fn connect(addr: std::net::SocketAddr) -> Client {
        let s = TcpStream::connect(addr).await.unwrap();
        let mut c = Client {
            stream: Stream::Plain(s),
            buf: Vec::new(),
            greeting: String::new(),
        };
        c.greeting = c.line().await;
        c
    }

    pub async fn connect_tls(addr: std::net::SocketAddr) -> Client {
        let s = TcpStream::connect(addr).await.unwrap();
        let tls = tls_connector()
            .connect(ServerName::try_from("localhost").unwrap(), s)
            .await
            .unwrap();
        let mut c = Client {
            stream: Stream::Tls(Box::new(tls)),
            buf: Vec::new(),
            greeting: String::new(),
        };
        c.greeting = c.line().await;
        c
    }

    /// Connect without reading the greeting.
    pub async fn connect_raw(addr: std::net::SocketAddr) -> Client {
        let s = TcpStream::connect(addr).await.unwrap();
        Client {
            stream: Stream::Plain(s),
            buf: Vec::new(),
            greeting: String::new(),
        }
    }

    pub async fn starttls(&mut self) {
        assert!(self.buf.is_empty(), "unread data before TLS handshake");
        self.try_starttls().await.unwrap();
    }

    /// The TLS handshake after STLS, its error when it fails (the client is
    /// then left without a connection).
    pub async fn try_starttls(&mut self) -> std::io::Result<()> {
        let s = match std::mem::replace(&mut self.stream, Stream::Gone) {
            Stream::Plain(s) => s,
            _ => panic!("not plain"),
        };
        let tls = tls_connector()
            .connect(ServerName::try_from("localhost").unwrap(), s)
            .await?;
        self.stream = Stream::Tls(Box::new(tls));
        Ok(())
    }

    /// The DER of the certificate the server presented, on a TLS session.
    pub fn peer_certificate(&self) -> Option<Vec<u8>> {
        match &self.stream {
            Stream::Tls(s) => s
                .get_ref()
                .1
                .peer_certificates()?
                .first()
                .map(|c| c.to_vec()),
            _ => None,
        }
    }

    pub async fn send_raw(&mut self, data: &[u8]) {
        let r = match &mut self.stream {
            Stream::Plain(s) => s.write_all(data).await,
            Stream::Tls(s) => {
                let r = s.write_all(data).await;
                r.and(s.flush().await)
            }
            Stream::Gone => panic!(),
        };
        r.unwrap();
    }

    pub async fn send(&mut self, cmd: &str) {
        self.send_raw(format!("{cmd}\r\n").as_bytes()).await;
    }

    async fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 8192];
        let fut = async {
            match &mut self.stream {
                Stream::Plain(s) => s.read(&mut chunk).await,
                Stream::Tls(s) => s.read(&mut chunk).await,
                Stream::Gone => panic!(),
            }
        };
        let n = match tokio::time::timeout(TIMEOUT, fut).await {
            Ok(Ok(n)) => n,
            Ok(Err(_)) => 0,
            Err(_) => panic!("timed out waiting for the server"),
        };
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    /// One raw line including its terminator; empty at EOF.
    pub async fn raw_line(&mut self) -> Vec<u8> {
        loop {
            if let Some(p) = self.buf.iter().position(|b| *b == b'\n') {
                return self.buf.drain(..=p).collect();
            }
            if self.fill().await == 0 {
                return std::mem::take(&mut self.buf);
            }
        }
    }

    /// One line, asserted to end in CRLF, returned without it.
    pub async fn line(&mut self) -> String {
        let l = self.raw_line().await;
        assert!(
            l.ends_with(b"\r\n"),
            "line not CRLF-terminated: {:?}",
            String::from_utf8_lossy(&l)
        );
        String::from_utf8_lossy(&l[..l.len() - 2]).into_owned()
    }

    /// Reads to the end of the stream: Ok after a clean end (for TLS, after
    /// the server's close_notify), the read error otherwise.
    pub async fn read_to_end(&mut self) -> std::io::Result<Vec<u8>> {
        let mut out = std::mem::take(&mut self.buf);
        match &mut self.stream {
            Stream::Plain(s) => s.read_to_end(&mut out).await?,
            Stream::Tls(s) => s.read_to_end(&mut out).await?,
            Stream::Gone => 0,
        };
        Ok(out)
    }

    /// Whether the server closed the connection (EOF or reset).
    pub async fn closed(&mut self) -> bool {
        self.buf.is_empty() && self.fill().await == 0
    }

    /// Read and ignore anything (e.g. a TLS alert) until the server closes.
    pub async fn drained_to_close(&mut self) -> bool {
        for _ in 0..100 {
            self.buf.clear();
            if self.fill().await == 0 {
                return true;
            }
        }
        false
    }

    pub async fn cmd(&mut self, cmd: &str) -> String {
        self.send(cmd).await;
        self.line().await
    }

    /// Body of a multi-line response (after the status line), unstuffed
    /// lines without CRLF, up to the terminator.
    pub async fn body(&mut self) -> Vec<String> {
        let mut v = Vec::new();
        loop {
            let l = self.line().await;
            if l == "." {
                return v;
            }
            v.push(l);
        }
    }

    /// Raw bytes of a multi-line body including the terminator line.
    pub async fn raw_body(&mut self) -> Vec<u8> {
        let mut v = Vec::new();
        loop {
            let l = self.raw_line().await;
            assert!(!l.is_empty(), "EOF inside multi-line response");
            v.extend_from_slice(&l);
            if l == b".\r\n" {
                return v;
            }
        }
    }

    pub async fn multi(&mut self, cmd: &str) -> (String, Vec<String>) {
        let first = self.cmd(cmd).await;
        assert!(first.starts_with("+OK"), "{cmd}: {first}");
        let body = self.body().await;
        (first, body)
    }

    pub async fn login(&mut self, user: &str, pass: &str) {
        let r = self.cmd(&format!("USER {user}")).await;
        assert!(r.starts_with("+OK"), "USER: {r}");
        let r = self.cmd(&format!("PASS {pass}")).await;
        assert!(r.starts_with("+OK"), "PASS: {r}");
    }

    pub async fn quit(mut self) -> String {
        self.cmd("QUIT").await
    }
}

/// The APOP digest for the timestamp in `greeting` (RFC 1939 §7).
pub fn apop_digest(greeting: &str, secret: &str) -> String {
    use md5::{Digest, Md5};
    let ts = &greeting[greeting.find('<').unwrap()..=greeting.find('>').unwrap()];
    Md5::digest(format!("{ts}{secret}"))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn ok(s: &str) -> bool {
    s == "+OK" || s.starts_with("+OK ")
}

pub fn err(s: &str) -> bool {
    s == "-ERR" || s.starts_with("-ERR ")
}

/// Accepts any certificate: the server's is self-signed.
#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

pub fn tls_connector() -> tokio_rustls::TlsConnector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

/// The server binary running as a child process on an ephemeral port.
pub struct ChildServer {
    pub child: tokio::process::Child,
    pub addr: std::net::SocketAddr,
}

impl ChildServer {
    /// Start `pop3-reference-server --listen 127.0.0.1:0 --no-tls` plus
    /// `args`, with `env`, serving `mail_root` for `users`.
    pub async fn spawn(
        mail_root: &Path,
        users: &[(&str, &str)],
        args: &[&str],
        env: &[(&str, &str)],
    ) -> ChildServer {
        use tokio::io::AsyncBufReadExt;
        let users_file = mail_root.with_extension("users");
        let text: String = users.iter().map(|(u, p)| format!("{u}:{p}\n")).collect();
        std::fs::write(&users_file, text).unwrap();
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_pop3-reference-server"));
        cmd.arg("--mail-root")
            .arg(mail_root)
            .arg("--users")
            .arg(&users_file)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("POP3_REF_TEST_UPDATE_PAUSE_MS")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        if !args
            .iter()
            .any(|a| a.starts_with("--tls") || *a == "--require-tls")
        {
            cmd.arg("--no-tls");
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        let addr = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(l) = lines.next_line().await.unwrap() {
                if let Some(a) = l.strip_prefix("pop3-reference-server listening on ") {
                    return a.trim().parse().unwrap();
                }
            }
            panic!("server exited before listening");
        })
        .await
        .expect("server did not start");
        // Keep draining stderr so the child never blocks or dies on EPIPE.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        ChildServer { child, addr }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap()
    }

    /// SIGKILL and reap.
    pub async fn kill(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }

    /// A status field of /proc/PID/status in kB (VmRSS, VmHWM).
    pub fn status_kb(&self, field: &str) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        s.lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"))
    }
}

/// The SASL capability line the reference server announces: one place to
/// change when a mechanism is added.
pub const SASL_CAPABILITY: &str = "SASL PLAIN CRAM-MD5 LOGIN SCRAM-SHA-256 SCRAM-SHA-1";

/// The SCRAM-SHA-256 client-final message (base64) answering `server_first`
/// (decoded) for `user` with `nonce`, without channel binding (RFC 5802 §3).
pub fn scram_client_final(server_first: &[u8], user: &str, pass: &str, nonce: &str) -> String {
    scram_client_final_with(Scram::Sha256, "n,,", server_first, user, pass, nonce)
}

/// The hash of a SCRAM mechanism the tests run.
#[derive(Clone, Copy)]
pub enum Scram {
    Sha1,
    Sha256,
}

/// [`scram_client_final`] for the mechanism `hash` names, after the
/// client-first message began with `gs2_header` (`n,,` or `n,a=AUTHZID,`).
pub fn scram_client_final_with(
    hash: Scram,
    gs2_header: &str,
    server_first: &[u8],
    user: &str,
    pass: &str,
    nonce: &str,
) -> String {
    use base64::Engine;
    use ring::{digest, hmac, pbkdf2};
    let (derive, mac, sha, len) = match hash {
        Scram::Sha1 => (
            pbkdf2::PBKDF2_HMAC_SHA1,
            hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            &digest::SHA1_FOR_LEGACY_USE_ONLY,
            20,
        ),
        Scram::Sha256 => (
            pbkdf2::PBKDF2_HMAC_SHA256,
            hmac::HMAC_SHA256,
            &digest::SHA256,
            32,
        ),
    };
    let text = String::from_utf8(server_first.to_vec()).unwrap();
    let field = |name: &str| {
        text.split(',')
            .find_map(|a| a.strip_prefix(name)?.strip_prefix('='))
            .unwrap()
            .to_string()
    };
    let (combined, salt) = (
        field("r"),
        base64::engine::general_purpose::STANDARD
            .decode(field("s"))
            .unwrap(),
    );
    let rounds: std::num::NonZeroU32 = field("i").parse().unwrap();
    let mut salted = vec![0u8; len];
    pbkdf2::derive(derive, rounds, &salt, pass.as_bytes(), &mut salted);
    let client_key = hmac::sign(&hmac::Key::new(mac, &salted), b"Client Key");
    let stored_key = digest::digest(sha, client_key.as_ref());
    let binding = base64::engine::general_purpose::STANDARD.encode(gs2_header);
    let without_proof = format!("c={binding},r={combined}");
    let auth_message = format!("n={user},r={nonce},{text},{without_proof}");
    let signature = hmac::sign(
        &hmac::Key::new(mac, stored_key.as_ref()),
        auth_message.as_bytes(),
    );
    let proof: Vec<u8> = client_key
        .as_ref()
        .iter()
        .zip(signature.as_ref())
        .map(|(a, b)| a ^ b)
        .collect();
    base64::engine::general_purpose::STANDARD.encode(format!(
        "{without_proof},p={}",
        base64::engine::general_purpose::STANDARD.encode(proof)
    ))
}
