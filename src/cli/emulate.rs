//! `laketide emulate`: the original pipeline's producer, synthesised.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;

use crate::pinterest::generator::Generator;

#[derive(Args, Debug)]
pub struct EmulateArgs {
    /// Where to send records: `file` (with DIR), `file://DIR`, or `kafka://HOST:PORT[,HOST:PORT]`.
    #[arg(long, default_value = "file")]
    pub to: String,
    /// Kafka topics are `<prefix>.pin`, `<prefix>.geo`, `<prefix>.user`.
    #[arg(long, default_value = "0a3db223d459")]
    pub topic_prefix: String,
    /// At most this many triples per second (Kafka; default: as fast as possible).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Output directory for `--to file`: pin.jsonl, geo.jsonl and user.jsonl are appended to.
    pub dir: Option<PathBuf>,
    /// Number of (pin, geo, user) triples.
    #[arg(long, default_value_t = 10_000)]
    pub count: u64,
    /// Seed: the same seed gives the same records.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

pub fn emulate(args: EmulateArgs) -> anyhow::Result<()> {
    if let Some(brokers) = args.to.strip_prefix("kafka://") {
        let report = crate::kafka::produce_triples(
            brokers,
            &args.topic_prefix,
            args.count,
            args.rate,
            args.seed,
        )?;
        eprintln!(
            "produced {} triples to {p}.pin, {p}.geo, {p}.user on {brokers} in {:.1}s ({:.0} records/s)",
            report.triples,
            report.seconds,
            3.0 * report.triples as f64 / report.seconds.max(1e-9),
            p = args.topic_prefix
        );
        return Ok(());
    }
    let dir = match (args.to.as_str(), args.to.strip_prefix("file://"), &args.dir) {
        ("file", _, Some(dir)) => dir.clone(),
        ("file", _, None) => {
            bail!("--to file needs an output directory: laketide emulate --to file DIR")
        }
        (_, Some(dir), None) => PathBuf::from(dir),
        (_, Some(_), Some(_)) => {
            bail!("give the directory either in --to file://DIR or as DIR, not both")
        }
        (other, None, _) => {
            bail!("unknown target `{other}`; use `file DIR`, `file://DIR` or `kafka://HOST:PORT`")
        }
    };
    let written = write_files(&dir, args.count, args.seed)?;
    eprintln!(
        "wrote {} triples to {}/{{pin,geo,user}}.jsonl ({:.1} MB)",
        args.count,
        dir.display(),
        written as f64 / 1e6
    );
    Ok(())
}

/// Appends `count` triples to DIR/{pin,geo,user}.jsonl; returns the bytes written.
pub fn write_files(dir: &Path, count: u64, seed: u64) -> anyhow::Result<u64> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let open = |name: &str| -> anyhow::Result<BufWriter<File>> {
        let path = dir.join(name);
        let file = File::options()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        Ok(BufWriter::with_capacity(1 << 20, file))
    };
    let (mut pin, mut geo, mut user) =
        (open("pin.jsonl")?, open("geo.jsonl")?, open("user.jsonl")?);
    let mut bytes = 0u64;
    for triple in Generator::new(seed).take(count as usize) {
        for (out, line) in [
            (&mut pin, &triple.pin),
            (&mut geo, &triple.geo),
            (&mut user, &triple.user),
        ] {
            out.write_all(line.as_bytes())?;
            out.write_all(b"\n")?;
            bytes += line.len() as u64 + 1;
        }
    }
    for out in [&mut pin, &mut geo, &mut user] {
        out.flush().context("cannot write the emulated records")?;
    }
    Ok(bytes)
}
