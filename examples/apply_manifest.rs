//! Loads a manifest, runs admission on every object (Kubernetes' defaults, then validation), and
//! prints the defaulted objects: what the API server would store.
//!
//! ```sh
//! cargo run --example apply_manifest -- examples/my-app.yaml          # YAML out
//! cargo run --example apply_manifest -- --json examples/my-app.yaml   # JSON out
//! ```
//!
//! Invalid input exits with status 1 and lists every problem, each with its document or object and
//! field path, as `kubectl apply` would report them.

use std::process::ExitCode;

use anyhow::{Context, bail};
use capstan_core::{Object, admit, parse_manifest_bytes};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let mut json = false;
    let mut path = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--json" => json = true,
            "-h" | "--help" => {
                println!("usage: apply_manifest [--json] <manifest.yaml>");
                return Ok(());
            }
            _ if path.is_none() => path = Some(arg),
            _ => bail!("unexpected argument {arg:?} (usage: apply_manifest [--json] <manifest.yaml>)"),
        }
    }
    let path = path.context("usage: apply_manifest [--json] <manifest.yaml>")?;
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {path}"))?;
    let mut objects = parse_manifest_bytes(&bytes).with_context(|| format!("{path} is not a valid manifest"))?;

    let mut problems = Vec::new();
    for obj in &mut objects {
        // As kubectl does: a namespaced object without a namespace goes to `default`.
        if obj.type_key().namespaced && obj.meta().namespace.as_deref().unwrap_or("").is_empty() {
            obj.meta_mut().namespace = Some("default".to_owned());
        }
        if let Err(invalid) = admit(obj, None) {
            problems.push(invalid);
        }
    }
    if !problems.is_empty() {
        let mut report = format!("{} of {} objects in {path} are invalid:", problems.len(), objects.len());
        for invalid in &problems {
            report.push_str(&format!("\n{} {:?}:", invalid.qualified_kind, invalid.name));
            for e in &invalid.errors {
                report.push_str(&format!("\n  - {e}"));
            }
        }
        bail!(report);
    }
    print_objects(&objects, json)
}

fn print_objects(objects: &[Object], json: bool) -> anyhow::Result<()> {
    if json {
        let values = objects.iter().map(Object::to_json).collect::<Result<Vec<_>, _>>()?;
        let out = if let [one] = values.as_slice() {
            serde_json::to_string_pretty(one)?
        } else {
            serde_json::to_string_pretty(&serde_json::json!({"apiVersion": "v1", "kind": "List", "items": values}))?
        };
        println!("{out}");
    } else {
        for (i, obj) in objects.iter().enumerate() {
            if i > 0 {
                println!("---");
            }
            print!("{}", serde_saphyr::to_string(obj)?);
        }
    }
    Ok(())
}
