//! Running a function binary against an [`Emulator`]: the environment the Lambda service
//! gives a `provided.al2023` runtime, start/ready timing, `/proc` memory figures, and kill on
//! drop so a failed test never leaves the child behind.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};

use crate::{lock, Bytes, Emulator, FunctionError, Outcome};

/// Captured output is kept up to this many bytes (the rest is counted, not stored).
const CAPTURE_LIMIT: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// stdout and stderr are read into a buffer ([`FunctionProcess::output`]).
    Capture,
    /// Discarded.
    Null,
    /// Shared with this process.
    Inherit,
}

#[derive(Debug, Error)]
pub enum ProcessError {
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("the function reported an init error ({error_type:?}): {body}")]
    InitError {
        error_type: Option<String>,
        body: String,
    },
    #[error("the function exited ({0}) before calling `next`")]
    Exited(ExitStatus),
    #[error("the function did not call `next` within {0:?}")]
    NotReady(Duration),
    #[error("waiting for the function: {0}")]
    Io(#[from] std::io::Error),
    #[error("{problem}\n--- function output ---\n{output}")]
    WithOutput { problem: String, output: String },
}

/// A function binary and its environment, ready to spawn.
#[derive(Debug, Clone)]
pub struct FunctionCommand {
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
    output: Output,
}

impl FunctionCommand {
    /// The binary with the Lambda environment for `function_name` (128 MB, `$LATEST`,
    /// `AWS_LAMBDA_RUNTIME_API` = the emulator). The rest of this process's environment is
    /// inherited (add or remove with [`FunctionCommand::env`] / [`FunctionCommand::env_remove`]).
    pub fn new(program: impl Into<PathBuf>, emulator: &Emulator, function_name: &str) -> Self {
        let mut cmd = FunctionCommand {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            output: Output::Capture,
        };
        let group = format!("/aws/lambda/{function_name}");
        for (k, v) in [
            ("AWS_LAMBDA_RUNTIME_API", emulator.runtime_api()),
            ("AWS_LAMBDA_FUNCTION_NAME", function_name.to_owned()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            ("AWS_LAMBDA_LOG_GROUP_NAME", group),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/01/01/[$LATEST]emulated".to_owned(),
            ),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
            ("_HANDLER", "bootstrap".to_owned()),
        ] {
            cmd = cmd.env(k, v);
        }
        cmd
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    /// A command-line argument (e.g. the binary, when `program` is a wrapper such as
    /// `valgrind`).
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// Default [`Output::Capture`].
    pub fn output(mut self, output: Output) -> Self {
        self.output = output;
        self
    }

    /// Starts the process. Its clock ([`FunctionProcess::spawned_at`]) starts just before the
    /// `fork`/`exec`.
    pub fn spawn(&self) -> Result<FunctionProcess, ProcessError> {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args);
        for (k, v) in &self.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        let (out, err) = match self.output {
            Output::Capture => (Stdio::piped(), Stdio::piped()),
            Output::Null => (Stdio::null(), Stdio::null()),
            Output::Inherit => (Stdio::inherit(), Stdio::inherit()),
        };
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true);
        let spawned_at = Instant::now();
        let mut child = cmd.spawn().map_err(|source| ProcessError::Spawn {
            program: self.program.display().to_string(),
            source,
        })?;
        let captured = Arc::new(Mutex::new(Vec::new()));
        if let Some(s) = child.stdout.take() {
            tokio::spawn(drain(s, Arc::clone(&captured)));
        }
        if let Some(s) = child.stderr.take() {
            tokio::spawn(drain(s, Arc::clone(&captured)));
        }
        Ok(FunctionProcess {
            pid: child.id(),
            child,
            spawned_at,
            captured,
        })
    }
}

async fn drain(mut from: impl AsyncRead + Unpin, into: Arc<Mutex<Vec<u8>>>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let mut out = lock(&into);
                let room = CAPTURE_LIMIT.saturating_sub(out.len()).min(n);
                out.extend_from_slice(&buf[..room]);
            }
        }
    }
}

/// A running function. Killed when dropped.
#[derive(Debug)]
pub struct FunctionProcess {
    child: Child,
    pid: Option<u32>,
    spawned_at: Instant,
    captured: Arc<Mutex<Vec<u8>>>,
}

impl FunctionProcess {
    pub fn spawned_at(&self) -> Instant {
        self.spawned_at
    }

    /// Waits until the function calls `next` (its init is done) and returns that instant;
    /// fails early when it posts an init error or exits.
    pub async fn wait_ready(
        &mut self,
        emulator: &Emulator,
        timeout: Duration,
    ) -> Result<Instant, ProcessError> {
        let mut first_next = emulator.subscribe_first_next();
        let mut init_error = emulator.subscribe_init_error();
        let waited = tokio::time::timeout(timeout, async {
            tokio::select! {
                ready = first_next.wait_for(Option::is_some) => match ready.ok().and_then(|v| *v) {
                    Some(at) => Ok(at),
                    None => Err(ProcessError::NotReady(timeout)),
                },
                failed = init_error.wait_for(Option::is_some) => {
                    let e: Option<FunctionError> = failed.ok().and_then(|v| v.clone());
                    Err(match e {
                        Some(e) => ProcessError::InitError {
                            error_type: e.error_type,
                            body: String::from_utf8_lossy(&e.body).into_owned(),
                        },
                        None => ProcessError::NotReady(timeout),
                    })
                }
                status = self.child.wait() => Err(match status {
                    Ok(status) => ProcessError::Exited(status),
                    Err(e) => ProcessError::Io(e),
                }),
            }
        })
        .await;
        match waited {
            Ok(result) => result,
            Err(_) => Err(ProcessError::NotReady(timeout)),
        }
    }

    /// [`wait_ready`](Self::wait_ready), with the captured output in the error so a function
    /// that fails to start explains itself.
    pub async fn wait_ready_or_explain(
        &mut self,
        emulator: &Emulator,
        timeout: Duration,
    ) -> Result<Instant, ProcessError> {
        match self.wait_ready(emulator, timeout).await {
            Ok(at) => Ok(at),
            Err(e) => Err(self.explain(e.to_string())),
        }
    }

    /// Invokes and returns the response body. A function error, a missing answer or a process
    /// that has died is an error carrying the captured output.
    pub async fn invoke_for_response(
        &mut self,
        emulator: &Emulator,
        payload: impl Into<Bytes>,
        timeout: Duration,
    ) -> Result<Bytes, ProcessError> {
        let result = match emulator.invoke(payload, timeout).await {
            Ok(result) => result,
            Err(e) => return Err(self.explain(e.to_string())),
        };
        if let Some(status) = self.try_status()? {
            return Err(self.explain(format!("the function exited ({status}) after answering")));
        }
        match result.outcome {
            Outcome::Response(body) => Ok(body),
            Outcome::Error(e) => Err(self.explain(format!(
                "invocation error {:?}: {}",
                e.error_type,
                String::from_utf8_lossy(&e.body)
            ))),
        }
    }

    fn explain(&self, problem: String) -> ProcessError {
        ProcessError::WithOutput {
            problem,
            output: self.output(),
        }
    }

    /// `(VmHWM, VmRSS)` in KiB from `/proc/PID/status` (peak and current resident set).
    pub fn memory_kib(&self) -> std::io::Result<(u64, u64)> {
        let pid = self
            .pid
            .ok_or_else(|| std::io::Error::other("the process has exited"))?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .ok_or_else(|| std::io::Error::other(format!("no {name} in /proc/{pid}/status")))
        };
        Ok((field("VmHWM:")?, field("VmRSS:")?))
    }

    /// Captured stdout and stderr so far (interleaved as read), for failure messages.
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&lock(&self.captured)).into_owned()
    }

    /// Has it exited? (`None`: still running.)
    pub fn try_status(&mut self) -> std::io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }

    /// The process id (`None` once reaped).
    pub fn id(&self) -> Option<u32> {
        self.pid
    }

    /// SIGTERM (so a wrapper such as valgrind writes its results), then waits up to
    /// `timeout` for the exit; SIGKILL after that.
    pub async fn terminate(&mut self, timeout: Duration) -> std::io::Result<ExitStatus> {
        if let Some(status) = self.child.try_wait()? {
            return Ok(status);
        }
        if let Some(pid) = self.pid {
            Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await?;
        }
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => status,
            Err(_) => self.kill().await,
        }
    }

    /// SIGKILL and reap.
    pub async fn kill(&mut self) -> std::io::Result<ExitStatus> {
        if let Some(status) = self.child.try_wait()? {
            return Ok(status);
        }
        self.child.start_kill()?;
        self.child.wait().await
    }
}
