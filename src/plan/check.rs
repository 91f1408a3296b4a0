//! What `cairn validate` can find by evaluating: every expression with the variables'
//! values and every resource attribute unknown; and a `for_each` whose keys come from an
//! attribute only the provider computes, which no first plan of an environment can know.
//!
//! Evaluation propagates unknowns, so an error here (an index past the end of a
//! variable's list, a function given the wrong type) is one every plan would hit,
//! whatever the resources turn out to be; the planner reports the same errors the same
//! way. Planning itself, with real values, stays in `build`.

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::expr::{Reference, Scope, for_each_keys};
use crate::providers::Registry;
use crate::stack::Stack;

use super::scope::{Expansions, LocalValues, ResourceValues, ValuesScope};

/// Evaluates every provider setting, resource attribute and output of `stack` with no
/// resource values known, and reports each error at its value.
pub fn check_values(stack: &Stack, registry: &Registry) -> Result<(), Diagnostics> {
    let values = ResourceValues::new();
    let locals = LocalValues::default();
    let expansions = Expansions::new();
    let scope = ValuesScope {
        stack,
        registry,
        values: &values,
        locals: &locals,
        expansions: &expansions,
        each: None,
    };
    let mut diagnostics = Diagnostics::new();
    for (name, local) in &stack.locals {
        if let Some(Err(message)) = scope.local(name) {
            diagnostics.push(Diagnostic::at(
                &stack.sources,
                &local.value.span,
                format!("local `{name}`: {message}"),
                "in this value",
            ));
        }
    }
    // A failed local was reported at the local; what uses it would only say so again.
    let from_local = |message: &str| message.starts_with("in `local.");
    for (name, block) in &stack.providers {
        for expr in block.config.values() {
            if let Err(e) = expr.eval(&scope)
                && !from_local(&e.message)
            {
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
        let instances = match &resource.for_each {
            None => vec![None],
            Some(expr) => {
                let keys = expr
                    .eval(&scope)
                    .map_err(|e| e.message)
                    .and_then(|value| for_each_keys(&value));
                match keys {
                    Ok(Some(keys)) => keys.into_iter().map(Some).collect(),
                    Ok(None) => {
                        if let Some(attr) = computed_reference(stack, registry, expr) {
                            diagnostics.push(
                                Diagnostic::at(
                                    &stack.sources,
                                    &expr.span,
                                    format!("the `for_each` of `{addr}` depends on `{attr}`, which only the provider knows, after apply"),
                                    "this for_each",
                                )
                                .with_address(addr.clone())
                                .with_help("instance keys must be known when planning, also the first time: derive them from variables or locals"),
                            );
                        }
                        Vec::new()
                    }
                    Err(message) if from_local(&message) => Vec::new(),
                    Err(message) => {
                        diagnostics.push(
                            Diagnostic::at(&stack.sources, &expr.span, message, "this for_each")
                                .with_address(addr.clone()),
                        );
                        Vec::new()
                    }
                }
            }
        };
        for each in &instances {
            let scope = scope.with_each(each.as_ref().map(|(k, v)| (k.as_str(), v)));
            for expr in resource.attrs.values() {
                match expr.eval(&scope) {
                    Err(e) if !from_local(&e.message) => {
                        let at = match each {
                            Some((key, _)) => addr.with_key(key.clone()),
                            None => addr.clone(),
                        };
                        diagnostics.push(
                            Diagnostic::at(&stack.sources, &e.span, e.message, "in this value")
                                .with_address(at),
                        );
                    }
                    _ => {}
                }
            }
        }
    }
    for (name, output) in &stack.outputs {
        if let Err(e) = output.value.eval(&scope)
            && !from_local(&e.message)
        {
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

/// The first attribute `expr` references that the provider alone sets (computed, not
/// configurable), through locals too.
fn computed_reference(
    stack: &Stack,
    registry: &Registry,
    expr: &crate::expr::Expr,
) -> Option<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut pending = vec![expr];
    while let Some(expr) = pending.pop() {
        for reference in expr.references() {
            match reference {
                Reference::Resource {
                    addr,
                    attr: Some(attr),
                    ..
                } => {
                    let computed = registry
                        .resource_schema(&addr.type_name)
                        .and_then(|schema| schema.attributes.get(attr))
                        .is_some_and(|a| !a.is_settable());
                    if computed {
                        return Some(format!("{addr}.{attr}"));
                    }
                }
                Reference::Local { name, .. } => {
                    if seen.insert(name.as_str())
                        && let Some(local) = stack.locals.get(name)
                    {
                        pending.push(&local.value);
                    }
                }
                _ => {}
            }
        }
    }
    None
}
