//! The exactly-once bookkeeping shared by every source and sink.
//!
//! A sink commits, in the same atomic table commit as its data, the last offset it has fully
//! handled for every (lane, partition). On start a source asks every checkpointing sink it
//! feeds where that partition stands and resumes after the smallest answer; each sink then
//! skips records at or below its own answer. Nothing is written twice and nothing is skipped,
//! whatever moment a crash interrupted. See DESIGN.md for the protocol and the cases it covers.

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::dsl::PartitionId;

/// Identifies one checkpoint inside a sink: a partition, and the union lane it arrived through.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CheckpointKey {
    pub lane: Option<Arc<str>>,
    pub partition: Arc<str>,
}

impl CheckpointKey {
    pub fn new(lane: Option<Arc<str>>, partition: &PartitionId) -> Self {
        CheckpointKey {
            lane,
            partition: partition.name.clone(),
        }
    }

    /// The application id under which the checkpoint is stored (Delta `txn.appId`). It names
    /// the partition, not the source or the sink, so renaming either keeps the checkpoints.
    pub fn app_id(&self) -> String {
        match &self.lane {
            None => format!("laketide:{}", self.partition),
            Some(lane) => format!("laketide:{lane}:{}", self.partition),
        }
    }
}

/// Where a sink keeps its committed offsets.
pub trait CheckpointStore: Send + Sync {
    /// The last offset committed for `key`, read from the store's current state (another
    /// process may have committed since this one started).
    fn committed<'a>(
        &'a self,
        key: &'a CheckpointKey,
    ) -> BoxFuture<'a, anyhow::Result<Option<i64>>>;

    /// [`Self::committed`] for several keys at once, in their order: a store that must load
    /// its state to answer (a Delta table's log) loads it once for all of them.
    fn committed_many<'a>(
        &'a self,
        keys: &'a [CheckpointKey],
    ) -> BoxFuture<'a, anyhow::Result<Vec<Option<i64>>>>;

    /// The last offset this process committed for `key`, without reading the store; `None`
    /// if it has committed none since it started.
    fn committed_here(&self, key: &CheckpointKey) -> Option<i64>;

    /// For messages: the table or location.
    fn describe(&self) -> String;
}

/// What a source needs to know to resume: every checkpointing sink it feeds, with the lane.
#[derive(Clone, Default)]
pub struct Resume {
    readers: Vec<Reader>,
}

/// One checkpointing sink a source feeds, and the lane its records arrive through.
#[derive(Clone)]
struct Reader {
    store: Arc<dyn CheckpointStore>,
    lane: Option<Arc<str>>,
}

impl Resume {
    pub(crate) fn add(&mut self, store: Arc<dyn CheckpointStore>, lane: Option<Arc<str>>) {
        self.readers.push(Reader { store, lane });
    }

    /// How many acknowledgements a [`crate::dsl::Barrier`] sent by the source gets: one per
    /// checkpointing sink and lane.
    pub fn sinks(&self) -> usize {
        self.readers.len()
    }

    /// The offset every sink fed by `partition` has committed in this process, if all have.
    pub fn committed_here(&self, partition: &PartitionId) -> Option<i64> {
        let mut lowest: Option<i64> = None;
        for reader in &self.readers {
            let offset = reader
                .store
                .committed_here(&CheckpointKey::new(reader.lane.clone(), partition))?;
            lowest = Some(lowest.map_or(offset, |l| l.min(offset)));
        }
        lowest
    }

    /// The offset after which `partition` must be read again: the smallest committed offset
    /// over all sinks fed by it, or `None` (read from the start) if any of them has none.
    pub async fn committed(&self, partition: &Arc<PartitionId>) -> anyhow::Result<Option<i64>> {
        let offsets = self.committed_all(std::slice::from_ref(partition)).await?;
        Ok(offsets.into_iter().next().flatten())
    }

    /// [`Self::committed`] for every partition of an assignment, each sink's store read once.
    pub async fn committed_all(
        &self,
        partitions: &[Arc<PartitionId>],
    ) -> anyhow::Result<Vec<Option<i64>>> {
        if self.readers.is_empty() {
            return Ok(vec![None; partitions.len()]);
        }
        // `Some(lowest so far)` while every sink has a checkpoint for the partition.
        let mut lowest: Vec<Option<i64>> = vec![Some(i64::MAX); partitions.len()];
        for reader in &self.readers {
            let keys: Vec<CheckpointKey> = partitions
                .iter()
                .map(|partition| CheckpointKey::new(reader.lane.clone(), partition))
                .collect();
            let offsets = reader.store.committed_many(&keys).await?;
            for (lowest, offset) in lowest.iter_mut().zip(offsets) {
                *lowest = match (*lowest, offset) {
                    (Some(l), Some(o)) => Some(l.min(o)),
                    _ => None,
                };
            }
        }
        Ok(lowest)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use futures::FutureExt;

    use super::*;
    use crate::dsl::OffsetUnit;

    /// Offsets by application id.
    struct Fixed(HashMap<String, i64>);

    impl CheckpointStore for Fixed {
        fn committed<'a>(
            &'a self,
            key: &'a CheckpointKey,
        ) -> BoxFuture<'a, anyhow::Result<Option<i64>>> {
            async move { Ok(self.0.get(&key.app_id()).copied()) }.boxed()
        }

        fn committed_many<'a>(
            &'a self,
            keys: &'a [CheckpointKey],
        ) -> BoxFuture<'a, anyhow::Result<Vec<Option<i64>>>> {
            async move {
                Ok(keys
                    .iter()
                    .map(|key| self.0.get(&key.app_id()).copied())
                    .collect())
            }
            .boxed()
        }

        fn committed_here(&self, _: &CheckpointKey) -> Option<i64> {
            None
        }

        fn describe(&self) -> String {
            "fixed".into()
        }
    }

    fn partition(name: &str) -> Arc<PartitionId> {
        Arc::new(PartitionId {
            source: Arc::from("s"),
            name: Arc::from(name),
            unit: OffsetUnit::Offset,
        })
    }

    fn store(offsets: &[(&str, i64)]) -> Arc<dyn CheckpointStore> {
        Arc::new(Fixed(
            offsets
                .iter()
                .map(|(app_id, offset)| (app_id.to_string(), *offset))
                .collect(),
        ))
    }

    #[tokio::test]
    async fn an_assignment_resumes_each_partition_as_its_own_lookup_would() {
        let mut resume = Resume::default();
        resume.add(store(&[("laketide:t/0", 10), ("laketide:t/1", 4)]), None);
        resume.add(
            store(&[
                ("laketide:t/0", 7),
                ("laketide:t/1", 9),
                ("laketide:t/2", 1),
            ]),
            None,
        );
        let partitions = [partition("t/0"), partition("t/1"), partition("t/2")];
        let all = resume.committed_all(&partitions).await.expect("offsets");
        // The smallest over the sinks, and nothing where one sink has none (t/2).
        assert_eq!(all, [Some(7), Some(4), None]);
        for (partition, offset) in partitions.iter().zip(&all) {
            assert_eq!(resume.committed(partition).await.expect("offset"), *offset);
        }
        let none = Resume::default();
        assert_eq!(
            none.committed_all(&partitions).await.expect("offsets"),
            [None, None, None]
        );
    }
}
