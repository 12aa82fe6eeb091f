//! Sinks: where records leave a topology.

pub mod dead_letters;
pub mod delta;
pub mod kafka;
mod row;

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::BoxStream;

use crate::dsl::Batch;
use crate::runtime::{CheckpointStore, RunStats};

pub use delta::{DeltaSink, DeltaSinkConfig};
pub use kafka::{KafkaSink, KafkaSinkConfig};
pub use row::{Row, RowBuilder, finish_primitive, finish_text};

/// A sink setting that cannot work, with the key it is under, so that a topology file's error
/// points at the line to fix.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct InvalidSetting {
    pub key: &'static str,
    pub message: String,
}

/// Everything a running sink is handed by the runtime.
pub struct SinkContext {
    pub name: Arc<str>,
    pub stats: Arc<RunStats>,
}

pub trait Sink<T>: Send + 'static {
    /// One line for `laketide check` and logs.
    fn describe(&self) -> String;

    /// Where this sink commits source offsets with its data; `None` for a sink that does not
    /// (its output is then at-least-once and it does not hold sources back).
    fn checkpoints(&self) -> Option<Arc<dyn CheckpointStore>>;

    /// Consumes the input until it ends, then flushes and commits everything buffered.
    fn run(
        self: Box<Self>,
        input: BoxStream<'static, Batch<T>>,
        ctx: SinkContext,
    ) -> BoxFuture<'static, anyhow::Result<()>>;
}
