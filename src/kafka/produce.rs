//! Sending emulated pin/geo/user records to Kafka, as the original pipeline's producer did
//! (through its REST proxy) to the topics `<prefix>.pin`, `<prefix>.geo`, `<prefix>.user`.

use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::ToBytes;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use crate::pinterest::generator::Generator;

/// An idempotent producer: retries after a broker hiccup never duplicate a message.
pub fn producer_config(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .set("compression.type", "lz4")
        .set("message.max.bytes", "10000000");
    config
}

#[derive(Debug, Clone, Copy)]
pub struct ProduceReport {
    pub triples: u64,
    pub seconds: f64,
}

/// Produces `count` triples (3 messages each, keyed by index) at most `rate` triples/s.
pub fn produce_triples(
    brokers: &str,
    prefix: &str,
    count: u64,
    rate: Option<f64>,
    seed: u64,
) -> anyhow::Result<ProduceReport> {
    let producer: BaseProducer = producer_config(brokers)
        .create()
        .context("cannot create the Kafka producer")?;
    let topics = [
        format!("{prefix}.pin"),
        format!("{prefix}.geo"),
        format!("{prefix}.user"),
    ];
    let started = Instant::now();
    for (sent, triple) in Generator::new(seed).take(count as usize).enumerate() {
        if let Some(rate) = rate.filter(|r| *r > 0.0) {
            let due = started + Duration::from_secs_f64(sent as f64 / rate);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let key = triple.index.to_string();
        for (topic, payload) in topics.iter().zip([&triple.pin, &triple.geo, &triple.user]) {
            send(
                &producer,
                BaseRecord::to(topic).key(&key).payload(payload.as_str()),
            )?;
        }
        producer.poll(Duration::ZERO);
    }
    flush(&producer)?;
    Ok(ProduceReport {
        triples: count,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Sends, waiting while the producer's queue is full rather than failing.
pub fn send<K: ToBytes + ?Sized, P: ToBytes + ?Sized>(
    producer: &BaseProducer,
    mut record: BaseRecord<'_, K, P>,
) -> anyhow::Result<()> {
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                producer.poll(Duration::from_millis(10));
            }
            Err((error, back)) => {
                return Err(error).with_context(|| format!("cannot produce to {}", back.topic));
            }
        }
    }
}

/// Waits until the brokers acknowledged everything sent.
pub fn flush(producer: &BaseProducer) -> anyhow::Result<()> {
    producer
        .flush(Duration::from_secs(60))
        .context("not every record was acknowledged by the brokers within 60 s")
}

/// Creates topics through the brokers' admin API; a topic that exists already is an error.
pub async fn create_topics(
    brokers: &str,
    topics: &[String],
    partitions: i32,
) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .context("cannot create a Kafka admin client")?;
    let new: Vec<NewTopic> = topics
        .iter()
        .map(|topic| NewTopic::new(topic, partitions, TopicReplication::Fixed(1)))
        .collect();
    let created = admin
        .create_topics(
            &new,
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        )
        .await
        .with_context(|| format!("cannot create topics at {brokers}"))?;
    for result in created {
        result.map_err(|(topic, error)| anyhow::anyhow!("cannot create topic {topic}: {error}"))?;
    }
    Ok(())
}
