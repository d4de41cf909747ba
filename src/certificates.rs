//! Throw-away certificates for the loopback servers the harness starts: a CA,
//! a leaf for 127.0.0.1 and localhost signed by it, a self-signed leaf that no
//! CA vouches for, and two CA-signed ones that still must fail (one for
//! another host name, one expired).
//!
//! `pop3spec client` serves them to the client under test (the CA goes to
//! {cafile} so a client can be told to trust it); the bundled reference
//! server serves the CA-signed leaf, and the harness trusts the CA, so the
//! suite's certificate check runs (and its fault is proven) without
//! `--insecure`. Made fresh for every run with rcgen (already compiled for
//! the reference server), so no key ever sits in the repository. At the
//! bottom layer because both of those users sit on one layer.

use base64::Engine;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct Certificates {
    /// PEM of the CA, for {cafile}.
    pub ca_pem: String,
    /// PEM of the trusted leaf and of its PKCS#8 key, for a server that
    /// loads its certificate from files.
    pub trusted_cert_pem: String,
    pub trusted_key_pem: String,
    pub trusted: Arc<rustls::ServerConfig>,
    pub untrusted: Arc<rustls::ServerConfig>,
    /// Signed by the CA for `wrong.pop3spec.invalid` only.
    pub wrong_name: Arc<rustls::ServerConfig>,
    /// Signed by the CA for the right names, valid only in 2020.
    pub expired: Arc<rustls::ServerConfig>,
}

const NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The subject CN of the certificates for the right name: clients that match
/// the host only against DNS names and the CN (fetchmail 6) ignore IP
/// subjectAltNames, so {host} (127.0.0.1) is also the CN and a DNS-type name. Only the reason a
/// scenario means (untrusted issuer, expiry) then tells the certificates apart.
const SERVER_CN: &str = "127.0.0.1";

fn pem(der: &[u8]) -> String {
    pem_block("CERTIFICATE", der)
}

fn pem_block(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn server_config(
    cert: CertificateDer<'static>,
    key: &KeyPair,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .map(Arc::new)
        .map_err(|e| format!("TLS set-up failed: {e}"))
}

fn leaf_params(common_name: &str, names: &[&str]) -> Result<CertificateParams, String> {
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .map_err(|e| e.to_string())?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    if names.contains(&SERVER_CN) {
        // OpenSSL's host check (X509_check_host, used by fetchmail) matches
        // "127.0.0.1" only against DNS-type names; webpki matches the IP entry.
        let as_dns = SERVER_CN
            .try_into()
            .map_err(|e: rcgen::Error| e.to_string())?;
        params
            .subject_alt_names
            .push(rcgen::SanType::DnsName(as_dns));
    }
    Ok(params)
}

impl Certificates {
    pub fn generate() -> Result<Self, String> {
        let err = |e: rcgen::Error| format!("cannot make the test certificates: {e}");
        let ca_key = KeyPair::generate().map_err(err)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "pop3spec client-test CA");
        let ca_cert = ca_params.self_signed(&ca_key).map_err(err)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let leaf_key = KeyPair::generate().map_err(err)?;
        let leaf = leaf_params(SERVER_CN, &NAMES)?
            .signed_by(&leaf_key, &issuer)
            .map_err(err)?;
        let rogue_key = KeyPair::generate().map_err(err)?;
        let rogue = leaf_params(SERVER_CN, &NAMES)?
            .self_signed(&rogue_key)
            .map_err(err)?;
        let other_key = KeyPair::generate().map_err(err)?;
        let other = leaf_params(
            "pop3spec server of another name",
            &["wrong.pop3spec.invalid"],
        )?
        .signed_by(&other_key, &issuer)
        .map_err(err)?;
        let old_key = KeyPair::generate().map_err(err)?;
        let mut old_params = leaf_params(SERVER_CN, &NAMES)?;
        old_params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        old_params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        let old = old_params.signed_by(&old_key, &issuer).map_err(err)?;
        Ok(Certificates {
            ca_pem: pem(ca_cert.der()),
            trusted_cert_pem: pem(leaf.der()),
            trusted_key_pem: pem_block("PRIVATE KEY", &leaf_key.serialize_der()),
            trusted: server_config(leaf.der().clone(), &leaf_key)?,
            untrusted: server_config(rogue.der().clone(), &rogue_key)?,
            wrong_name: server_config(other.der().clone(), &other_key)?,
            expired: server_config(old.der().clone(), &old_key)?,
        })
    }

    /// Writes the trusted leaf and its key to `dir/server.pem` and
    /// `dir/server.key` (for a server configured with certificate files) and
    /// returns their paths.
    pub fn write_trusted_leaf(&self, dir: &Path) -> Result<(PathBuf, PathBuf), String> {
        let cert = dir.join("server.pem");
        let key = dir.join("server.key");
        for (path, text) in [
            (&cert, &self.trusted_cert_pem),
            (&key, &self.trusted_key_pem),
        ] {
            std::fs::write(path, text)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        Ok((cert, key))
    }

    /// Writes the CA to `dir/ca.pem` and returns its path.
    pub fn write_ca(&self, dir: &Path) -> Result<PathBuf, String> {
        let path = dir.join("ca.pem");
        std::fs::write(&path, &self.ca_pem)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(path)
    }
}
