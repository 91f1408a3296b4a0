//! Source files of a stack and spans into them, for diagnostics with file:line:column.

use std::path::PathBuf;
use std::sync::Arc;

/// Index of a file in [`Sources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// One loaded file: a stack TOML file, an env file, or a YAML manifest.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// Path as shown to users (relative to the current directory when possible).
    pub path: PathBuf,
    pub text: Arc<str>,
}

/// All files a stack was loaded from.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    pub files: Vec<SourceFile>,
}

impl Sources {
    pub fn add(&mut self, path: PathBuf, text: impl Into<Arc<str>>) -> FileId {
        self.files.push(SourceFile {
            path,
            text: text.into(),
        });
        FileId(u32::try_from(self.files.len() - 1).unwrap_or(u32::MAX))
    }

    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }
}

/// A byte range in one source file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: FileId,
    pub range: std::ops::Range<usize>,
}
