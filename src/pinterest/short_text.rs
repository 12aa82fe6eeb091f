//! Text that is nearly always short (a country, a person's name), kept inside the value when
//! it fits.
//!
//! Every geo and user row carries one such value. As a `String` each cost an allocation when
//! the row was cleaned and a free once it was built into columns: 2.5% of the file pipeline's
//! instructions (callgrind, 150k records). Text of up to 22 bytes needs neither.

use std::fmt;
use std::ops::Deref;

/// Bytes kept inline: the value is then as large as a `String` (24 bytes). In the real data
/// set 93% of the countries fit and every user name does (medians 7 and 13 bytes).
const INLINE: usize = 22;

#[derive(Clone)]
pub struct ShortText(Repr);

#[derive(Clone)]
enum Repr {
    /// `bytes[..len]` is the text. Only ever filled from whole `&str`s, so it is valid UTF-8.
    Inline {
        len: u8,
        bytes: [u8; INLINE],
    },
    Heap(Box<str>),
}

impl ShortText {
    pub fn new(text: &str) -> Self {
        Self::concat(&[text])
    }

    /// The parts joined, as `parts.concat()` would, without allocating when the result fits.
    pub fn concat(parts: &[&str]) -> Self {
        let len: usize = parts.iter().map(|part| part.len()).sum();
        if len > INLINE {
            return ShortText(Repr::Heap(parts.concat().into_boxed_str()));
        }
        let mut bytes = [0; INLINE];
        let mut at = 0;
        for part in parts {
            bytes[at..at + part.len()].copy_from_slice(part.as_bytes());
            at += part.len();
        }
        ShortText(Repr::Inline {
            // `len` is at most INLINE (checked above), so it fits a byte.
            len: len as u8,
            bytes,
        })
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Inline { len, bytes } => {
                let text = &bytes[..usize::from(*len)];
                debug_assert!(std::str::from_utf8(text).is_ok());
                // SAFETY: the inline bytes are whole `&str`s copied one after another (`concat`),
                // and a concatenation of valid UTF-8 is valid UTF-8.
                unsafe { std::str::from_utf8_unchecked(text) }
            }
            Repr::Heap(text) => text,
        }
    }
}

impl Deref for ShortText {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for ShortText {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for ShortText {
    fn from(text: &str) -> Self {
        ShortText::new(text)
    }
}

impl PartialEq for ShortText {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for ShortText {}

impl PartialEq<str> for ShortText {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl fmt::Debug for ShortText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ShortText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ShortText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_no_larger_than_a_string() {
        assert!(std::mem::size_of::<ShortText>() <= std::mem::size_of::<String>());
        assert!(std::mem::size_of::<Option<ShortText>>() <= std::mem::size_of::<String>());
    }

    #[test]
    fn keeps_text_of_every_length_either_side_of_the_inline_limit() {
        for len in [0, 1, INLINE - 1, INLINE, INLINE + 1, 200] {
            let text = "é".repeat(len / 2) + &"x".repeat(len % 2);
            let short = ShortText::new(&text);
            assert_eq!(short.as_str(), text);
            assert_eq!(
                matches!(short.0, Repr::Inline { .. }),
                text.len() <= INLINE,
                "{len}"
            );
        }
    }

    #[test]
    fn concatenates_parts_inline_and_on_the_heap() {
        assert_eq!(
            ShortText::concat(&["Mary Ann", " ", "O'Neil"]).as_str(),
            "Mary Ann O'Neil"
        );
        assert_eq!(ShortText::concat(&["", " ", "Ali"]).as_str(), " Ali");
        assert_eq!(ShortText::concat(&[]).as_str(), "");
        let long = ["South Georgia and the", " ", "South Sandwich Islands"];
        assert_eq!(ShortText::concat(&long).as_str(), long.concat());
    }

    #[test]
    fn compares_serializes_and_prints_as_its_text() {
        let short = ShortText::from("Aruba");
        assert_eq!(short, ShortText::new("Aruba"));
        assert_eq!(&short, "Aruba");
        assert_eq!(format!("{short} {short:?}"), "Aruba \"Aruba\"");
        assert_eq!(
            serde_json::to_string(&short).ok().as_deref(),
            Some("\"Aruba\"")
        );
    }
}
