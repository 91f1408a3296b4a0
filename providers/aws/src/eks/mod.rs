//! EKS: the control plane (`aws_eks_cluster`), managed node groups
//! (`aws_eks_node_group`) and managed add-ons (`aws_eks_addon`). All wait on the EKS
//! status field; IAM propagation delays on create are absorbed here, since EKS is where a
//! just-created role is first used.

mod addon;
mod cluster;
mod node_group;

#[cfg(test)]
pub(crate) mod capture;

use std::collections::BTreeMap;

use std::time::Duration;

use aws_sdk_eks::types::{Update, UpdateStatus};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use cairn_provider_core::{Progress, ProviderError};

use crate::error::{api_error, error_code};
use crate::resource::{AwsResource, Typed};
use crate::tags::TagChanges;
use crate::wait::{Backoff, Check, poll_until};

pub(crate) fn resources() -> Vec<Box<dyn AwsResource>> {
    vec![
        Box::new(Typed(cluster::Cluster)),
        Box::new(Typed(node_group::NodeGroup)),
        Box::new(Typed(addon::Addon)),
    ]
}

/// How long a create keeps retrying while IAM has not yet propagated a just-created role
/// to EKS; IAM usually converges in seconds, rarely in more than a minute.
const IAM_PROPAGATION: std::time::Duration = std::time::Duration::from_secs(120);

/// True when EKS refused a create because the role it was given is not usable yet: IAM
/// has not propagated the role, its trust policy or its attached policies to EKS. AWS
/// words this several ways, all `InvalidParameterException`; terraform-provider-aws
/// (`eks/cluster.go`) retries the same ones.
fn role_not_ready<E: ProvideErrorMetadata>(err: &E) -> bool {
    if error_code(err) != Some("InvalidParameterException") {
        return false;
    }
    let message = err.message().unwrap_or_default().to_ascii_lowercase();
    message.contains("could not be assumed")
        || message.contains("doesn't have the amazon eks managed policies")
        || message.contains("error in role params")
        || message.contains("iam role's policy must include")
        || (message.contains("role")
            && (message.contains("does not exist")
                || message.contains("cannot be found")
                || message.contains("not authorized")))
}

/// Brings an EKS object's tags from `current` to `wanted` (cairn's own tags included).
async fn sync_tags(
    eks: &aws_sdk_eks::Client,
    arn: &str,
    current: &BTreeMap<String, String>,
    wanted: &BTreeMap<String, String>,
) -> Result<(), ProviderError> {
    let changes = TagChanges::between(current, wanted);
    if !changes.remove.is_empty() {
        eks.untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(changes.remove))
            .send()
            .await
            .map_err(|e| api_error("eks:UntagResource", e))?;
    }
    if !changes.set.is_empty() {
        eks.tag_resource()
            .resource_arn(arn)
            .set_tags(Some(changes.set.into_iter().collect()))
            .send()
            .await
            .map_err(|e| api_error("eks:TagResource", e))?;
    }
    Ok(())
}

/// Waits until the EKS update `update` (of a cluster, or of a node group when
/// `node_group` is given) has succeeded. Every update (version, VPC configuration,
/// logging, scaling, labels) is followed by its id: right after the call EKS still
/// reports the object ACTIVE (the status change is eventually consistent), so a wait on
/// the status would end at once and the next update fail with ResourceInUseException.
async fn wait_update(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    node_group: Option<&str>,
    update: &Update,
    timeout: Duration,
    progress: &Progress,
) -> Result<(), ProviderError> {
    let subject = node_group.map_or(UpdateOf::Cluster, UpdateOf::NodeGroup);
    follow_update(eks, cluster, subject, update, timeout, progress).await
}

/// What an EKS update is about, besides its cluster.
#[derive(Clone, Copy)]
enum UpdateOf<'a> {
    Cluster,
    NodeGroup(&'a str),
    Addon(&'a str),
}

/// [`wait_update`] for an update of any object of `cluster`.
async fn follow_update(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    of: UpdateOf<'_>,
    update: &Update,
    timeout: Duration,
    progress: &Progress,
) -> Result<(), ProviderError> {
    // An update without an id has nothing to follow, and one already Successful (as some
    // answer at once) is done.
    let Some(id) = update.id() else {
        return Ok(());
    };
    if update.status() == Some(&UpdateStatus::Successful) {
        return Ok(());
    }
    let (subject, node_group, addon) = match of {
        UpdateOf::Cluster => (format!("cluster {cluster}"), None, None),
        UpdateOf::NodeGroup(ng) => (format!("node group {cluster}/{ng}"), Some(ng), None),
        UpdateOf::Addon(name) => (format!("add-on {cluster}/{name}"), None, Some(name)),
    };
    let backoff = Backoff {
        initial: Duration::from_secs(10),
        max: Duration::from_secs(60),
    };
    poll_until(
        &format!("EKS update {id} of {subject} to succeed"),
        timeout,
        backoff,
        progress,
        || async {
            let out = eks
                .describe_update()
                .name(cluster)
                .set_nodegroup_name(node_group.map(str::to_owned))
                .set_addon_name(addon.map(str::to_owned))
                .update_id(id)
                .send()
                .await
                .map_err(|e| api_error("eks:DescribeUpdate", e))?;
            let Some(update) = out.update else {
                return Ok(Check::Waiting("update not visible yet".to_owned()));
            };
            match update.status() {
                Some(UpdateStatus::Successful) => Ok(Check::Done(())),
                Some(status @ (UpdateStatus::Failed | UpdateStatus::Cancelled)) => {
                    let errors: Vec<String> = update
                        .errors()
                        .iter()
                        .map(|e| {
                            format!(
                                "{}: {}",
                                e.error_code().map_or("unknown", |c| c.as_str()),
                                e.error_message().unwrap_or_default()
                            )
                        })
                        .collect();
                    Err(ProviderError::Other(format!(
                        "EKS update {id} of {subject} is {}: {}",
                        status.as_str(),
                        if errors.is_empty() {
                            "no error reported".to_owned()
                        } else {
                            errors.join("; ")
                        }
                    )))
                }
                status => Ok(Check::Waiting(format!(
                    "update {}",
                    status.map_or("unknown", UpdateStatus::as_str)
                ))),
            }
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::error::ErrorMetadata;

    fn error(code: &str, message: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).message(message).build()
    }

    #[test]
    fn only_unassumable_roles_are_retried() {
        assert!(role_not_ready(&error(
            "InvalidParameterException",
            "Role with arn: arn:aws:iam::123456789012:role/eks, could not be assumed because it does not exist \
             or the trusted entity is not correct",
        )));
        assert!(role_not_ready(&error(
            "InvalidParameterException",
            "The role with name eks-nodes cannot be found.",
        )));
        assert!(!role_not_ready(&error(
            "InvalidParameterException",
            "Subnets specified must be in at least two different AZs",
        )));
        for message in [
            "The provided role doesn't have the Amazon EKS Managed Policies associated with it. \
             Please ensure the following policy is attached: arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
            "Error in role params",
            "IAM role's policy must include the `ec2:DescribeSubnets` action",
        ] {
            assert!(
                role_not_ready(&error("InvalidParameterException", message)),
                "{message}"
            );
        }
        assert!(!role_not_ready(&error(
            "AccessDeniedException",
            "Role could not be assumed"
        )));
    }
}
