//! `pop3spec client`: the harness plays the server and judges a POP3 client.
//!
//! `scenario` loads client scenario files (scenarios/client/), `play` serves
//! one connection from a scenario's script and a built-in mailbox, `launch`
//! starts the client under test (or waits for one started by hand), `store`
//! reads what the client saved, and `judge` turns all of it into the same
//! [`crate::outcome::ScenarioResult`] values the server side produces, so
//! every reporter renders client runs unchanged.

pub mod judge;
pub mod launch;
pub mod play;
pub mod run;
pub mod scenario;
pub mod store;

/// Behaviours of the scripted test client (`pop3spec-testclient --behave
/// NAME`) that are no bugs: each copies a choice a real client makes that
/// the RFCs allow, so the suite can prove it judges that choice right (a
/// pass, or a skip with its reason) instead of blaming the client for it.
pub const BEHAVIOURS: &[(&str, &str)] = &[
    (
        "sasl-first",
        "logs in with AUTH PLAIN whenever CAPA offers SASL PLAIN, whatever it is told (curl)",
    ),
    (
        "top-whole",
        "downloads with `TOP n 99999999` instead of RETR when CAPA lists TOP (fetchmail)",
    ),
    (
        "wait-after-stls-junk",
        "sends nothing after a reply to STLS that is no status and waits for one (curl, until its own timeout)",
    ),
    (
        "stop-after-dele-err",
        "sends QUIT after a refused DELE and downloads no more (fetchmail)",
    ),
];

/// The fault switches of the scripted test client (`pop3spec-testclient
/// --fault NAME`), each a bug some client scenario must catch. The
/// scenario loader checks `catches:` against this list.
pub const FAULTS: &[(&str, &str)] = &[
    (
        "no-unstuffing",
        "keeps the stuffing dot of dot lines in RETR bodies",
    ),
    (
        "dot-prefix-ends-body",
        "ends a multi-line body at any line starting with a dot",
    ),
    (
        "trimmed-terminator",
        "trims a line before checking for the `.` terminator",
    ),
    ("ignore-greeting-err", "logs in after an -ERR greeting"),
    (
        "capa-first-line-only",
        "reads only the status line of a multi-line CAPA answer",
    ),
    (
        "strict-capa",
        "gives up when CAPA lists a capability it does not know",
    ),
    (
        "err-as-multiline",
        "reads a body after an -ERR to CAPA, LIST or RETR",
    ),
    (
        "trust-list-size",
        "reads exactly the octets LIST announced instead of up to the terminator",
    ),
    (
        "truncate-long-lines",
        "cuts message lines after 512 octets (RFC 2449's response-line limit)",
    ),
    ("strip-8bit", "drops every non-ASCII character of a message"),
    (
        "strict-uidl",
        "skips messages whose unique-id is over 32 characters or has punctuation beyond . _ -",
    ),
    (
        "strict-scan-listing",
        "skips scan listings with anything after the size",
    ),
    (
        "store-partial",
        "stores what arrived of a message when the connection drops mid-RETR",
    ),
    (
        "delete-unasked",
        "deletes messages although told to keep them",
    ),
    ("no-quit", "drops the connection without QUIT"),
    (
        "delete-before-retr",
        "sends DELE for a message before retrieving it",
    ),
    (
        "stop-on-dele-err",
        "stops with no QUIT after one DELE is refused",
    ),
    (
        "no-dele-after-err",
        "downloads the rest after one DELE is refused but marks none of it",
    ),
    (
        "ignore-login-err",
        "goes on to PASS, STAT and RETR after USER, PASS or AUTH was refused",
    ),
    (
        "retry-tight-loop",
        "reconnects at once, again and again, after a login is refused",
    ),
    (
        "apop-without-timestamp",
        "sends APOP although the greeting has no timestamp",
    ),
    (
        "apop-digest-without-brackets",
        "computes the APOP digest without the timestamp's angle brackets",
    ),
    (
        "apop-timestamp-last-word",
        "takes the last word of the greeting as the APOP timestamp",
    ),
    (
        "ignore-retr-err",
        "stores the -ERR line of a failed RETR as a message",
    ),
    (
        "plaintext-without-stls",
        "logs in in the clear when CAPA does not offer STLS",
    ),
    (
        "ignore-stls-error",
        "logs in in the clear after STLS was refused",
    ),
    (
        "ignore-stls-reply",
        "logs in in the clear when the reply to STLS is no POP3 status",
    ),
    (
        "pipeline-after-stls",
        "sends CAPA right behind STLS, before the answer and the handshake",
    ),
    (
        "read-injected",
        "keeps plaintext that arrived with the +OK to STLS and reads it after the handshake",
    ),
    (
        "no-capa-after-stls",
        "keeps the CAPA list from before STLS instead of asking again",
    ),
    (
        "fallback-to-plaintext",
        "reconnects without TLS and logs in when the TLS handshake fails",
    ),
    ("no-cert-check", "accepts any certificate"),
    (
        "no-hostname-check",
        "accepts a trusted CA's certificate for any host name",
    ),
    ("no-expiry-check", "accepts an expired certificate"),
];
