//! The moto server as the AWS peer of the integration tests.
//!
//! One server per test binary, started on first use on a free loopback port. Tests reach
//! it exactly as cairn reaches AWS: through the SDK's standard `AWS_ENDPOINT_URL`, so no
//! provider code knows about the emulator. Tests in one binary share the server: name
//! objects uniquely (env = test name) and find them by their tags.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]
#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers: a failed call fails the test that made it, naming the call"
)]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_config::BehaviorVersion;
use cairn_moto::Moto;
use cairn_provider_aws::AwsProvider;
use cairn_provider_core::{
    Attrs, ConfigureRequest, CreateRequest, DeleteRequest, FindRequest, ImportRequest, Progress,
    Provider, ProviderError, ReadRequest, ResourceClient, ResourceIdentity, UpdateRequest, Value,
};

static MOTO: OnceLock<Moto> = OnceLock::new();

/// Starts (once per test binary) the shared `cairn-moto` server and points this process's
/// environment at it (before any SDK client is built): `AWS_ENDPOINT_URL`,
/// `AWS_REGION=us-east-1`, dummy static credentials. The server ends with the process.
/// Panics with a clear message if it cannot start.
pub fn moto() -> &'static Moto {
    MOTO.get_or_init(|| {
        let moto = Moto::start();
        // SAFETY: this runs inside `OnceLock::get_or_init`, before any SDK configuration is
        // loaded: every helper that builds a client calls `moto()` first, and concurrent
        // callers block on the lock until these writes are done.
        unsafe {
            for (name, value) in moto.child_env() {
                std::env::set_var(name, value);
            }
            for name in Moto::CHILD_ENV_REMOVED {
                std::env::remove_var(name);
            }
        }
        moto
    })
}

/// An `AwsProvider` configured against moto, for stack "test" and the given env.
pub async fn aws_client(env: &str) -> Arc<dyn ResourceClient> {
    moto();
    AwsProvider::new()
        .configure(ConfigureRequest {
            config: Attrs::new().with("region", "us-east-1"),
            stack: "test".to_owned(),
            env: env.to_owned(),
        })
        .await
        .unwrap_or_else(|e| panic!("configuring the aws provider against moto: {e}"))
}

/// SDK configuration for checking objects directly with SDK clients.
/// Loaded from this process's environment, as cairn loads it, which [`moto`] points at
/// the server.
pub async fn sdk_config() -> aws_config::SdkConfig {
    moto();
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// The identity of `address` in stack "test" and the given env.
pub fn identity(env: &str, address: &str) -> ResourceIdentity {
    ResourceIdentity {
        stack: "test".to_owned(),
        env: env.to_owned(),
        address: address.to_owned(),
    }
}

/// How long a test lets one provider call wait (moto answers at once).
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// One resource of one test, driven through the provider exactly as the engine drives
/// it. Panics on provider errors, naming the call.
pub struct TestResource {
    pub client: Arc<dyn ResourceClient>,
    pub type_name: String,
    pub identity: ResourceIdentity,
    /// The timeout given to create, update and delete.
    pub timeout: Duration,
}

impl TestResource {
    /// `address` is `TYPE.NAME`; the env is the test's own.
    pub async fn new(env: &str, address: &str) -> TestResource {
        let identity = identity(env, address);
        TestResource {
            client: aws_client(env).await,
            type_name: identity.resource_type().to_owned(),
            identity,
            timeout: CALL_TIMEOUT,
        }
    }

    /// The same resource with another call timeout.
    pub fn with_timeout(self, timeout: Duration) -> TestResource {
        TestResource { timeout, ..self }
    }

    pub async fn create(&self, config: &Attrs) -> Attrs {
        self.try_create(config)
            .await
            .unwrap_or_else(|e| panic!("create {}: {e}", self.identity.address))
    }

    pub async fn try_create(&self, config: &Attrs) -> Result<Attrs, ProviderError> {
        self.client
            .create(CreateRequest {
                type_name: &self.type_name,
                identity: &self.identity,
                config,
                timeout: self.timeout,
                progress: Progress::noop(),
            })
            .await
    }

    pub async fn read(&self, state: &Attrs) -> Option<Attrs> {
        self.client
            .read(ReadRequest {
                type_name: &self.type_name,
                identity: &self.identity,
                state,
            })
            .await
            .unwrap_or_else(|e| panic!("read {}: {e}", self.identity.address))
    }

    /// A read as the engine's refresh uses it: what the provider cannot observe (a
    /// password, a deletion setting) keeps its recorded value.
    pub async fn refresh(&self, state: &Attrs) -> Option<Attrs> {
        let mut read = self.read(state).await?;
        for (name, value) in &state.0 {
            read.0.entry(name.clone()).or_insert_with(|| value.clone());
        }
        Some(read)
    }

    /// Updates in place; `changed` is every top-level attribute that differs.
    pub async fn update(&self, prior: &Attrs, desired: &Attrs) -> Attrs {
        let changed: std::collections::BTreeSet<&str> = prior
            .0
            .keys()
            .chain(desired.0.keys())
            .filter(|k| prior.get(k) != desired.get(k))
            .map(String::as_str)
            .collect();
        self.update_changed(prior, desired, &changed.into_iter().collect::<Vec<_>>())
            .await
    }

    /// Updates in place, naming the changed attributes as the engine would.
    pub async fn update_changed(&self, prior: &Attrs, desired: &Attrs, changed: &[&str]) -> Attrs {
        let changed: Vec<String> = changed.iter().map(|c| (*c).to_owned()).collect();
        self.client
            .update(UpdateRequest {
                type_name: &self.type_name,
                identity: &self.identity,
                prior,
                desired,
                changed: &changed,
                timeout: self.timeout,
                progress: Progress::noop(),
            })
            .await
            .unwrap_or_else(|e| panic!("update {}: {e}", self.identity.address))
    }

    pub async fn delete(&self, state: &Attrs) {
        self.client
            .delete(DeleteRequest {
                type_name: &self.type_name,
                identity: &self.identity,
                state,
                timeout: self.timeout,
                progress: Progress::noop(),
            })
            .await
            .unwrap_or_else(|e| panic!("delete {}: {e}", self.identity.address))
    }

    pub async fn find(&self, config: &Attrs) -> Option<Attrs> {
        self.client
            .find(FindRequest {
                type_name: &self.type_name,
                identity: &self.identity,
                config,
            })
            .await
            .unwrap_or_else(|e| panic!("find {}: {e}", self.identity.address))
    }

    pub async fn import(&self, id: &str) -> Attrs {
        self.client
            .import(ImportRequest {
                type_name: &self.type_name,
                identity: &self.identity,
                id,
            })
            .await
            .unwrap_or_else(|e| panic!("import {}: {e}", self.identity.address))
    }
}

/// The value of a string attribute, or a panic naming it.
pub fn text(attrs: &Attrs, name: &str) -> String {
    attrs
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("attribute {name} missing in {attrs:?}"))
        .to_owned()
}

/// A string map value, e.g. for `tags`.
pub fn string_map(entries: &[(&str, &str)]) -> Value {
    Value::Map(
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
            .collect(),
    )
}

/// A value written as a JSON literal (tables, lists of tables), as a stack would give it.
pub fn json(value: serde_json::Value) -> Value {
    Value::from_json(value)
}

/// What the engine's plan would find between the configuration and the attributes a
/// refresh reported ([`TestResource::refresh`]): the settable attributes whose configured value differs from the one
/// read, and the optional ones left unset that the read reports set (drift). Empty
/// means `plan` after `apply` says "No changes" and a second apply calls nothing.
pub fn changes(type_name: &str, config: &Attrs, read: &Attrs) -> Vec<String> {
    use cairn_provider_core::Mode;
    let schema = AwsProvider::new().schema();
    let resource = schema
        .resources
        .get(type_name)
        .unwrap_or_else(|| panic!("no schema for {type_name}"));
    resource
        .attributes
        .iter()
        .filter(|(_, attr)| attr.is_settable())
        .filter(|(name, attr)| match (config.get(name), read.get(name)) {
            (Some(wanted), Some(actual)) => !same_value(wanted, actual),
            (Some(_), None) => true,
            (None, Some(_)) => attr.mode == Mode::Optional,
            (None, None) => false,
        })
        .map(|(name, _)| format!("{name}: {:?} -> {:?}", read.get(name), config.get(name)))
        .collect()
}

/// Equality as the plan sees it: sensitive wrappers ignored.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Sensitive(a), b) | (b, Value::Sensitive(a)) => same_value(a, b),
        (Value::List(a), Value::List(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_value(a, b))
        }
        (Value::Map(a), Value::Map(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, v)| b.get(k).is_some_and(|w| same_value(v, w)))
        }
        (a, b) => a == b,
    }
}
