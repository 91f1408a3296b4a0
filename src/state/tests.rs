//! Tests of the state files as a crash, a second run or a leaked file would meet them:
//! replay after a crash at each step, locking, file modes, redaction and write cost.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use cairn_provider_core::{Attrs, Value};
use proptest::prelude::*;

use super::*;
use crate::addr::ResourceAddr;

const STACK: &str = "airflow";
const ENV: &str = "dev";

fn state_path(dir: &Path) -> PathBuf {
    dir.join("state").join("airflow-dev.json")
}

fn open(path: &Path) -> StateStore {
    match StateStore::open_with_key(path, STACK, ENV, "apply", None) {
        Ok(store) => store,
        Err(e) => panic!("open failed: {e}"),
    }
}

fn addr(name: &str) -> ResourceAddr {
    ResourceAddr::new("aws_vpc", name)
}

fn resource(name: &str, cidr: &str) -> ResourceState {
    ResourceState {
        addr: addr(name),
        provider: "aws".to_owned(),
        attrs: Attrs::new()
            .with("cidr_block", cidr)
            .with("id", format!("vpc-{name}")),
        dependencies: vec![ResourceAddr::new("aws_iam_role", "cluster")],
        fingerprints: Default::default(),
    }
}

fn intent(config: Attrs) -> Intent {
    Intent {
        operation: "create".to_owned(),
        config,
        started_at: "2026-01-01T00:00:00Z".to_owned(),
    }
}

fn read_state(path: &Path) -> StateFile {
    match read(path) {
        Ok(Some(state)) => state,
        Ok(None) => panic!("no state at {}", path.display()),
        Err(e) => panic!("read failed: {e}"),
    }
}

fn journal_path(path: &Path) -> PathBuf {
    fsio::sibling(path, "journal")
}

#[test]
fn store_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<StateStore>();
}

#[test]
fn round_trip_through_close_and_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    let mut store = open(&path);
    store
        .record_resource(resource("main", "10.0.0.0/16"))
        .expect("record");
    store
        .record_resource(resource("spare", "10.1.0.0/16"))
        .expect("record");
    store
        .record_intent(&addr("pending"), intent(Attrs::new().with("name", "p")))
        .expect("intent");
    store
        .set_outputs(BTreeMap::from([(
            "vpc_id".to_owned(),
            Value::from("vpc-main"),
        )]))
        .expect("outputs");
    store.remove_resource(&addr("spare")).expect("remove");
    let before = store.state().clone();
    store.close().expect("close");

    assert!(
        !journal_path(&path).exists(),
        "close folds the journal into the snapshot"
    );
    let after = read_state(&path);
    assert_eq!(after.resources, before.resources);
    assert_eq!(after.pending, before.pending);
    assert_eq!(after.outputs, before.outputs);
    assert_eq!(after.lineage, before.lineage);
    assert!(
        after.serial > before.serial,
        "the closing snapshot is a write"
    );
    assert_eq!(open(&path).state(), &after);

    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(&path).expect("snapshot")).expect("json");
    let first = &json["resources"][0];
    assert_eq!(first["address"], "aws_vpc.main");
    assert_eq!(first["type"], "aws_vpc");
    assert_eq!(first["provider"], "aws");
    assert_eq!(first["attributes"]["cidr_block"], "10.0.0.0/16");
    assert_eq!(first["dependencies"][0], "aws_iam_role.cluster");
}

#[test]
fn open_and_close_without_writes_leaves_no_files_and_keeps_the_serial() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    open(&path).close().expect("close");
    let left: Vec<_> = fs::read_dir(path.parent().expect("parent"))
        .expect("dir")
        .collect();
    assert!(left.is_empty(), "files left: {left:?}");
    assert!(read(&path).expect("read").is_none());

    let mut store = open(&path);
    store
        .record_resource(resource("main", "10.0.0.0/16"))
        .expect("record");
    store.close().expect("close");
    let serial = read_state(&path).serial;
    open(&path).close().expect("close");
    assert_eq!(
        read_state(&path).serial,
        serial,
        "a run that writes nothing must not move the serial"
    );
}

#[test]
fn crash_leaves_a_journal_that_replays_to_what_the_run_held() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    let mut store = open(&path);
    store
        .record_resource(resource("a", "10.0.0.0/16"))
        .expect("record");
    store
        .record_resource(resource("b", "10.1.0.0/16"))
        .expect("record");
    let held = store.state().clone();
    drop(store); // killed: no final snapshot
    assert!(!path.exists(), "no snapshot was due yet");
    assert_eq!(read_state(&path), held);
    assert_eq!(open(&path).state(), &held);
}

#[test]
fn torn_last_line_is_ignored_and_cut_before_the_next_append() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    let mut store = open(&path);
    store
        .record_resource(resource("a", "10.0.0.0/16"))
        .expect("record");
    let held = store.state().clone();
    drop(store);

    let journal = journal_path(&path);
    let mut bytes = fs::read(&journal).expect("journal");
    bytes.extend_from_slice(br#"{"serial":99,"op":"remove","addr"#);
    fs::write(&journal, &bytes).expect("tear");
    assert_eq!(read_state(&path), held);

    let mut store = open(&path);
    store
        .record_resource(resource("b", "10.1.0.0/16"))
        .expect("record after torn line");
    let held = store.state().clone();
    drop(store);
    assert_eq!(read_state(&path), held);
    assert!(held.resources.contains_key(&addr("a")) && held.resources.contains_key(&addr("b")));
}

#[test]
fn garbled_last_line_is_treated_as_torn_but_an_earlier_one_is_corruption() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    let mut store = open(&path);
    store
        .record_resource(resource("a", "10.0.0.0/16"))
        .expect("record");
    let held = store.state().clone();
    store
        .record_resource(resource("b", "10.1.0.0/16"))
        .expect("record");
    drop(store);

    let journal = journal_path(&path);
    let text = fs::read_to_string(&journal).expect("journal");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let last = lines.len() - 1;
    lines[last] = "\0".repeat(lines[last].len());
    fs::write(&journal, lines.join("\n") + "\n").expect("garble");
    assert_eq!(read_state(&path), held, "the unfinished record is dropped");

    let mut store = open(&path);
    store
        .record_resource(resource("c", "10.2.0.0/16"))
        .expect("append cuts the garbled line");
    let held = store.state().clone();
    drop(store);
    assert_eq!(read_state(&path), held);
    assert!(!held.resources.contains_key(&addr("b")));
}

/// A kill can stop the journal at any byte. Cut it at every length: the state must open
/// and hold exactly the operations whose lines are complete, and the next run must be able
/// to append after it.
#[test]
fn journal_cut_at_every_byte_replays_to_the_operations_it_completed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    let mut store = open(&path);
    store
        .record_resource(resource("a", "10.0.0.0/16"))
        .expect("record");
    store
        .record_resource(resource("b", "10.1.0.0/16"))
        .expect("record");
    store.checkpoint().expect("snapshot");
    // States after each journaled operation since the snapshot, starting with none.
    let mut held = vec![store.state().clone()];
    store
        .record_intent(&addr("c"), intent(Attrs::new().with("name", "c")))
        .expect("intent");
    held.push(store.state().clone());
    store
        .record_resource(resource("c", "10.2.0.0/16"))
        .expect("record");
    held.push(store.state().clone());
    store.remove_resource(&addr("a")).expect("remove");
    held.push(store.state().clone());
    store
        .set_outputs(BTreeMap::from([("n".to_owned(), Value::Int(1))]))
        .expect("outputs");
    held.push(store.state().clone());
    drop(store);

    let journal = fs::read(journal_path(&path)).expect("journal");
    let snapshot = fs::read(&path).expect("snapshot");
    let key = fs::read(key_path(&path)).expect("key");
    for cut in 0..=journal.len() {
        let case = tempfile::tempdir().expect("tempdir");
        let case_path = state_path(case.path());
        fs::create_dir_all(case_path.parent().expect("parent")).expect("dir");
        fs::write(&case_path, &snapshot).expect("snapshot");
        fs::write(key_path(&case_path), &key).expect("key");
        fs::write(journal_path(&case_path), &journal[..cut]).expect("journal");
        // Lines complete within the cut, minus the header.
        let complete = journal[..cut].iter().filter(|&&b| b == b'\n').count();
        let expected = &held[complete.saturating_sub(1)];
        assert_eq!(
            &read_state(&case_path),
            expected,
            "journal cut at byte {cut}"
        );

        // Appending fsyncs, so check it at line ends and a sample of cuts inside lines.
        if cut % 16 != 0 && !journal[..cut].ends_with(b"\n") {
            continue;
        }
        let mut store = open(&case_path);
        store
            .record_resource(resource("d", "10.3.0.0/16"))
            .expect("append after the cut");
        let after = store.state().clone();
        drop(store);
        assert_eq!(
            read_state(&case_path),
            after,
            "append after a cut at byte {cut}"
        );
    }
}

#[test]
fn torn_header_leaves_an_empty_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    fs::write(journal_path(&path), br#"{"version":1,"lin"#).expect("tear");
    assert!(read(&path).expect("read").is_none());
    let mut store = open(&path);
    store
        .record_resource(resource("a", "10.0.0.0/16"))
        .expect("record");
    let held = store.state().clone();
    drop(store);
    assert_eq!(read_state(&path), held);
}

#[test]
fn journal_left_behind_by_a_crash_after_the_snapshot_rename_is_not_applied_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    let mut store = open(&path);
    store
        .record_resource(resource("a", "10.0.0.0/16"))
        .expect("record");
    store
        .record_resource(resource("a", "10.9.0.0/16"))
        .expect("record");
    let stale = fs::read(journal_path(&path)).expect("journal");
    store.checkpoint().expect("checkpoint");
    assert!(!journal_path(&path).exists());
    let held = store.state().clone();
    drop(store);
    // The crash happened between the rename and the journal's removal.
    fs::write(journal_path(&path), &stale).expect("restore journal");
    assert_eq!(read_state(&path), held);

    let mut store = open(&path);
    assert_eq!(store.state(), &held);
    store.remove_resource(&addr("a")).expect("remove");
    store
        .record_resource(resource("b", "10.1.0.0/16"))
        .expect("record");
    let held = store.state().clone();
    drop(store);
    assert_eq!(read_state(&path), held);
}

#[test]
fn records_not_newer_than_the_snapshot_are_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    let mut snapshot = StateFile::new(STACK, ENV);
    snapshot.serial = 10;
    fs::write(&path, serde_json::to_vec(&snapshot).expect("json")).expect("snapshot");
    let header = serde_json::json!({
        "version": 1, "lineage": snapshot.lineage, "stack": STACK, "env": ENV,
    });
    let stale = serde_json::json!({
        "serial": 10, "op": "resource", "resource": serde_json::to_value(resource("old", "10.0.0.0/16")).expect("json"),
    });
    let fresh = serde_json::json!({
        "serial": 11, "op": "resource", "resource": serde_json::to_value(resource("new", "10.1.0.0/16")).expect("json"),
    });
    fs::write(journal_path(&path), format!("{header}\n{stale}\n{fresh}\n")).expect("journal");
    let state = read_state(&path);
    assert_eq!(
        state.resources.keys().collect::<Vec<_>>(),
        vec![&addr("new")]
    );
    assert_eq!(state.serial, 11);
}

#[test]
fn journal_of_another_lineage_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    let mut store = open(&path);
    store
        .record_resource(resource("a", "10.0.0.0/16"))
        .expect("record");
    store.close().expect("close");
    let header =
        serde_json::json!({ "version": 1, "lineage": "other", "stack": STACK, "env": ENV });
    fs::write(journal_path(&path), format!("{header}\n")).expect("journal");
    assert!(matches!(
        read(&path),
        Err(StateError::ForeignJournal { .. })
    ));
}

#[test]
fn intent_without_a_result_survives_a_crash_and_clears_when_recorded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    let config = Attrs::new()
        .with("name", "airflow-dev")
        .with("cidr_block", "10.0.0.0/16");
    let mut store = open(&path);
    store
        .record_intent(&addr("main"), intent(config.clone()))
        .expect("intent");
    drop(store); // killed while the create call was in flight

    let mut store = open(&path);
    let pending = store.state().pending.get(&addr("main")).cloned();
    assert_eq!(pending.map(|i| i.config), Some(config));
    store
        .record_resource(resource("main", "10.0.0.0/16"))
        .expect("adopted");
    assert!(store.state().pending.is_empty());
    store
        .record_intent(&addr("other"), intent(Attrs::new()))
        .expect("intent");
    store.clear_intent(&addr("other")).expect("clear");
    store.close().expect("close");
    let state = read_state(&path);
    assert!(state.pending.is_empty());
    assert!(state.resources.contains_key(&addr("main")));
}

#[test]
fn second_open_fails_at_once_naming_the_holder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    let holder = open(&path);
    let error = match StateStore::open_with_key(&path, STACK, ENV, "destroy", None) {
        Err(e) => e,
        Ok(_) => panic!("a second open must fail while the lock is held"),
    };
    let StateError::Locked {
        holder: Some(info),
        expires_at: None,
        ..
    } = &error
    else {
        panic!("expected a lock error naming a live holder, got {error}");
    };
    assert_eq!(info.pid, std::process::id());
    assert_eq!(info.operation, "apply");
    let message = error.to_string();
    let pid = info.pid.to_string();
    for part in [
        info.owner.as_str(),
        &info.host,
        &info.created_at,
        &pid,
        "apply",
        "still running",
        "--lock-timeout",
    ] {
        assert!(
            message.contains(part),
            "`{message}` does not mention {part}"
        );
    }
    drop(holder);
    open(&path).close().expect("the lock is released on drop");
}

#[test]
fn lock_left_by_a_process_that_is_gone_is_taken_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    // What a killed run leaves: the lock file, with no process holding its flock.
    let info = LockInfo {
        owner: "ci".to_owned(),
        pid: 4_000_000,
        host: gethostname::gethostname().to_string_lossy().into_owned(),
        created_at: "2026-01-01T00:00:00Z".to_owned(),
        operation: "apply".to_owned(),
        run_id: "dead-run".to_owned(),
        expires_at: None,
    };
    fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    fs::write(
        lock::lock_path(&path),
        serde_json::to_vec(&info).expect("json"),
    )
    .expect("lock");
    let store = open(&path);
    assert_eq!(store.taken_over(), Some(&info));
    let held: LockInfo =
        serde_json::from_slice(&fs::read(lock::lock_path(&path)).expect("lock")).expect("info");
    assert_eq!(held.pid, std::process::id(), "the lock now names this run");
    store.close().expect("close");
    assert!(!lock::lock_path(&path).exists());
}

#[test]
fn lock_timeout_waits_for_the_holder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    let holder = open(&path);
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        holder.close().expect("close");
    });
    let options = LockOptions {
        operation: "apply".to_owned(),
        lock: true,
        timeout: std::time::Duration::from_secs(10),
    };
    let store = StateStore::open_at(&Location::Local(path.clone()), STACK, ENV, &options)
        .expect("the lock is taken once its holder lets go");
    assert_eq!(
        store.taken_over(),
        None,
        "a released lock is not a takeover"
    );
    releaser.join().expect("releaser");
}

#[test]
fn force_unlock_refuses_a_live_holder_unless_forced_and_the_old_holder_does_not_take_it_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    let location = Location::Local(path.clone());
    assert_eq!(
        force_unlock(&location, false).expect("nothing to unlock"),
        None
    );
    let stuck = open(&path);
    let refused = force_unlock(&location, false).expect_err("a live holder is refused");
    assert!(
        matches!(&refused, StateError::HolderAlive { holder: Some(h), .. } if h.pid == std::process::id()),
        "{refused}"
    );
    assert!(refused.to_string().contains("still alive"), "{refused}");
    let removed = force_unlock(&location, true)
        .expect("forced")
        .expect("there was a lock");
    assert!(removed.was_alive);
    assert_eq!(removed.holder.map(|i| i.pid), Some(std::process::id()));
    let new_holder = open(&path);
    drop(stuck);
    assert!(
        matches!(
            StateStore::open_with_key(&path, STACK, ENV, "apply", None),
            Err(StateError::Locked { .. })
        ),
        "dropping the old holder must not remove the new holder's lock"
    );
    drop(new_holder);
    assert!(!lock::lock_path(&path).exists());
}

#[cfg(unix)]
#[test]
fn every_state_file_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    let mut store = open(&path);
    store
        .record_resource(resource("a", "10.0.0.0/16"))
        .expect("record");
    store.checkpoint().expect("first snapshot");
    store
        .record_resource(resource("b", "10.1.0.0/16"))
        .expect("record");
    store.checkpoint().expect("second snapshot, first backup");
    store
        .record_resource(resource("c", "10.2.0.0/16"))
        .expect("journal");
    let files = [
        path.clone(),
        journal_path(&path),
        fsio::sibling(&path, "backup"),
        key_path(&path),
        lock::lock_path(&path),
    ];
    for file in &files {
        let mode = fs::metadata(file).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o600), "{}", file.display());
    }
    drop(store);
}

/// Every byte of every file in `dir`.
fn all_bytes(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fs::read_dir(dir)
        .expect("dir")
        .map(|entry| {
            let path = entry.expect("entry").path();
            let bytes = fs::read(&path).expect("read");
            (path, bytes)
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn secrets_never_reach_any_file_yet_changes_are_detected() {
    const SECRET: &str = "hunter2-airflow-db-password";
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    let secret = Value::from(SECRET).sensitive();
    let nested = Value::Map(BTreeMap::from([("password".to_owned(), secret.clone())]));
    let desired = Attrs::new()
        .with("master_password", secret.clone())
        .with("connection", nested.clone())
        .with("identifier", "airflow");

    let mut store = open(&path);
    let unredacted = ResourceState {
        addr: ResourceAddr::new("aws_db_instance", "metadata"),
        provider: "aws".to_owned(),
        attrs: desired.clone(),
        dependencies: vec![],
        fingerprints: Default::default(),
    };
    let refused = store
        .record_resource(unredacted.clone())
        .expect_err("secret must be refused");
    assert!(!refused.to_string().contains(SECRET));
    assert!(
        refused.to_string().contains("master_password")
            || refused.to_string().contains("connection.password")
    );
    let outputs = BTreeMap::from([("db_password".to_owned(), secret.clone())]);
    assert!(store.set_outputs(outputs.clone()).is_err());
    assert!(
        store
            .record_intent(&unredacted.addr, intent(desired.clone()))
            .is_err()
    );

    let redacted = store.hasher().redact_attrs(&desired);
    store
        .record_intent(&unredacted.addr, intent(redacted.clone()))
        .expect("intent");
    store
        .record_resource(ResourceState {
            attrs: redacted.clone(),
            ..unredacted.clone()
        })
        .expect("record");
    let redacted_outputs = outputs
        .iter()
        .map(|(k, v)| (k.clone(), store.hasher().redact(v)))
        .collect();
    store.set_outputs(redacted_outputs).expect("outputs");
    store.checkpoint().expect("snapshot");
    store
        .record_resource(ResourceState {
            attrs: redacted,
            ..unredacted
        })
        .expect("journal again");
    let files = all_bytes(path.parent().expect("parent"));
    assert!(
        files.len() >= 4,
        "snapshot, journal, key and lock: {files:?}"
    );
    for (file, bytes) in &files {
        assert!(
            !contains(bytes, SECRET.as_bytes()),
            "{} holds the secret",
            file.display()
        );
    }
    drop(store);

    // A new run loads the key from the key file: the same secret still matches.
    let store = open(&path);
    let recorded =
        &store.state().resources[&ResourceAddr::new("aws_db_instance", "metadata")].attrs;
    let hasher = store.hasher();
    assert!(matches!(
        recorded.0["master_password"],
        Value::SensitiveHash(_)
    ));
    assert!(hasher.same(&secret, &recorded.0["master_password"]));
    assert!(hasher.same(&nested, &recorded.0["connection"]));
    assert!(!hasher.same(
        &Value::from("hunter3").sensitive(),
        &recorded.0["master_password"]
    ));
    assert!(!hasher.same(
        &Value::Map(BTreeMap::from([("password".to_owned(), Value::from("x"))])),
        &recorded.0["connection"]
    ));
    assert!(hasher.same(&Value::from("airflow"), &recorded.0["identifier"]));
    assert!(!hasher.same(&Value::from("airflow2"), &recorded.0["identifier"]));
    drop(store);

    // Another key cannot match the hashes: that is why a wrong key is refused at open.
    let other = SensitiveHasher::from_key([3; 32]);
    assert!(!other.same(&secret, &recorded_password(&path)));
}

fn recorded_password(path: &Path) -> Value {
    read_state(path).resources[&ResourceAddr::new("aws_db_instance", "metadata")]
        .attrs
        .0["master_password"]
        .clone()
}

#[test]
fn same_compares_structure_and_treats_unknown_as_a_change() {
    let hasher = SensitiveHasher::from_key([7; 32]);
    let other = SensitiveHasher::from_key([8; 32]);
    let secret = Value::from("pw").sensitive();
    assert_eq!(
        hasher.redact(&secret),
        hasher.redact(&Value::from("pw").sensitive())
    );
    assert_ne!(
        hasher.redact(&secret),
        other.redact(&secret),
        "the hash depends on the key"
    );
    assert!(
        hasher.same(&hasher.redact(&secret), &secret),
        "either side may hold the hash"
    );
    assert!(
        hasher.same(&Value::from("pw"), &secret),
        "sensitivity itself is not a change"
    );
    let changed = hasher.redact(&Value::from("pw2").sensitive());
    assert!(hasher.same(&hasher.redact(&secret), &hasher.redact(&secret)));
    assert!(
        !hasher.same(&hasher.redact(&secret), &changed),
        "two hashes compare by value"
    );
    assert!(!hasher.same(&Value::Unknown, &Value::Unknown));
    assert!(!hasher.same(&Value::from(vec![1, 2]), &Value::from(vec![1, 2, 3])));
    assert!(hasher.same(&Value::from(vec![1, 2]), &Value::from(vec![1, 2])));
    assert!(hasher.same(&Value::Int(1), &Value::Float(1.0)));
    assert!(!hasher.same(&Value::Int(1), &Value::Float(1.5)));
    let port = Value::Int(5432).sensitive();
    assert!(
        hasher.same(&Value::Float(5432.0), &hasher.redact(&port)),
        "numbers hash by value"
    );
    assert!(!hasher.same(&Value::Float(5432.5), &hasher.redact(&port)));
}

#[test]
fn invalid_keys_are_refused_without_echoing_them() {
    let error =
        SensitiveHasher::parse_key("zz-not-hex-secretish", KEY_ENV_VAR).expect_err("not hex");
    assert!(!error.to_string().contains("secretish"));
    assert!(SensitiveHasher::parse_key("abcd", KEY_ENV_VAR).is_err());
    assert!(SensitiveHasher::parse_key(&"ab".repeat(32), KEY_ENV_VAR).is_ok());
}

#[test]
fn key_from_the_environment_is_used_and_no_key_file_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    let shared = SensitiveHasher::from_key([9; 32]);
    let mut store =
        StateStore::open_with_key(&path, STACK, ENV, "apply", Some(shared.clone())).expect("open");
    let secret = Value::from("pw").sensitive();
    assert_eq!(store.hasher().redact(&secret), shared.redact(&secret));
    store
        .record_resource(resource("a", "10.0.0.0/16"))
        .expect("record");
    store.close().expect("close");
    assert!(!key_path(&path).exists());
}

#[test]
fn unknown_values_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    let mut store = open(&path);
    let mut vpc = resource("a", "10.0.0.0/16");
    vpc.attrs.insert("arn", Value::Unknown);
    assert!(matches!(
        store.record_resource(vpc),
        Err(StateError::UnknownValue { .. })
    ));
}

#[test]
fn another_stack_or_a_future_version_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    let mut store = open(&path);
    store
        .record_resource(resource("a", "10.0.0.0/16"))
        .expect("record");
    store.close().expect("close");
    assert!(matches!(
        StateStore::open_with_key(&path, STACK, "prod", "apply", None),
        Err(StateError::WrongStack { .. })
    ));

    let mut json: serde_json::Value =
        serde_json::from_slice(&fs::read(&path).expect("snapshot")).expect("json");
    json["version"] = serde_json::json!(FORMAT_VERSION + 1);
    fs::write(&path, serde_json::to_vec(&json).expect("json")).expect("write");
    let error = read(&path).expect_err("future version");
    assert!(
        matches!(error, StateError::FutureVersion { found, .. } if found == FORMAT_VERSION + 1)
    );
    assert!(error.to_string().contains("upgrade cairn"));
    assert!(StateStore::open_with_key(&path, STACK, ENV, "apply", None).is_err());
}

#[test]
fn corrupt_files_are_named_with_their_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    fs::write(&path, "{\n  \"version\": 1,\n  \"lineage\": oops\n}").expect("write");
    let error = read(&path).expect_err("corrupt");
    assert!(
        matches!(error, StateError::CorruptSnapshot { line: 3, .. }),
        "{error}"
    );
    assert!(error.to_string().contains(&path.display().to_string()));

    fs::remove_file(&path).expect("remove");
    let mut store = open(&path);
    store
        .record_resource(resource("a", "10.0.0.0/16"))
        .expect("record");
    store
        .record_resource(resource("b", "10.0.0.0/16"))
        .expect("record");
    drop(store);
    let journal = journal_path(&path);
    let text = fs::read_to_string(&journal).expect("journal");
    let mut lines: Vec<&str> = text.lines().collect();
    lines[1] = "not json";
    fs::write(&journal, lines.join("\n") + "\n").expect("write");
    assert!(matches!(
        read(&path),
        Err(StateError::CorruptJournal { line: 2, .. })
    ));
}

#[test]
fn default_path_is_under_the_repository_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().canonicalize().expect("canonical");
    let stack_dir = root.join("stacks").join("airflow");
    fs::create_dir_all(&stack_dir).expect("dirs");
    assert_eq!(
        default_path(&stack_dir, "airflow", "dev").ok(),
        Some(stack_dir.join("state").join("airflow-dev.json"))
    );
    fs::create_dir(root.join(".git")).expect("git");
    assert_eq!(
        default_path(&stack_dir, "airflow", "prod").ok(),
        Some(root.join("state").join("airflow-prod.json"))
    );
}

/// Issue 11: `[stack] name = "../../../../elsewhere/escaped"` and `--env ../../outside/evil`
/// made apply write outside `state/`. The loader rejects such names; the path is checked
/// again where it is made.
#[test]
fn default_path_refuses_names_that_leave_the_state_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().canonicalize().expect("canonical");
    fs::create_dir(root.join(".git")).expect("git");
    for (stack, env) in [
        ("../../../../elsewhere/escaped", "default"),
        ("airflow", "../../outside/evil"),
        ("airflow", "x/y"),
        ("/abs", "dev"),
        ("..", "/x"),
    ] {
        let err = default_path(&root, stack, env).map_err(|e| e.to_string());
        assert!(
            err.as_ref().is_err_and(|m| m.starts_with("could not use ")),
            "{stack} {env}: {err:?}"
        );
    }
}

#[test]
fn snapshots_grow_linearly_with_the_records_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    let mut store = open(&path);
    let n = 1_000;
    for i in 0..n {
        store
            .record_resource(resource(&format!("vpc{i}"), "10.0.0.0/16"))
            .expect("record");
    }
    let stats = store.stats();
    assert_eq!(stats.journal_records, n as u64);
    assert!(
        stats.snapshots >= 1,
        "a snapshot is due once the journal reaches 64 records"
    );
    assert!(
        stats.snapshots <= n as u64 / 64 + 2,
        "{} snapshots for {n} records",
        stats.snapshots
    );
    // Each snapshot rewrites at most as many resources as the journal records it folds in,
    // so snapshot bytes stay within a constant factor of journal bytes.
    let one_record = serde_json::to_vec_pretty(&resource("vpc999", "10.0.0.0/16"))
        .expect("json")
        .len();
    assert!(
        stats.bytes_written <= (n * one_record * 8) as u64,
        "{} bytes written for {n} records of ~{one_record} bytes",
        stats.bytes_written
    );
    let held = store.state().clone();
    drop(store);
    assert_eq!(read_state(&path), held);
}

#[derive(Clone, Debug)]
enum Op {
    Record(usize, i64),
    /// Staged for a group commit, durable only once committed.
    Stage(usize, i64),
    /// Commits the earliest staged record, and with it every one staged.
    Commit,
    Remove(usize),
    Intent(usize),
    ClearIntent(usize),
    Outputs(i64),
    Checkpoint,
    Reopen {
        crash: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..6usize, any::<i64>()).prop_map(|(i, v)| Op::Record(i, v)),
        4 => (0..6usize, any::<i64>()).prop_map(|(i, v)| Op::Stage(i, v)),
        2 => Just(Op::Commit),
        2 => (0..6usize).prop_map(Op::Remove),
        2 => (0..6usize).prop_map(Op::Intent),
        1 => (0..6usize).prop_map(Op::ClearIntent),
        1 => any::<i64>().prop_map(Op::Outputs),
        1 => Just(Op::Checkpoint),
        1 => any::<bool>().prop_map(|crash| Op::Reopen { crash }),
    ]
}

/// What the state must hold, kept without any of the store's machinery.
#[derive(Default)]
struct Model {
    resources: BTreeMap<usize, i64>,
    pending: BTreeMap<usize, ()>,
    outputs: Option<i64>,
}

fn model_resource(i: usize, v: i64) -> ResourceState {
    ResourceState {
        addr: addr(&format!("r{i}")),
        provider: "aws".to_owned(),
        attrs: Attrs::new().with("size", v),
        dependencies: vec![],
        fingerprints: Default::default(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_sequence_reopens_to_the_model(ops in proptest::collection::vec(op(), 1..160)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = state_path(dir.path());
        let mut model = Model::default();
        let mut store = open(&path);
        // Staged records: their tickets, and what they do once committed.
        let mut staged: Vec<(Staged, usize, i64)> = Vec::new();
        for op in ops {
            // Every write commits what was staged before it (a crash drops it instead).
            let flushes = !matches!(op, Op::Stage(..) | Op::Reopen { crash: true });
            if flushes {
                for (_, i, v) in &staged {
                    model.resources.insert(*i, *v);
                    model.pending.remove(i);
                }
            }
            match op {
                Op::Stage(i, v) => {
                    let before = store.state().clone();
                    staged.push((store.stage_resource(model_resource(i, v)).expect("stage"), i, v));
                    prop_assert_eq!(store.state(), &before, "a staged record is not in the state before it is durable");
                }
                Op::Commit => {
                    for (ticket, _, _) in staged.drain(..) {
                        store.commit(ticket).expect("commit");
                    }
                }
                Op::Record(i, v) => {
                    store.record_resource(model_resource(i, v)).expect("record");
                    model.resources.insert(i, v);
                    model.pending.remove(&i);
                }
                Op::Remove(i) => {
                    store.remove_resource(&addr(&format!("r{i}"))).expect("remove");
                    model.resources.remove(&i);
                    model.pending.remove(&i);
                }
                Op::Intent(i) => {
                    store.record_intent(&addr(&format!("r{i}")), intent(Attrs::new().with("n", i as i64))).expect("intent");
                    model.pending.insert(i, ());
                }
                Op::ClearIntent(i) => {
                    store.clear_intent(&addr(&format!("r{i}"))).expect("clear");
                    model.pending.remove(&i);
                }
                Op::Outputs(v) => {
                    store.set_outputs(BTreeMap::from([("n".to_owned(), Value::Int(v))])).expect("outputs");
                    model.outputs = Some(v);
                }
                Op::Checkpoint => store.checkpoint().expect("checkpoint"),
                Op::Reopen { crash } => {
                    let mut held = store.state().clone();
                    if crash {
                        drop(store);
                    } else {
                        store.close().expect("close");
                        for (_, i, v) in &staged {
                            held.resources.insert(addr(&format!("r{i}")), model_resource(*i, *v));
                            held.pending.remove(&addr(&format!("r{i}")));
                        }
                    }
                    staged.clear();
                    store = open(&path);
                    prop_assert_eq!(&store.state().resources, &held.resources);
                    prop_assert_eq!(&store.state().pending, &held.pending);
                    prop_assert!(store.state().serial >= held.serial);
                }
            }
            if flushes {
                for (ticket, _, _) in staged.drain(..) {
                    prop_assert!(store.commit(ticket).is_ok(), "committed with the write after it");
                }
            }
        }
        // Records staged but never committed die with the process.
        let held = store.state().clone();
        drop(store);
        let reopened = read(&path).expect("read");
        let expected_resources: BTreeMap<_, _> = model
            .resources
            .iter()
            .map(|(&i, &v)| (addr(&format!("r{i}")), model_resource(i, v)))
            .collect();
        let pending: Vec<_> = model.pending.keys().map(|i| addr(&format!("r{i}"))).collect();
        match reopened {
            Some(state) => {
                prop_assert_eq!(&state, &held);
                prop_assert_eq!(&state.resources, &expected_resources);
                prop_assert_eq!(state.pending.keys().cloned().collect::<Vec<_>>(), pending);
                prop_assert_eq!(state.outputs.get("n").cloned(), model.outputs.map(Value::Int));
            }
            None => prop_assert!(expected_resources.is_empty() && pending.is_empty()),
        }
    }
}

/// A state with two snapshots (so a backup) and a resource holding a secret's hash.
fn state_with_backup(path: &Path) {
    let mut store = open(path);
    store
        .record_resource(resource("a", "10.0.0.0/16"))
        .expect("record");
    store.checkpoint().expect("first snapshot");
    let mut secret = resource("b", "10.1.0.0/16");
    let hashed = store.hasher().redact(&Value::from("pw").sensitive());
    secret.attrs.insert("password", hashed);
    store.record_resource(secret).expect("record");
    store.close().expect("second snapshot");
    assert!(fsio::sibling(path, "backup").exists());
}

fn refused_untouched(path: &Path) -> StateError {
    let before = fs::read(path).expect("snapshot");
    let error = match StateStore::open_with_key(path, STACK, ENV, "apply", None) {
        Err(e) => e,
        Ok(_) => panic!("a damaged state must be refused"),
    };
    assert!(read(path).is_err(), "reading refuses it too");
    assert_eq!(
        fs::read(path).expect("snapshot"),
        before,
        "never overwritten"
    );
    assert!(
        error
            .to_string()
            .contains(&fsio::sibling(path, "backup").display().to_string()),
        "the message points at the backup: {error}"
    );
    error
}

#[test]
fn truncated_snapshot_is_refused_pointing_at_the_backup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    state_with_backup(&path);
    let bytes = fs::read(&path).expect("snapshot");
    fs::write(&path, &bytes[..bytes.len() / 2]).expect("truncate");
    let error = refused_untouched(&path);
    assert!(
        matches!(error, StateError::CorruptSnapshot { .. }),
        "{error}"
    );
}

#[test]
fn edited_serial_or_checksum_is_refused_pointing_at_the_backup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    state_with_backup(&path);
    let text = fs::read_to_string(&path).expect("snapshot");
    let serial = read_state(&path).serial;
    let edited = text.replacen(
        &format!("\"serial\": {serial}"),
        &format!("\"serial\": {}", serial + 100),
        1,
    );
    assert_ne!(edited, text);
    fs::write(&path, &edited).expect("edit serial");
    let error = refused_untouched(&path);
    assert!(
        matches!(error, StateError::ChecksumMismatch { .. }),
        "{error}"
    );

    let at = text.find("sha256:").expect("checksum") + "sha256:".len();
    let mut bytes = text.into_bytes();
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    fs::write(&path, &bytes).expect("edit checksum");
    let error = refused_untouched(&path);
    assert!(
        matches!(error, StateError::ChecksumMismatch { .. }),
        "{error}"
    );
}

#[test]
fn snapshot_of_another_lineage_is_refused_pointing_at_the_backup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    state_with_backup(&path);
    let other_dir = tempfile::tempdir().expect("tempdir");
    let other = state_path(other_dir.path());
    let mut store = open(&other);
    store
        .record_resource(resource("a", "10.0.0.0/16"))
        .expect("record");
    store.close().expect("close");
    fs::copy(&other, &path).expect("copy another state over");
    let error = refused_untouched(&path);
    assert!(
        matches!(error, StateError::ForeignLineage { .. }),
        "{error}"
    );
}

#[test]
fn missing_or_wrong_key_is_an_error_that_says_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    state_with_backup(&path);
    let wrong = SensitiveHasher::from_key([7; 32]);
    let error = StateStore::open_with_key(&path, STACK, ENV, "apply", Some(wrong))
        .expect_err("a wrong key is refused");
    assert!(matches!(error, StateError::WrongKey { .. }), "{error}");
    assert!(error.to_string().contains(KEY_ENV_VAR), "{error}");

    fs::remove_file(key_path(&path)).expect("lose the key");
    let error = StateStore::open_with_key(&path, STACK, ENV, "apply", None)
        .expect_err("a missing key is refused");
    assert!(matches!(error, StateError::MissingKey { .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains(KEY_ENV_VAR), "{message}");
    assert!(
        message.contains(&key_path(&path).display().to_string()),
        "{message}"
    );
    assert!(
        !key_path(&path).exists(),
        "no new key replaces the lost one"
    );
}

#[test]
fn a_plan_view_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state").join("new.json");
    let view = StateView::read(&Location::Local(path.clone()), STACK, ENV).expect("view");
    assert_eq!(view.state.serial, 0);
    assert!(!dir.path().join("state").exists(), "no folder, lock or key");

    let path = state_path(dir.path());
    let mut store = open(&path);
    store
        .record_intent(&addr("main"), intent(Attrs::new()))
        .expect("intent");
    drop(store);
    let folder = dir.path().join("state");
    let before = all_bytes(&folder);
    let view = StateView::read(&Location::Local(path), STACK, ENV).expect("view");
    assert!(view.state.pending.contains_key(&addr("main")));
    assert_eq!(
        all_bytes(&folder),
        before,
        "nothing written, nothing adopted"
    );
}

#[test]
fn records_staged_together_share_one_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    let mut store = open(&path);
    store
        .record_resource(resource("gone", "10.9.0.0/16"))
        .expect("record");
    let before = store.state().clone();
    let writes = store.stats().journal_writes;
    let a = store
        .stage_intent(&addr("a"), intent(Attrs::new().with("name", "a")))
        .expect("stage intent");
    let b = store
        .stage_resource(resource("b", "10.1.0.0/16"))
        .expect("stage resource");
    let gone = store.stage_removal(&addr("gone"));
    assert_eq!(
        store.state(),
        &before,
        "staged records are not applied before they are durable"
    );
    assert_eq!(
        store.stats().journal_writes,
        writes,
        "staging writes nothing"
    );

    store.commit(b).expect("commit");
    let stats = store.stats();
    assert_eq!(stats.journal_writes, writes + 1, "one write for the three");
    assert_eq!(stats.journal_records, 4);
    store.commit(a).expect("already durable");
    store.commit(gone).expect("already durable");
    assert_eq!(store.stats().journal_writes, writes + 1);

    let held = store.state().clone();
    assert!(held.pending.contains_key(&addr("a")));
    assert!(held.resources.contains_key(&addr("b")));
    assert!(!held.resources.contains_key(&addr("gone")));
    let journal = fs::read_to_string(journal_path(&path)).expect("journal");
    assert_eq!(
        journal.lines().count(),
        3,
        "a header, the single record, and one line for the group:\n{journal}"
    );
    drop(store);
    assert_eq!(read_state(&path), held);
}

#[test]
fn a_crash_before_the_group_write_loses_only_what_was_staged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    let mut store = open(&path);
    store
        .record_resource(resource("a", "10.0.0.0/16"))
        .expect("record");
    let held = store.state().clone();
    let _b = store
        .stage_resource(resource("b", "10.1.0.0/16"))
        .expect("stage");
    let _c = store.stage_removal(&addr("a"));
    drop(store); // killed before anyone waited for b or c
    assert_eq!(read_state(&path), held);
}

#[test]
fn a_failed_group_write_fails_each_of_its_records_and_records_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    let mut store = open(&path);
    let before = store.state().clone();
    let a = store
        .stage_resource(resource("a", "10.0.0.0/16"))
        .expect("stage");
    let b = store
        .stage_resource(resource("b", "10.1.0.0/16"))
        .expect("stage");
    // A directory where the journal goes makes its write fail.
    fs::create_dir_all(journal_path(&path)).expect("block the journal");
    let first = store.commit(a).expect_err("the write fails").to_string();
    let second = store.commit(b).expect_err("the same write").to_string();
    assert_eq!(
        first, second,
        "each record of the group gets the write's error"
    );
    assert!(first.contains("journal"), "{first}");
    assert_eq!(store.state().resources, before.resources);

    fs::remove_dir(journal_path(&path)).expect("unblock");
    store
        .record_resource(resource("c", "10.2.0.0/16"))
        .expect("the next write works");
    let held = store.state().clone();
    drop(store);
    let state = read_state(&path);
    assert_eq!(state, held);
    assert_eq!(
        state.resources.keys().collect::<Vec<_>>(),
        vec![&addr("c")],
        "the failed group is not in the state"
    );
}

/// A crash can stop a group's write at any byte: the state holds exactly the groups whose
/// lines are complete, never part of one, and the next run appends after it.
#[test]
fn group_lines_cut_at_every_byte_replay_to_whole_groups() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    let mut store = open(&path);
    store
        .record_resource(resource("a", "10.0.0.0/16"))
        .expect("record");
    store.checkpoint().expect("snapshot");
    let mut held = vec![store.state().clone()];
    let staged = [
        store
            .stage_intent(&addr("c"), intent(Attrs::new().with("name", "c")))
            .expect("stage"),
        store
            .stage_resource(resource("d", "10.3.0.0/16"))
            .expect("stage"),
    ];
    for ticket in staged {
        store.commit(ticket).expect("commit");
    }
    held.push(store.state().clone());
    let _removal = store.stage_removal(&addr("a"));
    let _e = store
        .stage_resource(resource("e", "10.4.0.0/16"))
        .expect("stage");
    // A plain write commits what was staged before it, in the same group.
    store
        .set_outputs(BTreeMap::from([("n".to_owned(), Value::Int(1))]))
        .expect("outputs");
    held.push(store.state().clone());
    assert_eq!(store.stats().journal_writes, 3);
    drop(store);

    let journal = fs::read(journal_path(&path)).expect("journal");
    let snapshot = fs::read(&path).expect("snapshot");
    let key = fs::read(key_path(&path)).expect("key");
    for cut in 0..=journal.len() {
        let case = tempfile::tempdir().expect("tempdir");
        let case_path = state_path(case.path());
        fs::create_dir_all(case_path.parent().expect("parent")).expect("dir");
        fs::write(&case_path, &snapshot).expect("snapshot");
        fs::write(key_path(&case_path), &key).expect("key");
        fs::write(journal_path(&case_path), &journal[..cut]).expect("journal");
        let complete = journal[..cut].iter().filter(|&&b| b == b'\n').count();
        assert_eq!(
            &read_state(&case_path),
            &held[complete.saturating_sub(1)],
            "journal cut at byte {cut}"
        );
        if cut % 64 != 0 && !journal[..cut].ends_with(b"\n") {
            continue;
        }
        let mut store = open(&case_path);
        store
            .record_resource(resource("f", "10.5.0.0/16"))
            .expect("append after the cut");
        let after = store.state().clone();
        drop(store);
        assert_eq!(read_state(&case_path), after, "append after byte {cut}");
    }

    // A group whose write left a page of zeros is dropped whole, like a torn record.
    let text = String::from_utf8(journal).expect("utf-8");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let last = lines.len() - 1;
    assert!(lines[last].starts_with("{\"group\":"), "{}", lines[last]);
    lines[last] = "\0".repeat(lines[last].len());
    fs::write(journal_path(&path), lines.join("\n") + "\n").expect("garble");
    assert_eq!(read_state(&path), held[1]);
}

#[test]
fn a_journal_from_before_groups_replays_and_a_newer_one_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = state_path(dir.path());
    fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    let header = |version: u32| {
        format!(
            r#"{{"version":{version},"lineage":"6a0c0c2e-1d55-4a52-9d8e-6ad4c1f0a001","stack":"{STACK}","env":"{ENV}"}}"#
        )
    };
    let record = r#"{"serial":1,"op":"clear_intent","address":"aws_vpc.a"}"#;
    let record2 = r#"{"serial":2,"op":"remove","address":"aws_vpc.b"}"#;
    fs::write(
        journal_path(&path),
        format!("{}\n{record}\n{record2}\n", header(1)),
    )
    .expect("write");
    let state = read_state(&path);
    assert_eq!(state.serial, 2, "both version 1 records replay");

    fs::write(journal_path(&path), format!("{}\n{record}\n", header(3))).expect("write");
    let refused = read(&path).expect_err("a newer journal").to_string();
    assert!(refused.contains("version 3"), "{refused}");
}

/// S3 segments: one line each, a record or a group, named by its serial.
#[cfg(feature = "aws")]
#[test]
fn remote_segments_replay_groups_in_order_and_refuse_a_misnamed_one() {
    let base = StateFile::new(STACK, ENV);
    let label = Path::new("s3://bucket/key");
    let changes = [
        journal::Change::Resource {
            resource: resource("a", "10.0.0.0/16"),
        },
        journal::Change::Resource {
            resource: resource("b", "10.1.0.0/16"),
        },
        journal::Change::Remove { address: addr("a") },
    ];
    let refs: Vec<&journal::Change> = changes.iter().collect();
    let group = journal::encode_line(1, &refs[..2]).expect("encode");
    let single = journal::encode_line(2, &refs[2..]).expect("encode");

    let mut state = base.clone();
    let applied = journal::replay_segments(
        label,
        &mut state,
        &[(1, group.clone()), (2, single.clone())],
    )
    .expect("replays");
    assert_eq!(applied, 3);
    assert_eq!(state.serial, 2, "one serial per write");
    assert_eq!(state.resources.keys().collect::<Vec<_>>(), vec![&addr("b")]);

    let mut state = base.clone();
    let gap = journal::replay_segments(label, &mut state, &[(1, group.clone()), (3, single)]);
    assert!(matches!(gap, Err(None)), "a gap: read again");
    let mut state = base;
    assert!(matches!(
        journal::replay_segments(label, &mut state, &[(1, group.clone()), (2, group)]),
        Err(Some(StateError::CorruptJournal { .. }))
    ));
}
