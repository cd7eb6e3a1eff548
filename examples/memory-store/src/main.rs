//! Runs the memory-store example on http://127.0.0.1:8004 (everything is lost at exit).

use example_memory_store::{app, users, MemoryStore};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt::init();
    let users = users(MemoryStore::default())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8004").await?;
    println!("listening on http://127.0.0.1:8004");
    let service = app(&users).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service).await?;
    Ok(())
}
