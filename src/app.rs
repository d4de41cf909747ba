//! What each command does, from parsed arguments to an exit code. Kept out of
//! `main.rs` so integration tests can drive commands in-process.

use crate::bundled::{Bundled, BundledOptions};
use crate::cli::{CheckArgs, ListArgs, OutputArgs, RunArgs, Selection};
use crate::outcome::RunResult;
use crate::report::{self, console::ConsoleOptions, console::Progress};
use crate::runner::target::{Account, Target, TargetInfo};
use crate::runner::{self, RunOptions, Worker};
use crate::scenario::load::{self, Problem};
use crate::scenario::Scenario;
use crate::select;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

pub use crate::cli::console_options;
pub use crate::exit::{EXIT_BROKEN_PIPE, EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE};
pub use crate::report::write::{check_writable, write_file, write_stdout};
pub use crate::targets::{host_targets, target_from_args};

/// Console output of a run: a reader that went away (`pop3spec run | head`)
/// must not stop the run before its reports are written and its verdict known.
macro_rules! outln {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
macro_rules! out {
    ($($arg:tt)*) => {{
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

/// Jobs (account pairs on the bundled server) when --jobs is not given: the
/// suite mostly waits on scripted timers, so more jobs than cores pay off.
pub const DEFAULT_BUNDLED_JOBS: usize = 8;

fn print_problems(problems: &[Problem]) {
    print_problems_with(problems, "pop3spec check");
}

/// The problems, and the command that checks the files again.
fn print_problems_with(problems: &[Problem], recheck: &str) {
    let mut err = std::io::stderr().lock();
    for p in problems {
        let _ = writeln!(err, "{}", p.render());
    }
    let _ = writeln!(
        err,
        "{} problem(s) in scenario files; nothing was run. Fix them and try `{recheck}` again.",
        problems.len()
    );
}

pub fn check(args: CheckArgs) -> u8 {
    let vars = match select::var_names(&args.vars) {
        Ok(v) => v,
        Err(e) => return usage(&e),
    };
    if let Err(e) = select::check_suite_args(&args.suite) {
        return usage(&e);
    }
    let paths = select::suite_paths(args.paths, &args.suite);
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

/// Ends the process quietly when a `print!` found stdout closed by its reader
/// (Rust's print macros panic then), instead of "failed printing to stdout:
/// Broken pipe (os error 32)"; any other panic is reported as usual.
pub fn exit_quietly_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("failed printing to std") && message.contains("Broken pipe") {
            crate::suite::cleanup();
            std::process::exit(EXIT_BROKEN_PIPE.into());
        }
        default(info)
    }));
}

fn usage(message: &str) -> u8 {
    eprintln!("error: {message}");
    EXIT_USAGE
}

/// The scenarios a selection names, or the exit code when the files or the
/// selection are unusable (problems already printed).
/// The selected scenarios, the `--var` values, and the ids of every scenario
/// loaded (selected or not).
type Selected = (Vec<Scenario>, Vec<(String, String)>, Vec<String>);

fn load_selected(selection: &Selection) -> Result<Selected, u8> {
    let (suite, vars) = select::load(selection).map_err(|e| usage(&e))?;
    if !suite.problems.is_empty() {
        print_problems(&suite.problems);
        return Err(EXIT_USAGE);
    }
    let loaded = suite.scenarios.iter().map(|s| s.id.clone()).collect();
    let scenarios = select::filter(suite.scenarios, selection).map_err(|e| usage(&e))?;
    Ok((scenarios, vars, loaded))
}

pub fn list(args: ListArgs) -> u8 {
    let (scenarios, _, _) = match load_selected(&args.selection) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if args.coverage {
        let (folders, _) = select::split_targets(&args.selection.targets, &args.selection.suite);
        let file = crate::coverage::requirements_path(args.requirements.as_deref(), &folders);
        return crate::coverage::list(&scenarios, &file);
    }
    if args.json {
        return write_stdout(list_json(&scenarios).as_bytes());
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

/// `list --json`: one object per scenario, for scripts and editors.
pub fn list_json(scenarios: &[Scenario]) -> String {
    let entries: Vec<serde_json::Value> = scenarios
        .iter()
        .map(|s| {
            serde_json::json!({
                "id": s.id,
                "title": s.title,
                "spec": s.spec,
                "level": s.level.as_str(),
                "tags": s.tags,
                "requires": s.requires,
                "file": s.file.display().to_string(),
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&entries).expect("JSON values serialize");
    text.push('\n');
    text
}

/// `run --rerun-failed FILE`: the selected scenarios that failed or errored
/// in the report `file`. Err(exit code) when the report is unusable (exit 2,
/// said why) or when nothing failed there (exit 0, said so).
fn rerun_failed(scenarios: Vec<Scenario>, file: &Path) -> Result<Vec<Scenario>, u8> {
    use crate::outcome::Outcome;
    let report = report::matrix::load(file).map_err(|e| usage(&e))?;
    let failed: BTreeSet<&str> = report
        .scenarios
        .iter()
        .filter(|s| matches!(s.outcome, Outcome::Fail | Outcome::Error))
        .map(|s| s.id.as_str())
        .collect();
    if failed.is_empty() {
        outln!(
            "pop3spec: no scenario failed or errored in {}; nothing to rerun",
            file.display()
        );
        return Err(EXIT_OK);
    }
    let known: BTreeSet<&str> = scenarios.iter().map(|s| s.id.as_str()).collect();
    let gone: Vec<&str> = failed
        .iter()
        .copied()
        .filter(|id| !known.contains(id))
        .collect();
    if !gone.is_empty() {
        eprintln!(
            "warning: --rerun-failed: {} failed in {} but is not in the selection (renamed, removed, or left out by the selection)",
            gone.join(", "),
            file.display()
        );
    }
    let kept: Vec<Scenario> = scenarios
        .into_iter()
        .filter(|s| failed.contains(s.id.as_str()))
        .collect();
    if kept.is_empty() {
        return Err(usage(&format!(
            "the selection is empty: none of the {} scenario(s) that failed in {} is selected",
            failed.len(),
            file.display()
        )));
    }
    Ok(kept)
}

pub async fn run(args: RunArgs) -> u8 {
    let (mut scenarios, vars, loaded) = match load_selected(&args.selection) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if let Some(file) = &args.rerun_failed {
        scenarios = match rerun_failed(scenarios, file) {
            Ok(s) => s,
            Err(code) => return code,
        };
    }
    let known_failures = match &args.known_failures {
        Some(p) => match runner::read_known_failures(p) {
            Ok(k) => k,
            Err(e) => return usage(&e),
        },
        None => Default::default(),
    };
    if let Err(e) = check_report_destinations(&args.output) {
        return usage(&format!(
            "{e}\nnothing was run: fix the path, or pass --no-reports"
        ));
    }
    // Entries that name no scenario in the files read would rot unnoticed.
    let unused = known_failures.unused(loaded.iter().map(String::as_str));
    for entry in &unused {
        eprintln!("warning: --known-failures {entry} matches no scenario id (a typo, or a scenario that is gone?){}", if args.strict { "; with --strict this fails the run" } else { "" });
    }
    let mut bundled = None;
    let workers = if args.server.host.is_some() {
        let jobs = args.jobs.unwrap_or(1).max(1);
        let templated =
            args.templates.user_template.is_some() || args.templates.user2_template.is_some();
        if templated && args.jobs.is_none() {
            eprintln!("note: --user-template names one account per job, and without --jobs there is one job; pass --jobs N to run N scenarios at once");
        }
        let targets = match host_targets(&args.server, &args.templates, jobs, vars) {
            Ok(t) => t,
            Err(e) => return usage(&e),
        };
        let infos = runner::parallel::probe_all(&targets).await;
        let mut workers = Vec::new();
        for (target, info) in targets.into_iter().zip(infos) {
            match info {
                Ok(TargetInfo {
                    login_problem: Some(problem),
                    ..
                }) => {
                    eprintln!("error: {problem}");
                    return EXIT_UNREACHABLE;
                }
                Ok(info) => workers.push(Worker::new(target, info)),
                Err(e) => {
                    eprintln!("error: {e}\nnothing was run: check --host/--port (and --tls), and that the server is up.");
                    return EXIT_UNREACHABLE;
                }
            }
        }
        workers
    } else {
        let t = &args.templates;
        if t.user_template.is_some()
            || t.user2_template.is_some()
            || t.maildir_template.is_some()
            || t.mbox_template.is_some()
        {
            return usage("--user-template, --user2-template, --maildir-template and --mbox-template name accounts on --host; the bundled server has an account pair per job of its own");
        }
        let opts = BundledOptions {
            timeout: args.server.timeout,
            max_timeout: args.server.max_timeout,
            ..Default::default()
        };
        // More jobs than scenarios would only start accounts nobody uses.
        let jobs = args
            .jobs
            .unwrap_or(DEFAULT_BUNDLED_JOBS)
            .min(scenarios.len().max(1));
        let twins = runner::Lane::needed_by(&scenarios);
        let started = match Bundled::start(opts, jobs, &twins).await {
            Ok(mut b) => {
                b.add_vars(&vars);
                b
            }
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_FAILED;
            }
        };
        let workers = started.workers().await;
        bundled = Some(started);
        match workers {
            Ok(w) => w,
            Err(e) => {
                eprintln!("error: the bundled reference server: {e}");
                if let Some(b) = bundled {
                    b.stop().await;
                }
                return EXIT_FAILED;
            }
        }
    };
    let opts = RunOptions {
        strict: args.strict,
        fail_fast: args.fail_fast,
        known_failures,
        deadline: args.deadline,
    };
    let mut code = run_against(&scenarios, &workers, &opts, &args.output).await;
    if let Some(b) = bundled {
        b.stop().await;
    }
    if args.strict && !unused.is_empty() && code == EXIT_OK {
        eprintln!(
            "error: {} --known-failures {} no scenario (listed above); with --strict the list must not hold stale entries",
            unused.len(),
            if unused.len() == 1 { "entry matches" } else { "entries match" }
        );
        code = EXIT_FAILED;
    }
    code
}

/// Runs on probed workers, prints and writes reports; returns the exit code.
pub async fn run_against(
    scenarios: &[crate::scenario::Scenario],
    workers: &[Worker],
    opts: &RunOptions,
    output: &OutputArgs,
) -> u8 {
    let console = console_options(&output.console, opts.strict);
    let Some(Worker { target, info, .. }) = workers.first() else {
        return usage("no worker to run on");
    };
    if !console.quiet {
        outln!(
            "pop3spec: {} scenario(s) against {}",
            scenarios.len(),
            target.label
        );
        outln!("  greeting: {}", clip(&info.greeting, HEADER_LINE_CHARS));
        if !info.capa_supported {
            outln!("  CAPA: not supported");
        } else {
            outln!(
                "  CAPA before login: {}",
                capability_summary(&info.capabilities)
            );
            match &info.capabilities_after_login {
                Some(after) => outln!("  CAPA after login: {}", capability_summary(after)),
                None if target.account.is_some() => outln!("  CAPA after login: refused"),
                None => outln!("  CAPA after login: not checked (no account)"),
            }
        }
        if let Some(p) = &info.capa_problem {
            outln!("  warning: {p}");
        }
        for w in workers {
            for (user, took) in &w.info.slow_logins {
                outln!("  note: logging in as {user} took {:.1} s (slow: longer than --timeout; the harness's own logins wait up to --login-timeout {:?})", took.as_secs_f64(), w.target.login_timeout);
            }
        }
        if workers.len() > 1 {
            let sharing = shared_account_scenarios(scenarios, workers);
            if sharing > 0 {
                outln!("  {} jobs; {sharing} scenario(s) use the one test account and run one at a time (--user-template gives each job its own)", workers.len());
            } else {
                outln!("  {} jobs", workers.len());
            }
        }
        outln!("");
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
    // Jobs finish out of order; lines are printed in the suite's order (as in
    // the reports), each as soon as every scenario before it has finished.
    let position: std::collections::HashMap<&str, usize> = scenarios
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut waiting: std::collections::BTreeMap<usize, Option<String>> = Default::default();
    let mut next = 0;
    let result = runner::run_parallel(scenarios, workers, opts, |r| {
        if progress.is_some() {
            eprint!("{}", Progress::ERASE);
        }
        let line = report::console::is_shown(r, &console)
            .then(|| report::console::scenario_line(r, &console));
        waiting.insert(position.get(r.id.as_str()).copied().unwrap_or(next), line);
        while let Some(line) = waiting.remove(&next) {
            if let Some(line) = line {
                outln!("{line}");
            }
            next += 1;
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
    finish_reports(&result, output, &console)
}

/// The header shows the probe's findings in a few lines, whatever the server sent.
const HEADER_CAPABILITIES: usize = 16;
const HEADER_LINE_CHARS: usize = 200;

/// At most `HEADER_CAPABILITIES` capabilities, each clipped, and how many more there are.
fn capability_summary(capabilities: &[String]) -> String {
    let mut shown: Vec<String> = capabilities
        .iter()
        .take(HEADER_CAPABILITIES)
        .map(|c| clip(c, HEADER_LINE_CHARS / 4))
        .collect();
    if capabilities.len() > HEADER_CAPABILITIES {
        shown.push(format!(
            "... and {} more",
            capabilities.len() - HEADER_CAPABILITIES
        ));
    }
    shown.join(", ")
}

/// `text` cut to `max` characters, marking the cut.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

/// Scenarios that need an account every worker shares (so they cannot overlap).
fn shared_account_scenarios(scenarios: &[crate::scenario::Scenario], workers: &[Worker]) -> usize {
    let same = |f: fn(&Target) -> Option<&Account>| {
        let first = f(&workers[0].target).map(|a| &a.user);
        first.is_some()
            && workers
                .iter()
                .all(|w| f(&w.target).map(|a| &a.user) == first)
    };
    let (first_shared, second_shared, long_shared) = (
        same(|t| t.account.as_ref()),
        same(|t| t.account2.as_ref()),
        same(|t| t.account_long.as_ref()),
    );
    scenarios
        .iter()
        .filter(|s| {
            let u = s.account_use();
            (u.first && first_shared) || (u.second && second_shared) || (u.long && long_shared)
        })
        .count()
}

/// Every file the run will write, checked before anything connects: a report
/// that cannot be written should not cost a whole run to find out.
pub fn check_report_destinations(output: &OutputArgs) -> Result<(), String> {
    let mut files = Vec::new();
    if !output.no_reports {
        files.push((output.junit.clone(), "--junit"));
        files.push((output.json.clone(), "--json"));
    }
    if let Some((path, _)) =
        report::markdown::destination(output.summary_md.as_deref(), output.no_reports)
    {
        files.push((path, "the Markdown summary"));
    }
    for (path, what) in files {
        check_writable(&path).map_err(|e| format!("{what} {}: {e}", path.display()))?;
    }
    Ok(())
}

fn write_reports(result: &RunResult, output: &OutputArgs) -> Result<(), String> {
    write_file(&output.junit, &report::junit::render(result))?;
    write_file(&output.json, &report::json::render(result))
}

/// `pop3spec client`: judges a POP3 client with the client scenarios.
pub async fn client(mut args: crate::cli::ClientArgs) -> u8 {
    use crate::client::run::{self as client_run, ClientRunOptions, Launch};
    let launch = match (&args.command, &args.command_file, args.listen) {
        (Some(c), None, None) => Launch::Command(c.clone()),
        (None, Some(f), None) => match std::fs::read_to_string(f) {
            Ok(text) if !text.trim().is_empty() => Launch::Command(text.trim().to_string()),
            Ok(_) => return usage(&format!("--command-file {}: the file is empty", f.display())),
            Err(e) => return usage(&format!("cannot read --command-file {}: {e}", f.display())),
        },
        (None, None, Some(addr)) if addr.ip().is_loopback() => Launch::Listen(addr),
        (None, None, Some(addr)) => {
            return usage(&format!(
                "--listen {addr}: only loopback addresses (127.0.0.0/8, ::1) are allowed"
            ))
        }
        _ if args.list => Launch::Command(String::new()),
        _ => {
            return usage(
                "give the client to judge: --command 'CMD' (or --command-file FILE), or --listen HOST:PORT for a client started by hand",
            )
        }
    };
    let (paths, globs) = {
        let mut paths = Vec::new();
        let mut globs = Vec::new();
        for t in &args.targets {
            let p = PathBuf::from(t);
            if p.exists() {
                paths.push(p);
            } else if t.contains('/') || t.ends_with(".yaml") {
                return usage(&format!("{t}: no such file or folder"));
            } else {
                globs.push(t.clone());
            }
        }
        (paths, globs)
    };
    let suite = crate::cli::SuiteArgs {
        suite: args.suite.clone(),
        add: args.add.clone(),
    };
    if let Err(e) = crate::select::check_suite_args(&suite) {
        return usage(&e);
    }
    let scenarios = match client_run::load(paths, &suite) {
        Ok(s) => s,
        Err((problems, message)) => {
            if problems.is_empty() {
                return usage(&message);
            }
            print_problems_with(&problems, "pop3spec client --list");
            return EXIT_USAGE;
        }
    };
    let glob_set = |patterns: &[String]| -> Result<Option<globset::GlobSet>, String> {
        if patterns.is_empty() {
            return Ok(None);
        }
        let mut b = globset::GlobSetBuilder::new();
        for p in patterns {
            b.add(globset::Glob::new(p).map_err(|e| format!("id glob `{p}`: {e}"))?);
        }
        b.build().map(Some).map_err(|e| e.to_string())
    };
    let (include, exclude) = match (glob_set(&globs), glob_set(&args.exclude)) {
        (Ok(i), Ok(e)) => (i, e),
        (Err(e), _) | (_, Err(e)) => return usage(&e),
    };
    let scenarios: Vec<_> = scenarios
        .into_iter()
        .filter(|s| include.as_ref().is_none_or(|g| g.is_match(&s.id)))
        .filter(|s| exclude.as_ref().is_none_or(|g| !g.is_match(&s.id)))
        .filter(|s| args.tag.is_empty() || s.tags.iter().any(|t| args.tag.contains(t)))
        .collect();
    if scenarios.is_empty() {
        return usage(
            "the selection leaves no client scenario (`pop3spec client --list` shows them)",
        );
    }
    if args.list {
        for s in &scenarios {
            outln!(
                "{:<58} {:<6} {:<14} {}",
                s.id,
                s.level.as_str(),
                s.spec,
                s.title
            );
        }
        return EXIT_OK;
    }
    let known_failures = match &args.known_failures {
        Some(p) => match runner::read_known_failures(p) {
            Ok(k) => Some(k),
            Err(e) => return usage(&e),
        },
        None => None,
    };
    // The server run's report files stay untouched unless asked for.
    if args.output.junit == Path::new("reports/junit.xml") {
        args.output.junit = PathBuf::from("reports/client-junit.xml");
    }
    if args.output.json == Path::new("reports/results.json") {
        args.output.json = PathBuf::from("reports/client-results.json");
    }
    if let Err(e) = check_report_destinations(&args.output) {
        return usage(&e);
    }
    let config_template = match &args.config_template {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => Some((
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "client.conf".into()),
                text,
            )),
            Err(e) => {
                return usage(&format!(
                    "cannot read --config-template {}: {e}",
                    path.display()
                ))
            }
        },
        None => None,
    };
    let opts = ClientRunOptions {
        config_template,
        launch,
        user: args.user.clone(),
        pass: args.pass.clone(),
        timeout: args.timeout,
        strict: args.strict,
        linger: std::time::Duration::from_millis(200),
        keep_dir: args.keep.clone(),
    };
    let console = console_options(&args.output.console, args.strict);
    if !console.quiet {
        outln!(
            "pop3spec: {} client scenario(s) against {}\n",
            scenarios.len(),
            match &opts.launch {
                Launch::Command(c) => format!("`{c}`"),
                Launch::Listen(a) => format!("a client on {a}"),
            }
        );
    }
    let result = client_run::run_all(&scenarios, &opts, |r| {
        let mut r = r.clone();
        r.known_failure = known_failures.as_ref().is_some_and(|k| k.matches(&r.id));
        if report::console::is_shown(&r, &console) {
            outln!("{}", report::console::scenario_line(&r, &console));
        }
    })
    .await;
    let mut result = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAILED;
        }
    };
    if let Some(k) = &known_failures {
        for r in &mut result.scenarios {
            r.known_failure = k.matches(&r.id);
        }
    }
    finish_reports(&result, &args.output, &console)
}

/// The end of every run: console tail, annotations, summary, report files,
/// exit code.
fn finish_reports(result: &RunResult, output: &OutputArgs, console: &ConsoleOptions) -> u8 {
    outln!("{}", report::console::render_tail(result, console));
    if report::github::enabled(output.annotations) {
        out!("{}", report::github::render(result));
    }
    if let Some((path, append)) =
        report::markdown::destination(output.summary_md.as_deref(), output.no_reports)
    {
        if let Err(e) = report::markdown::write(&path, append, &report::markdown::render(result)) {
            eprintln!("error: {e}");
            return EXIT_FAILED;
        }
    }
    if !output.no_reports {
        if let Err(e) = write_reports(result, output) {
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

/// `pop3spec report`: exit 0 when both files were written, 2 on bad input, 1
/// when an output cannot be written.
pub fn report(args: crate::cli::ReportArgs) -> u8 {
    use crate::report::matrix::{html, load_servers, markdown, tally_text, Matrix};
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
