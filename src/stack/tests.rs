//! Loading tests: fixture stacks under `tests/fixtures/stacks/`, one directory per error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_provider_core::{AttrSchema, AttrType, ProviderSchema, ResourceSchema, Value};

use super::{LoadOptions, Stack, load};
use crate::addr::ResourceAddr;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::expr::Scope;

/// Hand-built schemas in the shape the real providers publish.
pub(crate) fn schemas() -> BTreeMap<String, ProviderSchema> {
    let tags = || AttrSchema::optional(AttrType::map(AttrType::String));
    let aws = ProviderSchema {
        config: BTreeMap::from([
            ("region".to_owned(), AttrSchema::required(AttrType::String)),
            ("profile".to_owned(), AttrSchema::optional(AttrType::String)),
        ]),
        resources: BTreeMap::from([
            (
                "aws_vpc".to_owned(),
                ResourceSchema::new("VPC")
                    .attr(
                        "cidr_block",
                        AttrSchema::required(AttrType::String).force_new(),
                    )
                    .attr("tags", tags())
                    .attr("arn", AttrSchema::computed(AttrType::String)),
            ),
            (
                "aws_subnet".to_owned(),
                ResourceSchema::new("subnet")
                    .attr("vpc_id", AttrSchema::required(AttrType::String))
                    .attr("cidr_block", AttrSchema::required(AttrType::String))
                    .attr("availability_zone", AttrSchema::optional(AttrType::String))
                    .attr("tags", tags()),
            ),
            (
                "aws_nat_gateway".to_owned(),
                ResourceSchema::new("NAT")
                    .attr("subnet_id", AttrSchema::required(AttrType::String)),
            ),
            (
                "aws_route".to_owned(),
                ResourceSchema::new("route")
                    .attr("nat_gateway_id", AttrSchema::required(AttrType::String)),
            ),
            (
                "aws_eks_cluster".to_owned(),
                ResourceSchema::new("EKS")
                    .attr("name", AttrSchema::required(AttrType::String))
                    .attr("endpoint", AttrSchema::computed(AttrType::String)),
            ),
            (
                "aws_eks_node_group".to_owned(),
                ResourceSchema::new("node group")
                    .attr("cluster_name", AttrSchema::required(AttrType::String))
                    .attr(
                        "capacity_type",
                        AttrSchema::optional(AttrType::enumeration(&["ON_DEMAND", "SPOT"])),
                    )
                    .attr(
                        "scaling",
                        AttrSchema::optional(AttrType::object([
                            ("min", AttrSchema::required(AttrType::Int)),
                            ("desired", AttrSchema::optional(AttrType::Int)),
                            ("max", AttrSchema::required(AttrType::Int)),
                        ])),
                    )
                    .attr(
                        "instance_types",
                        AttrSchema::optional(AttrType::list(AttrType::String)),
                    ),
            ),
            (
                "aws_db_instance".to_owned(),
                ResourceSchema::new("RDS")
                    .attr("identifier", AttrSchema::required(AttrType::String))
                    .attr(
                        "password",
                        AttrSchema::required(AttrType::String).sensitive(),
                    ),
            ),
        ]),
    };
    let kubernetes = ProviderSchema {
        config: BTreeMap::from([(
            "eks_cluster".to_owned(),
            AttrSchema::optional(AttrType::object([
                ("name", AttrSchema::required(AttrType::String)),
                ("region", AttrSchema::optional(AttrType::String)),
            ])),
        )]),
        resources: BTreeMap::from([(
            "kubernetes_object".to_owned(),
            ResourceSchema::new("object").attr("manifest", AttrSchema::required(AttrType::Any)),
        )]),
    };
    let cairn = ProviderSchema {
        config: BTreeMap::new(),
        resources: BTreeMap::from([(
            "cairn_data".to_owned(),
            ResourceSchema::new("data")
                .attr("input", AttrSchema::optional(AttrType::Any))
                .attr(
                    "triggers_replace",
                    AttrSchema::optional(AttrType::Any).force_new(),
                )
                .attr("output", AttrSchema::computed(AttrType::Any)),
        )]),
    };
    BTreeMap::from([
        ("aws".to_owned(), aws),
        ("kubernetes".to_owned(), kubernetes),
        ("cairn".to_owned(), cairn),
    ])
}

pub(crate) fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/stacks")
        .join(case)
}

fn load_with(case: &str, options: &LoadOptions) -> Result<Stack, Diagnostics> {
    load(&fixture(case), options, &schemas())
}

pub(crate) fn load_ok(case: &str, options: &LoadOptions) -> Stack {
    match load_with(case, options) {
        Ok(stack) => stack,
        Err(diagnostics) => {
            let all: Vec<String> = diagnostics
                .iter()
                .map(|d| format!("{d} {:?}", d.location()))
                .collect();
            panic!("{case} should load, got: {all:#?}")
        }
    }
}

fn errors(case: &str) -> Vec<Diagnostic> {
    errors_with(case, &LoadOptions::default())
}

fn errors_with(case: &str, options: &LoadOptions) -> Vec<Diagnostic> {
    match load_with(case, options) {
        Ok(_) => panic!("{case} should fail to load"),
        Err(diagnostics) => diagnostics.into_iter().collect(),
    }
}

/// The one diagnostic whose message contains `needle`.
fn find<'a>(diagnostics: &'a [Diagnostic], needle: &str) -> &'a Diagnostic {
    let found: Vec<&Diagnostic> = diagnostics
        .iter()
        .filter(|d| d.message().contains(needle))
        .collect();
    match found.as_slice() {
        [one] => one,
        _ => panic!(
            "expected one diagnostic containing {needle:?}, got {:#?}",
            diagnostics
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        ),
    }
}

/// Asserts the diagnostic's file (by suffix), line and column.
fn assert_at(diagnostic: &Diagnostic, file: &str, line: usize, column: usize) {
    let Some((path, l, c)) = diagnostic.location() else {
        panic!("{diagnostic} has no location");
    };
    assert!(
        path.ends_with(file),
        "{diagnostic}: {} does not end with {file}",
        path.display()
    );
    assert_eq!((l, c), (line, column), "{diagnostic}");
}

fn addr(text: &str) -> ResourceAddr {
    match text.parse() {
        Ok(addr) => addr,
        Err(err) => panic!("{err}"),
    }
}

fn env(name: &str) -> LoadOptions {
    LoadOptions {
        env: Some(name.to_owned()),
        ..LoadOptions::default()
    }
}

/// Resource attributes from a fixed map, variables from the stack.
struct TestScope<'a> {
    stack: &'a Stack,
    attrs: BTreeMap<(ResourceAddr, String), Value>,
}

impl Scope for TestScope<'_> {
    fn variable(&self, name: &str) -> Option<Value> {
        self.stack.variables.get(name).map(|v| v.value.clone())
    }
    fn resource_attr(&self, addr: &ResourceAddr, attr: &str) -> Option<Value> {
        Some(
            self.attrs
                .get(&(addr.clone(), attr.to_owned()))
                .cloned()
                .unwrap_or(Value::Unknown),
        )
    }
}

fn eval_attr(stack: &Stack, resource: &str, attr: &str, attrs: &[(&str, &str, Value)]) -> Value {
    let scope = TestScope {
        stack,
        attrs: attrs
            .iter()
            .map(|(a, n, v)| ((addr(a), (*n).to_owned()), v.clone()))
            .collect(),
    };
    let expr = stack
        .resources
        .get(&addr(resource))
        .and_then(|r| r.attrs.get(attr));
    match expr.map(|e| e.eval(&scope)) {
        Some(Ok(value)) => value,
        other => panic!("{resource}.{attr}: {other:?}"),
    }
}

#[test]
fn good_stack_loads_with_meta_arguments_taken_out() {
    let stack = load_ok("good", &env("dev"));
    assert_eq!(stack.name, "demo");
    assert_eq!(stack.env, "dev");
    let names: Vec<String> = stack.resources.keys().map(ToString::to_string).collect();
    assert!(
        !names.contains(&"aws_nat_gateway.b".to_owned()),
        "disabled resource kept: {names:?}"
    );
    assert_eq!(names.len(), 8, "{names:?}");
    let route = &stack.resources[&addr("aws_route.private")];
    assert_eq!(route.depends_on, vec![addr("aws_vpc.main")]);
    assert_eq!(route.timeouts.create, Some(Duration::from_secs(30 * 60)));
    assert_eq!(route.timeouts.delete, Some(Duration::from_secs(90 * 60)));
    assert_eq!(route.timeouts.update, None);
    assert!(route.attrs.keys().all(|k| k == "nat_gateway_id"));
    let vpc = &stack.resources[&addr("aws_vpc.main")];
    assert!(!vpc.lifecycle.prevent_destroy);
    assert_eq!(vpc.lifecycle.ignore_changes, vec!["tags.Owner".to_owned()]);
    assert!(vpc.lifecycle.span.is_some());
    // Providers used only through resources get an empty block.
    let providers: Vec<&str> = stack.providers.keys().map(String::as_str).collect();
    assert_eq!(providers, vec!["aws", "cairn", "kubernetes"]);
    assert_eq!(
        stack.outputs["vpc_id"].description.as_deref(),
        Some("The VPC")
    );
}

#[test]
fn enabled_follows_the_environment_and_disabled_references_become_null() {
    let dev = load_ok("good", &env("dev"));
    let nat_a_id = [
        ("aws_nat_gateway.a", "id", Value::from("nat-a")),
        ("aws_nat_gateway.b", "id", Value::from("nat-b")),
    ];
    assert_eq!(
        eval_attr(&dev, "aws_route.private", "nat_gateway_id", &nat_a_id),
        Value::from("nat-a")
    );

    let prod = load_ok("good", &env("prod"));
    assert!(prod.resources.contains_key(&addr("aws_nat_gateway.b")));
    assert_eq!(
        eval_attr(&prod, "aws_route.private", "nat_gateway_id", &nat_a_id),
        Value::from("nat-b")
    );
    assert!(
        prod.resources[&addr("aws_vpc.main")]
            .lifecycle
            .prevent_destroy
    );
    let route = &prod.resources[&addr("aws_route.private")];
    assert_eq!(
        route.depends_on,
        vec![addr("aws_nat_gateway.b"), addr("aws_vpc.main")]
    );
}

#[test]
fn variable_precedence_is_var_then_environment_then_env_file_then_default() {
    let region = |options: &LoadOptions| load_ok("good", options).variables["region"].value.clone();
    let mut options = LoadOptions {
        env: None,
        ..LoadOptions::default()
    };
    options.vars.push(("env".to_owned(), "dev".to_owned()));
    assert_eq!(region(&options), Value::from("eu-west-1"));
    options.env = Some("dev".to_owned());
    assert_eq!(region(&options), Value::from("us-east-1"));
    options
        .env_vars
        .push(("CAIRN_VAR_region".to_owned(), "eu-central-1".to_owned()));
    options
        .env_vars
        .push(("region".to_owned(), "ignored-without-prefix".to_owned()));
    assert_eq!(region(&options), Value::from("eu-central-1"));
    options
        .vars
        .push(("region".to_owned(), "ap-south-1".to_owned()));
    assert_eq!(region(&options), Value::from("ap-south-1"));
}

#[test]
fn cli_values_parse_as_toml_when_they_can() {
    let mut options = env("dev");
    options.vars.push(("ha".to_owned(), "true".to_owned()));
    options
        .vars
        .push(("azs".to_owned(), "[\"x\", \"y\"]".to_owned()));
    let stack = load_ok("good", &options);
    assert_eq!(stack.variables["ha"].value, Value::Bool(true));
    assert!(stack.resources.contains_key(&addr("aws_nat_gateway.b")));
    assert_eq!(stack.variables["azs"].value, Value::from(vec!["x", "y"]));
    assert_eq!(
        eval_attr(&stack, "aws_subnet.a", "availability_zone", &[]),
        Value::from("us-east-1x"),
        "template of a variable and element() of a list variable"
    );

    let mut wrong = env("dev");
    wrong.vars.push(("ha".to_owned(), "maybe".to_owned()));
    wrong.vars.push(("regoin".to_owned(), "x".to_owned()));
    let diagnostics = errors_with("good", &wrong);
    let ha = find(&diagnostics, "--var ha");
    assert!(ha.message().contains("declared as bool"), "{ha}");
    let typo = find(&diagnostics, "--var regoin");
    assert_eq!(typo.help_text(), Some("did you mean `region`?"));
}

#[test]
fn sensitive_variables_stay_sensitive_through_attributes() {
    let stack = load_ok("good", &env("dev"));
    let password = &stack.variables["db_password"];
    assert!(password.sensitive && password.value.is_sensitive());
    let value = eval_attr(&stack, "aws_db_instance.meta", "password", &[]);
    assert!(value.is_sensitive());
    assert!(!format!("{value:?} {value}").contains("s3cret"));
}

#[test]
fn yaml_manifest_becomes_the_manifest_attribute_with_references() {
    let stack = load_ok("good", &env("dev"));
    let object = &stack.resources[&addr("kubernetes_object.config")];
    let manifest = &object.attrs["manifest"];
    let targets: Vec<String> = manifest
        .references()
        .into_iter()
        .filter_map(|r| match r {
            crate::expr::Reference::Resource {
                addr,
                attr: Some(attr),
                ..
            } => Some(format!("{addr}.{attr}")),
            _ => None,
        })
        .collect();
    assert_eq!(targets, vec!["aws_eks_cluster.main.endpoint".to_owned()]);
    let endpoint = [(
        "aws_eks_cluster.main",
        "endpoint",
        Value::from("https://eks"),
    )];
    let value = eval_attr(&stack, "kubernetes_object.config", "manifest", &endpoint);
    let data = value.get("data").unwrap_or_default();
    assert_eq!(data.get("endpoint"), Some(Value::from("https://eks")));
    assert_eq!(data.get("literal"), Some(Value::from("${not_a_ref}")));
    assert_eq!(data.get("env"), Some(Value::from("dev")));
    assert!(
        stack
            .sources
            .files
            .iter()
            .any(|f| f.path.ends_with("k8s/config.yaml"))
    );
    // A string's span points into the YAML file.
    let crate::expr::ExprKind::Map(top) = &manifest.kind else {
        panic!("manifest is not a map")
    };
    let crate::expr::ExprKind::Map(data) = &top["data"].kind else {
        panic!("data is not a map")
    };
    let file = stack.sources.get(data["endpoint"].span.file);
    assert!(file.is_some_and(|f| f.path.ends_with("k8s/config.yaml")));
}

#[test]
fn malformed_toml_points_at_the_line() {
    let diagnostics = errors("malformed_toml");
    let diagnostic = find(&diagnostics, "malformed TOML");
    let Some((path, line, _)) = diagnostic.location() else {
        panic!("no location")
    };
    assert!(path.ends_with("malformed_toml/stack.toml"));
    assert_eq!(line, 5);
}

#[test]
fn unknown_table_suggests_the_closest() {
    let diagnostics = errors("unknown_table");
    let diagnostic = find(&diagnostics, "unknown table `resource`");
    assert_at(diagnostic, "unknown_table/stack.toml", 4, 2);
    assert_eq!(diagnostic.help_text(), Some("did you mean `resources`?"));
}

#[test]
fn unknown_resource_type_suggests_the_closest() {
    let diagnostics = errors("unknown_resource_type");
    let diagnostic = find(&diagnostics, "unknown resource type `aws_vcp`");
    assert_at(diagnostic, "unknown_resource_type/stack.toml", 4, 12);
    assert_eq!(diagnostic.address(), Some(&addr("aws_vcp.main")));
    assert_eq!(diagnostic.help_text(), Some("did you mean `aws_vpc`?"));
}

#[test]
fn unknown_attribute_suggests_the_closest_and_required_is_reported() {
    let diagnostics = errors("unknown_attribute");
    let unknown = find(&diagnostics, "unknown attribute `cidr_blok`");
    assert_at(unknown, "unknown_attribute/stack.toml", 5, 1);
    assert_eq!(unknown.address(), Some(&addr("aws_vpc.main")));
    assert_eq!(unknown.help_text(), Some("did you mean `cidr_block`?"));
    assert!(unknown.to_string().starts_with("aws_vpc.main: "));
    let missing = find(&diagnostics, "missing required attribute `cidr_block`");
    assert_at(missing, "unknown_attribute/stack.toml", 4, 20);
}

#[test]
fn wrong_types_are_reported_per_value() {
    let diagnostics = errors("wrong_type");
    let capacity = find(&diagnostics, "\"SPOTT\" is not one of");
    assert_at(capacity, "wrong_type/stack.toml", 9, 17);
    assert_eq!(
        capacity.address(),
        Some(&addr("aws_eks_node_group.workers"))
    );
    assert_eq!(capacity.help_text(), Some("did you mean `SPOT`?"));
    let field = find(&diagnostics, "unknown field `maxx`");
    assert_at(field, "wrong_type/stack.toml", 10, 29);
    assert_eq!(field.help_text(), Some("did you mean `max`?"));
    let missing = find(&diagnostics, "missing required field `max`");
    assert_at(missing, "wrong_type/stack.toml", 10, 11);
    let item = find(&diagnostics, "instance_types[1]");
    assert!(
        item.message().contains("expected string, got int"),
        "{item}"
    );
    assert_at(item, "wrong_type/stack.toml", 11, 31);
    assert_eq!(diagnostics.len(), 4);
}

#[test]
fn missing_required_attribute_points_at_the_resource() {
    let diagnostics = errors("missing_required");
    let diagnostic = find(&diagnostics, "missing required attribute `vpc_id`");
    assert_at(diagnostic, "missing_required/stack.toml", 4, 23);
    assert_eq!(diagnostic.address(), Some(&addr("aws_subnet.a")));
    assert_eq!(diagnostics.len(), 1);
}

#[test]
fn setting_a_computed_attribute_is_an_error() {
    let diagnostics = errors("computed_attribute");
    let diagnostic = find(&diagnostics, "`arn` is computed");
    assert_at(diagnostic, "computed_attribute/stack.toml", 6, 1);
    assert_eq!(diagnostic.address(), Some(&addr("aws_vpc.main")));
}

#[test]
fn reference_to_an_undeclared_resource_suggests_the_closest() {
    let diagnostics = errors("undefined_resource");
    let diagnostic = find(&diagnostics, "undeclared resource `aws_vpc.mian`");
    assert_at(diagnostic, "undefined_resource/stack.toml", 5, 13);
    assert_eq!(diagnostic.address(), Some(&addr("aws_subnet.a")));
    assert_eq!(diagnostic.help_text(), Some("did you mean `aws_vpc.main`?"));
}

#[test]
fn reference_to_an_unknown_attribute_suggests_the_closest() {
    let diagnostics = errors("undefined_attribute");
    let diagnostic = find(&diagnostics, "has no attribute `idd`");
    assert_at(diagnostic, "undefined_attribute/stack.toml", 8, 13);
    assert_eq!(diagnostic.address(), Some(&addr("aws_subnet.a")));
    assert_eq!(
        diagnostic.help_text(),
        Some("did you mean `aws_vpc.main.id`?")
    );
}

#[test]
fn reference_to_an_undefined_variable_suggests_the_closest() {
    let diagnostics = errors("undefined_variable");
    let diagnostic = find(&diagnostics, "undefined variable `var.regoin`");
    assert_at(diagnostic, "undefined_variable/stack.toml", 8, 13);
    assert_eq!(diagnostic.help_text(), Some("did you mean `var.region`?"));
}

#[test]
fn variable_without_a_value_and_missing_env_file() {
    let diagnostics = errors("variable_no_value");
    let diagnostic = find(&diagnostics, "variable `region` has no value");
    assert_at(diagnostic, "variable_no_value/stack.toml", 4, 12);
    let diagnostics = errors_with("variable_no_value", &env("staging"));
    let missing = find(&diagnostics, "environment `staging`");
    assert!(missing.location().is_none());
}

#[test]
fn malformed_interpolations_point_into_the_string() {
    let diagnostics = errors("malformed_interpolation");
    let unterminated = find(&diagnostics, "unterminated");
    assert_at(unterminated, "malformed_interpolation/stack.toml", 5, 15);
    let function = find(&diagnostics, "unknown function `lowr`");
    assert_at(function, "malformed_interpolation/stack.toml", 6, 20);
    assert!(function.message().contains("did you mean `lower`?"));
    // A malformed required attribute is not also reported as missing.
    assert_eq!(diagnostics.len(), 2);
}

#[test]
fn duplicate_definitions_name_both_places() {
    let diagnostics = errors("duplicate_definition");
    let diagnostic = find(&diagnostics, "resource `aws_vpc.main` is defined twice");
    assert_at(diagnostic, "duplicate_definition/b.toml", 1, 20);
    let help = diagnostic.help_text().unwrap_or_default();
    assert!(
        help.starts_with("first defined at ") && help.ends_with("duplicate_definition/a.toml:1:20"),
        "{help}"
    );
}

#[test]
fn meta_argument_errors() {
    let diagnostics = errors("bad_meta");
    let enabled = find(
        &diagnostics,
        "`enabled` may reference variables (and locals made of them) only",
    );
    assert_at(enabled, "bad_meta/stack.toml", 6, 14);
    assert_eq!(enabled.address(), Some(&addr("aws_vpc.main")));
    assert_at(
        find(&diagnostics, "a timeout is a duration"),
        "bad_meta/stack.toml",
        7,
        23,
    );
    let lifecycle = find(&diagnostics, "unknown key `prevent_destory`");
    assert_eq!(
        lifecycle.help_text(),
        Some("did you mean `prevent_destroy`?")
    );
    let depends = find(&diagnostics, "undeclared resource `aws_subnet.b`");
    assert_at(depends, "bad_meta/stack.toml", 9, 16);
    assert_eq!(depends.help_text(), Some("did you mean `aws_subnet.a`?"));
    find(
        &diagnostics,
        "`file` is only for resource types with a `manifest` attribute",
    );
    assert_eq!(diagnostics.len(), 5);
}

#[test]
fn manifest_errors_point_at_the_yaml() {
    let diagnostics = errors("bad_manifest");
    let two = find(&diagnostics, "exactly one YAML document, found 2");
    assert_at(two, "bad_manifest/stack.toml", 5, 8);
    assert_eq!(
        two.address(),
        Some(&addr("kubernetes_object.two_documents"))
    );
    let reference = find(&diagnostics, "undeclared resource `aws_vpc.nope`");
    assert_at(reference, "k8s/bad.yaml", 3, 12);
    let broken = find(&diagnostics, "malformed `${...}` in manifest");
    assert_at(broken, "k8s/bad.yaml", 4, 12);
    assert_eq!(
        broken.address(),
        Some(&addr("kubernetes_object.bad_reference"))
    );
}

#[test]
fn validate_collects_every_error_across_files() {
    let diagnostics = errors("many_errors");
    find(&diagnostics, "undefined variable `var.regoin`");
    find(&diagnostics, "unknown attribute `cidr_blok`");
    find(&diagnostics, "missing required attribute `cidr_block`");
    let ty = find(&diagnostics, "unknown resource type `aws_subnett`");
    assert_at(ty, "many_errors/more.toml", 1, 12);
    let enum_value = find(&diagnostics, "\"spot\" is not one of");
    assert_eq!(enum_value.help_text(), Some("did you mean `SPOT`?"));
    assert_eq!(diagnostics.len(), 5);
    let all = Diagnostics::from_iter(diagnostics);
    assert_eq!(all.to_string(), "the stack has 5 errors");
}

/// Errors from a one-file stack written to a temporary directory.
fn errors_in(text: &str) -> Vec<Diagnostic> {
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(err) => panic!("tempdir: {err}"),
    };
    if let Err(err) = std::fs::write(dir.path().join("stack.toml"), text) {
        panic!("write: {err}");
    }
    match load(dir.path(), &LoadOptions::default(), &schemas()) {
        Ok(_) => panic!("the stack should fail to load:\n{text}"),
        Err(diagnostics) => diagnostics.into_iter().collect(),
    }
}

/// The source line a diagnostic points at, as a rendered snippet would show it.
fn pointed_line(diagnostic: &Diagnostic, text: &str) -> String {
    let Some((_, line, _)) = diagnostic.location() else {
        panic!("{diagnostic} has no location")
    };
    text.lines().nth(line - 1).unwrap_or_default().to_owned()
}

#[test]
fn disabled_resources_are_still_checked() {
    let diagnostics = errors_in(
        r#"
[resources.aws_vpc.main]
cidr_block = "10.0.0.0/16"

[resources.aws_subnet.b]
enabled = false
vpc_id = "${aws_vpc.main.idd}"
cidr_block = "10.0.2.0/24"
"#,
    );
    let diagnostic = find(&diagnostics, "`aws_vpc.main` has no attribute `idd`");
    assert_eq!(diagnostic.address(), Some(&addr("aws_subnet.b")));
}

#[test]
fn a_provider_with_required_configuration_needs_a_block() {
    let diagnostics = errors_in("[resources.aws_vpc.main]\ncidr_block = \"10.0.0.0/16\"\n");
    let diagnostic = find(
        &diagnostics,
        "provider `aws` is not configured: it needs region",
    );
    let Some((_, line, column)) = diagnostic.location() else {
        panic!("no location")
    };
    assert_eq!((line, column), (1, 20));
}

#[test]
fn unknown_type_points_at_each_resource_header() {
    let text =
        "[resources.aws_vcp.a]\ncidr_block = \"x\"\n\n[resources.aws_vcp.b]\ncidr_block = \"y\"\n";
    let diagnostics = errors_in(text);
    assert_eq!(diagnostics.len(), 2);
    for (diagnostic, line) in diagnostics.iter().zip([1, 4]) {
        let Some((_, l, c)) = diagnostic.location() else {
            panic!("no location")
        };
        assert_eq!((l, c), (line, 12), "{diagnostic}");
    }
}

#[test]
fn type_errors_on_secrets_do_not_show_the_secret() {
    let text = r#"
[variables.token]
type = "number"
sensitive = true
default = "s3cret-token"

[resources.aws_db_instance.meta]
identifier = "meta"
password = 123456789
"#;
    let diagnostics = errors_in(text);
    let variable = find(&diagnostics, "variable `token` is declared as number");
    let attribute = find(&diagnostics, "attribute `password`");
    for diagnostic in [variable, attribute] {
        let line = pointed_line(diagnostic, text);
        assert!(
            !line.contains("s3cret") && !line.contains("123456789"),
            "{diagnostic} points at {line:?}"
        );
        assert!(!diagnostic.to_string().contains("s3cret"));
    }
    assert_eq!(attribute.message(), "attribute `password`: expected string");
}

/// Loads a one-file stack that must succeed.
fn loads(text: &str) -> Stack {
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(err) => panic!("tempdir: {err}"),
    };
    if let Err(err) = std::fs::write(dir.path().join("stack.toml"), text) {
        panic!("write: {err}");
    }
    match load(dir.path(), &LoadOptions::default(), &schemas()) {
        Ok(stack) => stack,
        Err(diagnostics) => panic!(
            "{:?}",
            diagnostics
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        ),
    }
}

#[test]
fn table_keys_interpolate_variables() {
    let stack = loads(
        r#"
[providers.aws]
region = "us-east-1"
[variables.cluster]
default = "airflow-dev"
[resources.aws_vpc.main]
cidr_block = "10.0.0.0/16"
tags = { "kubernetes.io/cluster/${var.cluster}" = "shared", plain = "x" }
"#,
    );
    let tags = eval_attr(&stack, "aws_vpc.main", "tags", &[]);
    let keys: Vec<&String> = tags
        .as_map()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["kubernetes.io/cluster/airflow-dev", "plain"]);
}

#[test]
fn table_keys_refuse_resource_references_and_secrets() {
    let text = r#"
[providers.aws]
region = "us-east-1"
[variables.token]
default = "hunter2"
sensitive = true
[resources.aws_vpc.main]
cidr_block = "10.0.0.0/16"
[resources.aws_vpc.other]
cidr_block = "10.1.0.0/16"
tags = { "a-${aws_vpc.main.arn}" = "x", "b-${var.token}" = "y" }
"#;
    let diagnostics = errors_in(text);
    let reference = find(
        &diagnostics,
        "may reference variables (and locals made of them) only, not `aws_vpc.main`",
    );
    assert!(pointed_line(reference, text).starts_with("tags ="));
    let secret = find(&diagnostics, "may not be sensitive");
    assert!(!secret.to_string().contains("hunter2"));
}

#[test]
fn load_time_values_may_use_locals_made_of_variables() {
    let stack = loads(
        r#"
[providers.aws]
region = "us-east-1"
[variables.env]
default = "prod"
[locals]
prod = "${var.env == \"prod\"}"
cluster = "airflow-${var.env}"
protect = "${local.prod && true}"
loop_a = "${local.loop_b}"
loop_b = "${local.loop_a}"
[resources.aws_vpc.main]
cidr_block = "10.0.0.0/16"
tags = { "kubernetes.io/cluster/${local.cluster}" = "shared" }
lifecycle = { prevent_destroy = "${local.protect}" }
[resources.aws_vpc.dev]
enabled = "${!local.prod}"
cidr_block = "10.1.0.0/16"
[resources.aws_vpc.looped]
enabled = "${local.loop_a}"
cidr_block = "10.2.0.0/16"
"#,
    );
    let vpc = &stack.resources[&addr("aws_vpc.main")];
    assert!(vpc.lifecycle.prevent_destroy);
    let tags = eval_attr(&stack, "aws_vpc.main", "tags", &[]);
    let keys: Vec<&String> = tags
        .as_map()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["kubernetes.io/cluster/airflow-prod"]);
    assert!(!stack.resources.contains_key(&addr("aws_vpc.dev")));
    // A cycle has no load-time value (the graph names it); loading still ends.
    assert!(stack.resources.contains_key(&addr("aws_vpc.looped")));
}
