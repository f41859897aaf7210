//! Newline-delimited reading with a bound on line length.
//!
//! A wrapped server is a program we did not write: one that prints a gigabyte without a newline
//! must not make the wrapper buffer a gigabyte. A line over the limit is skipped up to its
//! newline and reported by size, and reading goes on with the next line.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// One line read, without its `\n` (or `\r\n`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// A line within the limit.
    Text(Vec<u8>),
    /// A line over the limit, skipped; how many bytes it had.
    TooLong(usize),
}

/// Reads lines of at most `max` bytes from `inner`.
pub(crate) struct LineReader<R> {
    inner: R,
    max: usize,
    buf: Vec<u8>,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    /// A reader that skips lines longer than `max` bytes.
    pub(crate) fn new(inner: R, max: usize) -> Self {
        Self {
            inner,
            max,
            buf: Vec::new(),
        }
    }

    /// The next line; `None` at the end of input. A last line without `\n` still counts.
    pub(crate) async fn next_line(&mut self) -> std::io::Result<Option<Line>> {
        let mut skipped: Option<usize> = None;
        loop {
            let available = self.inner.fill_buf().await?;
            if available.is_empty() {
                if let Some(bytes) = skipped {
                    return Ok(Some(Line::TooLong(bytes)));
                }
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Ok(Some(self.finish()));
            }
            let newline = available.iter().position(|&b| b == b'\n');
            let chunk_len = newline.unwrap_or(available.len());
            match skipped.as_mut() {
                Some(bytes) => *bytes += chunk_len,
                None if self.buf.len() + chunk_len > self.max => {
                    skipped = Some(self.buf.len() + chunk_len);
                    self.buf = Vec::new();
                }
                None => self.buf.extend_from_slice(&available[..chunk_len]),
            }
            match newline {
                Some(at) => {
                    self.inner.consume(at + 1);
                    return Ok(Some(match skipped {
                        Some(bytes) => Line::TooLong(bytes),
                        None => self.finish(),
                    }));
                }
                None => self.inner.consume(chunk_len),
            }
        }
    }

    fn finish(&mut self) -> Line {
        let mut line = std::mem::take(&mut self.buf);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Line::Text(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn all(input: &[u8], max: usize, capacity: usize) -> Vec<Line> {
        let reader = tokio::io::BufReader::with_capacity(capacity, input);
        let mut lines = LineReader::new(reader, max);
        let mut out = Vec::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            out.push(line);
        }
        out
    }

    fn text(s: &str) -> Line {
        Line::Text(s.as_bytes().to_vec())
    }

    #[tokio::test]
    async fn splits_lines_and_keeps_a_last_line_without_newline() {
        for capacity in [1, 3, 64] {
            let got = all(b"{\"a\":1}\r\n\n{\"b\":2}\nlast", 100, capacity).await;
            assert_eq!(
                got,
                vec![text("{\"a\":1}"), text(""), text("{\"b\":2}"), text("last")],
                "capacity {capacity}"
            );
        }
    }

    #[tokio::test]
    async fn skips_overlong_lines_and_goes_on() {
        for capacity in [1, 4, 1024] {
            let input = format!("ok\n{}\nafter\n{}", "x".repeat(50), "y".repeat(11));
            let got = all(input.as_bytes(), 10, capacity).await;
            assert_eq!(
                got,
                vec![
                    text("ok"),
                    Line::TooLong(50),
                    text("after"),
                    Line::TooLong(11)
                ],
                "capacity {capacity}"
            );
        }
        // Exactly at the limit is fine.
        assert_eq!(all(b"0123456789\n", 10, 4).await, vec![text("0123456789")]);
    }
}
