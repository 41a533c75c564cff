//! What Lambda downloads at a cold start: each function's arm64 `bootstrap` from
//! `cargo lambda build --release --arm64`, zipped with Python's zipfile at deflate level 9.

use std::path::Path;
use std::process::Command;

use integration_tests::repo_root;
use serde::Serialize;

use crate::stack::Function;

/// ELF `e_machine` for AArch64.
const EM_AARCH64: u16 = 183;

#[derive(Debug, Serialize)]
pub struct FunctionSize {
    pub function: Function,
    pub bootstrap_bytes: u64,
    pub zip_bytes: u64,
}

const ZIP_SCRIPT: &str = "import sys, zipfile\n\
with zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED, compresslevel=9) as archive:\n    \
    archive.write(sys.argv[1], 'bootstrap')\n";

fn is_arm64_executable(path: &Path) -> bool {
    std::fs::read(path)
        .ok()
        .filter(|bytes| bytes.len() > 20 && bytes.starts_with(b"\x7fELF"))
        .is_some_and(|bytes| u16::from_le_bytes([bytes[18], bytes[19]]) == EM_AARCH64)
}

pub fn measure(out_dir: &Path) -> Result<Vec<FunctionSize>, String> {
    let zip_dir = out_dir.join("zips");
    std::fs::create_dir_all(&zip_dir).map_err(|error| format!("{}: {error}", zip_dir.display()))?;
    Function::ALL
        .into_iter()
        .map(|function| {
            let bootstrap = repo_root()
                .join("target/lambda")
                .join(function.name())
                .join("bootstrap");
            if !is_arm64_executable(&bootstrap) {
                return Err(format!(
                    "{} is missing or not an arm64 executable: scripts/bench.sh builds it with \
                     `cargo lambda build --release --arm64`",
                    bootstrap.display()
                ));
            }
            let archive = zip_dir.join(format!("{}.zip", function.name()));
            let status = Command::new("python3")
                .args(["-c", ZIP_SCRIPT])
                .arg(&bootstrap)
                .arg(&archive)
                .status()
                .map_err(|error| format!("python3 did not run: {error}"))?;
            if !status.success() {
                return Err(format!("zipping {} failed ({status})", bootstrap.display()));
            }
            let size = |path: &Path| {
                std::fs::metadata(path)
                    .map(|metadata| metadata.len())
                    .map_err(|error| format!("{}: {error}", path.display()))
            };
            Ok(FunctionSize {
                function,
                bootstrap_bytes: size(&bootstrap)?,
                zip_bytes: size(&archive)?,
            })
        })
        .collect()
}
