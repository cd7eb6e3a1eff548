//! Lifecycle hooks: the application's say at each step of a user's life, as FastAPI Users'
//! `on_after_*` methods. Every method has a no-op default; override the ones you need.
//!
//! ```
//! use axum_users::{hooks::{Hooks, InvalidPassword}, ApiError, User};
//! use http::request::Parts;
//!
//! struct MyHooks;
//!
//! impl Hooks for MyHooks {
//!     async fn validate_password(&self, password: &str, email: &str) -> Result<(), InvalidPassword> {
//!         if password.contains(email) {
//!             return Err(InvalidPassword::new("Password should not contain e-mail"));
//!         }
//!         Ok(())
//!     }
//!     async fn on_after_register(&self, user: &User, _request: Option<&Parts>) -> Result<(), ApiError> {
//!         tracing::info!(user_id = %user.id, "user has registered");
//!         Ok(())
//!     }
//! }
//! ```
//!
//! An `Err` from a hook becomes the response (like an `HTTPException` raised in a FastAPI Users
//! hook); what the step already wrote stays written.

use std::future::Future;

use axum::response::Response;
use http::request::Parts;
use serde_json::{Map, Value};

use crate::store::BoxFuture;
use crate::{ApiError, User};

/// A password refused by [`Hooks::validate_password`]; the reason is sent to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidPassword {
    /// Why, in words for the end user.
    pub reason: String,
}

impl InvalidPassword {
    /// A refusal with this reason.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }
}

type HookResult = Result<(), ApiError>;

/// The lifecycle hooks. `request` is `None` when the manager is called outside a request (for
/// example by the `create-superuser` command).
#[allow(unused_variables)]
pub trait Hooks: Send + Sync + 'static {
    /// Extra password rules, run after the length policy. `email` is the user's (new) e-mail.
    fn validate_password(
        &self,
        password: &str,
        email: &str,
    ) -> impl Future<Output = Result<(), InvalidPassword>> + Send {
        async { Ok(()) }
    }
    /// After a user was created (registration or OAuth).
    fn on_after_register(
        &self,
        user: &User,
        request: Option<&Parts>,
    ) -> impl Future<Output = HookResult> + Send {
        async { Ok(()) }
    }
    /// After a user was updated; `update` holds the fields as sent (a new password in clear).
    fn on_after_update(
        &self,
        user: &User,
        update: &Map<String, Value>,
        request: Option<&Parts>,
    ) -> impl Future<Output = HookResult> + Send {
        async { Ok(()) }
    }
    /// After a successful login; the response may be changed (headers, cookies).
    fn on_after_login(
        &self,
        user: &User,
        request: Option<&Parts>,
        response: &mut Response,
    ) -> impl Future<Output = HookResult> + Send {
        async { Ok(()) }
    }
    /// After a verification token was issued: send it to the user.
    fn on_after_request_verify(
        &self,
        user: &User,
        token: &str,
        request: Option<&Parts>,
    ) -> impl Future<Output = HookResult> + Send {
        async { Ok(()) }
    }
    /// After a user verified their e-mail.
    fn on_after_verify(
        &self,
        user: &User,
        request: Option<&Parts>,
    ) -> impl Future<Output = HookResult> + Send {
        async { Ok(()) }
    }
    /// After a reset token was issued: send it to the user.
    fn on_after_forgot_password(
        &self,
        user: &User,
        token: &str,
        request: Option<&Parts>,
    ) -> impl Future<Output = HookResult> + Send {
        async { Ok(()) }
    }
    /// After a password was reset with a token.
    fn on_after_reset_password(
        &self,
        user: &User,
        request: Option<&Parts>,
    ) -> impl Future<Output = HookResult> + Send {
        async { Ok(()) }
    }
    /// Before a user is deleted; an `Err` cancels the deletion.
    fn on_before_delete(
        &self,
        user: &User,
        request: Option<&Parts>,
    ) -> impl Future<Output = HookResult> + Send {
        async { Ok(()) }
    }
    /// After a user was deleted.
    fn on_after_delete(
        &self,
        user: &User,
        request: Option<&Parts>,
    ) -> impl Future<Output = HookResult> + Send {
        async { Ok(()) }
    }
}

/// No hooks: every step does only what FastAPI Users' base manager does.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl Hooks for NoHooks {}

/// [`Hooks`] made object-safe.
#[allow(missing_docs)]
pub(crate) trait DynHooks: Send + Sync {
    fn validate_password<'a>(
        &'a self,
        password: &'a str,
        email: &'a str,
    ) -> BoxFuture<'a, Result<(), InvalidPassword>>;
    fn on_after_register<'a>(
        &'a self,
        user: &'a User,
        request: Option<&'a Parts>,
    ) -> BoxFuture<'a, HookResult>;
    fn on_after_update<'a>(
        &'a self,
        user: &'a User,
        update: &'a Map<String, Value>,
        request: Option<&'a Parts>,
    ) -> BoxFuture<'a, HookResult>;
    fn on_after_login<'a>(
        &'a self,
        user: &'a User,
        request: Option<&'a Parts>,
        response: &'a mut Response,
    ) -> BoxFuture<'a, HookResult>;
    fn on_after_request_verify<'a>(
        &'a self,
        user: &'a User,
        token: &'a str,
        request: Option<&'a Parts>,
    ) -> BoxFuture<'a, HookResult>;
    fn on_after_verify<'a>(
        &'a self,
        user: &'a User,
        request: Option<&'a Parts>,
    ) -> BoxFuture<'a, HookResult>;
    fn on_after_forgot_password<'a>(
        &'a self,
        user: &'a User,
        token: &'a str,
        request: Option<&'a Parts>,
    ) -> BoxFuture<'a, HookResult>;
    fn on_after_reset_password<'a>(
        &'a self,
        user: &'a User,
        request: Option<&'a Parts>,
    ) -> BoxFuture<'a, HookResult>;
    fn on_before_delete<'a>(
        &'a self,
        user: &'a User,
        request: Option<&'a Parts>,
    ) -> BoxFuture<'a, HookResult>;
    fn on_after_delete<'a>(
        &'a self,
        user: &'a User,
        request: Option<&'a Parts>,
    ) -> BoxFuture<'a, HookResult>;
}

impl<T: Hooks> DynHooks for T {
    fn validate_password<'a>(
        &'a self,
        password: &'a str,
        email: &'a str,
    ) -> BoxFuture<'a, Result<(), InvalidPassword>> {
        Box::pin(Hooks::validate_password(self, password, email))
    }
    fn on_after_register<'a>(
        &'a self,
        user: &'a User,
        request: Option<&'a Parts>,
    ) -> BoxFuture<'a, HookResult> {
        Box::pin(Hooks::on_after_register(self, user, request))
    }
    fn on_after_update<'a>(
        &'a self,
        user: &'a User,
        update: &'a Map<String, Value>,
        request: Option<&'a Parts>,
    ) -> BoxFuture<'a, HookResult> {
        Box::pin(Hooks::on_after_update(self, user, update, request))
    }
    fn on_after_login<'a>(
        &'a self,
        user: &'a User,
        request: Option<&'a Parts>,
        response: &'a mut Response,
    ) -> BoxFuture<'a, HookResult> {
        Box::pin(Hooks::on_after_login(self, user, request, response))
    }
    fn on_after_request_verify<'a>(
        &'a self,
        user: &'a User,
        token: &'a str,
        request: Option<&'a Parts>,
    ) -> BoxFuture<'a, HookResult> {
        Box::pin(Hooks::on_after_request_verify(self, user, token, request))
    }
    fn on_after_verify<'a>(
        &'a self,
        user: &'a User,
        request: Option<&'a Parts>,
    ) -> BoxFuture<'a, HookResult> {
        Box::pin(Hooks::on_after_verify(self, user, request))
    }
    fn on_after_forgot_password<'a>(
        &'a self,
        user: &'a User,
        token: &'a str,
        request: Option<&'a Parts>,
    ) -> BoxFuture<'a, HookResult> {
        Box::pin(Hooks::on_after_forgot_password(self, user, token, request))
    }
    fn on_after_reset_password<'a>(
        &'a self,
        user: &'a User,
        request: Option<&'a Parts>,
    ) -> BoxFuture<'a, HookResult> {
        Box::pin(Hooks::on_after_reset_password(self, user, request))
    }
    fn on_before_delete<'a>(
        &'a self,
        user: &'a User,
        request: Option<&'a Parts>,
    ) -> BoxFuture<'a, HookResult> {
        Box::pin(Hooks::on_before_delete(self, user, request))
    }
    fn on_after_delete<'a>(
        &'a self,
        user: &'a User,
        request: Option<&'a Parts>,
    ) -> BoxFuture<'a, HookResult> {
        Box::pin(Hooks::on_after_delete(self, user, request))
    }
}
