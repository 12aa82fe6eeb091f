//! Typed streams and their operators.
//!
//! Operators compose like iterator adapters and are checked by the compiler. One-to-one
//! operators (`map`, `filter`, `flat_map`, `key_by`, `inspect`) are fused into the consuming
//! task: they cost a function call per record. Operators with several outputs (`try_map`,
//! `branch`, `tee`) run in a task of their own that feeds bounded queues, which also gives
//! the pipeline parallelism between stages.
//!
//! Windows and joins will consume the same batches: records carry event timestamps
//! (`with_timestamp`) and batches carry progress, from which watermarks derive.

use std::fmt::Display;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::{self, BoxStream};
use tokio::sync::mpsc;

use super::dead_letter::{DeadLetter, now_micros};
use super::record::{Batch, Record};
use super::topology::{Namespace, Topology};
use crate::runtime::QUEUE_BATCHES;
use crate::sinks::Sink;

/// Which source a stream's records come from, and through which union lane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    pub source: Arc<str>,
    pub lane: Option<Arc<str>>,
}

/// A typed stream of records, part of a [`Topology`].
pub struct Stream<T> {
    topology: Topology,
    name: Arc<str>,
    origins: Vec<Origin>,
    inner: BoxStream<'static, Batch<T>>,
}

pub(crate) fn receiver_stream<T: Send + 'static>(
    receiver: mpsc::Receiver<T>,
) -> BoxStream<'static, T> {
    stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    })
    .boxed()
}

impl<T: Send + 'static> Stream<T> {
    pub(crate) fn from_parts(
        topology: Topology,
        name: Arc<str>,
        origins: Vec<Origin>,
        inner: BoxStream<'static, Batch<T>>,
    ) -> Self {
        Stream {
            topology,
            name,
            origins,
            inner,
        }
    }

    pub(crate) fn into_parts(self) -> (Arc<str>, Vec<Origin>, BoxStream<'static, Batch<T>>) {
        (self.name, self.origins, self.inner)
    }

    /// The name of the stage that produced this stream.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The same stream under a stage name of its own. Operators such as [`Self::filter`]
    /// keep their input's name; a union names its lanes (and so their checkpoints) after its
    /// inputs, so two filtered copies of one stream must be named apart before a union.
    pub fn named(mut self, name: &str) -> Stream<T> {
        self.name = self.topology.claim_name(Namespace::Streams, name);
        self
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    fn with_inner<U: Send + 'static>(self, inner: BoxStream<'static, Batch<U>>) -> Stream<U> {
        Stream {
            topology: self.topology,
            name: self.name,
            origins: self.origins,
            inner,
        }
    }

    /// Rebuilds every batch's records with `f`, keeping progress and lane.
    fn map_batches<U, F>(mut self, mut f: F) -> Stream<U>
    where
        U: Send + 'static,
        F: FnMut(Vec<Record<T>>) -> Vec<Record<U>> + Send + 'static,
    {
        let inner = std::mem::replace(&mut self.inner, stream::empty().boxed());
        self.with_inner(
            inner
                .map(move |batch: Batch<T>| Batch {
                    records: f(batch.records),
                    progress: batch.progress,
                    lane: batch.lane,
                    barrier: batch.barrier,
                })
                .boxed(),
        )
    }

    /// Transforms every value.
    pub fn map<U, F>(self, mut f: F) -> Stream<U>
    where
        U: Send + 'static,
        F: FnMut(T) -> U + Send + 'static,
    {
        self.map_batches(move |records| {
            records
                .into_iter()
                .map(|record| {
                    let (value, meta) = record.split_value();
                    meta.with_value(f(value))
                })
                .collect()
        })
    }

    /// Keeps the records whose value satisfies `predicate`. Dropped records still count as
    /// handled: their offsets are committed downstream like any other.
    pub fn filter<F>(self, mut predicate: F) -> Stream<T>
    where
        F: FnMut(&T) -> bool + Send + 'static,
    {
        self.map_batches(move |mut records| {
            records.retain(|record| predicate(&record.value));
            records
        })
    }

    /// Keeps the records that satisfy `predicate`, which sees their metadata (position, key,
    /// headers) as well as their value. Dropped records count as handled, as with [`Self::filter`].
    pub fn filter_records<F>(self, mut predicate: F) -> Stream<T>
    where
        F: FnMut(&Record<T>) -> bool + Send + 'static,
    {
        self.map_batches(move |mut records| {
            records.retain(|record| predicate(record));
            records
        })
    }

    /// Replaces every value with zero or more values; they share the input's metadata.
    pub fn flat_map<U, I, F>(self, mut f: F) -> Stream<U>
    where
        U: Send + 'static,
        I: IntoIterator<Item = U>,
        F: FnMut(T) -> I + Send + 'static,
    {
        self.map_batches(move |records| {
            let mut out = Vec::with_capacity(records.len());
            for record in records {
                let (value, meta) = record.split_value();
                for produced in f(value) {
                    out.push(meta.clone().with_value(produced));
                }
            }
            out
        })
    }

    /// Sets every record's key, for partitioning and later joins.
    pub fn key_by<K, F>(self, mut f: F) -> Stream<T>
    where
        K: Into<Bytes>,
        F: FnMut(&T) -> K + Send + 'static,
    {
        self.map_batches(move |mut records| {
            for record in &mut records {
                record.key = Some(f(&record.value).into());
            }
            records
        })
    }

    /// Sets every record's event time (microseconds since the Unix epoch, UTC), which
    /// event-time operators read.
    pub fn with_timestamp<F>(self, mut f: F) -> Stream<T>
    where
        F: FnMut(&T) -> Option<i64> + Send + 'static,
    {
        self.map_batches(move |mut records| {
            for record in &mut records {
                if let Some(timestamp) = f(&record.value) {
                    record.timestamp = Some(timestamp);
                }
            }
            records
        })
    }

    /// Looks at every record without changing it (logging, metrics, tests).
    pub fn inspect<F>(self, mut f: F) -> Stream<T>
    where
        F: FnMut(&Record<T>) + Send + 'static,
    {
        self.map_batches(move |records| {
            records.iter().for_each(&mut f);
            records
        })
    }

    /// Transforms every value with a fallible function. Values it rejects become dead
    /// letters, with the record's raw bytes, its position and the error, on the second
    /// stream; they are never dropped silently. `name` identifies this stage in dead letters.
    pub fn try_map<U, E, F>(self, name: &str, mut f: F) -> (Stream<U>, Stream<DeadLetter>)
    where
        U: Send + 'static,
        E: Display,
        F: FnMut(T) -> Result<U, E> + Send + 'static,
    {
        let stage = self.topology.claim_name(Namespace::Streams, name);
        let stats = self.topology.stats();
        let dead_name: Arc<str> = Arc::from(format!("{stage}.dead"));
        let label = stage.clone();
        let (ok, dead) = self.split(stage.clone(), [stage.clone(), dead_name], move |batch| {
            let mut good = Vec::with_capacity(batch.records.len());
            let mut bad = Vec::new();
            let failed_at = now_micros();
            let lane = batch.lane.clone();
            let progress = batch.progress.clone();
            let barrier = batch.barrier.clone();
            for record in batch.records {
                let (value, meta) = record.split_value();
                match f(value) {
                    Ok(value) => good.push(meta.with_value(value)),
                    Err(error) => {
                        let dead = DeadLetter {
                            raw: meta.raw.clone(),
                            position: meta.position.clone(),
                            stage: label.clone(),
                            error: error.to_string(),
                            failed_at,
                        };
                        bad.push(meta.with_value(dead));
                    }
                }
            }
            if !bad.is_empty() {
                stats.dead(&label, bad.len() as u64);
            }
            (
                Batch {
                    records: good,
                    progress: progress.clone(),
                    lane: lane.clone(),
                    barrier: barrier.clone(),
                },
                Batch {
                    records: bad,
                    progress,
                    lane,
                    barrier,
                },
            )
        });
        (ok, dead)
    }

    /// Splits the stream in two: records whose value satisfies `predicate`, and the rest.
    pub fn branch<F>(self, name: &str, mut predicate: F) -> (Stream<T>, Stream<T>)
    where
        F: FnMut(&T) -> bool + Send + 'static,
    {
        let stage = self.topology.claim_name(Namespace::Streams, name);
        let rest: Arc<str> = Arc::from(format!("{stage}.rest"));
        let (matching, others) = self.split(stage.clone(), [stage, rest], move |batch| {
            let (yes, no): (Vec<_>, Vec<_>) = batch
                .records
                .into_iter()
                .partition(|record| predicate(&record.value));
            (
                Batch {
                    records: yes,
                    progress: batch.progress.clone(),
                    lane: batch.lane.clone(),
                    barrier: batch.barrier.clone(),
                },
                Batch {
                    records: no,
                    progress: batch.progress,
                    lane: batch.lane,
                    barrier: batch.barrier,
                },
            )
        });
        (matching, others)
    }

    /// Runs `route` in a task of its own, feeding one bounded queue per output. An output
    /// whose consumer has gone is skipped; the task ends when both have gone or input ends.
    fn split<A, B, F>(
        self,
        stage: Arc<str>,
        names: [Arc<str>; 2],
        mut route: F,
    ) -> (Stream<A>, Stream<B>)
    where
        A: Send + 'static,
        B: Send + 'static,
        F: FnMut(Batch<T>) -> (Batch<A>, Batch<B>) + Send + 'static,
    {
        let (first_sender, first) = mpsc::channel(QUEUE_BATCHES);
        let (second_sender, second) = mpsc::channel(QUEUE_BATCHES);
        let mut input = self.inner;
        self.topology.add_task(
            stage,
            Box::pin(async move {
                let mut first_sender = Some(first_sender);
                let mut second_sender = Some(second_sender);
                while let Some(batch) = input.next().await {
                    let (a, b) = route(batch);
                    if let Some(sender) = &first_sender
                        && sender.send(a).await.is_err()
                    {
                        first_sender = None;
                    }
                    if let Some(sender) = &second_sender
                        && sender.send(b).await.is_err()
                    {
                        second_sender = None;
                    }
                    if first_sender.is_none() && second_sender.is_none() {
                        break;
                    }
                }
                Ok(())
            }),
        );
        let [first_name, second_name] = names;
        (
            Stream {
                topology: self.topology.clone(),
                name: first_name,
                origins: self.origins.clone(),
                inner: receiver_stream(first),
            },
            Stream {
                topology: self.topology,
                name: second_name,
                origins: self.origins,
                inner: receiver_stream(second),
            },
        )
    }

    /// Merges streams of the same type. Each input becomes a lane named after it, and offsets
    /// are committed per lane, because the inputs may carry the same source partition at
    /// different paces.
    pub fn union(self, name: &str, others: Vec<Stream<T>>) -> Stream<T> {
        let name = self.topology.claim_name(Namespace::Streams, name);
        let topology = self.topology.clone();
        let mut origins = Vec::new();
        let mut inputs = Vec::new();
        let mut lanes = std::collections::HashSet::new();
        for input in std::iter::once(self).chain(others) {
            let lane = input.name.clone();
            // Two lanes of one name would share their offsets: one input's progress could
            // commit offsets of records the other has not delivered yet, which would then be
            // skipped as written.
            if !lanes.insert(lane.clone()) {
                topology.report(format!(
                    "the union `{name}` has two inputs from the stream `{lane}`; give each its own name (`Stream::named`), so that each keeps its own offsets"
                ));
            }
            for origin in &input.origins {
                origins.push(Origin {
                    source: origin.source.clone(),
                    lane: Some(join_lane(&lane, origin.lane.as_deref())),
                });
            }
            inputs.push(
                input
                    .inner
                    .map(move |mut batch| {
                        batch.lane = Some(join_lane(&lane, batch.lane.as_deref()));
                        batch
                    })
                    .boxed(),
            );
        }
        Stream {
            topology,
            name,
            origins,
            inner: stream::select_all(inputs).boxed(),
        }
    }

    /// Writes the stream to `sink`; `name` identifies the sink in logs and metrics.
    pub fn sink(self, name: &str, sink: impl Sink<T>) {
        self.topology.clone().add_sink(name, self, sink);
    }

    /// Consumes the stream and discards it (progress still flows to nothing that commits).
    pub fn drain(self, name: &str) {
        let name = self.topology.claim_name(Namespace::Streams, name);
        let mut input = self.inner;
        self.topology.add_task(
            name,
            Box::pin(async move {
                while input.next().await.is_some() {}
                Ok(())
            }),
        );
    }
}

impl<T: Send + 'static> Stream<T> {
    /// Splits the stream `n` ways without copying records: each record goes to the output
    /// `choose` picks, or to none. Every output gets all progress and barriers, so each
    /// commits the offsets of the records it never saw, as behind a filter.
    pub fn route<F>(self, name: &str, n: usize, mut choose: F) -> Vec<Stream<T>>
    where
        F: FnMut(&Record<T>) -> Option<usize> + Send + 'static,
    {
        self.fan_out(name, n, move |records| {
            // Choices first, so that each part is allocated once at its size.
            let choices: Vec<Option<usize>> = records.iter().map(&mut choose).collect();
            let mut sizes = vec![0; n];
            debug_assert!(choices.iter().flatten().all(|&choice| choice < n));
            for &choice in choices.iter().flatten() {
                if let Some(size) = sizes.get_mut(choice) {
                    *size += 1;
                }
            }
            let mut parts: Vec<Vec<Record<T>>> =
                sizes.into_iter().map(Vec::with_capacity).collect();
            for (record, choice) in records.into_iter().zip(choices) {
                if let Some(part) = choice.and_then(|i| parts.get_mut(i)) {
                    part.push(record);
                }
            }
            parts
        })
    }

    /// Hands every batch to `n` outputs, `split` dividing its records among them; each output
    /// gets the batch's progress, lane and barrier. Ends once every output is gone.
    fn fan_out<F>(self, name: &str, n: usize, mut split: F) -> Vec<Stream<T>>
    where
        F: FnMut(Vec<Record<T>>) -> Vec<Vec<Record<T>>> + Send + 'static,
    {
        let stage = self.topology.claim_name(Namespace::Streams, name);
        let mut senders = Vec::with_capacity(n);
        let mut streams = Vec::with_capacity(n);
        for _ in 0..n {
            let (sender, receiver) = mpsc::channel(QUEUE_BATCHES);
            senders.push(Some(sender));
            streams.push(Stream {
                topology: self.topology.clone(),
                name: self.name.clone(),
                origins: self.origins.clone(),
                inner: receiver_stream(receiver),
            });
        }
        let mut input = self.inner;
        self.topology.add_task(
            stage,
            Box::pin(async move {
                while let Some(mut batch) = input.next().await {
                    let parts = split(std::mem::take(&mut batch.records));
                    for (slot, records) in senders.iter_mut().zip(parts) {
                        if let Some(sender) = slot
                            && sender.send(batch.with_records(records)).await.is_err()
                        {
                            *slot = None;
                        }
                    }
                    if senders.iter().all(Option::is_none) {
                        break;
                    }
                }
                Ok(())
            }),
        );
        streams
    }
}

impl<T: Clone + Send + 'static> Stream<T> {
    /// Copies the stream to `n` consumers (each gets every record and all progress).
    pub fn tee(self, name: &str, n: usize) -> Vec<Stream<T>> {
        self.fan_out(name, n, move |records| {
            let mut copies: Vec<Vec<Record<T>>> = (1..n).map(|_| records.clone()).collect();
            copies.push(records);
            copies
        })
    }
}

fn join_lane(outer: &str, inner: Option<&str>) -> Arc<str> {
    match inner {
        None => Arc::from(outer),
        Some(inner) => Arc::from(format!("{outer}/{inner}")),
    }
}
