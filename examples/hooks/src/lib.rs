//! Your own lifecycle hooks: a password rule beyond the length policy, and a welcome e-mail
//! sent through the configured mailer (after the answer, with the mailer's retries).

use axum::Router;
use axum_users::{
    AxumUsers, Backend, BearerTransport, ConfigError, Email, HookContext, HookError, Hooks,
    InvalidPassword, JwtStrategy, Mailer, SqliteStore, User,
};

/// Passwords nobody should use, whatever their length.
const COMMON: [&str; 4] = ["password", "12345678", "qwertyuiop", "letmein123"];

/// The application's hooks.
pub struct AppHooks;

impl Hooks for AppHooks {
    async fn validate_password(&self, password: &str, email: &str) -> Result<(), InvalidPassword> {
        if COMMON.contains(&password.to_lowercase().as_str()) {
            return Err(InvalidPassword::new("Password is too common"));
        }
        let local_part = email.split('@').next().unwrap_or_default();
        if !local_part.is_empty() && password.to_lowercase().contains(&local_part.to_lowercase()) {
            return Err(InvalidPassword::new(
                "Password should not contain your name",
            ));
        }
        Ok(())
    }

    async fn on_after_register(&self, user: &User, ctx: &HookContext<'_>) -> Result<(), HookError> {
        tracing::info!(user_id = %user.id, "user has registered");
        ctx.send_email(Email::new(
            "welcome",
            &user.email,
            "Welcome to Camelot",
            "Your seat at the round table is ready.",
        ));
        Ok(())
    }
}

/// axum-users with the hooks and a mailer.
pub fn users(
    store: SqliteStore,
    mailer: impl Mailer + 'static,
    secret: &str,
) -> Result<AxumUsers, ConfigError> {
    AxumUsers::builder(store)
        .hooks(AppHooks)
        .mailer(mailer)
        .backend(Backend::new(
            "jwt",
            BearerTransport::new("auth/jwt/login"),
            JwtStrategy::new(secret, Some(3600)),
        ))
        .build()
}

/// All of axum-users' routes.
pub fn app(users: &AxumUsers) -> Router {
    users.router()
}
