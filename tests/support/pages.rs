//! The repository's pages: where the repository is, the user pages whose
//! examples tests run, and the command lines of their ```sh blocks.

/// The pages a user reads, whose examples tests run, in reading order:
/// README.md, then docs/tools.md and docs/backup-job.md, which hold the
/// detail README links to.
pub const USER_DOCS: [&str; 3] = ["README.md", "docs/tools.md", "docs/backup-job.md"];

/// The user pages ([`USER_DOCS`]) as one text, in order.
pub fn user_docs() -> String {
    USER_DOCS
        .iter()
        .map(|page| std::fs::read_to_string(root().join(page)).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The repository: where README, docs/ and scripts/ are.
pub fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The logical command lines of a Markdown page's ```sh blocks
/// (continuations joined, comments dropped): README's and docs/'s
/// examples, which tests run.
pub fn sh_commands(readme: &str) -> Vec<String> {
    let mut out = Vec::new();
    for block in readme.split("```sh\n").skip(1) {
        let body = block.split("```").next().unwrap();
        for line in body.replace("\\\n", " ").lines() {
            let line = strip_comment(line.trim());
            if !line.is_empty() {
                out.push(line.to_string());
            }
        }
    }
    out
}

/// Drop a trailing `# comment` (outside quotes).
fn strip_comment(line: &str) -> &str {
    let (mut single, mut double) = (false, false);
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && (i == 0 || line[..i].ends_with(' ')) => {
                return line[..i].trim_end();
            }
            _ => {}
        }
    }
    line
}
