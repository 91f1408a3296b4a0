//! `data.aws_caller_identity`: the account and principal the provider runs as.

use async_trait::async_trait;
use cairn_provider_core::{AttrType, Attrs, ProviderError, ResourceSchema};

use super::{AwsDataSource, computed};
use crate::clients::AwsClients;
use crate::error::api_error;

pub(crate) struct CallerIdentity;

#[async_trait]
impl AwsDataSource for CallerIdentity {
    fn type_name(&self) -> &'static str {
        "aws_caller_identity"
    }

    fn schema(&self) -> ResourceSchema {
        ResourceSchema::new("The AWS account and principal cairn runs as (sts:GetCallerIdentity)")
            .attr("id", computed(AttrType::String, "the account id"))
            .attr("account_id", computed(AttrType::String, "the account id"))
            .attr(
                "arn",
                computed(AttrType::String, "ARN of the calling principal"),
            )
            .attr(
                "user_id",
                computed(AttrType::String, "unique id of the calling principal"),
            )
    }

    async fn read(&self, aws: &AwsClients, _config: &Attrs) -> Result<Attrs, ProviderError> {
        let out = aws
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| api_error("sts:GetCallerIdentity", e))?;
        let account = out.account().unwrap_or_default().to_owned();
        Ok(Attrs::new()
            .with("id", account.clone())
            .with("account_id", account)
            .with("arn", out.arn().unwrap_or_default())
            .with("user_id", out.user_id().unwrap_or_default()))
    }
}
