//! Saved plans (`plan --out FILE`, `apply FILE`) and environments without a file of
//! their own (`--env-base`), on `cairn_data` stacks with local state (issue 10).
//!
//! Every command runs with stdin not a terminal and without `--auto-approve`, unless it
//! says otherwise: `apply FILE` must never prompt.

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

#[path = "support/workspace.rs"]
mod workspace;

use workspace::{Workspace, arg as path, stderr, stdout, text};

const STACK: &str = r#"
[stack]
name = "demo"

[variables.env]
type = "string"

[variables.greeting]
type = "string"

[variables.password]
type = "string"
sensitive = true

[resources.cairn_data.network]
input = "${var.greeting}"

[resources.cairn_data.named]
input = "demo-${var.env}"

[resources.cairn_data.secret]
input = "${var.password}"

[outputs.greeting]
value = "${cairn_data.network.output}"

[outputs.name]
value = "${cairn_data.named.output}"
"#;

const DEV: &str = r#"
env = "dev"
greeting = "hello from dev"
"#;

/// The secret every test passes; no plan file may contain it.
const PASSWORD: &str = "correct-horse-battery-staple-42";

/// A checkout holding the stack and its `env/dev.toml`.
fn new_checkout() -> Workspace {
    let checkout = Workspace::new(STACK);
    checkout.write_file("env/dev.toml", DEV);
    checkout
}

/// What these tests need of a checkout beyond the shared [`Workspace`]; commands run in
/// the checkout's root, as a pipeline would run them.
impl Workspace {
    fn plan_file(&self) -> PathBuf {
        self.root().join("plan.json")
    }

    fn state_file(&self, env: &str) -> PathBuf {
        self.state_dir().join(format!("demo-{env}.json"))
    }

    fn run_in_root(&self, args: &[&str]) -> Output {
        self.run_in(&self.root(), args)
    }

    fn expect_in_root(&self, code: i32, args: &[&str]) -> Output {
        let out = self.run_in_root(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "cairn {}:\n{}",
            args.join(" "),
            text(&out)
        );
        out
    }

    /// `cairn plan --out plan.json --env dev` with `greeting` and the password.
    fn plan(&self, greeting: &str) -> Output {
        let dir = self.stack_dir();
        let plan = self.plan_file();
        self.expect_in_root(
            0,
            &[
                "plan",
                path(&dir),
                "--env",
                "dev",
                "--var",
                &format!("greeting={greeting}"),
                "--var",
                &format!("password={PASSWORD}"),
                "--out",
                path(&plan),
            ],
        )
    }

    /// `cairn apply plan.json` with the password, as a pipeline's apply job runs it.
    fn apply_file(&self) -> Output {
        let plan = self.plan_file();
        self.run_in_root(&[
            "apply",
            path(&plan),
            "--var",
            &format!("password={PASSWORD}"),
        ])
    }

    /// A plain `cairn apply --auto-approve --env dev`.
    fn apply(&self, greeting: &str) {
        let dir = self.stack_dir();
        self.expect_in_root(
            0,
            &[
                "apply",
                path(&dir),
                "--env",
                "dev",
                "--auto-approve",
                "--var",
                &format!("greeting={greeting}"),
                "--var",
                &format!("password={PASSWORD}"),
            ],
        );
    }

    /// The applied output `name` of `env`, from the state alone.
    fn output(&self, env: &str, name: &str) -> String {
        let dir = self.stack_dir();
        let out = self.expect_in_root(0, &["output", path(&dir), name, "--env", env]);
        stdout(&out).trim().trim_matches('"').to_owned()
    }

    fn state(&self, env: &str) -> serde_json::Value {
        let bytes = std::fs::read(self.state_file(env)).expect("state file");
        serde_json::from_slice(&bytes).expect("state is JSON")
    }

    fn saved_plan(&self) -> serde_json::Value {
        let bytes = std::fs::read(self.plan_file()).expect("plan file");
        serde_json::from_slice(&bytes).expect("plan file is JSON")
    }
}

/// Asserts `out` is a refusal that mentions every one of `words` and changed nothing.
fn assert_refused(out: &Output, words: &[&str]) {
    assert_eq!(out.status.code(), Some(1), "refused:\n{}", text(out));
    let err = stderr(out);
    assert!(err.contains("no longer applies"), "{}", text(out));
    for word in words {
        assert!(err.contains(word), "`{word}` in:\n{}", text(out));
    }
}

#[test]
fn a_saved_plan_applies_without_a_prompt_and_only_once() {
    let checkout = new_checkout();
    checkout.apply("hello");
    let serial_before = checkout.state("dev")["serial"].clone();
    checkout.plan("bonjour");
    assert_eq!(
        checkout.output("dev", "greeting"),
        "hello",
        "plan changed nothing"
    );
    assert_eq!(checkout.saved_plan()["state"]["serial"], serial_before);

    let out = checkout.apply_file();
    assert_eq!(out.status.code(), Some(0), "apply FILE:\n{}", text(&out));
    assert!(!stdout(&out).contains("Do you want"), "{}", text(&out));
    assert_eq!(checkout.output("dev", "greeting"), "bonjour");

    let again = checkout.apply_file();
    assert_refused(&again, &["state moved on", "serial"]);
    assert_eq!(checkout.output("dev", "greeting"), "bonjour");
}

#[test]
fn a_plan_made_on_an_empty_state_creates_it_once() {
    let checkout = new_checkout();
    checkout.plan("hello");
    assert!(!checkout.state_file("dev").exists(), "plan wrote no state");
    let reserved = checkout.saved_plan()["state"]["lineage"].clone();
    assert!(reserved.is_string(), "the plan reserves a lineage");

    let out = checkout.apply_file();
    assert_eq!(out.status.code(), Some(0), "apply FILE:\n{}", text(&out));
    assert_eq!(checkout.state("dev")["lineage"], reserved);
    assert_eq!(checkout.output("dev", "greeting"), "hello");

    let again = checkout.apply_file();
    assert_refused(&again, &["applied already"]);
    let resources = checkout.state("dev")["resources"].as_array().map(Vec::len);
    assert_eq!(resources, Some(3), "nothing created twice");
}

#[test]
fn a_saved_plan_is_refused_once_another_apply_changed_the_state() {
    let checkout = new_checkout();
    checkout.apply("hello");
    checkout.plan("bonjour");
    checkout.apply("hola");
    assert_refused(&checkout.apply_file(), &["serial"]);
    assert_eq!(checkout.output("dev", "greeting"), "hola");

    // A first plan too: another run created the state it would have created.
    let empty = new_checkout();
    empty.plan("bonjour");
    empty.apply("hola");
    assert_refused(&empty.apply_file(), &["a state was written since"]);
    assert_eq!(empty.output("dev", "greeting"), "hola");
}

#[test]
fn a_saved_plan_is_refused_after_the_stack_or_a_variable_changed() {
    let checkout = new_checkout();
    checkout.apply("hello");
    checkout.plan("bonjour");

    let plan = checkout.plan_file();
    let changed_var = checkout.run_in_root(&[
        "apply",
        path(&plan),
        "--var",
        &format!("password={PASSWORD}"),
        "--var",
        "greeting=hola",
    ]);
    assert_refused(&changed_var, &["stack changed", "variable `greeting`"]);

    let env_file = checkout.stack_dir().join("env").join("dev.toml");
    std::fs::write(&env_file, format!("{DEV}# reviewed\n")).expect("edit");
    assert_refused(&checkout.apply_file(), &["file `env/dev.toml` changed"]);
    std::fs::write(&env_file, DEV).expect("restore");

    let stack_file = checkout.stack_dir().join("stack.toml");
    std::fs::write(&stack_file, format!("{STACK}\n# edited\n")).expect("edit");
    assert_refused(&checkout.apply_file(), &["file `stack.toml` changed"]);
    std::fs::write(&stack_file, STACK).expect("restore");

    assert_eq!(
        checkout.output("dev", "greeting"),
        "hello",
        "nothing applied"
    );
    let out = checkout.apply_file();
    assert_eq!(
        out.status.code(),
        Some(0),
        "unchanged inputs:\n{}",
        text(&out)
    );
}

#[test]
fn a_plan_file_holds_no_secret_and_apply_needs_it_again() {
    let checkout = new_checkout();
    checkout.apply("hello");
    checkout.plan("bonjour");
    let bytes = std::fs::read(checkout.plan_file()).expect("plan file");
    let file = String::from_utf8_lossy(&bytes);
    assert!(
        !file.contains(PASSWORD),
        "the secret is in the plan file:\n{file}"
    );
    assert!(file.contains("bonjour"), "non-sensitive values are kept");

    let plan = checkout.plan_file();
    let without = checkout.run_in_root(&["apply", path(&plan)]);
    assert_eq!(without.status.code(), Some(1), "{}", text(&without));
    assert!(stderr(&without).contains("password"), "{}", text(&without));

    let other = checkout.run_in_root(&["apply", path(&plan), "--var", "password=another-one"]);
    assert_refused(&other, &["sensitive variable `password`"]);
    assert!(!stderr(&other).contains("another-one"), "{}", text(&other));

    let out = checkout.apply_file();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let all = format!("{}{}", text(&without), text(&out));
    assert!(!all.contains(PASSWORD), "the secret was printed:\n{all}");
}

#[test]
fn environments_from_one_base_have_their_own_names_and_state() {
    let checkout = new_checkout();
    let dir = checkout.stack_dir();
    for env in ["pr-1", "pr-2"] {
        checkout.expect_in_root(
            0,
            &[
                "apply",
                path(&dir),
                "--env",
                env,
                "--env-base",
                "dev",
                "--auto-approve",
                "--var",
                &format!("password={PASSWORD}"),
            ],
        );
    }
    assert_eq!(checkout.output("pr-1", "name"), "demo-pr-1");
    assert_eq!(checkout.output("pr-2", "name"), "demo-pr-2");
    assert_eq!(checkout.output("pr-1", "greeting"), "hello from dev");
    assert!(
        !checkout.state_file("dev").exists(),
        "the base's state is untouched"
    );

    checkout.expect_in_root(
        0,
        &[
            "destroy",
            path(&dir),
            "--env",
            "pr-1",
            "--env-base",
            "dev",
            "--auto-approve",
            "--var",
            &format!("password={PASSWORD}"),
        ],
    );
    let left = |env: &str| checkout.state(env)["resources"].as_array().map(Vec::len);
    assert_eq!(left("pr-1"), Some(0));
    assert_eq!(left("pr-2"), Some(3), "the other environment is untouched");
    assert_eq!(checkout.output("pr-2", "name"), "demo-pr-2");
}

#[test]
fn a_saved_plan_keeps_its_environment_base() {
    let checkout = new_checkout();
    let dir = checkout.stack_dir();
    let plan = checkout.plan_file();
    checkout.expect_in_root(
        0,
        &[
            "plan",
            path(&dir),
            "--env",
            "pr-7",
            "--env-base",
            "dev",
            "--var",
            &format!("password={PASSWORD}"),
            "--out",
            path(&plan),
        ],
    );
    let wrong = checkout.run_in_root(&["apply", path(&plan), "--env", "pr-8"]);
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong));
    assert!(stderr(&wrong).contains("--env pr-8"), "{}", text(&wrong));

    let out = checkout.apply_file();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(checkout.output("pr-7", "name"), "demo-pr-7");
}
