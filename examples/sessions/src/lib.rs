//! Sessions, refresh tokens and a second factor: short access tokens (15 minutes) that clients
//! renew at `POST /auth/jwt/refresh` without the password, each login a session its user lists
//! (`GET /auth/sessions`) and ends, and TOTP any user can turn on (`/auth/mfa/...`). The store
//! keeps users, sessions and second factors alike.

use std::time::Duration;

use axum::Router;
use axum_users::{
    AxumUsers, Backend, BearerTransport, ConfigError, JwtStrategy, MfaSettings, SessionSettings,
    SqliteStore,
};

/// axum-users with sessions, refresh tokens on the JWT backend, and TOTP.
pub fn users(store: SqliteStore, secret: &str) -> Result<AxumUsers, ConfigError> {
    AxumUsers::builder(store.clone())
        // Derive distinct keys from one secret: refresh-token MACs, recovery-code digests.
        .sessions(
            store.clone(),
            SessionSettings::new(format!("refresh:{secret}")),
        )
        .mfa(
            store,
            MfaSettings::new("Camelot", format!("recovery:{secret}")),
        )
        .backend(
            Backend::new(
                "jwt",
                BearerTransport::new("auth/jwt/login"),
                JwtStrategy::new(secret, Some(15 * 60)),
            )
            .refresh_tokens(Duration::from_secs(30 * 24 * 3600)),
        )
        .build()
}

/// All of axum-users' routes, the session and second-factor ones included.
pub fn app(users: &AxumUsers) -> Router {
    users.router()
}
