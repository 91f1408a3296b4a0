//! The tags cairn puts on every taggable AWS object.

use std::collections::BTreeMap;

use cairn_provider_core::ResourceIdentity;

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
