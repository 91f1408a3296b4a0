//! Fingerprints: what state keeps to tell, without the plaintext of its secrets, whether a
//! configured value derived from secrets changed.
//!
//! State keeps a secret only as a keyed hash, so an expression over it (a connection URI
//! built from a generated password) cannot be evaluated when nothing re-reads the secret
//! (`--refresh=false`, or a provider whose configuration is not known yet). A fingerprint
//! evaluates the same expression with every secret replaced by a placeholder naming its
//! hash: the result depends only on the expression and the secrets' hashes, so it can be
//! computed at apply time (with plaintext at hand) and again at plan time (with only the
//! hashes), and equal fingerprints mean an unchanged value.

use cairn_provider_core::Value;

use crate::addr::ResourceAddr;
use crate::expr::{Expr, Scope};
use crate::state::SensitiveHasher;

/// Shows every secret of the scope it wraps as a placeholder naming the secret's hash.
struct HashedSecrets<'a> {
    inner: &'a dyn Scope,
    hasher: &'a SensitiveHasher,
}

impl HashedSecrets<'_> {
    fn hide(&self, value: Value) -> Value {
        let placeholder = |hash: &str| Value::from(format!("(sensitive {hash})")).sensitive();
        match value {
            Value::Sensitive(inner) => placeholder(&self.hasher.hash(&inner)),
            Value::SensitiveHash(hash) => placeholder(&hash),
            Value::List(items) => Value::List(items.into_iter().map(|v| self.hide(v)).collect()),
            Value::Map(map) => {
                Value::Map(map.into_iter().map(|(k, v)| (k, self.hide(v))).collect())
            }
            other => other,
        }
    }
}

impl Scope for HashedSecrets<'_> {
    fn variable(&self, name: &str) -> Option<Value> {
        self.inner.variable(name).map(|v| self.hide(v))
    }

    fn resource_attr(&self, addr: &ResourceAddr, attr: &str) -> Option<Value> {
        self.inner.resource_attr(addr, attr).map(|v| self.hide(v))
    }
}

/// The fingerprint of `expr` in `scope`; `None` when it cannot be computed (a value not
/// known yet, or an expression that fails on a placeholder).
pub(crate) fn fingerprint(
    expr: &Expr,
    scope: &dyn Scope,
    hasher: &SensitiveHasher,
) -> Option<String> {
    let hidden = HashedSecrets {
        inner: scope,
        hasher,
    };
    let value = expr.eval(&hidden).ok()?;
    (!value.contains_unknown()).then(|| hasher.hash(&value))
}
