//! Runs the sessions example on http://127.0.0.1:8007.

use axum_users::{SqliteStore, UserSchema};
use example_sessions::{app, users};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt::init();
    let store =
        SqliteStore::connect("sqlite://sessions-example.db?mode=rwc", UserSchema::new()).await?;
    store.migrate().await?;
    let secret =
        std::env::var("SECRET").unwrap_or_else(|_| "change me: a long random secret".into());
    let users = users(store, &secret)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8007").await?;
    println!("listening on http://127.0.0.1:8007");
    let service = app(&users).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service).await?;
    users.wait_background().await;
    Ok(())
}
