//! Named access to the fields of a typed value, so that generic operators configured at run
//! time (a topology file's `filter`) can look at any registered record type.

/// One field's value, borrowed from the record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
    /// Microseconds since the Unix epoch, UTC.
    Timestamp(i64),
}

/// Implemented by record types that topology files may filter on. Field lookup by name happens
/// once, when the topology is built; per record only `field_at` runs.
pub trait Fields {
    /// Field names in column order.
    fn field_names() -> &'static [&'static str];

    /// Value of the field at `index` in [`Fields::field_names`]; `Null` for an out-of-range index.
    fn field_at(&self, index: usize) -> FieldValue<'_>;

    fn field_index(name: &str) -> Option<usize> {
        Self::field_names().iter().position(|n| *n == name)
    }
}
