//! Everything in a moto account that carries a stack's `cairn:stack` tag, found through
//! the AWS SDK service by service (there is no cross-service tag search in moto), and the
//! SDK clients the tests check single objects with.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_ec2::types::{Filter, NatGatewayState};

/// One AWS object and its tags.
#[derive(Debug, Clone)]
pub struct Tagged {
    /// What kind of object, e.g. `ec2 subnet`, `iam role`.
    pub kind: &'static str,
    /// Its id, name or ARN.
    pub id: String,
    pub tags: BTreeMap<String, String>,
}

impl Tagged {
    pub fn address(&self) -> Option<&str> {
        self.tags.get("cairn:address").map(String::as_str)
    }
}

/// SDK clients for every service the AWS provider uses.
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub iam: aws_sdk_iam::Client,
    pub eks: aws_sdk_eks::Client,
    pub rds: aws_sdk_rds::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
}

impl Clients {
    pub fn new(config: &SdkConfig) -> Clients {
        Clients {
            ec2: aws_sdk_ec2::Client::new(config),
            iam: aws_sdk_iam::Client::new(config),
            eks: aws_sdk_eks::Client::new(config),
            rds: aws_sdk_rds::Client::new(config),
            secrets: aws_sdk_secretsmanager::Client::new(config),
        }
    }

    /// Every live object tagged `cairn:stack=<stack>`: EC2 VPCs, subnets, internet and NAT
    /// gateways (moto keeps deleted NAT gateways listed as `deleted`: those are gone),
    /// Elastic IPs, route tables, security groups; IAM roles and OIDC providers; EKS
    /// clusters and node groups; RDS instances, subnet and parameter groups; Secrets
    /// Manager secrets, including those only scheduled for deletion.
    pub async fn tagged_with_stack(&self, stack: &str) -> Vec<Tagged> {
        let mut all = Vec::new();
        all.extend(self.ec2_objects(stack).await);
        all.extend(self.iam_objects().await);
        all.extend(self.eks_objects().await);
        all.extend(self.rds_objects().await);
        all.extend(self.secrets().await);
        all.retain(|o| o.tags.get("cairn:stack").map(String::as_str) == Some(stack));
        all
    }

    async fn ec2_objects(&self, stack: &str) -> Vec<Tagged> {
        let by_stack = || {
            Filter::builder()
                .name("tag:cairn:stack")
                .values(stack)
                .build()
        };
        let ec2 = &self.ec2;
        let mut all = Vec::new();
        let out = ec2
            .describe_vpcs()
            .filters(by_stack())
            .send()
            .await
            .expect("DescribeVpcs");
        for o in out.vpcs() {
            all.push(ec2_tagged("ec2 vpc", o.vpc_id(), o.tags()));
        }
        let out = ec2
            .describe_subnets()
            .filters(by_stack())
            .send()
            .await
            .expect("DescribeSubnets");
        for o in out.subnets() {
            all.push(ec2_tagged("ec2 subnet", o.subnet_id(), o.tags()));
        }
        let out = ec2
            .describe_internet_gateways()
            .filters(by_stack())
            .send()
            .await
            .expect("DescribeInternetGateways");
        for o in out.internet_gateways() {
            all.push(ec2_tagged(
                "ec2 internet gateway",
                o.internet_gateway_id(),
                o.tags(),
            ));
        }
        let out = ec2
            .describe_nat_gateways()
            .filter(by_stack())
            .send()
            .await
            .expect("DescribeNatGateways");
        for o in out.nat_gateways() {
            if o.state() != Some(&NatGatewayState::Deleted) {
                all.push(ec2_tagged("ec2 nat gateway", o.nat_gateway_id(), o.tags()));
            }
        }
        let out = ec2
            .describe_addresses()
            .filters(by_stack())
            .send()
            .await
            .expect("DescribeAddresses");
        for o in out.addresses() {
            all.push(ec2_tagged("ec2 elastic ip", o.allocation_id(), o.tags()));
        }
        let out = ec2
            .describe_route_tables()
            .filters(by_stack())
            .send()
            .await
            .expect("DescribeRouteTables");
        for o in out.route_tables() {
            all.push(ec2_tagged("ec2 route table", o.route_table_id(), o.tags()));
        }
        let out = ec2
            .describe_security_groups()
            .filters(by_stack())
            .send()
            .await
            .expect("DescribeSecurityGroups");
        for o in out.security_groups() {
            all.push(ec2_tagged("ec2 security group", o.group_id(), o.tags()));
        }
        all
    }

    async fn iam_objects(&self) -> Vec<Tagged> {
        let iam = &self.iam;
        let mut all = Vec::new();
        let roles = iam
            .list_roles()
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .expect("ListRoles");
        for role in roles {
            let tags = iam
                .list_role_tags()
                .role_name(role.role_name())
                .send()
                .await
                .expect("ListRoleTags");
            all.push(Tagged {
                kind: "iam role",
                id: role.role_name().to_owned(),
                tags: tags
                    .tags()
                    .iter()
                    .map(|t| (t.key().to_owned(), t.value().to_owned()))
                    .collect(),
            });
        }
        let providers = iam
            .list_open_id_connect_providers()
            .send()
            .await
            .expect("ListOpenIDConnectProviders");
        for provider in providers.open_id_connect_provider_list() {
            let arn = provider.arn().unwrap_or_default();
            let tags = iam
                .list_open_id_connect_provider_tags()
                .open_id_connect_provider_arn(arn)
                .send()
                .await
                .expect("ListOpenIDConnectProviderTags");
            all.push(Tagged {
                kind: "iam oidc provider",
                id: arn.to_owned(),
                tags: tags
                    .tags()
                    .iter()
                    .map(|t| (t.key().to_owned(), t.value().to_owned()))
                    .collect(),
            });
        }
        all
    }

    async fn eks_objects(&self) -> Vec<Tagged> {
        let eks = &self.eks;
        let mut all = Vec::new();
        let clusters = eks.list_clusters().send().await.expect("EKS ListClusters");
        for name in clusters.clusters() {
            let cluster = eks
                .describe_cluster()
                .name(name)
                .send()
                .await
                .expect("EKS DescribeCluster");
            let tags = cluster
                .cluster()
                .and_then(|c| c.tags())
                .cloned()
                .unwrap_or_default();
            all.push(Tagged {
                kind: "eks cluster",
                id: name.clone(),
                tags: tags.into_iter().collect(),
            });
            let groups = eks
                .list_nodegroups()
                .cluster_name(name)
                .send()
                .await
                .expect("EKS ListNodegroups");
            for group in groups.nodegroups() {
                let described = eks
                    .describe_nodegroup()
                    .cluster_name(name)
                    .nodegroup_name(group)
                    .send()
                    .await
                    .expect("EKS DescribeNodegroup");
                let tags = described
                    .nodegroup()
                    .and_then(|g| g.tags())
                    .cloned()
                    .unwrap_or_default();
                all.push(Tagged {
                    kind: "eks node group",
                    id: format!("{name}/{group}"),
                    tags: tags.into_iter().collect(),
                });
            }
        }
        all
    }

    async fn rds_objects(&self) -> Vec<Tagged> {
        let rds = &self.rds;
        let mut arns: Vec<(&'static str, String)> = Vec::new();
        let instances = rds
            .describe_db_instances()
            .send()
            .await
            .expect("DescribeDBInstances");
        for instance in instances.db_instances() {
            arns.push((
                "rds db instance",
                instance.db_instance_arn().unwrap_or_default().to_owned(),
            ));
        }
        let groups = rds
            .describe_db_subnet_groups()
            .send()
            .await
            .expect("DescribeDBSubnetGroups");
        for group in groups.db_subnet_groups() {
            arns.push((
                "rds db subnet group",
                group.db_subnet_group_arn().unwrap_or_default().to_owned(),
            ));
        }
        let groups = rds
            .describe_db_parameter_groups()
            .send()
            .await
            .expect("DescribeDBParameterGroups");
        for group in groups.db_parameter_groups() {
            arns.push((
                "rds db parameter group",
                group
                    .db_parameter_group_arn()
                    .unwrap_or_default()
                    .to_owned(),
            ));
        }
        let mut all = Vec::new();
        for (kind, arn) in arns {
            let tags = rds
                .list_tags_for_resource()
                .resource_name(&arn)
                .send()
                .await
                .unwrap_or_else(|e| panic!("RDS ListTagsForResource {arn}: {e:?}"));
            all.push(Tagged {
                kind,
                id: arn,
                tags: tags
                    .tag_list()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
                    .collect(),
            });
        }
        all
    }

    async fn secrets(&self) -> Vec<Tagged> {
        let pages = self
            .secrets
            .list_secrets()
            .include_planned_deletion(true)
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .expect("Secrets Manager ListSecrets");
        pages
            .iter()
            .flat_map(|page| page.secret_list())
            .map(|s| Tagged {
                kind: "secretsmanager secret",
                id: s.name().unwrap_or_default().to_owned(),
                tags: s
                    .tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
                    .collect(),
            })
            .collect()
    }

    /// The one object tagged `cairn:address=<address>` among `objects`.
    pub fn by_address<'o>(objects: &'o [Tagged], address: &str) -> &'o Tagged {
        let found: Vec<&Tagged> = objects
            .iter()
            .filter(|o| o.address() == Some(address))
            .collect();
        match found.as_slice() {
            [one] => one,
            _ => panic!(
                "expected exactly one AWS object tagged cairn:address={address}, found {found:#?}"
            ),
        }
    }

    /// The value of a secret, read back from Secrets Manager.
    pub async fn secret_value(&self, name: &str) -> String {
        self.secrets
            .get_secret_value()
            .secret_id(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GetSecretValue {name}: {e:?}"))
            .secret_string()
            .unwrap_or_else(|| panic!("secret {name} has no string value"))
            .to_owned()
    }
}

fn ec2_tagged(kind: &'static str, id: Option<&str>, tags: &[aws_sdk_ec2::types::Tag]) -> Tagged {
    Tagged {
        kind,
        id: id.unwrap_or_default().to_owned(),
        tags: tags
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
            .collect(),
    }
}

/// Asserts that every address in `addresses` is on exactly one object, tagged with the
/// stack, the environment and that address.
pub fn assert_tagged(objects: &[Tagged], stack: &str, env: &str, addresses: &[String]) {
    for address in addresses {
        let object = Clients::by_address(objects, address);
        assert_eq!(
            object.tags.get("cairn:stack").map(String::as_str),
            Some(stack),
            "{address}: {object:?}"
        );
        assert_eq!(
            object.tags.get("cairn:env").map(String::as_str),
            Some(env),
            "{address}: {object:?}"
        );
    }
}

/// Asserts that nothing tagged with the stack is left, naming what is.
pub async fn assert_nothing_left(clients: &Clients, stack: &str) {
    let left = clients.tagged_with_stack(stack).await;
    assert!(
        left.is_empty(),
        "objects tagged cairn:stack={stack} are left after destroy:\n{left:#?}"
    );
}
