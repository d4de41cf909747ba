//! The bundled reference server, started in-process on ephemeral loopback ports
//! with a temporary Maildir root, so `pop3spec run` without `--host` and
//! `pop3spec selftest` do something real on a fresh machine.
//!
//! One server holds an account pair (alice, bob; alice2, bob2; ...) and a
//! long-credentials account (255-octet name and password) per job,
//! the way `--user-template` serves a real server. Two kinds of scenario run
//! on twins with the same accounts: those that wait for the autologout timer
//! (a short timer there, so the main server's can stay long enough that no
//! other scenario meets it) and those about LOGIN-DELAY (enforced there, which
//! the rest of the suite's back-to-back logins could not live with); those
//! tagged `no-plaintext-auth` run on a twin that refuses plaintext password
//! logins before TLS, the default RFC 5034 §4 asks for (the main server
//! allows them, a compatibility set-up the rest of the suite logs in with).

use crate::certificates::Certificates;
use crate::runner::parallel::{probe_all, Lane, Twin, Worker};
use crate::runner::seed::Seeder;
use crate::runner::target::{Account, Target};
use crate::runner::tls::TlsOptions;
use crate::scenario::{AUTOLOGOUT_VAR, IDLE_ALIVE_VARS};
use pop3_reference_server::{FaultSet, RunningServer, ServerConfig, TlsSetup, VariantSet};
use std::path::Path;
use std::time::Duration;

/// The first account pair of the bundled server; pair k (from 2) is `alice{k}`, `bob{k}`.
pub const USER: &str = "alice";
pub const USER2: &str = "bob";

/// How long the long-credentials account's user name and password are: the
/// most RFC 4616 §2 (and RFC 2595 §6) has a server accept, 255 octets each.
pub const LONG_CREDENTIAL_OCTETS: usize = 255;

/// `prefix` padded to `LONG_CREDENTIAL_OCTETS` with letters and digits that
/// vary along the string, so a server that cuts it short compares a
/// different value rather than an equal run of one character.
fn long_credential(prefix: &str) -> String {
    let pad = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut s = prefix.to_string();
    s.extend(
        pad.iter()
            .cycle()
            .take(LONG_CREDENTIAL_OCTETS.saturating_sub(prefix.len()))
            .map(|&b| b as char),
    );
    s
}

/// The scripted waits against the bundled server (see `load::TIMING_DEFAULTS`):
/// it acts on a dropped connection at once (and a harness login retries while
/// the maildrop is still locked), and a wrong answer arrives within
/// microseconds on loopback, so short windows judge as well as long ones.
pub const SETTLE: &str = "20ms";
pub const SILENCE: &str = "100ms";

/// How long the `idle_alive` scenarios idle on the autologout twin whose
/// timer is `autologout`.
pub fn idle_alive(autologout: Duration) -> Duration {
    autologout / 2
}

/// The LOGIN-DELAY twin's delay, in seconds (the smallest above 0).
pub const LOGIN_DELAY: u32 = 1;

/// How the bundled servers are set up.
#[derive(Clone, Debug)]
pub struct BundledOptions {
    pub faults: FaultSet,
    /// Allowed behaviours switched on, on every server (main and twins).
    pub variants: VariantSet,
    /// The main server's autologout timer: far above any scenario's pauses.
    pub idle_timeout: Duration,
    /// The autologout twin's timer, which the `idle_wait` scenarios wait out.
    pub autologout: Duration,
    pub timeout: Duration,
    /// Caps the step timeout even where a scenario asks for more.
    pub max_timeout: Option<Duration>,
    pub lock_wait: Duration,
}

impl Default for BundledOptions {
    fn default() -> Self {
        BundledOptions {
            faults: FaultSet::none(),
            variants: VariantSet::none(),
            idle_timeout: Duration::from_secs(60),
            autologout: Duration::from_millis(250),
            timeout: Duration::from_secs(5),
            max_timeout: None,
            lock_wait: Duration::from_secs(1),
        }
    }
}

/// The running bundled servers and one target per job, with its twins'
/// targets beside it.
pub struct Bundled {
    servers: Vec<(RunningServer, tempfile::TempDir)>,
    pub lanes: Vec<(Target, Vec<(Lane, Target)>)>,
}

impl Bundled {
    /// Starts a server with `jobs` account pairs and a twin with the same
    /// accounts for each of `twins`.
    pub async fn start(
        opts: BundledOptions,
        jobs: usize,
        twins: &[Lane],
    ) -> Result<Bundled, String> {
        let jobs = jobs.max(1);
        let mut servers = Vec::new();
        let main = start_server(&opts, jobs, &[], |c| {
            c.idle_timeout = opts.idle_timeout;
            // Announced so clients see it; 0 asks for no pause between logins.
            c.login_delay = Some(0);
        })
        .await?;
        let mut lanes: Vec<(Target, Vec<(Lane, Target)>)> =
            main.targets.into_iter().map(|t| (t, Vec::new())).collect();
        servers.push(main.server);
        for &lane in twins {
            let twin = match lane {
                Lane::Autologout => {
                    // The expect_close deadline: the timer plus room for a busy machine.
                    let idle_wait = opts.autologout + Duration::from_millis(1500);
                    let mut vars = vec![(
                        AUTOLOGOUT_VAR.to_string(),
                        format!("{}ms", idle_wait.as_millis()),
                    )];
                    // Half the timer: long enough that a timer cut to a tenth
                    // (the `autologout-too-short` fault) has fired, short
                    // enough that the real one has not.
                    let idle_alive = format!("{}ms", idle_alive(opts.autologout).as_millis());
                    vars.extend(IDLE_ALIVE_VARS.map(|v| (v.to_string(), idle_alive.clone())));
                    start_server(&opts, jobs, &vars, |c| c.idle_timeout = opts.autologout).await?
                }
                Lane::NoPlaintextAuth => {
                    start_server(&opts, jobs, &[], |c| {
                        c.idle_timeout = opts.idle_timeout;
                        c.require_tls = true;
                    })
                    .await?
                }
                Lane::LoginDelay => {
                    start_server(&opts, jobs, &[], |c| {
                        c.idle_timeout = opts.idle_timeout;
                        c.login_delay = Some(LOGIN_DELAY);
                    })
                    .await?
                }
            };
            for (lane_targets, target) in lanes.iter_mut().zip(twin.targets) {
                lane_targets.1.push((lane, target));
            }
            servers.push(twin.server);
        }
        Ok(Bundled { servers, lanes })
    }

    /// The lanes as run workers, every target probed at once (the probe
    /// checks that its accounts log in).
    pub async fn workers(&self) -> Result<Vec<Worker>, String> {
        let mains: Vec<Target> = self.lanes.iter().map(|(t, _)| t.clone()).collect();
        // The LOGIN-DELAY twin is probed without logging in: a probe's login
        // would hold off each job's first scenario for the delay. The twin
        // without plaintext logins refuses the probe's login before TLS.
        let twins: Vec<Target> = self
            .lanes
            .iter()
            .flat_map(|(_, twins)| twins)
            .map(|(lane, t)| {
                let mut probed = t.clone();
                if matches!(lane, Lane::LoginDelay | Lane::NoPlaintextAuth) {
                    probed.account = None;
                }
                probed
            })
            .collect();
        let (main_infos, twin_infos) = tokio::join!(probe_all(&mains), probe_all(&twins));
        let mut twin_infos = twin_infos.into_iter();
        let mut workers = Vec::new();
        for ((target, twins), info) in self.lanes.iter().zip(main_infos) {
            let info = info.map_err(|e| format!("probe failed: {e}"))?;
            let mut worker = Worker::new(target.clone(), info);
            for (lane, target) in twins {
                let info = twin_infos
                    .next()
                    .expect("one probe per twin")
                    .map_err(|e| format!("probe failed: {e}"))?;
                worker.twins.push(Twin {
                    lane: *lane,
                    target: target.clone(),
                    info,
                });
            }
            workers.push(worker);
        }
        Ok(workers)
    }

    /// Adds `--var` values to every target (they override the bundled defaults).
    pub fn add_vars(&mut self, vars: &[(String, String)]) {
        for (target, twins) in &mut self.lanes {
            for t in std::iter::once(target).chain(twins.iter_mut().map(|(_, t)| t)) {
                t.extra_vars.extend(vars.iter().cloned());
            }
        }
    }

    /// Stops the servers; a session a server cannot end promptly does not
    /// hold the harness (the Maildir roots are removed either way).
    pub async fn stop(self) {
        for (server, _mail_root) in self.servers {
            let _ = tokio::time::timeout(Duration::from_secs(5), server.shutdown()).await;
        }
    }
}

struct Started {
    server: (RunningServer, tempfile::TempDir),
    targets: Vec<Target>,
}

async fn start_server(
    opts: &BundledOptions,
    pairs: usize,
    extra_vars: &[(String, String)],
    configure: impl FnOnce(&mut ServerConfig),
) -> Result<Started, String> {
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
    let pairs: Vec<(Account, Account, Account)> = (1..=pairs)
        .map(|k| {
            let suffix = if k == 1 { String::new() } else { k.to_string() };
            (
                Account {
                    user: format!("{USER}{suffix}"),
                    pass: format!("Secret-{nonce:x}-{k}"),
                },
                Account {
                    user: format!("{USER2}{suffix}"),
                    pass: format!("Other-{nonce:x}-{k}"),
                },
                Account {
                    user: long_credential(&format!("long{k}-")),
                    pass: long_credential(&format!("Long-{nonce:x}-{k}-")),
                },
            )
        })
        .collect();
    let users = pairs
        .iter()
        .flat_map(|(a, b, c)| [a, b, c])
        .map(|a| (a.user.clone(), a.pass.clone()))
        .collect();
    // A CA-signed certificate the harness trusts, so TLS is verified as
    // against a deployed server and rfc8314.tls.certificate-valid runs. The
    // files sit in a folder no account can be named after (user names never
    // start with a dot).
    let certificates = Certificates::generate()?;
    let tls_dir = mail_root.path().join(".tls");
    std::fs::create_dir_all(&tls_dir)
        .map_err(|e| format!("cannot create {}: {e}", tls_dir.display()))?;
    let (cert, key) = certificates.write_trusted_leaf(&tls_dir)?;
    let ca_file = certificates.write_ca(&tls_dir)?;
    let mut config = ServerConfig::new(mail_root.path(), users);
    config.tls = TlsSetup::Files { cert, key };
    config.faults = opts.faults.clone();
    config.variants = opts.variants.clone();
    configure(&mut config);
    let server = RunningServer::start(config)
        .await
        .map_err(|e| format!("cannot start the bundled reference server: {e}"))?;
    let mut targets = Vec::new();
    for (first, second, long) in pairs {
        let tls = TlsOptions {
            ca_file: Some(ca_file.clone()),
            ..Default::default()
        };
        let mut target = Target::new(
            "bundled reference server",
            server.addr().ip().to_string(),
            server.addr().port(),
            tls,
        )?;
        target.tls_port = server.tls_addr().map(|a| a.port());
        target.seeder = Some(maildir_seeder(mail_root.path(), &first.user)?);
        target.seeder2 = Some(maildir_seeder(mail_root.path(), &second.user)?);
        target.account = Some(first);
        target.account2 = Some(second);
        target.account_long = Some(long);
        target.timeout = opts.timeout;
        target.max_timeout = opts.max_timeout;
        target.lock_wait = opts.lock_wait;
        target.extra_vars = vec![
            ("settle".into(), SETTLE.into()),
            ("silence".into(), SILENCE.into()),
        ];
        target.extra_vars.extend(extra_vars.iter().cloned());
        targets.push(target);
    }
    Ok(Started {
        server: (server, mail_root),
        targets,
    })
}

/// The throwaway Maildir of `user`: no fsync, since only this process reads it.
fn maildir_seeder(mail_root: &Path, user: &str) -> Result<Seeder, String> {
    let path = mail_root.join(user);
    std::fs::create_dir_all(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    Ok(Seeder::Maildir {
        path,
        disposable: false,
        durable: false,
    })
}
