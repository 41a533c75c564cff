//! The machine and toolchain the figures were measured on.

use std::process::Command;

use integration_tests::repo_root;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    /// Whether the CPU hashes SHA-256 in hardware (x86 `sha_ni`, arm64 `sha2` in /proc/cpuinfo):
    /// the crypto floor, and so every ratio to it, depends on it.
    pub sha256_in_hardware: bool,
    pub memory_mib: u64,
    pub kernel: String,
    /// 1-, 5- and 15-minute load averages when the run started: how shared the machine was.
    pub load_average: String,
    pub rustc: String,
    pub commit: String,
    pub measured_at: String,
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program)
        .args(args)
        .current_dir(repo_root())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

pub fn describe() -> Machine {
    let cpuinfo = read("/proc/cpuinfo");
    let cpu_model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map(|(_, model)| model.trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    let sha256_in_hardware = sha256_in_hardware(&cpuinfo);
    let memory_mib = read("/proc/meminfo")
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib / 1024)
        .unwrap_or_default();
    let load_average = read("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    let dirty =
        command_output("git", &["status", "--porcelain"]).is_some_and(|status| !status.is_empty());
    let commit = command_output("git", &["rev-parse", "--short", "HEAD"])
        .map(|commit| {
            if dirty {
                format!("{commit} + uncommitted changes")
            } else {
                commit
            }
        })
        .unwrap_or_else(|| "unknown".into());
    Machine {
        cpus: std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1),
        cpu_model,
        sha256_in_hardware,
        memory_mib,
        kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
        load_average,
        rustc: command_output("rustc", &["--version"]).unwrap_or_else(|| "unknown".into()),
        commit,
        measured_at: command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default(),
    }
}

/// x86 lists `sha_ni` among a processor's `flags`; arm64 lists `sha2` among its `Features`.
fn sha256_in_hardware(cpuinfo: &str) -> bool {
    cpuinfo
        .lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(name, _)| matches!(name.trim(), "flags" | "Features"))
        .any(|(_, values)| {
            values
                .split_whitespace()
                .any(|flag| flag == "sha_ni" || flag == "sha2")
        })
}

#[cfg(test)]
mod tests {
    use super::sha256_in_hardware;

    #[test]
    fn sha_instructions_are_read_from_x86_flags_and_arm64_features() {
        assert!(sha256_in_hardware("flags\t\t: fpu sse2 sha_ni avx2\n"));
        assert!(sha256_in_hardware(
            "Features\t: fp asimd aes pmull sha1 sha2 crc32\n"
        ));
        assert!(!sha256_in_hardware("flags\t\t: fpu sse2 avx2\n"));
        assert!(!sha256_in_hardware(
            "Features\t: fp asimd sha1\nmodel name\t: sha2 lookalike\n"
        ));
        assert!(!sha256_in_hardware(""));
    }
}
