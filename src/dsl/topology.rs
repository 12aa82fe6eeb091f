//! The builder that typed streams hang off, and the run that starts them.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{Context, bail};
use bytes::Bytes;
use futures::future::BoxFuture;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::record::Batch;
use super::stream::{Origin, Stream, receiver_stream};
use crate::runtime::{
    LatencySummary, ProgressReporter, QUEUE_BATCHES, Resume, RunOptions, RunStats, ShutdownTrigger,
    StatsSnapshot, peak_rss_bytes, process_cpu_seconds,
};
use crate::sinks::{Sink, SinkContext};
use crate::sources::{Source, SourceContext};

/// A dataflow graph under construction. Cloning gives another handle to the same graph.
///
/// ```no_run
/// # async fn demo() -> anyhow::Result<()> {
/// use laketide::prelude::*;
/// let topology = Topology::new("example");
/// let lines = topology.source("events", FileSource::new(FileSourceConfig::new("events.jsonl")));
/// let (upper, dead) = lines.try_map("decode", |raw| String::from_utf8(raw.to_vec()));
/// upper.filter(|s| !s.is_empty()).inspect(|r| println!("{}", r.value)).drain("print");
/// dead.drain("ignore_dead");
/// topology.run(RunOptions::default(), Shutdown::new().0).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Topology {
    graph: Arc<Mutex<Graph>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Namespace {
    Streams,
    Sinks,
}

pub(crate) type Task = BoxFuture<'static, anyhow::Result<()>>;

#[derive(Default)]
pub(crate) struct Graph {
    name: String,
    /// Stage names in use, per namespace: streams (sources and operators) and sinks.
    names: HashSet<(Namespace, Arc<str>)>,
    errors: Vec<String>,
    sources: Vec<PendingSource>,
    tasks: Vec<(Arc<str>, Task)>,
    sinks: Vec<(Arc<str>, SinkStarter)>,
    pub(crate) stats: Arc<RunStats>,
}

type SinkStarter = Box<dyn FnOnce(SinkContext) -> Task + Send>;

struct PendingSource {
    name: Arc<str>,
    source: Box<dyn Source>,
    output: mpsc::Sender<Batch<Bytes>>,
    resume: Resume,
}

/// What a finished run did; `laketide run --summary-json` writes it as JSON.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct RunSummary {
    #[serde(flatten)]
    pub stats: StatsSnapshot,
    pub seconds: f64,
    /// CPU seconds the process used during the run (all threads), where measurable.
    pub cpu_seconds: Option<f64>,
    /// The process's peak resident memory so far, where measurable.
    pub peak_rss_bytes: Option<u64>,
    /// From each row's ingest time to the commit that made it visible.
    pub latency: LatencySummary,
}

impl Topology {
    /// `name` identifies the topology in logs.
    pub fn new(name: &str) -> Self {
        Topology {
            graph: Arc::new(Mutex::new(Graph {
                name: name.to_owned(),
                ..Graph::default()
            })),
        }
    }

    pub(crate) fn graph(&self) -> MutexGuard<'_, Graph> {
        // A panic while the lock was held leaves a half-built graph, which `run` reports; the
        // data behind the lock is still consistent enough to collect errors from.
        self.graph
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reserves a stage name; names are identities (checkpoints and dead letters refer to
    /// them), so a duplicate is a build error.
    pub(crate) fn claim_name(&self, namespace: Namespace, name: &str) -> Arc<str> {
        let name: Arc<str> = Arc::from(name);
        let mut graph = self.graph();
        if !graph.names.insert((namespace, name.clone())) {
            graph.errors.push(format!(
                "the name `{name}` is used twice; every stage needs its own name"
            ));
        }
        name
    }

    /// Records a problem found while building.
    pub(crate) fn report(&self, problem: String) {
        self.graph().errors.push(problem);
    }

    /// Problems found while building (duplicate names, ...); `run` refuses to start with any.
    pub fn errors(&self) -> Vec<String> {
        self.graph().errors.clone()
    }

    pub fn stats(&self) -> Arc<RunStats> {
        self.graph().stats.clone()
    }

    /// Adds a source; its records enter as raw bytes.
    pub fn source(&self, name: &str, source: impl Source) -> Stream<Bytes> {
        let name = self.claim_name(Namespace::Streams, name);
        let (output, receiver) = mpsc::channel(QUEUE_BATCHES);
        self.graph().sources.push(PendingSource {
            name: name.clone(),
            source: Box::new(source),
            output,
            resume: Resume::default(),
        });
        Stream::from_parts(
            self.clone(),
            name.clone(),
            vec![Origin {
                source: name,
                lane: None,
            }],
            receiver_stream(receiver),
        )
    }

    pub(crate) fn add_task(&self, name: Arc<str>, task: Task) {
        self.graph().tasks.push((name, task));
    }

    pub(crate) fn add_sink<T: Send + 'static>(
        &self,
        name: &str,
        stream: Stream<T>,
        sink: impl Sink<T>,
    ) {
        let name = self.claim_name(Namespace::Sinks, name);
        let (_, origins, input) = stream.into_parts();
        let mut graph = self.graph();
        if let Some(store) = sink.checkpoints() {
            for origin in &origins {
                match graph.sources.iter_mut().find(|s| s.name == origin.source) {
                    Some(source) => source.resume.add(store.clone(), origin.lane.clone()),
                    None => graph.errors.push(format!(
                        "sink `{name}` is fed by unknown source `{}`",
                        origin.source
                    )),
                }
            }
        }
        let sink = Box::new(sink);
        graph
            .sinks
            .push((name, Box::new(move |ctx: SinkContext| sink.run(input, ctx))));
    }

    /// Runs every stage until the sources are drained (`until_idle`) or `shutdown` is
    /// triggered, and every sink has committed. The first failure stops the sources
    /// gracefully, so what was read before it is still committed, and is returned.
    pub async fn run(
        self,
        options: RunOptions,
        shutdown: ShutdownTrigger,
    ) -> anyhow::Result<RunSummary> {
        let started = std::time::Instant::now();
        let cpu_at_start = process_cpu_seconds();
        let graph = std::mem::take(&mut *self.graph());
        drop(self);
        if !graph.errors.is_empty() {
            bail!(
                "the topology is not valid:\n  {}",
                graph.errors.join("\n  ")
            );
        }
        if graph.sources.is_empty() {
            bail!("the topology has no source");
        }
        let stats = graph.stats.clone();
        tracing::info!(
            "starting topology `{}`: {} sources, {} sinks, until idle: {}",
            graph.name,
            graph.sources.len(),
            graph.sinks.len(),
            options.until_idle
        );
        let mut running = JoinSet::new();
        for (name, start) in graph.sinks {
            let task = start(SinkContext {
                name: name.clone(),
                stats: stats.clone(),
            });
            running.spawn(named("sink", name, task));
        }
        for (name, task) in graph.tasks {
            running.spawn(named("stage", name, task));
        }
        for pending in graph.sources {
            let ctx = SourceContext {
                name: pending.name.clone(),
                output: pending.output,
                resume: pending.resume,
                shutdown: shutdown.subscribe(),
                until_idle: options.until_idle,
                stats: stats.clone(),
            };
            running.spawn(named("source", pending.name, pending.source.run(ctx)));
        }
        let reporter = options
            .progress_interval
            .map(|every| tokio::spawn(ProgressReporter::new(stats.clone()).run(every)));

        let mut first_error: Option<anyhow::Error> = None;
        while let Some(joined) = running.join_next().await {
            let outcome = joined.context("a stage panicked").and_then(|result| result);
            if let Err(error) = outcome {
                tracing::error!("{error:#}");
                shutdown.trigger();
                first_error.get_or_insert(error);
            }
        }
        if let Some(reporter) = reporter {
            reporter.abort();
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(RunSummary {
                stats: stats.snapshot(),
                seconds: started.elapsed().as_secs_f64(),
                cpu_seconds: cpu_at_start
                    .zip(process_cpu_seconds())
                    .map(|(start, end)| end - start),
                peak_rss_bytes: peak_rss_bytes(),
                latency: stats.latency(),
            }),
        }
    }
}

async fn named(kind: &'static str, name: Arc<str>, task: Task) -> anyhow::Result<()> {
    task.await
        .with_context(|| format!("{kind} `{name}` failed"))
}
