//! Live apply progress. On a terminal: one spinner line per resource in flight with its
//! elapsed time and the provider's latest message. Otherwise (CI logs): plain lines, a
//! start and an end line per resource and at most one progress line every 30 s each.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Printer, duration};
use crate::addr::ResourceAddr;
use crate::apply::ApplyObserver;
use crate::plan::Action;

/// How often a plain progress line may repeat for one resource.
const PLAIN_INTERVAL: Duration = Duration::from_secs(30);

struct InFlight {
    verb: &'static str,
    started: Instant,
    last_line: Instant,
    /// The provider's latest message, repeated by heartbeat lines.
    last_message: String,
    bar: Option<ProgressBar>,
}

/// The [`ApplyObserver`] the CLI uses.
pub struct ApplyProgress {
    printer: Printer,
    multi: Option<MultiProgress>,
    in_flight: Mutex<HashMap<ResourceAddr, InFlight>>,
}

impl ApplyProgress {
    /// Spinners when stdout is a terminal, plain lines otherwise.
    pub fn new(printer: Printer) -> Self {
        let multi = printer
            .stdout_tty
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stdout()));
        ApplyProgress {
            printer,
            multi,
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    fn line(&self, text: &str) {
        match &self.multi {
            Some(multi) => {
                if multi.println(text).is_err() {
                    self.printer.out(text);
                }
            }
            None => self.printer.out(text),
        }
    }
}

fn done_phrase(action: Action) -> &'static str {
    match action {
        Action::Create | Action::DeleteThenCreate | Action::CreateThenDelete => "creation complete",
        Action::Update => "modifications complete",
        Action::Delete => "destruction complete",
        Action::NoOp => "complete",
    }
}

impl ApplyObserver for ApplyProgress {
    fn started(&self, addr: &ResourceAddr, verb: &'static str) {
        let now = Instant::now();
        let bar = self.multi.as_ref().map(|multi| {
            let bar = multi.add(ProgressBar::new_spinner());
            if let Ok(style) = ProgressStyle::with_template("{spinner} {prefix}: {msg} [{elapsed}]")
            {
                bar.set_style(style);
            }
            bar.set_prefix(addr.to_string());
            bar.set_message(format!("{verb}..."));
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        if bar.is_none() {
            self.line(&format!("{addr}: {verb}..."));
        }
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        in_flight.insert(
            addr.clone(),
            InFlight {
                verb,
                started: now,
                last_line: now,
                last_message: String::new(),
                bar,
            },
        );
    }

    fn progress(&self, addr: &ResourceAddr, message: &str) {
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(entry) = in_flight.get_mut(addr) else {
            return;
        };
        message.clone_into(&mut entry.last_message);
        match &entry.bar {
            Some(bar) => bar.set_message(format!("{}... {message}", entry.verb)),
            None => {
                if entry.last_line.elapsed() >= PLAIN_INTERVAL {
                    entry.last_line = Instant::now();
                    let text = format!(
                        "{addr}: {}... [{}] {message}",
                        entry.verb,
                        duration(entry.started.elapsed())
                    );
                    drop(in_flight);
                    self.line(&text);
                }
            }
        }
    }

    /// A line that stays (above the spinners on a terminal), unlike a status.
    fn warning(&self, addr: &ResourceAddr, message: &str) {
        self.line(&format!("{addr}: warning: {message}"));
    }

    fn finished(&self, addr: &ResourceAddr, action: Action, elapsed: Duration, id: Option<String>) {
        let entry = self
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(addr);
        if let Some(bar) = entry.and_then(|e| e.bar) {
            bar.finish_and_clear();
        }
        let id = id
            .filter(|_| action != Action::Delete)
            .map(|id| format!(" [id={id}]"))
            .unwrap_or_default();
        self.line(&format!(
            "{addr}: {} after {}{id}",
            done_phrase(action),
            duration(elapsed)
        ));
    }

    fn heartbeat(&self) {
        if self.multi.is_some() {
            return;
        }
        let mut lines = Vec::new();
        {
            let mut in_flight = self
                .in_flight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (addr, entry) in in_flight.iter_mut() {
                if entry.last_line.elapsed() >= PLAIN_INTERVAL {
                    entry.last_line = Instant::now();
                    lines.push(format!(
                        "{addr}: still {}... [{} elapsed] {}",
                        entry.verb,
                        duration(entry.started.elapsed()),
                        entry.last_message
                    ));
                }
            }
        }
        lines.sort();
        for line in lines {
            self.line(line.trim_end());
        }
    }

    fn failed(&self, addr: &ResourceAddr, elapsed: Duration) {
        let entry = self
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(addr);
        if let Some(bar) = entry.and_then(|e| e.bar) {
            bar.finish_and_clear();
        }
        self.line(&format!(
            "{addr}: failed after {} (error below)",
            duration(elapsed)
        ));
    }
}
