//! One pool of transfer buffers for s3put's parts and s3get's ranges:
//! refilling a buffer already paged in costs less than a fresh one, and
//! reuse keeps RSS at what is in flight. Each side sets its own bound.
//!
//! Why reuse at all, with the numbers: s3get keeping the network's chunks
//! as they came (small reads, each pinning a larger allocation) peaked at
//! 161–184 MiB RSS for 27 × 4 MiB in flight at 80 ms / 20 MB/s; reused
//! buffers bring RSS to what is in flight. Why a bound: s3put once kept
//! every buffer of a part size it had outgrown, and a 10 GiB stream peaked
//! at 252 MiB RSS where 1 GiB took 131.

use std::sync::{Arc, Mutex, PoisonError, Weak};

use bytes::Bytes;

/// Buffers kept for reuse, at most `keep` of them; shared by clones. The
/// spares live as long as the pool, not its loans: a buffer that comes
/// back after the last clone of the pool is gone (s3put's reader has
/// finished) is freed, so the end of an upload holds only what is still
/// in flight.
#[derive(Clone)]
pub(crate) struct BufferPool {
    free: Arc<Mutex<Vec<Vec<u8>>>>,
    keep: usize,
}

impl BufferPool {
    /// A pool that keeps at most `keep` spare buffers.
    pub(crate) fn new(keep: usize) -> Self {
        BufferPool {
            free: Arc::new(Mutex::new(Vec::new())),
            keep,
        }
    }

    /// A buffer that holds `size` bytes without growing. A spare keeps
    /// its length: its bytes are initialised (stale), so s3put reads into
    /// it without zeroing it again (clearing it cost 0.04 CPU-s per GiB,
    /// a memset of every part); s3get, which appends, clears it. Spares
    /// too small are freed: sizes only grow (s3put's parts) or stay
    /// (s3get's ranges; its last, shorter one fits any spare).
    pub(crate) fn take(&self, size: usize) -> Vec<u8> {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        free.retain(|b| b.capacity() >= size);
        free.pop().unwrap_or_else(|| Vec::with_capacity(size))
    }

    /// Keep `buf` for a later `take`, unless the pool is full.
    pub(crate) fn give(&self, buf: Vec<u8>) {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        if buf.capacity() > 0 && free.len() < self.keep {
            free.push(buf);
        }
    }

    /// `buf` as shared bytes that come back to this pool when the last
    /// holder (the upload and the stream check, say) drops them.
    pub(crate) fn lend(&self, buf: Vec<u8>) -> Bytes {
        Bytes::from_owner(Lent {
            buf,
            pool: Arc::downgrade(&self.free),
            keep: self.keep,
        })
    }
}

/// A buffer on loan; it returns to its pool when dropped, if the pool
/// is still there.
struct Lent {
    buf: Vec<u8>,
    pool: Weak<Mutex<Vec<Vec<u8>>>>,
    keep: usize,
}

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        if let Some(free) = self.pool.upgrade() {
            let pool = BufferPool {
                free,
                keep: self.keep,
            };
            pool.give(std::mem::take(&mut self.buf));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spares_are_reused_bounded_and_outgrown_ones_freed() {
        let pool = BufferPool::new(2);
        for _ in 0..3 {
            pool.give(Vec::with_capacity(100));
        }
        assert_eq!(pool.free.lock().unwrap().len(), 2, "kept at most 2");
        let reused = pool.take(50);
        assert!(reused.capacity() >= 100);
        let bigger = pool.take(200);
        assert!(bigger.capacity() >= 200);
        assert!(
            pool.free.lock().unwrap().is_empty(),
            "the small spare freed"
        );
    }

    #[test]
    fn lent_bytes_return_when_the_last_holder_drops_them() {
        let pool = BufferPool::new(2);
        let bytes = pool.lend(b"part".to_vec());
        let ptr = bytes.as_ptr();
        let held = bytes.clone();
        drop(bytes);
        assert!(pool.free.lock().unwrap().is_empty());
        assert_eq!(held, &b"part"[..]);
        drop(held);
        let back = pool.take(4);
        assert_eq!(back.as_ptr(), ptr, "the same buffer");
        assert_eq!(back, b"part", "its length and bytes kept");
    }

    #[test]
    fn a_loan_outliving_its_pool_is_freed() {
        let pool = BufferPool::new(2);
        let bytes = pool.lend(vec![1; 10]);
        let free = Arc::downgrade(&pool.free);
        drop(pool);
        assert!(free.upgrade().is_none(), "the loan does not keep the pool");
        drop(bytes);
    }
}
