//! The matrix `pop3spec report` writes: several JSON results (from `pop3spec
//! run --json`) side by side, as one scenario × server matrix in the manner of
//! Autobahn|Testsuite's multi-server report.
//!
//! Rows are scenario ids grouped by the RFC their `spec` cites, columns are the
//! servers, and each cell is the outcome as a short mark (coloured in HTML). Every
//! cell that did not pass links to a detail entry below the matrix: the reason, the
//! step that decided it, expected and actual lines and the end of the transcript.
//! A scenario that one result lacks shows as "not run" in that column.
//!
//! Results of `pop3spec client --json` (every id starts with `client.`) make the
//! same matrix with clients as columns: only the words change ([`Subject`]).
//!
//! The input is read back from JSON rather than from [`crate::outcome`] values, so
//! every string in it (server answers above all) is treated as hostile: the HTML
//! is escaped throughout, and the Markdown escapes HTML and its own punctuation.

mod html;
mod markdown;

use super::visible;
use crate::outcome::{Level, Outcome};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub use html::{html, html_escape};
pub use markdown::{markdown, md};

/// Transcript lines shown per detail entry (the last ones: the failure is at the end).
pub const TRANSCRIPT_TAIL: usize = 12;

/// The `schema_version` of `pop3spec run --json` documents this reads.
const SCHEMA_VERSION: u32 = 1;

/// One `pop3spec run --json` document, as far as the matrix needs it.
#[derive(Debug, Deserialize)]
pub struct Document {
    pub schema_version: u32,
    pub target: String,
    #[serde(default)]
    pub strict: bool,
    #[serde(default)]
    pub duration: Option<f64>,
    pub scenarios: Vec<Scenario>,
}

#[derive(Debug, Deserialize)]
pub struct Scenario {
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub spec: String,
    #[serde(deserialize_with = "level")]
    pub level: Level,
    #[serde(deserialize_with = "outcome")]
    pub outcome: Outcome,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub finding: Option<Finding>,
    #[serde(default)]
    pub transcript: Vec<Line>,
    #[serde(default)]
    pub known_failure: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct Finding {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub step: Option<Step>,
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub expected: Vec<String>,
    #[serde(default)]
    pub actual: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct Step {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

#[derive(Debug, Deserialize)]
pub struct Line {
    #[serde(default)]
    pub session: String,
    pub direction: String,
    pub text: String,
}

fn level<'de, D: Deserializer<'de>>(d: D) -> Result<Level, D::Error> {
    let s = String::deserialize(d)?;
    [Level::Must, Level::Should, Level::Info]
        .into_iter()
        .find(|l| l.as_str() == s)
        .ok_or_else(|| serde::de::Error::custom(format!("unknown level `{s}`")))
}

fn outcome<'de, D: Deserializer<'de>>(d: D) -> Result<Outcome, D::Error> {
    let s = String::deserialize(d)?;
    OUTCOMES
        .into_iter()
        .find(|o| o.as_str() == s)
        .ok_or_else(|| serde::de::Error::custom(format!("unknown outcome `{s}`")))
}

/// Every outcome, in the order tallies list them.
const OUTCOMES: [Outcome; 6] = [
    Outcome::Pass,
    Outcome::NonStrict,
    Outcome::Info,
    Outcome::Skipped,
    Outcome::Fail,
    Outcome::Error,
];

/// Reads and checks one result file; the error names the file.
pub fn load(path: &Path) -> Result<Document, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let doc: Document = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{} is not a pop3spec JSON report (pop3spec run --json): {e}",
            path.display()
        )
    })?;
    if doc.schema_version != SCHEMA_VERSION {
        return Err(format!(
            "{}: schema_version {} is not supported (this pop3spec reads {SCHEMA_VERSION})",
            path.display(),
            doc.schema_version
        ));
    }
    Ok(doc)
}

/// One column: a result and the label it is shown under.
#[derive(Debug)]
pub struct Server {
    pub label: String,
    pub source: PathBuf,
    pub doc: Document,
}

/// One scenario id and, per server, the index of its result (None: not run).
#[derive(Debug)]
pub struct Row {
    pub id: String,
    pub cells: Vec<Option<usize>>,
}

#[derive(Debug)]
pub struct Group {
    /// "RFC 1939", or "Other" for a spec that cites no RFC.
    pub name: String,
    pub rows: Vec<Row>,
}

#[derive(Debug)]
pub struct Matrix {
    pub servers: Vec<Server>,
    pub groups: Vec<Group>,
    pub subject: Subject,
}

/// What the columns are: servers (`pop3spec run`) or clients (`pop3spec
/// client`, whose scenario ids all start with `client.`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    Server,
    Client,
}

impl Subject {
    fn of(servers: &[Server]) -> Subject {
        let mut ids = servers.iter().flat_map(|s| &s.doc.scenarios).peekable();
        if ids.peek().is_some() && ids.all(|s| s.id.starts_with("client.")) {
            Subject::Client
        } else {
            Subject::Server
        }
    }
    /// "server" or "client".
    pub fn noun(self) -> &'static str {
        match self {
            Subject::Server => "server",
            Subject::Client => "client",
        }
    }
    fn title(self) -> &'static str {
        match self {
            Subject::Server => "POP3 conformance matrix",
            Subject::Client => "POP3 client conformance matrix",
        }
    }
    fn heading(self) -> &'static str {
        match self {
            Subject::Server => "Servers",
            Subject::Client => "Clients",
        }
    }
    fn command(self) -> &'static str {
        match self {
            Subject::Server => "pop3spec run --json",
            Subject::Client => "pop3spec client --json",
        }
    }
    /// The legend: what each mark means, said of this subject.
    fn legend(self) -> [(Option<Outcome>, String); 7] {
        let noun = self.noun();
        [
            (
                Some(Outcome::Pass),
                format!("the {noun} met the requirement"),
            ),
            (
                Some(Outcome::NonStrict),
                "a SHOULD-level requirement was not met (fails only with --strict)".into(),
            ),
            (Some(Outcome::Info), "informational, no requirement".into()),
            (
                Some(Outcome::Skipped),
                format!("not applicable: the {noun} lacks what the scenario requires"),
            ),
            (
                Some(Outcome::Fail),
                format!("the {noun} broke a requirement"),
            ),
            (
                Some(Outcome::Error),
                "the scenario could not be carried out (connection, timeout, setup)".into(),
            ),
            (None, "the scenario is not in this result".into()),
        ]
    }
}

/// Counts per server: one per outcome (in [`OUTCOMES`] order) and not run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub outcomes: [usize; 6],
    pub not_run: usize,
    pub known_failures: usize,
}

impl Counts {
    pub fn get(&self, o: Outcome) -> usize {
        self.outcomes[OUTCOMES.iter().position(|x| *x == o).unwrap_or(0)]
    }
    pub fn ran(&self) -> usize {
        self.outcomes.iter().sum()
    }
}

/// The RFC a spec such as `RFC 1939 §7 (APOP)` cites first: by the scenario
/// spec parser, else (a result from another pop3spec version) by the first
/// `RFC <number>` in it.
fn rfc_of(spec: &str) -> Option<u32> {
    if let Some(c) = crate::scenario::spec::rfc_citations(spec)
        .ok()
        .and_then(|c| c.into_iter().next())
    {
        return Some(c.rfc);
    }
    let upper = spec.to_ascii_uppercase();
    let mut rest = upper.as_str();
    while let Some(at) = rest.find("RFC") {
        let after = rest[at + 3..].trim_start_matches([' ', '-', '\u{a0}']);
        let digits: String = after.chars().take_while(|c| c.is_ascii_digit()).collect();
        if let Ok(n) = digits.parse::<u32>() {
            return Some(n);
        }
        rest = &rest[at + 3..];
    }
    None
}

impl Matrix {
    pub fn new(servers: Vec<Server>) -> Matrix {
        // id -> per-server index; the first result of an id in a file wins.
        let mut by_id: BTreeMap<String, Vec<Option<usize>>> = BTreeMap::new();
        for (col, server) in servers.iter().enumerate() {
            for (i, s) in server.doc.scenarios.iter().enumerate() {
                let cells = by_id
                    .entry(s.id.clone())
                    .or_insert_with(|| vec![None; servers.len()]);
                cells[col].get_or_insert(i);
            }
        }
        let mut groups: BTreeMap<(u8, u32), Group> = BTreeMap::new();
        for (id, cells) in by_id {
            let row = Row { id, cells };
            let spec = &Self::first_of(&servers, &row).spec;
            let (key, name) = match rfc_of(spec) {
                Some(n) => ((0, n), format!("RFC {n}")),
                None => ((1, 0), "Other".to_string()),
            };
            groups
                .entry(key)
                .or_insert_with(|| Group {
                    name,
                    rows: Vec::new(),
                })
                .rows
                .push(row);
        }
        Matrix {
            subject: Subject::of(&servers),
            servers,
            groups: groups.into_values().collect(),
        }
    }

    fn first_of<'a>(servers: &'a [Server], row: &Row) -> &'a Scenario {
        let (col, i) = row
            .cells
            .iter()
            .enumerate()
            .find_map(|(c, i)| i.map(|i| (c, i)))
            .expect("every row has a result in some column");
        &servers[col].doc.scenarios[i]
    }

    /// The scenario's metadata (title, spec, level) from the first result that has it.
    pub fn meta(&self, row: &Row) -> &Scenario {
        Self::first_of(&self.servers, row)
    }

    pub fn cell(&self, row: &Row, col: usize) -> Option<&Scenario> {
        row.cells[col].map(|i| &self.servers[col].doc.scenarios[i])
    }

    /// Every cell that has a details entry (anything but a pass), row by row,
    /// with its column; both renderers list the details in this order.
    fn detailed_cells(&self) -> impl Iterator<Item = (usize, &Scenario)> {
        let n = self.servers.len();
        self.rows().flat_map(move |row| {
            (0..n).filter_map(move |col| {
                self.cell(row, col)
                    .filter(|s| has_detail(s))
                    .map(|s| (col, s))
            })
        })
    }

    pub fn rows(&self) -> impl Iterator<Item = &Row> {
        self.groups.iter().flat_map(|g| g.rows.iter())
    }

    /// The tally of one column over the whole matrix.
    pub fn counts(&self, col: usize) -> Counts {
        self.counts_over(self.rows(), col)
    }

    /// The tally of one column over one RFC group.
    pub fn group_counts(&self, group: &Group, col: usize) -> Counts {
        self.counts_over(group.rows.iter(), col)
    }

    fn counts_over<'a>(&self, rows: impl Iterator<Item = &'a Row>, col: usize) -> Counts {
        let mut c = Counts::default();
        for row in rows {
            match self.cell(row, col) {
                None => c.not_run += 1,
                Some(s) => {
                    c.outcomes[OUTCOMES.iter().position(|o| *o == s.outcome).unwrap_or(0)] += 1;
                    if s.known_failure && matches!(s.outcome, Outcome::Fail | Outcome::Error) {
                        c.known_failures += 1;
                    }
                }
            }
        }
        c
    }
}

/// Symbol, word and CSS class of a cell.
pub fn mark(o: Option<Outcome>) -> (&'static str, &'static str, &'static str) {
    match o {
        Some(Outcome::Pass) => ("✔", "pass", "pass"),
        Some(Outcome::NonStrict) => ("≈", "non-strict", "nonstrict"),
        Some(Outcome::Info) => ("ℹ", "info", "info"),
        Some(Outcome::Skipped) => ("↷", "skipped", "skipped"),
        Some(Outcome::Fail) => ("✘", "fail", "fail"),
        Some(Outcome::Error) => ("⚠", "error", "error"),
        None => ("·", "not run", "notrun"),
    }
}

/// Whether a cell gets a detail entry (and a link to it).
pub(super) fn has_detail(s: &Scenario) -> bool {
    s.outcome != Outcome::Pass
}

/// A fragment id made only of `[A-Za-z0-9._-]`; other characters become `_xx_`.
pub(super) fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '-') {
            out.push(c);
        } else {
            let _ = write!(out, "_{:x}_", c as u32);
        }
    }
    out
}

/// Anchor of the detail entry for `id` in column `col` (0-based).
pub fn detail_anchor(col: usize, id: &str) -> String {
    format!("s{}-{}", col + 1, slug(id))
}

/// Anchor of the matrix row of `id`.
pub fn row_anchor(id: &str) -> String {
    format!("row-{}", slug(id))
}

pub(super) fn group_anchor(name: &str) -> String {
    format!(
        "group-{}",
        slug(&name.to_ascii_lowercase().replace(' ', ""))
    )
}

pub(super) fn transcript_line(l: &Line) -> String {
    let who = match l.direction.as_str() {
        "client" => "C:",
        "server" => "S:",
        _ => "*",
    };
    let text = visible(&l.text);
    if l.session == "main" || l.session.is_empty() {
        format!("{who} {text}")
    } else {
        format!("[{}] {who} {text}", visible(&l.session))
    }
}

pub(super) fn tail(s: &Scenario) -> &[Line] {
    &s.transcript[s.transcript.len().saturating_sub(TRANSCRIPT_TAIL)..]
}

pub fn tally_text(c: &Counts) -> String {
    let mut parts = Vec::new();
    for o in OUTCOMES {
        let n = c.get(o);
        if n > 0 {
            parts.push(format!("{} {n}", mark(Some(o)).0));
        }
    }
    if c.not_run > 0 {
        parts.push(format!("{} {}", mark(None).0, c.not_run));
    }
    parts.join(" ")
}

fn step_text(f: &Finding) -> Option<String> {
    f.step
        .as_ref()
        .map(|s| format!("{}:{}:{}", s.file, s.line, s.column))
}

/// One line of a detail entry. Both renderers walk the same [`facts`], so an
/// entry says the same in HTML and Markdown and only the markup differs.
pub(super) enum Fact<'a> {
    /// A named text from the result; `code` when it is a path or a command.
    Text {
        name: &'static str,
        text: Cow<'a, str>,
        code: bool,
    },
    /// The spec with the level it is graded at.
    Spec(&'a str, Level),
    /// The id is in the run's `--known-failures` file.
    KnownFailure,
}

/// What a detail entry states, in order: the finding only where it says more
/// than the reason.
pub(super) fn facts(s: &Scenario) -> Vec<Fact<'_>> {
    fn text<'a>(name: &'static str, text: impl Into<Cow<'a, str>>, code: bool) -> Fact<'a> {
        Fact::Text {
            name,
            text: text.into(),
            code,
        }
    }
    let mut out = vec![text("title", &s.title, false), Fact::Spec(&s.spec, s.level)];
    if let Some(reason) = &s.reason {
        out.push(text("reason", reason, false));
    }
    if let Some(f) = &s.finding {
        if !f.message.is_empty() && s.reason.as_deref() != Some(f.message.as_str()) {
            out.push(text("finding", &f.message, false));
        }
        if let Some(step) = step_text(f) {
            out.push(text("step", step, true));
        }
        if let Some(c) = &f.command {
            out.push(text("last command", c, true));
        }
    }
    if s.known_failure {
        out.push(Fact::KnownFailure);
    }
    out
}

/// The finding's expected and actual lines, when it has any.
pub(super) fn expected_actual(s: &Scenario) -> Option<&Finding> {
    s.finding
        .as_ref()
        .filter(|f| !f.expected.is_empty() || !f.actual.is_empty())
}

// ---------------------------------------------------------------- loading

/// `--name LABEL=FILE.json`: a result file and the label of its column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedReport {
    pub label: String,
    pub path: PathBuf,
}

/// Columns from `--name LABEL=FILE` (in order), then the plain files not named.
/// A label defaults to the result's target; repeated labels get ` (2)`, ` (3)`...
pub fn load_servers(named: &[NamedReport], files: &[PathBuf]) -> Result<Vec<Server>, String> {
    let mut wanted: Vec<(Option<String>, PathBuf)> = named
        .iter()
        .map(|n| (Some(n.label.clone()), n.path.clone()))
        .collect();
    for f in files {
        if !named.iter().any(|n| &n.path == f) {
            wanted.push((None, f.clone()));
        }
    }
    if wanted.is_empty() {
        return Err("no result files: give FILE.json or --name LABEL=FILE.json".into());
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut servers = Vec::new();
    for (label, path) in wanted {
        let doc = load(&path)?;
        let base = label.unwrap_or_else(|| doc.target.clone());
        let count = seen.entry(base.clone()).or_insert(0);
        *count += 1;
        let label = if *count == 1 {
            base
        } else {
            format!("{base} ({count})")
        };
        servers.push(Server {
            label,
            source: path,
            doc,
        });
    }
    Ok(servers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{fixture, json};

    fn server(label: &str, text: &str) -> Server {
        Server {
            label: label.into(),
            source: format!("{label}.json").into(),
            doc: serde_json::from_str(text).unwrap(),
        }
    }

    fn matrix() -> Matrix {
        let full = json::render(&fixture::run());
        let mut partial = fixture::run();
        partial.scenarios.truncate(2);
        partial.scenarios[1].outcome = Outcome::Pass;
        partial.scenarios[1].finding = None;
        Matrix::new(vec![
            server("full", &full),
            server("partial", &json::render(&partial)),
        ])
    }

    #[test]
    fn rfc_group_from_spec() {
        assert_eq!(rfc_of("RFC 1939 §7 (APOP)"), Some(1939));
        assert_eq!(rfc_of("RFC 2449 §8.1.2; RFC 5034 §4"), Some(2449));
        assert_eq!(rfc_of("see rfc2449 §5"), Some(2449));
        assert_eq!(rfc_of("no citation"), None);
        assert_eq!(rfc_of("RFC x, RFC 8314"), Some(8314));
    }

    #[test]
    fn rows_grouped_by_rfc_and_missing_results_not_run() {
        let m = matrix();
        let names: Vec<&str> = m.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["RFC 1939", "RFC 2449", "RFC 2595"]);
        assert_eq!(m.rows().count(), 8);
        let full = m.counts(0);
        assert_eq!(full.get(Outcome::Fail), 2);
        assert_eq!(full.get(Outcome::Error), 1);
        assert_eq!(full.not_run, 0);
        assert_eq!(full.known_failures, 1);
        let partial = m.counts(1);
        assert_eq!(partial.get(Outcome::Pass), 2);
        assert_eq!(partial.not_run, 6);
        let md = markdown(&m);
        assert!(md.contains("| <a id=\"row-rfc2449.capa.list\"></a><code>rfc2449.capa.list</code> | must | [⚠ error](#s1-rfc2449.capa.list) | · not run |"), "{md}");
        assert!(
            md.contains("[✘ fail (known)](#s1-rfc1939.top.lines)"),
            "{md}"
        );
    }

    #[test]
    fn client_results_make_a_client_matrix() {
        let servers = matrix();
        assert_eq!(servers.subject, Subject::Server);
        let md = markdown(&servers);
        assert!(md.starts_with("# POP3 conformance matrix\n"), "{md}");
        assert!(md.contains("on 2 server(s)") && md.contains("## Servers\n\n| server |"));

        let mut run = fixture::run();
        for s in &mut run.scenarios {
            s.id = format!("client.{}", s.id);
        }
        let clients = Matrix::new(vec![server("curl", &json::render(&run))]);
        assert_eq!(clients.subject, Subject::Client);
        let md = markdown(&clients);
        assert!(md.starts_with("# POP3 client conformance matrix\n"), "{md}");
        assert!(md.contains("on 1 client(s)") && md.contains("`pop3spec client --json`"));
        assert!(md.contains("## Clients\n\n| client | target |"), "{md}");
        assert!(md.contains("the client broke a requirement") && !md.contains("server("));
        let page = html(&clients);
        assert!(page.contains("<h1>POP3 client conformance matrix</h1>"));
        assert!(
            page.contains("<h2 id=\"servers\">Clients</h2>") && page.contains("<th>client</th>")
        );
        // One server result among client ones keeps the server wording.
        let mixed = Matrix::new(vec![
            server("curl", &json::render(&run)),
            server("full", &json::render(&fixture::run())),
        ]);
        assert_eq!(mixed.subject, Subject::Server);
    }

    #[test]
    fn hostile_text_is_escaped_in_both_formats() {
        let m = matrix();
        let page = html(&m);
        assert!(!page.contains("]]> &<>"), "raw specials leaked");
        assert!(page.contains("]]&gt; &amp;&lt;&gt;&quot;&#39;"), "{page}");
        assert!(!page.contains('\x1b') && !page.contains('\0'));
        assert!(page.contains("\\x1b[31mred"));
        let md = markdown(&m);
        assert!(md.contains("]]&gt; &amp;&lt;&gt;\"'"), "{md}");
        assert!(!md.contains('\x1b') && !md.contains('\0'));
    }

    #[test]
    fn slugs_are_fragment_safe() {
        assert_eq!(slug("rfc1939.a-b"), "rfc1939.a-b");
        assert_eq!(slug("a b\"<"), "a_20_b_22__3c_");
        assert_eq!(detail_anchor(0, "x.y"), "s1-x.y");
    }

    #[test]
    fn md_escapes_markdown_and_html() {
        assert_eq!(
            md("a|b*c_[d](e)`<x>&"),
            "a\\|b\\*c\\_\\[d\\]\\(e\\)\\`&lt;x&gt;&amp;"
        );
        assert_eq!(md("one\ntwo"), "one<br>two");
    }

    #[test]
    fn both_formats_state_every_fact_of_every_detail() {
        let m = matrix();
        let (page, text_md) = (html(&m), markdown(&m));
        let mut stated = 0;
        for (_, s) in m.detailed_cells() {
            for fact in facts(s) {
                let Fact::Text { name, text, code } = fact else {
                    continue;
                };
                let in_html = format!("<dt>{name}</dt><dd>{}</dd>", html_escape(&text));
                let in_md = if code {
                    format!("- {name}: <code>{}</code>\n", md(&text))
                } else {
                    format!("- {name}: {}\n", md(&text))
                };
                assert!(page.contains(&in_html), "{in_html}");
                assert!(text_md.contains(&in_md), "{in_md}");
                stated += 1;
            }
        }
        // The fixture has details with reasons, findings, steps and commands.
        assert!(stated >= 8, "only {stated} facts");
    }
}
