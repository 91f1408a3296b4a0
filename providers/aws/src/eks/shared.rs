//! Helpers shared by the EKS, RDS and Secrets Manager resources: what to send to bring a
//! real object's tags in line with the desired ones, how to report unordered AWS lists
//! and optional maps so that a read matches the configuration.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use cairn_provider_core::{ResourceIdentity, Value};

/// The tag calls that turn `current` into `wanted`: keys to set (new or different
/// values) and keys to remove.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct TagChanges {
    pub set: BTreeMap<String, String>,
    pub remove: Vec<String>,
}

impl TagChanges {
    pub fn between(current: &BTreeMap<String, String>, wanted: &BTreeMap<String, String>) -> Self {
        TagChanges {
            set: wanted
                .iter()
                .filter(|(k, v)| current.get(*k) != Some(*v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            remove: current
                .keys()
                .filter(|k| !wanted.contains_key(*k))
                .cloned()
                .collect(),
        }
    }
}

/// AWS returns some lists (subnets, security groups, log types) in its own order. When
/// they hold the same items as `prior` (the configured order), report `prior`, so a read
/// is not mistaken for a change.
pub(crate) fn keep_order(prior: Vec<String>, observed: Vec<String>) -> Vec<String> {
    if same_items(&prior, &observed) {
        prior
    } else {
        observed
    }
}

/// True if both lists hold the same items, in any order.
pub(crate) fn same_items(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().collect::<BTreeSet<_>>() == b.iter().collect::<BTreeSet<_>>()
}

/// An optional map attribute (tags, labels): null when empty, as when the stack leaves it
/// out.
pub(crate) fn optional_map(map: BTreeMap<String, String>) -> Value {
    if map.is_empty() {
        Value::Null
    } else {
        Value::Map(
            map.into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        )
    }
}

/// An SDK map (`HashMap`) as an ordered map.
pub(crate) fn sorted(map: Option<&HashMap<String, String>>) -> BTreeMap<String, String> {
    map.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// True if `tags` carry this resource's identity: the object is the one an interrupted
/// create of this very resource made, not a namesake from another stack.
pub(crate) fn created_by(identity: &ResourceIdentity, tags: &BTreeMap<String, String>) -> bool {
    identity.tags().iter().all(|(k, v)| tags.get(k) == Some(v))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn tag_changes_set_only_differences_and_remove_missing() {
        let changes = TagChanges::between(
            &map(&[("team", "data"), ("cost", "1"), ("old", "x")]),
            &map(&[("team", "data"), ("cost", "2"), ("new", "y")]),
        );
        assert_eq!(changes.set, map(&[("cost", "2"), ("new", "y")]));
        assert_eq!(changes.remove, vec!["old".to_owned()]);
    }

    #[test]
    fn keep_order_only_when_same_items() {
        let prior = vec!["b".to_owned(), "a".to_owned()];
        let same = keep_order(prior.clone(), vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(same, prior);
        let other = keep_order(prior, vec!["a".to_owned(), "c".to_owned()]);
        assert_eq!(other, vec!["a".to_owned(), "c".to_owned()]);
    }

    #[test]
    fn empty_map_reads_as_null() {
        assert!(optional_map(BTreeMap::new()).is_null());
        assert!(optional_map(map(&[("a", "b")])).as_map().is_some());
    }
}
