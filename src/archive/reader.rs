//! Reading a tar stream to its real end. The tar crate stops at the first
//! zero block and treats a plain EOF between entries as the end too, which
//! would let a truncated archive pass. [`TarInput`] remembers whether the
//! parser hit EOF and [`TarInput::finish`] checks what follows the entries:
//! the second end-of-archive block, only zeros after it, and (by reading
//! the decoder to its end) a compressed stream's trailers.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

use crate::codec::decode::{self, DecodedReader};

use super::Error;

/// A decoded tar stream that knows whether it ended cleanly.
pub struct TarInput {
    inner: DecodedReader,
    /// Shared so the entry loop can tell a truncation from other errors
    /// while the tar parser owns this reader.
    hit_eof: Rc<Cell<bool>>,
    consumed: u64,
}

impl TarInput {
    /// Detect the compression of `input` and start decoding it.
    pub fn open<R: Read + Send + 'static>(input: R) -> Result<TarInput, Error> {
        let inner = decode::spawn(input).map_err(|e| Error::from_stream("reading input", e))?;
        Ok(TarInput {
            inner,
            hit_eof: Rc::new(Cell::new(false)),
            consumed: 0,
        })
    }

    /// A handle that reads true once the input has reached EOF.
    pub fn eof_flag(&self) -> Rc<Cell<bool>> {
        Rc::clone(&self.hit_eof)
    }

    /// Call after the tar parser returned its last entry: verify the
    /// end-of-archive marker, that nothing but zero padding follows it, and
    /// that the compressed stream ends cleanly.
    pub fn finish(mut self) -> Result<(), Error> {
        if self.hit_eof.get() {
            return Err(if self.consumed == 0 {
                Error::Corrupt("no input (empty stream)".into())
            } else {
                Error::Truncated("input ended early (no end-of-archive marker)".into())
            });
        }
        // The parser consumed the first zero block; the rest must be zeros,
        // at least one more block of them.
        let mut zeros = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = self
                .inner
                .read(&mut buf)
                .map_err(|e| Error::from_stream("reading input", e))?;
            if n == 0 {
                break;
            }
            if buf[..n].iter().any(|&b| b != 0) {
                return Err(Error::Corrupt(
                    "garbage after the end-of-archive marker".into(),
                ));
            }
            zeros += n as u64;
        }
        if zeros < 512 {
            return Err(Error::Truncated(
                "input ended early (second end-of-archive block missing)".into(),
            ));
        }
        Ok(())
    }
}

impl Read for TarInput {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.hit_eof.set(true);
        }
        self.consumed += n as u64;
        Ok(n)
    }
}

/// An error while reading a tar stream: a truncation when the input hit
/// EOF, the decoder's own words when it failed, else a parse error.
pub fn stream_error(e: std::io::Error, hit_eof: bool, source: &str) -> Error {
    match Error::from_stream(source, e) {
        Error::Io { source: e, .. } if hit_eof => Error::Truncated(format!(
            "input ended early (truncated tar in {source}): {e}"
        )),
        Error::Io { source: e, .. } => {
            Error::Corrupt(format!("{source}: {}", printable(&e.to_string())))
        }
        other => other,
    }
}

/// The tar crate quotes raw header bytes in some messages: escape them and
/// keep the message to one short line.
fn printable(message: &str) -> String {
    let mut quoted = super::list::quote(message.as_bytes());
    if quoted.len() > 160 {
        let mut end = 160;
        while !quoted.is_char_boundary(end) {
            end -= 1;
        }
        quoted.truncate(end);
        quoted.push('…');
    }
    quoted
}
