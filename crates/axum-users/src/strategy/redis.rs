//! [`RedisStrategy`]: FastAPI Users' `RedisStrategy`, opaque tokens as Redis keys.

use redis::aio::ConnectionManager;
use redis::AsyncCommands as _;

use super::{opaque_token, Strategy, StrategyError};
use crate::{User, UserId};

/// Opaque tokens in Redis: `SET fastapi_users_token:<token> <user id> EX <lifetime>`, logout
/// `DEL`. Beyond FastAPI Users, each user's tokens are also listed in a set
/// (`fastapi_users_user_tokens:<user id>`) so that a deactivation, deletion or password change
/// can revoke them all. Redis being down answers 503 within the response timeout (2 s).
#[derive(Clone)]
pub struct RedisStrategy {
    connection: ConnectionManager,
    lifetime_seconds: Option<u64>,
    key_prefix: String,
}

impl std::fmt::Debug for RedisStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStrategy")
            .field("lifetime_seconds", &self.lifetime_seconds)
            .field("key_prefix", &self.key_prefix)
            .finish_non_exhaustive()
    }
}

fn unavailable(err: redis::RedisError) -> StrategyError {
    StrategyError::Unavailable(format!("redis: {err}"))
}

impl RedisStrategy {
    /// Connects to `url` (`redis://host:port/db`, `rediss://` for TLS). The connection is
    /// re-established by itself after an outage.
    pub async fn connect(url: &str, lifetime_seconds: Option<u64>) -> Result<Self, StrategyError> {
        Ok(Self {
            connection: crate::redis_conn::connect(url).await.map_err(unavailable)?,
            lifetime_seconds: lifetime_seconds.filter(|&s| s > 0),
            key_prefix: "fastapi_users_token:".into(),
        })
    }

    /// The key prefix (default `fastapi_users_token:`, FastAPI Users').
    #[must_use]
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    fn key(&self, token: &str) -> String {
        format!("{}{token}", self.key_prefix)
    }

    fn user_set(user_id: UserId) -> String {
        format!("fastapi_users_user_tokens:{user_id}")
    }
}

impl Strategy for RedisStrategy {
    fn lifetime(&self) -> Option<std::time::Duration> {
        self.lifetime_seconds.map(std::time::Duration::from_secs)
    }

    async fn ping(&self) -> Result<(), StrategyError> {
        let mut connection = self.connection.clone();
        redis::cmd("PING")
            .query_async::<()>(&mut connection)
            .await
            .map_err(unavailable)
    }

    async fn read_token(&self, token: &str) -> Result<Option<UserId>, StrategyError> {
        let mut connection = self.connection.clone();
        let id: Option<String> = connection.get(self.key(token)).await.map_err(unavailable)?;
        Ok(id.as_deref().and_then(UserId::parse_any))
    }

    async fn write_token(&self, user: &User) -> Result<String, StrategyError> {
        let token = opaque_token();
        let key = self.key(&token);
        let set = Self::user_set(user.id);
        let mut pipe = redis::pipe();
        pipe.atomic();
        match self.lifetime_seconds {
            Some(lifetime) => {
                pipe.set_ex(&key, user.id.to_string(), lifetime).ignore();
                pipe.sadd(&set, &key).ignore();
                // The index lives as long as the newest token.
                pipe.expire(&set, i64::try_from(lifetime).unwrap_or(i64::MAX))
                    .ignore();
            }
            None => {
                pipe.set(&key, user.id.to_string()).ignore();
                pipe.sadd(&set, &key).ignore();
            }
        }
        let mut connection = self.connection.clone();
        pipe.query_async::<()>(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(token)
    }

    async fn destroy_token(&self, token: &str, user: &User) -> Result<(), StrategyError> {
        let key = self.key(token);
        let mut connection = self.connection.clone();
        redis::pipe()
            .del(&key)
            .ignore()
            .srem(Self::user_set(user.id), &key)
            .ignore()
            .query_async::<()>(&mut connection)
            .await
            .map_err(unavailable)
    }

    async fn revoke_user(&self, user_id: UserId) -> Result<(), StrategyError> {
        let set = Self::user_set(user_id);
        let mut connection = self.connection.clone();
        let keys: Vec<String> = connection.smembers(&set).await.map_err(unavailable)?;
        let mut pipe = redis::pipe();
        for key in &keys {
            pipe.del(key).ignore();
        }
        pipe.del(&set).ignore();
        pipe.query_async::<()>(&mut connection)
            .await
            .map_err(unavailable)
    }
}
