//! The Redis connection shared by the Redis token strategy and the shared rate-limit counters:
//! one multiplexed connection that re-establishes itself after an outage, with short timeouts
//! so that a command fails within 2 s (503) instead of hanging while Redis is away.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// Connects to `url` (`redis://host:port/db`, `rediss://` for TLS).
pub(crate) async fn connect(url: &str) -> Result<ConnectionManager, redis::RedisError> {
    let client = redis::Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(500));
    client.get_connection_manager_with_config(config).await
}
