//! The rate limiter under hostile volume, through the router with real SQLite: requests per
//! second while the number of client addresses goes far past the memory bound (100,000 keys),
//! and the resident memory it costs; then the memory 2,000 failed logins with 65,000-character
//! usernames cost.
//!
//! `cargo bench -p axum-users --bench limits`

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Instant;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum_users::{AxumUsers, SqliteStore, UserSchema};
use http::Request;
use tower::ServiceExt as _;

/// Resident memory of this process, in MiB.
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    runtime.block_on(run());
}

async fn send(router: &axum::Router, uri: &str, client: u32, content_type: &str, body: String) {
    let mut request = Request::post(uri)
        .header("content-type", content_type)
        .body(Body::from(body))
        .expect("a request");
    let address = SocketAddr::from((Ipv4Addr::from(0x0a00_0000 + client), 4000));
    request.extensions_mut().insert(ConnectInfo(address));
    let response = router.clone().oneshot(request).await.expect("an answer");
    let _ = axum::body::to_bytes(response.into_body(), 1 << 16).await;
}

async fn run() {
    let store = SqliteStore::connect("sqlite::memory:", UserSchema::new())
        .await
        .expect("in-memory SQLite");
    store.migrate().await.expect("migrations");
    let users = AxumUsers::builder(store)
        .backend(axum_users::Backend::new(
            "jwt",
            axum_users::BearerTransport::new("auth/jwt/login"),
            axum_users::JwtStrategy::new("a bench secret of thirty-two bytes!", Some(3600)),
        ))
        .build()
        .expect("a configuration");
    let router: axum::Router = users.router();

    // Registration is limited per client before the body is read: `{}` answers 422 at once,
    // so this times the limiter and the routing.
    println!(
        "rate limiter: POST /auth/register from ever new client addresses (bound: 100,000 keys)"
    );
    let start_rss = rss_mib();
    let mut client = 0u32;
    for stage in [10_000u32, 100_000, 300_000, 1_000_000] {
        let batch = 20_000u32;
        while client + batch < stage {
            send(
                &router,
                "/auth/register",
                client,
                "application/json",
                "{}".into(),
            )
            .await;
            client += 1;
        }
        let started = Instant::now();
        for _ in 0..batch {
            send(
                &router,
                "/auth/register",
                client,
                "application/json",
                "{}".into(),
            )
            .await;
            client += 1;
        }
        let rate = f64::from(batch) / started.elapsed().as_secs_f64();
        println!(
            "  {:>9} addresses seen: {rate:>9.0} requests/s, resident memory +{:.1} MiB",
            client,
            rss_mib() - start_rss
        );
    }

    println!("failed logins with 65,000-character usernames (refused before anything is kept)");
    let before = rss_mib();
    let long = format!("{}%40camelot.bt", "a".repeat(65_000));
    let started = Instant::now();
    for i in 0..2_000 {
        let body = format!("username={i}{long}&password=wrong");
        send(
            &router,
            "/auth/jwt/login",
            i % 50,
            "application/x-www-form-urlencoded",
            body,
        )
        .await;
    }
    println!(
        "  2000 logins in {:.2} s, resident memory +{:.1} MiB",
        started.elapsed().as_secs_f64(),
        rss_mib() - before
    );
}
