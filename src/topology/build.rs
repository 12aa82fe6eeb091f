//! From a parsed file to a running graph: collect components, resolve inputs, order and
//! type-check them, then build typed streams through the registry.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::{ConfigError, SourceText};
use super::registry::{Component, DEAD_LETTER, ErasedStream, Registry};
use super::topics::{Reach, TOPICS_TRANSFORM, TopicsConfig, disjoint};
use crate::dsl::Topology;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Sources,
    Transforms,
    Sinks,
}

impl Section {
    fn key(self) -> &'static str {
        match self {
            Section::Sources => "sources",
            Section::Transforms => "transforms",
            Section::Sinks => "sinks",
        }
    }
}

struct Node<'a> {
    section: Section,
    name: String,
    kind: String,
    inputs: Vec<Spanned<String>>,
    component: Component<'a>,
}

/// A built topology, ready to run, and the graph it was built from, for `laketide check`.
pub struct BuiltTopology {
    pub topology: Topology,
    pub name: String,
    pub description: String,
}

pub(super) fn build(
    document: Spanned<DeTable<'_>>,
    text: &SourceText<'_>,
    registry: &Registry,
) -> Result<BuiltTopology, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let mut nodes: Vec<Node> = Vec::new();
    let mut name = text
        .path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "topology".into());

    for (key, value) in document.into_inner() {
        let section = match key.get_ref().as_ref() {
            "sources" => Section::Sources,
            "transforms" => Section::Transforms,
            "sinks" => Section::Sinks,
            "name" => {
                match value.get_ref().as_str() {
                    Some(n) => name = n.to_owned(),
                    None => errors.push(text.error(Some(value.span()), "name", "must be a string")),
                }
                continue;
            }
            other => {
                errors.push(text.error(
                    Some(key.span()),
                    other,
                    "unknown top-level key; a topology has `name`, [sources.*], [transforms.*] and [sinks.*]",
                ));
                continue;
            }
        };
        let span = value.span();
        let DeValue::Table(components) = value.into_inner() else {
            errors.push(text.error(
                Some(span),
                section.key(),
                "must be a table of named components, like [sources.pin]",
            ));
            continue;
        };
        for (component_name, component_value) in components {
            match node(section, component_name, component_value, text, registry) {
                Ok(node) => nodes.push(node),
                Err(error) => errors.push(error),
            }
        }
    }
    if !nodes.iter().any(|n| n.section == Section::Sources) && errors.is_empty() {
        errors.push(text.error(
            None,
            "sources",
            "the topology has no source; add a [sources.NAME] table",
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    // Outputs and their types, in dependency order.
    let order = dependency_order(&nodes, text, registry)?;
    let mut output_types: HashMap<String, &'static str> = HashMap::new();
    let mut consumers: BTreeMap<String, usize> = BTreeMap::new();
    let mut input_types: HashMap<usize, &'static str> = HashMap::new();
    for &index in &order {
        let node = &nodes[index];
        let mut input_type: Option<&'static str> = None;
        for input in &node.inputs {
            let Some(&found) = output_types.get(input.get_ref()) else {
                continue; // reported by dependency_order
            };
            *consumers.entry(input.get_ref().clone()).or_default() += 1;
            match input_type {
                Some(expected) if expected != found => errors.push(text.error(
                    Some(input.span()),
                    &format!("{}.{}.inputs", node.section.key(), node.name),
                    format!("`{}` carries `{found}` records but the other inputs carry `{expected}`; a component's inputs must share one type", input.get_ref()),
                )),
                _ => input_type = Some(found),
            }
        }
        let key = format!("{}.{}", node.section.key(), node.name);
        match node.section {
            Section::Sources => {
                if let Some(kind) = registry.sources.get(node.kind.as_str()) {
                    output_types.insert(node.name.clone(), kind.output);
                }
            }
            Section::Transforms => {
                let Some(kind) = registry.transforms.get(node.kind.as_str()) else {
                    continue;
                };
                let Some(input_type) = input_type else {
                    continue;
                };
                if let Some(required) = kind.input
                    && required != input_type
                {
                    errors.push(text.error(
                        node.inputs.first().map(Spanned::span),
                        &format!("{key}.input"),
                        format!("transform `{}` takes `{required}` records but its input carries `{input_type}`", node.kind),
                    ));
                    continue;
                }
                input_types.insert(index, input_type);
                output_types.insert(node.name.clone(), kind.output.unwrap_or(input_type));
                if kind.fallible {
                    output_types.insert(format!("{}.dead", node.name), DEAD_LETTER);
                }
            }
            Section::Sinks => {
                if let Some(input_type) = input_type {
                    input_types.insert(index, input_type);
                }
            }
        }
    }
    for (output, ty) in &output_types {
        if !consumers.contains_key(output) {
            let message = if *ty == DEAD_LETTER {
                format!(
                    "the dead letters `{output}` go nowhere; add \"{output}\" to the inputs of a sink (a dead-letter table), so rejected records are kept"
                )
            } else {
                format!(
                    "the output `{output}` is not used; add it to the inputs of a sink or a transform, or remove the component"
                )
            };
            let owner = output.trim_end_matches(".dead");
            let span = nodes
                .iter()
                .find(|n| n.name == owner)
                .map(|n| n.component.value.span());
            let section = nodes
                .iter()
                .find(|n| n.name == owner)
                .map_or("", |n| n.section.key());
            errors.push(text.error(span, &format!("{section}.{owner}"), message));
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| (e.line, e.column));
        return Err(errors);
    }

    // An output read only by `topics` transforms with disjoint topics is split among them
    // instead of copied to each (see `topics`). The routes are in build order.
    let mut routed: BTreeMap<String, (Vec<String>, Vec<Vec<String>>)> = BTreeMap::new();
    for (output, &wanted) in &consumers {
        let readers: Vec<&Node> = order
            .iter()
            .map(|&i| &nodes[i])
            .filter(|n| n.inputs.iter().any(|input| input.get_ref() == output))
            .collect();
        if wanted < 2 || readers.len() != wanted {
            continue;
        }
        let routes: Option<Vec<Vec<String>>> = readers
            .iter()
            .map(|reader| {
                (reader.section == Section::Transforms && reader.kind == TOPICS_TRANSFORM)
                    .then(|| reader.component.parse::<TopicsConfig>().ok())
                    .flatten()
                    .map(|config| config.topics)
            })
            .collect();
        if let Some(routes) = routes
            && disjoint(&routes)
        {
            let names = readers.iter().map(|reader| reader.name.clone()).collect();
            routed.insert(output.clone(), (names, routes));
        }
    }

    // Build typed streams.
    let topology = Topology::new(&name);
    let mut available: HashMap<String, Vec<ErasedStream>> = HashMap::new();
    let mut description = String::new();
    let _ = writeln!(description, "topology `{name}` ({})", text.path.display());
    let provide = |available: &mut HashMap<String, Vec<ErasedStream>>,
                   output: String,
                   stream: ErasedStream| {
        let wanted = consumers.get(&output).copied().unwrap_or(0);
        let streams = if let Some((_, routes)) = routed.get(&output) {
            let type_name = stream.type_name;
            let mut routes = registry.types[type_name].ops.route_topics(
                stream,
                &format!("{output}.routes"),
                routes.clone(),
            );
            // Readers take their stream from the end, in build order.
            routes.reverse();
            routes
        } else if wanted > 1 {
            let type_name = stream.type_name;
            registry.types[type_name]
                .ops
                .tee(stream, &format!("{output}.tee"), wanted)
        } else {
            vec![stream]
        };
        available.insert(output, streams);
    };
    // What reaches each output from its sources, to check `topics` transforms and Kafka sinks.
    let mut reaches: HashMap<String, Reach> = HashMap::new();
    let mut notes = String::new();
    for &index in &order {
        let node = &nodes[index];
        // An input without a reach failed to build (and was reported): check nothing after it.
        let reach = node
            .inputs
            .iter()
            .map(|input| reaches.get(input.get_ref()))
            .try_fold(None, |all: Option<Reach>, one| {
                let one = one?;
                Some(Some(match all {
                    Some(all) => all.union(one),
                    None => one.clone(),
                }))
            })
            .map_or_else(Reach::unchecked, Option::unwrap_or_default);
        let mut inputs = Vec::new();
        for input in &node.inputs {
            if let Some(stream) = available.get_mut(input.get_ref()).and_then(Vec::pop) {
                inputs.push(stream);
            }
        }
        let input = match inputs.len() {
            0 => None,
            1 => inputs.pop(),
            _ => {
                let type_name = inputs[0].type_name;
                Some(
                    registry.types[type_name]
                        .ops
                        .union(&format!("{}.inputs", node.name), inputs),
                )
            }
        };
        let from = node
            .inputs
            .iter()
            .map(|i| i.get_ref().as_str())
            .collect::<Vec<_>>()
            .join(", ");
        match (node.section, input) {
            (Section::Sources, _) => {
                let kind = &registry.sources[node.kind.as_str()];
                match (kind.build)(&node.component) {
                    Ok(source) => {
                        let _ = writeln!(
                            description,
                            "  source    {:<16} {:<14} -> {}  ({})",
                            node.name,
                            node.kind,
                            kind.output,
                            source.describe()
                        );
                        reaches.insert(
                            node.name.clone(),
                            Reach::of_source(&node.name, &source.origin()),
                        );
                        let stream =
                            Registry::start_source(&topology, &node.name, source, kind.output);
                        provide(&mut available, node.name.clone(), stream);
                    }
                    Err(error) => errors.push(error),
                }
            }
            (Section::Transforms, Some(input)) => {
                let kind = &registry.transforms[node.kind.as_str()];
                let input_type = registry.types.get(input.type_name);
                let Some(stream_type) = input_type else {
                    continue;
                };
                let in_name = stream_type.name;
                let mut reach = reach;
                if node.kind == TOPICS_TRANSFORM
                    && let Ok(config) = node.component.parse::<TopicsConfig>()
                {
                    match reach.through_topics(&node.name, &config.topics) {
                        Ok(passed) => reach = passed,
                        Err(message) => {
                            errors.push(node.component.error("topics", message));
                            // Reported once, here, not again by each transform after it.
                            reach = Reach::unchecked();
                        }
                    }
                }
                reaches.insert(format!("{}.dead", node.name), reach.clone());
                reaches.insert(node.name.clone(), reach);
                match (kind.build)(&node.component, &node.name, input, stream_type) {
                    Ok(out) => {
                        let mut line = format!(
                            "  transform {:<16} {:<14} <- {from} : {in_name} -> {}",
                            node.name, node.kind, out.output.type_name
                        );
                        provide(&mut available, node.name.clone(), out.output);
                        if let Some(dead) = out.dead {
                            let _ = write!(line, ", {}.dead -> {DEAD_LETTER}", node.name);
                            provide(&mut available, format!("{}.dead", node.name), dead);
                        }
                        let _ = writeln!(description, "{line}");
                    }
                    Err(error) => errors.push(error),
                }
            }
            (Section::Sinks, Some(input)) => {
                let kind = &registry.sinks[node.kind.as_str()];
                let Some(stream_type) = registry.types.get(input.type_name) else {
                    continue;
                };
                let in_name = stream_type.name;
                if kind.forwards_headers && !reach.headers_dropped_by.is_empty() {
                    let sources: Vec<&str> = reach
                        .headers_dropped_by
                        .iter()
                        .map(String::as_str)
                        .collect();
                    let _ = writeln!(
                        notes,
                        "  note      sink `{}` forwards Kafka headers, but source `{}` has headers = false: its records arrive here without them; set headers = true there to forward them",
                        node.name,
                        sources.join("`, `")
                    );
                }
                match (kind.build)(&node.component, &node.name, input, stream_type) {
                    Ok(what) => {
                        let _ = writeln!(
                            description,
                            "  sink      {:<16} {:<14} <- {from} : {in_name}  ({what})",
                            node.name, node.kind
                        );
                    }
                    Err(error) => errors.push(error),
                }
            }
            _ => {}
        }
    }
    for (output, (readers, routes)) in &routed {
        let to: Vec<String> = readers
            .iter()
            .zip(routes)
            .map(|(reader, topics)| format!("{reader} {topics:?}"))
            .collect();
        let _ = writeln!(
            description,
            "  route     {output} by topic, each record to one of: {}",
            to.join(", ")
        );
    }
    description.push_str(&notes);
    for problem in topology.errors() {
        errors.push(text.error(None, "", problem));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(BuiltTopology {
        topology,
        name,
        description,
    })
}

/// Reads one component: its `type`, its inputs, and the rest for the kind to parse.
fn node<'a>(
    section: Section,
    name: Spanned<std::borrow::Cow<'a, str>>,
    value: Spanned<DeValue<'a>>,
    text: &'a SourceText<'a>,
    registry: &Registry,
) -> Result<Node<'a>, ConfigError> {
    let key = format!("{}.{}", section.key(), name.get_ref());
    if name.get_ref().is_empty()
        || name.get_ref().contains('.')
        || name.get_ref().contains(char::is_whitespace)
    {
        return Err(text.error(
            Some(name.span()),
            &key,
            "component names must be non-empty, without dots or spaces",
        ));
    }
    let span = value.span();
    let DeValue::Table(mut table) = value.into_inner() else {
        return Err(text.error(
            Some(span),
            &key,
            format!("must be a table, like [{key}] with a `type`"),
        ));
    };
    let kinds = match section {
        Section::Sources => Registry::names(&registry.sources),
        Section::Transforms => Registry::names(&registry.transforms),
        Section::Sinks => Registry::names(&registry.sinks),
    };
    let kind = match remove(&mut table, "type") {
        Some(kind) => match kind.get_ref().as_str() {
            Some(k) => {
                let known = match section {
                    Section::Sources => registry.sources.contains_key(k),
                    Section::Transforms => registry.transforms.contains_key(k),
                    Section::Sinks => registry.sinks.contains_key(k),
                };
                if !known {
                    return Err(text.error(
                        Some(kind.span()),
                        &format!("{key}.type"),
                        format!("unknown type `{k}`; expected one of: {kinds}"),
                    ));
                }
                k.to_owned()
            }
            None => {
                return Err(text.error(
                    Some(kind.span()),
                    &format!("{key}.type"),
                    "must be a string",
                ));
            }
        },
        None => {
            return Err(text.error(
                Some(span),
                &key,
                format!("has no `type`; add type = \"...\", one of: {kinds}"),
            ));
        }
    };
    let mut inputs = Vec::new();
    let input = remove(&mut table, "input");
    let many = remove(&mut table, "inputs");
    match (section, input, many) {
        (Section::Sources, None, None) => {}
        (Section::Sources, Some(v), _) | (Section::Sources, None, Some(v)) => {
            return Err(text.error(
                Some(v.span()),
                &key,
                "a source has no inputs; remove `input`/`inputs`",
            ));
        }
        (_, Some(_), Some(v)) => {
            return Err(text.error(
                Some(v.span()),
                &key,
                "give either `input` or `inputs`, not both",
            ));
        }
        (_, None, None) => {
            return Err(text.error(
                Some(span),
                &key,
                "has no input; add input = \"<source or transform name>\" (or inputs = [...])",
            ));
        }
        (_, Some(v), None) => match v.get_ref().as_str() {
            Some(s) => inputs.push(Spanned::new(v.span(), s.to_owned())),
            None => {
                return Err(text.error(
                    Some(v.span()),
                    &format!("{key}.input"),
                    "must be a string naming a source or transform",
                ));
            }
        },
        (_, None, Some(v)) => {
            let list_span = v.span();
            let DeValue::Array(items) = v.into_inner() else {
                return Err(text.error(
                    Some(list_span),
                    &format!("{key}.inputs"),
                    "must be a list of names, like [\"clean_pin\"]",
                ));
            };
            for item in items.iter() {
                match item.get_ref().as_str() {
                    Some(s) => inputs.push(Spanned::new(item.span(), s.to_owned())),
                    None => {
                        return Err(text.error(
                            Some(item.span()),
                            &format!("{key}.inputs"),
                            "must be a list of names",
                        ));
                    }
                }
            }
            if inputs.is_empty() {
                return Err(text.error(
                    Some(list_span),
                    &format!("{key}.inputs"),
                    "is empty; name at least one input",
                ));
            }
        }
    }
    Ok(Node {
        section,
        name: name.get_ref().to_string(),
        kind,
        inputs,
        component: Component {
            key,
            value: Spanned::new(span, DeValue::Table(table)),
            text,
        },
    })
}

fn remove<'a>(table: &mut DeTable<'a>, key: &str) -> Option<Spanned<DeValue<'a>>> {
    let found = table
        .iter()
        .find(|(k, _)| k.get_ref() == key)
        .map(|(k, _)| k.clone())?;
    table.remove(&found)
}

/// Nodes ordered so every input is built before its consumers; reports unknown inputs,
/// duplicate names and cycles.
fn dependency_order(
    nodes: &[Node],
    text: &SourceText,
    registry: &Registry,
) -> Result<Vec<usize>, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let mut producer: HashMap<String, usize> = HashMap::new();
    for (index, node) in nodes.iter().enumerate() {
        let mut outputs = vec![node.name.clone()];
        if node.section == Section::Transforms
            && registry
                .transforms
                .get(node.kind.as_str())
                .is_some_and(|k| k.fallible)
        {
            outputs.push(format!("{}.dead", node.name));
        }
        if node.section == Section::Sinks {
            outputs.clear();
        }
        for output in outputs {
            if let Some(&other) = producer.get(&output) {
                errors.push(node.component.error("type", format!(
                    "the name `{}` is also used by {}.{}; sources and transforms share one namespace",
                    node.name, nodes[other].section.key(), nodes[other].name
                )));
            }
            producer.insert(output, index);
        }
    }
    let outputs_list = {
        let mut names: Vec<&String> = producer.keys().collect();
        names.sort();
        names
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for node in nodes {
        for input in &node.inputs {
            if !producer.contains_key(input.get_ref()) {
                errors.push(text.error(
                    Some(input.span()),
                    &format!("{}.{}.input", node.section.key(), node.name),
                    format!(
                        "unknown input `{}`; known outputs are: {outputs_list}",
                        input.get_ref()
                    ),
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // Depth-first, reporting the first cycle found.
    let mut state = vec![0u8; nodes.len()]; // 0 new, 1 visiting, 2 done
    let mut order = Vec::with_capacity(nodes.len());
    fn visit(
        index: usize,
        nodes: &[Node],
        producer: &HashMap<String, usize>,
        state: &mut [u8],
        order: &mut Vec<usize>,
    ) -> Result<(), usize> {
        match state[index] {
            2 => return Ok(()),
            1 => return Err(index),
            _ => {}
        }
        state[index] = 1;
        for input in &nodes[index].inputs {
            if let Some(&dependency) = producer.get(input.get_ref()) {
                visit(dependency, nodes, producer, state, order)?;
            }
        }
        state[index] = 2;
        order.push(index);
        Ok(())
    }
    for index in 0..nodes.len() {
        if let Err(at) = visit(index, nodes, &producer, &mut state, &mut order) {
            let node = &nodes[at];
            return Err(vec![node.component.error(
                "input",
                format!("`{}` is part of a cycle; a component cannot consume its own output, directly or through others", node.name),
            )]);
        }
    }
    Ok(order)
}
