//! For the benchmarks only (`bench/run`): the ceiling of an authenticated request, a bare axum
//! app that checks an HS256 JWT and returns a user held in memory, and the time of one password
//! hash alone. Not part of the product.
//!
//! ```text
//! axum-users-bench-ceiling serve <bind> <secret> <user-id> <email>
//! axum-users-bench-ceiling hash <memory-kib> <iterations> <parallelism> <count>
//! ```

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Map, Value};

struct Ceiling {
    key: DecodingKey,
    validation: Validation,
    user_id: String,
    user: Value,
}

async fn me(State(ceiling): State<Arc<Ceiling>>, headers: HeaderMap) -> Response {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = token else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    match jsonwebtoken::decode::<Map<String, Value>>(token, &ceiling.key, &ceiling.validation) {
        Ok(data) if data.claims.get("sub").and_then(Value::as_str) == Some(&ceiling.user_id) => {
            axum::Json(ceiling.user.clone()).into_response()
        }
        _ => StatusCode::UNAUTHORIZED.into_response(),
    }
}

fn usage() -> ! {
    eprintln!("usage: axum-users-bench-ceiling serve <bind> <secret> <user-id> <email>");
    eprintln!(
        "       axum-users-bench-ceiling hash <memory-kib> <iterations> <parallelism> <count>"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["serve", bind, secret, user_id, email] => {
            let mut validation = Validation::new(Algorithm::HS256);
            validation.set_audience(&["fastapi-users:auth"]);
            let Ok(key) = DecodingKey::from_secret(secret.as_bytes()) else {
                eprintln!("the secret must not be empty");
                std::process::exit(2);
            };
            let ceiling = Arc::new(Ceiling {
                key,
                validation,
                user_id: (*user_id).to_owned(),
                user: json!({"id": user_id, "email": email, "is_active": true,
                    "is_superuser": false, "is_verified": false}),
            });
            let app = Router::new()
                .route("/users/me", get(me))
                .with_state(ceiling);
            let listener = tokio::net::TcpListener::bind(*bind)
                .await
                .unwrap_or_else(|e| panic!("cannot listen on {bind}: {e}"));
            axum::serve(listener, app).await.expect("serve");
        }
        ["hash", memory, iterations, parallelism, count] => {
            let parse = |s: &str| s.parse::<u32>().unwrap_or_else(|_| usage());
            let hasher = axum_users::PasswordHasher::new(axum_users::Argon2Params::new(
                parse(memory),
                parse(iterations),
                parse(parallelism),
            ))
            .expect("argon2 parameters");
            let mut times = Vec::new();
            for _ in 0..parse(count).max(1) {
                let start = Instant::now();
                hasher.hash("correct-horse-battery").await.expect("hash");
                times.push(start.elapsed().as_secs_f64() * 1000.0);
            }
            times.sort_by(f64::total_cmp);
            // The median single-hash time in milliseconds.
            println!("{:.3}", times[times.len() / 2]);
        }
        _ => usage(),
    }
}
