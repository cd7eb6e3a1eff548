//! The routers mounted one by one, as FastAPI Users' router factories are included: each under
//! a prefix of the application's choosing, and only the ones it wants (no OAuth, no docs here).
//! Unknown paths answer FastAPI's JSON 404.

use axum::Router;
use axum_users::{AxumUsers, Backend, BearerTransport, ConfigError, JwtStrategy, SqliteStore};

/// axum-users with a Bearer JWT backend; its token URL says where the login is mounted.
pub fn users(store: SqliteStore, secret: &str) -> Result<AxumUsers, ConfigError> {
    AxumUsers::builder(store)
        .backend(Backend::new(
            "jwt",
            BearerTransport::new("session/login"),
            JwtStrategy::new(secret, Some(3600)),
        ))
        .build()
}

/// `/account/register`, `/account/forgot-password`, `/account/reset-password`,
/// `/session/login|logout` and `/people/me`, `/people/{id}`.
pub fn app(users: &AxumUsers) -> Router {
    let mut app = Router::new()
        .nest(
            "/account",
            users.register_router().merge(users.reset_password_router()),
        )
        .nest("/people", users.users_router());
    if let Some(session) = users.auth_router("jwt") {
        app = app.nest("/session", session);
    }
    app.fallback(axum_users::not_found)
}
