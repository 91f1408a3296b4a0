//! Diagnostic logs on stderr, turned on by `CAIRN_LOG`.
//!
//! Owns reading `CAIRN_LOG`, checking it, and installing the `tracing` subscriber. Logs
//! are for people debugging cairn: colour only on a terminal and never with `NO_COLOR`,
//! so a redirected log has no escape codes. What is logged is each module's business.

use std::io::IsTerminal;

/// The environment variable holding the log filter.
pub const ENV_VAR: &str = "CAIRN_LOG";

/// What `CAIRN_LOG` accepts, for the error's help line.
pub const VALID: &str = "a level (error, warn, info, debug, trace, off) or comma-separated \
     TARGET=LEVEL directives, e.g. CAIRN_LOG=debug or CAIRN_LOG=cairn=debug,aws_smithy_runtime=warn";

/// `CAIRN_LOG` could not be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid {ENV_VAR} `{value}`: {reason}")]
pub struct LogFilterError {
    value: String,
    reason: String,
}

const LEVELS: &[&str] = &["off", "error", "warn", "info", "debug", "trace"];

/// Checks a filter. `tracing`'s own parser takes any bare word as a target name, so a typo
/// such as `degub` would silently log nothing; here a bare word must be a level and a
/// target needs `=LEVEL` (or a `[span]` filter).
pub fn parse_filter(value: &str) -> Result<tracing_subscriber::EnvFilter, LogFilterError> {
    let fail = |reason: String| LogFilterError {
        value: value.to_owned(),
        reason,
    };
    for directive in value.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let level = match directive.rsplit_once('=') {
            Some((_, level)) => level,
            None if directive.contains('[') => continue,
            None => directive,
        };
        if !LEVELS.iter().any(|l| l.eq_ignore_ascii_case(level)) {
            return Err(fail(format!("`{level}` is not a level")));
        }
    }
    tracing_subscriber::EnvFilter::builder()
        .parse(value)
        .map_err(|err| fail(err.to_string()))
}

/// Installs the subscriber if `CAIRN_LOG` is set and not empty; an invalid value is an
/// error rather than a silent fallback.
#[allow(
    clippy::disallowed_methods,
    reason = "logs are not output: tracing writes them to stderr, beside render's lines"
)]
pub fn init() -> Result<(), LogFilterError> {
    let Some(value) = std::env::var_os(ENV_VAR) else {
        return Ok(());
    };
    let value = value.to_string_lossy();
    if value.trim().is_empty() {
        return Ok(());
    }
    let filter = parse_filter(&value)?;
    let color = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    // Fails only if a subscriber is already installed, which then keeps logging.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(color)
        .with_writer(std::io::stderr)
        .try_init();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_directives_are_accepted() {
        for value in [
            "debug",
            "INFO",
            "off",
            "cairn=debug",
            "cairn=debug,aws_smithy_runtime=warn",
            "cairn::apply=trace, info",
            "[apply]=debug",
        ] {
            assert!(parse_filter(value).is_ok(), "{value}");
        }
    }

    #[test]
    fn typos_are_errors_that_say_what_is_valid() {
        for (value, reason) in [
            ("degub", "`degub` is not a level"),
            ("verbose", "`verbose` is not a level"),
            ("cairn=loud", "`loud` is not a level"),
            ("info,cairn", "`cairn` is not a level"),
        ] {
            let err = parse_filter(value).map(|_| ()).map_err(|e| e.to_string());
            assert_eq!(
                err,
                Err(format!("invalid CAIRN_LOG `{value}`: {reason}")),
                "{value}"
            );
        }
    }
}
