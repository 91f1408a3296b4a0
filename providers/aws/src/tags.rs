//! The tags cairn puts on every taggable AWS object, and the one way every service's
//! tags are compared and brought in line ([`TagChanges`]).

use std::collections::{BTreeMap, HashMap};

use cairn_provider_core::ResourceIdentity;

/// The tag calls that turn `current` into `wanted`: keys to set (new or different
/// values) and keys to remove. Each service sends them with its own tag calls.
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

/// True if `tags` carry this resource's identity: the object is the one an interrupted
/// create of this very resource made, not a namesake from another stack.
pub(crate) fn created_by(identity: &ResourceIdentity, tags: &BTreeMap<String, String>) -> bool {
    identity.tags().iter().all(|(k, v)| tags.get(k) == Some(v))
}

/// An SDK map (`HashMap`) as an ordered map.
pub(crate) fn sorted(map: Option<&HashMap<String, String>>) -> BTreeMap<String, String> {
    map.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// User tags, then the provider's `default_tags`, then the `cairn:*` identity tags (which
/// win: they are how an interrupted create is found again).
pub(crate) fn object_tags(
    identity: &ResourceIdentity,
    default_tags: &BTreeMap<String, String>,
    user_tags: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut tags = default_tags.clone();
    tags.extend(user_tags.iter().map(|(k, v)| (k.clone(), v.clone())));
    tags.extend(identity.tags());
    tags
}

/// Drops the tags cairn adds itself, so a read reports only the user's `tags`.
pub(crate) fn user_visible(
    tags: BTreeMap<String, String>,
    default_tags: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    tags.into_iter()
        .filter(|(k, v)| !k.starts_with("cairn:") && default_tags.get(k) != Some(v))
        .collect()
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
}
