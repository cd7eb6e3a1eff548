//! [`AxumUsers`]: the configured whole (manager + ordered backends + options) that the routers
//! and extractors share. The counterpart of FastAPI Users' `FastAPIUsers` object.

use std::sync::Arc;

use http::HeaderMap;

use crate::auth::{self, AuthError, Authenticated, Backend, Guard};
use crate::background::Background;
use crate::csrf::CsrfPolicy;
use crate::hooks::{DynHooks, Hooks, NoHooks};
use crate::mail::{DynMailer, MailSettings, MailTemplates, Mailer, RetryPolicy};
use crate::manager::{PasswordPolicy, UserManager};
use crate::password::PasswordHasher;
use crate::ratelimit::RateLimits;
use crate::store::{CachingUserStore, DynUserStore, UserStore};
use crate::tokens::{TokenKind, TokenSettings};
use crate::user::UserSchema;

/// How long a route waits for a request body by default ([`AxumUsersBuilder::body_timeout`]).
pub const DEFAULT_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Request headers a front-end may send cross-origin ([`AxumUsers::cors_layer`]): the API's own,
/// plus what browsers' fetch wrappers, tracing and error monitoring add.
pub const DEFAULT_CORS_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "accept",
    "accept-language",
    "x-requested-with",
    "traceparent",
    "tracestate",
    "baggage",
    "sentry-trace",
];

/// User management for an axum application. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct AxumUsers {
    inner: Arc<Inner>,
}

struct Inner {
    manager: UserManager,
    backends: Vec<Backend>,
    requires_verification: bool,
    verify_on_register: bool,
    verified_redirect: Option<String>,
    csrf: CsrfPolicy,
    limits: RateLimits,
    body_timeout: std::time::Duration,
    #[cfg(feature = "oauth")]
    oauth: Option<crate::oauth::OAuthConfig>,
    require_current_password: bool,
    cors_headers: Vec<String>,
    openapi_title: String,
    sessions: Option<crate::session::Sessions>,
    mfa: Option<crate::mfa::Mfa>,
    #[cfg(feature = "passkeys")]
    passkeys: Option<crate::passkey::Passkeys>,
    audit: Option<crate::audit::Audit>,
    #[cfg(feature = "webhooks")]
    webhooks: Option<crate::webhook::Webhooks>,
    /// [`AxumUsers::routes`], made once from the endpoints (the server asks it on every 404).
    routes: std::sync::OnceLock<Vec<crate::Route>>,
}

impl std::fmt::Debug for AxumUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AxumUsers")
            .field("manager", &self.inner.manager)
            .field("backends", &self.inner.backends)
            .field("requires_verification", &self.inner.requires_verification)
            .field("verify_on_register", &self.inner.verify_on_register)
            .field("mailer", &self.inner.manager.mail.mailer.is_some())
            .finish_non_exhaustive()
    }
}

/// A configuration mistake found when building [`AxumUsers`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl AxumUsers {
    /// The cell [`AxumUsers::routes`] is kept in.
    pub(crate) fn route_table(&self) -> &std::sync::OnceLock<Vec<crate::Route>> {
        &self.inner.routes
    }
}

impl AxumUsers {
    /// Starts a configuration around a user store.
    pub fn builder<S: UserStore + 'static>(store: S) -> AxumUsersBuilder {
        let store_schema = store.schema().cloned();
        AxumUsersBuilder {
            store_schema,
            store: Box::new(move |cache| match cache {
                Some((capacity, ttl)) => Arc::from(DynUserStore::new_box(CachingUserStore::new(
                    store, capacity, ttl,
                ))),
                None => Arc::from(DynUserStore::new_box(store)),
            }),
            hooks: Arc::from(DynHooks::new_box(NoHooks)),
            hasher: None,
            policy: PasswordPolicy::default(),
            schema: None,
            backends: Vec::new(),
            requires_verification: false,
            verify_on_register: false,
            verified_redirect: None,
            verify_tokens: None,
            reset_tokens: None,
            mail: MailSettings::default(),
            user_cache: None,
            background_limit: crate::background::DEFAULT_LIMIT,
            allowed_origins: Vec::new(),
            limits: RateLimits::default(),
            body_timeout: DEFAULT_BODY_TIMEOUT,
            require_current_password: false,
            password_change_revokes_jwts: false,
            cors_headers: Vec::new(),
            openapi_title: "FastAPI".into(),
            sessions: None,
            mfa: None,
            #[cfg(feature = "passkeys")]
            passkeys: None,
            audit: None,
            #[cfg(feature = "webhooks")]
            webhooks: None,
            email_changes: None,
            #[cfg(feature = "oauth")]
            oauth: None,
            #[cfg(feature = "oauth")]
            oauth_providers: Vec::new(),
        }
    }

    /// The user manager (business rules, for use outside requests too).
    pub fn manager(&self) -> &UserManager {
        &self.inner.manager
    }

    /// The backends, in the order they are tried.
    pub fn backends(&self) -> &[Backend] {
        &self.inner.backends
    }

    /// The backend with this name.
    pub fn backend(&self, name: &str) -> Option<&Backend> {
        self.inner.backends.iter().find(|b| b.name == name)
    }

    /// Whether login and the built-in guarded routes require a verified e-mail.
    pub fn requires_verification(&self) -> bool {
        self.inner.requires_verification
    }

    /// Whether registration sends the verification e-mail.
    pub fn verify_on_register(&self) -> bool {
        self.inner.verify_on_register
    }

    /// Where `GET /auth/verify` sends the browser, if anywhere.
    pub(crate) fn verified_redirect(&self) -> Option<&str> {
        self.inner.verified_redirect.as_deref()
    }

    /// Waits until the work started after `202` answers (token, hook, e-mail with its retries)
    /// has finished: call it on shutdown so that no message is lost.
    pub async fn wait_background(&self) {
        self.inner.manager.background.idle().await;
    }

    /// Runs `job` after the answer, counted by [`Self::wait_background`].
    pub(crate) fn spawn_background(
        &self,
        job: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        self.inner.manager.background.spawn(job);
    }

    /// Whether `PATCH /users/me` asks for the current password ([`AxumUsersBuilder::require_current_password`]).
    pub fn requires_current_password(&self) -> bool {
        self.inner.require_current_password
    }

    /// CORS for the front-ends named in
    /// [`AxumUsersBuilder::allowed_origins`]: their pages may call the API from the browser,
    /// with credentials (the auth cookie) and the request headers of
    /// [`DEFAULT_CORS_HEADERS`] plus [`AxumUsersBuilder::cors_headers`]; preflight answers are
    /// cached for 10 minutes. A response to any other origin carries no CORS header at all.
    /// `None` when no origin is allowed (the API is then same-origin only). Apply it around the
    /// router: `if let Some(cors) = users.cors_layer() { app = app.layer(cors) }`.
    pub fn cors_layer(&self) -> Option<tower_http::cors::CorsLayer> {
        use http::{header, HeaderName, HeaderValue, Method};
        use tower_http::cors::AllowCredentials;
        let origins: Vec<HeaderValue> = self
            .inner
            .csrf
            .origins
            .iter()
            .filter_map(|origin| HeaderValue::from_str(origin).ok())
            .collect();
        if origins.is_empty() {
            return None;
        }
        let allowed = origins.clone();
        let headers: Vec<HeaderName> = DEFAULT_CORS_HEADERS
            .iter()
            .copied()
            .map(String::from)
            .chain(self.inner.cors_headers.iter().cloned())
            .filter_map(|name| HeaderName::try_from(name).ok())
            .collect();
        Some(
            tower_http::cors::CorsLayer::new()
                .allow_origin(origins)
                .allow_credentials(AllowCredentials::predicate(move |origin, _| {
                    allowed.contains(origin)
                }))
                .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
                .allow_headers(headers)
                .expose_headers([header::RETRY_AFTER])
                .max_age(std::time::Duration::from_secs(600)),
        )
    }

    /// The caller of a built-in guarded route (active; verified when verification is
    /// required; a superuser when `superuser`), with the token that proved it; else 401/403.
    pub(crate) async fn signed_in(
        &self,
        method: &http::Method,
        headers: &http::HeaderMap,
        superuser: bool,
    ) -> Result<crate::auth::Authenticated, AuthError> {
        self.authenticate_request(method, headers, self.route_guard(superuser))
            .await?
            .ok_or(AuthError::Unauthorized)
    }

    /// The OpenAPI document's title ([`AxumUsersBuilder::openapi_title`]).
    pub fn openapi_title(&self) -> &str {
        &self.inner.openapi_title
    }

    /// How long a route waits for a request body ([`AxumUsersBuilder::body_timeout`]).
    pub fn body_timeout(&self) -> std::time::Duration {
        self.inner.body_timeout
    }

    #[cfg(feature = "oauth")]
    pub(crate) fn oauth(&self) -> Option<&crate::oauth::OAuthConfig> {
        self.inner.oauth.as_ref()
    }

    /// The sessions, when [`AxumUsersBuilder::sessions`] configured them.
    pub(crate) fn sessions(&self) -> Option<&crate::session::Sessions> {
        self.inner.sessions.as_ref()
    }

    /// The second factor, when [`AxumUsersBuilder::mfa`] configured it.
    pub(crate) fn mfa(&self) -> Option<&crate::mfa::Mfa> {
        self.inner.mfa.as_ref()
    }

    /// The webhooks, when [`AxumUsersBuilder::webhooks`] configured them.
    #[cfg(feature = "webhooks")]
    pub(crate) fn webhooks(&self) -> Option<&crate::webhook::Webhooks> {
        self.inner.webhooks.as_ref()
    }

    /// The audit trail, when [`AxumUsersBuilder::audit`] configured it.
    pub(crate) fn audit(&self) -> Option<&crate::audit::Audit> {
        self.inner.audit.as_ref()
    }

    /// Passkeys, when [`AxumUsersBuilder::passkeys`] configured them.
    #[cfg(feature = "passkeys")]
    pub(crate) fn passkeys(&self) -> Option<&crate::passkey::Passkeys> {
        self.inner.passkeys.as_ref()
    }

    pub(crate) fn limits(&self) -> &RateLimits {
        &self.inner.limits
    }

    pub(crate) fn mail(&self) -> &MailSettings {
        &self.inner.manager.mail
    }

    /// Authenticates a request as the extractors do: every backend in order, then, when the
    /// auth cookie is what authenticated it, the CSRF check ([`AxumUsersBuilder::allowed_origins`](crate::AxumUsersBuilder::allowed_origins)). A Bearer request
    /// that also carries a stale cookie is judged by its Bearer token.
    pub async fn authenticate_request(
        &self,
        method: &http::Method,
        headers: &HeaderMap,
        guard: Guard,
    ) -> Result<Option<Authenticated>, AuthError> {
        let found = self.authenticate(headers, guard).await?;
        match found {
            Some(auth) if auth.by_cookie && !self.inner.csrf.allows(method, headers) => {
                Err(AuthError::CrossSite)
            }
            found => Ok(found),
        }
    }

    /// The CSRF check of a request that sets the auth cookie (a cookie login, an OAuth callback
    /// through a cookie backend): a page of another site must not swap the browser's session
    /// for an account of its choosing ("login CSRF").
    pub(crate) fn check_cookie_login(
        &self,
        backend: &Backend,
        headers: &HeaderMap,
    ) -> Result<(), AuthError> {
        let sets_cookie = matches!(backend.transport(), crate::transport::Transport::Cookie(_));
        if sets_cookie && !self.inner.csrf.origin_allowed(headers) {
            return Err(AuthError::CrossSite);
        }
        Ok(())
    }

    /// Authenticates a request's headers against every backend (no CSRF check: see
    /// [`Self::authenticate_request`]).
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        guard: Guard,
    ) -> Result<Option<Authenticated>, AuthError> {
        auth::authenticate(&self.inner.backends, &self.inner.manager, headers, guard).await
    }

    /// A new token of `backend` for a user whose credentials were just checked. If a password
    /// change, deactivation or "log out everywhere" committed while the login ran, the token is
    /// destroyed again and the login fails (`400 LOGIN_BAD_CREDENTIALS`): a session minted from
    /// an old password never survives the change.
    pub(crate) async fn issue_token(
        &self,
        backend: &Backend,
        user: &crate::User,
    ) -> Result<String, AuthError> {
        let token = backend.write_token(user).await?;
        if self.inner.manager.still_signed_in(user).await? {
            return Ok(token);
        }
        backend.destroy_token(&token, user).await?;
        Err(AuthError::ChangedDuringLogin)
    }

    /// A token of the backend named `backend` for `user`, as its login would issue it (for
    /// tests, and for flows that sign a user in without a password).
    pub async fn token_for(&self, backend: &str, user: &crate::User) -> Result<String, AuthError> {
        let backend = self
            .backend(backend)
            .ok_or_else(|| AuthError::NoSuchBackend(backend.to_owned()))?;
        self.issue_token(backend, user).await
    }

    /// The guard of the built-in routes: active, and verified when so configured.
    pub(crate) fn route_guard(&self, superuser: bool) -> Guard {
        Guard {
            optional: false,
            active: true,
            verified: self.inner.requires_verification,
            superuser,
        }
    }
}

/// The store as the builder got it, wrapped in [`CachingUserStore`] once `build` knows whether
/// a user cache is configured.
type StoreFactory =
    Box<dyn FnOnce(Option<(usize, std::time::Duration)>) -> Arc<DynUserStore<'static>> + Send>;

/// Builds [`AxumUsers`].
pub struct AxumUsersBuilder {
    /// The store, wrapped in the user cache when one is configured.
    store: StoreFactory,
    hooks: Arc<DynHooks<'static>>,
    hasher: Option<PasswordHasher>,
    policy: PasswordPolicy,
    /// The schema the store keeps, if it keeps one.
    store_schema: Option<UserSchema>,
    /// The schema given to the builder, if any.
    schema: Option<UserSchema>,
    backends: Vec<Backend>,
    requires_verification: bool,
    verify_on_register: bool,
    verified_redirect: Option<String>,
    verify_tokens: Option<TokenSettings>,
    reset_tokens: Option<TokenSettings>,
    mail: MailSettings,
    user_cache: Option<(usize, std::time::Duration)>,
    background_limit: usize,
    allowed_origins: Vec<String>,
    limits: RateLimits,
    body_timeout: std::time::Duration,
    require_current_password: bool,
    password_change_revokes_jwts: bool,
    cors_headers: Vec<String>,
    openapi_title: String,
    sessions: Option<crate::session::Sessions>,
    mfa: Option<crate::mfa::Mfa>,
    #[cfg(feature = "passkeys")]
    passkeys: Option<crate::passkey::Passkeys>,
    audit: Option<crate::audit::Audit>,
    #[cfg(feature = "webhooks")]
    webhooks: Option<crate::webhook::Webhooks>,
    email_changes: Option<Arc<crate::email_change::DynEmailChangeStore<'static>>>,
    #[cfg(feature = "oauth")]
    oauth: Option<(
        Arc<crate::store::DynOAuthAccountStore<'static>>,
        crate::oauth::OAuthSettings,
    )>,
    #[cfg(feature = "oauth")]
    oauth_providers: Vec<crate::oauth::OAuthProvider>,
}

impl AxumUsersBuilder {
    /// Records every login as a session in `store` (the SQL stores keep them in an
    /// `auth_session` table), which the user lists and ends (`GET /auth/sessions`,
    /// `DELETE /auth/sessions/{id}`, `DELETE /auth/sessions` for all but the current one) and a
    /// superuser too (`/users/{id}/sessions`); backends with
    /// [`Backend::refresh_tokens`](crate::Backend::refresh_tokens) renew them with refresh
    /// tokens. Ending a session revokes its database or Redis token at once and its refresh
    /// token; a JWT lives out its (short) lifetime. A password change or reset, a
    /// deactivation, a deletion and "log out everywhere" end all of a user's sessions.
    #[must_use]
    pub fn sessions(
        mut self,
        store: impl crate::session::SessionStore + 'static,
        settings: crate::session::SessionSettings,
    ) -> Self {
        self.sessions = Some(crate::session::Sessions::new(store, settings));
        self
    }

    /// A second factor users can turn on (TOTP with recovery codes, in `store`: the SQL stores
    /// keep it in `auth_mfa` tables): `/auth/mfa/totp/setup`, `/enable`, `/disable`,
    /// `/auth/mfa/recovery-codes`, `GET /auth/mfa`, and a superuser's `DELETE /users/{id}/mfa`.
    /// For a user with it on, every login answers `401 {"detail":"LOGIN_MFA_REQUIRED",
    /// "mfa_token":...}`, which `POST /auth/mfa/verify` with a code completes through the same
    /// backend. Users without it see exactly the answers of before.
    #[must_use]
    pub fn mfa(
        mut self,
        store: impl crate::mfa::MfaStore + 'static,
        settings: crate::mfa::MfaSettings,
    ) -> Self {
        self.mfa = Some(crate::mfa::Mfa {
            store: Arc::from(crate::mfa::DynMfaStore::new_box(store)),
            settings,
        });
        self
    }

    /// E-mail changes confirmed by the new address (off: FastAPI Users' behaviour, the
    /// address switches at once). A user's own `PATCH /users/me` with a new address keeps the
    /// old one, mails the new one a verification link (the verification templates and
    /// `verify_url`) and the old one a notice, and answers the user with `pending_email`
    /// (also on `GET /users/me`); the link (`POST /auth/verify` or `GET /auth/verify?token=`)
    /// switches the address if it is still free, and verifies it. The change waits in `store`
    /// (the SQL stores: `auth_email_change`). A superuser's `PATCH /users/{id}` switches at once.
    #[must_use]
    pub fn confirm_email_changes(
        mut self,
        store: impl crate::email_change::EmailChangeStore + 'static,
    ) -> Self {
        self.email_changes = Some(Arc::from(
            crate::email_change::DynEmailChangeStore::new_box(store),
        ));
        self
    }

    /// An audit trail in `store` (the SQL stores keep it in `auth_event`): every security
    /// event (registrations, logins and their failures with the reason, logouts, password and
    /// e-mail changes, verifications, second-factor and passkey changes, sessions ended,
    /// lockouts, superusers' actions) with its time, user, acting superuser, client address,
    /// user agent and `X-Request-Id`, also logged (target `axum_users::audit`). Read at
    /// `GET /users/me/events`, and by superusers at `GET /users/{id}/events` and `GET /events`;
    /// [`AxumUsers::purge_events`] applies the retention.
    #[must_use]
    pub fn audit(
        mut self,
        store: impl crate::audit::AuditStore + 'static,
        settings: crate::audit::AuditSettings,
    ) -> Self {
        self.audit = Some(crate::audit::Audit {
            store: Arc::from(crate::audit::DynAuditStore::new_box(store)),
            settings,
        });
        self
    }

    /// Webhooks: each audit event an endpoint wants is queued in `store` (the SQL stores keep
    /// the queue in `auth_webhook_delivery`) by the request that records it, and sent by
    /// [`AxumUsers::deliver_webhooks`] (spawn it once), signed, at least once, retried with
    /// backoff, one user's in order. Needs [`Self::audit`], whose events they are.
    #[cfg(feature = "webhooks")]
    #[cfg_attr(docsrs, doc(cfg(feature = "webhooks")))]
    #[must_use]
    pub fn webhooks(
        mut self,
        store: impl crate::webhook::WebhookStore + 'static,
        settings: crate::webhook::WebhookSettings,
    ) -> Self {
        self.webhooks = Some(crate::webhook::Webhooks::new(store, settings));
        self
    }

    /// Passkeys (WebAuthn) kept in `store` (the SQL stores keep them in `auth_passkey`
    /// tables): a signed-in user registers them (`/auth/passkeys/register/begin|finish`),
    /// lists, renames and deletes them (`/auth/passkeys`), and anyone signs in with one
    /// without a password (`/auth/passkeys/login/begin|finish`) through any backend. User
    /// verification is required, so a passkey sign-in needs no TOTP code after it.
    #[cfg(feature = "passkeys")]
    #[cfg_attr(docsrs, doc(cfg(feature = "passkeys")))]
    #[must_use]
    pub fn passkeys(
        mut self,
        store: impl crate::passkey::PasskeyStore + 'static,
        settings: crate::passkey::PasskeySettings,
    ) -> Self {
        self.passkeys = Some(crate::passkey::Passkeys {
            store: Arc::from(crate::passkey::DynPasskeyStore::new_box(store)),
            settings,
        });
        self
    }

    /// A password change (`PATCH /users/me`, `PATCH /users/{id}`, reset) also ends every JWT
    /// session of the user, as "log out everywhere" does; database and Redis tokens are revoked
    /// on a password change in any case. Off by default: a FastAPI Users client expects its JWT
    /// to outlive a password change.
    #[must_use]
    pub fn password_change_revokes_jwts(mut self, on: bool) -> Self {
        self.password_change_revokes_jwts = on;
        self
    }

    /// `PATCH /users/me` changes the password or the e-mail only with the right
    /// `current_password` in the body; otherwise `400 UPDATE_USER_BAD_CURRENT_PASSWORD`.
    /// Off by default (FastAPI Users clients do not send it).
    #[must_use]
    pub fn require_current_password(mut self, on: bool) -> Self {
        self.require_current_password = on;
        self
    }

    /// OAuth logins (feature `oauth`): where linked accounts live (the same store as the
    /// users, normally) and how logins behave. Add providers with
    /// [`AxumUsersBuilder::oauth_provider`]; [`AxumUsers::router`] then mounts
    /// `/auth/{provider}/authorize|callback` and `/auth/associate/{provider}/authorize|callback`.
    #[cfg(feature = "oauth")]
    #[must_use]
    pub fn oauth(
        mut self,
        store: impl crate::store::OAuthAccountStore + 'static,
        settings: crate::oauth::OAuthSettings,
    ) -> Self {
        self.oauth = Some((
            Arc::from(crate::store::DynOAuthAccountStore::new_box(store)),
            settings,
        ));
        self
    }

    /// Adds an OAuth provider (after [`AxumUsersBuilder::oauth`]; `build` refuses one without
    /// it, or two with one name).
    #[cfg(feature = "oauth")]
    #[must_use]
    pub fn oauth_provider(mut self, provider: crate::oauth::OAuthProvider) -> Self {
        self.oauth_providers.push(provider);
        self
    }

    /// How long a route waits for the whole request body (default 15 s); a client that sends
    /// it slower gets `408 {"detail":"Request Timeout"}` and the connection is closed, so a
    /// trickled body cannot hold a connection open.
    #[must_use]
    pub fn body_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// Brute-force and abuse limits ([`RateLimits`]); on by default,
    /// [`RateLimits::off`] turns them off.
    #[must_use]
    pub fn rate_limits(mut self, limits: RateLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Origins (`https://app.example.com`) whose pages may send cookie-authenticated
    /// state-changing requests, besides the server's own. Refuses anything that is not an
    /// origin.
    ///
    #[doc = include_str!("docs/csrf.md")]
    pub fn allowed_origins<I, O>(mut self, origins: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = O>,
        O: AsRef<str>,
    {
        for origin in origins {
            let origin = origin.as_ref();
            let normal = crate::csrf::normalise_origin(origin).ok_or_else(|| {
                ConfigError(format!(
                    "{origin:?} is not an origin (scheme://host[:port])"
                ))
            })?;
            self.allowed_origins.push(normal);
        }
        Ok(self)
    }

    /// The title of the OpenAPI document and of the `/docs` page (default `FastAPI`, FastAPI's
    /// default, which FastAPI Users applications keep unless they set one: generated clients
    /// take their package name from it).
    #[must_use]
    pub fn openapi_title(mut self, title: impl Into<String>) -> Self {
        self.openapi_title = title.into();
        self
    }

    /// Request headers that the allowed front-ends may send besides [`DEFAULT_CORS_HEADERS`]
    /// (e.g. `x-api-version`); refuses a name that is not a header name.
    pub fn cors_headers<I, H>(mut self, headers: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = H>,
        H: AsRef<str>,
    {
        for name in headers {
            let name = name.as_ref().trim().to_ascii_lowercase();
            if http::HeaderName::try_from(name.as_str()).is_err() {
                return Err(ConfigError(format!("{name:?} is not a header name")));
            }
            self.cors_headers.push(name);
        }
        Ok(self)
    }

    /// Keeps up to `capacity` users in memory for the read every authenticated request makes,
    /// each for at most `ttl`. Used only with a store that reports its writes
    /// ([`UserStore::generation`](crate::store::UserStore::generation): a SQLite file does, so
    /// even a write by another process is seen at once); otherwise every request reads the
    /// store. Off by default.
    #[must_use]
    pub fn user_cache(mut self, capacity: usize, ttl: std::time::Duration) -> Self {
        self.user_cache = Some((capacity, ttl));
        self
    }

    /// How many jobs may run after their answers at once (default 1024): the token, hook and
    /// e-mail (with its retries) of each forgot-password and request-verify-token, and what
    /// hooks [`spawn`](crate::HookContext::spawn) or [`send_email`](crate::HookContext::send_email).
    /// Over the bound a job is dropped with a warning in the log (the client already has its
    /// 202), so that a flood of requests or a mail server that stopped answering cannot grow
    /// the process without end.
    #[must_use]
    pub fn background_limit(mut self, jobs: usize) -> Self {
        self.background_limit = jobs;
        self
    }

    /// Secret, lifetime (default 1 hour) and audience of e-mail verification tokens
    /// (FastAPI Users' `verification_token_*`). Without it a random secret is used: tokens then
    /// die with the process and are not shared between instances.
    #[must_use]
    pub fn verification_token(mut self, settings: TokenSettings) -> Self {
        self.verify_tokens = Some(settings);
        self
    }

    /// Secret, lifetime (default 1 hour) and audience of reset-password tokens
    /// (FastAPI Users' `reset_password_token_*`). Without it a random secret is used.
    #[must_use]
    pub fn reset_password_token(mut self, settings: TokenSettings) -> Self {
        self.reset_tokens = Some(settings);
        self
    }

    /// Sends the verification and reset e-mails through this mailer. Without one, tokens
    /// reach only the `on_after_request_verify` and `on_after_forgot_password` hooks.
    #[must_use]
    pub fn mailer(mut self, mailer: impl Mailer + 'static) -> Self {
        self.mail.mailer = Some(Arc::from(DynMailer::new_box(mailer)));
        self
    }

    /// The e-mail templates (default: the built-in ones).
    #[must_use]
    pub fn mail_templates(mut self, templates: MailTemplates) -> Self {
        self.mail.templates = templates;
        self
    }

    /// The front-end page that completes verification, with `{token}` where the token goes,
    /// e.g. `https://app.example.com/verify?token={token}`.
    #[must_use]
    pub fn verify_url(mut self, url: impl Into<String>) -> Self {
        self.mail.verify_url = Some(url.into());
        self
    }

    /// The front-end page that sets a new password, with `{token}` where the token goes.
    #[must_use]
    pub fn reset_url(mut self, url: impl Into<String>) -> Self {
        self.mail.reset_url = Some(url.into());
        self
    }

    /// The application's name, as the e-mails sign (default `axum-users`).
    #[must_use]
    pub fn app_name(mut self, name: impl Into<String>) -> Self {
        self.mail.app_name = name.into();
        self
    }

    /// How failed deliveries are retried (default: 5 tries, 1 s doubling up to 60 s).
    #[must_use]
    pub fn mail_retry(mut self, retry: RetryPolicy) -> Self {
        self.mail.retry = retry;
        self
    }

    /// Registration also sends the verification e-mail (after `on_after_register`, off the
    /// request path). Default off, as in FastAPI Users.
    #[must_use]
    pub fn verify_on_register(mut self, on: bool) -> Self {
        self.verify_on_register = on;
        self
    }

    /// Where `GET /auth/verify?token=...` (the link an e-mail can carry, so that it works
    /// without a front-end) sends the browser afterwards: `303` to this URL with
    /// `status=verified` or the error code (`VERIFY_USER_BAD_TOKEN`,
    /// `VERIFY_USER_ALREADY_VERIFIED`) added to its query. Unset: a small page of the server's
    /// own says the same.
    #[must_use]
    pub fn verified_redirect(mut self, url: impl Into<String>) -> Self {
        self.verified_redirect = Some(url.into());
        self
    }

    /// The application's lifecycle hooks and password rules.
    #[must_use]
    pub fn hooks(mut self, hooks: impl Hooks + 'static) -> Self {
        self.hooks = Arc::from(DynHooks::new_box(hooks));
        self
    }

    /// The password hasher (default: argon2id with OWASP parameters).
    #[must_use]
    pub fn password_hasher(mut self, hasher: PasswordHasher) -> Self {
        self.hasher = Some(hasher);
        self
    }

    /// Password length bounds (default 8 to 128 characters;
    /// [`PasswordPolicy::permissive`] accepts anything, as FastAPI Users does).
    #[must_use]
    pub fn password_policy(mut self, policy: PasswordPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The application's extra user fields, for a store that does not keep them
    /// ([`UserStore::schema`] is `None`). The SQL stores keep the schema they were made with,
    /// and the builder takes it from them: giving one here too is allowed only if it is the
    /// same (`build` refuses a different one, which would lose fields silently).
    #[must_use]
    pub fn schema(mut self, schema: UserSchema) -> Self {
        self.schema = Some(schema);
        self
    }

    /// Adds an authentication backend; backends are tried in the order added.
    #[must_use]
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backends.push(backend);
        self
    }

    /// Refuse unverified users at login and on the built-in guarded routes.
    #[must_use]
    pub fn requires_verification(mut self, on: bool) -> Self {
        self.requires_verification = on;
        self
    }

    /// Checks the configuration and builds.
    pub fn build(self) -> Result<AxumUsers, ConfigError> {
        let schema = match (self.store_schema, self.schema) {
            (Some(store), Some(given)) if store != given => {
                return Err(ConfigError(format!(
                    "the schema given to the builder ({}) is not the store's ({}): declare it \
                     once, on the store",
                    field_names(&given),
                    field_names(&store)
                )))
            }
            (Some(schema), _) | (None, Some(schema)) => schema,
            (None, None) => UserSchema::new(),
        };
        schema.check().map_err(|e| ConfigError(e.to_string()))?;
        #[cfg(feature = "oauth")]
        let oauth = {
            for (index, provider) in self.oauth_providers.iter().enumerate() {
                let name = provider.name();
                if self.oauth_providers[..index]
                    .iter()
                    .any(|p| p.name() == name)
                {
                    return Err(ConfigError(format!(
                        "two OAuth providers are named {name:?}"
                    )));
                }
            }
            match (&self.oauth, self.oauth_providers.is_empty()) {
                (None, false) => {
                    return Err(ConfigError(
                        "OAuth providers need .oauth(store, settings) first".into(),
                    ))
                }
                (None, true) => None,
                (Some((store, settings)), _) => {
                    if let Some(name) = &settings.backend {
                        if !self.backends.iter().any(|b| &b.name == name) {
                            return Err(ConfigError(format!(
                                "the OAuth backend {name:?} is not a configured backend"
                            )));
                        }
                    }
                    Some(crate::oauth::OAuthConfig {
                        store: store.clone(),
                        settings: settings.clone(),
                        providers: self.oauth_providers.clone(),
                    })
                }
            }
        };
        for (index, backend) in self.backends.iter().enumerate() {
            let name = &backend.name;
            if backend.refresh.is_some() && self.sessions.is_none() {
                return Err(ConfigError(format!(
                    "backend {name:?} issues refresh tokens: configure .sessions(store, settings) \
                     to keep them"
                )));
            }
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(ConfigError(format!(
                    "backend name {name:?} must be non-empty letters, digits, '-', '_' or '.'"
                )));
            }
            if self.backends[..index].iter().any(|b| &b.name == name) {
                return Err(ConfigError(format!("two backends are named {name:?}")));
            }
            if let crate::transport::Transport::Cookie(cookie) = backend.transport() {
                if cookie.samesite == crate::transport::SameSite::None && !cookie.secure {
                    return Err(ConfigError(format!(
                        "backend {name:?}: a SameSite=none cookie without Secure is dropped by \
                         every browser; make it Secure (server: AXUM_USERS_COOKIE_SECURE=true, \
                         served over HTTPS) or use SameSite=lax"
                    )));
                }
            }
        }
        Ok(AxumUsers {
            inner: Arc::new(Inner {
                manager: UserManager {
                    store: (self.store)(self.user_cache),
                    hooks: self.hooks,
                    hasher: self.hasher.unwrap_or_default(),
                    policy: self.policy,
                    schema,
                    verify_tokens: self.verify_tokens.unwrap_or_else(|| {
                        random_secret_warning("verification_token");
                        TokenSettings::random(TokenKind::Verify)
                    }),
                    reset_tokens: self.reset_tokens.unwrap_or_else(|| {
                        random_secret_warning("reset_password_token");
                        TokenSettings::random(TokenKind::Reset)
                    }),
                    strategies: self.backends.iter().map(|b| b.strategy.clone()).collect(),
                    password_change_revokes_jwts: self.password_change_revokes_jwts,
                    sessions: self.sessions.as_ref().map(|s| s.store.clone()),
                    mfa: self.mfa.as_ref().map(|m| m.store.clone()),
                    email_changes: self.email_changes,
                    #[cfg(feature = "passkeys")]
                    passkeys: self.passkeys.as_ref().map(|p| p.store.clone()),
                    mail: Arc::new(self.mail),
                    background: Background::new(self.background_limit),
                },
                routes: std::sync::OnceLock::new(),
                backends: self.backends,
                requires_verification: self.requires_verification,
                verify_on_register: self.verify_on_register,
                verified_redirect: self.verified_redirect,
                csrf: CsrfPolicy {
                    origins: self.allowed_origins,
                },
                limits: self.limits,
                body_timeout: self.body_timeout,
                #[cfg(feature = "oauth")]
                oauth,
                require_current_password: self.require_current_password,
                cors_headers: self.cors_headers,
                openapi_title: self.openapi_title,
                sessions: self.sessions,
                mfa: self.mfa,
                #[cfg(feature = "passkeys")]
                passkeys: self.passkeys,
                audit: self.audit,
                #[cfg(feature = "webhooks")]
                webhooks: self.webhooks,
            }),
        })
    }
}

fn field_names(schema: &UserSchema) -> String {
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name.as_str()).collect();
    if names.is_empty() {
        "no custom fields".into()
    } else {
        names.join(", ")
    }
}

fn random_secret_warning(setting: &str) {
    tracing::warn!(
        setting,
        "no secret configured: using a random one, so every mailed token dies when the process \
         stops and other instances refuse it; set it with AxumUsersBuilder::{setting}"
    );
}
