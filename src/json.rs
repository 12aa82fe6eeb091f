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

/// Reads `bytes` (the whole record, without surrounding whitespace) as a flat object, calling
/// `member(key, value)` for each member in order. `member` returns false to give up (a
/// duplicate key, say). `None` means: not a flat object this reader understands, parse it
/// with a complete parser.
///
/// The record need not have been checked for UTF-8: everything outside strings must be one of
/// JSON's ASCII tokens to be accepted, and every string is checked (for free when it is ASCII,
/// which the scan that finds its end tells), so an accepted record is valid UTF-8. Records that
/// are not are left to the complete parser, which says where.
pub fn read_flat_object<'a>(
    bytes: &'a [u8],
    member: impl FnMut(&'a str, Scalar<'a>) -> bool,
) -> Option<()> {
    read_object(bytes, Reader::plain_string, member)
}

/// The keys of a record type, in the order its producers write them (see
/// [`read_known_object`]).
#[derive(Debug, Clone, Copy)]
pub struct KnownKeys(&'static [&'static str]);

impl KnownKeys {
    /// Panics (at compile time, in a `const`) on a key with a quote, a backslash or a control
    /// character, since keys are matched byte for byte against the record, which is only sound
    /// for keys that JSON writes without escapes; and on a key given twice, which would have
    /// two indices.
    pub const fn new(keys: &'static [&'static str]) -> Self {
        let mut k = 0;
        while k < keys.len() {
            let key = keys[k].as_bytes();
            let mut i = 0;
            while i < key.len() {
                assert!(
                    key[i] != b'"' && key[i] != b'\\' && key[i] >= 0x20,
                    "a known key must need no escapes"
                );
                i += 1;
            }
            let mut earlier = 0;
            while earlier < k {
                assert!(
                    !same_bytes(keys[earlier].as_bytes(), key),
                    "a known key must be given once"
                );
                earlier += 1;
            }
            k += 1;
        }
        KnownKeys(keys)
    }
}

/// `a == b`, in a `const fn`.
const fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// [`read_flat_object`] for a record type whose keys are known: `member(index, value)` gets the
/// key's index in `keys`, `None` for a key not among them.
///
/// A producer writes a type's keys in one order, so the reader expects the key after the last
/// one it found and checks for it in place, one comparison, instead of scanning for the closing
/// quote and looking the name up. Keys in another order, or unknown ones, are read and looked up
/// as [`read_flat_object`] reads them, so the result is the same either way.
pub fn read_known_object<'a>(
    bytes: &'a [u8],
    keys: KnownKeys,
    member: impl FnMut(Option<usize>, Scalar<'a>) -> bool,
) -> Option<()> {
    let mut expected = 0;
    read_object(
        bytes,
        |reader: &mut Reader<'a>| reader.known_key(keys.0, &mut expected),
        member,
    )
}

/// The object grammar of both readers; `key` reads a key after its opening quote.
fn read_object<'a, K>(
    bytes: &'a [u8],
    mut key: impl FnMut(&mut Reader<'a>) -> Option<K>,
    mut member: impl FnMut(K, Scalar<'a>) -> bool,
) -> Option<()> {
    let mut reader = Reader { bytes, at: 0 };
    reader.expect(b'{')?;
    reader.skip_whitespace();
    if reader.peek() == Some(b'}') {
        reader.at += 1;
        return reader.at_end();
    }
    loop {
        reader.expect(b'"')?;
        let key = key(&mut reader)?;
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

/// The end of a run of string content: the position of the first `"`, `\` or control
/// character at or after the start, and whether any byte before it was outside ASCII.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StringRun {
    stop: usize,
    ascii: bool,
}

/// Finds where the string content starting at `at` stops (see [`StringRun`]); `None` if it
/// runs to the end of `bytes`.
///
/// This one pass replaces a search for the quote or backslash, a second pass for control
/// characters and the record's UTF-8 check, which together were an eighth of a file
/// pipeline's instructions: strings are most of an event's bytes.
fn scan_string(bytes: &[u8], at: usize) -> Option<StringRun> {
    #[cfg(target_arch = "x86_64")]
    let (at, outside_ascii) = match scan_string_sse2(bytes, at) {
        Ok(run) => return Some(run),
        Err(rest) => rest,
    };
    #[cfg(not(target_arch = "x86_64"))]
    let outside_ascii = false;
    scan_string_bytewise(bytes, at, outside_ascii)
}

fn scan_string_bytewise(bytes: &[u8], at: usize, outside_ascii: bool) -> Option<StringRun> {
    let mut outside_ascii = outside_ascii;
    for (stop, &byte) in bytes.iter().enumerate().skip(at) {
        if byte == b'"' || byte == b'\\' || byte < 0x20 {
            return Some(StringRun {
                stop,
                ascii: !outside_ascii,
            });
        }
        outside_ascii |= !byte.is_ascii();
    }
    None
}

/// 16 bytes at a time while 16 are left. `Err` holds where the bytewise scan must go on and
/// whether a byte outside ASCII was seen so far.
#[cfg(target_arch = "x86_64")]
fn scan_string_sse2(bytes: &[u8], mut at: usize) -> Result<StringRun, (usize, bool)> {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8, _mm_setzero_si128,
    };
    // SAFETY (every `unsafe` below): SSE2 is part of every x86_64 CPU (the build enables it).
    // The OR of the chunks passed so far: its top bits tell whether any byte was outside ASCII.
    let mut passed = unsafe { _mm_setzero_si128() };
    while let Some(chunk) = bytes.get(at..at + 16) {
        // SAFETY: as above, and `chunk` is 16 readable bytes (the load needs no alignment).
        let chunk = unsafe { _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>()) };
        let stops = unsafe {
            // A byte is a control character when it is at most 0x1f, unsigned.
            let control = _mm_cmpeq_epi8(_mm_min_epu8(chunk, _mm_set1_epi8(0x1f)), chunk);
            let quote = _mm_cmpeq_epi8(chunk, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(chunk, _mm_set1_epi8(b'\\' as i8));
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
        };
        if stops != 0 {
            let offset = stops.trailing_zeros();
            let (high_before_stop, high_passed) =
                unsafe { (_mm_movemask_epi8(chunk) as u32, _mm_movemask_epi8(passed)) };
            return Ok(StringRun {
                stop: at + offset as usize,
                ascii: high_before_stop & ((1 << offset) - 1) == 0 && high_passed == 0,
            });
        }
        passed = unsafe { _mm_or_si128(passed, chunk) };
        at += 16;
    }
    Err((at, unsafe { _mm_movemask_epi8(passed) } != 0))
}

/// `10^k` for the fraction digits a number read here can have, at most 14 (see
/// `Reader::number`).
const POWERS_OF_TEN: [f64; 15] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14,
];

/// # Safety
/// `bytes` must be ASCII.
unsafe fn ascii_str(bytes: &[u8]) -> &str {
    debug_assert!(bytes.is_ascii());
    // SAFETY: ASCII is valid UTF-8 (the caller's promise).
    unsafe { std::str::from_utf8_unchecked(bytes) }
}

struct Reader<'a> {
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

    /// The string content from the current position up to the next quote or backslash, as
    /// text; `None` at a control character (not allowed in strings), at invalid UTF-8, or if
    /// the string is not closed. The position is left at the stopping byte.
    #[inline]
    fn string_run(&mut self) -> Option<(&'a str, u8)> {
        let run = scan_string(self.bytes, self.at)?;
        let stop_byte = self.bytes[run.stop];
        if stop_byte < 0x20 {
            return None;
        }
        let content = &self.bytes[self.at..run.stop];
        let text = if run.ascii {
            // SAFETY: the scan saw no byte outside ASCII before the stop.
            unsafe { ascii_str(content) }
        } else {
            std::str::from_utf8(content).ok()?
        };
        self.at = run.stop;
        Some((text, stop_byte))
    }

    /// A string without escapes (keys), after its opening quote.
    fn plain_string(&mut self) -> Option<&'a str> {
        let (text, stop) = self.string_run()?;
        if stop != b'"' {
            return None;
        }
        self.at += 1;
        Some(text)
    }

    /// A key after its opening quote, as its index in `keys` (`None`: not among them); tries
    /// `keys[*expected]` first and leaves `*expected` at the index after the key found.
    #[inline]
    fn known_key(&mut self, keys: &[&str], expected: &mut usize) -> Option<Option<usize>> {
        if let Some(key) = keys.get(*expected) {
            let end = self.at + key.len();
            // The key's bytes and then the closing quote: exactly this key, as `KnownKeys`
            // holds only keys without escapes.
            if self.bytes.get(self.at..end) == Some(key.as_bytes())
                && self.bytes.get(end) == Some(&b'"')
            {
                self.at = end + 1;
                *expected += 1;
                return Some(Some(*expected - 1));
            }
        }
        let name = self.plain_string()?;
        let found = keys.iter().position(|key| *key == name);
        if let Some(index) = found {
            *expected = index + 1;
        }
        Some(found)
    }

    /// A string value after its opening quote, escapes decoded.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let (text, stop) = self.string_run()?;
        self.at += 1;
        if stop == b'"' {
            return Some(Cow::Borrowed(text));
        }
        let mut owned = String::with_capacity(text.len() + 16);
        owned.push_str(text);
        loop {
            // The backslash was read.
            self.escape(&mut owned)?;
            let (text, stop) = self.string_run()?;
            owned.push_str(text);
            self.at += 1;
            if stop == b'"' {
                return Some(Cow::Owned(owned));
            }
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
        let digits = self.bytes.get(self.at..self.at + 4)?;
        let mut unit = 0;
        for &digit in digits {
            unit = unit * 16 + char::from(digit).to_digit(16)?;
        }
        self.at += 4;
        Some(unit)
    }

    fn scalar(&mut self) -> Option<Scalar<'a>> {
        match self.peek()? {
            b'"' => {
                self.at += 1;
                self.string().map(Scalar::Str)
            }
            b'-' | b'0'..=b'9' => self.number(),
            b't' => self.literal(b"true", Scalar::Bool(true)),
            b'f' => self.literal(b"false", Scalar::Bool(false)),
            b'n' => self.literal(b"null", Scalar::Null),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8], value: Scalar<'a>) -> Option<Scalar<'a>> {
        if !self.bytes[self.at..].starts_with(word) {
            return None;
        }
        self.at += word.len();
        Some(value)
    }

    /// Reads decimal digits after those already read as `value`; returns how many this call
    /// read, and the value of all of them (wrapping: callers limit the count to what fits).
    fn digits(&mut self, mut value: u64) -> (usize, u64) {
        let start = self.at;
        while let Some(digit @ b'0'..=b'9') = self.peek() {
            value = value.wrapping_mul(10).wrapping_add(u64::from(digit - b'0'));
            self.at += 1;
        }
        (self.at - start, value)
    }

    /// A number as JSON's grammar has it, `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, of
    /// the forms events use (see the cases below that are left to serde_json).
    fn number(&mut self) -> Option<Scalar<'a>> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        let (integer_digits, integer) = match self.peek()? {
            b'0' => {
                self.at += 1;
                (1, 0)
            }
            b'1'..=b'9' => self.digits(0),
            _ => return None,
        };
        // All the digits as one integer: the number is `mantissa / 10^fraction_digits`.
        let mut mantissa = integer;
        let mut fraction_digits = 0;
        if self.peek() == Some(b'.') {
            self.at += 1;
            (fraction_digits, mantissa) = self.digits(integer);
            if fraction_digits == 0 {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            // Rare in events; serde_json's rounding of exponents is its own to reproduce.
            return None;
        }
        if fraction_digits > 0 {
            // Up to 15 digits, the mantissa is below 2^53 and the power of ten at most 10^14,
            // both exact as f64, so one (correctly rounded) division gives the correctly
            // rounded value: what serde_json computes too, for ~210 instructions less than a
            // general decimal parse (callgrind). Longer ones are left to serde_json.
            if integer_digits + fraction_digits > 15 {
                return None;
            }
            let magnitude = mantissa as f64 / POWERS_OF_TEN[fraction_digits];
            return Some(Scalar::Float(if negative { -magnitude } else { magnitude }));
        }
        // 18 digits always fit (10^18 < 2^63); longer integers (and serde_json's handling of
        // -0) are left to the complete parser.
        if integer_digits > 18 {
            return None;
        }
        if negative {
            let value = i64::try_from(integer).ok()?;
            (value != 0).then_some(Scalar::Int(-value))
        } else {
            Some(Scalar::UInt(integer))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(text: &str) -> Option<Vec<(&str, Scalar<'_>)>> {
        let mut out = Vec::new();
        read_flat_object(text.as_bytes(), |key, value| {
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

    /// The vector scan stops where a byte-by-byte scan stops, and sees the same bytes outside
    /// ASCII, wherever in a 16-byte chunk (or in the tail after the last one) they fall.
    #[test]
    fn the_string_scan_agrees_with_a_bytewise_one() {
        let mut cases = 0;
        for len in 0..48 {
            for stop_at in 0..=len {
                for stop in [b'"', b'\\', b'\n', 0x00, 0x1f] {
                    // Outside ASCII: none, before the stop, or just after it.
                    for high_at in [None, Some(0), Some(stop_at / 2), Some(stop_at + 1)] {
                        let mut bytes = vec![b'a'; len];
                        if let Some(high_at) = high_at.filter(|&at| at < len) {
                            bytes[high_at] = 0xc3;
                        }
                        if stop_at < len {
                            bytes[stop_at] = stop;
                        }
                        for from in [0, 1, 5].into_iter().filter(|&from| from <= len) {
                            assert_eq!(
                                scan_string(&bytes, from),
                                scan_string_bytewise(&bytes, from, false),
                                "{bytes:?} from {from}"
                            );
                            cases += 1;
                        }
                    }
                }
            }
        }
        assert!(cases > 10_000);
        // Bytes just below and above the control range, and DEL, are content.
        let bytes = b"\x20\x7f\x80\xff\x21\x7e0123456789abcdef\"";
        assert_eq!(
            scan_string(bytes, 0),
            Some(StringRun {
                stop: bytes.len() - 1,
                ascii: false
            })
        );
    }

    #[test]
    fn checks_utf8_as_it_reads() {
        let long = "é".repeat(20);
        let text = format!(r#"{{"{long}": "{long} and more than sixteen bytes", "k": "ok"}}"#);
        let got = members(&text).expect("flat");
        assert_eq!(got[0].0, long);
        assert_eq!(
            got[0].1,
            Scalar::Str(Cow::Owned(format!("{long} and more than sixteen bytes")))
        );
        for bytes in [
            &b"{\"a\": \"\xff\"}"[..],
            b"{\"a\": \"0123456789abcdef\xc3\x28 and so on\"}",
            b"{\"\xe9\": 1}",
            b"{\"a\": \"x\\n\xed\xa0\x80\"}",
            b"{\"a\": 1, \xc3\xa9}",
        ] {
            assert_eq!(read_flat_object(bytes, |_, _| true), None, "{bytes:?}");
        }
    }

    #[test]
    fn the_callback_can_give_up() {
        assert_eq!(read_flat_object(br#"{"a": 1}"#, |_, _| false), None);
    }

    /// Whether serde_json read `value` as `expected`, kind included.
    fn same_as_serde(value: &Scalar<'_>, expected: &serde_json::Value) -> bool {
        match value {
            Scalar::Null => expected.is_null(),
            Scalar::Bool(b) => expected.as_bool() == Some(*b),
            Scalar::Str(s) => expected.as_str() == Some(&**s),
            Scalar::UInt(u) => expected.as_u64() == Some(*u),
            Scalar::Int(i) => expected.as_i64() == Some(*i),
            Scalar::Float(f) => {
                expected.as_f64().map(f64::to_bits) == Some(f.to_bits())
                    && !expected.is_i64()
                    && !expected.is_u64()
            }
        }
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
                assert!(
                    same_as_serde(&value, expected),
                    "{key} in {text}: {expected:?}"
                );
            }
        }
    }

    /// Decimals of every length the reader takes (and a little longer), with the point
    /// anywhere, leading zeros after it and either sign: read as serde_json reads them.
    #[test]
    fn decimals_agree_with_serde_json() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        let mut floats = 0;
        for _ in 0..100_000 {
            let digits = 2 + next(16) as usize;
            let mut number: String = (0..digits)
                .map(|_| char::from(b'0' + next(10) as u8))
                .collect();
            let point = 1 + next(digits as u64 - 1) as usize;
            number.insert(point, '.');
            let number = number.trim_start_matches('0');
            let number = if number.starts_with('.') {
                format!("0{number}")
            } else {
                number.to_owned()
            };
            let number = if next(2) == 0 {
                format!("-{number}")
            } else {
                number
            };
            let text = format!(r#"{{"n": {number}}}"#);
            let Some(ours) = members(&text) else {
                continue;
            };
            floats += 1;
            let theirs: serde_json::Value = serde_json::from_str(&text).expect("valid");
            assert!(
                same_as_serde(&ours[0].1, &theirs["n"]),
                "{text}: {:?}",
                ours[0].1
            );
            // And correctly rounded, which serde_json's own fast path is not past 15 digits.
            let rounded = number.parse::<f64>().map(f64::to_bits).ok();
            assert!(
                matches!(ours[0].1, Scalar::Float(f) if Some(f.to_bits()) == rounded),
                "{text}: {:?}",
                ours[0].1
            );
        }
        // Decimals of 2-15 digits are read here (88% of the cases), longer ones are not.
        assert!(floats > 85_000, "{floats} of 100000 read here");
    }

    /// The keys of the templates below, in their order (for the reader that expects them),
    /// but for the last two, which it has to find by name.
    const TEMPLATE_KEYS: KnownKeys = KnownKeys::new(&[
        "index",
        "unique_id",
        "title",
        "description",
        "follower_count",
        "downloaded",
        "save_location",
        "ind",
        "timestamp",
        "latitude",
        "longitude",
        "country",
        "first_name",
        "last_name",
        "age",
        "date_joined",
        "no",
        "ok",
    ]);

    #[test]
    fn known_keys_are_found_in_any_order_and_others_are_told_apart() {
        const KEYS: KnownKeys = KnownKeys::new(&["ind", "index", "name"]);
        fn read(text: &str) -> Option<Vec<(Option<usize>, Scalar<'_>)>> {
            let mut out = Vec::new();
            read_known_object(text.as_bytes(), KEYS, |index, value| {
                out.push((index, value));
                true
            })
            .map(|()| out)
        }
        let one = Scalar::UInt(1);
        assert_eq!(
            read(r#"{"ind": 1, "index": 1, "name": 1}"#),
            Some(vec![
                (Some(0), one.clone()),
                (Some(1), one.clone()),
                (Some(2), one.clone())
            ])
        );
        // Out of order, a prefix of a known key, a known key's prefix, an unknown key.
        assert_eq!(
            read(r#"{"name": 1, "indexes": 1, "in": 1, "index": 1, "ind": 1, "x": 1}"#),
            Some(vec![
                (Some(2), one.clone()),
                (None, one.clone()),
                (None, one.clone()),
                (Some(1), one.clone()),
                (Some(0), one.clone()),
                (None, one.clone()),
            ])
        );
        // The expected key is a prefix of the one there.
        assert_eq!(
            read(r#"{"indexes": 1, "ind": 1}"#),
            Some(vec![(None, one.clone()), (Some(0), one.clone())])
        );
        // A key with an escape is left to the complete parser, as by `read_flat_object`.
        assert_eq!(read(r#"{"in\u0064": 1}"#), None);
        assert_eq!(read(r#"{"ind"#), None);
    }

    #[test]
    #[should_panic(expected = "no escapes")]
    fn a_known_key_with_a_quote_is_refused() {
        KnownKeys::new(&["a\"b"]);
    }

    #[test]
    #[should_panic(expected = "no escapes")]
    fn a_known_key_with_a_backslash_is_refused() {
        KnownKeys::new(&["a\\b"]);
    }

    #[test]
    #[should_panic(expected = "no escapes")]
    fn a_known_key_with_a_control_character_is_refused() {
        KnownKeys::new(&["a\nb"]);
    }

    #[test]
    #[should_panic(expected = "given once")]
    fn a_known_key_given_twice_is_refused() {
        KnownKeys::new(&["ind", "index", "ind"]);
    }

    /// Random edits of event-shaped records (quotes, escapes, control characters, bytes
    /// outside ASCII and broken UTF-8, structure) at random places: whatever this reader
    /// accepts, serde_json accepts too and reads the same way, and the reader of known keys
    /// reads exactly what it reads.
    #[test]
    fn random_edits_agree_with_serde_json() {
        let templates: [&[u8]; 3] = [
            br#"{"index": 8248, "unique_id": "8ee7769a-23bd-45c5-a996-fbc3f9945826", "title": "11 Positive Affirmations", "description": "Our step by step guide to love quotes makes it easy for beginners.", "follower_count": "250k", "downloaded": 1, "save_location": "Local save in /data/quotes"}"#,
            r#"{"ind": 7528, "timestamp": "2020-08-28 03:52:47", "latitude": -89.9787, "longitude": -173.293, "country": "Côte d'Ivoire \u00e9\n"}"#.as_bytes(),
            r#"{"ind": 2863, "first_name": "Zoë … and a name longer than sixteen bytes", "last_name": "Ali", "age": 20, "date_joined": "2015-10-24 11:23:51", "ok": true, "no": null}"#.as_bytes(),
        ];
        let pieces: [&[u8]; 22] = [
            b"\"",
            b"\\",
            b"\\n",
            b"\\u00e9",
            b"\\ud83d\\ude00",
            b"\\ud83d",
            b"\x01",
            b"\x1f",
            b"\x7f",
            b"\xc3\xa9",
            b"\xe2\x82",
            b"\xff",
            b"\xf0\x9f\x98\x80",
            b" ",
            b",",
            b":",
            b"}",
            b"{",
            b"-1",
            b".5",
            b"e3",
            b"null",
        ];
        // xorshift64: the same cases on every run.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        let mut accepted = 0;
        for case in 0..30_000 {
            let mut bytes = templates[case % templates.len()].to_vec();
            for _ in 0..1 + next(2) {
                let at = next(bytes.len() + 1);
                let piece = pieces[next(pieces.len())];
                // Insert a piece, delete a byte, or put a piece in a byte's place.
                let (replaced, inserted): (usize, &[u8]) = match next(3) {
                    0 => (0, piece),
                    1 => (1, &[]),
                    _ => (1, piece),
                };
                let end = (at + replaced).min(bytes.len());
                bytes.splice(at..end, inserted.iter().copied());
            }
            let mut ours = Vec::new();
            let flat = read_flat_object(&bytes, |key, value| {
                ours.push((key, value));
                true
            });
            let mut known = Vec::new();
            let known_result = read_known_object(&bytes, TEMPLATE_KEYS, |index, value| {
                known.push((index.map(|index| TEMPLATE_KEYS.0[index]), value));
                true
            });
            assert_eq!(known_result, flat, "{}", String::from_utf8_lossy(&bytes));
            let named: Vec<_> = ours
                .iter()
                .map(|(key, value)| (TEMPLATE_KEYS.0.contains(key).then_some(*key), value.clone()))
                .collect();
            assert_eq!(known, named, "{}", String::from_utf8_lossy(&bytes));
            if flat.is_none() {
                continue;
            }
            accepted += 1;
            let text = std::str::from_utf8(&bytes).expect("what the reader accepts is UTF-8");
            let theirs: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
                .unwrap_or_else(|e| {
                    panic!("serde_json rejects what the reader accepts ({e}): {text}")
                });
            // serde_json keeps the last of duplicate keys (the cleaning callback refuses them).
            for (index, (key, value)) in ours.iter().enumerate() {
                if ours[index + 1..].iter().any(|(later, _)| later == key) {
                    continue;
                }
                assert!(same_as_serde(value, &theirs[*key]), "{key} in {text}");
            }
        }
        // The edits must leave enough records valid for the comparison to mean something.
        assert!(accepted > 5_000, "{accepted} of 30000 accepted");
    }
}
