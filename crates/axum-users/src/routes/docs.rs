//! `/openapi.json` and the interactive `/docs` page, with Swagger UI served from the binary
//! (no CDN).

use axum::Router;
use serde_json::Value;

pub(crate) fn docs_router<S: Clone + Send + Sync + 'static>(openapi: Value) -> Router<S> {
    #[cfg(feature = "swagger-ui")]
    {
        let ui: Router<S> = utoipa_swagger_ui::SwaggerUi::new("/docs")
            .external_url_unchecked("/openapi.json", openapi)
            .into();
        ui
    }
    #[cfg(not(feature = "swagger-ui"))]
    {
        use axum::routing::get;
        let body = std::sync::Arc::new(openapi);
        Router::new().route(
            "/openapi.json",
            get(move || {
                let body = body.clone();
                async move { crate::error::json_response(http::StatusCode::OK, &body) }
            }),
        )
    }
}
