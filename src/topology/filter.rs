//! The generic `filter` transform: keeps records whose named field satisfies one predicate.
//!
//! ```toml
//! [transforms.christmas]
//! type = "filter"
//! input = "clean_pin"
//! field = "category"
//! equals = "christmas"      # or not_equals, one_of, is_null, gt, gte, lt, lte, contains
//! ```
//! Comparisons with a null field are false (also `not_equals`), as in SQL; use `is_null`.

use serde::Deserialize;

use crate::dsl::FieldValue;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    pub field: String,
    pub equals: Option<Literal>,
    pub not_equals: Option<Literal>,
    pub one_of: Option<Vec<Literal>>,
    pub is_null: Option<bool>,
    pub gt: Option<Literal>,
    pub gte: Option<Literal>,
    pub lt: Option<Literal>,
    pub lte: Option<Literal>,
    pub contains: Option<String>,
}

/// A value written in the file. Strings that look like timestamps also compare with
/// timestamp fields.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Literal {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

#[derive(Debug, Clone)]
enum Test {
    Equals(Value),
    NotEquals(Value),
    OneOf(Vec<Value>),
    IsNull(bool),
    Order(std::cmp::Ordering, bool, Value),
    Contains(String),
}

/// A literal prepared for fast comparison.
#[derive(Debug, Clone)]
struct Value {
    literal: Literal,
    timestamp: Option<i64>,
}

/// A compiled predicate over the fields of one record type.
#[derive(Debug, Clone)]
pub struct Predicate {
    field: usize,
    test: Test,
}

const PREDICATES: &str = "equals, not_equals, one_of, is_null, gt, gte, lt, lte, contains";

impl FilterConfig {
    /// Compiles against a record type's field names. Errors name the key to fix.
    pub fn compile(self, field_names: &[&str]) -> Result<Predicate, (&'static str, String)> {
        let field = field_names
            .iter()
            .position(|name| *name == self.field)
            .ok_or_else(|| {
                (
                    "field",
                    format!(
                        "`{}` is not a field of this stream; its fields are: {}",
                        self.field,
                        field_names.join(", ")
                    ),
                )
            })?;
        let mut tests = Vec::new();
        let value = |literal: Literal| Value {
            timestamp: match &literal {
                Literal::Str(text) => parse_timestamp(text),
                _ => None,
            },
            literal,
        };
        use std::cmp::Ordering::{Greater, Less};
        if let Some(v) = self.equals {
            tests.push(Test::Equals(value(v)));
        }
        if let Some(v) = self.not_equals {
            tests.push(Test::NotEquals(value(v)));
        }
        if let Some(values) = self.one_of {
            tests.push(Test::OneOf(values.into_iter().map(value).collect()));
        }
        if let Some(v) = self.is_null {
            tests.push(Test::IsNull(v));
        }
        if let Some(v) = self.gt {
            tests.push(Test::Order(Greater, false, value(v)));
        }
        if let Some(v) = self.gte {
            tests.push(Test::Order(Greater, true, value(v)));
        }
        if let Some(v) = self.lt {
            tests.push(Test::Order(Less, false, value(v)));
        }
        if let Some(v) = self.lte {
            tests.push(Test::Order(Less, true, value(v)));
        }
        if let Some(v) = self.contains {
            tests.push(Test::Contains(v));
        }
        match tests.len() {
            1 => Ok(Predicate {
                field,
                test: tests.remove(0),
            }),
            0 => Err((
                "field",
                format!("needs one predicate beside it: one of {PREDICATES}"),
            )),
            _ => Err((
                "field",
                format!(
                    "has {} predicates; give exactly one of {PREDICATES} (chain filters for more)",
                    tests.len()
                ),
            )),
        }
    }
}

impl Predicate {
    pub fn field(&self) -> usize {
        self.field
    }

    pub fn matches(&self, value: FieldValue<'_>) -> bool {
        let is_null = matches!(value, FieldValue::Null);
        match &self.test {
            Test::IsNull(expected) => is_null == *expected,
            _ if is_null => false,
            Test::Equals(expected) => compare(value, expected) == Some(std::cmp::Ordering::Equal),
            Test::NotEquals(expected) => {
                compare(value, expected).is_some_and(|o| o != std::cmp::Ordering::Equal)
            }
            Test::OneOf(values) => values
                .iter()
                .any(|v| compare(value, v) == Some(std::cmp::Ordering::Equal)),
            Test::Order(direction, or_equal, bound) => compare(value, bound)
                .is_some_and(|o| o == *direction || (*or_equal && o == std::cmp::Ordering::Equal)),
            Test::Contains(needle) => match value {
                FieldValue::Str(text) => text.contains(needle.as_str()),
                _ => false,
            },
        }
    }
}

/// Orders a field value against a literal; `None` when they cannot be compared.
fn compare(field: FieldValue<'_>, literal: &Value) -> Option<std::cmp::Ordering> {
    match (field, &literal.literal) {
        (FieldValue::Str(a), Literal::Str(b)) => Some(a.cmp(b.as_str())),
        (FieldValue::Bool(a), Literal::Bool(b)) => Some(a.cmp(b)),
        (FieldValue::Int(a), Literal::Int(b)) => Some(a.cmp(b)),
        (FieldValue::Int(a), Literal::Float(b)) => (a as f64).partial_cmp(b),
        (FieldValue::Float(a), Literal::Int(b)) => a.partial_cmp(&(*b as f64)),
        (FieldValue::Float(a), Literal::Float(b)) => a.partial_cmp(b),
        (FieldValue::Timestamp(a), _) => literal.timestamp.map(|b| a.cmp(&b)),
        _ => None,
    }
}

/// `2020-01-01`, `2020-01-01 10:00:00`, `2020-01-01T10:00:00` (UTC) or RFC 3339.
fn parse_timestamp(text: &str) -> Option<i64> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.timestamp_micros());
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Some(at.and_utc().timestamp_micros());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|at| at.and_utc().timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[&str] = &["category", "follower_count", "timestamp"];

    fn config(field: &str) -> FilterConfig {
        FilterConfig {
            field: field.into(),
            equals: None,
            not_equals: None,
            one_of: None,
            is_null: None,
            gt: None,
            gte: None,
            lt: None,
            lte: None,
            contains: None,
        }
    }

    #[test]
    fn equality_and_membership() {
        let mut c = config("category");
        c.equals = Some(Literal::Str("art".into()));
        let p = c.compile(FIELDS).unwrap();
        assert_eq!(p.field(), 0);
        assert!(p.matches(FieldValue::Str("art")));
        assert!(!p.matches(FieldValue::Str("travel")));
        assert!(!p.matches(FieldValue::Null));

        let mut c = config("category");
        c.one_of = Some(vec![Literal::Str("art".into()), Literal::Str("diy".into())]);
        let p = c.compile(FIELDS).unwrap();
        assert!(p.matches(FieldValue::Str("diy")));
        assert!(!p.matches(FieldValue::Str("travel")));

        let mut c = config("category");
        c.not_equals = Some(Literal::Str("art".into()));
        let p = c.compile(FIELDS).unwrap();
        assert!(p.matches(FieldValue::Str("travel")));
        assert!(
            !p.matches(FieldValue::Null),
            "null compares false, as in SQL"
        );
    }

    #[test]
    fn ordering_numbers_and_timestamps() {
        let mut c = config("follower_count");
        c.gte = Some(Literal::Int(1000));
        let p = c.compile(FIELDS).unwrap();
        assert!(p.matches(FieldValue::Int(1000)));
        assert!(p.matches(FieldValue::Float(1000.5)));
        assert!(!p.matches(FieldValue::Int(999)));

        let mut c = config("timestamp");
        c.lt = Some(Literal::Str("2020-01-01".into()));
        let p = c.compile(FIELDS).unwrap();
        assert!(p.matches(FieldValue::Timestamp(0)));
        assert!(!p.matches(FieldValue::Timestamp(1_600_000_000_000_000)));
    }

    #[test]
    fn nulls_and_contains() {
        let mut c = config("category");
        c.is_null = Some(true);
        let p = c.compile(FIELDS).unwrap();
        assert!(p.matches(FieldValue::Null));
        assert!(!p.matches(FieldValue::Str("x")));

        let mut c = config("category");
        c.contains = Some("fash".into());
        let p = c.compile(FIELDS).unwrap();
        assert!(p.matches(FieldValue::Str("mens-fashion")));
        assert!(!p.matches(FieldValue::Int(3)));
    }

    #[test]
    fn errors_name_the_key() {
        let err = config("categori").compile(FIELDS).unwrap_err();
        assert_eq!(err.0, "field");
        assert!(
            err.1.contains("category, follower_count, timestamp"),
            "{}",
            err.1
        );
        let err = config("category").compile(FIELDS).unwrap_err();
        assert!(err.1.contains("needs one predicate"), "{}", err.1);
        let mut c = config("category");
        c.equals = Some(Literal::Int(1));
        c.gt = Some(Literal::Int(1));
        assert!(c.compile(FIELDS).unwrap_err().1.contains("exactly one"));
    }
}
