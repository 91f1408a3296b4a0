//! Fuzzing by property test (issue 11; cargo-fuzz needs a nightly toolchain): the TOML
//! loader, the `${...}` parser and the evaluator get arbitrary bytes and grammar-aware
//! inputs (nested expressions, calls, indexes, operators, quotes, templates, TOML tables)
//! and must never panic. Whatever they are given ends in a value or an error.
//!
//! Bounded so CI stays fast; `CAIRN_FUZZ_CASES=N` runs N cases per property instead (for
//! a long run: `CAIRN_FUZZ_CASES=200000 cargo test --release --no-default-features --test
//! fuzz -- --nocapture`, which prints how many inputs each property executed).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a test crate: its helpers outside #[test] fail as loudly as the tests"
)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use cairn::addr::ResourceAddr;
use cairn::expr::{Expr, FUNCTIONS, Scope, parse_string};
use cairn::providers::Registry;
use cairn::stack::{FileId, LoadOptions, Span};
use cairn_provider_core::Value;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};

fn cases(default: u32) -> u32 {
    std::env::var("CAIRN_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn config(default: u32) -> Config {
    Config {
        cases: cases(default),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::default()
    }
}

/// Counts executions per property (and how many inputs got past parsing or loading, to
/// show the generators reach the evaluator) and prints them when the property is done.
struct Executions {
    name: &'static str,
    count: AtomicUsize,
    accepted: AtomicUsize,
}

impl Executions {
    const fn new(name: &'static str) -> Executions {
        Executions {
            name,
            count: AtomicUsize::new(0),
            accepted: AtomicUsize::new(0),
        }
    }

    fn tick(&self, accepted: bool) {
        self.count.fetch_add(1, Ordering::Relaxed);
        if accepted {
            self.accepted.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn report(&self) {
        eprintln!(
            "fuzz {}: {} executions, {} accepted",
            self.name,
            self.count.load(Ordering::Relaxed),
            self.accepted.load(Ordering::Relaxed)
        );
    }
}

/// Variables of every shape, a secret and an unknown; any resource attribute is a small
/// map, a list or unknown depending on its name.
struct FuzzScope;

impl Scope for FuzzScope {
    fn variable(&self, name: &str) -> Option<Value> {
        Some(match name {
            "s" => Value::from("a,b,c"),
            "n" => Value::Int(-3),
            "f" => Value::Float(1.5),
            "b" => Value::Bool(true),
            "list" => Value::List(vec![Value::from("x"), Value::Int(2), Value::Null]),
            "map" => Value::Map(BTreeMap::from([
                ("k".to_owned(), Value::from("v")),
                ("n".to_owned(), Value::List(vec![Value::Unknown])),
            ])),
            "secret" => Value::from("hunter2").sensitive(),
            "unknown" => Value::Unknown,
            "cidr" => Value::from("10.0.0.0/16"),
            _ => return None,
        })
    }

    fn resource_attr(&self, _addr: &ResourceAddr, attr: &str) -> Option<Value> {
        Some(match attr {
            "id" => Value::Unknown,
            "tags" => Value::Map(BTreeMap::from([("Name".to_owned(), Value::from("t"))])),
            "list" => Value::List(vec![Value::from("a")]),
            _ => return None,
        })
    }
}

/// Parses and evaluates; true if the text parsed.
fn eval(text: &str) -> bool {
    let parsed = parse_string(text);
    let ok = parsed.is_ok();
    if let Ok(kind) = parsed {
        let expr = Expr {
            kind,
            span: Span {
                file: FileId(0),
                range: 0..text.len(),
            },
        };
        let _ = expr.eval(&FuzzScope);
    }
    ok
}

/// Leaves of the expression grammar.
fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "var.s",
            "var.n",
            "var.f",
            "var.b",
            "var.list",
            "var.map",
            "var.secret",
            "var.unknown",
            "var.cidr",
            "var.nope",
            "cairn_data.a.id",
            "cairn_data.a.tags",
            "cairn_data.a.list",
            "aws_vpc.main.id",
            "true",
            "false",
            "null",
            "0",
            "-1",
            "4",
            "1.5",
            "99999999999999999999",
            "-",
            "1.2.3",
            "var.",
            "var.list[0]",
            "var.map.k",
            "var.map[\"k\"]",
            "var.list[18446744073709551616]",
            "\"\"",
            "\"}\"",
            "\"${\"",
            "\"\\\"\"",
            "\"a\\\\b\"",
            "\"10.0.0.0/8\"",
            "\"é😀\"",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{1,6}\\.[a-z_]{1,6}\\.[a-z_]{1,6}",
        "\"[^\"\\\\]{0,8}\"",
        any::<i64>().prop_map(|n| n.to_string()),
    ]
}

/// Expressions: calls (known and unknown functions), parentheses, `!`, binary and
/// conditional operators, list and map literals, and paths after calls.
fn expression() -> impl Strategy<Value = String> {
    let mut functions: Vec<&str> = FUNCTIONS.to_vec();
    functions.push("nope");
    leaf().prop_recursive(6, 48, 4, move |inner| {
        let functions = functions.clone();
        prop_oneof![
            (
                prop::sample::select(functions),
                prop::collection::vec(inner.clone(), 0..4)
            )
                .prop_map(|(f, args)| format!("{f}({})", args.join(", "))),
            inner.clone().prop_map(|e| format!("({e})")),
            inner.clone().prop_map(|e| format!("!{e}")),
            (
                inner.clone(),
                prop::sample::select(vec![" == ", "!=", " && ", "||", " ? ", " : "]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("{a}{op}{b}")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| format!("{c} ? {a} : {b}")),
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec(("[a-z\"]{1,3}", inner.clone()), 0..3).prop_map(|entries| {
                let body: Vec<String> = entries.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                format!("{{{}}}", body.join(", "))
            }),
            (
                inner.clone(),
                prop::sample::select(vec!["[0]", "[5]", "[\"k\"]", ".k", "[", "[-1]", ".0"])
            )
                .prop_map(|(e, path)| format!("({e}){path}")),
        ]
    })
}

/// A string value as a stack would hold it: text and `${...}` (sometimes unclosed, or
/// escaped as `$${`), with a random edit now and then.
fn template() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        "[a-z /:.-]{0,6}",
        expression().prop_map(|e| format!("${{{e}}}")),
        expression().prop_map(|e| format!("${{{e}")),
        expression().prop_map(|e| format!("$${{{e}}}")),
        Just("$".to_owned()),
    ];
    (
        prop::collection::vec(part, 1..4),
        any::<prop::sample::Index>(),
        prop::option::of(prop::sample::select(vec![
            "}", "{", "(", ")", "\"", "[", "]", "$", "\\", "é", "?", ":", "!", ",",
        ])),
    )
        .prop_map(|(parts, at, edit)| {
            let mut text = parts.concat();
            if let Some(edit) = edit {
                let mut index = at.index(text.len() + 1);
                while !text.is_char_boundary(index) {
                    index -= 1;
                }
                text.insert_str(index, edit);
            }
            text
        })
}

/// Escapes a string for a TOML basic string.
fn toml_string(text: &str) -> String {
    format!("{text:?}")
}

/// A stack file: the grammar of stacks with templates in its values, nested arrays and
/// inline tables, and a random byte edit now and then.
fn stack_file() -> impl Strategy<Value = Vec<u8>> {
    let value = prop_oneof![
        template().prop_map(|t| toml_string(&t)),
        any::<i64>().prop_map(|n| n.to_string()),
        Just("[[[[1]]], {a = {b = [true]}}]".to_owned()),
        "\\[{0,100}".prop_map(|open| format!("{open}{}", "]".repeat(open.len()))),
        "(\\{ a = ){0,100}1"
            .prop_map(|open| format!("{open}{}", " }".repeat(open.matches('{').count()))),
    ];
    (
        prop::collection::vec(
            (
                prop::sample::select(vec![
                    "[resources.cairn_data.a]",
                    "[resources.cairn_data.b]",
                    "[resources.aws_vpc.main]",
                    "[variables.s]",
                    "[outputs.o]",
                    "[providers.cairn]",
                    "[stack]",
                    "[[resources]]",
                ]),
                prop::collection::vec(
                    (
                        prop::sample::select(vec![
                            "input",
                            "value",
                            "type",
                            "default",
                            "name",
                            "enabled",
                            "depends_on",
                            "lifecycle",
                            "timeouts",
                            "sensitive",
                            "file",
                            "junk",
                        ]),
                        value,
                    ),
                    0..4,
                ),
            ),
            0..5,
        ),
        prop::collection::vec(any::<u8>(), 0..3),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(tables, junk, at)| {
            let mut text = String::new();
            for (header, entries) in tables {
                text.push_str(header);
                text.push('\n');
                for (key, value) in entries {
                    text.push_str(&format!("{key} = {value}\n"));
                }
            }
            let mut bytes = text.into_bytes();
            let index = at.index(bytes.len() + 1);
            bytes.splice(index..index, junk);
            bytes
        })
}

/// Loads, builds the graph and checks the values; true if the stack loaded.
fn load(bytes: &[u8]) -> bool {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("stack.toml"), bytes).expect("write the stack");
    let registry = Registry::builtin();
    let Ok(stack) = cairn::stack::load(dir.path(), &LoadOptions::default(), registry.schemas())
    else {
        return false;
    };
    if let Ok(graph) = cairn::graph::ResourceGraph::build(&stack) {
        let _ = graph.to_dot();
        let _ = cairn::plan::check_values(&stack, &registry);
    }
    true
}

static PARSE_BYTES: Executions = Executions::new("parse+eval of arbitrary strings");
static PARSE_GRAMMAR: Executions = Executions::new("parse+eval of grammar-made templates");
static LOAD_BYTES: Executions = Executions::new("load of arbitrary bytes");
static LOAD_GRAMMAR: Executions = Executions::new("load of grammar-made stack files");

#[test]
fn parser_and_evaluator_never_panic_on_arbitrary_strings() {
    proptest!(config(3_000), |(text in any::<String>(), inside in any::<String>())| {
        let parsed = eval(&text);
        PARSE_BYTES.tick(eval(&format!("${{{inside}}}")) || parsed);
    });
    PARSE_BYTES.report();
}

#[test]
fn parser_and_evaluator_never_panic_on_grammar_made_templates() {
    proptest!(config(3_000), |(text in template())| {
        PARSE_GRAMMAR.tick(eval(&text));
    });
    PARSE_GRAMMAR.report();
}

#[test]
fn loader_never_panics_on_arbitrary_bytes() {
    proptest!(config(300), |(bytes in prop::collection::vec(any::<u8>(), 0..512))| {
        LOAD_BYTES.tick(load(&bytes));
    });
    LOAD_BYTES.report();
}

#[test]
fn loader_never_panics_on_grammar_made_stack_files() {
    proptest!(config(500), |(bytes in stack_file())| {
        LOAD_GRAMMAR.tick(load(&bytes));
    });
    LOAD_GRAMMAR.report();
}
