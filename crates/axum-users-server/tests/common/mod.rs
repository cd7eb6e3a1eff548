//! Shared by the server tests: the binary started in a scratch directory on a free port.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_axum-users");

pub struct Server {
    pub child: Child,
    pub base: String,
    pub dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("axum-users-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn command(dir: &Path) -> Command {
    configure(Command::new(BIN), dir)
}

fn configure(mut cmd: Command, dir: &Path) -> Command {
    cmd.current_dir(dir)
        .env_remove("AXUM_USERS_SECRET")
        .env_remove("AXUM_USERS_DATABASE_URL")
        .env("AXUM_USERS_ARGON2_MEMORY_KIB", "1024")
        .env("AXUM_USERS_ARGON2_ITERATIONS", "1")
        // The tests log in many times from one address; the limits have tests of their own.
        .env("AXUM_USERS_RATE_LIMITS", "off")
        .env("RUST_LOG", "error");
    cmd
}

pub async fn start(name: &str) -> Server {
    start_in(temp_dir(name), &[]).await
}

/// Starts the binary in `dir` on a free port and waits until it answers.
pub async fn start_in(dir: PathBuf, envs: &[(&str, String)]) -> Server {
    let cmd = command(&dir);
    start_command(cmd, dir, envs).await
}

/// Starts the binary as `start_in` does, with at most `descriptors` open files (as
/// `ulimit -n` sets it, soft and hard).
pub async fn start_with_descriptors(
    dir: PathBuf,
    envs: &[(&str, String)],
    descriptors: u64,
) -> Server {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -n {descriptors} && exec \"$0\""))
        .arg(BIN);
    let cmd = configure(cmd, &dir);
    start_command(cmd, dir, envs).await
}

async fn start_command(mut cmd: Command, dir: PathBuf, envs: &[(&str, String)]) -> Server {
    let port = free_port();
    cmd.env("AXUM_USERS_BIND", format!("127.0.0.1:{port}"));
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("{}/openapi.json", server.base))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server
}

pub fn run(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = command(dir);
    cmd.args(args).stdin(Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

pub async fn text(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// Logs in through the JWT backend and answers the access token (asserting a 200).
pub async fn login(server: &Server, email: &str, password: &str) -> String {
    let response = reqwest::Client::new()
        .post(format!("{}/auth/jwt/login", server.base))
        .form(&[("username", email), ("password", password)])
        .send()
        .await
        .unwrap();
    let (status, body) = text(response).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<serde_json::Value>(&body).unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A database of its own on the test server, dropped at the end.
pub struct Database {
    admin_url: String,
    name: String,
    pub url: String,
}

impl Database {
    pub async fn create(admin_url: &str) -> Self {
        let name = format!("axum_users_{}", uuid_like());
        let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(admin_url)
            .await
            .expect("TEST_DATABASE_URL must be reachable");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url, |(base, _)| base);
        Self {
            admin_url: admin_url.to_owned(),
            url: format!("{base}/{name}"),
            name,
        }
    }

    pub async fn drop(self) {
        let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&self.admin_url)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut admin)
        .await
        .unwrap();
    }
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}_{nanos}", std::process::id())
}

/// The token in a message, as printed after `token=` in the default templates.
pub fn token_in(text: &str) -> Option<&str> {
    let start = text.find("token=")? + "token=".len();
    let rest = &text[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
        .unwrap_or(rest.len());
    Some(&rest[..end]).filter(|t| !t.is_empty())
}
