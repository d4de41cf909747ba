//! A TLS ClientHello that offers only an old protocol version (SSL 3.0 or
//! TLS 1.0), built by hand because rustls cannot speak those versions, and
//! the judgement of the first record a server sends back. RFC 8314 §4 wants
//! mail access servers to stop supporting "SSL 2.x, SSL 3.0, or TLS 1.0";
//! only the server's first answer matters: a ServerHello that selects the
//! old version means the server would go on with it.

pub fn version_name(code: u16) -> String {
    match code {
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        c if c < 0x0300 => format!("SSL 2 or older (0x{c:04x})"),
        c => format!("0x{c:04x}"),
    }
}

/// One TLS record holding a ClientHello whose highest version is `version`,
/// with the CBC suites such clients sent, the curves for ECDHE, and SNI when
/// `host` is a name. No supported_versions extension: nothing newer is
/// offered.
pub fn client_hello(version: u16, host: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&version.to_be_bytes());
    body.extend_from_slice(&random32());
    body.push(0); // no session id
    let suites: [u16; 8] = [
        0xc014, // ECDHE_RSA_WITH_AES_256_CBC_SHA
        0xc013, // ECDHE_RSA_WITH_AES_128_CBC_SHA
        0xc00a, // ECDHE_ECDSA_WITH_AES_256_CBC_SHA
        0xc009, // ECDHE_ECDSA_WITH_AES_128_CBC_SHA
        0x0035, // RSA_WITH_AES_256_CBC_SHA
        0x002f, // RSA_WITH_AES_128_CBC_SHA
        0x000a, // RSA_WITH_3DES_EDE_CBC_SHA
        0x00ff, // EMPTY_RENEGOTIATION_INFO_SCSV
    ];
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // compression: null only
    let mut ext = Vec::new();
    if host.parse::<std::net::IpAddr>().is_err() && !host.is_empty() && host.len() < 256 {
        let name = host.as_bytes();
        let mut sni = Vec::new();
        sni.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
        sni.push(0); // host_name
        sni.extend_from_slice(&(name.len() as u16).to_be_bytes());
        sni.extend_from_slice(name);
        push_extension(&mut ext, 0x0000, &sni);
    }
    // supported_groups: x25519, secp256r1, secp384r1
    push_extension(&mut ext, 0x000a, &[0, 6, 0, 0x1d, 0, 0x17, 0, 0x18]);
    // ec_point_formats: uncompressed
    push_extension(&mut ext, 0x000b, &[1, 0]);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);

    let mut handshake = vec![1]; // client_hello
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    // The record layer of that era carried the same version.
    let mut record = vec![0x16];
    record.extend_from_slice(&version.min(0x0301).to_be_bytes());
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

fn push_extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
}

/// Not secret: the handshake never completes on our side.
fn random32() -> [u8; 32] {
    use std::hash::{BuildHasher, Hasher};
    let mut out = [0u8; 32];
    let state = std::collections::hash_map::RandomState::new();
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = state.build_hasher();
        h.write_usize(i);
        chunk.copy_from_slice(&h.finish().to_be_bytes());
    }
    out
}

/// What the server's first bytes after the ClientHello say.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// A ServerHello selecting this version.
    ServerHello(u16),
    /// A TLS alert record (level, description), e.g. protocol_version (70).
    Alert(u8, u8),
    /// Something else: not a TLS handshake the client could go on with.
    Other,
    /// Fewer bytes than a record header and a ServerHello version.
    Incomplete,
}

/// Bytes a caller should read before judging: the record header, the
/// handshake header and the two version octets of a ServerHello.
pub const JUDGED_PREFIX: usize = 11;

pub fn judge(bytes: &[u8]) -> Answer {
    match bytes.first() {
        Some(0x15) if bytes.len() >= 7 => Answer::Alert(bytes[5], bytes[6]),
        Some(0x15) => Answer::Incomplete,
        Some(0x16) if bytes.len() >= JUDGED_PREFIX => {
            if bytes[5] == 2 {
                Answer::ServerHello(u16::from_be_bytes([bytes[9], bytes[10]]))
            } else {
                Answer::Other
            }
        }
        Some(0x16) => Answer::Incomplete,
        Some(_) => Answer::Other,
        None => Answer::Incomplete,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_hello_lengths_are_consistent() {
        let r = client_hello(0x0301, "mail.example");
        assert_eq!(&r[..3], &[0x16, 0x03, 0x01]);
        assert_eq!(u16::from_be_bytes([r[3], r[4]]) as usize, r.len() - 5);
        assert_eq!(r[5], 1);
        let hs_len = u32::from_be_bytes([0, r[6], r[7], r[8]]) as usize;
        assert_eq!(hs_len, r.len() - 9);
        assert_eq!(&r[9..11], &[0x03, 0x01]);
        // No SNI for an address.
        assert!(client_hello(0x0301, "127.0.0.1").len() < r.len());
    }

    #[test]
    fn answers_are_told_apart() {
        let hello = [0x16, 3, 1, 0, 42, 2, 0, 0, 38, 3, 1];
        assert_eq!(judge(&hello), Answer::ServerHello(0x0301));
        assert_eq!(judge(&[0x15, 3, 1, 0, 2, 2, 70]), Answer::Alert(2, 70));
        assert_eq!(judge(b"-ERR no"), Answer::Other);
        assert_eq!(judge(&[0x16, 3]), Answer::Incomplete);
    }
}
