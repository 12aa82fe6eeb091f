//! A typed topology written in Rust: pins and users from JSON lines, cleaned, branched,
//! filtered and written to Delta tables; everything rejected goes to one dead-letter table.
//!
//!     cargo run --example typed_pipeline -- INPUT_DIR LAKE_DIR
//!
//! INPUT_DIR holds pin.jsonl and user.jsonl (`laketide emulate --to file INPUT_DIR` makes them).

use std::path::Path;

use bytes::Bytes;
use laketide::dsl::RunSummary;
use laketide::pinterest::cleaning::{clean_pin_shared, clean_user};
use laketide::prelude::*;

/// Builds and runs the pipeline until the files are drained.
pub async fn run(input: &Path, lake: &Path) -> anyhow::Result<RunSummary> {
    let topology = Topology::new("typed-pinterest");
    let file =
        |name: &str| FileSource::new(FileSourceConfig::new(input.join(name).to_string_lossy()));

    // Raw bytes -> typed pins; what cannot be cleaned becomes a dead letter, never a panic.
    let (pins, bad_pins) = topology
        .source("pin", file("pin.jsonl"))
        .try_map("clean_pin", |raw: Bytes| clean_pin_shared(&raw));

    // Videos to their own table; of the rest, only posters with at least 1,000 followers.
    let (videos, others) = pins
        .key_by(|pin| pin.ind.to_string())
        .branch("videos", |pin| pin.is_image_or_video() == Some("video"));
    videos.sink("videos", table(lake, "pin_videos")?);
    others
        .filter(|pin| pin.follower_count.is_some_and(|n| n >= 1000))
        .sink("popular_pins", table(lake, "popular_pins")?);

    let (users, bad_users) = topology
        .source("user", file("user.jsonl"))
        .try_map("clean_user", |raw: Bytes| clean_user(&raw));
    users
        .with_timestamp(|user| user.date_joined)
        .sink("user", table(lake, "user")?);

    // One dead-letter table for both; offsets are committed per input lane.
    bad_pins
        .union("dead", vec![bad_users])
        .sink("dead_letters", table(lake, "dead_letters")?);

    let (trigger, _) = Shutdown::new();
    topology.run(RunOptions::default(), trigger).await
}

/// A Delta table under `lake`, created with `T`'s columns on first use.
fn table<T: Row>(lake: &Path, name: &str) -> anyhow::Result<DeltaSink<T>> {
    DeltaSink::new(DeltaSinkConfig::new(lake.join(name).to_string_lossy()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, lake] = args.as_slice() else {
        anyhow::bail!("usage: typed_pipeline INPUT_DIR LAKE_DIR");
    };
    let summary = run(Path::new(input), Path::new(lake)).await?;
    println!(
        "{} records read, {} rows written, {} dead letters in {:.1}s",
        summary.stats.records_in,
        summary.stats.records_out,
        summary.stats.dead_letters,
        summary.seconds
    );
    Ok(())
}
