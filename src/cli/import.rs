//! `cairn import ADDR ID`: reads an existing object through its provider and records it
//! under ADDR; the next plan shows how it differs from the configuration.

use std::process::ExitCode;

use super::{CliError, LockArgs, StackArgs, interruptible, open, runtime, usage};
use crate::addr::ResourceAddr;
use crate::providers::Registry;
use crate::render::Printer;

/// `cairn import ADDR ID`.
pub(super) fn import(
    args: &StackArgs,
    lock: &LockArgs,
    addr: &str,
    id: &str,
    printer: Printer,
) -> Result<ExitCode, CliError> {
    let addr: ResourceAddr = addr
        .parse()
        .map_err(|e: crate::addr::ParseAddrError| usage(e.to_string(), None))?;
    let rt = runtime()?;
    let registry = Registry::builtin();
    let session = open(&registry, args, printer)?;
    session.check_import(&addr)?;
    let mut store = session.lock(&lock.options("import"))?;
    let imported = rt.block_on(interruptible(session.import(&mut store, &addr, id)));
    store.close()?;
    imported?;
    printer.out(&format!(
        "Imported {id} as {addr}. `cairn plan` shows how it differs from the configuration."
    ));
    Ok(ExitCode::SUCCESS)
}
