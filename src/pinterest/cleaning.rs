//! Cleaning of raw pin / geo / user records into [`Pin`], [`Geo`] and [`User`] rows.
//!
//! Implements the contract in `spec/cleaning.md` (placeholders to null, follower counts expanded,
//! "Local save in " stripped, coordinates as `[latitude, longitude]`, user names concatenated,
//! datetimes read as UTC) plus the producer quirks of `spec/payloads.md`: a record wrapped in a
//! one-element array, numbers sent as strings, and both `YYYY-MM-DD HH:MM:SS` and ISO datetimes.
//! A record that cannot be cleaned yields a [`CleanError`] so the caller can dead-letter it.
//!
//! This runs once per event, so it avoids `serde_json::Value`: each record is deserialized straight
//! into a private borrowed struct whose values are [`Loose`] scalars (strings stay borrowed from the
//! input unless they contain escapes), and the common datetime layouts are parsed by hand.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use bytes::Bytes;
use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::records::{Geo, Pin, User};
use super::short_text::ShortText;
use crate::json::{KnownKeys, Scalar, read_known_object};

/// Why a record could not be cleaned; the record goes to the dead-letter table with this text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct CleanError {
    /// The raw key at fault (e.g. `"follower_count"`), or `None` when the record as a whole is
    /// unreadable (not UTF-8, not JSON, not an object).
    pub field: Option<&'static str>,
    pub message: String,
}

impl CleanError {
    fn record(message: impl Into<String>) -> Self {
        Self {
            field: None,
            message: message.into(),
        }
    }

    fn field(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: Some(field),
            message: message.into(),
        }
    }
}

impl fmt::Display for CleanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.field {
            Some(field) => write!(f, "{field}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The parsing step of the three cleaners alone: the JSON bytes into their raw typed form,
/// values not yet coerced. Benchmarks measure cleaning against it (the parse-only limit).
pub fn parse_only(kind: RecordKind, raw: &[u8]) -> Result<(), CleanError> {
    match kind {
        RecordKind::Pin => parse_record::<RawPin<'_>>(raw).map(drop),
        RecordKind::Geo => parse_record::<RawGeo<'_>>(raw).map(drop),
        RecordKind::User => parse_record::<RawUser<'_>>(raw).map(drop),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    Pin,
    Geo,
    User,
}

/// Cleans one raw `pinterest_data` record (the bytes of one JSON object) into a `pin` row
/// that holds a copy of its text.
pub fn clean_pin(raw: &[u8]) -> Result<Pin, CleanError> {
    clean_pin_as(raw, Pin::new)
}

/// [`clean_pin`] for a record the pin may keep: its text stays in `raw` when no value needed
/// decoding (see [`Pin::within`]).
pub fn clean_pin_shared(raw: &Bytes) -> Result<Pin, CleanError> {
    clean_pin_as(raw, |ind, followers, text| {
        Pin::within(raw, ind, followers, text)
    })
}

fn clean_pin_as(
    raw: &[u8],
    pin: impl FnOnce(i32, Option<i32>, [Option<&str>; 9]) -> Pin,
) -> Result<Pin, CleanError> {
    let r: RawPin<'_> = parse_record(raw)?;
    let ind = required_int("index", &r.index)?;
    // Validated so a corrupt record is dead-lettered rather than half-cleaned, then dropped (rule 5).
    int("downloaded", &r.downloaded)?;
    let save_location = pin_text("save_location", r.save_location)?;
    let unique_id = pin_text("unique_id", r.unique_id)?;
    let title = pin_text("title", r.title)?;
    let description = pin_text("description", r.description)?;
    let followers = follower_count(&r.follower_count)?;
    let poster_name = pin_text("poster_name", r.poster_name)?;
    let tag_list = pin_text("tag_list", r.tag_list)?;
    let is_image_or_video = pin_text("is_image_or_video", r.is_image_or_video)?;
    let image_src = pin_text("image_src", r.image_src)?;
    let category = pin_text("category", r.category)?;
    Ok(pin(
        ind,
        followers,
        [
            unique_id.as_deref(),
            title.as_deref(),
            description.as_deref(),
            poster_name.as_deref(),
            tag_list.as_deref(),
            is_image_or_video.as_deref(),
            image_src.as_deref(),
            save_location
                .as_deref()
                .map(|s| s.strip_prefix(SAVE_LOCATION_PREFIX).unwrap_or(s)),
            category.as_deref(),
        ],
    ))
}

/// Cleans one raw `geolocation_data` record into a `geo` row.
pub fn clean_geo(raw: &[u8]) -> Result<Geo, CleanError> {
    let r: RawGeo<'_> = parse_record(raw)?;
    Ok(Geo {
        ind: required_int("ind", &r.ind)?,
        country: text("country", r.country)?.as_deref().map(ShortText::new),
        coordinates: [
            coordinate("latitude", &r.latitude)?,
            coordinate("longitude", &r.longitude)?,
        ],
        timestamp: timestamp("timestamp", &r.timestamp)?,
    })
}

/// Cleans one raw `user_data` record into a `user` row.
pub fn clean_user(raw: &[u8]) -> Result<User, CleanError> {
    let r: RawUser<'_> = parse_record(raw)?;
    let ind = required_int("ind", &r.ind)?;
    let first = text("first_name", r.first_name)?;
    let last = text("last_name", r.last_name)?;
    // Spark `concat`: any null input makes the result null.
    let user_name = match (first, last) {
        (Some(first), Some(last)) => Some(ShortText::concat(&[&first, " ", &last])),
        _ => None,
    };
    Ok(User {
        ind,
        user_name,
        age: int("age", &r.age)?,
        date_joined: timestamp("date_joined", &r.date_joined)?,
    })
}

// ---------------------------------------------------------------------------------------------
// Raw records: every value is `Loose` so type coercion (and its error messages) happens in one
// place, after parsing, with the key name at hand. Unknown keys are skipped.

/// A raw record read by the fast flat-object reader ([`crate::json`]), which gives up (`None`)
/// on anything serde must read instead.
trait FlatRecord<'a>: Sized {
    fn read_flat(bytes: &'a [u8]) -> Option<Self>;
}

/// Declares a raw record struct that serde can deserialize and the flat reader can fill, from
/// one list of keys. List them in the order the producers write them: the reader expects that
/// order and finds keys in any other one more slowly (see [`read_known_object`]).
macro_rules! raw_record {
    ($name:ident { $($field:ident),* $(,)? }) => {
        #[derive(Debug, Default, PartialEq, Deserialize)]
        struct $name<'a> {
            $(
                #[serde(default, borrow)]
                $field: Loose<'a>,
            )*
        }

        impl<'a> FlatRecord<'a> for $name<'a> {
            fn read_flat(bytes: &'a [u8]) -> Option<Self> {
                // In the order the producers write them, which the reader expects.
                const KEYS: KnownKeys = KnownKeys::new(&[$(stringify!($field)),*]);
                let mut record = Self::default();
                let $name { $($field),* } = &mut record;
                let mut slots = [$($field),*];
                read_known_object(bytes, KEYS, |index, value| {
                    let Some(slot) = index.and_then(|index| slots.get_mut(index)) else {
                        return true; // a key of no column
                    };
                    // A key given twice: serde reports the duplicate.
                    if !matches!(**slot, Loose::Missing) {
                        return false;
                    }
                    **slot = Loose::from(value);
                    true
                })?;
                Some(record)
            }
        }
    };
}

raw_record!(RawPin {
    index,
    unique_id,
    title,
    description,
    poster_name,
    follower_count,
    tag_list,
    is_image_or_video,
    image_src,
    downloaded,
    save_location,
    category,
});

raw_record!(RawGeo {
    ind,
    timestamp,
    latitude,
    longitude,
    country,
});

raw_record!(RawUser {
    ind,
    first_name,
    last_name,
    age,
    date_joined,
});

/// Any JSON value, kept cheaply: producers send numbers as strings and vice versa, so fields are
/// captured as whatever arrived and coerced afterwards. Objects and arrays are skipped, only their
/// kind is kept (no column accepts them).
#[derive(Debug, Default, Clone, PartialEq)]
enum Loose<'a> {
    /// Key absent (the serde default); distinct from `Null` only for error messages.
    #[default]
    Missing,
    Null,
    /// Negative integers (serde_json reports non-negative ones as `UInt`).
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
    Str(Cow<'a, str>),
    Object,
    Array,
}

impl<'a> From<Scalar<'a>> for Loose<'a> {
    fn from(value: Scalar<'a>) -> Self {
        match value {
            Scalar::Null => Loose::Null,
            Scalar::Bool(b) => Loose::Bool(b),
            Scalar::Str(s) => Loose::Str(s),
            Scalar::UInt(u) => Loose::UInt(u),
            Scalar::Int(i) => Loose::Int(i),
            Scalar::Float(f) => Loose::Float(f),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Loose<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LooseVisitor(PhantomData))
    }
}

struct LooseVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for LooseVisitor<'a> {
    type Value = Loose<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Loose::Null)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Loose::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Loose::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Loose::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Loose::UInt(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Loose::Float(v))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Loose::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Loose::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Loose::Str(Cow::Owned(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Loose::Array)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Loose::Object)
    }
}

// ---------------------------------------------------------------------------------------------
// Record framing: UTF-8, JSON, object or `[object]`.

/// Parses an object or a one-element array holding one: the common flat object with the fast
/// reader, which checks UTF-8 as it reads, anything else (and every error) with serde_json,
/// after a UTF-8 check up front (so the error can name the byte, and so serde_json can borrow
/// strings without re-checking them).
fn parse_record<'a, T: Deserialize<'a> + FlatRecord<'a>>(raw: &'a [u8]) -> Result<T, CleanError> {
    if let Some(record) = T::read_flat(raw.trim_ascii()) {
        return Ok(record);
    }
    let text = std::str::from_utf8(raw)
        .map_err(|e| CleanError::record(format!("not valid UTF-8 at byte {}", e.valid_up_to())))?;
    let text = text.trim_ascii();
    match text.as_bytes().first() {
        None => Err(CleanError::record("empty record: expected a JSON object")),
        Some(b'{') => serde_json::from_str::<T>(text).map_err(json_error),
        Some(b'[') => match serde_json::from_str::<OneElement<T>>(text).map_err(json_error)? {
            OneElement(Ok(record)) => Ok(record),
            OneElement(Err(shape)) => Err(CleanError::record(format!(
                "expected a JSON object (or a one-element array holding one), found {shape}"
            ))),
        },
        Some(&first) => match serde_json::from_str::<IgnoredAny>(text) {
            Ok(_) => Err(CleanError::record(format!(
                "expected a JSON object (or a one-element array holding one), found {}",
                scalar_kind(first)
            ))),
            Err(e) => Err(json_error(e)),
        },
    }
}

/// Names the kind of a valid JSON scalar from its first byte.
fn scalar_kind(first: u8) -> &'static str {
    match first {
        b'"' => "a string",
        b't' | b'f' => "a boolean",
        b'n' => "null",
        _ => "a number",
    }
}

/// Keeps serde_json's line/column and says whether the input was cut short or malformed.
fn json_error(e: serde_json::Error) -> CleanError {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Eof => "truncated JSON",
        Category::Syntax => "not valid JSON",
        Category::Data | Category::Io => "unreadable record",
    };
    CleanError::record(format!("{what}: {e}"))
}

/// A top-level array: the record when it is exactly `[{...}]`, otherwise its shape for the error.
struct OneElement<T>(Result<T, ArrayShape>);

enum ArrayShape {
    Empty,
    Holding(&'static str),
    Len(usize),
}

impl fmt::Display for ArrayShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArrayShape::Empty => f.write_str("an empty array"),
            ArrayShape::Holding(kind) => write!(f, "a one-element array holding {kind}"),
            ArrayShape::Len(n) => write!(f, "an array of {n} elements"),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneElement<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(OneElementVisitor(PhantomData))
    }
}

struct OneElementVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for OneElementVisitor<T> {
    type Value = OneElement<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a one-element array holding a JSON object")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let Some(first) = seq.next_element::<MaybeObject<T>>()? else {
            return Ok(OneElement(Err(ArrayShape::Empty)));
        };
        let mut len = 1;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            len += 1;
        }
        Ok(OneElement(match (first, len) {
            (MaybeObject::Object(record), 1) => Ok(record),
            (MaybeObject::Not(kind), 1) => Err(ArrayShape::Holding(kind)),
            (_, n) => Err(ArrayShape::Len(n)),
        }))
    }
}

/// An array element that is deserialized as `T` only when it is an object; otherwise its kind.
enum MaybeObject<T> {
    Object(T),
    Not(&'static str),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for MaybeObject<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MaybeObjectVisitor(PhantomData))
    }
}

struct MaybeObjectVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for MaybeObjectVisitor<T> {
    type Value = MaybeObject<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(MaybeObject::Object)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(MaybeObject::Not("an array"))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(MaybeObject::Not("null"))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(MaybeObject::Not("a boolean"))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(MaybeObject::Not("a number"))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(MaybeObject::Not("a number"))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(MaybeObject::Not("a number"))
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(MaybeObject::Not("a string"))
    }
}

// ---------------------------------------------------------------------------------------------
// Value coercion.

/// Placeholders the original scraper wrote instead of a value (cleaning.md, pin rule 1).
fn is_placeholder(s: &str) -> bool {
    matches!(
        s,
        "" | "No description available Story format"
            | "No description available"
            | "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e"
            | "User Info Error"
            | "No Title Data Available"
            | "Image src error."
    )
}

const SAVE_LOCATION_PREFIX: &str = "Local save in ";

/// A string column: numbers and booleans become their JSON text (a producer may have typed the
/// column), objects and arrays cannot be a string.
fn text<'a>(field: &'static str, v: Loose<'a>) -> Result<Option<Cow<'a, str>>, CleanError> {
    Ok(Some(match v {
        Loose::Missing | Loose::Null => return Ok(None),
        Loose::Str(s) => s,
        Loose::Int(i) => Cow::Owned(i.to_string()),
        Loose::UInt(u) => Cow::Owned(u.to_string()),
        Loose::Float(f) => Cow::Owned(float_text(f)),
        Loose::Bool(b) => Cow::Borrowed(if b { "true" } else { "false" }),
        Loose::Object | Loose::Array => {
            return Err(CleanError::field(
                field,
                format!("expected a string, found {}", describe(&v)),
            ));
        }
    }))
}

/// A pin string column with placeholders (and "") turned into null.
fn pin_text<'a>(field: &'static str, v: Loose<'a>) -> Result<Option<Cow<'a, str>>, CleanError> {
    Ok(text(field, v)?.filter(|s| !is_placeholder(s)))
}

/// The JSON text serde_json would write for a float (so `7528.0` stays `7528.0`).
fn float_text(f: f64) -> String {
    match serde_json::Number::from_f64(f) {
        Some(n) => n.to_string(),
        None => f.to_string(),
    }
}

/// How a value is quoted in error messages: strings in quotes (cut at 64 characters so a long
/// description does not bloat the dead-letter row), numbers as JSON text.
fn describe(v: &Loose<'_>) -> String {
    const MAX_CHARS: usize = 64;
    match v {
        Loose::Missing => "nothing (key missing)".to_owned(),
        Loose::Null => "null".to_owned(),
        Loose::Int(i) => i.to_string(),
        Loose::UInt(u) => u.to_string(),
        Loose::Float(f) => float_text(*f),
        Loose::Bool(b) => b.to_string(),
        Loose::Str(s) => match s.char_indices().nth(MAX_CHARS) {
            Some((cut, _)) => format!("{:?}…", &s[..cut]),
            None => format!("{s:?}"),
        },
        Loose::Object => "an object".to_owned(),
        Loose::Array => "an array".to_owned(),
    }
}

/// A 32-bit int column: JSON integers, integral floats (`7528.0`) and numeric strings (`"7528"`,
/// trimmed) are accepted because producers differ in how they type the column.
fn int(field: &'static str, v: &Loose<'_>) -> Result<Option<i32>, CleanError> {
    let wide: i64 = match v {
        Loose::Missing | Loose::Null => return Ok(None),
        Loose::Int(i) => *i,
        Loose::UInt(u) => i64::try_from(*u).map_err(|_| out_of_range(field, v))?,
        Loose::Float(f) => integral(*f).ok_or_else(|| not_an_int(field, v))?,
        Loose::Str(s) => {
            let t = s.trim();
            match t.parse::<i64>() {
                Ok(i) => i,
                Err(_) => t
                    .parse::<f64>()
                    .ok()
                    .and_then(integral)
                    .ok_or_else(|| not_an_int(field, v))?,
            }
        }
        Loose::Bool(_) | Loose::Object | Loose::Array => return Err(not_an_int(field, v)),
    };
    i32::try_from(wide)
        .map(Some)
        .map_err(|_| out_of_range(field, v))
}

/// `f` as an i64 when it is a whole number that fits (NaN and infinities do not).
fn integral(f: f64) -> Option<i64> {
    // 2^63 as f64; i64::MAX itself is not representable.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    (f.is_finite() && f.fract() == 0.0 && (-LIMIT..LIMIT).contains(&f)).then_some(f as i64)
}

fn not_an_int(field: &'static str, v: &Loose<'_>) -> CleanError {
    CleanError::field(field, format!("cannot read {} as an integer", describe(v)))
}

fn out_of_range(field: &'static str, v: &Loose<'_>) -> CleanError {
    CleanError::field(
        field,
        format!("{} is out of range for a 32-bit integer", describe(v)),
    )
}

/// `index` / `ind`: every table joins on it, so a record without one cannot be cleaned.
fn required_int(field: &'static str, v: &Loose<'_>) -> Result<i32, CleanError> {
    match v {
        Loose::Missing => Err(CleanError::field(field, "required key missing")),
        Loose::Null => Err(CleanError::field(
            field,
            "required key missing (value is null)",
        )),
        _ => int(field, v)?.ok_or_else(|| CleanError::field(field, "required key missing")),
    }
}

/// `follower_count`: "Nk" / "NM" (N may have decimals, rounded half up), digits, or a JSON integer.
fn follower_count(v: &Loose<'_>) -> Result<Option<i32>, CleanError> {
    const FIELD: &str = "follower_count";
    let bad = || {
        CleanError::field(
            FIELD,
            format!(
                "cannot read {} as a follower count (expected digits, <N>k or <N>M)",
                describe(v)
            ),
        )
    };
    let count: u64 = match v {
        Loose::Missing | Loose::Null => return Ok(None),
        Loose::Str(s) if is_placeholder(s) => return Ok(None),
        Loose::Str(s) => parse_follower_count(s.trim()).ok_or_else(bad)?,
        Loose::UInt(u) => *u,
        Loose::Float(f) => integral(*f)
            .and_then(|i| u64::try_from(i).ok())
            .ok_or_else(bad)?,
        Loose::Int(_) | Loose::Bool(_) | Loose::Object | Loose::Array => return Err(bad()),
    };
    i32::try_from(count).map(Some).map_err(|_| {
        let shown = describe(v);
        let message = if shown == count.to_string() {
            format!("{count} is above the 32-bit integer maximum")
        } else {
            format!("{shown} is {count}, above the 32-bit integer maximum")
        };
        CleanError::field(FIELD, message)
    })
}

/// Parses `digits`, `digits[.digits]k` or `digits[.digits]M`; `None` if it is none of those.
/// Saturates instead of overflowing so huge values are reported as too large, not unreadable.
fn parse_follower_count(s: &str) -> Option<u64> {
    let (number, multiplier) = match s.as_bytes().last()? {
        b'k' => (&s[..s.len() - 1], 1_000u64),
        b'M' => (&s[..s.len() - 1], 1_000_000u64),
        _ => (s, 1),
    };
    let (whole, fraction) = match number.split_once('.') {
        Some((whole, fraction)) if multiplier > 1 => (whole, Some(fraction)),
        Some(_) => return None,
        None => (number, None),
    };
    let mut value = digits(whole)?.saturating_mul(multiplier);
    if let Some(fraction) = fraction {
        digits(fraction)?;
        // Nine fractional digits decide half-up rounding exactly for multipliers up to 10^6
        // (later digits cannot move the product across a .5 boundary).
        let mut scaled: u64 = 0;
        for i in 0..9 {
            let d = fraction
                .as_bytes()
                .get(i)
                .map_or(0, |b| u64::from(b - b'0'));
            scaled = scaled * 10 + d;
        }
        value = value.saturating_add((scaled * multiplier + 500_000_000) / 1_000_000_000);
    }
    Some(value)
}

/// A non-empty run of ASCII digits as a number (saturating).
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.bytes().try_fold(0u64, |acc, b| {
        b.is_ascii_digit()
            .then(|| acc.saturating_mul(10).saturating_add(u64::from(b - b'0')))
    })
}

/// A latitude or longitude: a JSON number or a numeric string (finite).
fn coordinate(field: &'static str, v: &Loose<'_>) -> Result<Option<f64>, CleanError> {
    match v {
        Loose::Missing | Loose::Null => Ok(None),
        Loose::Float(f) => Ok(Some(*f)),
        Loose::Int(i) => Ok(Some(*i as f64)),
        Loose::UInt(u) => Ok(Some(*u as f64)),
        Loose::Str(s) => match s.trim().parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Some(f)),
            _ => Err(not_a_number(field, v)),
        },
        Loose::Bool(_) | Loose::Object | Loose::Array => Err(not_a_number(field, v)),
    }
}

fn not_a_number(field: &'static str, v: &Loose<'_>) -> CleanError {
    CleanError::field(field, format!("cannot read {} as a number", describe(v)))
}

// ---------------------------------------------------------------------------------------------
// Datetimes.

/// A datetime column as microseconds since the epoch, UTC.
fn timestamp(field: &'static str, v: &Loose<'_>) -> Result<Option<i64>, CleanError> {
    let parsed = match v {
        Loose::Missing | Loose::Null => return Ok(None),
        Loose::Str(s) => parse_timestamp(s.trim()),
        _ => None,
    };
    parsed.map(Some).ok_or_else(|| {
        CleanError::field(
            field,
            format!(
                "cannot read {} as a timestamp (expected YYYY-MM-DD HH:MM:SS[.fraction], \
                 the same with T, or RFC 3339 with a zone)",
                describe(v)
            ),
        )
    })
}

/// `YYYY-MM-DD[ T]HH:MM:SS[.f{1,9}]` (no zone: UTC) by hand, since that is what every producer
/// sends; anything longer must be RFC 3339 with a zone and goes to chrono.
fn parse_timestamp(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let year = two_digits(b, 0)? * 100 + two_digits(b, 2)?;
    let month = two_digits(b, 5)?;
    let day = two_digits(b, 8)?;
    let hour = two_digits(b, 11)?;
    let minute = two_digits(b, 14)?;
    let second = two_digits(b, 17)?;
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b' ' | b'T' | b't') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let mut end = 19;
    let mut nanos: u32 = 0;
    if b.get(19) == Some(&b'.') {
        end = 20;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        let count = end - 20;
        if count == 0 || count > 9 {
            return None;
        }
        for &d in &b[20..end] {
            nanos = nanos * 10 + u32::from(d - b'0');
        }
        nanos *= 10u32.pow((9 - count) as u32);
    }
    if end != b.len() {
        return parse_zoned(s);
    }
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    let seconds = days * 86_400 + i64::from(hour * 3_600 + minute * 60 + second);
    Some(seconds * 1_000_000 + i64::from(nanos / 1_000))
}

/// RFC 3339 with `Z` or `±HH:MM` (chrono also takes a space instead of `T`), converted to UTC.
fn parse_zoned(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|dt| dt.timestamp_micros())
}

fn two_digits(b: &[u8], at: usize) -> Option<u32> {
    let (hi, lo) = (b[at], b[at + 1]);
    (hi.is_ascii_digit() && lo.is_ascii_digit())
        .then(|| u32::from(hi - b'0') * 10 + u32::from(lo - b'0'))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pinterest::records::PIN_TEXT_COLUMNS;

    const PLACEHOLDERS: [&str; 7] = [
        "",
        "No description available Story format",
        "No description available",
        "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e",
        "User Info Error",
        "No Title Data Available",
        "Image src error.",
    ];

    const PIN: &str = r#"{"index": 2863, "unique_id": "9bf39437-42a6", "title": "Summer Crafts",
        "description": "Keep the kids busy", "poster_name": "Of Life & Lisa", "follower_count": "124k",
        "tag_list": "Summer Crafts,Diy", "is_image_or_video": "image",
        "image_src": "https://i.example/b3.jpg", "downloaded": 1,
        "save_location": "Local save in /data/diy-and-crafts", "category": "diy-and-crafts"}"#;

    const GEO: &str = r#"{"ind": 7528, "timestamp": "2020-08-28 03:52:47", "latitude": -89.9787,
        "longitude": -173.293, "country": "Albania"}"#;

    const USER: &str = r#"{"ind": 7528, "first_name": "Abigail", "last_name": "Ali", "age": 20,
        "date_joined": "2015-10-24 11:23:51"}"#;

    /// 2020-08-28 03:52:47 UTC in microseconds.
    const GEO_MICROS: i64 = 1_598_586_767_000_000;

    #[test]
    fn a_pin_without_escapes_keeps_its_record_and_one_with_escapes_copies() {
        let raw = Bytes::from_static(PIN.as_bytes());
        assert!(clean_pin_shared(&raw).expect("cleans").shares(&raw));
        let escaped = Bytes::from(PIN.replace("Summer Crafts\"", "Summer \\u0043rafts\""));
        let pin = clean_pin_shared(&escaped).expect("cleans");
        assert!(!pin.shares(&escaped));
        assert_eq!(pin.title(), Some("Summer Crafts"));
    }

    /// Cleans with both entry points, which must agree (so every pin test covers both).
    fn pin(json: &str) -> Result<Pin, CleanError> {
        let copied = clean_pin(json.as_bytes());
        let shared = clean_pin_shared(&Bytes::copy_from_slice(json.as_bytes()));
        assert_eq!(format!("{copied:?}"), format!("{shared:?}"), "{json}");
        copied
    }

    /// A pin record with one key replaced by `value` (raw JSON text), or removed when `None`.
    fn pin_with(key: &str, value: Option<&str>) -> String {
        let mut obj: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(PIN).expect("fixture parses");
        match value {
            Some(v) => {
                obj.insert(
                    key.to_owned(),
                    serde_json::from_str(v).expect("value parses"),
                );
            }
            None => {
                obj.remove(key);
            }
        }
        serde_json::to_string(&obj).expect("serializes")
    }

    fn follower(value: &str) -> Result<Option<i32>, CleanError> {
        pin(&pin_with("follower_count", Some(value))).map(|p| p.follower_count)
    }

    fn geo_ts(value: &str) -> Result<Option<i64>, CleanError> {
        clean_geo(format!(r#"{{"ind": 1, "timestamp": {value}}}"#).as_bytes()).map(|g| g.timestamp)
    }

    fn err(result: Result<impl fmt::Debug, CleanError>) -> CleanError {
        result.expect_err("expected a CleanError")
    }

    // --- pin -----------------------------------------------------------------------------------

    #[test]
    fn pin_full_record() {
        assert_eq!(
            pin(PIN).expect("cleans"),
            Pin::new(
                2863,
                Some(124_000),
                [
                    Some("9bf39437-42a6"),
                    Some("Summer Crafts"),
                    Some("Keep the kids busy"),
                    Some("Of Life & Lisa"),
                    Some("Summer Crafts,Diy"),
                    Some("image"),
                    Some("https://i.example/b3.jpg"),
                    Some("/data/diy-and-crafts"),
                    Some("diy-and-crafts"),
                ]
            )
        );
    }

    #[test]
    fn every_placeholder_becomes_null_in_every_pin_string_column() {
        for placeholder in PLACEHOLDERS {
            let literal = serde_json::to_string(placeholder).expect("serializes");
            for (column, field) in PIN_TEXT_COLUMNS.iter().enumerate() {
                let p = pin(&pin_with(field, Some(&literal))).expect("cleans");
                assert_eq!(p.text(column), None, "{field} = {placeholder:?}");
            }
        }
    }

    #[test]
    fn placeholder_follower_count_and_empty_string_are_null() {
        assert_eq!(follower(r#""User Info Error""#), Ok(None));
        assert_eq!(follower(r#""""#), Ok(None));
    }

    #[test]
    fn placeholder_match_is_exact() {
        let p = pin(&pin_with("title", Some(r#""No Title Data Available!""#))).expect("cleans");
        assert_eq!(p.title(), Some("No Title Data Available!"));
        let p = pin(&pin_with(
            "description",
            Some(r#"" No description available""#),
        ))
        .expect("cleans");
        assert_eq!(p.description(), Some(" No description available"));
    }

    #[test]
    fn pin_null_and_missing_string_columns_are_null() {
        let p = pin(&pin_with("title", Some("null"))).expect("cleans");
        assert_eq!(p.title(), None);
        let p = pin(&pin_with("description", None)).expect("cleans");
        assert_eq!(p.description(), None);
        let p = pin(r#"{"index": 5}"#).expect("cleans");
        assert_eq!(p, Pin::new(5, None, [None; 9]));
    }

    #[test]
    fn pin_numbers_and_bools_in_string_columns_become_their_json_text() {
        let p = pin(&pin_with("title", Some("42"))).expect("cleans");
        assert_eq!(p.title(), Some("42"));
        let p = pin(&pin_with("title", Some("-3"))).expect("cleans");
        assert_eq!(p.title(), Some("-3"));
        let p = pin(&pin_with("title", Some("7528.0"))).expect("cleans");
        assert_eq!(p.title(), Some("7528.0"));
        let p = pin(&pin_with("category", Some("true"))).expect("cleans");
        assert_eq!(p.category(), Some("true"));
    }

    #[test]
    fn pin_object_or_array_in_string_column_is_an_error() {
        let e = err(pin(&pin_with("title", Some(r#"{"a": 1}"#))));
        assert_eq!(e.field, Some("title"));
        assert_eq!(e.to_string(), "title: expected a string, found an object");
        let e = err(pin(&pin_with("tag_list", Some(r#"["a", "b"]"#))));
        assert_eq!(e.to_string(), "tag_list: expected a string, found an array");
    }

    #[test]
    fn escaped_strings_are_unescaped() {
        let p = pin(r#"{"index": 1, "title": "say \"hi\" \u00e9\n"}"#).expect("cleans");
        assert_eq!(p.title(), Some("say \"hi\" é\n"));
    }

    #[test]
    fn follower_count_thousands() {
        assert_eq!(follower(r#""1k""#), Ok(Some(1_000)));
        assert_eq!(follower(r#""124k""#), Ok(Some(124_000)));
        assert_eq!(follower(r#""999k""#), Ok(Some(999_000)));
    }

    #[test]
    fn follower_count_millions() {
        assert_eq!(follower(r#""1M""#), Ok(Some(1_000_000)));
        assert_eq!(follower(r#""15M""#), Ok(Some(15_000_000)));
    }

    #[test]
    fn follower_count_decimal_multiplier_rounds_to_nearest() {
        assert_eq!(follower(r#""1.5k""#), Ok(Some(1_500)));
        assert_eq!(follower(r#""2.25M""#), Ok(Some(2_250_000)));
        assert_eq!(follower(r#""1.0004k""#), Ok(Some(1_000)));
        assert_eq!(follower(r#""1.0005k""#), Ok(Some(1_001)));
        assert_eq!(follower(r#""0.0000005M""#), Ok(Some(1)));
        assert_eq!(follower(r#""1.23456789999k""#), Ok(Some(1_235)));
    }

    #[test]
    fn follower_count_plain_digits() {
        assert_eq!(follower(r#""0""#), Ok(Some(0)));
        assert_eq!(follower(r#""999""#), Ok(Some(999)));
        assert_eq!(follower(r#"" 42 ""#), Ok(Some(42)));
    }

    #[test]
    fn follower_count_json_integer() {
        assert_eq!(follower("124000"), Ok(Some(124_000)));
        assert_eq!(follower("124000.0"), Ok(Some(124_000)));
    }

    #[test]
    fn follower_count_null_and_missing() {
        assert_eq!(follower("null"), Ok(None));
        assert_eq!(
            pin(&pin_with("follower_count", None)).map(|p| p.follower_count),
            Ok(None)
        );
    }

    #[test]
    fn follower_count_12q_is_an_error() {
        let e = err(follower(r#""12q""#));
        assert_eq!(e.field, Some("follower_count"));
        assert_eq!(
            e.to_string(),
            r#"follower_count: cannot read "12q" as a follower count (expected digits, <N>k or <N>M)"#
        );
    }

    #[test]
    fn follower_count_other_malformed_values_are_errors() {
        for bad in [
            r#""-5""#,
            r#""k""#,
            r#""1.2.3k""#,
            r#""1.5""#,
            r#"".5k""#,
            r#""5.k""#,
            r#""1 k""#,
            r#""5K""#,
            r#""5m""#,
            r#""   ""#,
            "-5",
            "1.5",
            "true",
            "[1]",
        ] {
            let e = err(follower(bad));
            assert_eq!(e.field, Some("follower_count"), "{bad}");
            assert!(e.message.contains("as a follower count"), "{bad}: {e}");
        }
    }

    #[test]
    fn follower_count_above_i32_is_an_error() {
        assert_eq!(follower(r#""2147483647""#), Ok(Some(i32::MAX)));
        let e = err(follower(r#""2148M""#));
        assert_eq!(e.field, Some("follower_count"));
        assert!(e.message.contains("2148000000"), "{e}");
        assert!(e.message.contains("maximum"), "{e}");
        let e = err(follower("3000000000"));
        assert_eq!(
            e.to_string(),
            "follower_count: 3000000000 is above the 32-bit integer maximum"
        );
        err(follower(r#""99999999999999999999999999k""#));
    }

    #[test]
    fn save_location_prefix_is_removed() {
        let p = pin(&pin_with(
            "save_location",
            Some(r#""Local save in /data/christmas""#),
        ))
        .expect("cleans");
        assert_eq!(p.save_location(), Some("/data/christmas"));
    }

    #[test]
    fn save_location_without_prefix_is_kept() {
        let p = pin(&pin_with("save_location", Some(r#""/data/christmas""#))).expect("cleans");
        assert_eq!(p.save_location(), Some("/data/christmas"));
        let p = pin(&pin_with("save_location", Some(r#""Local save in""#))).expect("cleans");
        assert_eq!(p.save_location(), Some("Local save in"));
    }

    #[test]
    fn pin_index_is_required() {
        let e = err(pin(&pin_with("index", None)));
        assert_eq!(e.field, Some("index"));
        assert_eq!(e.to_string(), "index: required key missing");
        let e = err(pin(&pin_with("index", Some("null"))));
        assert_eq!(e.field, Some("index"));
        assert!(e.message.starts_with("required key missing"), "{e}");
    }

    #[test]
    fn pin_key_ind_is_not_index() {
        // The raw pin key is `index`; `ind` is an unknown extra key there.
        let e = err(pin(r#"{"ind": 3}"#));
        assert_eq!(e.field, Some("index"));
    }

    #[test]
    fn numbers_as_strings_are_accepted() {
        let p = pin(&pin_with("index", Some(r#""7528""#))).expect("cleans");
        assert_eq!(p.ind, 7528);
        let p = pin(&pin_with("index", Some(r#"" 7528 ""#))).expect("cleans");
        assert_eq!(p.ind, 7528);
        let p = pin(&pin_with("downloaded", Some(r#""1""#))).expect("cleans");
        assert_eq!(p.ind, 2863);
        let g = clean_geo(
            br#"{"ind": "7528", "latitude": "-89.9787", "longitude": " -173.293 ",
                "timestamp": "2020-08-28 03:52:47", "country": "Albania"}"#,
        )
        .expect("cleans");
        assert_eq!(g.ind, 7528);
        assert_eq!(g.coordinates, [Some(-89.9787), Some(-173.293)]);
        let u = clean_user(br#"{"ind": "9", "first_name": "A", "last_name": "B", "age": "20"}"#)
            .expect("cleans");
        assert_eq!((u.ind, u.age), (9, Some(20)));
    }

    #[test]
    fn integral_floats_are_ints() {
        assert_eq!(
            pin(&pin_with("index", Some("7528.0"))).map(|p| p.ind),
            Ok(7528)
        );
        assert_eq!(
            pin(&pin_with("index", Some(r#""7528.0""#))).map(|p| p.ind),
            Ok(7528)
        );
        assert_eq!(pin(&pin_with("index", Some("-3"))).map(|p| p.ind), Ok(-3));
    }

    #[test]
    fn bad_ints_are_errors_naming_field_and_value() {
        let e = err(pin(&pin_with("index", Some(r#""abc""#))));
        assert_eq!(e.to_string(), r#"index: cannot read "abc" as an integer"#);
        let e = err(pin(&pin_with("index", Some("1.5"))));
        assert_eq!(e.to_string(), "index: cannot read 1.5 as an integer");
        let e = err(pin(&pin_with("index", Some("true"))));
        assert_eq!(e.to_string(), "index: cannot read true as an integer");
        let e = err(pin(&pin_with("index", Some(r#""""#))));
        assert_eq!(e.field, Some("index"));
        let e = err(pin(&pin_with("index", Some("[1]"))));
        assert_eq!(e.to_string(), "index: cannot read an array as an integer");
    }

    #[test]
    fn ints_out_of_i32_range_are_errors() {
        let e = err(pin(&pin_with("index", Some("2147483648"))));
        assert_eq!(
            e.to_string(),
            "index: 2147483648 is out of range for a 32-bit integer"
        );
        let e = err(pin(&pin_with("index", Some("-2147483649"))));
        assert_eq!(e.field, Some("index"));
        let e = err(pin(&pin_with("index", Some("18446744073709551615"))));
        assert_eq!(e.field, Some("index"));
        let e = err(pin(&pin_with("index", Some(r#""99999999999""#))));
        assert_eq!(
            e.to_string(),
            r#"index: "99999999999" is out of range for a 32-bit integer"#
        );
        assert_eq!(
            pin(&pin_with("index", Some("-2147483648"))).map(|p| p.ind),
            Ok(i32::MIN)
        );
    }

    #[test]
    fn downloaded_is_validated_then_dropped() {
        assert!(pin(&pin_with("downloaded", None)).is_ok());
        assert!(pin(&pin_with("downloaded", Some("null"))).is_ok());
        assert!(pin(&pin_with("downloaded", Some("0"))).is_ok());
        let e = err(pin(&pin_with("downloaded", Some(r#""yes""#))));
        assert_eq!(
            e.to_string(),
            r#"downloaded: cannot read "yes" as an integer"#
        );
    }

    #[test]
    fn unknown_extra_keys_are_ignored() {
        let p = pin(&pin_with(
            "extra",
            Some(r#"{"nested": [1, 2, {"x": null}]}"#),
        ))
        .expect("cleans");
        assert_eq!(p.ind, 2863);
    }

    #[test]
    fn duplicate_keys_are_an_error() {
        let e = err(pin(r#"{"index": 1, "index": 2}"#));
        assert_eq!(e.field, None);
        assert!(e.message.contains("duplicate field `index`"), "{e}");
    }

    #[test]
    fn long_values_are_cut_in_error_messages() {
        let long = "x".repeat(500);
        let e = err(pin(&pin_with("index", Some(&format!("{long:?}")))));
        assert!(e.message.len() < 120, "{e}");
        assert!(e.message.contains('…'), "{e}");
    }

    // --- framing -------------------------------------------------------------------------------

    #[test]
    fn wrapped_in_one_element_array() {
        let wrapped = format!("[{PIN}]");
        assert_eq!(pin(&wrapped), pin(PIN));
        let g = clean_geo(format!(" [ {GEO} ] ").as_bytes()).expect("cleans");
        assert_eq!(g.ind, 7528);
        let u = clean_user(format!("[{USER}]").as_bytes()).expect("cleans");
        assert_eq!(u.user_name.as_deref(), Some("Abigail Ali"));
    }

    #[test]
    fn surrounding_whitespace_and_crlf_are_fine() {
        assert_eq!(pin(&format!("  \t{PIN}\r\n")), pin(PIN));
        assert_eq!(pin(&format!("\n[{PIN}]\r")), pin(PIN));
    }

    #[test]
    fn invalid_utf8_is_an_error_with_byte_offset() {
        let mut raw = br#"{"index": 1, "title": "ab"#.to_vec();
        let at = raw.len();
        raw.extend_from_slice(b"\xff\xfe\"}");
        let e = err(clean_pin(&raw));
        assert_eq!(e.field, None);
        assert_eq!(e.message, format!("not valid UTF-8 at byte {at}"));
    }

    #[test]
    fn truncated_json_is_an_error_with_position() {
        let e = err(pin(&PIN[..40]));
        assert_eq!(e.field, None);
        assert!(
            e.message.starts_with("truncated JSON: EOF while parsing"),
            "{e}"
        );
        assert!(e.message.contains("line 1 column"), "{e}");
        let e = err(clean_geo(format!("[{}", &GEO[..30]).as_bytes()));
        assert!(e.message.starts_with("truncated JSON"), "{e}");
    }

    #[test]
    fn non_json_is_an_error() {
        for raw in [
            "hello",
            "nope",
            "{index: 1}",
            "{\"index\": 1,}",
            "ind=1",
            "<xml/>",
        ] {
            let e = err(pin(raw));
            assert_eq!(e.field, None, "{raw}");
            assert!(e.message.starts_with("not valid JSON: "), "{raw}: {e}");
            assert!(e.message.contains("line 1 column"), "{raw}: {e}");
        }
        let e = err(pin(r#"{"index": 1} trailing"#));
        assert!(e.message.contains("trailing characters"), "{e}");
    }

    #[test]
    fn empty_input_is_an_error() {
        assert_eq!(err(pin("")).message, "empty record: expected a JSON object");
        assert_eq!(err(pin(" \r\n")).field, None);
    }

    #[test]
    fn json_array_of_numbers_is_an_error() {
        let e = err(pin("[1,2,3]"));
        assert_eq!(e.field, None);
        assert_eq!(
            e.message,
            "expected a JSON object (or a one-element array holding one), found an array of 3 elements"
        );
    }

    #[test]
    fn empty_array_is_an_error() {
        let e = err(pin("[]"));
        assert_eq!(
            e.message,
            "expected a JSON object (or a one-element array holding one), found an empty array"
        );
    }

    #[test]
    fn other_arrays_are_errors() {
        let e = err(pin(&format!("[{PIN}, {PIN}]")));
        assert!(e.message.ends_with("found an array of 2 elements"), "{e}");
        let e = err(pin("[5]"));
        assert!(
            e.message
                .ends_with("found a one-element array holding a number"),
            "{e}"
        );
        let e = err(pin(&format!("[[{PIN}]]")));
        assert!(
            e.message
                .ends_with("found a one-element array holding an array"),
            "{e}"
        );
        let e = err(pin(r#"["x"]"#));
        assert!(e.message.ends_with("holding a string"), "{e}");
    }

    #[test]
    fn scalars_are_errors() {
        let cases = [
            ("42", "a number"),
            ("-1.5", "a number"),
            (r#""{\"index\": 1}""#, "a string"),
            ("true", "a boolean"),
            ("null", "null"),
        ];
        for (raw, kind) in cases {
            let e = err(pin(raw));
            assert_eq!(
                e.message,
                format!(
                    "expected a JSON object (or a one-element array holding one), found {kind}"
                )
            );
        }
    }

    #[test]
    fn error_display_without_field_is_the_message() {
        let e = CleanError::record("oops");
        assert_eq!(e.to_string(), "oops");
        let e = CleanError::field("age", "bad");
        assert_eq!(e.to_string(), "age: bad");
    }

    // --- geo -----------------------------------------------------------------------------------

    #[test]
    fn geo_full_record_and_coordinate_order() {
        assert_eq!(
            clean_geo(GEO.as_bytes()).expect("cleans"),
            Geo {
                ind: 7528,
                country: Some("Albania".into()),
                coordinates: [Some(-89.9787), Some(-173.293)],
                timestamp: Some(GEO_MICROS),
            }
        );
        // Key order in the input does not matter: slot 0 is always latitude.
        let g = clean_geo(br#"{"longitude": 20, "ind": 1, "latitude": 10}"#).expect("cleans");
        assert_eq!(g.coordinates, [Some(10.0), Some(20.0)]);
    }

    #[test]
    fn geo_missing_or_null_values() {
        let g = clean_geo(br#"{"ind": 1, "latitude": null, "country": null}"#).expect("cleans");
        assert_eq!(
            g,
            Geo {
                ind: 1,
                country: None,
                coordinates: [None, None],
                timestamp: None,
            }
        );
        let g = clean_geo(br#"{"ind": 1, "longitude": 3.5}"#).expect("cleans");
        assert_eq!(g.coordinates, [None, Some(3.5)]);
    }

    #[test]
    fn geo_country_has_no_placeholder_rule() {
        let g = clean_geo(br#"{"ind": 1, "country": "User Info Error"}"#).expect("cleans");
        assert_eq!(g.country.as_deref(), Some("User Info Error"));
        let g = clean_geo(br#"{"ind": 1, "country": ""}"#).expect("cleans");
        assert_eq!(g.country.as_deref(), Some(""));
    }

    #[test]
    fn geo_bad_coordinates_are_errors() {
        let e = err(clean_geo(br#"{"ind": 1, "latitude": "north"}"#));
        assert_eq!(
            e.to_string(),
            r#"latitude: cannot read "north" as a number"#
        );
        let e = err(clean_geo(br#"{"ind": 1, "longitude": true}"#));
        assert_eq!(e.field, Some("longitude"));
        let e = err(clean_geo(br#"{"ind": 1, "longitude": "NaN"}"#));
        assert_eq!(e.field, Some("longitude"));
        let e = err(clean_geo(br#"{"ind": 1, "latitude": [1, 2]}"#));
        assert_eq!(e.field, Some("latitude"));
    }

    #[test]
    fn geo_ind_is_required() {
        let e = err(clean_geo(br#"{"timestamp": "2020-08-28 03:52:47"}"#));
        assert_eq!(e.to_string(), "ind: required key missing");
        let e = err(clean_geo(br#"{"ind": null}"#));
        assert_eq!(e.field, Some("ind"));
    }

    // --- timestamps ----------------------------------------------------------------------------

    #[test]
    fn timestamp_with_space() {
        assert_eq!(geo_ts(r#""2020-08-28 03:52:47""#), Ok(Some(GEO_MICROS)));
    }

    #[test]
    fn timestamp_with_t() {
        assert_eq!(geo_ts(r#""2020-08-28T03:52:47""#), Ok(Some(GEO_MICROS)));
    }

    #[test]
    fn timestamp_fractional_seconds() {
        assert_eq!(
            geo_ts(r#""2020-08-28 03:52:47.5""#),
            Ok(Some(GEO_MICROS + 500_000))
        );
        assert_eq!(
            geo_ts(r#""2020-08-28T03:52:47.123456""#),
            Ok(Some(GEO_MICROS + 123_456))
        );
        // Below a microsecond is truncated, as a Spark timestamp would.
        assert_eq!(
            geo_ts(r#""2020-08-28T03:52:47.123456789""#),
            Ok(Some(GEO_MICROS + 123_456))
        );
        err(geo_ts(r#""2020-08-28T03:52:47.1234567891""#));
        err(geo_ts(r#""2020-08-28T03:52:47.""#));
    }

    #[test]
    fn timestamp_zone_is_converted_to_utc() {
        assert_eq!(geo_ts(r#""2020-08-28T03:52:47Z""#), Ok(Some(GEO_MICROS)));
        assert_eq!(
            geo_ts(r#""2020-08-28T05:52:47+02:00""#),
            Ok(Some(GEO_MICROS))
        );
        assert_eq!(
            geo_ts(r#""2020-08-27T22:52:47-05:00""#),
            Ok(Some(GEO_MICROS))
        );
        assert_eq!(
            geo_ts(r#""2020-08-28 05:52:47.25+02:00""#),
            Ok(Some(GEO_MICROS + 250_000))
        );
    }

    #[test]
    fn timestamp_null_and_missing() {
        assert_eq!(geo_ts("null"), Ok(None));
        assert_eq!(clean_geo(br#"{"ind": 1}"#).map(|g| g.timestamp), Ok(None));
    }

    #[test]
    fn timestamp_yesterday_is_an_error() {
        let e = err(geo_ts(r#""yesterday""#));
        assert_eq!(e.field, Some("timestamp"));
        assert!(
            e.to_string()
                .starts_with(r#"timestamp: cannot read "yesterday" as a timestamp"#),
            "{e}"
        );
    }

    #[test]
    fn timestamp_malformed_values_are_errors() {
        for bad in [
            r#""2020-08-28""#,
            r#""2020-13-01 00:00:00""#,
            r#""2021-02-29 00:00:00""#,
            r#""2020-08-28 24:00:00""#,
            r#""2020-08-28 03:60:00""#,
            r#""2020-08-28 03:52:60""#,
            r#""2020/08/28 03:52:47""#,
            r#""2020-08-28_03:52:47""#,
            r#""2020-08-28 03:52:47 UTC""#,
            r#""2020-08-28T03:52:47+2""#,
            r#""＋2020-08-28T03:52:47""#,
            "1598586767",
            "true",
        ] {
            let e = err(geo_ts(bad));
            assert_eq!(e.field, Some("timestamp"), "{bad}");
        }
    }

    #[test]
    fn timestamp_calendar_edges() {
        assert_eq!(geo_ts(r#""1970-01-01 00:00:00""#), Ok(Some(0)));
        assert_eq!(geo_ts(r#""1969-12-31 23:59:59""#), Ok(Some(-1_000_000)));
        assert_eq!(
            geo_ts(r#""2000-02-29 00:00:00""#),
            Ok(Some(951_782_400_000_000))
        );
        err(geo_ts(r#""1900-02-29 00:00:00""#));
    }

    #[test]
    fn days_from_civil_matches_chrono() {
        use chrono::{Datelike, NaiveDate};
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid");
        let mut date = NaiveDate::from_ymd_opt(1599, 12, 25).expect("valid");
        let end = NaiveDate::from_ymd_opt(2404, 3, 5).expect("valid");
        while date < end {
            let expected = (date - epoch).num_days();
            let got = days_from_civil(i64::from(date.year()), date.month(), date.day());
            assert_eq!(got, expected, "{date}");
            assert!(date.day() <= days_in_month(date.year() as u32, date.month()));
            date = date.succ_opt().expect("next day");
        }
    }

    // --- user ----------------------------------------------------------------------------------

    #[test]
    fn user_full_record() {
        assert_eq!(
            clean_user(USER.as_bytes()).expect("cleans"),
            User {
                ind: 7528,
                user_name: Some("Abigail Ali".into()),
                age: Some(20),
                date_joined: Some(1_445_685_831_000_000),
            }
        );
    }

    #[test]
    fn user_name_concat_uses_one_space() {
        let u = clean_user(br#"{"ind": 1, "first_name": "Mary Ann", "last_name": "O'Neil"}"#)
            .expect("cleans");
        assert_eq!(u.user_name.as_deref(), Some("Mary Ann O'Neil"));
        let u = clean_user(br#"{"ind": 1, "first_name": "", "last_name": "Ali"}"#).expect("cleans");
        assert_eq!(u.user_name.as_deref(), Some(" Ali"));
    }

    #[test]
    fn user_name_is_null_when_either_part_is_null() {
        for raw in [
            r#"{"ind": 1, "first_name": null, "last_name": "Ali"}"#,
            r#"{"ind": 1, "first_name": "Abigail", "last_name": null}"#,
            r#"{"ind": 1, "first_name": "Abigail"}"#,
            r#"{"ind": 1, "last_name": "Ali"}"#,
            r#"{"ind": 1}"#,
        ] {
            let u = clean_user(raw.as_bytes()).expect("cleans");
            assert_eq!(u.user_name, None, "{raw}");
        }
    }

    #[test]
    fn user_age_abc_is_an_error() {
        let e = err(clean_user(br#"{"ind": 1, "age": "abc"}"#));
        assert_eq!(e.field, Some("age"));
        assert_eq!(e.to_string(), r#"age: cannot read "abc" as an integer"#);
    }

    #[test]
    fn user_age_null_and_coercions() {
        assert_eq!(
            clean_user(br#"{"ind": 1, "age": null}"#).map(|u| u.age),
            Ok(None)
        );
        assert_eq!(
            clean_user(br#"{"ind": 1, "age": 20.0}"#).map(|u| u.age),
            Ok(Some(20))
        );
        assert_eq!(
            clean_user(br#"{"ind": 1, "age": " 20 "}"#).map(|u| u.age),
            Ok(Some(20))
        );
    }

    #[test]
    fn user_date_joined_formats_and_errors() {
        let t = clean_user(br#"{"ind": 1, "date_joined": "2015-10-24T11:23:51"}"#)
            .map(|u| u.date_joined);
        assert_eq!(t, Ok(Some(1_445_685_831_000_000)));
        let e = err(clean_user(br#"{"ind": 1, "date_joined": "yesterday"}"#));
        assert_eq!(e.field, Some("date_joined"));
    }

    #[test]
    fn user_ind_is_required() {
        let e = err(clean_user(br#"{"first_name": "A", "last_name": "B"}"#));
        assert_eq!(e.to_string(), "ind: required key missing");
    }
}
