//! Splits a file into lines without copying them: each line is a slice of a large shared
//! read buffer. Keeps its place, so a file that grows can be read on from where it stopped.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use bytes::Bytes;

const READ_SIZE: usize = 1 << 20;

pub(crate) struct LineReader {
    file: File,
    /// Bytes read but not yet returned as lines.
    pending: Bytes,
}

impl LineReader {
    pub fn open(path: &Path) -> io::Result<Self> {
        Ok(LineReader {
            file: File::open(path)?,
            pending: Bytes::new(),
        })
    }

    /// The next complete line, without its `\n` (and without a `\r` before it). At the end
    /// of the file, an unterminated last line is returned only if `take_partial` is set: a
    /// file that is still being written may complete it later.
    pub fn next_line(&mut self, take_partial: bool) -> io::Result<Option<Bytes>> {
        loop {
            if let Some(end) = memchr::memchr(b'\n', &self.pending) {
                let line = self.pending.split_to(end + 1);
                return Ok(Some(trim_newline(line)));
            }
            if !self.fill()? {
                if take_partial && !self.pending.is_empty() {
                    let line = std::mem::take(&mut self.pending);
                    return Ok(Some(trim_newline(line)));
                }
                return Ok(None);
            }
        }
    }

    /// Reads more bytes after the pending ones; false at the end of the file for now.
    fn fill(&mut self) -> io::Result<bool> {
        let capacity = READ_SIZE.max(self.pending.len() * 2);
        let mut buffer = Vec::with_capacity(capacity);
        buffer.extend_from_slice(&self.pending);
        // `read_to_end` on a file reads into the spare capacity as it is, without zeroing it
        // first; `take` keeps it from growing the buffer.
        let read = (&mut self.file)
            .take((capacity - buffer.len()) as u64)
            .read_to_end(&mut buffer)?;
        self.pending = Bytes::from(buffer);
        Ok(read > 0)
    }
}

fn trim_newline(mut line: Bytes) -> Bytes {
    if line.last() == Some(&b'\n') {
        line.truncate(line.len() - 1);
    }
    if line.last() == Some(&b'\r') {
        line.truncate(line.len() - 1);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn splits_lines_and_follows_growth() -> io::Result<()> {
        let mut file = tempfile::NamedTempFile::new()?;
        file.write_all(b"one\r\ntwo\nthr")?;
        file.flush()?;
        let mut reader = LineReader::open(file.path())?;
        assert_eq!(reader.next_line(false)?.as_deref(), Some(&b"one"[..]));
        assert_eq!(reader.next_line(false)?.as_deref(), Some(&b"two"[..]));
        assert_eq!(reader.next_line(false)?, None, "partial line waits");
        file.write_all(b"ee\nfour")?;
        file.flush()?;
        assert_eq!(reader.next_line(false)?.as_deref(), Some(&b"three"[..]));
        assert_eq!(reader.next_line(true)?.as_deref(), Some(&b"four"[..]));
        assert_eq!(reader.next_line(true)?, None);
        Ok(())
    }

    #[test]
    fn long_lines_span_buffers() -> io::Result<()> {
        let mut file = tempfile::NamedTempFile::new()?;
        let long = vec![b'x'; READ_SIZE * 2 + 17];
        file.write_all(&long)?;
        file.write_all(b"\nshort\n")?;
        file.flush()?;
        let mut reader = LineReader::open(file.path())?;
        assert_eq!(reader.next_line(false)?.map(|l| l.len()), Some(long.len()));
        assert_eq!(reader.next_line(false)?.as_deref(), Some(&b"short"[..]));
        Ok(())
    }
}
