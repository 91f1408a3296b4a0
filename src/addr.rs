//! [`ResourceAddr`]: the `TYPE.NAME` address of a resource in a stack.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// `TYPE.NAME`, e.g. `aws_eks_node_group.workers`. The provider is the type's prefix up to
/// the first underscore (`aws`, `kubernetes`, `cairn`), as in Terraform.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ResourceAddr {
    /// The resource type, e.g. `aws_eks_node_group`.
    pub type_name: String,
    /// The resource's name in the stack, e.g. `workers`.
    pub name: String,
}

impl ResourceAddr {
    /// The address `TYPE.NAME`.
    pub fn new(type_name: impl Into<String>, name: impl Into<String>) -> Self {
        ResourceAddr {
            type_name: type_name.into(),
            name: name.into(),
        }
    }

    /// The provider that implements this resource type.
    pub fn provider(&self) -> &str {
        self.type_name
            .split_once('_')
            .map_or(self.type_name.as_str(), |(p, _)| p)
    }
}

impl fmt::Display for ResourceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.type_name, self.name)
    }
}

/// Why a string is not a resource address.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a resource address: expected TYPE.NAME, e.g. aws_vpc.main")]
pub struct ParseAddrError(pub String);

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl FromStr for ResourceAddr {
    type Err = ParseAddrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('.') {
            Some((t, n)) if is_identifier(t) && is_identifier(n) => Ok(ResourceAddr::new(t, n)),
            _ => Err(ParseAddrError(s.to_owned())),
        }
    }
}

impl TryFrom<String> for ResourceAddr {
    type Error = ParseAddrError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ResourceAddr> for String {
    fn from(addr: ResourceAddr) -> String {
        addr.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let addr: ResourceAddr = "aws_eks_node_group.workers".parse().expect("valid");
        assert_eq!(addr.type_name, "aws_eks_node_group");
        assert_eq!(addr.name, "workers");
        assert_eq!(addr.provider(), "aws");
        assert_eq!(addr.to_string(), "aws_eks_node_group.workers");
        assert!("novalue".parse::<ResourceAddr>().is_err());
        assert!("a.b.c".parse::<ResourceAddr>().is_err());
    }
}
