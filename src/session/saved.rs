//! Saved plans in a session: writing one (`plan --out FILE`) and applying one
//! (`apply FILE`). The file's format and its checks are `plan::file`'s; this module
//! reopens the stack the plan names and runs the checks against the locked state.
//!
//! Applying a saved plan loads the stack again from the directory the plan names, with
//! its environment and variables (sensitive ones supplied again now), checks that the
//! locked state and the stack's inputs are the ones planned against, and walks the saved
//! plan itself: no refresh, no second plan. The stack is needed only for what the plan
//! did not know (values computed by this apply, values derived from secrets).

use std::path::Path;

use super::{Notice, OpenOptions, Session, SessionError, refused};
use crate::plan::Plan;
use crate::plan::file::{Inputs, PlannedState, SaveContext, SavedPlan};
use crate::providers::Registry;
use crate::stack::LoadOptions;
use crate::state::{StateFile, StateStore, StateView};

/// Reads and parses the saved plan in `file`.
pub fn read_saved(file: &Path) -> Result<SavedPlan, SessionError> {
    let bytes = std::fs::read(file)
        .map_err(|e| refused(format!("cannot read {}: {e}", file.display()), None))?;
    SavedPlan::parse(&bytes).map_err(|reason| {
        refused(
            format!("{} is not a cairn plan file: {reason}", file.display()),
            Some("make one with `cairn plan --out FILE`"),
        )
    })
}

/// Why a saved plan no longer applies: nothing was changed.
fn stale(file: &Path, what: &str, reasons: &[String]) -> SessionError {
    refused(
        format!(
            "the saved plan {} no longer applies: {what}: {}; nothing was changed",
            file.display(),
            reasons.join("; ")
        ),
        Some("make a new plan with `cairn plan --out FILE`, review it, and apply that file"),
    )
}

/// Whether the state is still the one the plan was made against, as the reason if not.
fn check_state(planned: &PlannedState, state: &StateFile) -> Result<(), String> {
    if planned.is_new() {
        return match state.serial {
            0 => Ok(()),
            serial if state.lineage == planned.lineage => Err(format!(
                "it was made on an empty state and was applied already (that apply created the state, lineage {}, now at serial {serial})",
                state.lineage
            )),
            serial => Err(format!(
                "it was made on an empty state, and a state was written since (lineage {}, serial {serial})",
                state.lineage
            )),
        };
    }
    if state.lineage != planned.lineage {
        return Err(format!(
            "it was made against the state of lineage {}, and the state is now lineage {} (another state replaced it)",
            planned.lineage, state.lineage
        ));
    }
    if state.serial != planned.serial {
        return Err(format!(
            "the state changed since the plan: serial {} then, {} now (another apply or a state command wrote it)",
            planned.serial, state.serial
        ));
    }
    if let Some(addr) = state.pending.keys().next() {
        return Err(format!(
            "an interrupted apply left the create of {addr} pending; `cairn apply` without a saved plan adopts it"
        ));
    }
    Ok(())
}

impl<'r> Session<'r> {
    /// Writes `plan` (made against `view`) to `out` as a saved plan; no secret goes in it
    /// (see `plan::file`).
    pub fn save_plan(
        &self,
        out: &Path,
        plan: &Plan,
        view: &StateView,
        refresh: bool,
        targets: &[String],
    ) -> Result<(), SessionError> {
        let load = &self.options.load;
        let given_vars = load
            .env_vars
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    k.strip_prefix(crate::stack::VAR_ENV_PREFIX)?.to_owned(),
                    v.clone(),
                ))
            })
            .chain(load.vars.iter().cloned())
            .collect();
        // The key of a state never written is made by its first apply, unless it comes
        // from the environment: only a key the apply will use again can hash sensitive
        // variables.
        let key_kept =
            view.state.serial > 0 || std::env::var_os(crate::state::KEY_ENV_VAR).is_some();
        let saved = SavedPlan::new(
            plan,
            &self.stack,
            SaveContext {
                env_base: load.env_base.as_deref(),
                dir: &self.options.dir,
                state: PlannedState {
                    lineage: view.state.lineage.clone(),
                    serial: view.state.serial,
                },
                hasher: key_kept.then_some(&view.hasher),
                redactor: &view.hasher,
                refresh,
                targets: targets.to_vec(),
                given_vars,
            },
        )
        .map_err(|reason| {
            refused(
                format!("cannot save this plan: {reason}"),
                Some("apply it with `cairn apply` instead of a plan file"),
            )
        })?;
        let bytes = serde_json::to_vec_pretty(&saved)
            .map_err(|e| refused(format!("could not encode the plan: {e}"), None))?;
        std::fs::write(out, bytes).map_err(|e| {
            refused(
                format!("could not write the plan to {}: {e}", out.display()),
                None,
            )
        })
    }

    /// Opens the session a saved plan (read from `file`) was made in: its directory, its
    /// environment, the non-sensitive variables given to `plan` (then `given`'s, so a
    /// different value now is seen, and refused, as a change), and the state `given`
    /// names. Refuses another environment and a changed stack.
    pub fn open_saved(
        registry: &'r Registry,
        file: &Path,
        saved: &SavedPlan,
        given: OpenOptions,
    ) -> Result<Session<'r>, SessionError> {
        for (flag, value, planned) in [
            ("--env", &given.load.env, Some(&saved.env)),
            ("--env-base", &given.load.env_base, saved.env_base.as_ref()),
        ] {
            if value.is_some() && value.as_ref() != planned {
                return Err(refused(
                    format!(
                        "{flag} {} differs from the saved plan's ({})",
                        value.as_deref().unwrap_or_default(),
                        planned.map_or("none", String::as_str)
                    ),
                    Some(
                        "a saved plan applies to the environment it was made for; leave the flag out",
                    ),
                ));
            }
        }
        let options = OpenOptions {
            dir: saved.dir.clone(),
            load: LoadOptions {
                env: Some(saved.env.clone()),
                env_base: saved.env_base.clone(),
                vars: saved.vars.iter().cloned().chain(given.load.vars).collect(),
                env_vars: given.load.env_vars,
            },
            state: given.state,
        };
        let session = Session::open(registry, options)?;
        if session.stack.name != saved.stack {
            return Err(stale(
                file,
                "the stack changed",
                &[format!(
                    "it was made for stack `{}`, {} holds `{}`",
                    saved.stack,
                    saved.dir.display(),
                    session.stack.name
                )],
            ));
        }
        let changed = saved
            .inputs
            .changes_since(&Inputs::of(&session.stack, None));
        if !changed.is_empty() {
            return Err(stale(file, "the stack changed since the plan", &changed));
        }
        Ok(session)
    }

    /// Checks the locked state and the stack's inputs (sensitive variables too, when
    /// the state's key allows) against the saved plan.
    pub fn check_saved(
        &self,
        store: &StateStore,
        file: &Path,
        saved: &SavedPlan,
    ) -> Result<(), SessionError> {
        check_state(&saved.state, store.state())
            .map_err(|reason| stale(file, "the state moved on", &[reason]))?;
        let inputs = Inputs::of(&self.stack, Some(store.hasher()));
        let changed = saved.inputs.changes_since(&inputs);
        if !changed.is_empty() {
            return Err(stale(file, "the stack changed since the plan", &changed));
        }
        if !saved.inputs.sensitive_checked(&inputs) {
            self.notice(Notice::SensitiveUnchecked);
        }
        Ok(())
    }

    /// The plan saved in `saved`, to walk as it is: the apply evaluates from this
    /// session's stack only what the plan did not know.
    pub fn saved_plan(&self, file: &Path, saved: &SavedPlan) -> Result<Plan, SessionError> {
        let Some(executable) = saved.executable.clone() else {
            return Err(stale(
                file,
                "it was made by an older cairn",
                &["it holds no plan to walk".to_owned()],
            ));
        };
        Ok(executable.into_plan(&self.stack.name, &self.stack.env, &saved.state))
    }

    /// Before a saved plan made on an empty state is walked, writes the state with the
    /// lineage the plan reserved: once written, the same file is refused.
    pub fn reserve_lineage(
        &self,
        store: &mut StateStore,
        saved: &SavedPlan,
    ) -> Result<(), SessionError> {
        if saved.state.is_new() {
            let mut reserved = StateFile::new(&self.stack.name, &self.stack.env);
            reserved.lineage = saved.state.lineage.clone();
            reserved.serial = 1;
            store.import(reserved, None)?;
        }
        Ok(())
    }
}
