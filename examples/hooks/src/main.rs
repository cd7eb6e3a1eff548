//! Runs the hooks example on http://127.0.0.1:8003: welcome e-mails land in `./outbox` as
//! `.eml` files.

use axum_users::{OutboxMailer, SqliteStore, UserSchema};
use example_hooks::{app, users};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt::init();
    let store =
        SqliteStore::connect("sqlite://hooks-example.db?mode=rwc", UserSchema::new()).await?;
    store.migrate().await?;
    let secret =
        std::env::var("SECRET").unwrap_or_else(|_| "change me: a long random secret".into());
    let mailer = OutboxMailer::new("outbox", "Camelot <noreply@camelot.bt>")?;
    let users = users(store, mailer, &secret)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8003").await?;
    println!("listening on http://127.0.0.1:8003");
    let service = app(&users).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service).await?;
    // Accepted e-mails still go out before the process ends.
    users.wait_background().await;
    Ok(())
}
