//! The workspace's binaries, which the template's functions are built from.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::repo_root;

/// Bin targets of the workspace's packages, by the folder holding each package's Cargo.toml
/// (`cargo metadata`, offline).
///
/// # Panics
/// When cargo metadata fails.
pub fn workspace_binaries() -> BTreeMap<PathBuf, BTreeSet<String>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .current_dir(repo_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    metadata["packages"]
        .as_array()
        .expect("cargo metadata lists packages")
        .iter()
        .map(|package| {
            let manifest = PathBuf::from(package["manifest_path"].as_str().unwrap_or_default());
            let folder = manifest.parent().map(PathBuf::from).unwrap_or_default();
            let binaries = package["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|target| {
                    target["kind"]
                        .as_array()
                        .is_some_and(|kinds| kinds.iter().any(|kind| kind == "bin"))
                })
                .filter_map(|target| target["name"].as_str().map(str::to_owned))
                .collect();
            (folder, binaries)
        })
        .collect()
}

/// `path` with every link and `..` resolved, to compare folders.
///
/// # Panics
/// When `path` does not exist.
pub fn canonical(path: PathBuf) -> PathBuf {
    path.canonicalize()
        .unwrap_or_else(|error| panic!("{} does not exist: {error}", path.display()))
}
