//! From files to validated `Scenario`s. Everything that can be wrong with a file
//! without connecting anywhere is found here and reported with its position:
//! YAML syntax, unknown keys, wrong types, bad regexes and templates, unknown
//! fixtures, duplicate ids, variables used before anything defines them.

use super::raw::{
    self, RawConnect, RawExpectClose, RawLogin, RawScenario, RawStep, RawTlsHandshake, S,
};
use super::*;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Variables every scenario may use without defining them.
pub const BUILTIN_VARS: &[&str] = &[
    "user",
    "pass",
    "user2",
    "pass2",
    "long_user",
    "long_pass",
    "greeting",
    "timestamp",
    "greeting_main",
    "timestamp_main",
    "settle",
    "silence",
];

/// Defaults of the timing variables: how long a scenario lets a server act on a
/// dropped connection (`settle`) and how long it watches for bytes that must not
/// come (`silence`). Real servers get a patient second; the bundled server,
/// which acts at once on loopback, less (`--var` overrides both).
pub const TIMING_DEFAULTS: &[(&str, &str)] = &[("settle", "1s"), ("silence", "1s")];

/// The coverage map's list of RFC requirements (`pop3spec list --coverage`), kept
/// in the scenario folder but not a scenario: folder walks skip it.
pub const REQUIREMENTS_FILE: &str = "requirements.yaml";

/// The folder name of client scenarios (`pop3spec client`), another schema:
/// server folder walks skip it.
pub const CLIENT_DIR: &str = "client";

/// A loaded set of scenario files and everything wrong with them.
#[derive(Debug, Default)]
pub struct Suite {
    pub scenarios: Vec<Scenario>,
    pub problems: Vec<Problem>,
}

/// A diagnostic together with the text of its file, so it can show a snippet.
#[derive(Debug, Clone)]
pub struct Problem {
    pub diagnostic: Diagnostic,
    pub source: Option<Arc<str>>,
}

impl Problem {
    pub fn render(&self) -> String {
        self.diagnostic.render(self.source.as_deref())
    }
}

/// Scenario files below `paths` (files are taken as given; folders are walked for
/// `*.yaml`/`*.yml`, skipping `fixtures/` and the client suite `client/`), in a stable order. Only regular
/// files are read (a FIFO would block the loader for good); entries left out
/// and symbolic-link loops are printed as warnings on stderr, each once.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let (files, notes) = discover_noting(paths)?;
    for note in notes {
        eprintln!("warning: {note}");
    }
    Ok(files)
}

/// [`discover`], returning the warnings instead of printing them.
pub fn discover_noting(paths: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<String>), String> {
    let mut out = Vec::new();
    let mut notes = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut ancestors = Vec::new();
            walk(p, &mut ancestors, &mut out, &mut notes)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        } else if p.is_file() {
            out.push(p.clone());
        } else if let Some(kind) = not_regular(p) {
            return Err(format!(
                "{}: {kind}, not a scenario file; give a regular file or a folder",
                p.display()
            ));
        } else {
            return Err(format!("{}: no such file or folder", p.display()));
        }
    }
    out.sort();
    // One file reached by two spellings (`scenarios/x.yaml` and
    // `./scenarios/x.yaml`, a symlink, `--add` inside the suite) is read
    // once: read twice, its ids would be reported as duplicates of themselves.
    let mut seen = HashSet::new();
    out.retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
    Ok((out, notes))
}

/// What `path` is when it exists but is neither a regular file nor a folder.
fn not_regular(path: &Path) -> Option<String> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(path) {
        Ok(m) => {
            let t = m.file_type();
            Some(
                if t.is_fifo() {
                    "a FIFO (named pipe)"
                } else if t.is_char_device() || t.is_block_device() {
                    "a device"
                } else if t.is_socket() {
                    "a socket"
                } else {
                    "not a regular file"
                }
                .to_string(),
            )
            .filter(|_| !t.is_file() && !t.is_dir())
        }
        // ELOOP: a link that leads back to itself.
        Err(e) if e.raw_os_error() == Some(40) => Some("a symbolic-link loop".into()),
        Err(_) if std::fs::symlink_metadata(path).is_ok() => {
            Some("a symbolic link to nothing".into())
        }
        Err(_) => None,
    }
}

/// `ancestors` are the folders being walked (resolved), so a link back to one
/// of them is reported as a loop once instead of read again and again.
fn walk(
    dir: &Path,
    ancestors: &mut Vec<PathBuf>,
    out: &mut Vec<PathBuf>,
    notes: &mut Vec<String>,
) -> std::io::Result<()> {
    let resolved = std::fs::canonicalize(dir)?;
    if ancestors.contains(&resolved) {
        notes.push(format!(
            "{}: a symbolic-link loop (it leads back to {}); left out",
            dir.display(),
            resolved.display()
        ));
        return Ok(());
    }
    ancestors.push(resolved);
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let is_yaml =
            (name.ends_with(".yaml") || name.ends_with(".yml")) && name != REQUIREMENTS_FILE;
        if path.is_dir() {
            // client/ holds client scenarios (`pop3spec client`), another schema.
            if name != "fixtures" && name != CLIENT_DIR && !name.starts_with('.') {
                walk(&path, ancestors, out, notes)?;
            }
        } else if path.is_file() {
            if is_yaml {
                out.push(path);
            }
        } else if is_yaml {
            if let Some(kind) = not_regular(&path) {
                notes.push(format!(
                    "{}: {kind}, not a scenario file; left out",
                    path.display()
                ));
            }
        }
    }
    ancestors.pop();
    Ok(())
}

/// Loads every file and runs the checks that span files. `known_vars` are the
/// names given with `--var`, which any scenario may use.
pub fn load_suite(files: &[PathBuf], known_vars: &BTreeSet<String>) -> Suite {
    let mut suite = Suite::default();
    // Parsing (and compiling each scenario's regexes) is most of a run's fixed
    // start-up cost, so the files are split over the cores; results keep the
    // files' order.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = files.len().div_ceil(threads).max(1);
    let loaded: Vec<Vec<Result<Scenario, Vec<Problem>>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || part.iter().map(|f| load_file(f, known_vars)).collect())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a loader thread panicked"))
            .collect()
    });
    let mut on_disk: Vec<&Path> = Vec::new();
    for (path, result) in files.iter().zip(loaded.into_iter().flatten()) {
        match result {
            Ok(s) => {
                suite.scenarios.push(s);
                on_disk.push(path);
            }
            Err(problems) => suite.problems.extend(problems),
        }
    }
    check_requirement_ids(&mut suite, &on_disk);
    let mut seen: HashMap<String, SourcePos> = HashMap::new();
    for s in &suite.scenarios {
        if let Some(first) = seen.get(&s.id) {
            suite.problems.push(Problem {
                diagnostic: Diagnostic::new(s.id_pos.clone(), format!("duplicate id `{}`", s.id))
                    .with_hint(format!(
                        "first used at {first}; ids must be unique across the suite"
                    )),
                source: Some(s.source.clone()),
            });
        } else {
            seen.insert(s.id.clone(), s.id_pos.clone());
        }
    }
    suite
}

/// Every id in a scenario's `checks:` must be listed in the requirements.yaml
/// that governs its file (`requirements::requirements_for`, from where the file
/// lies on disk: `on_disk[i]` for `suite.scenarios[i]`); an unknown one is a
/// problem at its position, as is a requirements.yaml that cannot be read.
fn check_requirement_ids(suite: &mut Suite, on_disk: &[&Path]) {
    let mut governing: HashMap<PathBuf, Option<PathBuf>> = HashMap::new();
    let mut known: HashMap<PathBuf, Result<BTreeSet<String>, String>> = HashMap::new();
    let mut problems = Vec::new();
    for (s, path) in suite.scenarios.iter().zip(on_disk) {
        if s.checks.is_empty() {
            continue;
        }
        let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let Some(file) = governing
            .entry(folder)
            .or_insert_with(|| super::requirements::requirements_for(path))
            .clone()
        else {
            continue;
        };
        let ids = known
            .entry(file.clone())
            .or_insert_with(|| super::requirements::Requirements::load(&file).map(|r| r.ids()));
        let problem = |pos: &SourcePos, message: String, hint: String| Problem {
            diagnostic: Diagnostic::new(pos.clone(), message).with_hint(hint),
            source: Some(s.source.clone()),
        };
        match ids {
            Err(e) => problems.push(problem(
                &s.checks_pos[0],
                format!("cannot check the requirement ids: {e}"),
                "fix the requirements file first".into(),
            )),
            Ok(ids) => {
                for (id, pos) in s.checks.iter().zip(&s.checks_pos) {
                    if !ids.contains(id) {
                        problems.push(problem(
                            pos,
                            format!("unknown requirement `{id}` in checks"),
                            format!(
                                "name ids listed in {} (see scenarios/COVERAGE.md)",
                                crate::suite::display_path(&file).display()
                            ),
                        ));
                    }
                }
            }
        }
    }
    suite.problems.extend(problems);
}

/// Loads one file; a file of the built-in suite is named by its path inside
/// the suite (`scenarios/...`) in positions, while its fixtures are looked up
/// beside it on disk.
pub fn load_file(on_disk: &Path, known_vars: &BTreeSet<String>) -> Result<Scenario, Vec<Problem>> {
    let shown = crate::suite::display_path(on_disk);
    let file = shown.as_path();
    let bytes = std::fs::read(on_disk).map_err(|e| {
        vec![Problem {
            diagnostic: Diagnostic::new(pos_at(file, 1, 1), format!("cannot read file: {e}")),
            source: None,
        }]
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let (line, col) = line_col(
            &String::from_utf8_lossy(e.as_bytes()),
            e.utf8_error().valid_up_to(),
        );
        vec![Problem {
            diagnostic: Diagnostic::new(pos_at(file, line, col), "the file is not valid UTF-8"),
            source: None,
        }]
    })?;
    let source: Arc<str> = Arc::from(text.as_str());
    load_named(file, on_disk, source, known_vars)
}

pub fn load_str(
    file: &Path,
    source: Arc<str>,
    known_vars: &BTreeSet<String>,
) -> Result<Scenario, Vec<Problem>> {
    load_named(file, file, source, known_vars)
}

/// [`load_str`] for a file named `file` in messages that lies at `on_disk`,
/// where its fixtures are looked for.
fn load_named(
    file: &Path,
    on_disk: &Path,
    source: Arc<str>,
    known_vars: &BTreeSet<String>,
) -> Result<Scenario, Vec<Problem>> {
    let wrap = |diagnostics: Vec<Diagnostic>| with_source(diagnostics, &source);
    let raw: RawScenario = parse_yaml(
        file,
        &source,
        "see docs/scenario-format.md for the keys a scenario file may use",
    )?;
    let mut cx = Converter {
        file,
        on_disk,
        source: &source,
        problems: Vec::new(),
    };
    let scenario = cx.scenario(raw, known_vars);
    if cx.problems.is_empty() {
        Ok(scenario.expect("a scenario is built whenever no problem was recorded"))
    } else {
        Err(wrap(cx.problems))
    }
}

/// Diagnostics of one file as problems that carry its text (for snippets).
pub fn with_source(diagnostics: Vec<Diagnostic>, source: &Arc<str>) -> Vec<Problem> {
    diagnostics
        .into_iter()
        .map(|diagnostic| Problem {
            diagnostic,
            source: Some(source.clone()),
        })
        .collect()
}

/// The file's YAML as `T`, or the parser's problem (file:line:col) with `hint`.
pub fn parse_yaml<T: serde::de::DeserializeOwned>(
    file: &Path,
    source: &Arc<str>,
    hint: &str,
) -> Result<T, Vec<Problem>> {
    serde_saphyr::from_str(source).map_err(|e| {
        with_source(
            vec![Diagnostic::from_yaml(file, &e).with_hint(hint)],
            source,
        )
    })
}

fn pos_at(file: &Path, line: u32, column: u32) -> SourcePos {
    SourcePos {
        file: file.to_path_buf(),
        line,
        column,
    }
}

fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() as u32 + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
    (line, col)
}

struct Converter<'a> {
    file: &'a Path,
    on_disk: &'a Path,
    source: &'a str,
    problems: Vec<Diagnostic>,
}

impl Converter<'_> {
    fn pos<T>(&self, s: &S<T>) -> SourcePos {
        pos_at(
            self.file,
            s.referenced.line() as u32,
            s.referenced.column() as u32,
        )
    }

    fn problem(&mut self, pos: SourcePos, message: impl Into<String>, hint: Option<String>) {
        let mut d = Diagnostic::new(pos, message);
        d.hint = hint;
        self.problems.push(d);
    }

    fn scenario(&mut self, raw: RawScenario, known_vars: &BTreeSet<String>) -> Option<Scenario> {
        let id_pos = self.pos(&raw.id);
        let id = raw.id.value.trim().to_string();
        let id_ok = !id.is_empty()
            && id.split('.').all(|part| {
                !part.is_empty()
                    && part.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
                    })
            });
        if !id_ok {
            self.problem(
                id_pos.clone(),
                format!("`{id}` is not a valid id"),
                Some("use lower-case dotted words, e.g. rfc1939.greeting.ok-first-line".into()),
            );
        }
        let level = match raw.level.value.as_str() {
            "must" => Level::Must,
            "should" => Level::Should,
            "info" => Level::Info,
            other => {
                let p = self.pos(&raw.level);
                self.problem(
                    p,
                    format!("unknown level `{other}`"),
                    Some("use must, should or info".into()),
                );
                Level::Must
            }
        };
        let state = match raw.state.as_ref().map(|s| s.value.as_str()) {
            None | Some("authorization") => State::Authorization,
            Some("transaction") => State::Transaction,
            Some("connected") => State::Connected,
            Some(other) => {
                let p = self.pos(raw.state.as_ref().unwrap());
                self.problem(
                    p,
                    format!("unknown state `{other}`"),
                    Some("use connected, authorization or transaction".into()),
                );
                State::Authorization
            }
        };
        let timeout = raw.timeout.as_ref().and_then(|t| self.duration(t));
        let fixture_dir = self.fixture(raw.fixture.as_ref());
        let fixture2_dir = self.fixture(raw.fixture2.as_ref());
        if let Err(e) = super::spec::rfc_citations(&raw.spec.value) {
            let p = self.pos(&raw.spec);
            self.problem(
                p,
                format!("spec `{}` cannot be read: {e}", raw.spec.value),
                Some("write the RFC and section(s), e.g. `RFC 1939 §6`, `RFC 1939 §4, §8`, `RFC 1939 §5 (LIST)` or `RFC 2449 §8.1.2; RFC 5034 §4`".into()),
            );
        }
        for r in &raw.requires {
            if let Err(msg) = check_requirement(&r.value) {
                let p = self.pos(r);
                self.problem(p, msg, Some(REQUIREMENT_HINT.into()));
            }
        }
        let vars: BTreeMap<String, String> = raw
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect();
        let mut defined: BTreeSet<String> = BUILTIN_VARS.iter().map(|s| s.to_string()).collect();
        defined.extend(known_vars.iter().cloned());
        defined.extend(vars.keys().cloned());
        let mut sessions: BTreeSet<String> = [MAIN_SESSION.to_string()].into();
        let steps = self.steps(raw.steps, &mut defined, &mut sessions, false);
        if steps.is_empty() && self.problems.is_empty() {
            self.problem(id_pos.clone(), "the scenario has no steps", None);
        }
        Some(Scenario {
            id,
            title: raw.title.value,
            spec: raw.spec.value,
            requirement: raw.requirement.value,
            level,
            tags: raw.tags.into_iter().map(|t| t.value).collect(),
            requires: raw.requires.into_iter().map(|r| r.value).collect(),
            state,
            fixture: raw.fixture.map(|f| f.value),
            fixture_dir,
            fixture2: raw.fixture2.map(|f| f.value),
            fixture2_dir,
            checks_pos: raw.checks.iter().map(|c| self.pos(c)).collect(),
            checks: raw
                .checks
                .into_iter()
                .map(|c| c.value.trim().to_string())
                .collect(),
            catches_pos: raw.catches.iter().map(|c| self.pos(c)).collect(),
            catches: raw.catches.into_iter().map(|c| c.value).collect(),
            timeout,
            vars,
            steps,
            file: self.file.to_path_buf(),
            source: Arc::from(self.source),
            id_pos,
        })
    }

    /// The folder of a named fixture; an unknown name is a problem at its position.
    fn fixture(&mut self, name: Option<&S<String>>) -> Option<PathBuf> {
        let f = name?;
        let dir = find_fixture(self.on_disk, &f.value);
        if dir.is_none() {
            let p = self.pos(f);
            self.problem(
                p,
                format!("unknown fixture `{}`", f.value),
                Some(format!("fixtures are folders of .eml files in a `fixtures/` folder beside or above the scenario, or built in: {}", crate::suite::builtin_fixture_names().join(", "))),
            );
        }
        dir
    }

    fn duration(&mut self, s: &S<String>) -> Option<Duration> {
        match parse_duration(&s.value) {
            Ok(d) => Some(d),
            Err(e) => {
                let p = self.pos(s);
                self.problem(p, e, None);
                None
            }
        }
    }

    fn steps(
        &mut self,
        raw: Vec<S<RawStep>>,
        defined: &mut BTreeSet<String>,
        sessions: &mut BTreeSet<String>,
        in_alternative: bool,
    ) -> Vec<Step> {
        let mut out = Vec::new();
        for item in raw {
            let pos = self.pos(&item);
            if let Some(step) = self.step(item.value, pos, defined, sessions, in_alternative) {
                out.push(step);
            }
        }
        out
    }

    /// The column where a template's text starts, so errors inside it point at the character.
    fn template(&mut self, s: &S<String>, defined: &BTreeSet<String>) -> Option<Template> {
        let pos = self.pos(s);
        match Template::parse(&s.value) {
            Ok(t) => {
                for v in t.variables() {
                    if !defined.contains(v) {
                        self.problem(
                            pos.clone(),
                            format!("variable `{v}` is not defined before this step"),
                            Some(undefined_hint(defined)),
                        );
                    }
                }
                Some(t)
            }
            Err(e) => {
                let column = pos.column + self.offset_in_value(&pos, &s.value, e.offset);
                self.problem(SourcePos { column, ..pos }, e.message, None);
                None
            }
        }
    }

    fn offset_in_value(&self, pos: &SourcePos, value: &str, offset: usize) -> u32 {
        let Some(line) = self.source.lines().nth(pos.line as usize - 1) else {
            return 0;
        };
        let at: String = line.chars().skip(pos.column as usize - 1).collect();
        let prefix = &value[..offset.min(value.len())];
        if at.starts_with(prefix) {
            prefix.chars().count() as u32
        } else if (at.starts_with('"') || at.starts_with('\'')) && at[1..].starts_with(prefix) {
            prefix.chars().count() as u32 + 1
        } else {
            0
        }
    }

    /// A regex, or with `{{name}}` in it a pattern filled in when the step
    /// runs; checked here with every variable standing for a plain word.
    fn regex(&mut self, s: &S<String>, defined: &mut BTreeSet<String>) -> Option<Pattern> {
        let templated = if s.value.contains("{{") {
            let t = self.template(s, defined)?;
            if t.calls_functions() {
                let p = self.pos(s);
                self.problem(
                    p,
                    "a regular expression may use variables but not functions",
                    Some(
                        "capture the function's value with a step before, or match it with `line:`"
                            .into(),
                    ),
                );
                return None;
            }
            Some(t)
        } else {
            None
        };
        let checked = match &templated {
            Some(t) => {
                let words: Vars = t
                    .variables()
                    .into_iter()
                    .map(|v| {
                        (
                            v.to_string(),
                            Value {
                                text: "x".into(),
                                secret: false,
                            },
                        )
                    })
                    .collect();
                t.render(&words, false)
                    .map(|r| r.text())
                    .unwrap_or_default()
            }
            None => s.value.clone(),
        };
        match Regex::new(&checked) {
            Ok(r) => {
                defined.extend(r.capture_names().flatten().map(str::to_string));
                Some(match templated {
                    Some(t) => Pattern::WithVariables(t),
                    None => Pattern::Fixed(r),
                })
            }
            Err(e) => {
                let p = self.pos(s);
                self.problem(p, format!("invalid regular expression: {e}"), None);
                None
            }
        }
    }

    fn step(
        &mut self,
        raw: RawStep,
        pos: SourcePos,
        defined: &mut BTreeSet<String>,
        sessions: &mut BTreeSet<String>,
        in_alternative: bool,
    ) -> Option<Step> {
        let mut session = raw.session.as_ref().map(|s| s.value.clone());
        let mut actions = Vec::new();
        macro_rules! present {
            ($($field:ident),*) => { $( if raw.$field.is_some() { actions.push(stringify!($field)); } )* };
        }
        present!(
            send,
            send_raw,
            expect,
            expect_multiline,
            expect_close,
            expect_silence,
            connect,
            reconnect,
            disconnect,
            login,
            tls_handshake,
            tls_legacy_hello,
            one_of,
            assert,
            sleep
        );
        if actions.len() != 1 {
            let msg = if actions.is_empty() {
                "the step has no action".to_string()
            } else {
                format!("the step has several actions: {}", actions.join(", "))
            };
            self.problem(
                pos,
                msg,
                Some("a step is one of send, send_raw, expect, expect_multiline, expect_close, expect_silence, connect, reconnect, disconnect, login, tls_handshake, tls_legacy_hello, one_of, assert, sleep (plus an optional session)".into()),
            );
            return None;
        }
        let name = actions[0];
        let mut set_session = |this: &mut Self, from: Option<String>, at: &SourcePos| {
            if let Some(from) = from {
                match &session {
                    Some(s) if *s != from => this.problem(
                        at.clone(),
                        format!("session `{from}` contradicts `session: {s}` of the same step"),
                        None,
                    ),
                    _ => session = Some(from),
                }
            }
        };
        let action = match name {
            "send" => Action::Send(self.template(raw.send.as_ref()?, defined)?),
            "send_raw" => Action::SendRaw(self.template(raw.send_raw.as_ref()?, defined)?),
            "expect" => {
                let e = raw.expect?;
                Action::Expect(self.expect_line(e.value, defined)?)
            }
            "expect_multiline" => Action::ExpectMultiline(Box::new(
                self.expect_multiline(raw.expect_multiline?.value, defined)?,
            )),
            "expect_close" => {
                let v = raw.expect_close?;
                let pos = self.pos(&v);
                match v.value {
                    RawExpectClose::Flag(flag) => {
                        if !flag {
                            self.problem(
                                pos,
                                "`expect_close: false` means nothing; remove the step",
                                None,
                            );
                        }
                        Action::ExpectClose {
                            within: None,
                            close_notify: false,
                            allow_line: false,
                        }
                    }
                    RawExpectClose::Options(o) => {
                        let within = match o.within {
                            Some(w) => {
                                let w = S::new(w, v.referenced, v.defined);
                                Some(self.duration_template(&w, defined)?)
                            }
                            None => None,
                        };
                        Action::ExpectClose {
                            within,
                            close_notify: o.close_notify.unwrap_or(false),
                            allow_line: o.allow_line.unwrap_or(false),
                        }
                    }
                }
            }
            "expect_silence" => Action::ExpectSilence(
                self.duration_template(raw.expect_silence.as_ref()?, defined)?,
            ),
            "sleep" => Action::Sleep(self.duration_template(raw.sleep.as_ref()?, defined)?),
            "tls_handshake" => {
                let v = raw.tls_handshake?;
                let pos = self.pos(&v);
                let (or_close, judge_certificate) = match v.value {
                    RawTlsHandshake::Flag(flag) => {
                        if !flag {
                            self.problem(
                                pos,
                                "`tls_handshake: false` means nothing; remove the step",
                                None,
                            );
                        }
                        (false, false)
                    }
                    RawTlsHandshake::Options(o) => (
                        o.or_close.unwrap_or(false),
                        o.judge_certificate.unwrap_or(false),
                    ),
                };
                Action::TlsHandshake {
                    or_close,
                    judge_certificate,
                }
            }
            "tls_legacy_hello" => {
                let v = raw.tls_legacy_hello?;
                let code = match v.value.trim().to_ascii_lowercase().as_str() {
                    "ssl3" => Some(0x0300),
                    "1.0" => Some(0x0301),
                    _ => None,
                };
                match code {
                    Some(code) => Action::TlsLegacyHello(code),
                    None => {
                        let pos = self.pos(&v);
                        self.problem(
                            pos,
                            format!(
                                "`{}` is not an old TLS version this step can offer",
                                v.value
                            ),
                            Some("use \"1.0\" (TLS 1.0) or ssl3 (SSL 3.0)".into()),
                        );
                        return None;
                    }
                }
            }
            "connect" | "reconnect" | "disconnect" => {
                let v = match name {
                    "connect" => raw.connect?,
                    "reconnect" => raw.reconnect?,
                    _ => raw.disconnect?,
                };
                let vpos = self.pos(&v);
                let (from, login, tls) = match v.value {
                    RawConnect::Flag(true) => (None, None, None),
                    RawConnect::Flag(false) => {
                        self.problem(
                            vpos.clone(),
                            format!("`{name}: false` means nothing; remove the step"),
                            None,
                        );
                        (None, None, None)
                    }
                    RawConnect::Name(n) => (Some(n), None, None),
                    RawConnect::Full(f) => (f.session, f.login, f.tls),
                };
                set_session(self, from, &vpos);
                if name == "disconnect" && login.is_some() {
                    self.problem(vpos.clone(), "`disconnect` takes no `login`", None);
                }
                if name != "connect" && tls.is_some() {
                    self.problem(vpos, format!("`{name}` takes no `tls`; open a TLS session with `connect: {{session: NAME, tls: true}}`"), None);
                }
                match name {
                    "connect" => Action::Connect {
                        login,
                        implicit_tls: tls.unwrap_or(false),
                    },
                    "reconnect" => Action::Reconnect { login },
                    _ => Action::Disconnect,
                }
            }
            "login" => {
                let v = raw.login?;
                let vpos = self.pos(&v);
                match v.value {
                    RawLogin::Flag(_) => Action::Login {
                        user: None,
                        pass: None,
                    },
                    RawLogin::Full(f) => {
                        set_session(self, f.session, &vpos);
                        let mut t = |s: Option<String>| {
                            s.map(|s| self.template(&S::new(s, v.referenced, v.defined), defined))
                        };
                        let user = t(f.user);
                        let pass = t(f.pass);
                        Action::Login {
                            user: user.map(|u| u.unwrap_or_else(|| Template::literal(""))),
                            pass: pass.map(|p| p.unwrap_or_else(|| Template::literal(""))),
                        }
                    }
                }
            }
            "assert" => {
                let a = raw.assert?;
                match Assertion::parse(&a.value) {
                    Ok(assertion) => {
                        for v in assertion.variables() {
                            if !defined.contains(v) {
                                let p = self.pos(&a);
                                self.problem(
                                    p,
                                    format!("variable `{v}` is not defined before this step"),
                                    Some(undefined_hint(defined)),
                                );
                            }
                        }
                        Action::Assert(assertion)
                    }
                    Err(e) => {
                        let p = self.pos(&a);
                        self.problem(
                            p,
                            e,
                            Some("e.g. `count == before - 1` or `uid1 != uid2`".into()),
                        );
                        return None;
                    }
                }
            }
            "one_of" => {
                let alts = raw.one_of?;
                if alts.value.is_empty() {
                    let p = self.pos(&alts);
                    self.problem(p, "`one_of` needs at least one alternative", None);
                }
                let mut out = Vec::new();
                let before = defined.clone();
                for alt in alts.value {
                    let grade = match alt.value.grade.value.as_str() {
                        "pass" => Grade::Pass,
                        "non-strict" => Grade::NonStrict,
                        "fail" => Grade::Fail,
                        "skip" => Grade::Skip,
                        other => {
                            let p = self.pos(&alt.value.grade);
                            self.problem(
                                p,
                                format!("unknown grade `{other}`"),
                                Some("use pass, non-strict, fail or skip".into()),
                            );
                            Grade::Fail
                        }
                    };
                    let mut inner = before.clone();
                    let steps = self.steps(alt.value.steps, &mut inner, sessions, true);
                    defined.extend(inner);
                    out.push(Alternative {
                        grade,
                        note: alt.value.note,
                        steps,
                    });
                }
                Action::OneOf(out)
            }
            _ => unreachable!("every action name is handled"),
        };
        let session = session.unwrap_or_else(|| MAIN_SESSION.to_string());
        if matches!(action, Action::Connect { .. }) {
            if session == MAIN_SESSION {
                self.problem(pos.clone(), "`connect` opens a new named session; the main session is opened by the harness", Some("write `connect: second` and `session: second` on the steps that use it".into()));
            }
            sessions.insert(session.clone());
            defined.insert(format!("greeting_{session}"));
            defined.insert(format!("timestamp_{session}"));
        } else if !sessions.contains(&session) {
            self.problem(
                pos.clone(),
                format!("session `{session}` is used before a `connect` step opens it"),
                None,
            );
        }
        if in_alternative && !action.is_reading() {
            self.problem(
                pos.clone(),
                format!("`{name}` cannot stand in a `one_of` alternative"),
                Some("alternatives may only read and judge (expect, expect_multiline, expect_close, expect_silence, assert), so each can be tried on the same data".into()),
            );
        }
        Some(Step {
            pos,
            session,
            action,
        })
    }

    fn duration_template(&mut self, s: &S<String>, defined: &BTreeSet<String>) -> Option<Template> {
        let t = self.template(s, defined)?;
        if t.variables().is_empty() {
            self.duration(s)?;
        }
        Some(t)
    }

    fn status(&mut self, s: Option<S<String>>) -> StatusWant {
        match s.as_ref().map(|s| s.value.as_str()) {
            None | Some("ok") => StatusWant::Ok,
            Some("err") => StatusWant::Err,
            Some("any") => StatusWant::Any,
            Some("continue") => StatusWant::Continue,
            Some(other) => {
                let p = self.pos(s.as_ref().unwrap());
                self.problem(
                    p,
                    format!("unknown status `{other}`"),
                    Some("use ok, err or any".into()),
                );
                StatusWant::Any
            }
        }
    }

    fn expect_line(
        &mut self,
        raw: raw::RawExpect,
        defined: &mut BTreeSet<String>,
    ) -> Option<ExpectLine> {
        let status = self.status(raw.status);
        let line = match &raw.line {
            Some(l) => Some(self.template(l, defined)?),
            None => None,
        };
        let matches = match &raw.matches {
            Some(m) => Some(self.regex(m, defined)?),
            None => None,
        };
        let bare = |c: S<String>| c.value.trim_matches(|c| c == '[' || c == ']').to_string();
        Some(ExpectLine {
            status,
            code: raw.code.map(bare),
            code_syntax: raw.code_syntax.unwrap_or(false),
            not_code: raw.not_code.map(bare),
            line,
            matches,
        })
    }

    fn expect_multiline(
        &mut self,
        raw: raw::RawExpectMultiline,
        defined: &mut BTreeSet<String>,
    ) -> Option<ExpectMultiline> {
        let head = raw::RawExpect {
            status: raw.status,
            code: raw.code,
            code_syntax: raw.code_syntax,
            matches: raw.matches,
            ..Default::default()
        };
        let head = self.expect_line(head, defined)?;
        let templates = |this: &mut Self, items: &[S<String>], defined: &BTreeSet<String>| {
            items
                .iter()
                .filter_map(|i| this.template(i, defined))
                .collect::<Vec<_>>()
        };
        let lines = raw.lines.as_ref().map(|l| templates(self, l, defined));
        let ends_with = raw.ends_with.as_ref().map(|l| templates(self, l, defined));
        let contains = templates(self, &raw.contains, defined);
        let absent = templates(self, &raw.absent, defined);
        let contains_match = raw
            .contains_match
            .iter()
            .filter_map(|r| self.regex(r, defined))
            .collect();
        let absent_match = raw
            .absent_match
            .iter()
            .filter_map(|r| self.regex(r, defined))
            .collect();
        let each_line = raw.each_line.as_ref().and_then(|r| self.regex(r, defined));
        let count = raw.count.as_ref().and_then(|c| self.template(c, defined));
        let octets = raw.octets.as_ref().and_then(|c| self.template(c, defined));
        let contains_tags = match raw.contains_tags {
            Some(c) => Some(ContainsTags {
                tags: self.template(&c.tags, defined)?,
                except: c.except.iter().map(|t| t.to_ascii_uppercase()).collect(),
            }),
            None => None,
        };
        defined.extend(raw.capture_line.keys().cloned());
        defined.extend(raw.capture_tags.iter().map(|n| n.value.clone()));
        defined.insert("body_octets".into());
        Some(ExpectMultiline {
            head,
            lines,
            ends_with,
            contains,
            contains_match,
            absent,
            absent_match,
            each_line,
            count,
            octets,
            capture_line: raw
                .capture_line
                .into_iter()
                .map(|(k, v)| (k, v.value))
                .collect(),
            capture_tags: raw.capture_tags.map(|n| n.value),
            contains_tags,
        })
    }
}

fn undefined_hint(defined: &BTreeSet<String>) -> String {
    let names: Vec<&str> = defined.iter().map(String::as_str).collect();
    format!(
        "defined here: {}; add it under `vars:`, capture it with a named group `(?P<name>...)`, or pass --var NAME=VALUE",
        names.join(", ")
    )
}

const REQUIREMENT_HINT: &str = "use a CAPA tag in upper case (TOP, UIDL, USER, SASL PLAIN, STLS, PIPELINING, RESP-CODES, ...) or one of: capa, apop, apop-allowed, second-account, long-credentials, implicit-tls, certificate-verification, verbatim-fixture; `not X` asks that X is not announced / does not hold";

/// Harness-known conditions a scenario may require (see docs/scenario-format.md).
pub const CONDITIONS: &[&str] = &[
    "capa",
    "apop",
    "apop-allowed",
    "second-account",
    "long-credentials",
    "implicit-tls",
    "certificate-verification",
    "verbatim-fixture",
];

fn check_requirement(r: &str) -> Result<(), String> {
    let r = r.trim();
    // `not X`: X does not hold / is not announced (see docs/scenario-format.md).
    let r = r.strip_prefix("not ").map_or(r, str::trim);
    if CONDITIONS.contains(&r) {
        return Ok(());
    }
    let tag = r.split_whitespace().next().unwrap_or("");
    if !tag.is_empty()
        && tag
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Ok(());
    }
    Err(format!("`{r}` is neither a CAPA tag nor a known condition"))
}

/// The nearest `fixtures/NAME` folder in the scenario's folder or above it,
/// else the built-in suite's fixture of that name (so a user's own scenario
/// folder can use them without copying).
pub fn find_fixture(scenario_file: &Path, name: &str) -> Option<PathBuf> {
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return None;
    }
    let mut dir = scenario_file.parent();
    while let Some(d) = dir {
        let candidate = d.join("fixtures").join(name);
        if candidate.is_dir() {
            return Some(candidate);
        }
        dir = d.parent();
    }
    crate::suite::builtin_fixture(name)
}
