//! `pop3spec report`: two hand-written `run --json` results combined into the
//! scenario × server matrix, read back from the Markdown table and the HTML page;
//! hostile server text escaped; unreadable or invalid input exits 2 naming the file.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const HOSTILE: &str = "-ERR <script>alert(\"x\")</script> & 'quoted' | `tick` *star*";

fn scenario(id: &str, spec: &str, level: &str, outcome: &str) -> Value {
    json!({
        "id": id,
        "title": format!("title of {id}"),
        "spec": spec,
        "requirement": "a requirement",
        "level": level,
        "tags": [],
        "file": format!("scenarios/{id}.yaml"),
        "outcome": outcome,
        "reason": null,
        "finding": null,
        "duration": 0.01,
        "transcript": [],
        "known_failure": false
    })
}

fn failing(id: &str, spec: &str, last_line: &str) -> Value {
    let mut s = scenario(id, spec, "must", "fail");
    s["reason"] = json!("must-level requirement not met");
    s["finding"] = json!({
        "message": "status was -ERR",
        "step": {"file": format!("scenarios/{id}.yaml"), "line": 14, "column": 7},
        "snippet": null,
        "command": "RETR 1",
        "expected": ["+OK"],
        "actual": [last_line],
        "diffable": false
    });
    let mut transcript: Vec<Value> = (0..20)
        .map(|i| json!({"session": "main", "direction": "client", "text": format!("NOOP {i}"), "at_ms": i}))
        .collect();
    transcript
        .push(json!({"session": "main", "direction": "server", "text": last_line, "at_ms": 21}));
    s["transcript"] = Value::Array(transcript);
    s
}

fn document(target: &str, scenarios: Vec<Value>) -> Value {
    json!({
        "schema_version": 1,
        "summary": {},
        "target": target,
        "strict": false,
        "started_at": 1_764_170_642u64,
        "duration": 1.5,
        "scenarios": scenarios
    })
}

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Dir {
        Dir(tempfile::tempdir().unwrap())
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }
    fn report(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_pop3spec"))
            .arg("report")
            .args(args)
            .arg("--html")
            .arg(self.path("out/matrix.html"))
            .arg("--markdown")
            .arg(self.path("out/matrix.md"))
            .current_dir(self.0.path())
            .output()
            .unwrap()
    }
    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }
}

fn dump(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Two results: `alpha` (labelled by --name) and one labelled by its target.
fn two_results(dir: &Dir) -> (PathBuf, PathBuf) {
    let a = document(
        "127.0.0.1:1110",
        vec![
            scenario("rfc1939.greeting.ok", "RFC 1939 §4", "must", "pass"),
            failing("rfc1939.retr.body", "RFC 1939 §7 (RETR)", HOSTILE),
            scenario("rfc2449.capa.list", "RFC 2449 §5", "should", "non-strict"),
            scenario("rfc2595.stls.offered", "RFC 2595 §4", "must", "skipped"),
        ],
    );
    let b = document(
        "server b <&>",
        vec![
            scenario("rfc1939.greeting.ok", "RFC 1939 §4", "must", "pass"),
            scenario("rfc1939.retr.body", "RFC 1939 §7 (RETR)", "must", "pass"),
            scenario("rfc2449.capa.list", "RFC 2449 §5", "should", "error"),
            scenario("rfc8314.tls.only", "RFC 8314 §3", "info", "info"),
        ],
    );
    (
        dir.write("a.json", &a.to_string()),
        dir.write("b.json", &b.to_string()),
    )
}

/// Matrix rows of the Markdown: scenario id → cells after the level column.
fn markdown_cells(md: &str) -> HashMap<String, Vec<String>> {
    let mut rows = HashMap::new();
    for line in md.lines().filter(|l| l.starts_with("| <a id=\"row-")) {
        let cells: Vec<String> = line
            .trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().to_string())
            .collect();
        let id = cells[0]
            .split("<code>")
            .nth(1)
            .and_then(|c| c.split("</code>").next())
            .unwrap()
            .to_string();
        rows.insert(id, cells[1..].to_vec());
    }
    rows
}

#[test]
fn markdown_table_has_a_cell_per_scenario_and_server() {
    let dir = Dir::new();
    let (a, b) = two_results(&dir);
    let out = dir.report(&[
        &format!("--name=alpha={}", a.display()),
        b.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", dump(&out));
    let md = dir.read("out/matrix.md");

    // Columns: the --name label, then the plain file labelled by its target (escaped).
    assert!(
        md.contains("| scenario | level | alpha | server b &lt;&amp;&gt; |"),
        "{md}"
    );
    let rows = markdown_cells(&md);
    assert_eq!(rows.len(), 5, "{md}");
    assert_eq!(rows["rfc1939.greeting.ok"], ["must", "✔ pass", "✔ pass"]);
    assert_eq!(
        rows["rfc1939.retr.body"],
        ["must", "[✘ fail](#s1-rfc1939.retr.body)", "✔ pass"]
    );
    assert_eq!(
        rows["rfc2449.capa.list"],
        [
            "should",
            "[≈ non-strict](#s1-rfc2449.capa.list)",
            "[⚠ error](#s2-rfc2449.capa.list)"
        ]
    );
    assert_eq!(
        rows["rfc2595.stls.offered"],
        ["must", "[↷ skipped](#s1-rfc2595.stls.offered)", "· not run"]
    );
    assert_eq!(
        rows["rfc8314.tls.only"],
        ["info", "· not run", "[ℹ info](#s2-rfc8314.tls.only)"]
    );

    // Grouped by RFC, in order.
    let headings: Vec<&str> = md.lines().filter(|l| l.starts_with("### RFC")).collect();
    assert_eq!(
        headings,
        [
            "### RFC 1939",
            "### RFC 2449",
            "### RFC 2595",
            "### RFC 8314"
        ]
    );
    // Every link has its anchor.
    for anchor in [
        "s1-rfc1939.retr.body",
        "s1-rfc2449.capa.list",
        "s2-rfc2449.capa.list",
        "s1-rfc2595.stls.offered",
        "s2-rfc8314.tls.only",
    ] {
        assert!(md.contains(&format!("<a id=\"{anchor}\"></a>")), "{anchor}");
    }
    // Per-server tallies: pass, non-strict, info, skipped, fail, error, not run, known, total.
    assert!(
        md.contains("| alpha | <code>127.0.0.1:1110</code> |"),
        "{md}"
    );
    let tally = |label: &str| -> Vec<String> {
        let line = md
            .lines()
            .find(|l| l.starts_with(&format!("| {label} |")))
            .unwrap();
        line.trim_matches('|')
            .split(" | ")
            .skip(4)
            .map(|c| c.trim().to_string())
            .collect()
    };
    assert_eq!(
        tally("alpha"),
        ["1", "1", "0", "1", "1", "0", "1", "0", "4"]
    );
    assert_eq!(
        tally("server b &lt;&amp;&gt;"),
        ["2", "0", "1", "0", "0", "1", "1", "0", "4"]
    );
    // The failure detail: reason, step, expected/actual, transcript tail.
    let detail = md
        .split("<a id=\"s1-rfc1939.retr.body\"></a>")
        .nth(1)
        .unwrap();
    assert!(
        detail.contains("scenarios/rfc1939.retr.body.yaml:14:7"),
        "{detail}"
    );
    assert!(
        detail.contains("must-level requirement not met"),
        "{detail}"
    );
    assert!(
        detail.contains("Transcript (last 12 of 21 lines)"),
        "{detail}"
    );
    assert!(!detail.contains("NOOP 8\n"), "only the tail: {detail}");
    assert!(detail.contains("C: NOOP 19"), "{detail}");

    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("alpha: ✔ 1 ≈ 1 ↷ 1 ✘ 1 · 1"),
        "{}",
        dump(&out)
    );
}

#[test]
fn hostile_server_text_is_escaped() {
    let dir = Dir::new();
    let (a, b) = two_results(&dir);
    let out = dir.report(&[a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", dump(&out));

    let html = dir.read("out/matrix.html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains("<script"), "script tag leaked");
    assert!(!html.contains("<&>"), "target not escaped");
    assert!(
        html.contains(
            "-ERR &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quoted&#39;"
        ),
        "{html}"
    );
    assert!(html.contains("server b &lt;&amp;&gt;"));
    // Self-contained: no external stylesheet, script or image.
    for needle in ["<link", "src=", "http://", "https://", "@import"] {
        assert!(!html.contains(needle), "{needle} in the HTML");
    }
    // Failure cells link to detail sections that exist.
    assert!(html.contains("href=\"#s1-rfc1939.retr.body\""));
    assert!(html.contains("<section class=\"detail fail\" id=\"s1-rfc1939.retr.body\">"));
    assert!(html.contains("id=\"s2-rfc2449.capa.list\""));
    assert!(html.contains("scenarios/rfc1939.retr.body.yaml:14:7"));
    // Every fragment link points at an id on the page.
    for href in html.split("href=\"#").skip(1) {
        let target = href.split('"').next().unwrap();
        assert!(
            html.contains(&format!("id=\"{target}\"")),
            "dangling link #{target}"
        );
    }

    let md = dir.read("out/matrix.md");
    assert!(!md.contains("<script"), "script tag leaked into Markdown");
    assert!(md.contains("&lt;script&gt;"), "{md}");
    // Inside <pre> only HTML specials matter; the tail shows the line as sent.
    assert!(
        md.contains(
            "S: -ERR &lt;script&gt;alert(\"x\")&lt;/script&gt; &amp; 'quoted' | `tick` *star*"
        ),
        "{md}"
    );
}

#[test]
fn invalid_or_unreadable_json_exits_2_naming_the_file() {
    let dir = Dir::new();
    let (a, _) = two_results(&dir);
    let broken = dir.write("broken.json", "{\"schema_version\": 1, \"target\": ");
    let out = dir.report(&[a.to_str().unwrap(), broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", dump(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.json"), "{err}");
    assert!(!dir.path("out/matrix.html").exists());

    let wrong = dir.write("wrong.json", "{\"hello\": \"world\"}");
    let out = dir.report(&["--name", &format!("x={}", wrong.display())]);
    assert_eq!(out.status.code(), Some(2), "{}", dump(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong.json"));

    let future = document("t", vec![]);
    let mut future = future.as_object().unwrap().clone();
    future.insert("schema_version".into(), json!(2));
    let future = dir.write("future.json", &Value::Object(future).to_string());
    let out = dir.report(&[future.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", dump(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("future.json") && err.contains("schema_version"),
        "{err}"
    );

    let missing = Path::new("no-such-file.json");
    let out = dir.report(&[missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", dump(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-file.json"));

    let out = dir.report(&["--name", "no-equals-sign"]);
    assert_eq!(out.status.code(), Some(2), "{}", dump(&out));

    let out = dir.report(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", dump(&out));
}
