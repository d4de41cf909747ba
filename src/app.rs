//! What each command does, from parsed arguments to an exit code. Kept out of
//! `main.rs` so integration tests can drive commands in-process.

use crate::bundled::{Bundled, BundledOptions};
use crate::cli::{CheckArgs, ConsoleArgs, ListArgs, OutputArgs, RunArgs, Selection, ServerArgs};
use crate::outcome::RunResult;
use crate::report::{self, console::ConsoleOptions, console::Progress};
use crate::runner::seed::Seeder;
use crate::runner::target::{Account, Target};
use crate::runner::tls::{self, TlsOptions};
use crate::runner::{self, RunOptions};
use crate::scenario::load::{self, Problem};
use crate::scenario::Scenario;
use crate::select;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_UNREACHABLE: u8 = 3;

/// Bundled reference servers a run is split over when --jobs is not given.
pub const DEFAULT_BUNDLED_JOBS: usize = 4;

pub fn console_options(c: &ConsoleArgs, strict: bool) -> ConsoleOptions {
    ConsoleOptions {
        color: c.color.enabled(),
        verbose: c.verbose,
        quiet: c.quiet,
        strict,
    }
}

fn print_problems(problems: &[Problem]) {
    let mut err = std::io::stderr().lock();
    for p in problems {
        let _ = writeln!(err, "{}", p.render());
    }
    let _ = writeln!(
        err,
        "{} problem(s) in scenario files; nothing was run. Fix them and try `pop3spec check` again.",
        problems.len()
    );
}

pub fn check(args: CheckArgs) -> u8 {
    let vars = match select::var_names(&args.vars) {
        Ok(v) => v,
        Err(e) => return usage(&e),
    };
    let paths = if args.paths.is_empty() {
        vec![select::default_scenario_dir()]
    } else {
        args.paths
    };
    let files = match load::discover(&paths) {
        Ok(f) => f,
        Err(e) => return usage(&e),
    };
    let names: BTreeSet<String> = vars.into_iter().map(|(k, _)| k).collect();
    let suite = load::load_suite(&files, &names);
    if suite.problems.is_empty() {
        println!("{} scenario file(s) OK", suite.scenarios.len());
        EXIT_OK
    } else {
        print_problems(&suite.problems);
        EXIT_USAGE
    }
}

fn usage(message: &str) -> u8 {
    eprintln!("error: {message}");
    EXIT_USAGE
}

/// The scenarios a selection names, or the exit code when the files or the
/// selection are unusable (problems already printed).
/// The selected scenarios and the `--var` values.
type Selected = (Vec<Scenario>, Vec<(String, String)>);

fn load_selected(selection: &Selection) -> Result<Selected, u8> {
    let (suite, vars) = select::load(selection).map_err(|e| usage(&e))?;
    if !suite.problems.is_empty() {
        print_problems(&suite.problems);
        return Err(EXIT_USAGE);
    }
    let scenarios = select::filter(suite.scenarios, selection).map_err(|e| usage(&e))?;
    Ok((scenarios, vars))
}

pub fn list(args: ListArgs) -> u8 {
    let (scenarios, _) = match load_selected(&args.selection) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if args.coverage {
        let (folders, _) = select::split_targets(&args.selection.targets);
        let file = crate::coverage::requirements_path(args.requirements.as_deref(), &folders);
        return crate::coverage::list(&scenarios, &file);
    }
    let mut out = std::io::stdout().lock();
    for s in &scenarios {
        let _ = writeln!(
            out,
            "{:<58} {:<6} {:<16} {}  [{}]",
            s.id,
            s.level.as_str(),
            s.spec,
            s.title,
            s.tags.join(", ")
        );
    }
    let _ = writeln!(out, "{} scenario(s)", scenarios.len());
    EXIT_OK
}

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
    let seeder = match (&a.maildir, &a.seed_command) {
        (Some(dir), _) => Some(Seeder::Maildir {
            path: dir.clone(),
            disposable: a.disposable_account,
        }),
        (None, Some(cmd)) => Some(Seeder::Command(cmd.clone())),
        (None, None) => None,
    };
    let seeder2 = match (&a.maildir2, &a.seed_command) {
        (Some(dir), _) => Some(Seeder::Maildir {
            path: dir.clone(),
            disposable: a.disposable_account,
        }),
        (None, Some(cmd)) => Some(Seeder::Command(cmd.clone())),
        (None, None) => None,
    };
    if a.maildir2.is_some() && (a.user2.is_none() || a.pass2.is_none()) {
        return Err("--maildir2 seeds the second account: pass --user2 and --pass2 too".into());
    }
    if seeder.is_some() && account1.is_none() {
        return Err(
            "seeding (--maildir/--seed-command) needs the account it seeds: pass --user and --pass"
                .into(),
        );
    }
    Ok(Target {
        label: format!("{host}:{port}"),
        host,
        port,
        implicit_tls: a.tls,
        starttls: a.starttls,
        tls_port: a.tls_port,
        connector: tls::connector(&tls_opts)?,
        tls: tls_opts,
        account: account1,
        account2: account(&a.user2, &a.pass2, "--user2/--pass2")?,
        auth: a.auth,
        seeder,
        seeder2,
        connect_timeout: a.connect_timeout,
        timeout: a.timeout,
        max_line: a.max_line,
        max_body: a.max_body,
        lock_wait: std::time::Duration::from_secs(1),
        declared_capabilities: a.capabilities.clone(),
        extra_vars,
    })
}

pub async fn run(args: RunArgs) -> u8 {
    let (scenarios, vars) = match load_selected(&args.selection) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let known_failures = match &args.known_failures {
        Some(p) => match runner::read_known_failures(p) {
            Ok(k) => k,
            Err(e) => return usage(&e),
        },
        None => BTreeSet::new(),
    };
    let mut bundled = Vec::new();
    let targets = if args.server.host.is_some() {
        if args.jobs.is_some_and(|j| j > 1) {
            return usage("--jobs above 1 needs one test account per job, which only the bundled server provides so far; run a real server with --jobs 1");
        }
        match target_from_args(&args.server, vars) {
            Ok(t) => vec![t],
            Err(e) => return usage(&e),
        }
    } else {
        // Each bundled server has its own Maildir root and lock table, so the
        // suite can be split over several of them with results unchanged.
        let opts = BundledOptions {
            timeout: args.server.timeout,
            ..Default::default()
        };
        for _ in 0..args.jobs.unwrap_or(DEFAULT_BUNDLED_JOBS).max(1) {
            match Bundled::start(opts.clone()).await {
                Ok(mut b) => {
                    b.target.extra_vars.extend(vars.iter().cloned());
                    bundled.push(b);
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    return EXIT_FAILED;
                }
            }
        }
        bundled.iter().map(|b| b.target.clone()).collect()
    };
    let opts = RunOptions {
        strict: args.strict,
        fail_fast: args.fail_fast,
        known_failures,
    };
    let code = run_against(&scenarios, &targets, &opts, &args.output).await;
    for b in bundled {
        b.stop().await;
    }
    code
}

/// Probes the target, runs, prints and writes reports; returns the exit code.
pub async fn run_against(
    scenarios: &[crate::scenario::Scenario],
    targets: &[Target],
    opts: &RunOptions,
    output: &OutputArgs,
) -> u8 {
    let console = console_options(&output.console, opts.strict);
    let mut shards = Vec::new();
    for target in targets {
        match target.probe().await {
            Ok(info) => shards.push((target.clone(), info)),
            Err(e) => {
                eprintln!("error: {e}\nnothing was run: check --host/--port (and --tls), and that the server is up.");
                return EXIT_UNREACHABLE;
            }
        }
    }
    let (target, info) = &shards[0];
    if !console.quiet {
        println!(
            "pop3spec: {} scenario(s) against {}",
            scenarios.len(),
            target.label
        );
        println!(
            "  greeting: {}\n  CAPA: {}",
            info.greeting,
            if info.capa_supported {
                info.capabilities.join(", ")
            } else {
                "not supported".into()
            }
        );
        if let Some(p) = &info.login_problem {
            println!("  warning: the configured account could not log in ({p}); TRANSACTION scenarios will error");
        }
        println!();
    }
    // A status line on stderr while both streams are a terminal (never in CI logs).
    let mut progress = {
        use std::io::IsTerminal;
        (!console.quiet && std::io::stdout().is_terminal() && std::io::stderr().is_terminal()).then(
            || {
                let p = Progress::new(scenarios.len());
                eprint!("{}", p.render(""));
                p
            },
        )
    };
    let result = runner::run_sharded(scenarios, &shards, opts, |r| {
        if progress.is_some() {
            eprint!("{}", Progress::ERASE);
        }
        if report::console::is_shown(r, &console) {
            println!("{}", report::console::scenario_line(r, &console));
        }
        if let Some(p) = &mut progress {
            p.record(r, &console);
            eprint!("{}", p.render(&r.id));
        }
    })
    .await;
    if progress.is_some() {
        eprint!("{}", Progress::ERASE);
    }
    println!("{}", report::console::render_tail(&result, &console));
    if report::github::enabled(output.annotations) {
        print!("{}", report::github::render(&result));
    }
    if let Some((path, append)) = report::markdown::destination(output) {
        if let Err(e) = report::markdown::write(&path, append, &report::markdown::render(&result)) {
            eprintln!("error: {e}");
            return EXIT_FAILED;
        }
    }
    if !output.no_reports {
        if let Err(e) = write_reports(&result, output) {
            eprintln!("error: {e}");
            return EXIT_FAILED;
        }
    }
    if result.scenarios.iter().any(|r| r.fails_run()) {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

fn write_reports(result: &RunResult, output: &OutputArgs) -> Result<(), String> {
    write_file(&output.junit, &report::junit::render(result))?;
    write_file(&output.json, &report::json::render(result))
}

pub fn write_file(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
