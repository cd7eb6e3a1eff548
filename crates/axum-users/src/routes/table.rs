//! The route table: every route [`AxumUsers::router`] serves, declared once ([`Endpoint`]):
//! its path, and per method the handler and the OpenAPI operation. The routers, the OpenAPI
//! document and the server's 404/405 and trailing-slash answers are all made from it, so a new
//! route is declared in one place.

use std::sync::Arc;

use axum::handler::Handler;
use axum::routing::MethodRouter;
use http::Method;
use serde_json::Value;

use crate::openapi::{Declared, Document, Operation};
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

/// A route as it is declared, once: its [`Route`] (path at the conventional prefix, methods),
/// and for each method the handler that serves it and its OpenAPI operation.
/// [`AxumUsers::router`], the routers of each concern, [`AxumUsers::routes`] and
/// [`AxumUsers::openapi`] are all made from these.
pub(crate) struct Endpoint {
    pub(crate) route: Route,
    handler: MethodRouter<AxumUsers>,
    /// The document's operation of each method, in the order declared.
    pub(crate) operations: Vec<(Method, Operation)>,
    /// Whether a rate limit guards it (the document lists its 429).
    pub(crate) limited: bool,
}

macro_rules! method {
    ($name:ident, $method:ident) => {
        #[doc = concat!("Serves `", stringify!($method), "` with `handler`, documented by `operation`.")]
        pub(crate) fn $name<H, T>(
            mut self,
            handler: H,
            operation: impl Fn(&mut Document) -> Value + Send + Sync + 'static,
        ) -> Self
        where
            H: Handler<T, AxumUsers>,
            T: 'static,
        {
            self.handler = self.handler.$name(handler);
            self.documents(Method::$method, operation)
        }
    };
}

impl Endpoint {
    /// A documented route at `path`, its methods added by [`Self::get`], [`Self::post`] ...
    pub(crate) fn at(path: impl Into<String>) -> Self {
        Self {
            route: Route::new(path, &[]),
            handler: MethodRouter::new(),
            operations: Vec::new(),
            limited: false,
        }
    }

    method!(get, GET);
    method!(post, POST);
    method!(patch, PATCH);
    method!(delete, DELETE);

    /// One handler for every method (it answers the methods it does not serve itself); the
    /// methods it serves are those [`Self::documents`] adds.
    pub(crate) fn any(mut self, handler: MethodRouter<AxumUsers>) -> Self {
        self.handler = handler;
        self
    }

    /// Adds `method`, documented by `operation` (served by the handler given to [`Self::any`],
    /// or by the typed methods above).
    pub(crate) fn documents(
        mut self,
        method: Method,
        operation: impl Fn(&mut Document) -> Value + Send + Sync + 'static,
    ) -> Self {
        self.route.methods.push(method.clone());
        self.operations.push((method, Arc::new(operation)));
        self
    }

    /// A rate limit guards this route.
    pub(crate) fn limited(mut self) -> Self {
        self.limited = true;
        self
    }

    /// A route outside the document (the docs pages themselves, as in FastAPI; the health
    /// checks).
    pub(crate) fn undocumented(
        path: impl Into<String>,
        methods: &[Method],
        handler: MethodRouter<AxumUsers>,
    ) -> Self {
        Self {
            route: Route::new(path, methods).undocumented(),
            handler,
            operations: Vec::new(),
            limited: false,
        }
    }
}

impl AxumUsers {
    /// The OpenAPI document for the conventional layout of [`AxumUsers::router`]:
    /// `/auth/register`, `/auth/{backend}/login|logout`, the verify and reset routes under
    /// `/auth`, `/users/...`.
    pub fn openapi(&self) -> Value {
        self.document_of(&self.api_endpoints())
    }

    /// The document of these endpoints' operations.
    pub(crate) fn document_of(&self, endpoints: &[Endpoint]) -> Value {
        self.document(endpoints.iter().flat_map(|endpoint| {
            endpoint
                .operations
                .iter()
                .map(move |(method, operation)| Declared {
                    path: &endpoint.route.path,
                    method,
                    operation,
                    limited: endpoint.limited,
                })
        }))
    }

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

    /// Every endpoint: those of the document, then the document's own and the docs pages.
    pub(crate) fn endpoints(&self) -> Vec<Endpoint> {
        let mut endpoints = self.api_endpoints();
        let document = self.document_of(&endpoints);
        endpoints.extend(super::docs::docs_endpoints(document));
        endpoints
    }

    /// Every endpoint but the document's own and the docs pages, concern by concern.
    pub(crate) fn api_endpoints(&self) -> Vec<Endpoint> {
        // FastAPI Users' order first (as its document lists them).
        let mut endpoints = Vec::new();
        for backend in self.backends() {
            endpoints.extend(self.auth_endpoints(backend.name()));
        }
        endpoints.extend(self.register_endpoints());
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
