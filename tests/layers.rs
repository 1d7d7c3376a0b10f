//! The layering the source promises (README, "Layout"): the runtime under `src/runtime/` does
//! not import the layers built on it — the actor API (`TaskRef`, `Cx`, the mailbox in
//! `src/task/`), monitors, names, channels, sockets — so a network layer can be written against
//! the actor API without touching the unsafe heart, and the import circle stays broken.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

#[test]
fn the_runtime_imports_nothing_of_the_layers_above_it() {
    let upper = ["task", "monitor", "registry", "channel", "net", "tls", "fs", "process", "sync"];
    let runtime = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/runtime");
    let files = rust_files(&runtime);
    assert!(files.len() > 10, "src/runtime has {} files: wrong directory?", files.len());
    let mut offending = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for layer in upper {
                let path = format!("crate::{layer}::");
                let glob = format!("crate::{layer}::{{");
                if code.contains(&path)
                    || code.contains(&glob)
                    || code.contains(&format!("use crate::{layer};"))
                {
                    offending.push(format!("{}:{}: {}", file.display(), number + 1, line.trim()));
                }
            }
        }
    }
    assert!(offending.is_empty(), "the runtime imports an upper layer:\n{}", offending.join("\n"));
}
