//! Sources: where records enter a topology. Every source emits raw bytes with positions and
//! resumes each of its partitions after what the sinks downstream have committed.

pub mod file;
pub mod kafka;
mod lines;

use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use tokio::sync::mpsc;

use crate::dsl::Batch;
use crate::runtime::{Resume, RunStats, Shutdown};

pub use file::{FileLayout, FileSource, FileSourceConfig};
pub use kafka::{KafkaSource, KafkaSourceConfig};

/// Everything a running source is handed by the runtime.
pub struct SourceContext {
    pub name: Arc<str>,
    pub output: mpsc::Sender<Batch<Bytes>>,
    pub resume: Resume,
    pub shutdown: Shutdown,
    pub until_idle: bool,
    pub stats: Arc<RunStats>,
}

pub trait Source: Send + 'static {
    /// One line for `laketide check` and logs.
    fn describe(&self) -> String;

    /// Reads until the input is drained (with `until_idle`) or shutdown is triggered, then
    /// returns; dropping the output is what ends the stream downstream.
    fn run(self: Box<Self>, ctx: SourceContext) -> BoxFuture<'static, anyhow::Result<()>>;
}

impl Source for Box<dyn Source> {
    fn describe(&self) -> String {
        self.as_ref().describe()
    }

    fn run(self: Box<Self>, ctx: SourceContext) -> BoxFuture<'static, anyhow::Result<()>> {
        (*self).run(ctx)
    }
}
