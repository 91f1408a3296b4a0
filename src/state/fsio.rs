//! Durable file primitives for the state files: owner-only files, fsync of data and of the
//! directory entry, and the write-to-temp-then-rename that makes a snapshot atomic. What
//! to write and when is left to the store and the journal.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::StateError;

/// `state/airflow-dev.json` + `journal` -> `state/airflow-dev.json.journal`.
pub(crate) fn sibling(snapshot: &Path, extension: &str) -> PathBuf {
    let mut name = OsString::from(snapshot.as_os_str());
    name.push(".");
    name.push(extension);
    PathBuf::from(name)
}

/// Options that create files readable by their owner only: state files hold identifiers
/// and hashes, and the key file must never be readable by others.
pub(crate) fn owner_only(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Makes a rename or a newly created file in `dir` survive a power loss.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StateError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| StateError::io("sync directory", dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The directory holding `path`, `.` for a bare file name.
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

pub(crate) fn create_dir(dir: &Path) -> Result<(), StateError> {
    fs::create_dir_all(dir).map_err(|e| StateError::io("create state directory", dir, e))
}

/// Reads a whole file; `None` if it does not exist.
pub(crate) fn read_optional(
    path: &Path,
    action: &'static str,
) -> Result<Option<Vec<u8>>, StateError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StateError::io(action, path, e)),
    }
}

/// Removes a file; a file already gone is not an error.
pub(crate) fn remove_optional(path: &Path, action: &'static str) -> Result<(), StateError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StateError::io(action, path, e)),
    }
}

/// Replaces `target` with `bytes` atomically: a reader (or a crash) sees the old file (or
/// none) or the new one, never a mix. The old file, if any, is kept as `backup` if given.
pub(crate) fn replace_atomically(
    target: &Path,
    temp: &Path,
    backup: Option<&Path>,
    bytes: &[u8],
) -> Result<(), StateError> {
    // A temp file left by a crash is removed rather than reused, so the new one is
    // created with owner-only permissions whatever the old one had.
    remove_optional(temp, "remove stale temporary file")?;
    let mut file = owner_only(OpenOptions::new().write(true).create_new(true))
        .open(temp)
        .map_err(|e| StateError::io("create", temp, e))?;
    file.write_all(bytes)
        .map_err(|e| StateError::io("write", temp, e))?;
    file.sync_all()
        .map_err(|e| StateError::io("sync", temp, e))?;
    drop(file);

    // A hard link keeps the old snapshot as the backup without ever leaving a moment when
    // `target` is missing, which a rename to the backup would.
    if let Some(backup) = backup {
        // A backup left by an earlier state of this name (deleted since) would look like
        // this state's past and be taken for a replaced snapshot.
        remove_optional(backup, "remove old backup")?;
        if target.exists() && fs::hard_link(target, backup).is_err() {
            fs::copy(target, backup).map_err(|e| StateError::io("back up", target, e))?;
        }
    }
    fs::rename(temp, target).map_err(|e| StateError::io("rename into place", target, e))?;
    sync_dir(parent_dir(target))
}
