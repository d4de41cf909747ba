//! One client scenario from start to verdict, and the `pop3spec client`
//! command around it: a fresh loopback listener and {out} folder per
//! scenario, the client started (or awaited), every connection played until
//! the client ends or the deadline passes, then the verdict.

use super::judge::{self, ClientEnd, Evidence};
use super::launch::{self, LaunchValues};
use super::play::{self, PlayContext, ScenarioLog};
use super::scenario::{self, ClientScenario};
use super::store;
use crate::certificates::Certificates;
use crate::outcome::{Outcome, RunResult, ScenarioResult};
use std::net::SocketAddr;
use std::path::PathBuf;

use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// How the client under test is started.
#[derive(Clone, Debug)]
pub enum Launch {
    /// `sh -c CMD` once per scenario.
    Command(String),
    /// A client the user starts by hand against this address.
    Listen(SocketAddr),
}

#[derive(Clone, Debug)]
pub struct ClientRunOptions {
    pub launch: Launch,
    pub user: String,
    pub pass: String,
    /// Per-scenario deadline unless the scenario sets `timeout:`.
    pub timeout: Duration,
    pub strict: bool,
    /// Wait for another connection this long after one ends (--listen only,
    /// and in command mode after the client exited).
    pub linger: Duration,
    /// Where {out} folders are made; kept after the run when set.
    pub keep_dir: Option<PathBuf>,
    /// A client configuration file with {placeholders}, rendered per
    /// scenario next to {out} and named by {config}.
    pub config_template: Option<(String, String)>,
}

/// Connections one scenario accepts at most: a client in a tight retry loop
/// is stopped here rather than served for the whole deadline.
const MAX_CONNECTIONS: usize = 64;

pub struct Shared {
    pub certs: Certificates,
    pub cafile: PathBuf,
    /// The --listen socket, reused by every scenario.
    pub listener: Option<TcpListener>,
    _dir: tempfile::TempDir,
}

impl Shared {
    pub async fn new(opts: &ClientRunOptions) -> Result<Self, String> {
        let certs = Certificates::generate()?;
        let dir = tempfile::Builder::new()
            .prefix("pop3spec-client-")
            .tempdir()
            .map_err(|e| format!("cannot make a temporary folder: {e}"))?;
        let cafile = certs.write_ca(dir.path())?;
        let listener = match &opts.launch {
            Launch::Listen(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|e| format!("cannot listen on {addr}: {e}"))?,
            ),
            Launch::Command(_) => None,
        };
        Ok(Shared {
            certs,
            cafile,
            listener,
            _dir: dir,
        })
    }
}

/// Plays one scenario against the client and judges it.
pub async fn run_scenario(
    s: &ClientScenario,
    opts: &ClientRunOptions,
    shared: &Shared,
) -> ScenarioResult {
    let started = Instant::now();
    let mut result = ScenarioResult {
        id: s.id.clone(),
        title: s.title.clone(),
        spec: s.spec.clone(),
        requirement: s.requirement.clone(),
        level: s.level,
        tags: s.tags.clone(),
        file: s.file.clone(),
        outcome: Outcome::Error,
        reason: None,
        finding: None,
        duration: Duration::ZERO,
        transcript: Vec::new(),
        known_failure: false,
    };
    let error = |mut r: ScenarioResult, message: String| {
        r.finding = Some(crate::outcome::Finding {
            message: message.clone(),
            ..Default::default()
        });
        r.reason = Some(message);
        r.duration = started.elapsed();
        r
    };
    let messages = match play::load_fixture(s.fixture_dir.as_deref()) {
        Ok(m) => m,
        Err(e) => return error(result, e),
    };
    let workdir = match &opts.keep_dir {
        Some(base) => {
            let d = base.join(&s.id);
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(d.join("out")).map(|_| (None, d))
        }
        None => tempfile::Builder::new()
            .prefix("pop3spec-scenario-")
            .tempdir()
            .and_then(|t| {
                std::fs::create_dir(t.path().join("out"))?;
                let p = t.path().to_path_buf();
                Ok((Some(t), p))
            }),
    };
    let (_guard, workdir) = match workdir {
        Ok(w) => w,
        Err(e) => return error(result, format!("cannot make the {{out}} folder: {e}")),
    };
    let out = workdir.join("out");
    let own_listener;
    let listener = match &shared.listener {
        Some(l) => l,
        None => match TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => {
                own_listener = l;
                &own_listener
            }
            Err(e) => return error(result, format!("cannot listen on a loopback port: {e}")),
        },
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => return error(result, format!("cannot read the listening address: {e}")),
    };
    let values = LaunchValues {
        host: addr.ip().to_string(),
        port: addr.port(),
        user: opts.user.clone(),
        pass: opts.pass.clone(),
        out: out.display().to_string(),
        cafile: shared.cafile.display().to_string(),
        tls: s.client.tls.as_str().to_string(),
        delete: s.client.delete,
        auth: s.client.auth.clone(),
        scenario: s.id.clone(),
        config: String::new(),
    };
    let mut values = values;
    if let Some((name, template)) = &opts.config_template {
        let path = workdir.join(name);
        let written = std::fs::write(&path, values.expand(template)).and_then(|()| {
            // Clients such as fetchmail refuse a configuration others can read.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        });
        if let Err(e) = written {
            return error(result, format!("cannot write {}: {e}", path.display()));
        }
        values.config = path.display().to_string();
    }
    let timeout = s.timeout.unwrap_or(opts.timeout);
    let deadline = tokio::time::Instant::now() + timeout;
    let mut log = ScenarioLog::new();
    let mut launched = match &opts.launch {
        Launch::Command(cmd) => match launch::spawn(cmd, &values) {
            Ok(l) => {
                log.note(
                    "harness",
                    format!("started the client: {}", values.expand(cmd)),
                );
                Some(l)
            }
            Err(e) => return error(result, e),
        },
        Launch::Listen(_) => {
            eprintln!(
                "pop3spec client: {} — start the client against {} (TLS: {}, delete: {}, auth: {}, user {}, password {}, store into {}, CA {}); waiting up to {:?}",
                s.id,
                addr,
                values.tls,
                if values.delete { "yes" } else { "no" },
                values.auth,
                values.user,
                values.pass,
                values.out,
                values.cafile,
                timeout
            );
            log.note("harness", format!("waiting for a client on {addr}"));
            None
        }
    };
    let cx = PlayContext {
        scenario: s,
        messages: &messages,
        user: &opts.user,
        pass: &opts.pass,
        certs: &shared.certs,
        deadline,
    };
    let mut exited: Option<String> = None;
    let mut exit_code: Option<i32> = None;
    let mut hung = false;
    loop {
        if log.connections.len() >= MAX_CONNECTIONS {
            log.note(
                "harness",
                format!("{MAX_CONNECTIONS} connections: no more are accepted"),
            );
            break;
        }
        // After the client exited (or, by hand, after a connection ended),
        // a short wait catches a connection it opened just before.
        let wait_until = if exited.is_some() || (launched.is_none() && !log.connections.is_empty())
        {
            (tokio::time::Instant::now() + opts.linger).min(deadline)
        } else {
            deadline
        };
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => play::play_connection(tcp, &cx, &mut log).await,
                Err(e) => { log.note("harness", format!("accept failed: {e}")); break; }
            },
            status = async { launched.as_mut().unwrap().child.wait().await }, if launched.is_some() && exited.is_none() => {
                let text = match status {
                    Ok(s) => {
                        exit_code = s.code();
                        s.to_string()
                    }
                    Err(e) => e.to_string(),
                };
                log.note("harness", format!("the client ended: {text}"));
                exited = Some(text);
            }
            _ = tokio::time::sleep_until(wait_until) => {
                if wait_until >= deadline && exited.is_none() && launched.is_some() {
                    hung = true;
                }
                break;
            }
        }
        if tokio::time::Instant::now() >= deadline {
            if let Some(l) = launched.as_mut().filter(|_| exited.is_none()) {
                // The connection ended at the deadline; has the client too?
                if let Ok(Some(st)) = l.child.try_wait() {
                    exit_code = st.code();
                    exited = Some(st.to_string());
                } else {
                    hung = true;
                }
            }
            break;
        }
    }
    let mut client_output = String::new();
    let end = match launched.as_mut() {
        Some(l) => {
            if exited.is_none() {
                if let Ok(Some(st)) = l.child.try_wait() {
                    exit_code = st.code();
                    exited = Some(st.to_string());
                    hung = false;
                }
            }
            if exited.is_none() {
                launch::kill_group(l);
                let _ = l.child.wait().await;
                log.note(
                    "harness",
                    format!("the client was still running after {timeout:?}: ended"),
                );
                hung = true;
            } else {
                // Whatever the client left running (a daemon it forked) goes too.
                launch::kill_group(l);
            }
            let output = tokio::time::timeout(Duration::from_secs(2), &mut l.output).await;
            if let Ok(Ok(bytes)) = output {
                client_output = String::from_utf8_lossy(&bytes).into_owned();
                for line in client_output
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .take(40)
                {
                    log.note("client-output", line.to_string());
                }
            }
            if hung || log.deadline_reached {
                ClientEnd::Hung
            } else if exit_code == Some(launch::EXIT_CANNOT_CONFIGURE) {
                ClientEnd::CannotConfigure
            } else {
                ClientEnd::Exited(exited.unwrap_or_default())
            }
        }
        None => ClientEnd::Unknown,
    };
    let stored = store::read_stored(&out);
    let evidence = Evidence {
        log: &log,
        stored,
        fixture: &messages,
        end,
        client_output,
    };
    let (outcome, reason, finding) = judge::judge(s, &evidence, opts.strict);
    result.outcome = outcome;
    result.reason = reason;
    result.finding = finding;
    result.transcript = log.transcript;
    result.duration = started.elapsed();
    result
}

/// Runs scenarios one after another (a client configured by the scenario is
/// one process at a time; ports and folders never collide).
pub async fn run_all(
    scenarios: &[ClientScenario],
    opts: &ClientRunOptions,
    mut on_result: impl FnMut(&ScenarioResult),
) -> Result<RunResult, String> {
    let shared = Shared::new(opts).await?;
    let started_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let started = Instant::now();
    let mut results = Vec::new();
    for s in scenarios {
        let r = run_scenario(s, opts, &shared).await;
        on_result(&r);
        results.push(r);
    }
    Ok(RunResult {
        target: match &opts.launch {
            Launch::Command(c) => format!("client: {c}"),
            Launch::Listen(a) => format!("client on {a}"),
        },
        strict: opts.strict,
        started_at,
        duration: started.elapsed(),
        scenarios: results,
    })
}

/// Loads the client scenarios below `paths`, else below the client folder of
/// the suite in use (`--suite DIR`'s, else the default suite's); then every
/// `--add`, as `run` does for server scenarios.
pub fn load(
    mut paths: Vec<PathBuf>,
    suite: &crate::cli::SuiteArgs,
) -> Result<Vec<ClientScenario>, (Vec<crate::scenario::load::Problem>, String)> {
    if paths.is_empty() {
        paths.push(match &suite.suite {
            Some(dir) if !dir.join(scenario::CLIENT_DIR).is_dir() => {
                return Err((
                    Vec::new(),
                    format!(
                        "--suite {}: it has no {}/ folder, where client scenarios live (give client scenario paths as arguments, or --add them)",
                        dir.display(),
                        scenario::CLIENT_DIR
                    ),
                ))
            }
            Some(dir) => dir.join(scenario::CLIENT_DIR),
            None => scenario::default_client_dir(),
        });
    }
    paths.extend(suite.add.iter().cloned());
    let files = scenario::discover(&paths).map_err(|e| (Vec::new(), e))?;
    let (scenarios, problems) = scenario::load_all(&files);
    if problems.is_empty() {
        Ok(scenarios)
    } else {
        Err((problems, String::new()))
    }
}
