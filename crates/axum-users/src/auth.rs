//! Authentication: a [`Backend`] is a name, a [`Transport`] and a [`Strategy`]; the
//! authenticator tries the backends in order (FastAPI Users' `current_user` algorithm). The
//! extractors (`crate::extract`) hand its result to handlers.

use std::sync::Arc;

use http::HeaderMap;

use crate::manager::{ManagerError, UserManager};
use crate::User;

use crate::strategy::{DynStrategy, Strategy, StrategyError};
use crate::transport::Transport;

/// An authentication backend: how the token travels and what it is.
#[derive(Clone)]
pub struct Backend {
    pub(crate) name: String,
    pub(crate) transport: Transport,
    pub(crate) strategy: Arc<DynStrategy<'static>>,
    /// How long a refresh token lives, when the backend issues them.
    pub(crate) refresh: Option<std::time::Duration>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("name", &self.name)
            .field("transport", &self.transport)
            .field("refresh", &self.refresh)
            .finish_non_exhaustive()
    }
}

impl Backend {
    /// A backend named `name` (unique among the backends; it names its routes).
    ///
    /// ```
    /// use axum_users::{Backend, BearerTransport, JwtStrategy};
    /// let backend = Backend::new(
    ///     "jwt",
    ///     BearerTransport::new("auth/jwt/login"),
    ///     JwtStrategy::new("a long random secret", Some(3600)),
    /// );
    /// assert_eq!(backend.name(), "jwt");
    /// ```
    pub fn new(
        name: impl Into<String>,
        transport: impl Into<Transport>,
        strategy: impl Strategy + 'static,
    ) -> Self {
        Self {
            name: name.into(),
            transport: transport.into(),
            strategy: Arc::from(DynStrategy::new_box(strategy)),
            refresh: None,
        }
    }

    /// Logins through this backend also answer a refresh token that lives `lifetime` (renewed
    /// at each refresh), and `POST /auth/{name}/refresh` trades it for a new access token and a
    /// new refresh token: Bearer clients get it as `"refresh_token"` in the login's JSON,
    /// cookie clients as a second `HttpOnly` cookie (`<name>_refresh`) sent only to the
    /// refresh route. Needs [`AxumUsersBuilder::sessions`](crate::AxumUsersBuilder::sessions);
    /// give the access tokens a short lifetime (e.g. 15 minutes).
    #[must_use]
    pub fn refresh_tokens(mut self, lifetime: std::time::Duration) -> Self {
        self.refresh = Some(lifetime).filter(|l| !l.is_zero());
        self
    }

    /// How long its refresh tokens live, if it issues them.
    pub fn refresh_lifetime(&self) -> Option<std::time::Duration> {
        self.refresh
    }

    /// The backend's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its transport.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    pub(crate) async fn write_token(&self, user: &User) -> Result<String, StrategyError> {
        self.strategy.write_token(user).await
    }

    pub(crate) async fn destroy_token(
        &self,
        token: &str,
        user: &User,
    ) -> Result<(), StrategyError> {
        self.strategy.destroy_token(token, user).await
    }
}

/// Why a request is not let through.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No backend yields an (active) user: 401.
    #[error("not signed in")]
    Unauthorized,
    /// The user is not verified, or not a superuser, as the guard requires: 403.
    #[error("not allowed")]
    Forbidden,
    /// A cookie-authenticated request from a page of another site ([`AxumUsersBuilder::allowed_origins`](crate::AxumUsersBuilder::allowed_origins)): 403.
    #[error("cross-site request refused")]
    CrossSite,
    /// A password change, deactivation or "log out everywhere" committed while a login ran:
    /// the token it made is destroyed again and the login fails (`400 LOGIN_BAD_CREDENTIALS`).
    #[error("the account changed during the login")]
    ChangedDuringLogin,
    /// No backend has this name.
    #[error("no backend is named {0:?}")]
    NoSuchBackend(String),
    /// A strategy failed (503).
    #[error(transparent)]
    Strategy(#[from] StrategyError),
    /// The user could not be read (503).
    #[error(transparent)]
    Manager(#[from] ManagerError),
}

/// What a route or extractor requires of the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Guard {
    /// Answer `None` instead of failing.
    pub optional: bool,
    /// Inactive users are refused (401).
    pub active: bool,
    /// Unverified users are refused (403).
    pub verified: bool,
    /// Non-superusers are refused (403).
    pub superuser: bool,
}

impl Guard {
    /// An active user (what every built-in route requires).
    pub const ACTIVE: Self = Self {
        optional: false,
        active: true,
        verified: false,
        superuser: false,
    };

    /// Also refuse unverified users (403).
    #[must_use]
    pub const fn verified(mut self) -> Self {
        self.verified = true;
        self
    }

    /// Also refuse users who are not superusers (403).
    #[must_use]
    pub const fn superuser(mut self) -> Self {
        self.superuser = true;
        self
    }

    /// Answer `None` instead of 401/403.
    #[must_use]
    pub const fn optional(mut self) -> Self {
        self.optional = true;
        self
    }
}

/// The authenticated caller and the token that proved it.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The user.
    pub user: User,
    /// The token as received.
    pub token: String,
    /// Whether the token came in a cookie (the CSRF check applies then).
    pub(crate) by_cookie: bool,
}

/// FastAPI Users' algorithm (SPEC §5.4): the first backend whose token yields a user wins;
/// then inactive → 401, unverified or not superuser → 403; optional guards yield `None`.
pub(crate) async fn authenticate(
    backends: &[Backend],
    manager: &UserManager,
    headers: &HeaderMap,
    guard: Guard,
) -> Result<Option<Authenticated>, AuthError> {
    let mut found = None;
    for backend in backends {
        let Some(token) = backend.transport.extract(headers) else {
            continue;
        };
        let Some(subject) = backend.strategy.read_subject(&token).await? else {
            continue;
        };
        if let Some(user) = manager.get(subject.user_id).await? {
            // A JWT minted before the last "log out everywhere" is no token at all.
            if subject
                .token_version
                .is_some_and(|version| version != user.token_version)
            {
                continue;
            }
            found = Some(Authenticated {
                user,
                token,
                by_cookie: matches!(backend.transport, Transport::Cookie(_)),
            });
            break;
        }
    }
    let failure = match &found {
        None => AuthError::Unauthorized,
        Some(auth) if guard.active && !auth.user.is_active => AuthError::Unauthorized,
        Some(auth)
            if (guard.verified && !auth.user.is_verified)
                || (guard.superuser && !auth.user.is_superuser) =>
        {
            AuthError::Forbidden
        }
        Some(_) => return Ok(found),
    };
    if guard.optional {
        Ok(None)
    } else {
        Err(failure)
    }
}
