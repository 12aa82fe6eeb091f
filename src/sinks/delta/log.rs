//! The sink's side of the Delta log: appends one commit at a time, follows the commits of
//! other writers, and checkpoints.
//!
//! deltalake's own transaction (`CommitBuilder`) brings the table's in-memory file list up to
//! date after every commit, re-reading every active file's entry: the cost of a commit, and
//! the memory the sink holds, grow with the files in the table. A streaming sink adds a file
//! every commit, so after a day of 10 s commits each commit re-read ~8,600 entries per table.
//! An append needs none of it: its actions do not depend on the other files, and what it must
//! know about other writers is in their commits. So the sink writes its commits itself,
//! reads only the commits it did not write, and keeps the file list of the version it
//! started from (see DESIGN.md, "Commits").
//!
//! Tables with table features (writer version 7) may need more per commit than an append of
//! files and `txn` actions (row tracking, in-commit timestamps): they go through deltalake's
//! transaction as before.

use std::collections::HashMap;

use anyhow::{Context, bail};
use deltalake::DeltaTable;
use deltalake::Path;
use deltalake::kernel::transaction::{
    CommitBuilder, CommitData, CommitProperties, PROTOCOL, TableReference, TransactionError,
};
use deltalake::kernel::{Action, Add, Transaction};
use deltalake::logstore::object_store::ObjectStoreExt as _;
use deltalake::logstore::{CommitOrBytes, get_actions};
use deltalake::protocol::DeltaOperation;
use deltalake::table::config::TablePropertiesExt as _;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::checkpoints::committed_in;
use super::table::{TableLocation, open_table};
use crate::runtime::CheckpointKey;

/// Attempts at one commit while other writers take the version it tried.
const COMMIT_ATTEMPTS: usize = 15;
/// The key in `commitInfo` under which the sink writes an id of each commit, so that it knows
/// its own commit again if it is told its put failed when it did not.
const COMMIT_ID_KEY: &str = "laketideCommitId";

pub(super) struct DeltaLog {
    location: TableLocation,
    /// The table as the sink opened it: its schema and protocol, and the offsets committed
    /// up to then. Not brought up to date (see the module comment), except when commits go
    /// through deltalake's transaction.
    table: DeltaTable,
    /// Every commit up to this version has been read by this sink or written by it.
    version: u64,
    /// The highest offset of each application id in the commits after the opened version.
    later_offsets: HashMap<String, i64>,
    /// The highest offset of each application id in the commits of other writers read since
    /// [`Self::take_other_offsets`] was last called.
    other_offsets: HashMap<String, i64>,
    /// Whether commits are written here rather than by deltalake's transaction.
    direct: bool,
    checkpoint_interval: u64,
    /// The version the next checkpoint is due at: every `delta.checkpointInterval` commits,
    /// at the versions deltalake's transaction would write them (99, 199, ...), or at the first
    /// commit after them if the previous checkpoint was still being written.
    next_checkpoint: u64,
    /// The checkpoint being written in the background, if any.
    checkpointing: Option<JoinHandle<()>>,
}

impl DeltaLog {
    pub fn new(location: TableLocation, table: DeltaTable) -> anyhow::Result<Self> {
        let snapshot = table.snapshot()?;
        PROTOCOL
            .can_write_to(snapshot)
            .with_context(|| format!("cannot write to the Delta table at {location}"))?;
        // LakeFS commits need the branch deltalake's operations create for each of them.
        let direct = snapshot.protocol().min_writer_version() < 7
            && table.log_store().name() != "LakeFSLogStore";
        let checkpoint_interval = snapshot.config().checkpoint_interval().get();
        let version = snapshot.version();
        let next_checkpoint = checkpoint_after(version, checkpoint_interval);
        Ok(DeltaLog {
            location,
            table,
            version,
            later_offsets: HashMap::new(),
            other_offsets: HashMap::new(),
            direct,
            checkpoint_interval,
            next_checkpoint,
            checkpointing: None,
        })
    }

    /// The offset the table holds for `key`, as of the last commit this sink read or wrote.
    pub async fn committed(&mut self, key: &CheckpointKey) -> anyhow::Result<Option<i64>> {
        if let Some(offset) = self.later_offsets.get(&key.app_id()) {
            return Ok(Some(*offset));
        }
        match committed_in(&self.table, key).await {
            Ok(offset) => Ok(offset),
            // The lookup replays the log as it was when the sink opened the table; after
            // `logRetentionDuration` its files may have been cleaned up. The version the sink
            // has read up to is recent: open that one (`later_offsets` covers what follows).
            Err(error) => {
                tracing::debug!(table = %self.location, "reopening the table at version {}: {error:#}", self.version);
                let mut table = open_table(&self.location)
                    .await?
                    .with_context(|| format!("the Delta table at {} is gone", self.location))?;
                table.load_version(self.version).await.with_context(|| {
                    format!("cannot load version {} of {}", self.version, self.location)
                })?;
                self.table = table;
                committed_in(&self.table, key).await
            }
        }
    }

    /// Reads the commits other writers made since the last one this sink read or wrote, for
    /// the offsets they committed ([`Self::take_other_offsets`]). A change of the table's
    /// schema, configuration or protocol meanwhile is an error: the sink's files and commits
    /// were made for the old one.
    pub async fn follow(&mut self) -> anyhow::Result<()> {
        self.follow_past(None).await.map(|_| ())
    }

    /// [`Self::follow`], recognising the commit written with `own` as its id, if one is
    /// found: an attempt whose put succeeded although the sink was told it failed (a lost
    /// response, retried). Returns that commit's version. Commits are read one version
    /// after the other until one is missing, without listing the log, which a store may
    /// show late.
    async fn follow_past(&mut self, own: Option<&str>) -> anyhow::Result<Option<u64>> {
        let log_store = self.table.log_store();
        let mut found = None;
        loop {
            let version = self.version + 1;
            let Some(bytes) = log_store
                .read_commit_entry(version)
                .await
                .with_context(|| format!("cannot read version {version} of {}", self.location))?
            else {
                return Ok(found);
            };
            let actions = get_actions(version, &bytes)
                .with_context(|| format!("cannot parse version {version} of {}", self.location))?;
            let ours = own.is_some_and(|own| {
                actions.iter().any(|action| {
                    matches!(action, Action::CommitInfo(info)
                        if info.info.get(COMMIT_ID_KEY).and_then(|id| id.as_str()) == Some(own))
                })
            });
            for action in actions {
                match action {
                    Action::Txn(txn) => {
                        if !ours {
                            raise(&mut self.other_offsets, &txn);
                        }
                        raise(&mut self.later_offsets, &txn);
                    }
                    Action::Metadata(_) | Action::Protocol(_) => bail!(
                        "another writer changed the schema, configuration or protocol of the \
                         Delta table at {} (version {version}) while this sink wrote to it; \
                         nothing was committed, restart to write under the new one",
                        self.location
                    ),
                    _ => {}
                }
            }
            if ours {
                found = Some(version);
            }
            self.version = version;
        }
    }

    /// The highest offset each application id committed in the commits of other writers
    /// read since the last call, by [`Self::follow`] or while committing.
    pub fn take_other_offsets(&mut self) -> HashMap<String, i64> {
        std::mem::take(&mut self.other_offsets)
    }

    /// Commits `adds` and the offsets they complete as the next version, and returns it. A
    /// commit of another writer in the way is read ([`Self::follow`]); one that committed an
    /// offset of the same keys is a conflict, and nothing is committed.
    pub async fn append(
        &mut self,
        adds: Vec<Add>,
        transactions: Vec<Transaction>,
        operation: DeltaOperation,
    ) -> anyhow::Result<u64> {
        let version = if self.direct {
            self.append_directly(adds, &transactions, operation).await?
        } else {
            self.append_by_transaction(adds, &transactions, operation)
                .await?
        };
        for txn in &transactions {
            self.later_offsets.insert(txn.app_id.clone(), txn.version);
        }
        if self.direct && version >= self.next_checkpoint {
            self.checkpoint(version);
        }
        Ok(version)
    }

    async fn append_directly(
        &mut self,
        adds: Vec<Add>,
        transactions: &[Transaction],
        operation: DeltaOperation,
    ) -> anyhow::Result<u64> {
        let actions = adds.into_iter().map(Action::Add).collect();
        let operation_id = Uuid::new_v4();
        let commit_id = operation_id.to_string();
        let info = HashMap::from([(COMMIT_ID_KEY.to_owned(), commit_id.clone().into())]);
        let bytes = CommitData::new(actions, operation, info, transactions.to_vec())
            .get_bytes()
            .context("cannot serialize the commit")?;
        let log_store = self.table.log_store();
        // A store with a conditional put takes the bytes; the others need a file to rename
        // into place (deltalake's rule).
        let commit = if log_store.name() == "DefaultLogStore" {
            CommitOrBytes::LogBytes(bytes)
        } else {
            let path = Path::from_iter(["_delta_log", &format!("_commit_{operation_id}.json.tmp")]);
            log_store
                .object_store(Some(operation_id))
                .put(&path, bytes.into())
                .await
                .with_context(|| format!("cannot write a commit to {}", self.location))?;
            CommitOrBytes::TmpCommit(path)
        };
        for _ in 0..COMMIT_ATTEMPTS {
            let version = self.version + 1;
            match log_store
                .write_commit_entry(version, commit.clone(), operation_id)
                .await
            {
                Ok(()) => {
                    self.version = version;
                    return Ok(version);
                }
                Err(TransactionError::VersionAlreadyExists(_)) => {
                    if let Some(version) = self.follow_past(Some(&commit_id)).await? {
                        return Ok(version);
                    }
                    if let Some(txn) = transactions
                        .iter()
                        .find(|txn| self.other_offsets.contains_key(&txn.app_id))
                    {
                        bail!(
                            "another writer committed offsets of `{}` to {} at the same moment; \
                             nothing was committed, restart to resume from the table",
                            txn.app_id,
                            self.location
                        );
                    }
                }
                Err(error) => {
                    let aborted = log_store
                        .abort_commit_entry(version, commit, operation_id)
                        .await;
                    if let Err(abort) = aborted {
                        tracing::warn!(table = %self.location, "cannot remove the temporary commit file: {abort}");
                    }
                    return Err(error).with_context(|| {
                        format!("cannot commit to the Delta table at {}", self.location)
                    });
                }
            }
        }
        bail!(
            "cannot commit to the Delta table at {}: other writers took the next version {COMMIT_ATTEMPTS} times in a row",
            self.location
        )
    }

    async fn append_by_transaction(
        &mut self,
        adds: Vec<Add>,
        transactions: &[Transaction],
        operation: DeltaOperation,
    ) -> anyhow::Result<u64> {
        // Up to the version `follow` read, so that deltalake's conflict check covers every
        // commit after it.
        self.table
            .update_incremental(Some(self.version))
            .await
            .with_context(|| format!("cannot refresh the Delta table at {}", self.location))?;
        let finalized = CommitBuilder::from(
            CommitProperties::default().with_application_transactions(transactions.to_vec()),
        )
        .with_actions(adds.into_iter().map(Action::Add).collect())
        .build(
            Some(self.table.snapshot()?),
            self.table.log_store(),
            operation,
        )
        .await
        .with_context(|| format!("cannot commit to the Delta table at {}", self.location))?;
        self.table.state = Some(finalized.snapshot());
        // The commits deltalake stepped over to get there are read at the next `follow`,
        // with this one (whose offsets equal what the sink recorded).
        Ok(finalized.version())
    }

    /// Writes a checkpoint of `version` in the background, as deltalake's transaction does
    /// every `delta.checkpointInterval` commits, and removes expired log files if the table
    /// says so. A checkpoint reads every active file's entry once; readers need it to avoid
    /// replaying every commit. Put off to a later commit while the previous one is still
    /// being written.
    fn checkpoint(&mut self, version: u64) {
        if self
            .checkpointing
            .as_ref()
            .is_some_and(|task| !task.is_finished())
        {
            return;
        }
        self.next_checkpoint = checkpoint_after(version, self.checkpoint_interval);
        let location = self.location.clone();
        self.checkpointing = Some(tokio::spawn(async move {
            let started = std::time::Instant::now();
            match write_checkpoint(&location, version).await {
                Ok(()) => {
                    tracing::debug!(table = %location, "wrote a checkpoint of version {version} in {:?}", started.elapsed())
                }
                Err(error) => {
                    tracing::warn!(table = %location, "no checkpoint of version {version}: {error:#}")
                }
            }
        }));
    }

    /// Waits for the checkpoint being written, so that a sink that stops cleanly leaves none
    /// half done. (One that stops on an error leaves the task to finish or not; a checkpoint
    /// is one put, whole or absent, so the table is valid either way.)
    pub async fn finish(&mut self) {
        if let Some(task) = self.checkpointing.take()
            && let Err(error) = task.await
        {
            tracing::warn!(table = %self.location, "the checkpoint task failed: {error}");
        }
    }
}

/// Keeps the higher of the offset held for `txn`'s application id and `txn`'s.
fn raise(offsets: &mut HashMap<String, i64>, txn: &Transaction) {
    let offset = offsets.entry(txn.app_id.clone()).or_insert(txn.version);
    *offset = (*offset).max(txn.version);
}

/// The first version after `version` that deltalake's transaction would checkpoint.
fn checkpoint_after(version: u64, interval: u64) -> u64 {
    let due = (version + 1).next_multiple_of(interval) - 1;
    if due > version { due } else { due + interval }
}

async fn write_checkpoint(location: &TableLocation, version: u64) -> anyhow::Result<()> {
    // Removes expired log files too if the table's `enableExpiredLogCleanup` says so.
    deltalake::checkpoints::create_checkpoint_from_table_url_and_cleanup(
        location.url()?,
        version,
        None,
        None,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use deltalake::arrow::datatypes::{DataType, Field, Schema};
    use deltalake::kernel::transaction::{CommitBuilder, CommitData, CommitProperties};
    use deltalake::kernel::{Action, Add, Transaction};
    use deltalake::logstore::CommitOrBytes;
    use deltalake::protocol::{DeltaOperation, OutputMode};

    use super::{COMMIT_ID_KEY, DeltaLog, checkpoint_after};
    use crate::runtime::CheckpointKey;
    use crate::sinks::delta::table::{TableLocation, open_or_create, open_table};

    #[test]
    fn checkpoints_fall_where_deltalake_puts_them_or_at_the_next_due_version() {
        assert_eq!(checkpoint_after(0, 100), 99);
        assert_eq!(checkpoint_after(98, 100), 99);
        assert_eq!(checkpoint_after(99, 100), 199);
        assert_eq!(checkpoint_after(150, 100), 199);
        assert_eq!(checkpoint_after(199, 100), 299);
        assert_eq!(checkpoint_after(0, 1), 1);
        assert_eq!(checkpoint_after(5, 1), 6);
    }

    fn operation() -> DeltaOperation {
        DeltaOperation::StreamingUpdate {
            output_mode: OutputMode::Append,
            query_id: "test".into(),
            epoch_id: 0,
        }
    }

    /// An entry for a file that is never read: the log does not look at the files.
    fn add(name: &str) -> Add {
        Add {
            path: format!("{name}.parquet"),
            size: 1,
            data_change: true,
            ..Default::default()
        }
    }

    fn key(partition: &str) -> CheckpointKey {
        CheckpointKey {
            lane: None,
            partition: Arc::from(partition),
        }
    }

    /// Commits as another writer would, through deltalake's transaction.
    async fn commit_elsewhere(
        location: &TableLocation,
        actions: Vec<Action>,
        txns: Vec<Transaction>,
    ) {
        let table = open_table(location).await.expect("open").expect("table");
        CommitBuilder::from(CommitProperties::default().with_application_transactions(txns))
            .with_actions(actions)
            .build(
                Some(table.snapshot().expect("snapshot")),
                table.log_store(),
                operation(),
            )
            .await
            .expect("the other writer's commit");
    }

    /// [`commit_elsewhere`] of one file and one offset.
    async fn commit_offset_elsewhere(
        location: &TableLocation,
        file: &str,
        key: &CheckpointKey,
        offset: i64,
    ) {
        commit_elsewhere(
            location,
            vec![Action::Add(add(file))],
            vec![Transaction::new(key.app_id(), offset)],
        )
        .await;
    }

    /// The sink's commit of one file and one offset.
    async fn append(
        log: &mut DeltaLog,
        file: &str,
        key: &CheckpointKey,
        offset: i64,
    ) -> anyhow::Result<u64> {
        log.append(
            vec![add(file)],
            vec![Transaction::new(key.app_id(), offset)],
            operation(),
        )
        .await
    }

    async fn create_table(dir: &std::path::Path) -> TableLocation {
        let location = TableLocation::parse(&dir.display().to_string()).expect("location");
        let schema = Schema::new(vec![Field::new("id", DataType::Int64, true)]);
        open_or_create(&location, "t", &schema, None)
            .await
            .expect("table");
        location
    }

    async fn open_log(location: &TableLocation) -> DeltaLog {
        let table = open_table(location).await.expect("open").expect("table");
        DeltaLog::new(location.clone(), table).expect("log")
    }

    async fn new_table(dir: &std::path::Path) -> (TableLocation, DeltaLog) {
        let location = create_table(dir).await;
        let log = open_log(&location).await;
        (location, log)
    }

    fn checkpoint_every(log: &mut DeltaLog, interval: u64) {
        log.checkpoint_interval = interval;
        log.next_checkpoint = checkpoint_after(log.version, interval);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commits_follow_other_writers_and_refuse_their_offsets() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (location, mut log) = new_table(dir.path()).await;
        let (a, b) = (key("a"), key("b"));
        assert!(log.direct, "a table laketide creates is committed directly");

        let first = append(&mut log, "1", &a, 5).await.expect("first commit");
        assert_eq!(first, 1);
        assert_eq!(log.committed(&a).await.expect("a"), Some(5));

        // Another writer takes version 2 for another key: the sink reads it and commits after.
        commit_offset_elsewhere(&location, "2", &b, 7).await;
        let third = append(&mut log, "3", &a, 9)
            .await
            .expect("a commit after another writer's");
        assert_eq!(third, 3);
        assert_eq!(log.committed(&b).await.expect("b"), Some(7));
        assert_eq!(log.committed(&a).await.expect("a"), Some(9));

        // Another writer commits an offset of the sink's key: a conflict, nothing committed.
        commit_offset_elsewhere(&location, "4", &a, 20).await;
        let error = append(&mut log, "5", &a, 25).await.expect_err("a conflict");
        assert!(
            format!("{error:#}").contains("another writer committed offsets of `laketide:a`"),
            "{error:#}"
        );
        let table = open_table(&location).await.expect("open").expect("table");
        assert_eq!(table.version(), Some(4));
        let files: Vec<String> = table.get_file_uris().expect("file list").collect();
        assert_eq!(files.len(), 4, "{files:?}");
        assert!(
            !files.iter().any(|uri| uri.ends_with("/5.parquet")),
            "{files:?}"
        );

        // What a fresh reader of the table sees agrees with what the sink followed.
        let mut fresh = DeltaLog::new(location.clone(), table).expect("log");
        assert_eq!(fresh.committed(&a).await.expect("a"), Some(20));
        assert_eq!(fresh.committed(&b).await.expect("b"), Some(7));
        assert_eq!(log.committed(&a).await.expect("a"), Some(20));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_commit_reported_failed_that_landed_is_known_as_the_sinks_own() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (location, mut log) = new_table(dir.path()).await;
        let a = key("a");
        // The put of the sink's commit landed at version 1, but the sink was told otherwise.
        let info = HashMap::from([(COMMIT_ID_KEY.to_owned(), "mine".into())]);
        let bytes = CommitData::new(
            vec![Action::Add(add("1"))],
            operation(),
            info,
            vec![Transaction::new(a.app_id(), 5)],
        )
        .get_bytes()
        .expect("bytes");
        let table = open_table(&location).await.expect("open").expect("table");
        table
            .log_store()
            .write_commit_entry(1, CommitOrBytes::LogBytes(bytes), uuid::Uuid::new_v4())
            .await
            .expect("the landed put");
        assert_eq!(
            log.follow_past(Some("mine")).await.expect("follow"),
            Some(1)
        );
        assert!(
            log.take_other_offsets().is_empty(),
            "its offsets are the sink's own"
        );
        assert_eq!(log.committed(&a).await.expect("a"), Some(5));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_key_is_found_after_the_log_the_sink_opened_was_cleaned_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let location = create_table(dir.path()).await;
        let b = key("b");
        commit_offset_elsewhere(&location, "b", &b, 3).await;
        let mut log = open_log(&location).await;
        checkpoint_every(&mut log, 3);
        let a = key("a");
        for offset in 1..=4 {
            append(&mut log, &offset.to_string(), &a, offset)
                .await
                .expect("commit");
            log.finish().await;
        }
        // What log cleanup removes once it has a later checkpoint: the commits the sink opened.
        let log_dir = dir.path().join("_delta_log");
        for version in 0..=2 {
            std::fs::remove_file(log_dir.join(format!("{version:020}.json"))).expect("remove");
        }
        std::fs::remove_file(log_dir.join("00000000000000000002.checkpoint.parquet"))
            .expect("remove");
        assert_eq!(log.committed(&b).await.expect("b"), Some(3));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_schema_or_protocol_change_by_another_writer_stops_the_sink() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (location, mut log) = new_table(dir.path()).await;
        let table = open_table(&location).await.expect("open").expect("table");
        let metadata = table.snapshot().expect("snapshot").metadata().clone();
        commit_elsewhere(&location, vec![Action::Metadata(metadata)], vec![]).await;
        let error = log.follow().await.expect_err("an error");
        assert!(
            format!("{error:#}").contains("changed the schema, configuration or protocol"),
            "{error:#}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checkpoints_are_written_every_interval_of_commits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_, mut log) = new_table(dir.path()).await;
        checkpoint_every(&mut log, 3);
        let a = key("a");
        for offset in 1..=6 {
            append(&mut log, &offset.to_string(), &a, offset)
                .await
                .expect("commit");
            log.finish().await;
        }
        let mut checkpoints: Vec<String> = std::fs::read_dir(dir.path().join("_delta_log"))
            .expect("log")
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| name.contains(".checkpoint."))
            .collect();
        checkpoints.sort();
        assert_eq!(
            checkpoints,
            [
                "00000000000000000002.checkpoint.parquet",
                "00000000000000000005.checkpoint.parquet"
            ]
        );
    }
}
