//! Replays records from files: JSON lines, or the raw archive Kafka Connect's S3 sink leaves
//! (`topics/<topic>/partition=<p>/<topic>+<p>+<offset>.json`).
//!
//! A file (lines layout) or a topic partition (archive layout) is a partition: its offsets
//! are line numbers or Kafka offsets, and a re-run resumes after what the sinks committed.
//! Without `--until-idle` the source follows its input like `tail -f`: files that grow and
//! files that appear are read as they come.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use futures::FutureExt;
use futures::future::BoxFuture;
use serde::Deserialize;
use tokio::runtime::Handle;

use super::lines::LineReader;
use super::{RecordOrigin, RecordTopics, Source, SourceContext};
use crate::dsl::{
    Batch, OffsetUnit, Partition, PartitionId, Position, Progress, Record, now_micros,
};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileLayout {
    /// One record per line (JSON lines); blank lines are skipped.
    #[default]
    Lines,
    /// Kafka Connect S3 sink archive: `<topic>/partition=<p>/<topic>+<p>+<offset>.json`, one
    /// record per line of each file, offsets from the file name.
    KafkaConnect,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSourceConfig {
    /// A file, a directory (all files below it) or a glob (`data/*.jsonl`). With the
    /// kafka-connect layout: the `topics` directory of the archive.
    pub path: String,
    #[serde(default)]
    pub layout: FileLayout,
    /// kafka-connect layout only: the topics to read (default: every topic directory).
    #[serde(default)]
    pub topics: Vec<String>,
    /// Records per batch handed downstream.
    #[serde(default = "default_batch_records")]
    pub batch_records: usize,
    /// How often to look for new data when following (no `--until-idle`).
    #[serde(
        default = "default_poll_interval",
        deserialize_with = "crate::units::duration"
    )]
    pub poll_interval: Duration,
}

fn default_batch_records() -> usize {
    1024
}

fn default_poll_interval() -> Duration {
    Duration::from_secs(1)
}

impl FileSourceConfig {
    pub fn new(path: impl Into<String>) -> Self {
        FileSourceConfig {
            path: path.into(),
            layout: FileLayout::Lines,
            topics: Vec::new(),
            batch_records: default_batch_records(),
            poll_interval: default_poll_interval(),
        }
    }

    /// Checks what can be checked without touching the disk. Errors name the config key.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.path.trim().is_empty() {
            return Err((
                "path",
                "is empty; give a file, a directory or a glob".into(),
            ));
        }
        if is_glob(&self.path) {
            glob::Pattern::new(&self.path)
                .map_err(|error| ("path", format!("is not a valid glob: {error}")))?;
        }
        if self.batch_records == 0 {
            return Err(("batch_records", "must be at least 1".into()));
        }
        if !self.topics.is_empty() && self.layout != FileLayout::KafkaConnect {
            return Err((
                "topics",
                "only applies with layout = \"kafka-connect\"; remove it or set the layout".into(),
            ));
        }
        Ok(())
    }
}

pub struct FileSource {
    config: FileSourceConfig,
}

impl FileSource {
    pub fn new(config: FileSourceConfig) -> Self {
        FileSource { config }
    }
}

impl Source for FileSource {
    fn describe(&self) -> String {
        match self.config.layout {
            FileLayout::Lines => format!("file {}", self.config.path),
            FileLayout::KafkaConnect => format!("kafka-connect archive {}", self.config.path),
        }
    }

    fn origin(&self) -> RecordOrigin {
        RecordOrigin {
            topics: match self.config.layout {
                FileLayout::Lines => RecordTopics::None,
                FileLayout::KafkaConnect if !self.config.topics.is_empty() => {
                    RecordTopics::Named(self.config.topics.clone())
                }
                // Every topic folder of the archive, found when it is read.
                FileLayout::KafkaConnect => RecordTopics::Unknown,
            },
            headers_dropped: false,
        }
    }

    fn run(self: Box<Self>, ctx: SourceContext) -> BoxFuture<'static, anyhow::Result<()>> {
        let handle = Handle::current();
        async move {
            tokio::task::spawn_blocking(move || Reader::new(self.config, ctx, handle).run())
                .await
                .context("the file reader thread panicked")?
        }
        .boxed()
    }
}

/// One file to read, as part of a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Segment {
    path: PathBuf,
    partition: Arc<str>,
    /// Offset of the file's first record: 1 for line numbers, the Kafka offset in the archive.
    first_offset: i64,
}

struct OpenPartition {
    partition: Partition,
    /// Records at or below this offset are already committed by every sink downstream.
    resume_after: Option<i64>,
    /// Offset of the last record read.
    last_offset: i64,
    /// Lines have been read since `last_offset` was last noted as progress.
    progress_pending: bool,
    reader: Option<(LineReader, Segment)>,
    /// Segments of this partition not yet read, in offset order.
    queued: Vec<Segment>,
    known: std::collections::HashSet<PathBuf>,
}

struct Reader {
    config: FileSourceConfig,
    ctx: SourceContext,
    handle: Handle,
    partitions: BTreeMap<Arc<str>, OpenPartition>,
    records: Vec<Record<Bytes>>,
    bytes_in_batch: usize,
    /// When the first record of the batch being filled was read: the ingest time of all of
    /// them, so the clock is read once per batch.
    batch_read_at: i64,
    progress: HashMap<Partition, i64>,
}

const MAX_BATCH_BYTES: usize = 4 << 20;

impl Reader {
    fn new(config: FileSourceConfig, ctx: SourceContext, handle: Handle) -> Self {
        Reader {
            config,
            ctx,
            handle,
            partitions: BTreeMap::new(),
            records: Vec::new(),
            bytes_in_batch: 0,
            batch_read_at: 0,
            progress: HashMap::new(),
        }
    }

    fn run(mut self) -> anyhow::Result<()> {
        let mut first_scan = true;
        loop {
            let found = self.discover()?;
            if first_scan && found == 0 && self.ctx.until_idle {
                bail!(
                    "no file matches `{}`; check the path (with --until-idle there is nothing to wait for)",
                    self.config.path
                );
            }
            first_scan = false;
            // With --until-idle every file is complete: an unterminated last line is a record.
            let take_partial = self.ctx.until_idle;
            let names: Vec<Arc<str>> = self.partitions.keys().cloned().collect();
            for name in names {
                if !self.drain_partition(&name, take_partial)? {
                    return Ok(()); // downstream is gone
                }
            }
            if !self.flush()? {
                return Ok(());
            }
            if self.ctx.until_idle || self.ctx.shutdown.is_triggered() {
                return Ok(());
            }
            let mut shutdown = self.ctx.shutdown.clone();
            let stopped = self.handle.block_on(async {
                tokio::select! {
                    _ = shutdown.triggered() => true,
                    _ = tokio::time::sleep(self.config.poll_interval) => false,
                }
            });
            if stopped {
                return Ok(());
            }
        }
    }

    /// Reads every available record of one partition. False if downstream has gone.
    fn drain_partition(&mut self, name: &Arc<str>, take_partial: bool) -> anyhow::Result<bool> {
        let drained = self.read_lines(name, take_partial);
        self.note_progress(name);
        drained
    }

    /// Records the partition's last offset read as progress of the batch being filled: once
    /// per batch rather than per line.
    fn note_progress(&mut self, name: &Arc<str>) {
        if let Some(open) = self.partitions.get_mut(name)
            && open.progress_pending
        {
            open.progress_pending = false;
            self.progress
                .insert(open.partition.clone(), open.last_offset);
        }
    }

    fn read_lines(&mut self, name: &Arc<str>, take_partial: bool) -> anyhow::Result<bool> {
        let mut lines = 0u32;
        loop {
            // Shutdown is looked at every so many lines: a line costs about as much.
            lines = lines.wrapping_add(1);
            if lines.is_multiple_of(256) && self.ctx.shutdown.is_triggered() {
                return Ok(true);
            }
            let Some(open) = self.partitions.get_mut(name) else {
                return Ok(true);
            };
            if open.reader.is_none() {
                if open.queued.is_empty() {
                    return Ok(true);
                }
                let segment = open.queued.remove(0);
                let reader = LineReader::open(&segment.path)
                    .with_context(|| format!("cannot open {}", segment.path.display()))?;
                open.last_offset = open.last_offset.max(segment.first_offset - 1);
                open.reader = Some((reader, segment));
            }
            let Some((reader, segment)) = open.reader.as_mut() else {
                return Ok(true);
            };
            // Archive files are complete when they appear; a growing file is not.
            let partial = take_partial || self.config.layout == FileLayout::KafkaConnect;
            let line = reader
                .next_line(partial)
                .with_context(|| format!("cannot read {}", segment.path.display()))?;
            let Some(line) = line else {
                // End of this file for now. Archive segments are done for good; a lines file
                // keeps its reader to follow growth.
                if self.config.layout == FileLayout::KafkaConnect || !open.queued.is_empty() {
                    open.reader = None;
                    continue;
                }
                return Ok(true);
            };
            open.last_offset += 1;
            open.progress_pending = true;
            let offset = open.last_offset;
            let already_committed = open.resume_after.is_some_and(|after| offset <= after);
            if !already_committed && !line.iter().all(u8::is_ascii_whitespace) {
                let partition = open.partition.clone();
                self.bytes_in_batch += line.len();
                if self.records.is_empty() {
                    self.batch_read_at = now_micros();
                    self.records.reserve(self.config.batch_records);
                }
                self.records.push(Record {
                    value: line.clone(),
                    key: None,
                    timestamp: None,
                    headers: Vec::new(),
                    position: Position { partition, offset },
                    raw: line,
                    ingest_time: self.batch_read_at,
                });
            }
            if self.records.len() >= self.config.batch_records
                || self.bytes_in_batch >= MAX_BATCH_BYTES
            {
                self.note_progress(name);
                if !self.flush()? {
                    return Ok(false);
                }
            }
        }
    }

    /// Sends what has been read. False if downstream has gone.
    fn flush(&mut self) -> anyhow::Result<bool> {
        if self.records.is_empty() && self.progress.is_empty() {
            return Ok(true);
        }
        let records = std::mem::take(&mut self.records);
        self.bytes_in_batch = 0;
        let progress = self
            .progress
            .drain()
            .map(|(partition, offset)| Progress { partition, offset })
            .collect();
        self.ctx.stats.read(&self.ctx.name, records.len() as u64);
        Ok(self
            .ctx
            .output
            .blocking_send(Batch::new(records, progress))
            .is_ok())
    }

    /// Finds new files and partitions; returns how many files are known in all.
    fn discover(&mut self) -> anyhow::Result<usize> {
        let segments = match self.config.layout {
            FileLayout::Lines => lines_segments(&self.config.path)?,
            FileLayout::KafkaConnect => {
                archive_segments(Path::new(&self.config.path), &self.config.topics)?
            }
        };
        let total = segments.len();
        for segment in segments {
            if !self.partitions.contains_key(&segment.partition) {
                let partition = Arc::new(PartitionId {
                    source: self.ctx.name.clone(),
                    name: segment.partition.clone(),
                    unit: match self.config.layout {
                        FileLayout::Lines => OffsetUnit::Line,
                        FileLayout::KafkaConnect => OffsetUnit::Offset,
                    },
                });
                let resume_after = self
                    .handle
                    .block_on(self.ctx.resume.committed(&partition))
                    .with_context(|| format!("cannot read the checkpoint of {}", partition.name))?;
                if let Some(after) = resume_after {
                    tracing::info!(source = %self.ctx.name, partition = %partition.name, "resuming after offset {after}");
                }
                self.partitions.insert(
                    segment.partition.clone(),
                    OpenPartition {
                        progress_pending: false,
                        partition,
                        resume_after,
                        // Below any real offset: the first segment sets it to its first - 1.
                        last_offset: i64::MIN,
                        reader: None,
                        queued: Vec::new(),
                        known: Default::default(),
                    },
                );
            }
            let Some(open) = self.partitions.get_mut(&segment.partition) else {
                continue;
            };
            if open.known.insert(segment.path.clone()) {
                // Whole archive segments below the resume point need not even be opened.
                open.queued.push(segment);
                open.queued.sort_by_key(|s| s.first_offset);
            }
        }
        Ok(total)
    }
}

fn is_glob(path: &str) -> bool {
    path.contains(['*', '?', '['])
}

/// Files of the lines layout, each its own partition named by its path relative to the
/// input's root (the directory, the glob's fixed prefix, or the file's parent).
fn lines_segments(path: &str) -> anyhow::Result<Vec<Segment>> {
    let (root, mut files) = if is_glob(path) {
        let root = glob_root(path);
        let mut files = Vec::new();
        for entry in glob::glob(path).with_context(|| format!("invalid glob `{path}`"))? {
            let file = entry.context("cannot list a glob match")?;
            if file.is_file() {
                files.push(file);
            }
        }
        (root, files)
    } else {
        let path = PathBuf::from(path);
        if path.is_dir() {
            let mut files = Vec::new();
            walk(&path, &mut files)?;
            (path, files)
        } else if path.is_file() {
            let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
            (root, vec![path])
        } else {
            (PathBuf::new(), Vec::new())
        }
    };
    files.sort();
    Ok(files
        .into_iter()
        .map(|file| Segment {
            partition: Arc::from(relative_name(&root, &file)),
            path: file,
            first_offset: 1,
        })
        .collect())
}

fn glob_root(pattern: &str) -> PathBuf {
    let mut root = PathBuf::new();
    for component in Path::new(pattern).components() {
        if is_glob(&component.as_os_str().to_string_lossy()) {
            break;
        }
        root.push(component);
    }
    root
}

fn relative_name(root: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(root).unwrap_or(file);
    relative.to_string_lossy().replace('\\', "/")
}

/// Regular, non-hidden files below `dir`.
fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            walk(&path, files)?;
        } else if path.is_file() {
            files.push(path);
        }
    }
    Ok(())
}

/// Segments of a Kafka Connect archive: `<root>/<topic>/partition=<p>/<topic>+<p>+<offset>.json`.
fn archive_segments(root: &Path, topics: &[String]) -> anyhow::Result<Vec<Segment>> {
    let mut segments = Vec::new();
    if !root.is_dir() {
        return Ok(segments);
    }
    for topic_entry in
        std::fs::read_dir(root).with_context(|| format!("cannot list {}", root.display()))?
    {
        let topic_dir = topic_entry?.path();
        let Some(topic) = topic_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
        else {
            continue;
        };
        if !topic_dir.is_dir() || (!topics.is_empty() && !topics.contains(&topic)) {
            continue;
        }
        for partition_entry in std::fs::read_dir(&topic_dir)? {
            let partition_dir = partition_entry?.path();
            let Some(partition) = partition_dir
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("partition="))
                .map(str::to_owned)
            else {
                continue;
            };
            let name: Arc<str> = Arc::from(format!("{topic}/{partition}"));
            for file_entry in std::fs::read_dir(&partition_dir)? {
                let path = file_entry?.path();
                let Some(first_offset) = archive_offset(&path) else {
                    tracing::warn!(
                        "skipping {}: not named <topic>+<partition>+<offset>.json",
                        path.display()
                    );
                    continue;
                };
                segments.push(Segment {
                    path,
                    partition: name.clone(),
                    first_offset,
                });
            }
        }
    }
    segments.sort_by(|a, b| (&a.partition, a.first_offset).cmp(&(&b.partition, b.first_offset)));
    Ok(segments)
}

/// The offset in `<topic>+<partition>+<offset>.json`.
fn archive_offset(path: &Path) -> Option<i64> {
    let stem = path.file_stem()?.to_str()?;
    stem.rsplit('+').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_root_is_the_fixed_prefix() {
        assert_eq!(glob_root("data/raw/*.jsonl"), PathBuf::from("data/raw"));
        assert_eq!(glob_root("data/*/pin.jsonl"), PathBuf::from("data"));
    }

    #[test]
    fn archive_offsets_come_from_file_names() {
        assert_eq!(
            archive_offset(Path::new(
                "t/partition=0/0a3db223d459.pin+0+0000000042.json"
            )),
            Some(42)
        );
        assert_eq!(archive_offset(Path::new("t/partition=0/README")), None);
    }

    #[test]
    fn config_errors_name_the_key() {
        let mut config = FileSourceConfig::new("data/[.jsonl");
        assert_eq!(config.validate().map_err(|e| e.0), Err("path"));
        config.path = "data/*.jsonl".into();
        config.batch_records = 0;
        assert_eq!(config.validate().map_err(|e| e.0), Err("batch_records"));
        config.batch_records = 10;
        config.topics = vec!["t".into()];
        assert_eq!(config.validate().map_err(|e| e.0), Err("topics"));
    }
}
