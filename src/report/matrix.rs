//! `pop3spec report`: several JSON results (from `pop3spec run --json`) side by
//! side, as one scenario × server matrix in the manner of Autobahn|Testsuite's
//! multi-server report.
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

use super::visible;
use crate::cli::{NamedReport, ReportArgs};
use crate::exit::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::outcome::{Level, Outcome};
use crate::report::write::write_file;
use serde::{Deserialize, Deserializer};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

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

    pub fn counts(&self, col: usize) -> Counts {
        let mut c = Counts::default();
        for row in self.rows() {
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
fn has_detail(s: &Scenario) -> bool {
    s.outcome != Outcome::Pass
}

/// A fragment id made only of `[A-Za-z0-9._-]`; other characters become `_xx_`.
fn slug(text: &str) -> String {
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

fn group_anchor(name: &str) -> String {
    format!(
        "group-{}",
        slug(&name.to_ascii_lowercase().replace(' ', ""))
    )
}

fn transcript_line(l: &Line) -> String {
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

fn tail(s: &Scenario) -> &[Line] {
    &s.transcript[s.transcript.len().saturating_sub(TRANSCRIPT_TAIL)..]
}

fn tally_text(c: &Counts) -> String {
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

// ------------------------------------------------------------------ HTML

/// Text safe anywhere in HTML, attribute values included.
pub fn html_escape(text: &str) -> String {
    let text = visible(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:1.5em;color:#222;background:#fff}
h1{font-size:1.5em}h2{margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}
thead th{position:sticky;top:0;background:#eee}
.num{text-align:right}
table.matrix td.o{text-align:center;white-space:nowrap}
table.matrix td.o a{color:inherit;text-decoration:none;display:block}
table.matrix td.o a:hover{text-decoration:underline}
tr.group th{background:#dde4ee;font-size:1.05em}
tr.summary td,tr.summary th{background:#f6f6f6;font-size:.9em;white-space:nowrap}
.t{color:#555;font-size:.85em}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.pass{background:#c8f0c8;color:#0a4d0a}
.nonstrict{background:#fff0b3;color:#5c4700}
.info{background:#d6e9ff;color:#0b3a6b}
.skipped{background:#e8e8e8;color:#555}
.fail{background:#f8c4c4;color:#7a0000}
.error{background:#8b1a1a;color:#fff}
.notrun{background:#fafafa;color:#999}
.known{font-size:.75em;font-weight:bold}
.legend span.m{display:inline-block;min-width:7em;padding:0 .4em;margin-right:.5em}
section.detail{border:1px solid #ccc;border-left-width:6px;margin:1em 0;padding:.3em 1em}
section.detail.fail{border-left-color:#c00}section.detail.error{border-left-color:#8b1a1a}
section.detail.nonstrict{border-left-color:#c9a400}section.detail.info{border-left-color:#3b7dd8}
section.detail.skipped{border-left-color:#999}
section.detail h3 .m{padding:0 .4em}
section.detail:target{box-shadow:0 0 0 3px #3b7dd8}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:bold}dd{margin:0}
pre{background:#f6f6f6;padding:.5em;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
.ea{display:flex;gap:1em;flex-wrap:wrap}.ea>div{flex:1;min-width:20em}
";

/// The whole report as one self-contained HTML page (inline CSS, no scripts, no
/// external assets).
pub fn html(m: &Matrix) -> String {
    let mut out = String::new();
    let n = m.servers.len();
    let (noun, heading) = (m.subject.noun(), m.subject.heading());
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(
        out,
        "<title>pop3spec {}</title>\n<style>",
        m.subject.title().trim_start_matches("POP3 ")
    );
    out.push_str(STYLE);
    let _ = writeln!(
        out,
        "</style>\n</head>\n<body>\n<h1>{}</h1>",
        m.subject.title()
    );
    let _ = writeln!(
        out,
        "<p>{} scenario(s) on {n} {noun}(s), written by <code>pop3spec report</code> {} from <code>{}</code> results. \
         Every cell that did not pass links to its <a href=\"#details\">details</a>.</p>",
        m.rows().count(),
        env!("CARGO_PKG_VERSION"),
        m.subject.command(),
    );

    // Servers (or clients), one summary row each.
    let _ = write!(
        out,
        "<h2 id=\"servers\">{heading}</h2>\n<table class=\"servers\">\n<thead><tr><th>{noun}</th><th>target</th><th>result file</th><th>strict</th><th>duration</th>"
    );
    for o in OUTCOMES.map(Some).into_iter().chain([None]) {
        let (sym, word, class) = mark(o);
        let _ = write!(out, "<th class=\"{class}\">{sym} {word}</th>");
    }
    out.push_str("<th>known failures</th><th>total</th></tr></thead>\n<tbody>\n");
    for (col, s) in m.servers.iter().enumerate() {
        let c = m.counts(col);
        let _ = write!(
            out,
            "<tr><th>{}</th><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td>",
            html_escape(&s.label),
            html_escape(&s.doc.target),
            html_escape(&s.source.display().to_string()),
            if s.doc.strict { "yes" } else { "no" },
            s.doc
                .duration
                .map(|d| format!("{d:.1} s"))
                .unwrap_or_default(),
        );
        for o in OUTCOMES {
            let _ = write!(out, "<td class=\"num\">{}</td>", c.get(o));
        }
        let _ = writeln!(
            out,
            "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            c.not_run,
            c.known_failures,
            c.ran()
        );
    }
    out.push_str("</tbody>\n</table>\n");

    out.push_str("<h2 id=\"legend\">Legend</h2>\n<ul class=\"legend\">\n");
    for (o, text) in m.subject.legend() {
        let (sym, word, class) = mark(o);
        let _ = writeln!(
            out,
            "<li><span class=\"m {class}\">{sym} {word}</span>{}</li>",
            html_escape(&text)
        );
    }
    out.push_str("<li><span class=\"m\"><span class=\"known\">known</span></span>listed in the run's --known-failures file</li>\n</ul>\n");

    // The matrix.
    out.push_str("<h2 id=\"matrix\">Matrix</h2>\n<p>");
    let links: Vec<String> = m
        .groups
        .iter()
        .map(|g| {
            format!(
                "<a href=\"#{}\">{}</a> ({})",
                group_anchor(&g.name),
                html_escape(&g.name),
                g.rows.len()
            )
        })
        .collect();
    out.push_str(&links.join(" · "));
    out.push_str("</p>\n<table class=\"matrix\">\n<thead><tr><th>scenario</th><th>level</th>");
    for s in &m.servers {
        let _ = write!(out, "<th>{}</th>", html_escape(&s.label));
    }
    out.push_str("</tr></thead>\n<tbody>\n<tr class=\"summary\"><th>summary</th><td></td>");
    for col in 0..n {
        let _ = write!(out, "<td>{}</td>", tally_text(&m.counts(col)));
    }
    out.push_str("</tr>\n");
    for g in &m.groups {
        let _ = writeln!(
            out,
            "<tr class=\"group\"><th colspan=\"{}\" id=\"{}\">{}</th></tr>",
            n + 2,
            group_anchor(&g.name),
            html_escape(&g.name)
        );
        for row in &g.rows {
            let meta = m.meta(row);
            let _ = write!(
                out,
                "<tr id=\"{}\"><th><code>{}</code><div class=\"t\">{} — {}</div></th><td>{}</td>",
                row_anchor(&row.id),
                html_escape(&row.id),
                html_escape(&meta.title),
                html_escape(&meta.spec),
                meta.level.as_str()
            );
            for col in 0..n {
                out.push_str(&html_cell(m, row, col));
            }
            out.push_str("</tr>\n");
        }
    }
    out.push_str("</tbody>\n</table>\n");

    // Details.
    out.push_str("<h2 id=\"details\">Details</h2>\n");
    let mut any = false;
    for (col, s) in m.detailed_cells() {
        any = true;
        html_detail(&mut out, m, col, s);
    }
    if !any {
        let _ = writeln!(out, "<p>Every scenario passed on every {noun}.</p>");
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn html_cell(m: &Matrix, row: &Row, col: usize) -> String {
    let s = m.cell(row, col);
    let (sym, word, class) = mark(s.map(|s| s.outcome));
    let known = if s.is_some_and(|s| s.known_failure) {
        " <span class=\"known\">known</span>"
    } else {
        ""
    };
    match s {
        Some(s) if has_detail(s) => {
            let hint = s
                .finding
                .as_ref()
                .map(|f| f.message.as_str())
                .filter(|t| !t.is_empty())
                .or(s.reason.as_deref())
                .unwrap_or("");
            format!(
                "<td class=\"o {class}\" title=\"{}\"><a href=\"#{}\">{sym} {word}{known}</a></td>",
                html_escape(hint),
                detail_anchor(col, &row.id)
            )
        }
        _ => format!("<td class=\"o {class}\">{sym} {word}{known}</td>"),
    }
}

fn html_pre(out: &mut String, lines: impl IntoIterator<Item = String>) {
    out.push_str("<pre>");
    let lines: Vec<String> = lines.into_iter().map(|l| html_escape(&l)).collect();
    out.push_str(&lines.join("\n"));
    out.push_str("</pre>\n");
}

fn html_detail(out: &mut String, m: &Matrix, col: usize, s: &Scenario) {
    let (sym, word, class) = mark(Some(s.outcome));
    let _ = writeln!(
        out,
        "<section class=\"detail {class}\" id=\"{}\">\n<h3><span class=\"m {class}\">{sym} {word}</span> <code>{}</code> on {}</h3>",
        detail_anchor(col, &s.id),
        html_escape(&s.id),
        html_escape(&m.servers[col].label)
    );
    out.push_str("<dl>\n");
    let mut item = |name: &str, value: &str| {
        let _ = writeln!(out, "<dt>{name}</dt><dd>{}</dd>", html_escape(value));
    };
    item("title", &s.title);
    item("spec", &format!("{} ({})", s.spec, s.level.as_str()));
    if let Some(reason) = &s.reason {
        item("reason", reason);
    }
    if let Some(f) = &s.finding {
        if !f.message.is_empty() && s.reason.as_deref() != Some(f.message.as_str()) {
            item("finding", &f.message);
        }
        if let Some(step) = step_text(f) {
            item("step", &step);
        }
        if let Some(c) = &f.command {
            item("last command", c);
        }
    }
    if s.known_failure {
        item("known failure", "listed in the run's --known-failures file");
    }
    out.push_str("</dl>\n");
    if let Some(f) = s
        .finding
        .as_ref()
        .filter(|f| !f.expected.is_empty() || !f.actual.is_empty())
    {
        out.push_str("<div class=\"ea\">\n<div><h4>expected</h4>\n");
        html_pre(out, f.expected.iter().cloned());
        out.push_str("</div>\n<div><h4>actual</h4>\n");
        html_pre(out, f.actual.iter().cloned());
        out.push_str("</div>\n</div>\n");
    }
    if !s.transcript.is_empty() {
        let shown = tail(s);
        let _ = writeln!(
            out,
            "<h4>transcript (last {} of {} lines)</h4>",
            shown.len(),
            s.transcript.len()
        );
        html_pre(out, shown.iter().map(transcript_line));
    }
    let _ = writeln!(
        out,
        "<p><a href=\"#{}\">↑ back to the matrix</a></p>\n</section>",
        row_anchor(&s.id)
    );
}

// -------------------------------------------------------------- Markdown

/// Inline Markdown text safe in a table cell or list item: HTML specials as
/// entities, Markdown punctuation backslash-escaped, line breaks as `<br>`.
pub fn md(text: &str) -> String {
    let text = visible(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' => out.push_str("<br>"),
            '\r' => {}
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '#' | '!' | '(' | ')' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A `<pre>` block (an HTML block in Markdown: its content is not Markdown, and
/// escaping `<` keeps `</pre>` from closing it early).
fn md_pre(out: &mut String, lines: impl IntoIterator<Item = String>) {
    let lines: Vec<String> = lines
        .into_iter()
        .map(|l| {
            html_escape(&l)
                .replace('\n', " ")
                .replace("&#39;", "'")
                .replace("&quot;", "\"")
        })
        .collect();
    let _ = writeln!(out, "<pre>\n{}\n</pre>\n", lines.join("\n"));
}

fn md_cell(m: &Matrix, row: &Row, col: usize) -> String {
    let s = m.cell(row, col);
    let (sym, word, _) = mark(s.map(|s| s.outcome));
    let known = if s.is_some_and(|s| s.known_failure) {
        " (known)"
    } else {
        ""
    };
    match s {
        Some(s) if has_detail(s) => {
            format!("[{sym} {word}{known}](#{})", detail_anchor(col, &row.id))
        }
        _ => format!("{sym} {word}{known}"),
    }
}

/// The whole report as Markdown (GitHub flavour): a table per RFC, then details.
pub fn markdown(m: &Matrix) -> String {
    let mut out = String::new();
    let n = m.servers.len();
    let (noun, heading) = (m.subject.noun(), m.subject.heading());
    let _ = writeln!(out, "# {}\n", m.subject.title());
    let _ = writeln!(
        out,
        "{} scenario(s) on {n} {noun}(s), written by `pop3spec report` {} from `{}` results. \
         Every cell that did not pass links to its entry under [Details](#details).\n",
        m.rows().count(),
        env!("CARGO_PKG_VERSION"),
        m.subject.command(),
    );

    let _ = write!(
        out,
        "## {heading}\n\n| {noun} | target | result file | strict |"
    );
    for o in OUTCOMES.map(Some).into_iter().chain([None]) {
        let (sym, word, _) = mark(o);
        let _ = write!(out, " {sym} {word} |");
    }
    out.push_str(" known failures | total |\n| --- | --- | --- | --- |");
    out.push_str(&" ---: |".repeat(OUTCOMES.len() + 3));
    out.push('\n');
    for (col, s) in m.servers.iter().enumerate() {
        let c = m.counts(col);
        let _ = write!(
            out,
            "| {} | <code>{}</code> | <code>{}</code> | {} |",
            md(&s.label),
            md(&s.doc.target),
            md(&s.source.display().to_string()),
            if s.doc.strict { "yes" } else { "no" }
        );
        for o in OUTCOMES {
            let _ = write!(out, " {} |", c.get(o));
        }
        let _ = writeln!(out, " {} | {} | {} |", c.not_run, c.known_failures, c.ran());
    }

    out.push_str("\nLegend:\n\n");
    for (o, text) in m.subject.legend() {
        let (sym, word, _) = mark(o);
        let _ = writeln!(out, "- {sym} {word}: {}", md(&text));
    }
    out.push_str("- (known): listed in the run's \\-\\-known\\-failures file\n");

    out.push_str("\n## Matrix\n\n");
    let links: Vec<String> = m
        .groups
        .iter()
        .map(|g| {
            format!(
                "[{}](#{}) ({})",
                md(&g.name),
                group_anchor(&g.name),
                g.rows.len()
            )
        })
        .collect();
    let _ = writeln!(out, "{}\n", links.join(" · "));
    let header = {
        let mut h = String::from("| scenario | level |");
        for s in &m.servers {
            let _ = write!(h, " {} |", md(&s.label));
        }
        h.push_str("\n| --- | --- |");
        h.push_str(&" :---: |".repeat(n));
        h
    };
    for g in &m.groups {
        let _ = writeln!(
            out,
            "<a id=\"{}\"></a>\n\n### {}\n\n{header}",
            group_anchor(&g.name),
            md(&g.name)
        );
        let _ = write!(out, "| **summary** | |");
        for col in 0..n {
            let mut c = Counts::default();
            for row in &g.rows {
                match m.cell(row, col) {
                    None => c.not_run += 1,
                    Some(s) => {
                        c.outcomes[OUTCOMES.iter().position(|o| *o == s.outcome).unwrap_or(0)] += 1
                    }
                }
            }
            let _ = write!(out, " {} |", tally_text(&c));
        }
        out.push('\n');
        for row in &g.rows {
            let meta = m.meta(row);
            let _ = write!(
                out,
                "| <a id=\"{}\"></a><code>{}</code> | {} |",
                row_anchor(&row.id),
                md(&row.id),
                meta.level.as_str()
            );
            for col in 0..n {
                let _ = write!(out, " {} |", md_cell(m, row, col));
            }
            out.push('\n');
        }
        out.push('\n');
    }

    out.push_str("## Details\n\n");
    let mut any = false;
    for (col, s) in m.detailed_cells() {
        any = true;
        md_detail(&mut out, m, col, s);
    }
    if !any {
        let _ = writeln!(out, "Every scenario passed on every {noun}.");
    }
    out
}

fn md_detail(out: &mut String, m: &Matrix, col: usize, s: &Scenario) {
    let (sym, word, _) = mark(Some(s.outcome));
    let _ = writeln!(
        out,
        "<a id=\"{}\"></a>\n\n### {sym} {word}: <code>{}</code> on {}\n",
        detail_anchor(col, &s.id),
        md(&s.id),
        md(&m.servers[col].label)
    );
    let _ = writeln!(
        out,
        "- title: {}\n- spec: {} ({})",
        md(&s.title),
        md(&s.spec),
        s.level.as_str()
    );
    if let Some(reason) = &s.reason {
        let _ = writeln!(out, "- reason: {}", md(reason));
    }
    if let Some(f) = &s.finding {
        if !f.message.is_empty() && s.reason.as_deref() != Some(f.message.as_str()) {
            let _ = writeln!(out, "- finding: {}", md(&f.message));
        }
        if let Some(step) = step_text(f) {
            let _ = writeln!(out, "- step: <code>{}</code>", md(&step));
        }
        if let Some(c) = &f.command {
            let _ = writeln!(out, "- last command: <code>{}</code>", md(c));
        }
    }
    if s.known_failure {
        out.push_str("- known failure: listed in the run's \\-\\-known\\-failures file\n");
    }
    out.push('\n');
    if let Some(f) = s
        .finding
        .as_ref()
        .filter(|f| !f.expected.is_empty() || !f.actual.is_empty())
    {
        let lines = std::iter::once("expected:".to_string())
            .chain(f.expected.iter().map(|l| format!("  {l}")))
            .chain(std::iter::once("actual:".to_string()))
            .chain(f.actual.iter().map(|l| format!("  {l}")));
        md_pre(out, lines);
    }
    if !s.transcript.is_empty() {
        let shown = tail(s);
        let _ = writeln!(
            out,
            "Transcript (last {} of {} lines):\n",
            shown.len(),
            s.transcript.len()
        );
        md_pre(out, shown.iter().map(transcript_line));
    }
    let _ = writeln!(out, "[↑ back to the matrix](#{})\n", row_anchor(&s.id));
}

// --------------------------------------------------------------- command

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

/// `pop3spec report`: exit 0 when both files were written, 2 on bad input, 1
/// when an output cannot be written.
pub fn command(args: ReportArgs) -> u8 {
    let servers = match load_servers(&args.names, &args.files) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let matrix = Matrix::new(servers);
    for (path, text) in [
        (&args.html, html(&matrix)),
        (&args.markdown, markdown(&matrix)),
    ] {
        if let Err(e) = write_file(path, &text) {
            eprintln!("error: {e}");
            return EXIT_FAILED;
        }
    }
    for (col, s) in matrix.servers.iter().enumerate() {
        println!("{}: {}", s.label, tally_text(&matrix.counts(col)));
    }
    println!(
        "wrote {} and {}",
        args.html.display(),
        args.markdown.display()
    );
    EXIT_OK
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
}
