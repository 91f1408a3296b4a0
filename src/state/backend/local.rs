//! The local backend: a snapshot file with its journal, lock, backup and key beside it
//! (`state/airflow-dev.json`, `.journal`, `.lock`, `.backup`, `.key`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::super::journal::{self, JournalWriter};
use super::super::lock::Lock;
use super::super::{LockInfo, SensitiveHasher, StateError, StateFile, fsio, key_path};

#[derive(Debug)]
pub(crate) struct Local {
    path: PathBuf,
    journal: JournalWriter,
    /// Declared last so the lock is released only after the journal file is closed.
    lock: Option<Lock>,
}

/// Only the lineage of the backup, to tell a replaced snapshot.
#[derive(Deserialize)]
struct LineageProbe {
    lineage: String,
}

impl Local {
    pub(crate) fn new(path: &Path) -> Local {
        let journal_path = fsio::sibling(path, "journal");
        Local {
            path: path.to_path_buf(),
            journal: JournalWriter::new(journal_path, &journal::Replayed::default()),
            lock: None,
        }
    }

    pub(crate) fn lock(
        &mut self,
        operation: &str,
        timeout: Duration,
    ) -> Result<Option<LockInfo>, StateError> {
        let acquired = Lock::acquire(&self.path, operation, timeout)?;
        self.lock = Some(acquired.lock);
        Ok(acquired.taken_over)
    }

    pub(crate) fn load(&mut self) -> Result<Option<StateFile>, StateError> {
        let mut loaded = journal::read_snapshot(&self.path)?;
        if let Some(state) = &loaded {
            self.check_backup_lineage(state)?;
        }
        let journal_path = fsio::sibling(&self.path, "journal");
        let replayed = journal::replay(&journal_path, &mut loaded)?;
        self.journal = JournalWriter::new(journal_path, &replayed);
        Ok(loaded)
    }

    /// A snapshot whose backup is another state was copied over from elsewhere: using it
    /// would apply one environment's state to another's resources.
    fn check_backup_lineage(&self, state: &StateFile) -> Result<(), StateError> {
        let backup = fsio::sibling(&self.path, "backup");
        let Some(bytes) = fsio::read_optional(&backup, "read state backup")? else {
            return Ok(());
        };
        match serde_json::from_slice::<LineageProbe>(&bytes) {
            Ok(probe) if probe.lineage != state.lineage => Err(StateError::ForeignLineage {
                path: self.path.clone(),
                lineage: state.lineage.clone(),
                backup,
                backup_lineage: probe.lineage,
            }),
            // An unreadable backup says nothing about the snapshot.
            _ => Ok(()),
        }
    }

    /// Local lines carry their serials; the file needs no other name for them.
    pub(crate) fn append(
        &mut self,
        state: &StateFile,
        _serial: u64,
        line: Vec<u8>,
        records: usize,
    ) -> Result<u64, StateError> {
        match self.journal.header(state)? {
            Some(mut header) => {
                header.extend_from_slice(&line);
                self.journal.append(&header, records)
            }
            None => self.journal.append(&line, records),
        }
    }

    pub(crate) fn journal_records(&self) -> usize {
        self.journal.records
    }

    pub(crate) fn snapshot(&mut self, state: &StateFile) -> Result<u64, StateError> {
        let bytes = journal::encode_snapshot(&self.path, state)?;
        fsio::replace_atomically(
            &self.path,
            &fsio::sibling(&self.path, "tmp"),
            Some(&fsio::sibling(&self.path, "backup")),
            &bytes,
        )?;
        self.journal.truncate()?;
        Ok(bytes.len() as u64)
    }

    pub(crate) fn load_key(&self) -> Result<Option<SensitiveHasher>, StateError> {
        SensitiveHasher::from_file(&key_path(&self.path))
    }

    pub(crate) fn save_key(&mut self, hasher: &SensitiveHasher) -> Result<u64, StateError> {
        let contents = hasher.key_file_contents();
        // Written aside and renamed, so a crash never leaves a half-written key that would
        // make the state unopenable.
        let temp = fsio::sibling(&self.path, "key.tmp");
        fsio::replace_atomically(&key_path(&self.path), &temp, None, contents.as_bytes())?;
        Ok(contents.len() as u64)
    }

    pub(crate) fn key_location(&self) -> String {
        key_path(&self.path).display().to_string()
    }

    pub(crate) fn release(self) -> Result<(), StateError> {
        let Local { journal, lock, .. } = self;
        drop(journal);
        match lock {
            Some(lock) => lock.release(),
            None => Ok(()),
        }
    }
}
