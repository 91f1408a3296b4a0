//! The S3 backend: remote state for teams and pipelines, one state per object key.
//!
//! Objects beside the state's key `K` (`K` itself is the snapshot, the same JSON as a
//! local state file):
//! - `K.journal/<serial>`: one object per write, holding one operation or a group of
//!   operations completed together (one journal line; a write takes one serial), written with
//!   `If-None-Match: *`, so each serial is claimed once: a writer that did not see the
//!   latest record fails instead of interleaving. A record is durable in S3 before cairn
//!   reports it, and a group costs one small PUT however large the state is.
//! - The snapshot is rewritten (`If-Match` the ETag this run last saw) once the journal has
//!   as many records as the state has resources; the segments it folds in are deleted
//!   then. The snapshot it replaces is kept as `K.backup`.
//! - `K.lock`: [`LockInfo`] with a lease, created with `If-None-Match: *`, renewed by a
//!   background task (`If-Match` its own ETag) every third of the lease, deleted at the end.
//!   A lock whose lease ended is taken over (`If-Match` the stale ETag). A run that cannot
//!   renew in time stops writing before anyone may take its lock over.
//! - `K.hmac-key`: the key that hashes secrets, when `CAIRN_STATE_KEY` is not set. The
//!   state never embeds it; give it a stricter bucket policy than the state (see
//!   docs/state.md).
//!
//! The store's calls are synchronous; requests run on this backend's own small runtime,
//! driven from a scoped thread, so they work from inside or outside any other runtime.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::Region;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;

use super::super::journal;
use super::super::lock::{LOCK_RETRY, Unlocked};
use super::super::{LockInfo, SensitiveHasher, StateError, StateFile};

/// Environment variable that overrides the lease length in seconds (tests shorten it).
pub const LEASE_ENV_VAR: &str = "CAIRN_S3_LEASE_SECONDS";
const DEFAULT_LEASE: Duration = Duration::from_secs(60);
/// Attempts at a consistent read while a writer compacts the journal underneath.
const LOAD_ATTEMPTS: usize = 5;

/// A state in S3: `[backend.s3]` with its names resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Location {
    /// The bucket.
    pub bucket: String,
    /// The snapshot's object key; the journal, lock and key objects sit beside it.
    pub key: String,
    /// The bucket's region; the SDK's default chain when `None`.
    pub region: Option<String>,
    /// How long a lock outlives its last renewal; [`LEASE_ENV_VAR`] overrides it.
    pub lease: Option<Duration>,
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// Why one request failed.
enum Fail {
    /// 412 (or 409, a conditional write racing another): the object is not as expected.
    Precondition,
    NotFound,
    Other(Box<dyn std::error::Error + Send + Sync>),
}

fn classify<E>(error: SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Fail
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    let status = error.raw_response().map(|r| r.status().as_u16());
    match (status, error.code()) {
        (Some(412 | 409), _) | (_, Some("PreconditionFailed")) => Fail::Precondition,
        (_, Some("NoSuchKey")) => Fail::NotFound,
        _ => Fail::Other(Box::new(error)),
    }
}

/// A condition on a PUT.
enum Put {
    /// `If-None-Match: *`: only if there is no object yet.
    Create,
    /// `If-Match: ETAG`: only over the object this run last saw.
    Replace(String),
    Always,
}

#[derive(Clone, Debug)]
struct Objects {
    client: Client,
    bucket: String,
}

impl Objects {
    async fn put(&self, key: &str, body: Vec<u8>, condition: Put) -> Result<String, Fail> {
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body));
        request = match condition {
            Put::Create => request.if_none_match("*"),
            Put::Replace(etag) => request.if_match(etag),
            Put::Always => request,
        };
        let output = request.send().await.map_err(classify)?;
        Ok(output.e_tag().unwrap_or_default().to_owned())
    }

    async fn get(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, Fail> {
        let output = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(classify)
        {
            Ok(output) => output,
            Err(Fail::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        let etag = output.e_tag().unwrap_or_default().to_owned();
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|e| Fail::Other(Box::new(e)))?
            .into_bytes()
            .to_vec();
        Ok(Some((bytes, etag)))
    }

    async fn delete(&self, key: &str, if_match: Option<&str>) -> Result<(), Fail> {
        let mut request = self.client.delete_object().bucket(&self.bucket).key(key);
        if let Some(etag) = if_match {
            request = request.if_match(etag);
        }
        match request.send().await.map_err(classify) {
            Ok(_) | Err(Fail::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, Fail> {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let output = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(classify)?;
            keys.extend(
                output
                    .contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
            match output.next_continuation_token() {
                Some(next) if output.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => return Ok(keys),
            }
        }
    }
}

/// The lock this run holds, shared with the task that renews it.
#[derive(Debug)]
struct Held {
    info: LockInfo,
    lease: Arc<Mutex<Lease>>,
    renewer: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
struct Lease {
    etag: String,
    renewed: Instant,
    /// Set when a renewal found the lock taken over.
    lost: Option<String>,
}

fn lock_body(info: &LockInfo, lease: Duration) -> Result<(LockInfo, Vec<u8>), Fail> {
    let mut info = info.clone();
    let expires = chrono::Utc::now()
        + chrono::Duration::from_std(lease).unwrap_or_else(|_| chrono::Duration::seconds(60));
    info.expires_at = Some(expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let bytes = serde_json::to_vec_pretty(&info).map_err(|e| Fail::Other(Box::new(e)))?;
    Ok((info, bytes))
}

/// Whether a lock's lease has ended. An unreadable lock (or one without a lease) counts
/// as ended: S3 writes are whole, so only a foreign or hand-made object looks like that.
fn expired(info: Option<&LockInfo>) -> bool {
    info.and_then(|i| i.expires_at.as_deref())
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .is_none_or(|expiry| chrono::Utc::now() > expiry)
}

/// Stands for a lock object that is not cairn's JSON (S3 writes are whole, so only a
/// hand-made object looks like that).
fn unreadable_lock() -> LockInfo {
    LockInfo {
        owner: "unknown".to_owned(),
        pid: 0,
        host: "unknown".to_owned(),
        created_at: "unknown".to_owned(),
        operation: "an unreadable lock".to_owned(),
        run_id: String::new(),
        expires_at: Some("an unknown time".to_owned()),
    }
}

/// An open S3 state.
#[derive(Debug)]
pub(crate) struct S3Backend {
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    objects: Objects,
    location: S3Location,
    label: PathBuf,
    lease: Duration,
    /// ETag of the snapshot as this run last read or wrote it; `None`: there is none.
    snapshot_etag: Option<String>,
    /// The snapshot's bytes as last read or written, kept as the backup when replaced.
    snapshot_bytes: Option<Vec<u8>>,
    /// Journal segments in the bucket (and written by this run) a snapshot has to delete.
    segments: Vec<u64>,
    /// Segments newer than the snapshot.
    records: usize,
    held: Option<Held>,
}

impl S3Backend {
    pub(crate) fn connect(location: &S3Location) -> Result<S3Backend, StateError> {
        let label = PathBuf::from(location.to_string());
        let remote = |source: Box<dyn std::error::Error + Send + Sync>| StateError::Remote {
            action: "connect to",
            path: label.clone(),
            source,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("cairn-s3")
            .enable_all()
            .build()
            .map_err(|e| remote(Box::new(e)))?;
        let handle = runtime.handle().clone();
        let region = location.region.clone();
        let client = run(&handle, &label, async move {
            let mut loader = aws_config::defaults(BehaviorVersion::latest());
            if let Some(region) = region {
                loader = loader.region(Region::new(region));
            }
            let sdk = loader.load().await;
            // A custom endpoint (an S3-compatible store, or moto in tests) is addressed
            // by path: bucket names as host names need DNS it does not have.
            let path_style = sdk.endpoint_url().is_some();
            let config = aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(path_style)
                .build();
            Ok(Client::from_conf(config))
        })?;
        let lease = std::env::var(LEASE_ENV_VAR)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .filter(|s| *s > 0)
            .map(Duration::from_secs)
            .or(location.lease)
            .unwrap_or(DEFAULT_LEASE);
        Ok(S3Backend {
            runtime: Some(runtime),
            handle,
            objects: Objects {
                client,
                bucket: location.bucket.clone(),
            },
            location: location.clone(),
            label,
            lease,
            snapshot_etag: None,
            snapshot_bytes: None,
            segments: Vec::new(),
            records: 0,
            held: None,
        })
    }

    fn name(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.location.key)
    }

    fn segment(&self, serial: u64) -> String {
        format!("{}.journal/{serial:020}", self.location.key)
    }

    fn err(&self, action: &'static str, fail: Fail) -> StateError {
        match fail {
            Fail::Precondition => StateError::Conflict {
                path: self.label.clone(),
                what: action.to_owned(),
            },
            Fail::NotFound => StateError::Remote {
                action,
                path: self.label.clone(),
                source: "not found".into(),
            },
            Fail::Other(source) => StateError::Remote {
                action,
                path: self.label.clone(),
                source,
            },
        }
    }

    fn block<T: Send>(
        &self,
        action: &'static str,
        work: impl Future<Output = Result<T, Fail>> + Send,
    ) -> Result<T, StateError> {
        run(&self.handle, &self.label, async move { Ok(work.await) })?
            .map_err(|fail| self.err(action, fail))
    }

    pub(crate) fn lock(
        &mut self,
        operation: &str,
        timeout: Duration,
    ) -> Result<Option<LockInfo>, StateError> {
        let key = self.name(".lock");
        let deadline = Instant::now() + timeout;
        let mine = LockInfo::current(operation);
        loop {
            let (info, body) = lock_body(&mine, self.lease).map_err(|f| self.err("lock", f))?;
            match self.block("lock", self.objects.put(&key, body.clone(), Put::Create)) {
                Ok(etag) => {
                    self.hold(info, etag);
                    return Ok(None);
                }
                Err(StateError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
            let Some((bytes, etag)) = self.block("read the lock of", self.objects.get(&key))?
            else {
                continue;
            };
            let holder: Option<LockInfo> = serde_json::from_slice(&bytes).ok();
            if expired(holder.as_ref()) {
                match self.block(
                    "take over the lock of",
                    self.objects.put(&key, body, Put::Replace(etag)),
                ) {
                    Ok(etag) => {
                        self.hold(info, etag);
                        // The lock was there: say so even if it was unreadable.
                        return Ok(Some(holder.unwrap_or_else(unreadable_lock)));
                    }
                    Err(StateError::Conflict { .. }) => continue,
                    Err(e) => return Err(e),
                }
            }
            let now = Instant::now();
            if now >= deadline {
                let expires_at = holder.as_ref().and_then(|h| h.expires_at.clone());
                return Err(StateError::Locked {
                    path: self.label.clone(),
                    holder: holder.map(Box::new),
                    expires_at,
                });
            }
            std::thread::sleep(LOCK_RETRY.min(deadline - now));
        }
    }

    /// Starts renewing the lock just taken.
    fn hold(&mut self, info: LockInfo, etag: String) {
        let lease = Arc::new(Mutex::new(Lease {
            etag,
            renewed: Instant::now(),
            lost: None,
        }));
        let objects = self.objects.clone();
        let key = self.name(".lock");
        let length = self.lease;
        let shared = Arc::clone(&lease);
        let renewed_info = info.clone();
        let renewer = self.handle.spawn(async move {
            let mut every = tokio::time::interval(length / 3);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every.tick().await;
            loop {
                every.tick().await;
                let Ok((_, body)) = lock_body(&renewed_info, length) else {
                    continue;
                };
                let etag = shared
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .etag
                    .clone();
                match objects.put(&key, body, Put::Replace(etag)).await {
                    Ok(etag) => {
                        let mut lease = shared.lock().unwrap_or_else(PoisonError::into_inner);
                        lease.etag = etag;
                        lease.renewed = Instant::now();
                    }
                    Err(Fail::Precondition | Fail::NotFound) => {
                        shared.lock().unwrap_or_else(PoisonError::into_inner).lost =
                            Some("another run took the lock over or removed it".to_owned());
                        return;
                    }
                    Err(Fail::Other(error)) => {
                        tracing::warn!(%error, "could not renew the state lock's lease; retrying");
                    }
                }
            }
        });
        self.held = Some(Held {
            info,
            lease,
            renewer,
        });
    }

    /// Refuses to write once the lock may have passed to another run: it was taken over,
    /// or two thirds of the lease went by without a renewal (a run may take it over once
    /// the whole lease has).
    fn check_lease(&self) -> Result<(), StateError> {
        let Some(held) = &self.held else {
            return Ok(());
        };
        let lease = held.lease.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(reason) = &lease.lost {
            return Err(StateError::LockLost {
                path: self.label.clone(),
                reason: reason.clone(),
            });
        }
        let age = lease.renewed.elapsed();
        if age > self.lease * 2 / 3 {
            return Err(StateError::LockLost {
                path: self.label.clone(),
                reason: format!(
                    "its lease was last renewed {}s ago, and it lasts {}s",
                    age.as_secs(),
                    self.lease.as_secs()
                ),
            });
        }
        Ok(())
    }

    pub(crate) fn load(&mut self) -> Result<Option<StateFile>, StateError> {
        let prefix = self.name(".journal/");
        let backup = PathBuf::from(format!("{}.backup", self.location));
        for _ in 0..LOAD_ATTEMPTS {
            let snapshot = self.block("read", self.objects.get(&self.location.key))?;
            let listed = self.block("list the journal of", self.objects.list(&prefix))?;
            let mut serials = Vec::new();
            for key in &listed {
                let serial = key
                    .strip_prefix(&prefix)
                    .and_then(|s| s.parse::<u64>().ok())
                    .ok_or_else(|| StateError::CorruptJournal {
                        path: self.label.clone(),
                        line: 0,
                        message: format!("unexpected object {key} among the journal's records"),
                    })?;
                serials.push(serial);
            }
            serials.sort_unstable();
            let Some((bytes, etag)) = snapshot else {
                if !serials.is_empty() {
                    return Err(StateError::CorruptJournal {
                        path: self.label.clone(),
                        line: 0,
                        message: "journal records exist but the snapshot they follow is missing"
                            .to_owned(),
                    });
                }
                self.reset(None, None, serials);
                return Ok(None);
            };
            let mut state = journal::parse_snapshot(&self.label, &backup, &bytes, true)?;
            let newer: Vec<u64> = serials
                .iter()
                .copied()
                .filter(|s| *s > state.serial)
                .collect();
            let objects = self.objects.clone();
            let keys: Vec<(u64, String)> = newer.iter().map(|s| (*s, self.segment(*s))).collect();
            let fetched = self.block("read the journal of", async move {
                let mut segments = Vec::new();
                for (serial, key) in keys {
                    match objects.get(&key).await? {
                        Some((bytes, _)) => segments.push((serial, bytes)),
                        // Compacted away since the listing: read again.
                        None => return Ok(None),
                    }
                }
                Ok(Some(segments))
            })?;
            let Some(segments) = fetched else {
                continue;
            };
            match journal::replay_segments(&self.label, &mut state, &segments) {
                Ok(applied) => {
                    self.reset(Some(etag), Some(bytes), serials);
                    self.records = applied;
                    return Ok(Some(state));
                }
                Err(Some(e)) => return Err(e),
                Err(None) => continue,
            }
        }
        Err(StateError::Conflict {
            path: self.label.clone(),
            what: "read: the journal kept changing while it was read".to_owned(),
        })
    }

    fn reset(&mut self, etag: Option<String>, bytes: Option<Vec<u8>>, segments: Vec<u64>) {
        self.snapshot_etag = etag;
        self.snapshot_bytes = bytes;
        self.segments = segments;
        self.records = 0;
    }

    pub(crate) fn append(
        &mut self,
        state: &StateFile,
        serial: u64,
        line: Vec<u8>,
        records: usize,
    ) -> Result<u64, StateError> {
        self.check_lease()?;
        // Records always follow a snapshot, which names the state they belong to.
        let mut written = 0;
        if self.snapshot_etag.is_none() {
            written += self.snapshot(state)?;
        }
        let size = line.len() as u64;
        let key = self.segment(serial);
        self.block(
            "append to the journal of",
            self.objects.put(&key, line, Put::Create),
        )?;
        self.segments.push(serial);
        self.records += records;
        Ok(written + size)
    }

    pub(crate) fn journal_records(&self) -> usize {
        self.records
    }

    pub(crate) fn snapshot(&mut self, state: &StateFile) -> Result<u64, StateError> {
        self.check_lease()?;
        let bytes = journal::encode_snapshot(&self.label, state)?;
        let mut written = bytes.len() as u64;
        if let Some(previous) = self.snapshot_bytes.clone() {
            written += previous.len() as u64;
            let key = self.name(".backup");
            self.block("back up", self.objects.put(&key, previous, Put::Always))?;
        }
        let condition = match &self.snapshot_etag {
            Some(etag) => Put::Replace(etag.clone()),
            None => Put::Create,
        };
        let etag = self.block(
            "write the snapshot of",
            self.objects
                .put(&self.location.key, bytes.clone(), condition),
        )?;
        self.snapshot_etag = Some(etag);
        self.snapshot_bytes = Some(bytes);
        // Every segment this run knows of is folded in now; one left by a failed delete
        // is skipped by replay (its serial is not above the snapshot's) and deleted by
        // the next snapshot.
        let folded = std::mem::take(&mut self.segments);
        let keys: Vec<String> = folded.iter().map(|s| self.segment(*s)).collect();
        let objects = self.objects.clone();
        let deleted = self.block("compact the journal of", async move {
            for key in keys {
                objects.delete(&key, None).await?;
            }
            Ok(())
        });
        if let Err(error) = deleted {
            tracing::warn!(%error, "could not delete folded journal records; the next snapshot will");
            self.segments = folded;
        }
        self.records = 0;
        Ok(written)
    }

    pub(crate) fn load_key(&self) -> Result<Option<SensitiveHasher>, StateError> {
        let key = self.name(".hmac-key");
        let Some((bytes, _)) = self.block("read the key of", self.objects.get(&key))? else {
            return Ok(None);
        };
        let origin = self.key_location();
        let text = String::from_utf8(bytes).map_err(|_| StateError::InvalidKey {
            origin: origin.clone(),
            reason: "it is not valid UTF-8",
        })?;
        SensitiveHasher::parse_key(&text, &origin).map(Some)
    }

    pub(crate) fn save_key(&mut self, hasher: &SensitiveHasher) -> Result<u64, StateError> {
        let contents = hasher.key_file_contents().into_bytes();
        let size = contents.len() as u64;
        let key = self.name(".hmac-key");
        self.block(
            "store the key of",
            self.objects.put(&key, contents, Put::Create),
        )?;
        Ok(size)
    }

    pub(crate) fn key_location(&self) -> String {
        format!("{}.hmac-key", self.location)
    }

    pub(crate) fn release(mut self) -> Result<(), StateError> {
        self.release_inner()
    }

    fn release_inner(&mut self) -> Result<(), StateError> {
        let Some(held) = self.held.take() else {
            return Ok(());
        };
        held.renewer.abort();
        let etag = held
            .lease
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .etag
            .clone();
        let key = self.name(".lock");
        let objects = self.objects.clone();
        let run_id = held.info.run_id.clone();
        self.block("unlock", async move {
            match objects.delete(&key, Some(&etag)).await {
                Ok(()) => Ok(()),
                // A renewal cut short may have changed the ETag: still ours if it names
                // this run; else another run took it over and keeps it.
                Err(Fail::Precondition) => match objects.get(&key).await? {
                    Some((bytes, etag)) => {
                        let info: Option<LockInfo> = serde_json::from_slice(&bytes).ok();
                        if info.is_some_and(|i| i.run_id == run_id) {
                            objects.delete(&key, Some(&etag)).await
                        } else {
                            Ok(())
                        }
                    }
                    None => Ok(()),
                },
                Err(e) => Err(e),
            }
        })
    }

    pub(crate) fn force_unlock(self, force: bool) -> Result<Option<Unlocked>, StateError> {
        let key = self.name(".lock");
        let Some((bytes, etag)) = self.block("read the lock of", self.objects.get(&key))? else {
            return Ok(None);
        };
        let holder: Option<LockInfo> = serde_json::from_slice(&bytes).ok();
        let was_alive = !expired(holder.as_ref());
        if was_alive && !force {
            return Err(StateError::HolderAlive {
                path: self.label.clone(),
                holder: holder.map(Box::new),
            });
        }
        self.block("unlock", self.objects.delete(&key, Some(&etag)))?;
        Ok(Some(Unlocked { holder, was_alive }))
    }
}

impl Drop for S3Backend {
    fn drop(&mut self) {
        if let Err(error) = self.release_inner() {
            tracing::warn!(%error, "could not release the state lock");
        }
        // Dropping a runtime waits for its tasks, which an async caller must not do.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Runs `work` on `handle`'s runtime from a thread of its own, so the caller may be
/// inside another runtime or none.
fn run<T: Send>(
    handle: &tokio::runtime::Handle,
    label: &std::path::Path,
    work: impl Future<Output = Result<T, StateError>> + Send,
) -> Result<T, StateError> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| handle.block_on(work))
            .join()
            .unwrap_or_else(|_| {
                Err(StateError::Remote {
                    action: "reach",
                    path: label.to_path_buf(),
                    source: "the request thread stopped unexpectedly".into(),
                })
            })
    })
}
