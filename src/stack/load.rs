//! Validation of the raw definitions into a [`Stack`].
//!
//! Owns the high-level pass: resources (meta-arguments out, attributes checked against
//! the provider's schema), provider blocks, outputs, `enabled` pruning, and the check of
//! every reference against what the stack declares. Every problem is collected rather
//! than returned, so one `cairn validate` shows them all. Graph-level problems (cycles)
//! are `graph.rs`'s.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_provider_core::{AttrSchema, Mode, ProviderSchema, ResourceSchema, Value};

use super::raw::{Definition, Key, Node, NodeKind, RawStack};
use super::{
    Import, Lifecycle, Local, Moved, Output, ProviderBlock, Resource, Sources, Span, Stack,
    TimeoutOverrides, Variable,
};
use crate::addr::ResourceAddr;
use crate::diagnostics::{Diagnostic, Diagnostics, closest};
use crate::expr::{Expr, ExprKind, Interp, PathSegment, Reference, parse_string};

/// Meta-arguments: taken out of a resource's table, never sent to the provider.
const META_ARGUMENTS: &[&str] = &[
    "depends_on",
    "lifecycle",
    "timeouts",
    "enabled",
    "file",
    "for_each",
];
const LIFECYCLE_KEYS: &[&str] = &["prevent_destroy", "create_before_destroy", "ignore_changes"];
const TIMEOUT_KEYS: &[&str] = &["create", "update", "delete"];
const OUTPUT_KEYS: &[&str] = &["value", "description", "sensitive"];

/// State shared by the loading passes.
pub(super) struct Loader<'a> {
    pub dir: &'a Path,
    pub env: String,
    pub schemas: &'a BTreeMap<String, ProviderSchema>,
    pub sources: Sources,
    pub diagnostics: Diagnostics,
    /// Variables that have a value.
    pub variables: BTreeMap<String, Variable>,
    /// Every declared variable, with or without a value.
    pub declared_variables: BTreeSet<String>,
    /// `[locals]` as written: one made of variables alone is known when loading, so
    /// `enabled` and the other load-time values may use it.
    pub written_locals: BTreeMap<String, Node>,
    /// The load-time value of each local asked for so far, or why it has none.
    pub load_time_locals: BTreeMap<String, Result<Value, LateLocal>>,
}

/// Why a local has no value when loading.
#[derive(Clone, Debug)]
pub(super) enum LateLocal {
    /// It uses this (a resource, `each`, or a local that does): known only when planning.
    Uses(String),
    /// It is undefined, malformed, fails to evaluate or is part of a cycle: reported
    /// on its own.
    Invalid,
}

/// A resource validated but not yet reference-checked.
struct Pending {
    resource: Resource,
    depends_on: Vec<(ResourceAddr, Span)>,
}

/// A path as shown to users: relative to the current directory when it is below it.
pub(super) fn display_path(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
}

/// `"30m"`, `"1h"`, `"45s"`, or sums like `"1h30m"`.
pub(super) fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = 0u64;
    let mut digits = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return None,
        };
        let amount: u64 = digits.parse().ok()?;
        total = total.checked_add(amount.checked_mul(unit)?)?;
        digits.clear();
    }
    (digits.is_empty() && total > 0).then(|| Duration::from_secs(total))
}

impl<'a> Loader<'a> {
    /// Reports an unknown key with the closest valid one.
    pub(super) fn unknown_key(&mut self, key: &Key, name: &str, within: &str, valid: &[&str]) {
        let mut diagnostic = Diagnostic::at(
            &self.sources,
            &key.span,
            format!("unknown key `{name}` in {within}"),
            "unknown key",
        );
        diagnostic = match closest(name, valid.iter().copied()) {
            Some(close) => diagnostic.with_help(format!("did you mean `{close}`?")),
            None => diagnostic.with_help(format!("valid keys: {}", valid.join(", "))),
        };
        self.diagnostics.push(diagnostic);
    }

    /// Narrows `span` to the first occurrence of `needle` in its source text, so an error
    /// about one reference inside a long string points at that reference.
    pub(super) fn locate(&self, span: &Span, needle: &str) -> Span {
        self.sources
            .get(span.file)
            .and_then(|file| file.text.get(span.range.clone()))
            .and_then(|text| text.find(needle))
            .map_or_else(
                || span.clone(),
                |at| Span {
                    file: span.file,
                    range: span.range.start + at..span.range.start + at + needle.len(),
                },
            )
    }

    pub(super) fn undefined_variable(
        &mut self,
        name: &str,
        span: &Span,
        addr: Option<&ResourceAddr>,
    ) {
        let span = self.locate(span, &format!("var.{name}"));
        let mut diagnostic = Diagnostic::at(
            &self.sources,
            &span,
            format!("undefined variable `var.{name}`"),
            "not declared",
        );
        diagnostic = match closest(name, self.declared_variables.iter().map(String::as_str)) {
            Some(close) => diagnostic.with_help(format!("did you mean `var.{close}`?")),
            None => diagnostic.with_help(format!("declare it with [variables.{name}]")),
        };
        if let Some(addr) = addr {
            diagnostic = diagnostic.with_address(addr.clone());
        }
        self.diagnostics.push(diagnostic);
    }

    /// Converts a TOML value into an expression, parsing `${...}` in every string.
    /// Malformed interpolations are reported and the value is skipped.
    pub(super) fn expr(&mut self, node: &Node) -> Option<Expr> {
        let span = node.span.clone();
        let kind = match &node.kind {
            NodeKind::String(text) => match parse_string(text) {
                Ok(kind) => kind,
                Err(err) => {
                    let at = self.string_offset(&node.span, text, err.offset);
                    self.diagnostics.push(Diagnostic::at(
                        &self.sources,
                        &at,
                        format!("malformed `${{...}}`: {}", err.message),
                        "here",
                    ));
                    return None;
                }
            },
            NodeKind::Datetime(text) => ExprKind::Literal(Value::String(text.clone())),
            NodeKind::Int(i) => ExprKind::Literal(Value::Int(*i)),
            NodeKind::Float(f) => ExprKind::Literal(Value::Float(*f)),
            NodeKind::Bool(b) => ExprKind::Literal(Value::Bool(*b)),
            NodeKind::Array(items) => {
                let items: Vec<Option<Expr>> = items.iter().map(|item| self.expr(item)).collect();
                ExprKind::List(items.into_iter().collect::<Option<Vec<_>>>()?)
            }
            NodeKind::Table(entries) => {
                let mut map = BTreeMap::new();
                let mut complete = true;
                for (key, value) in entries {
                    match (self.load_time_key(key), self.expr(value)) {
                        (Some(name), Some(expr)) => {
                            map.insert(name, expr);
                        }
                        _ => complete = false,
                    }
                }
                if !complete {
                    return None;
                }
                ExprKind::Map(map)
            }
        };
        Some(Expr { kind, span })
    }

    /// The span of byte `offset` of a decoded string, when the source spells the string
    /// without escapes (so offsets match); otherwise the whole string.
    fn string_offset(&self, span: &Span, decoded: &str, offset: usize) -> Span {
        let source = self
            .sources
            .get(span.file)
            .and_then(|file| file.text.get(span.range.clone()));
        match source {
            Some(raw)
                if raw.len() == decoded.len() + 2 && raw.get(1..raw.len() - 1) == Some(decoded) =>
            {
                let start = span.range.start + 1 + offset;
                Span {
                    file: span.file,
                    range: start..(start + 1).min(span.range.end),
                }
            }
            _ => self.locate(span, decoded.get(offset..).unwrap_or(decoded)),
        }
    }

    /// Borrowed from the caller's schemas, not from `self`, so it can be held while
    /// `self` reports problems (and need not be cloned per resource).
    fn resource_schema(&self, type_name: &str) -> Option<&'a ResourceSchema> {
        let schemas: &'a BTreeMap<String, ProviderSchema> = self.schemas;
        let addr_provider = crate::providers::provider_of(type_name);
        schemas.get(addr_provider)?.resources.get(type_name)
    }

    /// Validates every resource; returns the enabled ones, the disabled ones (checked
    /// too, then dropped; references to them become `null`) and the addresses that could
    /// not be validated.
    fn resources(
        &mut self,
        raw: &RawStack,
    ) -> (
        BTreeMap<ResourceAddr, Pending>,
        BTreeMap<ResourceAddr, Pending>,
        BTreeSet<ResourceAddr>,
    ) {
        let mut enabled = BTreeMap::new();
        let mut disabled = BTreeMap::new();
        // Declared with a type we could not validate: references to them are not
        // reported again.
        let mut invalid = BTreeSet::new();
        for ((type_name, name), (type_key, definition)) in &raw.resources {
            let addr = ResourceAddr::new(type_name.clone(), name.clone());
            if format!("{type_name}.{name}")
                .parse::<ResourceAddr>()
                .is_err()
            {
                self.diagnostics.push(Diagnostic::at(
                    &self.sources,
                    &definition.key.span,
                    format!("`{addr}` is not a valid resource address: names use letters, digits, `_` and `-`"),
                    "invalid name",
                ));
                invalid.insert(addr);
                continue;
            }
            let Some(schema) = self.resource_schema(type_name) else {
                let known = self
                    .schemas
                    .values()
                    .flat_map(|p| p.resources.keys().map(String::as_str));
                let mut diagnostic = Diagnostic::at(
                    &self.sources,
                    &type_key.span,
                    format!("unknown resource type `{type_name}`"),
                    "unknown type",
                )
                .with_address(addr.clone());
                if let Some(close) = closest(type_name, known) {
                    diagnostic = diagnostic.with_help(format!("did you mean `{close}`?"));
                }
                self.diagnostics.push(diagnostic);
                invalid.insert(addr);
                continue;
            };
            match self.resource(&addr, definition, schema) {
                Some((pending, true)) => {
                    enabled.insert(addr, pending);
                }
                Some((pending, false)) => {
                    disabled.insert(addr, pending);
                }
                None => {
                    invalid.insert(addr);
                }
            }
        }
        (enabled, disabled, invalid)
    }

    /// One resource: `(resource, enabled)`, or `None` when it is not a table. When
    /// `enabled` cannot be decided (already reported) the resource counts as enabled so
    /// its other problems are reported too.
    fn resource(
        &mut self,
        addr: &ResourceAddr,
        definition: &Definition,
        schema: &ResourceSchema,
    ) -> Option<(Pending, bool)> {
        let span = definition.key.span.clone();
        let Some(entries) = definition.body.as_table() else {
            self.diagnostics.push(
                Diagnostic::at(
                    &self.sources,
                    &definition.body.span,
                    "a resource must be a table",
                    "expected a table",
                )
                .with_address(addr.clone()),
            );
            return None;
        };
        let mut enabled = true;
        let mut attrs = BTreeMap::new();
        let mut depends_on = Vec::new();
        let mut lifecycle = Lifecycle::default();
        let mut timeouts = TimeoutOverrides::default();
        let mut manifest_file = None;
        let mut for_each = None;
        for (key, value) in entries {
            match key.name.as_str() {
                "depends_on" => depends_on = self.depends_on(addr, value),
                "for_each" => {
                    for_each = Some(self.expr(value).unwrap_or(Expr {
                        kind: ExprKind::Literal(Value::Map(BTreeMap::new())),
                        span: value.span.clone(),
                    }));
                }
                "lifecycle" => lifecycle = self.lifecycle(addr, value, schema),
                "timeouts" => timeouts = self.timeouts(addr, value),
                "enabled" => enabled = self.load_time_bool(value, "enabled", addr).unwrap_or(true),
                "file" => manifest_file = Some((key, value)),
                name => {
                    let Some(attr) = schema.attributes.get(name) else {
                        let mut diagnostic = Diagnostic::at(
                            &self.sources,
                            &key.span,
                            format!("unknown attribute `{name}`"),
                            "not in the schema",
                        )
                        .with_address(addr.clone());
                        let candidates = schema
                            .attributes
                            .iter()
                            .filter(|(_, a)| a.is_settable())
                            .map(|(n, _)| n.as_str())
                            .chain(META_ARGUMENTS.iter().copied());
                        if let Some(close) = closest(name, candidates) {
                            diagnostic = diagnostic.with_help(format!("did you mean `{close}`?"));
                        }
                        self.diagnostics.push(diagnostic);
                        continue;
                    };
                    if !attr.is_settable() {
                        self.diagnostics.push(
                            Diagnostic::at(
                                &self.sources,
                                &key.span,
                                format!("attribute `{name}` is computed by the provider and cannot be set"),
                                "computed attribute",
                            )
                            .with_address(addr.clone()),
                        );
                        continue;
                    }
                    if let Some(expr) = self.expr(value) {
                        self.check_type(addr, &span, key, &expr, attr);
                        attrs.insert(name.to_owned(), expr);
                    } else {
                        // Present but malformed: do not also report it as missing.
                        attrs.insert(
                            name.to_owned(),
                            Expr {
                                kind: ExprKind::Literal(Value::Null),
                                span: value.span.clone(),
                            },
                        );
                    }
                }
            }
        }
        if let Some((key, value)) = manifest_file {
            if !schema.attributes.contains_key("manifest") {
                self.diagnostics.push(
                    Diagnostic::at(
                        &self.sources,
                        &key.span,
                        format!("`file` is only for resource types with a `manifest` attribute; `{}` has none", addr.type_name),
                        "no manifest attribute",
                    )
                    .with_address(addr.clone()),
                );
            } else if attrs.contains_key("manifest") {
                self.diagnostics.push(
                    Diagnostic::at(
                        &self.sources,
                        &key.span,
                        "set either `file` or `manifest`, not both",
                        "second manifest",
                    )
                    .with_address(addr.clone()),
                );
            } else if let Some(manifest) = self.manifest(addr, value) {
                attrs.insert("manifest".to_owned(), manifest);
            } else {
                attrs.insert(
                    "manifest".to_owned(),
                    Expr {
                        kind: ExprKind::Literal(Value::Null),
                        span: value.span.clone(),
                    },
                );
            }
        }
        for (name, attr) in &schema.attributes {
            if attr.mode == Mode::Required && !attrs.contains_key(name) {
                self.diagnostics.push(
                    Diagnostic::at(
                        &self.sources,
                        &span,
                        format!("missing required attribute `{name}`"),
                        "in this resource",
                    )
                    .with_address(addr.clone()),
                );
            }
        }
        let resource = Resource {
            addr: addr.clone(),
            attrs,
            for_each,
            depends_on: Vec::new(),
            lifecycle,
            timeouts,
            span,
        };
        Some((
            Pending {
                resource,
                depends_on,
            },
            enabled,
        ))
    }

    /// Reports literal type mismatches. For a sensitive attribute the message carries no
    /// detail and points at the resource header, so the rendered snippet never shows the
    /// literal (which sits on the attribute's own line).
    fn check_type(
        &mut self,
        addr: &ResourceAddr,
        resource_span: &Span,
        key: &Key,
        expr: &Expr,
        attr: &AttrSchema,
    ) {
        let mut mismatches = Vec::new();
        super::types::check_expr(expr, &attr.ty, &key.name, &mut mismatches);
        for (mut mismatch, mut span) in mismatches {
            if attr.sensitive {
                mismatch.message = format!("expected {}", super::types::describe_type(&attr.ty));
                mismatch.suggestion = None;
                span = resource_span.clone();
            }
            let mut diagnostic = Diagnostic::at(
                &self.sources,
                &span,
                format!("attribute `{}`: {}", mismatch.path, mismatch.message),
                "wrong type",
            )
            .with_address(addr.clone());
            if let Some(close) = mismatch.suggestion {
                diagnostic = diagnostic.with_help(format!("did you mean `{close}`?"));
            }
            self.diagnostics.push(diagnostic);
        }
    }

    fn depends_on(&mut self, addr: &ResourceAddr, node: &Node) -> Vec<(ResourceAddr, Span)> {
        let NodeKind::Array(items) = &node.kind else {
            self.diagnostics.push(
                Diagnostic::at(
                    &self.sources,
                    &node.span,
                    "`depends_on` must be an array of \"TYPE.NAME\"",
                    "expected an array",
                )
                .with_address(addr.clone()),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            match item.as_str().map(str::parse::<ResourceAddr>) {
                Some(Ok(target)) => out.push((target, item.span.clone())),
                _ => self.diagnostics.push(
                    Diagnostic::at(
                        &self.sources,
                        &item.span,
                        "`depends_on` entries are \"TYPE.NAME\" strings",
                        "not an address",
                    )
                    .with_address(addr.clone()),
                ),
            }
        }
        out
    }

    fn lifecycle(
        &mut self,
        addr: &ResourceAddr,
        node: &Node,
        schema: &ResourceSchema,
    ) -> Lifecycle {
        let mut lifecycle = Lifecycle {
            span: Some(node.span.clone()),
            ..Lifecycle::default()
        };
        let Some(entries) = node.as_table() else {
            self.diagnostics.push(
                Diagnostic::at(
                    &self.sources,
                    &node.span,
                    "`lifecycle` must be a table",
                    "expected a table",
                )
                .with_address(addr.clone()),
            );
            return lifecycle;
        };
        for (key, value) in entries {
            match key.name.as_str() {
                "prevent_destroy" => {
                    lifecycle.prevent_destroy = self
                        .load_time_bool(value, "lifecycle.prevent_destroy", addr)
                        .unwrap_or(false);
                }
                "create_before_destroy" => {
                    lifecycle.create_before_destroy = self
                        .load_time_bool(value, "lifecycle.create_before_destroy", addr)
                        .unwrap_or(false);
                }
                "ignore_changes" => {
                    let NodeKind::Array(items) = &value.kind else {
                        self.diagnostics.push(
                            Diagnostic::at(
                                &self.sources,
                                &value.span,
                                "`ignore_changes` must be an array of attribute paths",
                                "expected an array",
                            )
                            .with_address(addr.clone()),
                        );
                        continue;
                    };
                    for item in items {
                        let Some(path) = item.as_str() else {
                            self.diagnostics.push(
                                Diagnostic::at(
                                    &self.sources,
                                    &item.span,
                                    "attribute paths are strings",
                                    "expected a string",
                                )
                                .with_address(addr.clone()),
                            );
                            continue;
                        };
                        let attr = path.split(['.', '[']).next().unwrap_or(path);
                        if !schema.attributes.contains_key(attr) {
                            let mut diagnostic = Diagnostic::at(
                                &self.sources,
                                &item.span,
                                format!("`ignore_changes` names unknown attribute `{attr}`"),
                                "not in the schema",
                            )
                            .with_address(addr.clone());
                            if let Some(close) =
                                closest(attr, schema.attributes.keys().map(String::as_str))
                            {
                                diagnostic =
                                    diagnostic.with_help(format!("did you mean `{close}`?"));
                            }
                            self.diagnostics.push(diagnostic);
                            continue;
                        }
                        lifecycle.ignore_changes.push(path.to_owned());
                    }
                }
                other => self.unknown_key(key, other, "`lifecycle`", LIFECYCLE_KEYS),
            }
        }
        lifecycle
    }

    fn timeouts(&mut self, addr: &ResourceAddr, node: &Node) -> TimeoutOverrides {
        let mut timeouts = TimeoutOverrides::default();
        let Some(entries) = node.as_table() else {
            self.diagnostics.push(
                Diagnostic::at(
                    &self.sources,
                    &node.span,
                    "`timeouts` must be a table",
                    "expected a table",
                )
                .with_address(addr.clone()),
            );
            return timeouts;
        };
        for (key, value) in entries {
            let slot = match key.name.as_str() {
                "create" => &mut timeouts.create,
                "update" => &mut timeouts.update,
                "delete" => &mut timeouts.delete,
                other => {
                    self.unknown_key(key, other, "`timeouts`", TIMEOUT_KEYS);
                    continue;
                }
            };
            match value.as_str().and_then(parse_duration) {
                Some(duration) => *slot = Some(duration),
                None => self.diagnostics.push(
                    Diagnostic::at(
                        &self.sources,
                        &value.span,
                        "a timeout is a duration like \"30m\", \"1h\" or \"90s\"",
                        "not a duration",
                    )
                    .with_address(addr.clone()),
                ),
            }
        }
        timeouts
    }

    fn providers(&mut self, raw: &RawStack) -> BTreeMap<String, ProviderBlock> {
        let mut providers = BTreeMap::new();
        for (name, definition) in &raw.providers {
            let Some(schema) = self.schemas.get(name) else {
                let mut diagnostic = Diagnostic::at(
                    &self.sources,
                    &definition.key.span,
                    format!("unknown provider `{name}`"),
                    "no such provider",
                );
                if let Some(close) = closest(name, self.schemas.keys().map(String::as_str)) {
                    diagnostic = diagnostic.with_help(format!("did you mean `{close}`?"));
                }
                self.diagnostics.push(diagnostic);
                continue;
            };
            let config_schema = schema.config.clone();
            let Some(entries) = definition.body.as_table() else {
                self.diagnostics.push(Diagnostic::at(
                    &self.sources,
                    &definition.body.span,
                    format!("provider `{name}` must be a table"),
                    "expected a table",
                ));
                continue;
            };
            let mut config = BTreeMap::new();
            for (key, value) in entries {
                let Some(attr) = config_schema.get(&key.name) else {
                    let valid: Vec<&str> = config_schema.keys().map(String::as_str).collect();
                    self.unknown_key(key, &key.name, &format!("`[providers.{name}]`"), &valid);
                    continue;
                };
                let Some(expr) = self.expr(value) else {
                    continue;
                };
                let mut mismatches = Vec::new();
                super::types::check_expr(&expr, &attr.ty, &key.name, &mut mismatches);
                for (mismatch, span) in mismatches {
                    self.diagnostics.push(Diagnostic::at(
                        &self.sources,
                        &span,
                        format!(
                            "provider `{name}`: `{}`: {}",
                            mismatch.path, mismatch.message
                        ),
                        "wrong type",
                    ));
                }
                config.insert(key.name.clone(), expr);
            }
            for (attr_name, attr) in &config_schema {
                if attr.mode == Mode::Required && !config.contains_key(attr_name) {
                    self.diagnostics.push(Diagnostic::at(
                        &self.sources,
                        &definition.key.span,
                        format!("provider `{name}` is missing required attribute `{attr_name}`"),
                        "in this block",
                    ));
                }
            }
            providers.insert(
                name.clone(),
                ProviderBlock {
                    name: name.clone(),
                    config,
                    span: definition.key.span.clone(),
                },
            );
        }
        providers
    }

    /// `[[moved]]`: `from` and `to` addresses; `to` must be a resource of the stack
    /// (an instance key only on a `for_each` one).
    fn moved(&mut self, raw: &RawStack, known: &Known) -> Vec<Moved> {
        let mut moved = Vec::new();
        for node in &raw.moved {
            let Some(entries) = node.as_table() else {
                self.diagnostics.push(Diagnostic::at(
                    &self.sources,
                    &node.span,
                    "a [[moved]] entry must be a table with `from` and `to`",
                    "expected a table",
                ));
                continue;
            };
            let mut from = None;
            let mut to = None;
            for (key, value) in entries {
                let slot = match key.name.as_str() {
                    "from" => &mut from,
                    "to" => &mut to,
                    other => {
                        self.unknown_key(key, other, "[[moved]]", &["from", "to"]);
                        continue;
                    }
                };
                match value.as_str().map(str::parse::<ResourceAddr>) {
                    Some(Ok(addr)) => *slot = Some((addr, value.span.clone())),
                    _ => self.diagnostics.push(Diagnostic::at(
                        &self.sources,
                        &value.span,
                        format!(
                            "`{}` must be an address like \"TYPE.NAME\" or 'TYPE.NAME[\"key\"]'",
                            key.name
                        ),
                        "not an address",
                    )),
                }
            }
            let (Some((from, _)), Some((to, to_span))) = (from, to) else {
                if !entries.is_empty() {
                    self.diagnostics.push(Diagnostic::at(
                        &self.sources,
                        &node.span,
                        "a [[moved]] entry needs both `from` and `to`",
                        "in this entry",
                    ));
                }
                continue;
            };
            let target_ok = match known.types.get(&to.config()) {
                None => Err(format!(
                    "moved to `{to}`, which is not a resource of the stack"
                )),
                Some(_) if known.disabled.contains(&to.config()) => Ok(()),
                Some(_) => {
                    let for_each = known.for_each.contains(&to.config());
                    match (to.key.is_some(), for_each) {
                        (true, false) => Err(format!(
                            "moved to `{to}`, but `{}` has no `for_each`",
                            to.config()
                        )),
                        _ => Ok(()),
                    }
                }
            };
            if let Err(message) = target_ok {
                self.diagnostics
                    .push(Diagnostic::at(&self.sources, &to_span, message, "here"));
                continue;
            }
            if from == to {
                self.diagnostics.push(Diagnostic::at(
                    &self.sources,
                    &to_span,
                    format!("`{from}` is moved to itself"),
                    "here",
                ));
                continue;
            }
            moved.push(Moved {
                from,
                to,
                span: node.span.clone(),
            });
        }
        moved
    }

    /// `[[import]]`: `to`, a resource of the stack (an instance key only on a `for_each`
    /// one), and `id`, a string that may use variables.
    fn imports(&mut self, raw: &RawStack, known: &Known) -> Vec<Import> {
        let mut imports = Vec::new();
        for node in &raw.imports {
            let Some(entries) = node.as_table() else {
                self.diagnostics.push(Diagnostic::at(
                    &self.sources,
                    &node.span,
                    "an [[import]] entry must be a table with `to` and `id`",
                    "expected a table",
                ));
                continue;
            };
            let mut to = None;
            let mut id = None;
            for (key, value) in entries {
                match key.name.as_str() {
                    "to" => match value.as_str().map(str::parse::<ResourceAddr>) {
                        Some(Ok(addr)) => to = Some((addr, value.span.clone())),
                        _ => self.diagnostics.push(Diagnostic::at(
                            &self.sources,
                            &value.span,
                            "`to` must be an address like \"TYPE.NAME\" or 'TYPE.NAME[\"key\"]'",
                            "not an address",
                        )),
                    },
                    "id" => match self.load_time_value(value, "id", None) {
                        Some(Value::String(text)) => id = Some(text),
                        Some(other) => self.diagnostics.push(Diagnostic::at(
                            &self.sources,
                            &value.span,
                            format!("`id` must be a string, got {}", other.type_name()),
                            "not a string",
                        )),
                        None => {}
                    },
                    other => self.unknown_key(key, other, "[[import]]", &["to", "id"]),
                }
            }
            let (Some((to, to_span)), Some(id)) = (to, id) else {
                if !entries.is_empty() {
                    self.diagnostics.push(Diagnostic::at(
                        &self.sources,
                        &node.span,
                        "an [[import]] entry needs both `to` and `id`",
                        "in this entry",
                    ));
                }
                continue;
            };
            let problem = if !known.types.contains_key(&to.config())
                || known.disabled.contains(&to.config())
            {
                Some(format!(
                    "import to `{to}`, which is not a resource of the stack"
                ))
            } else if to.key.is_some() != known.for_each.contains(&to.config()) {
                Some(format!(
                    "import to `{to}`: `{}` {}",
                    to.config(),
                    if to.key.is_some() {
                        "has no `for_each`"
                    } else {
                        "has `for_each`: name the instance, e.g. 'TYPE.NAME[\"key\"]'"
                    }
                ))
            } else {
                None
            };
            if let Some(message) = problem {
                self.diagnostics
                    .push(Diagnostic::at(&self.sources, &to_span, message, "here"));
                continue;
            }
            imports.push(Import {
                to,
                id,
                span: node.span.clone(),
            });
        }
        imports
    }

    /// `[locals]`: one named expression per key.
    fn locals(&mut self, raw: &RawStack) -> BTreeMap<String, Local> {
        let mut locals = BTreeMap::new();
        for (name, definition) in &raw.locals {
            if !is_name(name) {
                self.diagnostics.push(Diagnostic::at(
                    &self.sources,
                    &definition.key.span,
                    format!(
                        "`{name}` is not a valid local name: names use letters, digits, `_` and `-`"
                    ),
                    "invalid name",
                ));
                continue;
            }
            let value = self.expr(&definition.body).unwrap_or(Expr {
                kind: ExprKind::Literal(Value::Null),
                span: definition.body.span.clone(),
            });
            locals.insert(
                name.clone(),
                Local {
                    name: name.clone(),
                    value,
                    span: definition.key.span.clone(),
                },
            );
        }
        locals
    }

    fn outputs(&mut self, raw: &RawStack) -> BTreeMap<String, Output> {
        let mut outputs = BTreeMap::new();
        for (name, definition) in &raw.outputs {
            let span = definition.key.span.clone();
            let Some(entries) = definition.body.as_table() else {
                self.diagnostics.push(Diagnostic::at(
                    &self.sources,
                    &definition.body.span,
                    format!("output `{name}` must be a table"),
                    "expected a table",
                ));
                continue;
            };
            let mut value = None;
            let mut description = None;
            let mut sensitive = false;
            let mut value_seen = false;
            for (key, node) in entries {
                match (key.name.as_str(), &node.kind) {
                    ("value", _) => {
                        value_seen = true;
                        value = self.expr(node);
                    }
                    ("description", NodeKind::String(text)) => description = Some(text.clone()),
                    ("sensitive", NodeKind::Bool(flag)) => sensitive = *flag,
                    ("description" | "sensitive", _) => self.diagnostics.push(Diagnostic::at(
                        &self.sources,
                        &node.span,
                        format!(
                            "`{}` of output `{name}` has the wrong type: {}",
                            key.name,
                            node.type_name()
                        ),
                        "wrong type",
                    )),
                    (other, _) => {
                        self.unknown_key(key, other, &format!("output `{name}`"), OUTPUT_KEYS)
                    }
                }
            }
            match value {
                Some(value) => {
                    outputs.insert(
                        name.clone(),
                        Output {
                            name: name.clone(),
                            value,
                            sensitive,
                            description,
                            span,
                        },
                    );
                }
                None if !value_seen => self.diagnostics.push(Diagnostic::at(
                    &self.sources,
                    &span,
                    format!("output `{name}` has no `value`"),
                    "in this output",
                )),
                None => {}
            }
        }
        outputs
    }

    /// Checks one expression's references; rewrites those to disabled resources into
    /// `null` so `coalesce(...)` over optional resources works (`[]` for a splat, `{}`
    /// for a whole `for_each` resource).
    /// `each_allowed`: the expression belongs to a resource with `for_each`.
    fn check_references(
        &mut self,
        expr: &mut Expr,
        owner: Option<&ResourceAddr>,
        each_allowed: bool,
        known: &Known,
    ) {
        let mut any_disabled = false;
        let mut problems = Vec::new();
        for (reference, span) in expr.references_with_spans() {
            match reference {
                Reference::Variable { name, .. } => {
                    if !self.declared_variables.contains(name) {
                        problems.push(Problem::Variable(name.clone(), span.clone()));
                    }
                }
                Reference::Local { name, .. } => {
                    if !known.locals.contains(name) {
                        problems.push(Problem::Local(name.clone(), span.clone()));
                    }
                }
                Reference::Each { .. } => {
                    if !each_allowed {
                        problems.push(Problem::Each(span.clone()));
                    }
                }
                Reference::Resource { addr, attr, .. } => {
                    any_disabled |= known.disabled.contains(addr);
                    if known.invalid.contains(addr) {
                        continue;
                    }
                    let Some(attr) = attr else {
                        if !known.types.contains_key(addr) {
                            problems.push(Problem::Resource(addr.clone(), span.clone()));
                        }
                        continue;
                    };
                    match known.types.get(addr).and_then(|t| self.resource_schema(t)) {
                        Some(schema) if schema.attributes.contains_key(attr) => {}
                        Some(schema) => problems.push(Problem::Attribute(
                            addr.clone(),
                            attr.clone(),
                            span.clone(),
                            closest(attr, schema.attributes.keys().map(String::as_str))
                                .map(str::to_owned),
                        )),
                        None => problems.push(Problem::Resource(addr.clone(), span.clone())),
                    }
                }
            }
        }
        for problem in problems {
            match problem {
                Problem::Variable(name, span) => self.undefined_variable(&name, &span, owner),
                Problem::Local(name, span) => {
                    let span = self.locate(&span, &format!("local.{name}"));
                    let mut diagnostic = Diagnostic::at(
                        &self.sources,
                        &span,
                        format!("undefined local `local.{name}`"),
                        "not declared",
                    );
                    diagnostic = match closest(&name, known.locals.iter().map(String::as_str)) {
                        Some(close) => {
                            diagnostic.with_help(format!("did you mean `local.{close}`?"))
                        }
                        None => {
                            diagnostic.with_help(format!("declare it under [locals]: {name} = ..."))
                        }
                    };
                    if let Some(owner) = owner {
                        diagnostic = diagnostic.with_address(owner.clone());
                    }
                    self.diagnostics.push(diagnostic);
                }
                Problem::Each(span) => {
                    let span = self.locate(&span, "each.");
                    let mut diagnostic = Diagnostic::at(
                        &self.sources,
                        &span,
                        "`each` is only defined in a resource with `for_each`",
                        "no for_each here",
                    );
                    if let Some(owner) = owner {
                        diagnostic = diagnostic.with_address(owner.clone());
                    }
                    self.diagnostics.push(diagnostic);
                }
                Problem::Resource(addr, span) => {
                    self.undeclared_resource(&addr, &span, owner, known)
                }
                Problem::Attribute(addr, attr, span, suggestion) => {
                    let span = self.locate(&span, &format!("{addr}.{attr}"));
                    let mut diagnostic = Diagnostic::at(
                        &self.sources,
                        &span,
                        format!("`{addr}` has no attribute `{attr}`"),
                        "unknown attribute",
                    );
                    if let Some(owner) = owner {
                        diagnostic = diagnostic.with_address(owner.clone());
                    }
                    if let Some(close) = suggestion {
                        diagnostic =
                            diagnostic.with_help(format!("did you mean `{addr}.{close}`?"));
                    }
                    self.diagnostics.push(diagnostic);
                }
            }
        }
        if any_disabled {
            // A disabled resource has no instance: a splat over them is empty, as is the
            // map of a `for_each` resource's instances; anything else is `null`.
            expr.rewrite_interps(&mut |interp| match interp {
                Interp::Reference(Reference::Resource {
                    addr,
                    instance,
                    attr,
                    ..
                }) if known.disabled.contains(addr) => {
                    Some(Interp::Literal(match (instance, attr) {
                        (Some(PathSegment::Splat), _) => Value::List(Vec::new()),
                        (None, None) if known.for_each.contains(addr) => {
                            Value::Map(BTreeMap::new())
                        }
                        _ => Value::Null,
                    }))
                }
                _ => None,
            });
        }
    }

    fn undeclared_resource(
        &mut self,
        addr: &ResourceAddr,
        span: &Span,
        owner: Option<&ResourceAddr>,
        known: &Known,
    ) {
        let span = self.locate(span, &addr.to_string());
        let mut diagnostic = Diagnostic::at(
            &self.sources,
            &span,
            format!("reference to undeclared resource `{addr}`"),
            "not declared",
        );
        if let Some(owner) = owner {
            diagnostic = diagnostic.with_address(owner.clone());
        }
        let names: Vec<String> = known.types.keys().map(ToString::to_string).collect();
        if let Some(close) = closest(&addr.to_string(), names.iter().map(String::as_str)) {
            diagnostic = diagnostic.with_help(format!("did you mean `{close}`?"));
        }
        self.diagnostics.push(diagnostic);
    }

    /// Checks a resource's references and `depends_on`; enabled dependencies are kept.
    fn check_resource(&mut self, addr: &ResourceAddr, entry: &mut Pending, known: &Known) {
        let each_allowed = entry.resource.for_each.is_some();
        for expr in entry.resource.attrs.values_mut() {
            self.check_references(expr, Some(addr), each_allowed, known);
        }
        if let Some(for_each) = &mut entry.resource.for_each {
            self.check_references(for_each, Some(addr), false, known);
        }
        for (target, span) in std::mem::take(&mut entry.depends_on) {
            // `depends_on` orders whole resources, all their instances.
            let target = target.config();
            if known.invalid.contains(&target) || known.disabled.contains(&target) {
                continue;
            }
            if known.types.contains_key(&target) {
                entry.resource.depends_on.push(target);
            } else {
                self.undeclared_resource(&target, &span, Some(addr), known);
            }
        }
    }
}

/// A reference problem found while the expression is borrowed, reported after.
enum Problem {
    Variable(String, Span),
    Local(String, Span),
    Each(Span),
    Resource(ResourceAddr, Span),
    Attribute(ResourceAddr, String, Span, Option<String>),
}

/// What references may point at.
struct Known {
    /// Every validated resource, enabled or not, with its type.
    types: BTreeMap<ResourceAddr, String>,
    /// Disabled resources: references become `null`, `depends_on` entries are dropped.
    disabled: BTreeSet<ResourceAddr>,
    /// Declared but not validated (unknown type...): already reported, so references
    /// to them are not.
    invalid: BTreeSet<ResourceAddr>,
    /// Every `[locals]` name.
    locals: BTreeSet<String>,
    /// Resources with `for_each`.
    for_each: BTreeSet<ResourceAddr>,
}

/// A name as `${...}` spells it after `local.`.
fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A bool, looking through a sensitive wrapper (load-time flags are never printed).
pub(super) fn eval_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Sensitive(inner) => eval_bool(inner),
        _ => None,
    }
}

/// The whole load: see [`super::load`].
pub(super) fn load_stack(
    dir: &Path,
    options: &super::LoadOptions,
    schemas: &BTreeMap<String, ProviderSchema>,
) -> Result<Stack, Diagnostics> {
    let env = options.env.clone().unwrap_or_else(|| "default".to_owned());
    // The environment names a file to read and, with the stack name, the state file to
    // write: check it before either is touched.
    if let Err(problem) = super::check_name(&env) {
        return Err(Diagnostics::from(
            Diagnostic::error(format!(
                "--env `{env}` is not a valid environment name: {problem}"
            ))
            .with_help(format!("e.g. --env dev; {}", super::NAME_RULE)),
        ));
    }
    if let Some(base) = &options.env_base
        && let Err(problem) = super::check_name(base)
    {
        return Err(Diagnostics::from(
            Diagnostic::error(format!(
                "--env-base `{base}` is not a valid environment name: {problem}"
            ))
            .with_help(format!("e.g. --env-base dev; {}", super::NAME_RULE)),
        ));
    }
    let mut loader = Loader {
        dir,
        env: env.clone(),
        schemas,
        sources: Sources::default(),
        diagnostics: Diagnostics::new(),
        variables: BTreeMap::new(),
        declared_variables: BTreeSet::new(),
        written_locals: BTreeMap::new(),
        load_time_locals: BTreeMap::new(),
    };
    let raw = read_raw(dir, &mut loader.sources, &mut loader.diagnostics)?;
    loader.written_locals = raw
        .locals
        .iter()
        .map(|(name, definition)| (name.clone(), definition.body.clone()))
        .collect();
    loader.resolve_variables(&raw.variables, options);
    let (mut pending, mut disabled, invalid) = loader.resources(&raw);
    let mut providers = loader.providers(&raw);
    let mut outputs = loader.outputs(&raw);
    let mut locals = loader.locals(&raw);

    let known = Known {
        locals: raw.locals.keys().cloned().collect(),
        for_each: pending
            .iter()
            .chain(disabled.iter())
            .filter(|(_, p)| p.resource.for_each.is_some())
            .map(|(addr, _)| addr.clone())
            .collect(),
        types: pending
            .keys()
            .chain(disabled.keys())
            .map(|addr| (addr.clone(), addr.type_name.clone()))
            .collect(),
        disabled: disabled.keys().cloned().collect(),
        invalid,
    };
    for (addr, entry) in pending.iter_mut().chain(disabled.iter_mut()) {
        loader.check_resource(addr, entry, &known);
    }
    for block in providers.values_mut() {
        for expr in block.config.values_mut() {
            loader.check_references(expr, None, false, &known);
        }
    }
    for output in outputs.values_mut() {
        loader.check_references(&mut output.value, None, false, &known);
    }
    for local in locals.values_mut() {
        loader.check_references(&mut local.value, None, false, &known);
    }
    let moved = loader.moved(&raw, &known);
    let imports = loader.imports(&raw, &known);

    // A provider used only through its resources still gets an (empty) block, so every
    // resource has one to be configured by; unless its configuration has required
    // attributes, which only a written block can give.
    for entry in pending.values() {
        let provider = entry.resource.addr.provider().to_owned();
        if providers.contains_key(&provider) {
            continue;
        }
        let required: Vec<&str> = schemas
            .get(&provider)
            .map(|schema| {
                schema
                    .config
                    .iter()
                    .filter(|(_, attr)| attr.mode == Mode::Required)
                    .map(|(name, _)| name.as_str())
                    .collect()
            })
            .unwrap_or_default();
        if !required.is_empty() {
            loader.diagnostics.push(
                Diagnostic::at(
                    &loader.sources,
                    &entry.resource.span,
                    format!(
                        "provider `{provider}` is not configured: it needs {}",
                        required.join(", ")
                    ),
                    "first resource of this provider",
                )
                .with_help(format!("add a [providers.{provider}] block")),
            );
        }
        providers.insert(
            provider.clone(),
            ProviderBlock {
                name: provider,
                config: BTreeMap::new(),
                span: entry.resource.span.clone(),
            },
        );
    }

    let backend = raw
        .backend
        .as_ref()
        .and_then(|b| super::backend::validate(&loader.sources, b, &mut loader.diagnostics));
    let name = stack_name(dir, raw.name, &loader.sources, &mut loader.diagnostics);
    let Loader {
        sources,
        diagnostics,
        variables,
        ..
    } = loader;
    diagnostics.into_result(Stack {
        name,
        dir: dir.to_path_buf(),
        env,
        sources,
        variables,
        providers,
        locals,
        moved,
        imports,
        resources: pending
            .into_iter()
            .map(|(addr, entry)| (addr, entry.resource))
            .collect(),
        outputs,
        backend,
    })
}

/// `[stack] name`, else the directory's name.
fn stack_name(
    dir: &Path,
    name: Option<(String, Span)>,
    sources: &Sources,
    diagnostics: &mut Diagnostics,
) -> String {
    match name {
        Some((name, span)) => {
            if let Err(problem) = super::check_name(&name) {
                diagnostics.push(
                    Diagnostic::at(
                        sources,
                        &span,
                        format!("`[stack] name` is not a valid stack name: {problem}"),
                        "this name",
                    )
                    .with_help(super::NAME_RULE),
                );
            }
            name
        }
        // A directory name is one path component already; keeping only safe characters
        // makes it a safe file name (`.tmpX` becomes `tmpX`, `my stack` becomes `my-stack`).
        None => dir
            .canonicalize()
            .ok()
            .and_then(|path| path.file_name().map(|n| n.to_string_lossy().into_owned()))
            .map(|name| {
                name.chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                            c
                        } else {
                            '-'
                        }
                    })
                    .skip_while(|c| !c.is_ascii_alphanumeric())
                    .take(64)
                    .collect::<String>()
            })
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "stack".to_owned()),
    }
}

/// Reads and merges every `*.toml` of `dir`; problems go to `diagnostics`.
fn read_raw(
    dir: &Path,
    sources: &mut Sources,
    diagnostics: &mut Diagnostics,
) -> Result<RawStack, Diagnostics> {
    let files = super::raw::stack_files(dir).map_err(Diagnostics::from)?;
    let mut raw = RawStack::default();
    for path in files {
        match super::source::read_text(&path) {
            Ok(text) => {
                let file = sources.add(display_path(&path), text);
                if let Some(table) = super::raw::parse_file(sources, file, diagnostics) {
                    super::raw::merge_file(&mut raw, sources, table, diagnostics);
                }
            }
            Err(err) => diagnostics.push(Diagnostic::error(format!(
                "cannot read {}: {err}",
                path.display()
            ))),
        }
    }
    Ok(raw)
}

/// What commands that work from the state alone need of a stack: its name and backend,
/// without variables, providers or resources.
pub(super) fn load_settings(dir: &Path) -> Result<super::StackSettings, Diagnostics> {
    let mut sources = Sources::default();
    let mut diagnostics = Diagnostics::new();
    let raw = read_raw(dir, &mut sources, &mut diagnostics)?;
    let backend = raw
        .backend
        .as_ref()
        .and_then(|b| super::backend::validate(&sources, b, &mut diagnostics));
    let name = stack_name(dir, raw.name, &sources, &mut diagnostics);
    diagnostics.into_result(super::StackSettings { name, backend })
}
