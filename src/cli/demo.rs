//! `laketide demo`: the whole Kafka pipeline in one command, from an empty directory: an
//! embedded broker, the emulator producing into it, the Kafka topology writing `./lake`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use super::run::describe;
use crate::kafka::{EmbeddedBroker, produce_triples, producer_config, send};
use crate::runtime::{RunOptions, Shutdown, shutdown_on_signals};
use crate::sinks::delta::{TableLocation, row_count};

/// The shipped topology, built in so that the demo needs no checkout.
const TOPOLOGY: &str = include_str!("../../topologies/pinterest-kafka.toml");
const PREFIX: &str = "0a3db223d459";

/// Messages no cleaning step accepts, sent first so the demo shows where bad input goes.
const BAD_MESSAGES: [(&str, &str); 3] = [
    ("pin", "{\"index\": 12, \"unique_id\": \"truncated"),
    ("geo", "not json at all"),
    (
        "user",
        "{\"ind\": 3, \"first_name\": \"A\", \"last_name\": \"B\", \"age\": \"abc\", \"date_joined\": \"2016-01-01 00:00:00\"}",
    ),
];

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Number of (pin, geo, user) triples to emulate.
    #[arg(long, default_value_t = 10_000)]
    pub count: u64,
    /// Seed of the emulated records.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where the tables go.
    #[arg(long, default_value = "lake")]
    pub lake: PathBuf,
}

pub async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let broker = EmbeddedBroker::start(3)?;
    let brokers = broker.bootstrap_servers().to_owned();
    // The embedded broker keeps 5 MiB per partition; about 8,000 pins fit in one.
    let partitions = (args.count / 8_000 + 1).max(3) as i32;
    for kind in ["pin", "geo", "user"] {
        broker.create_topic(&format!("{PREFIX}.{kind}"), partitions)?;
    }
    eprintln!(
        "embedded Kafka broker at {brokers}, topics {PREFIX}.{{pin,geo,user}} with {partitions} partitions"
    );
    let producer: BaseProducer = producer_config(&brokers)
        .create()
        .context("cannot create a producer")?;
    for (kind, message) in BAD_MESSAGES {
        // Partition 0 explicitly: the same message lands at the same offset on every run.
        let topic = format!("{PREFIX}.{kind}");
        send(
            &producer,
            BaseRecord::<(), str>::to(&topic)
                .partition(0)
                .payload(message),
        )?;
    }
    producer
        .flush(Duration::from_secs(10))
        .context("cannot produce")?;
    let (count, seed) = (args.count, args.seed);
    let produced = {
        let brokers = brokers.clone();
        tokio::task::spawn_blocking(move || produce_triples(&brokers, PREFIX, count, None, seed))
            .await
            .context("the producer panicked")??
    };
    eprintln!(
        "emulated {} pin/geo/user triples (+{} malformed messages) in {:.1}s",
        produced.triples,
        BAD_MESSAGES.len(),
        produced.seconds
    );

    let lake = args.lake.to_string_lossy().into_owned();
    let env = |name: &str| match name {
        "KAFKA_BROKERS" => Some(brokers.clone()),
        "LAKETIDE_LAKE" => Some(lake.clone()),
        "LAKETIDE_GROUP" => Some("laketide-demo".to_owned()),
        _ => std::env::var(name).ok(),
    };
    let built = crate::topology::from_str(
        std::path::Path::new("topologies/pinterest-kafka.toml"),
        TOPOLOGY,
        &crate::pinterest::registry(),
        &env,
    )
    .map_err(|errors| anyhow::anyhow!("{errors}"))?;
    eprint!("{}", built.description);
    let (trigger, _) = Shutdown::new();
    shutdown_on_signals(trigger.clone());
    let summary = built
        .topology
        .run(
            RunOptions {
                until_idle: true,
                progress_interval: Some(Duration::from_secs(10)),
            },
            trigger,
        )
        .await?;
    eprintln!("{}", describe(&summary));
    drop(broker);

    println!();
    println!("{:<14} {:>8}  location", "table", "rows");
    for table in ["pin", "geo", "user", "dead_letters"] {
        let location =
            TableLocation::parse(&format!("{lake}/{table}")).map_err(anyhow::Error::msg)?;
        let rows = row_count(&location).await?.unwrap_or(0);
        println!("{table:<14} {rows:>8}  {lake}/{table}");
    }
    println!();
    println!("Query the tables with any Delta reader, for example:");
    println!(
        "  python3 -c \"import polars as pl; print(pl.read_delta('{lake}/pin').group_by('category').len())\""
    );
    println!(
        "  duckdb -c \"SELECT stage, error, position FROM delta_scan('{lake}/dead_letters')\""
    );
    println!(
        "Run it again: nothing is added, because each table's log records the last offset committed per partition;"
    );
    println!("with a larger --count, only the new records are added.");
    Ok(())
}
