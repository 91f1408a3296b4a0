//! A temporary checkout holding one stack, and the real `cairn` binary run in it.
//!
//! The checkout is `<scratch>/repo` (it has a `.git`, so the state lands in
//! `<scratch>/repo/state/` as it would in a real repository) with the stack in
//! `<scratch>/repo/stack/`; the scratch directory around it lets a test see files written
//! outside the checkout. Every command runs with a clean environment: no colour, no log
//! filter, no test hooks, no state key, no `CAIRN_VAR_*` from the caller, stdin not a
//! terminal, and `RUST_BACKTRACE=1` so a panic would show as a backtrace a test can see.

#![allow(dead_code, reason = "each test crate uses a different subset")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

/// One temporary checkout; removed when dropped.
pub struct Workspace {
    scratch: TempDir,
}

impl Workspace {
    /// A checkout whose stack is the single file `stack.toml` with this text.
    pub fn new(stack_toml: impl AsRef<[u8]>) -> Workspace {
        let workspace = Workspace {
            scratch: tempfile::tempdir().expect("temp dir"),
        };
        std::fs::create_dir_all(workspace.root().join(".git")).expect("mkdir .git");
        std::fs::create_dir_all(workspace.stack_dir()).expect("mkdir stack");
        workspace.write(stack_toml);
        workspace
    }

    /// The scratch directory the checkout lives in.
    pub fn scratch(&self) -> &Path {
        self.scratch.path()
    }

    /// The checkout.
    pub fn root(&self) -> PathBuf {
        self.scratch().join("repo")
    }

    /// The stack folder.
    pub fn stack_dir(&self) -> PathBuf {
        self.root().join("stack")
    }

    /// Where local state lands.
    pub fn state_dir(&self) -> PathBuf {
        self.root().join("state")
    }

    /// Replaces the stack's `stack.toml`.
    pub fn write(&self, stack_toml: impl AsRef<[u8]>) {
        self.write_file("stack.toml", stack_toml);
    }

    /// Writes a file of the stack (`env/dev.toml`, `k8s/x.yaml`...), creating its folder.
    pub fn write_file(&self, relative: &str, text: impl AsRef<[u8]>) {
        let path = self.stack_dir().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, text).expect("write stack file");
    }

    /// `cairn ARGS` in `dir`, with the clean environment, not yet run.
    pub fn command_in(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn"));
        cmd.current_dir(dir)
            .args(args)
            .env("NO_COLOR", "1")
            .env("RUST_BACKTRACE", "1")
            .env_remove("CAIRN_LOG")
            .env_remove("CAIRN_TEST_FAIL_ON")
            .env_remove("CAIRN_TEST_DELAY_MS")
            .env_remove("CAIRN_STATE_KEY")
            .stdin(Stdio::null());
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("CAIRN_VAR_") {
                cmd.env_remove(name);
            }
        }
        cmd
    }

    /// `cairn ARGS` in the stack folder, not yet run.
    pub fn cmd(&self, args: &[&str]) -> Command {
        self.command_in(&self.stack_dir(), args)
    }

    /// Runs `cairn ARGS` in the stack folder.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("cairn runs")
    }

    /// Runs `cairn ARGS` in `dir`.
    pub fn run_in(&self, dir: &Path, args: &[&str]) -> Output {
        self.command_in(dir, args).output().expect("cairn runs")
    }

    /// Runs `cairn ARGS` in the stack folder, asserting the exit code.
    pub fn expect(&self, code: i32, args: &[&str]) -> Output {
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

    /// Runs `cairn ARGS`, which must succeed, and returns stdout followed by stderr.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.expect(0, args);
        stdout(&out) + &stderr(&out)
    }

    /// Runs `cairn ARGS`, which must fail, and returns both streams.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_ne!(
            out.status.code(),
            Some(0),
            "cairn {} should fail:\n{}",
            args.join(" "),
            text(&out)
        );
        text(&out)
    }
}

/// What a run printed on stdout.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What a run printed on stderr.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Both streams, for assertions and failure messages.
pub fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        stdout(out),
        stderr(out)
    )
}

/// A path as a command-line argument (temporary paths are UTF-8).
pub fn arg(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}
