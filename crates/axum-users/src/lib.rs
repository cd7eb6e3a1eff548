#![doc = include_str!("../../../README.md")]

pub mod auth;
mod background;
pub mod csrf;
pub mod email;
pub mod error;
pub mod hooks;
pub mod jwt;
pub mod mail;
pub mod manager;
#[cfg(feature = "oauth")]
pub mod oauth;
pub mod openapi;
pub mod password;
pub mod ratelimit;
pub mod routes;
mod state;
pub mod store;
pub mod tokens;
pub mod user;
pub mod validation;

pub use auth::extract::{CurrentUser, OptionalUser, Superuser, VerifiedSuperuser, VerifiedUser};
#[cfg(feature = "redis")]
pub use auth::RedisStrategy;
pub use auth::{Backend, BearerTransport, CookieTransport, DatabaseStrategy, JwtStrategy};
pub use error::{ApiError, ErrorCode};
pub use hooks::Hooks;
pub use mail::{Mailer, MemoryMailer};
pub use manager::{PasswordPolicy, UserManager};
pub use password::{Argon2Params, PasswordHasher};
pub use state::{AxumUsers, AxumUsersBuilder, ConfigError, DEFAULT_CORS_HEADERS};
#[cfg(feature = "postgres")]
pub use store::PostgresStore;
#[cfg(feature = "sqlite")]
pub use store::SqliteStore;
pub use tokens::{TokenKind, TokenSettings};
pub use user::{CustomField, FieldKind, User, UserSchema};
