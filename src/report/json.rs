//! JSON for tools: the run exactly as the runner produced it, plus the tally, so a
//! script needs no knowledge of outcome words to tell whether a run went well.

use crate::outcome::{RunResult, Tally};
use serde::Serialize;

/// Raised when the document's shape changes incompatibly, so consumers can refuse
/// documents they do not understand.
const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Document<'a> {
    schema_version: u32,
    summary: Tally,
    #[serde(flatten)]
    run: &'a RunResult,
}

/// Pretty JSON: `schema_version`, `summary`, then every field of the run.
pub fn render(run: &RunResult) -> String {
    let doc = Document {
        schema_version: SCHEMA_VERSION,
        summary: run.tally(),
        run,
    };
    // Only strings, numbers and structs: nothing here can fail to serialise.
    serde_json::to_string_pretty(&doc).expect("a run always serialises to JSON")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;
    use serde_json::{json, Value};

    #[test]
    fn document_carries_version_summary_and_every_scenario() {
        let run = fixture::run();
        let doc: Value = serde_json::from_str(&render(&run)).unwrap();
        assert_eq!(doc["schema_version"], 1);
        assert_eq!(
            doc["summary"],
            json!({"total": 8, "passed": 2, "non_strict": 1, "info": 1, "skipped": 1, "failed": 2, "errors": 1})
        );
        assert_eq!(doc["target"], "127.0.0.1:110");
        assert_eq!(doc["strict"], false);
        assert_eq!(doc["started_at"], 1_764_170_642);
        assert_eq!(doc["duration"], 1.234);

        let scenarios = doc["scenarios"].as_array().unwrap();
        let outcomes: Vec<&str> = scenarios
            .iter()
            .map(|s| s["outcome"].as_str().unwrap())
            .collect();
        assert_eq!(
            outcomes,
            [
                "pass",
                "fail",
                "error",
                "non-strict",
                "info",
                "skipped",
                "fail",
                "pass"
            ]
        );
        for (s, r) in scenarios.iter().zip(&run.scenarios) {
            assert_eq!(s["id"], r.id.as_str());
            assert_eq!(s["spec"], r.spec.as_str());
            assert_eq!(s["level"], r.level.as_str());
            assert_eq!(s["known_failure"], r.known_failure);
            assert_eq!(
                s["transcript"].as_array().unwrap().len(),
                r.transcript.len()
            );
        }
        assert_eq!(scenarios[5]["reason"], "requires STLS");
        assert_eq!(scenarios[0]["finding"], Value::Null);
        assert_eq!(scenarios[0]["duration"], 0.012);
    }

    #[test]
    fn findings_and_hostile_transcripts_round_trip() {
        let doc: Value = serde_json::from_str(&render(&fixture::run())).unwrap();
        let fail = &doc["scenarios"][1];
        assert_eq!(fail["finding"]["message"], "message body differs");
        assert_eq!(fail["finding"]["diffable"], true);
        assert_eq!(
            fail["finding"]["expected"],
            json!(["line a", "line b", "line c"])
        );
        assert_eq!(
            fail["finding"]["actual"],
            json!(["line a", "line B", "line c"])
        );
        assert_eq!(
            fail["finding"]["step"],
            json!({"file": "scenarios/rfc1939/retr.yaml", "line": 14, "column": 7})
        );
        let line = &fail["transcript"][3];
        assert_eq!(line["session"], "main");
        assert_eq!(line["direction"], "server");
        assert_eq!(line["text"], fixture::HOSTILE);
    }
}
