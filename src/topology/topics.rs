//! The `topics` transform: keeps the records read from some Kafka topics.
//!
//! One Kafka source can consume several topics in one consumer group (one librdkafka client,
//! one poll loop); `topics` transforms then route its records by topic to what handles each:
//!
//! ```toml
//! [sources.events]
//! type = "kafka"
//! topics = ["p.pin", "p.geo", "p.user"]
//! # ...
//!
//! [transforms.pin_events]
//! type = "topics"
//! input = "events"
//! topics = ["p.pin"]
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Deserialize;

use crate::dsl::{Partition, Stream};
use crate::sources::{RecordOrigin, RecordTopics};

/// The transform's type name. The topology builder knows it: a stream read only by `topics`
/// transforms with disjoint topics is split among them ([`route_topics`]) instead of copied
/// to each, which would hand every record to every route.
pub const TOPICS_TRANSFORM: &str = "topics";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicsConfig {
    pub topics: Vec<String>,
}

impl TopicsConfig {
    /// Errors name the config key.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.topics.is_empty() || self.topics.iter().any(|t| t.trim().is_empty()) {
            return Err(("topics", "needs at least one non-empty topic name".into()));
        }
        Ok(())
    }
}

/// Keeps the records whose partition belongs to one of `topics`; records from line files have
/// no topic and are dropped. Dropped records still count as handled downstream.
pub fn from_topics<T: Send + 'static>(stream: Stream<T>, topics: Vec<String>) -> Stream<T> {
    let mut keep = per_partition(move |topic| topics.iter().any(|wanted| wanted == topic));
    stream.filter_records(move |record| keep(&record.position.partition).unwrap_or(false))
}

/// Splits `stream` into one stream per entry of `routes` (disjoint lists of topics): each
/// record goes to the route of its topic, or to none. Every route gets all progress.
pub fn route_topics<T: Send + 'static>(
    stream: Stream<T>,
    stage: &str,
    routes: Vec<Vec<String>>,
) -> Vec<Stream<T>> {
    let n = routes.len();
    let mut route = per_partition(move |topic| {
        routes
            .iter()
            .position(|topics| topics.iter().any(|wanted| wanted == topic))
    });
    stream.route(stage, n, move |record| {
        route(&record.position.partition).flatten()
    })
}

/// `decide` of a partition's topic (`None` for a partition without one), asked once per run
/// of records: records come in runs per partition, so the last answer is kept. The partition
/// is held (not its address) so that a new partition cannot be mistaken for it.
fn per_partition<V: Copy>(
    mut decide: impl FnMut(&str) -> V,
) -> impl FnMut(&Partition) -> Option<V> {
    let mut last: Option<(Partition, Option<V>)> = None;
    move |partition| {
        if let Some((seen, answer)) = &last
            && Arc::ptr_eq(seen, partition)
        {
            return *answer;
        }
        let answer = partition.kafka_topic().map(&mut decide);
        last = Some((partition.clone(), answer));
        answer
    }
}

/// Whether no topic is in two of `routes` (a topic named twice in one route is fine).
pub fn disjoint(routes: &[Vec<String>]) -> bool {
    let mut owner = std::collections::HashMap::new();
    routes.iter().enumerate().all(|(route, topics)| {
        topics
            .iter()
            .all(|topic| *owner.entry(topic).or_insert(route) == route)
    })
}

/// What can reach a stream from the sources upstream of it: the builder's view of
/// [`RecordOrigin`] through the graph, to check `topics` transforms and Kafka sinks against.
#[derive(Debug, Clone, Default)]
pub struct Reach {
    /// Each topic that can reach, and the sources that read it.
    topics: BTreeMap<String, BTreeSet<String>>,
    /// Sources upstream whose records carry no topic.
    untopiced: BTreeSet<String>,
    /// Sources upstream whose topics are known only when running.
    unknown: BTreeSet<String>,
    /// Whether the topics cannot be checked here (an input that failed to build, or an
    /// error already reported upstream).
    unchecked: bool,
    /// The last `topics` transform on the way, which narrowed the topics to what it keeps.
    narrowed_by: Option<String>,
    /// Sources upstream that leave their messages' headers behind.
    pub headers_dropped_by: BTreeSet<String>,
}

impl Reach {
    pub fn of_source(name: &str, origin: &RecordOrigin) -> Reach {
        let mut reach = Reach::default();
        match &origin.topics {
            RecordTopics::None => {
                reach.untopiced.insert(name.to_owned());
            }
            RecordTopics::Named(topics) => {
                for topic in topics {
                    reach
                        .topics
                        .entry(topic.clone())
                        .or_default()
                        .insert(name.to_owned());
                }
            }
            RecordTopics::Unknown => {
                reach.unknown.insert(name.to_owned());
            }
        }
        if origin.headers_dropped {
            reach.headers_dropped_by.insert(name.to_owned());
        }
        reach
    }

    /// A reach nothing is checked against.
    pub fn unchecked() -> Reach {
        Reach {
            unchecked: true,
            ..Reach::default()
        }
    }

    /// What reaches a component that reads both.
    pub fn union(mut self, other: &Reach) -> Reach {
        for (topic, sources) in &other.topics {
            self.topics
                .entry(topic.clone())
                .or_default()
                .extend(sources.iter().cloned());
        }
        self.untopiced.extend(other.untopiced.iter().cloned());
        self.unknown.extend(other.unknown.iter().cloned());
        self.unchecked |= other.unchecked;
        if self.narrowed_by != other.narrowed_by {
            self.narrowed_by = None;
        }
        self.headers_dropped_by
            .extend(other.headers_dropped_by.iter().cloned());
        self
    }

    /// What passes the `topics` transform `name` keeping `wanted`, or why it can never pass
    /// a record of some topic it names.
    pub fn through_topics(&self, name: &str, wanted: &[String]) -> Result<Reach, String> {
        if !self.unchecked && self.unknown.is_empty() {
            if self.topics.is_empty() && self.narrowed_by.is_none() {
                let files: Vec<&str> = self.untopiced.iter().map(String::as_str).collect();
                return Err(format!(
                    "its input comes only from source(s) `{}`, whose records carry no Kafka topic, so it would drop every record; read a Kafka source or a Kafka Connect archive, or remove the transform",
                    files.join("`, `")
                ));
            }
            if let Some(missing) = wanted.iter().find(|t| !self.topics.contains_key(*t)) {
                let topics: Vec<&str> = self.topics.keys().map(String::as_str).collect();
                if let Some(narrowed_by) = &self.narrowed_by {
                    return Err(format!(
                        "no record of topic `{missing}` can arrive: the `topics` transform `{narrowed_by}` upstream keeps only {}; keep the topic there too, or read this transform's records from before it",
                        topics.join(", ")
                    ));
                }
                let mut by_source: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
                for (topic, sources) in &self.topics {
                    for source in sources {
                        by_source.entry(source).or_default().push(topic);
                    }
                }
                let read: Vec<String> = by_source
                    .iter()
                    .map(|(source, topics)| format!("`{source}` reads {}", topics.join(", ")))
                    .collect();
                return Err(format!(
                    "no source upstream reads topic `{missing}` ({}), so none of its records can arrive; fix the name or add the topic to the source's `topics`",
                    read.join("; ")
                ));
            }
        }
        let mut passed = self.clone();
        passed.topics.retain(|topic, _| wanted.contains(topic));
        passed.untopiced.clear();
        passed.narrowed_by = Some(name.to_owned());
        // A source none of whose topics pass sends nothing further.
        let sending: BTreeSet<&String> = passed
            .topics
            .values()
            .flatten()
            .chain(&passed.unknown)
            .collect();
        passed
            .headers_dropped_by
            .retain(|source| passed.unchecked || sending.contains(source));
        Ok(passed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsl::{OffsetUnit, PartitionId};

    #[test]
    fn a_partition_knows_its_topic_and_a_file_has_none() {
        let partition = |name: &str, unit| PartitionId {
            source: Arc::from("s"),
            name: Arc::from(name),
            unit,
        };
        assert_eq!(
            partition("p.pin/3", OffsetUnit::Offset).kafka_topic(),
            Some("p.pin")
        );
        assert_eq!(
            partition("dir/pin.jsonl", OffsetUnit::Line).kafka_topic(),
            None
        );
    }

    #[test]
    fn routes_share_no_topic() {
        let routes = |lists: &[&[&str]]| -> Vec<Vec<String>> {
            lists
                .iter()
                .map(|l| l.iter().map(|t| t.to_string()).collect())
                .collect()
        };
        assert!(disjoint(&routes(&[&["a"], &["b", "c"]])));
        assert!(!disjoint(&routes(&[&["a", "b"], &["b"]])));
        assert!(disjoint(&routes(&[&["a", "a"], &["b"]])));
    }

    #[test]
    fn topics_must_name_one() {
        let config = TopicsConfig { topics: Vec::new() };
        assert_eq!(config.validate().map_err(|e| e.0), Err("topics"));
        let config = TopicsConfig {
            topics: vec![" ".into()],
        };
        assert_eq!(config.validate().map_err(|e| e.0), Err("topics"));
        let config = TopicsConfig {
            topics: vec!["t".into()],
        };
        assert!(config.validate().is_ok());
    }
}
