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

/// What a source's records carry, known before it runs: the topology builder checks the
/// components downstream against it (a `topics` transform naming a topic no source reads would
/// receive nothing; a Kafka sink cannot forward headers a source does not read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordOrigin {
    pub topics: RecordTopics,
    /// Whether records leave behind the headers their messages had (a Kafka source with
    /// `headers = false`); records of sources without headers have none to leave.
    pub headers_dropped: bool,
}

/// The Kafka topics a source's records can come from ([`crate::dsl::PartitionId::kafka_topic`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordTopics {
    /// Records carry no topic (line files).
    None,
    /// Records carry one of these.
    Named(Vec<String>),
    /// Known only once running: a regular-expression subscription, an archive's folders.
    Unknown,
}

pub trait Source: Send + 'static {
    /// One line for `laketide check` and logs.
    fn describe(&self) -> String;

    fn origin(&self) -> RecordOrigin;

    /// Reads until the input is drained (with `until_idle`) or shutdown is triggered, then
    /// returns; dropping the output is what ends the stream downstream.
    fn run(self: Box<Self>, ctx: SourceContext) -> BoxFuture<'static, anyhow::Result<()>>;
}

impl Source for Box<dyn Source> {
    fn describe(&self) -> String {
        self.as_ref().describe()
    }

    fn origin(&self) -> RecordOrigin {
        self.as_ref().origin()
    }

    fn run(self: Box<Self>, ctx: SourceContext) -> BoxFuture<'static, anyhow::Result<()>> {
        (*self).run(ctx)
    }
}
