//! The session drives a plan and its apply; the apply executes what the plan knew.

use std::path::Path;
use std::sync::Arc;

use cairn_provider_core::{AttrSchema, AttrType, Attrs, Value};
use cairn_provider_fake::FakeProvider;

use super::{OpenOptions, Session};
use crate::apply::{ApplyObserver, ApplyOptions};
use crate::plan::{Action, PlanOptions};
use crate::providers::Registry;
use crate::stack::{self, LoadOptions};
use crate::state::LockOptions;

struct Quiet;

impl ApplyObserver for Quiet {
    fn started(&self, _: &crate::addr::ResourceAddr, _: &'static str) {}
    fn progress(&self, _: &crate::addr::ResourceAddr, _: &str) {}
    fn warning(&self, _: &crate::addr::ResourceAddr, _: &str) {}
    fn finished(
        &self,
        _: &crate::addr::ResourceAddr,
        _: Action,
        _: std::time::Duration,
        _: Option<String>,
    ) {
    }
    fn failed(&self, _: &crate::addr::ResourceAddr, _: std::time::Duration) {}
}

fn stack_dir(toml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("stack.toml"), toml).expect("write stack.toml");
    dir
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Plans the stack in `dir` in a session, then swaps the session's stack for `changed`
/// and applies the plan: what the apply sends shows what it took from the plan and what
/// it evaluated from the stack.
fn plan_then_apply_with_another_stack(
    registry: &Registry,
    dir: &Path,
    changed: &str,
    options: &PlanOptions,
) {
    let state = dir.join("state.json");
    let mut session =
        Session::open(registry, OpenOptions::with_state_file(dir, &state)).expect("opens");
    let mut store = session.lock(&LockOptions::new("test")).expect("locks");
    let rt = runtime();
    let plan = rt
        .block_on(session.plan(store.state(), store.hasher(), options))
        .expect("plans");
    let other = stack_dir(changed);
    session.stack =
        stack::load(other.path(), &LoadOptions::default(), registry.schemas()).expect("loads");
    let outcome = rt.block_on(session.apply(
        &mut store,
        &plan,
        ApplyOptions::default(),
        Arc::new(Quiet),
        None,
    ));
    assert!(outcome.is_success(), "{:?}", outcome.failures);
    store.close().expect("closes");
}

#[test]
fn apply_sends_what_the_plan_knew_and_evaluates_only_the_rest() {
    let fake = FakeProvider::new("fake").resource_type("fake_thing");
    let registry = Registry::with_providers(vec![Arc::new(fake.clone())]);
    let stack = |input: &str| {
        format!(
            "[stack]\nname = \"exec\"\n\n[resources.fake_thing.a]\ninput = \"{input}\"\n\n[resources.fake_thing.b]\ninput = \"${{fake_thing.a.id}}\"\n"
        )
    };
    let dir = stack_dir(&stack("planned"));
    let options = PlanOptions::default();
    plan_then_apply_with_another_stack(&registry, dir.path(), &stack("edited"), &options);
    let a = fake.object("fake_thing.a").expect("a created");
    assert_eq!(
        a.get("input"),
        Some(&Value::from("planned")),
        "known at plan time: sent as planned, not evaluated again"
    );
    let b = fake.object("fake_thing.b").expect("b created");
    assert!(a.get("id").is_some());
    assert_eq!(
        b.get("input"),
        a.get("id"),
        "unknown at plan time: evaluated once a existed"
    );
}

#[test]
fn a_provider_configuration_known_at_plan_time_is_the_one_applied() {
    let fake = FakeProvider::new("late")
        .config_attr("endpoint", AttrSchema::required(AttrType::String))
        .resource_type("late_object");
    let registry = Registry::with_providers(vec![Arc::new(fake.clone())]);
    let stack = |endpoint: &str| {
        format!(
            "[stack]\nname = \"exec\"\n\n[providers.late]\nendpoint = \"{endpoint}\"\n\n[resources.late_object.x]\ninput = \"v\"\n"
        )
    };
    let dir = stack_dir(&stack("planned"));
    let options = PlanOptions::default();
    plan_then_apply_with_another_stack(&registry, dir.path(), &stack("edited"), &options);
    assert_eq!(
        fake.configurations(),
        vec![Attrs::new().with("endpoint", "planned")]
    );

    // A destroy (without refresh, so planning configures nothing) is configured from the
    // recorded values the plan evaluated.
    fake.reset_counters();
    let destroy = PlanOptions {
        destroy: true,
        refresh: false,
        ..PlanOptions::default()
    };
    plan_then_apply_with_another_stack(&registry, dir.path(), &stack("edited"), &destroy);
    assert!(fake.addresses().is_empty(), "{:?}", fake.addresses());
    assert_eq!(
        fake.configurations(),
        vec![Attrs::new().with("endpoint", "planned")]
    );
}

const SAVED_STACK: &str = r#"
[stack]
name = "saved"

[variables.greeting]
type = "string"

[variables.password]
type = "string"
sensitive = true

[resources.fake_thing.a]
input = "${var.greeting}"

[resources.fake_thing.secret]
input = "${var.password}"

[resources.fake_thing.b]
input = "${fake_thing.a.id}"
trigger = "${var.greeting}"
"#;

const PASSWORD: &str = "saved-plan-secret-7";

fn open_options(dir: &Path, greeting: &str) -> OpenOptions {
    let mut options = OpenOptions::with_state_file(dir, dir.join("state.json"));
    options.load.vars = vec![
        ("greeting".to_owned(), greeting.to_owned()),
        ("password".to_owned(), PASSWORD.to_owned()),
    ];
    options
}

#[test]
fn a_saved_plan_is_walked_as_saved_with_its_secrets_supplied_again() {
    let fake = FakeProvider::new("fake").resource_type("fake_thing");
    let registry = Registry::with_providers(vec![Arc::new(fake.clone())]);
    let dir = stack_dir(SAVED_STACK);
    let rt = runtime();
    let session = Session::open(&registry, open_options(dir.path(), "hello")).expect("opens");
    let mut store = session.lock(&LockOptions::new("test")).expect("locks");
    let first = rt
        .block_on(session.plan(store.state(), store.hasher(), &PlanOptions::default()))
        .expect("plans");
    let outcome = rt.block_on(session.apply(
        &mut store,
        &first,
        ApplyOptions::default(),
        Arc::new(Quiet),
        None,
    ));
    assert!(outcome.is_success(), "{:?}", outcome.failures);
    store.close().expect("closes");

    // Job 1: a read-only plan of a new greeting, saved.
    let session = Session::open(&registry, open_options(dir.path(), "bonjour")).expect("opens");
    let view = session.read_state().expect("reads");
    let plan = rt
        .block_on(session.plan(&view.state, &view.hasher, &PlanOptions::default()))
        .expect("plans");
    let file = dir.path().join("plan.json");
    session
        .save_plan(&file, &plan, &view, true, &[])
        .expect("saves");
    let text = std::fs::read_to_string(&file).expect("plan file");
    assert!(
        !text.contains(PASSWORD),
        "the secret is in the file:\n{text}"
    );
    assert!(text.contains("bonjour"));

    // Job 2, a new process: walks the saved plan without reading anything first, and
    // sends the secret supplied again.
    fake.reset_counters();
    let saved = super::read_saved(&file).expect("parses");
    let given = open_options(dir.path(), "bonjour");
    let session = Session::open_saved(&registry, &file, &saved, given).expect("opens");
    let mut store = session.lock(&LockOptions::new("test")).expect("locks");
    session
        .check_saved(&store, &file, &saved)
        .expect("still applies");
    let plan = session.saved_plan(&file, &saved).expect("saved plan");
    let outcome = rt.block_on(session.apply(
        &mut store,
        &plan,
        ApplyOptions::default(),
        Arc::new(Quiet),
        None,
    ));
    assert!(outcome.is_success(), "{:?}", outcome.failures);
    store.close().expect("closes");
    assert_eq!(
        fake.calls(cairn_provider_fake::Operation::Read),
        0,
        "no refresh, no second plan"
    );
    let object = |addr: &str| fake.object(addr).expect("exists");
    assert_eq!(
        object("fake_thing.a").get("input"),
        Some(&Value::from("bonjour"))
    );
    assert_eq!(
        object("fake_thing.secret")
            .get("input")
            .and_then(Value::expose),
        Some(serde_json::Value::from(PASSWORD)),
    );
    assert_eq!(
        object("fake_thing.b").get("input"),
        object("fake_thing.a").get("id")
    );
}
