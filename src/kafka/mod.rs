//! Kafka plumbing shared by the source, the sink, the emulator and the demo: an embedded
//! broker, producer settings, and sending emulated records.

mod embedded;
pub(crate) mod fetch_queue;
mod produce;

pub use embedded::EmbeddedBroker;
pub use produce::{ProduceReport, create_topics, flush, produce_triples, producer_config, send};

use std::collections::BTreeMap;

use serde::Deserialize;

/// librdkafka takes every value as a string; TOML users write `session.timeout.ms = 6000`.
pub(crate) fn property_values<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Value {
        Text(String),
        Integer(i64),
        Float(f64),
        Bool(bool),
    }
    let raw = BTreeMap::<String, Value>::deserialize(deserializer)?;
    Ok(raw
        .into_iter()
        .map(|(key, value)| {
            let text = match value {
                Value::Text(text) => text,
                Value::Integer(n) => n.to_string(),
                Value::Float(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
            };
            (key, text)
        })
        .collect())
}
