//! Sessions: every login is one ([`Session`]), which its user can list and end; on a backend
//! with refresh tokens ([`Backend::refresh_tokens`](crate::Backend::refresh_tokens)) a session
//! also renews its access token without the password, each refresh token working once
//! (rotation), a rotated one presented again ending the whole session (reuse detection).
//!
//! A refresh token is `<session id>.<generation>.<MAC>`: the MAC (HMAC-SHA256 under
//! [`SessionSettings`]' secret and the session's own random key) makes it unforgeable, and the
//! generation is what rotation moves on with a compare-and-set in the store, so of concurrent
//! refreshes with one token exactly one rotates; the others, within the grace period, get the
//! winner's answer.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::store_error::StoreError;
use crate::UserId;

/// One login of a user, as the store keeps it. `Debug` never shows its tokens.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Session {
    /// Random, URL-safe (22 characters); public to its user.
    pub id: String,
    /// Whose session it is.
    pub user_id: UserId,
    /// The backend that issued it (its tokens are that backend's).
    pub backend: String,
    /// How the user proved who they were: `password`, `oauth:<provider>`.
    pub method: String,
    /// When it began (Unix seconds).
    pub created_at: i64,
    /// Its last login or refresh (Unix seconds).
    pub last_used_at: i64,
    /// When it ends unless refreshed (Unix seconds); `None`: it lasts as long as its access
    /// token, which does not expire.
    pub expires_at: Option<i64>,
    /// The client's address at the last login or refresh.
    pub ip: Option<String>,
    /// The client's `User-Agent` at the last login or refresh (at most 256 characters).
    pub user_agent: Option<String>,
    /// Whether it has a refresh token.
    pub refresh: bool,
    /// How many times the refresh token was rotated.
    pub generation: i64,
    /// When the refresh token was last rotated (Unix seconds).
    pub rotated_at: i64,
    /// The session's current access token (a database or Redis token is revoked through it when
    /// the session ends; the grace period answers it again).
    pub access_token: String,
    /// SHA-256 of the access token, hex: what the store looks a session up by.
    pub access_key: String,
    /// The session's own key for its refresh tokens' MAC.
    pub secret: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("backend", &self.backend)
            .field("method", &self.method)
            .field("created_at", &self.created_at)
            .field("last_used_at", &self.last_used_at)
            .field("expires_at", &self.expires_at)
            .field("refresh", &self.refresh)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Whether it has ended by time at `now` (Unix seconds).
    pub fn expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// Where sessions live: the SQL stores keep them in an `auth_session` table (created by
/// `migrate`). Every method is one statement; [`SessionStore::rotate_session`] is the
/// compare-and-set that makes a refresh token single-use.
#[dynosaur::dynosaur(pub(crate) DynSessionStore = dyn(box) SessionStore)]
pub trait SessionStore: Send + Sync {
    /// Stores a new session.
    fn create_session(
        &self,
        session: &Session,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The session with this id.
    fn get_session(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Session>, StoreError>> + Send;
    /// The session whose current access token has this [`Session::access_key`].
    fn session_by_access_key(
        &self,
        access_key: &str,
    ) -> impl Future<Output = Result<Option<Session>, StoreError>> + Send;
    /// A user's sessions, most recently used first.
    fn user_sessions(
        &self,
        user_id: UserId,
    ) -> impl Future<Output = Result<Vec<Session>, StoreError>> + Send;
    /// Writes `rotated` (generation, times, access token, client) over the session only if its
    /// generation is still `expected`; whether it was written.
    fn rotate_session(
        &self,
        rotated: &Session,
        expected: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Deletes a session, answering it if it existed (so that of two deletions one sees it).
    fn delete_session(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Session>, StoreError>> + Send;
    /// Deletes every session of a user but `keep`, answering those deleted.
    fn delete_user_sessions(
        &self,
        user_id: UserId,
        keep: Option<&str>,
    ) -> impl Future<Output = Result<Vec<Session>, StoreError>> + Send;
    /// Deletes the sessions that ended by time before `now` (Unix seconds); how many.
    fn delete_expired_sessions(
        &self,
        now: i64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// How sessions behave: the refresh tokens' secret, the grace period and the bound on one
/// user's sessions.
#[derive(Clone)]
#[non_exhaustive]
pub struct SessionSettings {
    secret: Vec<u8>,
    /// How long after a rotation the previous refresh token still gets the current answer
    /// instead of ending the session (a client that retried a refresh whose answer it lost).
    /// Default 10 s; zero turns it off.
    pub grace: Duration,
    /// Sessions one user keeps at most (default 100): a new login beyond it ends the least
    /// recently used one.
    pub max_per_user: usize,
}

impl std::fmt::Debug for SessionSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionSettings")
            .field("grace", &self.grace)
            .field("max_per_user", &self.max_per_user)
            .finish_non_exhaustive()
    }
}

impl SessionSettings {
    /// Refresh tokens signed with `secret` (keep it as secret as the JWT secret; every instance
    /// needs the same one).
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        Self {
            secret: secret.as_ref().to_vec(),
            grace: Duration::from_secs(10),
            max_per_user: 100,
        }
    }

    /// The grace period (see [`SessionSettings::grace`]).
    #[must_use]
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The bound on one user's sessions (at least 1).
    #[must_use]
    pub fn max_per_user(mut self, sessions: usize) -> Self {
        self.max_per_user = sessions.max(1);
        self
    }
}

/// Sessions a store lists for one user at most (the per-user bound is far lower: this guards
/// the read).
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
pub(crate) const MAX_LISTED: i64 = 1000;

/// The longest refresh token read: an id, a generation and a MAC are far shorter.
pub(crate) const MAX_REFRESH_TOKEN_CHARS: usize = 200;

/// The sessions of an [`AxumUsers`](crate::AxumUsers): the store and the settings.
#[derive(Clone)]
pub(crate) struct Sessions {
    pub(crate) store: Arc<DynSessionStore<'static>>,
    pub(crate) settings: SessionSettings,
}

/// What a refresh token names, before it is checked against the store.
pub(crate) struct RefreshClaim<'a> {
    pub(crate) session_id: &'a str,
    pub(crate) generation: i64,
    mac: &'a str,
}

impl Sessions {
    pub(crate) fn new(store: impl SessionStore + 'static, settings: SessionSettings) -> Self {
        Self {
            store: Arc::from(DynSessionStore::new_box(store)),
            settings,
        }
    }

    fn mac(&self, session: &Session, generation: i64) -> String {
        use base64::Engine as _;
        use hmac::{KeyInit as _, Mac as _};
        // HMAC takes a key of any length.
        let mut mac = hmac::SimpleHmac::<sha2::Sha256>::new_from_slice(&self.settings.secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
        mac.update(session.id.as_bytes());
        mac.update(b".");
        mac.update(generation.to_string().as_bytes());
        mac.update(b".");
        mac.update(session.secret.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// The refresh token of `session` at `generation`.
    pub(crate) fn refresh_token(&self, session: &Session, generation: i64) -> String {
        format!(
            "{}.{generation}.{}",
            session.id,
            self.mac(session, generation)
        )
    }

    /// The parts of a well-formed refresh token.
    pub(crate) fn parse(token: &str) -> Option<RefreshClaim<'_>> {
        if token.len() > MAX_REFRESH_TOKEN_CHARS {
            return None;
        }
        let mut parts = token.split('.');
        let (Some(session_id), Some(generation), Some(mac), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let url_safe = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if !url_safe(session_id)
            || !url_safe(mac)
            || !generation.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        Some(RefreshClaim {
            session_id,
            generation: generation.parse().ok()?,
            mac,
        })
    }

    /// Whether the claim's MAC is the session's for its generation (constant time).
    pub(crate) fn authentic(&self, session: &Session, claim: &RefreshClaim<'_>) -> bool {
        use subtle::ConstantTimeEq as _;
        let expected = self.mac(session, claim.generation);
        expected.as_bytes().ct_eq(claim.mac.as_bytes()).into()
    }
}

/// A new session id or key: 16 random bytes, URL-safe base64 (22 characters).
pub(crate) fn random_id() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// [`Session::access_key`] of an access token.
pub(crate) fn access_key(token: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(token.as_bytes());
    crate::tokens::hex(&digest)
}

/// At most `max` characters of a client-supplied text.
pub(crate) fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            id: random_id(),
            user_id: UserId::from(7_i64),
            backend: "jwt".into(),
            method: "password".into(),
            created_at: 0,
            last_used_at: 0,
            expires_at: None,
            ip: None,
            user_agent: None,
            refresh: true,
            generation: 0,
            rotated_at: 0,
            access_token: "a".into(),
            access_key: access_key("a"),
            secret: random_id(),
        }
    }

    #[test]
    fn refresh_tokens_round_trip_and_refuse_tampering() {
        let sessions = Sessions::new(NoStore, SessionSettings::new("s"));
        let s = session();
        let token = sessions.refresh_token(&s, 3);
        let claim = Sessions::parse(&token).expect("well formed");
        assert_eq!(claim.session_id, s.id);
        assert_eq!(claim.generation, 3);
        assert!(sessions.authentic(&s, &claim));
        let other_generation = token.replacen(".3.", ".4.", 1);
        assert!(!sessions.authentic(&s, &Sessions::parse(&other_generation).unwrap()));
        let other_secret = Sessions::new(NoStore, SessionSettings::new("t"));
        assert!(!other_secret.authentic(&s, &claim));
        for bad in [
            "",
            "a.b",
            "a.1.c.d",
            "a.-1.c",
            "a.1.c d",
            "a..c",
            &"x".repeat(201),
        ] {
            assert!(Sessions::parse(bad).is_none(), "{bad:?}");
        }
        assert!(format!("{s:?}").find(&s.secret).is_none());
        assert!(!format!("{s:?}").contains("access_token"));
    }

    struct NoStore;

    impl SessionStore for NoStore {
        async fn create_session(&self, _: &Session) -> Result<(), StoreError> {
            Ok(())
        }
        async fn get_session(&self, _: &str) -> Result<Option<Session>, StoreError> {
            Ok(None)
        }
        async fn session_by_access_key(&self, _: &str) -> Result<Option<Session>, StoreError> {
            Ok(None)
        }
        async fn user_sessions(&self, _: UserId) -> Result<Vec<Session>, StoreError> {
            Ok(Vec::new())
        }
        async fn rotate_session(&self, _: &Session, _: i64) -> Result<bool, StoreError> {
            Ok(false)
        }
        async fn delete_session(&self, _: &str) -> Result<Option<Session>, StoreError> {
            Ok(None)
        }
        async fn delete_user_sessions(
            &self,
            _: UserId,
            _: Option<&str>,
        ) -> Result<Vec<Session>, StoreError> {
            Ok(Vec::new())
        }
        async fn delete_expired_sessions(&self, _: i64) -> Result<u64, StoreError> {
            Ok(0)
        }
    }
}
