//! IAM Roles for Service Accounts: the compact `irsa = { ... }` form of a role's trust
//! policy.
//!
//! `irsa = { oidc_provider_arn, oidc_issuer_url, service_accounts = ["ns:name"] }`
//! renders the trust policy EKS documents: the cluster's OIDC provider as the federated
//! principal, `sts:AssumeRoleWithWebIdentity`, and `StringEquals` conditions on the
//! token's `sub` (exactly these service accounts) and `aud` (`sts.amazonaws.com`), so a
//! role can be assumed only by the pods it is meant for.

use serde::Deserialize;
use serde_json::json;

use cairn_provider_core::ProviderError;

/// The audience EKS puts in projected service account tokens for AWS STS.
const STS_AUDIENCE: &str = "sts.amazonaws.com";

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Irsa {
    /// ARN of the cluster's `aws_iam_openid_connect_provider`.
    oidc_provider_arn: String,
    /// The cluster's issuer URL; when absent it is read from the provider ARN, whose
    /// last part is the issuer's host and path.
    #[serde(default)]
    oidc_issuer_url: Option<String>,
    /// `namespace:name` of each service account allowed to assume the role.
    service_accounts: Vec<String>,
}

impl Irsa {
    /// The issuer as IAM condition keys name it: host and path, no scheme, no slash at
    /// the end (`oidc.eks.us-east-1.amazonaws.com/id/ABC`).
    fn issuer_host_path(&self) -> Result<String, ProviderError> {
        let raw = match &self.oidc_issuer_url {
            Some(url) => url.as_str(),
            None => self
                .oidc_provider_arn
                .split_once(":oidc-provider/")
                .map(|(_, issuer)| issuer)
                .ok_or_else(|| {
                    ProviderError::invalid(
                        "irsa.oidc_provider_arn",
                        "is not an OIDC provider ARN (arn:aws:iam::<account>:oidc-provider/<issuer>)",
                    )
                })?,
        };
        let trimmed = raw
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .to_owned();
        if trimmed.is_empty() {
            return Err(ProviderError::invalid("irsa.oidc_issuer_url", "is empty"));
        }
        Ok(trimmed)
    }

    fn subjects(&self) -> Result<Vec<String>, ProviderError> {
        if self.service_accounts.is_empty() {
            return Err(ProviderError::invalid(
                "irsa.service_accounts",
                "must name at least one service account",
            ));
        }
        self.service_accounts
            .iter()
            .map(|account| match account.split_once(':') {
                Some((namespace, name))
                    if !namespace.is_empty() && !name.is_empty() && !name.contains(':') =>
                {
                    Ok(format!("system:serviceaccount:{namespace}:{name}"))
                }
                _ => Err(ProviderError::invalid(
                    "irsa.service_accounts",
                    format!("entry `{account}` must be `namespace:name`"),
                )),
            })
            .collect()
    }

    /// The trust policy document.
    pub(super) fn trust_policy(&self) -> Result<serde_json::Value, ProviderError> {
        let issuer = self.issuer_host_path()?;
        let subjects = self.subjects()?;
        // One subject stays a string, as the EKS documentation writes it.
        let subject = match subjects.as_slice() {
            [only] => json!(only),
            _ => json!(subjects),
        };
        Ok(json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": { "Federated": self.oidc_provider_arn },
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        format!("{issuer}:sub"): subject,
                        format!("{issuer}:aud"): STS_AUDIENCE,
                    }
                }
            }]
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "oidc.eks.us-east-1.amazonaws.com/id/5C1B0E2F";

    fn irsa(issuer_url: Option<&str>, accounts: &[&str]) -> Irsa {
        Irsa {
            oidc_provider_arn: format!("arn:aws:iam::123456789012:oidc-provider/{ISSUER}"),
            oidc_issuer_url: issuer_url.map(str::to_owned),
            service_accounts: accounts.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    #[test]
    fn trusts_only_the_named_service_account_through_the_cluster_provider() {
        let policy = irsa(
            Some(&format!("https://{ISSUER}")),
            &["airflow:airflow-worker"],
        )
        .trust_policy()
        .expect("renders");
        let statement = &policy["Statement"][0];
        assert_eq!(statement["Effect"], "Allow");
        assert_eq!(statement["Action"], "sts:AssumeRoleWithWebIdentity");
        assert_eq!(
            statement["Principal"]["Federated"],
            format!("arn:aws:iam::123456789012:oidc-provider/{ISSUER}")
        );
        let conditions = &statement["Condition"]["StringEquals"];
        assert_eq!(
            conditions[format!("{ISSUER}:sub")],
            "system:serviceaccount:airflow:airflow-worker"
        );
        assert_eq!(conditions[format!("{ISSUER}:aud")], "sts.amazonaws.com");
        assert_eq!(conditions.as_object().map(|c| c.len()), Some(2));
    }

    #[test]
    fn the_issuer_comes_from_the_provider_arn_when_not_given() {
        let from_arn = irsa(None, &["airflow:scheduler"])
            .trust_policy()
            .expect("renders");
        let from_url = irsa(Some(&format!("https://{ISSUER}/")), &["airflow:scheduler"])
            .trust_policy()
            .expect("renders");
        assert_eq!(from_arn, from_url);
    }

    #[test]
    fn several_service_accounts_become_a_list_of_subjects() {
        let policy = irsa(None, &["airflow:scheduler", "airflow:webserver"])
            .trust_policy()
            .expect("renders");
        assert_eq!(
            policy["Statement"][0]["Condition"]["StringEquals"][format!("{ISSUER}:sub")],
            json!([
                "system:serviceaccount:airflow:scheduler",
                "system:serviceaccount:airflow:webserver"
            ])
        );
    }

    #[test]
    fn malformed_service_accounts_and_arns_are_refused() {
        assert!(irsa(None, &["airflow-worker"]).trust_policy().is_err());
        assert!(irsa(None, &[":worker"]).trust_policy().is_err());
        assert!(irsa(None, &[]).trust_policy().is_err());
        let mut bad_arn = irsa(None, &["airflow:worker"]);
        bad_arn.oidc_provider_arn = "arn:aws:iam::123456789012:role/x".to_owned();
        assert!(bad_arn.trust_policy().is_err());
    }
}
