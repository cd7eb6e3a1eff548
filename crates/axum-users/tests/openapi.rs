//! The OpenAPI document as a value an application merges into its own: paths and the Bearer
//! token URL follow the prefix the routes are nested under.
#![cfg(feature = "utoipa")]

mod common;

use axum::body::Body;
use axum::Router;
use common::{app, send_to};
use http::{Request, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn merges_into_the_applications_own_document_under_its_prefix() {
    let app = app().await;
    let own = utoipa::openapi::OpenApiBuilder::new()
        .info(utoipa::openapi::Info::new("Camelot", "1.0.0"))
        .paths(
            utoipa::openapi::PathsBuilder::new().path(
                "/quests",
                utoipa::openapi::PathItem::new(
                    utoipa::openapi::HttpMethod::Get,
                    utoipa::openapi::path::OperationBuilder::new()
                        .operation_id(Some("list_quests"))
                        .response("200", utoipa::openapi::Response::new("The quests")),
                ),
            ),
        )
        .build();
    let mut merged = own;
    merged.merge(app.users.openapi_utoipa("/api").unwrap());
    let merged: Value = serde_json::to_value(&merged).unwrap();

    assert_eq!(merged["info"]["title"], "Camelot");
    let paths: Vec<&str> = merged["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert!(paths.contains(&"/quests"), "{paths:?}");
    for path in [
        "/api/auth/register",
        "/api/auth/jwt/login",
        "/api/users/me",
        "/api/users/{id}",
    ] {
        assert!(paths.contains(&path), "{path} missing from {paths:?}");
    }
    assert!(!paths.iter().any(|p| p.starts_with("/users")), "{paths:?}");
    assert_eq!(
        merged["components"]["securitySchemes"]["OAuth2PasswordBearer"],
        json!({"type": "oauth2", "flows": {"password": {"scopes": {}, "tokenUrl": "api/auth/jwt/login"}}})
    );
    // Our operations come through whole: ids, responses, the request bodies' schemas.
    assert_eq!(
        merged["paths"]["/api/users/me"]["get"]["operationId"],
        "users_current_user_users_me_get"
    );
    assert!(merged["components"]["schemas"]["UserRead"].is_object());

    // And the routes really are where the document says.
    let router: Router = Router::new().nest("/api", app.router.clone());
    let token = app.login("king.arthur@camelot.bt", "guinevere").await;
    let me = send_to(
        &router,
        Request::get("/api/users/me")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["email"], "king.arthur@camelot.bt");
}

#[tokio::test]
async fn at_the_root_the_document_is_unchanged() {
    let app = app().await;
    assert_eq!(app.users.openapi_at(""), app.users.openapi());
    assert_eq!(app.users.openapi_at("/"), app.users.openapi());
}

#[tokio::test]
async fn the_utoipa_document_writes_back_what_we_serve() {
    for app in [app().await, common::app_with(common::with_sessions()).await] {
        writes_back(app);
    }
}

fn writes_back(app: common::TestApp) {
    let through_utoipa = serde_json::to_value(app.users.openapi_utoipa("").unwrap()).unwrap();
    let served = app.users.openapi();
    // Every path and operation comes through whole.
    assert_eq!(through_utoipa["paths"], served["paths"]);
    // So does every schema, but for the `title` and `format` that FastAPI writes beside an
    // `anyOf` (nullable fields), which utoipa's model has no place for.
    let mut served_components = served["components"].clone();
    strip_any_of_annotations(&mut served_components);
    assert_eq!(through_utoipa["components"], served_components);
}

fn strip_any_of_annotations(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.contains_key("anyOf") {
                map.remove("title");
                map.remove("format");
            }
            map.values_mut().for_each(strip_any_of_annotations);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_any_of_annotations),
        _ => {}
    }
}
