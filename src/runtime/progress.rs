//! The progress line a long run prints, so an operator sees at a glance that data moves.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::stats::{RunStats, StatsSnapshot};

pub struct ProgressReporter {
    stats: Arc<RunStats>,
    started: Instant,
    last: StatsSnapshot,
    last_at: Instant,
}

impl ProgressReporter {
    pub fn new(stats: Arc<RunStats>) -> Self {
        let now = Instant::now();
        ProgressReporter {
            stats,
            started: now,
            last: StatsSnapshot::default(),
            last_at: now,
        }
    }

    /// One line: rates since the previous line, totals since the start.
    pub fn line(&mut self) -> String {
        let now = Instant::now();
        let current = self.stats.snapshot();
        let seconds = now.duration_since(self.last_at).as_secs_f64().max(1e-9);
        let rate = |new: u64, old: u64| (new.saturating_sub(old)) as f64 / seconds;
        let line = format!(
            "progress: in {}/s, out {}/s, dead {}/s | totals: in {}, out {}, dead {}, commits {} | {:.0}s",
            human(rate(current.records_in, self.last.records_in)),
            human(rate(current.records_out, self.last.records_out)),
            human(rate(current.dead_letters, self.last.dead_letters)),
            current.records_in,
            current.records_out,
            current.dead_letters,
            current.commits,
            now.duration_since(self.started).as_secs_f64(),
        );
        self.last = current;
        self.last_at = now;
        line
    }

    /// Prints a line every `interval` until the task is dropped.
    pub async fn run(mut self, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            eprintln!("{}", self.line());
        }
    }
}

fn human(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.2}M", rate / 1e6)
    } else if rate >= 1e3 {
        format!("{:.1}k", rate / 1e3)
    } else {
        format!("{rate:.0}")
    }
}
