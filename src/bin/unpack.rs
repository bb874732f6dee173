//! `unpack`: parse flags (cli::unpack) → `archive::unpack` or `archive::list`.
//! The body lives in `cli::tools`, shared with the multicall `s3pipe`.

fn main() -> std::process::ExitCode {
    s3pipe::cli::tools::unpack(std::env::args_os().collect())
}
