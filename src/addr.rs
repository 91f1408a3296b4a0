//! [`ResourceAddr`]: the `TYPE.NAME` address of a resource in a stack, and
//! `TYPE.NAME["key"]` of one instance of a resource with `for_each`.

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
    /// The instance key of a `for_each` resource's instance.
    pub key: Option<String>,
}

impl ResourceAddr {
    /// The address `TYPE.NAME`.
    pub fn new(type_name: impl Into<String>, name: impl Into<String>) -> Self {
        ResourceAddr {
            type_name: type_name.into(),
            name: name.into(),
            key: None,
        }
    }

    /// This resource's instance `key`.
    pub fn with_key(&self, key: impl Into<String>) -> Self {
        ResourceAddr {
            type_name: self.type_name.clone(),
            name: self.name.clone(),
            key: Some(key.into()),
        }
    }

    /// The address of the resource block this instance comes from (itself without key).
    pub fn config(&self) -> ResourceAddr {
        ResourceAddr::new(self.type_name.clone(), self.name.clone())
    }

    /// Whether `self` (a resource, or an instance) covers `other`: equal, or `other` is
    /// an instance of `self`.
    pub fn covers(&self, other: &ResourceAddr) -> bool {
        self.type_name == other.type_name
            && self.name == other.name
            && (self.key.is_none() || self.key == other.key)
    }

    /// The provider that implements this resource type.
    pub fn provider(&self) -> &str {
        crate::providers::provider_of(&self.type_name)
    }

    /// A data source (`data.TYPE.NAME`): read when planning, never recorded.
    pub fn is_data(&self) -> bool {
        self.type_name.starts_with(crate::providers::DATA_PREFIX)
    }
}

impl fmt::Display for ResourceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.type_name, self.name)?;
        if let Some(key) = &self.key {
            f.write_str("[\"")?;
            for c in key.chars() {
                if matches!(c, '"' | '\\') {
                    f.write_str("\\")?;
                }
                write!(f, "{c}")?;
            }
            f.write_str("\"]")?;
        }
        Ok(())
    }
}

/// Why a string is not a resource address.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "`{0}` is not a resource address: expected TYPE.NAME or TYPE.NAME[\"KEY\"], e.g. aws_vpc.main"
)]
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
        let invalid = || ParseAddrError(s.to_owned());
        let (base, key) = match s.split_once("[\"") {
            Some((base, quoted)) => {
                let inner = quoted.strip_suffix("\"]").ok_or_else(invalid)?;
                let mut key = String::new();
                let mut chars = inner.chars();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => key.push(chars.next().ok_or_else(invalid)?),
                        '"' => return Err(invalid()),
                        other => key.push(other),
                    }
                }
                (base, Some(key))
            }
            None => (s, None),
        };
        let (data, base) = match base.strip_prefix(crate::providers::DATA_PREFIX) {
            Some(rest) => (crate::providers::DATA_PREFIX, rest),
            None => ("", base),
        };
        match base.split_once('.') {
            Some((t, n)) if is_identifier(t) && is_identifier(n) => Ok(ResourceAddr {
                key,
                ..ResourceAddr::new(format!("{data}{t}"), n)
            }),
            _ => Err(invalid()),
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

    #[test]
    fn instance_keys_round_trip_with_escapes() {
        for key in ["a", "us-east-1a", "with \"quotes\" and \\", "", "x.y[0]"] {
            let addr = ResourceAddr::new("aws_subnet", "private").with_key(key);
            let text = addr.to_string();
            assert_eq!(text.parse::<ResourceAddr>(), Ok(addr.clone()), "{text}");
            assert_eq!(addr.config(), ResourceAddr::new("aws_subnet", "private"));
            assert!(addr.config().covers(&addr) && !addr.covers(&addr.config()));
        }
        assert_eq!(
            ResourceAddr::new("a", "b").with_key("k").to_string(),
            "a.b[\"k\"]"
        );
        for bad in ["a.b[\"k\"", "a.b[\"k\"]x", "a.b[\"a\"b\"]", "a[\"k\"]"] {
            assert!(bad.parse::<ResourceAddr>().is_err(), "{bad}");
        }
    }
}
