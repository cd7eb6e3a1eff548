//! The route table: every route [`AxumUsers::router`] serves, declared once, with its handler
//! ([`Endpoint`]). The routers are made from it, and so are the server's 404/405 and
//! trailing-slash answers; a test holds the OpenAPI document to it.

use axum::routing::MethodRouter;
use http::Method;

use crate::AxumUsers;

/// One route of [`AxumUsers::router`]: its path at FastAPI Users' conventional prefix (`{id}`
/// stands for a path parameter) and its methods.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Route {
    /// The path, e.g. `/users/{id}`.
    pub path: String,
    /// The methods it answers.
    pub methods: Vec<Method>,
    /// Whether the OpenAPI document lists it (the docs pages themselves are not listed, as in
    /// FastAPI).
    pub documented: bool,
}

impl Route {
    fn new(path: impl Into<String>, methods: &[Method]) -> Self {
        Self {
            path: path.into(),
            methods: methods.to_vec(),
            documented: true,
        }
    }

    fn undocumented(mut self) -> Self {
        self.documented = false;
        self
    }

    /// Whether `path` is this route (a `{parameter}` segment matches any one segment).
    pub fn matches(&self, path: &str) -> bool {
        let mut pattern = self.path.trim_start_matches('/').split('/');
        let mut candidate = path.trim_start_matches('/').split('/');
        loop {
            match (pattern.next(), candidate.next()) {
                (None, None) => return true,
                (Some(p), Some(c)) if p.starts_with('{') && p.ends_with('}') => {
                    if c.is_empty() {
                        return false;
                    }
                }
                (Some(p), Some(c)) if p == c => {}
                _ => return false,
            }
        }
    }
}

/// A route as it is declared, once: its [`Route`] (path at the conventional prefix, methods)
/// next to the handler that serves it. [`AxumUsers::router`], the routers of each concern and
/// [`AxumUsers::routes`] are all made from these.
pub(crate) struct Endpoint {
    pub(crate) route: Route,
    handler: MethodRouter<AxumUsers>,
}

impl Endpoint {
    pub(crate) fn new(
        path: impl Into<String>,
        methods: &[Method],
        handler: MethodRouter<AxumUsers>,
    ) -> Self {
        Self {
            route: Route::new(path, methods),
            handler,
        }
    }

    /// Served, and not in the OpenAPI document (the docs pages themselves, as in FastAPI).
    pub(crate) fn undocumented(mut self) -> Self {
        self.route = self.route.undocumented();
        self
    }
}

impl AxumUsers {
    /// Every route of [`AxumUsers::router`], for the backends and OAuth providers configured,
    /// in the order the document lists them.
    ///
    /// ```
    /// # async fn doc(users: axum_users::AxumUsers) {
    /// let me = users.routes().into_iter().find(|r| r.path == "/users/me").unwrap();
    /// assert!(me.matches("/users/me"));
    /// # }
    /// ```
    pub fn routes(&self) -> Vec<Route> {
        self.route_table()
            .get_or_init(|| self.endpoints().into_iter().map(|e| e.route).collect())
            .clone()
    }

    /// Every endpoint, concern by concern.
    pub(crate) fn endpoints(&self) -> Vec<Endpoint> {
        let mut endpoints = self.register_endpoints();
        for backend in self.backends() {
            endpoints.extend(self.auth_endpoints(backend.name()));
        }
        endpoints.extend(self.reset_password_endpoints());
        endpoints.extend(self.verify_endpoints());
        endpoints.extend(self.sessions_endpoints());
        endpoints.extend(self.mfa_endpoints());
        #[cfg(feature = "passkeys")]
        endpoints.extend(self.passkeys_endpoints());
        endpoints.extend(self.users_endpoints());
        endpoints.extend(self.user_sessions_endpoints());
        endpoints.extend(self.user_mfa_endpoints());
        endpoints.extend(self.user_events_endpoints());
        endpoints.extend(self.events_endpoints());
        #[cfg(feature = "oauth")]
        for provider in self.oauth_providers() {
            for associate in [false, true] {
                endpoints.extend(self.provider_endpoints(provider.name(), associate));
            }
        }
        endpoints.extend(self.health_endpoints());
        endpoints.extend(super::docs::docs_endpoints(self.openapi()));
        endpoints
    }

    /// A router of these endpoints, their paths taken relative to `prefix` (where the caller
    /// nests it), with this handle as state.
    pub(crate) fn mount<S: Clone + Send + Sync + 'static>(
        &self,
        prefix: &str,
        endpoints: Vec<Endpoint>,
    ) -> axum::Router<S> {
        endpoints
            .into_iter()
            .fold(axum::Router::new(), |router, endpoint| {
                // The concern's own root (`GET /users` under `/users`) is its `/`.
                let path = match endpoint.route.path.strip_prefix(prefix) {
                    Some("") | None => "/",
                    Some(path) => path,
                };
                router.route(path, endpoint.handler)
            })
            .with_state(self.clone())
    }
}
