//! `s3ls`: parse flags (cli::ls) → `s3::list`.
//! The body lives in `cli::tools`, shared with the multicall `s3pipe`.

fn main() -> std::process::ExitCode {
    s3pipe::cli::tools::s3ls(std::env::args_os().collect())
}
