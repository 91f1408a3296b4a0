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

use miette::{LabeledSpan, NamedSource, SourceCode};

use crate::addr::ResourceAddr;
use crate::stack::{Sources, Span};

/// A span resolved against its source file, kept with the file's text so a diagnostic
/// can be rendered after the [`Sources`] it came from are gone.
#[derive(Clone, Debug)]
struct Location {
    path: PathBuf,
    source: NamedSource<Arc<str>>,
    range: std::ops::Range<usize>,
    label: String,
}

/// One problem with a stack.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    message: String,
    address: Option<ResourceAddr>,
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
            let end = span.range.end.min(file.text.len());
            let start = span.range.start.min(end);
            self.location = Some(Box::new(Location {
                path: file.path.clone(),
                source: NamedSource::new(file.path.display().to_string(), Arc::clone(&file.text)),
                range: start..end,
                label: label.into(),
            }));
        }
        self
    }

    /// Builder: names the resource the problem is about.
    pub fn with_address(mut self, addr: ResourceAddr) -> Self {
        self.address = Some(addr);
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

    pub fn address(&self) -> Option<&ResourceAddr> {
        self.address.as_ref()
    }

    pub fn help_text(&self) -> Option<&str> {
        self.help.as_deref()
    }

    /// The file, 1-based line and 1-based column (in characters) where the problem is.
    pub fn location(&self) -> Option<(PathBuf, usize, usize)> {
        let location = self.location.as_ref()?;
        let (line, column) = line_column(location.source.inner(), location.range.start);
        Some((location.path.clone(), line, column))
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
    pub fn new() -> Self {
        Diagnostics::default()
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

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
}
