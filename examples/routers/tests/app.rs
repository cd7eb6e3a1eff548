//! The example served on a real port: every mounted route answers at its own prefix, and
//! nothing answers at FastAPI Users' conventional paths.

use axum_users::{SqliteStore, UserSchema};
use example_routers::{app, users};
use example_support::serve;
use serde_json::json;

#[tokio::test]
async fn each_router_answers_under_its_own_prefix() {
    let store = SqliteStore::connect("sqlite::memory:", UserSchema::new())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let users = users(store, "a test secret").unwrap();
    let server = serve(app(&users)).await;
    let account = json!({"email": "kay@camelot.bt", "password": "seneschal-of-camelot"});

    let created = server
        .call("POST", "/account/register", None, Some(account.clone()))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let token = server
        .login("/session/login", "kay@camelot.bt", "seneschal-of-camelot")
        .await;
    let me = server.call("GET", "/people/me", Some(&token), None).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["email"], "kay@camelot.bt");
    let forgot = server
        .call(
            "POST",
            "/account/forgot-password",
            None,
            Some(json!({"email": "kay@camelot.bt"})),
        )
        .await;
    assert_eq!((forgot.status, forgot.body), (202, serde_json::Value::Null));
    let out = server
        .call("POST", "/session/logout", Some(&token), None)
        .await;
    assert_eq!(out.status, 204);

    // Not mounted: the conventional paths, verification, the docs.
    let not_found = json!({"detail": "Not Found"});
    for (method, path) in [
        ("POST", "/auth/register"),
        ("POST", "/auth/jwt/login"),
        ("GET", "/users/me"),
        ("POST", "/account/verify"),
        ("GET", "/docs"),
    ] {
        let reply = server.call(method, path, Some(&token), None).await;
        assert_eq!(
            (reply.status, &reply.body),
            (404, &not_found),
            "{method} {path}"
        );
    }
}
