//! `s3pipe` in the wheel: the same multicall binary as `src/bin/s3pipe.rs`.

fn main() -> std::process::ExitCode {
    s3pipe::cli::mains::multicall(std::env::args_os().collect())
}
