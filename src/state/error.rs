//! [`StateError`]: why a state could not be opened, read or written. Every variant names
//! the file involved; none ever carries a secret (values are named by their attribute).

use std::io;
use std::path::PathBuf;

use super::LockInfo;

/// Why a state operation failed.
#[derive(Debug, thiserror::Error)]
#[allow(
    missing_docs,
    reason = "the fields are what each variant's doc and message name: the file, the cause"
)]
pub enum StateError {
    /// A file operation on one of the state's files failed.
    #[error("could not {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// Another run holds the state's lock (a local holder that is still running, or a
    /// remote lease that has not expired).
    #[error("state {} is locked: {}", path.display(), describe_holder(holder.as_deref(), expires_at.as_deref()))]
    Locked {
        path: PathBuf,
        /// `None` if the lock could not be read (its writer died while creating it).
        holder: Option<Box<LockInfo>>,
        /// Remote locks: when the holder's lease ends unless it renews it.
        expires_at: Option<String>,
    },

    /// `force-unlock` without `--force` on a lock whose holder still runs.
    #[error(
        "refusing to unlock {}: {}; two runs writing one state lose resources from it",
        path.display(),
        holder.as_deref().map_or_else(|| "its holder is still running".to_owned(), |h| format!("it is held for {} and that run is still alive", h.describe()))
    )]
    HolderAlive {
        path: PathBuf,
        holder: Option<Box<LockInfo>>,
    },

    /// This run's remote lock was taken over (its lease expired while the run was stalled)
    /// or could not be renewed in time, so it must not write any more.
    #[error("lost the lock on state {}: {reason}; nothing more was written", path.display())]
    LockLost { path: PathBuf, reason: String },

    /// A conditional write found the remote state changed since this run read it: another
    /// writer got there first.
    #[error("state {} was changed by another run while this one held it ({what}); nothing was overwritten", path.display())]
    Conflict { path: PathBuf, what: String },

    /// A command that works on an existing state found none.
    #[error("there is no state at {}", path.display())]
    NoState { path: PathBuf },

    /// A request to the remote state's storage failed.
    #[error("could not {action} {}", path.display())]
    Remote {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The snapshot's checksum does not match its contents: edited by hand or damaged.
    #[error(
        "state file {} does not match its checksum (edited by hand or damaged); it was not used or changed{}",
        path.display(), backup_hint(backup)
    )]
    ChecksumMismatch { path: PathBuf, backup: PathBuf },

    /// The snapshot is another state than the one kept as its backup (replaced by a copy
    /// from elsewhere).
    #[error(
        "state file {} has lineage {lineage}, but its backup {} has lineage {backup_lineage}: the file was replaced by another state; it was not used or changed. If the backup is the right state, copy it over the file",
        path.display(), backup.display()
    )]
    ForeignLineage {
        path: PathBuf,
        lineage: String,
        backup: PathBuf,
        backup_lineage: String,
    },

    /// The state holds hashes of secrets but the key that made them is not available.
    #[error(
        "state {} holds keyed hashes of sensitive values, but their key is missing: set {} to the key they were made with (64 hex digits), or restore {key_location}; without it every sensitive attribute would plan as a change",
        path.display(), super::KEY_ENV_VAR
    )]
    MissingKey { path: PathBuf, key_location: String },

    /// The key found is not the one the state's hashes were made with.
    #[error(
        "the state key from {origin} is not the key state {} was written with (the state's key check differs); set {} to the right key, or unset it to use the key stored with the state",
        path.display(), super::KEY_ENV_VAR
    )]
    WrongKey { path: PathBuf, origin: String },

    /// `state push` or `state migrate` would replace a newer or unrelated state.
    #[error("refusing to write {} over state {}: {reason}", source_name, path.display())]
    Refused {
        path: PathBuf,
        source_name: String,
        reason: String,
    },

    /// The snapshot is not valid state JSON (truncated, or damaged).
    #[error("state file {} is corrupt at line {line}, column {column}: {message}; it was not used or changed{}", path.display(), backup_hint(backup))]
    CorruptSnapshot {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
        backup: PathBuf,
    },

    /// A complete journal line is not a valid record (only a torn last line is tolerated).
    #[error("state journal {} is corrupt at line {line}: {message}", path.display())]
    CorruptJournal {
        path: PathBuf,
        line: usize,
        message: String,
    },

    /// The write of records committed together failed: each of them gets this error.
    #[error(transparent)]
    Grouped(std::sync::Arc<StateError>),

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

fn describe_holder(holder: Option<&LockInfo>, expires_at: Option<&str>) -> String {
    let Some(info) = holder else {
        return "its lock is being written or unreadable; try again, and if it stays locked, \
                run `cairn force-unlock` to see who holds it"
            .to_owned();
    };
    match expires_at {
        Some(expiry) => format!(
            "held for {}; its lease ends at {expiry} unless that run renews it, and a run that died \
             leaves it then: wait for it (--lock-timeout) or try again later",
            info.describe()
        ),
        None => format!(
            "held for {}, which is still running; wait for it (--lock-timeout=DURATION), or if it \
             hangs, stop it (a lock whose process is gone is taken over by the next run)",
            info.describe()
        ),
    }
}

/// Where to look for the previous snapshot, as the end of an error message.
fn backup_hint(backup: &std::path::Path) -> String {
    format!(
        "; the previous snapshot is kept at {}: check it and, if it is right, copy it over the state",
        backup.display()
    )
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
