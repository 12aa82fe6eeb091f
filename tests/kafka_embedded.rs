//! The Kafka topology against the in-process broker: records land exactly once, bad messages
//! become dead letters with topic/partition@offset, and offsets are committed back to Kafka.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{
    PINTEREST_KAFKA, PINTEREST_KAFKA_ONE_CONSUMER, read_table, row_count, run_topology,
    source_positions, strings,
};
use laketide::dsl::RunSummary;
use laketide::kafka::{EmbeddedBroker, produce_triples, producer_config};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

const PREFIX: &str = "0a3db223d459";

/// Runs a shipped Kafka `topology` against `brokers` into `lake` as consumer group `group`,
/// within two minutes.
async fn run_kafka(topology: &str, brokers: &str, lake: &Path, group: &str) -> RunSummary {
    let vars = [
        ("KAFKA_BROKERS", brokers.to_owned()),
        ("LAKETIDE_LAKE", lake.to_string_lossy().into_owned()),
        ("LAKETIDE_GROUP", group.to_owned()),
    ];
    tokio::time::timeout(Duration::from_secs(120), run_topology(topology, &vars))
        .await
        .expect("finishes")
        .expect("runs")
}

fn broker_with_topics() -> EmbeddedBroker {
    common::init_logs();
    let broker = EmbeddedBroker::start(3).expect("embedded broker");
    for kind in ["pin", "geo", "user"] {
        broker
            .create_topic(&format!("{PREFIX}.{kind}"), 3)
            .expect("topic");
    }
    broker
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_to_delta_exactly_once_with_dead_letters_and_kafka_offsets() {
    let _watchdog = common::watchdog(Duration::from_secs(300));
    let broker = broker_with_topics();
    let brokers = broker.bootstrap_servers().to_owned();
    let report = tokio::task::spawn_blocking({
        let brokers = brokers.clone();
        move || produce_triples(&brokers, PREFIX, 1500, None, 5)
    })
    .await
    .expect("join")
    .expect("produce");
    assert_eq!(report.triples, 1500);

    // Bad messages, all to partition 1 of the pin topic.
    let producer: BaseProducer = producer_config(&brokers).create().expect("producer");
    let huge = format!("{{\"index\": 1, \"title\": \"{}\"}}", "x".repeat(5 << 20))
        .replace("\"index\": 1", "\"index\": \"huge\"");
    let bad: Vec<(Vec<u8>, &str)> = vec![
        (b"not json".to_vec(), "not valid JSON"),
        (b"[1, 2]".to_vec(), "array of 2 elements"),
        (Vec::new(), ""),
        (huge.into_bytes(), "index"),
    ];
    let topic = format!("{PREFIX}.pin");
    for (payload, _) in &bad {
        producer
            .send(
                BaseRecord::<(), [u8]>::to(&topic)
                    .partition(1)
                    .payload(payload.as_slice()),
            )
            .map_err(|(e, _)| e)
            .expect("send");
    }
    producer.flush(Duration::from_secs(30)).expect("flush");

    let dir = tempfile::tempdir().expect("tempdir");
    let lake = dir.path().join("lake");
    let summary = run_kafka(PINTEREST_KAFKA, &brokers, &lake, "it-group").await;
    assert_eq!(summary.stats.records_in, 3 * 1500 + 4);
    for table in ["pin", "geo", "user"] {
        assert_eq!(
            row_count(&read_table(&lake.join(table)).await),
            1500,
            "{table}"
        );
    }
    let dead = read_table(&lake.join("dead_letters")).await;
    assert_eq!(row_count(&dead), 4);
    let positions: Vec<String> = strings(&dead, "position").into_iter().flatten().collect();
    let errors: Vec<String> = strings(&dead, "error").into_iter().flatten().collect();
    for (_, reason) in &bad {
        assert!(
            errors.iter().any(|e| e.contains(reason)),
            "no dead letter says `{reason}`: {errors:?}"
        );
    }
    assert!(
        positions
            .iter()
            .all(|p| p.starts_with(&format!("{topic}/1@"))),
        "{positions:?}"
    );

    // Positions are unique: nothing written twice.
    let mut seen = source_positions(&read_table(&lake.join("pin")).await);
    let total = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), total, "each topic/partition/offset once");

    // The group's offsets in Kafka are at the end of every partition, for lag tools.
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "it-group.pin")
        .create()
        .expect("consumer");
    let mut list = TopicPartitionList::new();
    for partition in 0..3 {
        list.add_partition(&topic, partition);
    }
    let committed = consumer
        .committed_offsets(list, Duration::from_secs(10))
        .expect("committed");
    for element in committed.elements() {
        let (_, high) = consumer
            .fetch_watermarks(
                element.topic(),
                element.partition(),
                Duration::from_secs(10),
            )
            .expect("watermarks");
        assert_eq!(
            element.offset(),
            Offset::Offset(high),
            "{}/{}",
            element.topic(),
            element.partition()
        );
    }
    drop(committed);
    drop(consumer);

    // The same group again: nothing new, nothing written.
    let again = run_kafka(PINTEREST_KAFKA, &brokers, &lake, "it-group").await;
    assert_eq!(again.stats.records_out, 0);
    // A new group re-reads every message, and the tables still dedupe it.
    let reread = run_kafka(PINTEREST_KAFKA, &brokers, &lake, "another-group").await;
    assert_eq!(
        reread.stats.records_out, 0,
        "the tables' checkpoints, not Kafka's, decide"
    );
    assert_eq!(row_count(&read_table(&lake.join("pin")).await), 1500);
}

/// Dead letters produced to a Kafka topic as JSON, keyed and with their position.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_can_go_to_a_kafka_topic_with_their_headers_unless_the_source_drops_them() {
    let _watchdog = common::watchdog(Duration::from_secs(300));
    let broker = broker_with_topics();
    broker.create_topic("dead", 1).expect("topic");
    broker.create_topic("dead-bare", 1).expect("topic");
    let brokers = broker.bootstrap_servers().to_owned();
    let producer: BaseProducer = producer_config(&brokers).create().expect("producer");
    let topic = format!("{PREFIX}.pin");
    for (n, payload) in ["not json", "[]"].into_iter().enumerate() {
        let trace = format!("trace-{n}");
        let headers = OwnedHeaders::new().insert(Header {
            key: "trace",
            value: Some(trace.as_str()),
        });
        producer
            .send(
                BaseRecord::<(), str>::to(&topic)
                    .partition(2)
                    .payload(payload)
                    .headers(headers),
            )
            .map_err(|(e, _)| e)
            .expect("send");
    }
    producer.flush(Duration::from_secs(10)).expect("flush");
    let dir = tempfile::tempdir().expect("tempdir");
    let topology = |group: &str, dead: &str, source_settings: &str| {
        format!(
            "[sources.pin]\ntype = \"kafka\"\nbrokers = \"{brokers}\"\ntopics = [\"{topic}\"]\ngroup = \"{group}\"\n{source_settings}\n\
             [transforms.clean]\ntype = \"clean_pin\"\ninput = \"pin\"\n\n\
             [sinks.pin]\ntype = \"delta\"\ninput = \"clean\"\ntable = \"{}\"\n\n\
             [sinks.dead]\ntype = \"kafka\"\ninput = \"clean.dead\"\nbrokers = \"{brokers}\"\ntopic = \"{dead}\"\n",
            dir.path().join(group).display()
        )
    };
    for (group, dead, source_settings) in [
        ("dl", "dead", ""),
        ("dl-bare", "dead-bare", "headers = false"),
    ] {
        let text = topology(group, dead, source_settings);
        let summary = tokio::time::timeout(Duration::from_secs(60), run_topology(&text, &[]))
            .await
            .expect("finishes")
            .expect("runs");
        assert_eq!(summary.stats.dead_letters, 2, "{group}");
    }

    let letters = |dead: &str| {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("group.id", format!("reader-{dead}"))
            .set("auto.offset.reset", "earliest")
            .create()
            .expect("consumer");
        consumer.subscribe(&[dead]).expect("subscribe");
        let mut letters = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while letters.len() < 2 && std::time::Instant::now() < deadline {
            if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
                let value: serde_json::Value =
                    serde_json::from_slice(message.payload().unwrap_or_default()).expect("JSON");
                let traces: Vec<String> = message
                    .headers()
                    .map(|headers| {
                        headers
                            .iter()
                            .filter(|h| h.key == "trace")
                            .filter_map(|h| h.value)
                            .map(|v| String::from_utf8_lossy(v).into_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                letters.push((value, traces));
            }
        }
        letters
    };
    let forwarded = letters("dead");
    assert_eq!(forwarded.len(), 2, "{forwarded:?}");
    for (letter, _) in &forwarded {
        assert_eq!(letter["stage"], "clean");
        assert!(
            letter["position"]
                .as_str()
                .is_some_and(|p| p.starts_with(&format!("{topic}/2@"))),
            "{letter}"
        );
        assert!(letter["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    let mut traces: Vec<String> = forwarded.into_iter().flat_map(|(_, t)| t).collect();
    traces.sort();
    assert_eq!(
        traces,
        ["trace-0", "trace-1"],
        "each letter keeps its message's header"
    );

    let bare = letters("dead-bare");
    assert_eq!(bare.len(), 2, "{bare:?}");
    assert!(
        bare.iter().all(|(_, traces)| traces.is_empty()),
        "with `headers = false` no header is read, so none is forwarded: {bare:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_consumer_for_three_topics_routes_each_topic_to_its_table_exactly_once() {
    let _watchdog = common::watchdog(Duration::from_secs(300));
    let broker = broker_with_topics();
    let brokers = broker.bootstrap_servers().to_owned();
    let report = tokio::task::spawn_blocking({
        let brokers = brokers.clone();
        move || produce_triples(&brokers, PREFIX, 900, None, 7)
    })
    .await
    .expect("join")
    .expect("produce");
    assert_eq!(report.triples, 900);
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = dir.path().join("lake");
    let summary = run_kafka(PINTEREST_KAFKA_ONE_CONSUMER, &brokers, &lake, "one-group").await;
    assert_eq!(summary.stats.records_in, 3 * 900);
    for kind in ["pin", "geo", "user"] {
        let table = read_table(&lake.join(kind)).await;
        assert_eq!(row_count(&table), 900, "{kind}");
        let mut positions = source_positions(&table);
        assert!(
            positions
                .iter()
                .all(|(p, _)| p.starts_with(&format!("{PREFIX}.{kind}/"))),
            "the {kind} table holds only its topic's records"
        );
        positions.sort();
        positions.dedup();
        assert_eq!(positions.len(), 900, "each {kind} offset once");
    }
    assert_eq!(row_count(&read_table(&lake.join("dead_letters")).await), 0);

    // The same group again, and a new group: every table's checkpoints cover all three
    // topics' partitions, so nothing is written twice.
    for group in ["one-group", "another-group"] {
        let again = run_kafka(PINTEREST_KAFKA_ONE_CONSUMER, &brokers, &lake, group).await;
        assert_eq!(again.stats.records_out, 0, "{group}");
    }
    for kind in ["pin", "geo", "user"] {
        assert_eq!(
            row_count(&read_table(&lake.join(kind)).await),
            900,
            "{kind}"
        );
    }
}
