//! `examples/spa` in headless Chromium against the server binary: a front-end of an allowed
//! origin signs in with the cookie, reads and changes `/users/me`; a page of an origin that is
//! not allowed can neither read `/users/me` nor sign the browser in or out with the cookie; and
//! the same page turns on a second factor (TOTP) and signs in with it.

mod common;

use std::net::SocketAddr;
use std::process::Command;

use axum::response::Html;
use axum::routing::get;
use axum::Router;
use common::{start_in, temp_dir};
use serde_json::Value;

/// A page another origin serves: it tries what a hostile site would, with the browser's cookie,
/// and writes what it could see into `#result`.
const EVIL: &str = r#"<!DOCTYPE html><html><head><title>working</title></head><body>
<pre id="result"></pre>
<script>
const API = new URLSearchParams(location.search).get('api');
const result = {};
(async () => {
  try {
    const me = await fetch(API + '/users/me', { credentials: 'include' });
    result.read = 'read ' + me.status + ' ' + await me.text();
  } catch (error) {
    result.read = 'blocked';
  }
  const form = new URLSearchParams({ username: 'mordred@camelot.bt', password: 'treachery' });
  await fetch(API + '/auth/cookie/login', { method: 'POST', mode: 'no-cors', credentials: 'include', body: form });
  await fetch(API + '/auth/cookie/logout', { method: 'POST', mode: 'no-cors', credentials: 'include' });
  result.sent = true;
  document.getElementById('result').textContent = JSON.stringify(result);
  document.title = 'done';
})();
</script></body></html>"#;

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    address
}

async fn register(base: &str, email: &str, password: &str) {
    let response = reqwest::Client::new()
        .post(format!("{base}/auth/register"))
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
}

/// playwright-core's `node_modules` and Chromium; `None` skips, except under CI.
fn browser() -> Option<String> {
    let modules = std::env::var("AXUM_USERS_TEST_NODE_MODULES").ok();
    let found = modules.filter(|_| std::path::Path::new("/usr/bin/chromium").exists());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the browser tests: .ci/run installs chromium and playwright-core"
        );
        eprintln!("skipped: no chromium or playwright-core");
    }
    found
}

/// `examples/spa/index.html`, served at the root of an origin of its own.
async fn spa_page() -> SocketAddr {
    let page = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/spa/index.html"
    ))
    .unwrap();
    serve(Router::new().route("/", get(move || async move { Html(page) }))).await
}

/// Runs a script of `tests/browser` with Node; its one JSON line.
fn run_browser(modules: &str, script: &str, args: &[String]) -> Value {
    let output = Command::new("node")
        .arg(format!(
            "{}/tests/browser/{script}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .args(args)
        .env("NODE_PATH", modules)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(seen["error"], Value::Null, "{seen}");
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_the_spa_turns_on_a_second_factor_and_signs_in_with_it() {
    let Some(modules) = browser() else {
        return;
    };
    let spa = spa_page().await;
    let app_origin = format!("http://localhost:{}", spa.port());
    let server = start_in(
        temp_dir("spa-mfa"),
        &[("AXUM_USERS_ALLOWED_ORIGINS", app_origin.clone())],
    )
    .await;
    register(&server.base, "gawain@camelot.bt", "green-knight").await;
    let api = server.base.replace("127.0.0.1", "localhost");
    let seen = run_browser(
        &modules,
        "mfa.cjs",
        &[
            format!("{app_origin}/?api={api}"),
            "gawain@camelot.bt".into(),
            "green-knight".into(),
        ],
    );
    assert_eq!(seen["stateBefore"], "Off.", "{seen}");
    assert_eq!(seen["qrIsSvg"], true, "{seen}");
    assert_eq!(seen["recoveryCodes"], 10, "{seen}");
    assert_eq!(seen["stateOn"], "On (10 recovery codes left).", "{seen}");
    assert_eq!(seen["prompted"], true, "{seen}");
    assert_eq!(seen["withTotp"], "Signed in as gawain@camelot.bt", "{seen}");
    assert_eq!(
        seen["withRecovery"], "Signed in as gawain@camelot.bt",
        "{seen}"
    );
    assert_eq!(seen["stateAfter"], "On (9 recovery codes left).", "{seen}");
    assert_eq!(
        seen["reused"], r#"Sign-in failed: {"detail":"MFA_INVALID_CODE"}"#,
        "{seen}"
    );
}

/// Passkeys in a real browser: Chromium's virtual authenticator (through CDP) registers a
/// discoverable credential from the page, which then signs in with no user name or password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_the_spa_registers_a_passkey_and_signs_in_with_it() {
    let Some(modules) = browser() else {
        return;
    };
    let spa = spa_page().await;
    let app_origin = format!("http://localhost:{}", spa.port());
    let server = start_in(
        temp_dir("spa-passkey"),
        &[
            ("AXUM_USERS_ALLOWED_ORIGINS", app_origin.clone()),
            ("AXUM_USERS_WEBAUTHN_ORIGINS", app_origin.clone()),
        ],
    )
    .await;
    register(&server.base, "percival@camelot.bt", "holy-grail").await;
    let api = server.base.replace("127.0.0.1", "localhost");
    let seen = run_browser(
        &modules,
        "passkey.cjs",
        &[
            format!("{app_origin}/?api={api}"),
            "percival@camelot.bt".into(),
            "holy-grail".into(),
        ],
    );
    assert_eq!(
        seen["passkeys"],
        serde_json::json!(["This browser"]),
        "{seen}"
    );
    assert_eq!(seen["resident"], serde_json::json!([true]), "{seen}");
    assert_eq!(seen["second"], "Not added: InvalidStateError", "{seen}");
    assert_eq!(seen["signedOut"], "Not signed in.", "{seen}");
    assert_eq!(
        seen["withPasskey"], "Signed in as percival@camelot.bt",
        "{seen}"
    );
    assert_eq!(seen["me"], "200 percival@camelot.bt", "{seen}");
    assert_eq!(seen["signCount"], 2, "{seen}");
    assert!(
        seen["unverified"]
            .as_str()
            .is_some_and(|s| s.starts_with("Sign-in failed: ")),
        "{seen}"
    );
}

/// The refresh cookie in a real browser: sent to the refresh route across origins, never
/// elsewhere, and it renews an expired access cookie; logout clears both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_the_spa_refreshes_an_expired_cookie_session() {
    let Some(modules) = browser() else {
        return;
    };
    let spa = spa_page().await;
    let app_origin = format!("http://localhost:{}", spa.port());
    let server = start_in(
        temp_dir("spa-refresh"),
        &[
            ("AXUM_USERS_ALLOWED_ORIGINS", app_origin.clone()),
            ("AXUM_USERS_REFRESH_TOKENS", "on".to_owned()),
            ("AXUM_USERS_TOKEN_LIFETIME", "2".to_owned()),
        ],
    )
    .await;
    register(&server.base, "bedivere@camelot.bt", "last-to-leave").await;
    let api = server.base.replace("127.0.0.1", "localhost");
    let seen = run_browser(
        &modules,
        "refresh.cjs",
        &[
            format!("{app_origin}/?api={api}"),
            "bedivere@camelot.bt".into(),
            "last-to-leave".into(),
        ],
    );
    assert_eq!(
        seen["cookies"],
        serde_json::json!([
            "fastapiusersauth / true",
            "fastapiusersauth_refresh /auth/cookie/refresh true"
        ]),
        "{seen}"
    );
    assert_eq!(
        seen["afterExpiry"], "Signed in as bedivere@camelot.bt",
        "{seen}"
    );
    // The first page load (no session yet) tried a refresh too, refused; the expired one
    // renewed.
    assert_eq!(seen["refreshes"], serde_json::json!([401, 204]), "{seen}");
    assert_eq!(seen["cookiesAfterLogout"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["refreshAfterLogout"], 401, "{seen}");
    assert_eq!(seen["afterLogout"], "Not signed in.", "{seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_the_spa_example_signs_in_across_origins_and_other_sites_cannot() {
    let Some(modules) = browser() else {
        return;
    };
    let spa = spa_page().await;
    let evil = serve(Router::new().route("/", get(|| async { Html(EVIL) }))).await;
    let app_origin = format!("http://localhost:{}", spa.port());
    let server = start_in(
        temp_dir("spa"),
        &[("AXUM_USERS_ALLOWED_ORIGINS", app_origin.clone())],
    )
    .await;
    register(&server.base, "guinevere@camelot.bt", "round-table").await;
    register(&server.base, "mordred@camelot.bt", "treachery").await;
    let api = server.base.replace("127.0.0.1", "localhost");
    let seen = run_browser(
        &modules,
        "spa.cjs",
        &[
            format!("{app_origin}/?api={api}"),
            format!("http://localhost:{}/?api={api}", evil.port()),
            "guinevere@camelot.bt".into(),
            "round-table".into(),
            "queen@camelot.bt".into(),
        ],
    );
    assert_eq!(seen["before"], "Not signed in.", "{seen}");
    assert_eq!(
        seen["signedIn"], "Signed in as guinevere@camelot.bt",
        "{seen}"
    );
    assert_eq!(seen["patched"], "Signed in as queen@camelot.bt", "{seen}");
    // The other origin could not read the answer, and its cookie-carrying posts changed nothing:
    // the app is still signed in, as the same user.
    assert_eq!(seen["evil"]["read"], "blocked", "{seen}");
    assert_eq!(seen["evil"]["sent"], true, "{seen}");
    assert_eq!(seen["after"], "Signed in as queen@camelot.bt", "{seen}");
}
