//! [`AwsResource`]: what each AWS resource type implements.
//!
//! Also the small rules every `read` shares: keep the recorded order of sets AWS returns
//! unordered, and report an empty collection the configuration never set as unset.

use async_trait::async_trait;
use cairn_provider_core::{
    Attrs, CreateRequest, DeleteRequest, FindRequest, ImportRequest, PlanAdjustments, PlanRequest,
    ProviderError, ReadRequest, ResourceSchema, UpdateRequest, Value,
};

use crate::clients::AwsClients;

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
/// API gave them. AWS returns sets (routes, rules, attached policies) in its own order;
/// keeping the user's order means only a real difference shows as drift.
pub(crate) fn order_like(prior: Option<&Value>, current: Vec<Value>) -> Vec<Value> {
    let prior = prior.and_then(Value::as_list).unwrap_or_default();
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
