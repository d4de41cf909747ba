//! TLS for implicit-TLS ports and STLS. Certificates are verified by default
//! (webpki roots, or `--ca-file`); `--insecure` keeps the handshake's signature
//! checks but accepts any certificate, for self-signed test servers.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::path::PathBuf;
use std::sync::Arc;
use tokio_rustls::TlsConnector;

#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    pub insecure: bool,
    pub ca_file: Option<PathBuf>,
    pub sni: Option<String>,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub fn connector(opts: &TlsOptions) -> Result<TlsConnector, String> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up failed: {e}"))?;
    let config = if opts.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider())))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        match &opts.ca_file {
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| format!("cannot read --ca-file {}: {e}", path.display()))?;
                let mut added = 0;
                for cert in rustls_pki_types::pem::PemObject::pem_slice_iter(&pem) {
                    let cert: CertificateDer<'static> =
                        cert.map_err(|e| format!("--ca-file {}: {e}", path.display()))?;
                    roots
                        .add(cert)
                        .map_err(|e| format!("--ca-file {}: {e}", path.display()))?;
                    added += 1;
                }
                if added == 0 {
                    return Err(format!(
                        "--ca-file {} holds no PEM certificate",
                        path.display()
                    ));
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The name sent in SNI and checked against the certificate.
pub fn server_name(host: &str, sni: Option<&str>) -> Result<ServerName<'static>, String> {
    let name = sni
        .unwrap_or(host)
        .trim_start_matches('[')
        .trim_end_matches(']');
    ServerName::try_from(name.to_string())
        .map_err(|_| format!("`{name}` is not a valid TLS server name; pass --sni NAME"))
}

/// Explains a handshake failure in the user's terms.
pub fn explain_handshake_error(e: &std::io::Error) -> String {
    let text = e.to_string();
    if text.contains("certificate")
        || text.contains("UnknownIssuer")
        || text.contains("NotValidForName")
    {
        format!("TLS handshake failed: the server's certificate did not verify ({text}); pass --ca-file PEM to trust its CA, or --insecure for a test server")
    } else {
        format!("TLS handshake failed: {text}")
    }
}

#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
