//! What topology files can name: record types, and the kinds of sources, transforms and sinks.
//!
//! Topology files are wired at run time, but streams are typed. The registry bridges the
//! two: each registered record type carries the typed operations (tee, union, filter, sinks)
//! monomorphised for it, and the file's graph is type-checked by type name before anything
//! is built. Domains add their types and transforms (see `pinterest::register`).

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt::Display;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeValue, ValueDeserializer};

use super::error::{ConfigError, SourceText};
use super::filter::{FilterConfig, Predicate};
use super::topics::{TOPICS_TRANSFORM, TopicsConfig, from_topics, route_topics};
use crate::dsl::{DeadLetter, Fields, Stream, Topology};
use crate::sinks::{
    DeltaSink, DeltaSinkConfig, InvalidSetting, KafkaSink, KafkaSinkConfig, Row, Sink,
};
use crate::sources::{FileSource, FileSourceConfig, KafkaSource, KafkaSourceConfig, Source};

/// The type name of raw source records.
pub const BYTES: &str = "bytes";
/// The type name of dead letters.
pub const DEAD_LETTER: &str = "dead_letter";

/// A typed stream whose type is known only by name until it is used.
pub struct ErasedStream {
    pub type_name: &'static str,
    stream: Box<dyn Any + Send>,
}

impl ErasedStream {
    pub fn new<T: Send + 'static>(type_name: &'static str, stream: Stream<T>) -> Self {
        ErasedStream {
            type_name,
            stream: Box::new(stream),
        }
    }

    /// The typed stream; `None` if the registry's type names and Rust types disagree, which
    /// is a bug in a registration, not in a topology file.
    pub fn downcast<T: Send + 'static>(self) -> Option<Stream<T>> {
        self.stream.downcast::<Stream<T>>().ok().map(|s| *s)
    }
}

/// Typed operations of one registered record type.
pub(crate) trait StreamOps: Send + Sync {
    fn tee(&self, stream: ErasedStream, stage: &str, n: usize) -> Vec<ErasedStream>;
    fn union(&self, stage: &str, streams: Vec<ErasedStream>) -> ErasedStream;
    /// `None` if the type has no named fields.
    fn filter(&self, stream: ErasedStream, predicate: Predicate) -> Option<ErasedStream>;
    /// Keeps the records read from `topics`, as the stream `name`.
    fn keep_topics(&self, stream: ErasedStream, name: &str, topics: Vec<String>) -> ErasedStream;
    /// One stream per entry of `routes` (disjoint topic lists), each with its topics' records.
    fn route_topics(
        &self,
        stream: ErasedStream,
        stage: &str,
        routes: Vec<Vec<String>>,
    ) -> Vec<ErasedStream>;
    /// `None` if the type cannot be written to a table.
    fn delta_sink(
        &self,
        name: &str,
        stream: ErasedStream,
        config: DeltaSinkConfig,
    ) -> Option<anyhow::Result<String>>;
    /// `None` if the type has no JSON form.
    fn kafka_sink(
        &self,
        name: &str,
        stream: ErasedStream,
        config: KafkaSinkConfig,
    ) -> Option<anyhow::Result<String>>;
}

pub struct StreamType {
    pub name: &'static str,
    /// Field names for `filter`; empty for opaque types such as raw bytes.
    pub fields: &'static [&'static str],
    pub(crate) ops: Box<dyn StreamOps>,
}

struct TableOps<T>(&'static str, PhantomData<fn(T)>);
struct OpaqueOps<T>(&'static str, PhantomData<fn(T)>);

fn typed<T: Send + 'static>(stream: ErasedStream) -> Stream<T> {
    let name = stream.type_name;
    stream.downcast::<T>().unwrap_or_else(|| {
        panic!("registry bug: stream registered as `{name}` has another Rust type")
    })
}

fn tee_typed<T: Clone + Send + 'static>(
    name: &'static str,
    stream: ErasedStream,
    stage: &str,
    n: usize,
) -> Vec<ErasedStream> {
    typed::<T>(stream)
        .tee(stage, n)
        .into_iter()
        .map(|s| ErasedStream::new(name, s))
        .collect()
}

fn union_typed<T: Send + 'static>(
    name: &'static str,
    stage: &str,
    streams: Vec<ErasedStream>,
) -> ErasedStream {
    let mut streams = streams.into_iter().map(typed::<T>);
    let first = streams.next().expect("a union has inputs");
    ErasedStream::new(name, first.union(stage, streams.collect()))
}

fn route_topics_typed<T: Send + 'static>(
    name: &'static str,
    stream: ErasedStream,
    stage: &str,
    routes: Vec<Vec<String>>,
) -> Vec<ErasedStream> {
    route_topics(typed::<T>(stream), stage, routes)
        .into_iter()
        .map(|s| ErasedStream::new(name, s))
        .collect()
}

/// Connects the typed stream to `sink`; returns the sink's description for `laketide check`.
fn attach<T: Send + 'static>(name: &str, stream: ErasedStream, sink: impl Sink<T>) -> String {
    let description = sink.describe();
    typed::<T>(stream).sink(name, sink);
    description
}

/// A sink kind's answer for a stream type: its description, or an error at the right key.
fn sink_built(
    component: &Component,
    stream_type: &StreamType,
    built: Option<anyhow::Result<String>>,
    key: &str,
    unsupported: &str,
) -> Result<String, ConfigError> {
    match built {
        Some(Ok(description)) => Ok(description),
        Some(Err(error)) => Err(match error.downcast_ref::<InvalidSetting>() {
            Some(setting) => component.error(setting.key, setting.message.clone()),
            None => component.error(key, format!("{error:#}")),
        }),
        None => Err(component.error(
            "inputs",
            format!(
                "records of type `{}` {unsupported}; transform them first",
                stream_type.name
            ),
        )),
    }
}

impl<T: Row + Fields + serde::Serialize + Clone + Send + 'static> StreamOps for TableOps<T> {
    fn tee(&self, stream: ErasedStream, stage: &str, n: usize) -> Vec<ErasedStream> {
        tee_typed::<T>(self.0, stream, stage, n)
    }

    fn union(&self, stage: &str, streams: Vec<ErasedStream>) -> ErasedStream {
        union_typed::<T>(self.0, stage, streams)
    }

    fn filter(&self, stream: ErasedStream, predicate: Predicate) -> Option<ErasedStream> {
        let field = predicate.field();
        let filtered =
            typed::<T>(stream).filter(move |value| predicate.matches(value.field_at(field)));
        Some(ErasedStream::new(self.0, filtered))
    }

    fn keep_topics(&self, stream: ErasedStream, name: &str, topics: Vec<String>) -> ErasedStream {
        ErasedStream::new(self.0, from_topics(typed::<T>(stream), topics).named(name))
    }

    fn route_topics(
        &self,
        stream: ErasedStream,
        stage: &str,
        routes: Vec<Vec<String>>,
    ) -> Vec<ErasedStream> {
        route_topics_typed::<T>(self.0, stream, stage, routes)
    }

    fn delta_sink(
        &self,
        name: &str,
        stream: ErasedStream,
        config: DeltaSinkConfig,
    ) -> Option<anyhow::Result<String>> {
        Some(DeltaSink::<T>::new(config).map(|sink| attach(name, stream, sink)))
    }

    fn kafka_sink(
        &self,
        name: &str,
        stream: ErasedStream,
        config: KafkaSinkConfig,
    ) -> Option<anyhow::Result<String>> {
        Some(KafkaSink::<T>::new(config).map(|sink| attach(name, stream, sink)))
    }
}

impl<T: Clone + Send + 'static> StreamOps for OpaqueOps<T> {
    fn tee(&self, stream: ErasedStream, stage: &str, n: usize) -> Vec<ErasedStream> {
        tee_typed::<T>(self.0, stream, stage, n)
    }

    fn union(&self, stage: &str, streams: Vec<ErasedStream>) -> ErasedStream {
        union_typed::<T>(self.0, stage, streams)
    }

    fn filter(&self, _: ErasedStream, _: Predicate) -> Option<ErasedStream> {
        None
    }

    fn keep_topics(&self, stream: ErasedStream, name: &str, topics: Vec<String>) -> ErasedStream {
        ErasedStream::new(self.0, from_topics(typed::<T>(stream), topics).named(name))
    }

    fn route_topics(
        &self,
        stream: ErasedStream,
        stage: &str,
        routes: Vec<Vec<String>>,
    ) -> Vec<ErasedStream> {
        route_topics_typed::<T>(self.0, stream, stage, routes)
    }

    fn delta_sink(
        &self,
        _: &str,
        _: ErasedStream,
        _: DeltaSinkConfig,
    ) -> Option<anyhow::Result<String>> {
        None
    }

    fn kafka_sink(
        &self,
        _: &str,
        _: ErasedStream,
        _: KafkaSinkConfig,
    ) -> Option<anyhow::Result<String>> {
        None
    }
}

/// One component's table from the file, minus `type` and `input(s)`, for its kind to parse.
pub struct Component<'a> {
    /// `sources.pin`, `sinks.dead_letters`, ...
    pub(crate) key: String,
    pub(crate) value: Spanned<DeValue<'a>>,
    pub(crate) text: &'a SourceText<'a>,
}

impl Component<'_> {
    /// Deserializes the component's settings; unknown keys and wrong types are errors that
    /// point at the offending line.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        T::deserialize(ValueDeserializer::from(self.value.clone())).map_err(|error| {
            self.text.error(
                error.span().or(Some(self.value.span())),
                &self.key,
                error.message().trim().to_owned(),
            )
        })
    }

    /// An error about one of the component's keys, located at that key (or the component).
    pub fn error(&self, key: &str, message: impl Into<String>) -> ConfigError {
        let span = match self.value.get_ref() {
            DeValue::Table(table) => table
                .iter()
                .find(|(k, _)| k.get_ref() == key)
                .map(|(k, _)| k.span()),
            _ => None,
        };
        self.text.error(
            span.or(Some(self.value.span())),
            &format!("{}.{key}", self.key),
            message,
        )
    }
}

type SourceBuild = Box<dyn Fn(&Component) -> Result<Box<dyn Source>, ConfigError> + Send + Sync>;
type TransformBuild = Box<
    dyn Fn(&Component, &str, ErasedStream, &StreamType) -> Result<TransformOutput, ConfigError>
        + Send
        + Sync,
>;
type SinkBuild = Box<
    dyn Fn(&Component, &str, ErasedStream, &StreamType) -> Result<String, ConfigError>
        + Send
        + Sync,
>;

pub struct SourceKind {
    pub output: &'static str,
    pub help: &'static str,
    pub(crate) build: SourceBuild,
}

pub struct TransformKind {
    /// Required input type; `None` accepts any.
    pub input: Option<&'static str>,
    /// Output type; `None` means the same as the input.
    pub output: Option<&'static str>,
    /// Has a `<name>.dead` output of dead letters.
    pub fallible: bool,
    pub help: &'static str,
    pub(crate) build: TransformBuild,
}

pub struct TransformOutput {
    pub output: ErasedStream,
    pub dead: Option<ErasedStream>,
}

pub struct SinkKind {
    pub help: &'static str,
    /// Produces records with their Kafka headers (so a source that drops them is worth a note).
    pub forwards_headers: bool,
    pub(crate) build: SinkBuild,
}

/// Settings of a kind that takes none: any key is a mistake worth reporting.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoSettings {}

#[derive(Default)]
pub struct Registry {
    pub(crate) types: BTreeMap<&'static str, StreamType>,
    pub(crate) sources: BTreeMap<&'static str, SourceKind>,
    pub(crate) transforms: BTreeMap<&'static str, TransformKind>,
    pub(crate) sinks: BTreeMap<&'static str, SinkKind>,
}

impl Registry {
    /// The framework's own kinds: `file` source, `filter` transform, `delta` sink, and the
    /// `bytes` and `dead_letter` types.
    pub fn with_builtins() -> Self {
        let mut registry = Registry::default();
        registry.register_opaque_type::<bytes::Bytes>(BYTES);
        registry.register_table_type::<DeadLetter>(DEAD_LETTER);
        registry.sources.insert(
            "file",
            SourceKind {
                output: BYTES,
                help: "JSON lines from a file, directory or glob; or a Kafka Connect archive",
                build: Box::new(|component| {
                    let config: FileSourceConfig = component.parse()?;
                    config
                        .validate()
                        .map_err(|(key, message)| component.error(key, message))?;
                    Ok(Box::new(FileSource::new(config)) as Box<dyn Source>)
                }),
            },
        );
        registry.sources.insert(
            "kafka",
            SourceKind {
                output: BYTES,
                help: "a Kafka consumer group over one or more topics, exactly once into tables",
                build: Box::new(|component| {
                    let config: KafkaSourceConfig = component.parse()?;
                    config
                        .validate()
                        .map_err(|(key, message)| component.error(key, message))?;
                    Ok(Box::new(KafkaSource::new(config)) as Box<dyn Source>)
                }),
            },
        );
        registry.transforms.insert(
            "filter",
            TransformKind {
                input: None,
                output: None,
                fallible: false,
                help: "keeps records whose `field` satisfies one predicate",
                build: Box::new(|component, _name, input, stream_type| {
                    let config: FilterConfig = component.parse()?;
                    if stream_type.fields.is_empty() {
                        return Err(component.error(
                            "field",
                            format!("records of type `{}` have no named fields to filter on; filter after a transform that parses them", stream_type.name),
                        ));
                    }
                    let predicate = config
                        .compile(stream_type.fields)
                        .map_err(|(key, message)| component.error(key, message))?;
                    let output = stream_type.ops.filter(input, predicate).ok_or_else(|| {
                        component.error("field", format!("records of type `{}` cannot be filtered", stream_type.name))
                    })?;
                    Ok(TransformOutput { output, dead: None })
                }),
            },
        );
        registry.transforms.insert(
            TOPICS_TRANSFORM,
            TransformKind {
                input: None,
                output: None,
                fallible: false,
                help: "keeps records read from the given Kafka `topics`, to route one consumer's topics apart",
                build: Box::new(|component, name, input, stream_type| {
                    let config: TopicsConfig = component.parse()?;
                    config
                        .validate()
                        .map_err(|(key, message)| component.error(key, message))?;
                    let output = stream_type.ops.keep_topics(input, name, config.topics);
                    Ok(TransformOutput { output, dead: None })
                }),
            },
        );
        registry.sinks.insert(
            "delta",
            SinkKind {
                help: "appends to a Delta table, exactly once",
                forwards_headers: false,
                build: Box::new(|component, name, input, stream_type| {
                    let config: DeltaSinkConfig = component.parse()?;
                    config
                        .validate()
                        .map_err(|(key, message)| component.error(key, message))?;
                    let built = stream_type.ops.delta_sink(name, input, config);
                    sink_built(
                        component,
                        stream_type,
                        built,
                        "table",
                        "cannot be written to a table",
                    )
                }),
            },
        );
        registry.sinks.insert(
            "kafka",
            SinkKind {
                help: "produces JSON to a Kafka topic with an idempotent producer (at-least-once)",
                forwards_headers: true,
                build: Box::new(|component, name, input, stream_type| {
                    let config: KafkaSinkConfig = component.parse()?;
                    config
                        .validate()
                        .map_err(|(key, message)| component.error(key, message))?;
                    let built = stream_type.ops.kafka_sink(name, input, config);
                    sink_built(component, stream_type, built, "topic", "have no JSON form")
                }),
            },
        );
        registry
    }

    /// A type that can be filtered by field and written to tables.
    pub fn register_table_type<T: Row + Fields + serde::Serialize + Clone + Send + 'static>(
        &mut self,
        name: &'static str,
    ) {
        self.types.insert(
            name,
            StreamType {
                name,
                fields: T::field_names(),
                ops: Box::new(TableOps::<T>(name, PhantomData)),
            },
        );
    }

    /// A type that can only be passed on (tee, union) and transformed.
    pub fn register_opaque_type<T: Clone + Send + 'static>(&mut self, name: &'static str) {
        self.types.insert(
            name,
            StreamType {
                name,
                fields: &[],
                ops: Box::new(OpaqueOps::<T>(name, PhantomData)),
            },
        );
    }

    /// A settings-free transform that may reject records: `try_map` with `f`; rejected records
    /// go to the `<name>.dead` output with the error `f` returned.
    pub fn register_fallible_transform<I, O, E, F>(
        &mut self,
        kind: &'static str,
        input: &'static str,
        output: &'static str,
        help: &'static str,
        f: F,
    ) where
        I: Send + 'static,
        O: Send + 'static,
        E: Display,
        F: Fn(I) -> Result<O, E> + Clone + Send + Sync + 'static,
    {
        self.transforms.insert(
            kind,
            TransformKind {
                input: Some(input),
                output: Some(output),
                fallible: true,
                help,
                build: Box::new(move |component, name, stream, _| {
                    let _: NoSettings = component.parse()?;
                    let (ok, dead) = typed::<I>(stream).try_map(name, f.clone());
                    Ok(TransformOutput {
                        output: ErasedStream::new(output, ok),
                        dead: Some(ErasedStream::new(DEAD_LETTER, dead)),
                    })
                }),
            },
        );
    }

    /// Kind names for "expected one of" messages.
    pub(crate) fn names<V>(map: &BTreeMap<&'static str, V>) -> String {
        map.keys().copied().collect::<Vec<_>>().join(", ")
    }

    /// Starts an erased source stream in `topology`.
    pub(crate) fn start_source(
        topology: &Topology,
        name: &str,
        source: Box<dyn Source>,
        output: &'static str,
    ) -> ErasedStream {
        ErasedStream::new(output, topology.source(name, source))
    }
}
