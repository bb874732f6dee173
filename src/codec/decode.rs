//! The decompressing end of `unpack` and `--splice`: detect the format from
//! the first bytes, then decompress on a thread of its own so that inflating
//! overlaps with parsing tar and writing files.
//!
//! The thread reads its input to the very end, so a gzip stream's trailers
//! (CRC32 and ISIZE of every member) and anything after them are checked
//! even when the tar inside ended earlier.

use std::io::{self, BufRead, BufReader, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use flate2::bufread::GzDecoder;

use super::detect::{Format, SNIFF_LEN, detect, is_valid_tar_block};

/// Size of the chunks handed from the decoder thread to the reader.
const CHUNK: usize = 256 * 1024;
/// Chunks that may wait in the queue: bounds memory to ~CHUNK × (DEPTH + 2).
const DEPTH: usize = 4;

/// zstd's own default limit on a frame's window (its CLI's too): 128 MiB.
/// `zstd --long=28…31` archives need more (`--zstd-window-max`).
pub const ZSTD_WINDOW_MAX: u64 = 128 << 20;

/// How to decode an input: its format (None: detect it) and the largest
/// zstd window to accept — what a zstd frame may make the decoder hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoding {
    /// The format, or None to detect it from the first bytes.
    pub format: Option<Format>,
    /// The largest zstd window accepted (`--zstd-window-max`).
    pub zstd_window_max: u64,
}

impl Default for Decoding {
    fn default() -> Self {
        Decoding {
            format: None,
            zstd_window_max: ZSTD_WINDOW_MAX,
        }
    }
}

impl Decoding {
    /// zstd's window limit as the log2 its decoder takes (rounded up:
    /// `--zstd-window-max 1GiB` is 30), within zstd's range 10..=31.
    fn zstd_window_log(&self) -> u32 {
        let log = 64
            - self
                .zstd_window_max
                .max(1)
                .saturating_sub(1)
                .leading_zeros();
        log.clamp(10, 31)
    }
}

/// The window a zstd frame at the start of `head` declares (RFC 8878,
/// 3.1.1.1: the window descriptor, or the content size of a single-segment
/// frame), after any skippable frames (pzstd writes one). zstd's safe API
/// does not expose the frame header; this is what its error lacks.
fn zstd_window(mut head: &[u8]) -> Option<u64> {
    let le32 = |b: &[u8]| {
        b.get(..4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    while le32(head)? & 0xFFFF_FFF0 == 0x184D_2A50 {
        let skip = 8 + le32(head.get(4..)?)? as usize;
        head = head.get(skip..)?;
    }
    if le32(head)? != 0xFD2F_B528 {
        return None;
    }
    let fhd = *head.get(4)?;
    if fhd & 0x20 == 0 {
        let wd = *head.get(5)?;
        let base = 1u64 << (10 + (wd >> 3));
        return Some(base + base / 8 * u64::from(wd & 7));
    }
    let dict = [0, 1, 2, 4][usize::from(fhd & 3)];
    let at = 5 + dict;
    let fcs = |n: usize| -> Option<u64> {
        let b = head.get(at..at + n)?;
        Some(b.iter().rev().fold(0u64, |v, &x| v << 8 | u64::from(x)))
    };
    match fhd >> 6 {
        0 => fcs(1),
        1 => fcs(2).map(|v| v + 256),
        2 => fcs(4),
        _ => fcs(8),
    }
}

/// The reading end: yields the decompressed bytes, or the decoder's error.
pub struct DecodedReader {
    chunks: Receiver<io::Result<Vec<u8>>>,
    recycle: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
    done: bool,
}

/// Start decoding `input` on a new thread, as `format` says or, without
/// one, as its first bytes say. Fails at once for formats we recognise but
/// do not read (bzip2, xz, lz4).
pub fn spawn<R: Read + Send + 'static>(
    mut input: R,
    decoding: Decoding,
) -> io::Result<DecodedReader> {
    let format = decoding.format;
    let mut head = Vec::with_capacity(SNIFF_LEN);
    (&mut input).take(SNIFF_LEN as u64).read_to_end(&mut head)?;
    let forced = format.is_some();
    let format = format.unwrap_or_else(|| detect(&head));
    if let Format::Unsupported(name) = format {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{name}-compressed input is not supported (use gzip, zstd or plain tar)"),
        ));
    }
    if format == Format::Tar
        && !forced
        && head.len() == SNIFF_LEN
        && head.iter().any(|&b| b != 0)
        && !is_valid_tar_block(&head)
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "input is not a tar archive (nor gzip or zstd compressed)",
        ));
    }
    let window_head = head.clone();
    let (tx, rx) = sync_channel(DEPTH);
    let (recycle_tx, recycle_rx) = sync_channel::<Vec<u8>>(DEPTH + 2);
    let source = io::Cursor::new(head).chain(input);
    std::thread::Builder::new()
        .name(format!("decode-{}", format.name()))
        .spawn(move || {
            let reader = BufReader::with_capacity(CHUNK, source);
            match format {
                Format::Gzip => pump(GzipMembers::new(reader), format, tx, recycle_rx),
                Format::Zstd => match zstd_decoder(reader, &decoding, &window_head) {
                    Ok(dec) => pump(dec, format, tx, recycle_rx),
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                },
                _ => pump(reader, format, tx, recycle_rx),
            }
        })?;
    Ok(DecodedReader {
        chunks: rx,
        recycle: recycle_tx,
        current: Vec::new(),
        pos: 0,
        done: false,
    })
}

/// A zstd decoder that accepts windows up to `--zstd-window-max`; a frame
/// that needs more is refused saying how much and which flag.
fn zstd_decoder<R: BufRead>(reader: R, decoding: &Decoding, head: &[u8]) -> io::Result<impl Read> {
    let mut decoder = zstd::stream::read::Decoder::with_buffer(reader)?;
    decoder.window_log_max(decoding.zstd_window_log())?;
    let limit = 1u64 << decoding.zstd_window_log();
    let needed = zstd_window(head).filter(|&w| w > limit);
    Ok(WindowChecked {
        decoder,
        needed,
        limit,
    })
}

/// The zstd decoder, whose "Frame requires too much memory" error becomes
/// one that names the window the frame needs and the flag that allows it.
struct WindowChecked<D> {
    decoder: D,
    needed: Option<u64>,
    limit: u64,
}

impl<D: Read> Read for WindowChecked<D> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.decoder.read(buf).map_err(|e| match self.needed {
            Some(window) if e.to_string().contains("too much memory") => io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the zstd frame needs a {} MiB window, over the {} MiB allowed: give --zstd-window-max {}MiB (made with zstd --long)",
                    window >> 20,
                    self.limit >> 20,
                    window.div_ceil(1 << 20)
                ),
            ),
            _ => e,
        })
    }
}

/// Decoder thread body: fill chunks and send them until EOF or error.
fn pump(
    mut decoder: impl Read,
    format: Format,
    tx: SyncSender<io::Result<Vec<u8>>>,
    recycle: Receiver<Vec<u8>>,
) {
    loop {
        let mut buf = recycle.try_recv().unwrap_or_default();
        buf.resize(CHUNK, 0);
        let mut filled = 0;
        let result = loop {
            match decoder.read(&mut buf[filled..]) {
                Ok(0) => break Ok(true),
                Ok(n) => {
                    filled += n;
                    if filled == buf.len() {
                        break Ok(false);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(describe(e, format)),
            }
        };
        buf.truncate(filled);
        match result {
            Ok(eof) => {
                if !buf.is_empty() && tx.send(Ok(buf)).is_err() {
                    return; // reader gone
                }
                if eof {
                    return;
                }
            }
            Err(e) => {
                if !buf.is_empty() {
                    let _ = tx.send(Ok(buf));
                }
                let _ = tx.send(Err(e));
                return;
            }
        }
    }
}

/// Every member of a gzip stream, one after another (pigz and `pack` write
/// many), then EOF — or zero bytes to the end: tape drives and `tar -b`
/// pad the last record with them, and gzip(1) accepts that padding too.
/// Anything else after a member is a corrupt stream.
pub struct GzipMembers<R: BufRead> {
    member: Option<GzDecoder<R>>,
}

impl<R: BufRead> GzipMembers<R> {
    /// Decode every gzip member of `input`, one after the other.
    pub fn new(input: R) -> Self {
        GzipMembers {
            member: Some(GzDecoder::new(input)),
        }
    }
}

impl<R: BufRead> Read for GzipMembers<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(member) = self.member.as_mut() else {
                return Ok(0);
            };
            let n = member.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            let mut rest = self.member.take().expect("member").into_inner();
            match rest.fill_buf()?.first() {
                None => return Ok(0),
                Some(0) => return zero_padding(rest).map(|()| 0),
                Some(_) => self.member = Some(GzDecoder::new(rest)),
            }
        }
    }
}

/// Consume `rest` to EOF; only zeros are allowed.
fn zero_padding(mut rest: impl BufRead) -> io::Result<()> {
    loop {
        let chunk = rest.fill_buf()?;
        if chunk.is_empty() {
            return Ok(());
        }
        if chunk.iter().any(|&b| b != 0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "garbage after the last gzip member",
            ));
        }
        let n = chunk.len();
        rest.consume(n);
    }
}

/// Say what went wrong in words a user of `gzip -t` would recognise: the
/// one wording for a cut or corrupt stream, for `unpack` and `s3put`.
pub fn describe(e: io::Error, format: Format) -> io::Error {
    let name = format.name();
    match e.kind() {
        io::ErrorKind::UnexpectedEof => io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("input ended early (truncated {name} stream)"),
        ),
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::Other
            if format != Format::Tar =>
        {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("corrupt {name} stream: {e}"),
            )
        }
        _ => e,
    }
}

impl Read for DecodedReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            if self.done || out.is_empty() {
                return Ok(0);
            }
            match self.chunks.recv() {
                Ok(Ok(chunk)) => {
                    let old = std::mem::replace(&mut self.current, chunk);
                    let _ = self.recycle.try_send(old);
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = out.len().min(self.current.len() - self.pos);
        out[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn read_all(input: Vec<u8>) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        spawn(Cursor::new(input), Decoding::default())?.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn the_window_a_zstd_frame_declares_and_the_limit_as_a_log() {
        let long = |level: i32, log: u32| {
            let mut enc = zstd::stream::write::Encoder::new(Vec::new(), level).unwrap();
            enc.window_log(log).unwrap();
            enc.long_distance_matching(true).unwrap();
            std::io::Write::write_all(&mut enc, &[7u8; 4096]).unwrap();
            enc.finish().unwrap()
        };
        // Streamed (no content size): the descriptor says 2^log.
        assert_eq!(zstd_window(&long(3, 28)), Some(1 << 28));
        assert_eq!(zstd_window(&long(3, 20)), Some(1 << 20));
        // A skippable frame first (pzstd's) is passed over.
        let mut skippable = vec![0x50, 0x2A, 0x4D, 0x18, 4, 0, 0, 0, 1, 2, 3, 4];
        skippable.extend(long(3, 27));
        assert_eq!(zstd_window(&skippable), Some(1 << 27));
        assert_eq!(zstd_window(b"not zstd"), None);
        let limit = |bytes| {
            Decoding {
                format: None,
                zstd_window_max: bytes,
            }
            .zstd_window_log()
        };
        assert_eq!(
            (
                limit(128 << 20),
                limit((128 << 20) + 1),
                limit(1),
                limit(u64::MAX)
            ),
            (27, 28, 10, 31)
        );
    }

    #[test]
    fn decodes_multi_member_gzip_zstd_and_plain() {
        let a: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let mut two = gz(&a);
        two.extend(gz(b"tail"));
        let mut want = a.clone();
        want.extend(b"tail");
        assert_eq!(read_all(two).unwrap(), want);
        assert_eq!(read_all(zstd::encode_all(&a[..], 3).unwrap()).unwrap(), a);
        assert_eq!(read_all(Vec::new()).unwrap(), b"");
        // Uncompressed input must start like a tar archive.
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(a.len() as u64);
        h.set_cksum();
        b.append_data(&mut h, "a", &a[..]).unwrap();
        let plain = b.into_inner().unwrap();
        assert_eq!(read_all(plain.clone()).unwrap(), plain);
        let err = read_all(a).unwrap_err();
        assert!(err.to_string().contains("not a tar archive"), "{err}");
    }

    #[test]
    fn truncated_and_corrupt_gzip_fail() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 13) as u8).collect();
        let full = gz(&data);
        let err = read_all(full[..full.len() - 3].to_vec()).unwrap_err();
        assert!(err.to_string().contains("truncated gzip"), "{err}");
        let mut flipped = full.clone();
        let n = flipped.len();
        flipped[n - 6] ^= 0x40; // inside the CRC32
        let err = read_all(flipped).unwrap_err();
        assert!(err.to_string().contains("corrupt gzip"), "{err}");
        let mut garbage = full.clone();
        garbage.extend(b"garbage after the end");
        let err = read_all(garbage).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(
            err.to_string().starts_with("corrupt gzip stream: "),
            "{err}"
        );
        // Zero padding after the last member (tape records) is accepted,
        // a non-zero byte inside it is not.
        let mut padded = full.clone();
        padded.extend([0u8; 10_000]);
        assert_eq!(read_all(padded.clone()).unwrap(), data);
        padded[full.len() + 5000] = 1;
        let err = read_all(padded).unwrap_err();
        assert!(
            err.to_string()
                .contains("garbage after the last gzip member"),
            "{err}"
        );
    }

    #[test]
    fn unsupported_formats_are_named() {
        let err = spawn(Cursor::new(b"BZh91AY&SY".to_vec()), Decoding::default())
            .err()
            .unwrap();
        assert!(err.to_string().contains("bzip2"), "{err}");
    }
}
