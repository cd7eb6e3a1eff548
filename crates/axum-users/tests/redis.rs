//! The Redis token strategy over the router, against the Redis of `TEST_REDIS_URL` (set by
//! .ci/run): FastAPI Users' key layout, lifetime, logout, and revocation.

#![cfg(feature = "redis")]

mod common;

use std::io::Write as _;

use axum_users::{Backend, BearerTransport, RedisStrategy};
use common::{app_with, Options};
use http::{Method, StatusCode};

async fn redis_url() -> Option<String> {
    if let Ok(url) = std::env::var("TEST_REDIS_URL") {
        return Some(url);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must run the Redis tests: set TEST_REDIS_URL"
    );
    let _ = writeln!(
        std::io::stderr(),
        "skipped: redis tests (TEST_REDIS_URL is not set; .ci/run sets it)"
    );
    None
}

#[tokio::test]
async fn redis_tokens_are_fastapi_users_keys_and_are_revoked() {
    let Some(url) = redis_url().await else {
        return;
    };
    let strategy = RedisStrategy::connect(&url, Some(3600)).await.unwrap();
    let app = app_with(Options {
        backends: vec![Backend::new(
            "redis",
            BearerTransport::new("auth/redis/login"),
            strategy,
        )],
        ..Options::default()
    })
    .await;
    let mut redis = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let login = |password: &'static str| {
        let app = &app;
        async move {
            let reply = app
                .form(
                    "/auth/redis/login",
                    &format!("username=king.arthur%40camelot.bt&password={password}"),
                )
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            reply.json()["access_token"].as_str().unwrap().to_owned()
        }
    };
    let arthur = app.user("king.arthur@camelot.bt").await;

    let token = login("guinevere").await;
    assert_eq!(token.len(), 43);
    let key = format!("fastapi_users_token:{token}");
    let (value, ttl): (Option<String>, i64) = redis::pipe()
        .get(&key)
        .ttl(&key)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(value, Some(arthur.id.to_string()));
    assert!((3590..=3600).contains(&ttl), "{ttl}");
    assert_eq!(
        app.get("/users/me", Some(&token)).await.status,
        StatusCode::OK
    );

    // A key written by FastAPI Users itself is accepted.
    let foreign = "fastapi-users-wrote-this-token-0123456789ab";
    redis::cmd("SET")
        .arg(format!("fastapi_users_token:{foreign}"))
        .arg(arthur.id.to_string())
        .arg("EX")
        .arg(60)
        .query_async::<()>(&mut redis)
        .await
        .unwrap();
    assert_eq!(
        app.get("/users/me", Some(foreign)).await.status,
        StatusCode::OK
    );

    // Logout deletes the key.
    let reply = app
        .json(Method::POST, "/auth/redis/logout", Some(&token), "")
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let exists: bool = redis::cmd("EXISTS")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(!exists);
    let reply = app.get("/users/me", Some(&token)).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::UNAUTHORIZED, r#"{"detail":"Unauthorized"}"#)
    );

    // A password change revokes the user's other tokens.
    let first = login("guinevere").await;
    let second = login("guinevere").await;
    let reply = app
        .json(
            Method::PATCH,
            "/users/me",
            Some(&first),
            r#"{"password":"lancelot"}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    for token in [first, second] {
        assert_eq!(
            app.get("/users/me", Some(&token)).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let _: () = redis::cmd("DEL")
        .arg(format!("fastapi_users_token:{foreign}"))
        .query_async(&mut redis)
        .await
        .unwrap();
}

/// Refresh tokens on a Redis backend: rotation deletes the previous Redis token, and ending
/// the session deletes the current one at once.
#[tokio::test]
async fn redis_sessions_refresh_and_end_at_once() {
    let Some(url) = redis_url().await else {
        return;
    };
    let strategy = RedisStrategy::connect(&url, Some(900)).await.unwrap();
    let app = app_with(Options {
        backends: vec![
            Backend::new("redis", BearerTransport::new("auth/redis/login"), strategy)
                .refresh_tokens(std::time::Duration::from_secs(3600)),
        ],
        sessions: Some(axum_users::SessionSettings::new("refresh-secret")),
        ..Options::default()
    })
    .await;
    let mut redis = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let exists = |token: String| {
        let mut redis = redis.clone();
        async move {
            redis::cmd("EXISTS")
                .arg(format!("fastapi_users_token:{token}"))
                .query_async::<bool>(&mut redis)
                .await
                .unwrap()
        }
    };
    let reply = app
        .form(
            "/auth/redis/login",
            "username=king.arthur%40camelot.bt&password=guinevere",
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let first = reply.json()["access_token"].as_str().unwrap().to_owned();
    let refresh = reply.json()["refresh_token"].as_str().unwrap().to_owned();
    assert!(exists(first.clone()).await);

    let reply = app
        .json(
            Method::POST,
            "/auth/redis/refresh",
            None,
            &serde_json::json!({ "refresh_token": refresh }).to_string(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let second = reply.json()["access_token"].as_str().unwrap().to_owned();
    assert!(!exists(first.clone()).await);
    assert!(exists(second.clone()).await);
    assert_eq!(
        app.get("/users/me", Some(&first)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/users/me", Some(&second)).await.status,
        StatusCode::OK
    );

    let sessions = app.get("/auth/sessions", Some(&second)).await.json();
    let id = sessions[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(sessions[0]["current"], true);
    let reply = app
        .json(
            Method::DELETE,
            &format!("/auth/sessions/{id}"),
            Some(&second),
            "",
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(!exists(second.clone()).await);
    let reply = app.get("/users/me", Some(&second)).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::UNAUTHORIZED, r#"{"detail":"Unauthorized"}"#)
    );
    let _ = &mut redis;
}
