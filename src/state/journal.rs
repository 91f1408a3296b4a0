//! The on-disk formats: loading the snapshot, and the journal of operations completed since
//! it (a header line naming the state, then one JSON record per line, each fsynced).
//!
//! Replay is the only place that interprets records, and it shares [`apply`] with the
//! store, so what a crash leaves behind replays to exactly what the crashed process held in
//! memory. When to append and when to snapshot is the store's business.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use cairn_provider_core::Value;
use serde::{Deserialize, Serialize};

use super::{FORMAT_VERSION, Intent, ResourceState, StateError, StateFile, fsio};
use crate::addr::ResourceAddr;

/// One completed operation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Change {
    Intent {
        address: ResourceAddr,
        intent: Intent,
    },
    Resource {
        resource: ResourceState,
    },
    Remove {
        address: ResourceAddr,
    },
    ClearIntent {
        address: ResourceAddr,
    },
    /// A resource now recorded under another address (`moved`, `cairn state mv`): one
    /// record, so a crash never leaves it under both addresses or neither.
    Move {
        from: ResourceAddr,
        to: ResourceAddr,
    },
    Outputs {
        outputs: BTreeMap<String, Value>,
    },
}

/// A parsed journal line: the header is line 1, records follow.
enum Entry {
    Header(Header),
    Record(Record),
}

/// A journal line after the header.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    serial: u64,
    #[serde(flatten)]
    change: Change,
}

/// The journal's first line: which state its records belong to, so a journal is never
/// replayed onto another state, and so a journal written before the first snapshot is
/// enough to rebuild the state.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    version: u32,
    lineage: String,
    stack: String,
    env: String,
    /// The state's key check (see [`StateFile::key_check`]), so a state that exists only
    /// as a journal still refuses a wrong key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_check: Option<String>,
}

/// Applies one change to a state. Shared by writes and replay.
pub(crate) fn apply(state: &mut StateFile, change: Change) {
    match change {
        Change::Intent { address, intent } => {
            state.pending.insert(address, intent);
        }
        Change::Resource { resource } => {
            state.pending.remove(&resource.addr);
            state.resources.insert(resource.addr.clone(), resource);
        }
        Change::Remove { address } => {
            state.resources.remove(&address);
            state.pending.remove(&address);
        }
        Change::ClearIntent { address } => {
            state.pending.remove(&address);
        }
        Change::Move { from, to } => {
            if let Some(mut resource) = state.resources.remove(&from) {
                resource.addr = to.clone();
                state.resources.insert(to.clone(), resource);
                for other in state.resources.values_mut() {
                    for dependency in &mut other.dependencies {
                        if *dependency == from {
                            *dependency = to.clone();
                        }
                    }
                }
            }
        }
        Change::Outputs { outputs } => state.outputs = outputs,
    }
}

/// The version and checksum, read before the full parse so a newer format gets a clear
/// error rather than whatever field it renamed.
#[derive(Deserialize)]
struct SnapshotProbe {
    version: u32,
    #[serde(default)]
    checksum: Option<String>,
}

fn check_version(path: &Path, version: u32) -> Result<(), StateError> {
    if version > FORMAT_VERSION {
        return Err(StateError::FutureVersion {
            path: path.to_path_buf(),
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    Ok(())
}

const CHECKSUM_PREFIX: &str = "sha256:";

/// The snapshot as written: a checksum first, then the state's fields.
#[derive(Serialize)]
struct SnapshotOut<'a> {
    checksum: String,
    #[serde(flatten)]
    state: &'a StateFile,
}

/// The checksum's value while the file is hashed: the checksum covers every byte of the
/// file but its own digits.
fn placeholder() -> String {
    format!("{CHECKSUM_PREFIX}{}", "0".repeat(64))
}

fn digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!(
        "{CHECKSUM_PREFIX}{}",
        hex::encode(sha2::Sha256::digest(bytes))
    )
}

/// The bytes of a snapshot of `state`, with its checksum.
pub(crate) fn encode_snapshot(path: &Path, state: &StateFile) -> Result<Vec<u8>, StateError> {
    let mut bytes = serde_json::to_vec_pretty(&SnapshotOut {
        checksum: placeholder(),
        state,
    })
    .map_err(|source| StateError::Encode {
        path: path.to_path_buf(),
        source,
    })?;
    bytes.push(b'\n');
    let sum = digest(&bytes);
    if let Some(at) = find(&bytes, placeholder().as_bytes()) {
        bytes[at..at + sum.len()].copy_from_slice(sum.as_bytes());
    }
    Ok(bytes)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Whether `bytes` match the checksum they carry (a snapshot written before checksums
/// carries none and is taken as it is).
fn checksum_matches(bytes: &[u8], checksum: Option<&str>) -> bool {
    let Some(checksum) = checksum else {
        return true;
    };
    let quoted = format!("\"{checksum}\"");
    let Some(at) = find(bytes, quoted.as_bytes()) else {
        return false;
    };
    let mut blanked = bytes.to_vec();
    let placeholder = format!("\"{}\"", placeholder());
    if placeholder.len() != quoted.len() {
        return false;
    }
    blanked[at..at + quoted.len()].copy_from_slice(placeholder.as_bytes());
    digest(&blanked) == checksum
}

/// Loads the snapshot at `path`; `None` if there is none.
pub(crate) fn read_snapshot(path: &Path) -> Result<Option<StateFile>, StateError> {
    let Some(bytes) = fsio::read_optional(path, "read state file")? else {
        return Ok(None);
    };
    parse_snapshot(path, &fsio::sibling(path, "backup"), &bytes, true).map(Some)
}

/// Parses snapshot bytes read from `path`. With `verify`, a snapshot whose checksum does
/// not match is refused; `state push` passes `false` for a file a person edited on purpose.
pub(crate) fn parse_snapshot(
    path: &Path,
    backup: &Path,
    bytes: &[u8],
    verify: bool,
) -> Result<StateFile, StateError> {
    let corrupt = |e: serde_json::Error| StateError::CorruptSnapshot {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
        backup: backup.to_path_buf(),
    };
    let probe: SnapshotProbe = serde_json::from_slice(bytes).map_err(corrupt)?;
    check_version(path, probe.version)?;
    let state = serde_json::from_slice(bytes).map_err(corrupt)?;
    if verify && !checksum_matches(bytes, probe.checksum.as_deref()) {
        return Err(StateError::ChecksumMismatch {
            path: path.to_path_buf(),
            backup: backup.to_path_buf(),
        });
    }
    Ok(state)
}

/// One remote journal segment: a single record line, whole (an object store write is
/// atomic, so a segment is never torn).
#[cfg(feature = "aws")]
pub(crate) fn encode_record(
    path: &Path,
    serial: u64,
    change: Change,
) -> Result<(Vec<u8>, Change), StateError> {
    let record = Record { serial, change };
    let mut line = serde_json::to_vec(&record).map_err(|source| StateError::Encode {
        path: path.to_path_buf(),
        source,
    })?;
    line.push(b'\n');
    Ok((line, record.change))
}

/// Applies remote journal segments, in serial order, on top of `state`. Segments already
/// folded into the snapshot are skipped; the rest must follow each other without a gap.
/// `Err(None)` means a gap: the segments were compacted while they were being listed, and
/// the caller reads again.
#[cfg(feature = "aws")]
pub(crate) fn replay_segments(
    path: &Path,
    state: &mut StateFile,
    segments: &[(u64, Vec<u8>)],
) -> Result<usize, Option<StateError>> {
    let mut applied = 0;
    for (name_serial, bytes) in segments {
        if *name_serial <= state.serial {
            continue;
        }
        if *name_serial != state.serial + 1 {
            return Err(None);
        }
        let record: Record = serde_json::from_slice(bytes).map_err(|e| {
            Some(StateError::CorruptJournal {
                path: path.to_path_buf(),
                line: usize::try_from(*name_serial).unwrap_or(usize::MAX),
                message: e.to_string(),
            })
        })?;
        if record.serial != *name_serial {
            return Err(Some(StateError::CorruptJournal {
                path: path.to_path_buf(),
                line: usize::try_from(*name_serial).unwrap_or(usize::MAX),
                message: format!("segment {name_serial} holds record {}", record.serial),
            }));
        }
        apply(state, record.change);
        state.serial = record.serial;
        applied += 1;
    }
    Ok(applied)
}

/// What replay found in the journal, for the store that appends to it next.
#[derive(Debug, Default)]
pub(crate) struct Replayed {
    /// Records applied (newer than the snapshot).
    pub records: usize,
    /// Length of the journal up to its last complete line.
    pub valid_len: u64,
    /// The journal ends in an incomplete line that must be cut before appending.
    pub torn: bool,
}

/// Replays the journal at `path` on top of `state` (the snapshot, or `None`). Records whose
/// serial is not above the snapshot's were already folded into it and are skipped; an
/// incomplete last line is a write the crash interrupted and is ignored.
pub(crate) fn replay(path: &Path, state: &mut Option<StateFile>) -> Result<Replayed, StateError> {
    let Some(bytes) = fsio::read_optional(path, "read state journal")? else {
        return Ok(Replayed::default());
    };
    let complete_len = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut replayed = Replayed {
        records: 0,
        valid_len: complete_len as u64,
        torn: complete_len < bytes.len(),
    };
    // Complete lines with the offset each starts at, so a bad last line can be cut off.
    let mut lines = Vec::new();
    let mut offset = 0;
    for line in bytes[..complete_len].split_inclusive(|&b| b == b'\n') {
        lines.push((offset, line));
        offset += line.len();
    }
    let last = lines.len();
    // The last line is the one write whose fsync may not have finished: if the crash left
    // it complete but garbled (a page of zeros), it is torn like an unterminated one. Any
    // earlier bad line was acknowledged as durable, so it is corruption.
    let mut target: Option<&mut StateFile> = None;
    let mut snapshot_serial = 0;
    for (index, &(start, line)) in lines.iter().enumerate() {
        let number = index + 1;
        let parsed = if number == 1 {
            serde_json::from_slice(line).map(Entry::Header)
        } else {
            serde_json::from_slice(line).map(Entry::Record)
        };
        match parsed {
            Err(_) if number == last => {
                tracing::warn!(
                    journal = %path.display(),
                    line = number,
                    "ignoring an incomplete last journal record left by an interrupted write"
                );
                replayed.valid_len = start as u64;
                replayed.torn = true;
            }
            Err(e) => {
                return Err(StateError::CorruptJournal {
                    path: path.to_path_buf(),
                    line: number,
                    message: e.to_string(),
                });
            }
            Ok(Entry::Header(header)) => {
                check_version(path, header.version)?;
                let state = match state {
                    Some(existing) if existing.lineage != header.lineage => {
                        return Err(StateError::ForeignJournal {
                            path: path.to_path_buf(),
                            journal_lineage: header.lineage,
                            lineage: existing.lineage.clone(),
                        });
                    }
                    Some(existing) => existing,
                    None => state.insert(StateFile {
                        lineage: header.lineage,
                        key_check: header.key_check.clone(),
                        ..StateFile::new(&header.stack, &header.env)
                    }),
                };
                if state.key_check.is_none() {
                    state.key_check = header.key_check;
                }
                snapshot_serial = state.serial;
                target = Some(state);
            }
            Ok(Entry::Record(record)) => {
                // Records were folded into the snapshot if their serial is not above its own.
                let Some(state) = target.as_deref_mut() else {
                    continue;
                };
                if record.serial <= snapshot_serial {
                    continue;
                }
                apply(state, record.change);
                state.serial = state.serial.max(record.serial);
                replayed.records += 1;
            }
        }
    }
    Ok(replayed)
}

/// The journal as the store appends to it.
#[derive(Debug)]
pub(crate) struct JournalWriter {
    path: PathBuf,
    file: Option<File>,
    /// Length up to the last complete line; everything past it is cut before appending.
    valid_len: u64,
    torn: bool,
    /// Records in the file not yet folded into a snapshot.
    pub records: usize,
}

impl JournalWriter {
    pub(crate) fn new(path: PathBuf, replayed: &Replayed) -> JournalWriter {
        JournalWriter {
            path,
            file: None,
            valid_len: replayed.valid_len,
            torn: replayed.torn,
            records: replayed.records,
        }
    }

    /// Serializes one record (and the header, if the journal is empty). Fails, without
    /// touching the file, on a value JSON cannot hold.
    pub(crate) fn encode(
        &self,
        state: &StateFile,
        serial: u64,
        change: Change,
    ) -> Result<(Vec<u8>, Change), StateError> {
        let encode_err = |source| StateError::Encode {
            path: self.path.clone(),
            source,
        };
        let mut line = Vec::new();
        if self.valid_len == 0 {
            let header = Header {
                version: FORMAT_VERSION,
                lineage: state.lineage.clone(),
                stack: state.stack.clone(),
                env: state.env.clone(),
                key_check: state.key_check.clone(),
            };
            serde_json::to_writer(&mut line, &header).map_err(encode_err)?;
            line.push(b'\n');
        }
        let record = Record { serial, change };
        serde_json::to_writer(&mut line, &record).map_err(encode_err)?;
        line.push(b'\n');
        Ok((line, record.change))
    }

    /// Appends encoded lines and fsyncs them. Returns the bytes written.
    pub(crate) fn append(&mut self, bytes: &[u8]) -> Result<u64, StateError> {
        let path = self.path.clone();
        let created = self.file.is_none() && !path.exists();
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let opened = fsio::owner_only(OpenOptions::new().append(true).create(true))
                    .open(&path)
                    .map_err(|e| StateError::io("open state journal", &path, e))?;
                self.file.insert(opened)
            }
        };
        if self.torn {
            file.set_len(self.valid_len)
                .map_err(|e| StateError::io("cut the torn end of state journal", &path, e))?;
            self.torn = false;
        }
        // Until the fsync succeeds the line may be partial; the next append cuts it.
        self.torn = true;
        file.write_all(bytes)
            .map_err(|e| StateError::io("append to state journal", &path, e))?;
        file.sync_data()
            .map_err(|e| StateError::io("sync state journal", &path, e))?;
        self.torn = false;
        if created {
            fsio::sync_dir(fsio::parent_dir(&path))?;
        }
        self.valid_len += bytes.len() as u64;
        self.records += 1;
        Ok(bytes.len() as u64)
    }

    /// Deletes the journal once a snapshot holds everything in it. A crash before the
    /// delete is harmless: replay skips records the snapshot already holds.
    pub(crate) fn truncate(&mut self) -> Result<(), StateError> {
        self.file = None;
        fsio::remove_optional(&self.path, "remove state journal")?;
        self.valid_len = 0;
        self.torn = false;
        self.records = 0;
        Ok(())
    }
}
