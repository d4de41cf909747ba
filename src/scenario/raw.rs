//! The YAML shape of a scenario file, as serde reads it. Every value a later check
//! may complain about is `Spanned`, so errors point at `file:line:col`. `load.rs`
//! turns this into the validated model in `mod.rs`.
//!
//! The same types give the JSON Schema editors use (`pop3spec schema`,
//! `docs/scenario.schema.json`): `Spanned<T>` has no schema of its own, so each
//! spanned field names T with `#[schemars(with = ...)]`, and the doc comments here
//! are the hover texts an editor shows.

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::Spanned;
use std::borrow::Cow;
use std::collections::BTreeMap;

pub type S<T> = Spanned<T>;

/// A pop3spec scenario: one dialogue with a POP3 server and the judgement of its
/// answers (docs/scenario-format.md).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "pop3spec scenario")]
pub struct RawScenario {
    /// Stable dotted id, unique across the suite, e.g. rfc1939.greeting.ok-first-line.
    #[schemars(with = "String", regex(pattern = r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$"))]
    pub id: S<String>,
    /// One line.
    #[schemars(with = "String")]
    pub title: S<String>,
    /// RFC and section that state the rule, e.g. `RFC 1939 §6`.
    #[schemars(with = "String")]
    pub spec: S<String>,
    /// The rule in our own words; printed under every failure.
    #[schemars(with = "String")]
    pub requirement: S<String>,
    /// must: a deviation fails; should: graded non-strict; info: reports, never fails.
    #[schemars(with = "String", extend("enum" = ["must", "should", "info"]))]
    pub level: S<String>,
    /// Free-form labels for --tag / --skip-tag.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub tags: Vec<S<String>>,
    /// CAPA tags in upper case (TOP, UIDL, SASL PLAIN, ...) or capa, apop,
    /// apop-allowed, second-account, long-credentials, implicit-tls, certificate-verification, verbatim-fixture;
    /// the scenario is skipped when one is missing. `not X` asks the opposite: X does not
    /// hold, or the tag is announced neither before nor after login.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub requires: Vec<S<String>>,
    /// Precondition for the main session (default authorization).
    #[serde(default)]
    #[schemars(
        with = "Option<String>",
        extend("enum" = ["connected", "authorization", "transaction", null])
    )]
    pub state: Option<S<String>>,
    /// A folder of scenarios/fixtures/ seeded into the account's Maildir first.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub fixture: Option<S<String>>,
    /// A fixture seeded into the second account's Maildir first (--user2; --maildir2 or --seed-command).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub fixture2: Option<S<String>>,
    /// Requirement ids of scenarios/requirements.yaml this scenario checks: a
    /// server that breaks one of them fails the scenario.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub checks: Vec<S<String>>,
    /// Reference-server faults (--list-faults) this scenario must detect.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub catches: Vec<S<String>>,
    /// Read timeout for each step: 250ms, 2s, 1m or a number of seconds.
    #[serde(default)]
    #[schemars(with = "Option<Scalar>")]
    pub timeout: Option<S<String>>,
    /// Default values of template variables, overridable with --var NAME=VALUE.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Scalar>")]
    pub vars: BTreeMap<String, S<String>>,
    /// The dialogue, in order; each step has exactly one action.
    #[schemars(with = "Vec<RawStep>")]
    pub steps: Vec<S<RawStep>>,
}

/// One list item of `steps`. All actions are optional fields so that a step can
/// also carry `session:`; `load.rs` insists on exactly one action.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    description = "One step: exactly one action, plus an optional session.",
    transform = exactly_one_action
)]
pub struct RawStep {
    /// The named connection this step addresses (default main).
    #[schemars(with = "Option<String>")]
    pub session: Option<S<String>>,
    /// Sends the line plus CRLF; {{templates}} are expanded.
    #[schemars(with = "Option<String>")]
    pub send: Option<S<String>>,
    /// Sends exactly these bytes; escapes \r \n \t \0 \\ \xHH.
    #[schemars(with = "Option<String>")]
    pub send_raw: Option<S<String>>,
    /// Reads one response line.
    #[schemars(with = "Option<RawExpect>")]
    pub expect: Option<S<RawExpect>>,
    /// Reads a status line and, when it is +OK, the body up to the `.` line.
    #[schemars(with = "Option<RawExpectMultiline>")]
    pub expect_multiline: Option<S<RawExpectMultiline>>,
    /// The server closes the connection, sending nothing more: `true` (within
    /// the step timeout) or `{within: DURATION, close_notify: BOOL}`.
    #[schemars(with = "Option<RawExpectClose>")]
    pub expect_close: Option<S<RawExpectClose>>,
    /// Nothing arrives for this long, e.g. 2s.
    #[schemars(with = "Option<Scalar>")]
    pub expect_silence: Option<S<String>>,
    /// Opens a new named connection: a name, or {session, login}.
    #[schemars(with = "Option<RawConnect>")]
    pub connect: Option<S<RawConnect>>,
    /// Drops the session's connection without QUIT and opens a new one.
    #[schemars(with = "Option<RawConnect>")]
    pub reconnect: Option<S<RawConnect>>,
    /// Drops the connection without QUIT (true, or a session name).
    #[schemars(with = "Option<RawConnect>")]
    pub disconnect: Option<S<RawConnect>>,
    /// Logs in with the configured mechanism: true, or {session, user, pass}.
    #[schemars(with = "Option<RawLogin>")]
    pub login: Option<S<RawLogin>>,
    /// Starts TLS on the session now (after STLS and its +OK); `{or_close: true}`
    /// also accepts a server that ends the connection instead;
    /// `{judge_certificate: true}` fails the step on a certificate that does
    /// not verify.
    #[schemars(with = "Option<RawTlsHandshake>")]
    pub tls_handshake: Option<S<RawTlsHandshake>>,
    /// Sends a hand-built ClientHello offering only this old version (`1.0` or
    /// `ssl3`) on the plain connection (after STLS and its +OK) and judges the
    /// first record back: a ServerHello selecting it fails; an alert or a close passes.
    #[schemars(with = "Option<String>")]
    pub tls_legacy_hello: Option<S<String>>,
    /// Alternatives tried in order on the same data; the first that passes grades the step.
    #[schemars(with = "Option<Vec<RawAlternative>>")]
    pub one_of: Option<S<Vec<S<RawAlternative>>>>,
    /// Compares variables, e.g. `count == 2`, `after == before - 1`.
    #[schemars(with = "Option<String>")]
    pub assert: Option<S<String>>,
    /// Waits, e.g. 250ms.
    #[schemars(with = "Option<Scalar>")]
    pub sleep: Option<S<String>>,
}

/// What one response line must look like.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    /// ok (default), err, any (+OK or -ERR), or continue (a SASL `+ ` continuation, RFC 5034 §4); compares exactly.
    #[schemars(with = "Option<String>", extend("enum" = ["ok", "err", "any", "continue", null]))]
    pub status: Option<S<String>>,
    /// A response code the text must start with, e.g. IN-USE (RFC 2449 §8).
    #[schemars(with = "Option<String>")]
    pub code: Option<S<String>>,
    /// true: text after the status that begins with `[` must be a well-formed
    /// response code (RFC 2449 §3 resp-code); text without `[` passes.
    pub code_syntax: Option<bool>,
    /// A response code the text must not start with, e.g. LOGIN-DELAY; a step
    /// naming LOGIN-DELAY judges that code instead of skipping on it.
    #[schemars(with = "Option<String>")]
    pub not_code: Option<S<String>>,
    /// The whole line must equal this (templates allowed).
    #[schemars(with = "Option<String>")]
    pub line: Option<S<String>>,
    /// A regex on the whole line without CRLF; named groups become variables.
    #[serde(rename = "match")]
    #[schemars(with = "Option<String>")]
    pub matches: Option<S<String>>,
}

/// What a multi-line response must look like.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExpectMultiline {
    /// ok (default), err or any; with err only the status line is read.
    #[schemars(with = "Option<String>", extend("enum" = ["ok", "err", "any", null]))]
    pub status: Option<S<String>>,
    /// A response code the status text must start with.
    #[schemars(with = "Option<String>")]
    pub code: Option<S<String>>,
    /// true: status text that begins with `[` must be a well-formed response
    /// code (RFC 2449 §3 resp-code); text without `[` passes.
    pub code_syntax: Option<bool>,
    /// A regex on the status line; named groups become variables.
    #[serde(rename = "match")]
    #[schemars(with = "Option<String>")]
    pub matches: Option<S<String>>,
    /// The whole body, exactly, after dot-unstuffing.
    #[schemars(with = "Option<Vec<String>>")]
    pub lines: Option<Vec<S<String>>>,
    /// Lines that must be present (exact line match).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub contains: Vec<S<String>>,
    /// The last body lines, exactly and in this order (lines before them are free,
    /// e.g. headers a server adds).
    #[schemars(with = "Option<Vec<String>>")]
    pub ends_with: Option<Vec<S<String>>>,
    /// Regexes that some body line must match (named groups captured).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub contains_match: Vec<S<String>>,
    /// Lines that must not be present (exact line match).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub absent: Vec<S<String>>,
    /// Regexes that no body line may match.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub absent_match: Vec<S<String>>,
    /// A regex every body line must match.
    #[schemars(with = "Option<String>")]
    pub each_line: Option<S<String>>,
    /// Number of body lines (a template such as "{{n}}" allowed).
    #[schemars(with = "Option<Scalar>")]
    pub count: Option<S<String>>,
    /// Octets of the body as the client sees it (a template allowed).
    #[schemars(with = "Option<Scalar>")]
    pub octets: Option<S<String>>,
    /// Variables set to a body line by its 0-based index, e.g. { first: 0 }.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, usize>")]
    pub capture_line: BTreeMap<String, S<usize>>,
    /// A variable set to the first word of every body line, upper case and
    /// space-separated: the tags of a CAPA listing (RFC 2449 §5).
    #[schemars(with = "Option<String>")]
    pub capture_tags: Option<S<String>>,
    /// Every tag listed here (a template, e.g. "{{before}}") is the first
    /// word of some body line, case-insensitively, except the tags named in
    /// `except`.
    pub contains_tags: Option<RawContainsTags>,
}

/// Tags a CAPA listing must hold: `{ tags: "{{before}}", except: [STLS] }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawContainsTags {
    /// Space-separated tags (a template, e.g. "{{before}}").
    #[schemars(with = "String")]
    pub tags: S<String>,
    /// Tags left out of the comparison (case-insensitive), e.g. STLS.
    #[serde(default)]
    pub except: Vec<String>,
}

/// `expect_close: true`, or the long form: `within` to wait longer (or
/// shorter) than the step timeout, e.g. for the server's autologout timer, and
/// `close_notify` to require a TLS close alert before the TCP close.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawExpectClose {
    Flag(bool),
    Options(RawExpectCloseOptions),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExpectCloseOptions {
    /// How long to wait for the close, e.g. 2s or "{{idle_wait}}". (Plain, not
    /// `Spanned`: inside an untagged enum spans are lost; errors point at the step.)
    #[schemars(with = "Option<Scalar>")]
    pub within: Option<String>,
    /// The session is TLS and the server sends a TLS close_notify before it
    /// closes TCP (RFC 8314 §3.4).
    pub close_notify: Option<bool>,
    /// One response line (`+OK ...` or `-ERR ...`) before the close is
    /// accepted and recorded, not judged: RFC 1939 §3 only says the
    /// autologout close should come without a response.
    pub allow_line: Option<bool>,
}

/// `tls_handshake: true`, or `{or_close: true}`: a server that closes the
/// connection (or fails the handshake with an alert) instead of negotiating
/// passes, and the scenario ends there (RFC 2595 §4: a client that pipelined
/// after STLS broke the rules, and dropping it is a fair answer).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawTlsHandshake {
    Flag(bool),
    Options(RawTlsHandshakeOptions),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTlsHandshakeOptions {
    /// A close or failed handshake (not a timeout, not bytes before the
    /// handshake, not an unverified certificate) passes and ends the scenario.
    pub or_close: Option<bool>,
    /// A server certificate that does not verify fails the step (RFC 8314
    /// §4.4: valid certificates are required) instead of being a set-up
    /// error, as it is everywhere else (the user may have given the wrong
    /// --ca-file). Only for the scenario that judges the certificate.
    pub judge_certificate: Option<bool>,
}

/// `connect: NAME`, `reconnect: true`, or the long form with a session and login.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawConnect {
    Flag(bool),
    Name(String),
    Full(RawConnectFull),
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawConnectFull {
    /// The session to open or reopen.
    pub session: Option<String>,
    /// Log in after the greeting.
    pub login: Option<bool>,
    /// Connect to the implicit-TLS port (RFC 8314) with a TLS handshake first; needs `requires: [implicit-tls]`.
    pub tls: Option<bool>,
}

/// `login: true`, or the long form naming a session and credentials.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawLogin {
    Flag(bool),
    Full(RawLoginFull),
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLoginFull {
    /// The session that logs in.
    pub session: Option<String>,
    /// User name (template), default the configured account.
    pub user: Option<String>,
    /// Password (template), default the configured account.
    pub pass: Option<String>,
}

/// One alternative of a `one_of` step.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAlternative {
    /// pass, non-strict, fail, or skip (the server did something allowed that leaves the question unasked; the note is the reason).
    #[schemars(with = "String", extend("enum" = ["pass", "non-strict", "fail", "skip"]))]
    pub grade: S<String>,
    /// Why this behaviour gets this grade; shown in reports.
    pub note: Option<String>,
    /// Reading steps only: expect, expect_multiline, expect_close, expect_silence, assert.
    #[schemars(with = "Vec<RawStep>")]
    pub steps: Vec<S<RawStep>>,
}

// The schema annotations the types above name live beside them, not with the
// `schema` command, so the loader's layer depends on nothing above it.

/// A scalar the loader reads as text: serde-saphyr takes `timeout: 5` or
/// `count: 2` for the strings "5" and "2", so the schema must allow numbers too.
pub struct Scalar;

impl JsonSchema for Scalar {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Scalar".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": ["string", "number"] })
    }
}

/// Makes a step's schema demand exactly one action key (every property but
/// `session`), as `load.rs` does, so an editor flags `send:` and `expect:` in one item.
pub fn exactly_one_action(schema: &mut Schema) {
    let Some(Value::Object(props)) = schema.get("properties") else {
        return;
    };
    let one_of: Vec<Value> = props
        .keys()
        .filter(|k| *k != "session")
        .map(|k| serde_json::json!({ "required": [k] }))
        .collect();
    schema.insert("oneOf".into(), Value::Array(one_of));
}
