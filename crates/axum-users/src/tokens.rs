//! The verification and reset-password tokens: HS256 JWTs with their own secret, lifetime and
//! audience, minted and checked exactly as FastAPI Users does, so that tokens pass between the
//! two implementations when they share the secrets.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::jwt::{now_unix, JwtKeys};

/// FastAPI Users' `verification_token_audience`.
pub const VERIFY_AUDIENCE: &str = "fastapi-users:verify";
/// FastAPI Users' `reset_password_token_audience`.
pub const RESET_AUDIENCE: &str = "fastapi-users:reset";

/// Secret, lifetime and audience of one kind of token (FastAPI Users'
/// `*_token_secret`, `*_token_lifetime_seconds`, `*_token_audience`).
#[derive(Clone)]
#[non_exhaustive]
pub struct TokenSettings {
    pub(crate) keys: JwtKeys,
    pub(crate) lifetime: Duration,
    pub(crate) audience: String,
}

impl std::fmt::Debug for TokenSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSettings")
            .field("lifetime", &self.lifetime)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl TokenSettings {
    /// Tokens signed with this secret, valid one hour, with FastAPI Users' audience for `kind`.
    pub fn new(secret: impl AsRef<[u8]>, kind: TokenKind) -> Self {
        Self {
            keys: JwtKeys::hs256(secret.as_ref()),
            lifetime: Duration::from_secs(3600),
            audience: kind.audience().to_owned(),
        }
    }

    /// A random secret: tokens do not survive a restart and are not shared between instances.
    pub(crate) fn random(kind: TokenKind) -> Self {
        let mut secret = [0u8; 32];
        rand::fill(&mut secret);
        Self::new(secret, kind)
    }

    /// How long a token stays valid.
    #[must_use]
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// The `aud` claim written and required.
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    /// Signs `claims` plus `aud` and `exp`.
    pub(crate) fn mint(&self, mut claims: Map<String, Value>) -> Result<String, String> {
        claims.insert("aud".into(), Value::from(self.audience.as_str()));
        let lifetime = i64::try_from(self.lifetime.as_secs()).unwrap_or(i64::MAX / 2);
        claims.insert(
            "exp".into(),
            Value::from(now_unix().saturating_add(lifetime)),
        );
        self.keys.encode(&claims).map_err(|e| e.to_string())
    }

    /// The claims of a valid token (signature, audience, expiry), `None` for any problem.
    pub(crate) fn read(&self, token: &str) -> Option<Map<String, Value>> {
        self.keys.decode(token, &[self.audience.as_str()]).ok()
    }
}

/// Which token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenKind {
    /// E-mail verification (`fastapi-users:verify`).
    Verify,
    /// Password reset (`fastapi-users:reset`).
    Reset,
}

impl TokenKind {
    /// FastAPI Users' default audience for this kind.
    pub const fn audience(self) -> &'static str {
        match self {
            Self::Verify => VERIFY_AUDIENCE,
            Self::Reset => RESET_AUDIENCE,
        }
    }
}

/// Lower-case hex of `bytes` (digests kept as text: access keys, recovery-code digests, limit
/// keys).
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
