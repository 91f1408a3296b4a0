//! `file = "k8s/x.yaml"`: YAML manifests that become a resource's `manifest` attribute.
//!
//! Owns reading the YAML file (exactly one document), adding it to the stack's sources,
//! and turning it into an [`Expr`] whose strings may hold `${...}` like any stack string.
//! `serde_yaml_ng` values carry no positions, so each string's span is found by searching
//! the YAML text from where the previous string was found (documents are read in order);
//! anything not found, and every non-string value, points at the `file =` value instead.

use std::collections::BTreeMap;

use cairn_provider_core::Value;
use serde::Deserialize;

use super::Span;
use super::load::{Loader, display_path};
use super::raw::Node;
use crate::addr::ResourceAddr;
use crate::diagnostics::Diagnostic;
use crate::expr::{Expr, ExprKind, parse_string};

/// Converts YAML into an expression; `cursor` is where the next string is searched from.
struct Converter<'a, 'l> {
    loader: &'a mut Loader<'l>,
    yaml: Span,
    text: std::sync::Arc<str>,
    fallback: Span,
    cursor: usize,
    addr: &'a ResourceAddr,
}

impl Converter<'_, '_> {
    fn string_span(&mut self, needle: &str) -> Span {
        match self
            .text
            .get(self.cursor..)
            .and_then(|rest| rest.find(needle))
        {
            Some(at) if !needle.is_empty() => {
                let start = self.cursor + at;
                self.cursor = start + needle.len();
                Span {
                    file: self.yaml.file,
                    range: start..start + needle.len(),
                }
            }
            _ => self.fallback.clone(),
        }
    }

    fn convert(&mut self, value: serde_yaml_ng::Value) -> Expr {
        let fallback = self.fallback.clone();
        let literal = |value: Value| Expr {
            kind: ExprKind::Literal(value),
            span: fallback.clone(),
        };
        match value {
            serde_yaml_ng::Value::Null => literal(Value::Null),
            serde_yaml_ng::Value::Bool(b) => literal(Value::Bool(b)),
            serde_yaml_ng::Value::Number(n) => literal(match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            }),
            serde_yaml_ng::Value::String(s) => {
                let span = self.string_span(&s);
                match parse_string(&s) {
                    Ok(kind) => Expr { kind, span },
                    Err(err) => {
                        // Reported; the value becomes null so the rest of the
                        // manifest is still checked.
                        self.loader.diagnostics.push(
                            Diagnostic::at(
                                &self.loader.sources,
                                &span,
                                format!("malformed `${{...}}` in manifest: {}", err.message),
                                "here",
                            )
                            .with_address(self.addr.clone()),
                        );
                        literal(Value::Null)
                    }
                }
            }
            serde_yaml_ng::Value::Sequence(items) => Expr {
                kind: ExprKind::List(items.into_iter().map(|item| self.convert(item)).collect()),
                span: fallback,
            },
            serde_yaml_ng::Value::Mapping(mapping) => {
                let mut map = BTreeMap::new();
                for (key, value) in mapping {
                    let key = match key {
                        serde_yaml_ng::Value::String(s) => s,
                        serde_yaml_ng::Value::Number(n) => n.to_string(),
                        serde_yaml_ng::Value::Bool(b) => b.to_string(),
                        _ => {
                            self.loader.diagnostics.push(
                                Diagnostic::at(
                                    &self.loader.sources,
                                    &self.fallback,
                                    "manifest keys must be strings, numbers or bools",
                                    "in this manifest",
                                )
                                .with_address(self.addr.clone()),
                            );
                            continue;
                        }
                    };
                    // Keys are searched too, so the cursor tracks document order.
                    self.string_span(&key);
                    map.insert(key, self.convert(value));
                }
                Expr {
                    kind: ExprKind::Map(map),
                    span: fallback,
                }
            }
            serde_yaml_ng::Value::Tagged(tagged) => self.convert(tagged.value),
        }
    }
}

impl Loader<'_> {
    /// Reads the manifest named by `file = "..."` (relative to the stack directory).
    pub(super) fn manifest(&mut self, addr: &ResourceAddr, node: &Node) -> Option<Expr> {
        let Some(relative) = node.as_str() else {
            self.diagnostics.push(
                Diagnostic::at(
                    &self.sources,
                    &node.span,
                    "`file` must be a path string",
                    "expected a string",
                )
                .with_address(addr.clone()),
            );
            return None;
        };
        let path = self.dir.join(relative);
        if is_outside(self.dir, &path) {
            self.diagnostics.push(
                Diagnostic::at(
                    &self.sources,
                    &node.span,
                    format!(
                        "manifest {} is outside the stack directory {}",
                        path.display(),
                        self.dir.display()
                    ),
                    "outside the stack",
                )
                .with_address(addr.clone())
                .with_help(
                    "a stack reads files only inside its own folder (`..`, absolute paths and \
                     symbolic links that lead out of it are refused): move the file under it",
                ),
            );
            return None;
        }
        let text = match super::source::read_text(&path) {
            Ok(text) => text,
            Err(err) => {
                self.diagnostics.push(
                    Diagnostic::at(
                        &self.sources,
                        &node.span,
                        format!("cannot read manifest {}: {err}", path.display()),
                        "this file",
                    )
                    .with_address(addr.clone()),
                );
                return None;
            }
        };
        let file = self.sources.add(display_path(&path), text.as_str());
        let mut documents = Vec::new();
        for document in serde_yaml_ng::Deserializer::from_str(&text) {
            match serde_yaml_ng::Value::deserialize(document) {
                Ok(value) => documents.push(value),
                Err(err) => {
                    let at = err.location().map_or(0, |l| l.index());
                    self.diagnostics.push(
                        Diagnostic::at(
                            &self.sources,
                            &Span {
                                file,
                                range: at..at,
                            },
                            format!("malformed YAML: {err}"),
                            "here",
                        )
                        .with_address(addr.clone()),
                    );
                    return None;
                }
            }
        }
        let document = match <[serde_yaml_ng::Value; 1]>::try_from(documents) {
            Ok([document]) => document,
            Err(documents) => {
                self.diagnostics.push(
                    Diagnostic::at(
                        &self.sources,
                        &node.span,
                        format!(
                            "a manifest file must hold exactly one YAML document, found {}",
                            documents.len()
                        ),
                        "this file",
                    )
                    .with_address(addr.clone()),
                );
                return None;
            }
        };
        let text = self
            .sources
            .get(file)
            .map(|f| f.text.clone())
            .unwrap_or_default();
        let mut converter = Converter {
            loader: self,
            yaml: Span {
                file,
                range: 0..text.len(),
            },
            text,
            fallback: node.span.clone(),
            cursor: 0,
            addr,
        };
        Some(converter.convert(document))
    }
}

/// Whether `path` lies outside `dir` once `..` and symbolic links are resolved. A path that
/// does not exist is not outside: reading it reports that. A cloned stack must not read,
/// say, `~/.aws/credentials` into a manifest that apply sends to a cluster.
fn is_outside(dir: &std::path::Path, path: &std::path::Path) -> bool {
    match (dir.canonicalize(), path.canonicalize()) {
        (Ok(dir), Ok(path)) => !path.starts_with(dir),
        _ => false,
    }
}
