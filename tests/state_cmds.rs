//! The commands pipelines run on a local state: `output`, `show`, `state list|pull|push`
//! and `force-unlock` from the state alone, the lock (a dead holder taken over, a live one
//! kept, `--lock-timeout`), a read-only `plan`, and a damaged state refused untouched
//! (issues 10 and 11). The S3 side is in `backend_s3.rs`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

#[path = "support/workspace.rs"]
mod workspace;

use workspace::{Workspace, stderr, stdout, text};

/// A stack with a required variable (so commands that need it fail without it), a
/// secret, and outputs of both kinds.
const STACK: &str = r#"
[stack]
name = "demo"

[variables.greeting]
type = "string"

[variables.password]
default = "hunter2-not-in-state"
sensitive = true

[resources.cairn_data.network]
input = "${var.greeting}"

[resources.cairn_data.cluster]
input = "${cairn_data.network.output}"

[resources.cairn_data.secret]
input = "${var.password}"

[outputs.network]
value = "${cairn_data.network.output}"

[outputs.secret]
value = "${cairn_data.secret.output}"
sensitive = true
"#;

/// What these tests need of a checkout beyond the shared [`Workspace`].
impl Workspace {
    fn state_file(&self) -> PathBuf {
        self.state_dir().join("demo-default.json")
    }

    fn apply(&self) {
        let out = self.run(&["apply", "--auto-approve", "--var", "greeting=hello"]);
        assert_eq!(out.status.code(), Some(0), "apply:\n{}", text(&out));
    }

    /// An apply that holds the lock for a while (each create sleeps), in the background.
    fn slow_apply(&self, greeting: &str) -> Child {
        let child = self
            .command_in(
                &self.stack_dir(),
                &[
                    "apply",
                    "--auto-approve",
                    "--var",
                    &format!("greeting={greeting}"),
                ],
            )
            .env("CAIRN_TEST_DELAY_MS", "20000")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cairn starts");
        let lock = PathBuf::from(format!("{}.lock", self.state_file().display()));
        let started = Instant::now();
        while !std::fs::read(&lock).is_ok_and(|b| !b.is_empty()) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the slow apply never took the lock"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        child
    }
}

/// Kills a child this test started, by its handle, and reaps it.
fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn output_show_and_state_work_from_the_state_alone() {
    let checkout = Workspace::new(STACK);
    checkout.apply();

    // In the stack directory, without the required variable.
    let out = checkout.run(&["output", "network"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(stdout(&out).trim(), "hello");

    // Anywhere, with the state file only.
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let state = checkout.state_file();
    let state = state.to_str().expect("utf-8 path");
    for args in [
        vec!["output", "network", "--state", state],
        vec!["show", "--state", state],
        vec!["state", "list", "--state", state],
        vec!["state", "show", "cairn_data.network", "--state", state],
        vec!["state", "pull", "--state", state],
    ] {
        let out = checkout.run_in(elsewhere.path(), &args);
        assert_eq!(out.status.code(), Some(0), "{args:?}:\n{}", text(&out));
        assert!(
            !stdout(&out).contains("hunter2-not-in-state"),
            "{args:?} printed the secret"
        );
    }
    let listed = checkout.run_in(elsewhere.path(), &["state", "list", "--state", state]);
    assert!(
        stdout(&listed).contains("cairn_data.cluster"),
        "{}",
        text(&listed)
    );

    // A sensitive output is not in the state: said plainly, and nothing re-planned.
    let out = checkout.run_in(elsewhere.path(), &["output", "secret", "--state", state]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr(&out).contains("keyed hash"), "{}", text(&out));
    assert!(!text(&out).contains("hunter2-not-in-state"));

    let out = checkout.run_in(elsewhere.path(), &["show"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("not a stack directory"),
        "{}",
        text(&out)
    );
    assert!(stderr(&out).contains("--state FILE"), "{}", text(&out));
}

#[test]
fn state_push_refuses_an_older_serial_or_another_lineage() {
    let checkout = Workspace::new(STACK);
    checkout.apply();
    let pulled = checkout.run(&["state", "pull"]);
    assert_eq!(pulled.status.code(), Some(0), "{}", text(&pulled));
    let mut state: serde_json::Value = serde_json::from_slice(&pulled.stdout).expect("state JSON");
    let serial = state["serial"].as_u64().expect("serial");
    let file = checkout.root().join("pulled.json");

    // Older (the same serial is not newer either).
    std::fs::write(&file, &pulled.stdout).expect("write");
    let out = checkout.run(&["state", "push", file.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr(&out).contains("serial"), "{}", text(&out));

    // Another lineage.
    let other = Workspace::new(STACK);
    other.apply();
    let foreign = other.run(&["state", "pull"]);
    let mut foreign_state: serde_json::Value =
        serde_json::from_slice(&foreign.stdout).expect("state JSON");
    foreign_state["serial"] = serde_json::json!(serial + 10);
    std::fs::write(&file, serde_json::to_vec(&foreign_state).expect("json")).expect("write");
    let out = checkout.run(&["state", "push", file.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr(&out).contains("another state"), "{}", text(&out));

    // Same lineage, newer serial, one resource dropped by hand: accepted as it is.
    let resources = state["resources"].as_array_mut().expect("resources");
    resources.retain(|r| r["address"] != "cairn_data.cluster");
    state["serial"] = serde_json::json!(serial + 1);
    std::fs::write(&file, serde_json::to_vec(&state).expect("json")).expect("write");
    let out = checkout.run(&["state", "push", file.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let listed = checkout.run(&["state", "list"]);
    assert!(
        !stdout(&listed).contains("cairn_data.cluster"),
        "{}",
        text(&listed)
    );
    let pulled_again: serde_json::Value =
        serde_json::from_slice(&checkout.run(&["state", "pull"]).stdout).expect("json");
    assert_eq!(pulled_again["serial"].as_u64(), Some(serial + 1));
    assert_eq!(pulled_again["lineage"], state["lineage"]);
    // The secret's hash still matches its key: no spurious change.
    let plan = checkout.run(&[
        "plan",
        "--detailed-exitcode",
        "--var",
        "greeting=hello",
        "--target",
        "cairn_data.secret",
    ]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
}

#[test]
fn plan_writes_nothing_and_runs_beside_a_held_lock() {
    let checkout = Workspace::new(STACK);
    let out = checkout.run(&["plan", "--var", "greeting=hello"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        !checkout.root().join("state").exists(),
        "plan created the state folder"
    );

    checkout.apply();
    let holder = checkout.slow_apply("changed");
    let before = std::fs::read(checkout.state_file()).expect("snapshot");
    let out = checkout.run(&["plan", "--var", "greeting=hello", "--detailed-exitcode"]);
    kill(holder);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        std::fs::read(checkout.state_file()).expect("snapshot"),
        before,
        "plan rewrote the snapshot"
    );
}

#[test]
fn a_live_holder_is_named_kept_by_force_unlock_and_waited_for() {
    let checkout = Workspace::new(STACK);
    checkout.apply();
    let holder = checkout.slow_apply("changed");
    let pid = holder.id().to_string();

    let second = checkout.run(&["apply", "--auto-approve", "--var", "greeting=hello"]);
    assert_eq!(second.status.code(), Some(1), "{}", text(&second));
    assert!(stderr(&second).contains("is locked"), "{}", text(&second));
    assert!(
        stderr(&second).contains(&pid),
        "names the holder: {}",
        text(&second)
    );

    let started = Instant::now();
    let waited = checkout.run(&[
        "apply",
        "--auto-approve",
        "--var",
        "greeting=hello",
        "--lock-timeout=1s",
    ]);
    assert_eq!(waited.status.code(), Some(1), "{}", text(&waited));
    assert!(started.elapsed() >= Duration::from_secs(1), "it waited");

    let refused = checkout.run(&["force-unlock"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(stderr(&refused).contains(&pid), "{}", text(&refused));
    assert!(
        stderr(&refused).contains("still alive"),
        "{}",
        text(&refused)
    );
    let lock = PathBuf::from(format!("{}.lock", checkout.state_file().display()));
    assert!(lock.exists(), "the live holder's lock survives");

    let forced = checkout.run(&["force-unlock", "--force"]);
    kill(holder);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced));
    assert!(stdout(&forced).contains("forced"), "{}", text(&forced));
}

#[test]
fn the_lock_of_a_killed_apply_is_taken_over_saying_so() {
    let checkout = Workspace::new(STACK);
    checkout.apply();
    let holder = checkout.slow_apply("changed");
    let pid = holder.id().to_string();
    kill(holder);

    let out = checkout.run(&["apply", "--auto-approve", "--var", "greeting=changed"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let said = stderr(&out);
    assert!(said.contains("Took over the lock"), "{}", text(&out));
    assert!(said.contains(&pid), "names the dead holder: {}", text(&out));
    let out = checkout.run(&["output", "network"]);
    assert_eq!(stdout(&out).trim(), "changed");
}

#[test]
fn a_damaged_state_is_refused_untouched_pointing_at_the_backup() {
    let checkout = Workspace::new(STACK);
    checkout.apply();
    let out = checkout.run(&["apply", "--auto-approve", "--var", "greeting=again"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let state = checkout.state_file();
    let bytes = std::fs::read(&state).expect("snapshot");
    std::fs::write(&state, &bytes[..bytes.len() - 40]).expect("truncate");
    for args in [
        vec!["plan", "--var", "greeting=again"],
        vec!["apply", "--auto-approve", "--var", "greeting=again"],
        vec!["state", "list"],
    ] {
        let out = checkout.run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        assert!(stderr(&out).contains(".backup"), "{args:?}: {}", text(&out));
    }
    assert_eq!(
        std::fs::read(&state).expect("snapshot"),
        &bytes[..bytes.len() - 40],
        "never overwritten"
    );
}

#[test]
fn plan_reports_a_pending_create_and_state_rm_drops_it() {
    let checkout = Workspace::new(STACK);
    let failed = checkout
        .command_in(
            &checkout.stack_dir(),
            &["apply", "--auto-approve", "--var", "greeting=hello"],
        )
        .env("CAIRN_TEST_FAIL_ON", "cairn_data.network")
        .output()
        .expect("cairn runs");
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));
    let pending = |checkout: &Workspace| {
        let shown: serde_json::Value =
            serde_json::from_slice(&checkout.run(&["show", "--json"]).stdout).expect("json");
        shown["pending"].clone()
    };
    assert_eq!(
        pending(&checkout),
        serde_json::json!(["cairn_data.network"])
    );

    let before = std::fs::read(checkout.state_file()).ok();
    let plan = checkout.run(&["plan", "--var", "greeting=hello"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    assert!(
        stderr(&plan).contains("cairn_data.network: an interrupted apply started creating"),
        "{}",
        text(&plan)
    );
    assert_eq!(
        std::fs::read(checkout.state_file()).ok(),
        before,
        "plan adopted nothing"
    );
    assert_eq!(
        pending(&checkout),
        serde_json::json!(["cairn_data.network"])
    );

    let dropped = checkout.run(&["state", "rm", "cairn_data.network"]);
    assert_eq!(dropped.status.code(), Some(0), "{}", text(&dropped));
    assert!(
        stdout(&dropped).contains("Dropped the pending create"),
        "{}",
        text(&dropped)
    );
    assert_eq!(pending(&checkout), serde_json::json!([]));
}
