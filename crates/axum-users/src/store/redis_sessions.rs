//! [`RedisSessionStore`]: sessions in Redis, for applications whose users do not live in a SQL
//! store (or that want session writes off their database).

use redis::aio::ConnectionManager;
use redis::AsyncCommands as _;

use crate::session::{Session, SessionStore};
use crate::{StoreError, UserId};

/// Sessions in Redis: each a hash (`<prefix><id>`: the session as JSON, its user, its access
/// key, its generation) that expires with the session, an index from access key to session
/// (`<prefix>access:<key>`), and each user's sessions in a sorted set by last use
/// (`<prefix>user:<user id>`). Rotation and deletion are Lua scripts, so each is atomic: of
/// concurrent refreshes one rotates, of concurrent deletions one answers the session. Expired
/// sessions are deleted by Redis itself. Not for Redis Cluster (the scripts touch keys of
/// several slots).
#[derive(Clone)]
pub struct RedisSessionStore {
    connection: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessionStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn unavailable(err: redis::RedisError) -> StoreError {
    StoreError::Unavailable(format!("redis: {err}"))
}

/// Sets the rotated fields if the generation is still the expected one; 1 if it did.
const ROTATE: &str = r"
if redis.call('HGET', KEYS[1], 'generation') ~= ARGV[2] then return 0 end
local old = redis.call('HGET', KEYS[1], 'access')
local user = redis.call('HGET', KEYS[1], 'user')
redis.call('DEL', ARGV[6] .. 'access:' .. old)
redis.call('HSET', KEYS[1], 'json', ARGV[1], 'generation', ARGV[3], 'access', ARGV[4])
redis.call('SET', ARGV[6] .. 'access:' .. ARGV[4], ARGV[7])
redis.call('ZADD', ARGV[6] .. 'user:' .. user, ARGV[8], ARGV[7])
if tonumber(ARGV[5]) > 0 then
  redis.call('EXPIREAT', KEYS[1], ARGV[5])
  redis.call('EXPIREAT', ARGV[6] .. 'access:' .. ARGV[4], ARGV[5])
end
return 1
";

/// Deletes a session with its indexes; answers its JSON, or nil if it was gone.
const DELETE: &str = r"
local json = redis.call('HGET', KEYS[1], 'json')
if not json then return false end
local access = redis.call('HGET', KEYS[1], 'access')
local user = redis.call('HGET', KEYS[1], 'user')
redis.call('DEL', KEYS[1], ARGV[1] .. 'access:' .. access)
redis.call('ZREM', ARGV[1] .. 'user:' .. user, ARGV[2])
return json
";

impl RedisSessionStore {
    /// Connects to `url` (`redis://host:port/db`, `rediss://` for TLS); the connection comes
    /// back by itself after an outage.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Ok(Self {
            connection: crate::redis_conn::connect(url).await.map_err(unavailable)?,
            prefix: "axum_users_session:".into(),
        })
    }

    /// The prefix of every key (default `axum_users_session:`).
    #[must_use]
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    fn key(&self, id: &str) -> String {
        format!("{}{id}", self.prefix)
    }

    fn access(&self, access_key: &str) -> String {
        format!("{}access:{access_key}", self.prefix)
    }

    fn user(&self, user_id: UserId) -> String {
        format!("{}user:{user_id}", self.prefix)
    }

    fn decode(json: &str) -> Result<Session, StoreError> {
        serde_json::from_str(json)
            .map_err(|e| StoreError::Other(format!("unreadable session in redis: {e}")))
    }

    fn encode(session: &Session) -> Result<String, StoreError> {
        serde_json::to_string(session).map_err(|e| StoreError::Other(e.to_string()))
    }

    async fn delete_script(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let mut connection = self.connection.clone();
        let json: Option<String> = redis::cmd("EVAL")
            .arg(DELETE)
            .arg(1)
            .arg(self.key(id))
            .arg(&self.prefix)
            .arg(id)
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        json.as_deref().map(Self::decode).transpose()
    }
}

impl SessionStore for RedisSessionStore {
    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        let key = self.key(&session.id);
        let access = self.access(&session.access_key);
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.hset_multiple(
            &key,
            &[
                ("json", Self::encode(session)?),
                ("user", session.user_id.to_string()),
                ("access", session.access_key.clone()),
                ("generation", session.generation.to_string()),
            ],
        )
        .ignore();
        pipe.set(&access, &session.id).ignore();
        pipe.zadd(
            self.user(session.user_id),
            &session.id,
            session.last_used_at,
        )
        .ignore();
        if let Some(at) = session.expires_at {
            pipe.expire_at(&key, at).ignore();
            pipe.expire_at(&access, at).ignore();
        }
        let mut connection = self.connection.clone();
        pipe.query_async::<()>(&mut connection)
            .await
            .map_err(unavailable)
    }

    async fn get_session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let mut connection = self.connection.clone();
        let json: Option<String> = connection
            .hget(self.key(id), "json")
            .await
            .map_err(unavailable)?;
        json.as_deref().map(Self::decode).transpose()
    }

    async fn session_by_access_key(&self, access_key: &str) -> Result<Option<Session>, StoreError> {
        let mut connection = self.connection.clone();
        let id: Option<String> = connection
            .get(self.access(access_key))
            .await
            .map_err(unavailable)?;
        let Some(id) = id else {
            return Ok(None);
        };
        Ok(self
            .get_session(&id)
            .await?
            .filter(|s| s.access_key == access_key))
    }

    async fn user_sessions(&self, user_id: UserId) -> Result<Vec<Session>, StoreError> {
        let set = self.user(user_id);
        let mut connection = self.connection.clone();
        let ids: Vec<String> = connection
            .zrevrange(
                &set,
                0,
                isize::try_from(crate::session::MAX_LISTED).unwrap_or(1000) - 1,
            )
            .await
            .map_err(unavailable)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.hget(self.key(id), "json");
        }
        let found: Vec<Option<String>> = pipe
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        let mut sessions = Vec::with_capacity(ids.len());
        let mut gone = Vec::new();
        for (id, json) in ids.iter().zip(found) {
            match json {
                Some(json) => sessions.push(Self::decode(&json)?),
                None => gone.push(id.clone()),
            }
        }
        if !gone.is_empty() {
            // Expired by Redis: their entries in the user's set go too.
            let _: () = connection.zrem(&set, gone).await.map_err(unavailable)?;
        }
        Ok(sessions)
    }

    async fn rotate_session(&self, rotated: &Session, expected: i64) -> Result<bool, StoreError> {
        let mut connection = self.connection.clone();
        let done: i64 = redis::cmd("EVAL")
            .arg(ROTATE)
            .arg(1)
            .arg(self.key(&rotated.id))
            .arg(Self::encode(rotated)?)
            .arg(expected.to_string())
            .arg(rotated.generation.to_string())
            .arg(&rotated.access_key)
            .arg(rotated.expires_at.unwrap_or(0))
            .arg(&self.prefix)
            .arg(&rotated.id)
            .arg(rotated.last_used_at)
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(done == 1)
    }

    async fn delete_session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        self.delete_script(id).await
    }

    async fn delete_user_sessions(
        &self,
        user_id: UserId,
        keep: Option<&str>,
    ) -> Result<Vec<Session>, StoreError> {
        let mut connection = self.connection.clone();
        let ids: Vec<String> = connection
            .zrange(self.user(user_id), 0, -1)
            .await
            .map_err(unavailable)?;
        let mut deleted = Vec::new();
        for id in ids.iter().filter(|id| Some(id.as_str()) != keep) {
            if let Some(session) = self.delete_script(id).await? {
                deleted.push(session);
            }
        }
        Ok(deleted)
    }

    async fn delete_expired_sessions(&self, _now: i64) -> Result<u64, StoreError> {
        // Redis deletes them at their expiry.
        Ok(0)
    }
}
