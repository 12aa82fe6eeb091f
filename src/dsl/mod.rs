//! The typed operator DSL: build a [`Topology`] from a source, chain operators on typed
//! [`Stream`]s, end in sinks, then run it.
//!
//! The DSL knows nothing of any particular domain; record types plug in through
//! [`crate::sinks::Row`] (to be written to tables) and [`Fields`] (to be filtered by name).

mod dead_letter;
mod fields;
mod record;
mod stream;
mod topology;

pub use dead_letter::{DeadLetter, now_micros};
pub use fields::{FieldValue, Fields};
pub use record::{
    Barrier, Batch, Header, OffsetUnit, Partition, PartitionId, Position, Progress, Record,
};
pub use stream::Stream;
pub use topology::{RunSummary, Topology};
