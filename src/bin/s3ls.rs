//! `s3ls`: parse flags (cli::ls) → `s3::list`.
//! The body lives in `cli::mains`, shared with the multicall `s3pipe`.

fn main() -> std::process::ExitCode {
    s3pipe::cli::mains::s3ls(std::env::args_os().collect())
}
