//! An application with its own user fields (a required `first_name`, an optional `birthdate`)
//! and routes of its own protected by the axum-users extractors.

use axum::extract::FromRef;
use axum::routing::get;
use axum::{Json, Router};
use axum_users::{
    AxumUsers, ConfigError, CurrentUser, CustomField, OptionalUser, SqliteStore, Superuser,
    UserSchema, VerifiedUser,
};
use axum_users::{Backend, BearerTransport, JwtStrategy};
use serde_json::{json, Value};

/// The application's extra user fields, stored in columns of the `user` table.
pub fn schema() -> UserSchema {
    UserSchema::new()
        .field(CustomField::string("first_name").max_length(100).required())
        .field(CustomField::date("birthdate"))
}

/// The application's state: axum-users plus whatever else the app needs.
#[derive(Clone)]
pub struct AppState {
    /// User management.
    pub users: AxumUsers,
}

impl FromRef<AppState> for AxumUsers {
    fn from_ref(state: &AppState) -> Self {
        state.users.clone()
    }
}

/// Builds axum-users over a store that knows the extra fields.
pub fn users(store: SqliteStore, secret: &str) -> Result<AxumUsers, ConfigError> {
    AxumUsers::builder(store)
        .backend(Backend::new(
            "jwt",
            BearerTransport::new("auth/jwt/login"),
            JwtStrategy::new(secret, Some(3600)),
        ))
        .build()
}

async fn greeting(CurrentUser(user): CurrentUser) -> Json<Value> {
    let name = user.field::<String>("first_name").unwrap_or_default();
    Json(json!({ "greeting": format!("Hello {name}") }))
}

async fn members(VerifiedUser(user): VerifiedUser) -> Json<Value> {
    Json(json!({ "member": user.email }))
}

async fn admin(Superuser(user): Superuser) -> Json<Value> {
    Json(json!({ "admin": user.email }))
}

async fn home(OptionalUser(user): OptionalUser) -> Json<Value> {
    Json(json!({ "signed_in": user.is_some() }))
}

/// The whole application: its own routes plus every axum-users route.
pub fn app(users: AxumUsers) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/greeting", get(greeting))
        .route("/members", get(members))
        .route("/admin", get(admin))
        .with_state(AppState {
            users: users.clone(),
        })
        .merge(users.router())
}
