//! `[backend.s3]`: where a stack's state lives when it is not a local file.
//!
//! Validated here with the rest of the stack (spans, closest-name help); turning it into
//! a state location, with `--backend-config` overrides and the `${stack}` / `${env}`
//! names in `key` filled in, is the CLI's job (`cli/location.rs`).

use std::collections::BTreeMap;

use super::raw::{Definition, NodeKind};
use super::{Sources, Span};
use crate::diagnostics::{Diagnostic, Diagnostics, closest};

/// The backend types cairn knows.
pub const BACKEND_TYPES: &[&str] = &["s3"];
/// The settings of `[backend.s3]`.
pub const S3_KEYS: &[&str] = &["bucket", "key", "region", "lease_seconds"];
/// The names `key` may use: one state object per stack and environment.
pub const KEY_NAMES: &[&str] = &["stack", "env"];

/// A validated `[backend.TYPE]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendConfig {
    /// `s3`.
    pub kind: String,
    /// Setting name to value, as text (`lease_seconds = 30` is `"30"`), so that
    /// `--backend-config key=value` overrides merge in.
    pub settings: BTreeMap<String, String>,
    /// The TYPE in `[backend.TYPE]`.
    pub span: Span,
}

/// The `${...}` names in `text` that are not `stack` or `env`.
pub fn unknown_key_names(text: &str) -> Vec<String> {
    let mut unknown = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            unknown.push(after.to_owned());
            break;
        };
        let name = after[..end].trim();
        if !KEY_NAMES.contains(&name) {
            unknown.push(name.to_owned());
        }
        rest = &after[end + 1..];
    }
    unknown
}

/// Validates the merged `[backend]` table. Missing settings are not an error here: a
/// pipeline may give them with `--backend-config`.
pub(super) fn validate(
    sources: &Sources,
    definition: &Definition,
    diagnostics: &mut Diagnostics,
) -> Option<BackendConfig> {
    let Some(types) = definition.body.as_table() else {
        diagnostics.push(Diagnostic::at(
            sources,
            &definition.body.span,
            format!(
                "`[backend]` must be a table, got {}",
                definition.body.type_name()
            ),
            "expected a table",
        ));
        return None;
    };
    let mut found: Option<BackendConfig> = None;
    for (kind, body) in types {
        if !BACKEND_TYPES.contains(&kind.name.as_str()) {
            diagnostics.push(
                Diagnostic::at(
                    sources,
                    &kind.span,
                    format!("unknown backend type `{}`", kind.name),
                    "unknown backend",
                )
                .with_help(format!(
                    "backends: {} (the default is a local file)",
                    BACKEND_TYPES.join(", ")
                )),
            );
            continue;
        }
        if found.is_some() {
            diagnostics.push(Diagnostic::at(
                sources,
                &kind.span,
                "a stack has one backend",
                "second backend",
            ));
            continue;
        }
        let Some(entries) = body.as_table() else {
            diagnostics.push(Diagnostic::at(
                sources,
                &body.span,
                format!(
                    "`[backend.{}]` must be a table, got {}",
                    kind.name,
                    body.type_name()
                ),
                "expected a table",
            ));
            continue;
        };
        let mut settings = BTreeMap::new();
        for (key, value) in entries {
            if !S3_KEYS.contains(&key.name.as_str()) {
                let mut diagnostic = Diagnostic::at(
                    sources,
                    &key.span,
                    format!("unknown key `{}` in `[backend.{}]`", key.name, kind.name),
                    "unknown key",
                );
                diagnostic = match closest(&key.name, S3_KEYS.iter().copied()) {
                    Some(close) => diagnostic.with_help(format!("did you mean `{close}`?")),
                    None => diagnostic.with_help(format!("valid keys: {}", S3_KEYS.join(", "))),
                };
                diagnostics.push(diagnostic);
                continue;
            }
            let text = match (&value.kind, key.name.as_str()) {
                (NodeKind::Int(seconds), "lease_seconds") if *seconds > 0 => seconds.to_string(),
                (_, "lease_seconds") => {
                    diagnostics.push(Diagnostic::at(
                        sources,
                        &value.span,
                        "`lease_seconds` must be a positive integer",
                        "expected seconds",
                    ));
                    continue;
                }
                (NodeKind::String(text), _) => text.clone(),
                _ => {
                    diagnostics.push(Diagnostic::at(
                        sources,
                        &value.span,
                        format!("`{}` must be a string, got {}", key.name, value.type_name()),
                        "expected a string",
                    ));
                    continue;
                }
            };
            if key.name == "key" {
                for name in unknown_key_names(&text) {
                    diagnostics.push(
                        Diagnostic::at(
                            sources,
                            &value.span,
                            format!("`${{{name}}}` cannot be used in a backend key"),
                            "unknown name",
                        )
                        .with_help(
                            "a backend key may use ${stack} and ${env} only: the state is read before variables are",
                        ),
                    );
                }
            }
            settings.insert(key.name.clone(), text);
        }
        found = Some(BackendConfig {
            kind: kind.name.clone(),
            settings,
            span: kind.span.clone(),
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use crate::diagnostics::Diagnostics;

    fn settings(text: &str) -> Result<super::super::StackSettings, Diagnostics> {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("stack.toml"), text).expect("write");
        super::super::load_settings(dir.path())
    }

    fn messages(diagnostics: &Diagnostics) -> Vec<(String, Option<String>, usize)> {
        diagnostics
            .iter()
            .map(|d| {
                let line = d.location().map_or(0, |(_, line, _)| line);
                (
                    d.message().to_owned(),
                    d.help_text().map(str::to_owned),
                    line,
                )
            })
            .collect()
    }

    #[test]
    fn an_s3_backend_is_read_without_variables() {
        let loaded = settings(
            "[stack]\nname = \"web\"\n\n[variables.region]\ntype = \"string\"\n\n\
             [backend.s3]\nbucket = \"b\"\nkey = \"cairn/${stack}-${env}.json\"\nlease_seconds = 30\n",
        )
        .expect("a required variable is not needed to find the state");
        assert_eq!(loaded.name, "web");
        let backend = loaded.backend.expect("backend");
        assert_eq!(backend.kind, "s3");
        assert_eq!(backend.settings["key"], "cairn/${stack}-${env}.json");
        assert_eq!(backend.settings["lease_seconds"], "30");
        assert!(!backend.settings.contains_key("region"), "optional");
    }

    #[test]
    fn backend_mistakes_point_at_their_line_with_help() {
        let error = settings(
            "[stack]\nname = \"web\"\n\n[backend.s3]\nbuckt = \"b\"\nkey = \"${var.env}.json\"\nlease_seconds = \"1m\"\n\n[backend.gcs]\n",
        )
        .expect_err("four mistakes");
        let found = messages(&error);
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(found.contains(&(
            "unknown key `buckt` in `[backend.s3]`".to_owned(),
            Some("did you mean `bucket`?".to_owned()),
            5
        )));
        assert!(
            found.iter().any(|(m, h, line)| m.contains("${var.env}")
                && *line == 6
                && h.as_deref()
                    .is_some_and(|h| h.contains("${stack} and ${env}"))),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|(m, _, line)| m.contains("lease_seconds") && *line == 7),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|(m, _, line)| m.contains("unknown backend type `gcs`") && *line == 9),
            "{found:?}"
        );
    }

    #[test]
    fn only_stack_and_env_are_key_names() {
        assert!(super::unknown_key_names("a/${stack}/${env}.json").is_empty());
        assert_eq!(super::unknown_key_names("${ stack }-${region}"), ["region"]);
        assert_eq!(super::unknown_key_names("x${env"), ["env"]);
    }
}
