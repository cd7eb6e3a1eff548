//! E-mail verification and password reset (SPEC §3.4–3.7, §7.2–7.5): the four routes over the
//! router and real SQLite, the hooks in order, the e-mails, and tokens exchanged with
//! FastAPI Users.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum_users::UserStore as _;
use axum_users::{AxumUsers, SqliteStore, TokenKind, TokenSettings, User, UserSchema};
use axum_users::{Email, MailError, Mailer, RetryPolicy};
use common::token_in;
use common::{app, app_with, payload, sign, Options, Reply, TestApp, BCRYPT_GUINEVERE};
use http::{Method, Request, StatusCode};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(5);

impl TestApp {
    async fn post(&self, uri: &str, body: &str) -> Reply {
        self.json(Method::POST, uri, None, body).await
    }

    /// Posts, expects `202 null`, and waits for the work done after the answer.
    async fn accepted(&self, uri: &str, email: &str) {
        let reply = self.post(uri, &json!({ "email": email }).to_string()).await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (StatusCode::ACCEPTED, "null")
        );
        assert_eq!(reply.header("content-type"), Some("application/json"));
        self.users.wait_background().await;
    }

    /// The one token mailed since the last call, checked against the one the hook saw.
    fn mailed_token(&self, kind: TokenKind, to: &str) -> String {
        let messages = self.mailer.take();
        assert_eq!(messages.len(), 1, "{messages:?}");
        let email = &messages[0];
        assert_eq!(
            (email.kind.clone(), email.to.as_str()),
            (axum_users::MailKind::from(kind), to)
        );
        let token = token_in(&email.text).expect("token= in the text body");
        assert_eq!(token_in(&email.html), Some(token));
        assert_eq!(self.hooks.tokens(), [token]);
        token.to_owned()
    }

    /// Asks for a token by e-mail and returns the one mailed.
    async fn issued(&self, kind: TokenKind, email: &str) -> String {
        let uri = match kind {
            TokenKind::Verify => "/auth/request-verify-token",
            TokenKind::Reset => "/auth/forgot-password",
            other => panic!("no route mails a {other:?} token"),
        };
        self.accepted(uri, email).await;
        self.hooks.take();
        self.mailed_token(kind, email)
    }

    /// Each body gets 422 with exactly the expected detail.
    async fn unprocessable(&self, uri: &str, cases: &[(&str, String)]) {
        for (body, expected) in cases {
            let reply = self.post(uri, body).await;
            assert_eq!(
                (reply.status, reply.body.as_str()),
                (StatusCode::UNPROCESSABLE_ENTITY, expected.as_str()),
                "{uri} {body}"
            );
        }
    }

    fn nothing_sent(&self) {
        assert!(self.hooks.take().is_empty());
        assert!(self.hooks.tokens().is_empty());
        assert!(self.mailer.take().is_empty());
    }
}

fn bad(code: &str) -> String {
    format!(r#"{{"detail":"{code}"}}"#)
}

fn missing(field: &str) -> String {
    format!(r#"{{"type":"missing","loc":["body","{field}"],"msg":"Field required","input":null}}"#)
}

fn detail(items: &[String]) -> String {
    format!(r#"{{"detail":[{}]}}"#, items.join(","))
}

fn exp_in(token: &str) -> i64 {
    payload(token)["exp"].as_i64().unwrap() - common::now_unix()
}

#[tokio::test]
async fn request_verify_token_mails_a_fastapi_users_token() {
    let app = app().await;
    app.accepted("/auth/request-verify-token", "King.Arthur@Camelot.bt")
        .await;
    assert_eq!(app.hooks.take(), ["request_verify:king.arthur@camelot.bt"]);
    let messages = app.mailer.messages();
    assert_eq!(
        messages[0].subject,
        "Confirm your e-mail address for axum-users"
    );
    let token = app.mailed_token(TokenKind::Verify, "king.arthur@camelot.bt");
    let user = app.user("king.arthur@camelot.bt").await;
    let claims = payload(&token);
    let keys: Vec<&String> = claims.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["sub", "email", "aud", "exp"]);
    assert_eq!(claims["sub"], user.id.to_string());
    assert_eq!(claims["email"], "king.arthur@camelot.bt");
    assert_eq!(claims["aud"], "fastapi-users:verify");
    assert!((3595..=3600).contains(&exp_in(&token)));
}

#[tokio::test]
async fn request_verify_token_says_nothing_about_the_address() {
    let app = app().await;
    for email in [
        "lancelot@camelot.bt",  // unknown
        "percival@camelot.bt",  // inactive
        "lake.lady@camelot.bt", // already verified
        "the.real.merlin@camelot.bt",
    ] {
        app.accepted("/auth/request-verify-token", email).await;
        app.nothing_sent();
    }
}

#[tokio::test]
async fn email_routes_validate_their_body_like_fastapi() {
    let app = app().await;
    for uri in ["/auth/request-verify-token", "/auth/forgot-password"] {
        let cases = [
            ("", detail(&[missing("email")])),
            ("{}", detail(&[missing("email")])),
            ("[]", detail(&[missing("email")])),
            (r#""king.arthur@camelot.bt""#, detail(&[missing("email")])),
            (
                r#"{"email":"nope"}"#,
                r#"{"detail":[{"type":"value_error","loc":["body","email"],"msg":"value is not a valid email address: An email address must have an @-sign.","input":"nope","ctx":{"reason":"An email address must have an @-sign."}}]}"#.into(),
            ),
            (
                r#"{"email":1}"#,
                r#"{"detail":[{"type":"string_type","loc":["body","email"],"msg":"Input should be a valid string","input":1}]}"#.into(),
            ),
            (
                "{\"email\":",
                r#"{"detail":[{"type":"json_invalid","loc":["body",9],"msg":"JSON decode error","input":{},"ctx":{"error":"Expecting value"}}]}"#.into(),
            ),
        ];
        app.unprocessable(uri, &cases).await;
        // A body not declared as JSON is not read: the field is missing.
        let request = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header("content-type", "text/plain")
            .body(Body::from(r#"{"email":"king.arthur@camelot.bt"}"#))
            .unwrap();
        let reply = app.send(request).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reply.body, detail(&[missing("email")]));
    }
    app.users.wait_background().await;
    app.nothing_sent();
}

#[tokio::test]
async fn verify_marks_the_user_verified_once() {
    let app = app().await;
    let token = app
        .issued(TokenKind::Verify, "king.arthur@camelot.bt")
        .await;
    let user = app.user("king.arthur@camelot.bt").await;
    let body = json!({ "token": token }).to_string();
    let reply = app.post("/auth/verify", &body).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body,
        format!(
            r#"{{"id":"{}","email":"king.arthur@camelot.bt","is_active":true,"is_superuser":false,"is_verified":true}}"#,
            user.id
        )
    );
    // on_after_verify, and no on_after_update.
    assert_eq!(app.hooks.take(), ["verify:king.arthur@camelot.bt:true"]);
    assert!(app.user("king.arthur@camelot.bt").await.is_verified);
    let reply = app.post("/auth/verify", &body).await;
    assert_eq!(
        (reply.status, reply.body),
        (StatusCode::BAD_REQUEST, bad("VERIFY_USER_ALREADY_VERIFIED"))
    );
    assert!(app.hooks.take().is_empty());
}

#[tokio::test]
async fn verify_refuses_every_bad_token_alike() {
    let app = app().await;
    let arthur = app.user("king.arthur@camelot.bt").await;
    let lady = app.user("lake.lady@camelot.bt").await;
    let id = arthur.id.to_string();
    let aud = "fastapi-users:verify";
    let far = common::now_unix() + 3600;
    let auth_token = app.login("king.arthur@camelot.bt", "guinevere").await;
    app.hooks.take();
    let other_secret = axum_users::JwtKeys::hs256(b"another secret")
        .encode(
            json!({"sub": id, "email": arthur.email, "aud": aud, "exp": far})
                .as_object()
                .unwrap(),
        )
        .unwrap();
    let cases = [
        ("not a token".to_owned(), "garbage"),
        (String::new(), "empty"),
        (other_secret, "wrong secret"),
        (
            sign(json!({"sub": id, "email": arthur.email, "aud": aud, "exp": far - 7200})),
            "expired",
        ),
        (
            sign(
                json!({"sub": id, "email": arthur.email, "aud": "fastapi-users:reset", "exp": far}),
            ),
            "reset audience",
        ),
        (auth_token, "auth token"),
        (
            sign(json!({"sub": id, "email": arthur.email, "exp": far})),
            "no audience",
        ),
        (
            sign(json!({"email": arthur.email, "aud": aud, "exp": far})),
            "no sub",
        ),
        (sign(json!({"sub": id, "aud": aud, "exp": far})), "no email"),
        (
            sign(json!({"sub": id, "email": "lancelot@camelot.bt", "aud": aud, "exp": far})),
            "unknown e-mail",
        ),
        (
            sign(
                json!({"sub": lady.id.to_string(), "email": arthur.email, "aud": aud, "exp": far}),
            ),
            "another user's id",
        ),
        (
            sign(json!({"sub": "not-a-uuid", "email": arthur.email, "aud": aud, "exp": far})),
            "invalid id",
        ),
        (
            sign(json!({"sub": id, "email": 42, "aud": aud, "exp": far})),
            "e-mail not a string",
        ),
    ];
    for (token, case) in cases {
        let reply = app
            .post("/auth/verify", &json!({ "token": token }).to_string())
            .await;
        assert_eq!(
            (reply.status, reply.body),
            (StatusCode::BAD_REQUEST, bad("VERIFY_USER_BAD_TOKEN")),
            "{case}"
        );
    }
    assert!(!app.user("king.arthur@camelot.bt").await.is_verified);
    assert!(app.hooks.take().is_empty());

    app.unprocessable(
        "/auth/verify",
        &[
            ("", detail(&[missing("token")])),
            ("[1]", detail(&[missing("token")])),
            (
                r#"{"token":1}"#,
                r#"{"detail":[{"type":"string_type","loc":["body","token"],"msg":"Input should be a valid string","input":1}]}"#.to_owned(),
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn a_verify_token_dies_with_an_e_mail_change_and_works_for_inactive_users() {
    let app = app().await;
    let token = app
        .issued(TokenKind::Verify, "king.arthur@camelot.bt")
        .await;
    let auth = app.login("king.arthur@camelot.bt", "guinevere").await;
    let reply = app
        .json(
            Method::PATCH,
            "/users/me",
            Some(&auth),
            r#"{"email":"king.arthur@avalon.bt"}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let reply = app
        .post("/auth/verify", &json!({ "token": token }).to_string())
        .await;
    assert_eq!(
        (reply.status, reply.body),
        (StatusCode::BAD_REQUEST, bad("VERIFY_USER_BAD_TOKEN"))
    );

    // FastAPI Users verifies inactive users too (no active check in `verify`).
    let percival = app.user("percival@camelot.bt").await;
    let token = app.users.manager().verification_token(&percival).unwrap();
    let reply = app
        .post("/auth/verify", &json!({ "token": token }).to_string())
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["is_verified"], true);
    assert_eq!(reply.json()["is_active"], false);
}

#[tokio::test]
async fn forgot_password_mails_a_single_use_reset_token() {
    let app = app().await;
    app.accepted("/auth/forgot-password", "KING.ARTHUR@camelot.bt")
        .await;
    assert_eq!(app.hooks.take(), ["forgot_password:king.arthur@camelot.bt"]);
    assert_eq!(
        app.mailer.messages()[0].subject,
        "Reset your axum-users password"
    );
    let token = app.mailed_token(TokenKind::Reset, "king.arthur@camelot.bt");
    let user = app.user("king.arthur@camelot.bt").await;
    let claims = payload(&token);
    let keys: Vec<&String> = claims.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["sub", "password_fgpt", "aud", "exp"]);
    assert_eq!(claims["sub"], user.id.to_string());
    assert_eq!(claims["aud"], "fastapi-users:reset");
    assert!(claims["password_fgpt"]
        .as_str()
        .unwrap()
        .starts_with("$argon2id$v=19$"));
    assert!((3595..=3600).contains(&exp_in(&token)));

    let body = json!({"token": token, "password": "lancelot"}).to_string();
    let reply = app.post("/auth/reset-password", &body).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::OK, "null")
    );
    // on_after_reset_password, and no on_after_update.
    assert_eq!(app.hooks.take(), ["reset_password:king.arthur@camelot.bt"]);
    app.login("king.arthur@camelot.bt", "lancelot").await;
    let old = app
        .form(
            "/auth/jwt/login",
            "username=king.arthur%40camelot.bt&password=guinevere",
        )
        .await;
    assert_eq!(old.body, bad("LOGIN_BAD_CREDENTIALS"));
    // Used once: the password it fingerprinted is gone.
    let body = json!({"token": token, "password": "percival"}).to_string();
    let reply = app.post("/auth/reset-password", &body).await;
    assert_eq!(
        (reply.status, reply.body),
        (StatusCode::BAD_REQUEST, bad("RESET_PASSWORD_BAD_TOKEN"))
    );
    app.login("king.arthur@camelot.bt", "lancelot").await;
}

#[tokio::test]
async fn forgot_password_says_nothing_about_the_address() {
    let app = app().await;
    for email in ["lancelot@camelot.bt", "percival@camelot.bt"] {
        app.accepted("/auth/forgot-password", email).await;
        app.nothing_sent();
    }
    // Verified and superusers get their token like anyone active.
    app.accepted("/auth/forgot-password", "the.real.merlin@camelot.bt")
        .await;
    app.hooks.take();
    app.mailed_token(TokenKind::Reset, "the.real.merlin@camelot.bt");
}

#[tokio::test]
async fn reset_password_refuses_bad_tokens_and_bad_passwords() {
    let app = app().await;
    let token = app.issued(TokenKind::Reset, "king.arthur@camelot.bt").await;
    let claims = payload(&token);
    let fgpt = claims["password_fgpt"].as_str().unwrap();
    let id = claims["sub"].as_str().unwrap();
    let aud = "fastapi-users:reset";
    let far = common::now_unix() + 3600;
    let lady = app.user("lake.lady@camelot.bt").await.id.to_string();
    let cases = [
        ("garbage".to_owned(), "garbage"),
        (
            sign(json!({"sub": id, "password_fgpt": fgpt, "aud": aud, "exp": far - 7200})),
            "expired",
        ),
        (
            sign(
                json!({"sub": id, "password_fgpt": fgpt, "aud": "fastapi-users:verify", "exp": far}),
            ),
            "verify audience",
        ),
        (
            sign(json!({"sub": id, "aud": aud, "exp": far})),
            "no fingerprint",
        ),
        (
            sign(json!({"password_fgpt": fgpt, "aud": aud, "exp": far})),
            "no sub",
        ),
        (
            sign(json!({"sub": "nope", "password_fgpt": fgpt, "aud": aud, "exp": far})),
            "invalid id",
        ),
        (
            sign(
                json!({"sub": uuid::Uuid::new_v4().to_string(), "password_fgpt": fgpt, "aud": aud, "exp": far}),
            ),
            "unknown user",
        ),
        (
            sign(json!({"sub": lady, "password_fgpt": fgpt, "aud": aud, "exp": far})),
            "another user's password",
        ),
        (
            sign(json!({"sub": id, "password_fgpt": "plain", "aud": aud, "exp": far})),
            "fingerprint not a hash",
        ),
    ];
    for (bad_token, case) in cases {
        let body = json!({"token": bad_token, "password": "lancelot"}).to_string();
        let reply = app.post("/auth/reset-password", &body).await;
        assert_eq!(
            (reply.status, reply.body),
            (StatusCode::BAD_REQUEST, bad("RESET_PASSWORD_BAD_TOKEN")),
            "{case}"
        );
    }
    // Password rules: the policy (3 characters here), then the application's hook.
    for (password, reason) in [
        ("ab", "Password should be at least 3 characters"),
        (
            "king.arthur@camelot.bt!",
            "Password should not contain e-mail",
        ),
    ] {
        let body = json!({"token": token, "password": password}).to_string();
        let reply = app.post("/auth/reset-password", &body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.body,
            format!(
                r#"{{"detail":{{"code":"RESET_PASSWORD_INVALID_PASSWORD","reason":"{reason}"}}}}"#
            )
        );
    }
    assert!(app.hooks.take().is_empty());
    app.login("king.arthur@camelot.bt", "guinevere").await;
    app.hooks.take();

    // A deactivated user's token is refused.
    let admin = app.login("merlin@camelot.bt", "viviane").await;
    let reply = app
        .json(
            Method::PATCH,
            &format!("/users/{id}"),
            Some(&admin),
            r#"{"is_active":false}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = json!({"token": token, "password": "lancelot"}).to_string();
    let reply = app.post("/auth/reset-password", &body).await;
    assert_eq!(reply.body, bad("RESET_PASSWORD_BAD_TOKEN"));

    app.unprocessable(
        "/auth/reset-password",
        &[
            ("{}", detail(&[missing("token"), missing("password")])),
            ("[1]", detail(&[missing("token"), missing("password")])),
            (
                r#"{"token":1,"password":null}"#,
                r#"{"detail":[{"type":"string_type","loc":["body","token"],"msg":"Input should be a valid string","input":1},{"type":"string_type","loc":["body","password"],"msg":"Input should be a valid string","input":null}]}"#.to_owned(),
            ),
            (r#"{"token":"x"}"#, detail(&[missing("password")])),
        ],
    )
    .await;
}

#[tokio::test]
async fn any_password_change_kills_outstanding_reset_tokens() {
    let app = app().await;
    // A change through PATCH /users/me.
    let token = app.issued(TokenKind::Reset, "king.arthur@camelot.bt").await;
    let auth = app.login("king.arthur@camelot.bt", "guinevere").await;
    let reply = app
        .json(
            Method::PATCH,
            "/users/me",
            Some(&auth),
            r#"{"password":"lancelot"}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = json!({"token": token, "password": "percival"}).to_string();
    assert_eq!(
        app.post("/auth/reset-password", &body).await.body,
        bad("RESET_PASSWORD_BAD_TOKEN")
    );
    // A legacy bcrypt hash upgraded at login (as in FastAPI Users).
    app.set_hash("king.arthur@camelot.bt", BCRYPT_GUINEVERE)
        .await;
    app.hooks.take();
    let token = app.issued(TokenKind::Reset, "king.arthur@camelot.bt").await;
    app.login("king.arthur@camelot.bt", "guinevere").await;
    let body = json!({"token": token, "password": "percival"}).to_string();
    assert_eq!(
        app.post("/auth/reset-password", &body).await.body,
        bad("RESET_PASSWORD_BAD_TOKEN")
    );
}

/// Made by FastAPI Users 15.0.5 (`fastapi_users.jwt.generate_jwt` and `PasswordHelper`), secret
/// `SECRET`, for user 6f5a2f39-… `galahad@camelot.bt` whose stored hash is `BCRYPT_GUINEVERE`.
const FASTAPI_USERS_VERIFY: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI2ZjVhMmYzOS0yZjViLTRlMGUtOWE1OS0yZjFjMGMzYjFlNzciLCJlbWFpbCI6ImdhbGFoYWRAY2FtZWxvdC5idCIsImF1ZCI6ImZhc3RhcGktdXNlcnM6dmVyaWZ5IiwiZXhwIjoyNzk1ODYwMzYxfQ.VeQkhazB4HoP9lY__903gYqnGP3CAxKcGmOd5H2hOzE";
const FASTAPI_USERS_RESET: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI2ZjVhMmYzOS0yZjViLTRlMGUtOWE1OS0yZjFjMGMzYjFlNzciLCJwYXNzd29yZF9mZ3B0IjoiJGFyZ29uMmlkJHY9MTkkbT02NTUzNix0PTMscD00JCtSNUEwYUJqNUcyQUREQWFZS05mOGckYklobjFlcE4rdTlQTDBXbVk3OW9wNnhYTWg3dTgvdjNFQkdrazdRVnNPWSIsImF1ZCI6ImZhc3RhcGktdXNlcnM6cmVzZXQiLCJleHAiOjI3OTU4NjAzNjF9.vSuJSBFB2AwrKL41xoGrziZgf9mmegqywnSFJYHqcqA";

async fn with_galahad() -> TestApp {
    let app = app().await;
    let mut galahad = User::new("galahad@camelot.bt", BCRYPT_GUINEVERE);
    galahad.id = axum_users::UserId::Uuid("6f5a2f39-2f5b-4e0e-9a59-2f1c0c3b1e77".parse().unwrap());
    app.store.create(&galahad).await.unwrap();
    app
}

#[tokio::test]
async fn accepts_tokens_minted_by_fastapi_users() {
    let app = with_galahad().await;
    let reply = app
        .post(
            "/auth/verify",
            &json!({"token": FASTAPI_USERS_VERIFY}).to_string(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.body,
        r#"{"id":"6f5a2f39-2f5b-4e0e-9a59-2f1c0c3b1e77","email":"galahad@camelot.bt","is_active":true,"is_superuser":false,"is_verified":true}"#
    );
    let body = json!({"token": FASTAPI_USERS_RESET, "password": "lancelot"}).to_string();
    let reply = app.post("/auth/reset-password", &body).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::OK, "null")
    );
    app.login("galahad@camelot.bt", "lancelot").await;
    let reply = app.post("/auth/reset-password", &body).await;
    assert_eq!(reply.body, bad("RESET_PASSWORD_BAD_TOKEN"));
}

/// The other way round: FastAPI Users' own code accepts our tokens. Runs the Python of
/// `AXUM_USERS_TEST_PYTHON` (set by .ci/run, with fastapi-users 15.0.5 installed).
#[tokio::test]
async fn fastapi_users_accepts_our_tokens() {
    let Some(python) = std::env::var_os("AXUM_USERS_TEST_PYTHON") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run this test: .ci/run sets AXUM_USERS_TEST_PYTHON"
        );
        eprintln!("skipped: AXUM_USERS_TEST_PYTHON is not set (set by .ci/run)");
        return;
    };
    let app = with_galahad().await;
    app.accepted("/auth/request-verify-token", "galahad@camelot.bt")
        .await;
    app.accepted("/auth/forgot-password", "galahad@camelot.bt")
        .await;
    let tokens = app.hooks.tokens();
    let script = r#"
import sys
from fastapi_users.jwt import decode_jwt
from fastapi_users.password import PasswordHelper
verify, reset, stored = sys.argv[1:4]
v = decode_jwt(verify, "SECRET", ["fastapi-users:verify"])
r = decode_jwt(reset, "SECRET", ["fastapi-users:reset"])
ok, _ = PasswordHelper().verify_and_update(stored, r["password_fgpt"])
print(v["sub"], v["email"], r["sub"], ok)
"#;
    let output = std::process::Command::new(python)
        .args(["-c", script, &tokens[0], &tokens[1], BCRYPT_GUINEVERE])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "6f5a2f39-2f5b-4e0e-9a59-2f1c0c3b1e77 galahad@camelot.bt 6f5a2f39-2f5b-4e0e-9a59-2f1c0c3b1e77 True"
    );
}

#[tokio::test]
async fn registration_can_send_the_verification_e_mail() {
    let app = app_with(Options {
        verify_on_register: true,
        ..Options::default()
    })
    .await;
    let reply = app
        .post(
            "/auth/register",
            r#"{"email":"galahad@camelot.bt","password":"grail"}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    app.users.wait_background().await;
    assert_eq!(
        app.hooks.take(),
        [
            "register:galahad@camelot.bt",
            "request_verify:galahad@camelot.bt"
        ]
    );
    let token = app.mailed_token(TokenKind::Verify, "galahad@camelot.bt");
    let reply = app
        .post("/auth/verify", &json!({ "token": token }).to_string())
        .await;
    assert_eq!(reply.json()["is_verified"], true);
}

#[tokio::test]
async fn verification_unlocks_login_when_required() {
    let app = app_with(Options {
        requires_verification: true,
        ..Options::default()
    })
    .await;
    let login = || {
        app.form(
            "/auth/jwt/login",
            "username=king.arthur%40camelot.bt&password=guinevere",
        )
    };
    assert_eq!(login().await.body, bad("LOGIN_USER_NOT_VERIFIED"));
    app.accepted("/auth/request-verify-token", "king.arthur@camelot.bt")
        .await;
    let token = app.mailed_token(TokenKind::Verify, "king.arthur@camelot.bt");
    let reply = app
        .post("/auth/verify", &json!({ "token": token }).to_string())
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(login().await.status, StatusCode::OK);
}

/// Fails `failures` times, then delivers into `sent`.
struct Flaky {
    failures: usize,
    calls: Arc<AtomicUsize>,
    sent: axum_users::MemoryMailer,
}

impl Mailer for Flaky {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
            return Err(MailError("421 try again later".into()));
        }
        self.sent.send(email).await
    }
}

async fn flaky_app(failures: usize) -> (AxumUsers, Arc<AtomicUsize>, axum_users::MemoryMailer) {
    let store = SqliteStore::connect("sqlite::memory:", UserSchema::new())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
        .create(&User::new("galahad@camelot.bt", BCRYPT_GUINEVERE))
        .await
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let sent = axum_users::MemoryMailer::new();
    let users = AxumUsers::builder(store)
        .rate_limits(axum_users::RateLimits::off())
        .password_hasher(common::fast_hasher())
        .reset_password_token(TokenSettings::new("SECRET", TokenKind::Reset))
        .mailer(Flaky {
            failures,
            calls: calls.clone(),
            sent: sent.clone(),
        })
        .mail_retry(RetryPolicy::new(
            3,
            Duration::from_millis(10),
            Duration::from_millis(20),
        ))
        .build()
        .unwrap();
    (users, calls, sent)
}

async fn forgot(users: &AxumUsers) -> Reply {
    let router: axum::Router = users.router();
    let request = Request::builder()
        .method(Method::POST)
        .uri("/auth/forgot-password")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"email":"galahad@camelot.bt"}"#))
        .unwrap();
    common::send_to(&router, request).await
}

#[tokio::test]
async fn failed_deliveries_are_retried_and_never_reach_the_client() {
    let (users, calls, sent) = flaky_app(2).await;
    let reply = forgot(&users).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::ACCEPTED, "null")
    );
    let email = sent.next(WAIT).await.expect("delivered on the third try");
    assert!(token_in(&email.text).is_some());
    users.wait_background().await;
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    let (users, calls, sent) = flaky_app(usize::MAX).await;
    let reply = forgot(&users).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::ACCEPTED, "null")
    );
    users.wait_background().await;
    assert_eq!(calls.load(Ordering::SeqCst), 3, "gives up after 3 tries");
    assert!(sent.messages().is_empty());
}

/// A mailer that does not return until the test lets it.
struct Stuck(Arc<tokio::sync::Notify>);

impl Mailer for Stuck {
    async fn send(&self, _email: &Email) -> Result<(), MailError> {
        self.0.notified().await;
        Ok(())
    }
}

#[tokio::test]
async fn the_answer_does_not_wait_for_the_lookup_token_or_e_mail() {
    let store = SqliteStore::connect("sqlite::memory:", UserSchema::new())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
        .create(&User::new("galahad@camelot.bt", BCRYPT_GUINEVERE))
        .await
        .unwrap();
    let release = Arc::new(tokio::sync::Notify::new());
    let users = AxumUsers::builder(store)
        .rate_limits(axum_users::RateLimits::off())
        .password_hasher(common::fast_hasher())
        .mailer(Stuck(release.clone()))
        .build()
        .unwrap();
    let reply = forgot(&users).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::ACCEPTED, "null")
    );
    // The delivery is still pending: the answer came first.
    let waited = tokio::time::timeout(Duration::from_millis(200), users.wait_background()).await;
    assert!(waited.is_err(), "the job is still running");
    release.notify_waiters();
    tokio::time::timeout(WAIT, async {
        loop {
            release.notify_waiters();
            if tokio::time::timeout(Duration::from_millis(20), users.wait_background())
                .await
                .is_ok()
            {
                break;
            }
        }
    })
    .await
    .expect("the job finishes once the mailer returns");
}

#[tokio::test]
async fn openapi_documents_the_account_routes() {
    let app = app().await;
    let doc: Value = app.get("/openapi.json", None).await.json();
    // FastAPI Users' answers first, in its order; then the protections' (an unparsable body
    // where FastAPI Users lists no 400, body timeout and size, rate limit, outage).
    for (path, op_id, statuses) in [
        (
            "/auth/forgot-password",
            "reset_forgot_password_auth_forgot_password_post",
            vec!["202", "422", "400", "408", "413", "429", "503"],
        ),
        (
            "/auth/reset-password",
            "reset_reset_password_auth_reset_password_post",
            vec!["200", "400", "422", "408", "413", "429", "503"],
        ),
        (
            "/auth/request-verify-token",
            "verify_request_token_auth_request_verify_token_post",
            vec!["202", "422", "400", "408", "413", "429", "503"],
        ),
        (
            "/auth/verify",
            "verify_verify_auth_verify_post",
            vec!["200", "400", "422", "408", "413", "429", "503"],
        ),
    ] {
        let op = &doc["paths"][path]["post"];
        assert_eq!(op["operationId"], op_id);
        let keys: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
        assert_eq!(keys, statuses, "{path}");
        let body = format!("Body_{op_id}");
        assert_eq!(
            op["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            format!("#/components/schemas/{body}")
        );
        assert!(doc["components"]["schemas"][&body]["required"].is_array());
    }
    assert_eq!(
        doc["paths"]["/auth/verify"]["post"]["responses"]["400"]["content"]["application/json"]
            ["examples"]["VERIFY_USER_ALREADY_VERIFIED"]["value"],
        json!({"detail": "VERIFY_USER_ALREADY_VERIFIED"})
    );
}

/// `GET /auth/verify?token=...`: the link an e-mail can carry. A browser gets a small page (or,
/// configured, a redirect with the outcome in the query); the token is spent as by the POST.
#[tokio::test]
async fn the_verification_link_works_in_a_browser() {
    let page = |message: &str| {
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>axum-users</title>\
             <meta name=\"viewport\" content=\"width=device-width\"></head><body><main><h1>axum-users</h1>\
             <p>{message}</p></main></body></html>"
        )
    };
    let app = app().await;
    let token = app
        .issued(TokenKind::Verify, "king.arthur@camelot.bt")
        .await;
    let uri = format!("/auth/verify?token={token}");
    for (status, message) in [
        (
            StatusCode::OK,
            "Your e-mail address is verified. You may close this page.",
        ),
        (
            StatusCode::BAD_REQUEST,
            "This e-mail address was verified already.",
        ),
    ] {
        let reply = app.get(&uri, None).await;
        assert_eq!((reply.status, reply.body.clone()), (status, page(message)));
        assert_eq!(
            reply.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(reply.header("cache-control"), Some("no-store"));
    }
    assert!(app.user("king.arthur@camelot.bt").await.is_verified);
    let reply = app.get("/auth/verify?token=forged", None).await;
    assert_eq!(
        (reply.status, reply.body),
        (
            StatusCode::BAD_REQUEST,
            page("This link is not valid: it has expired, or it was not made for this address. Ask for a new one.")
        )
    );
    let reply = app.get("/auth/verify", None).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            r#"{"detail":[{"type":"missing","loc":["query","token"],"msg":"Field required","input":null}]}"#
        )
    );

    let app = app_with(Options {
        verified_redirect: Some("https://camelot.bt/welcome?from=mail"),
        ..Options::default()
    })
    .await;
    let token = app
        .issued(TokenKind::Verify, "king.arthur@camelot.bt")
        .await;
    let uri = format!("/auth/verify?token={token}");
    for status in ["verified", "VERIFY_USER_ALREADY_VERIFIED"] {
        let reply = app.get(&uri, None).await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (StatusCode::SEE_OTHER, "")
        );
        assert_eq!(
            reply.header("location").map(str::to_owned),
            Some(format!(
                "https://camelot.bt/welcome?from=mail&status={status}"
            ))
        );
    }
}
