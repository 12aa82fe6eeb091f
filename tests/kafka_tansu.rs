//! The Kafka topology against a real broker (tansu with sqlite storage), started by
//! `tests/tools/tansu.sh` in `tests/run`, which exports LAKETIDE_TANSU_BROKERS.

mod common;

use std::time::Duration;

use common::{
    PINTEREST_KAFKA, assert_bench_report, bench_json, read_table, row_count, run_topology,
};
use laketide::kafka::{create_topics, produce_triples};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinterest_kafka_topology_on_a_real_broker() {
    let _watchdog = common::watchdog(Duration::from_secs(300));
    let Ok(brokers) = std::env::var("LAKETIDE_TANSU_BROKERS") else {
        eprintln!(
            "SKIPPED pinterest_kafka_topology_on_a_real_broker: LAKETIDE_TANSU_BROKERS is not set (tests/run starts tansu and sets it)"
        );
        return;
    };
    common::init_logs();
    // A fresh prefix per run: the broker's data outlives the test.
    let prefix = format!("t{}", std::process::id());
    let topics: Vec<String> = ["pin", "geo", "user"]
        .iter()
        .map(|k| format!("{prefix}.{k}"))
        .collect();
    create_topics(&brokers, &topics, 3)
        .await
        .expect("create topics");
    let produced = tokio::task::spawn_blocking({
        let (brokers, prefix) = (brokers.clone(), prefix.clone());
        move || produce_triples(&brokers, &prefix, 2000, None, 41)
    })
    .await
    .expect("join")
    .expect("produce");
    assert_eq!(produced.triples, 2000);

    let dir = tempfile::tempdir().expect("tempdir");
    let lake = dir.path().join("lake");
    let vars = [
        ("KAFKA_BROKERS", brokers.clone()),
        ("LAKETIDE_LAKE", lake.to_string_lossy().into_owned()),
        ("LAKETIDE_TOPIC_PREFIX", prefix.clone()),
        ("LAKETIDE_GROUP", format!("{prefix}-group")),
    ];
    let summary = tokio::time::timeout(
        Duration::from_secs(180),
        run_topology(PINTEREST_KAFKA, &vars),
    )
    .await
    .expect("finishes")
    .expect("runs");
    assert_eq!(summary.stats.records_in, 6000);
    assert_eq!(summary.stats.dead_letters, 0);
    for table in ["pin", "geo", "user"] {
        assert_eq!(
            row_count(&read_table(&lake.join(table)).await),
            2000,
            "{table}"
        );
    }
    let again = tokio::time::timeout(
        Duration::from_secs(180),
        run_topology(PINTEREST_KAFKA, &vars),
    )
    .await
    .expect("finishes")
    .expect("runs");
    assert_eq!(again.stats.records_out, 0, "a second run adds nothing");
}

/// `laketide bench` against a real broker: it creates its own topics, produces while the
/// pipeline consumes, and reports every record committed.
#[test]
fn bench_runs_against_a_real_broker() {
    let _watchdog = common::watchdog(Duration::from_secs(300));
    let Ok(brokers) = std::env::var("LAKETIDE_TANSU_BROKERS") else {
        eprintln!(
            "SKIPPED bench_runs_against_a_real_broker: LAKETIDE_TANSU_BROKERS is not set (tests/run starts tansu and sets it)"
        );
        return;
    };
    let source = format!("kafka://{brokers}");
    let report = bench_json(&["--records", "3000", "--source", &source]);
    assert_eq!(report["partitions"], 3, "{report:#}");
    assert_bench_report(&report, 3000);
}
