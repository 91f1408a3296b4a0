//! What `cairn validate` can find by evaluating: every expression with the variables'
//! values and every resource attribute unknown.
//!
//! Evaluation propagates unknowns, so an error here (an index past the end of a
//! variable's list, a function given the wrong type) is one every plan would hit,
//! whatever the resources turn out to be; the planner reports the same errors the same
//! way. Planning itself, with real values, stays in `build`.

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::providers::Registry;
use crate::stack::Stack;

use super::scope::{ResourceValues, ValuesScope};

/// Evaluates every provider setting, resource attribute and output of `stack` with no
/// resource values known, and reports each error at its value.
pub fn check_values(stack: &Stack, registry: &Registry) -> Result<(), Diagnostics> {
    let values = ResourceValues::new();
    let scope = ValuesScope {
        stack,
        registry,
        values: &values,
    };
    let mut diagnostics = Diagnostics::new();
    for (name, block) in &stack.providers {
        for expr in block.config.values() {
            if let Err(e) = expr.eval(&scope) {
                diagnostics.push(Diagnostic::at(
                    &stack.sources,
                    &e.span,
                    format!("provider `{name}`: {}", e.message),
                    "in this value",
                ));
            }
        }
    }
    for (addr, resource) in &stack.resources {
        for expr in resource.attrs.values() {
            if let Err(e) = expr.eval(&scope) {
                diagnostics.push(
                    Diagnostic::at(&stack.sources, &e.span, e.message, "in this value")
                        .with_address(addr.clone()),
                );
            }
        }
    }
    for (name, output) in &stack.outputs {
        if let Err(e) = output.value.eval(&scope) {
            diagnostics.push(Diagnostic::at(
                &stack.sources,
                &e.span,
                format!("output `{name}`: {}", e.message),
                "in this value",
            ));
        }
    }
    diagnostics.into_result(())
}
