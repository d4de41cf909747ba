//! pop3spec-testclient: a small, scripted POP3 client that downloads a
//! mailbox into a folder (one file per message), configured the way
//! `pop3spec client` configures any client (POP3SPEC_HOST, _PORT, _USER,
//! _PASS, _OUT, _CAFILE, _TLS, _DELETE, _AUTH).
//!
//! It exists to prove the client suite: run clean it must pass every client
//! scenario, and each `--fault NAME` (see `pop3spec::client::FAULTS`) plants
//! one bug a real client could have, which the scenarios that list it in
//! `catches:` must fail. It is a test instrument, not a mail client.

use base64::Engine;
use md5::{Digest, Md5};
use pop3spec::runner::tls::{connector, server_name, TlsOptions};
use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

struct Config {
    host: String,
    port: u16,
    user: String,
    pass: String,
    out: std::path::PathBuf,
    cafile: Option<std::path::PathBuf>,
    tls: String,
    delete: bool,
    auth: String,
    faults: BTreeSet<String>,
    behaviours: BTreeSet<String>,
}

impl Config {
    fn fault(&self, name: &str) -> bool {
        self.faults.contains(name)
    }

    fn behaves(&self, name: &str) -> bool {
        self.behaviours.contains(name)
    }
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set (run me from `pop3spec client`)"))
}

fn config() -> Result<Config, String> {
    let mut faults = BTreeSet::new();
    let mut behaviours = BTreeSet::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--fault" => {
                let name = args.next().ok_or("--fault needs a name")?;
                if !pop3spec::client::FAULTS.iter().any(|(n, _)| *n == name) {
                    return Err(format!("unknown fault `{name}`"));
                }
                faults.insert(name);
            }
            "--behave" => {
                let name = args.next().ok_or("--behave needs a name")?;
                if !pop3spec::client::BEHAVIOURS.iter().any(|(n, _)| *n == name) {
                    return Err(format!("unknown behaviour `{name}`"));
                }
                behaviours.insert(name);
            }
            "--list-faults" => {
                for (n, what) in pop3spec::client::FAULTS {
                    println!("{n:<26} {what}");
                }
                for (n, what) in pop3spec::client::BEHAVIOURS {
                    println!("{n:<26} (--behave, no fault) {what}");
                }
                std::process::exit(0);
            }
            other => {
                return Err(format!(
                    "unknown argument `{other}` (use --fault NAME, --behave NAME, --list-faults)"
                ))
            }
        }
    }
    Ok(Config {
        host: env("POP3SPEC_HOST")?,
        port: env("POP3SPEC_PORT")?
            .parse()
            .map_err(|_| "POP3SPEC_PORT is not a port")?,
        user: env("POP3SPEC_USER")?,
        pass: env("POP3SPEC_PASS")?,
        out: env("POP3SPEC_OUT")?.into(),
        cafile: std::env::var("POP3SPEC_CAFILE")
            .ok()
            .filter(|c| !c.is_empty())
            .map(Into::into),
        tls: std::env::var("POP3SPEC_TLS").unwrap_or_else(|_| "none".into()),
        delete: std::env::var("POP3SPEC_DELETE").is_ok_and(|d| d == "1"),
        auth: std::env::var("POP3SPEC_AUTH").unwrap_or_else(|_| "user".into()),
        faults,
        behaviours,
    })
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

enum Stream {
    Plain(TcpStream),
    Tls(Box<dyn Io>),
}

struct Pop {
    stream: Option<Stream>,
    buf: Vec<u8>,
}

/// How a session ended early.
#[derive(Debug)]
enum Stop {
    /// The server refused the login: a retry might help later.
    LoginRefused(String),
    Other(String),
}

impl From<String> for Stop {
    fn from(s: String) -> Self {
        Stop::Other(s)
    }
}

const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How a failed handshake's error starts (fallback-to-plaintext looks for it).
const TLS_FAILED: &str = "TLS handshake failed";

impl Pop {
    async fn send(&mut self, line: &str) -> Result<(), String> {
        let bytes = format!("{line}\r\n");
        let r = match self.stream.as_mut().ok_or("not connected")? {
            Stream::Plain(s) => s.write_all(bytes.as_bytes()).await,
            Stream::Tls(s) => match s.write_all(bytes.as_bytes()).await {
                Ok(()) => s.flush().await,
                Err(e) => Err(e),
            },
        };
        r.map_err(|e| format!("write failed: {e}"))
    }

    async fn fill(&mut self) -> Result<(), String> {
        let mut chunk = [0u8; 8192];
        let read = async {
            match self.stream.as_mut() {
                Some(Stream::Plain(s)) => s.read(&mut chunk).await,
                Some(Stream::Tls(s)) => s.read(&mut chunk).await,
                None => Ok(0),
            }
        };
        match tokio::time::timeout(READ_TIMEOUT, read).await {
            Ok(Ok(0)) => Err("the server closed the connection".into()),
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Ok(Err(e)) => Err(format!("read failed: {e}")),
            Err(_) => Err("read timed out".into()),
        }
    }

    async fn line(&mut self) -> Result<String, String> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let raw: Vec<u8> = self.buf.drain(..=i).collect();
                let text = String::from_utf8_lossy(&raw);
                return Ok(text.trim_end_matches(['\r', '\n']).to_string());
            }
            self.fill().await?;
        }
    }

    /// Exactly `n` octets.
    async fn octets(&mut self, n: usize) -> Result<Vec<u8>, String> {
        while self.buf.len() < n {
            self.fill().await?;
        }
        Ok(self.buf.drain(..n).collect())
    }

    async fn command(&mut self, line: &str) -> Result<String, String> {
        self.send(line).await?;
        self.line().await
    }

    /// The lines of a multi-line body up to the terminator.
    async fn body(&mut self, cfg: &Config) -> Result<Vec<String>, String> {
        let mut lines = Vec::new();
        self.body_into(cfg, &mut lines).await?;
        Ok(lines)
    }

    /// Reads a body into `lines`; on error what arrived stays in `lines`.
    async fn body_into(&mut self, cfg: &Config, lines: &mut Vec<String>) -> Result<(), String> {
        loop {
            let l = self.line().await?;
            if l == "."
                || (cfg.fault("dot-prefix-ends-body") && l.starts_with('.'))
                || (cfg.fault("trimmed-terminator") && l.trim() == ".")
            {
                return Ok(());
            }
            if l.starts_with('.') && !cfg.fault("no-unstuffing") {
                lines.push(l[1..].to_string());
            } else {
                lines.push(l);
            }
        }
    }

    async fn start_tls(&mut self, cfg: &Config) -> Result<(), String> {
        let tcp = match self.stream.take() {
            Some(Stream::Plain(t)) => t,
            _ => return Err("TLS on a connection that is not plain".into()),
        };
        if !cfg.fault("read-injected") {
            // RFC 2595 §4 / RFC 8314: nothing received before the handshake
            // may be read as an answer after it.
            self.buf.clear();
        }
        let tls = if cfg.fault("no-hostname-check") || cfg.fault("no-expiry-check") {
            lenient::connector(cfg)?
        } else {
            connector(&TlsOptions {
                insecure: cfg.fault("no-cert-check"),
                ca_file: cfg.cafile.clone(),
                sni: None,
            })?
        };
        let name = server_name(&cfg.host, None)?;
        let stream = tokio::time::timeout(READ_TIMEOUT, tls.connect(name, tcp))
            .await
            .map_err(|_| format!("{TLS_FAILED}: timed out"))?
            .map_err(|e| format!("{TLS_FAILED}: {e}"))?;
        self.stream = Some(Stream::Tls(Box::new(stream)));
        Ok(())
    }

    async fn close(&mut self) {
        if let Some(Stream::Tls(s)) = self.stream.as_mut() {
            let _ = s.shutdown().await;
        }
        self.stream = None;
    }

    async fn quit(&mut self) {
        if self.send("QUIT").await.is_ok() {
            let _ = self.line().await;
        }
        self.close().await;
    }
}

const KNOWN_CAPABILITIES: &[&str] = &[
    "TOP",
    "UIDL",
    "USER",
    "SASL",
    "RESP-CODES",
    "AUTH-RESP-CODE",
    "STLS",
    "PIPELINING",
    "EXPIRE",
    "LOGIN-DELAY",
    "IMPLEMENTATION",
    "UTF8",
    "LANG",
];

/// The CAPA list, or None when the server has no CAPA.
async fn capa(pop: &mut Pop, cfg: &Config) -> Result<Option<Vec<String>>, Stop> {
    let status = pop.command("CAPA").await?;
    if !status.starts_with("+OK") {
        if cfg.fault("err-as-multiline") {
            pop.body(cfg).await?;
        }
        return Ok(None);
    }
    if cfg.fault("capa-first-line-only") {
        return Ok(Some(Vec::new()));
    }
    let caps = pop.body(cfg).await?;
    if cfg.fault("strict-capa") {
        if let Some(unknown) = caps.iter().find(|c| {
            let word = c
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            !KNOWN_CAPABILITIES.contains(&word.as_str())
        }) {
            pop.quit().await;
            return Err(Stop::Other(format!("unknown capability `{unknown}`")));
        }
    }
    Ok(Some(caps))
}

fn has(caps: &Option<Vec<String>>, name: &str) -> bool {
    caps.as_ref().is_some_and(|c| {
        c.iter().any(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case(name))
        })
    })
}

fn has_sasl(caps: &Option<Vec<String>>, mechanism: &str) -> bool {
    caps.as_ref().is_some_and(|c| {
        c.iter().any(|l| {
            let mut words = l.split_whitespace();
            words.next().is_some_and(|w| w.eq_ignore_ascii_case("SASL"))
                && words.any(|m| m.eq_ignore_ascii_case(mechanism))
        })
    })
}

async fn session(cfg: &Config) -> Result<(), Stop> {
    let tcp = TcpStream::connect((cfg.host.as_str(), cfg.port))
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let mut pop = Pop {
        stream: Some(Stream::Plain(tcp)),
        buf: Vec::new(),
    };
    if cfg.tls == "implicit" {
        pop.start_tls(cfg).await?;
    }
    let greeting = pop.line().await?;
    if !greeting.starts_with("+OK") && !cfg.fault("ignore-greeting-err") {
        pop.close().await;
        return Err(Stop::Other(format!(
            "the server refused the session: {greeting}"
        )));
    }
    let timestamp = if cfg.fault("apop-timestamp-last-word") {
        // The fault's view: the timestamp is the greeting's last word.
        greeting
            .split_whitespace()
            .last()
            .filter(|_| greeting.contains('<'))
            .map(String::from)
    } else {
        greeting.find('<').and_then(|s| {
            greeting[s..]
                .find('>')
                .map(|e| greeting[s..=s + e].to_string())
        })
    };
    let mut caps = capa(&mut pop, cfg).await?;
    if cfg.tls == "starttls" {
        if !has(&caps, "STLS") && !cfg.fault("plaintext-without-stls") {
            pop.quit().await;
            return Err(Stop::Other(
                "the server does not offer STLS; not logging in without TLS".into(),
            ));
        }
        if has(&caps, "STLS") {
            let reply = if cfg.fault("pipeline-after-stls") {
                pop.command("STLS\r\nCAPA").await?
            } else {
                pop.command("STLS").await?
            };
            if reply.starts_with("+OK") {
                pop.start_tls(cfg).await?;
                if !cfg.fault("no-capa-after-stls") {
                    caps = capa(&mut pop, cfg).await?;
                }
            } else if reply.starts_with("-ERR") && !cfg.fault("ignore-stls-error") {
                pop.quit().await;
                return Err(Stop::Other(format!("STLS refused: {reply}")));
            } else if !reply.starts_with("-ERR") && cfg.behaves("wait-after-stls-junk") {
                // Nothing is sent until a status line comes, which this
                // scenario never sends: the client waits to be ended.
                loop {
                    let l = pop.line().await?;
                    if l.starts_with("+OK") || l.starts_with("-ERR") {
                        pop.close().await;
                        return Err(Stop::Other(format!("STLS answered late with `{l}`")));
                    }
                }
            } else if !reply.starts_with("-ERR") && !cfg.fault("ignore-stls-reply") {
                pop.close().await;
                return Err(Stop::Other(format!(
                    "STLS answered with `{reply}`: not a POP3 status; giving up"
                )));
            }
        }
    }
    let login = match cfg.auth.as_str() {
        "apop" => {
            if timestamp.is_none() && !cfg.fault("apop-without-timestamp") {
                pop.quit().await;
                return Err(Stop::Other(
                    "APOP is configured but the greeting has no timestamp".into(),
                ));
            }
            let mut h = Md5::new();
            let timestamp = timestamp.unwrap_or_default();
            if cfg.fault("apop-digest-without-brackets") {
                h.update(
                    timestamp
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .as_bytes(),
                );
            } else {
                h.update(timestamp.as_bytes());
            }
            h.update(cfg.pass.as_bytes());
            let digest: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
            pop.command(&format!("APOP {} {digest}", cfg.user)).await?
        }
        // PLAIN when the (current) CAPA list offers it; USER/PASS otherwise.
        "plain" if caps.is_none() || has_sasl(&caps, "PLAIN") => {
            let token = base64::engine::general_purpose::STANDARD
                .encode(format!("\0{}\0{}", cfg.user, cfg.pass));
            pop.command(&format!("AUTH PLAIN {token}")).await?
        }
        _ if cfg.behaves("sasl-first") && has_sasl(&caps, "PLAIN") => {
            let token = base64::engine::general_purpose::STANDARD
                .encode(format!("\0{}\0{}", cfg.user, cfg.pass));
            pop.command(&format!("AUTH PLAIN {token}")).await?
        }
        _ => {
            let r = pop.command(&format!("USER {}", cfg.user)).await?;
            if !r.starts_with("+OK") && !cfg.fault("ignore-login-err") {
                pop.quit().await;
                return Err(Stop::LoginRefused(r));
            }
            pop.command(&format!("PASS {}", cfg.pass)).await?
        }
    };
    if !login.starts_with("+OK") && !cfg.fault("ignore-login-err") {
        pop.quit().await;
        return Err(Stop::LoginRefused(login));
    }
    let stat = pop.command("STAT").await?;
    if !stat.starts_with("+OK") {
        pop.quit().await;
        return Err(Stop::Other(format!("STAT failed: {stat}")));
    }
    let list = pop.command("LIST").await?;
    if !list.starts_with("+OK") {
        if cfg.fault("err-as-multiline") {
            pop.body(cfg).await?;
        }
        pop.quit().await;
        return Err(Stop::Other(format!("LIST failed: {list}")));
    }
    let mut messages = Vec::new();
    for l in pop.body(cfg).await? {
        let words: Vec<&str> = l.split_whitespace().collect();
        if cfg.fault("strict-scan-listing") && words.len() != 2 {
            continue;
        }
        if let [n, size, ..] = words[..] {
            if let (Ok(n), Ok(size)) = (n.parse::<usize>(), size.parse::<usize>()) {
                messages.push((n, size));
            }
        }
    }
    if has(&caps, "UIDL") {
        // The unique-ids are what a client keeping mail on the server
        // remembers; this one only checks it can read them.
        let reply = pop.command("UIDL").await?;
        if reply.starts_with("+OK") {
            let mut plain_ids = Vec::new();
            for l in pop.body(cfg).await? {
                let mut words = l.splitn(2, ' ');
                if let (Some(n), Some(uid)) = (words.next(), words.next()) {
                    if uid.len() <= 32
                        && uid
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                    {
                        plain_ids.push(n.parse::<usize>().unwrap_or(0));
                    }
                }
            }
            if cfg.fault("strict-uidl") {
                messages.retain(|(n, _)| plain_ids.contains(n));
            }
        }
    }
    std::fs::create_dir_all(&cfg.out)
        .map_err(|e| format!("cannot create {}: {e}", cfg.out.display()))?;
    let mut dele_refused = false;
    for (n, size) in messages {
        if cfg.delete && cfg.fault("delete-before-retr") {
            pop.command(&format!("DELE {n}")).await?;
        }
        let status = if cfg.behaves("top-whole") && has(&caps, "TOP") {
            pop.command(&format!("TOP {n} 99999999")).await?
        } else {
            pop.command(&format!("RETR {n}")).await?
        };
        let text = if !status.starts_with("+OK") {
            if cfg.fault("err-as-multiline") {
                Some(pop.body(cfg).await?.join("\n"))
            } else if cfg.fault("ignore-retr-err") {
                Some(status.clone())
            } else {
                None
            }
        } else if cfg.fault("trust-list-size") {
            Some(String::from_utf8_lossy(&pop.octets(size).await?).replace("\r\n", "\n"))
        } else {
            let mut lines = Vec::new();
            if let Err(e) = pop.body_into(cfg, &mut lines).await {
                if cfg.fault("store-partial") {
                    store(cfg, n, &lines.join("\n"))?;
                }
                return Err(Stop::Other(format!("RETR {n}: {e}")));
            }
            Some(lines.join("\n"))
        };
        let Some(text) = text else { continue };
        store(cfg, n, &text)?;
        if cfg.delete
            && !cfg.fault("delete-before-retr")
            && !(dele_refused && cfg.fault("no-dele-after-err"))
        {
            let r = pop.command(&format!("DELE {n}")).await?;
            dele_refused |= !r.starts_with("+OK");
            if !r.starts_with("+OK") && cfg.fault("stop-on-dele-err") {
                pop.close().await;
                return Err(Stop::Other(format!("DELE {n} failed: {r}")));
            }
            if !r.starts_with("+OK") && cfg.behaves("stop-after-dele-err") {
                pop.quit().await;
                return Err(Stop::Other(format!("DELE {n} failed: {r}")));
            }
        }
        if !cfg.delete && cfg.fault("delete-unasked") {
            pop.command(&format!("DELE {n}")).await?;
        }
    }
    if cfg.fault("no-quit") {
        pop.close().await;
    } else {
        pop.quit().await;
    }
    Ok(())
}

/// Writes message `n` to {out}/NNN.eml.
fn store(cfg: &Config, n: usize, text: &str) -> Result<(), String> {
    let mut text = text.to_string();
    if cfg.fault("truncate-long-lines") {
        text = text
            .split('\n')
            .map(|l| {
                let mut end = l.len().min(512);
                while !l.is_char_boundary(end) {
                    end -= 1;
                }
                &l[..end]
            })
            .collect::<Vec<_>>()
            .join("\n");
    }
    if cfg.fault("strip-8bit") {
        text.retain(|c| c.is_ascii());
    }
    let path = cfg.out.join(format!("{n:03}.eml"));
    std::fs::write(&path, format!("{text}\n"))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A verifier that checks certificates like the default one but forgives
/// the errors its fault names (no-hostname-check, no-expiry-check).
mod lenient {
    use super::Config;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::client::WebPkiServerVerifier;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{CertificateError, DigitallySignedStruct, Error, SignatureScheme};
    use std::sync::Arc;

    #[derive(Debug)]
    struct Lenient {
        inner: Arc<WebPkiServerVerifier>,
        any_name: bool,
        any_date: bool,
    }

    impl ServerCertVerifier for Lenient {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            ocsp: &[u8],
            now: UnixTime,
        ) -> Result<ServerCertVerified, Error> {
            let verdict =
                self.inner
                    .verify_server_cert(end_entity, intermediates, server_name, ocsp, now);
            match verdict {
                Err(Error::InvalidCertificate(
                    CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. },
                )) if self.any_name => Ok(ServerCertVerified::assertion()),
                Err(Error::InvalidCertificate(
                    CertificateError::Expired | CertificateError::ExpiredContext { .. },
                )) if self.any_date => Ok(ServerCertVerified::assertion()),
                other => other,
            }
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            self.inner.verify_tls12_signature(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            self.inner.verify_tls13_signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.inner.supported_verify_schemes()
        }
    }

    pub fn connector(cfg: &Config) -> Result<tokio_rustls::TlsConnector, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        let path = cfg.cafile.as_ref().ok_or("no CA file (POP3SPEC_CAFILE)")?;
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(&pem) {
            roots
                .add(cert.map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
        }
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| e.to_string())?;
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Lenient {
                inner,
                any_name: cfg.fault("no-hostname-check"),
                any_date: cfg.fault("no-expiry-check"),
            }))
            .with_no_client_auth();
        Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cfg = match config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pop3spec-testclient: {e}");
            return ExitCode::from(2);
        }
    };
    let mut attempts = 0;
    let mut cfg = cfg;
    loop {
        attempts += 1;
        match session(&cfg).await {
            Ok(()) => return ExitCode::SUCCESS,
            Err(Stop::Other(e))
                if e.contains(TLS_FAILED)
                    && cfg.fault("fallback-to-plaintext")
                    && cfg.tls != "none" =>
            {
                eprintln!("pop3spec-testclient: {e}; trying again without TLS");
                cfg.tls = "none".into();
            }
            Err(Stop::LoginRefused(r)) if cfg.fault("retry-tight-loop") && attempts < 40 => {
                eprintln!("pop3spec-testclient: login refused ({r}); retrying at once");
            }
            Err(Stop::LoginRefused(r)) => {
                eprintln!("pop3spec-testclient: login refused: {r}");
                return ExitCode::from(1);
            }
            Err(Stop::Other(e)) => {
                eprintln!("pop3spec-testclient: {e}");
                return ExitCode::from(1);
            }
        }
    }
}
