//! `s3get`: parse flags (cli::get) → `s3::download` → the report.
//! The body lives in `cli::mains`, shared with the multicall `s3pipe`.

fn main() -> std::process::ExitCode {
    s3pipe::cli::mains::s3get(std::env::args_os().collect())
}
