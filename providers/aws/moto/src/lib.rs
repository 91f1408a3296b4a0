//! The moto AWS emulator as the peer of cairn's AWS tests, for both test trees (the
//! engine's `tests/` and `providers/aws/tests/`).
//!
//! [`Moto::start`] runs `moto_server` on a free loopback port and returns once it answers
//! HTTP. Tests reach it as cairn reaches AWS, through the SDK's standard
//! `AWS_ENDPOINT_URL`: [`Moto::child_env`] is the environment for a `cairn` process,
//! [`Moto::sdk_config`] an SDK configuration for checking what cairn made.
//!
//! The server ends when its [`Moto`] drops, and also when the test process exits without
//! dropping it (a `static` shared by one test binary): a watcher in the server's shell reads
//! the stdin pipe that only this process holds open, and kills the server when it closes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use tempfile::TempDir;

/// moto answers in about a second; a loaded CI machine gets far more slack.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a dropped server may take to end after its watcher's signal.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// The region the tests use, and the dummy credentials moto accepts.
pub const REGION: &str = "us-east-1";
const ACCESS_KEY_ID: &str = "test";
const SECRET_ACCESS_KEY: &str = "test";

/// Why moto did not start.
#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    /// `moto_server` is not on `PATH`.
    #[error(
        "moto_server is not on PATH; these tests need the AWS emulator: pip install 'moto[server]'"
    )]
    NotInstalled,
    /// A local resource the server needs (a port, a log file, the process) failed.
    #[error("cannot start moto_server: {what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The server exited before it answered.
    #[error("moto_server exited with {status} before answering on {addr}:\n{log}")]
    Exited {
        /// Its exit status.
        status: ExitStatus,
        /// Where it should have answered.
        addr: SocketAddr,
        /// Its output.
        log: String,
    },
    /// The server did not answer in time.
    #[error("moto_server did not answer on {addr} within {}s:\n{log}", START_TIMEOUT.as_secs())]
    NoAnswer {
        /// Where it should have answered.
        addr: SocketAddr,
        /// Its output.
        log: String,
    },
}

fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> MotoError {
    move |source| MotoError::Io { what, source }
}

/// A running `moto_server`; dropping it ends the process.
pub struct Moto {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// The server itself (its shell `exec`s it, so the pid is the server's).
    child: Child,
    /// The pipe the watcher reads; closing it ends the server.
    watch: Option<ChildStdin>,
    /// Holds moto's own output and the path of the AWS config files that do not exist.
    dir: TempDir,
}

impl Moto {
    /// Variables of the parent's environment that would override [`Moto::child_env`].
    pub const CHILD_ENV_REMOVED: [&'static str; 3] =
        ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN"];

    /// Starts `MOTO_IAM_LOAD_MANAGED_POLICIES=true moto_server -H 127.0.0.1 -p <port>` and
    /// waits until it answers HTTP. Without that variable AWS managed policies (which the
    /// stacks attach to their EKS roles) do not exist in moto.
    ///
    /// Panics when it cannot start, `moto_server` not being installed included: a test that
    /// cannot reach its AWS peer must fail, not pass without testing anything.
    pub fn start() -> Moto {
        #[allow(
            clippy::panic,
            reason = "a test harness: a test without its AWS peer must fail"
        )]
        Moto::try_start().unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Moto::start`], returning why it could not start instead of panicking.
    pub fn try_start() -> Result<Moto, MotoError> {
        if !on_path("moto_server") {
            return Err(MotoError::NotInstalled);
        }
        let dir = tempfile::tempdir().map_err(io("temporary directory"))?;
        let log = std::fs::File::create(dir.path().join("moto.log")).map_err(io("log file"))?;
        let port = free_port().map_err(io("free loopback port"))?;
        // The watcher (the background subshell) holds the read end of our stdin pipe as
        // fd 3 and kills the shell's pid, which `exec` has made the server's, once the pipe
        // closes: when this process drops the guard or exits.
        let script = format!(
            "exec 3<&0; (read _ <&3; kill $$ 2>/dev/null) & exec moto_server -H 127.0.0.1 -p {port}"
        );
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .stdin(Stdio::piped())
            .stdout(log.try_clone().map_err(io("log file"))?)
            .stderr(log)
            .spawn()
            .map_err(io("spawn"))?;
        let watch = child.stdin.take();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let moto = Moto {
            endpoint: format!("http://{addr}"),
            child,
            watch,
            dir,
        };
        moto.wait_until_ready(addr)
    }

    fn wait_until_ready(mut self, addr: SocketAddr) -> Result<Moto, MotoError> {
        let started = Instant::now();
        while !answers(addr) {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(MotoError::Exited {
                    status,
                    addr,
                    log: self.log(),
                });
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(MotoError::NoAnswer {
                    addr,
                    log: self.log(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(self)
    }

    /// The environment that points an AWS SDK client (cairn's included) at this server and
    /// nowhere else: dummy static credentials, no instance metadata, and shared config
    /// files that do not exist, so a developer's `~/.aws` never takes part. Remove
    /// [`Moto::CHILD_ENV_REMOVED`] too.
    pub fn child_env(&self) -> Vec<(&'static str, String)> {
        let missing = self.missing_config().to_string_lossy().into_owned();
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_DEFAULT_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("AWS_CONFIG_FILE", missing.clone()),
            ("AWS_SHARED_CREDENTIALS_FILE", missing),
        ]
    }

    /// SDK configuration for this server, built explicitly rather than from this process's
    /// environment, which parallel tests (each with its own server) share.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new(
                ACCESS_KEY_ID,
                SECRET_ACCESS_KEY,
                None,
                None,
                "moto",
            ))
            .load()
            .await
    }

    /// What moto printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("moto.log")).unwrap_or_default()
    }

    fn missing_config(&self) -> PathBuf {
        self.dir.path().join("no-aws-config")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Closing the pipe makes the watcher kill the server while it is still our
        // unreaped child, so its pid cannot have been reused; SIGKILL if it lingers.
        drop(self.watch.take());
        let started = Instant::now();
        while started.elapsed() < STOP_TIMEOUT {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| is_executable(&dir.join(program)))
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// True once the server accepts a connection and answers an HTTP request.
fn answers(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if stream
        .write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut first = [0u8; 12];
    stream
        .read(&mut first)
        .is_ok_and(|n| n > 0 && first.starts_with(b"HTTP/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alive(pid: u32) -> bool {
        Path::new(&format!("/proc/{pid}")).exists()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|stat| stat.contains(") Z "))
    }

    #[test]
    fn a_server_answers_and_ends_with_its_guard() {
        let moto = Moto::start();
        let pid = moto.child.id();
        let addr: SocketAddr = moto
            .endpoint
            .trim_start_matches("http://")
            .parse()
            .unwrap_or_else(|e| panic!("endpoint {}: {e}", moto.endpoint));
        assert!(answers(addr));
        let env = moto.child_env();
        assert!(env.contains(&("AWS_ENDPOINT_URL", moto.endpoint.clone())));
        drop(moto);
        assert!(!alive(pid), "moto_server {pid} still runs");
        assert!(!answers(addr));
    }

    #[test]
    fn a_server_ends_with_the_process_that_started_it() {
        // A child process stands in for a test binary that exits with its server in a
        // static: it prints the server's pid and exits without dropping the guard.
        if let Ok(role) = std::env::var("CAIRN_MOTO_TEST_ROLE") {
            assert_eq!(role, "leak");
            let moto = Moto::start();
            println!("moto-pid={}", moto.child.id());
            std::mem::forget(moto);
            std::process::exit(0);
        }
        let exe = std::env::current_exe().unwrap_or_else(|e| panic!("test binary: {e}"));
        let out = Command::new(exe)
            .args([
                "--exact",
                "tests::a_server_ends_with_the_process_that_started_it",
                "--nocapture",
            ])
            .env("CAIRN_MOTO_TEST_ROLE", "leak")
            .output()
            .unwrap_or_else(|e| panic!("child test: {e}"));
        let text = String::from_utf8_lossy(&out.stdout);
        let pid: u32 = text
            .split("moto-pid=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|pid| pid.parse().ok())
            .unwrap_or_else(|| panic!("no pid in {text}"));
        let started = Instant::now();
        while alive(pid) && started.elapsed() < STOP_TIMEOUT {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(!alive(pid), "moto_server {pid} outlived its test process");
    }
}
