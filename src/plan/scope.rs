//! Where `${...}` references are looked up while planning and applying: variables from the
//! stack, resource attributes from a map of per-resource values (planned values during a
//! plan, real values during an apply, recorded values when configuring a provider for a
//! refresh). Evaluation itself belongs to `expr/`.

use std::collections::HashMap;

use cairn_provider_core::{Attrs, Value};

use crate::addr::ResourceAddr;
use crate::expr::Scope;
use crate::providers::Registry;
use crate::stack::Stack;

/// Values of resources by address.
pub type ResourceValues = HashMap<ResourceAddr, Attrs>;

/// A [`Scope`] over a stack's variables and a map of resource values.
pub(crate) struct ValuesScope<'a> {
    pub stack: &'a Stack,
    pub registry: &'a Registry,
    pub values: &'a ResourceValues,
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
            None if self.stack.resources.contains_key(addr) => Some(Value::Unknown),
            None => None,
        }
    }
}
