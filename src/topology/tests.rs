//! Every error path of topology files: each must name the file, the line and the key, and
//! say how to fix it.

use std::path::Path;

use super::{ConfigError, from_str};

const VALID: &str = r#"
name = "t"

[sources.pin]
type = "file"
path = "${INPUT:-raw}/pin.jsonl"

[transforms.clean_pin]
type = "clean_pin"
input = "pin"

[transforms.art]
type = "filter"
input = "clean_pin"
field = "category"
equals = "art"

[sinks.art]
type = "delta"
input = "art"
table = "${LAKE:-lake}/art"

[sinks.dead_letters]
type = "delta"
inputs = ["clean_pin.dead"]
table = "lake/dead_letters"
"#;

fn env(name: &str) -> Option<String> {
    (name == "LAKE").then(|| "/tmp/lake".to_owned())
}

fn errors(text: &str) -> Vec<ConfigError> {
    match from_str(
        Path::new("t.toml"),
        text,
        &crate::pinterest::registry(),
        &env,
    ) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(errors) => errors.0,
    }
}

/// The description `laketide check` prints for `text`, which must build.
fn description(text: &str) -> String {
    match from_str(
        Path::new("t.toml"),
        text,
        &crate::pinterest::registry(),
        &env,
    ) {
        Ok(built) => built.description,
        Err(errors) => panic!("expected a valid topology:\n{text}\n{errors:#?}"),
    }
}

/// An error `text` produces that mentions `fragment`; checks it points at the first line
/// containing `at`, and names `key`.
fn expect_error(text: &str, at: &str, key: &str, fragment: &str) {
    let line = text
        .lines()
        .position(|l| l.contains(at))
        .unwrap_or_else(|| panic!("no line contains `{at}`"))
        + 1;
    let all = errors(text);
    let found = all
        .iter()
        .find(|e| e.message.contains(fragment))
        .unwrap_or_else(|| panic!("no error mentions `{fragment}`; got:\n{all:#?}"));
    assert_eq!(found.line, line, "line of {found}");
    assert_eq!(found.key, key, "key of {found}");
    assert!(
        found.to_string().starts_with(&format!("t.toml:{line}:")),
        "{found}"
    );
}

#[test]
fn the_valid_file_builds_and_describes_its_graph() {
    let built = from_str(
        Path::new("t.toml"),
        VALID,
        &crate::pinterest::registry(),
        &env,
    )
    .expect("valid");
    assert_eq!(built.name, "t");
    assert!(
        built.description.contains("clean_pin.dead -> dead_letter"),
        "{}",
        built.description
    );
    assert!(
        built.description.contains("delta table /tmp/lake/art"),
        "{}",
        built.description
    );
    assert!(
        built.description.contains("file raw/pin.jsonl"),
        "default used: {}",
        built.description
    );
}

#[test]
fn invalid_toml() {
    expect_error(
        "[sources.pin\ntype = 1",
        "[sources.pin",
        "",
        "not valid TOML",
    );
}

#[test]
fn unknown_top_level_key() {
    expect_error(
        &format!("{VALID}\n[sinkz.x]\ntype = \"delta\"\n"),
        "[sinkz.x]",
        "sinkz",
        "unknown top-level key",
    );
}

#[test]
fn missing_and_unknown_type() {
    let text = VALID.replace("type = \"clean_pin\"\n", "");
    expect_error(
        &text,
        "[transforms.clean_pin]",
        "transforms.clean_pin",
        "has no `type`",
    );
    let text = VALID.replace("type = \"clean_pin\"", "type = \"clean_pinn\"");
    expect_error(
        &text,
        "clean_pinn",
        "transforms.clean_pin.type",
        "unknown type `clean_pinn`; expected one of: clean_geo, clean_pin",
    );
}

#[test]
fn unknown_input_lists_known_outputs() {
    let text = VALID.replace("input = \"art\"", "input = \"artt\"");
    expect_error(
        &text,
        "\"artt\"",
        "sinks.art.input",
        "unknown input `artt`; known outputs are: art, clean_pin, clean_pin.dead, pin",
    );
}

#[test]
fn unknown_setting_points_at_its_line() {
    let text = VALID.replace(
        "path = \"${INPUT:-raw}/pin.jsonl\"",
        "path = \"x\"\npathh = \"y\"",
    );
    expect_error(&text, "pathh", "sources.pin", "unknown field `pathh`");
}

#[test]
fn wrong_value_type() {
    let text = VALID.replace(
        "table = \"lake/dead_letters\"",
        "table = \"lake/dead_letters\"\nmax_rows = \"many\"",
    );
    expect_error(&text, "max_rows", "sinks.dead_letters", "invalid type");
}

#[test]
fn bad_duration_and_validation_errors_name_the_key() {
    let text = VALID.replace(
        "table = \"lake/dead_letters\"",
        "table = \"lake/dead_letters\"\nmax_latency = \"5 parsecs\"",
    );
    expect_error(
        &text,
        "max_latency",
        "sinks.dead_letters",
        "unknown duration unit",
    );
    let text = VALID.replace(
        "table = \"lake/dead_letters\"",
        "table = \"lake/dead_letters\"\nmax_rows = 0",
    );
    expect_error(
        &text,
        "max_rows",
        "sinks.dead_letters.max_rows",
        "must be at least 1",
    );
    let text = VALID.replace(
        "table = \"lake/dead_letters\"",
        "table = \"lake/dead_letters\"\ncompression = \"zip\"",
    );
    expect_error(
        &text,
        "compression",
        "sinks.dead_letters",
        "unknown compression `zip`",
    );
    let text = VALID.replace(
        "table = \"lake/dead_letters\"",
        "table = \"lake/dead_letters\"\ndictionary_page_size = 0",
    );
    expect_error(
        &text,
        "dictionary_page_size",
        "sinks.dead_letters.dictionary_page_size",
        "must be more than 0",
    );
    let text = VALID.replace(
        "table = \"lake/dead_letters\"",
        "table = \"lake/dead_letters\"\nsort_by = [\"ind\"]",
    );
    expect_error(
        &text,
        "sort_by",
        "sinks.dead_letters.sort_by",
        "the table has no column `ind`; its columns are ",
    );
    let text = VALID.replace(
        "table = \"lake/dead_letters\"",
        "table = \"lake/dead_letters\"\nbucket_by = \"ind\"",
    );
    expect_error(
        &text,
        "bucket_by",
        "sinks.dead_letters.bucket_by",
        "no field `ind` in these records; bucket_by takes one of source, ",
    );
    let text = VALID.replace(
        "table = \"lake/dead_letters\"",
        "table = \"lake/dead_letters\"\nbucket_by = \"source\"\nsort_by = [\"source\"]",
    );
    expect_error(
        &text,
        "bucket_by",
        "sinks.dead_letters.bucket_by",
        "set either bucket_by or sort_by",
    );
    let text = VALID.replace(
        "table = \"lake/dead_letters\"",
        "table = \"lake/dead_letters\"\nstats_columns = [\"source\", \"ind\"]",
    );
    expect_error(
        &text,
        "stats_columns",
        "sinks.dead_letters.stats_columns",
        "no column `ind` in this table; its columns are raw, raw_text, source, ",
    );
    let text = VALID.replace(
        "table = \"lake/dead_letters\"",
        "table = \"lake/dead_letters\"\nstats_columns = []",
    );
    expect_error(
        &text,
        "stats_columns",
        "sinks.dead_letters.stats_columns",
        "is empty; name the columns readers filter by",
    );
    let text = VALID.replace(
        "table = \"lake/dead_letters\"",
        "table = \"lake/dead_letters\"\nstats_columns = [\"raw\"]",
    );
    expect_error(
        &text,
        "stats_columns",
        "sinks.dead_letters.stats_columns",
        "`raw` is a Binary column, which the Delta log keeps no statistics for",
    );
    let text = VALID.replace(
        "path = \"${INPUT:-raw}/pin.jsonl\"",
        "path = \"raw/[.jsonl\"",
    );
    expect_error(&text, "[.jsonl", "sources.pin.path", "not a valid glob");
}

#[test]
fn unset_variable_without_default() {
    let text = VALID.replace("${INPUT:-raw}", "${INPUT}");
    expect_error(
        &text,
        "${INPUT}",
        "sources.pin.path",
        "environment variable INPUT is not set",
    );
}

#[test]
fn type_mismatches() {
    // A cleaning transform fed with already-cleaned records.
    let text = VALID
        .replace("type = \"filter\"", "type = \"clean_pin\"")
        .replace("field = \"category\"\nequals = \"art\"\n", "");
    expect_error(
        &text,
        "input = \"clean_pin\"",
        "transforms.art.input",
        "takes `bytes` records but its input carries `pinterest.pin`",
    );
    // Raw bytes cannot be filtered by field nor written to a table.
    let raw = "[sources.pin]\ntype = \"file\"\npath = \"x\"\n\n[transforms.f]\ntype = \"filter\"\ninput = \"pin\"\nfield = \"x\"\nequals = 1\n\n[sinks.s]\ntype = \"delta\"\ninput = \"f\"\ntable = \"t\"\n";
    expect_error(
        raw,
        "field = ",
        "transforms.f.field",
        "have no named fields",
    );
    let raw = "[sources.pin]\ntype = \"file\"\npath = \"x\"\n\n[sinks.s]\ntype = \"delta\"\ninput = \"pin\"\ntable = \"t\"\n";
    expect_error(
        raw,
        "[sinks.s]",
        "sinks.s.inputs",
        "cannot be written to a table",
    );
}

#[test]
fn filter_on_unknown_field() {
    let text = VALID.replace("field = \"category\"", "field = \"categori\"");
    expect_error(
        &text,
        "categori",
        "transforms.art.field",
        "`categori` is not a field of this stream; its fields are: ind, unique_id",
    );
}

#[test]
fn unused_outputs_and_lost_dead_letters() {
    let text = VALID.replace("inputs = [\"clean_pin.dead\"]", "inputs = [\"art\"]");
    expect_error(
        &text,
        "[transforms.clean_pin]",
        "transforms.clean_pin",
        "the dead letters `clean_pin.dead` go nowhere",
    );
    let text = format!("{VALID}\n[sources.geo]\ntype = \"file\"\npath = \"g.jsonl\"\n");
    expect_error(
        &text,
        "[sources.geo]",
        "sources.geo",
        "the output `geo` is not used",
    );
}

#[test]
fn mixed_input_types() {
    let text = VALID.replace(
        "inputs = [\"clean_pin.dead\"]",
        "inputs = [\"clean_pin.dead\", \"art\"]",
    );
    let all = errors(&text);
    assert!(
        all.iter()
            .any(|e| e.message.contains("must share one type")
                && e.key == "sinks.dead_letters.inputs"),
        "{all:#?}"
    );
}

#[test]
fn cycles() {
    let text = VALID.replace("input = \"clean_pin\"\nfield", "input = \"art\"\nfield");
    let all = errors(&text);
    assert!(
        all.iter().any(|e| e.message.contains("part of a cycle")),
        "{all:#?}"
    );
}

#[test]
fn duplicate_names_across_sources_and_transforms() {
    let text = VALID
        .replace("[transforms.art]", "[transforms.pin]")
        .replace("input = \"art\"", "input = \"pin\"");
    let all = errors(&text);
    assert!(
        all.iter().any(|e| e.message.contains("also used by")),
        "{all:#?}"
    );
}

#[test]
fn input_shape_errors() {
    let text = VALID.replace("input = \"pin\"", "input = \"pin\"\ninputs = [\"pin\"]");
    expect_error(
        &text,
        "inputs = [\"pin\"]",
        "transforms.clean_pin",
        "either `input` or `inputs`",
    );
    let text = VALID.replace("type = \"file\"", "type = \"file\"\ninput = \"x\"");
    expect_error(
        &text,
        "input = \"x\"",
        "sources.pin",
        "a source has no inputs",
    );
    let text = VALID.replace("input = \"pin\"\n", "");
    expect_error(
        &text,
        "[transforms.clean_pin]",
        "transforms.clean_pin",
        "has no input",
    );
    let text = VALID.replace("inputs = [\"clean_pin.dead\"]", "inputs = []");
    expect_error(
        &text,
        "inputs = []",
        "sinks.dead_letters.inputs",
        "is empty",
    );
    let text = VALID.replace("input = \"pin\"", "input = 3");
    expect_error(
        &text,
        "input = 3",
        "transforms.clean_pin.input",
        "must be a string",
    );
}

#[test]
fn settings_on_a_kind_without_settings() {
    let text = VALID.replace("input = \"pin\"", "input = \"pin\"\nstrict = true");
    expect_error(
        &text,
        "strict",
        "transforms.clean_pin",
        "unknown field `strict`",
    );
}

#[test]
fn no_source() {
    let all = errors("name = \"empty\"\n");
    assert!(
        all.iter().any(|e| e.message.contains("no source")),
        "{all:#?}"
    );
}

#[test]
fn kafka_properties_take_numbers_and_booleans_in_sources_and_sinks() {
    let text = "[sources.pin]\ntype = \"kafka\"\nbrokers = \"127.0.0.1:9092\"\ntopics = [\"t.pin\"]\ngroup = \"g\"\n\
                properties = { \"session.timeout.ms\" = 6000, \"check.crcs\" = true }\n\n\
                [transforms.clean]\ntype = \"clean_pin\"\ninput = \"pin\"\n\n\
                [sinks.pin]\ntype = \"kafka\"\ninput = \"clean\"\nbrokers = \"127.0.0.1:9092\"\ntopic = \"clean\"\n\
                properties = { \"linger.ms\" = 10 }\n\n\
                [sinks.dead]\ntype = \"kafka\"\ninput = \"clean.dead\"\nbrokers = \"127.0.0.1:9092\"\ntopic = \"dead\"\n";
    let described = description(text);
    assert!(
        described.contains("kafka topic clean on 127.0.0.1:9092"),
        "{described}"
    );
}

#[test]
fn a_topics_transform_needs_a_topic() {
    let text = "[sources.events]\ntype = \"kafka\"\nbrokers = \"127.0.0.1:9092\"\ntopics = [\"t.pin\"]\ngroup = \"g\"\n\n\
                [transforms.pins]\ntype = \"topics\"\ninput = \"events\"\ntopics = []\n\n\
                [transforms.clean]\ntype = \"clean_pin\"\ninput = \"pins\"\n\n\
                [sinks.pin]\ntype = \"delta\"\ninput = \"clean\"\ntable = \"/tmp/x\"\n\n\
                [sinks.dead]\ntype = \"delta\"\ninput = \"clean.dead\"\ntable = \"/tmp/y\"\n";
    expect_error(
        text,
        "topics = []",
        "transforms.pins.topics",
        "at least one",
    );
}

#[test]
fn a_stream_read_only_by_topics_transforms_is_routed_not_copied() {
    let source = "[sources.events]\ntype = \"kafka\"\nbrokers = \"127.0.0.1:9092\"\ntopics = [\"t.pin\", \"t.geo\"]\ngroup = \"g\"\n\n";
    let rest = |second_topic: &str| {
        format!(
            "[transforms.pins]\ntype = \"topics\"\ninput = \"events\"\ntopics = [\"t.pin\"]\n\n\
             [transforms.geos]\ntype = \"topics\"\ninput = \"events\"\ntopics = [\"{second_topic}\"]\n\n\
             [transforms.clean]\ntype = \"clean_pin\"\ninput = \"pins\"\n\n\
             [transforms.clean_geo]\ntype = \"clean_geo\"\ninput = \"geos\"\n\n\
             [sinks.pin]\ntype = \"delta\"\ninput = \"clean\"\ntable = \"/tmp/x\"\n\n\
             [sinks.geo]\ntype = \"delta\"\ninput = \"clean_geo\"\ntable = \"/tmp/z\"\n\n\
             [sinks.dead]\ntype = \"delta\"\ninputs = [\"clean.dead\", \"clean_geo.dead\"]\ntable = \"/tmp/y\"\n"
        )
    };
    let routed = description(&format!("{source}{}", rest("t.geo")));
    assert!(
        routed.contains(
            "route     events by topic, each record to one of: pins [\"t.pin\"], geos [\"t.geo\"]"
        ),
        "{routed}"
    );
    // Overlapping topics: a record may belong to both, so both get a copy.
    let copied = description(&format!("{source}{}", rest("t.pin")));
    assert!(!copied.contains("route "), "{copied}");
}

#[test]
fn a_union_of_two_filters_of_one_stream_is_refused() {
    let text = VALID_UNION_OF_FILTERS;
    let all = errors(text);
    assert!(
        all.iter().any(|e| e
            .message
            .contains("has two inputs from the stream `clean_pin`")),
        "{all:#?}"
    );
}

const VALID_UNION_OF_FILTERS: &str = "[sources.pin]\ntype = \"file\"\npath = \"x\"\n\n\
    [transforms.clean_pin]\ntype = \"clean_pin\"\ninput = \"pin\"\n\n\
    [transforms.art]\ntype = \"filter\"\ninput = \"clean_pin\"\nfield = \"category\"\nequals = \"art\"\n\n\
    [transforms.food]\ntype = \"filter\"\ninput = \"clean_pin\"\nfield = \"category\"\nequals = \"food\"\n\n\
    [sinks.both]\ntype = \"delta\"\ninputs = [\"art\", \"food\"]\ntable = \"/tmp/x\"\n\n\
    [sinks.dead]\ntype = \"delta\"\ninput = \"clean_pin.dead\"\ntable = \"/tmp/y\"\n";

const KAFKA_EVENTS: &str = "[sources.events]\ntype = \"kafka\"\nbrokers = \"127.0.0.1:9092\"\ntopics = [\"t.pin\", \"t.geo\"]\ngroup = \"g\"\n\n";

/// A `topics` transform keeping `topics` from `source`, cleaned into a table.
fn topics_from(source: &str, topics: &str) -> String {
    format!(
        "{source}[transforms.pins]\ntype = \"topics\"\ninput = \"events\"\ntopics = {topics}\n\n\
         [transforms.clean]\ntype = \"clean_pin\"\ninput = \"pins\"\n\n\
         [sinks.pin]\ntype = \"delta\"\ninput = \"clean\"\ntable = \"/tmp/x\"\n\n\
         [sinks.dead]\ntype = \"delta\"\ninput = \"clean.dead\"\ntable = \"/tmp/y\"\n"
    )
}

#[test]
fn a_topics_transform_must_name_topics_its_sources_read() {
    let text = topics_from(KAFKA_EVENTS, "[\"t.pin\", \"t.pins\"]");
    expect_error(
        &text,
        "topics = [\"t.pin\", \"t.pins\"]",
        "transforms.pins.topics",
        "no source upstream reads topic `t.pins` (`events` reads t.geo, t.pin)",
    );

    let files = "[sources.events]\ntype = \"file\"\npath = \"x\"\n\n";
    expect_error(
        &topics_from(files, "[\"t.pin\"]"),
        "topics = [\"t.pin\"]",
        "transforms.pins.topics",
        "only from source(s) `events`, whose records carry no Kafka topic",
    );

    // Topics known only when running (a pattern, an archive's folders) are not checked.
    let pattern = KAFKA_EVENTS.replace("[\"t.pin\", \"t.geo\"]", "[\"^t\\\\..*\"]");
    let archive = "[sources.events]\ntype = \"file\"\npath = \"x\"\nlayout = \"kafka-connect\"\n\n";
    for source in [pattern.as_str(), archive] {
        description(&topics_from(source, "[\"t.pin\"]"));
    }
}

#[test]
fn a_kafka_sink_after_a_source_without_headers_gets_a_note() {
    let describe = |headers: &str| {
        let source = KAFKA_EVENTS.replace("group = \"g\"\n", &format!("group = \"g\"\n{headers}"));
        let text = topics_from(&source, "[\"t.pin\"]").replace(
            "[sinks.dead]\ntype = \"delta\"\ninput = \"clean.dead\"\ntable = \"/tmp/y\"\n",
            "[sinks.dead]\ntype = \"kafka\"\ninput = \"clean.dead\"\nbrokers = \"127.0.0.1:9092\"\ntopic = \"t.dead\"\n",
        );
        description(&text)
    };
    let without = describe("headers = false\n");
    assert!(
        without.contains(
            "note      sink `dead` forwards Kafka headers, but source `events` has headers = false"
        ),
        "{without}"
    );
    let with = describe("");
    assert!(!with.contains("note "), "{with}");
}

#[test]
fn topics_checks_follow_unions_chains_and_archives() {
    // Line files and Kafka in one union: the Kafka topics are checked, the files pass.
    let union = KAFKA_EVENTS.replace("[sources.events]", "[sources.kafka]")
        + "[sources.files]\ntype = \"file\"\npath = \"x\"\n\n";
    let text = topics_from(&union, "[\"t.pin\"]").replace(
        "[transforms.pins]\ntype = \"topics\"\ninput = \"events\"",
        "[transforms.pins]\ntype = \"topics\"\ninputs = [\"kafka\", \"files\"]",
    );
    description(&text);

    // A `topics` after another names what the first one dropped.
    let chained = topics_from(KAFKA_EVENTS, "[\"t.pin\"]").replace(
        "[transforms.clean]\ntype = \"clean_pin\"\ninput = \"pins\"",
        "[transforms.geos]\ntype = \"topics\"\ninput = \"pins\"\ntopics = [\"t.geo\"]\n\n\
         [transforms.clean]\ntype = \"clean_pin\"\ninput = \"geos\"",
    );
    let all = errors(&chained);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0].key, "transforms.geos.topics");
    assert!(
        all[0].message.contains(
            "no record of topic `t.geo` can arrive: the `topics` transform `pins` upstream keeps only t.pin"
        ),
        "{all:#?}"
    );

    // An archive that names its topics is checked against them.
    let archive = "[sources.events]\ntype = \"file\"\npath = \"x\"\nlayout = \"kafka-connect\"\ntopics = [\"t.pin\"]\n\n";
    description(&topics_from(archive, "[\"t.pin\"]"));
    expect_error(
        &topics_from(archive, "[\"t.geo\"]"),
        "topics = [\"t.geo\"]",
        "transforms.pins.topics",
        "no source upstream reads topic `t.geo` (`events` reads t.pin)",
    );
}

#[test]
fn the_headers_note_names_only_sources_whose_records_reach_the_sink() {
    // `quiet` drops headers but reads only t.geo, which the `topics` transform drops.
    let text = "[sources.loud]\ntype = \"kafka\"\nbrokers = \"b:9092\"\ntopics = [\"t.pin\"]\ngroup = \"g\"\n\n\
                [sources.quiet]\ntype = \"kafka\"\nbrokers = \"b:9092\"\ntopics = [\"t.geo\"]\ngroup = \"g\"\nheaders = false\n\n\
                [transforms.pins]\ntype = \"topics\"\ninputs = [\"loud\", \"quiet\"]\ntopics = [\"t.pin\"]\n\n\
                [transforms.clean]\ntype = \"clean_pin\"\ninput = \"pins\"\n\n\
                [sinks.pin]\ntype = \"delta\"\ninput = \"clean\"\ntable = \"/tmp/x\"\n\n\
                [sinks.dead]\ntype = \"kafka\"\ninput = \"clean.dead\"\nbrokers = \"b:9092\"\ntopic = \"t.dead\"\n";
    let described = description(text);
    assert!(!described.contains("note "), "{described}");
    let reaching = text.replace(
        "topics = [\"t.pin\"]\n\n[transforms.clean]",
        "topics = [\"t.pin\", \"t.geo\"]\n\n[transforms.clean]",
    );
    let described = description(&reaching);
    assert!(
        described.contains("but source `quiet` has headers = false"),
        "{described}"
    );
}
