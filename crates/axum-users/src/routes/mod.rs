//! The routers, one per concern, as FastAPI Users' router factories. Each is returned with its
//! state applied, so it merges or nests into any application router.

use axum::response::{IntoResponse, Response};
use http::StatusCode;

use crate::ApiError;

pub(crate) mod account;
pub(crate) mod admin;
pub(crate) mod auth;
pub(crate) mod body;
pub(crate) mod events;
pub(crate) mod health;
pub(crate) mod mfa;
#[cfg(feature = "oauth")]
pub mod oauth;
#[cfg(feature = "passkeys")]
mod passkeys;
pub(crate) mod register;
pub(crate) mod sessions;
pub(crate) mod table;
pub(crate) mod users;

/// Largest request body the routes read (64 KiB: a registration with generous custom fields
/// is a few hundred bytes); larger bodies answer 413 without being read further.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// `404 {"detail":"Not Found"}`: a fallback for applications that want FastAPI's answer.
pub async fn not_found() -> Response {
    ApiError::NOT_FOUND.into_response()
}

/// `405 {"detail":"Method Not Allowed"}`.
pub async fn method_not_allowed() -> Response {
    ApiError::Status(StatusCode::METHOD_NOT_ALLOWED).into_response()
}

impl crate::AxumUsers {
    /// Everything at FastAPI Users' conventional prefixes: `/auth/register`,
    /// `/auth/{backend}/login` and `/logout` for each backend, `/auth/forgot-password`,
    /// `/auth/reset-password`, `/auth/request-verify-token`, `/auth/verify`,
    /// `/auth/logout-everywhere`, `/users/...`, plus the OpenAPI
    /// document at `/openapi.json` and (feature `swagger-ui`) interactive docs at `/docs`.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> axum::Router<S> {
        self.mount("", self.endpoints())
    }
}

mod docs;
