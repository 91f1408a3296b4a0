//! The refresh reads every recorded object of a type its provider reads in batches
//! (`ResourceClient::reads_many`) in one `read_many`, every other object with `read`, at
//! most `--parallelism` at once; what a batch answers counts exactly as reads would:
//! an object it reports gone is planned for creation, drift it reports for an update.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]

#[path = "support/engine.rs"]
#[allow(dead_code)]
mod engine;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use cairn::apply::ApplyOptions;
use cairn::plan::{Action, PlanOptions};
use cairn::providers::Registry;
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, ConfigureRequest, CreateRequest, DeleteRequest, FindRequest,
    ImportRequest, Provider, ProviderError, ProviderSchema, ReadManyRequest, ReadRequest,
    ResourceClient, ResourceSchema, UpdateRequest,
};
use engine::{Run, runtime, stack_dir};

/// A provider whose objects live in memory: `bat_many` reads in batches, `bat_one` not.
#[derive(Clone, Default)]
struct Cloud {
    objects: Arc<Mutex<BTreeMap<String, Attrs>>>,
    /// `read ADDRESS` or `read_many TYPE N`, in the order they were made.
    calls: Arc<Mutex<Vec<String>>>,
    in_flight: Arc<AtomicUsize>,
    most_in_flight: Arc<AtomicUsize>,
}

impl Cloud {
    /// Counts a call in flight for a moment, so that concurrent calls overlap.
    async fn busy(&self) {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }

    fn object(&self, state: &Attrs) -> Option<Attrs> {
        let id = state.str("id").unwrap();
        self.objects.lock().unwrap().get(&id).cloned()
    }
}

#[async_trait]
impl Provider for Cloud {
    fn name(&self) -> &'static str {
        "bat"
    }
    fn schema(&self) -> ProviderSchema {
        let mut schema = ProviderSchema::default();
        for type_name in ["bat_many", "bat_one"] {
            schema.resources.insert(
                type_name.to_owned(),
                ResourceSchema::new("in memory")
                    .attr("input", AttrSchema::optional(AttrType::String)),
            );
        }
        schema
    }
    async fn configure(
        &self,
        _: ConfigureRequest,
    ) -> Result<Arc<dyn ResourceClient>, ProviderError> {
        Ok(Arc::new(self.clone()))
    }
}

#[async_trait]
impl ResourceClient for Cloud {
    async fn read(&self, r: ReadRequest<'_>) -> Result<Option<Attrs>, ProviderError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("read {}", r.identity.address));
        self.busy().await;
        Ok(self.object(r.state))
    }
    fn reads_many(&self, type_name: &str) -> bool {
        type_name == "bat_many"
    }
    async fn read_many(&self, r: ReadManyRequest<'_>) -> Vec<Result<Option<Attrs>, ProviderError>> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("read_many {} {}", r.type_name, r.reads.len()));
        self.busy().await;
        r.reads
            .iter()
            .map(|read| Ok(self.object(read.state)))
            .collect()
    }
    async fn create(&self, r: CreateRequest<'_>) -> Result<Attrs, ProviderError> {
        let attrs = r.config.clone().with("id", r.identity.address.as_str());
        self.objects
            .lock()
            .unwrap()
            .insert(r.identity.address.clone(), attrs.clone());
        Ok(attrs)
    }
    async fn update(&self, r: UpdateRequest<'_>) -> Result<Attrs, ProviderError> {
        let attrs = r.desired.clone().with("id", r.identity.address.as_str());
        self.objects
            .lock()
            .unwrap()
            .insert(r.identity.address.clone(), attrs.clone());
        Ok(attrs)
    }
    async fn delete(&self, r: DeleteRequest<'_>) -> Result<(), ProviderError> {
        self.objects.lock().unwrap().remove(&r.identity.address);
        Ok(())
    }
    async fn find(&self, _: FindRequest<'_>) -> Result<Option<Attrs>, ProviderError> {
        Ok(None)
    }
    async fn import(&self, r: ImportRequest<'_>) -> Result<Attrs, ProviderError> {
        Ok(Attrs::new().with("id", r.id))
    }
}

#[test]
fn a_batching_type_is_read_in_one_call_and_its_answers_count_as_reads() {
    let mut toml = String::from("[stack]\nname = \"batches\"\n");
    for i in 0..4 {
        toml.push_str(&format!("\n[resources.bat_many.m{i}]\ninput = \"x\"\n"));
    }
    for i in 0..3 {
        toml.push_str(&format!("\n[resources.bat_one.o{i}]\ninput = \"x\"\n"));
    }
    let dir = stack_dir(&toml);
    let cloud = Cloud::default();
    let registry = Registry::with_providers(vec![Arc::new(cloud.clone()) as Arc<dyn Provider>]);
    let rt = runtime();
    rt.block_on(async {
        let mut run = Run::open(dir.path(), &registry);
        let plan = run.plan(&PlanOptions::default()).await;
        let outcome = run.apply(&plan, ApplyOptions { parallelism: 4 }).await;
        assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
        run.close();
    });

    // Outside cairn: one batched object deleted, another changed; one single one deleted.
    {
        let mut objects = cloud.objects.lock().unwrap();
        objects.remove("bat_many.m1");
        objects.insert(
            "bat_many.m2".to_owned(),
            Attrs::new()
                .with("id", "bat_many.m2")
                .with("input", "drifted"),
        );
        objects.remove("bat_one.o1");
    }
    cloud.calls.lock().unwrap().clear();

    let plan = rt.block_on(async {
        let run = Run::open(dir.path(), &registry);
        let plan = run
            .plan(&PlanOptions {
                parallelism: 2,
                ..PlanOptions::default()
            })
            .await;
        run.close();
        plan
    });
    let mut calls = cloud.calls.lock().unwrap().clone();
    calls.sort();
    assert_eq!(
        calls,
        [
            "read bat_one.o0",
            "read bat_one.o1",
            "read bat_one.o2",
            "read_many bat_many 4"
        ]
    );
    assert_eq!(
        cloud.most_in_flight.load(Ordering::SeqCst),
        2,
        "reads run concurrently, at most --parallelism at once"
    );
    let actions: BTreeMap<String, Action> = plan
        .changes
        .iter()
        .map(|c| (c.addr.to_string(), c.action))
        .collect();
    let expected = BTreeMap::from([
        ("bat_many.m0".to_owned(), Action::NoOp),
        ("bat_many.m1".to_owned(), Action::Create),
        ("bat_many.m2".to_owned(), Action::Update),
        ("bat_many.m3".to_owned(), Action::NoOp),
        ("bat_one.o0".to_owned(), Action::NoOp),
        ("bat_one.o1".to_owned(), Action::Create),
        ("bat_one.o2".to_owned(), Action::NoOp),
    ]);
    assert_eq!(actions, expected);
}
