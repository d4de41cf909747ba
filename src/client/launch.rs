//! Starting the client under test: `--command` runs through `sh -c` with the
//! scenario's values as {placeholders} and POP3SPEC_* environment variables,
//! in its own process group so a client that hangs is ended with everything
//! it started. Its output is kept (bounded) for the transcript.

use std::process::Stdio;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

/// Exit status by which a client command says it cannot be configured the
/// way a scenario asks (e.g. no SASL PLAIN, no APOP): the scenario is
/// skipped, as with automake's test drivers.
pub const EXIT_CANNOT_CONFIGURE: i32 = 77;

/// The values a client command is given.
#[derive(Clone, Debug)]
pub struct LaunchValues {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub pass: String,
    pub out: String,
    pub cafile: String,
    pub tls: String,
    pub delete: bool,
    pub auth: String,
    pub scenario: String,
    /// The rendered --config-template file, or empty.
    pub config: String,
}

impl LaunchValues {
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("host", self.host.clone()),
            ("port", self.port.to_string()),
            ("user", self.user.clone()),
            ("pass", self.pass.clone()),
            ("out", self.out.clone()),
            ("cafile", self.cafile.clone()),
            ("tls", self.tls.clone()),
            ("delete", if self.delete { "1" } else { "0" }.to_string()),
            ("auth", self.auth.clone()),
            ("scenario", self.scenario.clone()),
            ("config", self.config.clone()),
        ]
    }

    /// `command` with every {name} replaced. Values are the harness's own
    /// (loopback address, temp paths, test account), so no quoting is added;
    /// a driver script reads the environment variables where in doubt.
    pub fn expand(&self, command: &str) -> String {
        let mut out = command.to_string();
        for (k, v) in self.pairs() {
            out = out.replace(&format!("{{{k}}}"), &v);
        }
        out
    }
}

/// Bytes of the client's stdout and stderr kept for the report.
const KEPT_OUTPUT: usize = 16 * 1024;

pub struct Launched {
    pub child: Child,
    /// The child's pid, which leads its process group; kept because
    /// `Child::id` forgets it once the child has been reaped.
    pub pid: Option<u32>,
    pub output: tokio::task::JoinHandle<Vec<u8>>,
}

/// Starts `command` in the harness's own working folder, so relative paths in
/// it (driver scripts) mean what they mean on the command line.
pub fn spawn(command: &str, values: &LaunchValues) -> Result<Launched, String> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(values.expand(command))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    for (k, v) in values.pairs() {
        cmd.env(format!("POP3SPEC_{}", k.to_ascii_uppercase()), v);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start `sh -c {command}`: {e}"))?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let output = tokio::spawn(async move {
        let (mut a, b) = tokio::join!(tail(&mut stdout), tail(&mut stderr));
        a.extend_from_slice(&b);
        a
    });
    let pid = child.id();
    Ok(Launched { child, pid, output })
}

/// Reads `r` to its end (so the client never blocks on a full pipe) and
/// keeps the last `KEPT_OUTPUT` bytes.
async fn tail(r: &mut (impl tokio::io::AsyncRead + Unpin)) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = r.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&chunk[..n]);
        if kept.len() > 2 * KEPT_OUTPUT {
            kept.drain(..kept.len() - KEPT_OUTPUT);
        }
    }
    if kept.len() > KEPT_OUTPUT {
        kept.drain(..kept.len() - KEPT_OUTPUT);
    }
    kept
}

/// Ends the client and every process it started (its process group, which
/// outlives the shell when the client left a process behind).
pub fn kill_group(launched: &Launched) {
    if let Some(pid) = launched.pid {
        // SAFETY: kill(2) with a negative pid signals the process group the
        // child leads (it was started with process_group(0)); no memory is shared.
        unsafe {
            libc::kill(-(pid as i32), libc::SIGKILL);
        }
    }
}
