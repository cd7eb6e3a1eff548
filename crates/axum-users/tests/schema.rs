//! The custom-field schema is declared once, on the store: the builder reads it from there,
//! refuses a different one, and the fields reach the API and the application's own types.

mod common;

use axum::body::Body;
use axum_users::{AxumUsers, CustomField, RateLimits, SqliteStore, UserSchema};
use common::{fast_hasher, jwt_backend, send_to};
use http::{Request, StatusCode};
use serde_json::json;

fn schema() -> UserSchema {
    UserSchema::new()
        .field(
            CustomField::string("display_name")
                .max_length(40)
                .required(),
        )
        .field(CustomField::integer("quests"))
}

async fn store() -> SqliteStore {
    let store = SqliteStore::connect("sqlite::memory:", schema())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
}

#[derive(serde::Deserialize, Debug, PartialEq)]
struct Profile {
    display_name: String,
    quests: Option<i64>,
}

#[tokio::test]
async fn the_builder_takes_the_stores_schema() {
    let users = AxumUsers::builder(store().await)
        .password_hasher(fast_hasher())
        .rate_limits(RateLimits::off())
        .backend(jwt_backend())
        .build()
        .unwrap();
    let router = users.router();
    let register = |body: serde_json::Value| {
        Request::post("/auth/register")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };

    // The required field is enforced: the builder knows it without being told.
    let missing = send_to(
        &router,
        register(json!({"email": "gareth@camelot.bt", "password": "beaumains"})),
    )
    .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        missing.body,
        r#"{"detail":[{"type":"missing","loc":["body","display_name"],"msg":"Field required","input":{"email":"gareth@camelot.bt","password":"beaumains"}}]}"#
    );

    let created = send_to(
        &router,
        register(json!({"email": "gareth@camelot.bt", "password": "beaumains", "display_name": "Beaumains"})),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.json(),
        json!({"id": id, "email": "gareth@camelot.bt", "is_active": true, "is_superuser": false,
               "is_verified": false, "display_name": "Beaumains", "quests": null})
    );

    // Stored, and readable as the application's own type.
    let user = users
        .manager()
        .get_by_email("gareth@camelot.bt")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        user.fields_as::<Profile>().unwrap(),
        Profile {
            display_name: "Beaumains".into(),
            quests: None
        }
    );
}

#[tokio::test]
async fn a_different_schema_on_the_builder_is_refused() {
    let other = UserSchema::new().field(CustomField::string("nickname"));
    let err = AxumUsers::builder(store().await)
        .schema(other)
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the schema given to the builder (nickname) is not the store's (display_name, quests): \
         declare it once, on the store"
    );
    // The same schema given twice is accepted.
    assert!(AxumUsers::builder(store().await)
        .schema(schema())
        .build()
        .is_ok());
}
