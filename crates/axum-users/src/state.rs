//! [`AxumUsers`]: the configured whole (manager + ordered backends + options) that the routers
//! and extractors share. The counterpart of FastAPI Users' `FastAPIUsers` object.

use std::sync::Arc;

use http::HeaderMap;

use crate::auth::{self, Authenticated, Backend, Guard};
use crate::hooks::{Hooks, NoHooks};
use crate::manager::{PasswordPolicy, UserManager};
use crate::password::PasswordHasher;
use crate::store::UserStore;
use crate::user::UserSchema;
use crate::ApiError;

/// User management for an axum application. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct AxumUsers {
    inner: Arc<Inner>,
}

struct Inner {
    manager: UserManager,
    backends: Vec<Backend>,
    requires_verification: bool,
}

impl std::fmt::Debug for AxumUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AxumUsers")
            .field("manager", &self.inner.manager)
            .field("backends", &self.inner.backends)
            .field("requires_verification", &self.inner.requires_verification)
            .finish()
    }
}

/// A configuration mistake found when building [`AxumUsers`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl AxumUsers {
    /// Starts a configuration around a user store.
    pub fn builder<S: UserStore>(store: S) -> AxumUsersBuilder {
        AxumUsersBuilder {
            store: Arc::new(store),
            hooks: Arc::new(NoHooks),
            hasher: None,
            policy: PasswordPolicy::default(),
            schema: UserSchema::new(),
            backends: Vec::new(),
            requires_verification: false,
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

    /// Authenticates a request's headers against every backend, as the extractors do.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        guard: Guard,
    ) -> Result<Option<Authenticated>, ApiError> {
        auth::authenticate(&self.inner.backends, &self.inner.manager, headers, guard).await
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

/// Builds [`AxumUsers`].
pub struct AxumUsersBuilder {
    store: Arc<dyn crate::store::DynUserStore>,
    hooks: Arc<dyn crate::hooks::DynHooks>,
    hasher: Option<PasswordHasher>,
    policy: PasswordPolicy,
    schema: UserSchema,
    backends: Vec<Backend>,
    requires_verification: bool,
}

impl AxumUsersBuilder {
    /// The application's lifecycle hooks and password rules.
    #[must_use]
    pub fn hooks(mut self, hooks: impl Hooks) -> Self {
        self.hooks = Arc::new(hooks);
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

    /// The application's extra user fields. Give the store the same schema.
    #[must_use]
    pub fn schema(mut self, schema: UserSchema) -> Self {
        self.schema = schema;
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
        self.schema.check().map_err(ConfigError)?;
        for (index, backend) in self.backends.iter().enumerate() {
            let name = &backend.name;
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
        }
        Ok(AxumUsers {
            inner: Arc::new(Inner {
                manager: UserManager {
                    store: self.store,
                    hooks: self.hooks,
                    hasher: self.hasher.unwrap_or_default(),
                    policy: self.policy,
                    schema: self.schema,
                },
                backends: self.backends,
                requires_verification: self.requires_verification,
            }),
        })
    }
}
