//! Runs the app-state example on http://127.0.0.1:8002 with `app-state-example.db`.

use axum_users::{SqliteStore, UserSchema};
use example_app_state::{app, users, AppState};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt::init();
    let store =
        SqliteStore::connect("sqlite://app-state-example.db?mode=rwc", UserSchema::new()).await?;
    store.migrate().await?;
    let secret =
        std::env::var("SECRET").unwrap_or_else(|_| "change me: a long random secret".into());
    let state = AppState {
        users: users(store, &secret)?,
        motd: "The round table meets at noon.".into(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8002").await?;
    println!("listening on http://127.0.0.1:8002 (docs at /api/docs)");
    // The rate limits count per client address, which the connect info carries.
    let app = app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).await?;
    Ok(())
}
