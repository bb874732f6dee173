//! docs/ARCHITECTURE.md is the map of the tree: every path it names must
//! exist, and every module in src/ must be on it. What the tools say of
//! themselves is true too: man pages, completions, help lines, versions.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::{bin, code, root, run, stderr};

fn modules(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            modules(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_architecture_document_matches_the_tree() {
    let doc = fs::read_to_string(root().join("docs/ARCHITECTURE.md")).unwrap();
    // Every `src/…` path it names exists (a `{a,b}` group names each).
    // (`<tool>` stands for any tool.)
    let named = doc
        .split('`')
        .filter(|s| s.starts_with("src/") && !s.contains('<'));
    for mention in named {
        let (head, group, tail) = match mention.split_once('{') {
            Some((head, rest)) => {
                let (names, tail) = rest.split_once('}').unwrap_or((rest, ""));
                (head, names.split(',').collect(), tail)
            }
            None => (mention, vec![""], ""),
        };
        for name in group {
            let path = root().join(format!("{head}{name}{tail}"));
            assert!(
                path.exists(),
                "docs/ARCHITECTURE.md names {}, which is gone",
                path.display()
            );
        }
    }
    // Every module is on the map, by its file name.
    let mut files = Vec::new();
    modules(&root().join("src"), &mut files);
    for file in files {
        let rel = file
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        if rel.starts_with("src/bin/") || name == "mod" || name == "lib" {
            continue;
        }
        assert!(
            doc.contains(&format!("{name}.rs"))
                || doc.contains(&format!("{name},"))
                || doc.contains(&format!("{name}}}"))
                || doc.contains(&format!("`{name}")),
            "{rel} is not on the map in docs/ARCHITECTURE.md"
        );
    }
}

/// Every error enum the library derives with thiserror is in
/// ARCHITECTURE's list of them, by its module path (`src/a/b.rs` or
/// `src/a/b/mod.rs` holding `enum E` is `a::b::E`; `archive::Error` and
/// `s3::S3Error` are re-exported where the list names them).
#[test]
fn the_architecture_document_lists_every_error_enum() {
    let doc = fs::read_to_string(root().join("docs/ARCHITECTURE.md")).unwrap();
    let doc = doc.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut files = Vec::new();
    modules(&root().join("src"), &mut files);
    let mut found = 0;
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        let rel = file.strip_prefix(root().join("src")).unwrap();
        let module = rel.with_extension("").display().to_string();
        let module = module.trim_end_matches("/mod").replace('/', "::");
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if !line.contains("thiserror::Error") {
                continue;
            }
            let Some(decl) = lines.find(|l| l.contains(" enum ")) else {
                continue;
            };
            let name = decl.split(" enum ").nth(1).unwrap();
            let name = name.trim_end_matches(" {").trim();
            let short = module.rsplit_once("::").map_or("", |(m, _)| m);
            let listed = [format!("`{module}::{name}`"), format!("`{short}::{name}`")]
                .iter()
                .any(|n| doc.contains(n.as_str()))
                || doc.contains(&format!("`{module}::")) && doc.contains(&format!("its `{name}`"));
            assert!(
                listed,
                "{module}::{name} is not in ARCHITECTURE's list of errors"
            );
            found += 1;
        }
    }
    assert!(found >= 10, "only {found} error enums found");
}

// The example's own code, so the test checks exactly what it writes.
#[path = "../examples/gen_docs.rs"]
#[allow(dead_code)]
mod gen_docs;

/// Man pages and completions come from the clap definitions: every tool
/// gets them, `man` renders them, and bash completes a flag added this
/// round.
#[test]
fn man_pages_and_completions_are_generated_for_every_tool() {
    let out = tempfile::tempdir().unwrap();
    gen_docs::write_all(out.path()).unwrap();
    for tool in [
        "pack", "unpack", "s3put", "s3get", "s3ls", "s3rm", "s3prune",
    ] {
        let page = out.path().join(format!("man/man1/{tool}.1"));
        let shown = Command::new("man")
            .arg("-l")
            .arg(&page)
            .env("MANWIDTH", "100")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&shown.stdout);
        assert!(
            shown.status.success() && text.contains("--help"),
            "{tool}.1: {text}"
        );
        let completions = [
            (format!("bash/{tool}.bash"), "--version"),
            (format!("zsh/_{tool}"), "--version"),
            (format!("fish/{tool}.fish"), "-l version"),
        ];
        for (file, flag) in completions {
            let path = out.path().join("completions").join(&file);
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.contains(flag), "{file}");
        }
    }
    let script = format!(
        "source {}; COMP_WORDS=(pack --read-); COMP_CWORD=1; _pack pack --read- pack; echo \"${{COMPREPLY[@]}}\"",
        out.path().join("completions/bash/pack.bash").display()
    );
    let completed = Command::new("bash").args(["-c", &script]).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&completed.stdout).trim(),
        "--read-ahead"
    );
}

/// Every flag and argument of every tool says what it is for in `--help`.
#[test]
fn every_argument_has_a_help_line() {
    for command in gen_docs::commands() {
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            assert!(
                !help.trim().is_empty(),
                "{} {id} has no help line",
                command.get_name()
            );
        }
    }
}

#[test]
fn every_tool_says_its_version_and_the_commit_it_was_built_from() {
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let head = String::from_utf8(head.stdout).unwrap();
    for tool in [
        "pack", "unpack", "s3put", "s3get", "s3ls", "s3rm", "s3prune",
    ] {
        let out = run(bin(tool), &["--version"], b"");
        assert_eq!(code(&out), 0, "{tool}: {}", stderr(&out));
        let said = String::from_utf8_lossy(&out.stdout);
        let version = env!("CARGO_PKG_VERSION");
        assert_eq!(said.trim(), format!("{tool} {version} ({})", head.trim()));
    }
}
