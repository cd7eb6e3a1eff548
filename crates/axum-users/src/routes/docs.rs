//! `/openapi.json` and (feature `swagger-ui`) the interactive `/docs` and `/redoc` pages as
//! FastAPI serves them: the page at `/docs` itself, `/docs/oauth2-redirect` for Swagger UI's
//! OAuth flows, Redoc at `/redoc`, and their assets from the binary (no CDN). Every URL the
//! pages use is relative to where they are served, so the "Authorize" button signs in wherever
//! the application nests these routes.

use axum::routing::get;
use http::Method;
use serde_json::Value;

use super::table::Endpoint;

/// The document's and the docs pages' endpoints (none of them in the document itself).
pub(crate) fn docs_endpoints(openapi: Value) -> Vec<Endpoint> {
    let title = openapi["info"]["title"]
        .as_str()
        .unwrap_or("axum-users")
        .to_owned();
    let body = std::sync::Arc::new(openapi);
    let document = Endpoint::undocumented(
        "/openapi.json",
        &[Method::GET],
        get(
            move |axum::extract::OriginalUri(original): axum::extract::OriginalUri,
                  uri: http::Uri| {
                let body = body.clone();
                async move {
                    // Nested under a prefix, the document says so (as FastAPI's `root_path`
                    // does), so that clients and Swagger UI call `<prefix>/users/me`.
                    let prefix = original
                        .path()
                        .strip_suffix(uri.path())
                        .filter(|prefix| !prefix.is_empty());
                    match prefix {
                        None => crate::json::json_response(http::StatusCode::OK, &*body),
                        Some(prefix) => {
                            let mut document = (*body).clone();
                            document["servers"] = serde_json::json!([{ "url": prefix }]);
                            crate::json::json_response(http::StatusCode::OK, &document)
                        }
                    }
                }
            },
        ),
    );
    #[cfg(feature = "swagger-ui")]
    let pages = swagger_ui::endpoints(&title);
    #[cfg(not(feature = "swagger-ui"))]
    let pages = {
        let _ = title;
        Vec::new()
    };
    std::iter::once(document).chain(pages).collect()
}

#[cfg(feature = "swagger-ui")]
mod swagger_ui {
    use std::sync::Arc;

    use axum::extract::Path;
    use axum::response::{Html, IntoResponse, Response};
    use axum::routing::get;
    use http::{header, Method};

    use super::Endpoint;

    /// The files of Swagger UI's distribution the page loads.
    const ASSETS: [&str; 4] = [
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "favicon-32x32.png",
        "favicon-16x16.png",
    ];

    pub(super) fn endpoints(title: &str) -> Vec<Endpoint> {
        let page = Html(page(title));
        let redoc = Html(redoc_page(title));
        let get_only = &[Method::GET];
        vec![
            Endpoint::undocumented("/docs", get_only, get(move || async move { page.clone() })),
            Endpoint::undocumented(
                "/redoc",
                get_only,
                get(move || async move { redoc.clone() }),
            ),
            Endpoint::undocumented(
                "/redoc/redoc.standalone.js",
                get_only,
                get(|| async {
                    (
                        [
                            (header::CONTENT_TYPE, "text/javascript"),
                            (header::CACHE_CONTROL, "public, max-age=86400"),
                        ],
                        REDOC,
                    )
                }),
            ),
            Endpoint::undocumented(
                "/docs/oauth2-redirect",
                get_only,
                get(|| async { asset("oauth2-redirect.html") }),
            ),
            Endpoint::undocumented(
                "/docs/{file}",
                get_only,
                get(|Path(file): Path<String>| async move {
                    if ASSETS.contains(&file.as_str()) {
                        asset(&file)
                    } else {
                        crate::ApiError::NOT_FOUND.into_response()
                    }
                }),
            ),
        ]
    }

    /// Redoc's standalone bundle (`assets/redoc`, MIT), as FastAPI's page loads it from a CDN.
    const REDOC: &str = include_str!("../../assets/redoc/redoc.standalone.js");

    /// FastAPI's `/redoc` page (`get_redoc_html`, without Google Fonts), the document and the
    /// bundle relative to the page.
    fn redoc_page(title: &str) -> String {
        format!(
            r#"<!DOCTYPE html>
<html>
<head>
<title>{} - ReDoc</title>
<!-- needed for adaptive design -->
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="shortcut icon" href="docs/favicon-32x32.png">
<style>
  body {{
    margin: 0;
    padding: 0;
  }}
</style>
</head>
<body>
<noscript>
    ReDoc requires Javascript to function. Please enable it to browse the documentation.
</noscript>
<redoc spec-url="openapi.json"></redoc>
<script src="redoc/redoc.standalone.js"> </script>
</body>
</html>
"#,
            escape(title)
        )
    }

    fn escape(text: &str) -> String {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    }

    fn asset(file: &str) -> Response {
        let config = Arc::new(utoipa_swagger_ui::Config::new(["openapi.json"]));
        match utoipa_swagger_ui::serve(file, config) {
            Ok(Some(found)) => (
                [
                    (header::CONTENT_TYPE, found.content_type),
                    (header::CACHE_CONTROL, "public, max-age=86400".to_owned()),
                ],
                found.bytes.into_owned(),
            )
                .into_response(),
            Ok(None) => crate::ApiError::NOT_FOUND.into_response(),
            Err(error) => {
                crate::ApiError::Internal(format!("swagger ui asset: {error}")).into_response()
            }
        }
    }

    /// FastAPI's page (`get_swagger_ui_html` with its default parameters), with the document,
    /// the assets and the OAuth2 redirect found relative to the page instead of the site root.
    fn page(title: &str) -> String {
        let title = escape(title);
        format!(
            r##"<!DOCTYPE html>
<html>
<head>
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link type="text/css" rel="stylesheet" href="docs/swagger-ui.css">
<link rel="shortcut icon" href="docs/favicon-32x32.png">
<title>{title} - Swagger UI</title>
</head>
<body>
<div id="swagger-ui">
</div>
<script src="docs/swagger-ui-bundle.js"></script>
<script>
// Where the routes are mounted: this page is `<prefix>/docs`.
const prefix = window.location.pathname.replace(/\/docs\/?$/, '');
const ui = SwaggerUIBundle({{
    url: prefix + '/openapi.json',
    "dom_id": "#swagger-ui",
    "layout": "BaseLayout",
    "deepLinking": true,
    "showExtensions": true,
    "showCommonExtensions": true,
    oauth2RedirectUrl: window.location.origin + prefix + '/docs/oauth2-redirect',
    presets: [
        SwaggerUIBundle.presets.apis,
        SwaggerUIBundle.SwaggerUIStandalonePreset
    ],
}})
</script>
</body>
</html>
"##
        )
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn the_page_escapes_its_title() {
            assert!(super::page("<x>").contains("<title>&lt;x&gt; - Swagger UI</title>"));
        }
    }
}
