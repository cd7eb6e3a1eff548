//! Every error a client can see: FastAPI Users' error codes, bare HTTP statuses and validation
//! failures, each with its status and its exact JSON body.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use serde_json::{json, Value};

use crate::json::json_response;
use crate::validation::ValidationErrors;

/// The error codes of FastAPI Users (`fastapi_users.router.common.ErrorCode`): the value sent in
/// `detail` equals the variant name in upper snake case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
#[non_exhaustive]
pub enum ErrorCode {
    RegisterInvalidPassword,
    RegisterUserAlreadyExists,
    OauthNotAvailableEmail,
    OauthUserAlreadyExists,
    OauthInvalidState,
    LoginBadCredentials,
    LoginUserNotVerified,
    ResetPasswordBadToken,
    ResetPasswordInvalidPassword,
    VerifyUserBadToken,
    VerifyUserAlreadyVerified,
    UpdateUserEmailAlreadyExists,
    UpdateUserInvalidPassword,
    AccessTokenDecodeError,
    AccessTokenAlreadyExpired,
}

/// `PATCH /users/me` changing the password or e-mail without the right `current_password`,
/// when [`crate::AxumUsersBuilder::require_current_password`] is on (not a FastAPI Users code).
pub const UPDATE_USER_BAD_CURRENT_PASSWORD: &str = "UPDATE_USER_BAD_CURRENT_PASSWORD";

impl ErrorCode {
    /// The wire value, e.g. `LOGIN_BAD_CREDENTIALS`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RegisterInvalidPassword => "REGISTER_INVALID_PASSWORD",
            Self::RegisterUserAlreadyExists => "REGISTER_USER_ALREADY_EXISTS",
            Self::OauthNotAvailableEmail => "OAUTH_NOT_AVAILABLE_EMAIL",
            Self::OauthUserAlreadyExists => "OAUTH_USER_ALREADY_EXISTS",
            Self::OauthInvalidState => "OAUTH_INVALID_STATE",
            Self::LoginBadCredentials => "LOGIN_BAD_CREDENTIALS",
            Self::LoginUserNotVerified => "LOGIN_USER_NOT_VERIFIED",
            Self::ResetPasswordBadToken => "RESET_PASSWORD_BAD_TOKEN",
            Self::ResetPasswordInvalidPassword => "RESET_PASSWORD_INVALID_PASSWORD",
            Self::VerifyUserBadToken => "VERIFY_USER_BAD_TOKEN",
            Self::VerifyUserAlreadyVerified => "VERIFY_USER_ALREADY_VERIFIED",
            Self::UpdateUserEmailAlreadyExists => "UPDATE_USER_EMAIL_ALREADY_EXISTS",
            Self::UpdateUserInvalidPassword => "UPDATE_USER_INVALID_PASSWORD",
            Self::AccessTokenDecodeError => "ACCESS_TOKEN_DECODE_ERROR",
            Self::AccessTokenAlreadyExpired => "ACCESS_TOKEN_ALREADY_EXPIRED",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answered to the client. It renders as FastAPI does: `{"detail": ...}` with the
/// matching status, never a stack trace or a plain-text 500.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 400 with `{"detail":"<CODE>"}`.
    #[error("{0}")]
    Code(ErrorCode),
    /// 400 with `{"detail":{"code":"<CODE>","reason":"<reason>"}}` (password rules).
    #[error("{code}: {reason}")]
    CodeWithReason {
        /// The error code.
        code: ErrorCode,
        /// Why the password was rejected, as the password policy or hook said.
        reason: String,
    },
    /// A bare status, `{"detail":"<reason phrase>"}` (401, 403, 404, ...).
    #[error("{0}")]
    Status(StatusCode),
    /// Any status with a detail of the application's choosing (from a hook).
    #[error("{status}: {detail}")]
    Custom {
        /// Status to answer with.
        status: StatusCode,
        /// The `detail` value.
        detail: Value,
    },
    /// 422 with Pydantic-shaped items.
    #[error("validation failed")]
    Validation(ValidationErrors),
    /// Over a rate limit: 429 `{"detail":"TOO_MANY_REQUESTS"}` with `Retry-After`.
    #[error("too many requests")]
    TooManyRequests(std::time::Duration),
    /// A backend (database, cache) failed or is unreachable: 503, logged, details withheld.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A login whose password (or provider) was right, for a user with a second factor on:
    /// `401 {"detail":"LOGIN_MFA_REQUIRED","mfa_token":"..."}`; `POST /auth/mfa/verify` with the
    /// token and a code completes it.
    #[error("LOGIN_MFA_REQUIRED")]
    MfaRequired(String),
    /// A bug or an unexpected failure: 500 with a JSON body, logged, details withheld.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// `401 {"detail":"Unauthorized"}`.
    pub const UNAUTHORIZED: Self = Self::Status(StatusCode::UNAUTHORIZED);
    /// `403 {"detail":"Forbidden"}`.
    pub const FORBIDDEN: Self = Self::Status(StatusCode::FORBIDDEN);
    /// `404 {"detail":"Not Found"}`.
    pub const NOT_FOUND: Self = Self::Status(StatusCode::NOT_FOUND);

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Code(_) | Self::CodeWithReason { .. } => StatusCode::BAD_REQUEST,
            Self::Status(s) | Self::Custom { status: s, .. } => *s,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::MfaRequired(_) => StatusCode::UNAUTHORIZED,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON body, `{"detail": ...}`.
    pub fn body(&self) -> Value {
        let detail = match self {
            Self::Code(code) => Value::from(code.as_str()),
            Self::CodeWithReason { code, reason } => {
                json!({"code": code.as_str(), "reason": reason})
            }
            Self::Status(s) => Value::from(s.canonical_reason().unwrap_or("Error")),
            Self::Custom { detail, .. } => detail.clone(),
            Self::Validation(errors) => errors.to_value(),
            Self::Unavailable(_) => Value::from("SERVICE_UNAVAILABLE"),
            Self::TooManyRequests(_) => Value::from("TOO_MANY_REQUESTS"),
            Self::Internal(_) => Value::from("Internal Server Error"),
            Self::MfaRequired(token) => {
                return json!({"detail": crate::mfa::LOGIN_MFA_REQUIRED, "mfa_token": token})
            }
        };
        json!({ "detail": detail })
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        Self::Validation(errors)
    }
}

// The HTTP answer of each layer's error is decided here, at the edge, and nowhere else.

impl From<crate::store::StoreError> for ApiError {
    fn from(err: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match err {
            StoreError::Unavailable(msg) => Self::Unavailable(msg),
            StoreError::Conflict => Self::Internal("unexpected unique constraint violation".into()),
            StoreError::Other(msg) => Self::Internal(msg),
            StoreError::Unsupported(what) => Self::Custom {
                status: http::StatusCode::NOT_IMPLEMENTED,
                detail: Value::from(format!("the user store does not support {what}")),
            },
        }
    }
}

impl From<crate::strategy::StrategyError> for ApiError {
    fn from(err: crate::strategy::StrategyError) -> Self {
        use crate::strategy::StrategyError;
        match err {
            StrategyError::Store(err) => err.into(),
            StrategyError::Unavailable(msg) => Self::Unavailable(msg),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<crate::password::PasswordError> for ApiError {
    fn from(err: crate::password::PasswordError) -> Self {
        Self::Internal(err.to_string())
    }
}

impl From<crate::hooks::HookError> for ApiError {
    fn from(err: crate::hooks::HookError) -> Self {
        use crate::hooks::HookError;
        match err {
            HookError::Reject { status, detail } => Self::Custom { status, detail },
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<crate::manager::ManagerError> for ApiError {
    /// For the cases a route does not map to its own error code.
    fn from(err: crate::manager::ManagerError) -> Self {
        use crate::manager::ManagerError;
        match err {
            ManagerError::UserInactive => Self::UNAUTHORIZED,
            ManagerError::UserNotFound => Self::NOT_FOUND,
            ManagerError::Hook(err) => err.into(),
            ManagerError::Store(err) => err.into(),
            ManagerError::Strategy(err) => err.into(),
            ManagerError::Password(err) => err.into(),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<crate::auth::AuthError> for ApiError {
    fn from(err: crate::auth::AuthError) -> Self {
        use crate::auth::AuthError;
        match err {
            AuthError::Unauthorized => Self::UNAUTHORIZED,
            AuthError::Forbidden => Self::FORBIDDEN,
            AuthError::CrossSite => Self::Custom {
                status: StatusCode::FORBIDDEN,
                detail: Value::from(crate::csrf::CSRF_ORIGIN_NOT_ALLOWED),
            },
            AuthError::ChangedDuringLogin => Self::Code(ErrorCode::LoginBadCredentials),
            AuthError::NoSuchBackend(name) => {
                Self::Internal(format!("no backend is named {name:?}"))
            }
            AuthError::Strategy(err) => err.into(),
            AuthError::Manager(err) => err.into(),
        }
    }
}

impl From<crate::ratelimit::LimitError> for ApiError {
    fn from(err: crate::ratelimit::LimitError) -> Self {
        use crate::ratelimit::LimitError;
        match err {
            LimitError::TooMany(wait) => Self::TooManyRequests(wait),
            LimitError::NoClientAddress => Self::Custom {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                detail: Value::from("RATE_LIMIT_NO_CLIENT_ADDRESS"),
            },
            LimitError::Unavailable(msg) => Self::Unavailable(msg),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Internal(msg) => tracing::error!(error = %msg, "request failed"),
            Self::Unavailable(msg) => tracing::warn!(error = %msg, "backend unavailable"),
            _ => {}
        }
        let mut response = json_response(self.status(), &self.body());
        if matches!(self, Self::Unavailable(_)) {
            // Outages here are short (a restart, a failover): invite a prompt retry.
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if matches!(self, Self::MfaRequired(_)) {
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        if let Self::TooManyRequests(wait) = &self {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response
    }
}
