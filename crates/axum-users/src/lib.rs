#![doc = include_str!("../../../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

// Every module is private; the public API is the flat set of re-exports below, one path per
// type. Layers point one way: routes and extractors (the HTTP edge: `routes`, `auth::extract`,
// `error`, `validation`, `openapi`) → service (`state`, `manager`, `auth`, `hooks`, `mail`,
// `ratelimit`, `csrf`, `password`, `tokens`) → strategies and stores (`auth::strategy`,
// `store`) → model (`user`, `email`, `id`, `jwt`).

mod auth;
mod background;
mod csrf;
mod email;
mod error;
mod hooks;
mod id;
mod jwt;
mod mail;
mod manager;
#[cfg(feature = "oauth")]
mod oauth;
mod openapi;
mod password;
mod ratelimit;
#[cfg(feature = "redis")]
mod redis_conn;
mod routes;
mod state;
mod store;
mod tokens;
mod user;
mod validation;

pub use auth::extract::{CurrentUser, OptionalUser, Superuser, VerifiedSuperuser, VerifiedUser};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use auth::RedisStrategy;
pub use auth::{
    AuthError, Authenticated, Backend, BearerTransport, CookieTransport, DatabaseStrategy, Guard,
    JwtStrategy, SameSite, Strategy, StrategyError, TokenSubject, Transport,
};
pub use csrf::CSRF_ORIGIN_NOT_ALLOWED;
pub use email::{email_key, normalize_email, InvalidEmail};
pub use error::{json_response, ApiError, ErrorCode, UPDATE_USER_BAD_CURRENT_PASSWORD};
pub use hooks::{HookContext, HookError, Hooks, InvalidPassword, NoHooks};
pub use jwt::{JwtError, JwtKeys};
pub use mail::{
    Email, MailConfigError, MailError, MailKind, MailTemplates, Mailer, MemoryMailer, RetryPolicy,
    TEMPLATE_NAMES,
};
#[cfg(feature = "smtp")]
#[cfg_attr(docsrs, doc(cfg(feature = "smtp")))]
pub use mail::{OutboxMailer, SmtpMailer};
pub use manager::{ManagerError, PasswordPolicy, UserManager};
#[cfg(feature = "oauth")]
#[cfg_attr(docsrs, doc(cfg(feature = "oauth")))]
pub use oauth::{
    OAuthProvider, OAuthSettings, ProviderAccount, ProviderError, ProviderTokens,
    OAUTH_ACCOUNT_ALREADY_LINKED, OAUTH_PROVIDER_ERROR, OAUTH_REDIRECT_NOT_ALLOWED, STATE_AUDIENCE,
};
pub use password::{Argon2Params, PasswordError, PasswordHasher};
pub use ratelimit::{Backoff, Limit, LimitError, RateLimits};
pub use routes::{method_not_allowed, not_found, MAX_BODY_BYTES};
pub use state::{
    AxumUsers, AxumUsersBuilder, ConfigError, DEFAULT_BODY_TIMEOUT, DEFAULT_CORS_HEADERS,
};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use store::PostgresStore;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use store::SqliteStore;
pub use store::{
    AccessTokenStore, CachingUserStore, Expect, OAuthAccount, OAuthAccountStore, StoreError,
    UserPatch, UserStore,
};
pub use tokens::{TokenKind, TokenSettings, RESET_AUDIENCE, VERIFY_AUDIENCE};
pub use user::{CustomField, FieldKind, UpdateField, User, UserCreate, UserSchema, UserUpdate};
pub use validation::{ValidationErrors, ValidationItem};
