//! The route table is the one declaration of what `router()` serves (each route is declared
//! with its handler, and the routers are made from the table): the OpenAPI document lists
//! exactly its documented routes, and the router answers every route's methods (and 405 for
//! the others).

mod common;

use axum::body::Body;
use common::{app, app_with, send_to, with_sessions, TestApp};

/// The default application, and one with sessions and refresh tokens (more routes).
async fn apps() -> [TestApp; 2] {
    [app().await, app_with(with_sessions()).await]
}
use http::{Method, Request, StatusCode};

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_documented_routes() {
    for app in apps().await {
        the_document_lists_the_routes_of(app);
    }
}

fn the_document_lists_the_routes_of(app: TestApp) {
    let document = app.users.openapi();
    let mut listed: Vec<(String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (path.clone(), method.to_uppercase()))
        })
        .collect();
    let mut declared: Vec<(String, String)> = app
        .users
        .routes()
        .into_iter()
        .filter(|route| route.documented)
        .flat_map(|route| {
            route
                .methods
                .iter()
                .map(|m| (route.path.clone(), m.to_string()))
                .collect::<Vec<_>>()
        })
        .collect();
    listed.sort();
    declared.sort();
    assert_eq!(listed, declared);
}

#[tokio::test]
async fn the_router_answers_every_route_of_the_table() {
    for app in apps().await {
        the_router_answers_the_table_of(app).await;
    }
}

async fn the_router_answers_the_table_of(app: TestApp) {
    let id = app.user("king.arthur@camelot.bt").await.id.to_string();
    for route in app.users.routes() {
        let path = route
            .path
            .replace("{id}", &id)
            .replace("{session_id}", "none")
            .replace("{file}", "swagger-ui.css");
        assert!(route.matches(&path), "{} does not match {path}", route.path);
        for method in [Method::GET, Method::POST, Method::PATCH, Method::DELETE] {
            let request = Request::builder()
                .method(method.clone())
                .uri(&path)
                .body(Body::empty())
                .unwrap();
            let status = send_to(&app.router, request).await.status;
            if route.methods.contains(&method) {
                assert!(
                    status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path}: {status}"
                );
            } else if !(path == "/users/me" && method == Method::DELETE) {
                // (DELETE /users/me is /users/{id} with the id "me", as in FastAPI Users.)
                assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            }
        }
    }
    // What the table does not hold is not served.
    for path in ["/auth/nope/login", "/user", "/auth/register/more"] {
        assert!(
            !app.users.routes().iter().any(|r| r.matches(path)),
            "{path}"
        );
        let request = Request::post(path).body(Body::empty()).unwrap();
        assert_eq!(
            send_to(&app.router, request).await.status,
            StatusCode::NOT_FOUND
        );
    }
}

/// With OAuth providers, their login and association routes are in the table, in the
/// document and served (the provider here is never reached: no route needs it to answer).
#[cfg(feature = "oauth")]
#[tokio::test]
async fn oauth_routes_are_declared_documented_and_served() {
    use axum_users::{
        AxumUsers, Backend, BearerTransport, JwtStrategy, OAuthProvider, OAuthSettings, RateLimits,
        SqliteStore, UserSchema,
    };
    let store = SqliteStore::connect("sqlite::memory:", UserSchema::new())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let users = AxumUsers::builder(store.clone())
        .rate_limits(RateLimits::off())
        .backend(Backend::new(
            "jwt",
            BearerTransport::new("auth/jwt/login"),
            JwtStrategy::new(common::SECRET, Some(3600)),
        ))
        .oauth(
            store,
            OAuthSettings::new("a state secret of at least thirty-two bytes"),
        )
        .oauth_provider(OAuthProvider::github("id", "secret"))
        .build()
        .unwrap();
    let paths: Vec<String> = users.routes().into_iter().map(|r| r.path).collect();
    for path in [
        "/auth/github/authorize",
        "/auth/github/callback",
        "/auth/associate/github/authorize",
        "/auth/associate/github/callback",
    ] {
        assert!(paths.iter().any(|p| p == path), "{path} not declared");
        assert!(
            users.openapi()["paths"][path]["get"].is_object(),
            "{path} not documented"
        );
        let request = Request::get(path).body(Body::empty()).unwrap();
        let status = send_to(&users.router(), request).await.status;
        assert!(
            status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
            "{path}: {status}"
        );
    }
}

/// `/health` answers while the process serves; `/ready` when the store (and Redis, where
/// configured: tests/scale.rs in the server takes them away) answers. Neither is in the
/// OpenAPI document, whose routes stay FastAPI Users'.
#[tokio::test]
async fn health_and_readiness() {
    let app = app().await;
    for (path, body) in [
        ("/health", r#"{"status":"ok"}"#),
        ("/ready", r#"{"status":"ready"}"#),
    ] {
        let reply = send_to(&app.router, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!((reply.status, reply.body.as_str()), (StatusCode::OK, body));
        assert_eq!(reply.header("content-type"), Some("application/json"));
        let reply = send_to(
            &app.router,
            Request::post(path).body(Body::empty()).unwrap(),
        )
        .await;
        // (axum's bare 405, as for every route of the library's router; the server answers
        // FastAPI's JSON through its `method_not_allowed_fallback`.)
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (StatusCode::METHOD_NOT_ALLOWED, "")
        );
        assert!(app.users.openapi()["paths"].get(path).is_none());
    }
    assert!(app.users.ready().await.is_ok());
}
