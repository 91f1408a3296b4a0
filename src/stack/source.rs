//! Source files of a stack and spans into them, for diagnostics with file:line:column.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Index of a file in [`Sources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// One loaded file: a stack TOML file, an env file, or a YAML manifest.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// Path as shown to users (relative to the current directory when possible).
    pub path: PathBuf,
    /// The file's contents.
    pub text: Arc<str>,
}

/// All files a stack was loaded from.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    /// In the order they were read; a [`FileId`] indexes them.
    pub files: Vec<SourceFile>,
}

impl Sources {
    /// Adds a file and returns its id.
    pub fn add(&mut self, path: PathBuf, text: impl Into<Arc<str>>) -> FileId {
        self.files.push(SourceFile {
            path,
            text: text.into(),
        });
        FileId(u32::try_from(self.files.len() - 1).unwrap_or(u32::MAX))
    }

    /// The file `id` names.
    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }
}

/// A byte range in one source file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    /// The file.
    pub file: FileId,
    /// Byte offsets into its text.
    pub range: std::ops::Range<usize>,
}

/// Reads a stack, env or manifest file as text. Unlike `fs::read_to_string`, a file that
/// is not UTF-8 (binary junk, a Latin-1 file) is an error naming the first bad byte and
/// its offset, so the message can point into the file.
pub fn read_text(path: &Path) -> std::io::Result<String> {
    String::from_utf8(std::fs::read(path)?).map_err(|err| {
        let offset = err.utf8_error().valid_up_to();
        let byte = err.as_bytes().get(offset).copied().unwrap_or_default();
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8 text: byte 0x{byte:02X} at byte offset {offset} is not valid UTF-8"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_utf8_files_are_errors_naming_the_byte_offset() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("stack.toml");
        std::fs::write(&path, b"[stack]\nname = \"caf\xE9\"\n").expect("write");
        let err = read_text(&path).map_err(|e| e.to_string());
        assert_eq!(
            err,
            Err("not UTF-8 text: byte 0xE9 at byte offset 19 is not valid UTF-8".to_owned())
        );
        std::fs::write(&path, "name = \"café\"").expect("write");
        assert_eq!(read_text(&path).ok().as_deref(), Some("name = \"café\""));
    }
}
