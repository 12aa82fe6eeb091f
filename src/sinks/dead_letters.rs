//! The dead-letter table: one row per record an operator rejected.

use std::sync::{Arc, LazyLock};

use deltalake::arrow::array::{
    ArrayBuilder, ArrayRef, BinaryBuilder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use deltalake::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use super::{Row, RowBuilder};
use crate::dsl::{DeadLetter, FieldValue, Fields};

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("raw", DataType::Binary, true),
        // The same bytes as text when they are valid UTF-8: what people read and query.
        Field::new("raw_text", DataType::Utf8, true),
        Field::new("source", DataType::Utf8, true),
        Field::new("partition", DataType::Utf8, true),
        Field::new("offset", DataType::Int64, true),
        Field::new("position", DataType::Utf8, true),
        Field::new("stage", DataType::Utf8, true),
        Field::new("error", DataType::Utf8, true),
        Field::new(
            "failed_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
    ]))
});

impl Row for DeadLetter {
    type Builder = DeadLetterBuilder;

    fn schema() -> SchemaRef {
        SCHEMA.clone()
    }

    fn builder(capacity: usize) -> DeadLetterBuilder {
        DeadLetterBuilder {
            raw: BinaryBuilder::with_capacity(capacity, 0),
            raw_text: StringBuilder::new(),
            source: StringBuilder::new(),
            partition: StringBuilder::new(),
            offset: Int64Builder::with_capacity(capacity),
            position: StringBuilder::new(),
            stage: StringBuilder::new(),
            error: StringBuilder::new(),
            failed_at: TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"),
            bytes: 0,
        }
    }
}

pub struct DeadLetterBuilder {
    raw: BinaryBuilder,
    raw_text: StringBuilder,
    source: StringBuilder,
    partition: StringBuilder,
    offset: Int64Builder,
    position: StringBuilder,
    stage: StringBuilder,
    error: StringBuilder,
    failed_at: TimestampMicrosecondBuilder,
    bytes: usize,
}

impl RowBuilder<DeadLetter> for DeadLetterBuilder {
    fn append(&mut self, row: &DeadLetter) {
        self.raw.append_value(&row.raw);
        self.raw_text
            .append_option(std::str::from_utf8(&row.raw).ok());
        self.source.append_value(&row.position.partition.source);
        self.partition.append_value(&row.position.partition.name);
        self.offset.append_value(row.position.offset);
        self.position.append_value(row.position.to_string());
        self.stage.append_value(&row.stage);
        self.error.append_value(&row.error);
        self.failed_at.append_value(row.failed_at);
        self.bytes += 2 * row.raw.len() + row.error.len() + 64;
    }

    fn len(&self) -> usize {
        self.offset.len()
    }

    fn byte_size(&self) -> usize {
        self.bytes
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        self.bytes = 0;
        vec![
            Arc::new(self.raw.finish()),
            Arc::new(self.raw_text.finish()),
            Arc::new(self.source.finish()),
            Arc::new(self.partition.finish()),
            Arc::new(self.offset.finish()),
            Arc::new(self.position.finish()),
            Arc::new(self.stage.finish()),
            Arc::new(self.error.finish()),
            Arc::new(self.failed_at.finish()),
        ]
    }
}

impl Fields for DeadLetter {
    fn field_names() -> &'static [&'static str] {
        &[
            "source",
            "partition",
            "offset",
            "stage",
            "error",
            "failed_at",
        ]
    }

    fn field_at(&self, index: usize) -> FieldValue<'_> {
        match index {
            0 => FieldValue::Str(&self.position.partition.source),
            1 => FieldValue::Str(&self.position.partition.name),
            2 => FieldValue::Int(self.position.offset),
            3 => FieldValue::Str(&self.stage),
            4 => FieldValue::Str(&self.error),
            5 => FieldValue::Timestamp(self.failed_at),
            _ => FieldValue::Null,
        }
    }
}

/// As JSON (for the Kafka sink): the position spelled out, the raw bytes as text when they are
/// valid UTF-8 and as hex otherwise, so nothing is lost either way.
impl serde::Serialize for DeadLetter {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = serializer.serialize_struct("DeadLetter", 9)?;
        out.serialize_field("source", &*self.position.partition.source)?;
        out.serialize_field("partition", &*self.position.partition.name)?;
        out.serialize_field("offset", &self.position.offset)?;
        out.serialize_field("position", &self.position.to_string())?;
        out.serialize_field("stage", &*self.stage)?;
        out.serialize_field("error", &self.error)?;
        out.serialize_field("failed_at", &self.failed_at)?;
        match std::str::from_utf8(&self.raw) {
            Ok(text) => {
                out.serialize_field("raw_text", text)?;
                out.serialize_field("raw_hex", &None::<String>)?;
            }
            Err(_) => {
                let hex: String = self.raw.iter().map(|b| format!("{b:02x}")).collect();
                out.serialize_field("raw_text", &None::<String>)?;
                out.serialize_field("raw_hex", &hex)?;
            }
        }
        out.end()
    }
}
