//! The interactive docs wherever the application nests the routers: the page at `<prefix>/docs`
//! (no redirect), its assets and OAuth2 redirect beside it, and every URL the page and the
//! document use relative, so that Swagger UI's "Authorize" posts to `<prefix>/auth/jwt/login`.

mod common;

use axum::body::Body;
use axum::Router;
use common::{app, send_to};
use http::{Request, StatusCode};

async fn get(router: &Router, uri: &str) -> common::Reply {
    send_to(router, Request::get(uri).body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn the_docs_follow_the_prefix_the_routes_are_nested_under() {
    let app = app().await;
    for prefix in ["", "/api", "/api/v1"] {
        let router = if prefix.is_empty() {
            app.router.clone()
        } else {
            Router::new().nest(prefix, app.router.clone())
        };
        let page = get(&router, &format!("{prefix}/docs")).await;
        assert_eq!(page.status, StatusCode::OK, "{prefix}");
        assert_eq!(
            page.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        // Relative to the page: `<prefix>/docs/...` and `<prefix>/openapi.json`.
        assert!(page
            .body
            .contains(r#"<script src="docs/swagger-ui-bundle.js">"#));
        assert!(page.body.contains("url: prefix + '/openapi.json'"));
        assert!(page.body.contains(
            "oauth2RedirectUrl: window.location.origin + prefix + '/docs/oauth2-redirect'"
        ));
        for asset in ["swagger-ui-bundle.js", "swagger-ui.css", "oauth2-redirect"] {
            let reply = get(&router, &format!("{prefix}/docs/{asset}")).await;
            assert_eq!(reply.status, StatusCode::OK, "{prefix}/docs/{asset}");
        }
        let redoc = get(&router, &format!("{prefix}/redoc")).await;
        assert_eq!(redoc.status, StatusCode::OK, "{prefix}");
        assert!(redoc
            .body
            .contains(r#"<redoc spec-url="openapi.json"></redoc>"#));
        assert!(redoc
            .body
            .contains(r#"<script src="redoc/redoc.standalone.js">"#));
        let bundle = get(&router, &format!("{prefix}/redoc/redoc.standalone.js")).await;
        assert_eq!(bundle.status, StatusCode::OK, "{prefix}");
        assert_eq!(bundle.header("content-type"), Some("text/javascript"));
        let missing = get(&router, &format!("{prefix}/docs/index.html")).await;
        assert_eq!(
            (missing.status, missing.body.as_str()),
            (StatusCode::NOT_FOUND, r#"{"detail":"Not Found"}"#)
        );
        let document = get(&router, &format!("{prefix}/openapi.json")).await;
        assert_eq!(document.status, StatusCode::OK);
        // The token URL is relative, as FastAPI Users writes it: the page at <prefix>/docs
        // resolves it to <prefix>/auth/jwt/login.
        let servers = &document.json()["servers"];
        if prefix.is_empty() {
            assert_eq!(*servers, serde_json::Value::Null, "no servers at the root");
        } else {
            assert_eq!(*servers, serde_json::json!([{ "url": prefix }]));
        }
        let schemes = &document.json()["components"]["securitySchemes"];
        assert_eq!(
            schemes["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"],
            "auth/jwt/login"
        );
    }
}
