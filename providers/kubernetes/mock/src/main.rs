//! `cairn-kube-mock`: runs the mock Kubernetes API server until killed.
//!
//! Writes a kubeconfig for it (to `--kubeconfig PATH`, default `./kubeconfig-mock.yaml`)
//! and prints that path, so a person or a script can point cairn at it:
//! `cairn apply stacks/airflow --var kubeconfig=$(cairn-kube-mock &)`.
//! `--auto-ready` marks workloads ready after each apply.

#![allow(
    clippy::disallowed_methods,
    reason = "the mock's own command: it prints the kubeconfig path and its usage"
)]

use std::io::Write;
use std::path::PathBuf;

use cairn_kube_mock::{MockServer, Options};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut kubeconfig = PathBuf::from("kubeconfig-mock.yaml");
    let mut options = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--kubeconfig" => match args.next() {
                Some(path) => kubeconfig = PathBuf::from(path),
                None => return usage("--kubeconfig needs a path"),
            },
            "--auto-ready" => options.auto_ready = true,
            "-h" | "--help" => return usage(""),
            other => return usage(&format!("unknown argument {other}")),
        }
    }
    let server = match MockServer::start(options).await {
        Ok(server) => server,
        Err(e) => return fail(&e.to_string()),
    };
    if let Err(e) = server.write_kubeconfig(&kubeconfig) {
        return fail(&e.to_string());
    }
    let shown = std::fs::canonicalize(&kubeconfig).unwrap_or(kubeconfig);
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{}", shown.display())
        .and_then(|()| out.flush())
        .is_err()
    {
        return fail("cannot write to stdout");
    }
    drop(out);
    let _ = tokio::signal::ctrl_c().await;
    std::process::ExitCode::SUCCESS
}

fn usage(problem: &str) -> std::process::ExitCode {
    let text = "usage: cairn-kube-mock [--kubeconfig PATH] [--auto-ready]";
    let _ = if problem.is_empty() {
        writeln!(std::io::stdout(), "{text}")
    } else {
        writeln!(std::io::stderr(), "{problem}\n{text}")
    };
    if problem.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(2)
    }
}

fn fail(message: &str) -> std::process::ExitCode {
    let _ = writeln!(std::io::stderr(), "cairn-kube-mock: {message}");
    std::process::ExitCode::FAILURE
}
