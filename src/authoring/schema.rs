//! The JSON Schema of scenario files, generated from the serde types the loader
//! reads them with (`scenario::raw`), so the schema cannot drift from the loader.
//! `docs/scenario.schema.json` is this output, committed for editors
//! (`# yaml-language-server: $schema=...` on the first line of each scenario).

use schemars::generate::SchemaSettings;
use schemars::SchemaGenerator;

/// Where the committed schema lives, relative to the repository root.
pub const SCHEMA_PATH: &str = "docs/scenario.schema.json";

/// The comment that ties a YAML file to the schema in editors that run
/// yaml-language-server (VS Code's YAML extension, Neovim, Helix, ...).
pub fn modeline(relative_path: &str) -> String {
    format!("# yaml-language-server: $schema={relative_path}")
}

/// The schema as pretty JSON with a final newline, exactly as committed.
pub fn render() -> String {
    let generator = SchemaGenerator::new(SchemaSettings::draft07());
    let schema = generator.into_root_schema_for::<crate::scenario::raw::RawScenario>();
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema always serialises");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn validator() -> jsonschema::Validator {
        let schema: Value = serde_json::from_str(&render()).unwrap();
        jsonschema::validator_for(&schema).expect("the generated schema is itself valid")
    }

    /// A YAML document as the JSON value an editor would check.
    fn yaml(text: &str) -> Value {
        serde_saphyr::from_str(text).unwrap()
    }

    fn errors(text: &str) -> Vec<String> {
        validator()
            .iter_errors(&yaml(text))
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    const GOOD: &str = "
id: rfc1939.update.quit-removes-marked
title: QUIT removes marked messages
spec: RFC 1939 §6
requirement: r
level: must
state: transaction
timeout: 5
vars: { mark: 1, other: two }
steps:
  - send: DELE {{mark}}
  - expect: { status: ok, match: '^\\+OK' }
  - expect_multiline: { count: 2, capture_line: { first: 0 } }
  - connect: second
  - reconnect: { session: second, login: true }
  - disconnect: true
  - login: { session: second, user: '{{user2}}' }
  - session: second
    sleep: 250ms
  - one_of:
      - grade: non-strict
        note: allowed
        steps: [ { expect_close: true } ]
";

    #[test]
    fn accepts_what_the_loader_accepts() {
        assert_eq!(errors(GOOD), Vec::<String>::new());
        let loaded = crate::scenario::load::load_str(
            std::path::Path::new("good.yaml"),
            GOOD.into(),
            &Default::default(),
        );
        assert!(loaded.is_ok(), "{:?}", loaded.err());
    }

    #[test]
    fn rejects_what_the_loader_rejects() {
        let base = GOOD.split("steps:").next().unwrap().to_string();
        let cases = [
            ("steps:\n  - send: A\n    expect: {}\n", "two actions"),
            ("steps:\n  - session: main\n", "no action"),
            ("steps:\n  - sned: A\n", "unknown step key"),
            ("steps:\n  - expect: { status: maybe }\n", "bad status"),
            (
                "steps:\n  - one_of: [ { grade: great, steps: [] } ]\n",
                "bad grade",
            ),
            ("steps:\n  - expect_close: [1]\n", "wrong type"),
        ];
        for (steps, what) in cases {
            let doc = format!("{base}{steps}");
            assert!(!errors(&doc).is_empty(), "schema accepted {what}:\n{doc}");
            let loaded = crate::scenario::load::load_str(
                std::path::Path::new("bad.yaml"),
                doc.as_str().into(),
                &Default::default(),
            );
            assert!(loaded.is_err(), "loader accepted {what}");
        }
        assert!(!errors(&GOOD.replace("level: must", "level: may")).is_empty());
        assert!(!errors(&GOOD.replace("spec:", "spek:")).is_empty());
        assert!(!errors(&GOOD.replace("id: rfc1939", "id: RFC1939")).is_empty());
    }

    #[test]
    fn every_step_action_is_one_alternative() {
        let schema: Value = serde_json::from_str(&render()).unwrap();
        let step = &schema["definitions"]["RawStep"];
        let one_of = step["oneOf"].as_array().unwrap();
        let props = step["properties"].as_object().unwrap();
        assert_eq!(one_of.len(), props.len() - 1);
        assert!(one_of.contains(&json!({ "required": ["send"] })));
        assert!(!one_of.contains(&json!({ "required": ["session"] })));
        assert_eq!(step["additionalProperties"], json!(false));
    }
}
