//! The one place that turns `--host` and its companions into targets, for
//! `run` and `stress` alike: the account or account templates, the store to
//! seed, TLS and timeouts. Kept out of `app` so `stress` does not depend on
//! the commands above it.

use crate::cli::{AccountTemplates, ServerArgs};
use crate::runner::deliver::Delivery;
use crate::runner::seed::Seeder;
use crate::runner::target::{Account, Target};
use crate::runner::tls::TlsOptions;
use std::path::PathBuf;

/// Builds the target from --host and friends; Err is a usage problem.
pub fn target_from_args(
    a: &ServerArgs,
    extra_vars: Vec<(String, String)>,
) -> Result<Target, String> {
    let host = a.host.clone().expect("called only with --host");
    let port = a.port.unwrap_or(if a.tls { 995 } else { 110 });
    let account = |u: &Option<String>, p: &Option<String>, which: &str| match (u, p) {
        (Some(user), Some(pass)) => Ok(Some(Account {
            user: user.clone(),
            pass: pass.clone(),
        })),
        (None, None) => Ok(None),
        _ => Err(format!("{which}: give both the user name and the password")),
    };
    let tls_opts = TlsOptions {
        insecure: a.insecure,
        ca_file: a.ca_file.clone(),
        sni: a.sni.clone(),
    };
    let account1 = account(&a.user, &a.pass, "--user/--pass")?;
    let delivery = a.deliver.as_ref().map(|endpoint| {
        Seeder::Deliver(Delivery {
            endpoint: endpoint.clone(),
            recipient: a.deliver_to.clone(),
            wait: a.deliver_wait,
            disposable: a.disposable_account,
        })
    });
    // Each account is seeded through its own store when one is given, else
    // by --seed-command (told which account in $POP3SPEC_USER), else by delivery.
    let store_of = |maildir: &Option<PathBuf>, mbox: &Option<PathBuf>| {
        let file_store = match (maildir, mbox) {
            (Some(dir), _) => Some(Seeder::Maildir {
                path: dir.clone(),
                disposable: a.disposable_account,
                durable: true,
            }),
            (None, Some(file)) => Some(Seeder::Mbox {
                path: file.clone(),
                disposable: a.disposable_account,
                durable: true,
            }),
            (None, None) => None,
        };
        file_store
            .or_else(|| a.seed_command.clone().map(Seeder::Command))
            .or_else(|| delivery.clone())
    };
    let seeder = store_of(&a.maildir, &a.mbox);
    let seeder2 = store_of(&a.maildir2, &a.mbox2);
    for (flag, given) in [
        ("--maildir2", a.maildir2.is_some()),
        ("--mbox2", a.mbox2.is_some()),
    ] {
        if given && (a.user2.is_none() || a.pass2.is_none()) {
            return Err(format!(
                "{flag} seeds the second account: pass --user2 and --pass2 too"
            ));
        }
    }
    if seeder.is_some() && account1.is_none() {
        return Err(
            "seeding (--maildir/--mbox/--deliver/--seed-command) needs the account it seeds: pass --user and --pass"
                .into(),
        );
    }
    let mut target = Target::new(format!("{host}:{port}"), host, port, tls_opts)?;
    target.implicit_tls = a.tls;
    target.starttls = a.starttls;
    target.tls_port = a.tls_port;
    target.account = account1;
    target.account2 = account(&a.user2, &a.pass2, "--user2/--pass2")?;
    target.account_long = account(&a.long_user, &a.long_pass, "--long-user/--long-pass")?;
    target.auth = a.auth;
    target.seeder = seeder;
    target.seeder2 = seeder2;
    target.connect_timeout = a.connect_timeout;
    target.timeout = a.timeout;
    target.max_timeout = a.max_timeout;
    target.login_timeout = a.login_timeout.max(a.timeout);
    target.max_line = a.max_line;
    target.max_body = a.max_body;
    target.declared_capabilities = a.capabilities.clone();
    target.extra_vars = extra_vars;
    Ok(target)
}

/// The targets of a run against --host: one per job, each with its own
/// accounts when templates give them (else all share --user and --user2).
pub fn host_targets(
    server: &ServerArgs,
    templates: &AccountTemplates,
    jobs: usize,
    extra_vars: Vec<(String, String)>,
) -> Result<Vec<Target>, String> {
    // `{job}`, or `{n}` for short (clap's help cannot show `{n}`: it reads it
    // as a line break, so the help says `{job}`).
    let expand = |template: &str, n: usize, user: &str| {
        template
            .replace("{job}", &n.to_string())
            .replace("{n}", &n.to_string())
            .replace("{user}", user)
    };
    let has_job = |t: &str| t.contains("{job}") || t.contains("{n}");
    for (flag, template) in [
        ("--user-template", &templates.user_template),
        ("--user2-template", &templates.user2_template),
    ] {
        if template.as_ref().is_some_and(|t| !has_job(t)) {
            return Err(format!(
                "{flag} needs `{{job}}` where the job number goes, e.g. 'pop3spec{{job}}'"
            ));
        }
    }
    // (flag, template, example, the store it names): at most one is given.
    let store_template = [
        (
            "--maildir-template",
            &templates.maildir_template,
            "'/srv/mail/{user}/Maildir'",
            false,
        ),
        (
            "--mbox-template",
            &templates.mbox_template,
            "'/var/mail/{user}'",
            true,
        ),
    ]
    .into_iter()
    .find_map(|(flag, t, example, mbox)| t.as_ref().map(|t| (flag, t, example, mbox)));
    if let Some((flag, t, example, _)) = store_template {
        if !t.contains("{user}") && !has_job(t) {
            return Err(format!(
                "{flag} needs `{{user}}` or `{{job}}`, e.g. {example}, so each account has its own"
            ));
        }
    }
    // One store seeded for every job's account would hand each job another
    // account's mail.
    for (template, stores, flags) in [
        (
            &templates.user_template,
            [&server.maildir, &server.mbox],
            "--user-template and --maildir/--mbox",
        ),
        (
            &templates.user2_template,
            [&server.maildir2, &server.mbox2],
            "--user2-template and --maildir2/--mbox2",
        ),
    ] {
        if template.is_some() && stores.iter().any(|s| s.is_some()) {
            return Err(format!("{flags} would seed one store for every job's account: give --maildir-template '/path/{{user}}/Maildir' or --mbox-template '/var/mail/{{user}}' (or --seed-command, which gets $POP3SPEC_USER)"));
        }
    }
    // The first job's accounts stand in for --user/--user2 while the shared
    // settings are checked and built once.
    let mut first = server.clone();
    if let Some(t) = &templates.user_template {
        first.user = Some(expand(t, 1, ""));
    }
    if let Some(t) = &templates.user2_template {
        first.user2 = Some(expand(t, 1, ""));
    }
    let base = target_from_args(&first, extra_vars)?;
    if let (Some((flag, ..)), None) = (store_template, &base.account) {
        return Err(format!(
            "{flag} seeds the test accounts: pass --user-template (or --user) and --pass too"
        ));
    }
    let mut targets = Vec::new();
    for n in 1..=jobs.max(1) {
        let mut target = base.clone();
        if let (Some(t), Some(a)) = (&templates.user_template, &mut target.account) {
            a.user = expand(t, n, "");
        }
        if let (Some(t), Some(a)) = (&templates.user2_template, &mut target.account2) {
            a.user = expand(t, n, "");
        }
        if let Some((_, t, _, mbox)) = store_template {
            let seeder = |a: &Account| {
                let path: PathBuf = expand(t, n, &a.user).into();
                let disposable = server.disposable_account;
                if mbox {
                    Seeder::Mbox {
                        path,
                        disposable,
                        durable: true,
                    }
                } else {
                    Seeder::Maildir {
                        path,
                        disposable,
                        durable: true,
                    }
                }
            };
            target.seeder = target.account.as_ref().map(seeder);
            target.seeder2 = target.account2.as_ref().map(seeder);
        }
        targets.push(target);
    }
    Ok(targets)
}
