//! `laketide demo`: the whole file pipeline in one command, from an empty directory.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::emulate::write_files;
use super::run::describe;
use crate::runtime::{RunOptions, Shutdown, shutdown_on_signals};
use crate::sinks::delta::{TableLocation, row_count};

/// The shipped topology, built in so that the demo needs no checkout.
const TOPOLOGY: &str = include_str!("../../topologies/pinterest-files.toml");

/// Lines no cleaning step accepts, appended so the demo shows where bad input goes.
const BAD_LINES: [(&str, &str); 3] = [
    ("pin.jsonl", "{\"index\": 12, \"unique_id\": \"truncated"),
    ("geo.jsonl", "not json at all"),
    (
        "user.jsonl",
        "{\"ind\": 3, \"first_name\": \"A\", \"last_name\": \"B\", \"age\": \"abc\", \"date_joined\": \"2016-01-01 00:00:00\"}",
    ),
];

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Number of (pin, geo, user) triples to generate.
    #[arg(long, default_value_t = 10_000)]
    pub count: u64,
    /// Seed of the generated records.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where the tables go.
    #[arg(long, default_value = "lake")]
    pub lake: PathBuf,
}

pub async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let input = tempfile::tempdir().context("cannot create a temporary directory")?;
    // Bad lines first: the generated lines that follow are the same for a seed whatever the
    // count, so a later demo with a larger count adds exactly the new lines.
    for (file, line) in BAD_LINES {
        let mut out = std::fs::File::create(input.path().join(file))?;
        writeln!(out, "{line}")?;
    }
    write_files(input.path(), args.count, args.seed)?;
    eprintln!(
        "generated {} pin/geo/user triples (+{} malformed lines) in {}",
        args.count,
        BAD_LINES.len(),
        input.path().display()
    );
    let lake = args.lake.to_string_lossy().into_owned();
    let input_dir = input.path().to_string_lossy().into_owned();
    let env = |name: &str| match name {
        "LAKETIDE_INPUT" => Some(input_dir.clone()),
        "LAKETIDE_LAKE" => Some(lake.clone()),
        _ => std::env::var(name).ok(),
    };
    let built = crate::topology::from_str(
        std::path::Path::new("topologies/pinterest-files.toml"),
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
                progress_interval: Some(std::time::Duration::from_secs(10)),
            },
            trigger,
        )
        .await?;
    eprintln!("{}", describe(&summary));

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
        "Run it again: nothing is added, because each table's log records the last line committed per file;"
    );
    println!("with a larger --count, only the new lines are added.");
    Ok(())
}
