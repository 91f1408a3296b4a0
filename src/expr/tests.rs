//! Evaluation tests: templates, references, operators, propagation of unknown and
//! sensitive values, and error messages that never carry a secret.

use std::collections::BTreeMap;

use cairn_provider_core::Value;

use super::{Expr, ExprKind, Instances, Reference, Scope, for_each_keys, parse_string};
use crate::addr::ResourceAddr;
use crate::stack::{FileId, Span};

struct TestScope {
    variables: BTreeMap<String, Value>,
    attrs: BTreeMap<(ResourceAddr, String), Value>,
    each: Option<(String, Value)>,
}

impl Scope for TestScope {
    fn variable(&self, name: &str) -> Option<Value> {
        self.variables.get(name).cloned()
    }
    fn resource_attr(&self, addr: &ResourceAddr, attr: &str) -> Option<Value> {
        self.attrs.get(&(addr.clone(), attr.to_owned())).cloned()
    }
    fn local(&self, name: &str) -> Option<Result<Value, String>> {
        match name {
            "zones" => Some(Ok(Value::from(vec!["a", "b", "c"]))),
            "broken" => Some(Err("something failed".to_owned())),
            _ => None,
        }
    }
    fn each(&self) -> Option<(&str, &Value)> {
        self.each.as_ref().map(|(k, v)| (k.as_str(), v))
    }
    fn instances(&self, addr: &ResourceAddr) -> Instances {
        match addr.name.as_str() {
            "private" => Instances::Keys(vec!["a".to_owned(), "b".to_owned()].into()),
            "pending" => Instances::Unknown,
            _ => Instances::Single,
        }
    }
    fn resource_object(&self, addr: &ResourceAddr) -> Option<Value> {
        let map: BTreeMap<String, Value> = self
            .attrs
            .iter()
            .filter(|((a, _), _)| a == addr)
            .map(|((_, name), value)| (name.clone(), value.clone()))
            .collect();
        (!map.is_empty()).then_some(Value::Map(map))
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
        ("key".to_owned(), Value::from("team")),
        (
            "pools".to_owned(),
            Value::Map(BTreeMap::from([
                (
                    "spot".to_owned(),
                    Value::Map(BTreeMap::from([
                        ("max".to_owned(), Value::Int(10)),
                        ("gpu".to_owned(), Value::Bool(false)),
                    ])),
                ),
                (
                    "gpu".to_owned(),
                    Value::Map(BTreeMap::from([
                        ("max".to_owned(), Value::Int(2)),
                        ("gpu".to_owned(), Value::Bool(true)),
                    ])),
                ),
            ])),
        ),
        (
            "subnets".to_owned(),
            Value::List(vec![
                Value::Map(BTreeMap::from([("id".to_owned(), Value::from("s-1"))])),
                Value::Map(BTreeMap::from([("id".to_owned(), Value::from("s-2"))])),
            ]),
        ),
    ]);
    let vpc = ResourceAddr::new("aws_vpc", "main");
    let private = ResourceAddr::new("aws_subnet", "private");
    let attrs = BTreeMap::from([
        ((vpc.clone(), "id".to_owned()), Value::Unknown),
        (
            (vpc.clone(), "cidr_block".to_owned()),
            Value::from("10.0.0.0/16"),
        ),
        (
            (private.with_key("a"), "id".to_owned()),
            Value::from("subnet-a"),
        ),
        ((private.with_key("b"), "id".to_owned()), Value::Unknown),
    ]);
    TestScope {
        variables,
        attrs,
        each: Some(("b".to_owned(), Value::from("second"))),
    }
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
            Reference::Local { name, .. } => format!("local.{name}"),
            Reference::Each { .. } => "each".to_owned(),
            Reference::Resource { addr, attr, .. } => {
                format!("{addr}.{}", attr.as_deref().unwrap_or("*"))
            }
        })
        .collect();
    assert_eq!(names, vec!["var.a", "aws_vpc.main.id", "var.b", "var.c"]);
    let nested = item(
        "${aws_subnet.private[var.k].id[local.i] + length([for s in var.l : s if each.key == s])}",
    );
    let names: Vec<String> = nested
        .references()
        .into_iter()
        .map(|r| match r {
            Reference::Variable { name, .. } => format!("var.{name}"),
            Reference::Local { name, .. } => format!("local.{name}"),
            Reference::Each { .. } => "each".to_owned(),
            Reference::Resource { addr, .. } => addr.to_string(),
        })
        .collect();
    assert_eq!(
        names,
        vec!["aws_subnet.private", "var.k", "local.i", "var.l", "each"]
    );
    assert_eq!(item("plain").as_literal(), Some(Value::from("plain")));
    assert_eq!(item("${var.a}").as_literal(), None);
}

fn list(items: &[&str]) -> Value {
    Value::from(items.to_vec())
}

#[test]
fn for_expressions_over_lists_and_maps() {
    assert_eq!(
        eval("${[for s in var.subnets : s.id]}"),
        list(&["s-1", "s-2"])
    );
    assert_eq!(
        eval("${[for i, s in var.subnets : \"${i}:${s.id}\"]}"),
        list(&["0:s-1", "1:s-2"])
    );
    assert_eq!(
        eval("${{for k, v in var.pools : k => v.max}}"),
        Value::Map(BTreeMap::from([
            ("gpu".to_owned(), Value::Int(2)),
            ("spot".to_owned(), Value::Int(10)),
        ]))
    );
    assert_eq!(
        eval("${[for k, v in var.pools : k if !v.gpu]}"),
        list(&["spot"])
    );
    assert_eq!(
        eval("${{for z in local.zones : z => upper(z) if z != \"b\"}}"),
        Value::Map(BTreeMap::from([
            ("a".to_owned(), Value::from("A")),
            ("c".to_owned(), Value::from("C")),
        ]))
    );
    // Nested, with the inner expression seeing the outer variable.
    assert_eq!(
        eval("${flatten([for a in [\"x\", \"y\"] : [for b in [1, 2] : \"${a}${b}\"]])}"),
        list(&["x1", "x2", "y1", "y2"])
    );
    assert_eq!(eval("${[for s in aws_vpc.main.id : s]}"), Value::Unknown);
    assert!(eval("${[for s in var.secret_list : s]}").is_sensitive());
    assert!(
        eval_err("${{for s in local.zones : \"same\" => s}}")
            .contains("gives the key `same` twice")
    );
    assert!(eval_err("${[for s in var.name : s]}").contains("needs a list or a map, got string"));
    assert!(eval_err("${[for s in local.zones : s if 1]}").contains("must be a bool"));
    assert!(super::parse_string("${[for s in var.l s]}").is_err());
    assert!(super::parse_string("${{for k, v in var.m : k v}}").is_err());
}

#[test]
fn computed_indexes_and_splat() {
    assert_eq!(eval("${var.tags[var.key]}"), Value::from("data"));
    assert_eq!(eval("${var.list[var.count - 2]}"), Value::from("b"));
    assert_eq!(eval("${var.tags[aws_vpc.main.id]}"), Value::Unknown);
    assert!(eval_err("${var.tags[var.name]}").contains("has no key `airflow`"));
    assert_eq!(eval("${var.subnets[*].id}"), list(&["s-1", "s-2"]));
    assert_eq!(
        eval("${var.pools[*].max}"),
        Value::List(vec![Value::Int(2), Value::Int(10)])
    );
    assert_eq!(eval("${var.nothing[*]}"), Value::List(vec![]));
    assert!(eval("${var.secret_list[var.count - 3]}").is_sensitive());
}

#[test]
fn resource_instances_by_key_splat_and_whole() {
    assert_eq!(
        eval("${aws_subnet.private[\"a\"].id}"),
        Value::from("subnet-a")
    );
    assert_eq!(eval("${aws_subnet.private[each.key].id}"), Value::Unknown);
    assert_eq!(
        eval("${aws_subnet.private[*].id}"),
        Value::List(vec![Value::from("subnet-a"), Value::Unknown])
    );
    let whole = eval("${aws_subnet.private}");
    assert_eq!(
        whole.get("a").and_then(|a| a.get("id")),
        Some(Value::from("subnet-a"))
    );
    assert_eq!(eval("${keys(aws_subnet.private)}"), list(&["a", "b"]));
    assert_eq!(
        eval("${aws_vpc.main[*].cidr_block}"),
        list(&["10.0.0.0/16"])
    );
    assert_eq!(eval("${aws_subnet.pending[\"x\"].id}"), Value::Unknown);
    assert!(eval_err("${aws_subnet.private.id}").contains("has `for_each`: name an instance"));
    assert!(eval_err("${aws_subnet.private[\"z\"].id}").contains("has no instance `z`"));
    assert!(eval_err("${aws_vpc.main[\"a\"].id}").contains("has no `for_each`"));
}

#[test]
fn each_and_locals() {
    assert_eq!(eval("${each.key}-${each.value}"), Value::from("b-second"));
    assert_eq!(eval("${local.zones[1]}"), Value::from("b"));
    assert_eq!(eval("${length(local.zones)}"), Value::Int(3));
    assert_eq!(
        eval_err("${local.broken}"),
        "in `local.broken`: something failed"
    );
    assert_eq!(eval_err("${local.nope}"), "undefined local `local.nope`");
    assert!(super::parse_string("${each.index}").is_err());
}

#[test]
fn arithmetic_and_comparisons() {
    assert_eq!(eval("${1 + 2 * 3}"), Value::Int(7));
    assert_eq!(eval("${(1 + 2) * 3}"), Value::Int(9));
    assert_eq!(eval("${10 - 4 - 3}"), Value::Int(3));
    assert_eq!(eval("${7 / 2}"), Value::Float(3.5));
    assert_eq!(eval("${8 / 2}"), Value::Int(4));
    assert_eq!(eval("${7 % 3}"), Value::Int(1));
    assert_eq!(eval("${var.count * var.ratio}"), Value::Float(9.0));
    assert_eq!(eval("${-var.count + 1}"), Value::Int(-2));
    assert_eq!(
        eval("${var.count > 2 && var.count <= 3}"),
        Value::Bool(true)
    );
    assert_eq!(eval("${1 + 1 == 2 ? \"y\" : \"n\"}"), Value::from("y"));
    assert_eq!(eval("${var.count >= 4 || 2 < 1}"), Value::Bool(false));
    assert_eq!(eval("${\"3\" + 1}"), Value::Int(4));
    assert_eq!(eval("${aws_vpc.main.id + 1}"), Value::Unknown);
    assert_eq!(eval_err("${1 / 0}"), "division by zero in `/`");
    assert_eq!(
        eval_err("${var.count % (var.count - 3)}"),
        "division by zero in `%`"
    );
    assert!(eval_err("${9223372036854775807 + 1}").contains("out of range"));
    assert!(eval_err("${var.name + 1}").contains("`+` needs two numbers, got string and int"));
    let secret = eval("${length(var.secret) * 2}");
    assert!(secret.is_sensitive());
    assert!(!eval_err("${var.secret * 2}").contains("hunter2"));
}

#[test]
fn collection_functions() {
    let pools = "var.pools";
    assert_eq!(eval(&format!("${{keys({pools})}}")), list(&["gpu", "spot"]));
    assert_eq!(eval(&format!("${{values({pools})[0].max}}")), Value::Int(2));
    assert_eq!(eval("${toset([\"b\", \"a\", \"b\"])}"), list(&["a", "b"]));
    assert_eq!(
        eval("${distinct([\"b\", \"a\", \"b\"])}"),
        list(&["b", "a"])
    );
    assert_eq!(
        eval("${flatten([[\"a\"], [[\"b\"]], \"c\"])}"),
        list(&["a", "b", "c"])
    );
    assert_eq!(
        eval("${zipmap([\"a\", \"b\"], [1, 2])}"),
        Value::Map(BTreeMap::from([
            ("a".to_owned(), Value::Int(1)),
            ("b".to_owned(), Value::Int(2)),
        ]))
    );
    assert!(eval_err("${zipmap([\"a\"], [])}").contains("same length"));
    assert_eq!(
        eval("${range(3)}"),
        Value::List(vec![Value::Int(0), Value::Int(1), Value::Int(2)])
    );
    assert_eq!(
        eval("${range(1, 7, 3)}"),
        Value::List(vec![Value::Int(1), Value::Int(4)])
    );
    assert_eq!(
        eval("${range(2, 0)}"),
        Value::List(vec![Value::Int(2), Value::Int(1)])
    );
    assert!(eval_err("${range(0, 5, 0)}").contains("step must not be zero"));
    assert_eq!(eval("${slice(var.list, 1, 2)}"), list(&["b"]));
    assert!(eval_err("${slice(var.list, 1, 3)}").contains("end <= 2"));
    assert_eq!(eval("${contains(var.list, \"b\")}"), Value::Bool(true));
    assert_eq!(eval("${contains(var.list, \"z\")}"), Value::Bool(false));
    assert_eq!(eval("${max(1, 5.5, 3)}"), Value::Float(5.5));
    assert_eq!(eval("${min(4, 2)}"), Value::Int(2));
    assert_eq!(
        eval("${try(var.tags.owner, \"nobody\")}"),
        Value::from("nobody")
    );
    assert_eq!(eval("${can(var.tags.owner)}"), Value::Bool(false));
    assert_eq!(eval("${can(var.tags.team)}"), Value::Bool(true));
    assert_eq!(eval("${toset([\"a\", aws_vpc.main.id])}"), Value::Unknown);
    assert_eq!(eval("${keys(aws_vpc.main.id)}"), Value::Unknown);
}

#[test]
fn for_each_values_become_instance_keys() {
    let keys =
        |value: Value| for_each_keys(&value).map(|k| k.map(|m| m.into_keys().collect::<Vec<_>>()));
    assert_eq!(
        keys(list(&["b", "a"])),
        Ok(Some(vec!["a".to_owned(), "b".to_owned()]))
    );
    assert_eq!(
        keys(eval("${var.pools}")),
        Ok(Some(vec!["gpu".to_owned(), "spot".to_owned()]))
    );
    assert_eq!(keys(Value::Unknown), Ok(None));
    assert_eq!(
        keys(Value::List(vec![Value::from("a"), Value::Unknown])),
        Ok(None)
    );
    assert!(keys(list(&["a", "a"])).is_err_and(|e| e.contains("twice")));
    assert!(keys(Value::from("a")).is_err());
    assert!(keys(Value::Null).is_err());
    assert!(keys(list(&["a"]).sensitive()).is_err_and(|e| e.contains("sensitive")));
    let with_secret_values = Value::Map(BTreeMap::from([(
        "k".to_owned(),
        Value::from("s").sensitive(),
    )]));
    assert!(keys(with_secret_values).is_ok());
}
