//! The object store: one resourceVersion counter for everything, objects by resource,
//! namespace and name, the event history watches resume from, and the live watches.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

use crate::resources::{Registry, Resource};

/// Where an object lives.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub group: String,
    pub plural: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl Key {
    pub fn new(resource: &Resource, namespace: Option<&str>, name: &str) -> Self {
        Key {
            group: resource.group.clone(),
            plural: resource.plural.clone(),
            namespace: namespace.filter(|_| resource.namespaced).map(str::to_owned),
            name: name.to_owned(),
        }
    }

    pub fn namespace_key(name: &str) -> Self {
        Key {
            group: String::new(),
            plural: "namespaces".to_owned(),
            namespace: None,
            name: name.to_owned(),
        }
    }
}

/// Which objects a LIST or WATCH selects.
#[derive(Clone, Debug, Default)]
pub struct Selector {
    pub group: String,
    pub plural: String,
    /// `None`: every namespace (or a cluster-scoped resource).
    pub namespace: Option<String>,
    /// From `fieldSelector=metadata.name=...`.
    pub name: Option<String>,
    /// From `fieldSelector=metadata.namespace=...`.
    pub field_namespace: Option<String>,
    /// From `labelSelector=k=v,k2=v2` (equality only).
    pub labels: Vec<(String, String)>,
}

impl Selector {
    pub fn matches(&self, key: &Key, object: &Value) -> bool {
        key.group == self.group
            && key.plural == self.plural
            && (self.namespace.is_none() || key.namespace == self.namespace)
            && (self.field_namespace.is_none() || key.namespace == self.field_namespace)
            && self.name.as_ref().is_none_or(|n| *n == key.name)
            && self.labels.iter().all(|(k, v)| {
                object.pointer("/metadata/labels").and_then(|l| l.get(k)) == Some(&json!(v))
            })
    }
}

/// One change, as a watch reports it.
#[derive(Clone, Debug)]
pub struct Event {
    pub resource_version: u64,
    pub kind: &'static str,
    pub key: Key,
    pub object: Value,
}

impl Event {
    /// The watch line: `{"type":...,"object":...}` and a newline.
    pub fn line(kind: &str, object: &Value) -> Bytes {
        let mut text = json!({"type": kind, "object": object}).to_string();
        text.push('\n');
        Bytes::from(text)
    }
}

struct Watch {
    id: u64,
    selector: Selector,
    sender: UnboundedSender<Bytes>,
}

/// The server's clock, which tests may stop and move.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset: Duration,
    frozen: Option<DateTime<Utc>>,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        self.frozen.unwrap_or_else(Utc::now) + self.offset
    }

    /// `2026-11-30T03:53:00Z`: the API server writes times to the second.
    pub fn timestamp(&self) -> String {
        self.now().to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    pub fn freeze(&mut self) {
        self.frozen = Some(self.frozen.unwrap_or_else(Utc::now));
    }

    pub fn advance(&mut self, by: Duration) {
        self.offset += by;
    }
}

/// Everything the server holds.
pub struct Store {
    pub registry: Registry,
    pub clock: Clock,
    resource_version: u64,
    objects: BTreeMap<Key, Value>,
    history: Vec<Event>,
    watches: Vec<Watch>,
    next_watch: u64,
    next_ip: u32,
}

impl Store {
    pub fn new() -> Self {
        Store {
            registry: Registry::new(),
            clock: Clock::default(),
            resource_version: 1000,
            objects: BTreeMap::new(),
            history: Vec::new(),
            watches: Vec::new(),
            next_watch: 0,
            next_ip: 0,
        }
    }

    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    pub fn get(&self, key: &Key) -> Option<&Value> {
        self.objects.get(key)
    }

    pub fn list(&self, selector: &Selector) -> Vec<(Key, Value)> {
        self.objects
            .iter()
            .filter(|(key, object)| selector.matches(key, object))
            .map(|(key, object)| (key.clone(), object.clone()))
            .collect()
    }

    /// Keys of every object in `namespace`.
    pub fn keys_in(&self, namespace: &str) -> Vec<Key> {
        self.objects
            .keys()
            .filter(|k| k.namespace.as_deref() == Some(namespace))
            .cloned()
            .collect()
    }

    /// Stores `object` under a new resourceVersion and tells the watches; returns it.
    pub fn put(&mut self, key: Key, mut object: Value, kind: &'static str) -> Value {
        self.resource_version += 1;
        object["metadata"]["resourceVersion"] = json!(self.resource_version.to_string());
        self.objects.insert(key.clone(), object.clone());
        self.record(kind, key, object.clone());
        object
    }

    /// Removes an object; watches see it, under a new resourceVersion, as DELETED.
    pub fn remove(&mut self, key: &Key) -> Option<Value> {
        let mut object = self.objects.remove(key)?;
        self.resource_version += 1;
        object["metadata"]["resourceVersion"] = json!(self.resource_version.to_string());
        self.record("DELETED", key.clone(), object.clone());
        Some(object)
    }

    fn record(&mut self, kind: &'static str, key: Key, object: Value) {
        let line = Event::line(kind, &object);
        self.watches
            .retain(|w| !w.selector.matches(&key, &object) || w.sender.send(line.clone()).is_ok());
        self.history.push(Event {
            resource_version: self.resource_version,
            kind,
            key,
            object,
        });
    }

    /// Starts a watch: first the events after `since` (or ADDED for every object when
    /// `since` is `None`), then every change as it happens. Returns the watch's id.
    pub fn watch(
        &mut self,
        selector: Selector,
        since: Option<u64>,
        sender: UnboundedSender<Bytes>,
    ) -> u64 {
        let backlog: Vec<Bytes> = match since {
            Some(since) => self
                .history
                .iter()
                .filter(|e| e.resource_version > since && selector.matches(&e.key, &e.object))
                .map(|e| Event::line(e.kind, &e.object))
                .collect(),
            None => self
                .list(&selector)
                .iter()
                .map(|(_, object)| Event::line("ADDED", object))
                .collect(),
        };
        for line in backlog {
            if sender.send(line).is_err() {
                break;
            }
        }
        self.next_watch += 1;
        self.watches.push(Watch {
            id: self.next_watch,
            selector,
            sender,
        });
        self.next_watch
    }

    /// Ends a watch: its stream closes, as when the server's timeout runs out.
    pub fn stop_watch(&mut self, id: u64) {
        self.watches.retain(|w| w.id != id);
    }

    /// A Service cluster IP from 10.96.0.0/12, never the same twice.
    pub fn allocate_ip(&mut self) -> String {
        self.next_ip += 1;
        let n = self.next_ip + 10;
        format!("10.96.{}.{}", (n / 250) % 256, n % 250 + 1)
    }
}
