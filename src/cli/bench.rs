//! `laketide bench`: one measured run of a topology on known input, reporting what people
//! compare stream processors by: records per second and per CPU-second, peak memory, and the
//! latency from a record's arrival to the Delta commit that makes it visible.
//!
//! The pipeline runs as a child `laketide run` process, so the CPU time and peak memory
//! reported are the pipeline's alone: generating input, the embedded broker and the producer
//! stay in this process (their CPU is reported apart).
//!
//! With a file source the child reads a backlog and stops when idle. With Kafka the producer
//! sends while the child consumes, as in production; once the child has read everything
//! produced it is stopped with SIGTERM, which commits what it holds. With `--backlog`, Kafka
//! is measured like files: everything is produced first, then the child reads the backlog
//! with the machine to itself.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use rdkafka::producer::{BaseProducer, BaseRecord};
use serde::Serialize;

use super::emulate::write_files;
use crate::dsl::RunSummary;
use crate::kafka::{EmbeddedBroker, create_topics, flush, producer_config, send};
use crate::runtime::process_cpu_seconds;
use crate::sinks::delta::{TableLocation, open_table, rows_in};

const FILES_TOPOLOGY: &str = include_str!("../../topologies/pinterest-files.toml");
const KAFKA_TOPOLOGY: &str = include_str!("../../topologies/pinterest-kafka.toml");
const KINDS: [&str; 3] = ["pin", "geo", "user"];
/// Bytes per partition planned for the embedded broker, which keeps only the newest 5 MiB
/// of each partition as the producer sent it (compressed): the margin covers record headers,
/// uneven spreading and input that compresses worse than its start.
const EMBEDDED_BYTES_PER_PARTITION: u64 = 3 << 20;
/// How much of each input file is compressed to estimate how well all of it compresses.
const COMPRESSION_SAMPLE_BYTES: usize = 8 << 20;
/// Consecutive messages of a topic sent to one partition (see [`produce_files`]).
const MESSAGES_PER_PARTITION_RUN: u64 = 500;
/// How long the pipeline may read nothing new, once everything is produced, before the run
/// is declared stuck.
const STALL: Duration = Duration::from_secs(30);

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Where records come from: `file`, `kafka-embedded` (a broker inside this process), or
    /// `kafka://HOST:PORT` (a running broker; topics with a fresh prefix are created).
    #[arg(long, default_value = "file")]
    pub source: String,
    /// Records to generate: pin, geo and user records in equal parts (rounded up to triples).
    #[arg(long, default_value_t = 900_000)]
    pub records: u64,
    /// Read pin.jsonl, geo.jsonl and user.jsonl from this directory instead of generating.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// The topology to run (default: the shipped Pinterest topology for the source). It gets
    /// LAKETIDE_INPUT, LAKETIDE_LAKE, KAFKA_BROKERS, LAKETIDE_TOPIC_PREFIX and LAKETIDE_GROUP.
    #[arg(long)]
    pub topology: Option<PathBuf>,
    /// Partitions per topic (Kafka). Default: 3 on a real broker; on the embedded broker,
    /// enough that no partition exceeds what it retains (5 MiB of compressed batches each,
    /// estimated by compressing the start of each input file).
    #[arg(long)]
    pub partitions: Option<i32>,
    /// Seed of the generated records.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Keep the input, tables and the run's log here (must be empty or absent; default: a
    /// temporary directory, removed afterwards).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Give up (and stop the pipeline) after this many seconds.
    #[arg(long, default_value_t = 900)]
    pub timeout: u64,
    /// Run the pipeline this many times on the same input, each time into fresh tables (and
    /// fresh topics), and report the run with the median records per CPU-second next to the
    /// range of all runs: on shared machines runs of the same code differ by 20-30%.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
    /// Kafka: produce everything first, then run the pipeline on the backlog until it is
    /// idle, as with files, so that the producer and the broker's intake do not share the
    /// machine with the pipeline while it is measured (a consumer catching up, not one
    /// keeping up). Latency then includes the time records waited in the backlog.
    #[arg(long)]
    pub backlog: bool,
    /// Print one JSON object on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum BenchSource {
    File,
    KafkaEmbedded,
    KafkaAt(String),
}

impl BenchSource {
    fn parse(text: &str) -> anyhow::Result<Self> {
        match text {
            "file" => Ok(BenchSource::File),
            "kafka-embedded" => Ok(BenchSource::KafkaEmbedded),
            other => match other.strip_prefix("kafka://") {
                Some(brokers) if !brokers.is_empty() => Ok(BenchSource::KafkaAt(brokers.into())),
                _ => bail!(
                    "--source `{other}` is not one of `file`, `kafka-embedded`, `kafka://HOST:PORT`"
                ),
            },
        }
    }

    fn label(&self) -> String {
        match self {
            BenchSource::File => "file".into(),
            BenchSource::KafkaEmbedded => "kafka-embedded".into(),
            BenchSource::KafkaAt(brokers) => format!("kafka://{brokers}"),
        }
    }
}

#[derive(Debug, Serialize)]
struct Report {
    source: String,
    topology: String,
    records: u64,
    input_bytes: u64,
    rows_written: u64,
    dead_letters: u64,
    wall_seconds: f64,
    cpu_seconds: Option<f64>,
    records_per_sec: f64,
    mb_per_sec: f64,
    records_per_cpu_sec: Option<f64>,
    peak_rss_bytes: Option<u64>,
    p50_latency_ms: Option<f64>,
    p99_latency_ms: Option<f64>,
    max_latency_ms: Option<f64>,
    /// Where latency is measured from.
    latency_from: &'static str,
    files: u64,
    commits: u64,
    tables: BTreeMap<String, u64>,
    /// Worker threads of the pipeline.
    threads: usize,
    /// Kafka: `live` (produced while the pipeline consumed) or `backlog` (produced first),
    /// partitions per topic, and the CPU the producer (and embedded broker) used.
    #[serde(skip_serializing_if = "Option::is_none")]
    kafka_mode: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    partitions: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    producer_cpu_seconds: Option<f64>,
    /// With `--repeat`: every run's figures, in the order they ran; the report above is the
    /// median run's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    runs: Vec<RunFigures>,
}

/// What differs between repeated runs of the same input.
#[derive(Debug, Clone, Serialize)]
struct RunFigures {
    rows_written: u64,
    wall_seconds: f64,
    cpu_seconds: Option<f64>,
    records_per_sec: f64,
    records_per_cpu_sec: Option<f64>,
    peak_rss_bytes: Option<u64>,
    p50_latency_ms: Option<f64>,
    p99_latency_ms: Option<f64>,
}

impl Report {
    fn figures(&self) -> RunFigures {
        RunFigures {
            rows_written: self.rows_written,
            wall_seconds: self.wall_seconds,
            cpu_seconds: self.cpu_seconds,
            records_per_sec: self.records_per_sec,
            records_per_cpu_sec: self.records_per_cpu_sec,
            peak_rss_bytes: self.peak_rss_bytes,
            p50_latency_ms: self.p50_latency_ms,
            p99_latency_ms: self.p99_latency_ms,
        }
    }
}

/// The run with the median records per CPU-second (per second unless every run knows its
/// CPU time; of an even number of runs, the slower middle one), with every run's figures
/// attached when there was more than one.
fn median_run(mut reports: Vec<Report>) -> Option<Report> {
    let figures: Vec<RunFigures> = reports.iter().map(Report::figures).collect();
    let per_cpu = reports.iter().all(|r| r.records_per_cpu_sec.is_some());
    let rate = |r: &Report| match (per_cpu, r.records_per_cpu_sec) {
        (true, Some(rate)) => rate,
        _ => r.records_per_sec,
    };
    reports.sort_by(|a, b| rate(a).total_cmp(&rate(b)));
    let middle = reports.len().saturating_sub(1) / 2;
    let mut median = reports.into_iter().nth(middle)?;
    if figures.len() > 1 {
        median.runs = figures;
    }
    Some(median)
}

pub async fn bench(args: BenchArgs, threads: Option<usize>) -> anyhow::Result<()> {
    let source = BenchSource::parse(&args.source)?;
    if args.backlog && source == BenchSource::File {
        bail!(
            "--backlog is for Kafka sources (--source kafka-embedded or kafka://HOST:PORT); a file source is always read as a backlog"
        );
    }
    let _temp;
    let work = match &args.work_dir {
        Some(dir) => {
            if dir
                .read_dir()
                .is_ok_and(|mut entries| entries.next().is_some())
            {
                bail!(
                    "--work-dir {} is not empty: the tables would already hold the records, and a \
                     rerun adds nothing (exactly once). Remove it or choose another directory",
                    dir.display()
                );
            }
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create --work-dir {}", dir.display()))?;
            dir.clone()
        }
        None => {
            let temp = tempfile::tempdir().context("cannot create a temporary directory")?;
            let path = temp.path().to_path_buf();
            _temp = temp;
            path
        }
    };
    let input = match &args.input {
        Some(dir) => {
            for kind in KINDS {
                let file = dir.join(format!("{kind}.jsonl"));
                if !file.is_file() {
                    bail!("--input {}: {} is missing", dir.display(), file.display());
                }
            }
            dir.clone()
        }
        None => {
            let dir = work.join("input");
            let triples = args.records.div_ceil(3);
            progress(
                &args,
                &format!("generating {} records into {}", triples * 3, dir.display()),
            );
            let dir_for_task = dir.clone();
            let seed = args.seed;
            tokio::task::spawn_blocking(move || write_files(&dir_for_task, triples, seed))
                .await
                .context("the generator panicked")??;
            dir
        }
    };
    let input_files: Vec<PathBuf> = KINDS
        .iter()
        .map(|kind| input.join(format!("{kind}.jsonl")))
        .collect();
    let sizes: Vec<u64> = input_files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()))
        .collect::<Result<_, _>>()
        .context("cannot read the input files' sizes")?;

    let topology = match &args.topology {
        Some(path) => path.clone(),
        None => {
            let path = work.join("topology.toml");
            let text = match source {
                BenchSource::File => FILES_TOPOLOGY,
                _ => KAFKA_TOPOLOGY,
            };
            std::fs::write(&path, text).context("cannot write the topology file")?;
            path
        }
    };
    let run = Prepared {
        source: &source,
        input: &input,
        input_files: &input_files,
        sizes: &sizes,
        topology: &topology,
        threads,
    };
    let mut reports = Vec::new();
    for i in 1..=args.repeat {
        // Each run writes fresh tables: into the same ones a rerun would add nothing.
        let name = |stem: &str, ext: &str| match args.repeat {
            1 => format!("{stem}{ext}"),
            _ => format!("{stem}-{i}{ext}"),
        };
        if args.repeat > 1 {
            progress(&args, &format!("run {i} of {}", args.repeat));
        }
        let files = RunFiles {
            run: i,
            lake: work.join(name("lake", "")),
            log: work.join(name("run", ".log")),
            summary: work.join(name("summary", ".json")),
        };
        reports.push(measure(&args, &run, files).await?);
    }
    let report = median_run(reports).context("no run was measured")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    if args.work_dir.is_some() {
        progress(
            &args,
            &match args.repeat {
                1 => format!("input, tables and run.log kept in {}", work.display()),
                n => format!(
                    "input, tables (lake-1 .. lake-{n}) and logs (run-1.log ..) kept in {}",
                    work.display()
                ),
            },
        );
    }
    Ok(())
}

/// Everything the runs of one `laketide bench` share.
struct Prepared<'a> {
    source: &'a BenchSource,
    input: &'a Path,
    input_files: &'a [PathBuf],
    sizes: &'a [u64],
    topology: &'a Path,
    threads: Option<usize>,
}

/// Where one run writes.
struct RunFiles {
    /// 1-based; also keeps the Kafka topics of repeated runs apart.
    run: u32,
    lake: PathBuf,
    log: PathBuf,
    summary: PathBuf,
}

/// One measured run of the pipeline.
async fn measure(args: &BenchArgs, run: &Prepared<'_>, files: RunFiles) -> anyhow::Result<Report> {
    let Prepared {
        source,
        input,
        input_files,
        sizes,
        topology,
        threads,
    } = *run;
    let input_bytes: u64 = sizes.iter().sum();
    let lake = files.lake;
    let mut child = ChildRun {
        topology: topology.to_path_buf(),
        env: vec![
            ("LAKETIDE_INPUT".into(), input.display().to_string()),
            ("LAKETIDE_LAKE".into(), lake.display().to_string()),
        ],
        log: files.log,
        summary: files.summary,
        timeout: Duration::from_secs(args.timeout),
        threads,
    };

    let mut partitions = None;
    let (measured, wall, producer_cpu) = match source {
        BenchSource::File => {
            progress(args, "running the pipeline on the files");
            let measured = tokio::task::spawn_blocking(move || child.run_until_idle())
                .await
                .context("the bench driver panicked")??;
            let wall = measured.seconds;
            (measured, wall, None)
        }
        kafka => {
            let prefix = format!(
                "bench{}x{}r{}",
                std::process::id(),
                chrono::Utc::now().timestamp(),
                files.run
            );
            let topics: Vec<String> = KINDS.iter().map(|k| format!("{prefix}.{k}")).collect();
            let _broker;
            let brokers = match kafka {
                BenchSource::KafkaAt(brokers) => {
                    let count = args.partitions.unwrap_or(3);
                    create_topics(brokers, &topics, count).await?;
                    partitions = Some(count);
                    brokers.clone()
                }
                _ => {
                    let broker = EmbeddedBroker::start(3)?;
                    let count = match args.partitions {
                        Some(count) => count,
                        None => embedded_partitions(input_files, sizes)?,
                    };
                    for topic in &topics {
                        broker.create_topic(topic, count)?;
                    }
                    partitions = Some(count);
                    let brokers = broker.bootstrap_servers().to_owned();
                    _broker = broker;
                    brokers
                }
            };
            child.env.extend([
                ("KAFKA_BROKERS".into(), brokers.clone()),
                ("LAKETIDE_TOPIC_PREFIX".into(), prefix.clone()),
                ("LAKETIDE_GROUP".into(), prefix.clone()),
            ]);
            let files = input_files.to_vec();
            let per_topic = partitions.unwrap_or(1);
            if args.backlog {
                progress(
                    args,
                    &format!(
                        "producing to {brokers} ({per_topic} partitions per topic), then running the pipeline on the backlog"
                    ),
                );
                let embedded = !matches!(kafka, BenchSource::KafkaAt(_));
                tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
                    let cpu_at_start = process_cpu_seconds();
                    let produced = produce_files(&brokers, &prefix, &files, per_topic)?;
                    let producer_cpu = cpu_at_start
                        .zip(process_cpu_seconds())
                        .map(|(start, end)| end - start);
                    let measured = child.run_until_idle()?;
                    check_backlog_read(measured.stats.records_in, produced, per_topic, embedded)?;
                    let wall = measured.seconds;
                    Ok((measured, wall, producer_cpu))
                })
                .await
                .context("the bench driver panicked")??
            } else {
                progress(
                    args,
                    &format!(
                        "producing to {brokers} ({per_topic} partitions per topic) while the pipeline consumes"
                    ),
                );
                tokio::task::spawn_blocking(move || {
                    child.run_live(&brokers, &prefix, &files, per_topic)
                })
                .await
                .context("the bench driver panicked")??
            }
        }
    };

    let (tables, files, commits) = lake_contents(&lake).await?;
    let per_cpu = measured
        .cpu_seconds
        .map(|cpu| measured.stats.records_in as f64 / cpu.max(1e-9));
    let report = Report {
        source: source.label(),
        topology: topology.display().to_string(),
        records: measured.stats.records_in,
        input_bytes,
        rows_written: measured.stats.records_out,
        dead_letters: measured.stats.dead_letters,
        wall_seconds: wall,
        cpu_seconds: measured.cpu_seconds,
        records_per_sec: measured.stats.records_in as f64 / wall.max(1e-9),
        mb_per_sec: input_bytes as f64 / 1e6 / wall.max(1e-9),
        records_per_cpu_sec: per_cpu,
        peak_rss_bytes: measured.peak_rss_bytes,
        p50_latency_ms: measured.latency.p50_ms,
        p99_latency_ms: measured.latency.p99_ms,
        max_latency_ms: measured.latency.max_ms,
        latency_from: match source {
            BenchSource::File => "file read",
            _ => "Kafka message timestamp",
        },
        files,
        commits,
        tables,
        threads: super::worker_threads(threads),
        kafka_mode: match source {
            BenchSource::File => None,
            _ if args.backlog => Some("backlog"),
            _ => Some("live"),
        },
        partitions,
        producer_cpu_seconds: producer_cpu,
        runs: Vec::new(),
    };
    Ok(report)
}

fn progress(args: &BenchArgs, line: &str) {
    if !args.json {
        eprintln!("bench: {line}");
    }
}

/// A `laketide run` of the topology in a child process.
struct ChildRun {
    topology: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
    summary: PathBuf,
    timeout: Duration,
    threads: Option<usize>,
}

impl ChildRun {
    fn spawn(&self, extra: &[&str]) -> anyhow::Result<Child> {
        let exe = std::env::current_exe().context("cannot find the laketide executable")?;
        let log = File::create(&self.log)
            .with_context(|| format!("cannot create {}", self.log.display()))?;
        Command::new(exe)
            .arg("run")
            .arg(&self.topology)
            .args(["--progress", "0", "--summary-json"])
            .arg(&self.summary)
            .args(extra)
            .args(self.threads.map(|n| format!("--threads={n}")))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            // A RUST_LOG of the user's own reaches the pipeline, to look into a run.
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| {
                    "laketide=info,warn,buoyant_kernel=off,deltalake_core::writer::stats=error"
                        .into()
                }),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("cannot start `laketide run`")
    }

    /// Backlog mode: the child reads everything there is and stops by itself.
    fn run_until_idle(&self) -> anyhow::Result<RunSummary> {
        let mut child = self.spawn(&["--until-idle"])?;
        let deadline = Instant::now() + self.timeout;
        loop {
            if let Some(status) = child.try_wait()? {
                return self.finished(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "the pipeline did not finish within --timeout {:?}",
                    self.timeout
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Live mode: the child consumes while this process produces the input files' lines.
    /// Returns the child's summary, the wall time from the first record produced to the
    /// child's exit, and this process's CPU time over that span.
    fn run_live(
        &self,
        brokers: &str,
        prefix: &str,
        files: &[PathBuf],
        partitions: i32,
    ) -> anyhow::Result<(RunSummary, f64, Option<f64>)> {
        let metrics = free_local_address()?;
        let mut child = self.spawn(&["--metrics-addr", &metrics])?;
        let outcome = self.drive_live(&mut child, &metrics, brokers, prefix, files, partitions);
        if outcome.is_err() {
            let _ = child.kill();
            let _ = child.wait();
        }
        outcome
    }

    fn drive_live(
        &self,
        child: &mut Child,
        metrics: &str,
        brokers: &str,
        prefix: &str,
        files: &[PathBuf],
        partitions: i32,
    ) -> anyhow::Result<(RunSummary, f64, Option<f64>)> {
        let deadline = Instant::now() + self.timeout;
        // Produce only once the pipeline is up, so its start-up is not counted as latency.
        while records_read(metrics).is_none() {
            if let Some(status) = child.try_wait()? {
                self.finished(status)?;
                bail!("the pipeline stopped before consuming anything");
            }
            if Instant::now() > deadline {
                bail!(
                    "the pipeline did not start within --timeout {:?}",
                    self.timeout
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let started = Instant::now();
        let cpu_at_start = process_cpu_seconds();
        let produced = produce_files(brokers, prefix, files, partitions)?;
        let (mut read, mut last_change) = (0, Instant::now());
        loop {
            if let Some(status) = child.try_wait()? {
                self.finished(status)?;
                bail!("the pipeline stopped before reading all {produced} records");
            }
            let now = records_read(metrics).unwrap_or(read);
            if now >= produced {
                break;
            }
            if now != read {
                (read, last_change) = (now, Instant::now());
            }
            if last_change.elapsed() > STALL {
                bail!(
                    "the pipeline has read {read} of {produced} records and nothing more for {STALL:?}. \
                     If its log ({}) says `Offset out of range`, records were dropped by the broker's \
                     retention (the embedded broker keeps 5 MiB per partition): give --partitions more",
                    self.log.display()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "the pipeline read {read} of {produced} records within --timeout {:?}",
                    self.timeout
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        terminate(child)?;
        let status = child.wait()?;
        let wall = started.elapsed().as_secs_f64();
        let producer_cpu = cpu_at_start
            .zip(process_cpu_seconds())
            .map(|(start, end)| end - start);
        Ok((self.finished(status)?, wall, producer_cpu))
    }

    fn finished(&self, status: std::process::ExitStatus) -> anyhow::Result<RunSummary> {
        if !status.success() {
            bail!(
                "`laketide run` failed ({status}); the end of its log:\n{}",
                log_tail(&self.log)
            );
        }
        let text = std::fs::read_to_string(&self.summary).with_context(|| {
            format!(
                "`laketide run` wrote no summary; its log:\n{}",
                log_tail(&self.log)
            )
        })?;
        serde_json::from_str(&text).context("cannot read the run's summary")
    }
}

/// Sends the lines of the input files to `<prefix>.<kind>`, interleaved as the emulator
/// produces them. Each topic's partitions take turns receiving runs of messages, as with
/// Kafka's sticky partitioner (so producer batches stay large), but in strict rotation, so
/// that every partition gets the same share, which the embedded broker's retention needs.
/// Returns how many were sent.
fn produce_files(
    brokers: &str,
    prefix: &str,
    files: &[PathBuf],
    partitions: i32,
) -> anyhow::Result<u64> {
    let producer: BaseProducer = producer_config(brokers)
        .create()
        .context("cannot create the Kafka producer")?;
    let mut readers = Vec::new();
    for (kind, path) in KINDS.iter().zip(files) {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        readers.push((
            format!("{prefix}.{kind}"),
            BufReader::with_capacity(1 << 20, file),
        ));
    }
    let mut line = Vec::new();
    let mut sent = 0u64;
    let mut open = readers.len();
    while open > 0 {
        open = 0;
        for (topic, reader) in &mut readers {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                continue;
            }
            open += 1;
            let payload = line.strip_suffix(b"\n").unwrap_or(&line);
            if payload.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let run = sent / KINDS.len() as u64 / MESSAGES_PER_PARTITION_RUN;
            let partition = (run % partitions.max(1) as u64) as i32;
            send(
                &producer,
                BaseRecord::<(), [u8]>::to(topic)
                    .partition(partition)
                    .payload(payload),
            )?;
            sent += 1;
        }
        producer.poll(Duration::ZERO);
    }
    flush(&producer)?;
    Ok(sent)
}

/// Partitions per topic for the embedded broker: enough that the largest topic's compressed
/// batches fit its retention (`EMBEDDED_BYTES_PER_PARTITION` each), and at least 3. Sized by
/// the raw bytes, JSON events would get about 2.5 times as many partitions as they need, and
/// more partitions cost the consumer more per record (BENCHMARKS.md).
fn embedded_partitions(files: &[PathBuf], sizes: &[u64]) -> anyhow::Result<i32> {
    let mut largest = 0u64;
    for (path, size) in files.iter().zip(sizes) {
        let ratio = compression_ratio(path)?;
        largest = largest.max((*size as f64 * ratio).ceil() as u64);
    }
    Ok(i32::try_from(largest / EMBEDDED_BYTES_PER_PARTITION + 1)
        .unwrap_or(i32::MAX)
        .max(3))
}

/// Compressed over raw bytes for the start of `path`, compressed as `produce_files` batches
/// it: runs of `MESSAGES_PER_PARTITION_RUN` lines, each an LZ4 frame as librdkafka sends a
/// batch. 1.0 for an empty file.
fn compression_ratio(path: &Path) -> anyhow::Result<f64> {
    use std::io::Write;
    let mut sample = Vec::with_capacity(COMPRESSION_SAMPLE_BYTES);
    File::open(path)
        .with_context(|| format!("cannot open {}", path.display()))?
        .take(COMPRESSION_SAMPLE_BYTES as u64)
        .read_to_end(&mut sample)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let lines: Vec<&[u8]> = sample
        .split(|&byte| byte == b'\n')
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .collect();
    let (mut raw, mut compressed) = (0usize, 0usize);
    for run in lines.chunks(MESSAGES_PER_PARTITION_RUN as usize) {
        let mut frame = lz4_flex::frame::FrameEncoder::new(Vec::new());
        for line in run {
            frame.write_all(line)?;
            raw += line.len();
        }
        compressed += frame.finish().context("cannot compress a sample")?.len();
    }
    Ok(if raw == 0 {
        1.0
    } else {
        compressed as f64 / raw as f64
    })
}

/// After a backlog run: every record produced must have been read. Fewer means the broker
/// dropped some before the pipeline got to them, which would leave the figures measuring less
/// than the input.
fn check_backlog_read(
    read: u64,
    produced: u64,
    partitions: i32,
    embedded: bool,
) -> anyhow::Result<()> {
    if read >= produced {
        return Ok(());
    }
    if embedded {
        bail!(
            "the pipeline read {read} of the {produced} records produced: the embedded broker keeps \
             only the newest 5 MiB of each partition and dropped the rest; run again with more than \
             --partitions {partitions}"
        );
    }
    bail!(
        "the pipeline read {read} of the {produced} records produced: the broker no longer held the \
         rest (its retention?); check the topics' retention, or produce fewer records"
    )
}

/// Records the child's sources have read so far, from its metrics; `None` while it does not
/// answer (not started yet).
fn records_read(address: &str) -> Option<u64> {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: bench\r\n\r\n")
        .ok()?;
    let mut body = String::new();
    stream.read_to_string(&mut body).ok()?;
    let (_, body) = body.split_once("\r\n\r\n")?;
    Some(
        body.lines()
            .filter(|line| line.starts_with("laketide_records_in_total"))
            .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
            .sum::<f64>() as u64,
    )
}

fn free_local_address() -> anyhow::Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .context("cannot find a free port for the pipeline's metrics")?;
    Ok(listener.local_addr()?.to_string())
}

/// SIGTERM: the pipeline stops reading, commits what it holds and exits.
fn terminate(child: &Child) -> anyhow::Result<()> {
    let pid = libc::pid_t::try_from(child.id()).context("process id out of range")?;
    // SAFETY: kill(2) on a child this process spawned and has not yet waited for.
    if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
        bail!(
            "cannot stop the pipeline: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Rows per table, and Parquet files and commits over all tables of the lake.
async fn lake_contents(lake: &Path) -> anyhow::Result<(BTreeMap<String, u64>, u64, u64)> {
    let mut tables = BTreeMap::new();
    let (mut files, mut commits) = (0, 0);
    let Ok(entries) = std::fs::read_dir(lake) else {
        return Ok((tables, 0, 0));
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("_delta_log").is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let location = TableLocation::parse(&lake.join(&name).display().to_string())
            .map_err(anyhow::Error::msg)?;
        let rows = match open_table(&location).await? {
            Some(table) => {
                files += table.snapshot()?.log_data().into_iter().count() as u64;
                commits += table.version().map_or(0, |v| v + 1);
                rows_in(&table)?
            }
            None => 0,
        };
        tables.insert(name, rows);
    }
    Ok((tables, files, commits))
}

fn render(report: &Report) -> String {
    let mut out = String::new();
    let thousands = |n: f64| {
        let digits = format!("{:.0}", n);
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        grouped
    };
    let optional = |value: Option<f64>, unit: &str| {
        value.map_or("n/a".to_owned(), |v| format!("{}{unit}", thousands(v)))
    };
    let mut line = |label: &str, value: String| {
        out.push_str(&format!("| {label:<30} | {value:>20} |\n"));
    };
    line("source", report.source.clone());
    line("records", thousands(report.records as f64));
    line("worker threads", report.threads.to_string());
    line(
        "input",
        format!("{:.1} MB", report.input_bytes as f64 / 1e6),
    );
    line("wall", format!("{:.2} s", report.wall_seconds));
    line(
        "CPU (pipeline process)",
        report
            .cpu_seconds
            .map_or("n/a".into(), |c| format!("{c:.2} s")),
    );
    line("records/s", thousands(report.records_per_sec));
    line("MB/s", format!("{:.1}", report.mb_per_sec));
    line(
        "records per CPU-second",
        optional(report.records_per_cpu_sec, ""),
    );
    line(
        "peak RSS",
        report.peak_rss_bytes.map_or("n/a".into(), |b| {
            format!("{:.0} MiB", b as f64 / (1 << 20) as f64)
        }),
    );
    line(
        &format!("latency p50 ({})", short_from(report.latency_from)),
        optional(report.p50_latency_ms, " ms"),
    );
    line(
        &format!("latency p99 ({})", short_from(report.latency_from)),
        optional(report.p99_latency_ms, " ms"),
    );
    line(
        "files / commits",
        format!("{} / {}", report.files, report.commits),
    );
    line(
        "rows / dead letters",
        format!("{} / {}", report.rows_written, report.dead_letters),
    );
    if let Some(mode) = report.kafka_mode {
        line("Kafka mode", mode.to_owned());
    }
    if let Some(partitions) = report.partitions {
        line("partitions per topic", partitions.to_string());
    }
    if !report.runs.is_empty() {
        let range = |values: Vec<f64>, show: &dyn Fn(f64) -> String| {
            let min = values.iter().copied().fold(f64::INFINITY, f64::min);
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            match values.is_empty() {
                true => "n/a".to_owned(),
                false => format!("{} - {}", show(min), show(max)),
            }
        };
        let runs = &report.runs;
        line("runs (figures above: median)", runs.len().to_string());
        line(
            "records per CPU-s, all runs",
            range(
                runs.iter().filter_map(|r| r.records_per_cpu_sec).collect(),
                &|v| thousands(v),
            ),
        );
        line(
            "records/s, all runs",
            range(runs.iter().map(|r| r.records_per_sec).collect(), &|v| {
                thousands(v)
            }),
        );
        line(
            "peak RSS MiB, all runs",
            range(
                runs.iter()
                    .filter_map(|r| r.peak_rss_bytes)
                    .map(|b| b as f64 / (1 << 20) as f64)
                    .collect(),
                &|v| format!("{v:.0}"),
            ),
        );
    }
    if let Some(cpu) = report.producer_cpu_seconds {
        let label = if report.source == "kafka-embedded" {
            "CPU (producer + broker)"
        } else {
            "CPU (producer)"
        };
        line(label, format!("{cpu:.2} s"));
    }
    format!(
        "| {:<30} | {:>20} |\n|{}|{}|\n{out}",
        "laketide bench",
        "",
        "-".repeat(32),
        "-".repeat(22)
    )
}

fn short_from(from: &str) -> &str {
    if from.starts_with("Kafka") {
        "produce to commit"
    } else {
        "read to commit"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse_and_bad_ones_say_what_is_accepted() {
        assert_eq!(BenchSource::parse("file").unwrap(), BenchSource::File);
        assert_eq!(
            BenchSource::parse("kafka-embedded").unwrap(),
            BenchSource::KafkaEmbedded
        );
        assert_eq!(
            BenchSource::parse("kafka://127.0.0.1:9092").unwrap(),
            BenchSource::KafkaAt("127.0.0.1:9092".into())
        );
        for bad in ["kafka://", "kinesis", ""] {
            let error = BenchSource::parse(bad).unwrap_err().to_string();
            assert!(error.contains("kafka://HOST:PORT"), "{error}");
        }
    }

    /// Writes `lines` lines of `width` bytes made by `line(i)`; returns the path and size.
    fn lines_file(
        dir: &Path,
        name: &str,
        lines: usize,
        mut line: impl FnMut(usize) -> Vec<u8>,
    ) -> (PathBuf, u64) {
        use std::io::Write;
        let path = dir.join(name);
        let mut out = std::io::BufWriter::new(File::create(&path).unwrap());
        for i in 0..lines {
            out.write_all(&line(i)).unwrap();
            out.write_all(b"\n").unwrap();
        }
        out.flush().unwrap();
        let size = std::fs::metadata(&path).unwrap().len();
        (path, size)
    }

    #[test]
    fn embedded_partitions_follow_the_compressed_size_not_the_raw_one() {
        let dir = tempfile::tempdir().unwrap();
        // 13 MiB of random letters, which LZ4 cannot shrink: sized as raw, 13 / 3 + 1 = 5.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let (noise, noise_size) = lines_file(dir.path(), "noise.jsonl", 13 << 10, |_| {
            (0..1023)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    b'a' + (state % 26) as u8
                })
                .collect()
        });
        // The same size of one repeated event compresses to almost nothing: the minimum, 3.
        let event = br#"{"index":7,"title":"a pin","description":"the same words again"}"#;
        let repeats = noise_size as usize / (event.len() + 1);
        let (same, same_size) = lines_file(dir.path(), "same.jsonl", repeats, |_| event.to_vec());
        assert!(compression_ratio(&noise).unwrap() > 0.99);
        assert!(compression_ratio(&same).unwrap() < 0.05);
        assert_eq!(
            embedded_partitions(std::slice::from_ref(&noise), &[noise_size]).unwrap(),
            5
        );
        assert_eq!(
            embedded_partitions(std::slice::from_ref(&same), &[same_size]).unwrap(),
            3
        );
        // The largest topic decides.
        assert_eq!(
            embedded_partitions(&[same, noise], &[same_size, noise_size]).unwrap(),
            5
        );
        let (empty, _) = lines_file(dir.path(), "empty.jsonl", 0, |_| Vec::new());
        assert_eq!(compression_ratio(&empty).unwrap(), 1.0);
    }

    #[test]
    fn a_backlog_read_short_of_what_was_produced_is_an_error_that_says_what_to_do() {
        assert!(check_backlog_read(900, 900, 24, true).is_ok());
        let embedded = check_backlog_read(816, 900, 12, true)
            .unwrap_err()
            .to_string();
        assert!(embedded.contains("816 of the 900"), "{embedded}");
        assert!(embedded.contains("more than --partitions 12"), "{embedded}");
        let remote = check_backlog_read(816, 900, 3, false)
            .unwrap_err()
            .to_string();
        assert!(remote.contains("retention"), "{remote}");
    }
}
