//! The accounts a run uses and their messages: the bundled reference server
//! with seeded accounts, or the accounts of `--host` (seeded where a Maildir or
//! a seed command is given), and each account's state before the clients start.

use super::model::{AccountState, Model};
use super::scheduler::Rng;
use super::session::{open, Session};
use super::{default_accounts, DELIVERED, MAX_CLIENTS};
use crate::cli::StressArgs;
use crate::exit::{EXIT_FAILED, EXIT_UNREACHABLE, EXIT_USAGE};
use crate::runner::seed::{Seeder, MARKER};
use crate::runner::target::{Account, OpenError, Target};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

pub(super) async fn start_bundled(
    args: &StressArgs,
    seed: u64,
) -> Result<
    (
        pop3_reference_server::RunningServer,
        tempfile::TempDir,
        Target,
        Vec<AccountState>,
    ),
    String,
> {
    use pop3_reference_server::{RunningServer, ServerConfig, TlsSetup};
    let root_dir = tempfile::Builder::new()
        .prefix("pop3spec-stress-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary Maildir root: {e}"))?;
    let root = root_dir.path().to_path_buf();
    let count = args
        .accounts
        .unwrap_or_else(|| default_accounts(args.clients));
    let users: Vec<(String, String)> = (1..=count)
        .map(|i| (format!("stress{i}"), format!("pw-{i}-{:x}", seed % 0xffff)))
        .collect();
    let mut rng = Rng(seed);
    let mut accounts = Vec::new();
    for (u, p) in &users {
        let dir = root.join(u);
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(|e| e.to_string())?;
        }
        for n in 0..args.messages {
            deliver(&dir, false, &message(u, n as u64, &mut rng)).map_err(|e| e.to_string())?;
        }
        accounts.push(AccountState {
            account: Account {
                user: u.clone(),
                pass: p.clone(),
            },
            model: Mutex::new(Model::default()),
            sessions: AtomicU64::new(0),
            maildir: Some((dir, false)),
            can_commit: true,
            floor: (args.messages / 2).max(1),
            seeded: Some(args.messages),
        });
    }
    let mut config = ServerConfig::new(&root, users);
    config.tls = TlsSetup::None;
    config.tls_listen = None;
    config.max_connections = MAX_CLIENTS + 24;
    let server = RunningServer::start(config)
        .await
        .map_err(|e| format!("cannot start the bundled reference server: {e}"))?;
    let tls_opts = crate::runner::tls::TlsOptions {
        insecure: true,
        ..Default::default()
    };
    let mut target = Target::new(
        format!("bundled reference server ({})", server.addr()),
        server.addr().ip().to_string(),
        server.addr().port(),
        tls_opts,
    )?;
    target.account = Some(accounts[0].account.clone());
    target.connect_timeout = args.server.connect_timeout;
    target.timeout = args.server.timeout;
    target.max_line = args.server.max_line;
    target.max_body = args.server.max_body;
    Ok((server, root_dir, target, accounts))
}

/// Accounts of an external server (each target's first and second, once
/// each); an account is seeded when it has a seeder (its Maildir, from
/// --maildir, --maildir2 or --maildir-template, or --seed-command).
pub(super) fn external_accounts(
    targets: &[Target],
    args: &StressArgs,
) -> Result<Vec<AccountState>, String> {
    let mut out: Vec<AccountState> = Vec::new();
    let mut rng = Rng(args.seed.unwrap_or(1));
    let pairs = targets
        .iter()
        .flat_map(|t| [(&t.account, &t.seeder), (&t.account2, &t.seeder2)]);
    for (a, seeder) in pairs {
        let Some(account) = a else { continue };
        if out.iter().any(|o| o.account.user == account.user) {
            continue;
        }
        let mut seeded = false;
        let mut maildir = None;
        if let Some(seeder) = seeder {
            let fixture = tempfile::tempdir().map_err(|e| e.to_string())?;
            for n in 0..args.messages {
                std::fs::write(
                    fixture.path().join(format!("{n:05}.eml")),
                    message(&account.user, n as u64, &mut rng),
                )
                .map_err(|e| e.to_string())?;
            }
            seeder
                .seed(fixture.path(), &account.user)
                .map_err(|e| format!("account {}: {e}", account.user))?;
            seeded = true;
            if let Seeder::Maildir { path, .. } = seeder {
                maildir = Some((path.clone(), true));
            }
        }
        out.push(AccountState {
            account: account.clone(),
            model: Mutex::new(Model::default()),
            sessions: AtomicU64::new(0),
            maildir,
            // Never destroy mail the run did not put there.
            can_commit: seeded || args.server.disposable_account,
            floor: (args.messages / 2).max(1),
            seeded: seeded.then_some(args.messages),
        });
    }
    Ok(out)
}

/// The unique-ids of an account before the run; retried while the maildrop is in use.
pub(super) async fn baseline(
    target: &Target,
    acct: &AccountState,
) -> Result<BTreeSet<String>, (u8, String)> {
    let give_up = Instant::now() + Duration::from_secs(5);
    loop {
        let (mut conn, greeting) = open(target)
            .await
            .map_err(|e| (EXIT_UNREACHABLE, e.message().to_string()))?;
        let mut quiet = |_: bool, _: String| {};
        match target
            .login(&mut conn, &acct.account, &greeting, &mut quiet)
            .await
        {
            Ok(()) => {}
            Err(OpenError::Protocol(m)) if m.contains("[IN-USE]") && Instant::now() < give_up => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Err(e) => {
                let mut m = e.message().to_string();
                if !acct.account.pass.is_empty() {
                    m = m.replace(&acct.account.pass, "***");
                }
                return Err((EXIT_USAGE, format!("cannot log in: {m}")));
            }
        }
        let mut s = Session::new(target, conn);
        let listing = s
            .uidl_all()
            .await
            .map_err(|e| (EXIT_FAILED, format!("UIDL: {e}")))?;
        let _ = s.simple("QUIT").await;
        if acct.seeded.is_some_and(|n| n != listing.len()) {
            // Seeding went wrong or the server hides messages: the run would judge nonsense.
            return Err((
                EXIT_FAILED,
                format!(
                    "seeded {} message(s) but UIDL lists {}",
                    acct.seeded.unwrap_or(0),
                    listing.len()
                ),
            ));
        }
        return Ok(listing.into_iter().map(|(_, u)| u).collect());
    }
}

/// One stress message: unique content, a dot-leading line (byte-stuffing) and a varying size.
pub(super) fn message(account: &str, n: u64, rng: &mut Rng) -> String {
    let lines = 3 + rng.below(200);
    let mut body = String::new();
    for i in 0..lines {
        if i == 1 {
            body.push_str(".a line that starts with a dot\r\n");
        }
        body.push_str(&format!("line {i} of stress message {n} for {account}\r\n"));
    }
    format!(
        "From: stress@pop3spec.invalid\r\nTo: {account}@pop3spec.invalid\r\nSubject: stress {n}\r\nMessage-ID: <{n}.{}@pop3spec.invalid>\r\n\r\n{body}",
        rng.next()
    )
}

/// Delivers one message the Maildir way (tmp/ then rename into new/).
pub(super) fn deliver(dir: &Path, marker: bool, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(dir)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let name = format!(
        "{}.M{}Q{}P{}.pop3spec-stress",
        now.as_secs(),
        now.subsec_micros(),
        DELIVERED.fetch_add(1, Ordering::Relaxed),
        std::process::id()
    );
    let tmp = dir.join("tmp").join(&name);
    std::fs::write(&tmp, text)?;
    let _ = std::os::unix::fs::chown(&tmp, Some(owner.uid()), Some(owner.gid()));
    if marker {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(dir.join(MARKER))?;
        writeln!(f, "{name}")?;
    }
    std::fs::rename(&tmp, dir.join("new").join(&name))
}
