//! Cleaned Pinterest records: one struct per output table (`pin`, `geo`, `user`).
//!
//! Field order matches the column order that `spec/cleaning.md` fixes for each table, so that
//! writers can map fields to columns positionally. Every column except `ind` is nullable because
//! the contract turns placeholders, missing keys and JSON nulls into SQL nulls.

use std::fmt;

/// The text columns of the `pin` table, in table order.
pub const PIN_TEXT_COLUMNS: [&str; 9] = [
    "unique_id",
    "title",
    "description",
    "poster_name",
    "tag_list",
    "is_image_or_video",
    "image_src",
    "save_location",
    "category",
];

/// One row of the `pin` table (a cleaned `pinterest_data` record).
///
/// The nine text columns share one buffer: a pin is cleaned, built into columns and dropped
/// once per event, and nine allocations (freed on another thread) were about 10% of the file
/// pipeline's CPU.
#[derive(Clone, PartialEq)]
pub struct Pin {
    /// The raw record's `index`, renamed so all three tables join on `ind`.
    pub ind: i32,
    /// "12k" / "3M" / "999" expanded to a plain number.
    pub follower_count: Option<i32>,
    /// The text columns' values, one after the other.
    text: String,
    /// Where each text column ends in `text`; `NULL_TEXT` for null.
    ends: [u32; 9],
}

const NULL_TEXT: u32 = u32::MAX;

impl Pin {
    /// A pin from its columns; `text` holds the nine text columns in [`PIN_TEXT_COLUMNS`]
    /// order. `tag_list` stays comma-joined as the producer sent it; `save_location` is the
    /// path only (without "Local save in ").
    pub fn new(ind: i32, follower_count: Option<i32>, text: [Option<&str>; 9]) -> Self {
        let len = text.iter().flatten().map(|s| s.len()).sum();
        let mut buffer = String::with_capacity(len);
        let ends = text.map(|value| match value {
            Some(value) => {
                buffer.push_str(value);
                // A record is far below 4 GiB (sources cap message sizes); were it not, the
                // columns from here on would read as null rather than out of bounds.
                u32::try_from(buffer.len()).unwrap_or(NULL_TEXT - 1)
            }
            None => NULL_TEXT,
        });
        Pin {
            ind,
            follower_count,
            text: buffer,
            ends,
        }
    }

    /// The text column at `index` of [`PIN_TEXT_COLUMNS`]; `None` for null (or past the end).
    pub fn text(&self, index: usize) -> Option<&str> {
        self.texts().nth(index).flatten()
    }

    pub fn unique_id(&self) -> Option<&str> {
        self.text(0)
    }
    pub fn title(&self) -> Option<&str> {
        self.text(1)
    }
    pub fn description(&self) -> Option<&str> {
        self.text(2)
    }
    pub fn poster_name(&self) -> Option<&str> {
        self.text(3)
    }
    pub fn tag_list(&self) -> Option<&str> {
        self.text(4)
    }
    pub fn is_image_or_video(&self) -> Option<&str> {
        self.text(5)
    }
    pub fn image_src(&self) -> Option<&str> {
        self.text(6)
    }
    pub fn save_location(&self) -> Option<&str> {
        self.text(7)
    }
    pub fn category(&self) -> Option<&str> {
        self.text(8)
    }

    /// The nine text columns in [`PIN_TEXT_COLUMNS`] order: each starts where the last
    /// non-null one before it ended.
    pub fn texts(&self) -> impl Iterator<Item = Option<&str>> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            if end == NULL_TEXT {
                return None;
            }
            let value = self.text.get(start as usize..end as usize);
            start = end;
            value
        })
    }

    /// Bytes of text the pin holds.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Pin");
        out.field("ind", &self.ind)
            .field("follower_count", &self.follower_count);
        for (index, name) in PIN_TEXT_COLUMNS.iter().enumerate() {
            out.field(name, &self.text(index));
        }
        out.finish()
    }
}

/// The columns in table order, as a JSON object would name them.
impl serde::Serialize for Pin {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = serializer.serialize_struct("Pin", 11)?;
        out.serialize_field("ind", &self.ind)?;
        for (index, name) in PIN_TEXT_COLUMNS.iter().enumerate().take(3) {
            out.serialize_field(name, &self.text(index))?;
        }
        out.serialize_field("follower_count", &self.follower_count)?;
        for (index, name) in PIN_TEXT_COLUMNS.iter().enumerate().skip(3) {
            out.serialize_field(name, &self.text(index))?;
        }
        out.end()
    }
}

/// One row of the `geo` table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Geo {
    pub ind: i32,
    pub country: Option<String>,
    /// `[latitude, longitude]`, in that order (the contract's array column); each slot is null on
    /// its own when the producer sent no value for it.
    pub coordinates: [Option<f64>; 2],
    /// Microseconds since the Unix epoch, UTC (the resolution of a Delta/Spark timestamp).
    pub timestamp: Option<i64>,
}

/// One row of the `user` table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct User {
    pub ind: i32,
    /// `first_name + " " + last_name`; null when either part is null (Spark `concat`).
    pub user_name: Option<String>,
    pub age: Option<i32>,
    /// Microseconds since the Unix epoch, UTC.
    pub date_joined: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_serializes_as_its_columns_in_table_order() {
        let pin = Pin::new(
            3,
            Some(12_000),
            [
                Some("u-1"),
                None,
                Some("d"),
                Some("p"),
                Some("a,b"),
                Some("image"),
                None,
                Some("/data/art"),
                Some("art"),
            ],
        );
        let json = serde_json::to_string(&pin).expect("serializes");
        assert_eq!(
            json,
            r#"{"ind":3,"unique_id":"u-1","title":null,"description":"d","follower_count":12000,"poster_name":"p","tag_list":"a,b","is_image_or_video":"image","image_src":null,"save_location":"/data/art","category":"art"}"#
        );
        assert_eq!(pin.title(), None);
        assert_eq!(pin.description(), Some("d"));
        assert_eq!(pin.category(), Some("art"));
        assert_eq!(pin.text(9), None);
        assert!(format!("{pin:?}").contains("save_location: Some(\"/data/art\")"));
    }

    #[test]
    fn empty_and_null_text_columns_differ() {
        let pin = Pin::new(
            1,
            None,
            [
                Some(""),
                None,
                Some(""),
                None,
                None,
                None,
                None,
                None,
                Some("x"),
            ],
        );
        assert_eq!(pin.unique_id(), Some(""));
        assert_eq!(pin.title(), None);
        assert_eq!(pin.description(), Some(""));
        assert_eq!(pin.category(), Some("x"));
        assert_eq!(pin.texts().filter(Option::is_some).count(), 3);
    }
}
