//! End-to-end tests of the `cairn` binary on `cairn_data` stacks (no cloud needed), plus a
//! property test of the apply walker's ordering through the library.
//!
//! Each test works in its own temporary "repository" (a directory with `.git`, so state
//! lands in `<tmp>/state/` as it would in a checkout). Output snapshots use insta with
//! filters for uuids, durations and temporary paths.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "support/engine.rs"]
mod engine;
#[path = "support/workspace.rs"]
mod workspace;

use workspace::{Workspace, stderr, stdout, text};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// What the CLI tests need of a checkout beyond the shared [`Workspace`].
impl Workspace {
    fn from_fixture(name: &str) -> Workspace {
        let text = std::fs::read_to_string(
            Path::new(FIXTURES)
                .join("cli")
                .join(name)
                .join("stack.toml"),
        )
        .expect("fixture exists");
        Workspace::new(&text)
    }

    fn state_file(&self) -> PathBuf {
        self.state_dir().join("demo-default.json")
    }

    /// `cairn apply --auto-approve`, which must succeed.
    fn apply(&self) -> Output {
        let out = self.run(&["apply", "--auto-approve"]);
        assert_eq!(out.status.code(), Some(0), "apply failed:\n{}", text(&out));
        out
    }

    /// Runs `cairn apply --auto-approve ARGS` with every operation slowed by 1.5 s, sends
    /// one Ctrl-C (SIGINT) 300 ms after the first stdout line containing `marker`, well
    /// inside the operation that line starts, and returns the exit code, all of stdout and
    /// stderr.
    fn apply_interrupted_after(
        &self,
        args: &[&str],
        marker: &str,
    ) -> (Option<i32>, String, String) {
        use std::io::{BufRead, BufReader};
        use std::process::Stdio;

        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
            .current_dir(self.stack_dir())
            .args(["apply", "--auto-approve"])
            .args(args)
            .env("NO_COLOR", "1")
            .env("CAIRN_TEST_DELAY_MS", "1500")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawns");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut seen = String::new();
        for line in lines.by_ref() {
            let line = line.expect("line");
            seen.push_str(&line);
            seen.push('\n');
            if line.contains(marker) {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        let interrupted = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        assert!(interrupted.is_ok_and(|s| s.success()));
        for line in lines {
            seen.push_str(&line.expect("line"));
            seen.push('\n');
        }
        let out = child.wait_with_output().expect("exits");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), seen, err)
    }

    fn state_list(&self) -> Vec<String> {
        let out = self.run(&["state", "list"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        stdout(&out).lines().map(str::to_owned).collect()
    }
}

/// Snapshot settings shared by every CLI snapshot.
fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[UUID]",
    );
    settings.add_filter(r"after \d+(h\d+)?(m\d+)?s", "after [ELAPSED]");
    settings.add_filter(r"/tmp/\.tmp[A-Za-z0-9]+", "[TMP]");
    settings.set_prepend_module_to_snapshot(false);
    settings
}

const CHAIN: &str = r#"
[stack]
name = "demo"

[variables.value]
default = "v1"

[resources.cairn_data.a]
input = "${var.value}"

[resources.cairn_data.b]
input = "${cairn_data.a.output}"

[resources.cairn_data.c]
input = "${cairn_data.b.output}"

[resources.cairn_data.independent]
input = "x"
"#;

#[test]
fn plan_output_for_a_new_stack() {
    let ws = Workspace::from_fixture("basic");
    let out = ws.run(&["plan"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    settings().bind(|| insta::assert_snapshot!("plan_basic", stdout(&out)));
}

#[test]
fn apply_then_plan_shows_no_changes_and_detailed_exitcode_follows() {
    let ws = Workspace::from_fixture("basic");
    let before = ws.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        before.status.code(),
        Some(2),
        "changes pending: {}",
        text(&before)
    );

    // One operation at a time keeps the progress lines in a stable order.
    let applied = ws.run(&["apply", "--auto-approve", "--parallelism", "1"]);
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied));
    settings().bind(|| insta::assert_snapshot!("apply_basic", stdout(&applied)));

    let after = ws.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(after.status.code(), Some(0), "{}", text(&after));
    assert!(stdout(&after).contains("No changes."), "{}", text(&after));
    let mut listed = ws.state_list();
    listed.sort();
    assert_eq!(
        listed,
        [
            "cairn_data.cluster",
            "cairn_data.network",
            "cairn_data.secret",
            "cairn_data.workers"
        ]
    );
}

#[test]
fn changing_an_input_plans_an_update_in_place() {
    let ws = Workspace::new(CHAIN);
    ws.apply();
    let out = ws.run(&["plan", "--var", "value=v2"]);
    let plan = stdout(&out);
    assert!(
        plan.contains("# cairn_data.a will be updated in place"),
        "{plan}"
    );
    assert!(plan.contains(r#"~ input  = "v1" -> "v2""#), "{plan}");
    // b's input is a's output, known at plan time through the provider's plan hook.
    assert!(
        plan.contains("# cairn_data.b will be updated in place"),
        "{plan}"
    );
    assert!(
        plan.contains("Plan: 0 to add, 3 to change, 0 to destroy."),
        "{plan}"
    );
    assert!(!plan.contains("cairn_data.independent"), "{plan}");
}

#[test]
fn changing_triggers_replace_plans_a_replacement() {
    let ws = Workspace::from_fixture("basic");
    ws.apply();
    let original = std::fs::read_to_string(ws.stack_dir().join("stack.toml")).expect("read");
    ws.write(original.replace("triggers_replace = 1", "triggers_replace = 2"));
    let out = ws.run(&["plan"]);
    let plan = stdout(&out);
    settings().bind(|| insta::assert_snapshot!("plan_replace", plan));
    let applied = ws.apply();
    assert!(
        stdout(&applied).contains("1 added, 0 changed, 1 destroyed"),
        "{}",
        text(&applied)
    );
}

#[test]
fn destroy_empties_the_state() {
    let ws = Workspace::new(CHAIN);
    ws.apply();
    assert_eq!(ws.state_list().len(), 4);
    let out = ws.run(&["destroy", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stdout(&out).contains("Destroy complete! Resources: 4 destroyed."),
        "{}",
        text(&out)
    );
    assert!(ws.state_list().is_empty());
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.state_file()).expect("state written"))
            .expect("json");
    assert_eq!(state["resources"], serde_json::json!([]));
    let again = ws.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "everything would be created again: {}",
        text(&again)
    );
}

#[test]
fn destroy_deletes_dependents_first() {
    let ws = Workspace::new(CHAIN);
    ws.apply();
    let out = ws.run(&["destroy", "--auto-approve", "--parallelism", "1"]);
    let log = stdout(&out);
    let done = |addr: &str| {
        log.find(&format!("{addr}: destruction complete"))
            .unwrap_or(usize::MAX)
    };
    assert!(done("cairn_data.c") < done("cairn_data.b"), "{log}");
    assert!(done("cairn_data.b") < done("cairn_data.a"), "{log}");
}

#[test]
fn a_failed_apply_keeps_what_completed_and_a_rerun_finishes() {
    let ws = Workspace::new(CHAIN);
    let out = ws
        .cmd(&["apply", "--auto-approve"])
        .env("CAIRN_TEST_FAIL_ON", "cairn_data.b")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("Error: cairn_data.b: create failed: cairn:create: InjectedFault"),
        "{all}"
    );
    assert_eq!(
        all.matches("Error:").count(),
        1,
        "the root cause is reported once: {all}"
    );
    assert!(
        all.contains("Skipped: cairn_data.c (depends on cairn_data.b)"),
        "{all}"
    );
    assert!(all.contains("re-run `cairn apply`"), "{all}");
    let listed = ws.state_list();
    assert!(listed.contains(&"cairn_data.a".to_owned()), "{listed:?}");
    assert!(
        !listed.contains(&"cairn_data.b".to_owned())
            && !listed.contains(&"cairn_data.c".to_owned()),
        "{listed:?}"
    );
    let shown: serde_json::Value =
        serde_json::from_slice(&ws.run(&["show", "--json"]).stdout).expect("json");
    assert_eq!(
        shown["pending"],
        serde_json::json!(["cairn_data.b"]),
        "the failed create's intent is kept"
    );

    let rerun = ws.apply();
    let log = stdout(&rerun);
    assert!(
        log.contains("Plan: 2 to add, 0 to change, 0 to destroy."),
        "{log}"
    );
    let mut listed = ws.state_list();
    listed.sort();
    assert_eq!(
        listed,
        [
            "cairn_data.a",
            "cairn_data.b",
            "cairn_data.c",
            "cairn_data.independent"
        ]
    );
    let shown: serde_json::Value =
        serde_json::from_slice(&ws.run(&["show", "--json"]).stdout).expect("json");
    assert_eq!(shown["pending"], serde_json::json!([]));
}

#[test]
fn a_held_lock_blocks_a_second_run_and_names_its_holder() {
    let ws = Workspace::new(CHAIN);
    std::fs::create_dir_all(ws.state_dir()).expect("mkdir");
    let holder = cairn::state::StateStore::open(&ws.state_file(), "demo", "default", "apply")
        .expect("lock taken");
    let out = ws.run(&["apply", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("is locked"), "{err}");
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "names the holder: {err}"
    );
    assert!(err.contains("--lock-timeout"), "{err}");
    drop(holder);
    assert!(
        ws.state_list().is_empty(),
        "nothing was applied while locked"
    );
    ws.apply();
}

#[test]
fn a_cycle_is_reported_with_its_members() {
    let dir = Path::new(FIXTURES).join("stacks").join("cycle");
    let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["validate"])
        .arg(&dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("dependency cycle"), "{err}");
    for member in ["cairn_data.a", "cairn_data.b", "cairn_data.c"] {
        assert!(err.contains(member), "{member} named: {err}");
    }
    assert!(
        !err.contains("cairn_data.ok ->"),
        "not part of the cycle: {err}"
    );
}

#[test]
fn every_bad_input_error_has_file_line_and_column() {
    let located = regex_lite_location();
    let mut checked = 0;
    for entry in std::fs::read_dir(Path::new(FIXTURES).join("stacks")).expect("fixtures") {
        let dir = entry.expect("entry").path();
        if dir.file_name().is_some_and(|n| n == "good") {
            continue;
        }
        let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .arg("validate")
            .arg(&dir)
            .env("NO_COLOR", "1")
            .output()
            .expect("runs");
        assert_eq!(
            out.status.code(),
            Some(1),
            "{} must fail: {}",
            dir.display(),
            text(&out)
        );
        let err = stderr(&out);
        let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
        assert!(!errors.is_empty(), "{}: {err}", dir.display());
        for line in errors {
            assert!(
                located(line),
                "{}: no file:line:col in `{line}`",
                dir.display()
            );
        }
        checked += 1;
    }
    assert!(checked >= 5, "the frontend's fixtures are there");
}

/// Matches `error: <path>.<toml|yaml|yml>:<line>:<col>: ...`.
fn regex_lite_location() -> impl Fn(&str) -> bool {
    |line: &str| {
        let Some(rest) = line.strip_prefix("error: ") else {
            return false;
        };
        let Some((path, after)) = rest.split_once(": ") else {
            return false;
        };
        let mut parts = path.rsplitn(3, ':');
        let (Some(col), Some(row), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        !after.is_empty()
            && col.parse::<u32>().is_ok()
            && row.parse::<u32>().is_ok()
            && [".toml", ".yaml", ".yml"]
                .iter()
                .any(|ext| file.ends_with(ext))
    }
}

#[test]
fn apply_without_a_terminal_or_auto_approve_refuses() {
    let ws = Workspace::new(CHAIN);
    let out = ws.run(&["apply"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("stdin is not a terminal"),
        "{}",
        text(&out)
    );
    assert!(stderr(&out).contains("--auto-approve"), "{}", text(&out));
    assert!(!ws.state_file().exists(), "nothing was changed");
    let destroy = ws.run(&["destroy"]);
    assert_eq!(destroy.status.code(), Some(1), "{}", text(&destroy));
}

#[test]
fn a_sensitive_variable_never_reaches_output_logs_or_state() {
    const SECRET: &str = "SUPER-secret-4711";
    let ws = Workspace::from_fixture("basic");
    let run = |args: &[&str]| {
        ws.cmd(args)
            .env("CAIRN_VAR_password", SECRET)
            .env("CAIRN_LOG", "debug")
            .output()
            .expect("runs")
    };
    let mut seen = String::new();
    for args in [
        &["plan"][..],
        &["plan", "--json"],
        &["apply", "--auto-approve"],
        &["plan"],
        &["show"],
        &["show", "--json"],
        &["output"],
        &["output", "--json"],
        &["state", "show", "cairn_data.secret"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
        seen.push_str(&text(&out));
    }
    assert!(
        seen.contains("(sensitive)"),
        "secrets are shown as (sensitive)"
    );
    assert!(!seen.contains(SECRET), "the secret leaked:\n{seen}");
    for entry in std::fs::read_dir(ws.state_dir()).expect("state dir") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("read");
        assert!(
            !String::from_utf8_lossy(&bytes).contains(SECRET),
            "secret in {}",
            path.display()
        );
    }
    // Asked for by name, a sensitive output is refused: state keeps only its hash, and
    // cairn does not plan again to recompute it (issue 10).
    let named = run(&["output", "secret"]);
    assert_eq!(named.status.code(), Some(1), "{}", text(&named));
    assert!(stderr(&named).contains("keyed hash"), "{}", text(&named));
    assert!(!text(&named).contains(SECRET));
    // The hash is the secret's: the same value plans no change, another one does.
    let same = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(same.status.code(), Some(0), "{}", text(&same));
    let changed = ws
        .cmd(&["plan", "--detailed-exitcode"])
        .env("CAIRN_VAR_password", "another-secret")
        .output()
        .expect("runs");
    assert_eq!(changed.status.code(), Some(2), "{}", text(&changed));
    assert!(
        stdout(&changed).contains("cairn_data.secret"),
        "{}",
        text(&changed)
    );
}

#[test]
fn prevent_destroy_stops_a_destroy() {
    let ws = Workspace::new(
        r#"
[stack]
name = "demo"

[resources.cairn_data.keep]
input = "precious"
lifecycle = { prevent_destroy = true }

[resources.cairn_data.other]
input = "x"
"#,
    );
    ws.apply();
    let out = ws.run(&["destroy", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("cairn_data.keep has lifecycle.prevent_destroy = true"),
        "{err}"
    );
    assert!(
        err.contains("stack.toml:7:"),
        "points at the lifecycle line: {err}"
    );
    assert_eq!(ws.state_list().len(), 2, "nothing was destroyed");
}

#[test]
fn create_before_destroy_and_ignore_changes_shape_the_plan() {
    let stack = |input: &str, trigger: u32| {
        format!(
            r#"
[stack]
name = "demo"

[resources.cairn_data.blue]
input = "{input}"
triggers_replace = {trigger}
lifecycle = {{ create_before_destroy = true, ignore_changes = ["input"] }}
"#
        )
    };
    let ws = Workspace::new(stack("v1", 1));
    ws.apply();
    ws.write(stack("v2", 1));
    let ignored = ws.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        ignored.status.code(),
        Some(0),
        "input is ignored after create: {}",
        text(&ignored)
    );
    ws.write(stack("v2", 2));
    let out = ws.run(&["plan"]);
    let plan = stdout(&out);
    assert!(
        plan.contains("+/- resource \"cairn_data\" \"blue\""),
        "{plan}"
    );
    assert!(
        plan.contains("must be replaced (the new one is created first)"),
        "{plan}"
    );
    let applied = ws.apply();
    let log = stdout(&applied);
    let created = log.find("cairn_data.blue: creation complete");
    let destroyed = log.find("cairn_data.blue: destruction complete");
    assert!(
        created.is_some() && created < destroyed,
        "new object first, then the old one goes: {log}"
    );
    let shown: serde_json::Value =
        serde_json::from_slice(&ws.run(&["show", "--json"]).stdout).expect("json");
    let attrs = &shown["resources"][0]["attributes"];
    assert_eq!(attrs["triggers_replace"], 2);
    assert_eq!(
        attrs["input"], "v2",
        "a replacement is a create: ignore_changes does not apply"
    );
}

#[test]
fn independent_resources_are_created_concurrently() {
    let mut toml = String::from("[stack]\nname = \"demo\"\n");
    for i in 0..6 {
        toml.push_str(&format!("\n[resources.cairn_data.r{i}]\ninput = {i}\n"));
    }
    let timed = |parallelism: &str| {
        let ws = Workspace::new(&toml);
        let started = std::time::Instant::now();
        let out = ws
            .cmd(&["apply", "--auto-approve", "--parallelism", parallelism])
            .env("CAIRN_TEST_DELAY_MS", "400")
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        started.elapsed()
    };
    let serial = timed("1");
    let parallel = timed("10");
    assert!(
        serial >= std::time::Duration::from_millis(2400),
        "six 400 ms creates in a row: {serial:?}"
    );
    assert!(
        parallel < std::time::Duration::from_millis(2000),
        "all six in flight at once: {parallel:?}"
    );
}

#[test]
fn a_timeouts_override_bounds_the_provider_call() {
    let ws = Workspace::new(
        r#"
[stack]
name = "demo"

[resources.cairn_data.slow]
input = 1
timeouts = { create = "1s" }
"#,
    );
    let out = ws
        .cmd(&["apply", "--auto-approve"])
        .env("CAIRN_TEST_DELAY_MS", "3000")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("cairn_data.slow: create failed: timed out after 1s waiting for create of cairn_data.slow"),
        "{all}"
    );
}

#[test]
fn state_graph_and_unlock_commands() {
    let ws = Workspace::new(CHAIN);
    ws.apply();
    let shown = ws.run(&["state", "show", "cairn_data.b"]);
    assert!(
        stdout(&shown).contains(r#"resource "cairn_data" "b""#),
        "{}",
        text(&shown)
    );
    let removed = ws.run(&["state", "rm", "cairn_data.independent"]);
    assert_eq!(removed.status.code(), Some(0), "{}", text(&removed));
    assert!(
        !ws.state_list()
            .contains(&"cairn_data.independent".to_owned())
    );
    let again = ws.run(&["plan"]);
    assert!(
        stdout(&again).contains("# cairn_data.independent will be created"),
        "{}",
        text(&again)
    );

    let graph = ws.run(&["graph", "--format", "mermaid"]);
    let graph = stdout(&graph);
    assert!(
        graph.contains("cairn_data.a") && graph.contains("cairn_data.c"),
        "{graph}"
    );

    // A lock whose holder hangs (this process, alive): plan reads beside it, apply is
    // refused, force-unlock refuses without --force and names what it removed with it.
    let holder =
        cairn::state::StateStore::open(&ws.state_file(), "demo", "default", "apply").expect("lock");
    std::mem::forget(holder);
    let plan = ws.run(&["plan"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    let blocked = ws.run(&["apply", "--auto-approve"]);
    assert_eq!(blocked.status.code(), Some(1), "{}", text(&blocked));
    let refused = ws.run(&["force-unlock"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let unlocked = ws.run(&["force-unlock", "--force"]);
    assert!(
        stdout(&unlocked).contains(&format!("pid {}", std::process::id())),
        "{}",
        text(&unlocked)
    );
    let after = ws.run(&["apply", "--auto-approve"]);
    assert_eq!(after.status.code(), Some(0), "{}", text(&after));
}

#[test]
fn targets_limit_the_plan_to_dependencies() {
    let ws = Workspace::new(CHAIN);
    let out = ws.run(&["plan", "--target", "cairn_data.b"]);
    let plan = stdout(&out);
    assert!(
        plan.contains("cairn_data.a will be created")
            && plan.contains("cairn_data.b will be created"),
        "{plan}"
    );
    assert!(
        !plan.contains("cairn_data.c") && !plan.contains("cairn_data.independent"),
        "{plan}"
    );
    let stack = format!("{CHAIN}\n[outputs.last]\nvalue = \"${{cairn_data.c.output}}\"\n");
    ws.write(&stack);
    let applied = ws.run(&["apply", "--auto-approve", "--target", "cairn_data.b"]);
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied));
    let mut listed = ws.state_list();
    listed.sort();
    assert_eq!(listed, ["cairn_data.a", "cairn_data.b"]);
    let outputs = ws.run(&["output", "--json"]);
    assert_eq!(
        stdout(&outputs).trim(),
        "{}",
        "a targeted apply leaves outputs alone"
    );
    let replan = ws.run(&["plan", "--detailed-exitcode", "--target", "cairn_data.b"]);
    assert_eq!(replan.status.code(), Some(0), "{}", text(&replan));
}

#[test]
fn removing_a_resource_from_the_stack_plans_its_deletion() {
    let ws = Workspace::new(CHAIN);
    ws.apply();
    ws.write(CHAIN.replace("[resources.cairn_data.independent]\ninput = \"x\"\n", ""));
    let out = ws.run(&["plan"]);
    let plan = stdout(&out);
    assert!(
        plan.contains("# cairn_data.independent will be destroyed"),
        "{plan}"
    );
    assert!(
        plan.contains("Plan: 0 to add, 0 to change, 1 to destroy."),
        "{plan}"
    );
}

#[test]
fn plan_json_is_machine_readable_and_redacted() {
    let ws = Workspace::from_fixture("basic");
    let out = ws.run(&["plan", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(
        json["summary"],
        serde_json::json!({"add": 4, "change": 0, "destroy": 0})
    );
    let changes = json["plan"]["changes"].as_array().expect("changes");
    let secret = changes
        .iter()
        .find(|c| c["addr"] == "cairn_data.secret")
        .expect("secret planned");
    assert_eq!(secret["action"], "create");
    assert_eq!(
        secret["after"]["input"],
        serde_json::json!({"$sensitive": true})
    );
    assert_eq!(secret["after"]["id"], serde_json::json!({"$unknown": true}));
}

#[test]
fn a_first_interrupt_finishes_work_in_flight_and_saves_it() {
    let ws = Workspace::new(CHAIN);
    let (code, seen, err) = ws.apply_interrupted_after(&["--parallelism", "1"], "creating...");
    assert_eq!(code, Some(1), "{seen}{err}");
    assert!(err.contains("Interrupt received"), "{err}");
    assert!(
        seen.contains("creation complete"),
        "the create in flight finished: {seen}"
    );
    assert!(seen.contains("Apply interrupted"), "{seen}");
    assert_eq!(
        ws.state_list().len(),
        1,
        "exactly the create in flight was recorded"
    );
    let rerun = ws.apply();
    assert!(
        stdout(&rerun).contains("Plan: 3 to add"),
        "{}",
        text(&rerun)
    );
    assert_eq!(ws.state_list().len(), 4);
}

#[test]
fn a_second_interrupt_stops_waiting_and_leaves_the_intent_for_the_next_run() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let ws = Workspace::new(CHAIN);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
        .current_dir(ws.stack_dir())
        .args(["apply", "--auto-approve", "--parallelism", "1"])
        .env("NO_COLOR", "1")
        .env("CAIRN_TEST_DELAY_MS", "5000")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    for line in lines.by_ref() {
        if line.expect("line").ends_with("creating...") {
            break;
        }
    }
    let interrupt = || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let sent = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        assert!(sent.is_ok_and(|s| s.success()));
    };
    interrupt();
    interrupt();
    let started = std::time::Instant::now();
    let rest: Vec<String> = lines.map(|l| l.expect("line")).collect();
    let out = child.wait_with_output().expect("exits");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "did not wait for the 5 s create"
    );
    assert_eq!(out.status.code(), Some(1), "{rest:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Second interrupt"));
    assert!(ws.state_list().is_empty(), "nothing finished");
    let shown: serde_json::Value =
        serde_json::from_slice(&ws.run(&["show", "--json"]).stdout).expect("json");
    assert_eq!(
        shown["pending"].as_array().map(Vec::len),
        Some(1),
        "the create in flight is journaled: {shown}"
    );
    let rerun = ws.apply();
    assert!(
        stdout(&rerun).contains("Plan: 4 to add"),
        "{}",
        text(&rerun)
    );
}

mod adoption {
    //! An apply killed between a create call and its record leaves an intent; the next
    //! plan asks the provider to find the object and adopts it instead of creating a
    //! duplicate.

    use std::sync::Arc;

    use cairn::addr::ResourceAddr;
    use cairn::plan::{Action, PlanOptions};
    use cairn::providers::Registry;
    use cairn::state::Intent;
    use cairn_provider_core::Attrs;
    use cairn_provider_fake::{FakeProvider, Operation};

    use crate::engine::{Run, runtime, stack_dir};

    #[test]
    fn an_interrupted_create_is_adopted_not_duplicated() {
        let dir = stack_dir(
            "[stack]\nname = \"adopt\"\n\n[resources.fake_thing.x]\ninput = \"v\"\n\n[resources.fake_thing.y]\ninput = \"w\"\n",
        );
        // The interrupted create of x made its object; creating it again would be a duplicate.
        let fake = FakeProvider::new("fake")
            .resource_type("fake_thing")
            .fail_on("fake_thing.x", Operation::Create);
        let made = Attrs::new().with("input", "v").with("id", "found-x");
        fake.seed("fake_thing.x", made.clone());
        let registry = Registry::with_providers(vec![Arc::new(fake.clone())]);
        let mut run = Run::open(dir.path(), &registry);
        let x = ResourceAddr::new("fake_thing", "x");
        let intent = Intent {
            operation: "create".to_owned(),
            config: Attrs::new().with("input", "v"),
            started_at: "2026-01-01T00:00:00Z".to_owned(),
        };
        run.store
            .record_intent(&x, intent)
            .expect("intent recorded");
        let runtime = runtime();

        let adopted = runtime
            .block_on(run.session.adopt(&mut run.store))
            .expect("adopts");
        assert_eq!(adopted.adopted, vec![x.clone()]);
        assert!(adopted.unresolved.is_empty());
        assert!(run.store.state().pending.is_empty());
        let recorded = run.store.state().resources.get(&x).expect("recorded");
        assert_eq!(recorded.attrs.get("id"), made.get("id"));
        assert_eq!(fake.calls(Operation::Find), 1);

        let planned = runtime.block_on(run.plan(&PlanOptions::default()));
        let action = |addr: &ResourceAddr| planned.change(addr).map(|c| c.action);
        assert_eq!(action(&x), Some(Action::NoOp), "adopted, not created again");
        assert_eq!(
            action(&ResourceAddr::new("fake_thing", "y")),
            Some(Action::Create)
        );
        assert_eq!(fake.calls(Operation::Create), 0, "planning creates nothing");
    }
}

mod walk_order {
    //! The walker's ordering guarantees, on random DAGs, through the library with a fake
    //! provider whose event log records when each call starts and ends.

    use std::collections::BTreeMap;
    use std::fmt::Write;
    use std::sync::Arc;
    use std::time::Duration;

    use cairn::apply::ApplyOptions;
    use cairn::plan::PlanOptions;
    use cairn::providers::Registry;
    use cairn_provider_fake::{FakeProvider, Operation, Phase};
    use proptest::prelude::*;

    use crate::engine::{Run, runtime, stack_dir};

    const MAX_RESOURCES: usize = 18;

    /// A fake whose resources take uneven times (0 to 3 ms), so independent branches
    /// interleave.
    fn fake() -> FakeProvider {
        (0..MAX_RESOURCES).fold(
            FakeProvider::new("fake").resource_type("fake_thing"),
            |fake, i| {
                let address = format!("fake_thing.r{i}");
                let millis = address.bytes().map(u64::from).sum::<u64>() % 4;
                fake.resource_latency(address, Duration::from_millis(millis))
            },
        )
    }

    /// The start and end of every create and delete, in order, as `(address, kind)`.
    fn log(fake: &FakeProvider) -> Vec<(String, &'static str)> {
        fake.events()
            .into_iter()
            .filter_map(|event| {
                let kind = match (event.operation, event.phase) {
                    (Operation::Create, Phase::Started) => "create_start",
                    (Operation::Create, Phase::Finished) => "create_end",
                    (Operation::Delete, Phase::Started) => "delete_start",
                    (Operation::Delete, Phase::Finished) => "delete_end",
                    _ => return None,
                };
                Some((event.subject, kind))
            })
            .collect()
    }

    /// A stack where resource `i` depends on each `j < i` listed in `deps[i]`: the first
    /// through a reference, the rest through `depends_on`.
    fn stack_toml(deps: &[Vec<usize>], replaced: &[bool]) -> String {
        let mut toml = String::from("[stack]\nname = \"prop\"\n");
        for (i, list) in deps.iter().enumerate() {
            let trigger = if replaced.get(i).copied().unwrap_or(false) {
                2
            } else {
                1
            };
            let _ = writeln!(toml, "\n[resources.fake_thing.r{i}]\ntrigger = {trigger}");
            match list.split_first() {
                Some((first, rest)) => {
                    let _ = writeln!(toml, "input = \"${{fake_thing.r{first}.id}}\"");
                    if !rest.is_empty() {
                        let list: Vec<String> = rest
                            .iter()
                            .map(|j| format!("\"fake_thing.r{j}\""))
                            .collect();
                        let _ = writeln!(toml, "depends_on = [{}]", list.join(", "));
                    }
                }
                None => {
                    let _ = writeln!(toml, "input = \"root\"");
                }
            }
        }
        toml
    }

    fn position(log: &[(String, &'static str)], addr: &str, kind: &str) -> usize {
        log.iter()
            .position(|(a, k)| a == addr && *k == kind)
            .unwrap_or(usize::MAX)
    }

    async fn walk(
        dir: &std::path::Path,
        registry: &Registry,
        destroy: bool,
        parallelism: usize,
    ) -> bool {
        let mut run = Run::open(dir, registry);
        let options = PlanOptions {
            destroy,
            ..PlanOptions::default()
        };
        let plan = run.plan(&options).await;
        let outcome = run.apply(&plan, ApplyOptions { parallelism }).await;
        run.close();
        outcome.is_success()
    }

    fn dags() -> impl Strategy<Value = Vec<Vec<usize>>> {
        (1usize..MAX_RESOURCES).prop_flat_map(|n| {
            (0..n)
                .map(|i| {
                    if i == 0 {
                        Just(Vec::new()).boxed()
                    } else {
                        proptest::collection::btree_set(0..i, 0..=i.min(3))
                            .prop_map(|set| set.into_iter().collect::<Vec<_>>())
                            .boxed()
                    }
                })
                .collect::<Vec<_>>()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

        #[test]
        fn apply_creates_after_dependencies_and_destroy_deletes_before_them(
            deps in dags(),
            parallelism in 1usize..6,
            replaced in proptest::collection::vec(any::<bool>(), MAX_RESOURCES),
        ) {
            let dir = stack_dir(&stack_toml(&deps, &[]));
            let fake = fake();
            let registry = Registry::with_providers(vec![Arc::new(fake.clone())]);
            let runtime = runtime();

            prop_assert!(runtime.block_on(walk(dir.path(), &registry, false, parallelism)));
            let created = log(&fake);
            prop_assert_eq!(created.len(), deps.len() * 2, "every resource created once");
            prop_assert!(fake.peak_in_flight() <= parallelism, "at most --parallelism calls at once");
            for (i, list) in deps.iter().enumerate() {
                let started = position(&created, &format!("fake_thing.r{i}"), "create_start");
                for j in list {
                    let dep_done = position(&created, &format!("fake_thing.r{j}"), "create_end");
                    prop_assert!(dep_done < started, "r{} started before its dependency r{} finished", i, j);
                }
            }

            // Replace a random subset: each old object goes before its new one is made,
            // deletes run dependents first and creates dependencies first.
            fake.reset_counters();
            std::fs::write(dir.path().join("stack.toml"), stack_toml(&deps, &replaced)).expect("write");
            prop_assert!(runtime.block_on(walk(dir.path(), &registry, false, parallelism)));
            let replacing = log(&fake);
            let is_replaced = |i: usize| replaced.get(i).copied().unwrap_or(false);
            prop_assert_eq!(replacing.len(), (0..deps.len()).filter(|&i| is_replaced(i)).count() * 4);
            for (i, list) in deps.iter().enumerate().filter(|(i, _)| is_replaced(*i)) {
                let me = format!("fake_thing.r{i}");
                prop_assert!(position(&replacing, &me, "delete_end") < position(&replacing, &me, "create_start"));
                for &j in list.iter().filter(|&&j| is_replaced(j)) {
                    let dep = format!("fake_thing.r{j}");
                    prop_assert!(position(&replacing, &me, "delete_end") < position(&replacing, &dep, "delete_start"),
                        "old r{} deleted before its dependent r{}", j, i);
                    prop_assert!(position(&replacing, &dep, "create_end") < position(&replacing, &me, "create_start"),
                        "new r{} created before its dependency r{}", i, j);
                }
            }

            fake.reset_counters();
            prop_assert!(runtime.block_on(walk(dir.path(), &registry, true, parallelism)));
            let deleted = log(&fake);
            prop_assert_eq!(deleted.len(), deps.len() * 2, "every resource deleted once");
            prop_assert!(fake.addresses().is_empty(), "nothing left: {:?}", fake.addresses());
            let mut dependents: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
            for (i, list) in deps.iter().enumerate() {
                for j in list {
                    dependents.entry(*j).or_default().push(i);
                }
            }
            for (j, users) in dependents {
                let started = position(&deleted, &format!("fake_thing.r{j}"), "delete_start");
                for i in users {
                    let user_gone = position(&deleted, &format!("fake_thing.r{i}"), "delete_end");
                    prop_assert!(user_gone < started, "r{} deleted before its dependent r{}", j, i);
                }
            }
        }
    }
}

mod provider_configured_mid_apply {
    //! A provider whose configuration references a resource of the same stack (the
    //! Kubernetes provider of an EKS cluster created in the same run) is configured during
    //! the apply, once that resource exists, with its real values.

    use std::sync::Arc;

    use cairn::addr::ResourceAddr;
    use cairn::apply::ApplyOptions;
    use cairn::builtin::CairnProvider;
    use cairn::plan::{Action, ChangeReason, PlanOptions};
    use cairn::providers::Registry;
    use cairn_provider_core::{AttrSchema, AttrType, Attrs};
    use cairn_provider_fake::{FakeProvider, Operation, Phase};

    use crate::engine::{Run, runtime, stack_dir};

    const STACK: &str = r#"
[stack]
name = "late"

[providers.late]
endpoint = "${cairn_data.cluster.id}"

[resources.cairn_data.cluster]
input = "c"

[resources.late_object.app]
input = "${cairn_data.cluster.id}"
"#;

    /// The calls the fake received, in the order they started, as `(operation, subject)`.
    fn started(fake: &FakeProvider) -> Vec<(Operation, String)> {
        fake.events()
            .into_iter()
            .filter(|e| e.phase == Phase::Started)
            .map(|e| (e.operation, e.subject))
            .collect()
    }

    #[test]
    fn configured_with_the_real_value_once_the_resource_exists() {
        let dir = stack_dir(STACK);
        let fake = FakeProvider::new("late")
            .config_attr("endpoint", AttrSchema::required(AttrType::String))
            .resource_type("late_object");
        let registry =
            Registry::with_providers(vec![Arc::new(CairnProvider::new()), Arc::new(fake.clone())]);
        let runtime = runtime();
        let cluster = ResourceAddr::new("cairn_data", "cluster");
        let app = ResourceAddr::new("late_object", "app");
        let configured_with = |endpoint: &str| vec![Attrs::new().with("endpoint", endpoint)];

        let mut run = Run::open(dir.path(), &registry);
        let first = runtime.block_on(run.plan(&PlanOptions::default()));
        assert_eq!(first.change(&app).map(|c| c.action), Some(Action::Create));
        assert!(
            fake.events().is_empty(),
            "nothing configured while planning: {:?}",
            fake.events()
        );
        let outcome = runtime.block_on(run.apply(&first, ApplyOptions::default()));
        assert!(outcome.is_success(), "{:?}", outcome.failures);
        let cluster_id = run.store.state().resources[&cluster]
            .attrs
            .str("id")
            .expect("cluster id");
        assert_eq!(
            fake.configurations(),
            configured_with(&cluster_id),
            "configured from the cluster's real id"
        );
        assert_eq!(
            started(&fake),
            [
                (Operation::Configure, "late".to_owned()),
                (Operation::Create, "late_object.app".to_owned())
            ],
            "configured, then used"
        );

        // Next run: the configuration is known from state, so the refresh reads the object.
        fake.reset_counters();
        run.restart_providers();
        let again = runtime.block_on(run.plan(&PlanOptions::default()));
        assert!(!again.has_changes(), "{:?}", again.changes);
        assert_eq!(fake.configurations(), configured_with(&cluster_id));
        assert_eq!(
            started(&fake),
            [
                (Operation::Configure, "late".to_owned()),
                (Operation::Read, "late_object.app".to_owned())
            ]
        );

        // Without the cluster in state, the provider cannot be configured: its resources are
        // planned from their records instead of failing.
        run.store.remove_resource(&cluster).expect("forget cluster");
        fake.reset_counters();
        run.restart_providers();
        let deferred = runtime.block_on(run.plan(&PlanOptions::default()));
        assert_eq!(deferred.deferred_providers, ["late"]);
        assert!(fake.events().is_empty(), "{:?}", fake.events());
        let change = deferred.change(&app).expect("app planned");
        assert_eq!(change.reason, Some(ChangeReason::RefreshDeferred));
        assert_eq!(
            change.action,
            Action::Update,
            "its input is the id of a cluster not created yet"
        );
        assert_eq!(
            deferred.change(&cluster).map(|c| c.action),
            Some(Action::Create)
        );
        run.close();
    }
}

mod panicking_provider {
    //! A provider that panics fails its resource; the walk and the state survive.

    use std::sync::Arc;

    use cairn::addr::ResourceAddr;
    use cairn::apply::ApplyOptions;
    use cairn::builtin::CairnProvider;
    use cairn::plan::PlanOptions;
    use cairn::providers::Registry;
    use cairn_provider_fake::{FakeProvider, Operation};

    use crate::engine::{Run, runtime, stack_dir};

    #[test]
    fn a_panic_fails_the_resource_not_the_apply() {
        let dir = stack_dir(
            "[stack]\nname = \"boom\"\n\n[resources.cairn_data.ok]\ninput = 1\n\n[resources.boom_thing.x]\ninput = \"${cairn_data.ok.id}\"\n",
        );
        let fake = FakeProvider::new("boom")
            .resource_type("boom_thing")
            .panic_on("boom_thing.x", Operation::Create);
        let registry =
            Registry::with_providers(vec![Arc::new(CairnProvider::new()), Arc::new(fake)]);
        let state_path = dir.path().join("state.json");
        let mut run = Run::open(dir.path(), &registry);
        let runtime = runtime();
        let planned = runtime.block_on(run.plan(&PlanOptions::default()));
        let outcome = runtime.block_on(run.apply(&planned, ApplyOptions::default()));
        assert_eq!(outcome.failures.len(), 1);
        assert_eq!(
            outcome.failures[0].addr,
            ResourceAddr::new("boom_thing", "x")
        );
        assert!(
            outcome.failures[0].message.contains("panicked"),
            "{:?}",
            outcome.failures
        );
        run.close();
        let recorded = cairn::state::read(&state_path)
            .expect("readable")
            .expect("written");
        assert!(
            recorded
                .resources
                .contains_key(&ResourceAddr::new("cairn_data", "ok"))
        );
        assert!(
            recorded
                .pending
                .contains_key(&ResourceAddr::new("boom_thing", "x")),
            "its intent is kept"
        );
    }
}

mod provider_warnings {
    //! What a provider warns of (a leftover that costs money) is in the outcome and at
    //! the end of the report, where a status line would have been overwritten, whether
    //! the run finished or not.

    use std::sync::Arc;

    use cairn::addr::ResourceAddr;
    use cairn::apply::ApplyOptions;
    use cairn::plan::PlanOptions;
    use cairn::providers::Registry;
    use cairn_provider_fake::{FakeProvider, Operation};

    use crate::engine::{Run, runtime, stack_dir};

    const LEFT: &str = "leaves 1 EBS volume behind: vol-1 (20 GiB)";

    #[test]
    fn a_warning_is_reported_after_a_failed_apply_and_a_destroy() {
        let dir = stack_dir(
            "[stack]\nname = \"warn\"\n\n[resources.fake_thing.x]\ninput = 1\n\n[resources.fake_thing.broken]\ninput = 2\n",
        );
        let fake = FakeProvider::new("fake")
            .resource_type("fake_thing")
            .warn_on("fake_thing.x", Operation::Create, LEFT)
            .warn_on("fake_thing.x", Operation::Delete, LEFT)
            .fail_on("fake_thing.broken", Operation::Create);
        let registry = Registry::with_providers(vec![Arc::new(fake)]);
        let runtime = runtime();
        let mut run = Run::open(dir.path(), &registry);
        let planned = runtime.block_on(run.plan(&PlanOptions::default()));
        let outcome = runtime.block_on(run.apply(&planned, ApplyOptions::default()));
        assert_eq!(outcome.failures.len(), 1, "{:?}", outcome.failures);
        let warned: Vec<(ResourceAddr, &str)> = outcome
            .warnings
            .iter()
            .map(|w| (w.addr.clone(), w.message.as_str()))
            .collect();
        assert_eq!(warned, [(ResourceAddr::new("fake_thing", "x"), LEFT)]);
        let report = cairn::render::apply_report(&outcome, false, "cairn apply", false);
        let warning = report
            .find(&format!("Warning: fake_thing.x: {LEFT}"))
            .unwrap_or_else(|| panic!("the report warns:\n{report}"));
        let stopped = report
            .find("Apply stopped")
            .expect("the report ends the run");
        assert!(
            warning < stopped,
            "warnings come before the verdict:\n{report}"
        );
        let json = cairn::render::apply_summary_json(&outcome, false);
        assert!(json.contains(LEFT), "{json}");

        let planned = runtime.block_on(run.plan(&PlanOptions {
            destroy: true,
            ..PlanOptions::default()
        }));
        let outcome = runtime.block_on(run.apply(&planned, ApplyOptions::default()));
        assert!(outcome.is_success(), "{:?}", outcome.failures);
        assert_eq!(outcome.warnings.len(), 1, "{:?}", outcome.warnings);
        let report = cairn::render::apply_report(&outcome, true, "cairn destroy", false);
        assert!(
            report.starts_with(&format!("Warning: fake_thing.x: {LEFT}\nDestroy complete!")),
            "{report}"
        );
        run.close();
    }
}

/// Issue 8: a stop (here a first Ctrl-C) during a replacement's delete must not leave the
/// object deleted: the walk starts nothing new, except the create that completes it.
#[test]
fn an_interrupt_never_leaves_a_replacement_half_done() {
    let stack = |generation: u32| {
        format!(
            r#"
[stack]
name = "demo"

[resources.cairn_data.secret]
input = "s"
triggers_replace = {generation}

[resources.cairn_data.unrelated]
input = "u{generation}"
depends_on = ["cairn_data.other"]

[resources.cairn_data.other]
input = "o{generation}"
"#
        )
    };
    let ws = Workspace::new(stack(1));
    ws.apply();
    ws.write(stack(2));
    // The delete in flight sleeps 1.5 s; the interrupt comes inside it.
    let (code, seen, _) = ws.apply_interrupted_after(&[], "cairn_data.secret: destroying");
    assert_eq!(code, Some(1), "{seen}");
    assert!(seen.contains("Apply interrupted"), "{seen}");
    assert!(
        ws.state_list().contains(&"cairn_data.secret".to_owned()),
        "the replacement's create ran after its delete: {seen}"
    );
    assert!(
        !seen.contains("cairn_data.unrelated: modifying"),
        "nothing new started after the interrupt: {seen}"
    );
    let plan = ws.run(&["plan", "--detailed-exitcode"]);
    assert!(
        stdout(&plan).contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "only the update the interrupt stopped is left: {}",
        text(&plan)
    );
}

/// Issue 8: state hashes only the secret leaf of a value (the rest stays readable), a
/// value built from an unchanged secret plans no change with or without a refresh, and a
/// changed secret is one update of each resource that uses it.
#[test]
fn a_secret_inside_a_value_is_hashed_alone_and_converges() {
    const FIRST: &str = "first-Secret-81";
    const SECOND: &str = "second-Secret-82";
    let ws = Workspace::new(
        r#"
[stack]
name = "demo"

[variables.password]
type = "string"
sensitive = true

[resources.cairn_data.password]
input = "${var.password}"

[resources.cairn_data.connection]
input = { uri = "postgresql://airflow:${cairn_data.password.output}@db:5432/airflow", pool = 5 }
"#,
    );
    let run = |secret: &str, args: &[&str]| {
        ws.cmd(args)
            .env("CAIRN_VAR_password", secret)
            .output()
            .expect("runs")
    };
    let out = run(FIRST, &["apply", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for args in [
        &["plan", "--detailed-exitcode"][..],
        &["plan", "--detailed-exitcode", "--refresh=false"],
    ] {
        let out = run(FIRST, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
    }
    let state = std::fs::read_to_string(ws.state_file()).expect("state");
    let recorded: serde_json::Value = serde_json::from_str(&state).expect("json");
    let connection = recorded["resources"]
        .as_array()
        .and_then(|all| all.iter().find(|r| r["address"] == "cairn_data.connection"))
        .expect("recorded");
    assert_eq!(
        connection["attributes"]["input"]["pool"], 5,
        "only the secret leaf is hashed: {connection}"
    );

    let changed = run(SECOND, &["plan", "--detailed-exitcode", "--refresh=false"]);
    assert_eq!(changed.status.code(), Some(2), "{}", text(&changed));
    assert!(
        stdout(&changed).contains("Plan: 0 to add, 2 to change, 0 to destroy."),
        "{}",
        text(&changed)
    );
    let out = run(SECOND, &["apply", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let again = run(SECOND, &["plan", "--detailed-exitcode", "--refresh=false"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let all_state: String = std::fs::read_dir(ws.state_dir())
        .expect("state dir")
        .map(|e| {
            String::from_utf8_lossy(&std::fs::read(e.expect("entry").path()).expect("read"))
                .into_owned()
        })
        .collect();
    assert!(!all_state.contains(FIRST) && !all_state.contains(SECOND));
}
