//! The typed DSL, through the example a Rust developer starts from (examples/typed_pipeline.rs).

mod common;
#[allow(dead_code)]
#[path = "../examples/typed_pipeline.rs"]
mod example;

use std::io::Write;

use common::{read_table, row_count};
use deltalake::arrow::array::{Array, AsArray};
use deltalake::arrow::datatypes::Int32Type;
use laketide::pinterest::cleaning::clean_pin;
use laketide::pinterest::generator::Generator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branch_filter_union_and_sinks_write_what_the_code_says_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("raw");
    let lake = dir.path().join("lake");
    std::fs::create_dir_all(&input).expect("mkdir");
    let mut pin_file = std::fs::File::create(input.join("pin.jsonl")).expect("pin");
    let mut user_file = std::fs::File::create(input.join("user.jsonl")).expect("user");
    let (mut videos, mut popular) = (0, 0);
    for triple in Generator::new(42).take(3000) {
        writeln!(pin_file, "{}", triple.pin).expect("write");
        writeln!(user_file, "{}", triple.user).expect("write");
        let pin = clean_pin(triple.pin.as_bytes()).expect("generated pins are clean");
        if pin.is_image_or_video() == Some("video") {
            videos += 1;
        } else if pin.follower_count.is_some_and(|n| n >= 1000) {
            popular += 1;
        }
    }
    writeln!(pin_file, "{{\"index\": \"x\"}}").expect("bad pin");
    writeln!(user_file, "[]").expect("bad user");
    drop((pin_file, user_file));
    assert!(
        videos > 10 && popular > 100,
        "the sample exercises both branches"
    );

    let summary = example::run(&input, &lake).await.expect("run");
    assert_eq!(summary.stats.records_in, 6002);
    assert_eq!(summary.stats.dead_letters, 2);
    let video_rows = read_table(&lake.join("pin_videos")).await;
    assert_eq!(row_count(&video_rows), videos);
    let popular_rows = read_table(&lake.join("popular_pins")).await;
    assert_eq!(row_count(&popular_rows), popular);
    for batch in &popular_rows {
        let followers = batch
            .column_by_name("follower_count")
            .expect("column")
            .as_primitive::<Int32Type>();
        assert!((0..followers.len()).all(|i| followers.is_valid(i) && followers.value(i) >= 1000));
    }
    assert_eq!(row_count(&read_table(&lake.join("user")).await), 3000);
    assert_eq!(row_count(&read_table(&lake.join("dead_letters")).await), 2);

    let again = example::run(&input, &lake).await.expect("second run");
    assert_eq!(again.stats.records_out, 0, "a re-run writes nothing");
    assert_eq!(
        row_count(&read_table(&lake.join("pin_videos")).await),
        videos
    );
    assert_eq!(row_count(&read_table(&lake.join("dead_letters")).await), 2);
}
