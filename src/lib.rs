//! s3pipe moves backups between a machine and S3 as streams, so neither a
//! backup nor a restore needs scratch disk for the archive.
//!
//! The library holds everything; each binary in `src/bin/` only parses its
//! flags (with [`cli`]) and calls in here. Data flows one way, stdin →
//! library → stdout: [`archive`] turns trees into tar streams and back
//! (safely), [`codec`] compresses and decompresses them on every core, [`s3`]
//! moves streams in and out of S3, [`backups`] says what a complete backup
//! is and [`retention`] which to keep, [`signals`] and [`progress`] handle
//! signals and stderr, [`stdio`] the standard streams. docs/ARCHITECTURE.md
//! is the map.
//!
//! ```
//! use s3pipe::archive::options::{Input, PackOptions};
//! use s3pipe::archive::pack::pack_to;
//! use s3pipe::archive::unpack::{unpack, UnpackOptions};
//! use s3pipe::codec::encode::Compression;
//! use s3pipe::progress::Progress;
//!
//! let src = tempfile::tempdir()?;
//! std::fs::write(src.path().join("hello.txt"), b"hello\n")?;
//! let opts = PackOptions {
//!     inputs: vec![Input::Chdir(src.path().into()), Input::Path(".".into())],
//!     ..Default::default()
//! };
//! let gzip = Compression::Gzip { level: 6, threads: 2, block_size: 128 * 1024 };
//! let mut archive = Vec::new();
//! pack_to(&opts, &gzip, &mut archive, &Progress::silent("pack"))?;
//!
//! let dst = tempfile::tempdir()?;
//! unpack(std::io::Cursor::new(archive), &UnpackOptions::new(dst.path()), &Progress::silent("unpack"))?;
//! assert_eq!(std::fs::read(dst.path().join("hello.txt"))?, b"hello\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod archive;
pub mod backups;
pub mod chains;
pub mod cli;
pub mod codec;
pub(crate) mod encryption;
pub(crate) mod idle;
pub(crate) mod notify;
pub(crate) mod producer;
pub mod progress;
pub mod retention;
pub mod s3;
pub(crate) mod signals;
pub(crate) mod stdio;
