//! `pop3spec selftest`: proves the suite and the reference server against each
//! other. The clean server must pass every scenario; then, under each fault
//! switch, at least one scenario must fail, and every scenario that lists the
//! fault in `catches` must be among them. Under each allowed variant
//! (behaviour the RFCs permit: `pop3-reference-server --list-variants`) the
//! clean suite runs again and no scenario may fail or error there. Every run
//! has a server of its own (own Maildir root, own lock table) with an account
//! pair per job.

use crate::bundled::{Bundled, BundledOptions};
use crate::cli::console_options;
use crate::cli::SelftestArgs;
use crate::exit::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::outcome::{Outcome, ScenarioResult};
use crate::report;
use crate::report::write::write_file;
use crate::runner::{self, RunOptions};
use crate::scenario::load;
use crate::scenario::Scenario;
use crate::select;
use pop3_reference_server::{Fault, FaultSet, Variant, VariantSet};
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Step timeout under a fault: a fault that swallows a response costs this
/// much per affected scenario, and loopback answers in microseconds.
const FAULT_TIMEOUT: Duration = Duration::from_millis(1000);
/// Step timeout on the clean server, where a timeout would be a false failure.
const CLEAN_TIMEOUT: Duration = Duration::from_secs(5);
/// The autologout twin's timer in the self-test: longer than `run`'s 250 ms,
/// because up to 16 scenarios share 2 cores here (inside `cargo test`, beside
/// other tests), and a scenario's pause between reconnecting and its next
/// command must stay far below the timer.
const SELFTEST_AUTOLOGOUT: Duration = Duration::from_secs(1);
/// Jobs each run is split over; more shards shorten the longest run.
const SHARDS: usize = 4;

#[derive(Debug, Serialize)]
pub struct FaultResult {
    pub fault: String,
    pub description: String,
    /// Scenarios that failed (or errored) under this fault.
    pub caught_by: Vec<String>,
    /// Scenarios that list this fault in `catches`.
    pub expected_by: Vec<String>,
    /// Listed in `catches` but passed under the fault.
    pub missed_by: Vec<String>,
    pub seconds: f64,
}

#[derive(Debug, Serialize)]
pub struct VariantResult {
    pub variant: String,
    pub description: String,
    /// Scenarios that failed or errored under this allowed variant (must be none).
    pub failures: Vec<String>,
    /// Scenarios skipped under it (a requirement the variant does not offer).
    pub skipped: usize,
    pub seconds: f64,
}

#[derive(Debug, Serialize)]
pub struct SelftestReport {
    pub scenarios: usize,
    pub clean_failures: Vec<String>,
    pub clean_skipped: Vec<String>,
    pub faults: Vec<FaultResult>,
    pub variants: Vec<VariantResult>,
    pub problems: Vec<String>,
    pub seconds: f64,
}

/// Scenarios that wait on purpose run under a fault only when they claim to
/// catch it: elsewhere they add time, not information.
fn waits(s: &Scenario) -> bool {
    s.scripted_waits() > 0
}

fn failed(results: &[ScenarioResult]) -> BTreeSet<String> {
    results
        .iter()
        .filter(|r| {
            matches!(
                r.outcome,
                Outcome::Fail | Outcome::Error | Outcome::NonStrict
            )
        })
        .map(|r| r.id.clone())
        .collect()
}

/// Runs `scenarios` on a bundled server (and its autologout twin) under
/// `faults`, split over `SHARDS` jobs; `limit` bounds the jobs of the whole
/// self-test.
async fn run_on_bundled(
    scenarios: Vec<Scenario>,
    faults: FaultSet,
    variants: VariantSet,
    timeout: Duration,
    limit: Arc<Semaphore>,
) -> Result<Vec<ScenarioResult>, String> {
    // Logins of one account are a LOGIN-DELAY apart under that variant:
    // more accounts (jobs), which mostly wait, keep its run short.
    // Its jobs mostly sleep, so they hold no more permits than the others.
    let shards = if variants.contains(Variant::LoginDelayEnforced) {
        4 * SHARDS
    } else {
        SHARDS
    };
    let _permits = limit
        .acquire_many_owned(SHARDS as u32)
        .await
        .expect("semaphore open");
    // Under a fault a lock may never be released; waiting for it would only
    // cost time. The clean run keeps the patient default.
    // A scenario's own longer timeout (for servers that delay failed logins)
    // is capped too: the reference server does not delay them.
    let (lock_wait, max_timeout) = if faults.is_empty() {
        (BundledOptions::default().lock_wait, None)
    } else {
        (Duration::ZERO, Some(timeout))
    };
    let twins = runner::Lane::needed_by(&scenarios);
    let bundled = Bundled::start(
        BundledOptions {
            faults,
            variants: variants.clone(),
            timeout,
            max_timeout,
            lock_wait,
            autologout: SELFTEST_AUTOLOGOUT,
            ..Default::default()
        },
        shards,
        &twins,
    )
    .await?;
    let workers = match bundled.workers().await {
        Ok(w) => w,
        Err(e) => {
            bundled.stop().await;
            return Err(e);
        }
    };
    // Under an allowed variant a SHOULD scenario may grade what it sees
    // (e.g. a line before the autologout close): only fail and error count.
    let opts = RunOptions {
        strict: variants.is_empty(),
        ..Default::default()
    };
    let result = runner::run_parallel(&scenarios, &workers, &opts, |_| {}).await;
    bundled.stop().await;
    Ok(result.scenarios)
}

fn chosen_variants(names: &[String]) -> Result<Vec<Variant>, String> {
    if names.is_empty() {
        return Ok(Variant::ALL.to_vec());
    }
    names
        .iter()
        .filter(|n| n.as_str() != "none")
        .map(|n| {
            Variant::from_name(n).ok_or_else(|| {
                format!("unknown variant `{n}`; `pop3-reference-server --list-variants` lists them")
            })
        })
        .collect()
}

fn chosen_faults(names: &[String]) -> Result<Vec<Fault>, String> {
    if names.is_empty() {
        return Ok(Fault::ALL.to_vec());
    }
    names
        .iter()
        .filter(|n| n.as_str() != "none")
        .map(|n| {
            Fault::from_name(n).ok_or_else(|| {
                format!("unknown fault `{n}`; `pop3-reference-server --list-faults` lists them")
            })
        })
        .collect()
}

pub async fn selftest(args: SelftestArgs) -> u8 {
    let started = Instant::now();
    if let Err(e) = select::check_suite_args(&args.suite) {
        eprintln!("error: {e}");
        return EXIT_USAGE;
    }
    let paths = select::suite_paths(args.paths.clone(), &args.suite);
    let files = match load::discover(&paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let suite = load::load_suite(&files, &BTreeSet::new());
    if !suite.problems.is_empty() {
        for p in &suite.problems {
            eprintln!("{}", p.render());
        }
        return EXIT_USAGE;
    }
    if suite.scenarios.is_empty() {
        eprintln!("error: no scenario files in the given folders; nothing to self-test");
        return EXIT_USAGE;
    }
    // The self-test takes minutes: find an unwritable matrix file first.
    if let Err(e) = crate::report::write::check_writable(&args.json) {
        eprintln!(
            "error: --json {}: {e}\nnothing was run: fix the path",
            args.json.display()
        );
        return EXIT_USAGE;
    }
    let faults = match chosen_faults(&args.faults) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let variants = match chosen_variants(&args.variants) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let console = console_options(&args.console, true);
    let scenarios = suite.scenarios;
    let mut problems = Vec::new();
    for s in &scenarios {
        for (name, pos) in s.catches.iter().zip(&s.catches_pos) {
            if Fault::from_name(name).is_none() {
                problems.push(format!(
                    "{pos}: {} lists unknown fault `{name}` in catches",
                    s.id
                ));
            }
        }
    }
    let limit = Arc::new(Semaphore::new(args.jobs.max(SHARDS)));

    println!(
        "selftest: {} scenarios against the clean reference server",
        scenarios.len()
    );
    let clean = match run_on_bundled(
        scenarios.clone(),
        FaultSet::none(),
        VariantSet::none(),
        CLEAN_TIMEOUT,
        limit.clone(),
    )
    .await
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAILED;
        }
    };
    let clean_failures: Vec<String> = failed(&clean).into_iter().collect();
    let clean_skipped: Vec<String> = clean
        .iter()
        .filter(|r| r.outcome == Outcome::Skipped)
        .map(|r| r.id.clone())
        .collect();
    for r in clean.iter().filter(|r| clean_failures.contains(&r.id)) {
        print!("{}", report::console::failure_detail(r, &console));
        problems.push(format!(
            "{} does not pass against the clean reference server",
            r.id
        ));
    }
    for r in clean.iter().filter(|r| r.outcome == Outcome::Skipped) {
        println!(
            "  skipped on the clean server: {} ({})",
            r.id,
            r.reason.as_deref().unwrap_or("")
        );
    }

    println!(
        "selftest: {} fault switches, {} scenarios at a time",
        faults.len(),
        args.jobs.max(SHARDS)
    );
    // Spawned first: the semaphore is fair, so the variant runs (the
    // LOGIN-DELAY one is the longest of all) start early and overlap.
    let variant_tasks: Vec<_> = variants
        .into_iter()
        .map(|variant| {
            let (chosen, limit) = (scenarios.clone(), limit.clone());
            tokio::spawn(async move {
                let started = Instant::now();
                let run = run_on_bundled(
                    chosen,
                    FaultSet::none(),
                    VariantSet::single(variant),
                    CLEAN_TIMEOUT,
                    limit,
                )
                .await;
                (variant, run, started.elapsed())
            })
        })
        .collect();
    let mut tasks = Vec::new();
    for fault in faults {
        let chosen: Vec<Scenario> = scenarios
            .iter()
            .filter(|s| !waits(s) || s.catches.iter().any(|c| c == fault.name()))
            .cloned()
            .collect();
        let limit = limit.clone();
        tasks.push(tokio::spawn(async move {
            let started = Instant::now();
            let run = run_on_bundled(
                chosen,
                FaultSet::single(fault),
                VariantSet::none(),
                FAULT_TIMEOUT,
                limit,
            )
            .await;
            (fault, run, started.elapsed())
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        let (fault, run, took) = match t.await {
            Ok(x) => x,
            Err(e) => {
                problems.push(format!("a fault run panicked: {e}"));
                continue;
            }
        };
        let run = match run {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("{}: {e}", fault.name()));
                continue;
            }
        };
        // A scenario that already fails on the clean server proves nothing here.
        let caught: BTreeSet<String> = failed(&run)
            .into_iter()
            .filter(|id| !clean_failures.contains(id))
            .collect();
        let expected: Vec<String> = scenarios
            .iter()
            .filter(|s| s.catches.iter().any(|c| c == fault.name()))
            .map(|s| s.id.clone())
            .collect();
        let missed: Vec<String> = expected
            .iter()
            .filter(|id| !caught.contains(*id))
            .cloned()
            .collect();
        if caught.is_empty() {
            problems.push(format!(
                "fault `{}` ({}) is caught by no scenario",
                fault.name(),
                fault.description()
            ));
        }
        for id in &missed {
            problems.push(format!(
                "{id} lists `{}` in catches but passes under it",
                fault.name()
            ));
        }
        let mark = if caught.is_empty() || !missed.is_empty() {
            "×"
        } else {
            "✔"
        };
        let missed_text = if missed.is_empty() {
            String::new()
        } else {
            format!(", missed by {}", missed.join(", "))
        };
        println!(
            "{mark} {:<30} caught by {:>3} scenario(s) ({:.1} s){missed_text}",
            fault.name(),
            caught.len(),
            took.as_secs_f64()
        );
        results.push(FaultResult {
            fault: fault.name().to_string(),
            description: fault.description().to_string(),
            caught_by: caught.into_iter().collect(),
            expected_by: expected,
            missed_by: missed,
            seconds: took.as_secs_f64(),
        });
    }
    let mut variant_results = Vec::new();
    for t in variant_tasks {
        let (variant, run, took) = match t.await {
            Ok(x) => x,
            Err(e) => {
                problems.push(format!("a variant run panicked: {e}"));
                continue;
            }
        };
        let run = match run {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("variant {}: {e}", variant.name()));
                continue;
            }
        };
        let failures: Vec<&ScenarioResult> = run
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Fail | Outcome::Error))
            .collect();
        for r in &failures {
            print!("{}", report::console::failure_detail(r, &console));
            problems.push(format!(
                "{} does not pass under the allowed variant `{}` ({})",
                r.id,
                variant.name(),
                variant.description()
            ));
        }
        let skipped = run.iter().filter(|r| r.outcome == Outcome::Skipped).count();
        println!(
            "{} allowed variant {:<24} {} failure(s), {skipped} skipped ({:.1} s)",
            if failures.is_empty() { "✔" } else { "×" },
            variant.name(),
            failures.len(),
            took.as_secs_f64()
        );
        variant_results.push(VariantResult {
            variant: variant.name().to_string(),
            description: variant.description().to_string(),
            failures: failures.iter().map(|r| r.id.clone()).collect(),
            skipped,
            seconds: took.as_secs_f64(),
        });
    }
    let report = SelftestReport {
        scenarios: scenarios.len(),
        clean_failures,
        clean_skipped,
        faults: results,
        variants: variant_results,
        problems: problems.clone(),
        seconds: started.elapsed().as_secs_f64(),
    };
    if let Err(e) = write_file(
        &args.json,
        &serde_json::to_string_pretty(&report).unwrap_or_default(),
    ) {
        eprintln!("error: {e}");
    }
    println!();
    for p in &problems {
        println!("problem: {p}");
    }
    println!(
        "selftest: {} scenarios, {} faults, {} problem(s) ({:.1} s); matrix written to {}",
        report.scenarios,
        report.faults.len(),
        problems.len(),
        report.seconds,
        args.json.display()
    );
    if problems.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}
