//! How a resource type is written: [`AwsType`] is what a type says about itself (its
//! schema, how to describe one object and turn it into attributes, its create, update
//! and delete calls); [`Typed`] makes it an [`AwsResource`], the object-safe form the
//! provider dispatches to, with everything every type shares:
//! - `read`: describe by id; an object that is gone (or on its way out) is `None`;
//! - `read_many` (a refresh of every object of a type): the type's batch describe
//!   ([`AwsType::describe_many`], one call for many ids), then each id it did not return
//!   described alone, so "gone" and errors are exactly those of `read`;
//! - `create`: the type's create call (sent with [`crate::create::create_once`], which
//!   finds the object after a lost answer), then describe-after-write: wait until the
//!   object is visible and usable, reading "not found" as "not visible yet" during
//!   [`NotFoundGrace`], then the type's follow-up steps, then its attributes;
//! - `update`: the type's calls on the current object, then describe-after-write;
//! - `find` (after an interrupted create): the objects carrying the resource's identity;
//!   more than one is an error, one is adopted once usable (a failed one is not);
//! - `import`: describe by id;
//! - `delete`: the type's preparation and delete call, retried while AWS answers one of
//!   its "busy" codes, done on its "gone" codes, then (for slow deletes) a wait until
//!   describe no longer shows it.
//!
//! A trait with defaults rather than a macro: the type checker sees every type's code,
//! a type overrides a default where AWS differs, and the pattern is read in one place.
//! [`AwsType`] has an associated `Object` (the SDK's description), so it cannot be the
//! dispatched trait object itself: [`Typed`] is the bridge.
//!
//! Also the small rules every `read` shares: keep the recorded order of sets AWS returns
//! unordered, and report an empty collection the configuration never set as unset.
//! A type reads its configuration with [`crate::config::decode_config`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use cairn_provider_core::{
    Attrs, CreateRequest, DeleteRequest, FindRequest, ImportRequest, PlanAdjustments, PlanRequest,
    Progress, ProviderError, ReadRequest, ResourceIdentity, ResourceSchema, UpdateRequest, Value,
};
use futures::StreamExt;

use crate::clients::AwsClients;
use crate::wait::{
    Backoff, Check, NOT_FOUND_GRACE, NotFoundGrace, deadline, poll_until, remaining,
};

/// Whether an object can be used yet.
pub(crate) enum Readiness {
    Ready,
    /// Not yet; the status seen, e.g. `state pending`.
    Waiting(String),
    /// It never will be (AWS's failure reason).
    Failed(ProviderError),
}

/// What one AWS resource type supplies; [`Typed`] does the rest (see the module docs).
#[async_trait]
pub(crate) trait AwsType: Send + Sync + 'static {
    /// The SDK's description of one object.
    type Object: Send + Sync + 'static;
    /// The full type name, e.g. `aws_internet_gateway`.
    const TYPE_NAME: &'static str;
    /// What one object is called in messages, e.g. `internet gateway`.
    const KIND: &'static str;
    /// Error codes of the delete call that mean the object is already gone.
    const GONE: &'static [&'static str];
    /// Attributes AWS never reports (a password, final-snapshot settings, a deletion
    /// window): a create, update or find takes them from the configuration it was given,
    /// a `read` leaves them to the recorded state.
    const CONFIG_ONLY: &'static [&'static str] = &[];
    /// Error codes of the delete call that mean something still uses the object:
    /// retried until the delete timeout.
    const BUSY: &'static [&'static str] = &[];
    /// Whether a delete waits until the object is gone (AWS deletes it in the
    /// background and what depends on it must wait): until describe no longer shows it,
    /// or shows it deleted (see [`AwsType::deletion`]).
    const WAIT_GONE: bool = false;
    /// The attribute that records the object's id, which the default [`AwsType::id`]
    /// reads.
    const ID: &'static str = "id";
    /// How often its waits poll.
    const BACKOFF: Backoff = Backoff {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(10),
    };

    fn schema(&self) -> ResourceSchema;

    /// Plan-time refinement without I/O; see [`cairn_provider_core::Provider::plan`].
    fn plan(&self, _request: PlanRequest<'_>) -> Result<PlanAdjustments, ProviderError> {
        Ok(PlanAdjustments::default())
    }

    /// The id of the object recorded in `state`.
    fn id(&self, state: &Attrs) -> Result<String, ProviderError> {
        state.str(Self::ID)
    }

    /// One object by id; `None` when AWS answers that it does not exist.
    async fn describe(
        &self,
        aws: &AwsClients,
        id: &str,
    ) -> Result<Option<Self::Object>, ProviderError>;

    /// Whether [`AwsType::describe_many`] describes many objects per call, so that a
    /// refresh reads this type in batches.
    const DESCRIBES_MANY: bool = false;

    /// The objects among `wanted` (id and recorded attributes of each) that one call
    /// describes (or one per page, or per chunk of ids the API takes), by id, with
    /// whatever their [`AwsType::attributes`] would otherwise ask for one by one. An id it
    /// leaves out is described alone afterwards, so a batch never decides that an object
    /// is gone, nor an error: filter by the ids where the API allows, and leave out what
    /// the answer does not vouch for. The default describes none.
    async fn describe_many(
        &self,
        _aws: &AwsClients,
        _wanted: &[(&str, &Attrs)],
    ) -> Result<HashMap<String, Self::Object>, ProviderError> {
        Ok(HashMap::new())
    }

    /// False for an object on its way out or that never came up: for cairn it is gone.
    fn is_live(&self, _object: &Self::Object) -> bool {
        true
    }

    /// How a delete is going while describe still shows the object, for the wait of
    /// [`AwsType::WAIT_GONE`]: `Ready` for an object AWS still lists once deleted (a NAT
    /// gateway `deleted`), `Failed` for a delete AWS gave up on.
    fn deletion(&self, _object: &Self::Object) -> Readiness {
        Readiness::Waiting("deleting".to_owned())
    }

    /// Whether the object can be used: what a create waits for, and what an object
    /// found after an interrupted create must reach before it is adopted.
    async fn readiness(&self, _aws: &AwsClients, _object: &Self::Object) -> Readiness {
        Readiness::Ready
    }

    /// The attributes of `object`. `prior` is the recorded or configured attributes
    /// (for orders and values AWS does not return), `None` on import.
    async fn attributes(
        &self,
        aws: &AwsClients,
        object: &Self::Object,
        prior: Option<&Attrs>,
    ) -> Result<Attrs, ProviderError>;

    /// The ids of the live objects carrying this resource's identity (its `cairn:*`
    /// tags, or its name and tags).
    async fn find_ids(
        &self,
        aws: &AwsClients,
        identity: &ResourceIdentity,
        config: &Attrs,
    ) -> Result<Vec<String>, ProviderError>;

    /// Makes the object and returns its id: one call sent with
    /// [`crate::create::create_once`], with [`AwsType::found_id`] as its lookup.
    async fn create(
        &self,
        aws: &AwsClients,
        request: &CreateRequest<'_>,
    ) -> Result<String, ProviderError>;

    /// What a create does once the object is usable (an attachment, rules, attributes
    /// AWS sets one per call). Returns whether it changed anything.
    async fn after_create(
        &self,
        _aws: &AwsClients,
        _object: &Self::Object,
        _id: &str,
        _request: &CreateRequest<'_>,
    ) -> Result<bool, ProviderError> {
        Ok(false)
    }

    /// Brings `current` to `request.desired`.
    async fn update(
        &self,
        aws: &AwsClients,
        current: &Self::Object,
        id: &str,
        request: &UpdateRequest<'_>,
    ) -> Result<(), ProviderError>;

    /// What must happen before the delete call (a detach).
    async fn before_delete(
        &self,
        _aws: &AwsClients,
        _id: &str,
        _request: &DeleteRequest<'_>,
    ) -> Result<(), ProviderError> {
        Ok(())
    }

    /// The delete call, its error mapped by [`crate::error::api_error`]. `state` is what
    /// was recorded (a final snapshot's settings).
    async fn delete_call(
        &self,
        aws: &AwsClients,
        id: &str,
        state: &Attrs,
    ) -> Result<(), ProviderError>;

    /// The id of the one object carrying this resource's identity, if any: the lookup of
    /// a create whose answer was lost.
    async fn found_id(
        &self,
        aws: &AwsClients,
        request: &CreateRequest<'_>,
    ) -> Result<Option<String>, ProviderError> {
        let ids = self.find_ids(aws, request.identity, request.config).await?;
        single_match(Self::KIND, ids)
    }
}

/// How [`Typed::usable`] reads "not found".
enum Grace {
    /// Right after the create: "not visible yet" while the grace lasts.
    Creating(NotFoundGrace),
    /// An object found by identity: gone.
    Found,
}

/// An [`AwsType`] as an [`AwsResource`].
pub(crate) struct Typed<T>(pub T);

impl<T: AwsType> Typed<T> {
    async fn live(&self, aws: &AwsClients, id: &str) -> Result<Option<T::Object>, ProviderError> {
        Ok(self
            .0
            .describe(aws, id)
            .await?
            .filter(|o| self.0.is_live(o)))
    }

    /// One read of a batch: `object` if the batch described it, otherwise described
    /// alone.
    async fn read_described(
        &self,
        aws: &AwsClients,
        state: &Attrs,
        id: Result<String, ProviderError>,
        object: Option<T::Object>,
    ) -> Result<Option<Attrs>, ProviderError> {
        let id = id?;
        let object = match object {
            Some(object) => Some(object),
            None => self.0.describe(aws, &id).await?,
        };
        match object.filter(|o| self.0.is_live(o)) {
            Some(object) => Ok(Some(self.0.attributes(aws, &object, Some(state)).await?)),
            None => Ok(None),
        }
    }

    /// Describe-after-write: the object once visible and usable.
    async fn usable(
        &self,
        aws: &AwsClients,
        id: &str,
        grace: Grace,
        timeout: Duration,
        progress: &Progress,
    ) -> Result<T::Object, ProviderError> {
        poll_until(
            &format!("{} {id} to become usable", T::KIND),
            timeout,
            T::BACKOFF,
            progress,
            || async {
                let Some(object) = self.0.describe(aws, id).await? else {
                    return match grace {
                        Grace::Creating(grace) if grace.tolerates() => {
                            Ok(Check::Waiting("not visible yet".to_owned()))
                        }
                        Grace::Creating(_) => Err(ProviderError::Timeout {
                            what: format!("{} {id} to become visible", T::KIND),
                            elapsed: NOT_FOUND_GRACE,
                            last_seen: "not found".to_owned(),
                        }),
                        Grace::Found => Err(not_found(T::KIND, id)),
                    };
                };
                match self.0.readiness(aws, &object).await {
                    Readiness::Ready => Ok(Check::Done(object)),
                    Readiness::Waiting(status) => Ok(Check::Waiting(status)),
                    Readiness::Failed(error) => Err(error),
                }
            },
        )
        .await
    }

    /// Waits until an existing object is usable again (after an update that EKS or RDS
    /// carries out in the background); gone means gone.
    pub(crate) async fn wait_usable(
        &self,
        aws: &AwsClients,
        id: &str,
        timeout: Duration,
        progress: &Progress,
    ) -> Result<T::Object, ProviderError> {
        self.usable(aws, id, Grace::Found, timeout, progress).await
    }

    async fn current(&self, aws: &AwsClients, id: &str) -> Result<T::Object, ProviderError> {
        self.live(aws, id)
            .await?
            .ok_or_else(|| not_found(T::KIND, id))
    }
}

#[async_trait]
impl<T: AwsType> AwsResource for Typed<T> {
    fn type_name(&self) -> &'static str {
        T::TYPE_NAME
    }

    fn schema(&self) -> ResourceSchema {
        self.0.schema()
    }

    fn plan(&self, request: PlanRequest<'_>) -> Result<PlanAdjustments, ProviderError> {
        self.0.plan(request)
    }

    async fn read(
        &self,
        aws: &AwsClients,
        request: ReadRequest<'_>,
    ) -> Result<Option<Attrs>, ProviderError> {
        let id = self.0.id(request.state)?;
        match self.live(aws, &id).await? {
            Some(object) => Ok(Some(
                self.0.attributes(aws, &object, Some(request.state)).await?,
            )),
            None => Ok(None),
        }
    }

    fn reads_many(&self) -> bool {
        T::DESCRIBES_MANY
    }

    async fn read_many(
        &self,
        aws: &AwsClients,
        reads: &[ReadRequest<'_>],
        parallelism: usize,
    ) -> Vec<Result<Option<Attrs>, ProviderError>> {
        let ids: Vec<Result<String, ProviderError>> =
            reads.iter().map(|r| self.0.id(r.state)).collect();
        let wanted: Vec<(&str, &Attrs)> = ids
            .iter()
            .zip(reads)
            .filter_map(|(id, read)| Some((id.as_ref().ok()?.as_str(), read.state)))
            .collect();
        let mut described = match self.0.describe_many(aws, &wanted).await {
            Ok(described) => described,
            Err(error) => {
                // Described one by one instead, each object gets the answer (or the
                // error) a read of it alone would.
                tracing::debug!(kind = T::KIND, %error, "batch describe failed");
                HashMap::new()
            }
        };
        let objects: Vec<Option<T::Object>> = ids
            .iter()
            .map(|id| id.as_ref().ok().and_then(|id| described.remove(id)))
            .collect();
        let pending: Vec<_> = reads
            .iter()
            .zip(ids)
            .zip(objects)
            .map(|((read, id), object)| self.read_described(aws, read.state, id, object))
            .collect();
        futures::stream::iter(pending)
            .buffered(parallelism.max(1))
            .collect()
            .await
    }

    async fn create(
        &self,
        aws: &AwsClients,
        request: CreateRequest<'_>,
    ) -> Result<Attrs, ProviderError> {
        let id = self.0.create(aws, &request).await?;
        let grace = Grace::Creating(NotFoundGrace::start());
        let mut object = self
            .usable(aws, &id, grace, request.timeout, &request.progress)
            .await?;
        if self.0.after_create(aws, &object, &id, &request).await? {
            object = self.current(aws, &id).await?;
        }
        let attrs = self
            .0
            .attributes(aws, &object, Some(request.config))
            .await?;
        Ok(with_config_only::<T>(attrs, request.config))
    }

    async fn update(
        &self,
        aws: &AwsClients,
        request: UpdateRequest<'_>,
    ) -> Result<Attrs, ProviderError> {
        let id = self.0.id(request.prior)?;
        let current = self.current(aws, &id).await?;
        self.0.update(aws, &current, &id, &request).await?;
        let updated = self.current(aws, &id).await?;
        let attrs = self
            .0
            .attributes(aws, &updated, Some(request.desired))
            .await?;
        Ok(with_config_only::<T>(attrs, request.desired))
    }

    async fn delete(
        &self,
        aws: &AwsClients,
        request: DeleteRequest<'_>,
    ) -> Result<(), ProviderError> {
        let id = self.0.id(request.state)?;
        let deadline = deadline(request.timeout);
        self.0.before_delete(aws, &id, &request).await?;
        poll_until(
            &format!("{} {id} to be deleted", T::KIND),
            remaining(deadline),
            DEPENDENCY_BACKOFF,
            &request.progress,
            || async {
                match self.0.delete_call(aws, &id, request.state).await {
                    Ok(()) => Ok(Check::Done(())),
                    Err(e) if has_code(&e, T::GONE) => Ok(Check::Done(())),
                    Err(e) if has_code(&e, T::BUSY) => Ok(Check::Waiting(e.to_string())),
                    Err(e) => Err(e),
                }
            },
        )
        .await?;
        if T::WAIT_GONE {
            poll_until(
                &format!("{} {id} to be gone", T::KIND),
                remaining(deadline),
                T::BACKOFF,
                &request.progress,
                || async {
                    let Some(object) = self.0.describe(aws, &id).await? else {
                        return Ok(Check::Done(()));
                    };
                    match self.0.deletion(&object) {
                        Readiness::Ready => Ok(Check::Done(())),
                        Readiness::Waiting(status) => Ok(Check::Waiting(status)),
                        Readiness::Failed(error) => Err(error),
                    }
                },
            )
            .await?;
        }
        Ok(())
    }

    async fn find(
        &self,
        aws: &AwsClients,
        request: FindRequest<'_>,
    ) -> Result<Option<Attrs>, ProviderError> {
        let ids = self
            .0
            .find_ids(aws, request.identity, request.config)
            .await?;
        let Some(id) = single_match(T::KIND, ids)? else {
            return Ok(None);
        };
        // An interrupted create may have left it on its way up: adopt it once usable,
        // as the create would have, or fail with AWS's reason.
        let object = self
            .usable(
                aws,
                &id,
                Grace::Found,
                self.0.schema().timeouts.create,
                &Progress::noop(),
            )
            .await?;
        let attrs = self
            .0
            .attributes(aws, &object, Some(request.config))
            .await?;
        Ok(Some(with_config_only::<T>(attrs, request.config)))
    }

    async fn import(
        &self,
        aws: &AwsClients,
        request: ImportRequest<'_>,
    ) -> Result<Attrs, ProviderError> {
        let object = self.current(aws, request.id).await?;
        self.0.attributes(aws, &object, None).await
    }
}

/// A dependency that blocks a delete (an ENI a load balancer or EKS left behind, a
/// mapped public address, a policy still attached) is released within minutes; no
/// point asking faster.
const DEPENDENCY_BACKOFF: Backoff = Backoff {
    initial: Duration::from_secs(5),
    max: Duration::from_secs(20),
};

/// True if `error` is an API error with one of `codes`.
pub(crate) fn has_code(error: &ProviderError, codes: &[&str]) -> bool {
    matches!(error, ProviderError::Api { code: Some(code), .. } if codes.contains(&code.as_str()))
}

/// The error for an id that names nothing (an import, an update of a vanished object).
pub(crate) fn not_found(kind: &str, id: &str) -> ProviderError {
    ProviderError::Other(format!("{kind} `{id}` does not exist"))
}

/// The only id of an object found by identity; more than one is an error the user must
/// resolve, since adopting either could orphan the other.
pub(crate) fn single_match(what: &str, ids: Vec<String>) -> Result<Option<String>, ProviderError> {
    match ids.len() {
        0 => Ok(None),
        1 => Ok(ids.into_iter().next()),
        n => Err(ProviderError::Other(format!(
            "{n} {what}s carry this resource's cairn tags ({}); delete the extras or import one",
            ids.join(", ")
        ))),
    }
}

/// One AWS resource type. Same contract as [`cairn_provider_core::ResourceClient`], with
/// the SDK clients passed in.
#[async_trait]
pub(crate) trait AwsResource: Send + Sync {
    /// The full type name, e.g. `aws_eks_node_group`.
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> ResourceSchema;
    /// Plan-time refinement without I/O; see [`cairn_provider_core::Provider::plan`].
    fn plan(&self, _request: PlanRequest<'_>) -> Result<PlanAdjustments, ProviderError> {
        Ok(PlanAdjustments::default())
    }
    async fn read(
        &self,
        aws: &AwsClients,
        request: ReadRequest<'_>,
    ) -> Result<Option<Attrs>, ProviderError>;
    /// Whether `read_many` reads in batches; see
    /// [`cairn_provider_core::ResourceClient::reads_many`].
    fn reads_many(&self) -> bool;
    /// [`cairn_provider_core::ResourceClient::read_many`] for this type.
    async fn read_many(
        &self,
        aws: &AwsClients,
        reads: &[ReadRequest<'_>],
        parallelism: usize,
    ) -> Vec<Result<Option<Attrs>, ProviderError>>;
    async fn create(
        &self,
        aws: &AwsClients,
        request: CreateRequest<'_>,
    ) -> Result<Attrs, ProviderError>;
    async fn update(
        &self,
        aws: &AwsClients,
        request: UpdateRequest<'_>,
    ) -> Result<Attrs, ProviderError>;
    async fn delete(
        &self,
        aws: &AwsClients,
        request: DeleteRequest<'_>,
    ) -> Result<(), ProviderError>;
    async fn find(
        &self,
        aws: &AwsClients,
        request: FindRequest<'_>,
    ) -> Result<Option<Attrs>, ProviderError>;
    async fn import(
        &self,
        aws: &AwsClients,
        request: ImportRequest<'_>,
    ) -> Result<Attrs, ProviderError>;
}

/// Orders the items `read` found like the recorded ones, then the rest in the order the
/// API gave them. AWS returns sets (routes, rules, attached policies, subnets) in its own
/// order; keeping the user's order means only a real difference shows as drift.
pub(crate) fn order_like(prior: Option<&Value>, current: Vec<Value>) -> Vec<Value> {
    in_order_of(prior.and_then(Value::as_list).unwrap_or_default(), current)
}

/// [`order_like`] for lists of strings taken from the configuration or a nested object.
pub(crate) fn keep_order(prior: Vec<String>, observed: Vec<String>) -> Vec<String> {
    in_order_of(&prior, observed)
}

fn in_order_of<T: PartialEq>(prior: &[T], current: Vec<T>) -> Vec<T> {
    let mut rest = current;
    let mut ordered = Vec::with_capacity(rest.len());
    for wanted in prior {
        if let Some(at) = rest.iter().position(|item| item == wanted) {
            ordered.push(rest.remove(at));
        }
    }
    ordered.extend(rest);
    ordered
}

/// True if both lists hold the same items, in any order.
pub(crate) fn same_items(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().collect::<BTreeSet<_>>() == b.iter().collect::<BTreeSet<_>>()
}

/// A list attribute read from prior or desired attributes, or from a nested object
/// (`vpc_config.subnet_ids`); anything that is not a list of known strings reads as empty.
pub(crate) fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_list)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A map attribute read back (tags, labels), reported by the rule of
/// [`unless_empty_and_unset`].
pub(crate) fn map_attribute(
    map: BTreeMap<String, String>,
    prior: Option<&Attrs>,
    name: &str,
) -> Value {
    let map = map
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    unless_empty_and_unset(Value::Map(map), prior, name)
}

/// An empty list or map read back for an optional attribute the configuration never
/// set stays unset, so "not written" and "written empty" both match what AWS reports.
pub(crate) fn unless_empty_and_unset(value: Value, prior: Option<&Attrs>, name: &str) -> Value {
    let empty = match &value {
        Value::List(items) => items.is_empty(),
        Value::Map(map) => map.is_empty(),
        _ => false,
    };
    if empty && prior.and_then(|p| p.get(name)).is_none() {
        Value::Null
    } else {
        value
    }
}

/// The name of an object its configuration does not name: `<stack>-<env>-<resource
/// name>`, deterministic so that a re-run finds what an interrupted create made.
pub(crate) fn default_name(identity: &ResourceIdentity) -> String {
    let resource = identity
        .address
        .split_once('.')
        .map_or(identity.address.as_str(), |(_, name)| name);
    format!("{}-{}-{resource}", identity.stack, identity.env)
}

/// `attrs` with `T`'s [`AwsType::CONFIG_ONLY`] attributes taken from `config`.
pub(crate) fn with_config_only<T: AwsType>(mut attrs: Attrs, config: &Attrs) -> Attrs {
    for &name in T::CONFIG_ONLY {
        if let Some(value) = config.get(name) {
            attrs.insert(name, value.clone());
        }
    }
    attrs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_like_keeps_recorded_order_and_appends_new_items() {
        let prior = Value::from(vec!["b", "a", "gone"]);
        let current = vec![Value::from("a"), Value::from("c"), Value::from("b")];
        let ordered = order_like(Some(&prior), current);
        assert_eq!(
            ordered,
            vec![Value::from("b"), Value::from("a"), Value::from("c")]
        );
    }

    #[test]
    fn keep_order_keeps_the_configured_order_of_what_is_still_there() {
        let prior = vec!["b".to_owned(), "a".to_owned()];
        let same = keep_order(prior.clone(), vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(same, prior);
        let other = keep_order(prior, vec!["c".to_owned(), "a".to_owned()]);
        assert_eq!(other, vec!["a".to_owned(), "c".to_owned()]);
    }

    #[test]
    fn an_empty_map_reads_as_null_unless_configured_empty() {
        let unset = Attrs::new();
        assert!(map_attribute(BTreeMap::new(), Some(&unset), "labels").is_null());
        let empty = Attrs::new().with("labels", Value::Map(Default::default()));
        let read = map_attribute(BTreeMap::new(), Some(&empty), "labels");
        assert_eq!(read, Value::Map(Default::default()));
        let one = BTreeMap::from([("a".to_owned(), "b".to_owned())]);
        assert!(map_attribute(one, None, "labels").as_map().is_some());
    }

    #[test]
    fn empty_collections_stay_unset_only_when_never_configured() {
        let unset = Attrs::new();
        let set = Attrs::new().with("tags", Value::Map(Default::default()));
        let empty = Value::Map(Default::default());
        assert_eq!(
            unless_empty_and_unset(empty.clone(), Some(&unset), "tags"),
            Value::Null
        );
        assert_eq!(
            unless_empty_and_unset(empty.clone(), Some(&set), "tags"),
            empty
        );
        assert_eq!(
            unless_empty_and_unset(Value::from(vec!["x"]), None, "tags"),
            Value::from(vec!["x"])
        );
    }
}
