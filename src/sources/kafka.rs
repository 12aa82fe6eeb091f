//! Consumes Kafka topics as a member of a consumer group.
//!
//! Partitions are assigned by the group (cooperative-sticky by default). On assignment each
//! partition is positioned after the offset the sinks downstream have committed in their
//! tables: the table, not Kafka, is the source of truth. Before partitions are given up, the
//! source sends a barrier and waits until every sink has committed what it received, so the
//! next owner resumes exactly after it. Offsets are also committed back to Kafka once the
//! tables hold them, so standard lag tools see the group's progress. See DESIGN.md.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::{Bytes, BytesMut};
use futures::FutureExt;
use futures::future::BoxFuture;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, TopicPartitionList as Tpl};
use rustc_hash::FxHashMap;
use serde::Deserialize;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::{RecordOrigin, RecordTopics, Source, SourceContext};
use crate::dsl::{
    Barrier, Batch, OffsetUnit, Partition, PartitionId, Position, Progress, Record, now_micros,
};
use crate::kafka::fetch_queue::{FetchQueue, FetchRoute, FetchedMessage, stop_routing};
use crate::runtime::{Resume, RunStats, Shutdown};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSourceConfig {
    /// `host:port[,host:port...]`
    pub brokers: String,
    pub topics: Vec<String>,
    /// Consumer group; processes with the same group split the partitions.
    pub group: String,
    /// librdkafka properties passed through as they are (security, SASL, timeouts, ...).
    /// Values are never logged.
    #[serde(default, deserialize_with = "crate::kafka::property_values")]
    pub properties: BTreeMap<String, String>,
    /// Records per batch handed downstream.
    #[serde(default = "default_batch_records")]
    pub batch_records: usize,
    /// A partly filled batch is handed on after this long.
    #[serde(
        default = "default_max_batch_wait",
        deserialize_with = "crate::units::duration"
    )]
    pub max_batch_wait: Duration,
    /// How long to wait for the sinks to commit before giving partitions up.
    #[serde(
        default = "default_barrier_timeout",
        deserialize_with = "crate::units::duration"
    )]
    pub barrier_timeout: Duration,
    /// Whether records carry their messages' Kafka headers (for a Kafka sink to forward).
    /// librdkafka parses a message's headers on request, with two allocations even when the
    /// message has none (15% of a Kafka pipeline's instructions, BENCHMARKS.md), so a
    /// topology whose records never leave through a Kafka sink can turn it off.
    #[serde(default = "default_headers")]
    pub headers: bool,
}

fn default_headers() -> bool {
    true
}

fn default_batch_records() -> usize {
    2048
}

fn default_max_batch_wait() -> Duration {
    Duration::from_millis(100)
}
fn default_barrier_timeout() -> Duration {
    Duration::from_secs(60)
}

/// Properties laketide sets itself: overriding them would break the exactly-once protocol.
const RESERVED: [(&str, &str); 4] = [
    ("group.id", "group"),
    ("bootstrap.servers", "brokers"),
    (
        "enable.auto.commit",
        "nothing: offsets are committed after the tables",
    ),
    (
        "enable.auto.offset.store",
        "nothing: offsets are committed after the tables",
    ),
];

impl KafkaSourceConfig {
    pub fn new(brokers: impl Into<String>, topics: Vec<String>, group: impl Into<String>) -> Self {
        KafkaSourceConfig {
            brokers: brokers.into(),
            topics,
            group: group.into(),
            properties: BTreeMap::new(),
            batch_records: default_batch_records(),
            max_batch_wait: default_max_batch_wait(),
            barrier_timeout: default_barrier_timeout(),
            headers: default_headers(),
        }
    }

    /// Checks what can be checked without a broker. Errors name the config key.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.brokers.trim().is_empty() {
            return Err(("brokers", "is empty; give host:port[,host:port]".into()));
        }
        if self.topics.is_empty() || self.topics.iter().any(|t| t.trim().is_empty()) {
            return Err(("topics", "needs at least one non-empty topic name".into()));
        }
        if self.group.trim().is_empty() {
            return Err(("group", "is empty; name the consumer group".into()));
        }
        if self.batch_records == 0 {
            return Err(("batch_records", "must be at least 1".into()));
        }
        for (property, instead) in RESERVED {
            if self.properties.contains_key(property) {
                return Err((
                    "properties",
                    format!("`{property}` is set by laketide; set {instead}"),
                ));
            }
        }
        Ok(())
    }

    fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", &self.group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "cooperative-sticky")
            // A member that dies (or, with librdkafka 2.12, one that closes: its LeaveGroup goes
            // out without its member id) holds its partitions until its session times out;
            // 10 s instead of 45 s bounds how long a restart or a failover waits.
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "1000")
            // Prefetching: librdkafka's defaults (64 MiB queued per consumer, 50 MiB fetch
            // responses, 100,000 messages kept per partition) cost hundreds of MiB with one
            // consumer per source and many partitions, and a full queue pauses fetching for a
            // whole second. These keep the fetchers ahead of a sink writing several hundred
            // thousand records a second in a fraction of the memory (see BENCHMARKS.md).
            .set("queued.max.messages.kbytes", "8192")
            .set("queued.min.messages", "10000")
            .set("fetch.max.bytes", "4194304")
            .set("max.partition.fetch.bytes", "262144")
            .set("fetch.queue.backoff.ms", "10")
            .set_log_level(RDKafkaLogLevel::Warning);
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
    }
}

pub struct KafkaSource {
    config: KafkaSourceConfig,
}

impl KafkaSource {
    pub fn new(config: KafkaSourceConfig) -> Self {
        KafkaSource { config }
    }
}

impl Source for KafkaSource {
    fn describe(&self) -> String {
        format!(
            "kafka {} topics [{}] group {}",
            self.config.brokers,
            self.config.topics.join(", "),
            self.config.group
        )
    }

    fn origin(&self) -> RecordOrigin {
        // librdkafka reads a subscription starting with `^` as a regular expression.
        let pattern = self.config.topics.iter().any(|t| t.starts_with('^'));
        RecordOrigin {
            topics: if pattern {
                RecordTopics::Unknown
            } else {
                RecordTopics::Named(self.config.topics.clone())
            },
            headers_dropped: !self.config.headers,
        }
    }

    fn run(self: Box<Self>, ctx: SourceContext) -> BoxFuture<'static, anyhow::Result<()>> {
        let handle = Handle::current();
        async move {
            tokio::task::spawn_blocking(move || consume(self.config, ctx, handle))
                .await
                .context("the Kafka consumer thread panicked")?
        }
        .boxed()
    }
}

/// What the consumer thread and its rebalance callback share.
struct Shared {
    source: Arc<str>,
    resume: Resume,
    handle: Handle,
    stats: Arc<RunStats>,
    barrier_timeout: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Where batches go; `None` once the source has given its partitions up and is closing
    /// the consumer, which ends the output even while the close goes on (see [`leave_group`]).
    output: Option<mpsc::Sender<Batch<Bytes>>>,
    /// Whether a batch went downstream since the sinks last acknowledged a barrier: if not,
    /// there is nothing for a barrier to wait for.
    handed_on_since_barrier: bool,
    /// Assigned partitions by (topic, partition). Looked up for every message, so with a fast
    /// hash instead of SipHash, which cost ~380 instructions per message (2.5% of the Kafka
    /// pipeline, callgrind); the keys come from the group's assignment, not from message data.
    assigned: FxHashMap<(String, i32), Assigned>,
    /// The key of the partition the last message came from: messages arrive in runs per
    /// partition, so most lookups reuse it instead of allocating a key.
    last_key: Option<(String, i32)>,
    /// Where assigned partitions send their messages, while the poll loop takes from there
    /// (see [`crate::kafka::fetch_queue`]); `None` before and after, when they stay on the
    /// consumer queue.
    fetch_route: Option<FetchRoute>,
    records: Vec<Record<Bytes>>,
    /// Message payloads and keys are copied out of librdkafka's buffers into this shared
    /// buffer, one after another, rather than each into an allocation of its own (see
    /// [`copy_payload`]).
    payloads: BytesMut,
    /// Whether any assigned partition has read offsets not yet sent downstream as progress.
    progress_pending: bool,
    /// Whether this member holds the outcome of a completed join: librdkafka calls the assign
    /// callback after every successful group sync (with no partitions too), and a revocation
    /// is followed by a rejoin.
    joined: bool,
    batch_started: Option<Instant>,
    /// Wall clock when the batch started, in µs: the ingest time of messages without a timestamp.
    batch_read_at: i64,
    downstream_gone: bool,
}

impl State {
    /// Sends `batch` downstream, waiting for room. False once downstream has gone.
    fn hand_on(&mut self, batch: Batch<Bytes>) -> bool {
        let sent = self
            .output
            .as_ref()
            .is_some_and(|output| output.blocking_send(batch).is_ok());
        if sent {
            self.handed_on_since_barrier = true;
        } else {
            self.downstream_gone = true;
        }
        sent
    }
}

struct Assigned {
    partition: Partition,
    /// Offsets at or below this are in every sink's table already.
    committed: Option<i64>,
    /// The last offset read here.
    read: Option<i64>,
    /// `read` has moved since progress was last sent downstream.
    progress_pending: bool,
    /// The last offset committed to Kafka by this process.
    committed_to_kafka: Option<i64>,
    /// Its messages go to the fetch queue. One that could not be routed is not routed later
    /// in the assignment, so that its messages never come by two paths, out of order.
    routed: bool,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hands the batch being built downstream. False once downstream has gone.
    fn flush(&self, state: &mut State) -> bool {
        if state.records.is_empty() && !state.progress_pending {
            return !state.downstream_gone;
        }
        let records = std::mem::take(&mut state.records);
        let mut progress = Vec::new();
        for assigned in state.assigned.values_mut() {
            if let (true, Some(offset)) = (assigned.progress_pending, assigned.read) {
                assigned.progress_pending = false;
                progress.push(Progress {
                    partition: assigned.partition.clone(),
                    offset,
                });
            }
        }
        state.progress_pending = false;
        state.batch_started = None;
        self.stats.read(&self.source, records.len() as u64);
        state.hand_on(Batch::new(records, progress))
    }

    /// Sends what is buffered plus a barrier, and waits until every sink committed it.
    fn commit_everything(&self) {
        let barrier = Barrier::new();
        {
            let mut state = self.state();
            if !self.flush(&mut state) || !state.handed_on_since_barrier {
                return;
            }
            let mut batch = Batch::new(Vec::new(), Vec::new());
            batch.barrier = Some(barrier.clone());
            if !state.hand_on(batch) {
                return;
            }
        }
        let started = Instant::now();
        if barrier.wait(self.resume.sinks(), self.barrier_timeout) {
            tracing::debug!(source = %self.source, "sinks committed in {:?}", started.elapsed());
            // Only what this thread hands on sets it again, and this thread is here.
            self.state().handed_on_since_barrier = false;
        } else {
            tracing::error!(
                source = %self.source,
                "the sinks did not commit within {:?}; the next owner of these partitions may re-read records this process read",
                self.barrier_timeout
            );
        }
    }

    fn assign(&self, consumer: &BaseConsumer<GroupContext>, tpl: &mut TopicPartitionList) {
        let mut state = self.state();
        state.joined = true;
        let route = state.fetch_route;
        let mut partitions = Vec::new();
        for element in tpl.elements() {
            let (topic, number) = (element.topic().to_owned(), element.partition());
            // Before the assignment starts the fetching: from then on the partition's messages
            // all go to the fetch queue.
            // SAFETY: `fetch_route` is set only while its queue lives (see `RouteInState`).
            let routed =
                route.is_some_and(|route| unsafe { route.route(consumer, &topic, number) });
            if route.is_some() && !routed {
                tracing::error!(source = %self.source, "cannot route {topic}/{number} to the fetch queue; if it was routed in an earlier assignment, it reads nothing until the next rebalance");
            }
            let partition = Arc::new(PartitionId {
                source: self.source.clone(),
                name: Arc::from(format!("{topic}/{number}")),
                unit: OffsetUnit::Offset,
            });
            partitions.push((topic, number, partition, routed));
        }
        // The tables say where to resume; they are read fresh, since another process may
        // have committed these partitions until a moment ago. Each table is read once for
        // the whole assignment.
        let ids: Vec<Arc<PartitionId>> =
            partitions.iter().map(|(_, _, id, _)| id.clone()).collect();
        let committed = match self.handle.block_on(self.resume.committed_all(&ids)) {
            Ok(committed) => committed,
            Err(error) => {
                tracing::error!(source = %self.source, "cannot read the checkpoints, starting from the group's offsets: {error:#}");
                vec![None; ids.len()]
            }
        };
        for ((topic, number, partition, routed), committed) in partitions.into_iter().zip(committed)
        {
            tracing::info!(source = %self.source, partition = %partition.name, "assigned; resuming after {}", committed.map_or("nothing (from the group offset or the earliest)".into(), |c| c.to_string()));
            state.assigned.insert(
                (topic, number),
                Assigned {
                    partition,
                    committed,
                    read: None,
                    progress_pending: false,
                    committed_to_kafka: None,
                    routed,
                },
            );
        }
        for ((topic, number), assigned) in &state.assigned {
            if let Some(committed) = assigned.committed {
                let _ = tpl.set_partition_offset(topic, *number, Offset::Offset(committed + 1));
            }
        }
        drop(state);
        metrics::counter!("laketide_kafka_rebalances_total", "source" => self.source.to_string(), "kind" => "assign")
            .increment(1);
        let result = match consumer.rebalance_protocol() {
            rdkafka::consumer::RebalanceProtocol::Cooperative => consumer.incremental_assign(tpl),
            _ => consumer.assign(tpl),
        };
        if let Err(error) = result {
            tracing::error!(source = %self.source, "cannot take the assigned partitions: {error}");
        }
        // A stop of these partitions from an earlier assignment, handled since, may have
        // dropped the routes just set (see `route_again`).
        self.route_again(consumer);
    }

    fn revoke(&self, consumer: &BaseConsumer<GroupContext>, tpl: &TopicPartitionList) {
        tracing::debug!(source = %self.source, "revoking {} partitions", tpl.count());
        self.state().joined = false;
        // Everything read so far, from every partition, is committed before any is let go.
        // Kafka's offsets are not committed here: a commit from inside the rebalance callback
        // waits on the rebalance itself (seen with librdkafka 2.12). The poll loop commits
        // them every second, and the next owner commits its own.
        self.commit_everything();
        let mut state = self.state();
        state.last_key = None;
        for element in tpl.elements() {
            state
                .assigned
                .remove(&(element.topic().to_owned(), element.partition()));
            tracing::info!(source = %self.source, partition = %format!("{}/{}", element.topic(), element.partition()), "revoked");
        }
        drop(state);
        metrics::counter!("laketide_kafka_rebalances_total", "source" => self.source.to_string(), "kind" => "revoke")
            .increment(1);
        let result = match consumer.rebalance_protocol() {
            rdkafka::consumer::RebalanceProtocol::Cooperative => consumer.incremental_unassign(tpl),
            _ => consumer.unassign(),
        };
        if let Err(error) = result {
            tracing::error!(source = %self.source, "cannot release the revoked partitions: {error}");
        }
    }

    /// Routes the routed partitions again. librdkafka drops a route when a partition stops
    /// fetching, and the stop is handled on its own thread: a partition revoked and assigned
    /// again at once could lose the route set before the assignment. Its messages then wait
    /// on the partition's own queue, in order, until this moves them on.
    fn route_again(&self, consumer: &BaseConsumer<GroupContext>) {
        let state = self.state();
        let Some(route) = state.fetch_route else {
            return;
        };
        for ((topic, number), _) in state.assigned.iter().filter(|(_, a)| a.routed) {
            // SAFETY: `fetch_route` is set only while its queue lives (see `RouteInState`).
            unsafe { route.route(consumer, topic, *number) };
        }
    }

    /// Commits to Kafka the offsets every sink has committed to its table.
    fn commit_to_kafka(&self, consumer: &BaseConsumer<GroupContext>, mode: CommitMode) {
        let mut list = Tpl::new();
        let mut state = self.state();
        for ((topic, number), assigned) in state.assigned.iter_mut() {
            let Some(done) = self.resume.committed_here(&assigned.partition) else {
                continue;
            };
            if assigned.committed_to_kafka.is_some_and(|c| c >= done) {
                continue;
            }
            if list
                .add_partition_offset(topic, *number, Offset::Offset(done + 1))
                .is_ok()
            {
                assigned.committed_to_kafka = Some(done);
            }
        }
        drop(state);
        if list.count() > 0 {
            tracing::debug!(source = %self.source, "committing to Kafka: {list:?}");
        }
        if list.count() > 0
            && let Err(error) = consumer.commit(&list, mode)
        {
            tracing::warn!(source = %self.source, "cannot commit offsets to Kafka (the tables hold them; only lag tools are affected): {error}");
        }
    }
}

struct GroupContext {
    shared: Arc<Shared>,
}

impl ClientContext for GroupContext {}

impl ConsumerContext for GroupContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                self.shared.assign(consumer, tpl)
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                self.shared.revoke(consumer, tpl)
            }
            other => {
                tracing::error!(source = %self.shared.source, "rebalance error: {other:?}");
                let _ = consumer.unassign();
            }
        }
    }
}

/// How long the poll loop waits for messages (or, before any partition is assigned, for
/// events) when there are none: also how late the other queue is looked at.
const POLL_WAIT: Duration = Duration::from_millis(50);

/// Events served from the consumer queue per turn of the poll loop at most, so that a burst
/// of them does not hold up the messages.
const EVENTS_PER_TURN: usize = 64;

fn consume(config: KafkaSourceConfig, ctx: SourceContext, handle: Handle) -> anyhow::Result<()> {
    let shared = Arc::new(Shared {
        source: ctx.name.clone(),
        resume: ctx.resume.clone(),
        handle,
        stats: ctx.stats.clone(),
        barrier_timeout: config.barrier_timeout,
        state: Mutex::new(State {
            output: Some(ctx.output),
            ..State::default()
        }),
    });
    let consumer: BaseConsumer<GroupContext> = config
        .client_config()
        .create_with_context(GroupContext {
            shared: shared.clone(),
        })
        .context("cannot create the Kafka consumer (check `properties`)")?;
    let mut fetches = FetchQueue::new(&consumer)
        .context("cannot create a queue for the Kafka consumer's messages")?;
    // SAFETY: `routing` is declared after `fetches`, so it is dropped first on every path.
    let routing = unsafe { RouteInState::set(&shared, &consumer, fetches.route()) };
    let topics: Vec<&str> = config.topics.iter().map(String::as_str).collect();
    consumer
        .subscribe(&topics)
        .with_context(|| format!("cannot subscribe to {}", config.topics.join(", ")))?;
    let targets = if ctx.until_idle {
        high_watermarks(&consumer, &config, &ctx.shutdown)
    } else {
        None
    };
    // `None` with --until-idle: shut down while waiting for the brokers.
    if targets.is_some() || !ctx.until_idle {
        poll_loop(
            &config,
            &ctx.shutdown,
            &shared,
            &consumer,
            &mut fetches,
            targets.as_ref(),
        );
    }
    // The queue goes before the consumer (the borrow checker sees to that), and the routes
    // before the queue.
    drop(routing);
    drop(fetches);
    finish(&shared, consumer)
}

/// Reads until shutdown, until downstream has gone, or (with `targets`) until caught up.
fn poll_loop(
    config: &KafkaSourceConfig,
    shutdown: &Shutdown,
    shared: &Shared,
    consumer: &BaseConsumer<GroupContext>,
    fetches: &mut FetchQueue<'_>,
    targets: Option<&HashMap<(String, i32), i64>>,
) {
    let mut last_commit = Instant::now();
    let mut last_lag_report = Instant::now();
    let mut last_idle_check = Instant::now();
    let mut last_warning: Option<Instant> = None;
    loop {
        if shutdown.is_triggered() {
            return;
        }
        // The consumer queue: rebalances (the callbacks run in here), errors, commit results,
        // and the messages of a partition that could not be routed. rdkafka's poll serves one
        // event per call.
        let waiting_for_partitions = shared.state().assigned.is_empty();
        let mut event_wait = if waiting_for_partitions {
            POLL_WAIT
        } else {
            Duration::ZERO
        };
        for _ in 0..EVENTS_PER_TURN {
            let Some(event) = consumer.poll(event_wait) else {
                break;
            };
            event_wait = Duration::ZERO;
            match event {
                Ok(message) => {
                    if let Some(message) = FetchedMessage::of(&message) {
                        let mut state = shared.state();
                        accept(&mut state, &message, config);
                        if state.records.len() >= config.batch_records && !shared.flush(&mut state)
                        {
                            return;
                        }
                    }
                }
                Err(error) => warn_rate_limited(&mut last_warning, config, &error),
            }
        }
        // The fetch queue: every routed partition's messages, a batch per call, waiting (no
        // longer than the batch being built may) only when there are none. The state is
        // locked once messages are there, not while waiting for them.
        let mut state = None;
        let (room, message_wait) = {
            let state = shared.state();
            let room = config.batch_records - state.records.len().min(config.batch_records);
            let wait = match state.batch_started {
                _ if waiting_for_partitions => Duration::ZERO,
                Some(started) => config
                    .max_batch_wait
                    .saturating_sub(started.elapsed())
                    .min(POLL_WAIT),
                None => POLL_WAIT,
            };
            (room, wait)
        };
        fetches.take(room, message_wait, |message| match message.error() {
            Some(error) => warn_rate_limited(&mut last_warning, config, &error),
            None => {
                let state = state.get_or_insert_with(|| shared.state());
                accept(state, message, config);
            }
        });
        {
            let mut state = state.unwrap_or_else(|| shared.state());
            let full = state.records.len() >= config.batch_records;
            let waited = state
                .batch_started
                .is_some_and(|t| t.elapsed() >= config.max_batch_wait);
            if (full || waited || (state.records.is_empty() && state.progress_pending))
                && !shared.flush(&mut state)
            {
                return;
            }
            if state.downstream_gone {
                return;
            }
        }
        if last_commit.elapsed() >= Duration::from_secs(1) {
            shared.commit_to_kafka(consumer, CommitMode::Async);
            shared.route_again(consumer);
            last_commit = Instant::now();
        }
        if last_lag_report.elapsed() >= Duration::from_secs(5) {
            report_lag(shared, consumer);
            last_lag_report = Instant::now();
        }
        if let Some(targets) = targets
            && last_idle_check.elapsed() >= Duration::from_millis(500)
        {
            last_idle_check = Instant::now();
            if caught_up(shared, consumer, targets) {
                tracing::info!(source = %shared.source, "caught up with the high watermarks read at start");
                return;
            }
        }
    }
}

/// Keeps the fetch queue's route where the rebalance callback finds it, and, before the
/// queue is destroyed (also when the poll loop unwinds), takes it away again and stops the
/// routed partitions' routing (see [`stop_routing`]).
struct RouteInState<'a> {
    shared: &'a Shared,
    consumer: &'a BaseConsumer<GroupContext>,
}

impl<'a> RouteInState<'a> {
    /// # Safety
    /// This must be dropped before the queue `route` came from.
    unsafe fn set(
        shared: &'a Shared,
        consumer: &'a BaseConsumer<GroupContext>,
        route: FetchRoute,
    ) -> Self {
        shared.state().fetch_route = Some(route);
        RouteInState { shared, consumer }
    }
}

impl Drop for RouteInState<'_> {
    fn drop(&mut self) {
        let mut state = self.shared.state();
        state.fetch_route = None;
        for ((topic, number), _) in state.assigned.iter().filter(|(_, a)| a.routed) {
            stop_routing(self.consumer, topic, *number);
        }
    }
}

/// Commits everything read, then the offsets to Kafka, then leaves the group.
fn finish(shared: &Shared, consumer: BaseConsumer<GroupContext>) -> anyhow::Result<()> {
    tracing::debug!(source = %shared.source, "finishing");
    shared.commit_everything();
    shared.commit_to_kafka(&consumer, CommitMode::Sync);
    leave_group(shared, consumer, CLOSE_TIMEOUT);
    Ok(())
}

/// How long leaving the group waits for a join under way and for the close. Giving the
/// partitions up between the two can add a barrier, bounded by `barrier_timeout`, when
/// something was handed on since the last one.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

/// Lets a join under way finish, gives the partitions up, ends the output and closes the
/// consumer.
///
/// Leaving in the middle of a join is what librdkafka 2.12 handles worst: a group sync that
/// fails while the consumer is closing sends a LeaveGroup with no coordinator, which crashes
/// the process (librdkafka#5347, fixed upstream after the version rdkafka-sys bundles), and
/// a rebalance crossing the close can keep it from ever reporting the consumer closed
/// (librdkafka#4527 and its kin), while rdkafka's drop polls for that without a bound. So a
/// join under way is let finish first, as far as librdkafka lets it be seen (from the first
/// group response to the next assignment), the partitions are released with nothing else in
/// flight (#4527's workaround), and the close is waited for with a bound, of which it gets at
/// least a sixth even when the join used up the rest: a consumer still closing by then goes
/// on closing in the background, with an error logged. The tables hold what the sinks
/// committed, and the next owner resumes after it.
fn leave_group(shared: &Shared, consumer: BaseConsumer<GroupContext>, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let before_deadline = || Instant::now() < deadline;
    // Messages polled from here on are not handed on: their offsets are in no table, so the
    // next owner reads them again.
    while !shared.state().joined && has_member_id(&consumer) && before_deadline() {
        let _ = consumer.poll(Duration::from_millis(100));
    }
    consumer.unsubscribe();
    while consumer.assignment().is_ok_and(|a| a.count() > 0) && before_deadline() {
        let _ = consumer.poll(Duration::from_millis(100));
    }
    // What is left runs in rdkafka's drop: the close, polled until librdkafka reports it. It
    // runs on a thread of its own so that it can be waited for with a bound.
    shared.state().output = None;
    let close_budget = deadline
        .saturating_duration_since(Instant::now())
        .max(timeout / 6);
    let (closed, close_reported) = std::sync::mpsc::channel();
    let closing = std::thread::Builder::new()
        .name(format!("{}-close", shared.source))
        .spawn(move || {
            drop(consumer);
            let _ = closed.send(());
        });
    if let Err(error) = closing {
        tracing::warn!(source = %shared.source, "cannot start a thread to close the Kafka consumer (it was closed here, without a bound): {error}");
        return;
    }
    match close_reported.recv_timeout(close_budget) {
        Ok(()) => {}
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => tracing::error!(
            source = %shared.source,
            "the Kafka consumer did not close within {close_budget:?}; leaving it closing in the background (the tables hold what the sinks committed; if it never closes, the group reassigns its partitions after the session timeout)"
        ),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            tracing::error!(source = %shared.source, "closing the Kafka consumer panicked")
        }
    }
}

/// Adds one message to the batch being built.
fn accept(state: &mut State, message: &FetchedMessage<'_>, config: &KafkaSourceConfig) {
    let State {
        assigned,
        last_key,
        progress_pending,
        payloads,
        ..
    } = state;
    if !last_key.as_ref().is_some_and(|(topic, number)| {
        *number == message.partition() && topic.as_bytes() == message.topic_bytes()
    }) {
        *last_key = Some((message.topic().to_owned(), message.partition()));
    }
    let Some(assigned) = last_key.as_ref().and_then(|key| assigned.get_mut(key)) else {
        return; // a message of a partition given up a moment ago
    };
    let offset = message.offset();
    if assigned.read.is_none() {
        tracing::debug!(partition = %assigned.partition.name, "first message at offset {offset}");
    }
    assigned.read = Some(offset);
    assigned.progress_pending = true;
    *progress_pending = true;
    if assigned.committed.is_some_and(|c| offset <= c) {
        return;
    }
    let partition = assigned.partition.clone();
    let raw = message
        .payload()
        .map(|payload| copy_payload(payloads, payload))
        .unwrap_or_default();
    let key = message.key().map(|key| copy_payload(payloads, key));
    let headers = if config.headers {
        message.headers()
    } else {
        Vec::new()
    };
    if state.records.is_empty() {
        state.records.reserve(config.batch_records);
        state.batch_started = Some(Instant::now());
        state.batch_read_at = now_micros();
    }
    let timestamp = message.timestamp_millis().map(|ms| ms * 1000);
    state.records.push(Record {
        value: raw.clone(),
        key,
        timestamp,
        headers,
        position: Position { partition, offset },
        raw,
        ingest_time: timestamp.unwrap_or(state.batch_read_at),
    });
}

/// Bytes of payload copied into one allocation. Records hold slices of it, so it is freed
/// once the sinks are done with the last of them: one allocation (and one free, on another
/// thread) per ~1 MiB of messages instead of one per message.
const PAYLOAD_BUFFER_BYTES: usize = 1 << 20;

fn copy_payload(buffer: &mut BytesMut, payload: &[u8]) -> Bytes {
    if buffer.capacity() < payload.len() {
        *buffer = BytesMut::with_capacity(PAYLOAD_BUFFER_BYTES.max(payload.len()));
    }
    buffer.extend_from_slice(payload);
    buffer.split().freeze()
}

/// Whether the group coordinator has given this member an id: once it has, and until the
/// first assignment, the member is in the middle of its join. A consumer that never reached
/// the brokers has none, so it closes at once.
fn has_member_id(consumer: &BaseConsumer<GroupContext>) -> bool {
    let client = consumer.client().native_ptr();
    // SAFETY: `client` is the consumer's live handle; `rd_kafka_memberid` returns null or a
    // NUL-terminated string allocated by librdkafka, read once and released with
    // `rd_kafka_mem_free` as its documentation asks.
    unsafe {
        let id = rdkafka::bindings::rd_kafka_memberid(client);
        if id.is_null() {
            return false;
        }
        let set = *id != 0;
        rdkafka::bindings::rd_kafka_mem_free(client, id.cast());
        set
    }
}

/// High watermarks of every partition of the topics, read once at start for `--until-idle`.
/// Waits (with a clear log line) while the brokers cannot be reached; `None` on shutdown.
fn high_watermarks(
    consumer: &BaseConsumer<GroupContext>,
    config: &KafkaSourceConfig,
    shutdown: &Shutdown,
) -> Option<HashMap<(String, i32), i64>> {
    let mut attempt = 0u32;
    loop {
        if shutdown.is_triggered() {
            return None;
        }
        match read_watermarks(consumer, &config.topics) {
            Ok(targets) => return Some(targets),
            Err(error) => {
                attempt += 1;
                tracing::warn!(
                    "cannot read the topics' end offsets from {} (attempt {attempt}), retrying: {error:#}",
                    config.brokers
                );
                std::thread::sleep(
                    Duration::from_secs(1).min(Duration::from_millis(200 * u64::from(attempt))),
                );
            }
        }
    }
}

fn read_watermarks(
    consumer: &BaseConsumer<GroupContext>,
    topics: &[String],
) -> anyhow::Result<HashMap<(String, i32), i64>> {
    let mut targets = HashMap::new();
    for topic in topics {
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(5))
            .with_context(|| format!("no metadata for topic {topic}"))?;
        let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) else {
            anyhow::bail!("topic {topic} is unknown to the brokers");
        };
        if let Some(error) = found.error() {
            anyhow::bail!("topic {topic}: {error:?}");
        }
        for partition in found.partitions() {
            let (low, high) = consumer
                .fetch_watermarks(topic, partition.id(), Duration::from_secs(5))
                .with_context(|| format!("no watermarks for {topic}/{}", partition.id()))?;
            // Offsets below `high` exist now; an empty partition (low == high) is done.
            targets.insert(
                (topic.clone(), partition.id()),
                if high > low { high - 1 } else { -1 },
            );
        }
    }
    Ok(targets)
}

/// True once every partition is read up to its target, here or (for partitions another
/// member holds) by the group as Kafka's committed offsets show.
fn caught_up(
    shared: &Shared,
    consumer: &BaseConsumer<GroupContext>,
    targets: &HashMap<(String, i32), i64>,
) -> bool {
    let mut others = Tpl::new();
    {
        let state = shared.state();
        // Not before this member has joined: it would close in the middle of its join (see
        // [`leave_group`]).
        if !state.records.is_empty() || !state.joined {
            return false;
        }
        for ((topic, number), target) in targets {
            if *target < 0 {
                continue;
            }
            match state.assigned.get(&(topic.clone(), *number)) {
                Some(assigned) => {
                    let done = assigned
                        .read
                        .max(assigned.committed)
                        .is_some_and(|r| r >= *target);
                    if !done {
                        return false;
                    }
                }
                None => {
                    others.add_partition(topic, *number);
                }
            }
        }
    }
    if others.count() == 0 {
        return true;
    }
    // Partitions this member does not hold: done if the group has committed past them.
    let committed = match consumer.committed_offsets(others, Duration::from_secs(5)) {
        Ok(list) => list,
        Err(_) => return false,
    };
    let done = committed
        .elements()
        .iter()
        .all(|element| match element.offset() {
            Offset::Offset(next) => targets
                .get(&(element.topic().to_owned(), element.partition()))
                .is_some_and(|target| next > *target),
            _ => false,
        });
    drop(committed); // before the consumer: a list outliving it makes its drop hang
    done
}

/// Consumer lag per assigned partition, from the high watermarks of the latest fetch
/// responses. Those are cached: asking the brokers instead costs a round trip per partition,
/// and each waits behind the connection's fetch, which an idle broker holds for up to
/// `fetch.wait.max.ms` (500 ms): with 71 partitions that stalled the poll loop, and with it a
/// shutdown, for 20 s.
fn report_lag(shared: &Shared, consumer: &BaseConsumer<GroupContext>) {
    let state = shared.state();
    for ((topic, number), assigned) in &state.assigned {
        if let Some(high) = cached_high_watermark(consumer, topic, *number) {
            let position = assigned.read.map_or(0, |r| r + 1);
            metrics::gauge!("laketide_kafka_consumer_lag", "source" => shared.source.to_string(), "partition" => assigned.partition.name.to_string())
                .set((high - position).max(0) as f64);
        }
    }
}

/// The partition's high watermark as of the latest fetch response, without a request; `None`
/// before the first.
fn cached_high_watermark(
    consumer: &BaseConsumer<GroupContext>,
    topic: &str,
    partition: i32,
) -> Option<i64> {
    let topic = std::ffi::CString::new(topic).ok()?;
    let (mut low, mut high) = (-1i64, -1i64);
    // SAFETY: the client is the consumer's live handle; librdkafka writes both outputs.
    let found = unsafe {
        rdkafka::bindings::rd_kafka_get_watermark_offsets(
            consumer.client().native_ptr(),
            topic.as_ptr(),
            partition,
            &mut low,
            &mut high,
        )
    };
    (found == RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0).then_some(high)
}

fn warn_rate_limited(last: &mut Option<Instant>, config: &KafkaSourceConfig, error: &KafkaError) {
    if last.is_none_or(|at| at.elapsed() >= Duration::from_secs(10)) {
        tracing::warn!("Kafka at {}: {error} (retrying)", config.brokers);
        *last = Some(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_share_a_buffer_until_it_is_full() {
        let mut buffer = BytesMut::new();
        let first = copy_payload(&mut buffer, b"{\"a\": 1}");
        let second = copy_payload(&mut buffer, b"{\"b\": 2}");
        assert_eq!(&first[..], b"{\"a\": 1}");
        assert_eq!(&second[..], b"{\"b\": 2}");
        assert_eq!(first.as_ptr().wrapping_add(first.len()), second.as_ptr());
        let large = vec![b'x'; PAYLOAD_BUFFER_BYTES + 1];
        let copied = copy_payload(&mut buffer, &large);
        assert_eq!(&copied[..], &large[..]);
        drop((first, second));
        assert_eq!(&copy_payload(&mut buffer, b"{}")[..], b"{}");
    }

    /// A multi-threaded runtime for the rebalance callbacks' table reads, and an embedded
    /// broker with a two-partition topic `t`.
    fn runtime_and_broker() -> (tokio::runtime::Runtime, crate::kafka::EmbeddedBroker) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let broker = crate::kafka::EmbeddedBroker::start(1).expect("broker");
        broker.create_topic("t", 2).expect("topic");
        (runtime, broker)
    }

    /// The source's consumer, as `consume` configures it, not yet subscribed.
    fn consumer_in(
        broker: &crate::kafka::EmbeddedBroker,
        group: &str,
        shared: &Arc<Shared>,
    ) -> BaseConsumer<GroupContext> {
        KafkaSourceConfig::new(broker.bootstrap_servers(), vec!["t".into()], group)
            .client_config()
            .create_with_context(GroupContext {
                shared: shared.clone(),
            })
            .expect("consumer")
    }

    /// A consumer subscribed to `t`, holding both its partitions, and the receiving end of
    /// its output.
    fn assigned_consumer(
        broker: &crate::kafka::EmbeddedBroker,
        group: &str,
        handle: Handle,
    ) -> (
        Arc<Shared>,
        BaseConsumer<GroupContext>,
        mpsc::Receiver<Batch<Bytes>>,
    ) {
        let (output, receiver) = mpsc::channel(16);
        let shared = Arc::new(Shared {
            source: Arc::from("s"),
            resume: Resume::default(),
            handle,
            stats: Arc::default(),
            barrier_timeout: Duration::from_secs(5),
            state: Mutex::new(State {
                output: Some(output),
                ..State::default()
            }),
        });
        let consumer = consumer_in(broker, group, &shared);
        consumer.subscribe(&["t"]).expect("subscribe");
        let deadline = Instant::now() + Duration::from_secs(30);
        while consumer.assignment().map_or(0, |a| a.count()) < 2 && Instant::now() < deadline {
            let _ = consumer.poll(Duration::from_millis(100));
        }
        assert_eq!(consumer.assignment().map(|a| a.count()).ok(), Some(2));
        (shared, consumer, receiver)
    }

    #[test]
    fn leaving_the_group_closes_the_consumer_and_ends_the_output() {
        let (runtime, broker) = runtime_and_broker();

        // Something was handed on since the last barrier: giving the partitions up sends one.
        let (shared, consumer, mut receiver) =
            assigned_consumer(&broker, "g1", runtime.handle().clone());
        assert!(has_member_id(&consumer));
        shared.state().handed_on_since_barrier = true;
        leave_group(&shared, consumer, CLOSE_TIMEOUT);
        assert_eq!(
            Arc::strong_count(&shared),
            1,
            "the consumer was closed and dropped"
        );
        assert!(
            shared.state().assigned.is_empty(),
            "its partitions were revoked"
        );
        let batches: Vec<_> = std::iter::from_fn(|| runtime.block_on(receiver.recv())).collect();
        assert_eq!(batches.len(), 1, "one barrier, then the output ended");
        assert!(batches[0].barrier.is_some() && batches[0].records.is_empty());

        // Nothing handed on since: no barrier, the output just ends.
        let (shared, consumer, mut receiver) =
            assigned_consumer(&broker, "g2", runtime.handle().clone());
        leave_group(&shared, consumer, CLOSE_TIMEOUT);
        assert!(runtime.block_on(receiver.recv()).is_none());

        // A consumer that never reached its group has no member id and is not waited for.
        let (output, mut receiver) = mpsc::channel(1);
        shared.state().output = Some(output);
        let never_joined = consumer_in(&broker, "g3", &shared);
        assert!(!has_member_id(&never_joined));
        let started = Instant::now();
        leave_group(&shared, never_joined, CLOSE_TIMEOUT);
        assert!(
            started.elapsed() < CLOSE_TIMEOUT,
            "it did not wait out its budget"
        );
        assert_eq!(Arc::strong_count(&shared), 1, "closed and dropped");
        assert!(runtime.block_on(receiver.recv()).is_none());
    }

    #[test]
    fn a_consumer_without_time_to_close_goes_on_closing_while_the_output_ends() {
        let (runtime, broker) = runtime_and_broker();
        let (shared, consumer, mut receiver) =
            assigned_consumer(&broker, "g", runtime.handle().clone());
        leave_group(&shared, consumer, Duration::ZERO);
        assert!(
            runtime.block_on(receiver.recv()).is_none(),
            "the output ended"
        );
        // The close finishes in the background and releases the consumer.
        let deadline = Instant::now() + Duration::from_secs(60);
        while Arc::strong_count(&shared) > 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(Arc::strong_count(&shared), 1);
    }

    #[test]
    fn lag_comes_from_the_watermark_of_the_latest_fetch() {
        let (runtime, broker) = runtime_and_broker();
        let producer: rdkafka::producer::BaseProducer =
            crate::kafka::producer_config(broker.bootstrap_servers())
                .create()
                .expect("producer");
        for _ in 0..5 {
            let record = rdkafka::producer::BaseRecord::<(), str>::to("t")
                .partition(0)
                .payload("{}");
            crate::kafka::send(&producer, record).expect("send");
        }
        crate::kafka::flush(&producer).expect("flush");
        let (shared, consumer, _receiver) =
            assigned_consumer(&broker, "lag", runtime.handle().clone());
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut high = None;
        while high.is_none() && Instant::now() < deadline {
            let _ = consumer.poll(Duration::from_millis(100));
            high = cached_high_watermark(&consumer, "t", 0);
        }
        assert_eq!(high, Some(5), "known from the fetch, without asking");
        leave_group(&shared, consumer, CLOSE_TIMEOUT);
    }

    #[test]
    fn headers_are_read_unless_turned_off() {
        let base = "brokers = \"127.0.0.1:9092\"\ntopics = [\"t\"]\ngroup = \"g\"\n";
        let config: KafkaSourceConfig = toml::from_str(base).expect("config");
        assert!(config.headers, "headers are read by default");
        let config: KafkaSourceConfig =
            toml::from_str(&format!("{base}headers = false\n")).expect("config");
        assert!(!config.headers);
        let error = toml::from_str::<KafkaSourceConfig>(&format!("{base}headers = \"no\"\n"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("headers"), "{error}");
    }

    #[test]
    fn config_errors_name_the_key() {
        let mut config = KafkaSourceConfig::new("127.0.0.1:9092", vec!["t".into()], "g");
        assert!(config.validate().is_ok());
        config
            .properties
            .insert("enable.auto.commit".into(), "true".into());
        assert_eq!(config.validate().map_err(|e| e.0), Err("properties"));
        config.properties.clear();
        config.topics.clear();
        assert_eq!(config.validate().map_err(|e| e.0), Err("topics"));
        config.topics.push("t".into());
        config.group = " ".into();
        assert_eq!(config.validate().map_err(|e| e.0), Err("group"));
    }
}
