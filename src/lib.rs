//! laketide: Kafka-Streams-style stream processing into Delta Lake tables.
//!
//! Layers, from the bottom: [`dsl`] (typed streams and operators) and [`runtime`] (tasks,
//! queues, checkpoints, shutdown) are generic; [`sources`] and [`sinks`] connect them to files,
//! brokers and tables; [`json`] reads flat JSON events fast; [`topology`] builds the same
//! graphs from TOML files; [`pinterest`] is
//! the reference domain, one user of all of the above; [`cli`] is the `laketide` binary.

pub mod cli;
pub mod dsl;
pub mod json;
pub mod kafka;
pub mod pinterest;
pub mod runtime;
pub mod sinks;
pub mod sources;
pub mod topology;
pub mod units;

/// The names a typed topology usually needs.
pub mod prelude {
    pub use crate::dsl::{DeadLetter, FieldValue, Fields, Record, Stream, Topology};
    pub use crate::runtime::{RunOptions, Shutdown, ShutdownTrigger};
    pub use crate::sinks::{DeltaSink, DeltaSinkConfig, Row, RowBuilder};
    pub use crate::sources::{FileSource, FileSourceConfig};
}
