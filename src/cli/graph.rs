//! `cairn graph`: the resource graph as Graphviz dot or Mermaid.

use std::process::ExitCode;

use super::{CliError, GraphFormat, StackArgs, load};
use crate::graph::ResourceGraph;
use crate::render::Printer;

/// `cairn graph`.
pub(super) fn graph(
    args: &StackArgs,
    format: GraphFormat,
    printer: Printer,
) -> Result<ExitCode, CliError> {
    let (_, loaded) = load(args)?;
    let graph = ResourceGraph::build(&loaded)?;
    let text = match format {
        GraphFormat::Dot => graph.to_dot(),
        GraphFormat::Mermaid => graph.to_mermaid(),
    };
    printer.out(text.trim_end());
    Ok(ExitCode::SUCCESS)
}
