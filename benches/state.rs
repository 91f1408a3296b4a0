//! Cost of checkpointing an apply: records N resources one by one through a
//! [`StateStore`], as an apply does, and prints the total time, the bytes written and the
//! snapshots taken. Time and bytes per resource must stay flat as N grows; a store that
//! rewrote the whole snapshot per resource would grow them linearly with N.
//!
//! For contrast, the last row checkpoints after every resource, which is what rewriting
//! the whole state per resource costs; it runs only at the smallest N.
//!
//! Run with `cargo bench --no-default-features --bench state`.

#![allow(
    clippy::panic,
    clippy::print_stdout,
    reason = "a benchmark binary: it prints its figures and stops loudly if a step fails"
)]

use std::time::{Duration, Instant};

use cairn::addr::ResourceAddr;
use cairn::state::{self, Intent, ResourceState, StateStore};
use cairn_provider_core::{Attrs, Value};

const SIZES: [usize; 2] = [1_000, 10_000];

/// A resource the size of a typical AWS one: ids, ARNs, tags and a redacted secret.
fn resource(i: usize, store: &StateStore) -> ResourceState {
    let name = format!("subnet{i}");
    let secret = store
        .hasher()
        .redact(&Value::from(format!("password-{i}")).sensitive());
    let tags = Value::Map(
        [
            ("Name", name.as_str()),
            ("cairn:stack", "airflow"),
            ("cairn:env", "bench"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Value::from(v)))
        .collect(),
    );
    ResourceState {
        addr: ResourceAddr::new("aws_subnet", name.clone()),
        provider: "aws".to_owned(),
        attrs: Attrs::new()
            .with("id", format!("subnet-{i:017x}"))
            .with(
                "arn",
                format!("arn:aws:ec2:eu-west-1:123456789012:subnet/subnet-{i:017x}"),
            )
            .with("vpc_id", "vpc-0123456789abcdef0")
            .with(
                "cidr_block",
                format!("10.{}.{}.0/24", i / 256 % 256, i % 256),
            )
            .with("availability_zone", "eu-west-1a")
            .with("map_public_ip_on_launch", false)
            .with("tags", tags)
            .with("secret", secret),
        dependencies: vec![ResourceAddr::new("aws_vpc", "main")],
        fingerprints: Default::default(),
    }
}

struct Run {
    label: &'static str,
    n: usize,
    record: Duration,
    close: Duration,
    reopen: Duration,
    stats: state::WriteStats,
    snapshot_bytes: u64,
}

fn run(n: usize, snapshot_each: bool) -> Result<Run, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state").join("bench-dev.json");
    let mut store = StateStore::open(&path, "bench", "dev", "apply")?;
    let start = Instant::now();
    for i in 0..n {
        let resource = resource(i, &store);
        // An apply journals the intent before each create and the result after it.
        let intent = Intent {
            operation: "create".to_owned(),
            config: Attrs::new().with("cidr_block", format!("10.0.{}.0/24", i % 256)),
            started_at: "2026-01-01T00:00:00Z".to_owned(),
        };
        store.record_intent(&resource.addr, intent)?;
        store.record_resource(resource)?;
        if snapshot_each {
            store.checkpoint()?;
        }
    }
    let record = start.elapsed();
    let stats = store.stats();
    let start = Instant::now();
    store.close()?;
    let close = start.elapsed();
    let start = Instant::now();
    let reopened = StateStore::open(&path, "bench", "dev", "plan")?;
    let reopen = start.elapsed();
    if reopened.state().resources.len() != n {
        return Err(format!(
            "reopened {} resources, recorded {n}",
            reopened.state().resources.len()
        )
        .into());
    }
    reopened.close()?;
    Ok(Run {
        label: if snapshot_each {
            "snapshot each"
        } else {
            "journal"
        },
        n,
        record,
        close,
        reopen,
        stats,
        snapshot_bytes: std::fs::metadata(&path)?.len(),
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "{:<14} {:>7} {:>7} {:>10} {:>10} {:>10} {:>12} {:>10} {:>11} {:>10} {:>10}",
        "checkpointing",
        "N",
        "records",
        "total ms",
        "us/res",
        "snapshots",
        "bytes",
        "bytes/res",
        "state bytes",
        "close ms",
        "reopen ms"
    );
    let runs = SIZES.iter().map(|&n| (n, false)).chain([(SIZES[0], true)]);
    for (n, snapshot_each) in runs {
        let r = run(n, snapshot_each)?;
        println!(
            "{:<14} {:>7} {:>7} {:>10.1} {:>10.1} {:>10} {:>12} {:>10} {:>11} {:>10.1} {:>10.1}",
            r.label,
            r.n,
            r.stats.journal_records,
            r.record.as_secs_f64() * 1e3,
            r.record.as_secs_f64() * 1e6 / r.n as f64,
            r.stats.snapshots,
            r.stats.bytes_written,
            r.stats.bytes_written / r.n as u64,
            r.snapshot_bytes,
            r.close.as_secs_f64() * 1e3,
            r.reopen.as_secs_f64() * 1e3,
        );
    }
    Ok(())
}
