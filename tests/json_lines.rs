//! `plan --json`, `apply --json` and `destroy --json` print JSON lines that follow
//! docs/json.md, with no secret (issue 10). The schema checked here is the documented
//! one, written out by hand: a field renamed in the code fails it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const SECRET: &str = "json-lines-secret-0042";

fn stack() -> String {
    format!(
        r#"
[stack]
name = "demo"

[variables.password]
default = "{SECRET}"
sensitive = true

[resources.cairn_data.a]
input = "one"

[resources.cairn_data.b]
input = "${{cairn_data.a.output}}"

[resources.cairn_data.secret]
input = "${{var.password}}"

[outputs.b]
value = "${{cairn_data.b.output}}"

[outputs.secret]
value = "${{cairn_data.secret.output}}"
sensitive = true
"#
    )
}

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn"))
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("CAIRN_LOG")
        .env_remove("CAIRN_STATE_KEY")
        .env_remove("CAIRN_TEST_FAIL_ON")
        .env_remove("CAIRN_TEST_DELAY_MS")
        .stdin(Stdio::null())
        .output()
        .expect("cairn runs")
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every line of stdout, parsed and checked against the documented schema.
fn lines(out: &Output) -> Vec<Value> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains(SECRET), "a secret in JSON output");
    stdout
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
            check(&value);
            value
        })
        .collect()
}

fn has(value: &Value, field: &str, kind: fn(&Value) -> bool) {
    assert!(
        value.get(field).is_some_and(kind),
        "`{field}` missing or of the wrong type in {value}"
    );
}

fn is_counts(value: &Value) -> bool {
    ["add", "change", "destroy"]
        .iter()
        .all(|k| value.get(k).is_some_and(Value::is_u64))
}

fn is_string_or_null(value: &Value) -> bool {
    value.is_string() || value.is_null()
}

/// docs/json.md, line by line.
fn check(line: &Value) {
    assert_eq!(line["format_version"], 1, "{line}");
    let kind = line["type"].as_str().expect("type");
    match kind {
        "plan" => {
            has(line, "summary", is_counts);
            has(line, "has_changes", Value::is_boolean);
            let plan = &line["plan"];
            has(plan, "stack", Value::is_string);
            has(plan, "env", Value::is_string);
            has(plan, "outputs", Value::is_object);
            has(plan, "output_changes", Value::is_array);
            has(plan, "deferred_providers", Value::is_array);
            for change in plan["changes"].as_array().expect("plan.changes") {
                has(change, "addr", Value::is_string);
                has(change, "provider", Value::is_string);
                has(change, "action", Value::is_string);
                has(change, "diffs", Value::is_array);
                has(change, "dependencies", Value::is_array);
            }
        }
        "started" => {
            has(line, "address", Value::is_string);
            has(line, "verb", Value::is_string);
        }
        "progress" => {
            has(line, "address", Value::is_string);
            has(line, "message", Value::is_string);
        }
        "finished" => {
            has(line, "address", Value::is_string);
            has(line, "action", Value::is_string);
            has(line, "elapsed_ms", Value::is_u64);
            has(line, "id", is_string_or_null);
        }
        "failed" => {
            has(line, "address", Value::is_string);
            has(line, "elapsed_ms", Value::is_u64);
        }
        "summary" => {
            has(line, "operation", Value::is_string);
            has(line, "success", Value::is_boolean);
            has(line, "interrupted", Value::is_boolean);
            has(line, "completed", is_counts);
            has(line, "failures", Value::is_array);
            has(line, "skipped", Value::is_array);
            for output in line["outputs"].as_object().expect("outputs").values() {
                has(output, "sensitive", Value::is_boolean);
                assert!(output.get("value").is_some(), "{output}");
            }
        }
        other => panic!("undocumented line type `{other}`: {line}"),
    }
}

fn types(lines: &[Value]) -> Vec<&str> {
    lines
        .iter()
        .map(|l| l["type"].as_str().unwrap_or(""))
        .collect()
}

#[test]
fn plan_apply_and_destroy_print_documented_json_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join(".git")).expect(".git");
    std::fs::write(dir.path().join("stack.toml"), stack()).expect("stack");

    let plan = run(dir.path(), &["plan", "--json"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    let planned = lines(&plan);
    assert_eq!(types(&planned), ["plan"]);
    assert_eq!(planned[0]["summary"]["add"], 3);

    let refused = run(dir.path(), &["apply", "--json"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(refused.stdout.is_empty(), "{}", text(&refused));

    let apply = run(dir.path(), &["apply", "--json", "--auto-approve"]);
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply));
    let applied = lines(&apply);
    let kinds = types(&applied);
    assert_eq!(kinds.first(), Some(&"plan"));
    assert_eq!(kinds.last(), Some(&"summary"));
    assert_eq!(
        kinds.iter().filter(|k| **k == "started").count(),
        3,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "finished").count(),
        3,
        "{kinds:?}"
    );
    let summary = applied.last().expect("summary");
    assert_eq!(summary["success"], true);
    assert_eq!(summary["completed"]["add"], 3);
    assert_eq!(summary["outputs"]["b"]["value"], "one");
    assert_eq!(
        summary["outputs"]["secret"]["value"],
        serde_json::json!({"$sensitive": true})
    );

    let again = run(dir.path(), &["apply", "--json", "--auto-approve"]);
    assert_eq!(
        types(&lines(&again)),
        ["plan", "summary"],
        "{}",
        text(&again)
    );

    let destroy = run(dir.path(), &["destroy", "--json", "--auto-approve"]);
    assert_eq!(destroy.status.code(), Some(0), "{}", text(&destroy));
    let destroyed = lines(&destroy);
    let summary = destroyed.last().expect("summary");
    assert_eq!(summary["operation"], "destroy");
    assert_eq!(summary["completed"]["destroy"], 3);
}
