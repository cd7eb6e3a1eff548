//! Inputs that make FastAPI Users answer 500 or misbehave, answered cleanly here.

mod common;

use axum::body::Body;
use common::app;
use http::{Method, Request, StatusCode};

#[tokio::test]
async fn unicode_emails_are_found_in_any_case() {
    let app = app().await;
    let reply = app
        .json(
            Method::POST,
            "/auth/register",
            None,
            r#"{"email":"ünï@example.com","password":"guinevere"}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let reply = app
        .json(
            Method::POST,
            "/auth/register",
            None,
            r#"{"email":"ÜNÏ@example.com","password":"guinevere"}"#,
        )
        .await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (
            StatusCode::BAD_REQUEST,
            r#"{"detail":"REGISTER_USER_ALREADY_EXISTS"}"#
        )
    );
    let reply = app
        .form(
            "/auth/jwt/login",
            "username=%C3%9CN%C3%8F%40example.com&password=guinevere",
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

#[tokio::test]
async fn malformed_multipart_is_a_422() {
    let app = app().await;
    let request = Request::post("/auth/jwt/login")
        .header("content-type", "multipart/form-data; boundary=X")
        .body(Body::from("--X\r\nnot a part"))
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.body,
        r#"{"detail":[{"type":"value_error","loc":["body"],"msg":"Value error, invalid multipart/form-data body","input":null,"ctx":{"error":{}}}]}"#
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = app().await;
    let body = |size: usize| {
        let padding = size - r#"{"email":"a@b.co","password":""}"#.len();
        format!(
            r#"{{"email":"a@b.co","password":"{}"}}"#,
            "x".repeat(padding)
        )
    };
    // 64 KiB is read whole (this app sets no maximum password length); one byte more is not.
    let reply = app
        .json(Method::POST, "/auth/register", None, &body(64 * 1024))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    for (uri, size) in [
        ("/auth/register", 64 * 1024 + 1),
        ("/auth/forgot-password", 2 * 1024 * 1024),
        ("/auth/reset-password", 100_000),
    ] {
        let reply = app.json(Method::POST, uri, None, &body(size)).await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                r#"{"detail":"Payload Too Large"}"#
            ),
            "{uri}"
        );
    }
}

#[tokio::test]
async fn long_passwords_against_bcrypt_fail_cleanly() {
    let app = app().await;
    app.set_hash("king.arthur@camelot.bt", common::BCRYPT_GUINEVERE)
        .await;
    let long = format!("guinevere{}", "x".repeat(80));
    let reply = app
        .form(
            "/auth/jwt/login",
            &format!("username=king.arthur%40camelot.bt&password={long}"),
        )
        .await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (
            StatusCode::BAD_REQUEST,
            r#"{"detail":"LOGIN_BAD_CREDENTIALS"}"#
        )
    );
}

#[tokio::test]
async fn default_password_policy_is_8_to_128_characters() {
    use axum_users::{Backend, BearerTransport, JwtStrategy};
    let store = axum_users::SqliteStore::connect("sqlite::memory:", axum_users::UserSchema::new())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let users = axum_users::AxumUsers::builder(store)
        .rate_limits(axum_users::RateLimits::off())
        .password_hasher(common::fast_hasher())
        .backend(Backend::new(
            "jwt",
            BearerTransport::new("auth/jwt/login"),
            JwtStrategy::new("s", None),
        ))
        .build()
        .unwrap();
    let router = users.router();
    let register = |password: String| {
        Request::post("/auth/register")
            .header("content-type", "application/json")
            .body(Body::from(
                serde_json::json!({"email": "a@camelot.bt", "password": password}).to_string(),
            ))
            .unwrap()
    };
    let reply = common::send_to(&router, register("1234567".into())).await;
    assert_eq!(
        reply.body,
        r#"{"detail":{"code":"REGISTER_INVALID_PASSWORD","reason":"Password should be at least 8 characters"}}"#
    );
    let reply = common::send_to(&router, register("é".repeat(129))).await;
    assert_eq!(
        reply.body,
        r#"{"detail":{"code":"REGISTER_INVALID_PASSWORD","reason":"Password should be at most 128 characters"}}"#
    );
    let reply = common::send_to(&router, register("é".repeat(128))).await;
    assert_eq!(reply.status, StatusCode::CREATED);
}

/// JSON bodies as FastAPI (Python's `json`) reads them, observed on FastAPI Users 15.0.5: a
/// UTF-8 byte order mark is fine, nesting is fine up to the parser's limit, and a body that is
/// not UTF-8, or nested past the limit, is `400 "There was an error parsing the body"`.
#[tokio::test]
async fn json_bodies_are_decoded_as_fastapi_decodes_them() {
    let app = app().await;
    let post = |uri: &str, body: Vec<u8>| {
        Request::post(uri)
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    let bom = b"\xef\xbb\xbf{\"email\":\"bom@camelot.bt\",\"password\":\"grail\"}".to_vec();
    let reply = app.send(post("/auth/register", bom)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.json()["email"], "bom@camelot.bt");
    let bom = b"\xef\xbb\xbf{\"email\":\"bom@camelot.bt\"}".to_vec();
    let reply = app.send(post("/auth/forgot-password", bom)).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::ACCEPTED, "null")
    );

    let nested = |depth: usize| {
        format!(
            r#"{{"email":"deep{depth}@camelot.bt","password":"grail","x":{}{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        )
        .into_bytes()
    };
    let reply = app.send(post("/auth/register", nested(100))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let unparsable = r#"{"detail":"There was an error parsing the body"}"#;
    for body in [
        nested(5000),
        b"{\"email\":\"x\xff@camelot.bt\",\"password\":\"grail\"}".to_vec(),
    ] {
        let reply = app.send(post("/auth/register", body)).await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (StatusCode::BAD_REQUEST, unparsable)
        );
    }
}
