//! `s3prune`: parse flags (cli::prune) → `retention` (pure) + `s3::prune`.
//! The body lives in `cli::tools`, shared with the multicall `s3pipe`.

fn main() -> std::process::ExitCode {
    s3pipe::cli::tools::s3prune(std::env::args_os().collect())
}
