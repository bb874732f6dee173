//! How many parts (s3put) or ranges (s3get) are in flight: a memory budget
//! caps it, and within the budget the number grows while throughput grows.
//!
//! Why adapt: on loopback the server is the bottleneck and 4 in flight
//! already reach it (bench: 8 MiB × 8 was 0.98× of × 4 for s3put); a store
//! 40 ms away that gives each connection 40 MB/s needs 10 or more (issue
//! 11: 130 MB/s at × 4, 282 MB/s at × 16). One fixed number loses one of
//! the two.
//!
//! How (probing, like TCP's slow start, rather than the CRT's fixed
//! throughput target, which needs the link's speed up front): start at 4;
//! once the first transfer started at a level has finished, the level is
//! in force: measure the bytes that finish over the next transfer's time,
//! two for the levels after the first (`LATER_SPANS`), and at least
//! [`SAMPLES`] transfers. Quadruple (within the budget) while
//! that throughput grows by a quarter of the step (×1.75 for ×4, ×1.5 for
//! ×3); fall back to the level before and stay when it does not. Why ×4:
//! a probe costs about two transfers' time at each level, and a 512 MiB
//! stream 40 ms away is over in ~2 s; in steps of ×2 s3put reached
//! 227 MB/s where 16 pinned reached 349 (first try, debug build). Why the
//! bytes that finish and not each transfer's own rate: s3get's ranges
//! leave their slot in order, so a finished range can hold a slot while
//! the one before it is still coming; `level × bytes / seconds` of single
//! transfers then read 1,054 MB/s on loopback where 826 arrived, and the
//! level grew for nothing. Only levels that were saturated — a part or
//! range was waiting for a slot — are judged: when the input (s3put) or
//! the output (s3get) is the bottleneck, more connections cannot help and
//! the level holds.

use std::time::{Duration, Instant};

/// What a transfer starts at before anything is measured: the old fixed
/// default, the best on loopback.
pub(crate) const START: usize = 4;

/// Each step multiplies the level by this.
pub(crate) const GROWTH: usize = 4;

/// Transfers started at a level that must finish before it is judged.
pub(crate) const SAMPLES: usize = 4;

/// A level after the first is measured over this many of its first
/// transfer's times: over one, the new connections' first round trips
/// weighed so much that s3get (2 MiB ranges, 40 ms / 40 MB/s) read 16 in
/// flight as 129–139 MB/s against 89 for 4 and fell back to 4 in two runs
/// of three (3.37 s for 512 MiB); over two, it kept 31 (1.14–1.23 s). The
/// first level is not lengthened: its window reaches back to the start.
const LATER_SPANS: u32 = 2;

/// s3put's default `--max-memory` (its part buffers): at the ceiling it
/// reaches 12 × 8 MiB in flight, and peaks at 131 MiB RSS where the AWS
/// CLI's `s3 cp -` takes 145.
pub(crate) const DEFAULT_PUT_MEMORY: u64 = 112 << 20;

/// s3get's default `--max-memory` (its range buffers): 31 × 2 MiB in
/// flight. Far away, the HTTP client's own read buffers come on top, about
/// 25 MiB for 30 connections: at 64 MiB s3get peaked at 94–101 MiB RSS
/// (AWS CLI 106–112) and took 2.03–2.14 s for 512 MiB at 80 ms / 20 MB/s
/// (112 MiB with 4 MiB ranges: 144–149 MiB, 2.17–2.22 s).
pub(crate) const DEFAULT_GET_MEMORY: u64 = 64 << 20;

/// The bytes the part or range buffers may hold (`--max-memory`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    pub bytes: u64,
}

impl Budget {
    /// Transfers of `unit` bytes that fit in flight when `held` more units
    /// are held besides (s3put: the part queued and the one being filled;
    /// s3get: the range being written); at least 1.
    pub fn slots(&self, unit: u64, held: usize) -> usize {
        ((self.bytes / unit.max(1)) as usize)
            .saturating_sub(held)
            .max(1)
    }

    /// The budget one transfer in flight needs, when this one is smaller.
    pub fn shortfall(&self, unit: u64, held: usize) -> Option<u64> {
        let needed = unit.saturating_mul(held as u64 + 1);
        (needed > self.bytes).then_some(needed)
    }
}

/// The controller. Each transfer is tagged with the level's generation
/// when it starts ([`Concurrency::generation`]) and reports back when it
/// finishes (in order, for s3get: when the writer takes it).
#[derive(Debug, Clone)]
pub struct Concurrency {
    limit: usize,
    max: usize,
    probing: bool,
    generation: u64,
    /// The measurement at this level, once its first transfer finished.
    window: Option<Window>,
    saturated: bool,
    /// The level before this one and its throughput (bytes/s).
    previous: Option<(usize, f64)>,
    peak: usize,
}

/// Bytes finished since `start`, judged once `span` (one transfer's time)
/// has passed and at least [`SAMPLES`] transfers finished.
#[derive(Debug, Clone)]
struct Window {
    start: Instant,
    span: Duration,
    bytes: u64,
    count: usize,
}

impl Concurrency {
    /// Exactly `n` (`--concurrency N`), never changed.
    pub fn pinned(n: usize) -> Concurrency {
        let n = n.max(1);
        Concurrency {
            probing: false,
            ..Concurrency::adaptive(n, n)
        }
    }

    /// What `--concurrency` asks for: `pinned` when given, else adaptive
    /// from [`START`] within `max` (the slots the budget holds).
    pub fn new(pinned: Option<usize>, max: usize) -> Concurrency {
        match pinned {
            Some(n) => Concurrency::pinned(n),
            None => Concurrency::adaptive(START, max),
        }
    }

    /// Start at `start` (at most `max`) and probe upwards.
    pub fn adaptive(start: usize, max: usize) -> Concurrency {
        let max = max.max(1);
        let limit = start.clamp(1, max);
        Concurrency {
            limit,
            max,
            probing: true,
            generation: 0,
            window: None,
            saturated: false,
            previous: None,
            peak: limit,
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The highest level used.
    pub fn peak(&self) -> usize {
        self.peak
    }

    /// The tag for a transfer starting now.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// A lower ceiling (s3put's parts grew): the level follows it down.
    pub fn set_max(&mut self, max: usize) {
        let max = max.max(1);
        if max != self.max {
            self.max = max;
            if self.limit > max {
                self.limit = max;
                self.next_generation();
            }
        }
    }

    /// A part or range was ready while every slot was busy.
    pub fn waited(&mut self) {
        self.saturated = true;
    }

    /// A transfer of `bytes` started at `generation` took `seconds` and
    /// finished `now`.
    pub fn finished(&mut self, generation: u64, bytes: u64, seconds: f64, now: Instant) {
        if !self.probing {
            return;
        }
        let Some(window) = self.window.as_mut() else {
            if generation == self.generation {
                self.window = Some(Window::opened_by(self.generation, bytes, seconds, now));
            }
            return;
        };
        window.bytes += bytes;
        window.count += 1;
        let elapsed = now.saturating_duration_since(window.start);
        if elapsed < window.span || window.count < SAMPLES.min(self.limit) {
            return;
        }
        if !self.saturated {
            // Not the bottleneck: hold, and measure again.
            self.next_generation();
            return;
        }
        let throughput = window.bytes as f64 / elapsed.as_secs_f64().max(1e-6);
        self.judge(throughput);
    }

    fn judge(&mut self, throughput: f64) {
        if let Some((before, was)) = self.previous {
            let step = self.limit as f64 / before as f64;
            if throughput < was * (1.0 + (step - 1.0) / 4.0) {
                self.limit = before;
                self.probing = false;
                return;
            }
        }
        if self.limit >= self.max {
            self.probing = false;
            return;
        }
        self.previous = Some((self.limit, throughput));
        self.limit = (self.limit * GROWTH).min(self.max);
        self.peak = self.peak.max(self.limit);
        self.next_generation();
    }

    fn next_generation(&mut self) {
        self.generation += 1;
        self.window = None;
        self.saturated = false;
    }
}

impl Window {
    /// The first transfer of a level finished: from now on the level is in
    /// force (the transfers of the level before are done or overlap it).
    /// At the very start every transfer began together, so the window
    /// reaches back to their start and counts this one.
    fn opened_by(generation: u64, bytes: u64, seconds: f64, now: Instant) -> Window {
        let took = Duration::from_secs_f64(seconds.max(1e-3));
        match generation {
            0 => Window {
                start: now.checked_sub(took).unwrap_or(now),
                span: took,
                bytes,
                count: 1,
            },
            _ => Window {
                start: now,
                span: took * LATER_SPANS,
                bytes: 0,
                count: 0,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: f64 = 1e6;
    const PART: u64 = 8 << 20;

    /// Run the controller against a link, event by event: `rate(level)`
    /// is each transfer's own bytes/s when `level` are in flight; a free
    /// slot is refilled at once (saturated) or only every other time.
    /// Returns the levels it used.
    fn drive(c: Concurrency, rate: impl Fn(usize) -> f64, saturated: bool) -> Vec<usize> {
        simulate(c, rate, saturated, 0.0, false)
    }

    /// [`drive`] as s3get meets it: transfers leave their slot in the
    /// order they started, and one on a connection not opened before
    /// takes `setup` seconds more (connect, then the first request).
    fn drive_in_order(c: Concurrency, rate: impl Fn(usize) -> f64, setup: f64) -> Vec<usize> {
        simulate(c, rate, true, setup, true)
    }

    fn simulate(
        mut c: Concurrency,
        rate: impl Fn(usize) -> f64,
        saturated: bool,
        setup: f64,
        in_order: bool,
    ) -> Vec<usize> {
        let t0 = Instant::now();
        let mut opened = 0;
        let mut now = 0.0f64;
        let mut levels = vec![c.limit()];
        // (finishes at, generation, took)
        let mut flight: Vec<(f64, u64, f64)> = Vec::new();
        for step in 0..400 {
            let fill = if saturated {
                c.limit()
            } else {
                c.limit().min(2)
            };
            while flight.len() < fill {
                let new = if flight.len() >= opened { setup } else { 0.0 };
                opened = opened.max(flight.len() + 1);
                let took = PART as f64 / rate(c.limit()) + new;
                flight.push((now + took, c.generation(), took));
                if saturated && step > 0 {
                    c.waited();
                }
            }
            let (at, generation, took) = if in_order {
                flight.remove(0)
            } else {
                flight.sort_by(|a, b| b.0.total_cmp(&a.0));
                flight.pop().unwrap()
            };
            now = now.max(at);
            let when = t0 + Duration::from_secs_f64(now);
            c.finished(generation, PART, took, when);
            if *levels.last().unwrap() != c.limit() {
                levels.push(c.limit());
            }
        }
        levels
    }

    #[test]
    fn a_link_capped_per_connection_grows_to_the_budget() {
        let c = Concurrency::adaptive(START, 12);
        assert_eq!(drive(c, |_| 40.0 * MB, true), [4, 12]);
    }

    #[test]
    fn a_server_at_its_limit_stays_at_the_start() {
        // 600 MB/s shared by the connections (loopback Garage).
        let c = Concurrency::adaptive(START, 12);
        assert_eq!(drive(c, |n| 600.0 * MB / n as f64, true), [4, 12, 4]);
    }

    #[test]
    fn an_aggregate_cap_stops_the_growth_where_it_bites() {
        // 40 MB/s per connection, 300 MB/s in all: 16 gains, 64 does not.
        let c = Concurrency::adaptive(START, 100);
        let link = |n: usize| (40.0 * MB).min(300.0 * MB / n as f64);
        assert_eq!(drive(c, link, true), [4, 16, 64, 16]);
    }

    #[test]
    fn new_connections_slow_to_open_do_not_stop_the_growth() {
        // A transfer takes 0.092 s (2 MiB at 40 MB/s and a 40 ms round
        // trip); opening a connection 0.15 s more. Judged over one
        // transfer's time, 16 read as slower than 4 while its connections
        // opened, and the level fell back to 4 ([4, 16, 4]).
        let c = Concurrency::adaptive(START, 31);
        let levels = drive_in_order(c, |_| PART as f64 / 0.092, 0.15);
        assert_eq!(levels, [4, 16, 31]);
    }

    #[test]
    fn an_input_slower_than_the_store_holds_the_level() {
        let c = Concurrency::adaptive(START, 12);
        assert_eq!(drive(c, |_| 40.0 * MB, false), [4]);
    }

    #[test]
    fn pinned_never_moves_and_a_lower_ceiling_pulls_the_level_down() {
        assert_eq!(drive(Concurrency::pinned(6), |_| 40.0 * MB, true), [6]);
        let mut c = Concurrency::adaptive(START, 12);
        c.set_max(2);
        assert_eq!(c.limit(), 2);
        assert_eq!(drive(c, |_| 40.0 * MB, true), [2]);
    }

    #[test]
    fn the_first_level_is_judged_after_one_transfer_time() {
        // Four 8 MiB parts at 40 MB/s, all started at 0, end at 0.21 s:
        // the level is judged then, not a round later.
        let mut c = Concurrency::adaptive(START, 12);
        let t0 = Instant::now();
        let took = PART as f64 / (40.0 * MB);
        c.waited();
        for _ in 0..4 {
            c.finished(0, PART, took, t0 + Duration::from_secs_f64(took));
        }
        assert_eq!(c.limit(), 12);
        // Transfers of level 4 finishing later do not open level 12's window.
        c.finished(0, PART, 100.0, t0 + Duration::from_secs(100));
        assert!(c.window.is_none());
    }

    #[test]
    fn the_budget_counts_the_buffers_held_besides() {
        let mib = 1u64 << 20;
        let budget = Budget { bytes: 112 * mib };
        assert_eq!(budget.slots(8 * mib, 2), 12);
        assert_eq!(budget.slots(8 * mib, 1), 13);
        assert_eq!(budget.slots(32 * mib, 2), 1);
        assert_eq!(budget.slots(64 * mib, 2), 1);
        assert_eq!(budget.shortfall(32 * mib, 2), None);
        assert_eq!(budget.shortfall(64 * mib, 2), Some(192 * mib));
    }
}
