//! [`StateError`]: why a state could not be opened, read or written. Every variant names
//! the file involved; none ever carries a secret (values are named by their attribute).

use std::io;
use std::path::PathBuf;

use super::LockInfo;

/// Why a state operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A file operation on one of the state's files failed.
    #[error("could not {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// Another process holds the state's lock.
    #[error("state {} is locked: {}", path.display(), describe_holder(holder.as_deref(), *holder_gone))]
    Locked {
        path: PathBuf,
        /// `None` if the lock file could not be read (its writer died mid-write).
        holder: Option<Box<LockInfo>>,
        /// The holder ran on this host and its process no longer exists.
        holder_gone: bool,
    },

    /// The snapshot is not valid state JSON.
    #[error("state file {} is corrupt at line {line}, column {column}: {message}", path.display())]
    CorruptSnapshot {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    /// A complete journal line is not a valid record (only a torn last line is tolerated).
    #[error("state journal {} is corrupt at line {line}: {message}", path.display())]
    CorruptJournal {
        path: PathBuf,
        line: usize,
        message: String,
    },

    /// A lock file exists but cannot be understood.
    #[error("lock file {} is corrupt: {message}", path.display())]
    CorruptLock { path: PathBuf, message: String },

    /// The file was written by a newer cairn.
    #[error(
        "{} uses state format version {found}, but this cairn reads versions up to {supported}; upgrade cairn",
        path.display()
    )]
    FutureVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },

    /// The state belongs to another stack or environment.
    #[error(
        "state {} belongs to stack `{found_stack}` env `{found_env}`, not stack `{stack}` env `{env}`",
        path.display()
    )]
    WrongStack {
        path: PathBuf,
        found_stack: String,
        found_env: String,
        stack: String,
        env: String,
    },

    /// The journal was written for a different state than the snapshot next to it.
    #[error(
        "state journal {} belongs to lineage {journal_lineage}, but the snapshot has lineage {lineage}; move one of them away",
        path.display()
    )]
    ForeignJournal {
        path: PathBuf,
        journal_lineage: String,
        lineage: String,
    },

    /// A value that must be redacted to its hash still holds the secret itself.
    #[error(
        "refusing to write a secret to state: {subject} attribute `{attribute}` is sensitive and was not redacted to its hash"
    )]
    Unredacted { subject: String, attribute: String },

    /// A resource was recorded with a value not known yet.
    #[error("refusing to record {subject}: attribute `{attribute}` is not known yet")]
    UnknownValue { subject: String, attribute: String },

    /// Serializing state failed (a value JSON cannot hold).
    #[error("could not encode state for {}", path.display())]
    Encode {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    /// The key that hashes secrets is malformed. The key itself is never shown.
    #[error("state key from {origin} is invalid: {reason}")]
    InvalidKey {
        origin: String,
        reason: &'static str,
    },
}

fn describe_holder(holder: Option<&LockInfo>, holder_gone: bool) -> String {
    let Some(info) = holder else {
        return "its lock file is unreadable (its writer may have died while creating it); \
                if no other cairn is running on this state, run `cairn force-unlock`"
            .to_owned();
    };
    let who = format!(
        "{} by {} (pid {} on {}) since {}",
        info.operation, info.owner, info.pid, info.host, info.created_at
    );
    if holder_gone {
        format!(
            "held for {who}, but that process is gone; run `cairn force-unlock` to clear the stale lock"
        )
    } else {
        format!(
            "held for {who}; wait for it to finish, or if that process is gone, run `cairn force-unlock` to clear the stale lock"
        )
    }
}

impl StateError {
    pub(crate) fn io(action: &'static str, path: &std::path::Path, source: io::Error) -> Self {
        StateError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}
