//! `s3pipe`: every tool in one binary, for the container image; dispatch
//! lives in `cli::tools::multicall`.

fn main() -> std::process::ExitCode {
    s3pipe::cli::tools::multicall(std::env::args_os().collect())
}
