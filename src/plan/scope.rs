//! Where `${...}` references are looked up while planning and applying: variables and
//! locals from the stack, resource attributes from a map of per-instance values (planned
//! values during a plan, real values during an apply, recorded values when configuring a
//! provider for a refresh), and the instance keys of `for_each` resources. Evaluation
//! itself belongs to `expr/`.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use cairn_provider_core::{Attrs, Value};

use crate::addr::ResourceAddr;
use crate::expr::{Instances, Scope};
use crate::providers::Registry;
use crate::stack::Stack;

/// Values of resource instances by address.
pub type ResourceValues = HashMap<ResourceAddr, Attrs>;

/// The instance keys of each `for_each` resource (by its address without key), sorted;
/// `None` while they are not known.
pub type Expansions = HashMap<ResourceAddr, Option<Arc<Vec<String>>>>;

/// Locals evaluated so far in one scope's view of the world. A local is evaluated once,
/// on first use, against the values its scope sees then: the graph orders every local
/// after what it references, so its first use comes after those are planned or applied.
#[derive(Default)]
pub(crate) struct LocalValues {
    values: RefCell<HashMap<String, Result<Value, String>>>,
}

impl LocalValues {
    /// The locals evaluated so far (for `validate`, which evaluates every one).
    pub fn evaluated(&self, name: &str) -> Option<Result<Value, String>> {
        self.values.borrow().get(name).cloned()
    }
}

/// A [`Scope`] over a stack's variables and locals, a map of resource values, the
/// `for_each` keys known so far and, inside a `for_each` resource, `each`.
pub(crate) struct ValuesScope<'a> {
    pub stack: &'a Stack,
    pub registry: &'a Registry,
    pub values: &'a ResourceValues,
    pub locals: &'a LocalValues,
    pub expansions: &'a Expansions,
    /// `each.key` and `each.value` of the instance being evaluated.
    pub each: Option<(&'a str, &'a Value)>,
}

impl<'a> ValuesScope<'a> {
    /// The same view, for one `for_each` instance.
    pub fn with_each(&self, each: Option<(&'a str, &'a Value)>) -> ValuesScope<'a> {
        ValuesScope {
            stack: self.stack,
            registry: self.registry,
            values: self.values,
            locals: self.locals,
            expansions: self.expansions,
            each,
        }
    }
}

impl Scope for ValuesScope<'_> {
    fn variable(&self, name: &str) -> Option<Value> {
        self.stack.variables.get(name).map(|v| v.value.clone())
    }

    fn resource_attr(&self, addr: &ResourceAddr, attr: &str) -> Option<Value> {
        let schema = self.registry.resource_schema(&addr.type_name)?;
        if !schema.attributes.contains_key(attr) {
            return None;
        }
        match self.values.get(addr) {
            Some(values) => Some(values.0.get(attr).cloned().unwrap_or_default()),
            // In the stack but without values yet: a create not planned or applied yet.
            None if self.stack.resources.contains_key(&addr.config()) => Some(Value::Unknown),
            None => None,
        }
    }

    fn local(&self, name: &str) -> Option<Result<Value, String>> {
        if let Some(value) = self.locals.values.borrow().get(name) {
            return Some(value.clone());
        }
        let local = self.stack.locals.get(name)?;
        // Marked first, so a cycle (reported by the graph, but `validate` evaluates
        // before it looks) ends instead of recursing forever.
        self.locals
            .values
            .borrow_mut()
            .insert(name.to_owned(), Err("it depends on itself".to_owned()));
        // Locals never see `each`: they are the same for every instance.
        let value = local
            .value
            .eval(&self.with_each(None))
            .map_err(|e| e.message);
        self.locals
            .values
            .borrow_mut()
            .insert(name.to_owned(), value.clone());
        Some(value)
    }

    fn each(&self) -> Option<(&str, &Value)> {
        self.each
    }

    fn instances(&self, addr: &ResourceAddr) -> Instances {
        match self.stack.resources.get(addr) {
            Some(resource) if resource.for_each.is_some() => match self.expansions.get(addr) {
                Some(Some(keys)) => Instances::Keys(Arc::clone(keys)),
                _ => Instances::Unknown,
            },
            _ => Instances::Single,
        }
    }

    fn resource_object(&self, addr: &ResourceAddr) -> Option<Value> {
        let schema = self.registry.resource_schema(&addr.type_name)?;
        let values = match self.values.get(addr) {
            Some(values) => values,
            None if self.stack.resources.contains_key(&addr.config()) => {
                return Some(Value::Unknown);
            }
            None => return None,
        };
        let object: BTreeMap<String, Value> = schema
            .attributes
            .keys()
            .map(|name| {
                (
                    name.clone(),
                    values.0.get(name).cloned().unwrap_or_default(),
                )
            })
            .collect();
        Some(Value::Map(object))
    }
}
