//! `s3rm`: parse flags (cli::rm) → `s3::delete::rm` → what was done.
//! The body lives in `cli::mains`, shared with the multicall `s3pipe`.

fn main() -> std::process::ExitCode {
    s3pipe::cli::mains::s3rm(std::env::args_os().collect())
}
