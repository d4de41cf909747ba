//! The YAML shape of a scenario file, as serde reads it. Every value a later check
//! may complain about is `Spanned`, so errors point at `file:line:col`. `load.rs`
//! turns this into the validated model in `mod.rs`.

use serde::Deserialize;
use serde_saphyr::Spanned;
use std::collections::BTreeMap;

pub type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub id: S<String>,
    pub title: S<String>,
    pub spec: S<String>,
    pub requirement: S<String>,
    pub level: S<String>,
    #[serde(default)]
    pub tags: Vec<S<String>>,
    #[serde(default)]
    pub requires: Vec<S<String>>,
    #[serde(default)]
    pub state: Option<S<String>>,
    #[serde(default)]
    pub fixture: Option<S<String>>,
    #[serde(default)]
    pub catches: Vec<S<String>>,
    #[serde(default)]
    pub timeout: Option<S<String>>,
    #[serde(default)]
    pub vars: BTreeMap<String, S<String>>,
    pub steps: Vec<S<RawStep>>,
}

/// One list item of `steps`. All actions are optional fields so that a step can
/// also carry `session:`; `load.rs` insists on exactly one action.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub session: Option<S<String>>,
    pub send: Option<S<String>>,
    pub send_raw: Option<S<String>>,
    pub expect: Option<S<RawExpect>>,
    pub expect_multiline: Option<S<RawExpectMultiline>>,
    pub expect_close: Option<S<bool>>,
    pub expect_silence: Option<S<String>>,
    pub connect: Option<S<RawConnect>>,
    pub reconnect: Option<S<RawConnect>>,
    pub disconnect: Option<S<RawConnect>>,
    pub login: Option<S<RawLogin>>,
    pub tls_handshake: Option<S<bool>>,
    pub one_of: Option<S<Vec<S<RawAlternative>>>>,
    pub assert: Option<S<String>>,
    pub sleep: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    pub status: Option<S<String>>,
    pub code: Option<S<String>>,
    pub line: Option<S<String>>,
    #[serde(rename = "match")]
    pub matches: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpectMultiline {
    pub status: Option<S<String>>,
    pub code: Option<S<String>>,
    #[serde(rename = "match")]
    pub matches: Option<S<String>>,
    pub lines: Option<Vec<S<String>>>,
    #[serde(default)]
    pub contains: Vec<S<String>>,
    #[serde(default)]
    pub contains_match: Vec<S<String>>,
    #[serde(default)]
    pub absent: Vec<S<String>>,
    pub each_line: Option<S<String>>,
    pub count: Option<S<String>>,
    pub octets: Option<S<String>>,
    #[serde(default)]
    pub capture_line: BTreeMap<String, S<usize>>,
}

/// `connect: NAME`, `reconnect: true`, or the long form with a session and login.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawConnect {
    Flag(bool),
    Name(String),
    Full(RawConnectFull),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConnectFull {
    pub session: Option<String>,
    pub login: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawLogin {
    Flag(bool),
    Full(RawLoginFull),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLoginFull {
    pub session: Option<String>,
    pub user: Option<String>,
    pub pass: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlternative {
    pub grade: S<String>,
    pub note: Option<String>,
    pub steps: Vec<S<RawStep>>,
}
