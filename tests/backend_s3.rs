//! Remote state in S3 (moto's), as pipelines use it (issue 10): every "runner" is a fresh
//! temporary directory that shares nothing with the others but the bucket; no local
//! state, no key file. Two applies at once, a SIGKILLed apply whose lease expires,
//! `output` from S3 alone, `state push` and `state migrate`, `force-unlock`, and no
//! secret in any object.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]

#[path = "support/moto.rs"]
mod moto;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use moto::Moto;
use tempfile::TempDir;

const BUCKET: &str = "cairn-state-test";
const SECRET: &str = "s3cr3t-pa55word-never-stored";

fn stack(backend: bool) -> String {
    let backend = if backend {
        format!(
            "[backend.s3]\nbucket = \"{BUCKET}\"\nkey = \"envs/${{stack}}-${{env}}.json\"\nregion = \"us-east-1\"\n"
        )
    } else {
        String::new()
    };
    format!(
        r#"
[stack]
name = "pipe"

{backend}
[variables.greeting]
default = "hello"

[variables.password]
default = "{SECRET}"
sensitive = true

[resources.cairn_data.first]
input = "${{var.greeting}}"

[resources.cairn_data.second]
input = "${{cairn_data.first.output}}"

[resources.cairn_data.third]
input = "${{cairn_data.second.output}}"

[resources.cairn_data.secret]
input = "${{var.password}}"

[outputs.greeting]
value = "${{cairn_data.third.output}}"

[outputs.secret]
value = "${{cairn_data.secret.output}}"
sensitive = true
"#
    )
}

/// One CI runner: a fresh checkout of the stack, nothing else.
struct Runner<'a> {
    moto: &'a Moto,
    dir: TempDir,
}

impl<'a> Runner<'a> {
    fn new(moto: &'a Moto, backend: bool) -> Runner<'a> {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join(".git")).expect("mkdir .git");
        std::fs::create_dir(dir.path().join("stack")).expect("mkdir stack");
        std::fs::write(dir.path().join("stack").join("stack.toml"), stack(backend)).expect("stack");
        Runner { moto, dir }
    }

    /// A runner with no stack at all.
    fn empty(moto: &'a Moto) -> Runner<'a> {
        Runner {
            moto,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn stack_dir(&self) -> PathBuf {
        self.dir.path().join("stack")
    }

    fn command(&self, args: &[&str], extra: &[(&str, &str)]) -> Command {
        let dir = if self.stack_dir().exists() {
            self.stack_dir()
        } else {
            self.dir.path().to_path_buf()
        };
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn"));
        cmd.current_dir(dir)
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("CAIRN_LOG")
            .env_remove("CAIRN_STATE_KEY")
            .env_remove("CAIRN_TEST_FAIL_ON")
            .env_remove("CAIRN_TEST_DELAY_MS")
            .env_remove("CAIRN_S3_LEASE_SECONDS")
            .stdin(Stdio::null());
        for name in Moto::CHILD_ENV_REMOVED {
            cmd.env_remove(name);
        }
        cmd.envs(self.moto.child_env());
        cmd.envs(extra.iter().copied());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &[])
    }

    fn run_with(&self, args: &[&str], extra: &[(&str, &str)]) -> Output {
        self.command(args, extra).output().expect("cairn runs")
    }

    fn expect(&self, code: i32, args: &[&str]) -> Output {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "cairn {args:?}:\n{}",
            text(&out)
        );
        out
    }

    fn spawn(&self, args: &[&str], extra: &[(&str, &str)]) -> Child {
        self.command(args, extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cairn starts")
    }
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

fn client(moto: &Moto) -> aws_sdk_s3::Client {
    let sdk = block(moto.sdk_config());
    let config = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

fn block<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

fn create_bucket(moto: &Moto) {
    let client = client(moto);
    block(client.create_bucket().bucket(BUCKET).send()).expect("create bucket");
}

/// Every object in the bucket with its bytes.
fn objects(moto: &Moto) -> Vec<(String, Vec<u8>)> {
    let client = client(moto);
    block(async {
        let listed = client
            .list_objects_v2()
            .bucket(BUCKET)
            .send()
            .await
            .expect("list");
        let mut objects = Vec::new();
        for object in listed.contents() {
            let key = object.key().expect("key").to_owned();
            let body = client
                .get_object()
                .bucket(BUCKET)
                .key(&key)
                .send()
                .await
                .expect("get")
                .body
                .collect()
                .await
                .expect("body")
                .into_bytes()
                .to_vec();
            objects.push((key, body));
        }
        objects
    })
}

fn names(objects: &[(String, Vec<u8>)]) -> Vec<&str> {
    objects.iter().map(|(k, _)| k.as_str()).collect()
}

fn assert_no_secret(objects: &[(String, Vec<u8>)]) {
    for (key, bytes) in objects {
        assert!(
            !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
            "the secret is in s3://{BUCKET}/{key}"
        );
    }
}

const STATE_KEY: &str = "envs/pipe-default.json";

fn remote_args() -> Vec<String> {
    vec![
        "--backend-config".to_owned(),
        format!("bucket={BUCKET}"),
        "--backend-config".to_owned(),
        format!("key={STATE_KEY}"),
        "--backend-config".to_owned(),
        "region=us-east-1".to_owned(),
    ]
}

fn with_remote<'s>(args: &[&'s str], remote: &'s [String]) -> Vec<&'s str> {
    args.iter()
        .copied()
        .chain(remote.iter().map(String::as_str))
        .collect()
}

fn wait_for_lock(moto: &Moto) {
    let started = Instant::now();
    while !names(&objects(moto)).contains(&"envs/pipe-default.json.lock") {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the apply never took the lock"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn runners_share_only_the_bucket_and_output_reads_s3_alone() {
    let moto = Moto::start();
    create_bucket(&moto);
    let first = Runner::new(&moto, true);
    first.expect(0, &["apply", "--auto-approve"]);
    assert!(
        !first.dir.path().join("state").exists(),
        "nothing local: {:?}",
        std::fs::read_dir(first.dir.path()).map(|d| d.count())
    );
    let stored = objects(&moto);
    let keys = names(&stored);
    assert!(keys.contains(&STATE_KEY), "{keys:?}");
    assert!(
        keys.contains(&"envs/pipe-default.json.hmac-key"),
        "{keys:?}"
    );
    assert!(
        !keys.iter().any(|k| k.ends_with(".lock")),
        "released: {keys:?}"
    );
    assert_no_secret(&stored);

    // Another runner plans with the key stored beside the state: no spurious change.
    let second = Runner::new(&moto, true);
    second.expect(0, &["plan", "--detailed-exitcode"]);
    assert_eq!(objects(&moto), stored, "plan wrote nothing to S3");
    // Changing the greeting is a change; the secret is not.
    let plan = second.expect(2, &["plan", "--detailed-exitcode", "--var", "greeting=bye"]);
    assert!(
        !stdout(&plan).contains("cairn_data.secret"),
        "{}",
        text(&plan)
    );

    // A runner with no stack reads the outputs from S3.
    let reader = Runner::empty(&moto);
    let remote = remote_args();
    let out = reader.expect(0, &with_remote(&["output", "greeting"], &remote));
    assert_eq!(stdout(&out).trim(), "hello");
    let out = reader.expect(0, &with_remote(&["state", "list"], &remote));
    assert!(stdout(&out).contains("cairn_data.third"), "{}", text(&out));
    let out = reader.expect(1, &with_remote(&["output", "secret"], &remote));
    assert!(stderr(&out).contains("keyed hash"), "{}", text(&out));

    // A wrong key is an error that says what to do, not a plan full of changes.
    let out = second.run_with(&["plan"], &[("CAIRN_STATE_KEY", &"ab".repeat(32))]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr(&out).contains("CAIRN_STATE_KEY"), "{}", text(&out));

    // Pushing an older serial or another lineage is refused.
    let pulled = reader.expect(0, &with_remote(&["state", "pull"], &remote));
    let file = reader.dir.path().join("pulled.json");
    std::fs::write(&file, &pulled.stdout).expect("write");
    let file_arg = file.to_str().expect("utf-8");
    let out = reader.expect(1, &with_remote(&["state", "push", file_arg], &remote));
    assert!(stderr(&out).contains("serial"), "{}", text(&out));
    let mut state: serde_json::Value = serde_json::from_slice(&pulled.stdout).expect("json");
    state["lineage"] = serde_json::json!("00000000-0000-4000-8000-000000000000");
    state["serial"] = serde_json::json!(state["serial"].as_u64().expect("serial") + 5);
    std::fs::write(&file, serde_json::to_vec(&state).expect("json")).expect("write");
    let out = reader.expect(1, &with_remote(&["state", "push", file_arg], &remote));
    assert!(stderr(&out).contains("another state"), "{}", text(&out));

    first.expect(0, &["destroy", "--auto-approve"]);
    assert_no_secret(&objects(&moto));
}

#[test]
fn two_applies_at_once_one_wins_and_the_other_names_the_holder() {
    let moto = Moto::start();
    create_bucket(&moto);
    let a = Runner::new(&moto, true);
    let b = Runner::new(&moto, true);
    let slow = [("CAIRN_TEST_DELAY_MS", "1500")];
    let first = a.spawn(&["apply", "--auto-approve"], &slow);
    let second = b.spawn(&["apply", "--auto-approve"], &slow);
    let outs = [
        first.wait_with_output().expect("first"),
        second.wait_with_output().expect("second"),
    ];
    let won: Vec<&Output> = outs.iter().filter(|o| o.status.code() == Some(0)).collect();
    let lost: Vec<&Output> = outs.iter().filter(|o| o.status.code() != Some(0)).collect();
    assert_eq!(won.len(), 1, "{}\n{}", text(&outs[0]), text(&outs[1]));
    let loser = lost[0];
    assert!(stderr(loser).contains("is locked"), "{}", text(loser));
    assert!(
        stderr(loser).contains("pid "),
        "names the holder: {}",
        text(loser)
    );
    a.expect(0, &["plan", "--detailed-exitcode"]);
}

#[test]
fn a_killed_apply_loses_its_lock_when_the_lease_ends_and_the_next_run_converges() {
    let moto = Moto::start();
    create_bucket(&moto);
    let lease = [("CAIRN_S3_LEASE_SECONDS", "6")];
    let killed = Runner::new(&moto, true);
    let mut child = killed.spawn(
        &["apply", "--auto-approve"],
        &[
            ("CAIRN_S3_LEASE_SECONDS", "6"),
            ("CAIRN_TEST_DELAY_MS", "1500"),
        ],
    );
    wait_for_lock(&moto);
    // Let the first create finish and the second start.
    std::thread::sleep(Duration::from_millis(2500));
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let held = objects(&moto);
    assert!(
        names(&held).contains(&"envs/pipe-default.json.lock"),
        "a killed run leaves its lock"
    );

    let next = Runner::new(&moto, true);
    let refused = next.run_with(&["apply", "--auto-approve"], &lease);
    assert_eq!(
        refused.status.code(),
        Some(1),
        "the lease still runs: {}",
        text(&refused)
    );
    assert!(stderr(&refused).contains("lease"), "{}", text(&refused));

    let out = next.run_with(&["apply", "--auto-approve", "--lock-timeout=30s"], &lease);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stderr(&out).contains("Took over the lock"),
        "{}",
        text(&out)
    );
    next.expect(0, &["plan", "--detailed-exitcode"]);
    let listed = next.expect(0, &["state", "list"]);
    let listed = stdout(&listed);
    let mut resources: Vec<&str> = listed.lines().map(str::trim).collect();
    resources.sort_unstable();
    assert_eq!(
        resources,
        [
            "cairn_data.first",
            "cairn_data.second",
            "cairn_data.secret",
            "cairn_data.third"
        ],
        "exactly one of each"
    );
    assert_no_secret(&objects(&moto));
}

#[test]
fn force_unlock_keeps_a_live_lease_unless_forced() {
    let moto = Moto::start();
    create_bucket(&moto);
    let holder_runner = Runner::new(&moto, true);
    let holder = holder_runner.spawn(
        &["apply", "--auto-approve"],
        &[("CAIRN_TEST_DELAY_MS", "20000")],
    );
    let pid = holder.id().to_string();
    wait_for_lock(&moto);
    let other = Runner::new(&moto, true);
    let out = other.expect(1, &["force-unlock"]);
    assert!(stderr(&out).contains(&pid), "{}", text(&out));
    assert!(stderr(&out).contains("still alive"), "{}", text(&out));
    let out = other.expect(0, &["force-unlock", "--force"]);
    let mut holder = holder;
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(stdout(&out).contains("forced"), "{}", text(&out));
    assert!(!names(&objects(&moto)).iter().any(|k| k.ends_with(".lock")));
}

#[test]
fn migration_to_s3_keeps_lineage_serial_and_key() {
    let moto = Moto::start();
    create_bucket(&moto);
    let runner = Runner::new(&moto, false);
    runner.expect(0, &["apply", "--auto-approve"]);
    let local: serde_json::Value =
        serde_json::from_slice(&runner.expect(0, &["state", "pull"]).stdout).expect("json");

    // The stack now names a backend: an empty remote state is not silently started.
    std::fs::write(runner.stack_dir().join("stack.toml"), stack(true)).expect("stack");
    let out = runner.expect(1, &["plan"]);
    assert!(
        stderr(&out).contains("cairn state migrate"),
        "{}",
        text(&out)
    );

    let out = runner.expect(0, &["state", "migrate"]);
    assert!(stdout(&out).contains("Moved the state"), "{}", text(&out));
    let remote: serde_json::Value =
        serde_json::from_slice(&runner.expect(0, &["state", "pull"]).stdout).expect("json");
    assert_eq!(remote["lineage"], local["lineage"]);
    assert_eq!(remote["serial"], local["serial"]);
    // The key came along: a fresh runner plans no change, the secret included.
    Runner::new(&moto, true).expect(0, &["plan", "--detailed-exitcode"]);
    assert_no_secret(&objects(&moto));

    // And back to a local file.
    let back = runner.dir.path().join("back.json");
    runner.expect(
        0,
        &[
            "state",
            "migrate",
            "--to-state",
            back.to_str().expect("utf-8"),
        ],
    );
    let out = runner.expect(
        0,
        &["state", "pull", "--state", back.to_str().expect("utf-8")],
    );
    let returned: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(returned["lineage"], local["lineage"]);
    assert!(Path::new(&format!("{}.key", back.display())).exists());
}

#[test]
fn without_the_lock_two_writers_still_never_interleave() {
    let moto = Moto::start();
    create_bucket(&moto);
    let setup = Runner::new(&moto, true);
    setup.expect(0, &["apply", "--auto-approve"]);
    let before: serde_json::Value =
        serde_json::from_slice(&setup.expect(0, &["state", "pull"]).stdout).expect("json");

    let a = Runner::new(&moto, true);
    let b = Runner::new(&moto, true);
    let slow = [("CAIRN_TEST_DELAY_MS", "1000")];
    let unlocked = ["apply", "--auto-approve", "--lock=false", "--var"];
    let first = a.spawn(&[&unlocked[..], &["greeting=from-a"]].concat(), &slow);
    let second = b.spawn(&[&unlocked[..], &["greeting=from-b"]].concat(), &slow);
    let outs = [
        first.wait_with_output().expect("a"),
        second.wait_with_output().expect("b"),
    ];
    let won: Vec<&Output> = outs.iter().filter(|o| o.status.code() == Some(0)).collect();
    assert_eq!(won.len(), 1, "{}\n{}", text(&outs[0]), text(&outs[1]));
    let lost = outs
        .iter()
        .find(|o| o.status.code() != Some(0))
        .expect("a loser");
    assert!(
        text(lost).contains("was changed by another run"),
        "the loser's write was refused: {}",
        text(lost)
    );
    // The state is the winner's, whole: its serial follows on from the first apply's.
    let after: serde_json::Value =
        serde_json::from_slice(&setup.expect(0, &["state", "pull"]).stdout).expect("json");
    assert_eq!(after["lineage"], before["lineage"]);
    assert!(after["serial"].as_u64() > before["serial"].as_u64());
    let winner = if won[0].stdout == outs[0].stdout {
        "from-a"
    } else {
        "from-b"
    };
    let out = setup.expect(0, &["output", "greeting"]);
    assert_eq!(stdout(&out).trim(), winner);
}

/// Saved plans between runners sharing only the bucket (issue 10): runner 1 plans on an
/// empty state and saves the plan; runner 2 applies that file, which creates the state
/// with the lineage the plan reserved; runner 3 applies the same file and is refused.
#[test]
fn a_saved_plan_travels_between_runners_and_applies_once() {
    let moto = Moto::start();
    create_bucket(&moto);
    let first = Runner::new(&moto, true);
    let planned = first.dir.path().join("plan.json");
    let planned_arg = planned.to_str().expect("UTF-8 path");
    first.expect(0, &["plan", ".", "--out", planned_arg]);
    assert!(objects(&moto).is_empty(), "plan wrote nothing to S3");
    let bytes = std::fs::read(&planned).expect("plan file");
    assert!(
        !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
        "the secret is in the plan file"
    );
    let file: serde_json::Value = serde_json::from_slice(&bytes).expect("plan file is JSON");

    let mut refused = None;
    for (n, runner) in [Runner::new(&moto, true), Runner::new(&moto, true)]
        .into_iter()
        .enumerate()
    {
        let copy = runner.dir.path().join("plan.json");
        std::fs::write(&copy, &bytes).expect("copy the plan");
        let out = runner.run(&["apply", copy.to_str().expect("UTF-8 path")]);
        if n == 0 {
            assert_eq!(out.status.code(), Some(0), "apply FILE:\n{}", text(&out));
        } else {
            refused = Some(out);
        }
    }
    let refused = refused.expect("a second apply ran");
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        stderr(&refused).contains("applied already"),
        "{}",
        text(&refused)
    );

    let stored = objects(&moto);
    assert_no_secret(&stored);
    let state = stored
        .iter()
        .find(|(key, _)| key == STATE_KEY)
        .map(|(_, bytes)| serde_json::from_slice::<serde_json::Value>(bytes).expect("state"))
        .expect("the apply wrote the state");
    assert_eq!(state["lineage"], file["state"]["lineage"]);
    assert_eq!(state["resources"].as_array().map(Vec::len), Some(4));
}
