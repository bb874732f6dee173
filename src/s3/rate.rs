//! `--limit-rate`: one token bucket (governor's GCRA) that every connection
//! of a transfer draws from, so a nightly backup cannot saturate an uplink
//! (asked for in s5cmd, pgBackRest, barman and restic).
//!
//! s3get takes tokens for each chunk as it arrives (TCP's window then holds
//! the server back); s3put for each read of its input — everything it sends
//! was read first, so what it sends never runs ahead of the bucket by more
//! than the parts it holds.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// Cells are KiB: a u32 of them covers any chunk, and the rate's rounding
/// error stays under 0.1 %.
const CELL: u64 = 1024;

/// A shared byte rate. Cheap to clone; clones share the bucket.
#[derive(Clone)]
pub struct RateLimit {
    limiter: Arc<RateLimiter<NotKeyed, InMemoryState, DefaultClock>>,
    clock: DefaultClock,
    /// The most cells one check may ask for (the burst).
    burst: u32,
    bytes_per_second: u64,
}

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RateLimit({} B/s)", self.bytes_per_second)
    }
}

impl RateLimit {
    /// `bytes_per_second` (at least 1 KiB/s); the burst is 50 ms of it, at
    /// least 64 KiB: small against any second the user measures over.
    pub fn new(bytes_per_second: u64) -> RateLimit {
        let cells = (bytes_per_second / CELL).clamp(1, u32::MAX as u64);
        let burst = (cells / 20).clamp(64, u32::MAX as u64) as u32;
        let period = Duration::from_nanos((1_000_000_000 / cells).max(1));
        let quota = Quota::with_period(period)
            .expect("a non-zero period")
            .allow_burst(NonZeroU32::new(burst).expect("burst >= 64"));
        let clock = DefaultClock::default();
        RateLimit {
            limiter: Arc::new(RateLimiter::direct_with_clock(quota, clock.clone())),
            clock,
            burst,
            bytes_per_second,
        }
    }

    /// The limit.
    pub fn bytes_per_second(&self) -> u64 {
        self.bytes_per_second
    }

    /// How long to wait before `cells` (≤ burst) may pass; zero once taken.
    fn try_take(&self, cells: u32) -> Duration {
        let n = NonZeroU32::new(cells.clamp(1, self.burst)).expect("at least one cell");
        match self.limiter.check_n(n) {
            Ok(Ok(())) => Duration::ZERO,
            Ok(Err(not_until)) => not_until.wait_time_from(self.clock.now()),
            Err(_) => unreachable!("cells are clamped to the burst"),
        }
    }

    /// The cells `bytes` cost, in pieces no larger than the burst.
    fn pieces(&self, bytes: usize) -> impl Iterator<Item = u32> + use<> {
        let mut cells = (bytes as u64).div_ceil(CELL);
        let burst = self.burst as u64;
        std::iter::from_fn(move || {
            (cells > 0).then(|| {
                let piece = cells.min(burst);
                cells -= piece;
                piece as u32
            })
        })
    }

    /// Wait (asleep on the runtime's timer) until `bytes` may pass.
    pub async fn take(&self, bytes: usize) {
        for cells in self.pieces(bytes) {
            loop {
                match self.try_take(cells) {
                    Duration::ZERO => break,
                    wait => tokio::time::sleep(wait).await,
                }
            }
        }
    }

    /// Wait (blocking the thread) until `bytes` may pass.
    pub fn take_blocking(&self, bytes: usize) {
        for cells in self.pieces(bytes) {
            loop {
                match self.try_take(cells) {
                    Duration::ZERO => break,
                    wait => std::thread::sleep(wait),
                }
            }
        }
    }
}

/// A reader whose bytes pass through the bucket (none: as they are).
pub struct Paced<R> {
    /// The reader paced.
    pub inner: R,
    /// The shared bucket, if any.
    pub rate: Option<RateLimit>,
}

impl<R: std::io::Read> std::io::Read for Paced<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(rate) = &self.rate {
            rate.take_blocking(n);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn the_rate_holds_after_the_burst() {
        // 4 MiB/s: 2 MiB in 64 KiB reads take 0.5 s less the 200 KiB burst.
        let rate = RateLimit::new(4 << 20);
        let started = Instant::now();
        for _ in 0..32 {
            rate.take_blocking(64 << 10);
        }
        let took = started.elapsed().as_secs_f64();
        // Never faster than the rate; the upper bound only catches a stall.
        assert!((0.40..0.75).contains(&took), "{took}");
    }

    #[test]
    fn a_read_larger_than_the_burst_is_taken_in_pieces() {
        let rate = RateLimit::new(1 << 20);
        assert_eq!(rate.burst, 64);
        let pieces: Vec<u32> = rate.pieces(200 << 10).collect();
        assert_eq!(pieces, [64, 64, 64, 8]);
        assert_eq!(rate.pieces(1).collect::<Vec<_>>(), [1]);
        assert_eq!(rate.pieces(0).count(), 0);
    }
}
