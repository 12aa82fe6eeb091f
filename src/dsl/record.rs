//! What flows between operators: records with their metadata, grouped in batches.
//!
//! Operators work on batches rather than single records so that per-record costs are plain
//! function calls: channel hand-offs, task wake-ups and progress bookkeeping happen once per
//! batch (hundreds to thousands of records), not once per record.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use bytes::Bytes;

/// How offsets within a partition are counted; decides how a position is displayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OffsetUnit {
    /// 1-based line number in a file (`pin.jsonl:17`).
    Line,
    /// Broker-assigned offset (`topic/3@42`).
    Offset,
}

/// An ordered, independently resumable slice of a source: one file, one Kafka partition, one
/// Kinesis shard. Offsets grow within a partition; exactly-once bookkeeping is per partition.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PartitionId {
    /// Name of the source in the topology that reads this partition.
    pub source: Arc<str>,
    /// Stable name of the partition within the source (relative file path, `topic/partition`).
    /// It is part of the checkpoint key, so it must not depend on the working directory.
    pub name: Arc<str>,
    pub unit: OffsetUnit,
}

impl PartitionId {
    /// The Kafka topic of a partition named `topic/partition` (a broker's, or a Kafka Connect
    /// archive's); `None` for line files.
    pub fn kafka_topic(&self) -> Option<&str> {
        match self.unit {
            OffsetUnit::Offset => self.name.rsplit_once('/').map(|(topic, _)| topic),
            OffsetUnit::Line => None,
        }
    }
}

/// Cheap to clone: every record of a partition shares one allocation.
pub type Partition = Arc<PartitionId>;

/// Where a record came from: enough to find it again and to resume after it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Position {
    pub partition: Partition,
    pub offset: i64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.partition.unit {
            OffsetUnit::Line => write!(f, "{}:{}", self.partition.name, self.offset),
            OffsetUnit::Offset => write!(f, "{}@{}", self.partition.name, self.offset),
        }
    }
}

/// One event with its metadata. `raw` keeps the bytes exactly as the source read them, so a
/// record that fails at any later stage can still be written to dead letters verbatim.
#[derive(Debug, Clone)]
pub struct Record<T> {
    pub value: T,
    pub key: Option<Bytes>,
    /// Event time in microseconds since the Unix epoch, when the source or an operator knows it.
    pub timestamp: Option<i64>,
    /// Broker headers (Kafka); empty for sources without them.
    pub headers: Vec<Header>,
    pub position: Position,
    pub raw: Bytes,
    /// When the record entered the system, in microseconds since the Unix epoch: the
    /// producer's timestamp where the source carries one (Kafka), else when the source read it.
    /// Operators keep it as it is; end-to-end latency runs from here to the commit.
    pub ingest_time: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub key: String,
    pub value: Option<Bytes>,
}

impl<T> Record<T> {
    /// The value, and the record's metadata without it (to attach to a new value).
    pub fn split_value(self) -> (T, Record<()>) {
        let Record {
            value,
            key,
            timestamp,
            headers,
            position,
            raw,
            ingest_time,
        } = self;
        (
            value,
            Record {
                value: (),
                key,
                timestamp,
                headers,
                position,
                raw,
                ingest_time,
            },
        )
    }

    /// The same record carrying another value; metadata is kept.
    pub fn with_value<U>(self, value: U) -> Record<U> {
        Record {
            value,
            key: self.key,
            timestamp: self.timestamp,
            headers: self.headers,
            position: self.position,
            raw: self.raw,
            ingest_time: self.ingest_time,
        }
    }
}

/// "Every record of `partition` up to `offset` has been emitted" (in this batch or earlier).
/// Sinks commit these marks with their data; sources resume after them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub partition: Partition,
    pub offset: i64,
}

/// A group of records plus the progress they complete.
///
/// A batch may hold no records and still carry progress: a filter that drops everything must
/// still tell the sinks downstream that those offsets are done, or they would hold the
/// source's resume position back forever.
#[derive(Debug)]
pub struct Batch<T> {
    pub records: Vec<Record<T>>,
    pub progress: Vec<Progress>,
    /// Which input of a union this batch came through (`None` outside unions). Checkpoints are
    /// kept per lane, because two lanes can carry the same source partition at different paces.
    pub lane: Option<Arc<str>>,
    /// Asks every checkpointing sink to commit now and acknowledge (see [`Barrier`]).
    pub barrier: Option<Barrier>,
}

/// "Commit everything you have received so far, then tell me." A source sends one before it
/// gives partitions up (a Kafka rebalance) or stops, and waits until every checkpointing sink
/// it feeds has acknowledged, so the next owner of a partition resumes after all of it.
#[derive(Debug, Clone)]
pub struct Barrier {
    acks: Arc<(Mutex<usize>, Condvar)>,
}

impl Barrier {
    pub fn new() -> Self {
        Barrier {
            acks: Arc::new((Mutex::new(0), Condvar::new())),
        }
    }

    /// Called by a sink once it has committed everything received before the barrier.
    pub fn acknowledge(&self) {
        let (count, signal) = &*self.acks;
        *count.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        signal.notify_all();
    }

    /// Blocks until `expected` acknowledgements arrived; false on timeout.
    pub fn wait(&self, expected: usize, timeout: Duration) -> bool {
        let (count, signal) = &*self.acks;
        let guard = count.lock().unwrap_or_else(|p| p.into_inner());
        signal
            .wait_timeout_while(guard, timeout, |acks| *acks < expected)
            .map(|(acks, _)| *acks >= expected)
            .unwrap_or(false)
    }
}

impl Default for Barrier {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Batch<T> {
    pub fn new(records: Vec<Record<T>>, progress: Vec<Progress>) -> Self {
        Batch {
            records,
            progress,
            lane: None,
            barrier: None,
        }
    }

    /// A batch with the same progress and lane but other records.
    pub fn with_records<U>(&self, records: Vec<Record<U>>) -> Batch<U> {
        Batch {
            records,
            progress: self.progress.clone(),
            lane: self.lane.clone(),
            barrier: self.barrier.clone(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.progress.is_empty() && self.barrier.is_none()
    }
}
