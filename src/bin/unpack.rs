//! `unpack`: parse flags (cli::unpack) → `archive::unpack` or `archive::list`.
//! The body lives in `cli::mains`, shared with the multicall `s3pipe`.

fn main() -> std::process::ExitCode {
    s3pipe::cli::mains::unpack(std::env::args_os().collect())
}
