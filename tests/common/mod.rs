//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use deltalake::arrow::array::RecordBatch;
use deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use laketide::dsl::RunSummary;
use laketide::runtime::{RunOptions, Shutdown};
use laketide::sinks::delta::{TableLocation, open_table};

pub const PINTEREST_FILES: &str = include_str!("../../topologies/pinterest-files.toml");

/// `../shared/data/pinterest` beside the repository, if present; otherwise says why the
/// calling test is skipped.
pub fn shared_data(test: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/pinterest");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED {test}: ../shared/data/pinterest is absent (real records live outside the repo)"
        );
        None
    }
}

/// Builds and runs the shipped file topology over `input`, writing under `lake`.
pub async fn run_pinterest_files(input: &Path, lake: &Path) -> anyhow::Result<RunSummary> {
    let vars = [
        ("LAKETIDE_INPUT", input.to_string_lossy().into_owned()),
        ("LAKETIDE_LAKE", lake.to_string_lossy().into_owned()),
    ];
    run_topology(PINTEREST_FILES, &vars).await
}

/// The table in `dir`, which must exist.
pub async fn existing_table(dir: &Path) -> deltalake::DeltaTable {
    let location = TableLocation::parse(&dir.to_string_lossy()).expect("table path");
    open_table(&location)
        .await
        .expect("readable")
        .expect("table exists")
}

/// The local paths of the Parquet files of the table's current version.
pub fn data_files(table: &deltalake::DeltaTable) -> Vec<String> {
    table
        .get_file_uris()
        .expect("file list")
        .map(|uri| uri.strip_prefix("file://").unwrap_or(&uri).to_owned())
        .collect()
}

/// Every row of the table's current version, read straight from its Parquet files.
pub async fn read_table(dir: &Path) -> Vec<RecordBatch> {
    let table = existing_table(dir).await;
    let mut batches = Vec::new();
    for path in data_files(&table) {
        let file = std::fs::File::open(&path).expect("data file");
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet")
            .build()
            .expect("reader");
        for batch in reader {
            batches.push(batch.expect("batch"));
        }
    }
    batches
}

pub fn row_count(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

/// Each row's `_source_partition` and `_source_offset` (a table with `position_columns`).
pub fn source_positions(batches: &[RecordBatch]) -> Vec<(String, i64)> {
    use deltalake::arrow::array::AsArray;
    use deltalake::arrow::datatypes::Int64Type;
    let mut positions = Vec::new();
    for batch in batches {
        let partitions = batch
            .column_by_name("_source_partition")
            .expect("partition column")
            .as_string::<i32>();
        let offsets = batch
            .column_by_name("_source_offset")
            .expect("offset column")
            .as_primitive::<Int64Type>();
        for i in 0..batch.num_rows() {
            positions.push((partitions.value(i).to_owned(), offsets.value(i)));
        }
    }
    positions
}

/// A string column of every batch, nulls as `None`.
pub fn strings(batches: &[RecordBatch], column: &str) -> Vec<Option<String>> {
    use deltalake::arrow::array::{Array, AsArray};
    batches
        .iter()
        .flat_map(|b| {
            let array = b
                .column_by_name(column)
                .expect("column")
                .as_string::<i32>()
                .clone();
            (0..array.len())
                .map(|i| array.is_valid(i).then(|| array.value(i).to_owned()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Builds and runs topology text with `${VAR}`s from `vars` only.
pub async fn run_topology(text: &str, vars: &[(&str, String)]) -> anyhow::Result<RunSummary> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let env = move |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let built = laketide::topology::from_str(
        Path::new("test.toml"),
        text,
        &laketide::pinterest::registry(),
        &env,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (trigger, _) = Shutdown::new();
    built.topology.run(RunOptions::default(), trigger).await
}

pub const PINTEREST_KAFKA: &str = include_str!("../../topologies/pinterest-kafka.toml");
pub const PINTEREST_KAFKA_ONE_CONSUMER: &str =
    include_str!("../../topologies/pinterest-kafka-one-consumer.toml");

/// Shows laketide's logs in a failing test's output (RUST_LOG overrides the level).
pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("laketide=info,warn,buoyant_kernel=off")
            }),
        )
        .try_init();
}

/// `laketide bench` on a small input: CI checks that it runs and reports real outcomes; the
/// figures themselves are measured in release builds (BENCHMARKS.md), never asserted.
pub fn bench_json(args: &[&str]) -> serde_json::Value {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_laketide"))
        .args(["bench", "--json"])
        .args(args)
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON object on stdout")
}

pub fn assert_bench_report(report: &serde_json::Value, records: u64) {
    assert_eq!(report["records"], records, "{report:#}");
    assert_eq!(report["rows_written"], records, "{report:#}");
    assert_eq!(report["dead_letters"], 0, "{report:#}");
    for table in ["pin", "geo", "user"] {
        assert_eq!(report["tables"][table], records / 3, "{report:#}");
    }
    for positive in [
        "wall_seconds",
        "cpu_seconds",
        "records_per_sec",
        "records_per_cpu_sec",
        "peak_rss_bytes",
        "p99_latency_ms",
        "files",
        "commits",
    ] {
        let value = report[positive].as_f64().unwrap_or(0.0);
        assert!(value > 0.0, "{positive} = {value} in {report:#}");
    }
    let (p50, p99) = (
        report["p50_latency_ms"].as_f64().unwrap_or(-1.0),
        report["p99_latency_ms"].as_f64().unwrap_or(-1.0),
    );
    assert!((0.0..=p99).contains(&p50), "{report:#}");
}

/// Ends the whole test process if the test holding it runs longer than `limit`, naming it,
/// after killing the processes it registered with [`kill_if_the_watchdog_fires`].
///
/// A test that hangs would otherwise hold CI until its overall time limit, and a tokio test
/// whose body panics still waits, as its runtime shuts down, for any blocking thread still
/// running. So a test that panics keeps its watchdog armed until its thread has ended, which
/// is after its runtime has shut down.
pub struct Watchdog {
    disarm: Option<std::sync::mpsc::Sender<()>>,
}

/// A watchdog for the calling test: libtest names each test's thread after the test.
pub fn watchdog(limit: std::time::Duration) -> Watchdog {
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let (disarm, armed) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = armed.recv_timeout(limit) {
            kill_children();
            // Straight to stderr: what `eprintln!` prints here is captured with the test's
            // output, which is lost when the process ends.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "{test} is still running after {limit:?} (or it panicked and its runtime has \
                 not shut down): ending the test process"
            );
            std::process::exit(101);
        }
    });
    Watchdog {
        disarm: Some(disarm),
    }
}

thread_local! {
    /// Watchdogs of tests that panicked, disarmed when the test's thread ends.
    static ARMED_UNTIL_THREAD_ENDS: std::cell::RefCell<Vec<std::sync::mpsc::Sender<()>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Some(disarm) = self.disarm.take()
        {
            let _ = ARMED_UNTIL_THREAD_ENDS.try_with(|armed| armed.borrow_mut().push(disarm));
        }
    }
}

/// Processes a firing watchdog kills before it ends the test process, so that they do not
/// go on running (retrying a broker that is gone) after it.
static CHILDREN: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

pub fn kill_if_the_watchdog_fires(child: &std::process::Child) {
    CHILDREN
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(child.id());
}

/// Kills the registered processes that are still this process's children: a pid whose
/// process has ended and been waited for may since belong to another program.
fn kill_children() {
    let me = std::process::id().to_string();
    for pid in CHILDREN.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        // The parent pid is the second field after the command name, which ends at the
        // last `)` and may itself hold spaces.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let parent = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1));
        if parent == Some(me.as_str()) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}
