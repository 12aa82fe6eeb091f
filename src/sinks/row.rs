//! How a typed value becomes columns of a table.

use std::sync::Arc;

use deltalake::arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, PrimitiveBuilder, StringBuilder,
};
use deltalake::arrow::datatypes::SchemaRef;

use crate::dsl::Fields;

/// A record type with a fixed Arrow schema. Implemented by hand per type, because building
/// columns directly from typed fields is several times faster than going through a generic
/// row representation. Its [`Fields`] let a sink read a column of a row (`bucket_by`).
pub trait Row: Fields + Send + Sync + 'static {
    type Builder: RowBuilder<Self>;

    /// The columns, in table order. Timestamps are `Timestamp(Microsecond, "UTC")`.
    fn schema() -> SchemaRef;

    fn builder(capacity: usize) -> Self::Builder;
}

/// Accumulates rows column by column.
pub trait RowBuilder<R: ?Sized>: Send {
    fn append(&mut self, row: &R);

    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate bytes held, to flush by size.
    fn byte_size(&self) -> usize;

    /// The columns built so far, in schema order; the builder is empty afterwards.
    fn finish(&mut self) -> Vec<ArrayRef>;
}

/// Finishes a text column and leaves the builder sized for a batch like this one. A finished
/// builder would start empty and grow by doubling: every byte copied again on the way, and up
/// to twice the memory held by the finished column.
pub fn finish_text(builder: &mut StringBuilder) -> ArrayRef {
    let column = builder.finish();
    let bytes = column.value_data().len();
    *builder = StringBuilder::with_capacity(column.len(), bytes + bytes / 8);
    Arc::new(column)
}

/// [`finish_text`] for a column of fixed-width values.
pub fn finish_primitive<T: ArrowPrimitiveType>(builder: &mut PrimitiveBuilder<T>) -> ArrayRef {
    let column = builder.finish();
    *builder = PrimitiveBuilder::<T>::with_capacity(column.len())
        .with_data_type(column.data_type().clone());
    Arc::new(column)
}
