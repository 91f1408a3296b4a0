//! Everything cairn prints, and the only module that prints.
//!
//! [`Printer`] decides colour and writes to stdout/stderr (a closed pipe is not an
//! error). Submodules format: `plan` (Terraform-style human plans), `json` (stable
//! machine-readable plans, state and outputs; secrets redacted), `diagnostic` (stack
//! errors with file:line:col and snippets), `progress` (the apply's live progress) and
//! `apply` (apply summaries and failure reports). Deciding what to print belongs to the
//! CLI; what the values are belongs to `plan/`, `apply/` and `state/`.

mod apply;
mod diagnostic;
mod json;
mod plan;
mod progress;
mod state;

use std::io::{IsTerminal, Write};

pub use apply::{apply_report, output_line};
pub use diagnostic::{diagnostics, error_chain};
pub use json::{JsonProgress, apply_summary_json, outputs_json, plan_json, state_json};
pub use plan::{plan_text, plan_text_detailed};
pub use progress::ApplyProgress;
pub use state::{state_list, state_resource, state_text};

/// Where and how to print.
#[derive(Clone, Copy, Debug)]
pub struct Printer {
    /// ANSI colours on stdout (a terminal, and `NO_COLOR` unset).
    pub color: bool,
    /// stdout is a terminal (live progress instead of log lines).
    pub stdout_tty: bool,
    /// stderr is a terminal (graphical diagnostics).
    pub stderr_tty: bool,
}

#[allow(
    clippy::disallowed_methods,
    reason = "render is cairn's one printer: the only place that holds stdout and stderr"
)]
impl Printer {
    /// Looks at the terminals and `NO_COLOR` once, at start-up.
    pub fn detect() -> Self {
        let stdout_tty = std::io::stdout().is_terminal();
        let stderr_tty = std::io::stderr().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Printer {
            color: stdout_tty && !no_color,
            stdout_tty,
            stderr_tty,
        }
    }

    /// Writes `text` and a newline to stdout.
    pub fn out(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        // A closed pipe (`cairn plan | head`) is the reader's choice, not an error.
        let _ = writeln!(stdout, "{text}");
    }

    /// Writes `text` and a newline to stderr.
    pub fn err(&self, text: &str) {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{text}");
    }

    /// Writes `text` to stdout without a newline (prompts).
    pub fn prompt(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = write!(stdout, "{text}");
        let _ = stdout.flush();
    }

    /// Colour for stderr (diagnostics).
    pub fn stderr_color(&self) -> bool {
        self.stderr_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
    }
}

/// `2m10s`, `45s`, `1h2m3s`.
pub fn duration(elapsed: std::time::Duration) -> String {
    let secs = elapsed.as_secs();
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

/// Paints `text` with a style when colour is on.
fn paint(color: bool, text: &str, style: owo_colors::Style) -> String {
    use owo_colors::OwoColorize;
    if color {
        text.style(style).to_string()
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations_read_like_terraform() {
        assert_eq!(duration(Duration::from_secs(5)), "5s");
        assert_eq!(duration(Duration::from_secs(130)), "2m10s");
        assert_eq!(duration(Duration::from_secs(3723)), "1h2m3s");
    }
}
