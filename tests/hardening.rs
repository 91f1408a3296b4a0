//! Hostile and careless input to the `cairn` binary (issue 11): no crash, no backtrace and
//! no file written outside the state folder, whatever the stack, the environment name or
//! `CAIRN_LOG` hold. Every failure must be an ordinary error (exit 1) that says where.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]

use std::path::{Path, PathBuf};
use std::process::Output;

#[path = "support/workspace.rs"]
mod workspace;

use workspace::{Workspace, stderr};

/// What the hardening tests need of a checkout beyond the shared [`Workspace`].
impl Workspace {
    /// Every file under the scratch directory that is not the stack's own or in `state/`.
    fn files_outside_the_state_folder(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut dirs = vec![self.scratch().to_path_buf()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("read dir").flatten() {
                let path = entry.path();
                if path == self.stack_dir()
                    || path == self.root().join(".git")
                    || path == self.root().join("state")
                {
                    continue;
                }
                if path.is_dir() {
                    dirs.push(path.clone());
                }
                // The checkout itself is expected; anything else, file or folder, is not.
                if path != self.root() {
                    out.push(path);
                }
            }
        }
        out
    }
}

/// Exit 1 with an error naming `location` (`stack.toml:LINE:COL`), and no sign of a
/// panic or a stack overflow.
fn assert_error_at(out: &Output, location: &str, message: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "exit code; stderr:\n{err}");
    assert!(
        !err.contains("panicked") && !err.contains("overflow") && !err.contains("backtrace"),
        "a crash:\n{err}"
    );
    assert!(err.contains(location), "{location:?} missing from:\n{err}");
    assert!(err.contains(message), "{message:?} missing from:\n{err}");
}

const HEADER: &str = "[stack]\nname = \"demo\"\n\n[resources.cairn_data.d]\n";

/// Issue 11: 4,000 levels of `(` or 5,000 of `upper(` overflowed the stack (exit 134).
#[test]
fn deeply_nested_expressions_are_an_error_at_the_level_too_deep() {
    for (open, inner, close) in [("(", "1", ")"), ("upper(", "\"x\"", ")"), ("!", "true", "")] {
        for levels in [100, 5_000] {
            let input = format!(
                "input = '${{{}{inner}{}}}'\n",
                open.repeat(levels),
                close.repeat(levels)
            );
            let workspace = Workspace::new(format!("{HEADER}{input}"));
            // The level too deep is the 64th: its column is past `input = '${` and the
            // 64 openings before it.
            let column = "input = '${".len() + open.len() * 64 + 1;
            for command in ["validate", "plan"] {
                assert_error_at(
                    &workspace.run(&[command]),
                    &format!("stack.toml:5:{column}"),
                    "expression nested too deeply",
                );
            }
        }
    }
}

/// Issue 11: any diagnostic past column 65,535 made miette panic (exit 101).
#[test]
fn errors_past_column_65535_are_reported_with_their_column() {
    let junk = format!("{HEADER}input = \"{}\" junk\n", "A".repeat(65_530));
    let column = "input = \"".len() + 65_530 + 3;
    assert_error_at(
        &Workspace::new(junk).run(&["validate"]),
        &format!("stack.toml:5:{column}"),
        "malformed TOML",
    );
    let undefined = format!("{HEADER}input = \"{}${{var.nope}}\"\n", "B".repeat(70_000));
    assert_error_at(
        &Workspace::new(undefined).run(&["validate"]),
        "stack.toml:5:",
        "var.nope",
    );
}

/// Issue 11: binary junk said `stream did not contain valid UTF-8` with no file or place.
#[test]
fn non_utf8_stack_files_name_the_file_and_the_byte_offset() {
    let mut binary = b"[stack]\nname = \"demo\"\n".to_vec();
    binary.extend((0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    let offset = std::str::from_utf8(&binary)
        .map(|_| binary.len())
        .unwrap_or_else(|e| e.valid_up_to());
    let out = Workspace::new(&binary).run(&["validate"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("stack.toml"), "{err}");
    assert!(
        err.contains(&format!("at byte offset {offset} is not valid UTF-8")),
        "{err}"
    );

    // A big text file that is not TOML: an ordinary error, quickly.
    let big = format!("{HEADER}{}", "junk ".repeat(2_000_000));
    assert_error_at(
        &Workspace::new(big).run(&["validate"]),
        "stack.toml:5:",
        "malformed TOML",
    );
}

fn assert_nothing_outside_the_state_folder(workspace: &Workspace) {
    let outside = workspace.files_outside_the_state_folder();
    assert!(outside.is_empty(), "files written outside: {outside:?}");
}

/// Issue 11: `[stack] name = "../../../../elsewhere/escaped"` made plan create folders and
/// apply write the state outside `state/`.
#[test]
fn a_stack_name_cannot_leave_the_state_folder() {
    for name in [
        "../../../../elsewhere/escaped",
        "../escaped",
        "a/b",
        "..",
        "/tmp/abs",
        "a\\\\b",
    ] {
        let workspace = Workspace::new(format!(
            "[stack]\nname = \"{name}\"\n\n[resources.cairn_data.d]\ninput = 1\n"
        ));
        for args in [
            &["validate"][..],
            &["plan"],
            &["apply", "--auto-approve"],
            &["destroy", "--auto-approve"],
        ] {
            assert_error_at(
                &workspace.run(args),
                "stack.toml:2:8",
                "`[stack] name` is not a valid stack name",
            );
        }
        assert_nothing_outside_the_state_folder(&workspace);
        assert!(!workspace.root().join("state").exists(), "{name}");
    }
}

/// Issue 11: `--env ../../outside/evil` read `env/../../outside/evil.toml` and wrote
/// `state/outside/evil.json`.
#[test]
fn an_environment_name_cannot_leave_its_folders() {
    let workspace = Workspace::new(format!("{HEADER}input = \"${{var.x}}\"\n[variables.x]\n"));
    // Where the escaping env file would be read from: it must not be.
    let outside = workspace.scratch().join("outside");
    std::fs::create_dir_all(&outside).expect("mkdir outside");
    std::fs::write(outside.join("evil.toml"), "x = \"from outside\"\n").expect("write");
    for env in ["../../outside/evil", "../evil", "a/b", "..", "", ".hidden"] {
        for command in [&["validate"][..], &["plan"], &["apply", "--auto-approve"]] {
            let out = workspace.run(&[command, &["--env", env]].concat());
            let err = stderr(&out);
            assert_eq!(
                out.status.code(),
                Some(1),
                "{command:?} --env {env:?}: {err}"
            );
            assert!(
                err.contains(&format!("--env `{env}` is not a valid environment name")),
                "{command:?} --env {env:?}: {err}"
            );
            assert!(!err.contains("from outside"), "{err}");
        }
    }
    std::fs::remove_dir_all(&outside).expect("rm outside");
    assert_nothing_outside_the_state_folder(&workspace);
    assert!(!workspace.root().join("state").exists());
}

/// Names that are valid still work, and the state lands in `state/<stack>-<env>.json`.
#[test]
fn valid_names_write_the_state_in_the_state_folder() {
    let workspace = Workspace::new(
        "[stack]\nname = \"demo_2.x\"\n\n[resources.cairn_data.d]\ninput = \"${var.x}\"\n[variables.x]\n",
    );
    workspace.write_file("env/prod-1.toml", "x = \"p\"\n");
    let out = workspace.run(&["apply", "--env", "prod-1", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        workspace
            .root()
            .join("state/demo_2.x-prod-1.json")
            .is_file()
    );
    assert_nothing_outside_the_state_folder(&workspace);
}

/// Issue 11: a one-item list indexed `[5]` passed `validate` and failed `plan`.
#[test]
fn validate_finds_an_index_past_the_end_of_a_variable() {
    let workspace = Workspace::new(format!(
        "{HEADER}input = \"${{var.list[5]}}\"\n\n[variables.list]\ntype = \"list\"\ndefault = [\"a\"]\n"
    ));
    for command in ["validate", "plan"] {
        assert_error_at(
            &workspace.run(&[command]),
            "stack.toml:5:9",
            "index 5 is out of range: `var.list` has 1 items",
        );
    }
    let fine = Workspace::new(format!(
        "{HEADER}input = \"${{var.list[0]}}\"\n\n[variables.list]\ntype = \"list\"\ndefault = [\"a\"]\n"
    ));
    assert_eq!(fine.run(&["validate"]).status.code(), Some(0));
}

/// Issue 11: `CAIRN_LOG=debug` wrote colour codes into a redirected file, and an invalid
/// value silently fell back to `info`.
#[test]
fn logs_have_no_colour_off_a_terminal_and_a_bad_filter_is_an_error() {
    let workspace = Workspace::new(format!("{HEADER}input = 1\n"));
    for no_color in [true, false] {
        let mut cmd = workspace.cmd(&["apply", "--auto-approve"]);
        cmd.env("CAIRN_LOG", "trace");
        if !no_color {
            cmd.env_remove("NO_COLOR");
        }
        let out = cmd.output().expect("cairn runs");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{err}");
        assert!(
            err.contains("TRACE") || err.contains("DEBUG"),
            "logs: {err}"
        );
        assert!(
            !err.contains('\u{1b}'),
            "escape codes in a redirected log:\n{err}"
        );
    }
    for bad in ["degub", "cairn=loud"] {
        let out = workspace
            .cmd(&["validate"])
            .env("CAIRN_LOG", bad)
            .output()
            .expect("cairn runs");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{bad}: {err}");
        assert!(err.contains(&format!("invalid CAIRN_LOG `{bad}`")), "{err}");
        assert!(
            err.contains("a level (error, warn, info, debug, trace, off)"),
            "{err}"
        );
    }
}

#[test]
fn the_workspace_helper_sees_files_written_outside() {
    let workspace = Workspace::new(format!("{HEADER}input = 1\n"));
    assert_nothing_outside_the_state_folder(&workspace);
    std::fs::write(workspace.scratch().join("escaped.json"), "{}").expect("write");
    assert_eq!(
        workspace.files_outside_the_state_folder(),
        vec![Path::new(workspace.scratch()).join("escaped.json")]
    );
}

/// Deeply nested TOML values stop at the TOML parser's own depth limit with an error at
/// the place, before any of cairn's recursive walks see them.
#[test]
fn deeply_nested_toml_values_are_an_error() {
    for (open, close) in [("[", "]"), ("{ a = ", " }")] {
        let input = format!("input = {}1{}\n", open.repeat(10_000), close.repeat(10_000));
        assert_error_at(
            &Workspace::new(format!("{HEADER}{input}")).run(&["validate"]),
            "stack.toml:5:",
            "malformed TOML",
        );
    }
    // Within the limit, a nested value loads and plans.
    let input = format!("input = {}1{}\n", "[".repeat(40), "]".repeat(40));
    let out = Workspace::new(format!("{HEADER}{input}")).run(&["plan"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// A YAML manifest nested past the YAML parser's limit is an error naming the file.
#[cfg(feature = "kubernetes")]
#[test]
fn deeply_nested_yaml_manifests_are_an_error() {
    let workspace = Workspace::new(
        "[stack]\nname = \"demo\"\n\n[providers.kubernetes]\nkubeconfig = \"/nonexistent\"\n\n[resources.kubernetes_object.deep]\nfile = \"deep.yaml\"\n",
    );
    let yaml = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\ndata: {}1{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    std::fs::write(workspace.stack_dir().join("deep.yaml"), yaml).expect("write yaml");
    assert_error_at(
        &workspace.run(&["validate"]),
        "deep.yaml:",
        "malformed YAML",
    );
}

/// Issue 11: `file = "../x.yaml"` read a file outside the stack into a manifest that apply
/// sends to the cluster. `..`, an absolute path and a symbolic link leading out are all
/// refused, with the `file =` value's position; a file inside the stack still loads.
#[cfg(feature = "kubernetes")]
#[test]
fn manifests_are_read_only_from_inside_the_stack() {
    let config_map = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n";
    let outside = tempfile::tempdir().expect("temp dir");
    let secret = outside.path().join("credentials.yaml");
    std::fs::write(&secret, config_map).expect("write outside");
    let stack = |file: &str| {
        format!(
            "[stack]\nname = \"demo\"\n\n[providers.kubernetes]\nkubeconfig = \"/nonexistent\"\n\n[resources.kubernetes_object.x]\nfile = \"{file}\"\n"
        )
    };
    let workspace = Workspace::new(stack("inside.yaml"));
    std::fs::write(workspace.stack_dir().join("inside.yaml"), config_map).expect("write");
    let out = workspace.run(&["validate"]);
    assert!(out.status.success(), "inside: {}", stderr(&out));

    std::fs::write(workspace.root().join("up.yaml"), config_map).expect("write");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&secret, workspace.stack_dir().join("link.yaml")).expect("symlink");
    let mut files = vec!["../up.yaml".to_owned(), secret.display().to_string()];
    if cfg!(unix) {
        files.push("link.yaml".to_owned());
    }
    for file in files {
        std::fs::write(workspace.stack_dir().join("stack.toml"), stack(&file)).expect("write");
        assert_error_at(
            &workspace.run(&["validate"]),
            "stack.toml:8:8",
            "is outside the stack directory",
        );
    }
}

/// Issue 11: a permanent error must fail only its own branch. With one operation at a
/// time, `z_independent` becomes ready only after `c_first` is done, behind `a_fails` in
/// the queue: it still runs after `a_fails` failed, and the dependent one is skipped.
#[test]
fn a_failure_stops_only_its_own_branch() {
    let workspace = Workspace::new(
        "[stack]\nname = \"demo\"\n\n[resources.cairn_data.a_fails]\ninput = 1\n\n[resources.cairn_data.b_dependent]\ninput = \"${cairn_data.a_fails.output}\"\n\n[resources.cairn_data.c_first]\ninput = 2\n\n[resources.cairn_data.z_independent]\ninput = \"${cairn_data.c_first.output}\"\n",
    );
    let out = workspace
        .cmd(&["apply", "--auto-approve", "--parallelism", "1"])
        .env("CAIRN_TEST_FAIL_ON", "cairn_data.a_fails")
        .output()
        .expect("cairn runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("Skipped: cairn_data.b_dependent (depends on cairn_data.a_fails)"),
        "{text}"
    );
    assert!(text.contains("after 2 added"), "{text}");
    let listed = workspace.run(&["state", "list"]);
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout).trim(),
        "cairn_data.c_first\ncairn_data.z_independent",
        "{}",
        stderr(&listed)
    );
}
