//! Runs the custom-fields example on http://127.0.0.1:8001 with `users-example.db`.

use axum_users::SqliteStore;
use example_custom_fields::{app, schema, users};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt::init();
    let store = SqliteStore::connect("sqlite://users-example.db", schema()).await?;
    store.migrate().await?;
    let secret =
        std::env::var("SECRET").unwrap_or_else(|_| "change me: a long random secret".into());
    let users = users(store, &secret)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8001").await?;
    println!("listening on http://127.0.0.1:8001");
    // The rate limits count per client address, which the connect info carries.
    let app = app(users).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).await?;
    Ok(())
}
