//! Tests of the state files: crash recovery, locking, redaction and write cost.
