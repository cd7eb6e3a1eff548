//! In headless Chromium (Debian's `chromium`, driven by npm's `playwright-core`; .ci/run installs
//! both): Swagger UI's "Authorize" with the password flow, then "Try it out" on `GET /users/me`,
//! and Redoc rendering the document, with the routes at the root and nested under a prefix,
//! over a real port.

mod common;

use std::net::SocketAddr;
use std::process::Command;

use axum::Router;
use common::app;
use serde_json::Value;

/// `node` with `playwright-core` (`AXUM_USERS_TEST_NODE_MODULES`), and Chromium; `None` skips,
/// except under CI.
fn browser() -> Option<String> {
    let modules = std::env::var("AXUM_USERS_TEST_NODE_MODULES").ok();
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let ready = modules.as_ref().is_some_and(|m| {
        std::path::Path::new(m).join("playwright-core").exists()
            && std::path::Path::new(&chromium).exists()
    });
    if !ready {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the browser tests: .ci/run installs chromium and playwright-core"
        );
        common::skipped("the browser tests: no chromium or playwright-core");
        return None;
    }
    modules
}

/// Runs a script of `tests/browser/` and parses the JSON line it prints.
fn run_script(modules: &str, script: &str, args: &[&str]) -> Value {
    let path = format!("{}/tests/browser/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = Command::new("node")
        .arg(path)
        .args(args)
        .env("NODE_PATH", modules)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{script}: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{script}: {e}: {stdout}"))
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    address
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_swagger_ui_authorizes_and_tries_users_me_under_any_prefix() {
    let Some(modules) = browser() else {
        return;
    };
    let app = app().await;
    for prefix in ["", "/api"] {
        let router = if prefix.is_empty() {
            app.router.clone()
        } else {
            Router::new().nest(prefix, app.router.clone())
        };
        let address = serve(router).await;
        let docs = format!("http://{address}{prefix}/docs");
        let seen = run_script(
            &modules,
            "swagger.cjs",
            &[
                &docs,
                "king.arthur@camelot.bt",
                "guinevere",
                &format!("http://{address}{prefix}/redoc"),
            ],
        );
        assert_eq!(seen["error"], Value::Null, "{prefix}: {seen}");
        assert_eq!(seen["pageStatus"], 200, "{prefix}: {seen}");
        assert_eq!(seen["finalUrl"], docs.as_str(), "no redirect: {seen}");
        assert_eq!(seen["authError"], "", "{prefix}: {seen}");
        assert_eq!(seen["authorized"], true, "{prefix}: {seen}");
        assert_eq!(seen["meStatus"], "200", "{prefix}: {seen}");
        let me: Value = serde_json::from_str(seen["meBody"].as_str().unwrap()).unwrap();
        assert_eq!(me["email"], "king.arthur@camelot.bt", "{prefix}: {seen}");
        assert_eq!(seen["redocStatus"], 200, "{prefix}: {seen}");
        assert_eq!(seen["redocRendered"], true, "{prefix}: {seen}");
    }
}
