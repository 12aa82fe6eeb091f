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

use std::sync::Arc;

use serde::Deserialize;

use crate::dsl::{Partition, Stream};

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
    // Records come in runs per partition, so the answer for the last partition is kept. The
    // partition is held (not its address) so that a new partition cannot be mistaken for it.
    let mut last: Option<(Partition, bool)> = None;
    stream.filter_records(move |record| {
        let partition = &record.position.partition;
        if let Some((seen, keep)) = &last
            && Arc::ptr_eq(seen, partition)
        {
            return *keep;
        }
        let keep = partition
            .kafka_topic()
            .is_some_and(|topic| topics.iter().any(|wanted| wanted == topic));
        last = Some((partition.clone(), keep));
        keep
    })
}

/// Splits `stream` into one stream per entry of `routes` (disjoint lists of topics): each
/// record goes to the route of its topic, or to none. Every route gets all progress.
pub fn route_topics<T: Send + 'static>(
    stream: Stream<T>,
    stage: &str,
    routes: Vec<Vec<String>>,
) -> Vec<Stream<T>> {
    let n = routes.len();
    // As in `from_topics`: the answer for the partition of the last run of records.
    let mut last: Option<(Partition, Option<usize>)> = None;
    stream.route(stage, n, move |record| {
        let partition = &record.position.partition;
        if let Some((seen, route)) = &last
            && Arc::ptr_eq(seen, partition)
        {
            return *route;
        }
        let route = partition.kafka_topic().and_then(|topic| {
            routes
                .iter()
                .position(|topics| topics.iter().any(|wanted| wanted == topic))
        });
        last = Some((partition.clone(), route));
        route
    })
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
