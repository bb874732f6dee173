//! `s3prune`: parse flags (cli::prune) → `retention` (pure) + `s3::prune`.
//! The body lives in `cli::mains`, shared with the multicall `s3pipe`.

fn main() -> std::process::ExitCode {
    s3pipe::cli::mains::s3prune(std::env::args_os().collect())
}
