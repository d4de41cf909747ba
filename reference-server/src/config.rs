//! Server configuration, shared by the library API and the command line.
//!
//! Kept free of clap so that the harness can build a configuration in code
//! (one server per fault, ephemeral ports) without going through argv.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::faults::{Fault, FaultSet};
use crate::variants::{Variant, VariantSet};

/// Where the TLS certificate comes from (used by STLS and the implicit-TLS listener).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsSetup {
    /// No TLS at all: STLS is not offered and no TLS listener may be configured.
    None,
    /// A certificate for localhost, 127.0.0.1 and ::1, generated at start.
    SelfSigned,
    /// PEM certificate chain and private key files.
    Files { cert: PathBuf, key: PathBuf },
}

#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The maildrop of user U is the Maildir `mail_root/U`.
    pub mail_root: PathBuf,
    /// (user, password) pairs; the order matters only to the `pass-without-user`
    /// fault (the first user with the password given wins).
    pub users: Vec<(String, String)>,
    pub listen: SocketAddr,
    pub tls_listen: Option<SocketAddr>,
    pub tls: TlsSetup,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    /// Advertised EXPIRE policy in days; None = `EXPIRE NEVER`.
    pub expire: Option<u32>,
    /// LOGIN-DELAY in seconds (RFC 2449 §6.5): announced in CAPA when
    /// Some; above 0 it is enforced, and a user who logged in less than
    /// that long ago is refused with `-ERR [LOGIN-DELAY]`. None: neither.
    pub login_delay: Option<u32>,
    /// Host name in the APOP timestamp of the greeting.
    pub hostname: String,
    pub faults: FaultSet,
    /// Allowed behaviours switched on (not faults: the suite must pass).
    pub variants: VariantSet,
    /// Pause before answering a failed PASS, APOP or AUTH, to slow down
    /// password guessing. Zero here (tests stay fast); the binary's
    /// `--auth-failure-delay` defaults to 500 ms.
    pub auth_failure_delay: Duration,
    /// RFC 2595 §9 spirit: refuse USER, PASS, APOP and AUTH until the
    /// connection is protected by TLS (STLS or the implicit-TLS listener),
    /// and do not announce USER or SASL in CAPA before that. Needs TLS.
    pub require_tls: bool,
}

impl ServerConfig {
    /// Defaults suited to tests: ephemeral loopback ports, self-signed TLS on
    /// both STLS and an implicit-TLS listener, no faults.
    pub fn new(mail_root: impl Into<PathBuf>, users: Vec<(String, String)>) -> Self {
        ServerConfig {
            mail_root: mail_root.into(),
            users,
            listen: "127.0.0.1:0".parse().unwrap(),
            tls_listen: Some("127.0.0.1:0".parse().unwrap()),
            tls: TlsSetup::SelfSigned,
            idle_timeout: Duration::from_secs(600),
            max_connections: 1024,
            expire: None,
            login_delay: None,
            hostname: "localhost".to_string(),
            faults: FaultSet::none(),
            variants: VariantSet::none(),
            auth_failure_delay: Duration::ZERO,
            require_tls: false,
        }
    }
}

impl ServerConfig {
    /// The LOGIN-DELAY announced in CAPA: the configured one, or the
    /// `login-delay-enforced` variant's when that is switched on.
    pub fn effective_login_delay(&self) -> Option<u32> {
        if self.variants.contains(Variant::LoginDelayEnforced) {
            Some(self.login_delay.unwrap_or(0).max(Variant::LOGIN_DELAY))
        } else {
            self.login_delay
        }
    }
}

/// Parse a `user:password` file; `#` starts a comment line, blank lines are skipped.
pub fn parse_users(text: &str) -> io::Result<Vec<(String, String)>> {
    let mut users = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let Some((u, p)) = line.split_once(':') else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("users file line {}: expected user:password", i + 1),
            ));
        };
        if !valid_user_name(u) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("users file line {}: invalid user name {u:?}", i + 1),
            ));
        }
        users.push((u.to_string(), p.to_string()));
    }
    Ok(users)
}

/// User names become directory names under mail_root, so path tricks must be
/// impossible. Up to 255 octets: RFC 4616 §2 has AUTH PLAIN accept an authcid
/// that long, and 255 is also the longest file name Linux file systems take.
pub fn valid_user_name(u: &str) -> bool {
    !u.is_empty()
        && u.len() <= 255
        && u != "."
        && u != ".."
        && !u.starts_with('.')
        && u.bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'/' && b != b'\\')
}

/// Build the rustls server configuration with an explicit ring provider, so
/// that nothing depends on a process-wide default provider being installed.
pub(crate) fn build_tls(
    setup: &TlsSetup,
    faults: &FaultSet,
) -> io::Result<Option<Arc<rustls::ServerConfig>>> {
    let (certs, key) = match setup {
        TlsSetup::None => return Ok(None),
        _ if faults.contains(Fault::UntrustedCertificate) => self_signed()?,
        TlsSetup::SelfSigned => self_signed()?,
        TlsSetup::Files { cert, key } => load_files(cert, key)?,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(io::Error::other)?;
    Ok(Some(Arc::new(cfg)))
}

fn self_signed() -> io::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let ck = rcgen::generate_simple_self_signed(names).map_err(io::Error::other)?;
    let cert = ck.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    Ok((vec![cert], key))
}

fn load_files(
    cert: &Path,
    key: &Path,
) -> io::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let bad = |what: &str, p: &Path, e: rustls_pki_types::pem::Error| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{what} {}: {e}", p.display()),
        )
    };
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad("certificate", cert, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("certificate", cert, e))?;
    if certs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("no certificate in {}", cert.display()),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad("key", key, e))?;
    Ok((certs, key))
}
