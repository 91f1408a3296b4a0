//! Runs the real `cairn` binary against one moto server, with the state in a temporary
//! directory, and keeps a transcript of everything it printed (the secrets check reads it).

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

use super::moto::Moto;

/// One stack, one environment, one state, one moto server.
pub struct Cairn<'a> {
    moto: &'a Moto,
    stack_dir: PathBuf,
    env: String,
    state_dir: TempDir,
    /// `--var` pairs passed to every command from now on.
    vars: RefCell<Vec<(String, String)>>,
    /// stdout and stderr of every run so far.
    transcript: RefCell<String>,
}

/// What one run printed and how it exited.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Both streams, for failure messages.
    pub fn text(&self) -> String {
        format!(
            "exit code {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl<'a> Cairn<'a> {
    pub fn new(moto: &'a Moto, stack_dir: &Path, env: &str) -> Cairn<'a> {
        Cairn {
            moto,
            stack_dir: stack_dir.to_path_buf(),
            env: env.to_owned(),
            state_dir: tempfile::tempdir().expect("temp dir for the state"),
            vars: RefCell::new(Vec::new()),
            transcript: RefCell::new(String::new()),
        }
    }

    /// Sets (or changes) a `--var` for every later command.
    pub fn set_var(&self, key: &str, value: &str) {
        let mut vars = self.vars.borrow_mut();
        vars.retain(|(k, _)| k != key);
        vars.push((key.to_owned(), value.to_owned()));
    }

    /// Asserts that `value` (the value of secret `name`, read back from AWS) is in no file
    /// of the state directory (state, journal, backup, lock, key) and in nothing any run
    /// printed so far, logs included.
    pub fn assert_never_written(&self, name: &str, value: &str) {
        let files = files_under(self.state_dir.path());
        assert!(
            files.iter().any(|f| f.ends_with("state.json")),
            "the state file is among the files searched: {files:?}"
        );
        for file in &files {
            let bytes = std::fs::read(file).expect("read a file of the state directory");
            assert!(
                !bytes
                    .windows(value.len())
                    .any(|window| window == value.as_bytes()),
                "the value of secret {name} is in {}",
                file.display()
            );
        }
        assert!(
            !self.transcript.borrow().contains(value),
            "the value of secret {name} is in cairn's output or logs"
        );
    }

    /// `cairn <command> <stack> --env <env> --state <tmp> --var ... <args>`.
    pub fn run(&self, command: &[&str], args: &[&str]) -> Run {
        self.run_with_env(command, args, &[])
    }

    /// [`Cairn::run`] with extra environment variables (e.g. `CAIRN_LOG`).
    pub fn run_with_env(&self, command: &[&str], args: &[&str], extra: &[(&str, &str)]) -> Run {
        let Output {
            status,
            stdout,
            stderr,
        } = self
            .command(command, args, extra)
            .output()
            .expect("the cairn binary runs");
        let run = Run {
            code: status.code(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        };
        let mut transcript = self.transcript.borrow_mut();
        transcript.push_str(&run.stdout);
        transcript.push_str(&run.stderr);
        run
    }

    /// The command [`Cairn::run_with_env`] runs, for a test that spawns it itself (and,
    /// say, kills it); what such a run prints is not in the transcript.
    pub fn command(&self, command: &[&str], args: &[&str], extra: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn"));
        cmd.args(command)
            .arg(&self.stack_dir)
            .args(["--env", &self.env])
            .arg("--state")
            .arg(self.state_dir.path().join("state.json"));
        for (key, value) in self.vars.borrow().iter() {
            cmd.arg("--var").arg(format!("{key}={value}"));
        }
        cmd.args(args)
            .env("NO_COLOR", "1")
            .env_remove("CAIRN_LOG")
            .env_remove("CAIRN_STATE_KEY")
            .env_remove("CAIRN_TEST_FAIL_ON")
            .env_remove("CAIRN_TEST_DELAY_MS")
            .stdin(std::process::Stdio::null());
        for name in Moto::CHILD_ENV_REMOVED {
            cmd.env_remove(name);
        }
        // Stack variables from the developer's shell must not change what is tested.
        for (name, _) in std::env::vars() {
            if name.starts_with("CAIRN_VAR_") {
                cmd.env_remove(name);
            }
        }
        cmd.envs(self.moto.child_env());
        cmd.envs(extra.iter().copied());
        cmd
    }

    /// Runs a command that must exit with `code`; returns what it printed.
    pub fn expect(&self, code: i32, command: &[&str], args: &[&str]) -> Run {
        let run = self.run(command, args);
        assert_eq!(
            run.code,
            Some(code),
            "cairn {} {}: expected exit code {code}\n{}",
            command.join(" "),
            args.join(" "),
            run.text()
        );
        run
    }

    /// `cairn apply --auto-approve <args>`, which must succeed.
    pub fn apply(&self, args: &[&str]) -> Run {
        self.expect(0, &["apply"], &with(&["--auto-approve"], args))
    }

    /// `cairn plan --detailed-exitcode <args>`: exit 0 (no changes) or 2 (changes).
    pub fn plan(&self, expected_code: i32, args: &[&str]) -> Run {
        self.expect(
            expected_code,
            &["plan"],
            &with(&["--detailed-exitcode"], args),
        )
    }

    /// `cairn destroy --auto-approve <args>`, which must succeed.
    pub fn destroy(&self, args: &[&str]) -> Run {
        self.expect(0, &["destroy"], &with(&["--auto-approve"], args))
    }
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read the state directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

fn with<'s>(first: &[&'s str], rest: &[&'s str]) -> Vec<&'s str> {
    first.iter().chain(rest).copied().collect()
}

/// The `Plan: N to add, N to change, N to destroy.` line of a plan's text.
pub fn summary_line(run: &Run) -> &str {
    run.stdout
        .lines()
        .find(|line| line.starts_with("Plan: "))
        .unwrap_or_else(|| panic!("no `Plan:` summary line in\n{}", run.text()))
}

/// The addresses of the resources a text plan shows with `symbol` (`+`, `~`, `-/+`...),
/// from its `<symbol> resource "TYPE" "NAME" {` lines.
pub fn resources_with(run: &Run, symbol: &str) -> Vec<String> {
    run.stdout
        .lines()
        .filter_map(|line| {
            let rest = line.trim_start().strip_prefix(symbol)?;
            let rest = rest.strip_prefix(" resource ")?;
            let mut parts = rest.split('"').filter(|p| !p.trim().is_empty());
            let type_name = parts.next()?;
            let name = parts.next()?;
            Some(format!("{type_name}.{name}"))
        })
        .collect()
}
