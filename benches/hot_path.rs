//! The hot path of file-to-Delta ingestion, stage by stage and end to end in memory:
//! raw JSON bytes -> typed raw records -> cleaned rows -> Arrow columns -> Parquet bytes ->
//! a Delta commit on local disk.
//!
//!     cargo bench --bench hot_path
//!
//! Throughput is reported in records/s over a mixed pin/geo/user workload (one of each per
//! generated triple, as the emulator sends them). `json to typed` is the parse-only limit the
//! end-to-end figure is compared against; `clean` adds the contract's coercions on top.

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use deltalake::DeltaTable;
use deltalake::arrow::array::RecordBatch;
use deltalake::arrow::datatypes::SchemaRef;
use deltalake::kernel::StructType;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::parquet::arrow::ArrowWriter;
use deltalake::parquet::basic::{Compression, ZstdLevel};
use deltalake::parquet::file::properties::WriterProperties;
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use laketide::pinterest::cleaning::{
    RecordKind, clean_geo, clean_pin_shared, clean_user, parse_only,
};
use laketide::pinterest::generator::Generator;
use laketide::pinterest::records::{Geo, Pin, User};
use laketide::sinks::delta::writer_properties;
use laketide::sinks::{DeltaSinkConfig, Row, RowBuilder};

const TRIPLES: usize = 20_000;

/// Records as sources hand them on (`Bytes`, which a cleaned pin may keep).
struct Input {
    pins: Vec<Bytes>,
    geos: Vec<Bytes>,
    users: Vec<Bytes>,
}

fn input() -> Input {
    let mut input = Input {
        pins: Vec::new(),
        geos: Vec::new(),
        users: Vec::new(),
    };
    for triple in Generator::new(7).take(TRIPLES) {
        input.pins.push(Bytes::from(triple.pin));
        input.geos.push(Bytes::from(triple.geo));
        input.users.push(Bytes::from(triple.user));
    }
    input
}

fn columns<T: Row>(rows: &[T]) -> RecordBatch {
    let mut builder = T::builder(rows.len());
    for row in rows {
        builder.append(row);
    }
    RecordBatch::try_new(T::schema(), builder.finish()).expect("schema")
}

/// The Delta sink's Parquet encoding, with its default settings: statistics for every
/// column (Delta's default keeps the first 32).
fn sink_encoding(schema: &SchemaRef) -> WriterProperties {
    let every_column: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    writer_properties(&DeltaSinkConfig::new("unused"), schema, &every_column)
}

/// As the shipped topologies write the pin table: statistics only for its `stats_columns`.
fn pin_encoding() -> WriterProperties {
    let query_columns = ["ind", "follower_count", "category"].map(String::from);
    writer_properties(
        &DeltaSinkConfig::new("unused"),
        &Pin::schema(),
        &query_columns,
    )
}

fn parquet(schema: SchemaRef, batch: &RecordBatch) -> usize {
    let properties = sink_encoding(&schema);
    parquet_with(schema, batch, properties)
}

fn parquet_with(schema: SchemaRef, batch: &RecordBatch, properties: WriterProperties) -> usize {
    let mut out = Vec::with_capacity(1 << 20);
    let mut writer = ArrowWriter::try_new(&mut out, schema, Some(properties)).expect("writer");
    writer.write(batch).expect("write");
    writer.close().expect("close");
    out.len()
}

fn clean_all(input: &Input) -> (Vec<Pin>, Vec<Geo>, Vec<User>) {
    (
        input
            .pins
            .iter()
            .map(|r| clean_pin_shared(r).expect("clean"))
            .collect(),
        input
            .geos
            .iter()
            .map(|r| clean_geo(r).expect("clean"))
            .collect(),
        input
            .users
            .iter()
            .map(|r| clean_user(r).expect("clean"))
            .collect(),
    )
}

fn parse_all(input: &Input) -> usize {
    let parse = |kind, records: &[Bytes]| {
        records
            .iter()
            .filter(|r| parse_only(kind, r).is_ok())
            .count()
    };
    parse(RecordKind::Pin, &input.pins)
        + parse(RecordKind::Geo, &input.geos)
        + parse(RecordKind::User, &input.users)
}

/// A fresh local Delta table with `schema`.
async fn create_table(dir: &std::path::Path, schema: &SchemaRef) -> DeltaTable {
    let columns: StructType = schema.as_ref().try_into_kernel().expect("delta schema");
    let url = url::Url::from_directory_path(dir).expect("url");
    DeltaTable::try_from_url(url)
        .await
        .expect("table")
        .create()
        .with_columns(columns.fields().cloned())
        .await
        .expect("create")
}

fn hot_path(c: &mut Criterion) {
    let input = input();
    let records = (3 * TRIPLES) as u64;
    let mut group = c.benchmark_group("mixed");
    group.throughput(Throughput::Elements(records));
    group.sample_size(10);

    group.bench_function("json to typed (parse-only limit)", |b| {
        b.iter(|| parse_all(&input))
    });
    group.bench_function("clean (parse + contract)", |b| b.iter(|| clean_all(&input)));

    let (pins, geos, users) = clean_all(&input);
    group.bench_function("arrow columns", |b| {
        b.iter(|| (columns(&pins), columns(&geos), columns(&users)))
    });

    let batches = (columns(&pins), columns(&geos), columns(&users));
    group.bench_function("parquet encode", |b| {
        b.iter(|| {
            parquet(Pin::schema(), &batches.0)
                + parquet(Geo::schema(), &batches.1)
                + parquet(User::schema(), &batches.2)
        })
    });

    // The shipped topologies keep statistics for the pin table's query columns only: its long
    // text columns (descriptions, titles, URLs) skip the comparisons with their minimum and
    // maximum.
    group.bench_function(
        "parquet encode, pin statistics for its query columns",
        |b| {
            b.iter(|| {
                parquet_with(Pin::schema(), &batches.0, pin_encoding())
                    + parquet(Geo::schema(), &batches.1)
                    + parquet(User::schema(), &batches.2)
            })
        },
    );

    // Parquet's own default dictionary limit (1 MiB): the long text columns fall back to
    // plain encoding midway through a row group. Shown to explain the sink's 4 MiB default.
    let small_dictionaries = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    group.bench_function("parquet encode, 1 MiB dictionaries", |b| {
        b.iter(|| {
            parquet_with(Pin::schema(), &batches.0, small_dictionaries.clone())
                + parquet_with(Geo::schema(), &batches.1, small_dictionaries.clone())
                + parquet_with(User::schema(), &batches.2, small_dictionaries.clone())
        })
    });

    group.bench_function("end to end (bytes -> parquet)", |b| {
        b.iter(|| {
            let (pins, geos, users) = clean_all(&input);
            parquet(Pin::schema(), &columns(&pins))
                + parquet(Geo::schema(), &columns(&geos))
                + parquet(User::schema(), &columns(&users))
        })
    });
    group.finish();

    // One Delta commit of a Parquet file of pins on local disk, as the sink makes it: the
    // write of the file and the log entry, per row of the commit.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut table = runtime.block_on(create_table(dir.path(), &Pin::schema()));
    let mut group = c.benchmark_group("delta");
    group.throughput(Throughput::Elements(pins.len() as u64));
    group.sample_size(10);
    group.bench_function("write + commit (pin rows)", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut writer = RecordBatchWriter::for_table(&table).expect("writer");
                writer.write(batches.0.clone()).await.expect("write");
                writer.flush_and_commit(&mut table).await.expect("commit")
            })
        })
    });
    group.finish();
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
