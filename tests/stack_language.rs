//! The stack language end to end, on `cairn_data` stacks (no cloud needed): `[locals]`,
//! `for_each` instances (adding, removing and renaming keys, references across instances,
//! `--target` and `state` commands on one instance), `enabled` (a resource, or all of a
//! `for_each` resource's instances, that exists only when a variable says so), and the
//! errors `validate` and `plan` give, each with its file:line:column.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]

#[path = "support/workspace.rs"]
mod workspace;

use workspace::Workspace;

/// What the language tests need of a checkout beyond the shared [`Workspace`].
impl Workspace {
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

const OPTIONAL_NETWORK: &str = r#"
[stack]
name = "demo"

[variables.existing_network]
type    = "string"
default = ""

[variables.zones]
default = { a = 1, b = 2 }

[locals]
create_network = "${var.existing_network == \"\"}"

[resources.cairn_data.network]
enabled = "${local.create_network}"
input   = "net"

[resources.cairn_data.subnet]
enabled  = "${local.create_network}"
for_each = "${var.zones}"
input    = "${cairn_data.network.output}-${each.key}"

[resources.cairn_data.cluster]
input      = { network = "${local.create_network ? cairn_data.network.output : var.existing_network}", subnets = "${local.create_network ? cairn_data.subnet[*].output : [\"s-1\"]}", either = "${coalesce(cairn_data.network.output, \"none\")}", count = "${length(cairn_data.subnet[*].output)}", keys = "${keys(cairn_data.subnet)}" }
depends_on = ["cairn_data.subnet"]

[outputs.network]
value = "${cairn_data.network.output}"
"#;

#[test]
fn enabled_makes_a_resource_and_its_instances_exist_conditionally() {
    let ws = Workspace::new(OPTIONAL_NETWORK);
    let applied = ws.ok(&["apply", "--auto-approve"]);
    assert!(applied.contains("Resources: 4 added"), "{applied}");
    let shown = ws.ok(&["state", "show", "cairn_data.cluster"]);
    for value in [
        r#"["net-a", "net-b"]"#,
        r#""count": 2"#,
        r#""keys": ["a", "b"]"#,
    ] {
        assert!(shown.contains(value), "{value} in {shown}");
    }

    // Disabled (through a local made of a variable): exactly the resource and every
    // instance go; what referred to them sees `null` (the conditional's other branch,
    // coalesce's fallback; a splat over no instance is `[]`, their map `{}`); depends_on
    // on a disabled resource orders nothing.
    let off = ["--var", "existing_network=net-0"];
    assert_eq!(
        ws.planned(&off),
        vec![
            "cairn_data.cluster will be updated in place",
            "cairn_data.network will be destroyed (it is no longer in the configuration)",
            r#"cairn_data.subnet["a"] will be destroyed (it is no longer in the configuration)"#,
            r#"cairn_data.subnet["b"] will be destroyed (it is no longer in the configuration)"#,
        ]
    );
    // A target may name a disabled resource: what the state holds of it.
    assert_eq!(
        ws.planned(&[&["--target", r#"cairn_data.subnet["b"]"#][..], &off].concat()),
        vec![r#"cairn_data.subnet["b"] will be destroyed (it is no longer in the configuration)"#]
    );
    let graph = ws.ok(&[&["graph"][..], &off].concat());
    assert!(!graph.contains("cairn_data.subnet"), "{graph}");
    assert!(!graph.contains("cairn_data.network"), "{graph}");
    let json = ws.ok(&[&["plan", "--json"][..], &off].concat());
    assert!(
        json.contains(r#""addr":"cairn_data.subnet[\"a\"]""#),
        "{json}"
    );
    let applied = ws.ok(&[&["apply", "--auto-approve"][..], &off].concat());
    assert!(applied.contains("1 changed, 3 destroyed"), "{applied}");
    let listed = ws.ok(&["state", "list"]);
    assert_eq!(listed.trim(), "cairn_data.cluster", "{listed}");
    let shown = ws.ok(&["state", "show", "cairn_data.cluster"]);
    for value in [
        r#""net-0""#,
        r#"["s-1"]"#,
        r#""none""#,
        r#""count": 0"#,
        r#""keys": []"#,
    ] {
        assert!(shown.contains(value), "{value} in {shown}");
    }
    assert!(
        ws.ok(&[&["plan"][..], &off].concat())
            .contains("No changes"),
        "disabled resources converge"
    );

    // Enabled again: exactly them again.
    assert_eq!(
        ws.planned(&[]),
        vec![
            "cairn_data.cluster will be updated in place",
            "cairn_data.network will be created",
            r#"cairn_data.subnet["a"] will be created"#,
            r#"cairn_data.subnet["b"] will be created"#,
        ]
    );
}

#[test]
fn enabled_must_be_known_when_loading() {
    let ws = Workspace::new(
        r#"
[stack]
name = "demo"

[locals]
flag = true
late = "${cairn_data.a.output}"
later = "${!local.late}"

[resources.cairn_data.a]
input = 1

[resources.cairn_data.b]
enabled = "${cairn_data.a.output == 1}"

[resources.cairn_data.c]
enabled = "${local.flag && local.later}"

[resources.cairn_data.d]
enabled = "yes"

[resources.cairn_data.e]
enabled = "${local.flag && local.nope}"
"#,
    );
    let out = ws.fails(&["validate"]);
    for expected in [
        "stack.toml:14:14: cairn_data.b: `enabled` may reference variables (and locals made of them) only, not `cairn_data.a`",
        "stack.toml:17:28: cairn_data.c: `enabled` may reference variables (and locals made of them) only, not `local.later`, which uses `cairn_data.a`",
        "stack.toml:20:11: cairn_data.d: `enabled` must be a bool, got string",
        "stack.toml:23:28: cairn_data.e: undefined local `local.nope`",
    ] {
        assert!(out.contains(expected), "{expected} in\n{out}");
    }
    let plan = ws.fails(&["plan"]);
    assert!(plan.contains("stack.toml:14:14"), "{plan}");
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
    ws.write(renamed.replace("input     = \"x\"", "input = \"x\"\ntriggers_replace = 1"));
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
