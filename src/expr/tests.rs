//! Evaluation tests: templates, references, operators, propagation of unknown and
//! sensitive values, and error messages that never carry a secret.

use std::collections::BTreeMap;

use cairn_provider_core::Value;

use super::{Expr, ExprKind, Reference, Scope, parse_string};
use crate::addr::ResourceAddr;
use crate::stack::{FileId, Span};

struct TestScope {
    variables: BTreeMap<String, Value>,
    attrs: BTreeMap<(ResourceAddr, String), Value>,
}

impl Scope for TestScope {
    fn variable(&self, name: &str) -> Option<Value> {
        self.variables.get(name).cloned()
    }
    fn resource_attr(&self, addr: &ResourceAddr, attr: &str) -> Option<Value> {
        self.attrs.get(&(addr.clone(), attr.to_owned())).cloned()
    }
}

fn scope() -> TestScope {
    let variables = BTreeMap::from([
        ("name".to_owned(), Value::from("airflow")),
        ("count".to_owned(), Value::Int(3)),
        ("ratio".to_owned(), Value::Float(3.0)),
        ("flag".to_owned(), Value::Bool(true)),
        ("list".to_owned(), Value::from(vec!["a", "b"])),
        (
            "tags".to_owned(),
            Value::Map(BTreeMap::from([
                ("team".to_owned(), Value::from("data")),
                ("env".to_owned(), Value::from("dev")),
            ])),
        ),
        ("secret".to_owned(), Value::from("hunter2").sensitive()),
        (
            "secret_list".to_owned(),
            Value::from(vec!["hunter2"]).sensitive(),
        ),
        ("nothing".to_owned(), Value::Null),
    ]);
    let vpc = ResourceAddr::new("aws_vpc", "main");
    let attrs = BTreeMap::from([
        ((vpc.clone(), "id".to_owned()), Value::Unknown),
        (
            (vpc.clone(), "cidr_block".to_owned()),
            Value::from("10.0.0.0/16"),
        ),
    ]);
    TestScope { variables, attrs }
}

fn expr(text: &str) -> Expr {
    match parse_string(text) {
        Ok(kind) => Expr {
            kind,
            span: Span {
                file: FileId(0),
                range: 0..text.len(),
            },
        },
        Err(err) => panic!("{text:?} does not parse: {err}"),
    }
}

fn eval(text: &str) -> Value {
    match expr(text).eval(&scope()) {
        Ok(value) => value,
        Err(err) => panic!("{text:?} failed: {err}"),
    }
}

fn eval_err(text: &str) -> String {
    match expr(text).eval(&scope()) {
        Ok(value) => panic!("{text:?} should fail, gave {value:?}"),
        Err(err) => err.message,
    }
}

#[test]
fn a_whole_interpolation_keeps_its_type() {
    assert_eq!(eval("${var.list}"), Value::from(vec!["a", "b"]));
    assert_eq!(eval("${var.count}"), Value::Int(3));
    assert_eq!(eval("${var.flag}"), Value::Bool(true));
    assert_eq!(eval("${var.nothing}"), Value::Null);
    assert_eq!(eval(" ${var.count}"), Value::from(" 3"));
}

#[test]
fn templates_concatenate_scalars() {
    assert_eq!(
        eval("${var.name}-${var.count}-${var.flag}"),
        Value::from("airflow-3-true")
    );
    assert_eq!(
        eval("cidr=${aws_vpc.main.cidr_block}"),
        Value::from("cidr=10.0.0.0/16")
    );
    assert_eq!(
        eval("literal $${var.name} and $5"),
        Value::from("literal ${var.name} and $5")
    );
    assert!(eval_err("x${var.list}").contains("a list cannot be part of a string"));
}

#[test]
fn paths_index_lists_and_maps() {
    assert_eq!(eval("${var.list[1]}"), Value::from("b"));
    assert_eq!(eval("${var.tags[\"team\"]}"), Value::from("data"));
    assert_eq!(eval("${var.tags.env}"), Value::from("dev"));
    assert_eq!(
        eval_err("${var.list[2]}"),
        "index 2 is out of range: `var.list` has 2 items"
    );
    assert_eq!(
        eval_err("${var.tags.owner}"),
        "`var.tags` has no key `owner`"
    );
    assert_eq!(
        eval_err("${var.name[0]}"),
        "cannot take index 0 of `var.name`: it is a string, not a list"
    );
    assert_eq!(eval("${aws_vpc.main.id[0]}"), Value::Unknown);
    assert_eq!(eval("${split(\"-\", var.name)[0]}"), Value::from("airflow"));
    assert_eq!(
        eval("${(var.flag ? var.tags : {}).team}"),
        Value::from("data")
    );
    assert_eq!(eval("${split(\"/\", aws_vpc.main.id)[1]}"), Value::Unknown);
    assert!(eval_err("${split(\"-\", var.name)[3]}").contains("index 3 is out of range"));
}

#[test]
fn unknown_propagates() {
    assert_eq!(eval("${aws_vpc.main.id}"), Value::Unknown);
    assert_eq!(eval("vpc/${aws_vpc.main.id}"), Value::Unknown);
    assert_eq!(eval("${upper(aws_vpc.main.id)}"), Value::Unknown);
    assert_eq!(eval("${aws_vpc.main.id == \"x\"}"), Value::Unknown);
    assert_eq!(eval("${!(aws_vpc.main.id == \"x\")}"), Value::Unknown);
    assert_eq!(
        eval("${aws_vpc.main.id == \"\" ? \"a\" : \"b\"}"),
        Value::Unknown
    );
    // Only the values actually needed matter.
    assert_eq!(
        eval("${var.flag ? var.name : aws_vpc.main.id}"),
        Value::from("airflow")
    );
    assert_eq!(
        eval("${!var.flag && aws_vpc.main.id == \"x\"}"),
        Value::Bool(false)
    );
    assert_eq!(
        eval("${var.flag || aws_vpc.main.id == \"x\"}"),
        Value::Bool(true)
    );
    assert_eq!(
        eval("${coalesce(var.nothing, var.name, aws_vpc.main.id)}"),
        Value::from("airflow")
    );
}

#[test]
fn sensitive_propagates_and_never_prints() {
    let derived = [
        "${var.secret}",
        "user:${var.secret}",
        "${upper(var.secret)}",
        "${base64encode(var.secret)}",
        "${var.secret == \"x\"}",
        "${var.secret_list[0]}",
        "${jsonencode(var.secret_list)}",
        "${length(var.secret_list)}",
        "${var.secret == \"\" ? \"a\" : \"b\"}",
        "${format(\"%s@db\", var.secret)}",
    ];
    for text in derived {
        let value = eval(text);
        assert!(
            value.contains_sensitive(),
            "{text} gave a non-sensitive value"
        );
        assert!(!format!("{value:?}").contains("hunter2"), "{text}");
    }
    let both = eval("${var.secret}${aws_vpc.main.id}");
    assert!(both.is_sensitive() && both.contains_unknown());
    for text in [
        "${var.secret_list[3]}",
        "${var.secret[0]}",
        "${element(var.secret, 0)}",
        "${var.secret.key}",
    ] {
        let message = eval_err(text);
        assert!(!message.contains("hunter2"), "{text}: {message}");
    }
}

#[test]
fn operators() {
    assert_eq!(eval("${var.count == 3}"), Value::Bool(true));
    assert_eq!(eval("${var.ratio == var.count}"), Value::Bool(true));
    assert_eq!(eval("${var.name != \"airflow\"}"), Value::Bool(false));
    assert_eq!(eval("${!var.flag}"), Value::Bool(false));
    assert_eq!(
        eval("${var.flag && var.count == 3 ? \"yes\" : \"no\"}"),
        Value::from("yes")
    );
    assert_eq!(eval("${var.flag ? 1 : 2}"), Value::Int(1));
    assert_eq!(eval("${(var.count == 4) || false}"), Value::Bool(false));
    assert!(eval_err("${var.name ? 1 : 2}").contains("must be a bool, got string"));
    assert!(eval_err("${!var.count}").contains("needs a bool"));
    assert!(eval_err("${var.flag && var.count}").contains("needs two bools"));
}

#[test]
fn functions_through_templates() {
    assert_eq!(
        eval("${cidrsubnet(aws_vpc.main.cidr_block, 8, var.count)}"),
        Value::from("10.0.3.0/24")
    );
    assert_eq!(
        eval("${join(\",\", concat(var.list, [\"c\"]))}"),
        Value::from("a,b,c")
    );
    assert_eq!(
        eval("${lookup(merge(var.tags, {}), \"team\", \"none\")}"),
        Value::from("data")
    );
    assert_eq!(
        eval("${tostring(var.count)}-${lower(\"X\")}"),
        Value::from("3-x")
    );
    assert!(eval_err("${upper(var.list)}").contains("upper() needs a string, got list"));
    assert!(eval_err("${lower()}").contains("takes 1 arguments"));
}

#[test]
fn undefined_names_fail_at_eval() {
    assert_eq!(
        eval_err("${var.missing}"),
        "undefined variable `var.missing`"
    );
    assert_eq!(
        eval_err("${aws_vpc.main.arn}"),
        "`aws_vpc.main` has no attribute `arn`"
    );
}

#[test]
fn references_walk_lists_maps_and_operators() {
    let span = Span {
        file: FileId(0),
        range: 0..0,
    };
    let item = |text: &str| expr(text);
    let list = Expr {
        kind: ExprKind::List(vec![
            item("${var.a ? aws_vpc.main.id : var.b}"),
            Expr {
                kind: ExprKind::Map(BTreeMap::from([(
                    "k".to_owned(),
                    item("x-${upper(var.c)}"),
                )])),
                span: span.clone(),
            },
        ]),
        span,
    };
    let names: Vec<String> = list
        .references()
        .into_iter()
        .map(|r| match r {
            Reference::Variable { name, .. } => format!("var.{name}"),
            Reference::Resource { addr, attr, .. } => format!("{addr}.{attr}"),
        })
        .collect();
    assert_eq!(names, vec!["var.a", "aws_vpc.main.id", "var.b", "var.c"]);
    assert_eq!(item("plain").as_literal(), Some(Value::from("plain")));
    assert_eq!(item("${var.a}").as_literal(), None);
}
