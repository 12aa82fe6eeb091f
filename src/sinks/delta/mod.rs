//! Appends a typed stream to a Delta table, exactly once.
//!
//! Rows are built column by column and streamed into Parquet as they arrive; a commit happens
//! when the buffered data reaches `max_rows` or `max_bytes`, when `max_latency` has passed
//! since the first uncommitted record (even if no more arrive), and when the input ends.
//! Every commit also records the source offsets it completes (see `checkpoints`).

mod checkpoints;
mod log;
mod sort;
mod table;
mod writer;

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use deltalake::parquet::basic::{Compression, ZstdLevel};
use futures::FutureExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde::Deserialize;

use super::{InvalidSetting, Row, Sink, SinkContext};
use crate::dsl::Batch;
use crate::runtime::CheckpointStore;

pub use checkpoints::DeltaCheckpoints;
pub use table::{TableLocation, open_table, row_count, rows_in};
pub use writer::writer_properties;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeltaSinkConfig {
    /// A local directory or a URL (`s3://bucket/path`). Created with the record type's schema
    /// if there is no table yet.
    pub table: String,
    /// Commit once this many rows are buffered.
    #[serde(default = "default_max_rows")]
    pub max_rows: usize,
    /// Commit once the buffered Parquet and column data reach about this size.
    #[serde(default = "default_max_bytes", deserialize_with = "crate::units::size")]
    pub max_bytes: u64,
    /// Commit at the latest this long after the first uncommitted record arrived.
    #[serde(
        default = "default_max_latency",
        deserialize_with = "crate::units::duration"
    )]
    pub max_latency: Duration,
    /// Parquet files are rolled over at this size.
    #[serde(
        default = "default_target_file_size",
        deserialize_with = "crate::units::size"
    )]
    pub target_file_size: u64,
    /// Add `_source_partition` and `_source_offset` columns after the record's own.
    #[serde(default)]
    pub position_columns: bool,
    /// Parquet codec: `zstd(LEVEL)`, `snappy`, `lz4_raw`, `gzip(LEVEL)`, `brotli(LEVEL)` or
    /// `none`.
    #[serde(default = "default_compression", deserialize_with = "compression")]
    pub compression: Compression,
    /// How large a column's Parquet dictionary may grow in a row group before the column falls
    /// back to plain encoding.
    #[serde(
        default = "default_dictionary_page_size",
        deserialize_with = "crate::units::size"
    )]
    pub dictionary_page_size: u64,
    /// Columns each row group is sorted by (ascending, nulls first). Empty: arrival order.
    /// Sorting by the key of what events refer to makes files smaller and lets readers skip
    /// by that key (see `sort`); the rows of a row group then wait in memory, within
    /// `max_bytes`.
    #[serde(default)]
    pub sort_by: Vec<String>,
    /// A field of the records (as a `filter` names it) whose values decide which of a few
    /// buffers a row waits in before it is handed to Parquet, so that rows sharing a value
    /// reach the encoder together and its dictionaries look up a few values at a time, in
    /// cache (see `writer`, BENCHMARKS.md). A buffer goes to Parquet when it fills, so files
    /// hold runs of a few thousand rows of one buffer; rows of one key keep their order. Best
    /// on the key that events repeat with the same values (an id of what they refer to).
    #[serde(default)]
    pub bucket_by: Option<String>,
    /// The columns whose minimum, maximum and null count each file's entry in the Delta log
    /// keeps, for readers to skip files by (the table property
    /// `delta.dataSkippingStatsColumns`, set when the sink creates the table). Unset: Delta's
    /// default, the first 32 columns. An existing table keeps its own. Parquet statistics are
    /// computed only for the columns the log keeps and the `sort_by` ones: on long text
    /// (descriptions, URLs) they cost two comparisons per value, and without them readers skip
    /// files by the log's statistics but no longer row groups inside a file by these columns
    /// (see `writer`, BENCHMARKS.md).
    #[serde(default)]
    pub stats_columns: Option<Vec<String>>,
}

fn default_max_rows() -> usize {
    1_000_000
}
/// With a sink per table and several tables per topology, this bounds what a topology holds
/// uncommitted (see BENCHMARKS.md, peak RSS).
fn default_max_bytes() -> u64 {
    32 << 20
}
fn default_max_latency() -> Duration {
    Duration::from_secs(10)
}
fn default_target_file_size() -> u64 {
    128 << 20
}
/// zstd's fastest level: on the Pinterest tables, files 16% smaller than snappy's for 6% more
/// encode time (BENCHMARKS.md, Parquet encoding).
fn default_compression() -> Compression {
    Compression::ZSTD(ZstdLevel::default())
}
/// Parquet's own default (1 MiB) is smaller than the distinct values of a text column over a
/// row group of event data (11k distinct descriptions are 1.7 MB): the column then falls back
/// to plain encoding midway, which made Parquet encoding 1.5x slower and the files 2x larger.
/// A genuinely unique column still falls back, after this much.
fn default_dictionary_page_size() -> u64 {
    4 << 20
}

/// Reads a codec name as the Parquet crate spells it, plus `none`.
fn compression<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Compression, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_compression(&text).map_err(serde::de::Error::custom)
}

fn parse_compression(text: &str) -> Result<Compression, String> {
    let codec = text.trim();
    if codec.eq_ignore_ascii_case("none") {
        return Ok(Compression::UNCOMPRESSED);
    }
    match codec.to_ascii_lowercase().parse() {
        // The Parquet writer has no LZO codec; it would fail at the first write.
        Ok(Compression::LZO) | Err(_) => Err(format!(
            "unknown compression `{text}`: use zstd(LEVEL) (1-22), snappy, lz4_raw, \
             gzip(LEVEL) (0-9), brotli(LEVEL) (0-11) or none"
        )),
        Ok(codec) => Ok(codec),
    }
}

impl DeltaSinkConfig {
    pub fn new(table: impl Into<String>) -> Self {
        DeltaSinkConfig {
            table: table.into(),
            max_rows: default_max_rows(),
            max_bytes: default_max_bytes(),
            max_latency: default_max_latency(),
            target_file_size: default_target_file_size(),
            position_columns: false,
            compression: default_compression(),
            dictionary_page_size: default_dictionary_page_size(),
            sort_by: Vec::new(),
            bucket_by: None,
            stats_columns: None,
        }
    }

    /// Checks what can be checked without touching storage. Errors name the config key.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        TableLocation::parse(&self.table).map_err(|error| ("table", error))?;
        if self.max_rows == 0 {
            return Err(("max_rows", "must be at least 1".into()));
        }
        if self.max_bytes == 0 {
            return Err(("max_bytes", "must be more than 0".into()));
        }
        if self.max_latency.is_zero() {
            return Err(("max_latency", "must be more than 0".into()));
        }
        if self.dictionary_page_size == 0 {
            return Err(("dictionary_page_size", "must be more than 0".into()));
        }
        if self.bucket_by.is_some() && !self.sort_by.is_empty() {
            return Err((
                "bucket_by",
                "set either bucket_by or sort_by: sort_by orders each row group already".into(),
            ));
        }
        if let Some(columns) = &self.stats_columns {
            if columns.is_empty() {
                return Err((
                    "stats_columns",
                    "is empty; name the columns readers filter by, or leave it out for Delta's \
                     default (the first 32 columns)"
                        .into(),
                ));
            }
            if let Some(bad) = columns
                .iter()
                .find(|c| c.trim().is_empty() || c.contains(','))
            {
                return Err(("stats_columns", format!("`{bad}` is not a column name")));
            }
        }
        Ok(())
    }
}

/// A sink into one Delta table, for records of type `T`.
pub struct DeltaSink<T> {
    config: DeltaSinkConfig,
    location: TableLocation,
    sort_key: Option<sort::SortKey>,
    /// `bucket_by`'s index in the row's fields.
    bucket_column: Option<usize>,
    checkpoints: Arc<DeltaCheckpoints>,
    _rows: PhantomData<fn(T)>,
}

impl<T: Row> DeltaSink<T> {
    /// Fails with an [`InvalidSetting`] if the config is invalid for this table.
    pub fn new(config: DeltaSinkConfig) -> anyhow::Result<Self> {
        config
            .validate()
            .map_err(|(key, message)| InvalidSetting { key, message })?;
        let schema = writer::table_schema::<T>(config.position_columns);
        let sort_key =
            sort::SortKey::resolve(&schema, &config.sort_by).map_err(|message| InvalidSetting {
                key: "sort_by",
                message,
            })?;
        let bucket_column = match &config.bucket_by {
            Some(name) => Some(T::field_index(name).ok_or_else(|| InvalidSetting {
                key: "bucket_by",
                message: format!(
                    "no field `{name}` in these records; bucket_by takes one of {}",
                    T::field_names().join(", ")
                ),
            })?),
            None => None,
        };
        if let Some(columns) = &config.stats_columns {
            for column in columns {
                let message = match schema.field_with_name(column) {
                    Err(_) => {
                        let names: Vec<&str> =
                            schema.fields().iter().map(|f| f.name().as_str()).collect();
                        format!(
                            "no column `{column}` in this table; its columns are {}",
                            names.join(", ")
                        )
                    }
                    // deltalake matches the list against Parquet's leaf columns and keeps no
                    // statistics of binary ones: such a column would get none.
                    Ok(field) if field.data_type().is_nested() || field.data_type().is_binary() => {
                        format!(
                            "`{column}` is a {} column, which the Delta log keeps no statistics for; name flat, non-binary columns",
                            field.data_type()
                        )
                    }
                    Ok(_) => continue,
                };
                return Err(InvalidSetting {
                    key: "stats_columns",
                    message,
                }
                .into());
            }
        }
        let location = TableLocation::parse(&config.table).map_err(anyhow::Error::msg)?;
        Ok(DeltaSink {
            checkpoints: Arc::new(DeltaCheckpoints::new(location.clone())),
            location,
            config,
            sort_key,
            bucket_column,
            _rows: PhantomData,
        })
    }
}

impl<T: Row> Sink<T> for DeltaSink<T> {
    fn describe(&self) -> String {
        format!("delta table {}", self.location)
    }

    fn checkpoints(&self) -> Option<Arc<dyn CheckpointStore>> {
        Some(self.checkpoints.clone())
    }

    fn run(
        self: Box<Self>,
        input: BoxStream<'static, Batch<T>>,
        ctx: SinkContext,
    ) -> BoxFuture<'static, anyhow::Result<()>> {
        writer::run::<T>(
            self.config,
            self.sort_key,
            self.bucket_column,
            self.location,
            self.checkpoints,
            input,
            ctx,
        )
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_names() {
        assert_eq!(
            parse_compression("zstd(3)"),
            Ok(Compression::ZSTD(ZstdLevel::try_new(3).expect("level")))
        );
        assert_eq!(parse_compression("Snappy"), Ok(Compression::SNAPPY));
        assert_eq!(parse_compression("none"), Ok(Compression::UNCOMPRESSED));
        assert_eq!(parse_compression("lz4_raw"), Ok(Compression::LZ4_RAW));
        for bad in ["zstd", "zstd(99)", "zip", "lzo"] {
            let error = parse_compression(bad).expect_err(bad);
            assert!(error.contains(&format!("`{bad}`")), "{error}");
        }
    }
}
