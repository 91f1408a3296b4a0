//! Errors for people: stack diagnostics with their source snippets (miette's graphical
//! report, ASCII and colourless unless stderr is a terminal), always naming file:line:col,
//! and plain error chains for everything else.

use miette::{GraphicalReportHandler, GraphicalTheme};

use crate::diagnostics::Diagnostics;

/// Every diagnostic, each with its location line and snippet.
pub fn diagnostics(all: &Diagnostics, color: bool) -> String {
    let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::ascii() };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100).without_syntax_highlighting();
    let mut out = String::new();
    for diagnostic in all {
        // A plain first line keeps the location greppable even where the snippet is cut.
        match diagnostic.location() {
            Some((path, line, column)) => {
                out.push_str(&format!("error: {}:{line}:{column}: {diagnostic}\n", path.display()));
            }
            None => out.push_str(&format!("error: {diagnostic}\n")),
        }
        if diagnostic.location().is_some() {
            let mut report = String::new();
            if handler.render_report(&mut report, diagnostic).is_ok() {
                out.push_str(&report);
            }
        } else if let Some(help) = diagnostic.help_text() {
            out.push_str(&format!("  help: {help}\n"));
        }
    }
    if all.len() > 1 {
        out.push_str(&format!("{} errors\n", all.len()));
    }
    out
}

/// An error and its causes, one per line, then hints.
pub fn error_chain(error: &(dyn std::error::Error + 'static), hints: &[String]) -> String {
    let mut out = format!("error: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(&format!("\n  caused by: {cause}"));
        source = cause.source();
    }
    for hint in hints {
        out.push_str(&format!("\n  hint: {hint}"));
    }
    out
}
