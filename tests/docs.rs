//! docs/ARCHITECTURE.md is the map of the tree: every path it names must
//! exist, and every module in src/ must be on it.

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

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
