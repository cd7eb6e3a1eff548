//! Strategies: what a token is and how it maps to a user. [`Strategy`] is the contract (write,
//! read, destroy); [`JwtStrategy`] is FastAPI Users' stateless JWT.

use std::future::Future;
use std::sync::Arc;

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::jwt::{now_unix, JwtKeys};
use crate::manager::parse_id;
use crate::store::BoxFuture;
use crate::{ApiError, User};

/// Issues, reads and revokes tokens. `read_token` answers `Ok(None)` for every token problem
/// (malformed, expired, unknown); an `Err` means the strategy's backend failed (503).
pub trait Strategy: Send + Sync + 'static {
    /// The user id a token stands for.
    fn read_token(
        &self,
        token: &str,
    ) -> impl Future<Output = Result<Option<Uuid>, ApiError>> + Send;
    /// A new token for this user.
    fn write_token(&self, user: &User) -> impl Future<Output = Result<String, ApiError>> + Send;
    /// Revokes a token at logout. Stateless strategies cannot, and do nothing (the default).
    fn destroy_token(
        &self,
        _token: &str,
        _user: &User,
    ) -> impl Future<Output = Result<(), ApiError>> + Send {
        async { Ok(()) }
    }
}

/// [`Strategy`] made object-safe.
pub(crate) trait DynStrategy: Send + Sync {
    fn read_token<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Option<Uuid>, ApiError>>;
    fn write_token<'a>(&'a self, user: &'a User) -> BoxFuture<'a, Result<String, ApiError>>;
    fn destroy_token<'a>(
        &'a self,
        token: &'a str,
        user: &'a User,
    ) -> BoxFuture<'a, Result<(), ApiError>>;
}

impl<T: Strategy> DynStrategy for T {
    fn read_token<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Option<Uuid>, ApiError>> {
        Box::pin(Strategy::read_token(self, token))
    }
    fn write_token<'a>(&'a self, user: &'a User) -> BoxFuture<'a, Result<String, ApiError>> {
        Box::pin(Strategy::write_token(self, user))
    }
    fn destroy_token<'a>(
        &'a self,
        token: &'a str,
        user: &'a User,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(Strategy::destroy_token(self, token, user))
    }
}

/// Default audience of auth tokens.
pub const AUTH_AUDIENCE: &str = "fastapi-users:auth";

/// Stateless JWTs: `{"sub":"<id>","aud":["fastapi-users:auth"],"exp":<int>}`. Logout cannot
/// revoke them (use a database or Redis strategy for that).
#[derive(Debug, Clone)]
pub struct JwtStrategy {
    keys: Arc<JwtKeys>,
    lifetime_seconds: Option<u64>,
    audience: Vec<String>,
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
            lifetime_seconds: lifetime_seconds.filter(|&s| s > 0),
            audience: vec![AUTH_AUDIENCE.to_owned()],
        }
    }

    /// Replaces the audience list (written as-is; any one of them is accepted on read).
    #[must_use]
    pub fn audience(mut self, audience: Vec<String>) -> Self {
        self.audience = audience;
        self
    }
}

impl Strategy for JwtStrategy {
    async fn read_token(&self, token: &str) -> Result<Option<Uuid>, ApiError> {
        let audience: Vec<&str> = self.audience.iter().map(String::as_str).collect();
        let Ok(claims) = self.keys.decode(token, &audience) else {
            return Ok(None);
        };
        Ok(claims.get("sub").and_then(Value::as_str).and_then(parse_id))
    }

    async fn write_token(&self, user: &User) -> Result<String, ApiError> {
        let mut claims = Map::new();
        claims.insert("sub".into(), Value::from(user.id.to_string()));
        claims.insert("aud".into(), Value::from(self.audience.clone()));
        if let Some(lifetime) = self.lifetime_seconds {
            let lifetime = i64::try_from(lifetime).unwrap_or(i64::MAX);
            claims.insert(
                "exp".into(),
                Value::from(now_unix().saturating_add(lifetime)),
            );
        }
        self.keys.encode(&claims).map_err(ApiError::Internal)
    }
}
