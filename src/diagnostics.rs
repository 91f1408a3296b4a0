//! Diagnostics: errors about a stack that point at a file, line and column.
//!
//! A [`Diagnostic`] is one problem: a message, optionally the resource address it is
//! about, optionally a labelled span in one source file (a stack TOML file, an env file
//! or a YAML manifest), and optionally a help line (e.g. the closest valid name).
//! [`Diagnostics`] collects many, so `cairn validate` reports every problem at once.
//! Both implement [`miette::Diagnostic`], so the CLI renders source snippets; this module
//! never prints anything itself (rendering belongs to `render/`). Messages are built by
//! their callers, who must never format an exposed secret into one.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use miette::{LabeledSpan, MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

use crate::addr::ResourceAddr;
use crate::stack::{Sources, Span};

/// A span resolved against its source file, kept with the file's text so a diagnostic
/// can be rendered after the [`Sources`] it came from are gone.
#[derive(Clone, Debug)]
struct Location {
    path: PathBuf,
    /// 1-based line and column (in characters) of the span's start in the file.
    line: usize,
    column: usize,
    /// What the snippet is cut from; `range` is relative to it.
    source: Snippet,
    range: std::ops::Range<usize>,
    label: String,
}

/// Lines longer than this (in bytes) are not shown whole: the snippet becomes a window
/// of the span's line. Besides being unreadable, a label past column 65,535 made miette
/// panic (issue 11).
const LONG_LINE: usize = 1_000;

/// How much of a long line to show on each side of the span, in bytes.
const WINDOW: usize = 80;

/// The text miette renders a snippet from: the whole file, or a window of one long line,
/// numbered as the lines and columns of the file it was cut from.
#[derive(Clone, Debug)]
struct Snippet {
    name: String,
    text: Arc<str>,
    /// 0-based line and column (in characters) of `text`'s first character in the file.
    first_line: usize,
    first_column: usize,
}

impl Snippet {
    /// The snippet for `range` of `text`, and the range relative to the snippet.
    fn around(
        name: String,
        text: &Arc<str>,
        range: std::ops::Range<usize>,
    ) -> (Snippet, std::ops::Range<usize>) {
        let line_start = text[..range.start].rfind('\n').map_or(0, |i| i + 1);
        // From the line before the span's first line to the line after its last: miette
        // shows them as context.
        let context_start = text[..line_start.saturating_sub(1)]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let context_end = text[range.end..]
            .match_indices('\n')
            .nth(1)
            .map_or(text.len(), |(i, _)| range.end + i);
        let long = text[context_start..context_end]
            .split('\n')
            .any(|line| line.len() > LONG_LINE);
        if !long {
            let whole = Snippet {
                name,
                text: Arc::clone(text),
                first_line: 0,
                first_column: 0,
            };
            return (whole, range);
        }
        let line_end = text[range.start..]
            .find('\n')
            .map_or(text.len(), |i| range.start + i);
        let end = ceil_char_boundary(text, range.end.min(line_end).min(range.start + WINDOW));
        let window_start =
            floor_char_boundary(text, range.start.saturating_sub(WINDOW).max(line_start));
        let window_end = ceil_char_boundary(text, (end + WINDOW).min(line_end));
        let (first_line, first_column) = line_column(text, window_start);
        let window = Snippet {
            name,
            text: Arc::from(&text[window_start..window_end]),
            first_line: first_line - 1,
            first_column: first_column - 1,
        };
        (window, range.start - window_start..end - window_start)
    }
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

fn ceil_char_boundary(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index += 1;
    }
    index
}

impl SourceCode for Snippet {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner = self
            .text
            .read_span(span, context_lines_before, context_lines_after)?;
        // miette counts columns in bytes; cairn's diagnostics count characters.
        let offset = inner.span().offset().min(self.text.len());
        let before = self.text.get(..offset).unwrap_or_default();
        let column = match before.rfind('\n') {
            Some(newline) => before[newline + 1..].chars().count(),
            None => before.chars().count() + self.first_column,
        };
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            inner.line() + self.first_line,
            column,
            inner.line_count(),
        )))
    }
}

/// One problem with a stack.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    message: String,
    /// Boxed: diagnostics travel in `Result`s, and an address is large.
    address: Option<Box<ResourceAddr>>,
    /// Boxed so `Result<_, Diagnostic>` stays small.
    location: Option<Box<Location>>,
    help: Option<String>,
}

impl Diagnostic {
    /// A problem with no place in a file (e.g. a `--var` for an undeclared variable).
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            address: None,
            location: None,
            help: None,
        }
    }

    /// A problem at `span`, labelled `label`. If the span's file is not in `sources` the
    /// diagnostic simply has no location.
    pub fn at(
        sources: &Sources,
        span: &Span,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Self {
        Diagnostic::error(message).with_span(sources, span, label)
    }

    /// A problem about one resource, with no span (e.g. from state or a provider).
    pub fn for_resource(addr: &ResourceAddr, message: impl Into<String>) -> Self {
        Diagnostic::error(message).with_address(addr.clone())
    }

    /// Builder: attaches a labelled span.
    pub fn with_span(mut self, sources: &Sources, span: &Span, label: impl Into<String>) -> Self {
        if let Some(file) = sources.get(span.file) {
            let text = &file.text;
            let end = ceil_char_boundary(text, span.range.end.min(text.len()));
            let start = floor_char_boundary(text, span.range.start.min(end));
            let (line, column) = line_column(text, start);
            let (source, range) =
                Snippet::around(file.path.display().to_string(), text, start..end);
            self.location = Some(Box::new(Location {
                path: file.path.clone(),
                line,
                column,
                source,
                range,
                label: label.into(),
            }));
        }
        self
    }

    /// Builder: names the resource the problem is about.
    pub fn with_address(mut self, addr: ResourceAddr) -> Self {
        self.address = Some(Box::new(addr));
        self
    }

    /// Builder: adds a help line, e.g. "did you mean `aws_vpc`?".
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The message without the address prefix.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The resource the problem is about, if any.
    pub fn address(&self) -> Option<&ResourceAddr> {
        self.address.as_deref()
    }

    /// The help line (e.g. the closest valid name), if any.
    pub fn help_text(&self) -> Option<&str> {
        self.help.as_deref()
    }

    /// The file, 1-based line and 1-based column (in characters) where the problem is.
    pub fn location(&self) -> Option<(PathBuf, usize, usize)> {
        let location = self.location.as_ref()?;
        Some((location.path.clone(), location.line, location.column))
    }
}

/// 1-based line and column of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

/// The candidate closest to a misspelt `name`, if any is close enough to be a plausible
/// typo: a few edits away (Damerau-Levenshtein, so `mni` finds `min`) or sharing most of
/// a prefix (Jaro-Winkler, so `aws_vcp` finds `aws_vpc`). Case is ignored, so `spot`
/// finds `SPOT`.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let name = name.to_lowercase();
    let max_edits = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter_map(|candidate| {
            let lower = candidate.to_lowercase();
            if lower == name && candidate != name {
                return Some((f64::INFINITY, candidate));
            }
            let edits = strsim::damerau_levenshtein(&name, &lower);
            let similarity = strsim::jaro_winkler(&name, &lower);
            (lower != name && (edits <= max_edits || similarity >= 0.85)).then(|| {
                (
                    similarity + strsim::normalized_damerau_levenshtein(&name, &lower),
                    candidate,
                )
            })
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.address {
            Some(addr) => write!(f, "{addr}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.location.as_ref().map(|l| &l.source as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let location = self.location.as_ref()?;
        let span = LabeledSpan::new_primary_with_span(
            Some(location.label.clone()),
            (
                location.range.start,
                location.range.end - location.range.start,
            ),
        );
        Some(Box::new(std::iter::once(span)))
    }
}

/// Every problem found in one pass over a stack.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// No diagnostics.
    pub fn new() -> Self {
        Diagnostics::default()
    }

    /// Adds one.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    /// Adds all of `other`'s.
    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    /// Whether nothing was reported.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// How many were reported.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The diagnostics in the order they were reported.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.items.iter()
    }

    /// `Ok(value)` if nothing was reported, else `Err(self)`.
    pub fn into_result<T>(self, value: T) -> Result<T, Diagnostics> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(diagnostic: Diagnostic) -> Self {
        Diagnostics {
            items: vec![diagnostic],
        }
    }
}

impl FromIterator<Diagnostic> for Diagnostics {
    fn from_iter<I: IntoIterator<Item = Diagnostic>>(items: I) -> Self {
        Diagnostics {
            items: items.into_iter().collect(),
        }
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.items.as_slice() {
            [one] => fmt::Display::fmt(one, f),
            items => write!(f, "the stack has {} errors", items.len()),
        }
    }
}

impl std::error::Error for Diagnostics {}

/// A collection renders as its single item when it has one, otherwise as a summary line
/// with every item in `related`, so miette prints each with its own snippet.
impl miette::Diagnostic for Diagnostics {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        match self.items.as_slice() {
            [one] => miette::Diagnostic::help(one),
            _ => None,
        }
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        match self.items.as_slice() {
            [one] => miette::Diagnostic::source_code(one),
            _ => None,
        }
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        match self.items.as_slice() {
            [one] => miette::Diagnostic::labels(one),
            _ => None,
        }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.items.len() < 2 {
            return None;
        }
        Some(Box::new(
            self.items.iter().map(|d| d as &dyn miette::Diagnostic),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::FileId;

    #[test]
    fn location_is_one_based_line_and_column() {
        let mut sources = Sources::default();
        let file = sources.add(PathBuf::from("stack.toml"), "[stack]\nname = \"x\"\n");
        let span = Span {
            file,
            range: 15..18,
        };
        let diagnostic = Diagnostic::at(&sources, &span, "bad name", "here");
        assert_eq!(
            diagnostic.location(),
            Some((PathBuf::from("stack.toml"), 2, 8))
        );
        let elsewhere = Diagnostic::at(
            &sources,
            &Span {
                file: FileId(7),
                range: 0..1,
            },
            "m",
            "l",
        );
        assert_eq!(elsewhere.location(), None);
    }

    #[test]
    fn display_names_the_address_and_collections_summarise() {
        let addr = ResourceAddr::new("aws_vpc", "main");
        let one = Diagnostic::for_resource(&addr, "cannot be destroyed");
        assert_eq!(one.to_string(), "aws_vpc.main: cannot be destroyed");
        let mut all = Diagnostics::from(one);
        assert_eq!(all.to_string(), "aws_vpc.main: cannot be destroyed");
        all.push(Diagnostic::error("second"));
        assert_eq!(all.to_string(), "the stack has 2 errors");
        assert_eq!(
            miette::Diagnostic::related(&all).map(Iterator::count),
            Some(2)
        );
    }

    #[test]
    fn miette_renders_every_item_with_its_file_and_snippet() {
        let mut sources = Sources::default();
        let first = sources.add(PathBuf::from("stack.toml"), "[stack]\nname = \"x\"\n");
        let second = sources.add(PathBuf::from("env/dev.toml"), "regoin = \"eu\"\n");
        let mut all = Diagnostics::new();
        all.push(
            Diagnostic::at(
                &sources,
                &Span {
                    file: first,
                    range: 15..18,
                },
                "bad name",
                "this name",
            )
            .with_help("names are lowercase"),
        );
        all.push(Diagnostic::at(
            &sources,
            &Span {
                file: second,
                range: 0..6,
            },
            "undeclared variable",
            "not declared",
        ));
        let mut out = String::new();
        let handler =
            miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
                .with_width(200);
        if let Err(err) = handler.render_report(&mut out, &all) {
            panic!("render failed: {err}");
        }
        for expected in [
            "the stack has 2 errors",
            "[stack.toml:2:8]",
            "this name",
            "names are lowercase",
            "[env/dev.toml:1:1]",
            "not declared",
            "regoin = \"eu\"",
        ] {
            assert!(out.contains(expected), "{expected:?} missing from:\n{out}");
        }
    }

    fn render(diagnostic: &Diagnostic) -> String {
        let mut out = String::new();
        for theme in [
            miette::GraphicalTheme::unicode(),
            miette::GraphicalTheme::none(),
        ] {
            let handler = miette::GraphicalReportHandler::new_themed(theme).with_width(100);
            if let Err(err) = handler.render_report(&mut out, diagnostic) {
                panic!("render failed: {err}");
            }
        }
        out
    }

    /// Issue 11: a label past column 65,535 made miette panic. A long line is shown as a
    /// window around the span, still numbered with the file's real line and column.
    #[test]
    fn spans_on_lines_of_any_length_render_with_their_real_line_and_column() {
        let cases = [
            // The span at the start of a long line, on the line after a long one, at its
            // end, and inside multi-byte text.
            (
                format!("input = \"{}\" junk\n", "A".repeat(65_530)),
                "junk",
                1,
            ),
            (
                format!(
                    "a = 1\nb = \"{}\"\nc = \"${{var.nope}}\"\n",
                    "B".repeat(70_000)
                ),
                "${var.nope}",
                3,
            ),
            (
                format!("c = \"{}${{var.nope}}\"\n", "é".repeat(70_000)),
                "${var.nope}",
                1,
            ),
            (
                format!("c = \"${{var.nope}}{}\"\nd = 1\n", "C".repeat(70_000)),
                "${var.nope}",
                1,
            ),
        ];
        for (text, needle, line) in cases {
            let mut sources = Sources::default();
            let file = sources.add(PathBuf::from("stack.toml"), text.as_str());
            let Some(start) = text.find(needle) else {
                panic!("{needle} is in the text");
            };
            let column = text[..start]
                .rsplit('\n')
                .next()
                .map_or(0, |l| l.chars().count())
                + 1;
            let span = Span {
                file,
                range: start..start + needle.len(),
            };
            let diagnostic = Diagnostic::at(&sources, &span, "bad", "this");
            assert_eq!(
                diagnostic.location(),
                Some((PathBuf::from("stack.toml"), line, column))
            );
            let out = render(&diagnostic);
            let header = format!("[stack.toml:{line}:{column}]");
            assert!(out.contains(&header), "{header} missing from:\n{out}");
            assert!(out.contains(needle), "{needle} missing from:\n{out}");
            assert!(out.len() < 2_000, "the snippet is a window:\n{out}");
        }
    }

    #[test]
    fn short_lines_keep_their_neighbours_as_context() {
        let mut sources = Sources::default();
        let file = sources.add(PathBuf::from("stack.toml"), "a = 1\nb = 2\nc = 3\n");
        let span = Span { file, range: 6..7 };
        let out = render(&Diagnostic::at(&sources, &span, "bad", "this"));
        for expected in ["a = 1", "b = 2", "c = 3", "[stack.toml:2:1]"] {
            assert!(out.contains(expected), "{expected:?} missing from:\n{out}");
        }
    }
}
