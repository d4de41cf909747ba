//! Test support: a scripted fake POP3 server on 127.0.0.1 and helpers that write
//! scenario files into a temporary folder and run the real `pop3spec` binary
//! against the fake server.
//!
//! The fake server is deliberately simple: one std thread accepts connections,
//! one thread per connection plays the [`Script`]. A script is a greeting plus
//! rules `command matcher → actions`; every line the client sends is matched
//! against the rules (the most recently added rule that matches wins), and its
//! actions run in order. The default script answers `CAPA` with `-ERR`, `QUIT`
//! with `+OK` followed by closing the connection, and anything else with `-ERR`,
//! which is all the harness's start-of-run probe needs.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the server does, in order, when a rule fires (or on connect).
#[derive(Clone, Debug)]
pub enum Act {
    /// Writes these bytes as they are.
    Send(Vec<u8>),
    /// Closes the connection (both directions) and ends the session.
    Close,
    /// Waits before the next action.
    Sleep(Duration),
    /// Stops answering for good: reads and discards everything until the client
    /// closes (the connection stays open).
    Hang,
    /// Aborts the connection: SO_LINGER 0 then close, so the client sees a TCP
    /// reset (ECONNRESET) rather than an orderly end of stream.
    Reset,
    /// Writes `chunk` over and over, `total` octets in all (the last copy cut
    /// short), without holding more than about 64 KiB in memory; `u64::MAX` is
    /// "until the client goes away". Stops quietly when a write fails.
    Stream { chunk: Vec<u8>, total: u64 },
}

type Matcher = Arc<dyn Fn(&str) -> bool + Send + Sync>;

#[derive(Clone)]
struct Rule {
    matcher: Matcher,
    acts: Vec<Act>,
}

/// A connection's behaviour: the greeting, then rules for each received line.
#[derive(Clone)]
pub struct Script {
    greeting: Vec<Act>,
    rules: Vec<Rule>,
    fallback: Vec<Act>,
}

/// `STAT` matches exactly `STAT`; `RETR *` matches every line starting with `RETR `.
fn pattern(p: &str) -> Matcher {
    let p = p.to_string();
    match p.strip_suffix('*') {
        Some(prefix) => {
            let prefix = prefix.to_string();
            Arc::new(move |line: &str| line.starts_with(&prefix))
        }
        None => Arc::new(move |line: &str| line == p),
    }
}

impl Default for Script {
    fn default() -> Self {
        Self::new()
    }
}

impl Script {
    /// `+OK fake POP3 ready` greeting; CAPA → -ERR; QUIT → +OK and close; else -ERR.
    pub fn new() -> Self {
        Script {
            greeting: vec![Act::Send(b"+OK fake POP3 ready\r\n".to_vec())],
            rules: Vec::new(),
            fallback: vec![Act::Send(b"-ERR unknown command\r\n".to_vec())],
        }
        .on("CAPA", "-ERR no CAPA here\r\n")
        .on_acts("QUIT", vec![Act::Send(b"+OK bye\r\n".to_vec()), Act::Close])
    }

    pub fn greeting(mut self, acts: Vec<Act>) -> Self {
        self.greeting = acts;
        self
    }

    /// Replies with these bytes (written as they are; an empty reply is no answer).
    pub fn on(self, pat: &str, reply: impl AsRef<[u8]>) -> Self {
        let reply = reply.as_ref().to_vec();
        let acts = if reply.is_empty() {
            Vec::new()
        } else {
            vec![Act::Send(reply)]
        };
        self.on_acts(pat, acts)
    }

    pub fn on_acts(mut self, pat: &str, acts: Vec<Act>) -> Self {
        self.rules.push(Rule {
            matcher: pattern(pat),
            acts,
        });
        self
    }

    /// A rule with an arbitrary matcher.
    pub fn on_fn(
        mut self,
        matcher: impl Fn(&str) -> bool + Send + Sync + 'static,
        acts: Vec<Act>,
    ) -> Self {
        self.rules.push(Rule {
            matcher: Arc::new(matcher),
            acts,
        });
        self
    }

    /// CAPA answers `+OK` and these capability lines.
    pub fn capa(self, caps: &[&str]) -> Self {
        let mut body = String::from("+OK capability list follows\r\n");
        for c in caps {
            body.push_str(c);
            body.push_str("\r\n");
        }
        body.push_str(".\r\n");
        self.on("CAPA", body)
    }

    /// USER/PASS accepting this account (anything else → -ERR).
    pub fn account(self, user: &str, pass: &str) -> Self {
        self.on("USER *", "-ERR no such user\r\n")
            .on(&format!("USER {user}"), "+OK user accepted\r\n")
            .on("PASS *", "-ERR invalid password\r\n")
            .on(&format!("PASS {pass}"), "+OK logged in\r\n")
    }

    fn acts_for(&self, line: &str) -> &[Act] {
        self.rules
            .iter()
            .rev()
            .find(|r| (r.matcher)(line))
            .map(|r| r.acts.as_slice())
            .unwrap_or(&self.fallback)
    }
}

/// A running fake server. Threads live until the test process ends.
pub struct FakeServer {
    pub port: u16,
    connections: Arc<AtomicUsize>,
    received: Arc<Mutex<Vec<Vec<String>>>>,
}

impl FakeServer {
    pub fn start(script: Script) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let received: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
        let script = Arc::new(script);
        {
            let connections = connections.clone();
            let received = received.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let index = {
                        let mut r = received.lock().unwrap();
                        r.push(Vec::new());
                        r.len() - 1
                    };
                    connections.fetch_add(1, Ordering::SeqCst);
                    let script = script.clone();
                    let received = received.clone();
                    std::thread::spawn(move || serve(stream, &script, &received, index));
                }
            });
        }
        FakeServer {
            port,
            connections,
            received,
        }
    }

    /// Like [`FakeServer::start`], but connection N (0-based, in accept order;
    /// the harness's start-of-run probe is connection 0) plays `script_for(N)`,
    /// so a hostile behaviour can hit one scenario and spare the next.
    pub fn start_each(script_for: impl Fn(usize) -> Script + Send + 'static) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let received: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
        {
            let connections = connections.clone();
            let received = received.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { continue };
                    let index = {
                        let mut r = received.lock().unwrap();
                        r.push(Vec::new());
                        r.len() - 1
                    };
                    connections.fetch_add(1, Ordering::SeqCst);
                    let script = script_for(index);
                    let received = received.clone();
                    std::thread::spawn(move || serve(stream, &script, &received, index));
                }
            });
        }
        FakeServer {
            port,
            connections,
            received,
        }
    }

    /// How many connections were accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Every line received, per connection (without the line end).
    pub fn received(&self) -> Vec<Vec<String>> {
        self.received.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, script: &Script, received: &Mutex<Vec<Vec<String>>>, index: usize) {
    let _ = stream.set_nodelay(true);
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    if !play(&mut writer, &mut reader, &script.greeting) {
        return;
    }
    loop {
        let mut buf = Vec::new();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        let line = String::from_utf8_lossy(&buf).into_owned();
        received.lock().unwrap()[index].push(line.clone());
        if !play(&mut writer, &mut reader, script.acts_for(&line)) {
            return;
        }
    }
}

/// Runs actions; false when the session is over.
fn play(writer: &mut TcpStream, reader: &mut BufReader<TcpStream>, acts: &[Act]) -> bool {
    for act in acts {
        match act {
            Act::Send(bytes) => {
                if writer
                    .write_all(bytes)
                    .and_then(|_| writer.flush())
                    .is_err()
                {
                    return false;
                }
            }
            Act::Sleep(d) => std::thread::sleep(*d),
            Act::Close => {
                let _ = writer.shutdown(Shutdown::Both);
                return false;
            }
            Act::Hang => {
                let mut sink = [0u8; 1024];
                while matches!(reader.read(&mut sink), Ok(n) if n > 0) {}
                return false;
            }
            Act::Reset => {
                reset(writer);
                return false;
            }
            Act::Stream { chunk, total } => {
                if !stream_out(writer, chunk, *total) {
                    return false;
                }
            }
        }
    }
    true
}

/// Sets SO_LINGER to zero on the socket (std's `set_linger` is unstable, so via
/// tokio, already a dependency); the close that ends the session then sends RST.
pub fn reset(stream: &TcpStream) {
    let Ok(dup) = stream.try_clone() else { return };
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
    else {
        return;
    };
    let _guard = rt.enter();
    if dup.set_nonblocking(true).is_ok() {
        if let Ok(t) = tokio::net::TcpStream::from_std(dup) {
            let _ = t.set_zero_linger();
        }
    }
}

/// See [`Act::Stream`]; false when the client went away.
fn stream_out(writer: &mut TcpStream, chunk: &[u8], total: u64) -> bool {
    if chunk.is_empty() {
        return true;
    }
    let block: Vec<u8> = chunk
        .iter()
        .copied()
        .cycle()
        .take(chunk.len() * (64 * 1024 / chunk.len()).max(1))
        .collect();
    let mut left = total;
    while left > 0 {
        let n = (block.len() as u64).min(left) as usize;
        if writer.write_all(&block[..n]).is_err() {
            return false;
        }
        left -= n as u64;
    }
    writer.flush().is_ok()
}

/// A free loopback port with nothing listening on it (bound, then released).
pub fn dead_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A folder for scenario files and reports.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Default for Workspace {
    fn default() -> Self {
        Self::new()
    }
}

impl Workspace {
    pub fn new() -> Self {
        Workspace {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// The scenarios folder (created on first write).
    pub fn scenarios(&self) -> PathBuf {
        self.dir.path().join("scenarios")
    }

    /// Writes `scenarios/NAME` with this text; returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.scenarios().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn json_path(&self) -> PathBuf {
        self.dir.path().join("out").join("results.json")
    }

    pub fn junit_path(&self) -> PathBuf {
        self.dir.path().join("out").join("junit.xml")
    }

    /// `pop3spec run scenarios/ --host 127.0.0.1 --port P --timeout 1s --json .. --junit .. --color never EXTRA`.
    pub fn run(&self, port: u16, extra: &[&str]) -> RunOutput {
        let scen = self.scenarios();
        let port = port.to_string();
        let head: Vec<&std::ffi::OsStr> = vec![
            scen.as_os_str(),
            "--host".as_ref(),
            "127.0.0.1".as_ref(),
            "--port".as_ref(),
            port.as_ref(),
            "--timeout".as_ref(),
            "1s".as_ref(),
            "--connect-timeout".as_ref(),
            "2s".as_ref(),
        ];
        self.run_reported(&head, extra)
    }

    /// `pop3spec run PATH` on the bundled reference server, with the reports
    /// of [`Workspace::run`].
    pub fn run_bundled(&self, path: &Path, extra: &[&str]) -> RunOutput {
        self.run_reported(&[path.as_os_str()], extra)
    }

    fn run_reported(&self, head: &[&std::ffi::OsStr], extra: &[&str]) -> RunOutput {
        let json = self.json_path();
        let junit = self.junit_path();
        let _ = std::fs::remove_file(&json);
        let _ = std::fs::remove_file(&junit);
        let mut args: Vec<&std::ffi::OsStr> = vec!["run".as_ref()];
        args.extend_from_slice(head);
        args.extend([
            "--json".as_ref(),
            json.as_os_str(),
            "--junit".as_ref(),
            junit.as_os_str(),
            "--color".as_ref(),
            "never".as_ref(),
        ]);
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        let out = pop3spec(&args, self.dir.path());
        let json_text = std::fs::read_to_string(&json).ok();
        let junit_text = std::fs::read_to_string(&junit).ok();
        RunOutput {
            json: json_text
                .as_deref()
                .map(|t| serde_json::from_str(t).expect("the JSON report parses")),
            json_text,
            junit: junit_text,
            ..out
        }
    }

    /// [`Workspace::run`] under GNU `/usr/bin/time -v`, also returning the
    /// child's peak resident set size in KiB (`None` when `/usr/bin/time` is
    /// missing: the run then happens without it).
    pub fn run_measured(&self, port: u16, extra: &[&str]) -> (RunOutput, Option<u64>) {
        self.run_measured_timeout(port, "1s", extra)
    }

    /// [`Workspace::run_measured`] with `--timeout timeout` instead of 1s.
    pub fn run_measured_timeout(
        &self,
        port: u16,
        timeout: &str,
        extra: &[&str],
    ) -> (RunOutput, Option<u64>) {
        let time = Path::new("/usr/bin/time");
        if !time.exists() {
            return (self.run(port, extra), None);
        }
        let stats = self.dir.path().join("time-v.txt");
        let _ = std::fs::remove_file(&stats);
        let scen = self.scenarios();
        let (json, junit) = (self.json_path(), self.junit_path());
        let _ = std::fs::remove_file(&json);
        let _ = std::fs::remove_file(&junit);
        let port = port.to_string();
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "-v".as_ref(),
            "-o".as_ref(),
            stats.as_os_str(),
            env!("CARGO_BIN_EXE_pop3spec").as_ref(),
            "run".as_ref(),
            scen.as_os_str(),
            "--host".as_ref(),
            "127.0.0.1".as_ref(),
            "--port".as_ref(),
            port.as_ref(),
            "--timeout".as_ref(),
            timeout.as_ref(),
            "--connect-timeout".as_ref(),
            "2s".as_ref(),
            "--json".as_ref(),
            json.as_os_str(),
            "--junit".as_ref(),
            junit.as_os_str(),
            "--color".as_ref(),
            "never".as_ref(),
        ];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        let out = run_program(time, &args, self.dir.path());
        let peak = std::fs::read_to_string(&stats).ok().and_then(|t| {
            t.lines()
                .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
                .and_then(|v| v.trim().parse().ok())
        });
        let json_text = std::fs::read_to_string(&json).ok();
        let junit_text = std::fs::read_to_string(&junit).ok();
        let out = RunOutput {
            json: json_text
                .as_deref()
                .map(|t| serde_json::from_str(t).expect("the JSON report parses")),
            json_text,
            junit: junit_text,
            ..out
        };
        (out, peak)
    }

    /// `pop3spec check PATHS...`.
    pub fn check(&self, paths: &[&Path]) -> RunOutput {
        let mut args: Vec<&std::ffi::OsStr> = vec!["check".as_ref()];
        args.extend(paths.iter().map(|p| p.as_os_str()));
        pop3spec(&args, self.dir.path())
    }
}

/// What one run of the binary produced.
#[derive(Debug, Default)]
pub struct RunOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    pub json: Option<serde_json::Value>,
    pub json_text: Option<String>,
    pub junit: Option<String>,
}

impl RunOutput {
    /// The JSON report's entry for this scenario id.
    pub fn scenario(&self, id: &str) -> &serde_json::Value {
        let json = self
            .json
            .as_ref()
            .unwrap_or_else(|| panic!("no JSON report\n{}", self.dump()));
        json["scenarios"]
            .as_array()
            .expect("scenarios array")
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("no scenario {id} in the report\n{}", self.dump()))
    }

    pub fn outcome(&self, id: &str) -> String {
        self.scenario(id)["outcome"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn message(&self, id: &str) -> String {
        self.scenario(id)["finding"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// (line, column) of the finding's step.
    pub fn step_pos(&self, id: &str) -> Option<(u64, u64)> {
        let step = &self.scenario(id)["finding"]["step"];
        Some((step["line"].as_u64()?, step["column"].as_u64()?))
    }

    /// Everything, for assertion messages.
    pub fn dump(&self) -> String {
        format!(
            "exit code {}\n--- stdout\n{}\n--- stderr\n{}\n--- json\n{}",
            self.code,
            self.stdout,
            self.stderr,
            self.json_text.as_deref().unwrap_or("<none>")
        )
    }
}

/// Runs the binary with these arguments in `cwd`, with no POP3SPEC_* variables
/// leaking in from the environment.
pub fn pop3spec<S: AsRef<std::ffi::OsStr>>(args: &[S], cwd: &Path) -> RunOutput {
    pop3spec_env(args, cwd, &[])
}

/// [`pop3spec`] with these environment variables set (e.g. `POP3SPEC_*` twins).
pub fn pop3spec_env<S: AsRef<std::ffi::OsStr>>(
    args: &[S],
    cwd: &Path,
    env: &[(&str, &str)],
) -> RunOutput {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pop3spec"));
    cmd.args(args).current_dir(cwd).env("NO_COLOR", "1");
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("POP3SPEC_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    let start = Instant::now();
    let out = cmd.output().expect("run pop3spec");
    RunOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: start.elapsed(),
        ..Default::default()
    }
}

/// Runs `program` with these arguments in `cwd` (no POP3SPEC_* variables), timed.
pub fn run_program<S: AsRef<std::ffi::OsStr>>(program: &Path, args: &[S], cwd: &Path) -> RunOutput {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(cwd).env("NO_COLOR", "1");
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("POP3SPEC_") {
            cmd.env_remove(k);
        }
    }
    let start = Instant::now();
    let out = cmd.output().expect("run the program");
    RunOutput {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: start.elapsed(),
        ..Default::default()
    }
}

/// A scenario file: the metadata, `extra` metadata lines (each ending in a
/// newline), then `steps:` followed by `steps` (each step line indented by two
/// spaces, e.g. "  - send: STAT\n").
pub fn scenario(id: &str, level: &str, extra: &str, steps: &str) -> String {
    format!(
        "id: {id}\ntitle: test scenario {id}\nspec: RFC 1939 §5\nrequirement: the fake server behaves as scripted\nlevel: {level}\n{extra}steps:\n{steps}"
    )
}

/// 1-based number of the first line of `text` containing `marker`.
pub fn line_of(text: &str, marker: &str) -> u64 {
    text.lines()
        .position(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("marker {marker:?} not in\n{text}")) as u64
        + 1
}

/// 1-based column of the step on the line holding `marker`: the first character
/// after `- `.
pub fn step_col(text: &str, marker: &str) -> u64 {
    let line = text.lines().find(|l| l.contains(marker)).unwrap();
    line.find("- ").expect("a list item") as u64 + 3
}
