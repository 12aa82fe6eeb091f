//! The `laketide` binary as a newcomer and an operator use it.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{assert_bench_report, bench_json, read_table, row_count};

fn laketide() -> Command {
    Command::new(env!("CARGO_BIN_EXE_laketide"))
}

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .to_string_lossy()
        .into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_works_from_an_empty_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = laketide()
        .args(["demo", "--count", "500"])
        .current_dir(dir.path())
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("pin                 500  lake/pin"),
        "{stdout}"
    );
    assert!(
        stdout.contains("dead_letters          3  lake/dead_letters"),
        "{stdout}"
    );
    assert_eq!(
        row_count(&read_table(&dir.path().join("lake/geo")).await),
        500
    );
}

#[test]
fn check_prints_the_graph_of_the_shipped_topology() {
    let output = laketide()
        .args(["check", &repo("topologies/pinterest-files.toml")])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("transform clean_pin"), "{stdout}");
    assert!(stdout.contains("sink      dead_letters"), "{stdout}");
    assert!(stdout.trim_end().ends_with("ok"), "{stdout}");
}

#[test]
fn check_reports_errors_with_file_line_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("broken.toml");
    std::fs::write(&file, "[sources.pin]\ntype = \"file\"\npath = \"x\"\n\n[sinks.pin]\ntype = \"delta\"\ninput = \"clean\"\ntable = \"t\"\n").expect("write");
    let output = laketide().arg("check").arg(&file).output().expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(
            "broken.toml:7:9: sinks.pin.input: unknown input `clean`; known outputs are: pin"
        ),
        "{stderr}"
    );
}

#[test]
fn emulate_is_deterministic_for_a_seed() {
    let dir = tempfile::tempdir().expect("tempdir");
    for out in ["a", "b"] {
        let status = laketide()
            .args([
                "emulate", "--to", "file", out, "--count", "200", "--seed", "9",
            ])
            .current_dir(dir.path())
            .status()
            .expect("runs");
        assert!(status.success());
    }
    for file in ["pin.jsonl", "geo.jsonl", "user.jsonl"] {
        let a = std::fs::read(dir.path().join("a").join(file)).expect("a");
        let b = std::fs::read(dir.path().join("b").join(file)).expect("b");
        assert_eq!(a, b, "{file}");
        assert_eq!(a.iter().filter(|c| **c == b'\n').count(), 200);
    }
    let output = laketide()
        .args(["emulate", "--to", "ftp://x"])
        .output()
        .expect("runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown target"));
}

/// Follows files like `tail -f`, commits on time without new input, and on SIGTERM flushes,
/// commits and exits cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_input_commits_on_time_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("raw");
    std::fs::create_dir_all(&input).expect("mkdir");
    let topology = dir.path().join("follow.toml");
    std::fs::write(
        &topology,
        format!(
            "[sources.user]\ntype = \"file\"\npath = \"{raw}/*.jsonl\"\npoll_interval = \"50ms\"\n\n\
             [transforms.clean]\ntype = \"clean_user\"\ninput = \"user\"\n\n\
             [sinks.user]\ntype = \"delta\"\ninput = \"clean\"\ntable = \"{lake}/user\"\nmax_latency = \"200ms\"\n\n\
             [sinks.dead]\ntype = \"delta\"\ninput = \"clean.dead\"\ntable = \"{lake}/dead\"\nmax_latency = \"200ms\"\n",
            raw = input.display(),
            lake = dir.path().join("lake").display()
        ),
    )
    .expect("topology");
    let line = r#"{"ind": 1, "first_name": "A", "last_name": "B", "age": 30, "date_joined": "2016-01-01 00:00:00"}"#;
    std::fs::write(input.join("a.jsonl"), format!("{line}\n")).expect("first file");
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut child = laketide()
        .args(["run", &topology.to_string_lossy(), "--progress", "0"])
        .args(["--metrics-addr", &format!("127.0.0.1:{metrics_port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");

    let table = dir.path().join("lake/user");
    assert!(
        wait_for_rows(&table, 1).await,
        "the first line is committed by max_latency, with no more input"
    );
    let mut file = std::fs::File::options()
        .append(true)
        .open(input.join("a.jsonl"))
        .expect("open");
    writeln!(file, "{line}").expect("append");
    std::fs::write(input.join("b.jsonl"), format!("{line}\n{line}\n")).expect("new file");
    assert!(
        wait_for_rows(&table, 4).await,
        "appended lines and new files are followed"
    );

    std::fs::write(input.join("c.jsonl"), format!("{line}\n")).expect("last file");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = child.wait().expect("exits");
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        use std::io::Read;
        let _ = pipe.read_to_string(&mut stderr);
    }
    assert!(exit.success(), "graceful exit: {stderr}");
    assert!(
        stderr.contains("stopping: flushing and committing"),
        "{stderr}"
    );
    assert_eq!(
        row_count(&read_table(&table).await),
        5,
        "everything read was committed: {stderr}"
    );
}

/// Polls the table until it holds `rows` rows (at most 30 s).
async fn wait_for_rows(table: &Path, rows: usize) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if table.join("_delta_log").is_dir() && row_count(&read_table(table).await) == rows {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[test]
fn bench_measures_a_file_run() {
    let report = bench_json(&["--records", "3000"]);
    assert_eq!(report["source"], "file");
    assert_bench_report(&report, 3000);
}

#[test]
fn bench_measures_an_embedded_kafka_run_while_producing() {
    let report = bench_json(&["--source", "kafka-embedded", "--records", "3000"]);
    assert_eq!(report["source"], "kafka-embedded");
    assert_eq!(report["latency_from"], "Kafka message timestamp");
    assert!(
        report["producer_cpu_seconds"].as_f64().is_some(),
        "{report:#}"
    );
    assert_eq!(report["kafka_mode"], "live", "{report:#}");
    assert_bench_report(&report, 3000);
}

#[test]
fn bench_measures_an_embedded_kafka_backlog_and_refuses_backlog_for_files() {
    let report = bench_json(&[
        "--source",
        "kafka-embedded",
        "--backlog",
        "--records",
        "3000",
    ]);
    assert_eq!(report["kafka_mode"], "backlog", "{report:#}");
    assert!(
        report["producer_cpu_seconds"].as_f64().is_some(),
        "{report:#}"
    );
    assert_bench_report(&report, 3000);

    let refused = laketide()
        .args(["bench", "--backlog", "--records", "300"])
        .output()
        .expect("runs");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--backlog is for Kafka sources"),
        "{stderr}"
    );
}

#[test]
fn bench_reads_given_files_and_refuses_a_used_work_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("input");
    let emulated = laketide()
        .args(["emulate", "--count", "200", "--seed", "3"])
        .arg(&input)
        .output()
        .expect("runs");
    assert!(emulated.status.success());
    let work = dir.path().join("work");
    let input_arg = input.to_string_lossy().into_owned();
    let work_arg = work.to_string_lossy().into_owned();
    let report = bench_json(&["--input", &input_arg, "--work-dir", &work_arg]);
    assert_bench_report(&report, 600);
    assert!(work.join("lake/pin/_delta_log").is_dir());

    let again = laketide()
        .args(["bench", "--input", &input_arg, "--work-dir", &work_arg])
        .output()
        .expect("runs");
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("is not empty"), "{stderr}");
}

#[test]
fn bench_repeats_into_fresh_tables_and_reports_the_median_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().join("work");
    let work_arg = work.to_string_lossy().into_owned();
    let report = bench_json(&["--records", "900", "--repeat", "3", "--work-dir", &work_arg]);
    assert_bench_report(&report, 900);
    let runs = report["runs"].as_array().expect("runs listed");
    assert_eq!(runs.len(), 3, "{report:#}");
    // Every run wrote all records into tables of its own: none was skipped as already there.
    for run in runs {
        assert_eq!(run["rows_written"], 900, "{report:#}");
    }
    for i in 1..=3 {
        assert!(
            work.join(format!("lake-{i}/pin/_delta_log")).is_dir(),
            "lake-{i}"
        );
        assert!(work.join(format!("run-{i}.log")).is_file(), "run-{i}.log");
    }
    let mut rates: Vec<f64> = runs
        .iter()
        .map(|r| r["records_per_cpu_sec"].as_f64().expect("rate"))
        .collect();
    rates.sort_by(f64::total_cmp);
    assert_eq!(
        report["records_per_cpu_sec"].as_f64(),
        Some(rates[1]),
        "{report:#}"
    );

    let table = laketide()
        .args(["bench", "--records", "300", "--repeat", "2"])
        .output()
        .expect("runs");
    assert!(
        table.status.success(),
        "{}",
        String::from_utf8_lossy(&table.stderr)
    );
    let stdout = String::from_utf8_lossy(&table.stdout);
    assert!(stdout.contains("runs (figures above: median)"), "{stdout}");
    assert!(stdout.contains("records per CPU-s, all runs"), "{stdout}");

    let refused = laketide()
        .args(["bench", "--records", "300", "--repeat", "0"])
        .output()
        .expect("runs");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--repeat"), "{stderr}");
}
