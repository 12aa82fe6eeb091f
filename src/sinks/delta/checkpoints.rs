//! Source offsets stored in the Delta log as application transactions (`txn` actions), one
//! per checkpoint key, written in the same commit as the data they cover.

use std::collections::HashMap;
use std::sync::Mutex;

use anyhow::Context;
use futures::FutureExt;
use futures::future::BoxFuture;

use super::table::{TableLocation, open_table};
use crate::runtime::{CheckpointKey, CheckpointStore};

pub struct DeltaCheckpoints {
    location: TableLocation,
    /// What this process's sink committed last, per key: cheap to read for progress reports
    /// such as committing offsets back to Kafka.
    latest: Mutex<HashMap<CheckpointKey, i64>>,
}

impl DeltaCheckpoints {
    pub fn new(location: TableLocation) -> Self {
        DeltaCheckpoints {
            location,
            latest: Mutex::new(HashMap::new()),
        }
    }

    pub(super) fn record_commit(&self, key: &CheckpointKey, offset: i64) {
        self.latest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone(), offset);
    }
}

impl CheckpointStore for DeltaCheckpoints {
    fn committed<'a>(
        &'a self,
        key: &'a CheckpointKey,
    ) -> BoxFuture<'a, anyhow::Result<Option<i64>>> {
        async move {
            let offsets = self.committed_many(std::slice::from_ref(key)).await?;
            Ok(offsets.into_iter().next().flatten())
        }
        .boxed()
    }

    /// One load of the table for all the keys (an assignment's partitions): each load reads
    /// the list of every active file.
    fn committed_many<'a>(
        &'a self,
        keys: &'a [CheckpointKey],
    ) -> BoxFuture<'a, anyhow::Result<Vec<Option<i64>>>> {
        async move {
            let Some(table) = open_table(&self.location).await? else {
                return Ok(vec![None; keys.len()]);
            };
            let mut offsets = Vec::with_capacity(keys.len());
            for key in keys {
                offsets.push(committed_in(&table, key).await?);
            }
            Ok(offsets)
        }
        .boxed()
    }

    fn committed_here(&self, key: &CheckpointKey) -> Option<i64> {
        self.latest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .copied()
    }

    fn describe(&self) -> String {
        format!("delta table {}", self.location)
    }
}

/// The offset committed for `key` in this loaded table state.
pub(super) async fn committed_in(
    table: &deltalake::DeltaTable,
    key: &CheckpointKey,
) -> anyhow::Result<Option<i64>> {
    table
        .snapshot()?
        .transaction_version(table.log_store().as_ref(), key.app_id())
        .await
        .with_context(|| {
            format!(
                "cannot read the offset committed for `{}` from the Delta log of {}",
                key.app_id(),
                table.table_url()
            )
        })
}
