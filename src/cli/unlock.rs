//! `cairn force-unlock`: removes the state's lock; a holder that is still running only
//! with `--force`.

use std::process::ExitCode;

use super::{CliError, StackArgs, location};
use crate::render::Printer;
use crate::state;

/// `cairn force-unlock`.
pub(super) fn force_unlock(
    args: &StackArgs,
    force: bool,
    printer: Printer,
) -> Result<ExitCode, CliError> {
    let location = location::for_state(args)?;
    match state::force_unlock(&location, force)? {
        Some(unlocked) => {
            let holder = unlocked
                .holder
                .map_or_else(|| "an unreadable holder".to_owned(), |h| h.describe());
            let status = if unlocked.was_alive {
                "still running: forced"
            } else {
                "gone"
            };
            printer.out(&format!(
                "Removed the lock on {location} held for {holder} ({status})."
            ));
        }
        None => printer.out(&format!("{location} is not locked.")),
    }
    Ok(ExitCode::SUCCESS)
}
