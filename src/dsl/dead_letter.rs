//! Records that an operator could not process. They are data, not log lines: every one is
//! written to a table with its bytes and position so it can be inspected and replayed.

use std::sync::Arc;

use bytes::Bytes;

use super::record::Position;

#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// The record's bytes exactly as the source read them (valid UTF-8 or not).
    pub raw: Bytes,
    pub position: Position,
    /// The operator that rejected the record (its name in the topology).
    pub stage: Arc<str>,
    pub error: String,
    /// Microseconds since the Unix epoch, UTC.
    pub failed_at: i64,
}

/// Current time in microseconds since the Unix epoch, the unit of every timestamp column.
pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
