//! The stack language end to end, on `cairn_data` stacks (no cloud needed): `[locals]`,
//! `for_each` instances (adding, removing and renaming keys, references across instances,
//! `--target` and `state` commands on one instance), and the errors `validate` and `plan`
//! give, each with its file:line:column.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]

use std::path::PathBuf;
use std::process::Output;

use assert_cmd::Command;
use tempfile::TempDir;

/// A temporary checkout (a directory with `.git`) holding one stack in `stack/`.
struct Workspace {
    root: TempDir,
}

impl Workspace {
    fn new(stack_toml: &str) -> Workspace {
        let root = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(root.path().join(".git")).expect("mkdir .git");
        std::fs::create_dir(root.path().join("stack")).expect("mkdir stack");
        let workspace = Workspace { root };
        workspace.write(stack_toml);
        workspace
    }

    fn write(&self, stack_toml: &str) {
        std::fs::write(self.stack_dir().join("stack.toml"), stack_toml).expect("write stack");
    }

    fn stack_dir(&self) -> PathBuf {
        self.root.path().join("stack")
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_cairn"))
            .current_dir(self.stack_dir())
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("CAIRN_LOG")
            .env_remove("CAIRN_TEST_FAIL_ON")
            .env_remove("CAIRN_TEST_DELAY_MS")
            .env_remove("CAIRN_STATE_KEY")
            .write_stdin("")
            .output()
            .expect("cairn runs")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?} failed:\n{}",
            text(&out)
        );
        text(&out)
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_ne!(
            out.status.code(),
            Some(0),
            "{args:?} should fail:\n{}",
            text(&out)
        );
        text(&out)
    }

    /// The `# ADDRESS will be ...` lines of a plan, sorted.
    fn planned(&self, args: &[&str]) -> Vec<String> {
        let mut lines: Vec<String> = self
            .ok(&[&["plan"], args].concat())
            .lines()
            // Headlines sit at column 2; deeper `# (N unchanged ... hidden)` are not.
            .filter_map(|l| l.strip_prefix("  # "))
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

const POOLS: &str = r#"
[stack]
name = "demo"

[variables.pools]
type = "map"
default = { spot = { max = 10 }, gpu = { max = 2 } }

[locals]
prefix = "airflow"
names  = "${[for k, v in var.pools : \"${local.prefix}-${k}\"]}"

[resources.cairn_data.pool]
for_each = "${var.pools}"
input    = { name = "${local.prefix}-${each.key}", max = "${each.value.max * 2}" }

[resources.cairn_data.user]
for_each = "${toset(keys(var.pools))}"
input    = "${cairn_data.pool[each.key].output.name}"

[resources.cairn_data.summary]
input = { keys = "${keys(cairn_data.pool)}", users = "${cairn_data.user[*].output}" }

[outputs.names]
value = "${local.names}"

[outputs.summary]
value = "${cairn_data.summary.output}"
"#;

#[test]
fn for_each_instances_follow_their_keys() {
    let ws = Workspace::new(POOLS);
    let applied = ws.ok(&["apply", "--auto-approve"]);
    assert!(applied.contains("Resources: 5 added"), "{applied}");
    assert!(
        applied.contains(r#"names = ["airflow-gpu", "airflow-spot"]"#),
        "{applied}"
    );
    assert!(
        applied.contains(r#""keys" = ["gpu", "spot"]"#)
            || applied.contains(r#""keys": ["gpu", "spot"]"#),
        "{applied}"
    );
    let listed = ws.ok(&["state", "list"]);
    for addr in [
        r#"cairn_data.pool["gpu"]"#,
        r#"cairn_data.pool["spot"]"#,
        r#"cairn_data.user["gpu"]"#,
        r#"cairn_data.user["spot"]"#,
        "cairn_data.summary",
    ] {
        assert!(listed.lines().any(|l| l == addr), "{addr} in\n{listed}");
    }
    let shown = ws.ok(&["state", "show", r#"cairn_data.user["gpu"]"#]);
    assert!(shown.contains("airflow-gpu"), "{shown}");
    assert!(ws.ok(&["plan"]).contains("No changes"));

    // A new key plans exactly its instances (and what lists the keys).
    let three = "pools={ spot = { max = 10 }, gpu = { max = 2 }, mem = { max = 4 } }";
    assert_eq!(
        ws.planned(&["--var", three]),
        vec![
            r#"cairn_data.pool["mem"] will be created"#,
            "cairn_data.summary will be updated in place",
            r#"cairn_data.user["mem"] will be created"#,
        ]
    );
    // A removed key destroys exactly its instances.
    assert_eq!(
        ws.planned(&["--var", "pools={ spot = { max = 10 } }"]),
        vec![
            r#"cairn_data.pool["gpu"] will be destroyed (it is no longer in the configuration)"#,
            "cairn_data.summary will be updated in place",
            r#"cairn_data.user["gpu"] will be destroyed (it is no longer in the configuration)"#,
        ]
    );
    // A renamed key is a destroy and a create (a `moved` block would make it a move).
    let renamed = ws.planned(&["--var", "pools={ spot = { max = 10 }, gpu2 = { max = 2 } }"]);
    assert!(renamed.contains(&r#"cairn_data.pool["gpu2"] will be created"#.to_owned()));
    assert!(
        renamed.contains(
            &r#"cairn_data.pool["gpu"] will be destroyed (it is no longer in the configuration)"#
                .to_owned()
        )
    );
    // A changed value updates that instance only.
    assert_eq!(
        ws.planned(&["--var", "pools={ spot = { max = 10 }, gpu = { max = 3 } }"]),
        vec![r#"cairn_data.pool["gpu"] will be updated in place"#]
    );
    // One instance as a target: it and the blocks it needs (all their instances, as
    // dependencies are between blocks), nothing else.
    let both = "pools={ spot = { max = 11 }, gpu = { max = 3 } }";
    assert_eq!(
        ws.planned(&["--target", r#"cairn_data.pool["spot"]"#, "--var", both]),
        vec![r#"cairn_data.pool["spot"] will be updated in place"#]
    );
    assert_eq!(
        ws.planned(&["--target", r#"cairn_data.user["spot"]"#, "--var", both]),
        vec![
            r#"cairn_data.pool["gpu"] will be updated in place"#,
            r#"cairn_data.pool["spot"] will be updated in place"#
        ]
    );
    let removed = ws.ok(&["state", "rm", r#"cairn_data.user["spot"]"#]);
    assert!(!removed.is_empty());
    assert_eq!(
        ws.planned(&[]),
        vec![r#"cairn_data.user["spot"] will be created"#]
    );
    let json = ws.ok(&["plan", "--json"]);
    assert!(
        json.contains(r#""addr":"cairn_data.user[\"spot\"]""#),
        "{json}"
    );
    ws.ok(&["apply", "--auto-approve"]);
    let destroyed = ws.ok(&["destroy", "--auto-approve"]);
    assert!(destroyed.contains("5 destroyed"), "{destroyed}");
}

#[test]
fn locals_are_evaluated_in_the_graph_and_their_cycles_named() {
    let ws = Workspace::new(
        r#"
[stack]
name = "demo"

[variables.env]
default = "dev"

[locals]
tags  = { env = "${var.env}", owner = "${local.owner}" }
owner = "${cairn_data.team.output}-team"
count = "${length(local.tags) * 10 % 7}"

[resources.cairn_data.team]
input = "data"

[resources.cairn_data.app]
input = { tags = "${local.tags}", count = "${local.count}" }
"#,
    );
    let graph = ws.ok(&["graph"]);
    assert!(
        graph.contains(r#""cairn_data.team" -> "local.owner""#),
        "{graph}"
    );
    assert!(
        graph.contains(r#""local.tags" -> "cairn_data.app""#),
        "{graph}"
    );
    let plan = ws.ok(&["plan"]);
    assert!(plan.contains(r#""owner" = "data-team""#), "{plan}");
    assert!(plan.contains(r#""count" = 6"#), "{plan}");

    ws.write(
        r#"
[stack]
name = "demo"

[locals]
a = "${local.b}"
b = "${cairn_data.x.output}"

[resources.cairn_data.x]
input = "${local.a}"
"#,
    );
    let cycle = ws.fails(&["validate"]);
    assert!(
        cycle.contains("dependency cycle: cairn_data.x -> local.a -> local.b -> cairn_data.x"),
        "{cycle}"
    );
    assert!(cycle.contains("stack.toml:6:1"), "{cycle}");

    ws.write(
        r#"
[stack]
name = "demo"

[locals]
a = 1

[resources.cairn_data.x]
input = "${local.b}"
"#,
    );
    let undefined = ws.fails(&["validate"]);
    assert!(undefined.contains("stack.toml:9:12"), "{undefined}");
    assert!(
        undefined.contains("undefined local `local.b`"),
        "{undefined}"
    );
}

#[test]
fn errors_point_at_the_value() {
    let ws = Workspace::new(
        r#"
[stack]
name = "demo"

[variables.zones]
default = ["a", "b"]

[locals]
half = "${10 / (length(var.zones) - 2)}"

[resources.cairn_data.x]
input = "${var.zones[2]}"

[resources.cairn_data.y]
input = "${each.key}"

[resources.cairn_data.z]
for_each = "${cairn_data.x.output}"
input = 1
"#,
    );
    let out = ws.fails(&["validate"]);
    assert!(out.contains("stack.toml:15:12"), "{out}");
    assert!(
        out.contains("`each` is only defined in a resource with `for_each`"),
        "{out}"
    );
    let fixed = std::fs::read_to_string(ws.stack_dir().join("stack.toml"))
        .unwrap_or_default()
        .replace("${each.key}", "y");
    ws.write(&fixed);
    let out = ws.fails(&["validate"]);
    assert!(
        out.contains("stack.toml:9:8: local `half`: division by zero in `/`"),
        "{out}"
    );
    assert!(
        out.contains(
            "stack.toml:12:9: cairn_data.x: index 2 is out of range: `var.zones` has 2 items"
        ),
        "{out}"
    );
    assert!(
        out.contains("stack.toml:18:12: cairn_data.z: the `for_each` of `cairn_data.z` depends on `cairn_data.x.output`"),
        "{out}"
    );
    let plan = ws.fails(&["plan"]);
    assert!(plan.contains("index 2 is out of range"), "{plan}");

    ws.write(
        r#"
[stack]
name = "demo"

[resources.cairn_data.x]
for_each = "${[\"a\", \"a\"]}"
input = 1
"#,
    );
    let out = ws.fails(&["plan"]);
    assert!(out.contains("stack.toml:6:12"), "{out}");
    assert!(out.contains("has the key `a` twice; use toset()"), "{out}");
}

#[test]
fn moved_blocks_and_state_mv_change_addresses_without_replacing() {
    let ws = Workspace::new(
        r#"
[stack]
name = "demo"

[resources.cairn_data.old]
input     = "x"
lifecycle = { prevent_destroy = true }

[resources.cairn_data.zone]
input = "a"

[resources.cairn_data.user]
input = "${cairn_data.old.output}-${cairn_data.zone.output}"
"#,
    );
    ws.ok(&["apply", "--auto-approve"]);
    let ids = |ws: &Workspace| -> Vec<String> {
        let mut ids: Vec<String> = ws
            .ok(&["show"])
            .lines()
            .filter_map(|l| {
                l.trim()
                    .strip_prefix("id")
                    .map(str::trim)
                    .map(str::to_owned)
            })
            .collect();
        ids.sort();
        ids
    };
    let before = ids(&ws);
    let renamed = r#"
[stack]
name = "demo"

[resources.cairn_data.new]
input     = "x"
lifecycle = { prevent_destroy = true }

[resources.cairn_data.zone]
for_each = "${toset([\"a\", \"b\"])}"
input    = "${each.key}"

[resources.cairn_data.user]
input = "${cairn_data.new.output}-${cairn_data.zone[\"a\"].output}"

[[moved]]
from = "cairn_data.old"
to   = "cairn_data.new"

[[moved]]
from = "cairn_data.zone"
to   = 'cairn_data.zone["a"]'
"#;
    ws.write(renamed);
    let plan = ws.ok(&["plan"]);
    assert!(
        plan.contains("# cairn_data.old has moved to cairn_data.new"),
        "{plan}"
    );
    assert!(
        plan.contains(r#"# cairn_data.zone has moved to cairn_data.zone["a"]"#),
        "{plan}"
    );
    assert!(
        plan.contains("Plan: 1 to add, 0 to change, 0 to destroy, 2 moved."),
        "{plan}"
    );
    assert!(!plan.contains("destroyed"), "{plan}");
    ws.ok(&["apply", "--auto-approve"]);
    let after = ids(&ws);
    for id in &before {
        assert!(after.contains(id), "{id} kept: {after:?}");
    }
    assert!(ws.ok(&["plan"]).contains("No changes"));
    // The moved object is protected by its new block's prevent_destroy.
    ws.write(&renamed.replace("input     = \"x\"", "input = \"x\"\ntriggers_replace = 1"));
    let refused = ws.fails(&["plan"]);
    assert!(refused.contains("prevent_destroy"), "{refused}");
    ws.write(renamed);

    // `state mv` of a whole for_each resource moves every instance, keys kept.
    let moved = ws.ok(&["state", "mv", "cairn_data.zone", "cairn_data.zones"]);
    assert!(
        moved.contains(r#"Moved cairn_data.zone["b"] to cairn_data.zones["b"]."#),
        "{moved}"
    );
    let listed = ws.ok(&["state", "list"]);
    assert!(listed.contains(r#"cairn_data.zones["a"]"#), "{listed}");
    assert!(!listed.contains(r#"cairn_data.zone["a"]"#), "{listed}");
    let taken = ws.fails(&["state", "mv", "cairn_data.new", r#"cairn_data.zones["a"]"#]);
    assert!(taken.contains("is in the state already"), "{taken}");
    let missing = ws.fails(&["state", "mv", "cairn_data.nope", "cairn_data.x"]);
    assert!(missing.contains("is not in the state"), "{missing}");
    ws.ok(&[
        "state",
        "mv",
        r#"cairn_data.zones["a"]"#,
        r#"cairn_data.zone["a"]"#,
    ]);
    ws.ok(&[
        "state",
        "mv",
        r#"cairn_data.zones["b"]"#,
        r#"cairn_data.zone["b"]"#,
    ]);
    assert!(ws.ok(&["plan"]).contains("No changes"));

    ws.write(
        r#"
[stack]
name = "demo"

[resources.cairn_data.x]
input = 1

[[moved]]
from = "cairn_data.y"
to   = 'cairn_data.x["k"]'
"#,
    );
    let bad = ws.fails(&["validate"]);
    assert!(bad.contains("stack.toml:10:8"), "{bad}");
    assert!(
        bad.contains("but `cairn_data.x` has no `for_each`"),
        "{bad}"
    );
}

#[test]
fn import_blocks_and_the_import_command_adopt_existing_objects() {
    let ws = Workspace::new(
        r#"
[stack]
name = "demo"

[variables.existing]
default = "existing-1"

[resources.cairn_data.a]
input = "x"

[resources.cairn_data.b]
for_each = "${toset([\"k\"])}"
input    = "${cairn_data.a.output}"

[[import]]
to = "cairn_data.a"
id = "${var.existing}"
"#,
    );
    let plan = ws.ok(&["plan"]);
    assert!(
        plan.contains("# cairn_data.a will be updated in place (imported from existing-1)"),
        "{plan}"
    );
    assert!(
        plan.contains("Plan: 1 to add, 1 to change, 0 to destroy, 1 to import."),
        "{plan}"
    );
    let applied = ws.ok(&["apply", "--auto-approve"]);
    assert!(
        applied.contains("1 added, 1 changed, 0 destroyed, 1 imported."),
        "{applied}"
    );
    assert!(
        ws.ok(&["state", "show", "cairn_data.a"])
            .contains("existing-1")
    );
    // Once recorded, the block changes nothing.
    assert!(ws.ok(&["plan"]).contains("No changes"));

    ws.ok(&["state", "rm", r#"cairn_data.b["k"]"#]);
    let imported = ws.ok(&["import", r#"cairn_data.b["k"]"#, "other-2"]);
    assert!(
        imported.contains(r#"Imported other-2 as cairn_data.b["k"]"#),
        "{imported}"
    );
    let shown = ws.ok(&["state", "show", r#"cairn_data.b["k"]"#]);
    assert!(shown.contains("other-2"), "{shown}");
    let plan = ws.ok(&["plan"]);
    assert!(
        plan.contains(r#"# cairn_data.b["k"] will be updated in place"#),
        "{plan}"
    );
    let again = ws.fails(&["import", r#"cairn_data.b["k"]"#, "other-3"]);
    assert!(again.contains("is in the state already"), "{again}");
    let unknown = ws.fails(&["import", "cairn_data.nope", "x"]);
    assert!(
        unknown.contains("`cairn_data.nope` is not in the stack"),
        "{unknown}"
    );
    let whole = ws.fails(&["import", "cairn_data.b", "x"]);
    assert!(whole.contains("has for_each: name the instance"), "{whole}");

    ws.write(
        r#"
[stack]
name = "demo"

[resources.cairn_data.a]
input = "x"

[[import]]
to = 'cairn_data.a["k"]'
id = "x"
"#,
    );
    let bad = ws.fails(&["validate"]);
    assert!(bad.contains("stack.toml:9:6"), "{bad}");
    assert!(bad.contains("`cairn_data.a` has no `for_each`"), "{bad}");
}
