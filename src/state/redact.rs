//! [`SensitiveHasher`]: turns secrets into keyed hashes before they reach state, and
//! compares desired values with recorded hashes. It also owns where the key comes from
//! ([`KEY_ENV_VAR`], else the key file) and keeps the key out of every printed form.
//!
//! The key is random per state and never stored in the snapshot, so a leaked state file
//! cannot be brute-forced for short passwords the way a plain hash could.

use std::fmt;
use std::path::Path;

use cairn_provider_core::{Attrs, Value};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{KEY_ENV_VAR, StateError};

/// Prefix of every hash, naming the algorithm so a future change can be recognised.
const HASH_PREFIX: &str = "hmac-sha256:";
const KEY_LEN: usize = 32;

/// Hashes secrets with the state's key. `Debug` never shows the key.
#[derive(Clone)]
pub struct SensitiveHasher {
    key: [u8; KEY_LEN],
}

impl fmt::Debug for SensitiveHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SensitiveHasher(..)")
    }
}

impl SensitiveHasher {
    #[cfg(test)]
    pub(crate) fn from_key(key: [u8; KEY_LEN]) -> SensitiveHasher {
        SensitiveHasher { key }
    }

    pub(crate) fn generate() -> SensitiveHasher {
        SensitiveHasher {
            key: rand::random(),
        }
    }

    /// The key as written to the key file: 64 hex digits and a newline.
    pub(crate) fn key_file_contents(&self) -> String {
        format!("{}\n", hex::encode(self.key))
    }

    /// Parses a key from [`KEY_ENV_VAR`] or a key file; `origin` names which, for errors.
    pub(crate) fn parse_key(text: &str, origin: &str) -> Result<SensitiveHasher, StateError> {
        let invalid = |reason| StateError::InvalidKey {
            origin: origin.to_owned(),
            reason,
        };
        let bytes = hex::decode(text.trim()).map_err(|_| invalid("it is not hexadecimal"))?;
        let key: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|_| invalid("it must be 32 bytes (64 hex digits)"))?;
        Ok(SensitiveHasher { key })
    }

    /// The key from [`KEY_ENV_VAR`], if set.
    pub(crate) fn from_env() -> Result<Option<SensitiveHasher>, StateError> {
        match std::env::var(KEY_ENV_VAR) {
            Ok(text) => SensitiveHasher::parse_key(&text, KEY_ENV_VAR).map(Some),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(StateError::InvalidKey {
                origin: KEY_ENV_VAR.to_owned(),
                reason: "it is not valid UTF-8",
            }),
        }
    }

    /// The key from the key file at `path`, if it exists.
    pub(crate) fn from_file(path: &Path) -> Result<Option<SensitiveHasher>, StateError> {
        let Some(bytes) = super::fsio::read_optional(path, "read state key")? else {
            return Ok(None);
        };
        let origin = path.display().to_string();
        let text = String::from_utf8(bytes).map_err(|_| StateError::InvalidKey {
            origin: origin.clone(),
            reason: "it is not valid UTF-8",
        })?;
        SensitiveHasher::parse_key(&text, &origin).map(Some)
    }

    /// Replaces every [`Value::Sensitive`] inside `value` with its keyed hash.
    pub fn redact(&self, value: &Value) -> Value {
        match value {
            Value::Sensitive(inner) => Value::SensitiveHash(self.hash(inner)),
            Value::List(items) => Value::List(items.iter().map(|v| self.redact(v)).collect()),
            Value::Map(map) => Value::Map(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.redact(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// [`SensitiveHasher::redact`] of every attribute.
    pub fn redact_attrs(&self, attrs: &Attrs) -> Attrs {
        Attrs(
            attrs
                .0
                .iter()
                .map(|(k, v)| (k.clone(), self.redact(v)))
                .collect(),
        )
    }

    /// Deep equality of a desired value and a recorded one, where a hash on either side is
    /// compared by hashing the other side. Sensitivity itself is not a difference
    /// (`Sensitive("x")` is the same as `"x"`), numbers compare by value (`1` is `1.0`),
    /// and [`Value::Unknown`] is never the same as anything: its value is not known yet.
    pub fn same(&self, desired: &Value, recorded: &Value) -> bool {
        match (desired, recorded) {
            (Value::Unknown, _) | (_, Value::Unknown) => false,
            (Value::SensitiveHash(a), Value::SensitiveHash(b)) => a == b,
            (Value::SensitiveHash(hash), other) | (other, Value::SensitiveHash(hash)) => {
                !other.contains_unknown() && self.hash(strip(other)) == *hash
            }
            (Value::Sensitive(a), b) => self.same(a, b),
            (a, Value::Sensitive(b)) => self.same(a, b),
            (Value::List(a), Value::List(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| self.same(x, y))
            }
            (Value::Map(a), Value::Map(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|((ka, va), (kb, vb))| ka == kb && self.same(va, vb))
            }
            (Value::Int(i), Value::Float(x)) | (Value::Float(x), Value::Int(i)) => *i as f64 == *x,
            (a, b) => a == b,
        }
    }

    /// HMAC-SHA256 over the canonical JSON of `value` with sensitive wrappers removed, so
    /// the hash depends on the secret only, not on where it was marked sensitive.
    pub(crate) fn hash(&self, value: &Value) -> String {
        let canonical = canonical_json(value);
        // new_from_slice accepts keys of any length; the Err arm cannot occur for HMAC.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            return String::new();
        };
        mac.update(canonical.as_bytes());
        format!("{HASH_PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
    }
}

/// Removes an outer sensitive wrapper.
fn strip(value: &Value) -> &Value {
    match value {
        Value::Sensitive(inner) => strip(inner),
        other => other,
    }
}

/// Compact JSON with map keys in sorted order (maps are `BTreeMap`s) and every sensitive
/// wrapper removed; unknowns and hashes keep their `$unknown` / `$sensitive` forms.
fn canonical_json(value: &Value) -> String {
    fn plain(value: &Value) -> serde_json::Value {
        match value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            // A whole float hashes as the integer: numbers compare by value, so `5432`
            // in a stack and `5432.0` from an API are the same secret.
            Value::Float(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => {
                serde_json::Value::from(*x as i64)
            }
            Value::Float(x) => serde_json::Number::from_f64(*x)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::List(items) => serde_json::Value::Array(items.iter().map(plain).collect()),
            Value::Map(map) => {
                serde_json::Value::Object(map.iter().map(|(k, v)| (k.clone(), plain(v))).collect())
            }
            Value::Unknown => serde_json::json!({ "$unknown": true }),
            Value::SensitiveHash(h) => serde_json::json!({ "$sensitive": h }),
            Value::Sensitive(inner) => plain(inner),
        }
    }
    plain(value).to_string()
}
