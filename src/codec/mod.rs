//! Compression formats: what a stream is ([`detect`]), how we write it fast
//! ([`pgzip`], [`encode`]) and how we read it back on a thread of its own
//! ([`decode`]).

pub mod decode;
pub mod detect;
pub mod encode;
pub(crate) mod pgzip;
pub mod verify;

pub use detect::Format;
