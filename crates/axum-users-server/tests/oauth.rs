//! OAuth login through the binary, configured from the environment only
//! (`AXUM_USERS_OAUTH_<NAME>_CLIENT_ID`, `_CLIENT_SECRET`, `_ISSUER`), against a real OpenID
//! Connect provider on loopback, as a browser drives it.

mod common;
#[path = "../../axum-users/tests/oauth/mock.rs"]
mod mock;

use common::{start_in, temp_dir, text};
use serde_json::Value;

#[tokio::test]
async fn oidc_login_through_the_server() {
    let Some(provider) = mock::mock_provider() else {
        return;
    };
    let server = start_in(
        temp_dir("oauth"),
        &[
            (
                "AXUM_USERS_OAUTH_CAMELOT_CLIENT_ID",
                "camelot-client".to_owned(),
            ),
            (
                "AXUM_USERS_OAUTH_CAMELOT_CLIENT_SECRET",
                "camelot-secret".to_owned(),
            ),
            ("AXUM_USERS_OAUTH_CAMELOT_ISSUER", provider.issuer.clone()),
            // Plain HTTP on loopback: the CSRF cookie without `Secure`.
            ("AXUM_USERS_OAUTH_COOKIE_SECURE", "false".to_owned()),
        ],
    )
    .await;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = browser
        .get(format!("{}/auth/camelot/authorize", server.base))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.ends_with("; HttpOnly; Max-Age=3600; Path=/; SameSite=lax"),
        "{cookie}"
    );
    let (status, body) = text(response).await;
    assert_eq!(status, 200, "{body}");
    let url = serde_json::from_str::<Value>(&body).unwrap()["authorization_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        url.contains(&format!(
            "redirect_uri={}",
            urlencode(&format!("{}/auth/camelot/callback", server.base))
        )),
        "{url}"
    );
    // A trailing slash redirects, as for every other route.
    let response = browser
        .get(format!(
            "{}/auth/camelot/authorize/?scopes=openid",
            server.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 307);
    assert_eq!(
        response.headers()["location"],
        format!("{}/auth/camelot/authorize?scopes=openid", server.base).as_str()
    );
    // The provider's login page sends the browser back to the callback.
    let response = browser
        .get(format!(
            "{url}&login_hint=acc-1%7Cbedivere%40camelot.bt%7Ctrue"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 302);
    let back = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with(&format!("{}/auth/camelot/callback?", server.base)));
    let response = browser
        .get(&back)
        .header("cookie", cookie.split(';').next().unwrap())
        .send()
        .await
        .unwrap();
    let (status, body) = text(response).await;
    assert_eq!(status, 200, "{body}");
    let token = serde_json::from_str::<Value>(&body).unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = browser
        .get(format!("{}/users/me", server.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let (status, body) = text(response).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["email"],
        "bedivere@camelot.bt"
    );
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A provider over HTTPS: the server verifies its certificate against the system's root
/// certificates (here a test CA named by `SSL_CERT_FILE`, as OpenSSL-style setups do). Trusted,
/// discovery works and `/authorize` answers the provider's URL; a server that trusts another CA
/// only refuses the certificate with a 502 and a code, and does not panic.
#[tokio::test]
async fn an_https_provider_is_verified_against_the_system_roots() {
    let python = std::env::var("AXUM_USERS_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let dir = temp_dir("https-provider-certs");
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("openssl (Debian's openssl package)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let certificate_authority = |name: &str, subject: &str| {
        let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
        openssl(&[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", subject,
            "-keyout", &key, "-out", &pem,
        ]);
    };
    certificate_authority("ca", "/CN=Test CA");
    certificate_authority("other", "/CN=Other CA");
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
    ]);
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "leaf.ext",
        "-out",
        "leaf.pem",
    ]);
    let mut provider = KillOnDrop(
        std::process::Command::new(python)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/https_discovery.py"
            ))
            .args([dir.join("leaf.pem"), dir.join("leaf.key")])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the Python of AXUM_USERS_TEST_PYTHON"),
    );
    let port = {
        use std::io::BufRead as _;
        let mut line = String::new();
        std::io::BufReader::new(provider.0.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        line.trim().parse::<u16>().unwrap()
    };
    let issuer = format!("https://127.0.0.1:{port}");
    let env = |ca: &str| {
        vec![
            (
                "AXUM_USERS_OAUTH_CAMELOT_CLIENT_ID",
                "camelot-client".to_owned(),
            ),
            (
                "AXUM_USERS_OAUTH_CAMELOT_CLIENT_SECRET",
                "camelot-secret".to_owned(),
            ),
            ("AXUM_USERS_OAUTH_CAMELOT_ISSUER", issuer.clone()),
            ("AXUM_USERS_OAUTH_COOKIE_SECURE", "false".to_owned()),
            // The only root is the one SSL_CERT_FILE names.
            ("SSL_CERT_FILE", dir.join(ca).display().to_string()),
            (
                "SSL_CERT_DIR",
                dir.join("no-such-dir").display().to_string(),
            ),
        ]
    };
    let authorize = |base: String| async move {
        text(
            reqwest::get(format!("{base}/auth/camelot/authorize"))
                .await
                .unwrap(),
        )
        .await
    };

    let trusted = start_in(temp_dir("https-provider-trusted"), &env("ca.pem")).await;
    let (status, body) = authorize(trusted.base.clone()).await;
    assert_eq!(status, 200, "{body}");
    let url = serde_json::from_str::<Value>(&body).unwrap()["authorization_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(url.starts_with(&format!("{issuer}/authorize?")), "{url}");

    let untrusted = start_in(temp_dir("https-provider-untrusted"), &env("other.pem")).await;
    assert_eq!(
        authorize(untrusted.base.clone()).await,
        (502, r#"{"detail":"OAUTH_PROVIDER_ERROR"}"#.to_owned())
    );
    drop(provider);
    std::fs::remove_dir_all(dir).unwrap();
}

/// A child process killed when the test ends, pass or fail.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
