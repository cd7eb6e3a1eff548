//! `POST /auth/register` (SPEC §3.3, checklist 1–5).

mod common;

use axum::body::Body;
use common::app;
use http::{Method, Request, StatusCode};

#[tokio::test]
async fn registers_a_user_and_ignores_privileged_flags() {
    let app = app().await;
    let reply = app
        .json(
            Method::POST,
            "/auth/register",
            None,
            r#"{"email":"King.Galahad@Camelot.BT","password":"guinevere","is_superuser":true,"is_active":false,"is_verified":true,"id":"x","hashed_password":"y"}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json();
    let id = body["id"].as_str().unwrap();
    assert_eq!(
        reply.body,
        format!(
            r#"{{"id":"{id}","email":"King.Galahad@camelot.bt","is_active":true,"is_superuser":false,"is_verified":false}}"#
        )
    );
    assert_eq!(app.hooks.take(), ["register:King.Galahad@camelot.bt"]);
    let stored = app.user("king.galahad@camelot.bt").await;
    assert!(stored.hashed_password.starts_with("$argon2id$v=19$"));
}

#[tokio::test]
async fn rejects_missing_fields_and_bad_types() {
    let app = app().await;
    let cases = [
        (
            "{}",
            r#"{"detail":[{"type":"missing","loc":["body","email"],"msg":"Field required","input":{}},{"type":"missing","loc":["body","password"],"msg":"Field required","input":{}}]}"#,
        ),
        (
            r#"{"email":"not-an-email","password":"abc"}"#,
            r#"{"detail":[{"type":"value_error","loc":["body","email"],"msg":"value is not a valid email address: An email address must have an @-sign.","input":"not-an-email","ctx":{"reason":"An email address must have an @-sign."}}]}"#,
        ),
        (
            r#"{"email":"lancelot@camelot.bt","password":123}"#,
            r#"{"detail":[{"type":"string_type","loc":["body","password"],"msg":"Input should be a valid string","input":123}]}"#,
        ),
        (
            "{bad json",
            r#"{"detail":[{"type":"json_invalid","loc":["body",1],"msg":"JSON decode error","input":{},"ctx":{"error":"Expecting property name enclosed in double quotes"}}]}"#,
        ),
        (
            r#"{"password":"abc"}"#,
            r#"{"detail":[{"type":"missing","loc":["body","email"],"msg":"Field required","input":{"password":"abc"}}]}"#,
        ),
        (
            r#"{"email":"a@localhost","password":"abc"}"#,
            r#"{"detail":[{"type":"value_error","loc":["body","email"],"msg":"value is not a valid email address: The part after the @-sign is not valid. It should have a period.","input":"a@localhost","ctx":{"reason":"The part after the @-sign is not valid. It should have a period."}}]}"#,
        ),
        (
            "[]",
            r#"{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":[]}]}"#,
        ),
        (
            r#"{"email":"a@b.co","password":"abc","is_superuser":"maybe"}"#,
            r#"{"detail":[{"type":"bool_parsing","loc":["body","is_superuser"],"msg":"Input should be a valid boolean, unable to interpret input","input":"maybe"}]}"#,
        ),
    ];
    for (body, expected) in cases {
        let reply = app.json(Method::POST, "/auth/register", None, body).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(reply.body, expected, "{body}");
    }
    assert!(app.hooks.take().is_empty());
}

#[tokio::test]
async fn rejects_non_json_content_types() {
    let app = app().await;
    let request = Request::post("/auth/register")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("email=a%40b.co&password=abc"))
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.body,
        r#"{"detail":[{"type":"model_attributes_type","loc":["body"],"msg":"Input should be a valid dictionary or object to extract fields from","input":"email=a%40b.co&password=abc"}]}"#
    );
    let reply = app
        .send(Request::post("/auth/register").body(Body::empty()).unwrap())
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.body,
        r#"{"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]}"#
    );
}

#[tokio::test]
async fn rejects_invalid_passwords_before_duplicates() {
    let app = app().await;
    let reply = app
        .json(
            Method::POST,
            "/auth/register",
            None,
            r#"{"email":"king.arthur@camelot.bt","password":"g"}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.body,
        r#"{"detail":{"code":"REGISTER_INVALID_PASSWORD","reason":"Password should be at least 3 characters"}}"#
    );
    let reply = app
        .json(
            Method::POST,
            "/auth/register",
            None,
            r#"{"email":"lancelot@camelot.bt","password":"xlancelot@camelot.bt"}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        reply.body,
        r#"{"detail":{"code":"REGISTER_INVALID_PASSWORD","reason":"Password should not contain e-mail"}}"#
    );
}

#[tokio::test]
async fn rejects_existing_email_in_any_case() {
    let app = app().await;
    for email in [
        "king.arthur@camelot.bt",
        "King.Arthur@camelot.bt",
        "KING.ARTHUR@CAMELOT.BT",
    ] {
        let body = format!(r#"{{"email":"{email}","password":"guinevere"}}"#);
        let reply = app.json(Method::POST, "/auth/register", None, &body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{email}");
        assert_eq!(reply.body, r#"{"detail":"REGISTER_USER_ALREADY_EXISTS"}"#);
    }
    assert!(app.hooks.take().is_empty());
}

#[tokio::test]
async fn concurrent_registrations_of_one_email_make_one_user() {
    let app = app().await;
    let attempts = (0..8).map(|i| {
        let router = app.router.clone();
        let email = if i % 2 == 0 {
            "race@camelot.bt"
        } else {
            "RACE@camelot.bt"
        };
        async move {
            let request = Request::post("/auth/register")
                .header("content-type", "application/json")
                .body(Body::from(format!(
                    r#"{{"email":"{email}","password":"guinevere"}}"#
                )))
                .unwrap();
            common::send_to(&router, request).await
        }
    });
    let replies = futures_util::future::join_all(attempts).await;
    let created = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1);
    for reply in replies.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.body, r#"{"detail":"REGISTER_USER_ALREADY_EXISTS"}"#);
    }
}

#[tokio::test]
async fn normalizes_emails() {
    let app = app().await;
    for (input, stored) in [
        ("  Spaced@Example.COM ", "Spaced@example.com"),
        ("Arthur Pendragon <arthur@Camelot.bt>", "arthur@camelot.bt"),
        ("user@xn--bcher-kva.de", "user@bücher.de"),
    ] {
        let body = serde_json::json!({"email": input, "password": "guinevere"}).to_string();
        let reply = app.json(Method::POST, "/auth/register", None, &body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{input}");
        assert_eq!(reply.json()["email"], stored);
        assert!(
            reply.body.contains(stored),
            "sent raw, not ASCII-escaped: {}",
            reply.body
        );
    }
}
