//! Your own application state with axum-users inside, and every axum-users route nested under
//! `/api` beside your own. The extractors find [`AxumUsers`] in the state through `FromRef`.

use std::sync::Arc;

use axum::extract::{FromRef, State};
use axum::routing::get;
use axum::{Json, Router};
use axum_users::{
    AxumUsers, Backend, BearerTransport, ConfigError, CurrentUser, JwtStrategy, SqliteStore,
};
use serde_json::{json, Value};

/// The application's state: axum-users plus what the application itself needs.
#[derive(Clone)]
pub struct AppState {
    /// User management.
    pub users: AxumUsers,
    /// The application's own data.
    pub motd: Arc<str>,
}

impl FromRef<AppState> for AxumUsers {
    fn from_ref(state: &AppState) -> Self {
        state.users.clone()
    }
}

/// axum-users with a Bearer JWT backend. Its token URL is relative to where the routes are
/// mounted, so Swagger UI at `/api/docs` signs in at `/api/auth/jwt/login`.
pub fn users(store: SqliteStore, secret: &str) -> Result<AxumUsers, ConfigError> {
    AxumUsers::builder(store)
        .backend(Backend::new(
            "jwt",
            BearerTransport::new("auth/jwt/login"),
            JwtStrategy::new(secret, Some(3600)),
        ))
        .build()
}

/// `/api/motd` for signed-in users, and axum-users' routes (and docs) under `/api`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/api/motd", get(motd))
        .nest("/api", state.users.router())
        .with_state(state)
}

async fn motd(State(state): State<AppState>, CurrentUser(user): CurrentUser) -> Json<Value> {
    Json(json!({ "motd": &*state.motd, "for": user.email }))
}
