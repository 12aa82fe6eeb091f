//! Produces a stream's records to a Kafka topic as JSON, with an idempotent producer: retries
//! after broker hiccups never duplicate a message. The sink keeps no checkpoints, so it is
//! at-least-once across crashes (a replayed record is produced again) and it does not hold
//! its sources back; the Delta sinks of the same topology stay exactly-once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use futures::FutureExt;
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Header as KafkaHeader, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use serde::{Deserialize, Serialize};

use super::{Sink, SinkContext};
use crate::dsl::Batch;
use crate::kafka::producer_config;
use crate::runtime::CheckpointStore;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSinkConfig {
    pub brokers: String,
    pub topic: String,
    /// librdkafka producer properties passed through; values are never logged.
    #[serde(default, deserialize_with = "crate::kafka::property_values")]
    pub properties: BTreeMap<String, String>,
}

impl KafkaSinkConfig {
    /// Checks what can be checked without a broker. Errors name the config key.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.brokers.trim().is_empty() {
            return Err(("brokers", "is empty; give host:port[,host:port]".into()));
        }
        if self.topic.trim().is_empty() {
            return Err(("topic", "is empty; name the topic to produce to".into()));
        }
        if self
            .properties
            .get("enable.idempotence")
            .is_some_and(|v| v != "true")
        {
            return Err((
                "properties",
                "`enable.idempotence` must stay true: retries would duplicate messages".into(),
            ));
        }
        Ok(())
    }
}

pub struct KafkaSink<T> {
    config: KafkaSinkConfig,
    _rows: std::marker::PhantomData<fn(T)>,
}

impl<T> KafkaSink<T> {
    pub fn new(config: KafkaSinkConfig) -> anyhow::Result<Self> {
        config
            .validate()
            .map_err(|(key, error)| anyhow::anyhow!("{key} {error}"))?;
        Ok(KafkaSink {
            config,
            _rows: std::marker::PhantomData,
        })
    }
}

/// Counts messages the producer gave up on (after its own retries), so the sink can fail
/// instead of losing them silently.
#[derive(Default)]
struct DeliveryReport {
    failed: AtomicU64,
    last_error: std::sync::Mutex<Option<String>>,
}

struct ReportingContext(Arc<DeliveryReport>);

impl ClientContext for ReportingContext {}

impl ProducerContext for ReportingContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((error, _)) = result {
            self.0.failed.fetch_add(1, Ordering::Relaxed);
            *self.0.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(error.to_string());
        }
    }
}

impl<T: Serialize + Send + Sync + 'static> Sink<T> for KafkaSink<T> {
    fn describe(&self) -> String {
        format!(
            "kafka topic {} on {}",
            self.config.topic, self.config.brokers
        )
    }

    fn checkpoints(&self) -> Option<Arc<dyn CheckpointStore>> {
        None
    }

    fn run(
        self: Box<Self>,
        input: BoxStream<'static, Batch<T>>,
        ctx: SinkContext,
    ) -> BoxFuture<'static, anyhow::Result<()>> {
        produce(self.config, input, ctx).boxed()
    }
}

async fn produce<T: Serialize + Sync>(
    config: KafkaSinkConfig,
    mut input: BoxStream<'static, Batch<T>>,
    ctx: SinkContext,
) -> anyhow::Result<()> {
    let mut client = producer_config(&config.brokers);
    for (key, value) in &config.properties {
        client.set(key, value);
    }
    let report = Arc::new(DeliveryReport::default());
    let producer: ThreadedProducer<ReportingContext> = client
        .create_with_context(ReportingContext(report.clone()))
        .context("cannot create the Kafka producer (check `properties`)")?;
    let producer = Arc::new(producer);
    let mut payload = Vec::with_capacity(1024);
    while let Some(batch) = input.next().await {
        let mut sent = 0u64;
        for record in &batch.records {
            payload.clear();
            serde_json::to_writer(&mut payload, &record.value)
                .context("cannot encode a record as JSON")?;
            let mut headers = OwnedHeaders::new();
            for header in &record.headers {
                headers = headers.insert(KafkaHeader {
                    key: &header.key,
                    value: header.value.as_deref(),
                });
            }
            let mut message = BaseRecord::<[u8], [u8]>::to(&config.topic)
                .payload(payload.as_slice())
                .headers(headers);
            if let Some(key) = &record.key {
                message = message.key(key.as_ref());
            }
            loop {
                match producer.send(message) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        message = back;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err((error, _)) => {
                        return Err(error)
                            .with_context(|| format!("cannot produce to {}", config.topic));
                    }
                }
            }
            sent += 1;
        }
        if sent > 0 {
            ctx.stats.written(&ctx.name, sent);
        }
        if batch.barrier.is_some() {
            flush(&producer, &report, &config.topic).await?;
        }
    }
    flush(&producer, &report, &config.topic).await
}

/// Waits until every message sent so far is acknowledged; fails if any was given up on.
async fn flush(
    producer: &Arc<ThreadedProducer<ReportingContext>>,
    report: &DeliveryReport,
    topic: &str,
) -> anyhow::Result<()> {
    let waiting = producer.clone();
    tokio::task::spawn_blocking(move || waiting.flush(Duration::from_secs(60)))
        .await
        .context("the producer's flush panicked")?
        .with_context(|| format!("messages to {topic} were not acknowledged within 60 s"))?;
    let failed = report.failed.load(Ordering::Relaxed);
    if failed > 0 {
        let last = report
            .last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        bail!(
            "{failed} messages to {topic} could not be delivered (last error: {})",
            last.unwrap_or_default()
        );
    }
    Ok(())
}
