//! Exactly once under crashes and rebalances: `laketide run` processes are killed with SIGKILL
//! while ingesting from Kafka, restarted, and run side by side in one group; the tables end up
//! with every produced record exactly once, checked by topic/partition/offset and by content.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{PINTEREST_KAFKA, read_table};
use deltalake::arrow::array::{Array, AsArray, RecordBatch};
use deltalake::arrow::datatypes::{Int32Type, Int64Type};
use laketide::kafka::{EmbeddedBroker, produce_triples};
use laketide::pinterest::generator::Generator;

const PREFIX: &str = "0a3db223d459";

/// The shipped topology, with a short session timeout so a killed member's partitions move on
/// quickly, and small commits so a kill can land between many of them (the protocol depends
/// on neither; only the test's duration and reach do).
fn topology(dir: &Path) -> PathBuf {
    let text = PINTEREST_KAFKA
        .replace(
            "group = \"${LAKETIDE_GROUP:-laketide-pinterest}",
            "properties = { \"session.timeout.ms\" = 6000 }\ngroup = \"${LAKETIDE_GROUP:-laketide-pinterest}",
        )
        .replace("position_columns = true", "position_columns = true\nmax_rows = 4000");
    let path = dir.join("kafka.toml");
    std::fs::write(&path, text).expect("topology");
    path
}

fn spawn(topology: &Path, brokers: &str, lake: &Path, log: &Path, until_idle: bool) -> Child {
    spawn_in_group(topology, brokers, lake, log, until_idle, "crash-test")
}

fn spawn_in_group(
    topology: &Path,
    brokers: &str,
    lake: &Path,
    log: &Path,
    until_idle: bool,
    group: &str,
) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_laketide"));
    command.arg("run").arg(topology).args(["--progress", "0"]);
    if until_idle {
        command.arg("--until-idle");
    }
    let child = command
        .env("KAFKA_BROKERS", brokers)
        .env("LAKETIDE_LAKE", lake)
        .env("LAKETIDE_GROUP", group)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"))
        .spawn()
        .expect("laketide starts");
    common::kill_if_the_watchdog_fires(&child);
    child
}

fn commits(lake: &Path) -> usize {
    ["pin", "geo", "user"]
        .iter()
        .map(|t| std::fs::read_dir(lake.join(t).join("_delta_log")).map_or(0, |d| d.count()))
        .sum()
}

fn kill(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// The embedded broker keeps 5 MiB per partition; 12 partitions hold 100k pins.
fn broker_with_topics() -> (EmbeddedBroker, String) {
    let broker = EmbeddedBroker::start(3).expect("broker");
    for kind in ["pin", "geo", "user"] {
        broker
            .create_topic(&format!("{PREFIX}.{kind}"), 12)
            .expect("topic");
    }
    let brokers = broker.bootstrap_servers().to_owned();
    (broker, brokers)
}

async fn produce(brokers: &str, count: usize, seed: u64) {
    let brokers = brokers.to_owned();
    tokio::task::spawn_blocking(move || {
        produce_triples(&brokers, PREFIX, count as u64, None, seed)
    })
    .await
    .expect("join")
    .expect("produce");
}

fn rows(lake: &Path, table: &str) -> usize {
    let Ok(Some(count)) = futures::executor::block_on(laketide::sinks::delta::row_count(
        &laketide::sinks::delta::TableLocation::parse(&lake.join(table).to_string_lossy())
            .expect("location"),
    )) else {
        return 0;
    };
    count as usize
}

/// Waits until every table holds `expected` rows (at most `seconds`).
async fn wait_for_rows(lake: &Path, expected: usize, seconds: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        let lake = lake.to_path_buf();
        let counts =
            tokio::task::spawn_blocking(move || ["pin", "geo", "user"].map(|t| rows(&lake, t)))
                .await
                .expect("join");
        if counts.iter().all(|c| *c == expected) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}

fn set_brokers_up(broker: &EmbeddedBroker, up: bool) {
    for id in 1..=3 {
        broker.set_broker_up(id, up).expect("broker state");
    }
}

/// Takes the brokers down and starts `laketide run` (following, in `group`) under `dir`; four
/// seconds later it must still be running, waiting for them. Returns it, its lake and its log.
async fn start_with_brokers_down(
    broker: &EmbeddedBroker,
    brokers: &str,
    dir: &Path,
    group: &str,
) -> (Child, PathBuf, PathBuf) {
    set_brokers_up(broker, false);
    let lake = dir.join("lake");
    let log = dir.join("run.log");
    let mut child = spawn_in_group(&topology(dir), brokers, &lake, &log, false, group);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        child.try_wait().expect("status").is_none(),
        "it must wait for the brokers, not exit:\n{}",
        log_of(&log)
    );
    (child, lake, log)
}

fn log_of(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().expect("exits")
}

/// The test is only meaningful if the broker still holds every produced message.
fn assert_broker_kept_everything(brokers: &str, per_topic: i64) {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("consumer");
    for kind in ["pin", "geo", "user"] {
        let topic = format!("{PREFIX}.{kind}");
        let mut total = 0;
        for partition in 0..12 {
            let (low, high) = consumer
                .fetch_watermarks(&topic, partition, Duration::from_secs(10))
                .expect("watermarks");
            assert_eq!(
                low, 0,
                "{topic}/{partition}: the broker dropped old messages"
            );
            total += high;
        }
        assert_eq!(total, per_topic, "{topic}");
    }
}

/// A tiny deterministic generator for kill moments (the seed is printed for reproduction).
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> &'a dyn Array {
    batch.column_by_name(name).expect("column").as_ref()
}

/// Checks the pin, geo and user tables each hold exactly the produced records.
async fn assert_tables_exactly_once(lake: &Path, produced: &[(u64, usize)]) {
    for table in ["pin", "geo", "user"] {
        assert_exactly_once(lake, table, produced).await;
    }
}

/// Checks one table holds exactly the produced records: each (partition, offset) once, all
/// of them, and the same `ind` values as the generator produced.
async fn assert_exactly_once(lake: &Path, table: &str, produced: &[(u64, usize)]) {
    let triples: usize = produced.iter().map(|(_, n)| n).sum();
    let batches = read_table(&lake.join(table)).await;
    let mut positions: Vec<(String, i64)> = Vec::new();
    let mut inds: HashMap<i32, usize> = HashMap::new();
    for batch in &batches {
        let partitions = column(batch, "_source_partition").as_string::<i32>();
        let offsets = column(batch, "_source_offset").as_primitive::<Int64Type>();
        let ind = column(batch, "ind").as_primitive::<Int32Type>();
        for i in 0..batch.num_rows() {
            positions.push((partitions.value(i).to_owned(), offsets.value(i)));
            *inds.entry(ind.value(i)).or_default() += 1;
        }
    }
    let rows = positions.len();
    positions.sort();
    let mut summary: HashMap<&str, (i64, i64, usize)> = HashMap::new();
    for (partition, offset) in &positions {
        let entry = summary.entry(partition).or_insert((i64::MAX, i64::MIN, 0));
        *entry = (entry.0.min(*offset), entry.1.max(*offset), entry.2 + 1);
    }
    eprintln!("{table}: per partition (min, max, rows): {summary:?}");
    positions.dedup();
    assert_eq!(
        positions.len(),
        rows,
        "{table}: a topic/partition/offset appears twice"
    );
    assert_eq!(rows, triples, "{table}: every produced record, once");
    // Offsets of each partition are 0..n without gaps.
    let mut per_partition: HashMap<&str, Vec<i64>> = HashMap::new();
    for (partition, offset) in &positions {
        per_partition.entry(partition).or_default().push(*offset);
    }
    for (partition, offsets) in per_partition {
        let expected: Vec<i64> = (0..offsets.len() as i64).collect();
        assert_eq!(offsets, expected, "{table}: {partition} has gaps");
    }
    let mut expected: HashMap<i32, usize> = HashMap::new();
    for (seed, count) in produced {
        for triple in Generator::new(*seed).take(*count) {
            *expected.entry(triple.index as i32).or_default() += 1;
        }
    }
    assert_eq!(
        inds, expected,
        "{table}: content differs from what was produced"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_and_duplicates_nothing() {
    let _watchdog = common::watchdog(Duration::from_secs(600));
    common::init_logs();
    const TRIPLES: usize = 100_000;
    const SEED: u64 = 11;
    let broker = EmbeddedBroker::start(3).expect("broker");
    // The embedded broker keeps 5 MiB per partition; 12 partitions hold 100k pins.
    for kind in ["pin", "geo", "user"] {
        broker
            .create_topic(&format!("{PREFIX}.{kind}"), 12)
            .expect("topic");
    }
    let brokers = broker.bootstrap_servers().to_owned();
    let produced = tokio::task::spawn_blocking({
        let brokers = brokers.clone();
        move || produce_triples(&brokers, PREFIX, TRIPLES as u64, None, SEED)
    })
    .await
    .expect("join")
    .expect("produce");
    assert_eq!(produced.triples, TRIPLES as u64);
    assert_broker_kept_everything(&brokers, TRIPLES as i64);

    let dir = tempfile::tempdir().expect("tempdir");
    let lake = dir.path().join("lake");
    let topology = topology(dir.path());
    let kill_seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(7, |d| d.as_nanos() as u64);
    eprintln!("kill-moment seed: {kill_seed}");
    let mut random = Lcg(kill_seed);
    let mut kills = 0;
    for round in 0..8 {
        let log = dir.path().join(format!("run-{round}.log"));
        let before = commits(&lake);
        let mut child = spawn(&topology, &brokers, &lake, &log, true);
        // Kill only once data is flowing, then at a random moment within the next 0.3 s.
        let deadline = Instant::now() + Duration::from_secs(60);
        while commits(&lake) == before && Instant::now() < deadline {
            if child.try_wait().expect("status").is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(random.below(300))).await;
        if child.try_wait().expect("status").is_some() {
            break; // it finished everything before the kill
        }
        kill(&mut child);
        kills += 1;
        eprintln!(
            "round {round}: killed after {} new commit files",
            commits(&lake) - before
        );
    }
    assert!(kills >= 5, "only {kills} kills landed mid-run");
    let log = dir.path().join("final.log");
    let mut last = spawn(&topology, &brokers, &lake, &log, true);
    let status = tokio::task::spawn_blocking(move || last.wait())
        .await
        .expect("join")
        .expect("wait");
    let final_log = std::fs::read_to_string(&log).unwrap_or_default();
    eprintln!("final run:\n{final_log}");
    assert!(status.success(), "{final_log}");
    assert_tables_exactly_once(&lake, &[(SEED, TRIPLES)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_split_the_partitions_and_one_takes_over_when_the_other_dies() {
    let _watchdog = common::watchdog(Duration::from_secs(600));
    let (_broker, brokers) = broker_with_topics();
    produce(&brokers, 20_000, 21).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = dir.path().join("lake");
    let topology = topology(dir.path());
    let (log_a, log_b) = (dir.path().join("a.log"), dir.path().join("b.log"));
    let mut a = spawn_in_group(&topology, &brokers, &lake, &log_a, false, "pair");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut b = spawn_in_group(&topology, &brokers, &lake, &log_b, false, "pair");

    // Both members hold part of the pin topic once the group has settled.
    let deadline = Instant::now() + Duration::from_secs(60);
    let holds = |log: &str| {
        log.lines()
            .filter(|l| l.contains("assigned;") && l.contains(".pin/"))
            .count()
    };
    while Instant::now() < deadline
        && (holds(&log_of(&log_b)) == 0 || !log_of(&log_a).contains("revoked"))
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        holds(&log_of(&log_b)) > 0,
        "the second process got no partition:\n{}",
        log_of(&log_b)
    );
    assert!(
        log_of(&log_a).contains("revoked"),
        "the first process gave nothing up:\n{}\n---\n{}",
        log_of(&log_a),
        log_of(&log_b)
    );

    produce(&brokers, 5_000, 22).await;
    kill(&mut a);
    produce(&brokers, 5_000, 23).await;
    assert!(
        wait_for_rows(&lake, 30_000, 120).await,
        "the survivor did not take over:\n{}",
        log_of(&log_b)
    );
    let status = terminate(&mut b);
    assert!(status.success(), "{}", log_of(&log_b));
    assert_tables_exactly_once(&lake, &[(21, 20_000), (22, 5_000), (23, 5_000)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brokers_down_at_start_and_mid_run_lose_nothing() {
    let _watchdog = common::watchdog(Duration::from_secs(600));
    let (broker, brokers) = broker_with_topics();
    produce(&brokers, 5_000, 31).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, lake, log) =
        start_with_brokers_down(&broker, &brokers, dir.path(), "outage").await;
    assert!(
        log_of(&log).contains("retrying"),
        "a clear retrying line:\n{}",
        log_of(&log)
    );
    set_brokers_up(&broker, true);
    assert!(
        wait_for_rows(&lake, 5_000, 90).await,
        "ingestion did not start:\n{}",
        log_of(&log)
    );

    // Mid-run: the brokers go away for a while, records keep coming after they return.
    set_brokers_up(&broker, false);
    tokio::time::sleep(Duration::from_secs(3)).await;
    set_brokers_up(&broker, true);
    produce(&brokers, 5_000, 32).await;
    assert!(
        wait_for_rows(&lake, 10_000, 90).await,
        "ingestion did not resume:\n{}",
        log_of(&log)
    );
    let status = terminate(&mut child);
    assert!(status.success(), "{}", log_of(&log));
    assert_tables_exactly_once(&lake, &[(31, 5_000), (32, 5_000)]).await;
}

/// A stop while the brokers cannot be reached: the consumers never joined their groups, so
/// there is no join to wait for and nothing to commit; the process exits cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_the_brokers_are_down_exits_cleanly() {
    let _watchdog = common::watchdog(Duration::from_secs(300));
    let (broker, brokers) = broker_with_topics();
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, _, log) =
        start_with_brokers_down(&broker, &brokers, dir.path(), "unreachable").await;
    let status = terminate(&mut child);
    let text = log_of(&log);
    assert!(status.success(), "{text}");
    assert!(text.contains("stopping"), "{text}");
    assert!(text.contains("0 records read"), "{text}");
    assert!(!text.contains("did not close"), "{text}");
}
