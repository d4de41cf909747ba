//! The bundled reference server, started in-process on ephemeral loopback ports
//! with a temporary Maildir root, so `pop3spec run` without `--host` and
//! `pop3spec selftest` do something real on a fresh machine.

use crate::runner::seed::Seeder;
use crate::runner::target::{Account, AuthMechanism, Target};
use crate::runner::tls::{self, TlsOptions};
use pop3_reference_server::{FaultSet, RunningServer, ServerConfig, TlsSetup};
use std::time::Duration;

/// The test accounts of the bundled server.
pub const USER: &str = "alice";
pub const USER2: &str = "bob";

pub struct Bundled {
    server: RunningServer,
    _mail_root: tempfile::TempDir,
    pub target: Target,
}

/// How the bundled server is set up; the idle timeout is short so the
/// autologout scenario does not hold a run for ten minutes.
#[derive(Clone, Debug)]
pub struct BundledOptions {
    pub faults: FaultSet,
    pub idle_timeout: Duration,
    pub timeout: Duration,
    pub lock_wait: Duration,
}

impl Default for BundledOptions {
    fn default() -> Self {
        BundledOptions {
            faults: FaultSet::none(),
            idle_timeout: Duration::from_secs(2),
            timeout: Duration::from_secs(5),
            lock_wait: Duration::from_secs(1),
        }
    }
}

impl Bundled {
    pub async fn start(opts: BundledOptions) -> Result<Bundled, String> {
        let mail_root = tempfile::Builder::new()
            .prefix("pop3spec-bundled-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary Maildir root: {e}"))?;
        // Passwords differ per run so no scenario can pass by hard-coding one.
        let nonce = std::process::id()
            ^ (std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .subsec_nanos());
        let pass = format!("Secret-{nonce:x}");
        let pass2 = format!("Other-{nonce:x}");
        let mut config = ServerConfig::new(
            mail_root.path(),
            vec![(USER.into(), pass.clone()), (USER2.into(), pass2.clone())],
        );
        config.tls = TlsSetup::SelfSigned;
        config.faults = opts.faults;
        config.idle_timeout = opts.idle_timeout;
        let server = RunningServer::start(config)
            .await
            .map_err(|e| format!("cannot start the bundled reference server: {e}"))?;
        let maildir = mail_root.path().join(USER);
        let maildir2 = mail_root.path().join(USER2);
        for dir in [&maildir, &maildir2] {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let tls_opts = TlsOptions {
            insecure: true,
            ..Default::default()
        };
        let target = Target {
            label: "bundled reference server".into(),
            host: server.addr().ip().to_string(),
            port: server.addr().port(),
            implicit_tls: false,
            starttls: false,
            tls_port: server.tls_addr().map(|a| a.port()),
            connector: tls::connector(&tls_opts)?,
            tls: tls_opts,
            account: Some(Account {
                user: USER.into(),
                pass,
            }),
            account2: Some(Account {
                user: USER2.into(),
                pass: pass2,
            }),
            auth: AuthMechanism::User,
            seeder: Some(Seeder::Maildir {
                path: maildir,
                disposable: false,
            }),
            seeder2: Some(Seeder::Maildir {
                path: maildir2,
                disposable: false,
            }),
            connect_timeout: Duration::from_secs(5),
            timeout: opts.timeout,
            max_line: crate::DEFAULT_MAX_LINE,
            max_body: crate::DEFAULT_MAX_BODY,
            lock_wait: opts.lock_wait,
            declared_capabilities: Vec::new(),
            // The bundled server acts on a dropped connection at once and
            // answers on loopback in microseconds, so the scripted waits can
            // be short (see load::TIMING_DEFAULTS).
            extra_vars: vec![
                (
                    "idle_wait".into(),
                    format!(
                        "{}ms",
                        (opts.idle_timeout + Duration::from_millis(1500)).as_millis()
                    ),
                ),
                ("settle".into(), "100ms".into()),
                ("silence".into(), "300ms".into()),
            ],
        };
        Ok(Bundled {
            server,
            _mail_root: mail_root,
            target,
        })
    }

    /// Stops the server; a session the server cannot end promptly does not
    /// hold the harness (its Maildir root is removed either way).
    pub async fn stop(self) {
        let _ =
            tokio::time::timeout(std::time::Duration::from_secs(5), self.server.shutdown()).await;
    }
}
