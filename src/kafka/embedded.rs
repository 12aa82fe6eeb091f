//! An in-process Kafka-protocol broker (librdkafka's mock cluster) for the demo, tests and
//! benchmarks: real TCP listeners on 127.0.0.1, consumer groups, no installation.
//!
//! Its limit: each partition keeps only its newest 5 MiB (or 100,000 messages), dropping older
//! ones as a log with a short retention would. Give large runs enough partitions.

use anyhow::Context;
use rdkafka::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, DefaultProducerContext, Producer};

/// The mock cluster lives as long as the client that created it; this keeps that client.
pub struct EmbeddedBroker {
    client: BaseProducer<DefaultProducerContext>,
    bootstrap: String,
}

impl EmbeddedBroker {
    /// Starts `brokers` mock brokers. Groups assign partitions at once: the mock broker's
    /// default 3 s initial rebalance delay would dominate every short run.
    pub fn start(brokers: u32) -> anyhow::Result<Self> {
        let client: BaseProducer<DefaultProducerContext> = ClientConfig::new()
            .set("test.mock.num.brokers", brokers.to_string())
            .create()
            .context("cannot start the embedded Kafka broker")?;
        let cluster = client
            .client()
            .mock_cluster()
            .context("the embedded Kafka broker did not start")?;
        let bootstrap = cluster.bootstrap_servers();
        drop(cluster);
        // SAFETY: the handle belongs to `client`, which outlives this call.
        unsafe {
            let mock =
                rdkafka::bindings::rd_kafka_handle_mock_cluster(client.client().native_ptr());
            if !mock.is_null() {
                rdkafka::bindings::rd_kafka_mock_group_initial_rebalance_delay_ms(mock, 0);
            }
        }
        Ok(EmbeddedBroker { client, bootstrap })
    }

    /// `host:port,...` for clients.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap
    }

    fn cluster(&self) -> anyhow::Result<MockCluster<'_, DefaultProducerContext>> {
        self.client
            .client()
            .mock_cluster()
            .context("the embedded Kafka broker is gone")
    }

    pub fn create_topic(&self, topic: &str, partitions: i32) -> anyhow::Result<()> {
        self.cluster()?
            .create_topic(topic, partitions, 1)
            .with_context(|| format!("cannot create topic {topic}"))
    }

    /// Takes a broker down or up, to test outages.
    pub fn set_broker_up(&self, broker_id: i32, up: bool) -> anyhow::Result<()> {
        let cluster = self.cluster()?;
        if up {
            cluster.broker_up(broker_id)?;
        } else {
            cluster.broker_down(broker_id)?;
        }
        Ok(())
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        let _ = self.client.flush(std::time::Duration::from_secs(1));
    }
}
