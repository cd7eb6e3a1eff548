//! Does `POST /auth/forgot-password` (and `/auth/request-verify-token`) take the same time
//! whether or not the address belongs to someone? Prints the medians of both, over the router
//! with real SQLite and the default (OWASP) argon2 parameters, and, for contrast, the time of
//! FastAPI Users' inline approach, where the known address costs a hash before the answer.
//! Then logins: a wrong password against an unknown address, for a user with our hash and one
//! with a migrated FastAPI Users hash (m=65536, t=3, p=4), as a probe sees them (the share of
//! addresses a timing threshold classifies right); and a login right after two forgot-password
//! requests, whose work runs after their answers.
//!
//! `cargo bench -p axum-users --bench anti_enumeration`

use std::time::{Duration, Instant};

use axum::body::Body;
use axum_users::{AxumUsers, MemoryMailer, SqliteStore, User, UserSchema};
use http::Request;
use tower::ServiceExt as _;

const ROUNDS: usize = 100;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn p90(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() * 9 / 10]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    runtime.block_on(run());
}

async fn run() {
    let store = SqliteStore::connect("sqlite::memory:", UserSchema::new())
        .await
        .expect("in-memory SQLite");
    store.migrate().await.expect("migrations");
    let hasher = axum_users::PasswordHasher::default();
    let hash = hasher.hash("guinevere").await.expect("a hash");
    let known = User::new("king.arthur@camelot.bt", hash);
    axum_users::UserStore::create(&store, &known)
        .await
        .expect("a user");
    let fastapi = axum_users::PasswordHasher::new(axum_users::Argon2Params::new(65536, 3, 4))
        .expect("FastAPI Users' parameters");
    let migrated = User::new(
        "lancelot@camelot.bt",
        fastapi.hash("guinevere").await.expect("a hash"),
    );
    axum_users::UserStore::create(&store, &migrated)
        .await
        .expect("a user");
    let users = AxumUsers::builder(store)
        // One "client" sends every request: the limits would answer 429s, not the routes.
        .rate_limits(axum_users::RateLimits::off())
        .mailer(MemoryMailer::new())
        .backend(axum_users::Backend::new(
            "jwt",
            axum_users::BearerTransport::new("auth/jwt/login"),
            axum_users::JwtStrategy::new("a bench secret of thirty-two bytes!", Some(3600)),
        ))
        .build()
        .expect("a configuration");
    let router: axum::Router = users.router();

    println!(
        "anti-enumeration: {ROUNDS} requests per case, answer time (router, SQLite, argon2 OWASP)"
    );
    for uri in ["/auth/forgot-password", "/auth/request-verify-token"] {
        let mut times = [Vec::new(), Vec::new()];
        for round in 0..ROUNDS * 2 {
            let which = round % 2;
            let email = ["king.arthur@camelot.bt", "nobody@camelot.bt"][which];
            let request = |email: &str| {
                Request::post(uri)
                    .header("content-type", "application/json")
                    .body(Body::from(format!(r#"{{"email":"{email}"}}"#)))
                    .expect("a request")
            };
            // The same state before either case: the previous job (a hash for a known
            // address) has finished, and one untimed request has warmed the path again.
            let warm = router.clone().oneshot(request("warm-up@camelot.bt")).await;
            drop(warm);
            users.wait_background().await;
            let request = request(email);
            let start = Instant::now();
            let response = router.clone().oneshot(request).await.expect("an answer");
            let status = response.status();
            let _ = axum::body::to_bytes(response.into_body(), 1024).await;
            times[which].push(start.elapsed());
            assert_eq!(
                status,
                http::StatusCode::ACCEPTED,
                "{uri}: measure the route"
            );
            // Each request alone: the work after the answer does not slow the next one.
            users.wait_background().await;
        }
        let [known_times, unknown_times] = times;
        for (label, samples) in [
            ("known e-mail", known_times),
            ("unknown e-mail", unknown_times),
        ] {
            println!(
                "  {uri:<28} {label:<15} median {:>9.1?}  p90 {:>9.1?}",
                median(samples.clone()),
                p90(samples)
            );
        }
    }

    // Login: an unknown e-mail costs a dummy hash, as a wrong password costs the real check.
    let mut times = [Vec::new(), Vec::new()];
    for round in 0..40 {
        let which = round % 2;
        let email = ["king.arthur%40camelot.bt", "nobody%40camelot.bt"][which];
        times[which].push(login_time(&router, email).await);
    }
    let [wrong, unknown] = times.map(median);
    println!(
        "  {:<28} wrong password  median {wrong:>9.1?}; unknown e-mail median {unknown:>9.1?}; ratio {:.2}",
        "/auth/jwt/login",
        unknown.as_secs_f64() / wrong.as_secs_f64()
    );

    // A probe: one wrong-password login per address. Known: our user and the migrated one, as
    // often; unknown: 80 addresses nobody has. The best timing threshold tells them apart in
    // what share of probes (50% is a coin toss).
    let mut known_times = Vec::new();
    let mut unknown_times = Vec::new();
    for round in 0..80 {
        let email = ["king.arthur%40camelot.bt", "lancelot%40camelot.bt"][round % 2];
        known_times.push(login_time(&router, email).await);
        let nobody = format!("nobody{round}%40camelot.bt");
        unknown_times.push(login_time(&router, &nobody).await);
    }
    let migrated_times: Vec<Duration> = known_times.iter().skip(1).step_by(2).copied().collect();
    println!(
        "  login, migrated FastAPI Users hash: median {:>9.1?}; our hash: median {:>9.1?}; \
         unknown addresses: median {:>9.1?}, p90 {:>9.1?}",
        median(migrated_times),
        median(known_times.iter().step_by(2).copied().collect()),
        median(unknown_times.clone()),
        p90(unknown_times.clone())
    );
    println!(
        "  login, a timing threshold tells known from unknown addresses in {:.0}% of probes",
        100.0 * best_split(&known_times, &unknown_times)
    );

    // A known address's login right after two forgot-password requests for it (their work runs
    // after the answers), against the same login on a quiet server.
    let mut after = [Vec::new(), Vec::new()];
    for round in 0..40 {
        let which = round % 2;
        for _ in 0..2 * (1 - which) {
            let request = Request::post("/auth/forgot-password")
                .header("content-type", "application/json")
                .body(Body::from(r#"{"email":"king.arthur@camelot.bt"}"#))
                .expect("a request");
            let _ = router.clone().oneshot(request).await;
        }
        after[which].push(login_time(&router, "king.arthur%40camelot.bt").await);
        users.wait_background().await;
    }
    let [busy, quiet] = after.map(median);
    println!(
        "  login right after 2 forgot-password: median {busy:>9.1?}, on a quiet server \
         {quiet:>9.1?}; ratio {:.2}",
        busy.as_secs_f64() / quiet.as_secs_f64()
    );

    // FastAPI Users builds the reset token (an argon2 hash) before answering.
    let manager = users.manager();
    let mut inline = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        let user = manager
            .get_by_email("king.arthur@camelot.bt")
            .await
            .expect("lookup")
            .expect("the user");
        let _ = manager.forgot_password(&user, None).await;
        inline.push(start.elapsed());
    }
    println!(
        "  the reset token's own work (done after the answer; a fingerprint at argon2's lowest cost, \
         FastAPI Users hashes at full cost before answering): median {:>9.1?}",
        median(inline)
    );
}

async fn login_time(router: &axum::Router, email: &str) -> Duration {
    let request = Request::post("/auth/jwt/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!(
            "username={email}&password=wrong-password"
        )))
        .expect("a request");
    let start = Instant::now();
    let response = router.clone().oneshot(request).await.expect("an answer");
    let status = response.status();
    let _ = axum::body::to_bytes(response.into_body(), 1024).await;
    assert_eq!(
        status,
        http::StatusCode::BAD_REQUEST,
        "login: measure the route"
    );
    start.elapsed()
}

/// The best accuracy of "slower than t means known" over every threshold t.
fn best_split(known: &[Duration], unknown: &[Duration]) -> f64 {
    let total = (known.len() + unknown.len()) as f64;
    known
        .iter()
        .chain(unknown)
        .map(|&t| {
            let right = known.iter().filter(|&&k| k >= t).count()
                + unknown.iter().filter(|&&u| u < t).count();
            let flipped = known.len() + unknown.len() - right;
            right.max(flipped) as f64 / total
        })
        .fold(0.5, f64::max)
}
