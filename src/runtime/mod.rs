//! Running a built topology: tasks, bounded queues, shutdown, statistics.

pub mod checkpoints;
mod latency;
mod progress;
mod shutdown;
mod stats;

pub use checkpoints::{CheckpointKey, CheckpointStore, Resume};
pub use latency::{LatencyHistogram, LatencySummary};
pub use progress::ProgressReporter;
pub use shutdown::{Shutdown, ShutdownTrigger, shutdown_on_signals};
pub use stats::{RunStats, StatsSnapshot, peak_rss_bytes, process_cpu_seconds};

/// Batches a queue between two tasks holds. With batches of at most a few thousand records this
/// bounds memory whatever the input size, and a full queue is what makes a fast producer wait.
pub const QUEUE_BATCHES: usize = 8;

/// How a run behaves, independent of what the topology contains.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Stop once every source has drained its bounded input (files read to their end, a Kafka
    /// group caught up with the high watermarks read at start), instead of following new data.
    pub until_idle: bool,
    /// Print a progress line on stderr this often; `None` for silence.
    pub progress_interval: Option<std::time::Duration>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            until_idle: true,
            progress_interval: None,
        }
    }
}
