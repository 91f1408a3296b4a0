//! Variables: declarations, their values from every source, and load-time evaluation.
//!
//! Owns the precedence `--var` > `CAIRN_VAR_<name>` > `env/<env>.toml` > `default`, the
//! declared-type check, and the sensitive wrapping of sensitive variables. Also the
//! [`Scope`] used to evaluate what must be known at load time (`enabled`, `lifecycle`),
//! which sees variables and the locals made of them only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use cairn_provider_core::{AttrType, Value};

use super::load::{LateLocal, Loader};
use super::raw::{self, Definition, Key, Node, NodeKind};
use super::{LoadOptions, Span, Variable};
use crate::addr::ResourceAddr;
use crate::diagnostics::{Diagnostic, closest};
use crate::expr::{Expr, Reference, Scope};

/// Prefix of process environment variables that set stack variables.
pub const VAR_ENV_PREFIX: &str = "CAIRN_VAR_";

const VARIABLE_KEYS: &[&str] = &["type", "default", "description", "sensitive"];
const VARIABLE_TYPES: &[&str] = &["string", "number", "bool", "list", "map", "any"];

/// A literal TOML value as a [`Value`]; `${...}` in variable values is not interpreted.
pub(super) fn node_value(node: &NodeKind) -> Value {
    match node {
        NodeKind::String(s) | NodeKind::Datetime(s) => Value::String(s.clone()),
        NodeKind::Int(i) => Value::Int(*i),
        NodeKind::Float(f) => Value::Float(*f),
        NodeKind::Bool(b) => Value::Bool(*b),
        NodeKind::Array(items) => {
            Value::List(items.iter().map(|item| node_value(&item.kind)).collect())
        }
        NodeKind::Table(entries) => Value::Map(
            entries
                .iter()
                .map(|(k, v)| (k.name.clone(), node_value(&v.kind)))
                .collect(),
        ),
    }
}

fn declared_type(name: &str) -> AttrType {
    match name {
        "string" => AttrType::String,
        "number" => AttrType::Number,
        "bool" => AttrType::Bool,
        "list" => AttrType::list(AttrType::Any),
        "map" => AttrType::map(AttrType::Any),
        _ => AttrType::Any,
    }
}

/// One declared variable before its value is chosen.
struct Declaration {
    ty: AttrType,
    type_name: String,
    /// The value, the `default` key and the value's span.
    default: Option<(Value, Span, Span)>,
    description: Option<String>,
    sensitive: bool,
    span: Span,
}

/// Where a chosen value came from, for type-error messages.
enum Origin {
    Cli,
    Environment,
    /// The key and the value in a stack or env file.
    File {
        key: Span,
        value: Span,
    },
}

/// A `--var` or `CAIRN_VAR_` value: parsed as TOML, except that a string variable takes
/// the text as written, so `--var cluster_version=1.31` is `"1.31"`, not a float.
fn command_line_value(text: &str, declaration: Option<&Declaration>) -> Value {
    let parsed = node_value(&raw::parse_cli_value(text));
    match (declaration.map(|d| &d.ty), &parsed) {
        (Some(AttrType::String), value) if value.as_str().is_none() => Value::from(text),
        _ => parsed,
    }
}

/// Scope for load-time evaluation: variables, and the locals made of them.
pub(super) struct LoadTimeScope<'a> {
    variables: &'a BTreeMap<String, Variable>,
    locals: &'a BTreeMap<String, Value>,
}

impl Scope for LoadTimeScope<'_> {
    fn variable(&self, name: &str) -> Option<Value> {
        self.variables.get(name).map(|v| v.value.clone())
    }
    fn resource_attr(&self, _addr: &ResourceAddr, _attr: &str) -> Option<Value> {
        None
    }
    fn local(&self, name: &str) -> Option<Result<Value, String>> {
        self.locals.get(name).cloned().map(Ok)
    }
}

impl Loader<'_> {
    /// Resolves every declared variable. Variables without a value are reported and left
    /// out of the result (references to them are not reported again).
    pub(super) fn resolve_variables(
        &mut self,
        declared: &BTreeMap<String, Definition>,
        options: &LoadOptions,
    ) {
        let mut declarations = BTreeMap::new();
        for (name, definition) in declared {
            self.declared_variables.insert(name.clone());
            if let Some(declaration) = self.declaration(name, definition) {
                declarations.insert(name.clone(), declaration);
            }
        }

        let mut chosen: BTreeMap<String, (Value, Origin)> = BTreeMap::new();
        for (name, declaration) in &declarations {
            if let Some((value, key, span)) = &declaration.default {
                let origin = Origin::File {
                    key: key.clone(),
                    value: span.clone(),
                };
                chosen.insert(name.clone(), (value.clone(), origin));
            }
        }
        self.read_env_file(options, &mut chosen);
        if options.env_base.is_some() && self.declared_variables.contains("env") {
            // The base file's `env` names the base: this environment's resources must be
            // named after itself. `CAIRN_VAR_env` and `--var env=` still win.
            chosen.insert(
                "env".to_owned(),
                (Value::String(self.env.clone()), Origin::Environment),
            );
        }
        for (key, text) in &options.env_vars {
            if let Some(name) = key.strip_prefix(VAR_ENV_PREFIX)
                && self.declared_variables.contains(name)
            {
                let value = command_line_value(text, declarations.get(name));
                chosen.insert(name.to_owned(), (value, Origin::Environment));
            }
        }
        for (name, text) in &options.vars {
            if self.declared_variables.contains(name) {
                let value = command_line_value(text, declarations.get(name));
                chosen.insert(name.clone(), (value, Origin::Cli));
            } else {
                let mut diagnostic =
                    Diagnostic::error(format!("--var {name}: no variable `{name}` is declared"));
                if let Some(close) =
                    closest(name, self.declared_variables.iter().map(String::as_str))
                {
                    diagnostic = diagnostic.with_help(format!("did you mean `{close}`?"));
                }
                self.diagnostics.push(diagnostic);
            }
        }

        for (name, declaration) in declarations {
            let Some((value, origin)) = chosen.remove(&name) else {
                self.diagnostics.push(
                    Diagnostic::at(&self.sources, &declaration.span, format!("variable `{name}` has no value"), "declared here")
                        .with_help(format!(
                            "set it in env/{}.toml, with --var {name}=..., or with {VAR_ENV_PREFIX}{name}",
                            self.env
                        )),
                );
                continue;
            };
            if let Err(mismatch) = super::types::check_value(&value, &declaration.ty) {
                let message = format!(
                    "variable `{name}` is declared as {}: {}",
                    declaration.type_name, mismatch.message
                );
                let diagnostic = match origin {
                    Origin::Cli => Diagnostic::error(format!("--var {name}: {message}")),
                    Origin::Environment => {
                        Diagnostic::error(format!("{VAR_ENV_PREFIX}{name}: {message}"))
                    }
                    // The value's line would show the secret in the snippet: point at
                    // the declaration and name the file the value came from.
                    Origin::File { key, .. } if declaration.sensitive => Diagnostic::at(
                        &self.sources,
                        &declaration.span,
                        format!(
                            "{message} (value at {})",
                            raw::describe(&self.sources, &key)
                        ),
                        "sensitive variable",
                    ),
                    Origin::File { value, .. } => {
                        Diagnostic::at(&self.sources, &value, message, "this value")
                    }
                };
                self.diagnostics.push(diagnostic);
                continue;
            }
            let value = if declaration.sensitive {
                value.sensitive()
            } else {
                value
            };
            self.variables.insert(
                name.clone(),
                Variable {
                    name,
                    value,
                    sensitive: declaration.sensitive,
                    description: declaration.description,
                    span: declaration.span,
                },
            );
        }
    }

    fn declaration(&mut self, name: &str, definition: &Definition) -> Option<Declaration> {
        let span = definition.key.span.clone();
        let Some(entries) = definition.body.as_table() else {
            self.diagnostics.push(Diagnostic::at(
                &self.sources,
                &definition.body.span,
                format!("variable `{name}` must be a table"),
                "expected a table",
            ));
            return None;
        };
        let mut declaration = Declaration {
            ty: AttrType::Any,
            type_name: "any".to_owned(),
            default: None,
            description: None,
            sensitive: false,
            span,
        };
        for (key, value) in entries {
            match (key.name.as_str(), &value.kind) {
                ("type", NodeKind::String(ty)) if VARIABLE_TYPES.contains(&ty.as_str()) => {
                    declaration.ty = declared_type(ty);
                    declaration.type_name = ty.clone();
                }
                ("type", _) => {
                    let mut diagnostic = Diagnostic::at(
                        &self.sources,
                        &value.span,
                        format!("variable `{name}` has an unknown type"),
                        "unknown type",
                    );
                    diagnostic = match value
                        .as_str()
                        .and_then(|ty| closest(ty, VARIABLE_TYPES.iter().copied()))
                    {
                        Some(close) => diagnostic.with_help(format!("did you mean \"{close}\"?")),
                        None => {
                            diagnostic.with_help(format!("types are {}", VARIABLE_TYPES.join(", ")))
                        }
                    };
                    self.diagnostics.push(diagnostic);
                }
                ("default", kind) => {
                    declaration.default =
                        Some((node_value(kind), key.span.clone(), value.span.clone()));
                }
                ("description", NodeKind::String(text)) => {
                    declaration.description = Some(text.clone())
                }
                ("sensitive", NodeKind::Bool(flag)) => declaration.sensitive = *flag,
                ("description" | "sensitive", _) => self.diagnostics.push(Diagnostic::at(
                    &self.sources,
                    &value.span,
                    format!(
                        "`{}` of variable `{name}` has the wrong type: {}",
                        key.name,
                        value.type_name()
                    ),
                    "wrong type",
                )),
                (other, _) => self.unknown_key(key, other, "a variable", VARIABLE_KEYS),
            }
        }
        Some(declaration)
    }

    /// Reads `env/<env>.toml` (`env/<base>.toml` with `--env-base`): required when
    /// `--env` names an environment other than `default` or a base is given, optional for
    /// `default`.
    fn read_env_file(
        &mut self,
        options: &LoadOptions,
        chosen: &mut BTreeMap<String, (Value, Origin)>,
    ) {
        let file_env = options.env_base.as_deref().unwrap_or(&self.env);
        let file_name = format!("{file_env}.toml");
        // The environment names were checked by the loader; the file must still be a plain
        // name inside `env/` (issue 11: `--env ../../outside/evil` read outside it).
        if Path::new(&file_name).components().count() != 1 || file_name.starts_with('.') {
            return;
        }
        let path = self.dir.join("env").join(file_name);
        let text = match super::source::read_text(&path) {
            Ok(text) => text,
            Err(_)
                if options.env_base.is_none()
                    && (options.env.is_none() || self.env == "default") =>
            {
                return;
            }
            Err(err) => {
                self.diagnostics.push(
                    Diagnostic::error(format!(
                        "environment `{file_env}`: cannot read {}: {err}",
                        path.display()
                    ))
                    .with_help("environments are files env/<name>.toml in the stack directory"),
                );
                return;
            }
        };
        let file = self.sources.add(super::load::display_path(&path), text);
        let Some(entries) = raw::parse_file(&self.sources, file, &mut self.diagnostics) else {
            return;
        };
        for (key, value) in entries {
            if self.declared_variables.contains(&key.name) {
                chosen.insert(
                    key.name.clone(),
                    (
                        node_value(&value.kind),
                        Origin::File {
                            key: key.span.clone(),
                            value: value.span.clone(),
                        },
                    ),
                );
            } else {
                let mut diagnostic = Diagnostic::at(
                    &self.sources,
                    &key.span,
                    format!("`{}` is not a declared variable", key.name),
                    "undeclared variable",
                );
                if let Some(close) = closest(
                    &key.name,
                    self.declared_variables.iter().map(String::as_str),
                ) {
                    diagnostic = diagnostic.with_help(format!("did you mean `{close}`?"));
                }
                self.diagnostics.push(diagnostic);
            }
        }
    }

    /// Evaluates a bool that must be known at load time (`enabled`, `lifecycle` flags):
    /// a literal bool or a `${...}` that references variables only.
    pub(super) fn load_time_bool(
        &mut self,
        node: &Node,
        what: &str,
        addr: &ResourceAddr,
    ) -> Option<bool> {
        if let NodeKind::Bool(b) = node.kind {
            return Some(b);
        }
        let value = self.load_time_value(node, what, Some(addr))?;
        let flag = super::load::eval_bool(&value);
        if flag.is_none() {
            self.diagnostics.push(
                Diagnostic::at(
                    &self.sources,
                    &node.span,
                    format!("`{what}` must be a bool, got {}", value.type_name()),
                    "expected true or false",
                )
                .with_address(addr.clone()),
            );
        }
        flag
    }

    /// Resolves a table key that contains `${...}`, e.g. the EKS subnet tag
    /// `"kubernetes.io/cluster/${var.cluster_name}" = "shared"`. Keys shape a value's type
    /// and must be known when the plan is printed, so they may reference variables (and
    /// locals made of them) only;
    /// a sensitive key would print the secret, so it is refused.
    pub(super) fn load_time_key(&mut self, key: &Key) -> Option<String> {
        if !key.name.contains("${") {
            return Some(key.name.clone());
        }
        let node = Node {
            kind: NodeKind::String(key.name.clone()),
            span: key.span.clone(),
        };
        let what = "a table key";
        match self.load_time_value(&node, what, None)? {
            Value::String(name) => Some(name),
            other => {
                let message = if other.is_sensitive() {
                    format!("{what} may not be sensitive: it is printed in every plan")
                } else {
                    format!("{what} must be a string, got {}", other.type_name())
                };
                self.diagnostics.push(Diagnostic::at(
                    &self.sources,
                    &key.span,
                    message,
                    "this key",
                ));
                None
            }
        }
    }

    /// Evaluates `node` with variables and the locals made of them, reporting references
    /// to anything else (resources, data sources, `each`, locals that use them), undefined
    /// variables and locals, and evaluation errors.
    pub(super) fn load_time_value(
        &mut self,
        node: &Node,
        what: &str,
        addr: Option<&ResourceAddr>,
    ) -> Option<Value> {
        let addressed = |diagnostic: Diagnostic| match addr {
            Some(addr) => diagnostic.with_address(addr.clone()),
            None => diagnostic,
        };
        let expr = self.expr(node)?;
        let mut ok = true;
        let mut locals = BTreeMap::new();
        for reference in expr.references() {
            let (target, uses) = match reference {
                Reference::Resource { addr: target, .. } => (target.to_string(), None),
                Reference::Each { .. } => ("each".to_owned(), None),
                Reference::Local { name, .. } => {
                    let target = format!("local.{name}");
                    if !self.written_locals.contains_key(name) {
                        let diagnostic = Diagnostic::at(
                            &self.sources,
                            &self.locate(&expr.span, &target),
                            format!("undefined local `{target}`"),
                            "not declared",
                        );
                        self.diagnostics.push(addressed(diagnostic));
                        ok = false;
                        continue;
                    }
                    match self.load_time_local(name) {
                        Ok(value) => {
                            locals.insert(name.clone(), value);
                            continue;
                        }
                        Err(LateLocal::Uses(uses)) => (target, Some(uses)),
                        Err(LateLocal::Invalid) => {
                            ok = false;
                            continue;
                        }
                    }
                }
                Reference::Variable { name, .. } => {
                    if !self.variables.contains_key(name) {
                        if !self.declared_variables.contains(name) {
                            self.undefined_variable(name, &expr.span, addr);
                        }
                        ok = false;
                    }
                    continue;
                }
            };
            let needle = if target == "each" { "each." } else { &target };
            let mut message = format!(
                "`{what}` may reference variables (and locals made of them) only, not `{target}`"
            );
            if let Some(uses) = uses {
                message.push_str(&format!(", which uses `{uses}`"));
            }
            let diagnostic = Diagnostic::at(
                &self.sources,
                &self.locate(&expr.span, needle),
                message,
                "not known when loading",
            );
            self.diagnostics.push(addressed(diagnostic));
            ok = false;
        }
        if !ok {
            return None;
        }
        let scope = LoadTimeScope {
            variables: &self.variables,
            locals: &locals,
        };
        match expr.eval(&scope) {
            Ok(value) => Some(value),
            Err(err) => {
                let diagnostic = Diagnostic::at(
                    &self.sources,
                    &err.span,
                    format!("`{what}`: {}", err.message),
                    "here",
                );
                self.diagnostics.push(addressed(diagnostic));
                None
            }
        }
    }

    /// The load-time value of local `name` (declared), computed once. Depth-first with a
    /// stack of its own, so a long chain of locals cannot overflow the thread's.
    fn load_time_local(&mut self, name: &str) -> Result<Value, LateLocal> {
        let mut parsed: BTreeMap<String, Option<Expr>> = BTreeMap::new();
        let mut visited = BTreeSet::new();
        let mut stack = vec![name.to_owned()];
        while let Some(current) = stack.last().cloned() {
            if self.load_time_locals.contains_key(&current) {
                stack.pop();
                continue;
            }
            if !parsed.contains_key(&current) {
                let expr = self.written_local(&current);
                parsed.insert(current.clone(), expr);
            }
            let expr = parsed.get(&current).and_then(Option::as_ref);
            let waiting: Vec<String> = expr
                .map(|expr| {
                    expr.references()
                        .into_iter()
                        .filter_map(|reference| match reference {
                            Reference::Local { name, .. }
                                if !self.load_time_locals.contains_key(name) =>
                            {
                                Some(name.clone())
                            }
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default();
            // First visit: decide what it uses first. Second visit (or one that
            // waits on itself, a cycle): what it uses is decided, or is in the cycle.
            if visited.insert(current.clone()) && !waiting.is_empty() {
                stack.extend(waiting);
                continue;
            }
            let value = match expr {
                Some(expr) => self.load_time_local_value(expr),
                None => Err(LateLocal::Invalid),
            };
            self.load_time_locals.insert(current, value);
            stack.pop();
        }
        self.load_time_locals
            .get(name)
            .cloned()
            .unwrap_or(Err(LateLocal::Invalid))
    }

    /// A declared local's expression; its problems are reported once, by the pass over
    /// `[locals]`, not here.
    fn written_local(&mut self, name: &str) -> Option<Expr> {
        let node = self.written_locals.get(name).cloned()?;
        let reported = std::mem::take(&mut self.diagnostics);
        let expr = self.expr(&node);
        self.diagnostics = reported;
        expr
    }

    /// A local's value from the load-time values of the locals it uses (a local in a
    /// cycle has none).
    fn load_time_local_value(&self, expr: &Expr) -> Result<Value, LateLocal> {
        let mut locals = BTreeMap::new();
        for reference in expr.references() {
            match reference {
                Reference::Resource { addr, .. } => {
                    return Err(LateLocal::Uses(addr.to_string()));
                }
                Reference::Each { .. } => return Err(LateLocal::Uses("each".to_owned())),
                Reference::Variable { name, .. } => {
                    if !self.variables.contains_key(name) {
                        return Err(LateLocal::Invalid);
                    }
                }
                Reference::Local { name, .. } => {
                    let value = self
                        .load_time_locals
                        .get(name)
                        .cloned()
                        .unwrap_or(Err(LateLocal::Invalid))?;
                    locals.insert(name.clone(), value);
                }
            }
        }
        let scope = LoadTimeScope {
            variables: &self.variables,
            locals: &locals,
        };
        expr.eval(&scope).map_err(|_| LateLocal::Invalid)
    }
}
