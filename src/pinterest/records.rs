//! Cleaned Pinterest records: one struct per output table (`pin`, `geo`, `user`).
//!
//! Field order matches the column order that `spec/cleaning.md` fixes for each table, so that
//! writers can map fields to columns positionally. Every column except `ind` is nullable because
//! the contract turns placeholders, missing keys and JSON nulls into SQL nulls.

use std::fmt;

use bytes::Bytes;

use super::short_text::ShortText;

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
/// The nine text columns are spans of one buffer: the raw record itself when every value is a
/// slice of it ([`Pin::within`], the common case), else a buffer of their own ([`Pin::new`]).
/// A pin is cleaned, built into columns and dropped once per event; nine allocations (freed
/// on another thread) were about 10% of the file pipeline's CPU, and one allocation plus a
/// copy of the text about 4%. A pin that shares its record keeps the source's read buffer
/// (up to 1 MiB) alive as long as it lives, as its `Record` does anyway; to keep pins for
/// long apart from their records, rebuild them with [`Pin::new`] from their [`Pin::texts`].
#[derive(Clone)]
pub struct Pin {
    /// The raw record's `index`, renamed so all three tables join on `ind`.
    pub ind: i32,
    /// "12k" / "3M" / "999" expanded to a plain number.
    pub follower_count: Option<i32>,
    /// Holds the text columns' bytes.
    text: Bytes,
    /// Where each text column lies in `text`; `start == NULL_TEXT` for null. Every span is the
    /// extent of a `&str` (so valid UTF-8), which `span_text` relies on.
    spans: [Span; 9],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

const NULL_TEXT: u32 = u32::MAX;
const NULL_SPAN: Span = Span {
    start: NULL_TEXT,
    end: NULL_TEXT,
};

impl Pin {
    /// A pin from its columns; `text` holds the nine text columns in [`PIN_TEXT_COLUMNS`]
    /// order. `tag_list` stays comma-joined as the producer sent it; `save_location` is the
    /// path only (without "Local save in ").
    pub fn new(ind: i32, follower_count: Option<i32>, text: [Option<&str>; 9]) -> Self {
        let len = text.iter().flatten().map(|s| s.len()).sum();
        let mut buffer = String::with_capacity(len);
        let spans = text.map(|value| match value {
            Some(value) => {
                let start = buffer.len();
                buffer.push_str(value);
                // A record is far below 4 GiB (sources cap message sizes); were it not, the
                // columns from here on would read as null rather than out of bounds.
                match (u32::try_from(start), u32::try_from(buffer.len())) {
                    (Ok(start), Ok(end)) if end < NULL_TEXT => Span { start, end },
                    _ => NULL_SPAN,
                }
            }
            None => NULL_SPAN,
        });
        Pin {
            ind,
            follower_count,
            text: Bytes::from(buffer.into_bytes()),
            spans,
        }
    }

    /// [`Pin::new`], but the pin keeps `raw` (a reference count, no copy) when every text
    /// value is a slice of it, as values without escapes are.
    pub fn within(
        raw: &Bytes,
        ind: i32,
        follower_count: Option<i32>,
        text: [Option<&str>; 9],
    ) -> Self {
        let base = raw.as_ptr() as usize;
        let span_in_raw = |value: &str| {
            if value.is_empty() {
                // Any empty range will do, wherever the empty string came from.
                return Some(Span { start: 0, end: 0 });
            }
            let start = (value.as_ptr() as usize).checked_sub(base)?;
            let end = start.checked_add(value.len())?;
            if end > raw.len() {
                return None;
            }
            let end = u32::try_from(end).ok().filter(|&end| end < NULL_TEXT)?;
            Some(Span {
                start: u32::try_from(start).ok()?,
                end,
            })
        };
        let mut spans = [NULL_SPAN; 9];
        for (span, value) in spans.iter_mut().zip(text) {
            if let Some(value) = value {
                match span_in_raw(value) {
                    Some(found) => *span = found,
                    None => return Pin::new(ind, follower_count, text),
                }
            }
        }
        Pin {
            ind,
            follower_count,
            text: raw.clone(),
            spans,
        }
    }

    /// The text column at `index` of [`PIN_TEXT_COLUMNS`]; `None` for null (or past the end).
    pub fn text(&self, index: usize) -> Option<&str> {
        self.span_text(*self.spans.get(index)?)
    }

    fn span_text(&self, span: Span) -> Option<&str> {
        if span.start == NULL_TEXT {
            return None;
        }
        let bytes = self.text.get(span.start as usize..span.end as usize)?;
        // SAFETY: `new` and `within` make every span the extent of a `&str` in `text`, whose
        // bytes never change.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
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

    /// The nine text columns in [`PIN_TEXT_COLUMNS`] order.
    pub fn texts(&self) -> impl Iterator<Item = Option<&str>> {
        self.spans.iter().map(|&span| self.span_text(span))
    }

    /// Whether the pin's text is kept in `raw` rather than copied.
    #[cfg(test)]
    pub(crate) fn shares(&self, raw: &Bytes) -> bool {
        self.text.as_ptr() == raw.as_ptr()
    }

    /// Bytes of text in the pin's columns.
    pub fn text_len(&self) -> usize {
        self.texts().flatten().map(str::len).sum()
    }
}

/// Pins are equal when their columns are, wherever their text is kept.
impl PartialEq for Pin {
    fn eq(&self, other: &Self) -> bool {
        self.ind == other.ind
            && self.follower_count == other.follower_count
            && self.texts().eq(other.texts())
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
    pub country: Option<ShortText>,
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
    pub user_name: Option<ShortText>,
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
    fn a_pin_within_its_record_keeps_the_record_and_reads_the_same() {
        let raw = Bytes::from_static(br#"{"a": "u-1", "b": "desc", "c": "/data/art"}"#);
        let text = std::str::from_utf8(&raw).expect("utf-8");
        let values = [
            Some(&text[7..10]),
            None,
            Some(&text[19..23]),
            None,
            Some(""),
            None,
            None,
            Some(&text[32..41]),
            Some(&text[38..41]),
        ];
        let shared = Pin::within(&raw, 3, Some(1), values);
        assert!(shared.shares(&raw), "no copy");
        let copied = Pin::new(3, Some(1), values);
        assert_ne!(copied.text.as_ptr(), raw.as_ptr());
        assert_eq!(shared, copied);
        assert_eq!(shared.unique_id(), Some("u-1"));
        assert_eq!(shared.description(), Some("desc"));
        assert_eq!(shared.tag_list(), Some(""));
        assert_eq!(shared.save_location(), Some("/data/art"));
        assert_eq!(shared.category(), Some("art"));
        assert_eq!(shared.title(), None);
        assert_eq!(shared.text_len(), copied.text_len());

        // A value from elsewhere (decoded escapes, say): the pin copies its text.
        let decoded = String::from("caf\u{e9}");
        let mixed = [
            values[0],
            Some(decoded.as_str()),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        ];
        let fallback = Pin::within(&raw, 3, None, mixed);
        assert_ne!(fallback.text.as_ptr(), raw.as_ptr());
        assert_eq!(fallback.title(), Some("caf\u{e9}"));
        assert_eq!(fallback, Pin::new(3, None, mixed));
        assert_ne!(fallback, shared);
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
