//! Shared by the integration tests, each part in its own file: running
//! the real programs (`programs`), directory trees (`trees`), raw tar
//! headers (`raw_tar`), memory (`memory`), inputs made at test time
//! (`inputs`), the repository's pages (`pages`); and the servers and
//! proxies the S3 tests talk to. Everything is re-exported, so a test
//! says `use support::*`.
// Each test binary compiles this whole module and uses a part of it (and
// of the re-exports); its `pub` is for the test files, not another crate.
#![allow(dead_code, unused_imports, unreachable_pub)]

pub mod cluster;
pub mod distant;
pub mod faults;
pub mod inputs;
pub mod liar;
pub mod memory;
pub mod pages;
pub mod postgres;
pub mod programs;
pub mod raw_tar;
pub mod s3;
pub mod tls;
pub mod trees;
pub mod wire;

pub use inputs::*;
pub use memory::*;
pub use pages::*;
pub use programs::*;
pub use raw_tar::*;
pub use trees::*;
