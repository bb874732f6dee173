//! Client-side encryption in age's format (age-encryption.org/v1), so the
//! store never sees plaintext and anyone can decrypt with the `age` tool.
//!
//! Encryption is a reader ([`Encrypting`]) between the input and s3put's
//! part buffers: plaintext is read in 1 MiB blocks, shown to an
//! [`Observer`] (s3put's stream check and SHA-256) and encrypted. At the
//! end of the input the observer gives its verdict *before* the final age
//! chunk is written: a truncated plaintext never becomes a valid age file,
//! let alone an object. Decryption ([`decrypt`]) runs on s3get's writer
//! thread; age authenticates every 64 KiB chunk and marks the last, so a
//! flipped bit or a cut object stops the output at the chunk before it.
//!
//! Passphrases (age's scrypt recipient) are refused: an unattended job has
//! nobody to type one.

use std::fmt;
use std::fs;
use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

/// The object metadata entry that says an object is age-encrypted.
pub(crate) const METADATA_KEY: &str = "s3pipe-encryption";
pub(crate) const METADATA_VALUE: &str = "age";

/// What every age file begins with.
const MAGIC: &[u8] = b"age-encryption.org/v1\n";
/// Plaintext read and checked at a time.
const BLOCK: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum CryptError {
    #[error(
        "not an age recipient: {0:?} (expected age1… or an ssh-ed25519/ssh-rsa public key; passphrases are not supported)"
    )]
    BadRecipient(String),
    #[error("{path}, line {line}: not an age recipient (age1… or ssh-ed25519/ssh-rsa)")]
    BadRecipientLine { path: PathBuf, line: usize },
    #[error("{0}: no recipients in the file")]
    NoRecipients(PathBuf),
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "{0} is protected by a passphrase, which an unattended job cannot type: keep the identity unencrypted in a Secret mounted as a file"
    )]
    PassphraseIdentity(PathBuf),
    /// The line only: an identity file's content is secret.
    #[error("{path}, line {line}: not an age identity (AGE-SECRET-KEY-1…)")]
    BadIdentityLine { path: PathBuf, line: usize },
    #[error("{path}: {reason}")]
    BadSshKey { path: PathBuf, reason: String },
    #[error("{0}: no identities in the file")]
    NoIdentities(PathBuf),
    #[error("none of the identities given matches the object's recipients (wrong key?)")]
    WrongKey,
    #[error(
        "the object is encrypted with a passphrase (age -p), which unattended jobs cannot use: encrypt to a recipient key instead"
    )]
    Passphrase,
    #[error("not a valid age header: {0}")]
    Header(String),
    #[error(
        "decryption failed, the object is corrupt or truncated ({0}); nothing after the fault was written"
    )]
    Stream(io::Error),
    #[error("encrypting: {0}")]
    Encrypt(String),
}

// ---- recipients (s3put) ----------------------------------------------------

/// An age recipient from its text: `age1…`, `ssh-ed25519 …` or `ssh-rsa …`.
fn recipient(text: &str) -> Option<Box<dyn age::Recipient + Send>> {
    if let Ok(r) = text.parse::<age::x25519::Recipient>() {
        return Some(Box::new(r));
    }
    text.parse::<age::ssh::Recipient>()
        .ok()
        .map(|r| Box::new(r) as Box<dyn age::Recipient + Send>)
}

/// Check a `--recipient` value; returns it trimmed.
pub(crate) fn parse_recipient(text: &str) -> Result<String, CryptError> {
    let text = text.trim();
    match recipient(text) {
        Some(_) => Ok(text.to_string()),
        None => Err(CryptError::BadRecipient(text.to_string())),
    }
}

/// The recipients in a file of age's format: one per line, `#` comments
/// and blank lines skipped.
pub(crate) fn read_recipients_file(path: &Path) -> Result<Vec<String>, CryptError> {
    let text = fs::read_to_string(path).map_err(|source| CryptError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if recipient(line).is_none() {
            let (path, line) = (path.to_path_buf(), i + 1);
            return Err(CryptError::BadRecipientLine { path, line });
        }
        found.push(line.to_string());
    }
    if found.is_empty() {
        return Err(CryptError::NoRecipients(path.to_path_buf()));
    }
    Ok(found)
}

// ---- encrypting ------------------------------------------------------------

/// Sees the plaintext before it is encrypted, and says at the end whether
/// it is whole (an error stops the upload, and the age file stays
/// unfinished).
pub(crate) trait Observer {
    fn block(&mut self, plaintext: Bytes) -> io::Result<()>;
    fn end(&mut self) -> io::Result<()>;
}

/// Ciphertext as the age writer produces it, drained by [`Encrypting`].
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads `input`, gives the age encryption of it to `recipients`.
pub(crate) struct Encrypting<R, O> {
    input: R,
    observer: O,
    writer: Option<age::stream::StreamWriter<Sink>>,
    sink: Sink,
    /// Ciphertext not yet read, and how much of it was.
    out: Vec<u8>,
    pos: usize,
}

impl<R: Read, O: Observer> Encrypting<R, O> {
    pub(crate) fn new(input: R, recipients: &[String], observer: O) -> Result<Self, CryptError> {
        let keys: Vec<_> = recipients.iter().filter_map(|r| recipient(r)).collect();
        if keys.len() != recipients.len() || keys.is_empty() {
            return Err(CryptError::Encrypt("no valid recipient".into()));
        }
        let encryptor = age::Encryptor::with_recipients(keys.iter().map(|k| &**k as _))
            .map_err(|e| CryptError::Encrypt(e.to_string()))?;
        let sink = Sink::default();
        let writer = encryptor
            .wrap_output(sink.clone())
            .map_err(|e| CryptError::Encrypt(e.to_string()))?;
        Ok(Encrypting {
            input,
            observer,
            writer: Some(writer),
            sink,
            out: Vec::new(),
            pos: 0,
        })
    }

    /// Read, observe and encrypt the next block; at the end, finish the age
    /// file only if the observer is satisfied.
    fn refill(&mut self) -> io::Result<()> {
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        let mut block = vec![0; BLOCK];
        let n = fill(&mut self.input, &mut block)?;
        block.truncate(n);
        if n > 0 {
            let block = Bytes::from(block);
            self.observer.block(block.clone())?;
            writer.write_all(&block)?;
        }
        if n < BLOCK {
            self.observer.end()?;
            self.writer.take().map(|w| w.finish()).transpose()?;
        }
        let mut sink = self.sink.0.lock().unwrap_or_else(|e| e.into_inner());
        self.out.clear();
        std::mem::swap(&mut self.out, &mut sink);
        self.pos = 0;
        Ok(())
    }
}

/// Read until `buf` is full or the input ends; returns the bytes read.
fn fill(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl<R: Read, O: Observer> Read for Encrypting<R, O> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.out.len() {
            if self.writer.is_none() {
                return Ok(0);
            }
            self.refill()?;
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

// ---- identities and decrypting (s3get) -------------------------------------

/// Identities to decrypt with, read once from `--identity` files.
#[derive(Clone, Default)]
pub struct Identities(Arc<Vec<Box<dyn age::Identity + Send + Sync>>>);

impl fmt::Debug for Identities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identities({})", self.0.len()) // never the keys
    }
}

impl Identities {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Read identity files: age's (`AGE-SECRET-KEY-1…` lines, comments
    /// allowed) or unencrypted OpenSSH ed25519/RSA private keys.
    pub fn read(paths: &[PathBuf]) -> Result<Identities, CryptError> {
        let mut all: Vec<Box<dyn age::Identity + Send + Sync>> = Vec::new();
        for path in paths {
            let text = fs::read(path).map_err(|source| CryptError::Read {
                path: path.clone(),
                source,
            })?;
            if text.starts_with(MAGIC) {
                return Err(CryptError::PassphraseIdentity(path.clone()));
            }
            let before = all.len();
            if text.windows(11).any(|w| w == b"-----BEGIN ") {
                all.push(ssh_identity(path, &text)?);
            } else {
                age_identities(path, &text, &mut all)?;
            }
            if all.len() == before {
                return Err(CryptError::NoIdentities(path.clone()));
            }
        }
        Ok(Identities(Arc::new(all)))
    }
}

fn age_identities(
    path: &Path,
    text: &[u8],
    all: &mut Vec<Box<dyn age::Identity + Send + Sync>>,
) -> Result<(), CryptError> {
    for (i, line) in text.lines().enumerate() {
        let bad = || CryptError::BadIdentityLine {
            path: path.to_path_buf(),
            line: i + 1,
        };
        let line = line.map_err(|_| bad())?;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let identity = line.parse::<age::x25519::Identity>().map_err(|_| bad())?;
        all.push(Box::new(identity));
    }
    Ok(())
}

fn ssh_identity(
    path: &Path,
    text: &[u8],
) -> Result<Box<dyn age::Identity + Send + Sync>, CryptError> {
    let name = path.display().to_string();
    let key =
        age::ssh::Identity::from_buffer(text, Some(name)).map_err(|e| CryptError::BadSshKey {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    match key {
        age::ssh::Identity::Unencrypted(_) => Ok(Box::new(key)),
        age::ssh::Identity::Encrypted(_) => Err(CryptError::PassphraseIdentity(path.to_path_buf())),
        age::ssh::Identity::Unsupported(k) => Err(CryptError::BadSshKey {
            path: path.to_path_buf(),
            reason: format!("unsupported SSH key: {k:?}"),
        }),
    }
}

/// Whether `prefix` (the first bytes of an object) is an age file.
pub(crate) fn is_age(prefix: &[u8]) -> bool {
    prefix.starts_with(MAGIC)
}

/// Bytes [`decrypt`] needs to tell an age file from anything else.
pub(crate) const MAGIC_LEN: usize = MAGIC.len();

/// Why decrypting to an output stopped.
#[derive(Debug)]
pub(crate) enum DecryptFailure {
    /// The ciphertext (or the key) is at fault.
    Crypt(CryptError),
    /// Writing the plaintext failed (e.g. a closed stdout).
    Output(io::Error),
}

/// Decrypt the age file `input` into `out`, chunk by authenticated chunk.
pub(crate) fn decrypt(
    input: impl Read,
    identities: &Identities,
    out: &mut impl Write,
) -> Result<(), DecryptFailure> {
    use DecryptFailure::{Crypt, Output};
    let decryptor = age::Decryptor::new_buffered(io::BufReader::with_capacity(1 << 16, input))
        .map_err(|e| Crypt(header_error(e)))?;
    if decryptor.is_scrypt() {
        return Err(Crypt(CryptError::Passphrase));
    }
    let keys = identities.0.iter().map(|k| &**k as &dyn age::Identity);
    let mut plain = decryptor
        .decrypt(keys)
        .map_err(|e| Crypt(header_error(e)))?;
    let mut buf = vec![0; 1 << 16];
    loop {
        let n = match plain.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Crypt(CryptError::Stream(e))),
        };
        out.write_all(&buf[..n]).map_err(Output)?;
    }
    Ok(())
}

fn header_error(e: age::DecryptError) -> CryptError {
    match e {
        age::DecryptError::NoMatchingKeys => CryptError::WrongKey,
        age::DecryptError::Io(e) => CryptError::Stream(e),
        e => CryptError::Header(e.to_string()),
    }
}
