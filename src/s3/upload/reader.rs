//! The reading side of s3put: a thread fills part buffers from the input,
//! feeds each part to the stream check and hands it to the async side;
//! buffers come back to be refilled when the upload is done with them.

use std::io::{self, Read};

use bytes::Bytes;
use tokio::sync::mpsc;

use sha2::Digest;

use super::{PutOptions, UploadError};
use crate::codec::verify::{CheckError, StreamCheck};
use crate::encryption::{Encrypting, Observer};
use crate::progress::Progress;
use crate::s3::buffers::BufferPool;
use crate::s3::client::{Checksum, PutBody};

pub(super) enum Msg {
    Part {
        number: u32,
        body: PutBody,
        last: bool,
    },
    /// End of input: the stream check's verdict (with what a checked
    /// stream holds), the input's size and SHA-256 (the plaintext's, when
    /// encrypting), the bytes stored.
    End {
        check: Result<Option<u64>, CheckError>,
        size: u64,
        stored: u64,
        sha256: Option<String>,
    },
    Failed(UploadError),
}

/// Reader thread: fill parts (with the age encryption of the input when
/// there are recipients), check the stream, report the end.
pub(super) fn read_parts<R: Read>(
    input: R,
    opts: &PutOptions,
    progress: &Progress,
    tx: &mpsc::Sender<Msg>,
) {
    let send = |msg: Msg| tx.blocking_send(msg).is_ok();
    let mut plain = Plaintext::new(opts);
    let stored = if opts.recipients.is_empty() {
        fill_parts(input, Some(&mut plain), opts, progress, tx)
    } else {
        match Encrypting::new(input, &opts.recipients, &mut plain) {
            Ok(encrypting) => fill_parts(encrypting, None, opts, progress, tx),
            Err(e) => {
                send(Msg::Failed(UploadError::Encryption(e)));
                return;
            }
        }
    };
    if let Some(stored) = stored {
        let check = plain.finish().map(|()| plain.content);
        send(Msg::End {
            check,
            size: plain.size,
            stored,
            sha256: plain.hasher.map(|h| format!("{:x}", h.finalize())),
        });
    }
}

/// What s3put learns about its input as it passes: the stream check, the
/// size and the SHA-256.
struct Plaintext {
    check: Option<StreamCheck>,
    hasher: Option<sha2::Sha256>,
    size: u64,
    /// What a checked stream holds (gzip's or zstd's decompressed bytes).
    content: Option<u64>,
}

impl Plaintext {
    fn new(opts: &PutOptions) -> Self {
        Plaintext {
            check: Some(StreamCheck::new(opts.verify)),
            hasher: opts.sha256.then(sha2::Sha256::new),
            size: 0,
            content: None,
        }
    }

    fn observe(&mut self, data: &Bytes) -> Result<(), CheckError> {
        self.size += data.len() as u64;
        if let Some(h) = self.hasher.as_mut() {
            h.update(data);
        }
        match self.check.as_mut() {
            Some(check) if !data.is_empty() => check.feed(data.clone()),
            _ => Ok(()),
        }
    }

    /// The check's verdict; given once (encryption asks before its final
    /// chunk, and a failure stops everything there).
    fn finish(&mut self) -> Result<(), CheckError> {
        if let Some(check) = self.check.take() {
            self.content = check.finish()?;
        }
        Ok(())
    }
}

/// Encryption shows the plaintext here; a failed check travels as an
/// `io::Error` and comes out as [`UploadError::Check`] again.
impl Observer for &mut Plaintext {
    fn block(&mut self, plaintext: Bytes) -> io::Result<()> {
        self.observe(&plaintext).map_err(check_failed)
    }
    fn end(&mut self) -> io::Result<()> {
        self.finish().map_err(check_failed)
    }
}

fn check_failed(e: CheckError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// An input error, or the stream check's verdict that travelled as one.
fn input_error(e: io::Error) -> UploadError {
    if e.get_ref().is_some_and(|inner| inner.is::<CheckError>()) {
        if let Some(Ok(check)) = e.into_inner().map(|inner| inner.downcast::<CheckError>()) {
            return UploadError::Check(*check);
        }
        unreachable!("checked above");
    }
    UploadError::Input(e)
}

/// Fill and send the parts; `plain` sees each part when the parts are the
/// input itself. Returns the bytes sent, or None when it failed (and said
/// so) or the upload went away.
fn fill_parts(
    mut input: impl Read,
    mut plain: Option<&mut Plaintext>,
    opts: &PutOptions,
    progress: &Progress,
    tx: &mpsc::Sender<Msg>,
) -> Option<u64> {
    // Uploaded parts' buffers come back here to be refilled.
    let pool = BufferPool::new(POOL);
    let crc = opts.checksum == Checksum::Crc32c;
    let mut total = 0u64;
    let mut number = 1u32;
    let mut current = PartBuf::new(Vec::new(), crc);
    let mut eof = false;
    let send = |msg: Msg| tx.blocking_send(msg).is_ok();
    let fail = |e: io::Error| {
        send(Msg::Failed(input_error(e)));
        None
    };
    loop {
        // Fill the current part (it may already hold the peeked bytes).
        let want = opts.part_size_for(number) as usize;
        if !eof {
            match current.fill(&mut input, want) {
                Ok(hit_eof) => eof = hit_eof,
                Err(e) => return fail(e),
            }
        }
        // Peek one read ahead: is there anything after this part? (Into a
        // recycled buffer when an uploaded part gave one back.)
        let size = opts.part_size_for(number + 1) as usize;
        // (Buffers of a part size outgrown are freed, not grown.)
        let mut next = PartBuf::new(pool.take(size), crc);
        if !eof {
            match next.fill(&mut input, 1) {
                Ok(hit_eof) => eof = hit_eof,
                Err(e) => return fail(e),
            }
        }
        let last = eof && next.filled == 0;
        let body = std::mem::replace(&mut current, next).into_body(&pool);
        total += body.data.len() as u64;
        progress.add_bytes(body.data.len() as u64);
        if let Some(Err(e)) = plain.as_mut().map(|p| p.observe(&body.data)) {
            send(Msg::Failed(UploadError::Check(e)));
            return None;
        }
        if !send(Msg::Part { number, body, last }) {
            return None;
        }
        if last {
            return Some(total);
        }
        number += 1;
    }
}

/// Spare part buffers kept for reuse: two, the part being filled and the
/// one peeked into (see [`BufferPool`] for why the bound).
const POOL: usize = 2;

/// Most bytes one read asks for: the CRC32C of each read is computed right
/// after it, while the bytes are still in the CPU's cache.
const READ_SIZE: usize = 1 << 20;

/// A part being filled: its buffer (initialised up to `buf.len()`, so a
/// recycled buffer is never zeroed again: zero-filling each part cost ~15%
/// of s3put's CPU), how much of it holds input, and that input's CRC32C.
struct PartBuf {
    buf: Vec<u8>,
    filled: usize,
    crc: Option<u32>,
}

impl PartBuf {
    /// `buf` keeps its length: a recycled buffer's bytes are initialised.
    fn new(buf: Vec<u8>, crc: bool) -> Self {
        PartBuf {
            buf,
            filled: 0,
            crc: crc.then_some(0),
        }
    }

    /// Read until `want` bytes are in or the input ends; returns whether it
    /// ended. The CRC32C is computed read by read, while the bytes are hot:
    /// the SDK's own pass over a whole part afterwards cost twice as much.
    fn fill(&mut self, input: &mut impl Read, want: usize) -> io::Result<bool> {
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        while self.filled < want {
            let end = want.min(self.filled + READ_SIZE);
            match input.read(&mut self.buf[self.filled..end]) {
                Ok(0) => return Ok(true),
                Ok(n) => {
                    let got = &self.buf[self.filled..self.filled + n];
                    self.crc = self.crc.map(|crc| crc32c::crc32c_append(crc, got));
                    self.filled += n;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    /// The filled bytes as a body whose buffer returns to `pool` when the
    /// last holder (the upload or the stream check) drops it.
    fn into_body(mut self, pool: &BufferPool) -> PutBody {
        self.buf.truncate(self.filled);
        PutBody {
            data: pool.lend(self.buf),
            crc32c: self.crc,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_reads_until_full_or_eof_and_recycles_buffers() {
        let data: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let mut r = &data[..];
        let pool = BufferPool::new(POOL);
        let mut b = PartBuf::new(Vec::new(), true);
        assert!(!b.fill(&mut r, 600).unwrap());
        let first = b.into_body(&pool);
        assert_eq!(first.data, data[..600]);
        assert_eq!(first.crc32c, Some(crc32c::crc32c(&data[..600])));
        // The buffer comes back only once every holder has dropped it.
        let held = first.data.clone();
        let held_ptr = held.as_ptr();
        drop(first);
        let fresh = pool.take(600);
        assert!(fresh.capacity() >= 600);
        drop(held);
        let recycled = pool.take(600);
        assert_eq!(recycled.as_ptr(), held_ptr, "the buffer returned");
        let mut c = PartBuf::new(recycled, false);
        assert!(c.fill(&mut r, 600).unwrap());
        let second = c.into_body(&pool);
        assert_eq!(second.data, data[600..]);
        assert_eq!(second.crc32c, None);
    }
}
