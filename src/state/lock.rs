//! The local state lock: a `<snapshot>.lock` file holding [`LockInfo`], owned by whoever
//! holds an exclusive `flock` on it. The kernel drops that `flock` when its holder exits,
//! however it exits (SIGKILL included), so a lock file nobody holds was provably left by
//! a process that is gone, and the next run takes it over and says so: no stale lock ever
//! needs a person. [`force_unlock`] refuses a holder that is still running unless forced.
//!
//! [`LockInfo`] is shared with the S3 lock (`backend/s3.rs`), whose lease fields it carries.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{StateError, fsio};

/// How often a run waiting for a lock (`--lock-timeout`) tries again.
pub(crate) const LOCK_RETRY: Duration = Duration::from_millis(500);

/// Who holds a state's lock, shown when another run is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// `$USER` of the holder.
    pub owner: String,
    /// The holder's process id.
    pub pid: u32,
    /// The holder's host name.
    pub host: String,
    /// RFC 3339 time the lock was taken.
    pub created_at: String,
    /// The command holding it (`apply`, `destroy`, `state rm`).
    pub operation: String,
    /// A UUID per run: two locks taken by one process are told apart by it, so a release
    /// never removes a lock that was force-unlocked and taken again meanwhile.
    #[serde(default)]
    pub run_id: String,
    /// Remote locks only: RFC 3339 time the lease ends unless renewed; after it, the next
    /// run takes the lock over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

impl LockInfo {
    pub(crate) fn current(operation: &str) -> LockInfo {
        let owner = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_else(|_| "unknown".to_owned());
        LockInfo {
            owner,
            pid: std::process::id(),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            operation: operation.to_owned(),
            run_id: uuid::Uuid::new_v4().to_string(),
            expires_at: None,
        }
    }

    /// `apply by ci (pid 42 on runner-7, run 1b2c...) since 2026-...`.
    pub fn describe(&self) -> String {
        let run = if self.run_id.is_empty() {
            String::new()
        } else {
            format!(", run {}", self.run_id)
        };
        format!(
            "{} by {} (pid {} on {}{run}) since {}",
            self.operation, self.owner, self.pid, self.host, self.created_at
        )
    }
}

/// What acquiring a lock found and did.
#[derive(Debug)]
pub(crate) struct Acquired<L> {
    pub lock: L,
    /// The lock of a run that is gone (local: its process exited; remote: its lease
    /// expired), which this run took over.
    pub taken_over: Option<LockInfo>,
}

pub(crate) fn lock_path(snapshot: &Path) -> PathBuf {
    fsio::sibling(snapshot, "lock")
}

fn read_lock(path: &Path) -> Result<Option<LockInfo>, StateError> {
    let Some(bytes) = fsio::read_optional(path, "read lock file")? else {
        return Ok(None);
    };
    parse_lock(path, &bytes)
}

/// An empty lock file is one whose writer has not written it yet (or died first).
fn parse_lock(path: &Path, bytes: &[u8]) -> Result<Option<LockInfo>, StateError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(bytes)
        .map(Some)
        .map_err(|e| StateError::CorruptLock {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

/// Whether `file` is still the file at `path`: a holder removes the lock file before it
/// lets go of the `flock`, so a waiter that opened the old file must start over.
fn still_linked(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

/// A held local lock. Dropping it releases the lock.
#[derive(Debug)]
pub(crate) struct Lock {
    path: PathBuf,
    info: LockInfo,
    /// Holds the `flock`; closing it (also by the kernel at exit) lets go of it.
    file: Option<File>,
}

impl Lock {
    /// Takes the lock of the state at `snapshot`, waiting up to `timeout` for a live
    /// holder, and takes over a lock whose holder is gone.
    pub(crate) fn acquire(
        snapshot: &Path,
        operation: &str,
        timeout: Duration,
    ) -> Result<Acquired<Lock>, StateError> {
        let path = lock_path(snapshot);
        fsio::create_dir(fsio::parent_dir(&path))?;
        let deadline = Instant::now() + timeout;
        loop {
            let mut file = fsio::owner_only(
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false),
            )
            .open(&path)
            .map_err(|e| StateError::io("open lock file", &path, e))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(StateError::Locked {
                            path: snapshot.to_path_buf(),
                            holder: read_lock(&path).ok().flatten().map(Box::new),
                            expires_at: None,
                        });
                    }
                    std::thread::sleep(LOCK_RETRY.min(deadline - now));
                    continue;
                }
                Err(TryLockError::Error(e)) => return Err(StateError::io("lock", &path, e)),
            }
            if !still_linked(&file, &path) {
                continue;
            }
            let mut previous = Vec::new();
            file.read_to_end(&mut previous)
                .map_err(|e| StateError::io("read lock file", &path, e))?;
            // Whatever a dead holder left, readable or not, is replaced.
            let taken_over = parse_lock(&path, &previous).ok().flatten();
            let info = LockInfo::current(operation);
            let bytes = serde_json::to_vec_pretty(&info).map_err(|source| StateError::Encode {
                path: path.clone(),
                source,
            })?;
            // From here the lock is ours: a failure below drops it, which releases it.
            let mut lock = Lock {
                path,
                info,
                file: Some(file),
            };
            if let Some(file) = lock.file.as_mut() {
                file.set_len(0)
                    .and_then(|()| file.seek(SeekFrom::Start(0)))
                    .and_then(|_| file.write_all(&bytes))
                    .and_then(|()| file.sync_all())
                    .map_err(|e| StateError::io("write lock file", &lock.path, e))?;
            }
            fsio::sync_dir(fsio::parent_dir(&lock.path))?;
            return Ok(Acquired { lock, taken_over });
        }
    }

    /// Releases the lock if it is still ours (a forced `force-unlock` may have handed it
    /// to someone else meanwhile, whose lock must survive).
    pub(crate) fn release(mut self) -> Result<(), StateError> {
        self.release_inner()
    }

    fn release_inner(&mut self) -> Result<(), StateError> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        let result = match read_lock(&self.path) {
            Ok(Some(info)) if info != self.info => {
                tracing::warn!(
                    lock = %self.path.display(),
                    "the state lock was taken over by another run; leaving it in place"
                );
                Ok(())
            }
            Ok(_) | Err(StateError::CorruptLock { .. }) => {
                fsio::remove_optional(&self.path, "remove lock file")
            }
            Err(e) => Err(e),
        };
        // The file is removed before the flock goes, so a waiter never takes a lock file
        // that is no longer linked (it checks, and starts over).
        drop(file);
        result
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if let Err(error) = self.release_inner() {
            tracing::warn!(%error, "could not release the state lock");
        }
    }
}

/// What `force-unlock` found and removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unlocked {
    /// The lock's holder; `None` if there was no lock or it was unreadable.
    pub holder: Option<LockInfo>,
    /// The holder was still running (its lease had not expired), and `force` was given.
    pub was_alive: bool,
}

/// Removes the lock of the local state at `path`. A holder that is still running is
/// refused unless `force`: two runs writing one state lose resources from it.
pub(crate) fn force_unlock(path: &Path, force: bool) -> Result<Option<Unlocked>, StateError> {
    let lock = lock_path(path);
    let file = match OpenOptions::new().read(true).write(true).open(&lock) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StateError::io("open lock file", &lock, e)),
    };
    let holder = read_lock(&lock).ok().flatten();
    let was_alive = match file.try_lock() {
        Ok(()) => false,
        Err(TryLockError::WouldBlock) => true,
        Err(TryLockError::Error(e)) => return Err(StateError::io("lock", &lock, e)),
    };
    if was_alive && !force {
        return Err(StateError::HolderAlive {
            path: path.to_path_buf(),
            holder: holder.map(Box::new),
        });
    }
    fsio::remove_optional(&lock, "remove lock file")?;
    Ok(Some(Unlocked { holder, was_alive }))
}
