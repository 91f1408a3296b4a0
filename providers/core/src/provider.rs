//! The [`Provider`] and [`ResourceClient`] traits and their request types.
//!
//! # Contract
//! - Attributes given to a provider use the schema's names. Desired attributes
//!   (`config`, `desired`) hold no [`Value::Unknown`] and no [`Value::SensitiveHash`]: the
//!   engine resolves every reference first. Sensitive values arrive wrapped in
//!   [`Value::Sensitive`]; read them with [`Value::expose`] or the [`Attrs`] accessors.
//! - Prior attributes (`state`, `prior`) come from cairn's state: sensitive ones are only
//!   hashes. Use them for identifiers, never to resend a secret.
//! - A returned [`Attrs`] is the resource's full attributes after the call: the inputs as
//!   applied plus everything computed, including `id`. [`ResourceClient::read`] may leave
//!   out attributes it cannot observe (e.g. a password): the engine keeps the prior value.
//! - Objects are tagged with [`ResourceIdentity::tags`] wherever the API allows tags, so
//!   [`ResourceClient::find`] can adopt an object whose create was interrupted.
//! - Waits honour `timeout` and report through `progress`.
//! - A refresh reads every recorded object once: with [`ResourceClient::read`], or, for
//!   the types [`ResourceClient::reads_many`] names, all of a type in one
//!   [`ResourceClient::read_many`] that describes many ids per API call. Either way the
//!   answer for one object is the same.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::{Attrs, Progress, ProviderError, ProviderSchema, ResourceSchema, Value};

/// Where a resource belongs: the stack, the environment and its address in the stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceIdentity {
    /// The stack's name (`[stack] name`).
    pub stack: String,
    /// The environment (`--env`, `default` without one).
    pub env: String,
    /// `TYPE.NAME`, e.g. `aws_eks_cluster.main`.
    pub address: String,
}

impl ResourceIdentity {
    /// The tags cairn puts on every object it creates: `cairn:stack`, `cairn:env`,
    /// `cairn:address`.
    pub fn tags(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("cairn:stack".to_owned(), self.stack.clone()),
            ("cairn:env".to_owned(), self.env.clone()),
            ("cairn:address".to_owned(), self.address.clone()),
        ])
    }

    /// The resource type: the part of the address before the first dot.
    pub fn resource_type(&self) -> &str {
        self.address
            .split_once('.')
            .map_or(self.address.as_str(), |(t, _)| t)
    }
}

/// A provider before configuration: everything here works offline.
#[async_trait]
pub trait Provider: Send + Sync {
    /// The name used in stack files (`[providers.aws]`) and as the prefix of its resource
    /// types (`aws_vpc`).
    fn name(&self) -> &'static str;

    /// The provider's published schema. Called once; the engine caches it.
    fn schema(&self) -> ProviderSchema;

    /// The data sources it offers (`[data.TYPE.NAME]` in a stack), by full type name:
    /// their arguments are `Required`/`Optional` attributes, what a read returns
    /// `Computed` ones (sensitive ones marked so). The default offers none.
    fn data_sources(&self) -> BTreeMap<String, ResourceSchema> {
        BTreeMap::new()
    }

    /// Plan-time refinement of one resource's change, beyond what the schema says.
    /// The default adds nothing. Must not do I/O: plans run offline.
    fn plan(&self, _request: PlanRequest<'_>) -> Result<PlanAdjustments, ProviderError> {
        Ok(PlanAdjustments::default())
    }

    /// Builds a client from the `[providers.NAME]` block, resolved. The engine calls this
    /// once per run, as soon as every value in the block is known, which for a block that
    /// references a resource (e.g. the Kubernetes provider pointing at an EKS cluster) is
    /// in the middle of an apply, after that resource exists.
    async fn configure(
        &self,
        request: ConfigureRequest,
    ) -> Result<Arc<dyn ResourceClient>, ProviderError>;
}

/// The input of [`Provider::configure`].
#[derive(Clone, Debug)]
pub struct ConfigureRequest {
    /// The resolved `[providers.NAME]` block.
    pub config: Attrs,
    /// The stack's name.
    pub stack: String,
    /// The environment.
    pub env: String,
}

/// The input of [`Provider::plan`].
#[derive(Clone, Copy, Debug)]
pub struct PlanRequest<'a> {
    /// The resource type, e.g. `aws_vpc`.
    pub type_name: &'a str,
    /// Recorded attributes, `None` for a create.
    pub prior: Option<&'a Attrs>,
    /// The desired attributes; may contain [`Value::Unknown`].
    pub desired: &'a Attrs,
}

/// What [`Provider::plan`] adds to the engine's schema-driven diff.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlanAdjustments {
    /// Attribute paths (`manifest.metadata.name`) whose change forces a replacement,
    /// in addition to the schema's `force_new` attributes.
    pub requires_replace: Vec<String>,
    /// Computed attributes already known at plan time (e.g. `cairn_data.output`).
    pub known_computed: BTreeMap<String, Value>,
}

/// A configured provider: the calls that touch real infrastructure.
#[async_trait]
pub trait ResourceClient: Send + Sync {
    /// Reads the real object. `Ok(None)` means it no longer exists.
    async fn read(&self, request: ReadRequest<'_>) -> Result<Option<Attrs>, ProviderError>;

    /// Whether [`ResourceClient::read_many`] reads objects of `type_name` in fewer API
    /// calls than one [`ResourceClient::read`] each (one describe call for many ids). The
    /// engine's refresh then hands it every recorded object of that type at once; for
    /// other types it calls `read` per object. The default batches nothing. Must not do
    /// I/O.
    fn reads_many(&self, _type_name: &str) -> bool {
        false
    }

    /// Reads several recorded objects of one type: for each of `request.reads`, in the
    /// same order, exactly what [`ResourceClient::read`] would return for it (`Ok(None)`
    /// for an object that no longer exists, and the same errors). A batch call that does
    /// not return an object proves nothing about it (a filter, a page, a permission):
    /// an implementation reads such an object alone before calling it gone. Calls it
    /// makes per object run at most `request.parallelism` at once. The default reads
    /// them one after another with `read`.
    async fn read_many(
        &self,
        request: ReadManyRequest<'_>,
    ) -> Vec<Result<Option<Attrs>, ProviderError>> {
        let mut results = Vec::with_capacity(request.reads.len());
        for read in request.reads {
            results.push(self.read(*read).await);
        }
        results
    }

    /// Creates the object and waits until it is usable.
    async fn create(&self, request: CreateRequest<'_>) -> Result<Attrs, ProviderError>;

    /// Changes the attributes named in `changed` in place and waits until done.
    async fn update(&self, request: UpdateRequest<'_>) -> Result<Attrs, ProviderError>;

    /// Deletes the object and waits until it is really gone. Deleting an object that is
    /// already gone is a success.
    async fn delete(&self, request: DeleteRequest<'_>) -> Result<(), ProviderError>;

    /// Finds an object this resource created in an apply that was interrupted before the
    /// result was recorded: by the identity tags, or by the deterministic name in
    /// `config`. `Ok(None)` if there is none.
    async fn find(&self, request: FindRequest<'_>) -> Result<Option<Attrs>, ProviderError>;

    /// Reads an existing object by its id, to bring it under cairn's management.
    async fn import(&self, request: ImportRequest<'_>) -> Result<Attrs, ProviderError>;

    /// Reads a data source: every argument and every attribute it returns. Called when
    /// planning, each time; never creates or changes anything. A data source that finds
    /// nothing is an error that says what was looked for.
    async fn read_data(&self, request: ReadDataRequest<'_>) -> Result<Attrs, ProviderError> {
        Err(ProviderError::UnsupportedType(request.type_name.to_owned()))
    }
}

/// The input of [`ResourceClient::read_data`].
#[derive(Clone, Copy, Debug)]
pub struct ReadDataRequest<'a> {
    /// The data source type, e.g. `aws_vpc` (without `data.`).
    pub type_name: &'a str,
    /// The arguments, fully known.
    pub config: &'a Attrs,
}

/// The input of [`ResourceClient::read`].
#[derive(Clone, Copy, Debug)]
pub struct ReadRequest<'a> {
    /// The resource type, e.g. `aws_vpc`.
    pub type_name: &'a str,
    /// Where the resource belongs.
    pub identity: &'a ResourceIdentity,
    /// Recorded attributes (sensitive ones are hashes).
    pub state: &'a Attrs,
}

/// The input of [`ResourceClient::read_many`].
#[derive(Clone, Copy, Debug)]
pub struct ReadManyRequest<'a> {
    /// The resource type of every read, e.g. `aws_subnet`.
    pub type_name: &'a str,
    /// The objects to read, all of `type_name`.
    pub reads: &'a [ReadRequest<'a>],
    /// How many calls the batch may have in flight at once (`--parallelism`).
    pub parallelism: usize,
}

/// The input of [`ResourceClient::create`].
#[derive(Clone, Debug)]
pub struct CreateRequest<'a> {
    /// The resource type, e.g. `aws_vpc`.
    pub type_name: &'a str,
    /// Where the resource belongs; its tags go on the object.
    pub identity: &'a ResourceIdentity,
    /// Desired attributes, fully known.
    pub config: &'a Attrs,
    /// How long the create, its waits included, may take.
    pub timeout: Duration,
    /// Where to report what a long wait is waiting for.
    pub progress: Progress,
}

/// The input of [`ResourceClient::update`].
#[derive(Clone, Debug)]
pub struct UpdateRequest<'a> {
    /// The resource type, e.g. `aws_vpc`.
    pub type_name: &'a str,
    /// Where the resource belongs.
    pub identity: &'a ResourceIdentity,
    /// Recorded attributes (sensitive ones are hashes).
    pub prior: &'a Attrs,
    /// Desired attributes, fully known.
    pub desired: &'a Attrs,
    /// Top-level names of the attributes that differ.
    pub changed: &'a [String],
    /// How long the update, its waits included, may take.
    pub timeout: Duration,
    /// Where to report what a long wait is waiting for.
    pub progress: Progress,
}

/// The input of [`ResourceClient::delete`].
#[derive(Clone, Debug)]
pub struct DeleteRequest<'a> {
    /// The resource type, e.g. `aws_vpc`.
    pub type_name: &'a str,
    /// Where the resource belongs.
    pub identity: &'a ResourceIdentity,
    /// Recorded attributes (sensitive ones are hashes).
    pub state: &'a Attrs,
    /// How long the delete, until the object is gone, may take.
    pub timeout: Duration,
    /// Where to report what a long wait is waiting for.
    pub progress: Progress,
}

/// The input of [`ResourceClient::find`].
#[derive(Clone, Copy, Debug)]
pub struct FindRequest<'a> {
    /// The resource type, e.g. `aws_vpc`.
    pub type_name: &'a str,
    /// Where the resource belongs; its tags find the object.
    pub identity: &'a ResourceIdentity,
    /// The desired attributes the interrupted create was called with.
    pub config: &'a Attrs,
}

/// The input of [`ResourceClient::import`].
#[derive(Clone, Copy, Debug)]
pub struct ImportRequest<'a> {
    /// The resource type, e.g. `aws_vpc`.
    pub type_name: &'a str,
    /// Where the resource will belong.
    pub identity: &'a ResourceIdentity,
    /// The object's id in the remote API.
    pub id: &'a str,
}
