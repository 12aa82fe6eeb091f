//! `laketide run` and `laketide check`.

use std::path::Path;

use anyhow::Context;

use super::RunArgs;
use crate::dsl::RunSummary;
use crate::runtime::{RunOptions, Shutdown, shutdown_on_signals};
use crate::topology::BuiltTopology;

fn load(file: &Path) -> anyhow::Result<BuiltTopology> {
    crate::topology::load(file, &crate::pinterest::registry()).map_err(|errors| {
        anyhow::anyhow!("{errors}\n(the topology file format is described in the README)")
    })
}

pub fn check(file: &Path) -> anyhow::Result<()> {
    let built = load(file)?;
    print!("{}", built.description);
    println!("ok");
    Ok(())
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    if let Some(address) = &args.metrics_addr {
        super::metrics::serve(address).await?;
    }
    let built = load(&args.file)?;
    eprint!("{}", built.description);
    let (trigger, _) = Shutdown::new();
    shutdown_on_signals(trigger.clone());
    let options = RunOptions {
        until_idle: args.until_idle,
        progress_interval: args.progress_interval(),
    };
    let summary = built
        .topology
        .run(options, trigger)
        .await
        .with_context(|| format!("topology `{}` stopped", built.name))?;
    eprintln!("{}", describe(&summary));
    if let Some(path) = &args.summary_json {
        let json = serde_json::to_string_pretty(&summary)?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("cannot write --summary-json {}", path.display()))?;
    }
    Ok(())
}

pub fn describe(summary: &RunSummary) -> String {
    let s = summary.stats;
    let per_cpu = summary.cpu_seconds.map_or(String::new(), |cpu| {
        format!(
            ", {cpu:.2} CPU-s, {:.0} records per CPU-second",
            s.records_in as f64 / cpu.max(1e-9)
        )
    });
    let latency = match (summary.latency.p50_ms, summary.latency.p99_ms) {
        (Some(p50), Some(p99)) => format!("; ingest to commit p50 {p50:.0} ms, p99 {p99:.0} ms"),
        _ => String::new(),
    };
    format!(
        "done in {:.1}s: {} records read, {} rows written, {} dead letters, {} commits ({:.0} records/s{per_cpu}){latency}",
        summary.seconds,
        s.records_in,
        s.records_out,
        s.dead_letters,
        s.commits,
        s.records_in as f64 / summary.seconds.max(1e-9)
    )
}
