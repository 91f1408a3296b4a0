//! The state lock: a `<snapshot>.lock` file created exclusively (O_EXCL) and holding
//! [`LockInfo`], so two applies never write one state. It is released when the holder
//! closes or drops its store; [`force_unlock`] clears one left by a process that died.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{StateError, fsio};

/// Who holds a state's lock, shown when another run is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// `$USER` of the holder.
    pub owner: String,
    pub pid: u32,
    pub host: String,
    /// RFC 3339 time the lock was taken.
    pub created_at: String,
    /// The command holding it (`apply`, `destroy`, `state rm`).
    pub operation: String,
}

impl LockInfo {
    fn current(operation: &str) -> LockInfo {
        let owner = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_else(|_| "unknown".to_owned());
        // Microseconds make two locks taken by one process distinguishable, so a release
        // never removes a lock that was force-unlocked and taken again meanwhile.
        LockInfo {
            owner,
            pid: std::process::id(),
            host: this_host(),
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            operation: operation.to_owned(),
        }
    }
}

fn this_host() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// Whether process `pid` exists on this host; `None` where that cannot be told.
fn process_alive(pid: u32) -> Option<bool> {
    if cfg!(target_os = "linux") {
        Some(Path::new("/proc").join(pid.to_string()).exists())
    } else {
        None
    }
}

pub(crate) fn lock_path(snapshot: &Path) -> PathBuf {
    fsio::sibling(snapshot, "lock")
}

fn read_lock(path: &Path) -> Result<Option<LockInfo>, StateError> {
    let Some(bytes) = fsio::read_optional(path, "read lock file")? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| StateError::CorruptLock {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

/// A held lock. Dropping it releases the lock.
#[derive(Debug)]
pub(crate) struct Lock {
    path: PathBuf,
    info: LockInfo,
    held: bool,
}

impl Lock {
    /// Takes the lock of the state at `snapshot`, or fails at once naming the holder.
    pub(crate) fn acquire(snapshot: &Path, operation: &str) -> Result<Lock, StateError> {
        let path = lock_path(snapshot);
        fsio::create_dir(fsio::parent_dir(&path))?;
        let info = LockInfo::current(operation);
        let mut file =
            match fsio::owner_only(OpenOptions::new().write(true).create_new(true)).open(&path) {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(held_by_other(snapshot, &path));
                }
                Err(e) => return Err(StateError::io("create lock file", &path, e)),
            };
        // From here the lock file is ours: a failure below must remove it.
        let lock = Lock {
            path,
            info,
            held: true,
        };
        let bytes = serde_json::to_vec_pretty(&lock.info).map_err(|source| StateError::Encode {
            path: lock.path.clone(),
            source,
        })?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| StateError::io("write lock file", &lock.path, e))?;
        fsio::sync_dir(fsio::parent_dir(&lock.path))?;
        Ok(lock)
    }

    /// Releases the lock if it is still ours (a `force-unlock` may have handed it to
    /// someone else meanwhile, whose lock must survive).
    pub(crate) fn release(mut self) -> Result<(), StateError> {
        self.release_inner()
    }

    fn release_inner(&mut self) -> Result<(), StateError> {
        if !self.held {
            return Ok(());
        }
        self.held = false;
        match read_lock(&self.path) {
            Ok(Some(info)) if info != self.info => {
                tracing::warn!(
                    lock = %self.path.display(),
                    "the state lock was taken over by another run; leaving it in place"
                );
                Ok(())
            }
            Ok(None) => Ok(()),
            // Ours, or unreadable because our own write of it failed part way.
            Ok(Some(_)) | Err(StateError::CorruptLock { .. }) => {
                fsio::remove_optional(&self.path, "remove lock file")
            }
            Err(e) => Err(e),
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if let Err(error) = self.release_inner() {
            tracing::warn!(%error, "could not release the state lock");
        }
    }
}

fn held_by_other(snapshot: &Path, lock: &Path) -> StateError {
    let holder = read_lock(lock).ok().flatten().map(Box::new);
    let holder_gone = holder
        .as_ref()
        .is_some_and(|info| info.host == this_host() && process_alive(info.pid) == Some(false));
    StateError::Locked {
        path: snapshot.to_path_buf(),
        holder,
        holder_gone,
    }
}

/// Removes the lock of the state at `path`, whoever holds it, and returns what it said
/// (`None` if there was no lock, or it was unreadable).
pub fn force_unlock(path: &Path) -> Result<Option<LockInfo>, StateError> {
    let lock = lock_path(path);
    let info = match read_lock(&lock) {
        Ok(info) => info,
        Err(StateError::CorruptLock { .. }) => None,
        Err(e) => return Err(e),
    };
    fsio::remove_optional(&lock, "remove lock file")?;
    Ok(info)
}
