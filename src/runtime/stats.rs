//! Run-wide counters. They feed the progress line and the end-of-run summary; the same events
//! also go to the `metrics` facade (per component, with labels) for whatever exporter is set up.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::latency::{LatencyHistogram, LatencySummary};

#[derive(Debug, Default)]
pub struct RunStats {
    records_in: AtomicU64,
    records_out: AtomicU64,
    dead_letters: AtomicU64,
    commits: AtomicU64,
    /// Ingest to commit, over every committed row; sinks merge theirs in once per commit.
    latency: Mutex<LatencyHistogram>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatsSnapshot {
    pub records_in: u64,
    pub records_out: u64,
    pub dead_letters: u64,
    pub commits: u64,
}

impl RunStats {
    pub fn read(&self, source: &str, records: u64) {
        self.records_in.fetch_add(records, Ordering::Relaxed);
        metrics::counter!("laketide_records_in_total", "source" => source.to_owned())
            .increment(records);
        metrics::histogram!("laketide_source_batch_records", "source" => source.to_owned())
            .record(records as f64);
    }

    pub fn written(&self, sink: &str, records: u64) {
        self.records_out.fetch_add(records, Ordering::Relaxed);
        metrics::counter!("laketide_records_out_total", "sink" => sink.to_owned())
            .increment(records);
    }

    pub fn dead(&self, stage: &str, records: u64) {
        self.dead_letters.fetch_add(records, Ordering::Relaxed);
        metrics::counter!("laketide_dead_letters_total", "stage" => stage.to_owned())
            .increment(records);
    }

    pub fn committed(&self, sink: &str, seconds: f64) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("laketide_commits_total", "sink" => sink.to_owned()).increment(1);
        metrics::histogram!("laketide_commit_seconds", "sink" => sink.to_owned()).record(seconds);
    }

    /// Adds the ingest-to-commit latencies of one commit's rows.
    pub fn committed_latencies(&self, latencies: &LatencyHistogram) {
        self.latency
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .merge(latencies);
    }

    pub fn latency(&self) -> LatencySummary {
        self.latency
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .summary()
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            records_in: self.records_in.load(Ordering::Relaxed),
            records_out: self.records_out.load(Ordering::Relaxed),
            dead_letters: self.dead_letters.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
        }
    }
}

/// CPU time (user + system) this process has used, in seconds; `None` where `/proc` is absent.
/// Linux reports it in USER_HZ ticks, which are 1/100 s on every architecture.
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may contain spaces: fields start after its closing parenthesis.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / 100.0)
}

/// The most resident memory this process has had (VmHWM), in bytes; `None` where `/proc` is absent.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
