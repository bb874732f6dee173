//! `s3pipe`: every tool in one binary, for the container image; dispatch
//! lives in `cli::mains::multicall`.

fn main() -> std::process::ExitCode {
    s3pipe::cli::mains::multicall(std::env::args_os().collect())
}
