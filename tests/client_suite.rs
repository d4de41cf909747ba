//! Proves the client suite (scenarios/client/) bites, the way the server
//! self-test proves the server suite: the scripted test client
//! (src/bin/pop3spec-testclient.rs) passes every client scenario when clean,
//! and each of its fault switches makes every scenario that lists the fault
//! in `catches:` fail. Scenarios run concurrently: each has its own port,
//! {out} folder and client process.

use pop3spec::client::run::{run_scenario, ClientRunOptions, Launch, Shared};
use pop3spec::client::scenario::ClientScenario;
use pop3spec::client::FAULTS;
use pop3spec::outcome::{Outcome, ScenarioResult};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

fn suite() -> Vec<ClientScenario> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/client");
    match pop3spec::client::run::load(&[dir]) {
        Ok(s) => s,
        Err((problems, message)) => panic!(
            "client scenarios do not load: {message}\n{}",
            problems
                .iter()
                .map(|p| p.render())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

fn options(faults: &[&str]) -> ClientRunOptions {
    let mut command = env!("CARGO_BIN_EXE_pop3spec-testclient").to_string();
    for f in faults {
        command.push_str(&format!(" --fault {f}"));
    }
    ClientRunOptions {
        launch: Launch::Command(command),
        user: "pop3spec".into(),
        pass: "client-test-secret".into(),
        // Faults that make the client wait for bytes that never come are
        // ended here; the clean client needs well under a second.
        timeout: Duration::from_secs(6),
        strict: false,
        linger: Duration::from_millis(150),
        keep_dir: None,
    }
}

/// Runs (scenario, faults) pairs concurrently, a few at a time.
fn run_many(
    jobs: Vec<(ClientScenario, Vec<&'static str>)>,
) -> Vec<(String, Vec<&'static str>, ScenarioResult)> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let shared = Arc::new(Shared::new(&options(&[])).await.unwrap());
        let limit = Arc::new(tokio::sync::Semaphore::new(12));
        let mut set = tokio::task::JoinSet::new();
        for (scenario, faults) in jobs {
            let shared = shared.clone();
            let limit = limit.clone();
            set.spawn(async move {
                let _permit = limit.acquire().await.unwrap();
                let r = run_scenario(&scenario, &options(&faults), &shared).await;
                (scenario.id.clone(), faults, r)
            });
        }
        let mut out = Vec::new();
        while let Some(r) = set.join_next().await {
            out.push(r.unwrap());
        }
        out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        out
    })
}

fn explain(r: &ScenarioResult) -> String {
    let finding = r
        .finding
        .as_ref()
        .map(|f| f.message.clone())
        .unwrap_or_default();
    let transcript: Vec<String> = r
        .transcript
        .iter()
        .map(|l| format!("    [{}] {:?} {}", l.session, l.direction, l.text))
        .collect();
    format!(
        "{} -> {} ({}) {finding}\n{}",
        r.id,
        r.outcome.as_str(),
        r.reason.clone().unwrap_or_default(),
        transcript.join("\n")
    )
}

#[test]
fn client_suite_is_large_and_every_scenario_claims_a_fault() {
    let suite = suite();
    assert!(
        suite.len() >= 24,
        "the client suite shrank to {}",
        suite.len()
    );
    let names: BTreeSet<&str> = FAULTS.iter().map(|(n, _)| *n).collect();
    for s in &suite {
        assert!(
            !s.catches.is_empty(),
            "{} catches no fault of the test client",
            s.id
        );
        for c in &s.catches {
            assert!(names.contains(c.as_str()), "{}: unknown fault {c}", s.id);
        }
    }
    let claimed: BTreeSet<&str> = suite
        .iter()
        .flat_map(|s| s.catches.iter().map(String::as_str))
        .collect();
    let unclaimed: Vec<&&str> = names.iter().filter(|n| !claimed.contains(**n)).collect();
    assert!(
        unclaimed.is_empty(),
        "faults no scenario claims: {unclaimed:?}"
    );
}

#[test]
fn clean_test_client_passes_every_client_scenario_and_each_fault_is_caught() {
    let suite = suite();
    let mut jobs: Vec<(ClientScenario, Vec<&'static str>)> =
        suite.iter().map(|s| (s.clone(), Vec::new())).collect();
    for s in &suite {
        for c in &s.catches {
            let name = FAULTS.iter().find(|(n, _)| *n == c).unwrap().0;
            jobs.push((s.clone(), vec![name]));
        }
    }
    let results = run_many(jobs);
    let mut problems = Vec::new();
    let mut caught: BTreeMap<&str, usize> = BTreeMap::new();
    for (id, faults, r) in &results {
        match faults.first() {
            None if r.outcome != Outcome::Pass => {
                problems.push(format!("clean test client: {}", explain(r)));
            }
            None => {}
            Some(fault) if matches!(r.outcome, Outcome::Fail | Outcome::NonStrict) => {
                *caught.entry(fault).or_default() += 1;
            }
            Some(fault) => {
                problems.push(format!("fault {fault} not caught by {id}: {}", explain(r)))
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    for (name, _) in FAULTS {
        assert!(
            caught.get(name).copied().unwrap_or(0) > 0,
            "fault {name} caught by no scenario"
        );
    }
}
