//! Topology files (`topologies/*.toml`): the same graphs as the typed DSL, wired by name so
//! that they change without recompiling. See the README for the format.

mod build;
mod error;
mod filter;
mod interpolate;
mod registry;
#[cfg(test)]
mod tests;
mod topics;

use std::path::Path;

use toml::de::{DeTable, DeValue};

pub use build::BuiltTopology;
pub use error::{ConfigError, ConfigErrors};
pub use filter::{FilterConfig, Literal, Predicate};
pub use interpolate::interpolate;
pub use registry::{
    BYTES, Component, DEAD_LETTER, ErasedStream, Registry, SinkKind, SourceKind, StreamType,
    TransformKind, TransformOutput,
};
pub use topics::TopicsConfig;

use error::SourceText;

/// Reads, interpolates, validates and builds the topology in `path`.
pub fn load(path: &Path, registry: &Registry) -> Result<BuiltTopology, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        ConfigErrors(vec![ConfigError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            key: String::new(),
            message: format!("cannot read the topology file: {error}"),
        }])
    })?;
    from_str(path, &text, registry, &|name| std::env::var(name).ok())
}

/// As [`load`], from text already read; `env` resolves `${VAR}`.
pub fn from_str(
    path: &Path,
    text: &str,
    registry: &Registry,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<BuiltTopology, ConfigErrors> {
    let source = SourceText { path, text };
    let mut document = DeTable::parse(text).map_err(|error| {
        ConfigErrors(vec![source.error(
            error.span(),
            "",
            format!("not valid TOML: {}", error.message().trim()),
        )])
    })?;
    let mut errors = Vec::new();
    for (key, value) in document.get_mut().iter_mut() {
        interpolate_value(value, key.get_ref(), &source, env, &mut errors);
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    build::build(document, &source, registry).map_err(ConfigErrors)
}

fn interpolate_value(
    value: &mut toml::Spanned<DeValue<'_>>,
    key: &str,
    source: &SourceText,
    env: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<ConfigError>,
) {
    let span = value.span();
    match value.get_mut() {
        DeValue::String(text) => match interpolate(text, env) {
            Ok(done) => *text = done.into(),
            Err(message) => errors.push(source.error(Some(span), key, message)),
        },
        DeValue::Array(items) => {
            for item in items.iter_mut() {
                interpolate_value(item, key, source, env, errors);
            }
        }
        DeValue::Table(table) => {
            for (child, item) in table.iter_mut() {
                interpolate_value(
                    item,
                    &format!("{key}.{}", child.get_ref()),
                    source,
                    env,
                    errors,
                );
            }
        }
        _ => {}
    }
}
