//! The `axum-users` binary driven over real HTTP on a real port, as a user meets it: the whole
//! flow of FastAPI Users' "Flow" page, `create-superuser` while the server runs, and clean
//! failures on bad configuration.

mod common;

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{
    free_port, login, run, start, start_in, start_with_descriptors, temp_dir, text, Server, BIN,
};

use serde_json::{json, Value};

#[tokio::test]
async fn the_whole_flow_over_http() {
    let server = start("flow").await;
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.base);

    // 1. Registration.
    let response = http
        .post(url("/auth/register"))
        .header("content-type", "application/json")
        .body(r#"{"email": "king.arthur@camelot.bt","password": "guinevere"}"#)
        .send()
        .await
        .unwrap();
    let (status, body) = text(response).await;
    assert_eq!(status, 201);
    let user: Value = serde_json::from_str(&body).unwrap();
    let id = user["id"].as_str().unwrap().to_owned();
    assert_eq!(
        body,
        format!(
            r#"{{"id":"{id}","email":"king.arthur@camelot.bt","is_active":true,"is_superuser":false,"is_verified":false}}"#
        )
    );

    // 2. Login, Bearer + JWT, as multipart form data.
    let form = reqwest::multipart::Form::new()
        .text("username", "king.arthur@camelot.bt")
        .text("password", "guinevere");
    let response = http
        .post(url("/auth/jwt/login"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, body) = text(response).await;
    assert_eq!(status, 200);
    let token = serde_json::from_str::<Value>(&body).unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        body,
        format!(r#"{{"access_token":"{token}","token_type":"bearer"}}"#)
    );

    // 2b. Login, cookie + JWT.
    let response = http
        .post(url("/auth/cookie/login"))
        .form(&[
            ("username", "king.arthur@camelot.bt"),
            ("password", "guinevere"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    let cookie_token = cookie
        .strip_prefix("fastapiusersauth=")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        cookie,
        format!(
            "fastapiusersauth={cookie_token}; HttpOnly; Max-Age=3600; Path=/; SameSite=lax; Secure"
        )
    );

    // 3. Get my profile.
    let me = format!(
        r#"{{"id":"{id}","email":"king.arthur@camelot.bt","is_active":true,"is_superuser":false,"is_verified":false}}"#
    );
    let response = http
        .get(url("/users/me"))
        .header("content-type", "application/json")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(text(response).await, (200, me.clone()));

    // 4. Update my profile.
    let response = http
        .patch(url("/users/me"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(r#"{"password": "lancelot"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(text(response).await, (200, me.clone()));

    // 5. Become a superuser, with the command, while the server runs.
    let out = run(
        &server.dir,
        &["create-superuser", "--email", "King.Arthur@camelot.bt"],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "king.arthur@camelot.bt is now a superuser\n"
    );
    let out = run(
        &server.dir,
        &["create-superuser", "--email", "merlin@camelot.bt"],
        &[("AXUM_USERS_PASSWORD", "viviane-the-wise")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("created superuser merlin@camelot.bt (")
    );

    // 5.1 Get, update, delete any user.
    let response = http
        .post(url("/auth/register"))
        .json(&json!({"email": "percival@camelot.bt", "password": "angharad"}))
        .send()
        .await
        .unwrap();
    let percival: Value = response.json().await.unwrap();
    let pid = percival["id"].as_str().unwrap();
    let response = http
        .get(url(&format!("/users/{pid}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        text(response).await,
        (
            200,
            format!(
                r#"{{"id":"{pid}","email":"percival@camelot.bt","is_active":true,"is_superuser":false,"is_verified":false}}"#
            )
        )
    );
    let response = http
        .patch(url(&format!("/users/{pid}")))
        .bearer_auth(&token)
        .json(&json!({"is_superuser": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        text(response).await,
        (
            200,
            format!(
                r#"{{"id":"{pid}","email":"percival@camelot.bt","is_active":true,"is_superuser":true,"is_verified":false}}"#
            )
        )
    );
    let response = http
        .delete(url(&format!("/users/{pid}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(text(response).await, (204, String::new()));
    let response = http
        .get(url(&format!("/users/{pid}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        text(response).await,
        (404, r#"{"detail":"Not Found"}"#.into())
    );

    // The superuser created by the command logs in, verified and active.
    let response = http
        .post(url("/auth/jwt/login"))
        .form(&[
            ("username", "merlin@camelot.bt"),
            ("password", "viviane-the-wise"),
        ])
        .send()
        .await
        .unwrap();
    let merlin_token = response.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = http
        .get(url("/users/me"))
        .bearer_auth(&merlin_token)
        .send()
        .await
        .unwrap();
    let merlin: Value = response.json().await.unwrap();
    assert_eq!(
        (
            merlin["is_superuser"].as_bool(),
            merlin["is_verified"].as_bool(),
            merlin["is_active"].as_bool()
        ),
        (Some(true), Some(true), Some(true))
    );

    // 6. Logout.
    let response = http
        .post(url("/auth/cookie/logout"))
        .header("content-type", "application/json")
        .header("cookie", format!("fastapiusersauth={cookie_token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(
        response.headers()["set-cookie"],
        r#"fastapiusersauth=""; HttpOnly; Max-Age=0; Path=/; SameSite=lax; Secure"#
    );
    let response = http
        .post(url("/auth/jwt/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(text(response).await, (204, String::new()));

    // Framework-level answers as FastAPI gives them.
    let response = http.get(url("/nowhere")).send().await.unwrap();
    assert_eq!(
        text(response).await,
        (404, r#"{"detail":"Not Found"}"#.into())
    );
    let response = http.put(url("/users/me")).send().await.unwrap();
    assert_eq!(
        text(response).await,
        (405, r#"{"detail":"Method Not Allowed"}"#.into())
    );
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Absolute, as Starlette builds it from the request's Host.
    let response = no_redirect.get(url("/users/me/")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 307);
    let host = server.base.trim_start_matches("http://");
    assert_eq!(
        response.headers()["location"],
        format!("http://{host}/users/me").as_str()
    );
    let response = no_redirect
        .get(url("/users/me/?x=1"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["location"],
        format!("https://{host}/users/me?x=1").as_str()
    );

    // The generated secret sits beside the database, readable by its owner only.
    let secret = server.dir.join("axum-users.secret");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert!(server.dir.join("axum-users.db").exists());
}

#[tokio::test]
async fn serves_openapi_and_docs_without_a_cdn() {
    let server = start("docs").await;
    let response = reqwest::get(format!("{}/openapi.json", server.base))
        .await
        .unwrap();
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut paths: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [
            "/auth/cookie/login",
            "/auth/cookie/logout",
            "/auth/forgot-password",
            "/auth/jwt/login",
            "/auth/jwt/logout",
            "/auth/logout-everywhere",
            "/auth/mfa",
            "/auth/mfa/recovery-codes",
            "/auth/mfa/totp/disable",
            "/auth/mfa/totp/enable",
            "/auth/mfa/totp/setup",
            "/auth/mfa/verify",
            "/auth/passkeys",
            "/auth/passkeys/login/begin",
            "/auth/passkeys/login/finish",
            "/auth/passkeys/register/begin",
            "/auth/passkeys/register/finish",
            "/auth/passkeys/{id}",
            "/auth/register",
            "/auth/request-verify-token",
            "/auth/reset-password",
            "/auth/sessions",
            "/auth/sessions/{id}",
            "/auth/verify",
            "/events",
            "/users",
            "/users/me",
            "/users/me/events",
            "/users/{id}",
            "/users/{id}/events",
            "/users/{id}/mfa",
            "/users/{id}/reset-password",
            "/users/{id}/sessions",
            "/users/{id}/sessions/{session_id}"
        ]
    );
    assert_eq!(
        doc["paths"]["/users/{id}"]["get"]["operationId"],
        "users_user_users__id__get"
    );
    let responses: Vec<&String> = doc["paths"]["/users/{id}"]["patch"]["responses"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(
        responses,
        ["200", "401", "403", "404", "400", "422", "408", "413", "503"]
    );
    // The page at /docs itself (a redirect to /docs/ made Swagger UI post the login to
    // /docs/auth/jwt/login), /docs/ redirected to it, assets and the OAuth2 redirect local.
    let response = reqwest::get(format!("{}/docs", server.base)).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let page = response.text().await.unwrap();
    assert!(
        page.contains("<title>FastAPI - Swagger UI</title>"),
        "{page}"
    );
    assert!(page.contains(r#""layout": "BaseLayout""#), "{page}");
    assert!(!page.contains("https://"), "assets are served locally");
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let slash = no_redirect
        .get(format!("{}/docs/", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(slash.status().as_u16(), 307);
    assert_eq!(
        slash.headers()["location"],
        format!("{}/docs", server.base).as_str()
    );
    for (asset, kind) in [
        ("swagger-ui-bundle.js", "text/javascript"),
        ("swagger-ui.css", "text/css"),
        ("oauth2-redirect", "text/html"),
    ] {
        let response = reqwest::get(format!("{}/docs/{asset}", server.base))
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{asset}");
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(content_type.starts_with(kind), "{asset}: {content_type}");
    }
}

#[test]
fn bad_configuration_fails_with_one_clear_line() {
    let dir = temp_dir("config");
    let cases: [(&[(&str, &str)], &str); 28] = [
        (&[("AXUM_USERS_METRICS_BIND", "nowhere")], "error: invalid configuration: AXUM_USERS_METRICS_BIND \"nowhere\" is not an address:port: invalid socket address syntax\n"),
        (&[("AXUM_USERS_BACKGROUND_LIMIT", "many")], ""),
        (&[("AXUM_USERS_ID_TYPE", "serial")], "error: invalid configuration: AXUM_USERS_ID_TYPE must be uuid or integer (got \"serial\")\n"),
        (&[("AXUM_USERS_DATABASE_URL", "mysql://nope")], "error: invalid configuration: AXUM_USERS_DATABASE_URL must be a sqlite: or postgres:// URL (got mysql://nope)\n"),
        (&[("AXUM_USERS_DATABASE_URL", "postgres://app:hunter2@127.0.0.1:1/app")], "error: invalid configuration: AXUM_USERS_SECRET must be set with a PostgreSQL database (and be the same on every instance)\n"),
        (&[("AXUM_USERS_BACKENDS", "jwt,ldap")], "error: invalid configuration: AXUM_USERS_BACKENDS: unknown backend \"ldap\" (jwt, cookie, db, redis)\n"),
        (&[("AXUM_USERS_ALLOWED_ORIGINS", "https://app.camelot.bt, camelot.bt")], "error: invalid configuration: AXUM_USERS_ALLOWED_ORIGINS: \"camelot.bt\" is not an origin (scheme://host[:port])\n"),
        (&[("AXUM_USERS_RATE_LIMITS", "on"), ("AXUM_USERS_RATE_LIMIT_LOGIN", "fast")], "error: invalid configuration: AXUM_USERS_RATE_LIMIT_LOGIN must be N/SECONDS (e.g. 20/60) or off, got \"fast\"\n"),
        (&[("AXUM_USERS_WEBAUTHN_ORIGINS", "https://camelot.bt")], "error: invalid configuration: AXUM_USERS_WEBAUTHN_RP_ID / AXUM_USERS_WEBAUTHN_ORIGINS: invalid passkey relying party id \"localhost\": it must be the host of every origin or a parent domain of it (https://camelot.bt is not)\n"),
        (&[("AXUM_USERS_WEBAUTHN_RP_ID", "camelot.bt"), ("AXUM_USERS_WEBAUTHN_ORIGINS", "https://camelot.bt, camelot.bt")], "error: invalid configuration: AXUM_USERS_WEBAUTHN_RP_ID / AXUM_USERS_WEBAUTHN_ORIGINS: invalid passkey origin \"camelot.bt\": expected scheme://host[:port], e.g. https://example.com\n"),
        (&[("AXUM_USERS_WEBHOOK_URL", "https://hooks.camelot.bt/auth")], "error: invalid configuration: webhooks need AXUM_USERS_WEBHOOK_SECRET (the key receivers check signatures with)\n"),
        (&[("AXUM_USERS_WEBHOOK_URL", "https://hooks.camelot.bt/auth login.maybe"), ("AXUM_USERS_WEBHOOK_SECRET", "k")], "error: invalid configuration: AXUM_USERS_WEBHOOK_URL: unknown webhook event type \"login.maybe\"\n"),
        (&[("AXUM_USERS_RATE_LIMITS", "sometimes")], "error: invalid configuration: AXUM_USERS_RATE_LIMITS must be on or off, got \"sometimes\"\n"),
        (&[("AXUM_USERS_RATE_LIMITS", "on"), ("AXUM_USERS_LOGIN_BACKOFF", "5/1")], "error: invalid configuration: AXUM_USERS_LOGIN_BACKOFF must be FREE/FIRST_SECONDS/MAX_SECONDS (e.g. 5/1/900) or off, got \"5/1\"\n"),
        (&[("AXUM_USERS_RATE_LIMITS", "on"), ("AXUM_USERS_TRUSTED_PROXIES", "10.0.0.1, proxy.local")], "error: invalid configuration: AXUM_USERS_TRUSTED_PROXIES: \"proxy.local\" is not an IP address\n"),
        (&[("AXUM_USERS_BACKENDS", "jwt,jwt")], "error: invalid configuration: AXUM_USERS_BACKENDS names \"jwt\" twice\n"),
        (&[("AXUM_USERS_COOKIE_SAMESITE", "none"), ("AXUM_USERS_COOKIE_SECURE", "false")], "error: invalid configuration: backend \"cookie\": a SameSite=none cookie without Secure is dropped by every browser; make it Secure (server: AXUM_USERS_COOKIE_SECURE=true, served over HTTPS) or use SameSite=lax\n"),
        (&[("AXUM_USERS_CORS_HEADERS", "x-ok, bad header")], "error: invalid configuration: AXUM_USERS_CORS_HEADERS: \"bad header\" is not a header name\n"),
        (&[("AXUM_USERS_BACKENDS", "redis")], "error: invalid configuration: the redis backend needs AXUM_USERS_REDIS_URL\n"),
        (&[("AXUM_USERS_BACKENDS", "redis"), ("AXUM_USERS_REDIS_URL", "redis://:hunter2@127.0.0.1:1")], ""),
        (&[("AXUM_USERS_SECRET", "s"), ("AXUM_USERS_DATABASE_URL", "postgres://app:hunter2@127.0.0.1:1/app")], ""),
        (&[("AXUM_USERS_BIND", "not-an-address")], "error: invalid configuration: AXUM_USERS_BIND \"not-an-address\" is not an address:port: invalid socket address syntax\n"),
        (&[("AXUM_USERS_JWT_ALGORITHM", "RS256"), ("AXUM_USERS_JWT_PRIVATE_KEY_FILE", "missing.pem"), ("AXUM_USERS_JWT_PUBLIC_KEY_FILE", "missing.pem")], "error: cannot read the key file missing.pem: No such file or directory (os error 2)\n"),
        (&[("AXUM_USERS_COOKIE_SECURE", "maybe")], ""),
        (&[("AXUM_USERS_VERIFY_URL", "https://camelot.bt/verify")], "error: invalid configuration: AXUM_USERS_VERIFY_URL must contain {token} where the token goes (got \"https://camelot.bt/verify\")\n"),
        (&[("AXUM_USERS_SMTP_URL", "http://mail.camelot.bt")], ""),
        (&[("AXUM_USERS_MAIL_FROM", "not an address")], ""),
        (&[("AXUM_USERS_MAIL_TEMPLATES", "no-such-dir")], "error: invalid configuration: AXUM_USERS_MAIL_TEMPLATES: the e-mail template directory no-such-dir does not exist\n"),
    ];
    for (envs, expected) in cases {
        let out = run(&dir, &[], envs);
        assert_eq!(out.status.code(), Some(1), "{envs:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            !stderr.contains("hunter2"),
            "no password in errors: {stderr}"
        );
        if !expected.is_empty() {
            assert_eq!(stderr, expected);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn port_in_use_is_a_clean_error() {
    let dir = temp_dir("port");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run(&dir, &[], &[("AXUM_USERS_BIND", &addr)]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        format!("error: cannot listen on {addr}: Address already in use (os error 98)\n")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn create_superuser_refuses_bad_input() {
    let dir = temp_dir("superuser");
    let out = run(
        &dir,
        &[
            "create-superuser",
            "--email",
            "not-an-email",
            "--password",
            "long enough",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: invalid e-mail address: An email address must have an @-sign.\n"
    );
    let out = run(
        &dir,
        &[
            "create-superuser",
            "--email",
            "a@camelot.bt",
            "--password",
            "short",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .ends_with("error: password refused: Password should be at least 8 characters\n"));
    let out = run(&dir, &["create-superuser", "--email", "a@camelot.bt"], &[]);
    assert_eq!(out.status.code(), Some(1), "no password and no terminal");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The README's walkthrough, run as written against the server, each documented answer
/// compared with what the server prints (`…` stands for ids and tokens).
#[tokio::test]
async fn readme_walkthrough_works_as_written() {
    // Every flow block, in order, against one server.
    let blocks = readme_blocks("flow");
    assert_eq!(blocks.len(), 2);
    let script = without_fences(&blocks.concat());
    // With the default limits on, as a newcomer runs it.
    let server = start_in(
        temp_dir("readme"),
        &[("AXUM_USERS_RATE_LIMITS", "on".to_owned())],
    )
    .await;
    run_readme_script(&server, &script);
}

/// The README's sessions section: the server started as it says (its settings read from the
/// command line it shows), then its commands, answers compared as in the walkthrough.
#[tokio::test]
async fn readme_refresh_example_works_as_written() {
    let block = readme_blocks("refresh").remove(0);
    let mut code = block
        .split("```sh\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap());
    let start_line = code.next().unwrap().trim();
    let settings: Vec<(&str, String)> = start_line
        .strip_suffix("cargo run --release")
        .unwrap()
        .split_whitespace()
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap();
            (name, value.to_owned())
        })
        .collect();
    assert_eq!(settings, [("AXUM_USERS_REFRESH_TOKENS", "on".to_owned())]);
    let server = start_in(temp_dir("readme-refresh"), &settings).await;
    run_readme_script(&server, code.next().unwrap());
}

/// The README's second-factor walkthrough: enrol with the `totp-code` helper standing in for an
/// authenticator app, a login answering the challenge, a recovery code completing it once.
#[tokio::test]
async fn readme_mfa_walkthrough_works_as_written() {
    let script = without_fences(&readme_blocks("mfa").remove(0));
    let server = start_in(temp_dir("readme-mfa"), &[]).await;
    run_readme_script(&server, &script);
}

/// The README's blocks between `<!-- readme-NAME:start -->` and `<!-- readme-NAME:end -->`.
fn readme_blocks(name: &str) -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let (start, end) = (
        format!("<!-- readme-{name}:start -->"),
        format!("<!-- readme-{name}:end -->"),
    );
    let blocks: Vec<String> = readme
        .split(start.as_str())
        .skip(1)
        .filter_map(|rest| rest.split(end.as_str()).next())
        .map(str::to_owned)
        .collect();
    assert!(!blocks.is_empty(), "no {start} in the README");
    blocks
}

/// A block's lines without its code fences.
fn without_fences(block: &str) -> String {
    block
        .lines()
        .filter(|line| !line.starts_with("```"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs README commands against `server`, each documented answer (`# ...` lines) compared with
/// what the server prints (`…` stands for ids and tokens).
fn run_readme_script(server: &Server, script: &str) {
    let script = script
        .replace("http://localhost:8000", &server.base)
        .replace("cargo run --release -q --", BIN);
    let expected: Vec<String> = script
        .lines()
        .filter(|l| {
            l.starts_with("# ")
                && !l[2..].starts_with(|c: char| c.is_ascii_digit() && l.contains('.'))
        })
        .map(|l| l[2..].to_owned())
        .collect();
    // Every curl answer on a line of its own, as the README shows them.
    let prelude = "set -euo pipefail\ncurl() { command curl \"$@\"; echo; }\n";
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("{prelude}{script}"))
        .current_dir(&server.dir)
        .env("AXUM_USERS_ARGON2_MEMORY_KIB", "1024")
        .env("AXUM_USERS_ARGON2_ITERATIONS", "1")
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(printed.len(), expected.len(), "{printed:#?}\n{expected:#?}");
    for (got, want) in printed.iter().zip(&expected) {
        let parts: Vec<&str> = want.split('…').collect();
        let mut rest = *got;
        let mut ok = rest.starts_with(parts[0]);
        rest = rest.get(parts[0].len()..).unwrap_or("");
        for part in &parts[1..] {
            match rest.find(part) {
                Some(i) if ok => rest = &rest[i + part.len()..],
                _ => ok = false,
            }
        }
        let ok = ok
            && (parts.len() > 1 && (parts.last() == Some(&"") || rest.is_empty()) || got == want);
        assert!(ok, "README says {want:?}, server printed {got:?}");
    }
}

/// A database written by FastAPI Users 15.0.5 (SQLAlchemy schema, pwdlib argon2id hash, a
/// passlib-era bcrypt hash, an OAuth account), dumped to SQL, opened by the server unchanged.
#[tokio::test]
async fn opens_a_fastapi_users_database_unchanged() {
    let dir = temp_dir("fastapi-db");
    let db = dir.join("fastapi-users.db");
    {
        use sqlx::ConnectOptions as _;
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&db)
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        sqlx::raw_sql(include_str!("fixtures/fastapi-users.sql"))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let server = start_in(
        dir,
        &[
            (
                "AXUM_USERS_DATABASE_URL",
                format!("sqlite://{}", db.display()),
            ),
            (
                "AXUM_USERS_SECRET",
                "fastapi-users-shared-secret".to_owned(),
            ),
        ],
    )
    .await;
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.base);

    // A token minted by FastAPI Users (PyJWT) with the shared secret is accepted.
    let pyjwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI1MmM3YmQ2NS02ZDAzLTRiYzItOGRiNy1mMzY2MTViOTRhYTAiLCJhdWQiOlsiZmFzdGFwaS11c2VyczphdXRoIl19.zOf9BuRzf4DRULfK3IRQYsN1kLPEJ2-tkWYSdbt5R4g";
    let response = http
        .get(url("/users/me"))
        .bearer_auth(pyjwt)
        .send()
        .await
        .unwrap();
    assert_eq!(
        text(response).await,
        (200, r#"{"id":"52c7bd65-6d03-4bc2-8db7-f36615b94aa0","email":"King.Arthur@camelot.bt","is_active":true,"is_superuser":true,"is_verified":true}"#.into())
    );
    // Its pwdlib argon2id hash (m=65536,t=3,p=4) verifies, in any e-mail case, and is kept.
    let response = http
        .post(url("/auth/jwt/login"))
        .form(&[
            ("username", "king.arthur@camelot.bt"),
            ("password", "guinevere"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let token = response.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The passlib-era bcrypt hash verifies and is upgraded to argon2id.
    let response = http
        .post(url("/auth/jwt/login"))
        .form(&[
            ("username", "percival@camelot.bt"),
            ("password", "guinevere"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let hashes: Vec<(String, String)> =
        sqlx::query_as("SELECT email, hashed_password FROM user ORDER BY email")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(
        hashes[0].1.starts_with("$argon2id$v=19$m=65536,t=3,p=4$"),
        "stronger hash kept: {}",
        hashes[0].1
    );
    assert!(
        hashes[1].1.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"),
        "bcrypt upgraded: {}",
        hashes[1].1
    );
    // Deleting a user with an OAuth account (a 500 in FastAPI Users) removes both.
    let response = http
        .delete(url("/users/73dbe307-1b7c-4c5e-9d0a-4a1e4f2b1c11"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(text(response).await, (204, String::new()));
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM oauth_account")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn stops_gracefully_on_sigterm() {
    let mut server = start("sigterm").await;
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "server did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn reads_a_toml_configuration_file() {
    let dir = temp_dir("toml");
    std::fs::write(
        dir.join("users.toml"),
        "database_url = \"sqlite://from-toml.db\"\nsecret = \"from the file\"\npassword_min_length = 12\n",
    )
    .unwrap();
    let out = run(
        &dir,
        &[
            "--config",
            "users.toml",
            "create-superuser",
            "--email",
            "a@camelot.bt",
            "--password",
            "eleven char",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: password refused: Password should be at least 12 characters\n"
    );
    let out = run(
        &dir,
        &[
            "--config",
            "users.toml",
            "create-superuser",
            "--email",
            "a@camelot.bt",
            "--password",
            "twelve chars",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("from-toml.db").exists());
    assert!(
        !dir.join("from-toml.secret").exists(),
        "the configured secret is used"
    );
    // The environment overrides the file.
    let out = run(
        &dir,
        &["--config", "users.toml", "migrate"],
        &[("AXUM_USERS_DATABASE_URL", "sqlite://from-env.db")],
    );
    assert!(out.status.success());
    assert!(dir.join("from-env.db").exists());
    let out = run(&dir, &["--config", "missing.toml", "migrate"], &[]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: configuration file missing.toml does not exist\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The user cache (on by default) never serves a user changed by another process: two servers
/// and the `create-superuser` command share one SQLite file; a deactivation made through one
/// server is refused at once by the other, whose cache held the user.
#[tokio::test]
async fn the_user_cache_sees_writes_of_other_processes() {
    let dir = temp_dir("cache");
    let a = start_in(dir.clone(), &[]).await;
    let b = start_in(dir.clone(), &[]).await;
    let http = reqwest::Client::new();
    let login = |base: String, email: &'static str, password: &'static str| {
        let http = http.clone();
        async move {
            let response = http
                .post(format!("{base}/auth/jwt/login"))
                .form(&[("username", email), ("password", password)])
                .send()
                .await
                .unwrap();
            let body: Value = response.json().await.unwrap();
            body["access_token"].as_str().unwrap().to_owned()
        }
    };
    let me = |base: String, token: String| {
        let http = http.clone();
        async move {
            let response = http
                .get(format!("{base}/users/me"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            text(response).await
        }
    };
    let response = http
        .post(format!("{}/auth/register", a.base))
        .json(&json!({"email": "galahad@camelot.bt", "password": "grail-quest"}))
        .send()
        .await
        .unwrap();
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let galahad = login(b.base.clone(), "galahad@camelot.bt", "grail-quest").await;
    for _ in 0..3 {
        assert_eq!(me(b.base.clone(), galahad.clone()).await.0, 200);
    }

    // Another process makes Merlin a superuser; server A serves him as one at once.
    let out = run(
        &dir,
        &[
            "create-superuser",
            "--email",
            "merlin@camelot.bt",
            "--password",
            "viviane-of-avalon",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let merlin = login(a.base.clone(), "merlin@camelot.bt", "viviane-of-avalon").await;
    let response = http
        .patch(format!("{}/users/{id}", a.base))
        .bearer_auth(&merlin)
        .json(&json!({"is_active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        me(b.base.clone(), galahad.clone()).await,
        (401, r#"{"detail":"Unauthorized"}"#.to_owned())
    );
    drop((a, b));
}

/// The limits are on by default and count the socket's address: the third login from this
/// client within the window gets 429, with Retry-After.
#[tokio::test]
async fn rate_limits_apply_to_real_connections() {
    let env = [
        ("AXUM_USERS_RATE_LIMITS", "on".to_owned()),
        ("AXUM_USERS_RATE_LIMIT_LOGIN", "2/60".to_owned()),
    ];
    let server = start_in(temp_dir("limits"), &env).await;
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let response = http
            .post(format!("{}/auth/jwt/login", server.base))
            .form(&[
                ("username", "nobody@camelot.bt"),
                ("password", "wrong-password"),
            ])
            .send()
            .await
            .unwrap();
        let retry = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        statuses.push((text(response).await, retry));
    }
    let bad = (400, r#"{"detail":"LOGIN_BAD_CREDENTIALS"}"#.to_owned());
    assert_eq!(statuses[0], (bad.clone(), None));
    assert_eq!(statuses[1], (bad, None));
    let ((status, body), retry) = &statuses[2];
    assert_eq!(
        (*status, body.as_str()),
        (429, r#"{"detail":"TOO_MANY_REQUESTS"}"#)
    );
    let retry: u64 = retry.as_deref().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
}

/// Rotating AXUM_USERS_SECRET with AXUM_USERS_PREVIOUS_SECRETS logs nobody out; dropping the
/// old secret then ends its tokens.
#[tokio::test]
async fn a_secret_rotation_keeps_sessions() {
    let dir = temp_dir("rotation");
    let old = "the old secret of at least 32 bytes";
    let new = "the new secret of at least 32 bytes";
    let server = start_in(dir.clone(), &[("AXUM_USERS_SECRET", old.to_owned())]).await;
    let http = reqwest::Client::new();
    http.post(format!("{}/auth/register", server.base))
        .json(&json!({"email": "galahad@camelot.bt", "password": "grail-quest"}))
        .send()
        .await
        .unwrap();
    let response = http
        .post(format!("{}/auth/jwt/login", server.base))
        .form(&[
            ("username", "galahad@camelot.bt"),
            ("password", "grail-quest"),
        ])
        .send()
        .await
        .unwrap();
    let token = response.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Stop without removing the directory (the database stays).
    let mut server = std::mem::ManuallyDrop::new(server);
    let _ = server.child.kill();
    let _ = server.child.wait();
    let me = |base: String| {
        let http = http.clone();
        let token = token.clone();
        async move {
            let response = http
                .get(format!("{base}/users/me"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            response.status().as_u16()
        }
    };
    let rotated = start_in(
        dir.clone(),
        &[
            ("AXUM_USERS_SECRET", new.to_owned()),
            ("AXUM_USERS_PREVIOUS_SECRETS", old.to_owned()),
        ],
    )
    .await;
    assert_eq!(me(rotated.base.clone()).await, 200);
    let mut rotated = std::mem::ManuallyDrop::new(rotated);
    let _ = rotated.child.kill();
    let _ = rotated.child.wait();
    let done = start_in(dir, &[("AXUM_USERS_SECRET", new.to_owned())]).await;
    assert_eq!(me(done.base.clone()).await, 401);
}

#[tokio::test]
async fn password_change_revokes_jwts_when_configured() {
    let server = start_in(
        temp_dir("revoke-jwts"),
        &[("AXUM_USERS_PASSWORD_CHANGE_REVOKES_JWTS", "true".to_owned())],
    )
    .await;
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.base);
    let response = http
        .post(url("/auth/register"))
        .json(&json!({"email": "galahad@camelot.bt", "password": "grail-quest"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let login = |password: &'static str| login(&server, "galahad@camelot.bt", password);
    let me = |token: String| {
        let http = http.clone();
        let url = url("/users/me");
        async move { text(http.get(url).bearer_auth(token).send().await.unwrap()).await }
    };
    let unauthorized = (401, r#"{"detail":"Unauthorized"}"#.to_owned());
    let first = login("grail-quest").await;
    let second = login("grail-quest").await;
    let response = http
        .patch(url("/users/me"))
        .bearer_auth(&first)
        .json(&json!({"password": "holy-grail"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(me(first).await, unauthorized);
    assert_eq!(me(second).await, unauthorized);
    let third = login("holy-grail").await;
    assert_eq!(me(third.clone()).await.0, 200);
    let response = http
        .post(url("/auth/logout-everywhere"))
        .bearer_auth(&third)
        .send()
        .await
        .unwrap();
    assert_eq!(text(response).await, (204, String::new()));
    assert_eq!(me(third).await, unauthorized);
}

/// Slow-loris: a request head that never ends closes the connection, a body that never
/// ends answers 408, both after `AXUM_USERS_REQUEST_TIMEOUT`; other clients are served meanwhile.
#[tokio::test]
async fn slow_requests_time_out() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let server = start_in(
        temp_dir("slow"),
        &[("AXUM_USERS_REQUEST_TIMEOUT", "1".to_owned())],
    )
    .await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let read_all = |mut stream: tokio::net::TcpStream| async move {
        let started = Instant::now();
        let mut answer = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
        assert!(read.is_ok(), "the server never closed the connection");
        (
            String::from_utf8_lossy(&answer).into_owned(),
            started.elapsed(),
        )
    };

    let mut head = tokio::net::TcpStream::connect(&addr).await.unwrap();
    head.write_all(b"POST /auth/register HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    let mut body = tokio::net::TcpStream::connect(&addr).await.unwrap();
    body.write_all(
        b"POST /auth/register HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":",
    )
    .await
    .unwrap();
    let (head_answer, body_answer, served) = tokio::join!(read_all(head), read_all(body), async {
        reqwest::get(format!("{}/openapi.json", server.base))
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(served, 200);
    // The head never came: hyper closes the connection without an answer.
    assert_eq!(head_answer.0, "");
    assert!(
        head_answer.1 >= Duration::from_millis(900),
        "{:?}",
        head_answer.1
    );
    assert!(
        body_answer
            .0
            .starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{}",
        body_answer.0
    );
    assert!(
        body_answer
            .0
            .ends_with("\r\n\r\n{\"detail\":\"Request Timeout\"}"),
        "{}",
        body_answer.0
    );
    assert!(
        body_answer.1 >= Duration::from_millis(900),
        "{:?}",
        body_answer.1
    );
}

/// Sockets that never send a byte: each is closed after `AXUM_USERS_REQUEST_TIMEOUT`, and more
/// of them than the server has descriptors for do not keep it from serving others. With 256
/// descriptors (the cap is then 128 connections) and 300 silent sockets, a client that sends its
/// request is answered at once, long before the 30 s timeout would free anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed_and_capped() {
    use tokio::io::AsyncReadExt as _;
    // The test holds 300 sockets itself.
    rlimit::increase_nofile_limit(4096).unwrap();
    let short = start_in(
        temp_dir("silent-short"),
        &[("AXUM_USERS_REQUEST_TIMEOUT", "1".to_owned())],
    )
    .await;
    let addr = short.base.trim_start_matches("http://").to_owned();
    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), silent.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "a silent connection was never closed");
    assert_eq!(rest, b"");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    drop(short);

    let server = start_with_descriptors(
        temp_dir("silent-cap"),
        &[("AXUM_USERS_REQUEST_TIMEOUT", "30".to_owned())],
        256,
    )
    .await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for _ in 0..300 {
        held.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    for _ in 0..3 {
        let response = client
            .get(format!("{}/users/me", server.base))
            .send()
            .await
            .expect("a well-behaved client is served while silent sockets are held");
        assert_eq!(
            text(response).await,
            (401, r#"{"detail":"Unauthorized"}"#.to_owned())
        );
    }
    let waited = started.elapsed();
    println!("served 3 requests beside 300 silent sockets (cap 128) in {waited:?}");
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    drop(held);
}

#[tokio::test]
async fn allowed_origins_get_cors() {
    let server = start_in(
        temp_dir("cors"),
        &[(
            "AXUM_USERS_ALLOWED_ORIGINS",
            "https://app.camelot.bt".to_owned(),
        )],
    )
    .await;
    let response = reqwest::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/auth/jwt/login", server.base),
        )
        .header("origin", "https://app.camelot.bt")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(
        header("access-control-allow-origin").as_deref(),
        Some("https://app.camelot.bt")
    );
    assert_eq!(
        header("access-control-allow-credentials").as_deref(),
        Some("true")
    );
}

/// The headers front-ends add (tracing, error monitoring, fetch wrappers) pass the preflight,
/// and `AXUM_USERS_CORS_HEADERS` adds the application's own.
#[tokio::test]
async fn cors_request_headers_fit_real_front_ends() {
    let server = start_in(
        temp_dir("cors-headers"),
        &[
            (
                "AXUM_USERS_ALLOWED_ORIGINS",
                "https://app.camelot.bt".to_owned(),
            ),
            ("AXUM_USERS_CORS_HEADERS", "X-Api-Version".to_owned()),
        ],
    )
    .await;
    let response = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, format!("{}/users/me", server.base))
        .header("origin", "https://app.camelot.bt")
        .header("access-control-request-method", "PATCH")
        .header(
            "access-control-request-headers",
            "authorization,content-type,sentry-trace,baggage,traceparent,x-requested-with,x-api-version",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let allowed = response
        .headers()
        .get("access-control-allow-headers")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        allowed,
        "authorization,content-type,accept,accept-language,x-requested-with,traceparent,tracestate,baggage,sentry-trace,x-api-version"
    );
}

/// `axum-users users ...` while the server runs on the same SQLite file: list and show answer
/// the API's JSON, and a deactivation, a new password or a deletion is what the very next
/// request meets.
#[tokio::test]
async fn the_users_command_manages_users_while_the_server_runs() {
    let server = start("users-cli").await;
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/auth/register", server.base))
        .json(&json!({"email": "galahad@camelot.bt", "password": "grail-quest"}))
        .send()
        .await
        .unwrap();
    let (status, body) = text(response).await;
    assert_eq!(status, 201, "{body}");
    let galahad: Value = serde_json::from_str(&body).unwrap();
    let id = galahad["id"].as_str().unwrap().to_owned();
    let token = login(&server, "galahad@camelot.bt", "grail-quest").await;
    let me = || {
        let request = client
            .get(format!("{}/users/me", server.base))
            .bearer_auth(&token);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let cli = |args: &[&str]| {
        let out = run(&server.dir, args, &[]);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let ok = |stdout: String| (Some(0), stdout, String::new());
    let read = |active: bool| {
        json!({"id": id, "email": "galahad@camelot.bt", "is_active": active,
               "is_superuser": false, "is_verified": false})
        .to_string()
    };

    assert_eq!(
        cli(&["users", "list", "--email", "GALA"]),
        ok(format!(
            "{}\n",
            json!({"items": [galahad], "total": 1, "page": 1, "size": 50, "pages": 1})
        ))
    );
    assert_eq!(
        cli(&["users", "show", &id]),
        ok(format!("{}\n", read(true)))
    );
    assert_eq!(me().await, 200);
    assert_eq!(
        cli(&["users", "deactivate", "galahad@camelot.bt"]),
        ok(format!("{}\n", read(false)))
    );
    assert_eq!(me().await, 401);
    assert_eq!(
        cli(&["users", "activate", "galahad@camelot.bt"]),
        ok(format!("{}\n", read(true)))
    );
    assert_eq!(me().await, 200);
    assert_eq!(
        cli(&["users", "set-password", &id, "--password", "siege-perilous"]),
        ok("password changed for galahad@camelot.bt\n".into())
    );
    login(&server, "galahad@camelot.bt", "siege-perilous").await;
    assert_eq!(
        cli(&["users", "show", "percival@camelot.bt"]),
        (
            Some(1),
            String::new(),
            "error: no user percival@camelot.bt\n".into()
        )
    );
    assert_eq!(
        cli(&["users", "delete", "galahad@camelot.bt"]),
        ok("deleted galahad@camelot.bt\n".into())
    );
    assert_eq!(me().await, 401);
}

/// `AXUM_USERS_METRICS_BIND`: Prometheus text on an address of its own (never the public one),
/// counting requests by route template, method and status: a failed and a good login, a
/// registration, and a path that is no route (not counted: its label would be unbounded).
#[tokio::test]
async fn metrics_count_requests_on_their_own_address() {
    let port = free_port();
    // A webhook receiver that is down: its failures and the queue show.
    let receiver = free_port();
    let server = start_in(
        temp_dir("metrics"),
        &[
            ("AXUM_USERS_METRICS_BIND", format!("127.0.0.1:{port}")),
            (
                "AXUM_USERS_WEBHOOK_URL",
                format!("http://127.0.0.1:{receiver}/hook user.registered"),
            ),
            ("AXUM_USERS_WEBHOOK_SECRET", "k".to_owned()),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let register = client
        .post(format!("{}/auth/register", server.base))
        .json(&json!({"email": "galahad@camelot.bt", "password": "grail-quest"}))
        .send()
        .await
        .unwrap();
    assert_eq!(register.status().as_u16(), 201);
    let bad = client
        .post(format!("{}/auth/jwt/login", server.base))
        .form(&[
            ("username", "galahad@camelot.bt"),
            ("password", "wrong-quest"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    login(&server, "galahad@camelot.bt", "grail-quest").await;
    let nowhere = client
        .get(format!("{}/no/such/{}", server.base, "x".repeat(50)))
        .send()
        .await
        .unwrap();
    assert_eq!(nowhere.status().as_u16(), 404);

    let public = client
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status().as_u16(), 404);
    let (status, body) = text(
        client
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let counters: Vec<&str> = body
        .lines()
        .filter(|line| line.starts_with("axum_users_http_requests_total{"))
        .collect();
    let mut counters = counters;
    counters.sort_unstable();
    assert_eq!(
        counters,
        [
            r#"axum_users_http_requests_total{method="GET",route="/openapi.json",status="200"} 1"#,
            r#"axum_users_http_requests_total{method="POST",route="/auth/jwt/login",status="200"} 1"#,
            r#"axum_users_http_requests_total{method="POST",route="/auth/jwt/login",status="400"} 1"#,
            r#"axum_users_http_requests_total{method="POST",route="/auth/register",status="201"} 1"#,
        ]
    );
    assert!(
        body.contains(r#"axum_users_http_request_duration_seconds_count{method="POST",route="/auth/jwt/login"} 2"#),
        "{body}"
    );
    // The library's own: three hashing jobs (a registration, two logins) waited for the pool,
    // none is waiting now; the registration's verification e-mail ran after its answer.
    for line in [
        "axum_users_hash_wait_seconds_count 3",
        "axum_users_hash_queue_depth 0",
    ] {
        assert!(body.lines().any(|l| l == line), "{line} in {body}");
    }
    // The registration's webhook: one failed attempt (connection refused), still queued.
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        let (_, body) = text(
            client
                .get(format!("http://127.0.0.1:{port}/metrics"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        if body
            .lines()
            .any(|l| l.starts_with("axum_users_webhook_failures_total "))
        {
            break body;
        }
        assert!(Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        body.lines()
            .any(|l| l == "axum_users_webhook_queue_depth 1"),
        "{body}"
    );
    for gauge in [
        "axum_users_background_jobs ",
        "axum_users_db_pool_connections ",
        "axum_users_db_pool_idle ",
    ] {
        assert!(
            body.lines().any(|l| l.starts_with(gauge)),
            "{gauge} in {body}"
        );
    }
}

/// Webhooks survive a crash: the receiver is down while the server records two registrations,
/// the server is killed (SIGKILL) with the deliveries still queued, and once the receiver is up
/// the restarted server sends each event once, signed.
#[tokio::test]
async fn webhooks_are_delivered_after_a_kill_9() {
    use std::sync::{Arc, Mutex};
    let port = free_port();
    let envs = [
        (
            "AXUM_USERS_WEBHOOK_URL",
            format!("http://127.0.0.1:{port}/hook user.registered"),
        ),
        (
            "AXUM_USERS_WEBHOOK_SECRET",
            "whsec_c2VjcmV0IGtleQ==".to_owned(),
        ),
    ];
    let dir = temp_dir("webhooks-kill");
    let mut first = start_in(dir.clone(), &envs).await;
    for email in ["tristan@camelot.bt", "isolde@camelot.bt"] {
        let response = reqwest::Client::new()
            .post(format!("{}/auth/register", first.base))
            .json(&serde_json::json!({"email": email, "password": "love-potion"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 201);
    }
    // SIGKILL: no shutdown, nothing flushed.
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    // The directory (the database) stays for the next run.
    first.dir = temp_dir("webhooks-kill-unused");

    let seen: Arc<Mutex<Vec<(String, serde_json::Value, bool)>>> = Arc::default();
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post({
            let seen = seen.clone();
            move |headers: http::HeaderMap, body: String| {
                let seen = seen.clone();
                async move {
                    use base64::Engine as _;
                    use hmac::{KeyInit as _, Mac as _};
                    let header = |n: &str| headers[n].to_str().unwrap().to_owned();
                    let mut mac =
                        hmac::SimpleHmac::<sha2::Sha256>::new_from_slice(b"secret key").unwrap();
                    mac.update(
                        format!(
                            "{}.{}.{body}",
                            header("webhook-id"),
                            header("webhook-timestamp")
                        )
                        .as_bytes(),
                    );
                    let expected = format!(
                        "v1,{}",
                        base64::engine::general_purpose::STANDARD
                            .encode(mac.finalize().into_bytes())
                    );
                    seen.lock().unwrap().push((
                        header("webhook-id"),
                        serde_json::from_str(&body).unwrap(),
                        header("webhook-signature") == expected,
                    ));
                    http::StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, receiver).await });
    let _second = start_in(dir, &envs).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while seen.lock().unwrap().len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            seen.lock().unwrap()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_ne!(seen[0].0, seen[1].0);
    for (_, body, signed) in &seen {
        assert!(signed, "{body}");
        assert_eq!(body["type"], "user.registered");
        assert!(body["data"]["user_id"].is_string(), "{body}");
    }
}

/// `AXUM_USERS_CONFIRM_EMAIL_CHANGES=true`: the user's own change waits for its link
/// (`pending_email`), and the address does not switch before it.
#[tokio::test]
async fn confirmed_email_changes_wait_for_the_link() {
    let server = start_in(
        temp_dir("confirm-email"),
        &[("AXUM_USERS_CONFIRM_EMAIL_CHANGES", "true".to_owned())],
    )
    .await;
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/auth/register", server.base))
        .json(&json!({"email": "lamorak@camelot.bt", "password": "jousting-champion"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let token = login(&server, "lamorak@camelot.bt", "jousting-champion").await;
    let response = client
        .patch(format!("{}/users/me", server.base))
        .bearer_auth(&token)
        .json(&json!({"email": "sir.lamorak@camelot.bt"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["email"], "lamorak@camelot.bt");
    assert_eq!(body["pending_email"], "sir.lamorak@camelot.bt");
    let me: Value = client
        .get(format!("{}/users/me", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "lamorak@camelot.bt");
    assert_eq!(me["pending_email"], "sir.lamorak@camelot.bt");
}

/// Every answer carries an `X-Request-Id`: the client's own, echoed, or a new random UUID
/// (version 4), a different one each time.
#[tokio::test]
async fn answers_carry_a_request_id() {
    let server = start_in(temp_dir("request-id"), &[]).await;
    let client = reqwest::Client::new();
    let id_of = |response: &reqwest::Response| {
        response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut seen = std::collections::HashSet::new();
    for _ in 0..20 {
        let response = client
            .get(format!("{}/health", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let id = id_of(&response).expect("an X-Request-Id");
        let parsed = uuid::Uuid::parse_str(&id).unwrap();
        assert_eq!(parsed.get_version_num(), 4, "{id}");
        assert_eq!(parsed.hyphenated().to_string(), id);
        assert!(seen.insert(id), "a request id came twice");
    }
    let response = client
        .get(format!("{}/health", server.base))
        .header("x-request-id", "from-the-proxy-42")
        .send()
        .await
        .unwrap();
    assert_eq!(id_of(&response).as_deref(), Some("from-the-proxy-42"));
}
