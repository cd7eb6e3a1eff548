//! Strategies: what a token is and how it maps to a user. [`Strategy`] is the contract (write,
//! read, destroy, revoke); [`JwtStrategy`] is FastAPI Users' stateless JWT,
//! [`DatabaseStrategy`] its `accesstoken` table, `RedisStrategy` (feature `redis`) its Redis keys.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::jwt::{now_unix, JwtKeys};
use crate::store::{AccessTokenStore, DynAccessTokenStore, StoreError};
use crate::{User, UserId};

#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
pub use redis::RedisStrategy;

/// Why a strategy could not issue, read or revoke a token. A token that is merely invalid is
/// not an error: [`Strategy::read_token`] answers `Ok(None)` for it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StrategyError {
    /// The token table failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The token backend (Redis) cannot be reached: the request answers 503.
    #[error("token backend unavailable: {0}")]
    Unavailable(String),
    /// A token could not be made (a signing key that does not sign).
    #[error("cannot issue a token: {0}")]
    Issue(String),
}

/// Who a token stands for, as [`Strategy::read_subject`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenSubject {
    /// The user.
    pub user_id: UserId,
    /// The user's [`token_version`](User::token_version) the token was minted at: a token whose
    /// version is not the user's current one is refused. `None` for tokens that are revoked by
    /// deleting them instead (database, Redis).
    pub token_version: Option<i64>,
}

impl TokenSubject {
    /// A subject whose tokens are revoked by deleting them (no version).
    pub fn new(user_id: UserId) -> Self {
        Self {
            user_id,
            token_version: None,
        }
    }
}

/// Issues, reads and revokes tokens. `read_token` answers `Ok(None)` for every token problem
/// (malformed, expired, unknown); an `Err` means the strategy's backend failed (503).
///
/// A strategy that keeps tokens in a map, complete:
///
/// ```
/// use std::{collections::HashMap, sync::Mutex};
/// use axum_users::{Strategy, StrategyError, User, UserId};
/// use uuid::Uuid;
///
/// #[derive(Default)]
/// struct MemoryTokens(Mutex<HashMap<String, UserId>>);
///
/// impl Strategy for MemoryTokens {
///     async fn read_token(&self, token: &str) -> Result<Option<UserId>, StrategyError> {
///         Ok(self.0.lock().unwrap().get(token).copied())
///     }
///     async fn write_token(&self, user: &User) -> Result<String, StrategyError> {
///         let token = Uuid::new_v4().to_string();
///         self.0.lock().unwrap().insert(token.clone(), user.id);
///         Ok(token)
///     }
///     async fn destroy_token(&self, token: &str, _user: &User) -> Result<(), StrategyError> {
///         self.0.lock().unwrap().remove(token);
///         Ok(())
///     }
/// }
/// ```
#[dynosaur::dynosaur(pub(crate) DynStrategy = dyn(box) Strategy)]
pub trait Strategy: Send + Sync {
    /// The user id a token stands for.
    fn read_token(
        &self,
        token: &str,
    ) -> impl Future<Output = Result<Option<UserId>, StrategyError>> + Send;
    /// The user id a token stands for and, for self-contained tokens, the token version it
    /// carries. The default asks [`Strategy::read_token`] and carries no version.
    fn read_subject(
        &self,
        token: &str,
    ) -> impl Future<Output = Result<Option<TokenSubject>, StrategyError>> + Send {
        async move { Ok(self.read_token(token).await?.map(TokenSubject::new)) }
    }
    /// A new token for this user.
    fn write_token(
        &self,
        user: &User,
    ) -> impl Future<Output = Result<String, StrategyError>> + Send;
    /// Revokes a token at logout. Stateless strategies cannot, and do nothing (the default).
    fn destroy_token(
        &self,
        _token: &str,
        _user: &User,
    ) -> impl Future<Output = Result<(), StrategyError>> + Send {
        async { Ok(()) }
    }
    /// How long its tokens live (`None`: for ever, or unknown): a session without a refresh
    /// token ends with its access token.
    fn lifetime(&self) -> Option<Duration> {
        None
    }
    /// Whether the strategy's backend answers now, for readiness probes (`GET /ready`). The
    /// default (stateless strategies, and those that keep tokens in the user store) is `Ok`.
    fn ping(&self) -> impl Future<Output = Result<(), StrategyError>> + Send {
        async { Ok(()) }
    }
    /// Revokes every token of a user: called when a user is deactivated or deleted or changes
    /// their password. Stateless strategies cannot, and do nothing (the default).
    fn revoke_user(
        &self,
        _user_id: UserId,
    ) -> impl Future<Output = Result<(), StrategyError>> + Send {
        async { Ok(()) }
    }
}

/// Default audience of auth tokens.
pub const AUTH_AUDIENCE: &str = "fastapi-users:auth";

/// Stateless JWTs: `{"sub":"<id>","aud":["fastapi-users:auth"],"exp":<int>}`. Logout cannot
/// revoke one token (use a database or Redis strategy for that); "log out everywhere" revokes
/// them all: it raises the user's token version, which tokens carry as `ver` once it is above 0
/// (a token without `ver`, as FastAPI Users mints them, stands for version 0).
#[derive(Debug, Clone)]
pub struct JwtStrategy {
    keys: Arc<JwtKeys>,
    /// Keys retired by a rotation, still accepted (never used to sign).
    previous: Vec<Arc<JwtKeys>>,
    lifetime_seconds: Option<u64>,
    audience: Vec<String>,
    /// Each accepted key with what its tokens are read with, built once (the current key
    /// first): reading a token allocates no validation settings.
    readers: Arc<Vec<(Arc<JwtKeys>, jsonwebtoken::Validation)>>,
}

impl JwtStrategy {
    /// HS256 with this secret; `lifetime_seconds` of `None` or `Some(0)` writes no `exp`.
    pub fn new(secret: impl AsRef<[u8]>, lifetime_seconds: Option<u64>) -> Self {
        Self::with_keys(JwtKeys::hs256(secret.as_ref()), lifetime_seconds)
    }

    /// Any algorithm, e.g. RS256 from a PEM key pair.
    pub fn with_keys(keys: JwtKeys, lifetime_seconds: Option<u64>) -> Self {
        Self {
            keys: Arc::new(keys),
            previous: Vec::new(),
            lifetime_seconds: lifetime_seconds.filter(|&s| s > 0),
            audience: vec![AUTH_AUDIENCE.to_owned()],
            readers: Arc::default(),
        }
        .with_readers()
    }

    fn with_readers(mut self) -> Self {
        let audience: Vec<&str> = self.audience.iter().map(String::as_str).collect();
        let readers = std::iter::once(&self.keys)
            .chain(&self.previous)
            .map(|keys| (keys.clone(), keys.validation(&audience)))
            .collect();
        self.readers = Arc::new(readers);
        self
    }

    /// Also accepts tokens signed with `keys` (a key rotation: sign with the new key, keep
    /// accepting the old one for one token lifetime, so that nobody is logged out).
    #[must_use]
    pub fn also_accept(mut self, keys: JwtKeys) -> Self {
        self.previous.push(Arc::new(keys));
        self.with_readers()
    }

    /// Replaces the audience list (written as-is; any one of them is accepted on read).
    #[must_use]
    pub fn audience(mut self, audience: Vec<String>) -> Self {
        self.audience = audience;
        self.with_readers()
    }
}

impl Strategy for JwtStrategy {
    fn lifetime(&self) -> Option<Duration> {
        self.lifetime_seconds.map(Duration::from_secs)
    }

    async fn read_token(&self, token: &str) -> Result<Option<UserId>, StrategyError> {
        Ok(Strategy::read_subject(self, token)
            .await?
            .map(|s| s.user_id))
    }

    async fn read_subject(&self, token: &str) -> Result<Option<TokenSubject>, StrategyError> {
        /// The claims an auth token is read for; the others are skipped without being kept.
        #[derive(serde::Deserialize)]
        struct AuthClaims {
            #[serde(default, deserialize_with = "crate::jwt::present")]
            sub: Option<Value>,
            #[serde(default, deserialize_with = "crate::jwt::present")]
            ver: Option<Value>,
            #[serde(default, deserialize_with = "crate::jwt::present")]
            exp: Option<Value>,
            #[serde(default, deserialize_with = "crate::jwt::present")]
            nbf: Option<Value>,
            #[serde(default, deserialize_with = "crate::jwt::present")]
            iat: Option<Value>,
        }
        let Some(claims) = self.readers.iter().find_map(|(keys, validation)| {
            let claims: AuthClaims = keys.decode_with(token, validation).ok()?;
            let whole = |claim: &Option<Value>| claim.as_ref().map(Value::as_i64);
            crate::jwt::check_times(whole(&claims.exp), whole(&claims.nbf), whole(&claims.iat))
                .ok()?;
            Some(claims)
        }) else {
            return Ok(None);
        };
        let Some(user_id) = claims
            .sub
            .as_ref()
            .and_then(Value::as_str)
            .and_then(UserId::parse_any)
        else {
            return Ok(None);
        };
        let token_version = match claims.ver {
            None => 0,
            Some(version) => match version.as_i64() {
                Some(version) => version,
                None => return Ok(None),
            },
        };
        Ok(Some(TokenSubject {
            user_id,
            token_version: Some(token_version),
        }))
    }

    async fn write_token(&self, user: &User) -> Result<String, StrategyError> {
        let mut claims = Map::new();
        claims.insert("sub".into(), Value::from(user.id.to_string()));
        claims.insert("aud".into(), Value::from(self.audience.clone()));
        if user.token_version != 0 {
            claims.insert("ver".into(), Value::from(user.token_version));
        }
        if let Some(lifetime) = self.lifetime_seconds {
            let lifetime = i64::try_from(lifetime).unwrap_or(i64::MAX);
            claims.insert(
                "exp".into(),
                Value::from(now_unix().saturating_add(lifetime)),
            );
        }
        self.keys
            .encode(&claims)
            .map_err(|e| StrategyError::Issue(e.to_string()))
    }
}

/// A new opaque token: 32 random bytes, URL-safe base64 without padding (43 characters), as
/// FastAPI Users' `secrets.token_urlsafe()`.
pub(crate) fn opaque_token() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Opaque tokens in the `accesstoken` table (FastAPI Users' `DatabaseStrategy`): logout deletes
/// the row, so it really ends the session; every request costs one look-up. Tokens older than
/// the lifetime are refused; their rows are deleted by the store's
/// [`ExpiredDeletion`](crate::ExpiredDeletion), run in the background.
#[derive(Clone)]
pub struct DatabaseStrategy {
    store: Arc<DynAccessTokenStore<'static>>,
    lifetime: Option<Duration>,
}

impl std::fmt::Debug for DatabaseStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseStrategy")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl DatabaseStrategy {
    /// Tokens in `store` (e.g. the same [`crate::SqliteStore`] or `PostgresStore` as the users);
    /// `lifetime_seconds` of `None` or `Some(0)`: tokens never expire.
    pub fn new(store: impl AccessTokenStore + 'static, lifetime_seconds: Option<u64>) -> Self {
        Self {
            store: Arc::from(DynAccessTokenStore::new_box(store)),
            lifetime: lifetime_seconds.filter(|&s| s > 0).map(Duration::from_secs),
        }
    }

    /// How long a token lives (`None`: for ever): the `max_age` to give
    /// [`ExpiredDeletion::delete_expired`](crate::ExpiredDeletion::delete_expired).
    pub fn lifetime(&self) -> Option<Duration> {
        self.lifetime
    }
}

impl Strategy for DatabaseStrategy {
    fn lifetime(&self) -> Option<Duration> {
        self.lifetime
    }

    async fn read_token(&self, token: &str) -> Result<Option<UserId>, StrategyError> {
        Ok(self.store.get_token(token, self.lifetime).await?)
    }

    async fn write_token(&self, user: &User) -> Result<String, StrategyError> {
        let token = opaque_token();
        self.store.create_token(&token, user.id).await?;
        Ok(token)
    }

    async fn destroy_token(&self, token: &str, _user: &User) -> Result<(), StrategyError> {
        Ok(self.store.delete_token(token).await?)
    }

    async fn revoke_user(&self, user_id: UserId) -> Result<(), StrategyError> {
        self.store.delete_user_tokens(user_id).await?;
        Ok(())
    }
}
