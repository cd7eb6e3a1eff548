//! The route table: every route [`AxumUsers::router`] serves, declared once. The server's
//! 404/405 and trailing-slash answers are derived from it, and tests hold the router and the
//! OpenAPI document to it (a route added to one and not the table fails them).

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

impl AxumUsers {
    /// Every route of [`AxumUsers::router`], for the backends and OAuth providers configured.
    ///
    /// ```
    /// # async fn doc(users: axum_users::AxumUsers) {
    /// let me = users.routes().into_iter().find(|r| r.path == "/users/me").unwrap();
    /// assert!(me.matches("/users/me"));
    /// # }
    /// ```
    pub fn routes(&self) -> Vec<Route> {
        let post = [Method::POST];
        let get = [Method::GET];
        let mut routes = vec![Route::new("/auth/register", &post)];
        for backend in self.backends() {
            let name = backend.name();
            routes.push(Route::new(format!("/auth/{name}/login"), &post));
            routes.push(Route::new(format!("/auth/{name}/logout"), &post));
        }
        for path in [
            "/auth/forgot-password",
            "/auth/reset-password",
            "/auth/request-verify-token",
            "/auth/verify",
            "/auth/logout-everywhere",
        ] {
            routes.push(Route::new(path, &post));
        }
        routes.push(Route::new("/users/me", &[Method::GET, Method::PATCH]));
        routes.push(Route::new(
            "/users/{id}",
            &[Method::GET, Method::PATCH, Method::DELETE],
        ));
        #[cfg(feature = "oauth")]
        for provider in self.oauth_providers() {
            let name = provider.name();
            for prefix in [format!("/auth/{name}"), format!("/auth/associate/{name}")] {
                routes.push(Route::new(format!("{prefix}/authorize"), &get));
                routes.push(Route::new(format!("{prefix}/callback"), &get));
            }
        }
        routes.push(Route::new("/openapi.json", &get).undocumented());
        #[cfg(feature = "swagger-ui")]
        for path in ["/docs", "/docs/oauth2-redirect", "/redoc"] {
            routes.push(Route::new(path, &get).undocumented());
        }
        routes
    }
}
