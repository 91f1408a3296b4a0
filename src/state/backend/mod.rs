//! Where a state lives and how its files are written: the seam between [`StateStore`]
//! (what to record, when to snapshot, secrets) and storage.
//!
//! [`Location`] names a state (a local snapshot path, or an S3 bucket and key); a
//! [`Backend`] is an open connection to one, which loads the snapshot plus the journal,
//! appends journal records, writes snapshots, holds the lock and keeps the key. Both
//! backends keep the same shape: every record is durable before it is acknowledged (records
//! completed together share one write), and a snapshot folds the journal in once it has
//! grown as large as the state.
//!
//! [`StateStore`]: super::StateStore

mod local;
#[cfg(feature = "aws")]
mod s3;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::lock::Unlocked;
use super::{LockInfo, SensitiveHasher, StateError, StateFile};

pub(crate) use local::Local;
#[cfg(feature = "aws")]
pub use s3::S3Location;

/// Where one state lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A snapshot file; its journal, lock, backup and key are files beside it.
    Local(PathBuf),
    /// An object in S3; its journal segments, lock, backup and key are objects beside it.
    #[cfg(feature = "aws")]
    S3(S3Location),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local(path) => write!(f, "{}", path.display()),
            #[cfg(feature = "aws")]
            Location::S3(s3) => write!(f, "{s3}"),
        }
    }
}

impl Location {
    /// The location as errors name it.
    pub(crate) fn label(&self) -> PathBuf {
        match self {
            Location::Local(path) => path.clone(),
            #[cfg(feature = "aws")]
            Location::S3(s3) => PathBuf::from(s3.to_string()),
        }
    }
}

/// An open connection to a state's storage.
#[derive(Debug)]
pub(crate) enum Backend {
    Local(Box<Local>),
    #[cfg(feature = "aws")]
    S3(Box<s3::S3Backend>),
}

/// Dispatches to the backend in use.
macro_rules! each {
    ($self:expr, $b:ident => $body:expr) => {
        match $self {
            Backend::Local($b) => $body,
            #[cfg(feature = "aws")]
            Backend::S3($b) => $body,
        }
    };
}

impl Backend {
    /// Connects to `location`. Nothing is read, written or locked yet.
    pub(crate) fn connect(location: &Location) -> Result<Backend, StateError> {
        Ok(match location {
            Location::Local(path) => Backend::Local(Box::new(Local::new(path))),
            #[cfg(feature = "aws")]
            Location::S3(s3) => Backend::S3(Box::new(s3::S3Backend::connect(s3)?)),
        })
    }

    /// Takes the lock, waiting up to `timeout` for a live holder. Returns the lock of a
    /// run that is gone, if this run took it over.
    pub(crate) fn lock(
        &mut self,
        operation: &str,
        timeout: Duration,
    ) -> Result<Option<LockInfo>, StateError> {
        each!(self, b => b.lock(operation, timeout))
    }

    /// Loads the snapshot and replays the journal; `None` if nothing was written yet.
    pub(crate) fn load(&mut self) -> Result<Option<StateFile>, StateError> {
        each!(self, b => b.load())
    }

    /// Makes one encoded journal line holding `records` records durable with one write
    /// (one fsync, one object). `state` is the state before them (a new journal names it
    /// in its header) and `serial` the write's serial. Returns the bytes written.
    pub(crate) fn append(
        &mut self,
        state: &StateFile,
        serial: u64,
        line: Vec<u8>,
        records: usize,
    ) -> Result<u64, StateError> {
        each!(self, b => b.append(state, serial, line, records))
    }

    /// Records appended since the last snapshot.
    pub(crate) fn journal_records(&self) -> usize {
        each!(self, b => b.journal_records())
    }

    /// Writes `state` as the snapshot (keeping the previous one as the backup) and drops
    /// the journal it folds in. Returns the bytes written.
    pub(crate) fn snapshot(&mut self, state: &StateFile) -> Result<u64, StateError> {
        each!(self, b => b.snapshot(state))
    }

    /// The key stored with the state, if any.
    pub(crate) fn load_key(&self) -> Result<Option<SensitiveHasher>, StateError> {
        each!(self, b => b.load_key())
    }

    /// Stores a key this run generated, before anything hashed with it is written.
    pub(crate) fn save_key(&mut self, hasher: &SensitiveHasher) -> Result<u64, StateError> {
        each!(self, b => b.save_key(hasher))
    }

    /// Where the stored key is, for messages.
    pub(crate) fn key_location(&self) -> String {
        each!(self, b => b.key_location())
    }

    /// Releases the lock, if held and still ours.
    pub(crate) fn release(self) -> Result<(), StateError> {
        each!(self, b => b.release())
    }
}

/// Removes the lock on the state at `location`; a live holder is refused unless `force`.
/// `None` if it was not locked.
pub fn force_unlock(location: &Location, force: bool) -> Result<Option<Unlocked>, StateError> {
    match location {
        Location::Local(path) => super::lock::force_unlock(path, force),
        #[cfg(feature = "aws")]
        Location::S3(s3) => s3::S3Backend::connect(s3)?.force_unlock(force),
    }
}
