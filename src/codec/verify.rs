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
//! - tar: the stream is whole blocks ending in two zero blocks.
//!
//! Decoding runs on its own thread, fed `Bytes` clones of the parts (no
//! copies), so it overlaps with reading and uploading.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use bytes::Bytes;

use super::detect::{Format, detect, is_tar_header};

/// What to check, as `--verify` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    None,
    /// Recognise gzip, zstd or tar by their first bytes; anything else is
    /// not checked.
    Auto,
    Gzip,
    Zstd,
    Tar,
}

impl std::str::FromStr for Verify {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "none" => Verify::None,
            "auto" => Verify::Auto,
            "gzip" => Verify::Gzip,
            "zstd" => Verify::Zstd,
            "tar" => Verify::Tar,
            _ => {
                return Err(format!(
                    "unknown --verify {s:?} (none, auto, gzip, zstd, tar)"
                ));
            }
        })
    }
}

/// The checking thread: where to send data, and its verdict.
type Worker = (SyncSender<Bytes>, JoinHandle<Result<(), String>>);

/// A running check. Feed it the stream in order, then [`StreamCheck::finish`].
pub struct StreamCheck {
    mode: Verify,
    worker: Option<Worker>,
    started: bool,
}

impl StreamCheck {
    pub fn new(mode: Verify) -> StreamCheck {
        StreamCheck {
            mode,
            worker: None,
            started: false,
        }
    }

    /// The next piece of the stream (the first call decides the format).
    pub fn feed(&mut self, data: Bytes) -> Result<(), String> {
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
                return Err(format!("input is not a {} stream", format.name()));
            }
            let (tx, rx) = sync_channel::<Bytes>(4);
            let handle = std::thread::Builder::new()
                .name("verify".into())
                .spawn(move || check(format, rx))
                .map_err(|e| format!("starting the stream check: {e}"))?;
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

    fn fail_early(&mut self) -> Result<(), String> {
        match self.worker.take() {
            Some((tx, handle)) => {
                drop(tx);
                handle
                    .join()
                    .unwrap_or_else(|_| Err("stream check crashed".into()))
            }
            None => Ok(()),
        }
    }

    /// End of input: Ok when the stream ended cleanly (or is not checked).
    pub fn finish(mut self) -> Result<(), String> {
        if !self.started && matches!(self.mode, Verify::Gzip | Verify::Zstd | Verify::Tar) {
            return Err("input is empty".into());
        }
        self.fail_early()
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

/// Tracks whether a byte stream is a tar archive that ends properly.
#[derive(Default)]
struct TarTail {
    len: u64,
    /// Consecutive zero bytes at the end so far.
    zeros: u64,
    head: Vec<u8>,
}

impl TarTail {
    fn push(&mut self, data: &[u8]) {
        if self.head.len() < 512 {
            let n = (512 - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..n]);
        }
        self.len += data.len() as u64;
        match data.iter().rposition(|&b| b != 0) {
            Some(i) => self.zeros = (data.len() - i - 1) as u64,
            None => self.zeros += data.len() as u64,
        }
    }

    fn is_tar(&self) -> bool {
        is_tar_header(&self.head)
    }

    fn check(&self) -> Result<(), String> {
        if !self.len.is_multiple_of(512) || self.zeros < 1024 {
            return Err(
                "input ended early (truncated tar stream: no end-of-archive blocks)".into(),
            );
        }
        Ok(())
    }
}

fn check(format: Format, rx: Receiver<Bytes>) -> Result<(), String> {
    let feed = Feed {
        rx,
        current: Bytes::new(),
    };
    let mut tail = TarTail::default();
    let mut buf = vec![0u8; 256 * 1024];
    let mut pump = |mut r: Box<dyn Read>, name: &str| -> Result<(), String> {
        loop {
            match r.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => tail.push(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(format!("input ended early (truncated {name} stream)"));
                }
                Err(e) => return Err(format!("corrupt {name} stream: {e}")),
            }
        }
    };
    match format {
        Format::Gzip => {
            pump(
                Box::new(flate2::read::MultiGzDecoder::new(io::BufReader::new(feed))),
                "gzip",
            )?;
            if tail.is_tar() { tail.check() } else { Ok(()) }
        }
        Format::Zstd => {
            let dec = zstd::stream::read::Decoder::new(feed).map_err(|e| format!("zstd: {e}"))?;
            pump(Box::new(dec), "zstd")?;
            if tail.is_tar() { tail.check() } else { Ok(()) }
        }
        _ => {
            pump(Box::new(feed), "tar")?;
            tail.check()
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
            c.feed(Bytes::copy_from_slice(chunk))?;
        }
        c.finish()
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
        assert_eq!(StreamCheck::new(Verify::Auto).finish(), Ok(()));
    }
}
