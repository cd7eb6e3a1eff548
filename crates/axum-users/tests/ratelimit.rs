//! Rate limits: per client IP on login, register, the e-mail routes and the token routes, the
//! per-account backoff after failed logins, trusted proxies, and counters shared through Redis.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum_users::{Backoff, Limit, RateLimits};
use common::{app_with, Options, Reply, TestApp};
use http::{Method, Request, StatusCode};

const TOO_MANY: &str = r#"{"detail":"TOO_MANY_REQUESTS"}"#;
const BAD_CREDENTIALS: &str = r#"{"detail":"LOGIN_BAD_CREDENTIALS"}"#;

async fn limited(limits: RateLimits) -> TestApp {
    app_with(Options {
        rate_limits: limits,
        ..Options::default()
    })
    .await
}

/// A request from `peer`, with extra headers.
async fn from(app: &TestApp, peer: &str, uri: &str, body: &str, headers: &[(&str, &str)]) -> Reply {
    let form = uri.ends_with("/login");
    let mut request = Request::builder().method(Method::POST).uri(uri).header(
        "content-type",
        if form {
            "application/x-www-form-urlencoded"
        } else {
            "application/json"
        },
    );
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut request = request.body(Body::from(body.to_owned())).unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
    app.send(request).await
}

async fn login(app: &TestApp, peer: &str, password: &str, headers: &[(&str, &str)]) -> Reply {
    let body = format!("username=king.arthur%40camelot.bt&password={password}");
    from(app, peer, "/auth/jwt/login", &body, headers).await
}

/// Every limit off but those `set` turns on.
fn off_but(set: impl FnOnce(&mut RateLimits)) -> RateLimits {
    let mut limits = RateLimits::off();
    set(&mut limits);
    limits
}

fn retry_after(reply: &Reply) -> u64 {
    reply.header("retry-after").unwrap().parse().unwrap()
}

#[tokio::test]
async fn logins_per_ip_are_limited() {
    let app = limited(off_but(|l| l.login = Some(Limit::per(3, 60)))).await;
    for _ in 0..3 {
        let reply = login(&app, "192.0.2.1:4000", "wrong", &[]).await;
        assert_eq!(reply.body, BAD_CREDENTIALS);
    }
    // The fourth, even with the right password.
    let reply = login(&app, "192.0.2.1:4001", "guinevere", &[]).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, TOO_MANY)
    );
    assert!((1..=60).contains(&retry_after(&reply)));
    // Another client is not affected.
    let reply = login(&app, "192.0.2.2:4000", "guinevere", &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn forwarded_addresses_count_only_behind_trusted_proxies() {
    let app = limited(off_but(|l| {
        l.login = Some(Limit::per(1, 60));
        l.trusted_proxies = vec!["10.0.0.1".parse().unwrap()];
    }))
    .await;
    // Behind the proxy, each forwarded client has its own budget.
    for client in ["198.51.100.1", "198.51.100.2"] {
        let headers = [("x-forwarded-for", client)];
        let reply = login(&app, "10.0.0.1:5000", "guinevere", &headers).await;
        assert_eq!(reply.status, StatusCode::OK, "{client}");
    }
    let headers = [("x-forwarded-for", "198.51.100.1")];
    let reply = login(&app, "10.0.0.1:5000", "guinevere", &headers).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    // Anyone else's X-Forwarded-For is ignored: one budget for the socket address.
    for (client, status) in [
        ("203.0.113.1", StatusCode::OK),
        ("203.0.113.2", StatusCode::TOO_MANY_REQUESTS),
    ] {
        let headers = [("x-forwarded-for", client)];
        let reply = login(&app, "192.0.2.9:5000", "guinevere", &headers).await;
        assert_eq!(reply.status, status, "{client}");
    }
}

#[tokio::test]
async fn failed_logins_back_off_per_account_and_a_success_resets() {
    let app = limited(off_but(|l| {
        l.account = Some(Backoff::new(
            2,
            Duration::from_secs(1),
            Duration::from_secs(2),
        ));
    }))
    .await;
    // Two free failures, then each failure locks the account, from any address.
    for peer in ["192.0.2.1:1", "192.0.2.2:1", "192.0.2.3:1"] {
        assert_eq!(login(&app, peer, "wrong", &[]).await.body, BAD_CREDENTIALS);
    }
    let reply = login(&app, "192.0.2.4:1", "guinevere", &[]).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, TOO_MANY)
    );
    assert_eq!(retry_after(&reply), 1);
    // Other accounts are not affected.
    let other = from(
        &app,
        "192.0.2.4:1",
        "/auth/jwt/login",
        "username=lake.lady%40camelot.bt&password=excalibur",
        &[],
    )
    .await;
    assert_eq!(other.status, StatusCode::OK);
    // The lock is short and bounded; after it, the right password works and clears the count.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        login(&app, "192.0.2.4:1", "guinevere", &[]).await.status,
        StatusCode::OK
    );
    for _ in 0..2 {
        assert_eq!(
            login(&app, "192.0.2.4:1", "wrong", &[]).await.body,
            BAD_CREDENTIALS
        );
    }
    assert_eq!(
        login(&app, "192.0.2.4:1", "guinevere", &[]).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn registration_e_mail_and_token_routes_are_limited() {
    let app = limited(off_but(|l| {
        l.register = Some(Limit::per(1, 3600));
        l.mail = Some(Limit::per(1, 900));
        l.token = Some(Limit::per(1, 900));
    }))
    .await;
    let peer = "192.0.2.7:1";
    let cases = [
        (
            "/auth/register",
            r#"{"email":"galahad@camelot.bt","password":"grail"}"#,
            StatusCode::CREATED,
        ),
        (
            "/auth/forgot-password",
            r#"{"email":"galahad@camelot.bt"}"#,
            StatusCode::ACCEPTED,
        ),
        (
            "/auth/request-verify-token",
            r#"{"email":"galahad@camelot.bt"}"#,
            StatusCode::TOO_MANY_REQUESTS,
        ),
        ("/auth/verify", r#"{"token":"x"}"#, StatusCode::BAD_REQUEST),
        (
            "/auth/reset-password",
            r#"{"token":"x","password":"y"}"#,
            StatusCode::TOO_MANY_REQUESTS,
        ),
        (
            "/auth/register",
            r#"{"email":"gawain@camelot.bt","password":"grail"}"#,
            StatusCode::TOO_MANY_REQUESTS,
        ),
    ];
    // forgot-password and request-verify-token share one budget, verify and reset another.
    for (uri, body, status) in cases {
        let reply = from(&app, peer, uri, body, &[]).await;
        assert_eq!(reply.status, status, "{uri}: {}", reply.body);
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(reply.body, TOO_MANY);
        }
    }
    app.users.wait_background().await;
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn redis_counters_are_shared_by_instances() {
    let Ok(url) = std::env::var("TEST_REDIS_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the Redis tests"
        );
        return;
    };
    let limits = || async {
        off_but(|l| l.login = Some(Limit::per(2, 60)))
            .redis(&url)
            .await
            .unwrap()
    };
    let (a, b) = (limited(limits().await).await, limited(limits().await).await);
    // An address of its own for this run, so that earlier runs' counters do not count.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let peer = format!("[2001:db8::{:x}]:1", nanos & 0xffff);
    assert_eq!(
        login(&a, &peer, "guinevere", &[]).await.status,
        StatusCode::OK
    );
    assert_eq!(
        login(&b, &peer, "guinevere", &[]).await.status,
        StatusCode::OK
    );
    let reply = login(&a, &peer, "guinevere", &[]).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, TOO_MANY)
    );
}

/// One account sending password changes 32 at a time gets 5 of them hashed (the default), the
/// rest `429` before any hashing: it cannot keep the hashing pool busy for everyone else.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn password_changes_are_limited_per_user() {
    let app = limited(RateLimits::default()).await;
    let token = app.login("king.arthur@camelot.bt", "guinevere").await;
    let changes = (0..32).map(|i| {
        let body = format!(r#"{{"password":"new-password-{i}"}}"#);
        let token = token.clone();
        let app = &app;
        async move {
            app.json(Method::PATCH, "/users/me", Some(&token), &body)
                .await
        }
    });
    let replies = futures_util::future::join_all(changes).await;
    let ok = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(ok, 5);
    for reply in replies.iter().filter(|r| r.status != StatusCode::OK) {
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (StatusCode::TOO_MANY_REQUESTS, TOO_MANY)
        );
        assert!((1..=900).contains(&retry_after(reply)));
    }
    // Other requests of the user are not limited.
    let body = r#"{"is_active":false}"#;
    let reply = app
        .json(Method::PATCH, "/users/me", Some(&token), body)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
}

/// A username longer than any address is refused at once: nothing is hashed, and no per-account
/// counter is created for it (65,000-character usernames used to be kept as keys).
#[tokio::test]
async fn over_long_usernames_are_refused_before_anything_is_kept() {
    let app = limited(off_but(|l| l.account = Some(Backoff::default()))).await;
    let long = format!("{}%40camelot.bt", "a".repeat(65_000));
    for _ in 0..10 {
        let body = format!("username={long}&password=x");
        let reply = from(&app, "192.0.2.1:4000", "/auth/jwt/login", &body, &[]).await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (StatusCode::BAD_REQUEST, BAD_CREDENTIALS)
        );
    }
    // Past the free failures, the account of a real address still locks as before.
    for _ in 0..6 {
        login(&app, "192.0.2.1:4000", "wrong", &[]).await;
    }
    let reply = login(&app, "192.0.2.1:4000", "guinevere", &[]).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
}
