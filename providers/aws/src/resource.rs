//! [`AwsResource`]: what each AWS resource type implements.

use async_trait::async_trait;
use cairn_provider_core::{
    Attrs, CreateRequest, DeleteRequest, FindRequest, ImportRequest, PlanAdjustments,
    PlanRequest, ProviderError, ReadRequest, ResourceSchema, UpdateRequest,
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
    async fn read(&self, aws: &AwsClients, request: ReadRequest<'_>)
    -> Result<Option<Attrs>, ProviderError>;
    async fn create(&self, aws: &AwsClients, request: CreateRequest<'_>)
    -> Result<Attrs, ProviderError>;
    async fn update(&self, aws: &AwsClients, request: UpdateRequest<'_>)
    -> Result<Attrs, ProviderError>;
    async fn delete(&self, aws: &AwsClients, request: DeleteRequest<'_>)
    -> Result<(), ProviderError>;
    async fn find(&self, aws: &AwsClients, request: FindRequest<'_>)
    -> Result<Option<Attrs>, ProviderError>;
    async fn import(&self, aws: &AwsClients, request: ImportRequest<'_>)
    -> Result<Attrs, ProviderError>;
}
