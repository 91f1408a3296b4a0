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

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

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

/// A checkout (a directory with `.git`) holding the stack in `stack/`, with `env/dev.toml`.
struct Checkout {
    root: TempDir,
}

impl Checkout {
    fn new() -> Checkout {
        let root = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(root.path().join(".git")).expect("mkdir .git");
        std::fs::create_dir_all(root.path().join("stack").join("env")).expect("mkdir stack");
        std::fs::write(root.path().join("stack").join("stack.toml"), STACK).expect("stack");
        std::fs::write(root.path().join("stack").join("env").join("dev.toml"), DEV)
            .expect("env file");
        Checkout { root }
    }

    fn stack_dir(&self) -> PathBuf {
        self.root.path().join("stack")
    }

    fn plan_file(&self) -> PathBuf {
        self.root.path().join("plan.json")
    }

    fn state_file(&self, env: &str) -> PathBuf {
        self.root
            .path()
            .join("state")
            .join(format!("demo-{env}.json"))
    }

    /// Runs cairn in the checkout's root (as a pipeline would), stdin not a terminal.
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_cairn"))
            .current_dir(self.root.path())
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("CAIRN_LOG")
            .env_remove("CAIRN_TEST_FAIL_ON")
            .env_remove("CAIRN_TEST_DELAY_MS")
            .env_remove("CAIRN_STATE_KEY")
            .env_remove("CAIRN_VAR_password")
            .stdin(Stdio::null())
            .output()
            .expect("cairn runs")
    }

    fn expect(&self, code: i32, args: &[&str]) -> Output {
        let out = self.run(args);
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
        self.expect(
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
        self.run(&[
            "apply",
            path(&plan),
            "--var",
            &format!("password={PASSWORD}"),
        ])
    }

    /// A plain `cairn apply --auto-approve --env dev`.
    fn apply(&self, greeting: &str) {
        let dir = self.stack_dir();
        self.expect(
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
        let out = self.expect(0, &["output", path(&dir), name, "--env", env]);
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

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
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
    let checkout = Checkout::new();
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
    let checkout = Checkout::new();
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
    let checkout = Checkout::new();
    checkout.apply("hello");
    checkout.plan("bonjour");
    checkout.apply("hola");
    assert_refused(&checkout.apply_file(), &["serial"]);
    assert_eq!(checkout.output("dev", "greeting"), "hola");

    // A first plan too: another run created the state it would have created.
    let empty = Checkout::new();
    empty.plan("bonjour");
    empty.apply("hola");
    assert_refused(&empty.apply_file(), &["a state was written since"]);
    assert_eq!(empty.output("dev", "greeting"), "hola");
}

#[test]
fn a_saved_plan_is_refused_after_the_stack_or_a_variable_changed() {
    let checkout = Checkout::new();
    checkout.apply("hello");
    checkout.plan("bonjour");

    let plan = checkout.plan_file();
    let changed_var = checkout.run(&[
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
    let checkout = Checkout::new();
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
    let without = checkout.run(&["apply", path(&plan)]);
    assert_eq!(without.status.code(), Some(1), "{}", text(&without));
    assert!(stderr(&without).contains("password"), "{}", text(&without));

    let other = checkout.run(&["apply", path(&plan), "--var", "password=another-one"]);
    assert_refused(&other, &["sensitive variable `password`"]);
    assert!(!stderr(&other).contains("another-one"), "{}", text(&other));

    let out = checkout.apply_file();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let all = format!("{}{}", text(&without), text(&out));
    assert!(!all.contains(PASSWORD), "the secret was printed:\n{all}");
}

#[test]
fn environments_from_one_base_have_their_own_names_and_state() {
    let checkout = Checkout::new();
    let dir = checkout.stack_dir();
    for env in ["pr-1", "pr-2"] {
        checkout.expect(
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

    checkout.expect(
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
    let checkout = Checkout::new();
    let dir = checkout.stack_dir();
    let plan = checkout.plan_file();
    checkout.expect(
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
    let wrong = checkout.run(&["apply", path(&plan), "--env", "pr-8"]);
    assert_eq!(wrong.status.code(), Some(1), "{}", text(&wrong));
    assert!(stderr(&wrong).contains("--env pr-8"), "{}", text(&wrong));

    let out = checkout.apply_file();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(checkout.output("pr-7", "name"), "demo-pr-7");
}
