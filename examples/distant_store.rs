//! The bench's distant store: `distant_store UPSTREAM RTT_MS PER_CONN_MB
//! [AGGREGATE_MB]` proxies `http://127.0.0.1:PORT` (UPSTREAM) with the
//! round trip and rates (MB/s = 10^6 bytes/s, 0 for none) of
//! tests/support/distant.rs, prints its endpoint on stdout and serves
//! until killed.

#[allow(dead_code, unreachable_pub)]
#[path = "../tests/support/wire.rs"]
mod wire;

#[allow(dead_code, unreachable_pub)]
#[path = "../tests/support/distant.rs"]
mod distant;

use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize| -> u64 {
        args.get(i)
            .map(|a| a.parse().expect("a number"))
            .unwrap_or(0)
    };
    let Some(upstream) = args.first() else {
        eprintln!("usage: distant_store UPSTREAM RTT_MS PER_CONN_MB [AGGREGATE_MB]");
        std::process::exit(2);
    };
    let rate = |mb: u64| (mb > 0).then_some(mb * 1_000_000);
    let link = distant::Link {
        rtt: Duration::from_millis(number(1)),
        per_connection: rate(number(2)),
        aggregate: rate(number(3)),
    };
    let proxy = distant::DistantProxy::start(upstream, link);
    println!("{}", proxy.endpoint);
    loop {
        std::thread::park();
    }
}
