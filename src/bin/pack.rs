//! `pack`: parse flags (cli::pack) → `archive::pack`. Nothing else lives here.
//! The body lives in `cli::mains`, shared with the multicall `s3pipe`.

fn main() -> std::process::ExitCode {
    s3pipe::cli::mains::pack(std::env::args_os().collect())
}
