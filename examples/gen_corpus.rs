//! Generate the benchmark corpus (deterministic, ~1.1 GB by default):
//! ~50k small JSON/text files of 1–20 KiB, ~200 MB of incompressible
//! binaries, ~500 MB of large semi-compressible logs, JSON lines and SQL.
//!
//! `cargo run --release --example gen_corpus -- DIR [SCALE]` (SCALE 1.0 is
//! the full size; the tests do not use this, `make bench` does).

use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: &[&str] = &[
    "user",
    "order",
    "invoice",
    "payment",
    "shipment",
    "customer",
    "account",
    "session",
    "request",
    "response",
    "error",
    "warning",
    "info",
    "debug",
    "timeout",
    "retry",
    "database",
    "cache",
    "queue",
    "worker",
    "scheduler",
    "backup",
    "restore",
    "upload",
    "download",
    "checksum",
    "region",
    "bucket",
    "object",
    "latency",
    "throughput",
    "connection",
    "handshake",
    "token",
    "refresh",
    "expired",
    "granted",
    "denied",
    "created",
    "updated",
    "deleted",
    "pending",
    "complete",
    "failed",
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
];

fn word(r: &mut Rng) -> &'static str {
    WORDS[r.below(WORDS.len() as u64) as usize]
}

fn json_record(r: &mut Rng, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{{\"id\":{},\"ts\":\"2026-{:02}-{:02}T{:02}:{:02}:{:02}Z\",\"kind\":\"{}\",\"status\":\"{}\",\"amount\":{}.{:02},\"ref\":\"{:016x}\",\"note\":\"{} {} {}\"}}",
        r.below(10_000_000),
        1 + r.below(12),
        1 + r.below(28),
        r.below(24),
        r.below(60),
        r.below(60),
        word(r),
        word(r),
        r.below(100_000),
        r.below(100),
        r.next(),
        word(r),
        word(r),
        word(r)
    )
}

fn log_line(r: &mut Rng, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "2026-11-{:02} {:02}:{:02}:{:02}.{:03} {} [{}-{}] {} {} took {}ms id={:08x}",
        1 + r.below(28),
        r.below(24),
        r.below(60),
        r.below(60),
        r.below(1000),
        ["INFO", "WARN", "DEBUG", "ERROR"][r.below(4) as usize],
        word(r),
        r.below(16),
        word(r),
        word(r),
        r.below(5000),
        r.next() as u32
    )
}

fn sql_line(r: &mut Rng, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "INSERT INTO {}s (id, name, state, total, created_at) VALUES ({}, '{} {}', '{}', {}.{:02}, '2026-{:02}-{:02}');",
        word(r),
        r.below(100_000_000),
        word(r),
        word(r),
        word(r),
        r.below(10_000),
        r.below(100),
        1 + r.below(12),
        1 + r.below(28)
    )
}

fn big_text(
    path: &Path,
    bytes: u64,
    r: &mut Rng,
    line: fn(&mut Rng, &mut BufWriter<fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut f = BufWriter::with_capacity(1 << 20, fs::File::create(path)?);
    while f.get_ref().metadata()?.len() + (f.buffer().len() as u64) < bytes {
        for _ in 0..1000 {
            line(r, &mut f)?;
        }
    }
    f.flush()
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("usage: gen_corpus DIR [SCALE]");
    let scale: f64 = args
        .next()
        .map_or(1.0, |s| s.parse().expect("SCALE is a number"));
    let root = Path::new(&dir);
    let mut r = Rng(0x5eed_1234_abcd_0001);

    // Small files: JSON documents and text notes, 1–20 KiB, 500 per directory.
    let small = (50_000.0 * scale) as u64;
    for i in 0..small {
        let d = root.join(format!("app/data/{:03}", i / 500));
        if i % 500 == 0 {
            fs::create_dir_all(&d)?;
        }
        let target = 1024 + r.below(19 * 1024);
        let mut buf = Vec::with_capacity(target as usize + 256);
        while (buf.len() as u64) < target {
            if i % 3 == 0 {
                log_line(&mut r, &mut buf)?;
            } else {
                json_record(&mut r, &mut buf)?;
            }
        }
        let ext = if i % 3 == 0 { "txt" } else { "json" };
        fs::write(d.join(format!("doc-{i:06}.{ext}")), &buf)?;
    }

    // Incompressible binaries: media and already-compressed blobs.
    let bin_dir = root.join("app/media");
    fs::create_dir_all(&bin_dir)?;
    let blobs = (25.0 * scale).max(1.0) as u64;
    for i in 0..blobs {
        let mut f = BufWriter::new(fs::File::create(bin_dir.join(format!("blob-{i:03}.bin")))?);
        for _ in 0..(8 << 20) / 8 {
            f.write_all(&r.next().to_le_bytes())?;
        }
        f.flush()?;
    }

    // Large semi-compressible files: logs, JSON lines, an SQL dump.
    let big = root.join("dump");
    fs::create_dir_all(&big)?;
    let part = (170_000_000.0 * scale) as u64;
    big_text(&big.join("app.log"), part, &mut r, log_line)?;
    big_text(&big.join("events.jsonl"), part, &mut r, json_record)?;
    big_text(&big.join("db.sql"), part, &mut r, sql_line)?;
    fs::write(root.join(".complete"), format!("{scale}\n"))?;
    Ok(())
}
