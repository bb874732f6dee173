//! Is this stream complete? `s3put` feeds every part through a
//! [`StreamCheck`] as it passes, and completes the upload only when the
//! check says the stream ended cleanly, so a producer that died halfway
//! (`pack` killed, `mongodump` crashed, `tar -czf` interrupted) never
//! becomes an object.
//!
//! - gzip: every member is inflated and its CRC32 and ISIZE checked (the
//!   only way to know the last member is whole); if the content is a tar
//!   archive, its end-of-archive blocks must be there too;
//! - zstd: the frames are decoded to their end (a cut frame fails);
//! - tar (bare or inside either): followed entry by entry, headers, sizes
//!   and padding, to its end-of-archive marker — the parser `unpack` uses.
//!
//! Decoding runs on its own thread, fed `Bytes` clones of the parts (no
//! copies), so it overlaps with reading and uploading.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use bytes::Bytes;

use super::decode::{GzipMembers, describe};
use super::detect::{Format, detect, is_tar_header, is_valid_tar_block};
use crate::archive::reader::TarReader;

/// What to check, as `--verify` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Verify {
    /// Nothing checked.
    None,
    /// Recognise gzip, zstd or tar by their first bytes; anything else is
    /// not checked.
    Auto,
    /// A whole gzip stream: every member's CRC and size.
    Gzip,
    /// A whole zstd stream: every frame's end and checksum.
    Zstd,
    /// A tar stream to its end-of-archive marker (plain or compressed).
    Tar,
}

/// Why a stream is not fit to become an object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// It stops before its format says it ends (the message says where).
    #[error("{0}")]
    Truncated(String),
    #[error("{0}")]
    /// Not valid in its format (the message says where).
    Corrupt(String),
    #[error("input is not a {0} stream")]
    /// Not the format `--verify` names.
    NotThatFormat(&'static str),
    #[error("input is empty")]
    /// No bytes at all.
    Empty,
    #[error("the stream check crashed")]
    /// The checking thread panicked.
    Crashed,
    #[error("starting the stream check: {0}")]
    /// The checking thread could not start.
    Start(String),
}

impl From<crate::archive::Error> for CheckError {
    fn from(e: crate::archive::Error) -> Self {
        match e {
            crate::archive::Error::Truncated(m) => CheckError::Truncated(m),
            other => CheckError::Corrupt(other.to_string()),
        }
    }
}

/// The checking thread: where to send data, and its verdict.
type Worker = (SyncSender<Bytes>, JoinHandle<Result<u64, CheckError>>);

/// A running check. Feed it the stream in order, then [`StreamCheck::finish`].
pub struct StreamCheck {
    mode: Verify,
    worker: Option<Worker>,
    started: bool,
}

impl StreamCheck {
    /// A check of the stream written to it, as `mode` says.
    pub fn new(mode: Verify) -> StreamCheck {
        StreamCheck {
            mode,
            worker: None,
            started: false,
        }
    }

    /// The next piece of the stream (the first call decides the format).
    pub fn feed(&mut self, data: Bytes) -> Result<(), CheckError> {
        if !self.started {
            self.started = true;
            let format = match self.mode {
                Verify::None => return Ok(()),
                Verify::Gzip => Format::Gzip,
                Verify::Zstd => Format::Zstd,
                Verify::Tar => Format::Tar,
                Verify::Auto => match detect(&data) {
                    Format::Tar if !is_tar_header(&data) => return Ok(()),
                    f => f,
                },
            };
            if let Format::Unsupported(_) = format {
                return Ok(());
            }
            if self.mode != Verify::Auto
                && detect(&data) != format
                && !(format == Format::Tar && is_tar_header(&data))
            {
                return Err(CheckError::NotThatFormat(format.name()));
            }
            let (tx, rx) = sync_channel::<Bytes>(4);
            let handle = std::thread::Builder::new()
                .name("verify".into())
                .spawn(move || check(format, rx))
                .map_err(|e| CheckError::Start(e.to_string()))?;
            self.worker = Some((tx, handle));
        }
        if let Some((tx, _)) = &self.worker
            && tx.send(data).is_err()
        {
            // The checker stopped early: it found a fault; finish() says which.
            return self.fail_early();
        }
        Ok(())
    }

    fn fail_early(&mut self) -> Result<(), CheckError> {
        self.verdict().map(|_| ())
    }

    fn verdict(&mut self) -> Result<Option<u64>, CheckError> {
        match self.worker.take() {
            Some((tx, handle)) => {
                drop(tx);
                handle.join().unwrap_or(Err(CheckError::Crashed)).map(Some)
            }
            None => Ok(None),
        }
    }

    /// End of input: Ok when the stream ended cleanly (or is not checked),
    /// with the size of what a checked stream holds (the decompressed
    /// bytes of gzip or zstd; a tar stream's own size), for the ratio.
    pub fn finish(mut self) -> Result<Option<u64>, CheckError> {
        if !self.started && matches!(self.mode, Verify::Gzip | Verify::Zstd | Verify::Tar) {
            return Err(CheckError::Empty);
        }
        self.verdict()
    }
}

/// Reads the fed parts as one stream.
struct Feed {
    rx: Receiver<Bytes>,
    current: Bytes,
}

impl Read for Feed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.recv() {
                Ok(next) => self.current = next,
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// Follow the stream to its end; returns how many bytes it holds.
fn check(format: Format, rx: Receiver<Bytes>) -> Result<u64, CheckError> {
    let feed = Feed {
        rx,
        current: Bytes::new(),
    };
    let mut counted = Counted(0);
    match format {
        Format::Gzip => contents(
            counted.wrap(GzipMembers::new(io::BufReader::new(feed))),
            format,
        )?,
        Format::Zstd => {
            let dec = zstd::stream::read::Decoder::new(feed)
                .map_err(|e| CheckError::Start(format!("zstd: {e}")))?;
            contents(counted.wrap(dec), format)?
        }
        _ => whole_tar(counted.wrap(feed))?,
    }
    Ok(counted.0)
}

/// Counts the bytes read through the readers it wraps.
struct Counted(u64);

impl Counted {
    fn wrap<R: Read>(&mut self, inner: R) -> Counting<'_, R> {
        Counting(inner, &mut self.0)
    }
}

struct Counting<'a, R>(R, &'a mut u64);

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.0.read(buf)?;
        *self.1 += n as u64;
        Ok(n)
    }
}

/// A compressed stream's contents: followed to the end of its tar
/// structure when they are a tar archive, else decoded to the end.
fn contents(decoded: impl Read, format: Format) -> Result<(), CheckError> {
    let mut decoded = Described(decoded, format);
    let mut head = Vec::with_capacity(512);
    (&mut decoded).take(512).read_to_end(&mut head)?;
    if is_tar_header(&head) || is_valid_tar_block(&head) {
        return whole_tar(io::Cursor::new(head).chain(decoded));
    }
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match decoded.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// The tar structure followed to its end-of-archive marker, exactly as
/// `unpack` reads it (headers, sizes, padding): a stream cut inside a run
/// of zeros in a member's data does not pass for a whole archive.
fn whole_tar(input: impl Read) -> Result<(), CheckError> {
    let mut tar = TarReader::new(input);
    while tar.next_entry()?.is_some() {}
    Ok(())
}

/// A decoder whose errors are worded as `unpack` words them.
struct Described<R>(R, Format);

impl<R: Read> Read for Described<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| match e.kind() {
            io::ErrorKind::Interrupted => e,
            _ => describe(e, self.1),
        })
    }
}

impl From<io::Error> for CheckError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::UnexpectedEof => CheckError::Truncated(e.to_string()),
            _ => CheckError::Corrupt(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn tar_of(data: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append_data(&mut h, "f", data).unwrap();
        b.into_inner().unwrap()
    }

    fn run(mode: Verify, stream: &[u8]) -> Result<(), String> {
        let mut c = StreamCheck::new(mode);
        for chunk in stream.chunks(10_000) {
            c.feed(Bytes::copy_from_slice(chunk))
                .map_err(|e| e.to_string())?;
        }
        c.finish().map(|_| ()).map_err(|e| e.to_string())
    }

    #[test]
    fn whole_streams_pass_cut_ones_fail() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 7) as u8).collect();
        let tar = tar_of(&data);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::encode_all(&tar[..], 3).unwrap();
        for (name, stream) in [("tar", &tar), ("gzip", &gz), ("zstd", &zst)] {
            assert_eq!(run(Verify::Auto, stream), Ok(()), "{name}");
            // What the stream holds: the tar stream, whatever the codec.
            let mut c = StreamCheck::new(Verify::Auto);
            c.feed(Bytes::copy_from_slice(stream)).unwrap();
            assert_eq!(c.finish(), Ok(Some(tar.len() as u64)), "{name}");
            let err = run(Verify::Auto, &stream[..stream.len() - 3]).unwrap_err();
            assert!(err.contains(&format!("truncated {name}")), "{name}: {err}");
        }
        // gzip that is whole but holds a cut tar.
        let mut cut = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        cut.write_all(&tar[..tar.len() - 1024]).unwrap();
        let err = run(Verify::Auto, &cut.finish().unwrap()).unwrap_err();
        assert!(err.contains("truncated tar"), "{err}");
    }

    #[test]
    fn a_tar_cut_inside_zeros_in_its_data_fails() {
        // A member whose data is mostly zeros, cut on a block boundary in
        // them: it still ends in well over 1 KiB of zeros.
        let mut data = vec![0u8; 100_000];
        data[..5].copy_from_slice(b"start");
        let tar = tar_of(&data);
        let cut = &tar[..512 + 50 * 512];
        for mode in [Verify::Tar, Verify::Auto] {
            let err = run(mode, cut).unwrap_err();
            assert!(
                err.contains("f is cut short at 25600 of 100000 bytes"),
                "{err}"
            );
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(cut).unwrap();
        let err = run(Verify::Gzip, &gz.finish().unwrap()).unwrap_err();
        assert!(err.contains("cut short"), "{err}");
        assert_eq!(run(Verify::Tar, &tar), Ok(()));
    }

    #[test]
    fn unknown_data_is_not_checked_unless_asked() {
        let noise: Vec<u8> = (0..50_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert_eq!(run(Verify::Auto, &noise), Ok(()));
        assert_eq!(run(Verify::None, &noise), Ok(()));
        assert!(
            run(Verify::Gzip, &noise)
                .unwrap_err()
                .contains("not a gzip stream")
        );
        assert!(StreamCheck::new(Verify::Gzip).finish().is_err());
        assert_eq!(StreamCheck::new(Verify::Auto).finish(), Ok(None));
    }
}
