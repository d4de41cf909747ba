//! `{{...}}` templates in scenario values. Parsed when the file is loaded so a typo
//! is reported with its position before anything connects, and rendered at run time
//! with a record of which parts came from secrets, so transcripts can redact them.

use base64::Engine;
use md5::{Digest, Md5};
use std::collections::BTreeMap;

/// Names of the functions a template may call, with their arity (None = any).
const FUNCTIONS: &[(&str, Option<usize>)] = &[
    ("apop", Some(2)),
    ("base64", None),
    ("cram_md5", Some(3)),
    ("scram_client_first", Some(2)),
    ("scram_client_final", Some(5)),
    ("repeat", Some(2)),
    ("wrong", Some(1)),
    ("without_last", Some(1)),
    ("case_flipped", Some(1)),
    ("with_trailing_space", Some(1)),
];

#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    pub source: String,
    segments: Vec<Segment>,
}

#[derive(Clone, Debug, PartialEq)]
enum Segment {
    Text(String),
    Expr(Expr),
}

#[derive(Clone, Debug, PartialEq)]
enum Expr {
    Var(String),
    Call(String, Vec<Arg>),
}

#[derive(Clone, Debug, PartialEq)]
enum Arg {
    Var(String),
    Literal(Vec<u8>),
}

/// A value a template may refer to; `secret` values never reach a transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Value {
    pub text: String,
    pub secret: bool,
}

pub type Vars = BTreeMap<String, Value>;

/// A rendered template: the bytes to use and a display form with secrets hidden.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    pub display: String,
}

impl Rendered {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// Why a template could not be rendered. The functions that answer a
/// challenge (`cram_md5`, `scram_client_final`) read data the server sent;
/// when that data does not have the form its mechanism defines, the server is
/// at fault, not the scenario, and the runner judges it as a failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RenderError {
    /// The scenario is wrong: an undefined variable, a bad argument.
    Scenario(String),
    /// The server's challenge breaks its mechanism's definition.
    ServerData(String),
}

impl From<String> for RenderError {
    fn from(message: String) -> Self {
        RenderError::Scenario(message)
    }
}

impl From<&str> for RenderError {
    fn from(message: &str) -> Self {
        RenderError::Scenario(message.to_string())
    }
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RenderError::Scenario(m) | RenderError::ServerData(m) => f.write_str(m),
        }
    }
}

/// A template error with the byte offset in the template source where it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    pub offset: usize,
    pub message: String,
}

impl Template {
    pub fn literal(s: &str) -> Self {
        Template {
            source: s.to_string(),
            segments: vec![Segment::Text(s.to_string())],
        }
    }

    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        let mut segments = Vec::new();
        let mut rest = source;
        let mut offset = 0;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                segments.push(Segment::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or_else(|| TemplateError {
                offset: offset + start,
                message: "`{{` without a closing `}}`".into(),
            })?;
            let inner = &after[..end];
            let expr = parse_expr(inner).map_err(|message| TemplateError {
                offset: offset + start,
                message,
            })?;
            segments.push(Segment::Expr(expr));
            let consumed = start + 2 + end + 2;
            offset += consumed;
            rest = &rest[consumed..];
        }
        if !rest.is_empty() {
            segments.push(Segment::Text(rest.to_string()));
        }
        Ok(Template {
            source: source.to_string(),
            segments,
        })
    }

    /// Whether the template calls a function (`apop`, `base64`, ...).
    pub fn calls_functions(&self) -> bool {
        self.segments
            .iter()
            .any(|s| matches!(s, Segment::Expr(Expr::Call(..))))
    }

    /// Variable names this template reads.
    pub fn variables(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for seg in &self.segments {
            match seg {
                Segment::Expr(Expr::Var(v)) => out.push(v.as_str()),
                Segment::Expr(Expr::Call(_, args)) => {
                    for a in args {
                        if let Arg::Var(v) = a {
                            out.push(v.as_str());
                        }
                    }
                }
                Segment::Text(_) => {}
            }
        }
        out
    }

    /// Renders with `vars`. With `raw`, backslash escapes in the literal text are
    /// decoded too (for `send_raw`); quoted function arguments always decode them.
    pub fn render(&self, vars: &Vars, raw: bool) -> Result<Rendered, RenderError> {
        let mut bytes = Vec::new();
        let mut display = String::new();
        for seg in &self.segments {
            match seg {
                Segment::Text(t) => {
                    if raw {
                        bytes.extend(unescape(t));
                    } else {
                        bytes.extend_from_slice(t.as_bytes());
                    }
                    display.push_str(t);
                }
                Segment::Expr(e) => {
                    let (value, secret) = eval(e, vars)?;
                    if secret {
                        display.push_str("***");
                    } else {
                        display.push_str(&String::from_utf8_lossy(&value));
                    }
                    bytes.extend(value);
                }
            }
        }
        Ok(Rendered { bytes, display })
    }
}

fn lookup<'a>(vars: &'a Vars, name: &str) -> Result<&'a Value, String> {
    vars.get(name)
        .ok_or_else(|| format!("variable `{name}` is not defined at this step"))
}

fn eval(e: &Expr, vars: &Vars) -> Result<(Vec<u8>, bool), RenderError> {
    match e {
        Expr::Var(name) => {
            let v = lookup(vars, name)?;
            Ok((v.text.as_bytes().to_vec(), v.secret))
        }
        Expr::Call(name, args) => {
            let mut values = Vec::new();
            let mut secret = false;
            for a in args {
                match a {
                    Arg::Var(n) => {
                        let v = lookup(vars, n)?;
                        secret |= v.secret;
                        values.push(v.text.as_bytes().to_vec());
                    }
                    Arg::Literal(b) => values.push(b.clone()),
                }
            }
            let out = match name.as_str() {
                "apop" => {
                    let mut h = Md5::new();
                    h.update(&values[0]);
                    h.update(&values[1]);
                    hex(&h.finalize()).into_bytes()
                }
                "base64" => base64::engine::general_purpose::STANDARD
                    .encode(values.concat())
                    .into_bytes(),
                "cram_md5" => cram_md5(&values[0], &values[1], &values[2])?,
                "scram_client_first" => scram::client_first(&values[0], &values[1])?,
                "scram_client_final" => {
                    scram::client_final(&values[0], &values[1], &values[2], &values[3], &values[4])?
                }
                "repeat" => {
                    let n: usize = String::from_utf8_lossy(&values[1])
                        .trim()
                        .parse()
                        .map_err(|_| "repeat(text, count): count is not a number".to_string())?;
                    values[0].repeat(n.min(16 * 1024 * 1024))
                }
                "wrong" => {
                    let mut v = b"not-".to_vec();
                    v.extend(&values[0]);
                    v.extend(b"-x");
                    v
                }
                "without_last" => without_last(&values[0])?,
                "case_flipped" => case_flipped(&values[0])?,
                "with_trailing_space" => [values[0].as_slice(), b" "].concat(),
                other => return Err(format!("unknown function `{other}`").into()),
            };
            Ok((out, secret))
        }
    }
}

/// The value minus its last character: a prefix of a password, which a server
/// comparing only the length sent would accept.
fn without_last(value: &[u8]) -> Result<Vec<u8>, String> {
    let text = String::from_utf8_lossy(value);
    let mut chars = text.chars();
    if chars.next_back().is_none() {
        return Err("without_last(value): the value is empty".into());
    }
    if chars.as_str().is_empty() {
        return Err(
            "without_last(value): the value has one character; nothing would be left".into(),
        );
    }
    Ok(chars.as_str().as_bytes().to_vec())
}

/// The value with the case of its first ASCII letter flipped: a password a
/// server comparing case-insensitively would accept.
fn case_flipped(value: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = value.to_vec();
    let letter = out
        .iter_mut()
        .find(|b| b.is_ascii_alphabetic())
        .ok_or("case_flipped(value): the value has no ASCII letter whose case could change")?;
    *letter ^= 0x20;
    Ok(out)
}

/// RFC 2195: the client's answer to the base64 challenge: base64 of the user
/// name, a space and the lower-case hex HMAC-MD5 of the decoded challenge
/// keyed with the password.
fn cram_md5(challenge: &[u8], user: &[u8], pass: &[u8]) -> Result<Vec<u8>, RenderError> {
    let engine = base64::engine::general_purpose::STANDARD;
    let text = engine.decode(challenge).map_err(|e| {
        RenderError::ServerData(format!(
            "cram_md5(challenge, user, pass): the server's challenge is not base64 ({e}); RFC 5034 §4: a challenge is \"+\", a space and base64"
        ))
    })?;
    let digest = hex(&hmac_md5(pass, &text));
    let answer = [user, b" ", digest.as_bytes()].concat();
    Ok(engine.encode(answer).into_bytes())
}

/// HMAC (RFC 2104) over MD5, 64-octet blocks.
fn hmac_md5(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..16].copy_from_slice(&Md5::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let mut inner = Md5::new();
    inner.update(pad(0x36));
    inner.update(message);
    let mut outer = Md5::new();
    outer.update(pad(0x5c));
    outer.update(inner.finalize());
    outer.finalize().to_vec()
}

/// SCRAM (RFC 5802; SHA-256 in RFC 7677) as a client without channel
/// binding: the client-first message from a user name and a nonce, and the
/// client-final message with its proof from the server-first challenge. The
/// nonce is the scenario's, so the final message can be recomputed from it.
mod scram {
    use super::RenderError;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use ring::{digest, hmac, pbkdf2};
    use std::num::NonZeroU32;

    /// `saslname` (RFC 5802 §5.1): `=` and `,` escaped.
    fn saslname(user: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for &b in user {
            match b {
                b'=' => out.extend(b"=3D"),
                b',' => out.extend(b"=2C"),
                _ => out.push(b),
            }
        }
        out
    }

    fn bare(user: &[u8], nonce: &[u8]) -> Vec<u8> {
        [b"n=".as_slice(), &saslname(user), b",r=", nonce].concat()
    }

    pub fn client_first(user: &[u8], nonce: &[u8]) -> Result<Vec<u8>, RenderError> {
        if nonce.is_empty()
            || nonce
                .iter()
                .any(|&b| b == b',' || !(0x21..0x7f).contains(&b))
        {
            return Err(
                "scram_client_first(user, nonce): the nonce must be printable ASCII without a comma"
                    .into(),
            );
        }
        let message = [b"n,,".as_slice(), &bare(user, nonce)].concat();
        Ok(STANDARD.encode(message).into_bytes())
    }

    pub fn client_final(
        algorithm: &[u8],
        server_first: &[u8],
        user: &[u8],
        pass: &[u8],
        nonce: &[u8],
    ) -> Result<Vec<u8>, RenderError> {
        let what = "scram_client_final(algorithm, server_first, user, pass, nonce)";
        // What the server sent breaks RFC 5802 §7's grammar (or §5's nonce rule).
        let malformed = |why: String| {
            RenderError::ServerData(format!(
                "{what}: {why}; RFC 5802 §5, §7 fix the server-first message as r=<client nonce + server nonce>,s=<base64 salt>,i=<iterations>"
            ))
        };
        let (pbkdf, mac, hash) = match algorithm {
            b"SHA-256" => (
                pbkdf2::PBKDF2_HMAC_SHA256,
                hmac::HMAC_SHA256,
                &digest::SHA256,
            ),
            b"SHA-1" => (
                pbkdf2::PBKDF2_HMAC_SHA1,
                hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
                &digest::SHA1_FOR_LEGACY_USE_ONLY,
            ),
            other => {
                return Err(format!(
                    "{what}: algorithm `{}` is not SHA-256 or SHA-1",
                    String::from_utf8_lossy(other)
                )
                .into())
            }
        };
        let first = STANDARD.decode(server_first).map_err(|e| {
            RenderError::ServerData(format!(
                "{what}: the server-first challenge is not base64 ({e}); RFC 5034 §4: a challenge is \"+\", a space and base64"
            ))
        })?;
        let first_text = String::from_utf8_lossy(&first).into_owned();
        let field = |name: &str| {
            first_text
                .split(',')
                .find_map(|a| a.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
                .map(str::to_string)
                .ok_or_else(|| {
                    malformed(format!(
                        "the server-first message `{first_text}` has no `{name}=`"
                    ))
                })
        };
        let combined = field("r")?;
        if !combined.as_bytes().starts_with(nonce) || combined.len() == nonce.len() {
            return Err(malformed(format!(
                "the server nonce `{combined}` does not extend the client's"
            )));
        }
        let salt = STANDARD
            .decode(field("s")?)
            .map_err(|e| malformed(format!("the salt is not base64 ({e})")))?;
        let iterations: NonZeroU32 = field("i")?
            .parse()
            .map_err(|_| malformed("the iteration count is not a positive number".into()))?;
        let mut salted = vec![0u8; hash.output_len()];
        pbkdf2::derive(pbkdf, iterations, &salt, pass, &mut salted);
        let salted_key = hmac::Key::new(mac, &salted);
        let client_key = hmac::sign(&salted_key, b"Client Key");
        let stored_key = digest::digest(hash, client_key.as_ref());
        let without_proof = format!("c=biws,r={combined}");
        let auth_message = [
            bare(user, nonce).as_slice(),
            b",",
            &first,
            b",",
            without_proof.as_bytes(),
        ]
        .concat();
        let signature = hmac::sign(&hmac::Key::new(mac, stored_key.as_ref()), &auth_message);
        let proof: Vec<u8> = client_key
            .as_ref()
            .iter()
            .zip(signature.as_ref())
            .map(|(a, b)| a ^ b)
            .collect();
        let message = format!("{without_proof},p={}", STANDARD.encode(proof));
        Ok(STANDARD.encode(message).into_bytes())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_expr(inner: &str) -> Result<Expr, String> {
    let inner = inner.trim();
    if is_ident(inner) {
        return Ok(Expr::Var(inner.to_string()));
    }
    let open = inner
        .find('(')
        .ok_or_else(|| format!("`{inner}` is neither a variable name nor a function call"))?;
    let name = inner[..open].trim();
    if !inner.ends_with(')') || !is_ident(name) {
        return Err(format!(
            "cannot read `{inner}`; write `name` or `function(arg, ...)`"
        ));
    }
    let arity = FUNCTIONS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, a)| *a)
        .ok_or_else(|| {
            let known: Vec<&str> = FUNCTIONS.iter().map(|(n, _)| *n).collect();
            format!("unknown function `{name}` (known: {})", known.join(", "))
        })?;
    let args = split_args(&inner[open + 1..inner.len() - 1])?;
    if let Some(n) = arity {
        if args.len() != n {
            return Err(format!(
                "{name}() takes {n} argument(s), got {}",
                args.len()
            ));
        }
    }
    Ok(Expr::Call(name.to_string(), args))
}

fn split_args(s: &str) -> Result<Vec<Arg>, String> {
    let mut args = Vec::new();
    let mut chars = s.trim().chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.peek() {
            None => break,
            Some('"') => {
                chars.next();
                let mut lit = String::new();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            lit.push('\\');
                            if let Some(n) = chars.next() {
                                lit.push(n);
                            }
                        }
                        '"' => {
                            closed = true;
                            break;
                        }
                        c => lit.push(c),
                    }
                }
                if !closed {
                    return Err("unterminated string literal in function arguments".into());
                }
                args.push(Arg::Literal(unescape(&lit)));
            }
            Some(_) => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c == ',' || c.is_whitespace() {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                if word.chars().all(|c| c.is_ascii_digit()) && !word.is_empty() {
                    args.push(Arg::Literal(word.into_bytes()));
                } else if is_ident(&word) {
                    args.push(Arg::Var(word));
                } else {
                    return Err(format!(
                        "`{word}` is not a variable name, number or \"literal\""
                    ));
                }
            }
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None => break,
            Some(',') => continue,
            Some(c) => return Err(format!("expected `,` between arguments, found `{c}`")),
        }
    }
    Ok(args)
}

/// Decodes `\r \n \t \0 \\ \" \xHH`; anything else is kept as written.
pub fn unescape(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 1 < bytes.len() {
            let decoded = match bytes[i + 1] {
                b'r' => Some((b'\r', 2)),
                b'n' => Some((b'\n', 2)),
                b't' => Some((b'\t', 2)),
                b'0' => Some((0, 2)),
                b'\\' => Some((b'\\', 2)),
                b'"' => Some((b'"', 2)),
                b'x' if i + 4 <= bytes.len() => std::str::from_utf8(&bytes[i + 2..i + 4])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .map(|b| (b, 4)),
                _ => None,
            };
            if let Some((b, len)) = decoded {
                out.push(b);
                i += len;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        let mut v = Vars::new();
        v.insert(
            "user".into(),
            Value {
                text: "alice".into(),
                secret: false,
            },
        );
        v.insert(
            "pass".into(),
            Value {
                text: "s3cret".into(),
                secret: true,
            },
        );
        v.insert(
            "timestamp".into(),
            Value {
                text: "<1896.697170952@dbc.mtview.ca.us>".into(),
                secret: false,
            },
        );
        v
    }

    #[test]
    fn variables_and_secrets() {
        let t = Template::parse("PASS {{pass}} for {{ user }}").unwrap();
        let r = t.render(&vars(), false).unwrap();
        assert_eq!(r.bytes, b"PASS s3cret for alice");
        assert_eq!(r.display, "PASS *** for alice");
        assert_eq!(t.variables(), vec!["pass", "user"]);
    }

    #[test]
    fn scram_sha256_matches_rfc7677_example() {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let first = scram::client_first(b"user", b"rOprNGfwEbeRWgbNEkqO").unwrap();
        assert_eq!(
            b64.decode(first).unwrap(),
            b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
        );
        let server_first = b64.encode(
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        );
        let last = scram::client_final(
            b"SHA-256",
            server_first.as_bytes(),
            b"user",
            b"pencil",
            b"rOprNGfwEbeRWgbNEkqO",
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(b64.decode(last).unwrap()).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
    }

    #[test]
    fn scram_sha1_matches_rfc5802_example() {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let server_first =
            b64.encode("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096");
        let last = scram::client_final(
            b"SHA-1",
            server_first.as_bytes(),
            b"user",
            b"pencil",
            b"fyko+d2lbbFgONRv9qkxdawL",
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(b64.decode(last).unwrap()).unwrap(),
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
        );
    }

    #[test]
    fn cram_md5_matches_rfc2195_example() {
        // RFC 2195 §2: user tim, secret tanstaaftanstaaf.
        let challenge = b"PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+";
        let answer = cram_md5(challenge, b"tim", b"tanstaaftanstaaf").unwrap();
        assert_eq!(
            answer,
            b"dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw".to_vec()
        );
    }

    #[test]
    fn apop_digest_matches_rfc1939_example() {
        let mut v = vars();
        v.insert(
            "pw".into(),
            Value {
                text: "tanstaaf".into(),
                secret: false,
            },
        );
        let r = Template::parse("{{apop(timestamp, pw)}}")
            .unwrap()
            .render(&v, false)
            .unwrap();
        assert_eq!(r.text(), "c4c9334bac560ecc979e58001b3e22fb");
    }

    #[test]
    fn base64_plain_with_literals() {
        let r = Template::parse(r#"{{base64("\0", user, "\0", pass)}}"#)
            .unwrap()
            .render(&vars(), false)
            .unwrap();
        assert_eq!(r.text(), "AGFsaWNlAHMzY3JldA==");
        assert_eq!(r.display, "***");
    }

    #[test]
    fn raw_escapes_and_repeat() {
        let r = Template::parse(r#"NOOP\r\n{{repeat("A", 3)}}\x00"#)
            .unwrap()
            .render(&vars(), true)
            .unwrap();
        assert_eq!(r.bytes, b"NOOP\r\nAAA\x00");
    }

    #[test]
    fn derived_passwords_differ_and_stay_secret() {
        let render = |t: &str| Template::parse(t).unwrap().render(&vars(), false);
        let chopped = render("{{without_last(pass)}}").unwrap();
        assert_eq!(chopped.bytes, b"s3cre");
        assert_eq!(chopped.display, "***");
        assert_eq!(render("{{case_flipped(pass)}}").unwrap().bytes, b"S3cret");
        assert_eq!(
            render(r#"{{case_flipped("12-aB")}}"#).unwrap().bytes,
            b"12-AB"
        );
        assert_eq!(
            render("{{with_trailing_space(pass)}}").unwrap().bytes,
            b"s3cret "
        );
        assert_eq!(
            render(r#"{{without_last("\xc3\xa9t\xc3\xa9")}}"#)
                .unwrap()
                .text(),
            "ét"
        );
        assert!(render(r#"{{case_flipped("1234")}}"#)
            .unwrap_err()
            .to_string()
            .contains("no ASCII letter"));
        assert!(render(r#"{{without_last("x")}}"#)
            .unwrap_err()
            .to_string()
            .contains("nothing would be left"));
    }

    #[test]
    fn errors_carry_offsets() {
        let e = Template::parse("USER {{nope(1)}}").unwrap_err();
        assert_eq!(e.offset, 5);
        assert!(e.message.contains("unknown function"));
        assert!(Template::parse("x {{user").is_err());
        assert!(Template::parse("{{apop(a)}}")
            .unwrap_err()
            .message
            .contains("2 argument"));
        let missing = Template::parse("{{who}}").unwrap().render(&vars(), false);
        assert!(matches!(missing, Err(RenderError::Scenario(m)) if m.contains("`who`")));
    }
}
