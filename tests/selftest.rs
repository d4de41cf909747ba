//! The README's test command runs the self-test: the whole suite must pass on
//! the clean reference server and on each allowed variant, and every fault
//! switch must be caught, each by the scenarios that claim it. This is what
//! proves the suite bites, and only where the RFCs say so.

use std::process::Command;

#[test]
fn suite_passes_clean_server_and_catches_every_fault() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("selftest.json");
    let out = Command::new(env!("CARGO_BIN_EXE_pop3spec"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["selftest", "--color", "never", "--json"])
        .arg(&json)
        .output()
        .expect("run pop3spec selftest");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "selftest failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["problems"].as_array().unwrap().len(), 0, "{stdout}");
    assert!(report["clean_failures"].as_array().unwrap().is_empty());
    assert!(
        report["scenarios"].as_u64().unwrap() >= 150,
        "the suite shrank: {}",
        report["scenarios"]
    );
    let faults = report["faults"].as_array().unwrap();
    assert!(
        faults.len() >= 30,
        "fewer fault switches than the reference server should have"
    );
    // Every allowed variant passes the clean suite: what the RFCs allow
    // never fails.
    let variants = report["variants"]
        .as_array()
        .expect("variants in the report");
    assert_eq!(
        variants.len(),
        pop3_reference_server::Variant::ALL.len(),
        "{stdout}"
    );
    for v in variants {
        assert!(
            v["failures"].as_array().unwrap().is_empty(),
            "allowed variant {} fails {}",
            v["variant"],
            v["failures"]
        );
    }
    for f in faults {
        assert!(
            !f["caught_by"].as_array().unwrap().is_empty(),
            "fault {} is caught by nothing",
            f["fault"]
        );
        assert!(
            f["missed_by"].as_array().unwrap().is_empty(),
            "fault {} missed by {}",
            f["fault"],
            f["missed_by"]
        );
    }
}
