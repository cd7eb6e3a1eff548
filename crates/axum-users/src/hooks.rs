//! Lifecycle hooks and their context (documented on [`Hooks`], from `docs/hooks.md`).

use std::future::Future;

use axum::response::Response;
use http::request::Parts;
use http::StatusCode;
use serde_json::{Map, Value};

use crate::background::Background;
use crate::mail::{Email, MailSettings};
use crate::User;

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

/// A hook that did not succeed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HookError {
    /// Refuse the step with this status and `{"detail": detail}` (FastAPI Users' hooks raise
    /// an `HTTPException` for that). Answered by the hooks that run before a write.
    #[error("refused by a hook: {status}")]
    Reject {
        /// The status to answer with.
        status: StatusCode,
        /// The `detail` value.
        detail: Value,
    },
    /// The hook failed (a service it calls is down, ...).
    #[error("hook failed: {0}")]
    Failed(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl HookError {
    /// A refusal: `status` with `{"detail": detail}`.
    pub fn reject(status: StatusCode, detail: impl Into<Value>) -> Self {
        Self::Reject {
            status,
            detail: detail.into(),
        }
    }

    /// A failure caused by `error`.
    pub fn failed(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Failed(error.into())
    }
}

/// What a hook can reach besides the user: the request that caused the step (`None` outside a
/// request, e.g. the `create-superuser` command), the configured mailer, and the background
/// queue that [`crate::AxumUsers::wait_background`] drains at shutdown.
#[derive(Clone, Copy)]
pub struct HookContext<'a> {
    request: Option<&'a Parts>,
    mail: &'a MailSettings,
    background: &'a Background,
}

impl std::fmt::Debug for HookContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookContext")
            .field("request", &self.request.map(|r| (&r.method, &r.uri)))
            .finish_non_exhaustive()
    }
}

impl<'a> HookContext<'a> {
    pub(crate) fn new(
        request: Option<&'a Parts>,
        mail: &'a MailSettings,
        background: &'a Background,
    ) -> Self {
        Self {
            request,
            mail,
            background,
        }
    }

    /// The request's method, URI, headers and extensions, if the step runs in a request.
    pub fn request(&self) -> Option<&'a Parts> {
        self.request
    }

    /// Sends a message of the application's own through the configured mailer, after the
    /// answer, with the mailer's retries; without a mailer the message is dropped (logged at
    /// `debug`). Use [`crate::MailTemplates::render_custom`] to build it from a template.
    pub fn send_email(&self, email: Email) {
        let mail = self.mail.clone();
        self.background
            .spawn(async move { mail.send(&email).await });
    }

    /// Runs `job` after the answer; [`crate::AxumUsers::wait_background`] waits for it.
    pub fn spawn(&self, job: impl Future<Output = ()> + Send + 'static) {
        self.background.spawn(job);
    }

    /// The configured templates, to render a message of the application's own.
    pub fn templates(&self) -> &'a crate::mail::MailTemplates {
        &self.mail.templates
    }
}

type HookResult = Result<(), HookError>;

/// The lifecycle hooks: every method has a no-op default; override the ones you need.
///
#[doc = include_str!("docs/hooks.md")]
#[allow(unused_variables)]
#[dynosaur::dynosaur(pub(crate) DynHooks = dyn(box) Hooks)]
pub trait Hooks: Send + Sync {
    /// Extra password rules, run after the length policy. `email` is the user's (new) e-mail.
    fn validate_password(
        &self,
        password: &str,
        email: &str,
    ) -> impl Future<Output = Result<(), InvalidPassword>> + Send {
        async { Ok(()) }
    }
    /// After a user was created (registration, OAuth, the admin API).
    fn on_after_register(
        &self,
        user: &User,
        ctx: &HookContext<'_>,
    ) -> impl Future<Output = HookResult> + Send {
        async { Ok(()) }
    }
    /// After a user was updated; `update` holds the fields as sent (a new password in clear).
    fn on_after_update(
        &self,
        user: &User,
        update: &Map<String, Value>,
        ctx: &HookContext<'_>,
    ) -> impl Future<Output = HookResult> + Send {
        async { Ok(()) }
    }
    /// After a successful login; the response may be changed (headers, cookies).
    fn on_after_login(
        &self,
        user: &User,
        ctx: &HookContext<'_>,
        response: &mut Response,
    ) -> impl Future<Output = HookResult> + Send {
        async { Ok(()) }
    }
    /// After a verification token was issued (the configured mailer sends it too).
    fn on_after_request_verify(
        &self,
        user: &User,
        token: &str,
        ctx: &HookContext<'_>,
    ) -> impl Future<Output = HookResult> + Send {
        async { Ok(()) }
    }
    /// After a user verified their e-mail.
    fn on_after_verify(
        &self,
        user: &User,
        ctx: &HookContext<'_>,
    ) -> impl Future<Output = HookResult> + Send {
        async { Ok(()) }
    }
    /// After a reset token was issued (the configured mailer sends it too).
    fn on_after_forgot_password(
        &self,
        user: &User,
        token: &str,
        ctx: &HookContext<'_>,
    ) -> impl Future<Output = HookResult> + Send {
        async { Ok(()) }
    }
    /// After a password was reset with a token.
    fn on_after_reset_password(
        &self,
        user: &User,
        ctx: &HookContext<'_>,
    ) -> impl Future<Output = HookResult> + Send {
        async { Ok(()) }
    }
    /// Before a user is deleted; an `Err` cancels the deletion and is the answer.
    fn on_before_delete(
        &self,
        user: &User,
        ctx: &HookContext<'_>,
    ) -> impl Future<Output = HookResult> + Send {
        async { Ok(()) }
    }
    /// After a user was deleted.
    fn on_after_delete(
        &self,
        user: &User,
        ctx: &HookContext<'_>,
    ) -> impl Future<Output = HookResult> + Send {
        async { Ok(()) }
    }
    /// After the user's second factor changed (turned on or off, new recovery codes, a
    /// recovery code used, a superuser's reset): tell the user, e.g. by e-mail.
    fn on_after_mfa_change(
        &self,
        user: &User,
        change: crate::mfa::MfaChange,
        ctx: &HookContext<'_>,
    ) -> impl Future<Output = HookResult> + Send {
        async { Ok(()) }
    }
}

/// No hooks: every step does only what FastAPI Users' base manager does.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl Hooks for NoHooks {}

/// Logs the failure of an after-hook; the step it follows stands.
pub(crate) fn log_after(hook: &'static str, user: &User, result: HookResult) {
    if let Err(error) = result {
        tracing::error!(hook, user_id = %user.id, %error, "hook failed; the step it follows stands");
    }
}
