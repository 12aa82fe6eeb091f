//! `sort_by`: each Parquet row group holds its rows in the order of some columns.
//!
//! Why a sink sorts at all: event streams repeat the values of the entities they refer to
//! (every event about a pin carries the same title, description and tags), so Parquet
//! dictionary-encodes nearly every text column. In arrival order each value is looked up in a
//! dictionary of megabytes at a random place, a cache miss per value, and the dictionary indices
//! it writes have no runs. Sorted by the entity's key, equal values are adjacent: the lookups hit
//! the cache and the indices run-length encode. Readers also skip row groups and pages by the
//! sort columns' statistics. The order is declared in the row group metadata
//! (`sorting_columns`).
//!
//! The rows of a row group are held as Arrow batches until the row group is complete or the sink
//! commits, which is why they count against `max_bytes`.

use deltalake::arrow::array::{AsArray, RecordBatch};
use deltalake::arrow::compute::cast;
use deltalake::arrow::compute::interleave_record_batch;
use deltalake::arrow::datatypes::Int64Type;
use deltalake::arrow::datatypes::{DataType, Schema};
use deltalake::arrow::error::ArrowError;
use deltalake::arrow::row::{RowConverter, SortField};
use deltalake::parquet::file::metadata::SortingColumn;

/// The columns rows are sorted by: ascending, nulls first, earlier columns first.
pub(super) struct SortKey {
    /// Positions in the table's schema.
    columns: Vec<usize>,
    /// Positions among Parquet's leaf columns, which is what row group metadata names.
    leaves: Vec<usize>,
}

impl SortKey {
    /// Resolves `sort_by` against the table's schema. The error says what is wrong with it.
    pub fn resolve(schema: &Schema, names: &[String]) -> Result<Option<SortKey>, String> {
        if names.is_empty() {
            return Ok(None);
        }
        let mut columns = Vec::with_capacity(names.len());
        let mut leaves = Vec::with_capacity(names.len());
        for name in names {
            let Some((index, field)) = schema.column_with_name(name) else {
                let known: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                return Err(format!(
                    "the table has no column `{name}`; its columns are {}",
                    known.join(", ")
                ));
            };
            if field.data_type().is_nested() {
                return Err(format!(
                    "column `{name}` is a {}; sort by columns of scalar type",
                    field.data_type()
                ));
            }
            if columns.contains(&index) {
                return Err(format!("column `{name}` is named twice"));
            }
            columns.push(index);
            leaves.push(
                schema.fields()[..index]
                    .iter()
                    .map(|f| leaf_count(f.data_type()))
                    .sum(),
            );
        }
        Ok(Some(SortKey { columns, leaves }))
    }

    /// The order as Parquet row group metadata states it.
    pub fn sorting_columns(&self) -> Vec<SortingColumn> {
        self.leaves
            .iter()
            .map(|&leaf| SortingColumn {
                column_idx: i32::try_from(leaf).unwrap_or(i32::MAX),
                descending: false,
                nulls_first: true,
            })
            .collect()
    }
}

/// How many Parquet leaf columns a field of this type becomes.
fn leaf_count(data_type: &DataType) -> usize {
    match data_type {
        DataType::List(item)
        | DataType::LargeList(item)
        | DataType::ListView(item)
        | DataType::LargeListView(item)
        | DataType::FixedSizeList(item, _) => leaf_count(item.data_type()),
        DataType::Struct(fields) => fields.iter().map(|f| leaf_count(f.data_type())).sum(),
        DataType::Map(entries, _) => leaf_count(entries.data_type()),
        DataType::Dictionary(_, values) => leaf_count(values),
        DataType::RunEndEncoded(_, values) => leaf_count(values.data_type()),
        _ => 1,
    }
}

/// Batches waiting to be sorted into one row group.
pub(super) struct SortBuffer {
    key: SortKey,
    batches: Vec<RecordBatch>,
    rows: usize,
    bytes: usize,
}

impl SortBuffer {
    pub fn new(key: SortKey) -> Self {
        SortBuffer {
            key,
            batches: Vec::new(),
            rows: 0,
            bytes: 0,
        }
    }

    pub fn push(&mut self, batch: RecordBatch) {
        self.rows += batch.num_rows();
        self.bytes += batch.get_array_memory_size();
        self.batches.push(batch);
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Memory held by the waiting batches.
    pub fn byte_size(&self) -> usize {
        self.bytes
    }

    /// All waiting rows as one batch in sort order (equal keys keep their arrival order), or
    /// `None` if there are none. The buffer is empty afterwards.
    pub fn take_sorted(&mut self) -> Result<Option<RecordBatch>, ArrowError> {
        let batches = std::mem::take(&mut self.batches);
        self.rows = 0;
        self.bytes = 0;
        if batches.is_empty() {
            return Ok(None);
        }
        let order = sorted_order(&batches, &self.key.columns)?;
        let sources: Vec<&RecordBatch> = batches.iter().collect();
        interleave_record_batch(&sources, &order).map(Some)
    }
}

/// `(batch, row)` pairs of every row in key order.
fn sorted_order(
    batches: &[RecordBatch],
    columns: &[usize],
) -> Result<Vec<(usize, usize)>, ArrowError> {
    let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let mut positions = Vec::with_capacity(total);
    for (b, batch) in batches.iter().enumerate() {
        positions.extend((0..batch.num_rows()).map(|row| (b, row)));
    }
    let order = match integer_keys(batches, columns)? {
        Some(keys) => sort_integer_keys(keys),
        None => sort_row_keys(batches, columns, total)?,
    };
    Ok(order.into_iter().map(|i| positions[i as usize]).collect())
}

/// The one key column as `(not null, value)` per row, if it is a single integer column: the
/// common case (an entity id), sorted several times faster than through row encoding.
fn integer_keys(
    batches: &[RecordBatch],
    columns: &[usize],
) -> Result<Option<Vec<(bool, i64)>>, ArrowError> {
    let [column] = columns else {
        return Ok(None);
    };
    let data_type = batches[0].schema().field(*column).data_type().clone();
    if !matches!(
        data_type,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::Date32
            | DataType::Date64
            | DataType::Timestamp(_, _)
    ) {
        return Ok(None);
    }
    let mut keys = Vec::new();
    for batch in batches {
        let values = cast(batch.column(*column), &DataType::Int64)?;
        let values = values.as_primitive::<Int64Type>();
        keys.extend(values.iter().map(|v| (v.is_some(), v.unwrap_or(0))));
    }
    Ok(Some(keys))
}

fn sort_integer_keys(keys: Vec<(bool, i64)>) -> Vec<u32> {
    let row_bits = u64::BITS - (keys.len() as u64).leading_zeros();
    let valid = keys.iter().filter(|(valid, _)| *valid).map(|(_, v)| *v);
    let (min, max) = valid.fold((i64::MAX, i64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    // Nulls as 0, values as 1 + (value - min): a key range that leaves room for the row number
    // packs each row into one u64, which sorts several times faster than tuples do.
    let range = (i128::from(max) - i128::from(min)).max(0) as u128 + 2;
    let value_bits = u128::BITS - range.leading_zeros();
    if value_bits + row_bits <= u64::BITS {
        let mut packed: Vec<u64> = keys
            .into_iter()
            .zip(0u64..)
            .map(|((valid, value), row)| {
                let slot = if valid { (value - min) as u64 + 1 } else { 0 };
                (slot << row_bits) | row
            })
            .collect();
        // The row number in the low bits keeps equal keys in arrival order.
        packed.sort_unstable();
        let mask = (1u64 << row_bits) - 1;
        packed.into_iter().map(|key| (key & mask) as u32).collect()
    } else {
        let mut decorated: Vec<(bool, i64, u32)> = keys
            .into_iter()
            .zip(0u32..)
            .map(|((valid, value), row)| (valid, value, row))
            .collect();
        decorated.sort_unstable();
        decorated.into_iter().map(|(_, _, row)| row).collect()
    }
}

/// Any key: rows encoded so that comparing bytes compares keys.
fn sort_row_keys(
    batches: &[RecordBatch],
    columns: &[usize],
    total: usize,
) -> Result<Vec<u32>, ArrowError> {
    let schema = batches[0].schema();
    let fields = columns
        .iter()
        .map(|&c| SortField::new(schema.field(c).data_type().clone()))
        .collect();
    let converter = RowConverter::new(fields)?;
    let mut keys = converter.empty_rows(total, total * 8);
    for batch in batches {
        let key_columns: Vec<_> = columns.iter().map(|&c| batch.column(c).clone()).collect();
        converter.append(&mut keys, &key_columns)?;
    }
    let mut order: Vec<u32> = (0..u32::try_from(total).unwrap_or(u32::MAX)).collect();
    // Stable: rows with equal keys stay in the order they arrived (source offset order).
    order.sort_by(|&a, &b| keys.row(a as usize).cmp(&keys.row(b as usize)));
    Ok(order)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use deltalake::arrow::array::{ArrayRef, Float64Builder, Int32Array, ListBuilder, StringArray};
    use deltalake::arrow::datatypes::Field;

    use super::*;

    fn schema() -> Arc<Schema> {
        Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, true),
            Field::new(
                "point",
                DataType::List(Arc::new(Field::new("element", DataType::Float64, true))),
                true,
            ),
            Field::new("ind", DataType::Int32, true),
        ]))
    }

    fn batch(names: &[Option<&str>], inds: &[Option<i32>]) -> RecordBatch {
        let mut points = ListBuilder::new(Float64Builder::new()).with_field(Arc::new(Field::new(
            "element",
            DataType::Float64,
            true,
        )));
        for _ in names {
            points.values().append_value(1.0);
            points.append(true);
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(names.to_vec())),
            Arc::new(points.finish()),
            Arc::new(Int32Array::from(inds.to_vec())),
        ];
        RecordBatch::try_new(schema(), columns).expect("batch matches schema")
    }

    fn names(batch: &RecordBatch) -> Vec<Option<String>> {
        let column = batch
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("strings");
        column.iter().map(|v| v.map(str::to_owned)).collect()
    }

    #[test]
    fn sorts_across_batches_keeping_arrival_order_of_equal_keys() {
        let key = SortKey::resolve(&schema(), &["ind".into()])
            .expect("valid")
            .expect("a key");
        let mut buffer = SortBuffer::new(key);
        buffer.push(batch(
            &[Some("c1"), Some("a1"), Some("n")],
            &[Some(3), Some(1), None],
        ));
        buffer.push(batch(
            &[Some("a2"), Some("c2"), Some("b")],
            &[Some(1), Some(3), Some(2)],
        ));
        assert_eq!(buffer.rows(), 6);
        assert!(buffer.byte_size() > 0);
        let sorted = buffer.take_sorted().expect("sorts").expect("rows");
        let expected = ["n", "a1", "a2", "b", "c1", "c2"].map(|s| Some(s.to_owned()));
        assert_eq!(names(&sorted), expected);
        assert_eq!(buffer.rows(), 0);
        assert!(buffer.take_sorted().expect("sorts").is_none());
    }

    #[test]
    fn sorts_by_several_columns_in_turn() {
        let key = SortKey::resolve(&schema(), &["ind".into(), "name".into()])
            .expect("valid")
            .expect("a key");
        let mut buffer = SortBuffer::new(key);
        buffer.push(batch(
            &[Some("y"), Some("x"), Some("z"), None],
            &[Some(2), Some(2), Some(1), Some(2)],
        ));
        let sorted = buffer.take_sorted().expect("sorts").expect("rows");
        let expected = [Some("z"), None, Some("x"), Some("y")].map(|s| s.map(str::to_owned));
        assert_eq!(names(&sorted), expected);
    }

    #[test]
    fn integer_keys_sort_packed_or_not() {
        let small = vec![(true, 7), (false, 0), (true, -3), (true, 7), (false, 0)];
        assert_eq!(sort_integer_keys(small), [1, 4, 2, 0, 3]);
        // A key range too wide to pack beside the row number.
        let wide = vec![
            (true, i64::MAX),
            (true, i64::MIN),
            (false, 0),
            (true, i64::MAX),
        ];
        assert_eq!(sort_integer_keys(wide), [2, 1, 0, 3]);
        assert_eq!(sort_integer_keys(vec![(false, 0), (false, 0)]), [0, 1]);
    }

    #[test]
    fn sorts_by_a_text_column() {
        let key = SortKey::resolve(&schema(), &["name".into()])
            .expect("valid")
            .expect("a key");
        let mut buffer = SortBuffer::new(key);
        buffer.push(batch(
            &[Some("b"), None, Some("a")],
            &[Some(1), Some(2), Some(3)],
        ));
        let sorted = buffer.take_sorted().expect("sorts").expect("rows");
        let expected = [None, Some("a"), Some("b")].map(|s| s.map(str::to_owned));
        assert_eq!(names(&sorted), expected);
    }

    #[test]
    fn metadata_names_parquet_leaf_columns() {
        // `point` is a list: one leaf, so `ind` is leaf 2 as it is field 2.
        let key = SortKey::resolve(&schema(), &["ind".into(), "name".into()])
            .expect("valid")
            .expect("a key");
        let leaves: Vec<i32> = key.sorting_columns().iter().map(|c| c.column_idx).collect();
        assert_eq!(leaves, [2, 0]);
        let nested = Schema::new(vec![
            Field::new(
                "s",
                DataType::Struct(
                    vec![
                        Field::new("a", DataType::Int32, true),
                        Field::new("b", DataType::Int32, true),
                    ]
                    .into(),
                ),
                true,
            ),
            Field::new("ind", DataType::Int32, true),
        ]);
        let key = SortKey::resolve(&nested, &["ind".into()])
            .expect("valid")
            .expect("a key");
        assert_eq!(key.sorting_columns()[0].column_idx, 2);
    }

    #[test]
    fn bad_keys_say_what_is_wrong() {
        assert!(SortKey::resolve(&schema(), &[]).expect("valid").is_none());
        let unknown = SortKey::resolve(&schema(), &["index".into()]).err();
        assert_eq!(
            unknown.as_deref(),
            Some("the table has no column `index`; its columns are name, point, ind")
        );
        let nested = SortKey::resolve(&schema(), &["point".into()]).err();
        assert!(
            nested.is_some_and(|e| e.contains("`point` is a List")),
            "list refused"
        );
        let twice = SortKey::resolve(&schema(), &["ind".into(), "ind".into()]).err();
        assert_eq!(twice.as_deref(), Some("column `ind` is named twice"));
    }
}
