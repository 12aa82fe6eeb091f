//! The `pin`, `geo` and `user` tables: column types from the cleaning contract (int32,
//! list<double>, timestamp UTC microseconds), built column by column from the typed records.

use std::sync::{Arc, LazyLock};

use deltalake::arrow::array::{
    Array, ArrayBuilder, ArrayRef, Float64Builder, Int32Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use deltalake::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use super::records::{Geo, Pin, User};
use crate::dsl::{FieldValue, Fields};
use crate::sinks::{Row, RowBuilder, finish_primitive, finish_text};

fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// Delta names a list's item `element`; building it under that name means batches match the
/// table's schema without a cast.
fn coordinate_item() -> Arc<Field> {
    Arc::new(Field::new("element", DataType::Float64, true))
}

/// A geo's `[latitude, longitude]` column, sized for `rows` rows.
fn coordinates_builder(rows: usize) -> ListBuilder<Float64Builder> {
    ListBuilder::with_capacity(Float64Builder::with_capacity(rows * 2), rows)
        .with_field(coordinate_item())
}

fn schema(columns: &[(&str, DataType)]) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, ty)| Field::new(*name, ty.clone(), true))
            .collect::<Vec<_>>(),
    ))
}

fn text(value: Option<&str>) -> FieldValue<'_> {
    value.map_or(FieldValue::Null, FieldValue::Str)
}

fn int(value: Option<i32>) -> FieldValue<'static> {
    value.map_or(FieldValue::Null, |v| FieldValue::Int(v.into()))
}

fn timestamp(value: Option<i64>) -> FieldValue<'static> {
    value.map_or(FieldValue::Null, FieldValue::Timestamp)
}

static PIN_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    use DataType::{Int32, Utf8};
    schema(&[
        ("ind", Int32),
        ("unique_id", Utf8),
        ("title", Utf8),
        ("description", Utf8),
        ("follower_count", Int32),
        ("poster_name", Utf8),
        ("tag_list", Utf8),
        ("is_image_or_video", Utf8),
        ("image_src", Utf8),
        ("save_location", Utf8),
        ("category", Utf8),
    ])
});

pub struct PinBuilder {
    ind: Int32Builder,
    follower_count: Int32Builder,
    /// The nine string columns, in schema order around the two ints.
    strings: [StringBuilder; 9],
    bytes: usize,
}

impl Row for Pin {
    type Builder = PinBuilder;

    fn schema() -> SchemaRef {
        PIN_SCHEMA.clone()
    }

    fn builder(capacity: usize) -> PinBuilder {
        PinBuilder {
            ind: Int32Builder::with_capacity(capacity),
            follower_count: Int32Builder::with_capacity(capacity),
            strings: std::array::from_fn(|_| StringBuilder::with_capacity(capacity, capacity * 32)),
            bytes: 0,
        }
    }
}

impl RowBuilder<Pin> for PinBuilder {
    fn append(&mut self, row: &Pin) {
        self.ind.append_value(row.ind);
        self.follower_count.append_option(row.follower_count);
        let mut text_len = 0;
        for (builder, value) in self.strings.iter_mut().zip(row.texts()) {
            text_len += value.map_or(0, str::len);
            builder.append_option(value);
        }
        self.bytes += text_len + 9 * 4 + 10;
    }

    fn len(&self) -> usize {
        self.ind.len()
    }

    fn byte_size(&self) -> usize {
        self.bytes
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        self.bytes = 0;
        let ind = finish_primitive(&mut self.ind);
        let follower_count = finish_primitive(&mut self.follower_count);
        let mut strings = self.strings.iter_mut().map(finish_text);
        let mut next = || strings.next().expect("nine string columns");
        vec![
            ind,
            next(), // unique_id
            next(), // title
            next(), // description
            follower_count,
            next(), // poster_name
            next(), // tag_list
            next(), // is_image_or_video
            next(), // image_src
            next(), // save_location
            next(), // category
        ]
    }
}

impl Fields for Pin {
    fn field_names() -> &'static [&'static str] {
        &[
            "ind",
            "unique_id",
            "title",
            "description",
            "follower_count",
            "poster_name",
            "tag_list",
            "is_image_or_video",
            "image_src",
            "save_location",
            "category",
        ]
    }

    fn field_at(&self, index: usize) -> FieldValue<'_> {
        match index {
            0 => FieldValue::Int(self.ind.into()),
            1..=3 => text(self.text(index - 1)),
            4 => int(self.follower_count),
            5..=10 => text(self.text(index - 2)),
            _ => FieldValue::Null,
        }
    }
}

static GEO_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    schema(&[
        ("ind", DataType::Int32),
        ("country", DataType::Utf8),
        ("coordinates", DataType::List(coordinate_item())),
        ("timestamp", timestamp_type()),
    ])
});

pub struct GeoBuilder {
    ind: Int32Builder,
    country: StringBuilder,
    coordinates: ListBuilder<Float64Builder>,
    timestamp: TimestampMicrosecondBuilder,
    bytes: usize,
}

impl Row for Geo {
    type Builder = GeoBuilder;

    fn schema() -> SchemaRef {
        GEO_SCHEMA.clone()
    }

    fn builder(capacity: usize) -> GeoBuilder {
        GeoBuilder {
            ind: Int32Builder::with_capacity(capacity),
            country: StringBuilder::with_capacity(capacity, capacity * 12),
            coordinates: coordinates_builder(capacity),
            timestamp: TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"),
            bytes: 0,
        }
    }
}

impl RowBuilder<Geo> for GeoBuilder {
    fn append(&mut self, row: &Geo) {
        self.ind.append_value(row.ind);
        self.country.append_option(row.country.as_deref());
        self.coordinates.values().append_option(row.coordinates[0]);
        self.coordinates.values().append_option(row.coordinates[1]);
        self.coordinates.append(true);
        self.timestamp.append_option(row.timestamp);
        self.bytes += 40 + row.country.as_deref().map_or(0, str::len);
    }

    fn len(&self) -> usize {
        self.ind.len()
    }

    fn byte_size(&self) -> usize {
        self.bytes
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        self.bytes = 0;
        let coordinates = self.coordinates.finish();
        self.coordinates = coordinates_builder(coordinates.len());
        vec![
            finish_primitive(&mut self.ind),
            finish_text(&mut self.country),
            Arc::new(coordinates),
            finish_primitive(&mut self.timestamp),
        ]
    }
}

impl Fields for Geo {
    fn field_names() -> &'static [&'static str] {
        &["ind", "country", "latitude", "longitude", "timestamp"]
    }

    fn field_at(&self, index: usize) -> FieldValue<'_> {
        let coordinate = |v: Option<f64>| v.map_or(FieldValue::Null, FieldValue::Float);
        match index {
            0 => FieldValue::Int(self.ind.into()),
            1 => text(self.country.as_deref()),
            2 => coordinate(self.coordinates[0]),
            3 => coordinate(self.coordinates[1]),
            4 => timestamp(self.timestamp),
            _ => FieldValue::Null,
        }
    }
}

static USER_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    schema(&[
        ("ind", DataType::Int32),
        ("user_name", DataType::Utf8),
        ("age", DataType::Int32),
        ("date_joined", timestamp_type()),
    ])
});

pub struct UserBuilder {
    ind: Int32Builder,
    user_name: StringBuilder,
    age: Int32Builder,
    date_joined: TimestampMicrosecondBuilder,
    bytes: usize,
}

impl Row for User {
    type Builder = UserBuilder;

    fn schema() -> SchemaRef {
        USER_SCHEMA.clone()
    }

    fn builder(capacity: usize) -> UserBuilder {
        UserBuilder {
            ind: Int32Builder::with_capacity(capacity),
            user_name: StringBuilder::with_capacity(capacity, capacity * 16),
            age: Int32Builder::with_capacity(capacity),
            date_joined: TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"),
            bytes: 0,
        }
    }
}

impl RowBuilder<User> for UserBuilder {
    fn append(&mut self, row: &User) {
        self.ind.append_value(row.ind);
        self.user_name.append_option(row.user_name.as_deref());
        self.age.append_option(row.age);
        self.date_joined.append_option(row.date_joined);
        self.bytes += 20 + row.user_name.as_deref().map_or(0, str::len);
    }

    fn len(&self) -> usize {
        self.ind.len()
    }

    fn byte_size(&self) -> usize {
        self.bytes
    }

    fn finish(&mut self) -> Vec<ArrayRef> {
        self.bytes = 0;
        vec![
            finish_primitive(&mut self.ind),
            finish_text(&mut self.user_name),
            finish_primitive(&mut self.age),
            finish_primitive(&mut self.date_joined),
        ]
    }
}

impl Fields for User {
    fn field_names() -> &'static [&'static str] {
        &["ind", "user_name", "age", "date_joined"]
    }

    fn field_at(&self, index: usize) -> FieldValue<'_> {
        match index {
            0 => FieldValue::Int(self.ind.into()),
            1 => text(self.user_name.as_deref()),
            2 => int(self.age),
            3 => timestamp(self.date_joined),
            _ => FieldValue::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deltalake::arrow::array::RecordBatch;

    fn batch<T: Row>(rows: &[T]) -> RecordBatch {
        let mut builder = T::builder(4);
        rows.iter().for_each(|r| builder.append(r));
        assert_eq!(builder.len(), rows.len());
        RecordBatch::try_new(T::schema(), builder.finish()).expect("columns match the schema")
    }

    #[test]
    fn pin_columns_are_in_contract_order() {
        let pin = Pin::new(
            7,
            Some(5000),
            [
                Some("u"),
                None,
                Some("d"),
                Some("p"),
                None,
                Some("image"),
                None,
                Some("/data/art"),
                Some("art"),
            ],
        );
        let batch = batch(std::slice::from_ref(&pin));
        let names: Vec<_> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(names, Pin::field_names());
        assert_eq!(batch.column(4).data_type(), &DataType::Int32);
        assert_eq!(pin.field_at(4), FieldValue::Int(5000));
        assert_eq!(pin.field_at(10), FieldValue::Str("art"));
        assert_eq!(pin.field_at(2), FieldValue::Null);
        assert_eq!(pin.field_at(3), FieldValue::Str("d"));
        assert_eq!(pin.field_at(9), FieldValue::Str("/data/art"));
        let texts: Vec<_> = pin.texts().collect();
        assert_eq!(texts[7], Some("/data/art"));
        assert_eq!(texts.iter().flatten().count(), 6);
    }

    #[test]
    fn geo_and_user_build() {
        let geo = Geo {
            ind: 1,
            country: Some("Aruba".into()),
            coordinates: [Some(1.5), None],
            timestamp: Some(1_000_000),
        };
        let geo_batch = batch(&[geo]);
        assert_eq!(geo_batch.num_columns(), 4);
        assert_eq!(geo_batch.column(3).data_type(), &timestamp_type());
        let user = User {
            ind: 2,
            user_name: Some("A B".into()),
            age: None,
            date_joined: None,
        };
        assert_eq!(batch(std::slice::from_ref(&user)).num_rows(), 1);
        assert_eq!(user.field_at(2), FieldValue::Null);
    }
}
