//! A fast reader for the common shape of an event: one flat JSON object whose values are
//! scalars (`{"id": 7, "name": "x", "score": 0.5, "ok": true, "note": null}`).
//!
//! Event records are parsed once each, so parsing is the largest cost of a pipeline whose
//! operators are cheap. A general parser (serde_json through `Deserialize`) pays for its
//! generality per value; this one handles only flat objects and gives up on anything else
//! (a nested value, a top-level array, a key with escapes, a duplicate key, any syntax error),
//! returning `None` so that the caller parses the record with a complete parser instead, which
//! also explains what is wrong. Whatever it accepts, it reads exactly as serde_json would:
//! the same strings (escapes decoded), integers as `u64`/`i64`, other numbers as `f64`.

use std::borrow::Cow;

/// A scalar member value.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    Null,
    Bool(bool),
    /// Borrowed from the input unless it contained escapes.
    Str(Cow<'a, str>),
    /// A non-negative integer.
    UInt(u64),
    /// A negative integer.
    Int(i64),
    /// A number with a fraction.
    Float(f64),
}

/// Reads `text` (the whole record, without surrounding whitespace) as a flat object, calling
/// `member(key, value)` for each member in order. `member` returns false to give up (a
/// duplicate key, say). `None` means: not a flat object this reader understands, parse it
/// with a complete parser.
pub fn read_flat_object<'a>(
    text: &'a str,
    mut member: impl FnMut(&'a str, Scalar<'a>) -> bool,
) -> Option<()> {
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        at: 0,
    };
    reader.expect(b'{')?;
    reader.skip_whitespace();
    if reader.peek() == Some(b'}') {
        reader.at += 1;
        return reader.at_end();
    }
    loop {
        reader.expect(b'"')?;
        let key = reader.plain_string()?;
        reader.skip_whitespace();
        reader.expect(b':')?;
        reader.skip_whitespace();
        let value = reader.scalar()?;
        if !member(key, value) {
            return None;
        }
        reader.skip_whitespace();
        match reader.next()? {
            b',' => reader.skip_whitespace(),
            b'}' => return reader.at_end(),
            _ => return None,
        }
    }
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    fn at_end(&self) -> Option<()> {
        (self.at == self.bytes.len()).then_some(())
    }

    /// JSON's whitespace: space, tab, line feed, carriage return.
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// The rest of a string whose opening quote was read, up to the next quote or backslash;
    /// returns the position of that byte. Control characters are not allowed in strings.
    fn string_run(&self) -> Option<usize> {
        let rest = &self.bytes[self.at..];
        let end = memchr::memchr2(b'"', b'\\', rest)?;
        // `min` over the run compiles to a vector loop; a control character is rare enough
        // that finding it late costs nothing.
        if rest[..end].iter().copied().min().is_some_and(|b| b < 0x20) {
            return None;
        }
        Some(self.at + end)
    }

    /// A string without escapes (keys), after its opening quote.
    fn plain_string(&mut self) -> Option<&'a str> {
        let end = self.string_run()?;
        if self.bytes[end] != b'"' {
            return None;
        }
        let value = self.text.get(self.at..end)?;
        self.at = end + 1;
        Some(value)
    }

    /// A string value after its opening quote, escapes decoded.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let end = self.string_run()?;
        if self.bytes[end] == b'"' {
            let value = self.text.get(self.at..end)?;
            self.at = end + 1;
            return Some(Cow::Borrowed(value));
        }
        let mut owned = String::with_capacity(end - self.at + 16);
        let mut end = end;
        loop {
            owned.push_str(self.text.get(self.at..end)?);
            self.at = end;
            if self.next()? == b'"' {
                return Some(Cow::Owned(owned));
            }
            self.escape(&mut owned)?;
            end = self.string_run()?;
        }
    }

    /// One escape sequence after its backslash.
    fn escape(&mut self, out: &mut String) -> Option<()> {
        let decoded = match self.next()? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4()?;
                match unit {
                    0xD800..=0xDBFF => {
                        // A leading surrogate must be followed by a trailing one; anything
                        // else is for the complete parser to reject.
                        self.expect(b'\\')?;
                        self.expect(b'u')?;
                        let low = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return None;
                        }
                        let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                        char::from_u32(code)?
                    }
                    0xDC00..=0xDFFF => return None,
                    _ => char::from_u32(unit)?,
                }
            }
            _ => return None,
        };
        out.push(decoded);
        Some(())
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.at..self.at + 4)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.at += 4;
        u32::from_str_radix(digits, 16).ok()
    }

    fn scalar(&mut self) -> Option<Scalar<'a>> {
        match self.peek()? {
            b'"' => {
                self.at += 1;
                self.string().map(Scalar::Str)
            }
            b'-' | b'0'..=b'9' => self.number(),
            b't' => self.literal("true", Scalar::Bool(true)),
            b'f' => self.literal("false", Scalar::Bool(false)),
            b'n' => self.literal("null", Scalar::Null),
            _ => None,
        }
    }

    fn literal(&mut self, word: &str, value: Scalar<'a>) -> Option<Scalar<'a>> {
        if !self.bytes[self.at..].starts_with(word.as_bytes()) {
            return None;
        }
        self.at += word.len();
        Some(value)
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        self.at - start
    }

    /// A number as JSON's grammar has it, `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, of
    /// the forms events use (see the cases below that are left to serde_json).
    fn number(&mut self) -> Option<Scalar<'a>> {
        let start = self.at;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        let integer_digits = match self.peek()? {
            b'0' => {
                self.at += 1;
                1
            }
            b'1'..=b'9' => self.digits(),
            _ => return None,
        };
        let mut fraction_digits = 0;
        if self.peek() == Some(b'.') {
            self.at += 1;
            fraction_digits = self.digits();
            if fraction_digits == 0 {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            // Rare in events; serde_json's rounding of exponents is its own to reproduce.
            return None;
        }
        let text = &self.text[start..self.at];
        if fraction_digits > 0 {
            // Up to 15 digits, the value is an integer below 2^53 divided by an exact power of
            // ten: one correctly rounded division, which is what serde_json computes too, and
            // equal to the correctly rounded parse. Longer ones are left to serde_json.
            if integer_digits + fraction_digits > 15 {
                return None;
            }
            return text.parse().ok().map(Scalar::Float);
        }
        // 18 digits always fit; longer integers (and serde_json's handling of -0) are left to
        // the complete parser.
        if integer_digits > 18 {
            return None;
        }
        if negative {
            let value: i64 = text.parse().ok()?;
            (value != 0).then_some(Scalar::Int(value))
        } else {
            text.parse().ok().map(Scalar::UInt)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(text: &str) -> Option<Vec<(&str, Scalar<'_>)>> {
        let mut out = Vec::new();
        read_flat_object(text, |key, value| {
            out.push((key, value));
            true
        })?;
        Some(out)
    }

    #[test]
    fn reads_every_kind_of_scalar() {
        let got = members(
            r#"{"s": "text", "e": "a\"b\\c\/\n\u00e9\ud83d\ude00", "u": 42, "i": -7, "f": -150.25, "z": 0, "t": true, "no": false, "n": null}"#,
        )
        .expect("flat");
        assert_eq!(
            got,
            vec![
                ("s", Scalar::Str(Cow::Borrowed("text"))),
                ("e", Scalar::Str(Cow::Owned("a\"b\\c/\né😀".into()))),
                ("u", Scalar::UInt(42)),
                ("i", Scalar::Int(-7)),
                ("f", Scalar::Float(-150.25)),
                ("z", Scalar::UInt(0)),
                ("t", Scalar::Bool(true)),
                ("no", Scalar::Bool(false)),
                ("n", Scalar::Null),
            ]
        );
        assert_eq!(members("{}"), Some(vec![]));
        assert_eq!(
            members("{ \"a\" :\t1 ,\r\n\"b\":2 }").map(|m| m.len()),
            Some(2)
        );
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let got = members(r#"{"k": "value"}"#).expect("flat");
        assert!(matches!(&got[0].1, Scalar::Str(Cow::Borrowed("value"))));
    }

    #[test]
    fn gives_up_on_anything_else() {
        for text in [
            r#"{"a": {"b": 1}}"#,
            r#"{"a": [1]}"#,
            r#"[{"a": 1}]"#,
            r#"{"a\"": 1}"#,
            r#"{"a": 1,}"#,
            r#"{"a": 1} x"#,
            r#"{"a": 1"#,
            r#"{"a" 1}"#,
            r#"{a: 1}"#,
            r#"{"a": 01}"#,
            r#"{"a": 1.}"#,
            r#"{"a": .5}"#,
            r#"{"a": 1e}"#,
            r#"{"a": 1e3}"#,
            r#"{"a": 2.5E+3}"#,
            r#"{"a": 3.141592653589793}"#,
            r#"{"a": -}"#,
            r#"{"a": -0}"#,
            r#"{"a": 1234567890123456789}"#,
            r#"{"a": tru}"#,
            r#"{"a": "\x"}"#,
            r#"{"a": "\u12"}"#,
            r#"{"a": "\ud800"}"#,
            r#"{"a": "\udc00"}"#,
            r#"{"a": "\ud800\u0041"}"#,
            "{\"a\": \"tab\there\"}",
            r#"{"a": "unterminated}"#,
        ] {
            assert_eq!(members(text), None, "{text}");
        }
    }

    #[test]
    fn the_callback_can_give_up() {
        assert_eq!(read_flat_object(r#"{"a": 1}"#, |_, _| false), None);
    }

    /// Whatever this reader accepts, serde_json reads the same way.
    #[test]
    fn agrees_with_serde_json() {
        for text in [
            r#"{"a": 3.14159265358979, "b": -66.0472, "c": 0.000000001, "d": 18446744073, "e": -9007199254740993}"#,
            r#"{"a": 123456789012345678, "b": -123456789012345678, "c": -89.9787, "d": -173.293}"#,
            r#"{"a": "caf\u00e9 \u2026 \ud83d\ude00", "b": "tab\tnl\n", "c": ""}"#,
            r#"{"a": 0.1, "b": 0.3, "c": 999999999999.999, "d": 0.12345678901234}"#,
        ] {
            let ours = members(text).expect("flat");
            let theirs: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(text).expect("valid");
            assert_eq!(ours.len(), theirs.len(), "{text}");
            for (key, value) in ours {
                let expected = &theirs[key];
                let same = match value {
                    Scalar::Null => expected.is_null(),
                    Scalar::Bool(b) => expected.as_bool() == Some(b),
                    Scalar::Str(s) => expected.as_str() == Some(&*s),
                    Scalar::UInt(u) => expected.as_u64() == Some(u),
                    Scalar::Int(i) => expected.as_i64() == Some(i),
                    Scalar::Float(f) => {
                        expected.as_f64().map(f64::to_bits) == Some(f.to_bits())
                            && !expected.is_i64()
                            && !expected.is_u64()
                    }
                };
                assert!(same, "{key} in {text}: {expected:?}");
            }
        }
    }
}
