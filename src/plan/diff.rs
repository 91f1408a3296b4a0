//! Per-attribute comparison of desired and recorded attributes, driven by the schema: only
//! settable attributes count, secrets are compared through their keyed hashes, numbers
//! compare by value, maps are diffed per key for display. Choosing the action from the
//! differences is `build`'s job.

use std::collections::BTreeSet;

use cairn_provider_core::{Attrs, ResourceSchema, Value};

use super::AttrDiff;
use crate::state::SensitiveHasher;

/// Whether a desired value equals a recorded one. Secrets on either side compare through
/// the state's keyed hash, since state keeps only that.
pub fn values_equal(hasher: &SensitiveHasher, desired: &Value, recorded: &Value) -> bool {
    if desired.contains_hash() || recorded.contains_hash() {
        return hasher.same(desired, recorded);
    }
    plain_equal(desired, recorded)
}

/// Structural equality that ignores sensitive wrappers and `1` vs `1.0`.
fn plain_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Sensitive(a), b) | (b, Value::Sensitive(a)) => plain_equal(a, b),
        (Value::Int(i), Value::Float(f)) | (Value::Float(f), Value::Int(i)) => (*i as f64) == *f,
        (Value::List(a), Value::List(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| plain_equal(a, b))
        }
        (Value::Map(a), Value::Map(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            keys.into_iter().all(|k| {
                plain_equal(
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                )
            })
        }
        (a, b) => a == b,
    }
}

fn present(attrs: &Attrs, name: &str) -> Option<Value> {
    attrs.get(name).cloned()
}

/// Whether a provider's `requires_replace` path is (inside) this attribute.
fn path_in_attr(path: &str, attr: &str) -> bool {
    path == attr
        || path
            .strip_prefix(attr)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

/// The settable attributes whose desired value differs from the recorded one.
/// `desired` is what the apply would send (see `build::effective_desired`).
pub(crate) fn diff_update(
    schema: &ResourceSchema,
    prior: &Attrs,
    desired: &Attrs,
    requires_replace: &[String],
    hasher: &SensitiveHasher,
) -> Vec<AttrDiff> {
    let mut diffs = Vec::new();
    for (name, attr) in &schema.attributes {
        if !attr.is_settable() {
            continue;
        }
        let before = present(prior, name);
        let after = present(desired, name);
        let same = match (&before, &after) {
            (None, None) => true,
            (Some(b), Some(a)) => !a.contains_unknown() && values_equal(hasher, a, b),
            _ => false,
        };
        if same {
            continue;
        }
        let forces_replacement =
            attr.force_new || requires_replace.iter().any(|path| path_in_attr(path, name));
        let nested = match (&before, &after) {
            (Some(b), Some(a)) => nested_diffs(b, a, hasher),
            _ => Vec::new(),
        };
        diffs.push(AttrDiff {
            name: name.clone(),
            before,
            after,
            forces_replacement,
            nested,
        });
    }
    diffs
}

/// Computed attributes whose planned value differs from the record (shown with an
/// update or replace, never a reason for one).
pub(crate) fn diff_computed(
    schema: &ResourceSchema,
    prior: &Attrs,
    after: &Attrs,
    hasher: &SensitiveHasher,
) -> Vec<AttrDiff> {
    schema
        .attributes
        .iter()
        .filter(|(_, attr)| !attr.is_settable())
        .filter_map(|(name, _)| {
            let before = present(prior, name);
            let after = present(after, name);
            let same = match (&before, &after) {
                (None, None) => true,
                (Some(b), Some(a)) => !a.contains_unknown() && values_equal(hasher, a, b),
                _ => false,
            };
            (!same).then(|| {
                let nested = match (&before, &after) {
                    (Some(b), Some(a)) => nested_diffs(b, a, hasher),
                    _ => Vec::new(),
                };
                AttrDiff {
                    name: name.clone(),
                    before,
                    after,
                    forces_replacement: false,
                    nested,
                }
            })
        })
        .collect()
}

/// Per-key differences of two maps, for display; empty for anything else.
fn nested_diffs(before: &Value, after: &Value, hasher: &SensitiveHasher) -> Vec<AttrDiff> {
    // Maps by key; lists of the same length by index (`[2]`), e.g. one changed taint.
    let pairs: Vec<(String, Option<Value>, Option<Value>)> = match (before, after) {
        (Value::Map(b), Value::Map(a)) => {
            let keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
            keys.into_iter()
                .map(|key| (key.clone(), b.get(key).cloned(), a.get(key).cloned()))
                .collect()
        }
        (Value::List(b), Value::List(a)) if a.len() == b.len() => b
            .iter()
            .zip(a)
            .enumerate()
            .map(|(i, (b, a))| (format!("[{i}]"), Some(b.clone()), Some(a.clone())))
            .collect(),
        _ => return Vec::new(),
    };
    pairs
        .into_iter()
        .filter_map(|(key, before, after)| {
            let before = before.filter(|v| !v.is_null());
            let after = after.filter(|v| !v.is_null());
            let same = match (&before, &after) {
                (None, None) => true,
                (Some(b), Some(a)) => !a.contains_unknown() && values_equal(hasher, a, b),
                _ => false,
            };
            (!same).then(|| {
                let nested = match (&before, &after) {
                    (Some(b), Some(a)) => nested_diffs(b, a, hasher),
                    _ => Vec::new(),
                };
                AttrDiff {
                    name: key.clone(),
                    before,
                    after,
                    forces_replacement: false,
                    nested,
                }
            })
        })
        .collect()
}

/// Every attribute of a resource being created (`after`) or deleted (`before`).
pub(crate) fn diff_all(attrs: &Attrs, creating: bool) -> Vec<AttrDiff> {
    attrs
        .0
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(name, value)| AttrDiff {
            name: name.clone(),
            before: (!creating).then(|| value.clone()),
            after: creating.then(|| value.clone()),
            forces_replacement: false,
            nested: Vec::new(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_provider_core::{AttrSchema, AttrType};
    use std::collections::BTreeMap;

    fn schema() -> ResourceSchema {
        ResourceSchema::new("test")
            .attr("name", AttrSchema::required(AttrType::String).force_new())
            .attr("size", AttrSchema::optional(AttrType::Int))
            .attr(
                "tags",
                AttrSchema::optional(AttrType::map(AttrType::String)),
            )
            .attr("arn", AttrSchema::computed(AttrType::String))
    }

    fn tags(pairs: &[(&str, &str)]) -> Value {
        Value::Map(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    #[test]
    fn only_settable_changes_count_and_force_new_is_flagged() {
        let hasher = SensitiveHasher::from_key([7u8; 32]);
        let prior = Attrs::new()
            .with("name", "a")
            .with("size", 1)
            .with("arn", "arn:1");
        let same = Attrs::new()
            .with("name", "a")
            .with("size", Value::Float(1.0));
        assert!(diff_update(&schema(), &prior, &same, &[], &hasher).is_empty());
        let renamed = Attrs::new().with("name", "b").with("size", 1);
        let diffs = diff_update(&schema(), &prior, &renamed, &[], &hasher);
        assert_eq!(diffs.len(), 1);
        assert_eq!(diffs[0].name, "name");
        assert!(diffs[0].forces_replacement);
        let resized = Attrs::new().with("name", "a").with("size", 2);
        let diffs = diff_update(&schema(), &prior, &resized, &["size".to_owned()], &hasher);
        assert!(
            diffs[0].forces_replacement,
            "provider requires_replace path counts"
        );
    }

    #[test]
    fn maps_are_diffed_per_key() {
        let hasher = SensitiveHasher::from_key([7u8; 32]);
        let prior = Attrs::new()
            .with("name", "a")
            .with("tags", tags(&[("a", "1"), ("b", "2")]));
        let desired = Attrs::new()
            .with("name", "a")
            .with("tags", tags(&[("a", "1"), ("b", "3"), ("c", "4")]));
        let diffs = diff_update(&schema(), &prior, &desired, &[], &hasher);
        let names: Vec<&str> = diffs[0].nested.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["b", "c"]);
    }

    #[test]
    fn lists_of_equal_length_are_diffed_per_index() {
        let hasher = SensitiveHasher::from_key([7u8; 32]);
        let before = Value::from(vec!["m5.large", "m5a.large"]);
        let after = Value::from(vec!["m5.large", "m6i.large"]);
        let diffs = nested_diffs(&before, &after, &hasher);
        assert_eq!(diffs.len(), 1);
        assert_eq!(diffs[0].name, "[1]");
        let longer = Value::from(vec!["m5.large", "m5a.large", "m6i.large"]);
        assert!(
            nested_diffs(&before, &longer, &hasher).is_empty(),
            "shown whole instead"
        );
    }

    #[test]
    fn secrets_compare_through_the_hash() {
        let hasher = SensitiveHasher::from_key([7u8; 32]);
        let secret = Value::from("pw").sensitive();
        let recorded = hasher.redact(&secret);
        assert!(values_equal(&hasher, &secret, &recorded));
        assert!(!values_equal(
            &hasher,
            &Value::from("other").sensitive(),
            &recorded
        ));
    }
}
