//! Conventions checked by `cargo test`, not by reviewers: every source file of this crate opens with
//! a `//!` module doc and stays within the 600-line module budget.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_module_has_a_header_and_stays_under_600_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("tests"), &mut files);
    assert!(files.len() > 10, "found only {files:?}");
    let mut problems = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if !text.starts_with("//!") {
            problems.push(format!("{} does not open with a //! module doc", file.display()));
        }
        let lines = text.lines().count();
        if lines > 600 {
            problems.push(format!("{} has {lines} lines (budget 600)", file.display()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
