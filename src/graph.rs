//! The resource graph: which resources must exist before which.
//!
//! Owns building the petgraph DAG from a loaded [`Stack`] and reporting dependency
//! cycles (every member named, with its place in the files). Vertices are resources
//! (blocks, not `for_each` instances: the planner expands those), locals
//! (`local.tags`) and provider blocks (`provider.kubernetes`); an edge `a -> b` means `b`
//! depends on `a`, so a topological order is a creation order and its reverse a
//! destruction order. Edges come from references in attributes and `for_each`,
//! `depends_on`, locals (a local depends on what it references, and whatever references
//! it depends on the local) and provider blocks: a block depends on what its
//! configuration references, and every resource of that provider depends on the block. Walking the graph concurrently is `apply/`'s job; this module
//! knows vertices, not providers or state.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::addr::ResourceAddr;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::expr::{Expr, Reference};
use crate::stack::{Span, Stack};

/// A vertex of the graph.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Vertex {
    /// A resource, by address.
    Resource(ResourceAddr),
    /// A `[providers.NAME]` block, by provider name.
    Provider(String),
    /// A `[locals]` entry, by name.
    Local(String),
}

impl fmt::Display for Vertex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Vertex::Resource(addr) => write!(f, "{addr}"),
            Vertex::Provider(name) => write!(f, "provider.{name}"),
            Vertex::Local(name) => write!(f, "local.{name}"),
        }
    }
}

/// Why an edge exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EdgeKind {
    /// A `${...}` reference.
    Reference,
    /// An explicit `depends_on`.
    DependsOn,
    /// A provider block to a resource of that provider.
    Provider,
}

/// The dependency DAG of one stack.
#[derive(Clone, Debug)]
pub struct ResourceGraph {
    graph: DiGraph<Vertex, EdgeKind>,
    indices: HashMap<Vertex, NodeIndex>,
    /// Resources in a topological order (dependencies first).
    order: Vec<ResourceAddr>,
}

/// What an expression references that is a vertex: resources and locals.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Referenced<'a> {
    Resource(&'a ResourceAddr),
    Local(&'a str),
}

fn referenced<'a>(expr: &'a Expr, out: &mut BTreeSet<Referenced<'a>>) {
    for reference in expr.references() {
        match reference {
            Reference::Resource { addr, .. } => {
                out.insert(Referenced::Resource(addr));
            }
            Reference::Local { name, .. } => {
                out.insert(Referenced::Local(name));
            }
            Reference::Variable { .. } | Reference::Each { .. } => {}
        }
    }
}

impl ResourceGraph {
    /// Builds the graph; fails with one diagnostic per dependency cycle (and per
    /// reference to a resource the stack does not have).
    pub fn build(stack: &Stack) -> Result<ResourceGraph, Diagnostics> {
        let mut graph = DiGraph::with_capacity(
            stack.resources.len() + stack.providers.len() + stack.locals.len(),
            stack.resources.len(),
        );
        let mut indices = HashMap::with_capacity(
            stack.resources.len() + stack.providers.len() + stack.locals.len(),
        );
        let mut locals: HashMap<&str, NodeIndex> = HashMap::with_capacity(stack.locals.len());
        // Borrowed lookups while building, so finding an edge's ends allocates nothing.
        let mut providers: HashMap<&str, NodeIndex> = HashMap::new();
        let mut resources: HashMap<&ResourceAddr, NodeIndex> =
            HashMap::with_capacity(stack.resources.len());
        // Sorted insertion makes indices, the topological order and renderings stable.
        for name in stack.providers.keys() {
            let vertex = Vertex::Provider(name.clone());
            let index = graph.add_node(vertex.clone());
            indices.insert(vertex, index);
            providers.insert(name.as_str(), index);
        }
        for addr in stack.resources.keys() {
            let vertex = Vertex::Resource(addr.clone());
            let index = graph.add_node(vertex.clone());
            indices.insert(vertex, index);
            resources.insert(addr, index);
        }
        for name in stack.locals.keys() {
            let vertex = Vertex::Local(name.clone());
            let index = graph.add_node(vertex.clone());
            indices.insert(vertex, index);
            locals.insert(name.as_str(), index);
        }

        let mut diagnostics = Diagnostics::new();
        let mut edges: BTreeSet<(NodeIndex, NodeIndex, EdgeKind)> = BTreeSet::new();
        let target = |addr: &ResourceAddr,
                      span: &Span,
                      owner: &dyn Fn() -> Vertex,
                      diagnostics: &mut Diagnostics| {
            let found = resources.get(addr).copied();
            if found.is_none() {
                let owner = owner();
                let mut diagnostic = Diagnostic::at(
                    &stack.sources,
                    span,
                    format!("`{owner}` depends on `{addr}`, which is not in the stack"),
                    "undeclared resource",
                );
                if let Vertex::Resource(owner) = owner {
                    diagnostic = diagnostic.with_address(owner);
                }
                diagnostics.push(diagnostic);
            }
            found
        };
        // Edges into `to` from everything `exprs` reference.
        type Edges = BTreeSet<(NodeIndex, NodeIndex, EdgeKind)>;
        let reference_edges = |exprs: &mut dyn Iterator<Item = &Expr>,
                               to: NodeIndex,
                               owner: &dyn Fn() -> Vertex,
                               edges: &mut Edges,
                               diagnostics: &mut Diagnostics| {
            for expr in exprs {
                let mut found = BTreeSet::new();
                referenced(expr, &mut found);
                for dependency in found {
                    let from = match dependency {
                        Referenced::Resource(addr) => target(addr, &expr.span, owner, diagnostics),
                        // Undeclared locals were reported by the loader.
                        Referenced::Local(name) => locals.get(name).copied(),
                    };
                    if let Some(from) = from {
                        edges.insert((from, to, EdgeKind::Reference));
                    }
                }
            }
        };

        for (name, block) in &stack.providers {
            let Some(&to) = providers.get(name.as_str()) else {
                continue;
            };
            let vertex = || Vertex::Provider(name.clone());
            reference_edges(
                &mut block.config.values(),
                to,
                &vertex,
                &mut edges,
                &mut diagnostics,
            );
        }
        for (name, local) in &stack.locals {
            let Some(&to) = locals.get(name.as_str()) else {
                continue;
            };
            let vertex = || Vertex::Local(name.clone());
            reference_edges(
                &mut std::iter::once(&local.value),
                to,
                &vertex,
                &mut edges,
                &mut diagnostics,
            );
        }
        for (addr, resource) in &stack.resources {
            let Some(&to) = resources.get(addr) else {
                continue;
            };
            // The owner is only named in the rare error, so it is built lazily.
            let owner = || Vertex::Resource(addr.clone());
            reference_edges(
                &mut resource.attrs.values().chain(resource.for_each.as_ref()),
                to,
                &owner,
                &mut edges,
                &mut diagnostics,
            );
            for dependency in &resource.depends_on {
                if let Some(from) = target(dependency, &resource.span, &owner, &mut diagnostics) {
                    edges.insert((from, to, EdgeKind::DependsOn));
                }
            }
            if let Some(&provider) = providers.get(addr.provider()) {
                edges.insert((provider, to, EdgeKind::Provider));
            }
        }
        // One edge per pair, the most specific reason first (Reference < DependsOn).
        let mut seen = BTreeSet::new();
        for (from, to, kind) in edges {
            if seen.insert((from, to)) {
                graph.add_edge(from, to, kind);
            }
        }

        for component in petgraph::algo::tarjan_scc(&graph) {
            let is_cycle =
                component.len() > 1 || component.iter().any(|&n| graph.contains_edge(n, n));
            if is_cycle {
                diagnostics.push(cycle_diagnostic(stack, &graph, &component));
            }
        }
        if !diagnostics.is_empty() {
            return Err(diagnostics);
        }

        let order = match petgraph::algo::toposort(&graph, None) {
            Ok(order) => order
                .into_iter()
                .filter_map(|index| match &graph[index] {
                    Vertex::Resource(addr) => Some(addr.clone()),
                    Vertex::Provider(_) | Vertex::Local(_) => None,
                })
                .collect(),
            // Cycles were reported above; toposort cannot disagree with tarjan_scc.
            Err(_) => Vec::new(),
        };
        Ok(ResourceGraph {
            graph,
            indices,
            order,
        })
    }

    /// The petgraph graph, for walkers. Edge `a -> b`: `b` depends on `a`.
    pub fn graph(&self) -> &DiGraph<Vertex, EdgeKind> {
        &self.graph
    }

    /// The node index of a vertex.
    pub fn index_of(&self, vertex: &Vertex) -> Option<NodeIndex> {
        self.indices.get(vertex).copied()
    }

    /// Resources in a topological order: every resource after all it depends on.
    pub fn resources(&self) -> &[ResourceAddr] {
        &self.order
    }

    /// What `addr` directly depends on, with its provider block's dependencies flattened
    /// in (the block itself is not a resource). Sorted.
    pub fn dependencies(&self, addr: &ResourceAddr) -> Vec<ResourceAddr> {
        self.neighbours(addr, Direction::Incoming)
    }

    /// What directly depends on `addr`, through provider blocks too. Sorted.
    pub fn dependents(&self, addr: &ResourceAddr) -> Vec<ResourceAddr> {
        self.neighbours(addr, Direction::Outgoing)
    }

    fn neighbours(&self, addr: &ResourceAddr, direction: Direction) -> Vec<ResourceAddr> {
        let Some(index) = self.index_of(&Vertex::Resource(addr.clone())) else {
            return Vec::new();
        };
        let mut out = BTreeSet::new();
        // Provider blocks and locals are not resources: look through them, as far as
        // they chain, to the resources beyond.
        let mut seen = BTreeSet::new();
        let mut queue: Vec<NodeIndex> = self.graph.neighbors_directed(index, direction).collect();
        while let Some(neighbour) = queue.pop() {
            if !seen.insert(neighbour) {
                continue;
            }
            match &self.graph[neighbour] {
                Vertex::Resource(other) => {
                    if other != addr {
                        out.insert(other.clone());
                    }
                }
                Vertex::Provider(_) | Vertex::Local(_) => {
                    queue.extend(self.graph.neighbors_directed(neighbour, direction));
                }
            }
        }
        out.into_iter().collect()
    }

    /// Edges as sorted `(from, to, kind)` name triples, the basis of both renderings.
    fn sorted_edges(&self) -> Vec<(String, String, EdgeKind)> {
        let mut edges: Vec<_> = self
            .graph
            .edge_indices()
            .filter_map(|edge| {
                let (from, to) = self.graph.edge_endpoints(edge)?;
                Some((
                    self.graph[from].to_string(),
                    self.graph[to].to_string(),
                    self.graph[edge],
                ))
            })
            .collect();
        edges.sort();
        edges
    }

    fn sorted_vertices(&self) -> Vec<String> {
        let mut vertices: Vec<String> =
            self.graph.node_weights().map(ToString::to_string).collect();
        vertices.sort();
        vertices
    }

    /// Graphviz DOT, sorted so the output is stable. Provider edges are dashed.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph cairn {\n");
        for vertex in self.sorted_vertices() {
            let shape = if vertex.starts_with("provider.") {
                " [shape=box]"
            } else {
                ""
            };
            out.push_str(&format!("  \"{vertex}\"{shape};\n"));
        }
        for (from, to, kind) in self.sorted_edges() {
            let style = match kind {
                EdgeKind::Reference => "",
                EdgeKind::DependsOn => " [style=bold]",
                EdgeKind::Provider => " [style=dashed]",
            };
            out.push_str(&format!("  \"{from}\" -> \"{to}\"{style};\n"));
        }
        out.push_str("}\n");
        out
    }

    /// A Mermaid flowchart, sorted so the output is stable. Node ids are positions in
    /// the sorted vertex list because Mermaid ids cannot hold dots.
    pub fn to_mermaid(&self) -> String {
        let vertices = self.sorted_vertices();
        let ids: BTreeMap<&str, usize> = vertices
            .iter()
            .enumerate()
            .map(|(i, v)| (v.as_str(), i))
            .collect();
        let mut out = String::from("flowchart LR\n");
        for (i, vertex) in vertices.iter().enumerate() {
            out.push_str(&format!("  n{i}[\"{vertex}\"]\n"));
        }
        for (from, to, kind) in self.sorted_edges() {
            let arrow = if kind == EdgeKind::Provider {
                "-.->"
            } else {
                "-->"
            };
            if let (Some(from), Some(to)) = (ids.get(from.as_str()), ids.get(to.as_str())) {
                out.push_str(&format!("  n{from} {arrow} n{to}\n"));
            }
        }
        out
    }
}

/// One diagnostic for one strongly connected component: the members in cycle order
/// (each depends on the next), each with its place in the files.
fn cycle_diagnostic(
    stack: &Stack,
    graph: &DiGraph<Vertex, EdgeKind>,
    component: &[NodeIndex],
) -> Diagnostic {
    let span_of = |index: NodeIndex| match &graph[index] {
        Vertex::Resource(addr) => stack.resources.get(addr).map(|r| &r.span),
        Vertex::Provider(name) => stack.providers.get(name).map(|p| &p.span),
        Vertex::Local(name) => stack.locals.get(name).map(|l| &l.span),
    };
    let members: BTreeSet<NodeIndex> = component.iter().copied().collect();
    let Some(start) = members
        .iter()
        .copied()
        .min_by_key(|&n| graph[n].to_string())
    else {
        return Diagnostic::error("dependency cycle");
    };
    let cycle = shortest_cycle(graph, start, &members);
    // Members the shortest cycle skips (a component can hold several cycles) are named
    // too, so the user sees every resource involved.
    let on_cycle: BTreeSet<NodeIndex> = cycle.iter().copied().collect();
    let mut path: Vec<String> = cycle.iter().map(|&n| graph[n].to_string()).collect();
    path.push(graph[start].to_string());
    let mut message = format!("dependency cycle: {}", path.join(" -> "));
    let others: Vec<String> = members
        .iter()
        .filter(|n| !on_cycle.contains(n))
        .map(|&n| graph[n].to_string())
        .collect();
    if !others.is_empty() {
        message.push_str(&format!(" (also involved: {})", others.join(", ")));
    }
    let places: Vec<String> = members
        .iter()
        .filter_map(|n| {
            let span = span_of(*n)?;
            let file = stack.sources.get(span.file)?;
            let (line, column) = crate::diagnostics::line_column(&file.text, span.range.start);
            Some(format!(
                "{} at {}:{line}:{column}",
                graph[*n],
                file.path.display()
            ))
        })
        .collect();
    let mut diagnostic = match span_of(start) {
        Some(span) => Diagnostic::at(&stack.sources, span, message, "part of the cycle"),
        None => Diagnostic::error(message),
    };
    if let Vertex::Resource(addr) = &graph[start] {
        diagnostic = diagnostic.with_address(addr.clone());
    }
    diagnostic.with_help(format!(
        "each depends on the next (through references, depends_on or a provider block); break one link. Members: {}",
        places.join("; ")
    ))
}

/// The shortest path start -> dependency -> ... -> start inside `members`, without the
/// final repetition of `start`. Follows incoming edges, i.e. "depends on".
fn shortest_cycle(
    graph: &DiGraph<Vertex, EdgeKind>,
    start: NodeIndex,
    members: &BTreeSet<NodeIndex>,
) -> Vec<NodeIndex> {
    let mut previous: HashMap<NodeIndex, NodeIndex> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for next in graph.neighbors_directed(node, Direction::Incoming) {
            if !members.contains(&next) {
                continue;
            }
            if next == start {
                let mut path = vec![node];
                let mut at = node;
                while at != start {
                    match previous.get(&at) {
                        Some(&before) => {
                            path.push(before);
                            at = before;
                        }
                        None => break,
                    }
                }
                path.reverse();
                return path;
            }
            if let std::collections::hash_map::Entry::Vacant(entry) = previous.entry(next) {
                entry.insert(node);
                queue.push_back(next);
            }
        }
    }
    vec![start]
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;
    use crate::stack::tests::{fixture, load_ok, schemas};
    use crate::stack::{LoadOptions, load};

    fn addr(text: &str) -> ResourceAddr {
        match text.parse() {
            Ok(addr) => addr,
            Err(err) => panic!("{err}"),
        }
    }

    fn stack_from(files: &[(&str, &str)]) -> (tempfile::TempDir, Stack) {
        let dir = match tempfile::tempdir() {
            Ok(dir) => dir,
            Err(err) => panic!("tempdir: {err}"),
        };
        for (name, text) in files {
            if let Err(err) = std::fs::write(dir.path().join(name), text) {
                panic!("write {name}: {err}");
            }
        }
        let stack = match load(dir.path(), &LoadOptions::default(), &schemas()) {
            Ok(stack) => stack,
            Err(diagnostics) => panic!(
                "{:#?}",
                diagnostics
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            ),
        };
        (dir, stack)
    }

    fn build(stack: &Stack) -> ResourceGraph {
        match ResourceGraph::build(stack) {
            Ok(graph) => graph,
            Err(diagnostics) => panic!(
                "{:#?}",
                diagnostics
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            ),
        }
    }

    fn position(graph: &ResourceGraph, text: &str) -> usize {
        match graph.resources().iter().position(|a| *a == addr(text)) {
            Some(i) => i,
            None => panic!("{text} not in the order"),
        }
    }

    #[test]
    fn edges_come_from_references_depends_on_and_provider_blocks() {
        let stack = load_ok(
            "good",
            &LoadOptions {
                env: Some("prod".to_owned()),
                ..LoadOptions::default()
            },
        );
        let graph = build(&stack);
        assert_eq!(
            graph.dependencies(&addr("aws_subnet.a")),
            vec![addr("aws_vpc.main")]
        );
        assert_eq!(
            graph.dependencies(&addr("aws_route.private")),
            vec![
                addr("aws_nat_gateway.a"),
                addr("aws_nat_gateway.b"),
                addr("aws_vpc.main")
            ]
        );
        // The kubernetes provider block references the cluster: every kubernetes
        // resource depends on it, and the YAML manifest's reference adds the same edge.
        assert_eq!(
            graph.dependencies(&addr("kubernetes_object.config")),
            vec![addr("aws_eks_cluster.main")]
        );
        assert_eq!(
            graph.dependencies(&addr("aws_vpc.main")),
            Vec::<ResourceAddr>::new()
        );
        assert!(
            graph
                .dependents(&addr("aws_eks_cluster.main"))
                .contains(&addr("kubernetes_object.config"))
        );
        let order = graph.resources();
        assert_eq!(order.len(), stack.resources.len());
        for resource in order {
            for dependency in graph.dependencies(resource) {
                assert!(
                    position(&graph, &dependency.to_string())
                        < position(&graph, &resource.to_string())
                );
            }
        }
        let provider = graph.index_of(&Vertex::Provider("kubernetes".to_owned()));
        let cluster = graph.index_of(&Vertex::Resource(addr("aws_eks_cluster.main")));
        assert!(
            matches!((cluster, provider), (Some(c), Some(p)) if graph.graph().contains_edge(c, p))
        );
    }

    #[test]
    fn a_cycle_names_every_member_in_order() {
        let stack = load_ok("cycle", &LoadOptions::default());
        let Err(diagnostics) = ResourceGraph::build(&stack) else {
            panic!("cycle not detected")
        };
        assert_eq!(diagnostics.len(), 1);
        let Some(diagnostic) = diagnostics.iter().next() else {
            panic!("no diagnostic")
        };
        assert_eq!(
            diagnostic.message(),
            "dependency cycle: cairn_data.a -> cairn_data.c -> cairn_data.b -> cairn_data.a"
        );
        assert!(!diagnostic.to_string().contains("cairn_data.ok"));
        let Some((path, line, column)) = diagnostic.location() else {
            panic!("no location")
        };
        assert!(path.ends_with("cycle/stack.toml"));
        assert_eq!((line, column), (4, 23));
        let help = diagnostic.help_text().unwrap_or_default();
        for member in ["cairn_data.a at", "cairn_data.b at", "cairn_data.c at"] {
            assert!(help.contains(member), "{help}");
        }
        assert!(help.contains("stack.toml:7:23"), "{help}");
        assert!(fixture("cycle").exists());
    }

    #[test]
    fn cycles_through_provider_blocks_and_self_references_are_reported() {
        let (_dir, stack) = stack_from(&[(
            "stack.toml",
            r#"
[providers.kubernetes]
eks_cluster = { name = "${cairn_data.cluster.output}" }

[resources.cairn_data.cluster]
input = "${kubernetes_object.app.id}"

[resources.kubernetes_object.app]
manifest = { kind = "ConfigMap" }

[resources.cairn_data.selfish]
input = "${cairn_data.selfish.output}"
"#,
        )]);
        let Err(diagnostics) = ResourceGraph::build(&stack) else {
            panic!("cycles not detected")
        };
        let messages: Vec<&str> = diagnostics.iter().map(Diagnostic::message).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages.contains(
            &"dependency cycle: cairn_data.cluster -> kubernetes_object.app -> provider.kubernetes -> cairn_data.cluster"
        ));
        assert!(messages.contains(&"dependency cycle: cairn_data.selfish -> cairn_data.selfish"));
    }

    #[test]
    fn renderings_are_sorted_and_stable() {
        let (_dir, stack) = stack_from(&[(
            "stack.toml",
            r#"
[resources.cairn_data.b]
input = "${cairn_data.a.output}"
depends_on = ["cairn_data.c"]
[resources.cairn_data.a]
[resources.cairn_data.c]
"#,
        )]);
        let graph = build(&stack);
        assert_eq!(
            graph.to_dot(),
            "digraph cairn {\n  \"cairn_data.a\";\n  \"cairn_data.b\";\n  \"cairn_data.c\";\n  \"provider.cairn\" [shape=box];\n  \"cairn_data.a\" -> \"cairn_data.b\";\n  \"cairn_data.c\" -> \"cairn_data.b\" [style=bold];\n  \"provider.cairn\" -> \"cairn_data.a\" [style=dashed];\n  \"provider.cairn\" -> \"cairn_data.b\" [style=dashed];\n  \"provider.cairn\" -> \"cairn_data.c\" [style=dashed];\n}\n"
        );
        let mermaid = graph.to_mermaid();
        assert!(mermaid.starts_with("flowchart LR\n  n0[\"cairn_data.a\"]\n"));
        assert!(
            mermaid.contains("  n0 --> n1\n  n2 --> n1\n  n3 -.-> n0\n"),
            "{mermaid}"
        );
        assert_eq!(graph.to_mermaid(), mermaid);
    }

    /// 5,000 `cairn_data` resources in a chain and in a fan (one root, 4,999 leaves).
    fn generated(shape: &str, count: usize) -> String {
        let mut text = String::from("[resources.cairn_data.r0]\ninput = \"root\"\n");
        for i in 1..count {
            let parent = if shape == "chain" { i - 1 } else { 0 };
            let _ = write!(
                text,
                "[resources.cairn_data.r{i}]\ninput = \"${{cairn_data.r{parent}.output}}\"\n"
            );
        }
        text
    }

    #[test]
    fn large_generated_chain_and_fan() {
        let (_dir, chain) = stack_from(&[("stack.toml", &generated("chain", 5_000))]);
        let graph = build(&chain);
        assert_eq!(graph.resources().len(), 5_000);
        assert_eq!(graph.resources().first(), Some(&addr("cairn_data.r0")));
        assert_eq!(graph.resources().last(), Some(&addr("cairn_data.r4999")));
        assert_eq!(
            graph.dependencies(&addr("cairn_data.r4999")),
            vec![addr("cairn_data.r4998")]
        );

        let (_dir, fan) = stack_from(&[("stack.toml", &generated("fan", 5_000))]);
        let graph = build(&fan);
        assert_eq!(graph.resources().first(), Some(&addr("cairn_data.r0")));
        assert_eq!(graph.dependents(&addr("cairn_data.r0")).len(), 4_999);
    }
}
