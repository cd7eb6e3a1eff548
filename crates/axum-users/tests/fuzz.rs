//! Hostile input, generated: every route that reads a body gets arbitrary bytes and arbitrary
//! JSON under every content type, and the authenticated routes get arbitrary Authorization and
//! Cookie headers. Whatever arrives, the answer is a JSON body with a status below 500, and
//! nothing panics. The parsers that take hostile input (e-mail normalisation, JWT decoding) are
//! also driven directly. Bounded: a few hundred cases per property.

mod common;

use axum::body::Body;
use common::{app, TestApp};
use http::{Method, Request, StatusCode};
use proptest::prelude::*;
use serde_json::Value;

const ROUTES: [(Method, &str); 9] = [
    (Method::POST, "/auth/register"),
    (Method::POST, "/auth/jwt/login"),
    (Method::POST, "/auth/cookie/login"),
    (Method::POST, "/auth/forgot-password"),
    (Method::POST, "/auth/reset-password"),
    (Method::POST, "/auth/request-verify-token"),
    (Method::POST, "/auth/verify"),
    (Method::PATCH, "/users/me"),
    (Method::PATCH, "/users/00000000-0000-4000-8000-000000000000"),
];

const CONTENT_TYPES: [Option<&str>; 6] = [
    Some("application/json"),
    Some("application/x-www-form-urlencoded"),
    Some("multipart/form-data; boundary=XyZ"),
    Some("multipart/form-data"),
    Some("text/plain"),
    None,
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::from),
        "[a-z.]{1,10}@[a-z]{1,8}\\.[a-z]{2,3}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        let keys = prop_oneof![
            Just("email".to_owned()),
            Just("password".to_owned()),
            Just("token".to_owned()),
            Just("is_active".to_owned()),
            Just("is_superuser".to_owned()),
            Just("is_verified".to_owned()),
            Just("username".to_owned()),
            ".{0,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        "(username|password|grant_type|email)=[^&]{0,20}(&(username|password|grant_type)=[^&]{0,20}){0,3}"
            .prop_map(String::into_bytes),
        "--XyZ\r\nContent-Disposition: form-data; name=\"(username|password)\"\r\n\r\n.{0,20}\r\n(--XyZ--\r\n)?"
            .prop_map(String::into_bytes),
    ]
}

/// Sends one request and checks the answer: below 500, and JSON (or empty for 204).
async fn check(app: &TestApp, request: Request<Body>) -> Result<(), TestCaseError> {
    let reply = app.send(request).await;
    prop_assert!(
        reply.status.as_u16() < 500,
        "{} {}",
        reply.status,
        reply.body
    );
    if reply.status != StatusCode::NO_CONTENT {
        prop_assert!(
            serde_json::from_str::<Value>(&reply.body).is_ok(),
            "not JSON: {}",
            reply.body
        );
    }
    Ok(())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_body_makes_a_route_fail(route in 0..ROUTES.len(), content_type in 0..CONTENT_TYPES.len(), body in body()) {
        let runtime = runtime();
        runtime.block_on(async {
            let app = app().await;
            let token = app.login("merlin@camelot.bt", "viviane").await;
            let (method, uri) = &ROUTES[route];
            let mut request = Request::builder()
                .method(method.clone())
                .uri(*uri)
                .header("authorization", format!("Bearer {token}"));
            if let Some(content_type) = CONTENT_TYPES[content_type] {
                request = request.header("content-type", content_type);
            }
            check(&app, request.body(Body::from(body)).unwrap()).await?;
            app.users.wait_background().await;
            Ok::<(), TestCaseError>(())
        })?;
    }

    #[test]
    fn no_header_makes_authentication_fail(authorization in "[ -~]{0,120}", cookie in "[ -~]{0,120}", bearer in "[A-Za-z0-9._~+/=-]{0,200}") {
        let runtime = runtime();
        runtime.block_on(async {
            let app = app().await;
            for (name, value) in [
                ("authorization", authorization.clone()),
                ("authorization", format!("Bearer {bearer}")),
                ("cookie", cookie.clone()),
                ("cookie", format!("fastapiusersauth={bearer}")),
            ] {
                for method in [Method::GET, Method::PATCH, Method::DELETE] {
                    let Ok(request) = Request::builder()
                        .method(method)
                        .uri("/users/me")
                        .header(name, value.as_str())
                        .header("content-type", "application/json")
                        .body(Body::from("{}"))
                    else {
                        continue;
                    };
                    check(&app, request).await?;
                }
            }
            Ok::<(), TestCaseError>(())
        })?;
    }

    #[test]
    fn parsers_never_panic(text in ".{0,200}", parts in prop::collection::vec("[A-Za-z0-9_-]{0,60}", 0..5)) {
        let _ = axum_users::normalize_email(&text);
        let keys = axum_users::JwtKeys::hs256(b"secret");
        let _ = keys.decode(&text, &["fastapi-users:auth"]);
        let _ = keys.decode(&parts.join("."), &["fastapi-users:auth"]);
    }
}
