#![doc = include_str!("docs/lib.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

// Every module is private; the public API is the flat set of re-exports below, one path per
// type. Layers point one way, each with its own error type:
//   edge (HTTP answers): routes, extract, error, openapi
//   service: state (AxumUsers), auth (authenticator), manager, hooks, mail, ratelimit, csrf,
//            password, tokens, oauth, background
//   strategies and stores: strategy, transport, store, redis_conn
//   model: user, validation (Pydantic-shaped items), email, id, jwt

mod audit;
mod auth;
mod background;
mod csrf;
mod email;
mod email_change;
mod error;
mod extract;
mod hooks;
mod id;
mod input;
mod json;
mod jwt;
mod mail;
mod manager;
mod mfa;
#[cfg(feature = "oauth")]
mod oauth;
mod openapi;
#[cfg(feature = "passkeys")]
mod passkey;
mod password;
mod ratelimit;
#[cfg(feature = "redis")]
mod redis_conn;
mod routes;
mod session;
mod state;
mod store;
mod store_error;
mod strategy;
mod telemetry;
mod tokens;
mod transport;
mod user;
mod validation;
#[cfg(feature = "webhooks")]
mod webhook;

pub use audit::{AuditEvent, AuditSettings, AuditStore, EventQuery, EVENT_TYPES};
pub use auth::{AuthError, Authenticated, Backend, Guard};
pub use csrf::CSRF_ORIGIN_NOT_ALLOWED;
pub use email::{email_key, normalize_email, InvalidEmail};
pub use email_change::EmailChangeStore;
pub use error::{ApiError, ErrorCode, UPDATE_USER_BAD_CURRENT_PASSWORD};
pub use extract::{CurrentUser, OptionalUser, Superuser, VerifiedSuperuser, VerifiedUser};
pub use hooks::{HookContext, HookError, Hooks, InvalidPassword, NoHooks};
pub use id::{IdKind, UserId};
pub use json::json_response;
pub use jwt::{JwtError, JwtKeyError, JwtKeys};
pub use mail::{
    Email, MailConfigError, MailError, MailKind, MailTemplates, Mailer, MemoryMailer, RetryPolicy,
    TEMPLATE_NAMES,
};
#[cfg(feature = "smtp")]
#[cfg_attr(docsrs, doc(cfg(feature = "smtp")))]
pub use mail::{OutboxMailer, SmtpMailer};
pub use manager::{ManagerError, PasswordPolicy, UserManager};
pub use mfa::{
    MfaChallenge, MfaChange, MfaRecord, MfaSettings, MfaStore, LOGIN_MFA_REQUIRED,
    MFA_ALREADY_ENABLED, MFA_INVALID_CODE, MFA_NOT_ENABLED, MFA_NOT_SET_UP, MFA_TOKEN_INVALID,
};
#[cfg(feature = "oauth")]
#[cfg_attr(docsrs, doc(cfg(feature = "oauth")))]
pub use oauth::{
    OAuthProvider, OAuthSettings, ProviderAccount, ProviderError, ProviderTokens,
    OAUTH_ACCOUNT_ALREADY_LINKED, OAUTH_PROVIDER_ERROR, OAUTH_REDIRECT_NOT_ALLOWED, STATE_AUDIENCE,
};
#[cfg(feature = "passkeys")]
#[cfg_attr(docsrs, doc(cfg(feature = "passkeys")))]
pub use passkey::{
    AddPasskey, CeremonyKind, PasskeyCeremony, PasskeyConfigError, PasskeyRecord, PasskeySettings,
    PasskeyStore, PASSKEY_ALREADY_REGISTERED, PASSKEY_CEREMONY_INVALID, PASSKEY_INVALID,
    PASSKEY_LIMIT_REACHED,
};
pub use password::{Argon2Params, PasswordError, PasswordHasher, Verified};
pub use ratelimit::{Backoff, Limit, LimitError, RateLimits};
pub use routes::table::Route;
pub use routes::{method_not_allowed, not_found, MAX_BODY_BYTES};
pub use session::{Session, SessionSettings, SessionStore};
pub use state::{
    AxumUsers, AxumUsersBuilder, ConfigError, DEFAULT_BODY_TIMEOUT, DEFAULT_CORS_HEADERS,
};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use store::PostgresStore;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use store::RedisSessionStore;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use store::SqliteStore;
pub use store::{
    AccessTokenStore, CachingUserStore, Expect, ExpiredDeletion, OAuthAccount, OAuthAccountStore,
    StoreError, UserPage, UserPatch, UserQuery, UserStore,
};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use strategy::RedisStrategy;
pub use strategy::{DatabaseStrategy, JwtStrategy, Strategy, StrategyError, TokenSubject};
pub use tokens::{TokenKind, TokenSettings, RESET_AUDIENCE, VERIFY_AUDIENCE};
pub use transport::{BearerTransport, CookieTransport, SameSite, Transport};
pub use user::{
    CustomField, FieldKind, SchemaError, UpdateField, User, UserCreate, UserSchema, UserUpdate,
};
pub use validation::{ValidationErrors, ValidationItem};
#[cfg(feature = "webhooks")]
#[cfg_attr(docsrs, doc(cfg(feature = "webhooks")))]
pub use webhook::{
    BeforeRegister, Delivery, WebhookConfigError, WebhookEndpoint, WebhookSettings, WebhookStore,
    REGISTER_REJECTED,
};

/// The README's Rust examples, compiled and run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
