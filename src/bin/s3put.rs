//! `s3put`: parse flags (cli::put) → `s3::upload` → print the report.
//! The body lives in `cli::mains`, shared with the multicall `s3pipe`.

fn main() -> std::process::ExitCode {
    s3pipe::cli::mains::s3put(std::env::args_os().collect())
}
