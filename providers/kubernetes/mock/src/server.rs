//! The running server: shared state behind one lock, the accept loop, and the delayed
//! work of the garbage collector and the namespace controller.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::api::{self, FollowUp};
use crate::store::{Key, Store};
use crate::{Options, RequestRecord, wire};

/// A failure a test asked for: the next `remaining` requests matching answer `status`.
#[derive(Clone, Debug)]
pub struct Fault {
    pub method: Option<String>,
    pub path: String,
    pub status: u16,
    pub remaining: usize,
}

/// Everything behind the lock.
pub struct State {
    pub store: Store,
    pub options: Options,
    pub log: Vec<RequestRecord>,
    pub faults: Vec<Fault>,
    /// Controller work not done yet, by id.
    pending: Vec<(u64, FollowUp)>,
    next_pending: u64,
}

impl State {
    /// The fault matching this request, used up by one.
    pub fn take_fault(&mut self, method: &str, path: &str) -> Option<u16> {
        let fault = self.faults.iter_mut().find(|f| {
            f.remaining > 0
                && f.method.as_deref().is_none_or(|m| m == method)
                && path.starts_with(&f.path)
        })?;
        fault.remaining -= 1;
        let status = fault.status;
        self.faults.retain(|f| f.remaining > 0);
        Some(status)
    }
}

/// The state and the runtime its delayed work runs on.
#[derive(Clone)]
pub struct Shared {
    state: Arc<Mutex<State>>,
    runtime: Handle,
}

impl Shared {
    pub fn new(options: Options, runtime: Handle) -> Self {
        let mut store = Store::new();
        api::bootstrap(&mut store);
        Shared {
            state: Arc::new(Mutex::new(State {
                store,
                options,
                log: Vec::new(),
                faults: Vec::new(),
                pending: Vec::new(),
                next_pending: 0,
            })),
            runtime,
        }
    }

    /// The state; a panic elsewhere while holding the lock leaves it usable.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs what a delete left to the controllers after the configured delay: the
    /// collector's after `delete_delay`, the namespace controller's `namespace_delay` later.
    pub fn schedule(&self, follow_up: FollowUp) {
        let (id, delay) = {
            let mut state = self.lock();
            state.next_pending += 1;
            let id = state.next_pending;
            let delay = match follow_up {
                FollowUp::FinalizeNamespace { .. } => state.options.namespace_delay,
                _ => state.options.delete_delay,
            };
            state.pending.push((id, follow_up));
            (id, delay)
        };
        let shared = self.clone();
        self.runtime.spawn(async move {
            tokio::time::sleep(delay).await;
            let due = {
                let mut state = shared.lock();
                let index = state.pending.iter().position(|(i, _)| *i == id);
                index.map(|index| state.pending.remove(index).1)
            };
            if let Some(follow_up) = due {
                shared.run(follow_up);
            }
        });
    }

    fn run(&self, follow_up: FollowUp) {
        let next = follow_up.run(&mut self.lock().store);
        if let Some(next) = next {
            self.schedule(next);
        }
    }

    /// Runs the controllers' pending work on `key` now: its next step only, or all of it.
    pub fn settle(&self, key: &Key, all: bool) {
        loop {
            let due = {
                let mut state = self.lock();
                let index = state.pending.iter().position(|(_, f)| f.key() == *key);
                index.map(|index| state.pending.remove(index).1)
            };
            let Some(follow_up) = due else {
                return;
            };
            self.run(follow_up);
            if !all {
                return;
            }
        }
    }

    /// Runs every pending piece of controller work now.
    pub fn settle_all(&self) {
        loop {
            let due = {
                let mut state = self.lock();
                (!state.pending.is_empty()).then(|| state.pending.remove(0).1)
            };
            match due {
                Some(follow_up) => self.run(follow_up),
                None => return,
            }
        }
    }

    /// Closes a watch's stream once its `timeoutSeconds` are over.
    pub fn expire_watch(&self, id: u64, after: Duration) {
        let shared = self.clone();
        self.runtime.spawn(async move {
            tokio::time::sleep(after).await;
            shared.lock().store.stop_watch(id);
        });
    }
}

/// Accepts connections until `stop` turns true.
pub async fn serve(listener: TcpListener, shared: Shared, mut stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        tokio::spawn(wire::serve_connection(stream, shared.clone(), stop.clone()));
    }
}
