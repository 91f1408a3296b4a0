//! The built-in `cairn` provider and its one resource type, `cairn_data`.
//!
//! `cairn_data` holds a value in state: `input` (anything, optional) is copied to the
//! computed `output`, and a change to `triggers_replace` replaces it (a new `id`). It does
//! no I/O, which makes it the engine's own test subject and a way to name intermediate
//! values in a stack. Planning and state bookkeeping are the engine's; this module only
//! answers the provider calls.
//!
//! # Testing hooks
//! Debug builds only (`cfg(debug_assertions)`; release binaries never read them), so the
//! CLI tests can exercise failure handling without a cloud:
//! - `CAIRN_TEST_FAIL_ON=<address>[,<address>...]`: create and update of those resources
//!   fail at once with a provider API error.
//! - `CAIRN_TEST_DELAY_MS=<n>`: every other create, update and delete sleeps `n`
//!   milliseconds first, so a test can order a failure before work still in flight.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cairn_provider_core::{
    AttrSchema, AttrType, Attrs, ConfigureRequest, CreateRequest, DeleteRequest, FindRequest,
    ImportRequest, PlanAdjustments, PlanRequest, Provider, ProviderError, ProviderSchema,
    ReadRequest, ResourceClient, ResourceIdentity, ResourceSchema, UpdateRequest, Value,
};

/// The `cairn` provider.
#[derive(Debug, Default)]
pub struct CairnProvider;

impl CairnProvider {
    /// The provider; it holds nothing.
    pub fn new() -> Self {
        CairnProvider
    }
}

/// The schema of `cairn_data`.
fn data_schema() -> ResourceSchema {
    ResourceSchema::new("A value kept in state: `output` mirrors `input`.")
        .attr(
            "input",
            AttrSchema::optional(AttrType::Any).describe("Any value; copied to `output`."),
        )
        .attr(
            "triggers_replace",
            AttrSchema::optional(AttrType::Any)
                .force_new()
                .describe("Any value; a change replaces the resource."),
        )
        .attr(
            "output",
            AttrSchema::computed(AttrType::Any).describe("The value of `input`."),
        )
}

#[async_trait]
impl Provider for CairnProvider {
    fn name(&self) -> &'static str {
        "cairn"
    }

    fn schema(&self) -> ProviderSchema {
        let mut schema = ProviderSchema::default();
        schema
            .resources
            .insert("cairn_data".to_owned(), data_schema());
        schema
    }

    fn plan(&self, request: PlanRequest<'_>) -> Result<PlanAdjustments, ProviderError> {
        let mut adjustments = PlanAdjustments::default();
        if request.type_name == "cairn_data" {
            let input = request.desired.get("input").cloned().unwrap_or_default();
            if !input.contains_unknown() {
                adjustments
                    .known_computed
                    .insert("output".to_owned(), input);
            }
        }
        Ok(adjustments)
    }

    async fn configure(
        &self,
        _request: ConfigureRequest,
    ) -> Result<Arc<dyn ResourceClient>, ProviderError> {
        Ok(Arc::new(CairnClient::from_environment()))
    }
}

/// The configured `cairn` provider.
#[derive(Debug, Default)]
struct CairnClient {
    /// Addresses whose create and update fail (testing hook).
    fail_on: BTreeSet<String>,
    /// Sleep before each create and update (testing hook).
    delay: Option<Duration>,
}

impl CairnClient {
    #[cfg(debug_assertions)]
    fn from_environment() -> Self {
        let fail_on = std::env::var("CAIRN_TEST_FAIL_ON")
            .map(|list| {
                list.split(',')
                    .map(|a| a.trim().to_owned())
                    .filter(|a| !a.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let delay = std::env::var("CAIRN_TEST_DELAY_MS")
            .ok()
            .and_then(|ms| ms.parse().ok())
            .map(Duration::from_millis);
        CairnClient { fail_on, delay }
    }

    #[cfg(not(debug_assertions))]
    fn from_environment() -> Self {
        CairnClient::default()
    }

    async fn before_change(
        &self,
        identity: &ResourceIdentity,
        operation: &str,
    ) -> Result<(), ProviderError> {
        if self.fail_on.contains(&identity.address) {
            return Err(ProviderError::api(
                format!("cairn:{operation}"),
                Some("InjectedFault".to_owned()),
                "failure injected by CAIRN_TEST_FAIL_ON",
            ));
        }
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        Ok(())
    }
}

fn check_type(type_name: &str) -> Result<(), ProviderError> {
    if type_name == "cairn_data" {
        Ok(())
    } else {
        Err(ProviderError::UnsupportedType(type_name.to_owned()))
    }
}

/// The full attributes of a `cairn_data` with this id and configuration.
fn data_attrs(id: Value, config: &Attrs) -> Attrs {
    let mut attrs = config.clone();
    attrs.insert("output", config.get("input").cloned().unwrap_or_default());
    attrs.insert("id", id);
    attrs
}

#[async_trait]
impl ResourceClient for CairnClient {
    async fn read(&self, request: ReadRequest<'_>) -> Result<Option<Attrs>, ProviderError> {
        check_type(request.type_name)?;
        Ok(Some(request.state.clone()))
    }

    async fn create(&self, request: CreateRequest<'_>) -> Result<Attrs, ProviderError> {
        check_type(request.type_name)?;
        self.before_change(request.identity, "create").await?;
        Ok(data_attrs(
            Value::from(uuid::Uuid::new_v4().to_string()),
            request.config,
        ))
    }

    async fn update(&self, request: UpdateRequest<'_>) -> Result<Attrs, ProviderError> {
        check_type(request.type_name)?;
        self.before_change(request.identity, "update").await?;
        let id = request.prior.get("id").cloned().unwrap_or_default();
        Ok(data_attrs(id, request.desired))
    }

    async fn delete(&self, request: DeleteRequest<'_>) -> Result<(), ProviderError> {
        check_type(request.type_name)?;
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        Ok(())
    }

    async fn find(&self, request: FindRequest<'_>) -> Result<Option<Attrs>, ProviderError> {
        // Nothing outside cairn's state exists, so an interrupted create left nothing to adopt.
        check_type(request.type_name)?;
        Ok(None)
    }

    async fn import(&self, request: ImportRequest<'_>) -> Result<Attrs, ProviderError> {
        check_type(request.type_name)?;
        Ok(Attrs::new().with("id", request.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> ResourceIdentity {
        ResourceIdentity {
            stack: "s".into(),
            env: "default".into(),
            address: "cairn_data.a".into(),
        }
    }

    #[test]
    fn plan_knows_output_only_when_input_is_known() {
        let provider = CairnProvider::new();
        let known = Attrs::new().with("input", "x");
        let adjustments = provider
            .plan(PlanRequest {
                type_name: "cairn_data",
                prior: None,
                desired: &known,
            })
            .unwrap_or_default();
        assert_eq!(
            adjustments.known_computed.get("output"),
            Some(&Value::from("x"))
        );
        let unknown = Attrs::new().with("input", Value::Unknown);
        let adjustments = provider
            .plan(PlanRequest {
                type_name: "cairn_data",
                prior: None,
                desired: &unknown,
            })
            .unwrap_or_default();
        assert!(adjustments.known_computed.is_empty());
    }

    #[tokio::test]
    async fn create_copies_input_and_update_keeps_the_id() {
        let client = CairnClient::default();
        let identity = identity();
        let config = Attrs::new().with("input", "v1");
        let created = client
            .create(CreateRequest {
                type_name: "cairn_data",
                identity: &identity,
                config: &config,
                timeout: Duration::from_secs(1),
                progress: cairn_provider_core::Progress::noop(),
            })
            .await;
        let created = created.unwrap_or_default();
        assert_eq!(created.get("output"), Some(&Value::from("v1")));
        assert!(created.get("id").is_some());
        let desired = Attrs::new().with("input", "v2");
        let updated = client
            .update(UpdateRequest {
                type_name: "cairn_data",
                identity: &identity,
                prior: &created,
                desired: &desired,
                changed: &["input".to_owned()],
                timeout: Duration::from_secs(1),
                progress: cairn_provider_core::Progress::noop(),
            })
            .await
            .unwrap_or_default();
        assert_eq!(updated.get("id"), created.get("id"));
        assert_eq!(updated.get("output"), Some(&Value::from("v2")));
    }

    #[tokio::test]
    async fn injected_faults_name_the_operation() {
        let client = CairnClient {
            fail_on: BTreeSet::from(["cairn_data.a".to_owned()]),
            delay: None,
        };
        let result = client.before_change(&identity(), "create").await;
        let message = result.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("cairn:create"), "{message}");
    }
}
