//! Errors for people: stack diagnostics with their source snippets (miette's graphical
//! report, ASCII and colourless unless stderr is a terminal), always naming file:line:col,
//! and plain error chains for everything else.

use miette::{GraphicalReportHandler, GraphicalTheme};

use crate::diagnostics::Diagnostics;

/// Every diagnostic, each with its location and snippet. On a terminal: miette's
/// graphical report in colour. Elsewhere: an `error: path:line:col: message` line (easy to
/// grep in CI logs) followed by the same snippet in plain ASCII.
pub fn diagnostics(all: &Diagnostics, color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::none()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .without_syntax_highlighting();
    let mut out = String::new();
    for diagnostic in all {
        let mut report = String::new();
        let rendered = handler.render_report(&mut report, diagnostic).is_ok();
        if color && rendered {
            out.push_str(&report);
            continue;
        }
        match diagnostic.location() {
            Some((path, line, column)) => {
                out.push_str(&format!(
                    "error: {}:{line}:{column}: {diagnostic}\n",
                    path.display()
                ));
                // miette's first lines repeat the message; the snippet starts at `,-[`.
                let snippet: Vec<&str> = report
                    .lines()
                    .skip_while(|l| !l.trim_start().starts_with(",-["))
                    .collect();
                for line in snippet {
                    out.push_str(line);
                    out.push('\n');
                }
            }
            None => {
                out.push_str(&format!("error: {diagnostic}\n"));
                if let Some(help) = diagnostic.help_text() {
                    out.push_str(&format!("  help: {help}\n"));
                }
            }
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
