//! The `laketide` command line.

mod bench;
mod demo;
mod emulate;
mod metrics;
mod run;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "laketide",
    version,
    about = "Stream processing from Kafka, Kinesis or files into Delta Lake tables, exactly once.",
    after_help = "Examples:\n  laketide demo\n  laketide check topologies/pinterest-files.toml\n  LAKETIDE_INPUT=data/raw laketide run topologies/pinterest-files.toml --until-idle\n  laketide emulate --to file data/raw --count 10000 --seed 7"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Worker threads for operators and sinks (default: one per core but one, at least one).
    /// Sources read on threads of their own (file readers, Kafka poll loops, librdkafka), which
    /// the spare core is for. On 2 cores, `--threads 2` ingests 1.1-1.4x faster for 0-25% more
    /// CPU per record (BENCHMARKS.md).
    #[arg(long, global = true, env = "LAKETIDE_THREADS")]
    pub threads: Option<usize>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a topology file until stopped (SIGINT/SIGTERM flush and commit), or until idle.
    #[command(
        after_help = "Examples:\n  laketide run topologies/pinterest-files.toml --until-idle\n  LAKETIDE_LAKE=/data/lake laketide run topologies/pinterest-files.toml --progress 5"
    )]
    Run(RunArgs),
    /// Validate a topology file and print its graph, without running it.
    #[command(after_help = "Example:\n  laketide check topologies/pinterest-files.toml")]
    Check {
        /// The topology file.
        file: PathBuf,
    },
    /// Produce realistic raw pin/geo/user records, as the original pipeline's emulator did.
    #[command(
        after_help = "Examples:\n  laketide emulate --to file data/raw --count 10000 --seed 7\n  laketide emulate --to kafka://127.0.0.1:9092 --topic-prefix 0a3db223d459 --count 100000 --rate 5000"
    )]
    Emulate(emulate::EmulateArgs),
    /// Start an embedded Kafka broker, emulate records into it, run the Kafka topology into ./lake, summarise.
    #[command(
        after_help = "Examples:\n  laketide demo\n  laketide demo --count 50000 --lake /tmp/lake"
    )]
    Demo(demo::DemoArgs),
    /// Measure a topology on generated or given records: records/s, per CPU-second, peak RSS, latency.
    #[command(
        after_help = "Examples:\n  laketide bench --records 900000\n  laketide bench --source kafka-embedded --records 300000 --json\n  laketide bench --source kafka://127.0.0.1:9092 --input data/raw --partitions 6"
    )]
    Bench(bench::BenchArgs),
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The topology file.
    pub file: PathBuf,
    /// Stop once every source has drained its input, instead of following new data.
    #[arg(long)]
    pub until_idle: bool,
    /// Seconds between progress lines on stderr (0: none).
    #[arg(long, default_value_t = 10.0)]
    pub progress: f64,
    /// Serve Prometheus metrics on this address, e.g. 127.0.0.1:9898.
    #[arg(long)]
    pub metrics_addr: Option<String>,
    /// At the end of the run, write its summary (records, seconds, CPU, peak RSS, latency) to
    /// this file as JSON.
    #[arg(long)]
    pub summary_json: Option<PathBuf>,
}

impl RunArgs {
    fn progress_interval(&self) -> Option<Duration> {
        (self.progress > 0.0).then(|| Duration::from_secs_f64(self.progress))
    }
}

/// Our own info lines, others' warnings. The Delta kernel logs an error for every table that
/// does not exist yet, which is the normal first run here; real failures surface as our errors.
const DEFAULT_LOG_FILTER: &str =
    "laketide=info,warn,buoyant_kernel=off,deltalake_core::writer::stats=error";

/// The worker threads a run gets: as asked, or one per core but one (the remaining core is for
/// the sources' own threads); at least one.
pub(crate) fn worker_threads(requested: Option<usize>) -> usize {
    requested
        .unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, |cores| cores.get().saturating_sub(1))
        })
        .max(1)
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER)),
        )
        .init();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(worker_threads(cli.threads));
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return 1;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => run::run(args).await,
            Command::Check { file } => run::check(&file),
            Command::Emulate(args) => emulate::emulate(args),
            Command::Demo(args) => demo::demo(args).await,
            Command::Bench(args) => bench::bench(args, cli.threads).await,
        }
    });
    match outcome {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("error: {error:#}");
            1
        }
    }
}
