//! The account flows of the server with real e-mail: register → e-mail → verify, and
//! forgot → e-mail → reset → log in with the new password → old token refused; once through the
//! outbox directory and once through a real SMTP server (Python's aiosmtpd) on loopback.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, start_in, temp_dir, text, Server};
use serde_json::Value;

/// One delivered message: its raw text and the token printed after `token=`.
struct Delivered {
    raw: String,
    token: String,
}

impl Delivered {
    fn header(&self, name: &str) -> Option<&str> {
        let head = self.raw.split("\r\n\r\n").next()?;
        head.lines()
            .find_map(|line| line.strip_prefix(&format!("{name}: ")))
    }
}

/// Waits until `dir` holds exactly `count` messages and returns the one whose subject is
/// `subject`. Messages are told apart by subject, not by file name: aiosmtpd's maildir names do
/// not sort in time order (the microseconds in them are not zero-padded).
async fn delivered(dir: &Path, count: usize, subject: &str) -> Delivered {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        if files.len() >= count {
            assert_eq!(files.len(), count, "one message per request: {files:?}");
            let mut matching: Vec<Delivered> = files
                .iter()
                .map(|file| {
                    let raw = std::fs::read_to_string(file).unwrap();
                    let token = common::token_in(&raw)
                        .expect("a token= line in the message")
                        .to_owned();
                    Delivered { raw, token }
                })
                .filter(|message| message.header("Subject") == Some(subject))
                .collect();
            assert_eq!(matching.len(), 1, "one message with subject {subject:?}");
            return matching.remove(0);
        }
        assert!(Instant::now() < deadline, "no message {count} in {dir:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn post_json(server: &Server, path: &str, body: Value) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", server.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    text(response).await
}

async fn login(server: &Server, email: &str, password: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(format!("{}/auth/jwt/login", server.base))
        .form(&[("username", email), ("password", password)])
        .send()
        .await
        .unwrap();
    text(response).await
}

/// The two flows of the issue, whatever carries the e-mail; `mail_dir` is where messages land.
async fn account_flows(server: &Server, mail_dir: &Path) {
    let galahad = "galahad@camelot.bt";
    let (status, body) = post_json(
        server,
        "/auth/register",
        serde_json::json!({"email": galahad, "password": "grail-quest"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Verification is required: no login before the e-mail is confirmed.
    assert_eq!(
        login(server, galahad, "grail-quest").await,
        (400, r#"{"detail":"LOGIN_USER_NOT_VERIFIED"}"#.to_owned())
    );

    // Registration sent the verification e-mail.
    let message = delivered(mail_dir, 1, "Confirm your e-mail address for Camelot").await;
    assert_eq!(message.header("To"), Some(galahad));
    assert!(message.raw.contains(&format!(
        "https://camelot.bt/verify#token={}",
        message.token
    )));
    let (status, body) = post_json(
        server,
        "/auth/verify",
        serde_json::json!({"token": message.token}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        format!(
            r#"{{"id":"{id}","email":"{galahad}","is_active":true,"is_superuser":false,"is_verified":true}}"#
        )
    );
    assert_eq!(login(server, galahad, "grail-quest").await.0, 200);

    // Unknown address: the same answer, no e-mail.
    assert_eq!(
        post_json(
            server,
            "/auth/forgot-password",
            serde_json::json!({"email": "mordred@camelot.bt"})
        )
        .await,
        (202, "null".to_owned())
    );
    assert_eq!(
        post_json(
            server,
            "/auth/forgot-password",
            serde_json::json!({"email": "Galahad@Camelot.bt"})
        )
        .await,
        (202, "null".to_owned())
    );
    let message = delivered(mail_dir, 2, "Reset your Camelot password").await;
    assert_eq!(message.header("To"), Some(galahad));
    let reset = serde_json::json!({"token": message.token, "password": "holy-grail"});
    assert_eq!(
        post_json(server, "/auth/reset-password", reset.clone()).await,
        (200, "null".to_owned())
    );
    assert_eq!(login(server, galahad, "holy-grail").await.0, 200);
    assert_eq!(
        login(server, galahad, "grail-quest").await,
        (400, r#"{"detail":"LOGIN_BAD_CREDENTIALS"}"#.to_owned())
    );
    assert_eq!(
        post_json(server, "/auth/reset-password", reset).await,
        (400, r#"{"detail":"RESET_PASSWORD_BAD_TOKEN"}"#.to_owned())
    );
}

fn mail_env(extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("AXUM_USERS_REQUIRE_VERIFICATION", "true".to_owned()),
        ("AXUM_USERS_APP_NAME", "Camelot".to_owned()),
        (
            "AXUM_USERS_VERIFY_URL",
            "https://camelot.bt/verify#token={token}".to_owned(),
        ),
        (
            "AXUM_USERS_RESET_URL",
            "https://camelot.bt/reset#token={token}".to_owned(),
        ),
        (
            "AXUM_USERS_MAIL_FROM",
            "Camelot <noreply@camelot.bt>".to_owned(),
        ),
    ];
    env.extend_from_slice(extra);
    env
}

#[tokio::test]
async fn account_flows_through_the_outbox() {
    let dir = temp_dir("outbox");
    // The default outbox is ./outbox, beside where the server runs.
    let server = start_in(dir.clone(), &mail_env(&[])).await;
    account_flows(&server, &dir.join("outbox")).await;
    let eml = std::fs::read_dir(dir.join("outbox"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains("-verify-"))
        .expect("a verify .eml file");
    let raw = std::fs::read_to_string(eml).unwrap();
    for header in [
        "From: Camelot <noreply@camelot.bt>\r\n",
        "MIME-Version: 1.0\r\n",
        "Content-Type: multipart/alternative;",
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n",
        "Content-Type: text/html; charset=utf-8\r\n",
        "Date: ",
    ] {
        assert!(raw.contains(header), "{header:?} in\n{raw}");
    }
}

/// The Python that runs aiosmtpd: `AXUM_USERS_TEST_PYTHON` (set by .ci/run), else `python3`
/// when it has aiosmtpd. `None` skips, except under CI where it fails.
fn smtp_python() -> Option<String> {
    let python = std::env::var("AXUM_USERS_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(python);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must run the SMTP tests: install aiosmtpd (see .ci/run)"
    );
    eprintln!("skipped: no Python with aiosmtpd (pip install aiosmtpd, or run .ci/run)");
    None
}

/// aiosmtpd writing every message it receives into a maildir.
struct SmtpSink {
    child: Child,
    maildir: PathBuf,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn smtp_sink(python: &str, port: u16, dir: &Path) -> SmtpSink {
    let maildir = dir.join("maildir");
    let child = Command::new(python)
        .args(["-m", "aiosmtpd", "-n", "-l"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(&maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "aiosmtpd did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    SmtpSink { child, maildir }
}

#[tokio::test]
async fn account_flows_through_a_real_smtp_server() {
    let Some(python) = smtp_python() else {
        return;
    };
    let dir = temp_dir("smtp");
    let port = free_port();
    let sink = smtp_sink(&python, port, &dir).await;
    let env = mail_env(&[("AXUM_USERS_SMTP_URL", format!("smtp://127.0.0.1:{port}"))]);
    let server = start_in(dir.clone(), &env).await;
    account_flows(&server, &sink.maildir.join("new")).await;
    assert!(!dir.join("outbox").exists(), "SMTP replaces the outbox");
    let first = delivered(
        &sink.maildir.join("new"),
        2,
        "Confirm your e-mail address for Camelot",
    )
    .await;
    assert_eq!(first.header("X-MailFrom"), Some("noreply@camelot.bt"));
}

#[tokio::test]
async fn an_smtp_outage_is_retried_until_the_server_is_back() {
    let Some(python) = smtp_python() else {
        return;
    };
    let dir = temp_dir("smtp-outage");
    let port = free_port();
    let env = mail_env(&[("AXUM_USERS_SMTP_URL", format!("smtp://127.0.0.1:{port}"))]);
    let server = start_in(dir.clone(), &env).await;
    // Nothing listens on the SMTP port yet: the client still gets its 201.
    let (status, _) = post_json(
        &server,
        "/auth/register",
        serde_json::json!({"email": "gawain@camelot.bt", "password": "green-knight"}),
    )
    .await;
    assert_eq!(status, 201);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sink = smtp_sink(&python, port, &dir).await;
    // Tries at 0 s, 1 s, 3 s, 7 s: the message arrives once SMTP is back.
    let message = delivered(
        &sink.maildir.join("new"),
        1,
        "Confirm your e-mail address for Camelot",
    )
    .await;
    assert_eq!(message.header("To"), Some("gawain@camelot.bt"));
}

/// `AXUM_USERS_BACKGROUND_LIMIT` bounds the jobs that run after their answers. At 1, with the
/// mail server down, the first registration's e-mail keeps the one slot while it retries; the
/// second's is dropped (and logged). Both clients get their 201; once SMTP is back, only the
/// first message arrives.
#[tokio::test]
async fn the_background_limit_is_configurable() {
    let Some(python) = smtp_python() else {
        return;
    };
    let dir = temp_dir("background-limit");
    let port = free_port();
    let env = mail_env(&[
        ("AXUM_USERS_SMTP_URL", format!("smtp://127.0.0.1:{port}")),
        ("AXUM_USERS_BACKGROUND_LIMIT", "1".to_owned()),
    ]);
    let server = start_in(dir.clone(), &env).await;
    for email in ["gawain@camelot.bt", "percival@camelot.bt"] {
        let (status, _) = post_json(
            &server,
            "/auth/register",
            serde_json::json!({"email": email, "password": "green-knight"}),
        )
        .await;
        assert_eq!(status, 201);
    }
    let sink = smtp_sink(&python, port, &dir).await;
    let message = delivered(
        &sink.maildir.join("new"),
        1,
        "Confirm your e-mail address for Camelot",
    )
    .await;
    assert_eq!(message.header("To"), Some("gawain@camelot.bt"));
    // Longer than the retry that brought the first: nothing else was waiting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let arrived = std::fs::read_dir(sink.maildir.join("new")).unwrap().count();
    assert_eq!(arrived, 1);
}
