//! The sink's loop: dedupe against committed offsets, build columns, stream Parquet, commit.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use deltalake::DeltaTable;
use deltalake::arrow::array::{ArrayRef, Int64Builder, RecordBatch, StringBuilder};
use deltalake::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use deltalake::kernel::Transaction;
use deltalake::parquet::basic::Encoding;
use deltalake::parquet::file::properties::{EnabledStatistics, WriterProperties};
use deltalake::parquet::schema::types::ColumnPath;
use deltalake::protocol::{DeltaOperation, OutputMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use futures::StreamExt;
use futures::stream::BoxStream;

use super::DeltaSinkConfig;
use super::checkpoints::DeltaCheckpoints;
use super::log::DeltaLog;
use super::sort::{SortBuffer, SortKey};
use super::table::{TableLocation, open_or_create};
use crate::dsl::{Batch, FieldValue, Partition, now_micros};
use crate::runtime::{CheckpointKey, LatencyHistogram};
use crate::sinks::{Row, RowBuilder, SinkContext, finish_primitive, finish_text};

/// Rows per Arrow batch handed to the Parquet writer: large enough for good column chunks,
/// small enough that building columns does not hold much memory.
const ARROW_BATCH_ROWS: usize = 16 * 1024;
/// With `bucket_by`: the buffers rows wait in, and the rows a buffer holds before it is handed
/// to the writer. The Parquet writer looks every value of a text column up in the row group's
/// dictionary, and on event data those lookups were a third of a file pipeline's CPU: the
/// dictionaries are megabytes, so each lookup missed the cache. A buffer's rows share a
/// sixteenth of the key's values, so a batch of them looks up few distinct values, which stay
/// in cache. What counts is the rows held in all (32k, twice an unbucketed sink's batch): the
/// more, the more often a value recurs within one buffer's batch (BENCHMARKS.md).
const BUCKETS: usize = 16;
const BUCKET_ROWS: usize = 2 * 1024;
/// Rows per Parquet row group. The writer holds a row group in memory until it is complete,
/// where `max_bytes` cannot see it: Parquet's default of a million rows would let a sink hold
/// a million encoded rows whatever `max_bytes` says.
const ROW_GROUP_ROWS: usize = 128 * 1024;

pub(super) async fn run<T: Row>(
    config: DeltaSinkConfig,
    sort_key: Option<SortKey>,
    bucket_column: Option<usize>,
    location: TableLocation,
    checkpoints: Arc<DeltaCheckpoints>,
    mut input: BoxStream<'static, Batch<T>>,
    ctx: SinkContext,
) -> anyhow::Result<()> {
    let schema = table_schema::<T>(config.position_columns);
    let table = open_or_create(
        &location,
        &ctx.name,
        &schema,
        config.stats_columns.as_deref(),
    )
    .await?;
    let mut state = SinkState::<T>::new(
        config,
        sort_key,
        bucket_column,
        location,
        table,
        checkpoints,
        ctx,
    )?;
    loop {
        let next = match state.deadline {
            Some(deadline) => tokio::select! {
                next = input.next() => Some(next),
                _ = tokio::time::sleep_until(deadline.into()) => None,
            },
            None => Some(input.next().await),
        };
        match next {
            Some(Some(batch)) => {
                let barrier = batch.barrier.clone();
                state.absorb(batch).await?;
                if let Some(barrier) = barrier {
                    state.commit().await?;
                    barrier.acknowledge();
                }
            }
            Some(None) => break,
            None => state.commit().await?,
        }
        if state.full() {
            state.commit().await?;
        }
    }
    state.commit().await?;
    state.log.finish().await;
    Ok(())
}

/// How the sink encodes Parquet for a table of `schema` whose log keeps statistics for
/// `stats_columns` (public so benchmarks measure the same encoding).
pub fn writer_properties(
    config: &DeltaSinkConfig,
    schema: &Schema,
    stats_columns: &[String],
) -> WriterProperties {
    statistics_only_for(encoding(config), stats_columns, schema)
}

fn encoding(config: &DeltaSinkConfig) -> WriterProperties {
    let builder = WriterProperties::builder()
        .set_compression(config.compression)
        .set_dictionary_page_size_limit(
            usize::try_from(config.dictionary_page_size).unwrap_or(usize::MAX),
        )
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS));
    // Offsets are all distinct, so a dictionary of them only adds a lookup per row and then
    // falls back. In arrival order they rise by one within each run of a partition's
    // messages, which delta encoding stores in a few bits per row (tables 3% smaller,
    // measured before `bucket_by`, BENCHMARKS.md). With `bucket_by` a buffer interleaves
    // runs of several partitions, and the column takes about 10 bits per row (BENCHMARKS.md).
    let offsets = ColumnPath::from(SOURCE_OFFSET);
    builder
        .set_column_dictionary_enabled(offsets.clone(), false)
        .set_column_encoding(offsets, Encoding::DELTA_BINARY_PACKED)
        .build()
}

/// The top-level columns whose statistics deltalake puts in the Delta log, as it chooses them
/// (`RecordBatchWriter`, `writer::stats`): those named by the table's
/// `delta.dataSkippingStatsColumns`, else its first `delta.dataSkippingNumIndexedCols` (32)
/// columns that are not partition columns (which the files leave out, and which take no slot).
fn logged_stats_columns(
    schema: &Schema,
    configuration: &HashMap<String, String>,
    partition_columns: &[String],
) -> Vec<String> {
    const DEFAULT_INDEXED_COLUMNS: usize = 32;
    let names = schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|name| !partition_columns.contains(name));
    match configuration.get("delta.dataSkippingStatsColumns") {
        Some(list) => {
            // deltalake reads each entry as an SQL identifier, quotes allowed.
            let wanted: Vec<&str> = list
                .split(',')
                .map(|c| c.trim().trim_matches(|q| q == '`' || q == '"'))
                .collect();
            names.filter(|n| wanted.contains(&n.as_str())).collect()
        }
        None => {
            let indexed = configuration
                .get("delta.dataSkippingNumIndexedCols")
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(DEFAULT_INDEXED_COLUMNS);
            names.take(indexed).collect()
        }
    }
}

/// `properties` without Parquet statistics for the flat columns outside `keep`. The Delta log
/// keeps the statistics of its columns only, and readers that skip files do so by the log;
/// what is lost is skipping row groups and pages by those columns inside a file, which
/// Parquet readers do (the `sort_by` columns, where that pays, are kept). Each value costs a
/// comparison with the running minimum and maximum, for long text a long `memcmp`
/// (BENCHMARKS.md). Nested columns keep theirs: their leaves have paths of their own.
fn statistics_only_for(
    properties: WriterProperties,
    keep: &[String],
    schema: &Schema,
) -> WriterProperties {
    let mut builder = properties.into_builder();
    for field in schema.fields() {
        if !field.data_type().is_nested() && !keep.contains(field.name()) {
            builder = builder.set_column_statistics_enabled(
                ColumnPath::from(field.name().as_str()),
                EnabledStatistics::None,
            );
        }
    }
    builder.build()
}

/// The position columns' names (`position_columns`).
const SOURCE_PARTITION: &str = "_source_partition";
const SOURCE_OFFSET: &str = "_source_offset";

pub(super) fn table_schema<T: Row>(position_columns: bool) -> Schema {
    let row = T::schema();
    let mut fields: Vec<Field> = row.fields().iter().map(|f| f.as_ref().clone()).collect();
    if position_columns {
        fields.push(Field::new(SOURCE_PARTITION, DataType::Utf8, true));
        fields.push(Field::new(SOURCE_OFFSET, DataType::Int64, true));
    }
    Schema::new(fields)
}

/// Rows waiting to be handed to the Parquet writer, as columns.
struct RowBuffer<T: Row> {
    rows: T::Builder,
    /// The rows' positions, when the table has position columns.
    positions: Option<PositionBuilder>,
}

/// The position columns: each row's source partition and offset.
struct PositionBuilder {
    partitions: StringBuilder,
    offsets: Int64Builder,
}

impl<T: Row> RowBuffer<T> {
    /// Sized for `capacity` rows.
    fn new(capacity: usize, position_columns: bool) -> Self {
        RowBuffer {
            rows: T::builder(capacity),
            positions: position_columns.then(|| PositionBuilder {
                // A guess at a partition's name (`topic/partition`, or a file's path); the
                // builder keeps the real size after its first batch (`finish`).
                partitions: StringBuilder::with_capacity(capacity, capacity * 32),
                offsets: Int64Builder::with_capacity(capacity),
            }),
        }
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    fn byte_size(&self) -> usize {
        self.rows.byte_size()
    }

    /// The rows as a batch of `schema`; the buffer is empty afterwards.
    fn finish(&mut self, schema: &SchemaRef) -> anyhow::Result<RecordBatch> {
        let mut columns: Vec<ArrayRef> = self.rows.finish();
        if let Some(positions) = &mut self.positions {
            columns.push(finish_text(&mut positions.partitions));
            columns.push(finish_primitive(&mut positions.offsets));
        }
        RecordBatch::try_new(schema.clone(), columns)
            .context("the record type built columns that do not match its schema")
    }
}

/// A buffer's rows are handed to the Parquet writer once it holds this many.
fn buffer_rows(bucket_column: Option<usize>) -> usize {
    if bucket_column.is_some() {
        BUCKET_ROWS
    } else {
        ARROW_BATCH_ROWS
    }
}

/// The buffer (of `buckets`) for a row whose `bucket_by` column holds `value`.
fn bucket_of(value: FieldValue<'_>, buckets: usize) -> usize {
    let key = match value {
        FieldValue::Null => 0,
        FieldValue::Bool(b) => u64::from(b),
        FieldValue::Int(v) | FieldValue::Timestamp(v) => v as u64,
        // Values that compare equal share a bucket: 0.0 and -0.0, and every NaN.
        FieldValue::Float(0.0) => 0,
        FieldValue::Float(f) if f.is_nan() => f64::NAN.to_bits(),
        FieldValue::Float(f) => f.to_bits(),
        // FNV-1a: short keys, and no need to resist chosen input.
        FieldValue::Str(s) => s.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        }),
    };
    // Fibonacci hashing: the top bits of the product mix every bit of the key, so consecutive
    // ids spread over all buffers; the bucket is taken from the top bits (multiply and shift).
    let mixed = key.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((u128::from(mixed) * buckets as u128) >> 64) as usize
}

struct SinkState<T: Row> {
    config: DeltaSinkConfig,
    location: TableLocation,
    log: DeltaLog,
    writer: RecordBatchWriter,
    /// The table's schema as Arrow, which every batch must match exactly.
    arrow_schema: SchemaRef,
    checkpoints: Arc<DeltaCheckpoints>,
    ctx: SinkContext,
    /// One buffer, or `BUCKETS` with `bucket_by`.
    buffers: Vec<RowBuffer<T>>,
    /// `bucket_by`'s index in the row's fields.
    bucket_column: Option<usize>,
    /// With `sort_by`: built batches waiting to be sorted into a row group.
    unsorted: Option<SortBuffer>,
    /// Rows written to the Parquet writer since the last commit.
    rows_uncommitted: usize,
    /// Offsets the table holds, per checkpoint key, as far as this sink knows.
    committed: HashMap<CheckpointKey, Option<i64>>,
    /// Offsets the next commit completes.
    pending: HashMap<CheckpointKey, i64>,
    /// The lowest offset of the rows buffered since the last commit, per key: if another
    /// writer has committed that far meanwhile, committing would duplicate rows.
    first_buffered: HashMap<CheckpointKey, i64>,
    /// Ingest times of the rows since the last commit, run-length encoded (rows of one source
    /// batch share theirs), for the latency measured at commit.
    ingest_times: Vec<(i64, u64)>,
    /// When the oldest uncommitted record or progress must be committed at the latest.
    deadline: Option<Instant>,
    epoch: i64,
}

impl<T: Row> SinkState<T> {
    fn new(
        config: DeltaSinkConfig,
        sort_key: Option<SortKey>,
        bucket_column: Option<usize>,
        location: TableLocation,
        table: DeltaTable,
        checkpoints: Arc<DeltaCheckpoints>,
        ctx: SinkContext,
    ) -> anyhow::Result<Self> {
        let schema = table_schema::<T>(config.position_columns);
        let logged = {
            let metadata = table.snapshot()?.metadata();
            logged_stats_columns(
                &schema,
                metadata.configuration(),
                metadata.partition_columns(),
            )
        };
        if let Some(wanted) = &config.stats_columns
            && !(wanted.iter().all(|c| logged.contains(c))
                && logged.iter().all(|c| wanted.contains(c)))
        {
            let kept = if logged.is_empty() {
                "no column".to_owned()
            } else {
                logged.join(", ")
            };
            tracing::warn!(
                "{}: the table at {location} keeps statistics for {kept}, not the sink's \
                 stats_columns, which applies when the sink creates a table; to change the \
                 table's, set its delta.dataSkippingStatsColumns (ALTER TABLE ... SET \
                 TBLPROPERTIES) while nothing writes to it, or write to a new table",
                ctx.name,
            );
        }
        // Readers also skip row groups by the Parquet statistics of the columns they are
        // sorted by.
        let mut with_statistics = logged;
        with_statistics.extend(config.sort_by.iter().cloned());
        let mut properties = writer_properties(&config, &schema, &with_statistics);
        let mut file_size = config.target_file_size;
        if let Some(key) = &sort_key {
            if !table.snapshot()?.metadata().partition_columns().is_empty() {
                // The files of a partitioned table leave out its partition columns, so the
                // sort columns' positions in the files are not their positions in the schema.
                anyhow::bail!(
                    "sort_by: the table at {location} is partitioned; sort_by works on tables \
                     without partition columns"
                );
            }
            properties = properties
                .into_builder()
                .set_sorting_columns(Some(key.sorting_columns()))
                .build();
            // The writer rolls files at `target_file_size` wherever the size lands, inside a
            // write: a sorted row group would be cut in two, and the next file's row groups
            // would each hold the end of one sorted run and the start of another. So the
            // writer never rolls (0: no target), and the sink commits, which ends the file,
            // once the file reaches the target (`full`).
            file_size = 0;
        }
        let writer = RecordBatchWriter::for_table(&table)?
            .with_target_file_size(file_size)
            .with_writer_properties(properties);
        let arrow_schema = writer.arrow_schema();
        let buckets = if bucket_column.is_some() { BUCKETS } else { 1 };
        let log = DeltaLog::new(location.clone(), table)?;
        Ok(SinkState {
            buffers: (0..buckets)
                .map(|_| RowBuffer::new(buffer_rows(bucket_column), config.position_columns))
                .collect(),
            bucket_column,
            unsorted: sort_key.map(SortBuffer::new),
            config,
            location,
            log,
            writer,
            arrow_schema,
            checkpoints,
            ctx,
            rows_uncommitted: 0,
            committed: HashMap::new(),
            pending: HashMap::new(),
            first_buffered: HashMap::new(),
            ingest_times: Vec::new(),
            deadline: None,
            epoch: 0,
        })
    }

    /// The committed offset for a key, read from the table the first time the key is seen.
    async fn committed_offset(&mut self, key: &CheckpointKey) -> anyhow::Result<Option<i64>> {
        if let Some(known) = self.committed.get(key) {
            return Ok(*known);
        }
        let offset = self.log.committed(key).await?;
        self.committed.insert(key.clone(), offset);
        Ok(offset)
    }

    async fn absorb(&mut self, batch: Batch<T>) -> anyhow::Result<()> {
        let mut skipped = 0u64;
        // Records of one batch nearly always share a partition: look the key up once per run.
        // The partition of the previous record, its committed offset, and whether a row of it
        // has been buffered in this batch yet.
        let mut current: Option<(Partition, Option<i64>, bool)> = None;
        let mut appended = 0u64;
        for record in &batch.records {
            let partition = &record.position.partition;
            if !current
                .as_ref()
                .is_some_and(|(p, _, _)| Arc::ptr_eq(p, partition))
            {
                let key = CheckpointKey::new(batch.lane.clone(), partition);
                let committed = self.committed_offset(&key).await?;
                current = Some((partition.clone(), committed, false));
            }
            let Some((_, committed, buffered)) = current.as_mut() else {
                continue;
            };
            if committed.is_some_and(|c| record.position.offset <= c) {
                skipped += 1;
                continue;
            }
            if !*buffered {
                *buffered = true;
                self.first_buffered
                    .entry(CheckpointKey::new(batch.lane.clone(), partition))
                    .or_insert(record.position.offset);
            }
            let bucket = self.bucket_column.map_or(0, |column| {
                bucket_of(record.value.field_at(column), BUCKETS)
            });
            let buffer = &mut self.buffers[bucket];
            buffer.rows.append(&record.value);
            if let Some(positions) = &mut buffer.positions {
                positions.partitions.append_value(&partition.name);
                positions.offsets.append_value(record.position.offset);
            }
            let full = buffer.len() >= buffer_rows(self.bucket_column);
            match self.ingest_times.last_mut() {
                Some((time, rows)) if *time == record.ingest_time => *rows += 1,
                _ => self.ingest_times.push((record.ingest_time, 1)),
            }
            appended += 1;
            if full {
                self.write_buffer(bucket).await?;
            }
        }
        if skipped > 0 {
            tracing::debug!(sink = %self.ctx.name, "skipped {skipped} records already in the table");
        }
        for progress in &batch.progress {
            let key = CheckpointKey::new(batch.lane.clone(), &progress.partition);
            let committed = self.committed_offset(&key).await?;
            if committed.is_none_or(|c| progress.offset > c) {
                let pending = self.pending.entry(key).or_insert(progress.offset);
                *pending = (*pending).max(progress.offset);
            }
        }
        if self.deadline.is_none() && (appended > 0 || !self.pending.is_empty()) {
            self.deadline = Some(Instant::now() + self.config.max_latency);
        }
        Ok(())
    }

    /// Hands every buffer's rows to the Parquet writer, in buffer order.
    async fn write_rows(&mut self) -> anyhow::Result<()> {
        for bucket in 0..self.buffers.len() {
            self.write_buffer(bucket).await?;
        }
        Ok(())
    }

    /// Hands one buffer's rows to the Parquet writer.
    async fn write_buffer(&mut self, bucket: usize) -> anyhow::Result<()> {
        let buffer = &mut self.buffers[bucket];
        if buffer.rows.is_empty() {
            return Ok(());
        }
        let batch = buffer.finish(&self.arrow_schema)?;
        match &mut self.unsorted {
            Some(unsorted) => {
                unsorted.push(batch);
                if unsorted.rows() >= ROW_GROUP_ROWS {
                    self.write_sorted().await?;
                }
                Ok(())
            }
            None => self.write_batch(batch).await,
        }
    }

    /// Sorts the waiting batches and writes them as one row group: the writer starts a row
    /// group at every `ROW_GROUP_ROWS` rows and at every file, it does not roll files itself
    /// when sorting (see `new`), and the rows come here in chunks of `ROW_GROUP_ROWS` or right
    /// before a commit ends the file.
    async fn write_sorted(&mut self) -> anyhow::Result<()> {
        let Some(unsorted) = &mut self.unsorted else {
            return Ok(());
        };
        let sorted = unsorted
            .take_sorted()
            .with_context(|| format!("cannot sort rows for {} by sort_by", self.location))?;
        match sorted {
            Some(batch) => self.write_batch(batch).await,
            None => Ok(()),
        }
    }

    async fn write_batch(&mut self, batch: RecordBatch) -> anyhow::Result<()> {
        let rows = batch.num_rows();
        self.writer
            .write(batch)
            .await
            .with_context(|| format!("cannot write Parquet data for {}", self.location))?;
        self.rows_uncommitted += rows;
        Ok(())
    }

    fn full(&self) -> bool {
        let (unsorted_rows, unsorted_bytes) = self
            .unsorted
            .as_ref()
            .map_or((0, 0), |u| (u.rows(), u.byte_size()));
        // With `sort_by` the sink, not the writer, ends a file at `target_file_size`.
        let file_done = self.unsorted.is_some()
            && self.writer.buffer_len() as u64 >= self.config.target_file_size;
        let (buffered_rows, buffered_bytes) =
            self.buffers.iter().fold((0, 0), |(rows, bytes), b| {
                (rows + b.len(), bytes + b.byte_size())
            });
        self.rows_uncommitted + unsorted_rows + buffered_rows >= self.config.max_rows
            || (self.writer.buffer_len() + unsorted_bytes + buffered_bytes) as u64
                >= self.config.max_bytes
            || file_done
    }

    /// Commits everything written and every offset completed, in one Delta commit.
    async fn commit(&mut self) -> anyhow::Result<()> {
        self.deadline = None;
        self.write_rows().await?;
        self.write_sorted().await?;
        let adds = self
            .writer
            .flush()
            .await
            .with_context(|| format!("cannot write Parquet files to {}", self.location))?;
        if adds.is_empty() && self.pending.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        self.check_ownership().await?;
        let transactions: Vec<Transaction> = self
            .pending
            .iter()
            .map(|(key, offset)| Transaction::new(key.app_id(), *offset))
            .collect();
        let operation = DeltaOperation::StreamingUpdate {
            output_mode: OutputMode::Append,
            query_id: self.ctx.name.to_string(),
            epoch_id: self.epoch,
        };
        let version = self.log.append(adds, transactions, operation).await?;
        tracing::debug!(sink = %self.ctx.name, version, rows = self.rows_uncommitted, "committed {:?}", self.pending);
        self.epoch += 1;
        self.ctx
            .stats
            .written(&self.ctx.name, self.rows_uncommitted as u64);
        self.ctx
            .stats
            .committed(&self.ctx.name, started.elapsed().as_secs_f64());
        metrics::histogram!("laketide_commit_rows", "sink" => self.ctx.name.to_string())
            .record(self.rows_uncommitted as f64);
        self.rows_uncommitted = 0;
        let visible_at = now_micros();
        let mut latencies = LatencyHistogram::default();
        for (ingested, rows) in self.ingest_times.drain(..) {
            latencies.record_n(visible_at - ingested, rows);
        }
        self.ctx.stats.committed_latencies(&latencies);
        for (key, offset) in self.pending.drain() {
            self.checkpoints.record_commit(&key, offset);
            self.committed.insert(key, Some(offset));
        }
        self.first_buffered.clear();
        Ok(())
    }

    /// Makes sure no other writer committed the partitions this commit covers since this
    /// sink last looked: that happens when a consumer lost its partitions without being told
    /// (its session timed out) and another took over. Committing would then duplicate rows.
    /// The commit covers the remaining race: it reads any commit that takes the version it
    /// tried, and one with an offset of the same key stops it (`DeltaLog::append`).
    async fn check_ownership(&mut self) -> anyhow::Result<()> {
        self.log.follow().await?;
        let theirs = self.log.take_other_offsets();
        if theirs.is_empty() {
            return Ok(());
        }
        let keys: Vec<CheckpointKey> = self.pending.keys().cloned().collect();
        for key in keys {
            let known = self.committed.get(&key).copied().flatten();
            let now = theirs.get(&key.app_id()).copied().max(known);
            if now <= known {
                continue;
            }
            let now = now.unwrap_or(i64::MIN);
            if let Some(first) = self.first_buffered.get(&key)
                && *first <= now
            {
                anyhow::bail!(
                    "another writer committed {} up to offset {now} while this one held rows from offset {first}; \
                     the partition was reassigned without this process being told (a session timeout?). \
                     Nothing was committed; restart to resume from the table",
                    key.partition
                );
            }
            if self.pending.get(&key).is_some_and(|offset| *offset <= now) {
                self.pending.remove(&key);
            }
        }
        for (key, offset) in self.committed.iter_mut() {
            if let Some(&other) = theirs.get(&key.app_id()) {
                *offset = (*offset).max(Some(other));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_always_lands_in_the_same_bucket_and_keys_spread_over_all() {
        let mut counts = [0usize; BUCKETS];
        for id in 0..16_000i64 {
            let bucket = bucket_of(FieldValue::Int(id), BUCKETS);
            assert_eq!(bucket, bucket_of(FieldValue::Int(id), BUCKETS));
            counts[bucket] += 1;
        }
        // 1,000 each if even; consecutive ids must not crowd a few buckets.
        assert!(
            counts.iter().all(|&n| (750..=1_250).contains(&n)),
            "{counts:?}"
        );
        let mut texts = [0usize; BUCKETS];
        for id in 0..16_000 {
            texts[bucket_of(FieldValue::Str(&format!("user-{id}")), BUCKETS)] += 1;
        }
        assert!(
            texts.iter().all(|&n| (750..=1_250).contains(&n)),
            "{texts:?}"
        );
        assert_eq!(
            bucket_of(FieldValue::Str("a"), BUCKETS),
            bucket_of(FieldValue::Str("a"), BUCKETS)
        );
        assert!(bucket_of(FieldValue::Null, BUCKETS) < BUCKETS);
        assert!(bucket_of(FieldValue::Float(-0.5), BUCKETS) < BUCKETS);
        assert_eq!(
            bucket_of(FieldValue::Float(-0.0), BUCKETS),
            bucket_of(FieldValue::Float(0.0), BUCKETS)
        );
        assert_eq!(
            bucket_of(FieldValue::Float(f64::NAN), BUCKETS),
            bucket_of(FieldValue::Float(-f64::NAN), BUCKETS)
        );
    }

    #[test]
    fn parquet_statistics_follow_the_columns_the_delta_log_keeps() {
        let schema = Schema::new(vec![
            Field::new("ind", DataType::Int64, true),
            Field::new("description", DataType::Utf8, true),
            Field::new("category", DataType::Utf8, true),
            Field::new(
                "tags",
                DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
                true,
            ),
        ]);
        let config = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let all: Vec<String> = ["ind", "description", "category", "tags"]
            .map(String::from)
            .to_vec();
        assert_eq!(logged_stats_columns(&schema, &config(&[]), &[]), all);
        assert_eq!(
            logged_stats_columns(
                &schema,
                &config(&[("delta.dataSkippingStatsColumns", "category, `ind`")]),
                &[]
            ),
            ["ind", "category"]
        );
        assert_eq!(
            logged_stats_columns(
                &schema,
                &config(&[("delta.dataSkippingNumIndexedCols", "2")]),
                &[]
            ),
            ["ind", "description"]
        );
        // Partition columns are not in the files and take no slot.
        assert_eq!(
            logged_stats_columns(
                &schema,
                &config(&[("delta.dataSkippingNumIndexedCols", "2")]),
                &["ind".to_string()]
            ),
            ["description", "category"]
        );

        let logged = ["ind".to_string(), "category".to_string()];
        let properties = statistics_only_for(WriterProperties::builder().build(), &logged, &schema);
        let enabled = |column: &str| properties.statistics_enabled(&ColumnPath::from(column));
        assert_eq!(enabled("ind"), EnabledStatistics::Page);
        assert_eq!(enabled("category"), EnabledStatistics::Page);
        assert_eq!(enabled("description"), EnabledStatistics::None);
        // A nested column keeps its leaves' statistics.
        let leaf = ColumnPath::new(vec!["tags".into(), "list".into(), "item".into()]);
        assert_eq!(
            properties.statistics_enabled(&leaf),
            EnabledStatistics::Page
        );
    }
}
