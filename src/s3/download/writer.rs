//! The writing thread: ranges in order to the output, the whole body's
//! MD5 when that is the check, age decryption when asked; and the pool of
//! range buffers it hands back.

use std::io::{self, Read, Write};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};

use super::DownloadError;
use super::check::{Check, PartDigests};
use crate::encryption::{self, DecryptFailure, Identities};
use crate::s3::buffers::BufferPool;

/// How the writer treats the bytes: as they are, or decrypted with these
/// identities when they are an age file (`marked`: the metadata says so,
/// and then they must be).
pub(super) struct Decrypt {
    pub(super) identities: Identities,
    pub(super) marked: bool,
}

pub(super) type Writer = std::thread::JoinHandle<Result<Option<String>, DownloadError>>;

/// The writing thread: ranges arrive in order through a rendezvous channel
/// (memory stays bounded by the ranges in flight); it computes the whole
/// body's MD5 when that is the check, and decrypts when asked.
pub(super) fn spawn_writer<W: Write + Send + 'static>(
    mut out: W,
    check: &Check,
    decrypt: Option<Decrypt>,
    buffers: BufferPool,
) -> Result<(SyncSender<Vec<u8>>, Writer), DownloadError> {
    let (tx, rx) = sync_channel::<Vec<u8>>(0);
    let mut digests = match check {
        Check::InOrder(check) => Some(PartDigests::new(check)),
        _ => None,
    };
    let writer = std::thread::Builder::new()
        .name("s3get-write".into())
        .spawn(move || {
            match decrypt {
                None => {
                    for range in rx {
                        out.write_all(&range).map_err(DownloadError::Output)?;
                        if let Some(h) = digests.as_mut() {
                            h.update(&range);
                        }
                        buffers.give(range);
                    }
                }
                Some(decrypt) => {
                    let ciphertext = InOrder::new(rx, digests.as_mut(), buffers);
                    write_decrypted(ciphertext, &decrypt, &mut out)?;
                }
            }
            out.flush().map_err(DownloadError::Output)?;
            Ok(digests.map(PartDigests::finish))
        })
        .map_err(DownloadError::Output)?;
    Ok((tx, writer))
}

/// Decrypt an age file to `out`; anything else (unless marked as age) is
/// written as it is.
pub(super) fn write_decrypted(
    mut input: InOrder<'_>,
    decrypt: &Decrypt,
    out: &mut impl Write,
) -> Result<(), DownloadError> {
    let mut magic = Vec::new();
    (&mut input)
        .take(encryption::MAGIC_LEN as u64)
        .read_to_end(&mut magic)
        .map_err(DownloadError::Output)?;
    if !decrypt.marked && !encryption::is_age(&magic) {
        out.write_all(&magic).map_err(DownloadError::Output)?;
        io::copy(&mut input, out).map_err(DownloadError::Output)?;
        return Ok(());
    }
    let whole = io::Cursor::new(magic).chain(input);
    encryption::decrypt(whole, &decrypt.identities, out).map_err(|e| match e {
        DecryptFailure::Crypt(e) => DownloadError::Decrypt(e),
        DecryptFailure::Output(e) => DownloadError::Output(e),
    })
}

/// The ranges as one byte stream, in order, hashed on the way when the
/// check is the whole body's MD5.
pub(super) struct InOrder<'a> {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    /// The range being read and how far.
    range: Vec<u8>,
    at: usize,
    digests: Option<&'a mut PartDigests>,
    buffers: BufferPool,
}

impl<'a> InOrder<'a> {
    pub(super) fn new(
        rx: std::sync::mpsc::Receiver<Vec<u8>>,
        digests: Option<&'a mut PartDigests>,
        buffers: BufferPool,
    ) -> Self {
        InOrder {
            rx,
            range: Vec::new(),
            at: 0,
            digests,
            buffers,
        }
    }
}

impl io::Read for InOrder<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.range.len() {
            let Ok(next) = self.rx.recv() else {
                return Ok(0);
            };
            self.buffers.give(std::mem::replace(&mut self.range, next));
            self.at = 0;
        }
        let n = (self.range.len() - self.at).min(buf.len());
        let taken = &self.range[self.at..self.at + n];
        buf[..n].copy_from_slice(taken);
        if let Some(h) = self.digests.as_mut() {
            h.update(taken);
        }
        self.at += n;
        Ok(n)
    }
}

/// The output, hashed with SHA-256 on the way when `--expect-sha256`
/// asked (after decryption: what the user gets is what is checked).
pub(super) struct Hashing<W> {
    inner: W,
    hasher: Option<Arc<Mutex<sha2::Sha256>>>,
}

impl<W: Write> Hashing<W> {
    pub(super) fn new(inner: W, hash: bool) -> Self {
        let hasher = hash.then(|| Arc::new(Mutex::new(<sha2::Sha256 as sha2::Digest>::new())));
        Hashing { inner, hasher }
    }

    /// The running digest, to finish once the writer is done.
    pub(super) fn digest(&self) -> Option<Arc<Mutex<sha2::Sha256>>> {
        self.hasher.clone()
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if let Some(h) = &self.hasher {
            sha2::Digest::update(
                &mut *h.lock().unwrap_or_else(PoisonError::into_inner),
                &buf[..n],
            );
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
