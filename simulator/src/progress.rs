//! Progress of a long run: a bar on a terminal, periodic lines otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How often a non-terminal run prints a progress line.
const LINE_INTERVAL: Duration = Duration::from_secs(5);

/// Reports how many events were sent and acknowledged so far.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    lines: bool,
    start: Instant,
    last_line: Instant,
}

impl Progress {
    /// A bar when stderr is a terminal and `enabled`, else periodic lines.
    pub fn new(enabled: bool, total: Option<u64>) -> Self {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = total.map_or_else(ProgressBar::no_length, ProgressBar::new);
            let template =
                "{elapsed_precise} [{bar:40}] {human_pos}/{human_len} events ({per_sec}) {msg}";
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        let now = Instant::now();
        Self { lines: enabled && bar.is_none(), bar, start: now, last_line: now }
    }

    /// Records the current counts.
    pub fn update(&mut self, sent: u64, acknowledged: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(sent);
            bar.set_message(format!("acked {acknowledged}"));
        } else if self.lines && self.last_line.elapsed() >= LINE_INTERVAL {
            self.last_line = Instant::now();
            let secs = self.start.elapsed().as_secs_f64();
            tracing::info!(sent, acknowledged, rate = (sent as f64 / secs) as u64, "producing");
        }
    }

    /// Clears the bar at the end of the run.
    pub fn finish(&mut self, sent: u64, acknowledged: u64) {
        if let Some(bar) = self.bar.take() {
            bar.set_position(sent);
            bar.finish_with_message(format!("acked {acknowledged}"));
        }
    }
}
