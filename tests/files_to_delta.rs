//! The file topology end to end: raw JSON lines in, Delta tables out, bad lines kept.

mod common;

use std::io::Write;
use std::path::Path;

use common::{read_table, row_count, run_pinterest_files, shared_data, source_positions, strings};
use deltalake::arrow::array::{Array, AsArray};
use deltalake::arrow::datatypes::Int64Type;

const GOOD_PIN: &str = r#"{"index": 7528, "unique_id": "fbe53c66-3442-4773-b19e-d3ec6f54dddf", "title": "No Title Data Available", "description": "No description available Story format", "poster_name": "User Info Error", "follower_count": "User Info Error", "tag_list": "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e", "is_image_or_video": "multi-video(story page format)", "image_src": "Image src error.", "downloaded": 0, "save_location": "Local save in /data/mens-fashion", "category": "mens-fashion"}"#;
const GOOD_PIN_2: &str = r#"{"index": "2863", "unique_id": "9bf39437", "title": "Summer crafts", "description": "Keep busy", "poster_name": "Lisa", "follower_count": "124k", "tag_list": "a,b", "is_image_or_video": "image", "image_src": "https://i.pinimg.com/x.jpg", "downloaded": 1, "save_location": "Local save in /data/diy-and-crafts", "category": "diy-and-crafts"}"#;
const GOOD_GEO: &str = r#"{"ind": 7528, "timestamp": "2020-08-28 03:52:47", "latitude": -89.9787, "longitude": -173.293, "country": "Albania"}"#;
const GOOD_USER: &str = r#"{"ind": 7528, "first_name": "Abigail", "last_name": "Ali", "age": 20, "date_joined": "2015-10-24T11:23:51"}"#;

/// The bad inputs the acceptance names, one per line, with the reason each must report.
fn bad_pin_lines() -> Vec<(Vec<u8>, &'static str)> {
    vec![
        (
            br#"{"index": 1, "unique_id": "abc", "title": "trunc"#.to_vec(),
            "truncated JSON",
        ),
        (b"this is not json".to_vec(), "not valid JSON"),
        (b"[1, 2, 3]".to_vec(), "array of 3 elements"),
        (
            br#"{"unique_id": "no index", "category": "art"}"#.to_vec(),
            "index",
        ),
        (
            GOOD_PIN_2.replace("124k", "12q").into_bytes(),
            "follower_count",
        ),
        (
            b"{\"index\": 5, \"title\": \"\xff\xfe broken\"}".to_vec(),
            "UTF-8",
        ),
    ]
}

fn write_lines(path: &Path, lines: &[Vec<u8>]) {
    let mut file = std::fs::File::create(path).expect("create input");
    for line in lines {
        file.write_all(line).expect("write");
        file.write_all(b"\n").expect("write");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_lines_go_to_dead_letters_and_good_lines_land() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("raw");
    let lake = dir.path().join("lake");
    std::fs::create_dir_all(&input).expect("mkdir");
    let bad = bad_pin_lines();
    let mut pin_lines = vec![GOOD_PIN.as_bytes().to_vec(), GOOD_PIN_2.as_bytes().to_vec()];
    pin_lines.extend(bad.iter().map(|(line, _)| line.clone()));
    write_lines(&input.join("pin.jsonl"), &pin_lines);
    write_lines(
        &input.join("geo.jsonl"),
        &[
            GOOD_GEO.as_bytes().to_vec(),
            br#"{"ind": 1, "timestamp": "yesterday"}"#.to_vec(),
        ],
    );
    write_lines(
        &input.join("user.jsonl"),
        &[
            GOOD_USER.as_bytes().to_vec(),
            br#"{"ind": 2, "age": "abc"}"#.to_vec(),
        ],
    );

    let summary = run_pinterest_files(&input, &lake).await.expect("run");
    assert_eq!(summary.stats.records_in, 12);
    assert_eq!(summary.stats.dead_letters, 8);

    let pins = read_table(&lake.join("pin")).await;
    assert_eq!(row_count(&pins), 2, "every good pin line lands");
    let dead = read_table(&lake.join("dead_letters")).await;
    assert_eq!(row_count(&dead), 8, "one dead letter per bad line");
    assert_eq!(
        row_count(&pins)
            + row_count(&read_table(&lake.join("geo")).await)
            + row_count(&read_table(&lake.join("user")).await)
            + row_count(&dead),
        12,
        "good + dead = input lines"
    );

    // Each pin dead letter carries its file, line, raw bytes and the reason.
    let positions = strings(&dead, "position");
    let errors = strings(&dead, "error");
    let stages = strings(&dead, "stage");
    let raws: Vec<Vec<u8>> = dead
        .iter()
        .flat_map(|b| {
            let array = b
                .column_by_name("raw")
                .expect("raw")
                .as_binary::<i32>()
                .clone();
            (0..array.len())
                .map(|i| array.value(i).to_vec())
                .collect::<Vec<_>>()
        })
        .collect();
    for (index, (line, reason)) in bad.iter().enumerate() {
        let position = format!("pin.jsonl:{}", index + 3);
        let row = positions
            .iter()
            .position(|p| p.as_deref() == Some(position.as_str()))
            .unwrap_or_else(|| panic!("no dead letter at {position}: {positions:?}"));
        let error = errors[row].clone().unwrap_or_default();
        assert!(
            error.contains(reason),
            "{position}: error `{error}` should mention `{reason}`"
        );
        assert_eq!(&raws[row], line, "{position}: raw bytes kept verbatim");
        assert_eq!(stages[row].as_deref(), Some("clean_pin"));
    }
    let offsets: Vec<i64> = dead
        .iter()
        .flat_map(|b| {
            b.column_by_name("offset")
                .expect("offset")
                .as_primitive::<Int64Type>()
                .values()
                .to_vec()
        })
        .collect();
    assert!(
        offsets.iter().all(|o| *o >= 2),
        "offsets are line numbers: {offsets:?}"
    );
    let raw_text = strings(&dead, "raw_text");
    let utf8_row = positions
        .iter()
        .position(|p| p.as_deref() == Some("pin.jsonl:8"))
        .expect("utf8 row");
    assert_eq!(raw_text[utf8_row], None, "invalid UTF-8 has no text form");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_again_adds_no_rows_and_appended_lines_are_picked_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("raw");
    let lake = dir.path().join("lake");
    std::fs::create_dir_all(&input).expect("mkdir");
    write_lines(
        &input.join("pin.jsonl"),
        &[GOOD_PIN.into(), b"garbage".to_vec()],
    );
    write_lines(&input.join("geo.jsonl"), &[GOOD_GEO.into()]);
    write_lines(&input.join("user.jsonl"), &[GOOD_USER.into()]);

    run_pinterest_files(&input, &lake).await.expect("first run");
    let second = run_pinterest_files(&input, &lake)
        .await
        .expect("second run");
    assert_eq!(second.stats.records_out, 0, "nothing new to write");
    for (table, rows) in [("pin", 1), ("geo", 1), ("user", 1), ("dead_letters", 1)] {
        assert_eq!(
            row_count(&read_table(&lake.join(table)).await),
            rows,
            "{table} after re-run"
        );
    }

    let mut pin = std::fs::File::options()
        .append(true)
        .open(input.join("pin.jsonl"))
        .expect("open");
    writeln!(pin, "{GOOD_PIN_2}").expect("append");
    drop(pin);
    run_pinterest_files(&input, &lake).await.expect("third run");
    assert_eq!(
        row_count(&read_table(&lake.join("pin")).await),
        2,
        "only the appended line is added"
    );
    assert_eq!(row_count(&read_table(&lake.join("dead_letters")).await), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_emulator_run_cleans_exactly_as_the_contract_says() {
    let Some(shared) = shared_data("the_real_emulator_run_cleans_exactly_as_the_contract_says")
    else {
        return;
    };
    let input = shared.join("emulator_run");
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = dir.path().join("lake");
    let summary = run_pinterest_files(&input, &lake).await.expect("run");
    assert_eq!(summary.stats.records_in, 3 * 2262);
    assert_eq!(summary.stats.dead_letters, 0);
    for table in ["pin", "geo", "user"] {
        assert_eq!(
            row_count(&read_table(&lake.join(table)).await),
            2262,
            "{table}"
        );
    }
    let again = run_pinterest_files(&input, &lake).await.expect("re-run");
    assert_eq!(again.stats.records_out, 0, "a second run adds no rows");

    // Every row, column order and type, checked by an independent reading of the contract
    // through Python's deltalake/pyarrow.
    let Ok(python) = std::env::var("LAKETIDE_PYTHON") else {
        eprintln!(
            "SKIPPED the Python cross-check: LAKETIDE_PYTHON is not set (run tests/tools/python-env.sh and export its output, as .ci/run does)"
        );
        return;
    };
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/check_pinterest_tables.py");
    let output = std::process::Command::new(python)
        .arg(script)
        .arg(&input)
        .arg(&lake)
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "python check failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout.matches("rows match the contract").count(),
        3,
        "{stdout}"
    );
}

/// The original pipeline's raw archive: `topics/<topic>/partition=<p>/<topic>+<p>+<offset>.json`.
/// Positions are Kafka positions, and a re-run adds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_connect_archive_layout_keeps_kafka_positions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let topics = dir.path().join("topics");
    let lake = dir.path().join("lake");
    let geo = |ind: u32| {
        format!(
            r#"{{"ind": {ind}, "timestamp": "2020-08-28 03:52:47", "latitude": "-89.9787", "longitude": -173.293, "country": "Albania"}}"#
        )
    };
    for (partition, offsets) in [(0, vec![0, 1, 2]), (1, vec![5, 6])] {
        let folder = topics.join(format!("0a3db223d459.geo/partition={partition}"));
        std::fs::create_dir_all(&folder).expect("mkdir");
        for offset in offsets {
            let body = if partition == 1 && offset == 6 {
                "oops".to_owned()
            } else {
                geo(offset)
            };
            std::fs::write(
                folder.join(format!("0a3db223d459.geo+{partition}+{offset:010}.json")),
                body + "\n",
            )
            .expect("write");
        }
    }
    // Another topic in the archive that this source does not read.
    let other = topics.join("0a3db223d459.pin/partition=0");
    std::fs::create_dir_all(&other).expect("mkdir");
    std::fs::write(other.join("0a3db223d459.pin+0+0000000000.json"), "{}\n").expect("write");

    let topology = format!(
        "[sources.geo]\ntype = \"file\"\nlayout = \"kafka-connect\"\npath = \"{}\"\ntopics = [\"0a3db223d459.geo\"]\n\n\
         [transforms.clean]\ntype = \"clean_geo\"\ninput = \"geo\"\n\n\
         [sinks.geo]\ntype = \"delta\"\ninput = \"clean\"\ntable = \"{lake}/geo\"\nposition_columns = true\n\n\
         [sinks.dead]\ntype = \"delta\"\ninput = \"clean.dead\"\ntable = \"{lake}/dead\"\n",
        topics.display(),
        lake = lake.display()
    );
    let run = || async {
        let built = laketide::topology::from_str(
            Path::new("archive.toml"),
            &topology,
            &laketide::pinterest::registry(),
            &|_| None,
        )
        .expect("valid topology");
        let (trigger, _) = laketide::runtime::Shutdown::new();
        built
            .topology
            .run(laketide::runtime::RunOptions::default(), trigger)
            .await
            .expect("run")
    };
    let first = run().await;
    assert_eq!(first.stats.records_in, 5);
    let rows = read_table(&lake.join("geo")).await;
    assert_eq!(row_count(&rows), 4);
    let mut positions = source_positions(&rows);
    positions.sort();
    assert_eq!(
        positions,
        vec![
            ("0a3db223d459.geo/0".to_owned(), 0),
            ("0a3db223d459.geo/0".to_owned(), 1),
            ("0a3db223d459.geo/0".to_owned(), 2),
            ("0a3db223d459.geo/1".to_owned(), 5)
        ]
    );
    let dead = read_table(&lake.join("dead")).await;
    assert_eq!(
        strings(&dead, "position"),
        vec![Some("0a3db223d459.geo/1@6".to_owned())]
    );

    let second = run().await;
    assert_eq!(second.stats.records_out, 0, "a re-run adds nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_source_reads_every_file_below_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("users");
    std::fs::create_dir_all(input.join("2024")).expect("mkdir");
    write_lines(
        &input.join("a.jsonl"),
        &[GOOD_USER.into(), GOOD_USER.into()],
    );
    write_lines(&input.join("2024/b.jsonl"), &[GOOD_USER.into()]);
    write_lines(&input.join(".hidden"), &[b"ignored".to_vec()]);
    let lake = dir.path().join("lake");
    let topology = format!(
        "[sources.user]\ntype = \"file\"\npath = \"{}\"\n\n[transforms.clean]\ntype = \"clean_user\"\ninput = \"user\"\n\n\
         [sinks.user]\ntype = \"delta\"\ninput = \"clean\"\ntable = \"{lake}/user\"\n\n\
         [sinks.dead]\ntype = \"delta\"\ninput = \"clean.dead\"\ntable = \"{lake}/dead\"\n",
        input.display(),
        lake = lake.display()
    );
    let built = laketide::topology::from_str(
        Path::new("dir.toml"),
        &topology,
        &laketide::pinterest::registry(),
        &|_| None,
    )
    .expect("valid topology");
    let (trigger, _) = laketide::runtime::Shutdown::new();
    let summary = built
        .topology
        .run(laketide::runtime::RunOptions::default(), trigger)
        .await
        .expect("run");
    assert_eq!(summary.stats.records_in, 3);
    assert_eq!(summary.stats.dead_letters, 0);
    assert_eq!(row_count(&read_table(&lake.join("user")).await), 3);
}

/// Writes `users` user records over `ids` ids, out of order (id `i * 7919 % ids`), whose age
/// is 20 + the how-manyth arrival of their id; runs them through a user sink with
/// `sink_settings` (lines of its table) and returns the lake holding `user`.
async fn users_through_a_sink(
    dir: &Path,
    users: u32,
    ids: u32,
    sink_settings: &str,
) -> std::path::PathBuf {
    let input = dir.join("user.jsonl");
    let lines: Vec<Vec<u8>> = (0..users)
        .map(|i| {
            let ind = (i * 7919) % ids;
            let age = 20 + i / ids;
            format!(
                r#"{{"ind": {ind}, "first_name": "A", "last_name": "B", "age": {age}, "date_joined": "2015-10-24 11:23:51"}}"#
            )
            .into_bytes()
        })
        .collect();
    write_lines(&input, &lines);
    let lake = dir.join("lake");
    let topology = format!(
        "[sources.user]\ntype = \"file\"\npath = \"{}\"\n\n[transforms.clean]\ntype = \"clean_user\"\ninput = \"user\"\n\n\
         [sinks.user]\ntype = \"delta\"\ninput = \"clean\"\ntable = \"{lake}/user\"\n{sink_settings}\n\n\
         [sinks.dead]\ntype = \"delta\"\ninput = \"clean.dead\"\ntable = \"{lake}/dead\"\n",
        input.display(),
        lake = lake.display()
    );
    let summary = common::run_topology(&topology, &[]).await.expect("run");
    assert_eq!(summary.stats.dead_letters, 0);
    lake
}

/// Runs 270,000 users over 100,000 ids, out of order, through a user sink with `sort_by =
/// ["ind"]` and `settings`; checks that every row group is in (ind, arrival) order and declares
/// it, and returns the row groups' sizes per file. A user's age is 20 + the how-manyth arrival
/// of its id, so equal ids must keep ascending ages.
async fn sorted_user_row_groups(settings: &str) -> Vec<Vec<usize>> {
    use deltalake::arrow::datatypes::Int32Type;
    use deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    const USERS: u32 = 270_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = users_through_a_sink(
        dir.path(),
        USERS,
        100_000,
        &format!("sort_by = [\"ind\"]\n{settings}"),
    )
    .await;

    let table = common::existing_table(&lake.join("user")).await;
    let mut rows = 0;
    let mut files = Vec::new();
    for path in common::data_files(&table) {
        let open = || {
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).expect("file"))
                .expect("parquet")
        };
        let groups = open().metadata().num_row_groups();
        let mut sizes = Vec::new();
        for group in 0..groups {
            let builder = open();
            let sorting = builder.metadata().row_group(group).sorting_columns();
            let sorting = sorting.expect("row group declares its order");
            assert_eq!(sorting.len(), 1);
            assert_eq!(sorting[0].column_idx, 0, "ind is the first column");
            let mut previous: Option<(i32, i32)> = None;
            let mut size = 0;
            for batch in builder
                .with_row_groups(vec![group])
                .build()
                .expect("reader")
            {
                let batch = batch.expect("batch");
                let column = |name| {
                    batch
                        .column_by_name(name)
                        .expect("column")
                        .as_primitive::<Int32Type>()
                        .clone()
                };
                let (ind, age) = (column("ind"), column("age"));
                for i in 0..batch.num_rows() {
                    let row = (ind.value(i), age.value(i));
                    if let Some(before) = previous {
                        assert!(
                            before <= row,
                            "{before:?} then {row:?} in {path} group {group}"
                        );
                    }
                    previous = Some(row);
                }
                size += batch.num_rows();
            }
            sizes.push(size);
        }
        rows += sizes.iter().sum::<usize>();
        files.push(sizes);
    }
    assert_eq!(rows, USERS as usize);
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sort_by_orders_each_row_group_and_keeps_every_row() {
    // Defaults: one file of several full row groups (128k rows) and the rest.
    let files = sorted_user_row_groups("").await;
    assert_eq!(
        files,
        [vec![131_072, 131_072, 7_856]],
        "row groups per file"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sort_by_ends_files_between_row_groups_not_inside_them() {
    // Files smaller than a row group's data: every file ends after a whole sorted row group
    // (the writer would otherwise cut a row group where the size lands).
    let mut files = sorted_user_row_groups("target_file_size = \"64KiB\"").await;
    files.sort();
    assert_eq!(
        files,
        [vec![7_856], vec![131_072], vec![131_072]],
        "row groups per file"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sort_by_refuses_a_partitioned_table() {
    use deltalake::kernel::StructType;
    use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
    use laketide::sinks::Row;

    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("user.jsonl");
    write_lines(&input, &[GOOD_USER.into()]);
    let lake = dir.path().join("lake");
    let table_dir = lake.join("user");
    std::fs::create_dir_all(&table_dir).expect("mkdir");
    // Someone else's table with the user schema, partitioned by age.
    let schema = laketide::pinterest::records::User::schema();
    let columns: StructType = schema.as_ref().try_into_kernel().expect("delta schema");
    let url = url::Url::from_directory_path(&table_dir).expect("url");
    deltalake::DeltaTable::try_from_url(url)
        .await
        .expect("table handle")
        .create()
        .with_columns(columns.fields().cloned())
        .with_partition_columns(["age"])
        .await
        .expect("partitioned table created");

    let topology = format!(
        "[sources.user]\ntype = \"file\"\npath = \"{}\"\n\n[transforms.clean]\ntype = \"clean_user\"\ninput = \"user\"\n\n\
         [sinks.user]\ntype = \"delta\"\ninput = \"clean\"\ntable = \"{}\"\nsort_by = [\"ind\"]\n\n\
         [sinks.dead]\ntype = \"delta\"\ninput = \"clean.dead\"\ntable = \"{}/dead\"\n",
        input.display(),
        table_dir.display(),
        lake.display()
    );
    let error = common::run_topology(&topology, &[])
        .await
        .expect_err("sorting a partitioned table is refused");
    let message = format!("{error:#}");
    assert!(
        message.contains("sort_by") && message.contains("partitioned"),
        "{message}"
    );
    assert_eq!(
        row_count(&read_table(&table_dir).await),
        0,
        "nothing written"
    );
}

/// `bucket_by`: every row is written once, the rows of a key keep their arrival order, and
/// the rows of a bucket reach the table together, so a few hundred consecutive rows hold few
/// distinct keys (in arrival order every window of 512 rows here holds 512).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_by_keeps_every_row_and_groups_rows_by_key() {
    use deltalake::arrow::datatypes::Int32Type;
    use std::collections::{HashMap, HashSet};

    const USERS: u32 = 50_000;
    const IDS: u32 = 1_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = users_through_a_sink(
        dir.path(),
        USERS,
        IDS,
        "bucket_by = \"ind\"\nposition_columns = true",
    )
    .await;

    let mut rows = Vec::new();
    for batch in read_table(&lake.join("user")).await {
        let column = |name| batch.column_by_name(name).expect("column").clone();
        let (ind, age, offset) = (column("ind"), column("age"), column("_source_offset"));
        let (ind, age) = (
            ind.as_primitive::<Int32Type>(),
            age.as_primitive::<Int32Type>(),
        );
        let offset = offset.as_primitive::<Int64Type>();
        for i in 0..batch.num_rows() {
            rows.push((ind.value(i), age.value(i), offset.value(i)));
        }
    }
    assert_eq!(rows.len(), USERS as usize);
    let offsets: HashSet<i64> = rows.iter().map(|&(_, _, offset)| offset).collect();
    assert_eq!(offsets.len(), USERS as usize, "every record exactly once");

    let mut last_age: HashMap<i32, i32> = HashMap::new();
    for &(ind, age, _) in &rows {
        if let Some(before) = last_age.insert(ind, age) {
            assert!(before < age, "id {ind}: age {before} then {age}");
        }
    }
    let windows: Vec<usize> = rows
        .chunks(512)
        .map(|window| {
            window
                .iter()
                .map(|&(ind, _, _)| ind)
                .collect::<HashSet<_>>()
                .len()
        })
        .collect();
    let grouped = windows.iter().filter(|&&distinct| distinct <= 200).count();
    assert!(
        grouped * 10 >= windows.len() * 8,
        "distinct ids per 512 rows: {windows:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_columns_decide_what_statistics_the_log_and_the_files_keep() {
    use deltalake::parquet::file::reader::{FileReader, SerializedFileReader};
    use std::collections::BTreeSet;

    let dir = tempfile::tempdir().expect("tempdir");
    let lake = users_through_a_sink(
        dir.path(),
        5_000,
        1_000,
        "stats_columns = [\"ind\", \"age\"]",
    )
    .await;
    let table = common::existing_table(&lake.join("user")).await;
    let snapshot = table.snapshot().expect("snapshot");
    assert_eq!(
        snapshot
            .metadata()
            .configuration()
            .get("delta.dataSkippingStatsColumns")
            .map(String::as_str),
        Some("ind,age"),
        "other writers of the table keep the same statistics"
    );
    let mut files = 0;
    for file in snapshot.log_data().iter() {
        let stats: serde_json::Value =
            serde_json::from_str(&file.stats().expect("stats")).expect("stats are JSON");
        assert_eq!(stats["numRecords"], 5_000);
        for kind in ["minValues", "maxValues", "nullCount"] {
            let columns: BTreeSet<&str> = stats[kind]
                .as_object()
                .unwrap_or_else(|| panic!("{kind} in {stats}"))
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(columns, BTreeSet::from(["age", "ind"]), "{kind}");
        }
        assert_eq!(stats["minValues"]["age"], 20);
        assert_eq!(stats["maxValues"]["age"], 24);
        files += 1;
    }
    assert_eq!(files, 1);

    // The files' own statistics: only for those columns (the Delta log keeps no others, and
    // each value of the others would cost two comparisons).
    for path in common::data_files(&table) {
        let reader =
            SerializedFileReader::new(std::fs::File::open(&path).expect("file")).expect("parquet");
        let group = reader.metadata().row_group(0);
        let with_statistics: BTreeSet<&str> = group
            .columns()
            .iter()
            .filter(|c| c.statistics().is_some())
            .map(|c| c.column_path().parts()[0].as_str())
            .collect();
        assert_eq!(with_statistics, BTreeSet::from(["age", "ind"]), "{path}");
    }
}
