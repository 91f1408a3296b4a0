//! cairn's engine: stack loading, the resource graph, plans, apply, state and rendering.
//!
//! The binary (`main.rs`) only calls [`cli::main`]. Data flows one way: [`stack`] loads
//! and validates TOML into a [`stack::Stack`] whose attribute values are [`expr::Expr`]s;
//! [`graph`] turns it into a DAG; [`plan`] compares the stack with [`state`] and the real
//! world (through providers) and yields a [`plan::Plan`]; [`apply`] walks the plan's graph
//! concurrently; [`render`] is the only module that prints. [`session`] strings these
//! together for one run (open, plan, apply), for the CLI, the tests and the benchmarks
//! alike.

pub mod addr;
pub mod apply;
pub mod builtin;
pub mod cli;
pub mod diagnostics;
pub mod expr;
pub mod graph;
pub mod logging;
pub mod plan;
pub mod providers;
pub mod render;
pub mod session;
pub mod stack;
pub mod state;
