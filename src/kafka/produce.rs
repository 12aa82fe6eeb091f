//! Sending emulated pin/geo/user records to Kafka, as the original pipeline's producer did
//! (through its REST proxy) to the topics `<prefix>.pin`, `<prefix>.geo`, `<prefix>.user`.

use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
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
            let mut record = BaseRecord::to(topic).key(&key).payload(payload.as_str());
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        record = back;
                        producer.poll(Duration::from_millis(10));
                    }
                    Err((error, _)) => {
                        return Err(error).with_context(|| format!("cannot produce to {topic}"));
                    }
                }
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer
        .flush(Duration::from_secs(60))
        .context("not every record was acknowledged by the brokers within 60 s")?;
    Ok(ProduceReport {
        triples: count,
        seconds: started.elapsed().as_secs_f64(),
    })
}
