//! Kafka plumbing shared by the source, the sink, the emulator and the demo: an embedded
//! broker, producer settings, and sending emulated records.

mod embedded;
mod produce;

pub use embedded::EmbeddedBroker;
pub use produce::{ProduceReport, produce_triples, producer_config};
