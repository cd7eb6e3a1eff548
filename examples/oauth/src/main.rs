//! Runs the OAuth example on http://127.0.0.1:8006 against the OpenID Connect issuer in
//! `OIDC_ISSUER` (e.g. `https://accounts.google.com`) with `OIDC_CLIENT_ID` and
//! `OIDC_CLIENT_SECRET`; register `http://127.0.0.1:8006/auth/oidc/callback` as its redirect URI.

use axum_users::{OAuthProvider, SqliteStore, UserSchema};
use example_oauth::{app, users};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt::init();
    let var = |name: &str| std::env::var(name).map_err(|_| format!("set {name}"));
    let provider = OAuthProvider::oidc(
        "oidc",
        &var("OIDC_ISSUER")?,
        &var("OIDC_CLIENT_ID")?,
        &var("OIDC_CLIENT_SECRET")?,
    );
    let store =
        SqliteStore::connect("sqlite://oauth-example.db?mode=rwc", UserSchema::new()).await?;
    store.migrate().await?;
    let secret =
        std::env::var("SECRET").unwrap_or_else(|_| "change me: a long random secret".into());
    // Plain HTTP on localhost: cookies without Secure. Serve over HTTPS and pass `true`.
    let users = users(store, provider, &secret, false)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8006").await?;
    println!("open http://127.0.0.1:8006/auth/oidc/authorize");
    let service = app(&users).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service).await?;
    Ok(())
}
