//! Starts function processes from a small helper process, and reaps them with `wait4`: used by
//! the benchmark and by the suites that run the function binaries under
//! [`crate::runtime_api`].
//!
//! Why a helper: Linux reports in `ru_maxrss` the larger of the process's own peak and the peak
//! RSS of the address space it was forked from (exec records the old address space's high-water
//! mark). A function spawned straight from the harness, which holds a tokio runtime, an AWS
//! client and an HTTP server, would "peak" at the harness's size. The helper is a binary in a
//! tiny synchronous mode ([`serve`]: `process-helper spawner`, or `bench-lambda spawner` in the
//! benchmark); children forked from it inherit
//! only its few hundred kilobytes, reported as [`MeasurementFloor`].
//!
//! The helper reads one JSON request per line on stdin and answers one JSON reply per line. It
//! ignores SIGINT (Ctrl-C reaches the whole terminal group) and, when stdin closes, kills every
//! child it started: nothing outlives the run, even if the harness dies or a test panics.

use std::collections::HashMap;
use std::ffi::CString;
use std::io::{BufRead, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

/// The argument that puts a helper binary into [`serve`].
pub const SUBCOMMAND: &str = "spawner";

/// `CLOCK_MONOTONIC` in nanoseconds. The harness and its process helper both read this clock, so
/// a fork timestamp taken in the helper and a request timestamp taken in the harness can be
/// subtracted.
pub fn monotonic_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    (now.tv_sec as u64) * 1_000_000_000 + now.tv_nsec as u64
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Request {
    /// Fork and exec `program` with `args` and exactly `env`, stdout and stderr appended to `log`.
    Spawn {
        program: PathBuf,
        args: Vec<String>,
        env: Vec<(String, String)>,
        log: PathBuf,
    },
    /// Has the child exited on its own?
    Poll { pid: i32 },
    /// Kill the child's process group and collect its resource usage.
    Reap { pid: i32 },
    /// The helper's own peak RSS, and `ru_maxrss` of `/bin/true` forked from it.
    Floor,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
enum Reply {
    Spawned {
        pid: i32,
        forked_at_ns: u64,
    },
    Running,
    Exited(Exit),
    Floor {
        helper_vm_hwm_kb: u64,
        true_max_rss_kb: u64,
    },
    Failed {
        problem: String,
    },
}

/// How a child ended and the most memory it held.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Exit {
    pub pid: i32,
    /// "killed by the harness", "exit code N" or "signal N".
    pub how: String,
    /// `ru_maxrss` from `wait4`, in KiB.
    pub max_rss_kb: u64,
}

/// What the RSS figures cannot go below, and why the helper exists, in KiB: `/bin/true` (a
/// process of a few hundred KiB) reported by `wait4` when forked from the helper, and when
/// spawned straight from the harness.
#[derive(Debug, Serialize)]
pub struct MeasurementFloor {
    pub helper_vm_hwm_kb: u64,
    pub true_from_helper_max_rss_kb: u64,
    pub harness_vm_hwm_kb: u64,
    pub true_from_harness_max_rss_kb: u64,
}

// ---------------------------------------------------------------------------------------------
// The helper process
// ---------------------------------------------------------------------------------------------

/// The helper's main loop: a binary calls this when its first argument is [`SUBCOMMAND`]
/// (`process-helper spawner`, `bench-lambda spawner`).
pub fn serve() -> ExitCode {
    // SAFETY: setting a signal disposition; children restore the default before exec.
    unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
    let mut exited: HashMap<i32, Option<Exit>> = HashMap::new();
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let reply = match serde_json::from_str::<Request>(&line) {
            Ok(request) => handle(request, &mut exited),
            Err(error) => Reply::Failed {
                problem: format!("unreadable request: {error}"),
            },
        };
        let Ok(text) = serde_json::to_string(&reply) else {
            break;
        };
        if writeln!(stdout, "{text}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            break;
        }
    }
    for (pid, state) in &exited {
        if state.is_none() {
            reap(*pid);
        }
    }
    ExitCode::SUCCESS
}

fn handle(request: Request, children: &mut HashMap<i32, Option<Exit>>) -> Reply {
    match request {
        Request::Spawn {
            program,
            args,
            env,
            log,
        } => match fork_exec(&program, &args, &env, &log) {
            Ok((pid, forked_at_ns)) => {
                children.insert(pid, None);
                Reply::Spawned { pid, forked_at_ns }
            }
            Err(problem) => Reply::Failed { problem },
        },
        Request::Poll { pid } => match children.get(&pid) {
            None => Reply::Failed {
                problem: format!("{pid} is not a child of the helper"),
            },
            Some(Some(exit)) => Reply::Exited(exit.clone()),
            Some(None) => match wait(pid, libc::WNOHANG) {
                None => Reply::Running,
                Some(exit) => {
                    children.insert(pid, Some(exit.clone()));
                    Reply::Exited(exit)
                }
            },
        },
        Request::Reap { pid } => match children.get(&pid) {
            None => Reply::Failed {
                problem: format!("{pid} is not a child of the helper"),
            },
            Some(Some(exit)) => Reply::Exited(exit.clone()),
            Some(None) => {
                let exit = reap(pid);
                children.insert(pid, Some(exit.clone()));
                Reply::Exited(exit)
            }
        },
        Request::Floor => {
            let true_max_rss_kb =
                fork_exec(Path::new("/bin/true"), &[], &[], Path::new("/dev/null"))
                    .ok()
                    .and_then(|(pid, _)| wait(pid, 0))
                    .map(|exit| exit.max_rss_kb)
                    .unwrap_or_default();
            Reply::Floor {
                helper_vm_hwm_kb: vm_hwm_kb(std::process::id() as i32).unwrap_or_default(),
                true_max_rss_kb,
            }
        }
    }
}

fn c_string(bytes: &[u8]) -> Result<CString, String> {
    CString::new(bytes).map_err(|_| "an argument contains a NUL byte".to_owned())
}

fn fork_exec(
    program: &Path,
    args: &[String],
    env: &[(String, String)],
    log: &Path,
) -> Result<(i32, u64), String> {
    // Everything the child touches is prepared before fork: after it, only async-signal-safe calls.
    let program_c = c_string(program.as_os_str().as_bytes())?;
    let args_c = args
        .iter()
        .map(|arg| c_string(arg.as_bytes()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut argv: Vec<*const libc::c_char> = vec![program_c.as_ptr()];
    argv.extend(args_c.iter().map(|arg| arg.as_ptr()));
    argv.push(std::ptr::null());
    let env_c = env
        .iter()
        .map(|(name, value)| c_string(format!("{name}={value}").as_bytes()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut envp: Vec<*const libc::c_char> = env_c.iter().map(|entry| entry.as_ptr()).collect();
    envp.push(std::ptr::null());
    let log_c = c_string(log.as_os_str().as_bytes())?;
    let null_c = c_string(b"/dev/null")?;
    // SAFETY: plain open(2) calls on NUL-terminated paths.
    let (log_fd, null_fd) = unsafe {
        (
            libc::open(
                log_c.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_CLOEXEC,
                0o644,
            ),
            libc::open(null_c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC),
        )
    };
    if log_fd < 0 || null_fd < 0 {
        return Err(format!("cannot open {} or /dev/null", log.display()));
    }
    let forked_at_ns = monotonic_ns();
    // SAFETY: the helper is single-threaded, and the child only calls async-signal-safe functions
    // (setpgid, signal, dup2, execve, _exit) on memory prepared above.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        unsafe {
            libc::setpgid(0, 0);
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::dup2(null_fd, 0);
            libc::dup2(log_fd, 1);
            libc::dup2(log_fd, 2);
            libc::execve(program_c.as_ptr(), argv.as_ptr(), envp.as_ptr());
            libc::_exit(127);
        }
    }
    // SAFETY: closing descriptors this function opened, and setpgid on our own child: the parent
    // sets the group too, so a kill right after fork cannot race the child's own setpgid.
    unsafe {
        libc::close(log_fd);
        libc::close(null_fd);
        if pid > 0 {
            libc::setpgid(pid, pid);
        }
    }
    if pid < 0 {
        return Err(format!("fork failed: {}", std::io::Error::last_os_error()));
    }
    Ok((pid, forked_at_ns))
}

/// `wait4` on one child; `None` while it is still running (with `WNOHANG`).
fn wait(pid: i32, options: libc::c_int) -> Option<Exit> {
    let mut status: libc::c_int = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, options, &mut usage) };
    if waited != pid {
        return None;
    }
    let how = if libc::WIFEXITED(status) {
        format!("exit code {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        format!("signal {}", libc::WTERMSIG(status))
    } else {
        format!("status {status}")
    };
    Some(Exit {
        pid,
        how,
        max_rss_kb: u64::try_from(usage.ru_maxrss).unwrap_or_default(),
    })
}

/// [`Exit::how`] for a child the harness killed.
pub const KILLED_BY_THE_HARNESS: &str = "killed by the harness";

fn reap(pid: i32) -> Exit {
    // SAFETY: kill(2) on the child's process group (set at fork) and on the child itself.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
        libc::kill(pid, libc::SIGKILL);
    }
    match wait(pid, 0) {
        Some(mut exit) => {
            if exit.how == format!("signal {}", libc::SIGKILL) {
                exit.how = KILLED_BY_THE_HARNESS.to_owned();
            }
            exit
        }
        None => Exit {
            pid,
            how: "could not be waited for".to_owned(),
            max_rss_kb: 0,
        },
    }
}

/// A process's peak resident set (`VmHWM` in /proc), KiB: its own address space only.
pub fn vm_hwm_kb(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}

// ---------------------------------------------------------------------------------------------
// The harness's side
// ---------------------------------------------------------------------------------------------

/// The harness's handle on one helper process. Clones share the helper (one request at a time);
/// when the last clone is dropped the helper's stdin closes and it kills every child it started.
#[derive(Clone)]
pub struct Spawner {
    shared: Arc<SpawnerShared>,
}

struct SpawnerShared {
    pipes: tokio::sync::Mutex<Option<Pipes>>,
    helper: tokio::sync::Mutex<Child>,
}

struct Pipes {
    requests: ChildStdin,
    replies: Lines<BufReader<ChildStdout>>,
}

/// A function process as the helper started it.
pub struct Spawned {
    pub pid: i32,
    pub forked_at_ns: u64,
}

impl Spawner {
    /// Starts `helper` with [`SUBCOMMAND`]: a binary whose `main` calls [`serve`] then (the
    /// benchmark passes itself; the suites pass `env!("CARGO_BIN_EXE_process-helper")`).
    pub async fn start(helper: &Path) -> Result<Self, String> {
        let mut helper = tokio::process::Command::new(helper)
            .arg(SUBCOMMAND)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|error| {
                format!(
                    "the process helper {} did not start: {error}",
                    helper.display()
                )
            })?;
        let requests = helper.stdin.take().ok_or("the helper has no stdin")?;
        let replies =
            BufReader::new(helper.stdout.take().ok_or("the helper has no stdout")?).lines();
        Ok(Self {
            shared: Arc::new(SpawnerShared {
                pipes: tokio::sync::Mutex::new(Some(Pipes { requests, replies })),
                helper: tokio::sync::Mutex::new(helper),
            }),
        })
    }

    async fn call(&self, request: &Request) -> Result<Reply, String> {
        let mut line = serde_json::to_string(request).map_err(|error| error.to_string())?;
        line.push('\n');
        let mut pipes = self.shared.pipes.lock().await;
        let pipes = pipes.as_mut().ok_or("the process helper was shut down")?;
        pipes
            .requests
            .write_all(line.as_bytes())
            .await
            .map_err(|error| format!("the process helper is gone: {error}"))?;
        let reply = pipes
            .replies
            .next_line()
            .await
            .map_err(|error| format!("the process helper is gone: {error}"))?
            .ok_or("the process helper closed its output")?;
        match serde_json::from_str(&reply)
            .map_err(|error| format!("helper reply {reply:?}: {error}"))?
        {
            Reply::Failed { problem } => Err(format!("process helper: {problem}")),
            reply => Ok(reply),
        }
    }

    /// Forks and execs `program` with `args` and exactly `env` (nothing inherited), stdout and
    /// stderr appended to `log`.
    pub async fn spawn(
        &self,
        program: &Path,
        args: Vec<String>,
        env: Vec<(String, String)>,
        log: &Path,
    ) -> Result<Spawned, String> {
        let request = Request::Spawn {
            program: program.to_owned(),
            args,
            env,
            log: log.to_owned(),
        };
        match self.call(&request).await? {
            Reply::Spawned { pid, forked_at_ns } => Ok(Spawned { pid, forked_at_ns }),
            _ => Err("unexpected reply to spawn".into()),
        }
    }

    /// `Some` once the child has exited by itself.
    pub async fn poll(&self, pid: i32) -> Result<Option<Exit>, String> {
        match self.call(&Request::Poll { pid }).await? {
            Reply::Running => Ok(None),
            Reply::Exited(exit) => Ok(Some(exit)),
            _ => Err("unexpected reply to poll".into()),
        }
    }

    /// Kills the child's process group (unless it already exited) and collects its exit.
    pub async fn reap(&self, pid: i32) -> Result<Exit, String> {
        match self.call(&Request::Reap { pid }).await? {
            Reply::Exited(exit) => Ok(exit),
            _ => Err("unexpected reply to reap".into()),
        }
    }

    pub async fn measurement_floor(&self) -> Result<MeasurementFloor, String> {
        let (helper_vm_hwm_kb, true_from_helper_max_rss_kb) =
            match self.call(&Request::Floor).await? {
                Reply::Floor {
                    helper_vm_hwm_kb,
                    true_max_rss_kb,
                } => (helper_vm_hwm_kb, true_max_rss_kb),
                _ => return Err("unexpected reply to floor".into()),
            };
        // The same /bin/true, spawned from the harness (posix_spawn, as std does it).
        let child = std::process::Command::new("/bin/true")
            .spawn()
            .map_err(|error| format!("/bin/true did not start: {error}"))?;
        let true_from_harness_max_rss_kb = wait(child.id() as i32, 0)
            .map(|exit| exit.max_rss_kb)
            .unwrap_or_default();
        Ok(MeasurementFloor {
            helper_vm_hwm_kb,
            true_from_helper_max_rss_kb,
            harness_vm_hwm_kb: vm_hwm_kb(std::process::id() as i32).unwrap_or_default(),
            true_from_harness_max_rss_kb,
        })
    }

    /// Closes the helper's stdin, which makes it kill any child still running, and waits for it.
    pub async fn shutdown(&self) {
        drop(self.shared.pipes.lock().await.take());
        let _ = self.shared.helper.lock().await.wait().await;
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{fork_exec, reap, wait};

    #[test]
    fn a_reaped_child_is_killed_and_reports_its_peak_memory() {
        let (pid, forked_at_ns) = fork_exec(
            Path::new("/bin/sleep"),
            &["30".to_owned()],
            &[],
            Path::new("/dev/null"),
        )
        .expect("/bin/sleep starts");
        assert!(forked_at_ns > 0);
        assert!(wait(pid, libc::WNOHANG).is_none(), "still running");
        let exit = reap(pid);
        assert_eq!(exit.how, super::KILLED_BY_THE_HARNESS);
        assert!(exit.max_rss_kb > 0);
    }

    #[test]
    fn a_child_that_exits_by_itself_says_how() {
        let (pid, _) = fork_exec(Path::new("/bin/false"), &[], &[], Path::new("/dev/null"))
            .expect("/bin/false starts");
        let exit = wait(pid, 0).expect("it exits");
        assert_eq!(exit.how, "exit code 1");
    }
}
