//! Man pages and shell completions (bash, zsh, fish) for every tool, made
//! from their clap definitions, so they cannot drift from `--help`:
//!
//!     cargo run --example gen_docs -- OUTDIR
//!
//! writes OUTDIR/man/man1/TOOL.1 and OUTDIR/completions/{bash/TOOL.bash,
//! zsh/_TOOL, fish/TOOL.fish}; `make install` installs them.

use std::fs;
use std::path::PathBuf;

use clap::CommandFactory;
use clap_complete::{Shell, generate_to};
use s3pipe::cli;

fn main() -> std::io::Result<()> {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: gen_docs OUTDIR");
        std::process::exit(2);
    };
    write_all(&out)
}

/// Every tool's clap definition, in `cli::mains::TOOLS` order.
pub(crate) fn commands() -> [clap::Command; 7] {
    [
        cli::pack::Args::command(),
        cli::unpack::Args::command(),
        cli::put::Args::command(),
        cli::get::Args::command(),
        cli::ls::Args::command(),
        cli::rm::Args::command(),
        cli::prune::Args::command(),
    ]
}

/// Write every tool's man page and completions under `out` (tests/docs.rs
/// calls this too).
pub(crate) fn write_all(out: &std::path::Path) -> std::io::Result<()> {
    let man = out.join("man/man1");
    fs::create_dir_all(&man)?;
    for mut command in commands() {
        let name = command.get_name().to_string();
        let mut page = Vec::new();
        clap_mangen::Man::new(command.clone()).render(&mut page)?;
        fs::write(man.join(format!("{name}.1")), page)?;
        for (shell, dir) in [
            (Shell::Bash, "bash"),
            (Shell::Zsh, "zsh"),
            (Shell::Fish, "fish"),
        ] {
            let dir = out.join("completions").join(dir);
            fs::create_dir_all(&dir)?;
            generate_to(shell, &mut command, &name, &dir)?;
        }
    }
    Ok(())
}
