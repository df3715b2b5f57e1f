//! Reading manifests from files and directories.

use std::path::{Path, PathBuf};

use anyhow::Context;
use capstan_core::parse_documents;
use serde_json::Value;

/// Every manifest file named: files as given, directories expanded to their `.yaml`, `.yml` and
/// `.json` files in name order.
pub fn files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading directory {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.is_file() && matches!(f.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json"))
                })
                .collect();
            entries.sort();
            out.extend(entries);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// The documents of one manifest file, as JSON objects.
pub fn read(path: &Path) -> anyhow::Result<Vec<Value>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let docs = parse_documents(&text).with_context(|| format!("parsing {}", path.display()))?;
    Ok(docs.into_iter().map(|d| d.value).filter(|v| v.is_object()).collect())
}

/// Every document of every manifest named.
pub fn read_all(paths: &[PathBuf]) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    for f in files(paths)? {
        out.extend(read(&f)?);
    }
    Ok(out)
}
