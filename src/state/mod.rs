//! State: what cairn recorded about the resources it manages, one state per stack and
//! environment, in local files or in S3 (`backend/`).
//!
//! This module owns the state's files (or objects): the snapshot `<stack>-<env>.json`,
//! the journal of operations completed since that snapshot (`.journal`), the lock
//! (`.lock`), the previous snapshot (`.backup`) and the key that hashes secrets (`.key`,
//! or `.hmac-key` in S3). A snapshot carries a checksum of its own bytes, and one whose
//! checksum, format or lineage is wrong is refused, never overwritten.
//! It guarantees that an apply killed at any instant leaves a state that opens and a
//! journal that finishes the story, including the creates that were started but not
//! recorded (pending intents), and that no secret reaches any of these files: only keyed
//! hashes do ([`SensitiveHasher`]). Deciding what to create, update or adopt is left to
//! `plan/` and `apply/`; printing state is left to `render/`.
//!
//! # Overview
//! - [`StateStore::open`] takes the lock and loads the snapshot plus the journal; each
//!   `record_*` call appends one durable journal record (`stage_*` then
//!   [`StateStore::commit`] let records completed together share one write and one
//!   fsync), and a full snapshot is taken only once the journal has as many records as
//!   the state has resources (at least 64), so checkpointing an apply costs time linear
//!   in its size.
//! - [`read`] and [`read_at`] load the same view without the lock or the key, for `show`,
//!   `output` and `state list`; [`StateView`] adds the key, for `plan`.
//! - [`force_unlock`] removes a lock; a holder that is still running only when forced
//!   (a holder that is gone loses its lock to the next run without it).
//! - [`Location`] says where a state lives: a local file, or an S3 object (`backend/`).

mod backend;
mod error;
mod fsio;
mod journal;
mod lock;
mod redact;
mod store;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cairn_provider_core::{Attrs, Value};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::addr::ResourceAddr;

#[cfg(feature = "aws")]
pub use backend::S3Location;
pub use backend::{Location, force_unlock};
pub use error::StateError;
pub use lock::{LockInfo, Unlocked};
pub use redact::SensitiveHasher;
pub use store::{LockOptions, Staged, StateStore, StateView, WriteStats};

/// The snapshot format this cairn writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

/// Environment variable holding the state key as 64 hex digits, for pipelines that share a
/// state across machines. When set, no key file is read or written.
pub const KEY_ENV_VAR: &str = "CAIRN_STATE_KEY";

/// Extension appended to the snapshot's file name to name its key file.
pub const KEY_FILE_EXTENSION: &str = "key";

/// Where the key that hashes the secrets of the state at `snapshot` lives when
/// [`KEY_ENV_VAR`] is unset: `state/airflow-dev.json.key` next to `state/airflow-dev.json`.
pub fn key_path(snapshot: &Path) -> PathBuf {
    fsio::sibling(snapshot, KEY_FILE_EXTENSION)
}

/// The whole recorded state of one stack in one environment, as stored in the snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateFile {
    /// Format version; see [`FORMAT_VERSION`].
    pub version: u32,
    /// A UUID set when the state is first written. A saved plan records it so it is never
    /// applied to a different state that happens to have the same file name.
    pub lineage: String,
    /// Rises on every write (every journal write, whatever number of records it holds,
    /// and every snapshot).
    pub serial: u64,
    /// The stack this state belongs to.
    pub stack: String,
    /// The environment this state belongs to.
    pub env: String,
    /// Stored as a list of resources ordered by address.
    #[serde(serialize_with = "resource_list", deserialize_with = "resource_map")]
    pub resources: BTreeMap<ResourceAddr, ResourceState>,
    /// Stack outputs, with secrets redacted to hashes.
    pub outputs: BTreeMap<String, Value>,
    /// Creates that were started but not recorded as finished: a re-run asks the provider
    /// to find these objects and adopts them instead of creating duplicates.
    pub pending: BTreeMap<ResourceAddr, Intent>,
    /// The keyed hash of a fixed text with this state's key, so a wrong key is an error
    /// at open rather than a plan where every secret changed. Not a secret: it tells
    /// nothing about the key but whether a candidate is it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_check: Option<String>,
}

impl StateFile {
    /// An empty state for `stack` in `env`, with a fresh lineage.
    pub fn new(stack: &str, env: &str) -> StateFile {
        StateFile {
            version: FORMAT_VERSION,
            lineage: uuid::Uuid::new_v4().to_string(),
            serial: 0,
            stack: stack.to_owned(),
            env: env.to_owned(),
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
            pending: BTreeMap::new(),
            key_check: None,
        }
    }

    /// True if any recorded value is a secret's hash, i.e. the state needs its key.
    pub fn holds_hashes(&self) -> bool {
        let has_hash = |v: &Value| v.contains_sensitive();
        self.resources
            .values()
            .any(|r| r.attrs.0.values().any(has_hash))
            || self.outputs.values().any(has_hash)
            || self
                .pending
                .values()
                .any(|i| i.config.0.values().any(has_hash))
    }
}

/// What state keeps of one resource.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceState {
    /// Its address.
    pub addr: ResourceAddr,
    /// The provider that manages it (`aws`, `kubernetes`).
    pub provider: String,
    /// Configuration merged with what the provider computed; every secret is a
    /// [`Value::SensitiveHash`], never a [`Value::Sensitive`].
    pub attrs: Attrs,
    /// What it depended on when recorded, so `destroy` can order deletes even when the
    /// configuration that declared the dependency is gone.
    pub dependencies: Vec<ResourceAddr>,
    /// Keyed hashes of the configured attributes that hold secrets, evaluated with every
    /// secret replaced by its hash (see `plan::fingerprint`). A plan without the secrets'
    /// plaintext (`--refresh=false`, a provider not configurable yet) still tells that a
    /// value derived from unchanged secrets, a connection URI say, is unchanged.
    pub fingerprints: BTreeMap<String, String>,
}

/// The serde form of [`ResourceState`]: the address and type are spelled out so the file
/// reads like a list of resources, as Terraform's does.
#[derive(Serialize)]
struct ResourceRepr<'a> {
    address: &'a ResourceAddr,
    #[serde(rename = "type")]
    type_name: &'a str,
    provider: &'a str,
    attributes: &'a Attrs,
    dependencies: &'a [ResourceAddr],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    fingerprints: &'a BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct OwnedResourceRepr {
    address: ResourceAddr,
    #[serde(rename = "type")]
    type_name: String,
    provider: String,
    attributes: Attrs,
    #[serde(default)]
    dependencies: Vec<ResourceAddr>,
    #[serde(default)]
    fingerprints: BTreeMap<String, String>,
}

impl Serialize for ResourceState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ResourceRepr {
            address: &self.addr,
            type_name: &self.addr.type_name,
            provider: &self.provider,
            attributes: &self.attrs,
            dependencies: &self.dependencies,
            fingerprints: &self.fingerprints,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ResourceState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let repr = OwnedResourceRepr::deserialize(deserializer)?;
        if repr.type_name != repr.address.type_name {
            return Err(serde::de::Error::custom(format!(
                "resource {} has type `{}`, which does not match its address",
                repr.address, repr.type_name
            )));
        }
        Ok(ResourceState {
            addr: repr.address,
            provider: repr.provider,
            attrs: repr.attributes,
            dependencies: repr.dependencies,
            fingerprints: repr.fingerprints,
        })
    }
}

fn resource_list<S: Serializer>(
    resources: &BTreeMap<ResourceAddr, ResourceState>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(resources.values())
}

fn resource_map<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<ResourceAddr, ResourceState>, D::Error> {
    let list = Vec::<ResourceState>::deserialize(deserializer)?;
    let mut map = BTreeMap::new();
    for resource in list {
        let addr = resource.addr.clone();
        if map.insert(addr.clone(), resource).is_some() {
            return Err(serde::de::Error::custom(format!(
                "resource {addr} is listed twice"
            )));
        }
    }
    Ok(map)
}

/// A create that was started: journaled (and fsynced) before the provider is called, so a
/// re-run can find the object with `ResourceClient::find` and adopt it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    /// `create` (the only operation that can orphan an object).
    pub operation: String,
    /// The desired attributes the create is called with, secrets redacted.
    pub config: Attrs,
    /// RFC 3339 time the operation started.
    pub started_at: String,
}

/// Loads the local state at `path` (snapshot plus journal) without taking the lock, for
/// commands that only read it. `None` if nothing was ever written there.
pub fn read(path: &Path) -> Result<Option<StateFile>, StateError> {
    read_at(&Location::Local(path.to_path_buf()))
}

/// [`read`] at any location. Needs no key: secrets are hashes, printed as `(sensitive)`.
pub fn read_at(location: &Location) -> Result<Option<StateFile>, StateError> {
    backend::Backend::connect(location)?.load()
}

/// Parses a state file given to `state push`: its checksum is not checked (a person may
/// have edited it on purpose), its format is.
pub fn parse_state_file(path: &Path, bytes: &[u8]) -> Result<StateFile, StateError> {
    journal::parse_snapshot(path, &fsio::sibling(path, "backup"), bytes, false)
}

/// `<repo root>/state/<stack>-<env>.json`, where the repo root is the nearest ancestor of
/// `stack_dir` that contains `.git` (a directory, or a file in a git worktree), else
/// `stack_dir` itself.
///
/// The loader only accepts safe stack and environment names; this checks again, where the
/// path is made, that the file name cannot leave `state/` (a name like
/// `../../elsewhere/escaped` once made apply write there, issue 11). Every other state
/// file (journal, lock, backup, key) is a sibling of this one.
pub fn default_path(stack_dir: &Path, stack: &str, env: &str) -> Result<PathBuf, StateError> {
    let dir = stack_dir
        .canonicalize()
        .unwrap_or_else(|_| stack_dir.to_path_buf());
    let root = dir
        .ancestors()
        .find(|ancestor| ancestor.join(".git").exists())
        .unwrap_or(&dir);
    let folder = root.join("state");
    let file_name = format!("{stack}-{env}.json");
    let path = folder.join(&file_name);
    let plain = matches!(
        Path::new(&file_name).components().collect::<Vec<_>>().as_slice(),
        [std::path::Component::Normal(name)] if *name == file_name.as_str()
    );
    if plain {
        Ok(path)
    } else {
        Err(StateError::Io {
            action: "use",
            path,
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "the stack name and environment must make a plain file name inside {}",
                    folder.display()
                ),
            ),
        })
    }
}
