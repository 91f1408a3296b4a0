//! The provider [`Registry`]: every provider this build of cairn knows, by name.
//!
//! This is the only place in the engine that names a concrete provider: the built-in
//! `cairn` provider is always present, `aws` and `kubernetes` are behind the cargo features
//! of the same names. Everything else in the engine reaches providers through this
//! registry and their published schemas; configuring them (which needs a stack's
//! `[providers.X]` block) belongs to `plan/` and `apply/`, which keep the configured
//! clients of one run in [`Clients`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use cairn_provider_core::{
    Attrs, ConfigureRequest, Provider, ProviderError, ProviderSchema, ResourceClient,
    ResourceSchema,
};
use tokio::sync::OnceCell;

use crate::builtin::CairnProvider;

/// Providers by name, with their schemas fetched once.
pub struct Registry {
    providers: BTreeMap<String, Arc<dyn Provider>>,
    schemas: OnceLock<BTreeMap<String, ProviderSchema>>,
}

impl Registry {
    /// The providers compiled into this binary.
    pub fn builtin() -> Self {
        #[allow(unused_mut)]
        let mut providers: Vec<Arc<dyn Provider>> = vec![Arc::new(CairnProvider::new())];
        #[cfg(feature = "aws")]
        providers.push(Arc::new(cairn_provider_aws::AwsProvider::new()));
        #[cfg(feature = "kubernetes")]
        providers.push(Arc::new(
            cairn_provider_kubernetes::KubernetesProvider::new(),
        ));
        Registry::with_providers(providers)
    }

    /// A registry of exactly these providers (tests and benchmarks use fakes).
    pub fn with_providers(providers: Vec<Arc<dyn Provider>>) -> Self {
        Registry {
            providers: providers
                .into_iter()
                .map(|p| (p.name().to_owned(), p))
                .collect(),
            schemas: OnceLock::new(),
        }
    }

    /// The provider called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        self.providers.get(name)
    }

    /// Every provider's schema, keyed by provider name; computed on first use. Data
    /// sources are among the resources, as `data.TYPE` (the type of their addresses).
    pub fn schemas(&self) -> &BTreeMap<String, ProviderSchema> {
        self.schemas.get_or_init(|| {
            self.providers
                .iter()
                .map(|(name, p)| {
                    let mut schema = p.schema();
                    for (type_name, data) in p.data_sources() {
                        schema
                            .resources
                            .insert(format!("{DATA_PREFIX}{type_name}"), data);
                    }
                    (name.clone(), schema)
                })
                .collect()
        })
    }

    /// The schema of one resource type (or `data.TYPE`), found through its provider
    /// prefix.
    pub fn resource_schema(&self, type_name: &str) -> Option<&ResourceSchema> {
        self.schemas()
            .get(provider_of(type_name))?
            .resources
            .get(type_name)
    }
}

/// The type of a data source's address starts with this: `data.aws_vpc`.
pub const DATA_PREFIX: &str = "data.";

/// The provider of a resource or data source type: its prefix up to the first `_`.
pub fn provider_of(type_name: &str) -> &str {
    let type_name = type_name.strip_prefix(DATA_PREFIX).unwrap_or(type_name);
    type_name.split_once('_').map_or(type_name, |(p, _)| p)
}

type ClientCell = Arc<OnceCell<Arc<dyn ResourceClient>>>;

/// The providers configured in one run. Each is configured at most once: by the plan's
/// refresh when its configuration is known from state, otherwise by the apply as soon as
/// the resources its configuration references exist.
pub struct Clients {
    stack: String,
    env: String,
    // A std mutex guards only the map; the configure call itself awaits on the cell, so
    // concurrent first uses of one provider configure it once.
    cells: Mutex<HashMap<String, ClientCell>>,
}

impl Clients {
    /// No provider configured yet, for one run on `stack` and `env`.
    pub fn new(stack: &str, env: &str) -> Self {
        Clients {
            stack: stack.to_owned(),
            env: env.to_owned(),
            cells: Mutex::new(HashMap::new()),
        }
    }

    fn cell(&self, name: &str) -> ClientCell {
        let mut cells = self
            .cells
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(cells.entry(name.to_owned()).or_default())
    }

    /// The client of `name` if it is configured already.
    pub fn get(&self, name: &str) -> Option<Arc<dyn ResourceClient>> {
        self.cell(name).get().cloned()
    }

    /// The client of `name`, configured from `config` unless it already is.
    pub async fn configure(
        &self,
        registry: &Registry,
        name: &str,
        config: Attrs,
    ) -> Result<Arc<dyn ResourceClient>, ProviderError> {
        let provider = registry.get(name).ok_or_else(|| {
            ProviderError::Config(format!("no provider named `{name}` in this build of cairn"))
        })?;
        let request = ConfigureRequest {
            config,
            stack: self.stack.clone(),
            env: self.env.clone(),
        };
        let cell = self.cell(name);
        cell.get_or_try_init(|| provider.configure(request))
            .await
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_registry_always_has_cairn_data() {
        let registry = Registry::builtin();
        assert!(registry.get("cairn").is_some());
        let schema = registry.resource_schema("cairn_data");
        assert!(schema.is_some_and(|s| s.attributes.contains_key("triggers_replace")));
        assert!(registry.resource_schema("cairn_nothing").is_none());
        assert!(registry.resource_schema("nope_thing").is_none());
    }
}
