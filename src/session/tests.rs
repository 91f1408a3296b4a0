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
