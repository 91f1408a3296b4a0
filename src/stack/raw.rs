//! The low-level form of a stack: TOML files parsed into owned trees with spans.
//!
//! Owns reading the stack directory, parsing each `*.toml` with `toml`'s span-keeping
//! `DeTable`, and merging the files' top-level tables into one set of definitions, with
//! duplicate-definition errors that name both places. It does not interpret attribute
//! values (that is `load`'s job) and knows nothing of schemas.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{FileId, Sources, Span};
use crate::diagnostics::{Diagnostic, Diagnostics, closest};

/// A TOML value with its span, owned so it can outlive the parser's borrow of the text.
#[derive(Clone, Debug)]
pub(super) struct Node {
    pub kind: NodeKind,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub(super) enum NodeKind {
    String(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Kept as text: stacks have no use for dates but must not crash on one.
    Datetime(String),
    Array(Vec<Node>),
    Table(Vec<(Key, Node)>),
}

/// A table key with its span.
#[derive(Clone, Debug)]
pub(super) struct Key {
    pub name: String,
    pub span: Span,
}

impl Node {
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            NodeKind::String(_) => "string",
            NodeKind::Int(_) => "integer",
            NodeKind::Float(_) => "float",
            NodeKind::Bool(_) => "bool",
            NodeKind::Datetime(_) => "datetime",
            NodeKind::Array(_) => "array",
            NodeKind::Table(_) => "table",
        }
    }

    pub fn as_table(&self) -> Option<&[(Key, Node)]> {
        match &self.kind {
            NodeKind::Table(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::String(s) => Some(s),
            _ => None,
        }
    }
}

fn convert_value(file: FileId, value: Spanned<DeValue<'_>>) -> Node {
    let span = Span {
        file,
        range: value.span(),
    };
    let kind = match value.into_inner() {
        DeValue::String(s) => NodeKind::String(s.into_owned()),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(int) => NodeKind::Int(int),
            // Out of i64 range: keep the digits, the type check will reject a string.
            Err(_) => NodeKind::String(i.as_str().to_owned()),
        },
        DeValue::Float(f) => NodeKind::Float(f.as_str().parse().unwrap_or(f64::NAN)),
        DeValue::Boolean(b) => NodeKind::Bool(b),
        DeValue::Datetime(d) => NodeKind::Datetime(d.to_string()),
        DeValue::Array(items) => NodeKind::Array(
            items
                .into_iter()
                .map(|item| convert_value(file, item))
                .collect(),
        ),
        DeValue::Table(table) => NodeKind::Table(convert_table(file, table)),
    };
    Node { kind, span }
}

fn convert_table(file: FileId, table: DeTable<'_>) -> Vec<(Key, Node)> {
    table
        .into_iter()
        .map(|(key, value)| {
            let span = Span {
                file,
                range: key.span(),
            };
            (
                Key {
                    name: key.into_inner().into_owned(),
                    span,
                },
                convert_value(file, value),
            )
        })
        .collect()
}

/// Parses one TOML text already added to `sources`.
pub(super) fn parse_file(
    sources: &Sources,
    file: FileId,
    diagnostics: &mut Diagnostics,
) -> Option<Vec<(Key, Node)>> {
    let text = sources.get(file)?.text.clone();
    match DeTable::parse(&text) {
        Ok(table) => Some(convert_table(file, table.into_inner())),
        Err(err) => {
            let range = err.span().unwrap_or(0..0);
            let message = format!("malformed TOML: {}", err.message().trim_end());
            diagnostics.push(Diagnostic::at(
                sources,
                &Span { file, range },
                message,
                "here",
            ));
            None
        }
    }
}

/// Parses a `--var` or `CAIRN_VAR_` value: a TOML value when it is one (`3`, `true`,
/// `["a"]`, `{ k = "v" }`, `"quoted"`), else the text as a string.
pub(super) fn parse_cli_value(text: &str) -> NodeKind {
    match DeValue::parse(text) {
        Ok(value) => convert_value(FileId(u32::MAX), value).kind,
        Err(_) => NodeKind::String(text.to_owned()),
    }
}

/// One definition: `[resources.TYPE.NAME]`, `[variables.NAME]`, ...
#[derive(Clone, Debug)]
pub(super) struct Definition {
    /// The key that names it (`NAME`), where duplicates and headers point.
    pub key: Key,
    pub body: Node,
}

/// Every definition in a stack directory, merged across files.
#[derive(Debug, Default)]
pub(super) struct RawStack {
    pub name: Option<(String, Span)>,
    pub variables: BTreeMap<String, Definition>,
    pub providers: BTreeMap<String, Definition>,
    /// Keyed by `(TYPE, NAME)`; `key` is the NAME key, `type_key` below the TYPE key.
    pub resources: BTreeMap<(String, String), (Key, Definition)>,
    pub outputs: BTreeMap<String, Definition>,
    /// `[locals]`: one definition per name.
    pub locals: BTreeMap<String, Definition>,
    /// `[[moved]]` entries, in file order.
    pub moved: Vec<Node>,
    /// `[[import]]` entries, in file order.
    pub imports: Vec<Node>,
    /// `[backend]`, validated by `backend.rs`.
    pub backend: Option<Definition>,
}

const TOP_LEVEL: &[&str] = &[
    "stack",
    "variables",
    "providers",
    "resources",
    "outputs",
    "backend",
    "locals",
    "moved",
    "import",
    "data",
];

/// The stack's `*.toml` files, sorted so loading (and error order) is deterministic.
pub(super) fn stack_files(dir: &Path) -> Result<Vec<PathBuf>, Diagnostic> {
    let entries = std::fs::read_dir(dir).map_err(|err| {
        Diagnostic::error(format!(
            "cannot read stack directory {}: {err}",
            dir.display()
        ))
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Diagnostic::error(format!(
            "{} has no *.toml files: not a stack directory",
            dir.display()
        )));
    }
    Ok(files)
}

/// Adds one parsed file's definitions to `raw`.
pub(super) fn merge_file(
    raw: &mut RawStack,
    sources: &Sources,
    table: Vec<(Key, Node)>,
    diagnostics: &mut Diagnostics,
) {
    for (key, node) in table {
        match key.name.as_str() {
            "stack" => merge_stack_table(raw, sources, node, diagnostics),
            "variables" => merge_named(&mut raw.variables, "variable", sources, node, diagnostics),
            "providers" => merge_named(&mut raw.providers, "provider", sources, node, diagnostics),
            "outputs" => merge_named(&mut raw.outputs, "output", sources, node, diagnostics),
            "locals" => merge_named(&mut raw.locals, "local", sources, node, diagnostics),
            "moved" => match node.kind {
                NodeKind::Array(entries) => raw.moved.extend(entries),
                _ => diagnostics.push(Diagnostic::at(
                    sources,
                    &node.span,
                    "`moved` must be an array of tables: [[moved]] from = \"...\" to = \"...\"",
                    "expected [[moved]]",
                )),
            },
            "import" => match node.kind {
                NodeKind::Array(entries) => raw.imports.extend(entries),
                _ => diagnostics.push(Diagnostic::at(
                    sources,
                    &node.span,
                    "`import` must be an array of tables: [[import]] to = \"...\" id = \"...\"",
                    "expected [[import]]",
                )),
            },
            "resources" => merge_resources(raw, sources, node, "", diagnostics),
            // Data sources are resources whose type is `data.TYPE`: read, never created.
            "data" => merge_resources(raw, sources, node, "data.", diagnostics),
            "backend" => match &raw.backend {
                Some(first) => diagnostics.push(duplicate(
                    sources,
                    "`[backend]`",
                    &first.key.span,
                    &key.span,
                )),
                None => raw.backend = Some(Definition { key, body: node }),
            },
            other => {
                let mut diagnostic = Diagnostic::at(
                    sources,
                    &key.span,
                    format!("unknown table `{other}`"),
                    "not a stack table",
                );
                diagnostic = match closest(other, TOP_LEVEL.iter().copied()) {
                    Some(name) => diagnostic.with_help(format!("did you mean `{name}`?")),
                    None => diagnostic.with_help(format!(
                        "a stack file has only these tables: {}",
                        TOP_LEVEL.join(", ")
                    )),
                };
                diagnostics.push(diagnostic);
            }
        }
    }
}

/// Where a definition is, as `file:line:column`, for "first defined at" help lines.
pub(super) fn describe(sources: &Sources, span: &Span) -> String {
    match sources.get(span.file) {
        Some(file) => {
            let (line, column) = crate::diagnostics::line_column(&file.text, span.range.start);
            format!("{}:{line}:{column}", file.path.display())
        }
        None => "an unknown place".to_owned(),
    }
}

fn duplicate(sources: &Sources, what: &str, first: &Span, second: &Span) -> Diagnostic {
    Diagnostic::at(
        sources,
        second,
        format!("{what} is defined twice"),
        "second definition",
    )
    .with_help(format!("first defined at {}", describe(sources, first)))
}

/// The entries of a table, taken by value so definitions move rather than clone.
fn expect_table(
    sources: &Sources,
    node: Node,
    what: &str,
    diagnostics: &mut Diagnostics,
) -> Option<Vec<(Key, Node)>> {
    match node.kind {
        NodeKind::Table(entries) => Some(entries),
        _ => {
            diagnostics.push(Diagnostic::at(
                sources,
                &node.span,
                format!("{what} must be a table, got {}", node.type_name()),
                "expected a table",
            ));
            None
        }
    }
}

fn merge_stack_table(
    raw: &mut RawStack,
    sources: &Sources,
    node: Node,
    diagnostics: &mut Diagnostics,
) {
    let Some(entries) = expect_table(sources, node, "`[stack]`", diagnostics) else {
        return;
    };
    for (key, value) in entries {
        match (key.name.as_str(), value.as_str()) {
            ("name", Some(name)) => {
                if let Some((_, first)) = &raw.name {
                    diagnostics.push(duplicate(sources, "`stack.name`", first, &key.span));
                } else {
                    raw.name = Some((name.to_owned(), value.span.clone()));
                }
            }
            ("name", None) => diagnostics.push(Diagnostic::at(
                sources,
                &value.span,
                format!("`stack.name` must be a string, got {}", value.type_name()),
                "expected a string",
            )),
            (other, _) => diagnostics.push(
                Diagnostic::at(
                    sources,
                    &key.span,
                    format!("unknown key `{other}` in `[stack]`"),
                    "unknown key",
                )
                .with_help("`[stack]` has only `name`"),
            ),
        }
    }
}

fn merge_named(
    into: &mut BTreeMap<String, Definition>,
    what: &str,
    sources: &Sources,
    node: Node,
    diagnostics: &mut Diagnostics,
) {
    let Some(entries) = expect_table(sources, node, &format!("`[{what}s]`"), diagnostics) else {
        return;
    };
    for (key, body) in entries {
        if let Some(first) = into.get(&key.name) {
            diagnostics.push(duplicate(
                sources,
                &format!("{what} `{}`", key.name),
                &first.key.span,
                &key.span,
            ));
            continue;
        }
        into.insert(key.name.clone(), Definition { key, body });
    }
}

/// The TYPE in this resource's own header. TOML merges `[resources.T.a]` and
/// `[resources.T.b]` into one implicit table `T` whose key span is the first header's;
/// errors about `T.b` should point at `T.b`'s header, so look for `T.` just before the
/// name on the name's line.
fn type_span_near(sources: &Sources, type_span: &Span, name_span: &Span, type_name: &str) -> Span {
    let Some(text) = sources.get(name_span.file).map(|f| &f.text) else {
        return type_span.clone();
    };
    let before = text.get(..name_span.range.start).unwrap_or_default();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    match before
        .get(line_start..)
        .and_then(|line| line.rfind(type_name))
    {
        Some(at) => {
            let start = line_start + at;
            Span {
                file: name_span.file,
                range: start..start + type_name.len(),
            }
        }
        None => type_span.clone(),
    }
}

fn merge_resources(
    raw: &mut RawStack,
    sources: &Sources,
    node: Node,
    prefix: &str,
    diagnostics: &mut Diagnostics,
) {
    let table = if prefix.is_empty() {
        "resources"
    } else {
        "data"
    };
    let Some(types) = expect_table(sources, node, &format!("`[{table}]`"), diagnostics) else {
        return;
    };
    for (type_key, by_name) in types {
        let what = format!("`[{table}.{}]`", type_key.name);
        let Some(names) = expect_table(sources, by_name, &what, diagnostics) else {
            continue;
        };
        for (name_key, body) in names {
            let id = (format!("{prefix}{}", type_key.name), name_key.name.clone());
            if let Some((_, first)) = raw.resources.get(&id) {
                let what = format!("resource `{}.{}`", id.0, id.1);
                diagnostics.push(duplicate(sources, &what, &first.key.span, &name_key.span));
                continue;
            }
            let type_key = Key {
                name: type_key.name.clone(),
                span: type_span_near(sources, &type_key.span, &name_key.span, &type_key.name),
            };
            raw.resources.insert(
                id,
                (
                    type_key,
                    Definition {
                        key: name_key,
                        body,
                    },
                ),
            );
        }
    }
}
