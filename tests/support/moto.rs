//! One moto server per test: its own process on a free loopback port, killed when the
//! [`Moto`] guard drops (also when the test panics), so tests never share AWS state and
//! may run in parallel.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_ec2::config::{Credentials, Region};
use tempfile::TempDir;

/// moto answers in about a second; a loaded CI machine gets far more slack.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// moto's fixed region for these tests, and the dummy credentials it accepts.
pub const REGION: &str = "us-east-1";
const ACCESS_KEY_ID: &str = "test";
const SECRET_ACCESS_KEY: &str = "test";

/// A running `moto_server`; dropping it kills the process.
pub struct Moto {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    child: Child,
    /// Holds moto's own output, shown when it fails to start.
    log_dir: TempDir,
}

impl Moto {
    /// Starts `MOTO_IAM_LOAD_MANAGED_POLICIES=true moto_server -H 127.0.0.1 -p <port>` and
    /// waits until it answers HTTP. Without that variable AWS managed policies (which the
    /// stacks attach to their EKS roles) do not exist in moto.
    ///
    /// Panics when `moto_server` is not installed: an end-to-end test that cannot reach its
    /// AWS peer must fail, not pass without testing anything.
    pub fn start() -> Moto {
        if !on_path("moto_server") {
            panic!(
                "moto_server is not on PATH; these tests need the AWS emulator: pip install 'moto[server]'"
            );
        }
        let log_dir = tempfile::tempdir().expect("temp dir for moto's log");
        let log = std::fs::File::create(log_dir.path().join("moto.log")).expect("moto log file");
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("moto log file handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start moto_server: {e}"));
        let mut moto = Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
            log_dir,
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        while !answers(addr) {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!(
                    "moto_server exited with {status} before answering on {addr}:\n{}",
                    moto.log()
                );
            }
            if started.elapsed() > START_TIMEOUT {
                panic!(
                    "moto_server did not answer on {addr} within {}s:\n{}",
                    START_TIMEOUT.as_secs(),
                    moto.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// The environment that points an AWS SDK client (cairn's included) at this server and
    /// nowhere else: dummy static credentials, no profile, no instance metadata, and shared
    /// config files that do not exist, so a developer's `~/.aws` never takes part.
    pub fn child_env(&self) -> Vec<(&'static str, String)> {
        let missing = self.log_dir.path().join("no-aws-config");
        let missing = missing.to_string_lossy().into_owned();
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

    /// Variables of the parent's environment that would override [`Moto::child_env`].
    pub const CHILD_ENV_REMOVED: [&'static str; 3] =
        ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN"];

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

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_dir.path().join("moto.log")).unwrap_or_default()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // The child is this test's own moto_server: end it by its id and reap it.
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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
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
