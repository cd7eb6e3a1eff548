//! The example served on a real port: the application's route and axum-users' under `/api`.

use axum_users::{SqliteStore, UserSchema};
use example_app_state::{app, users, AppState};
use example_support::serve;
use serde_json::json;

#[tokio::test]
async fn the_applications_routes_and_axum_users_share_the_state_under_api() {
    let store = SqliteStore::connect("sqlite::memory:", UserSchema::new())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let state = AppState {
        users: users(store, "a test secret").unwrap(),
        motd: "The round table meets at noon.".into(),
    };
    let server = serve(app(state)).await;

    let account = json!({"email": "gawain@camelot.bt", "password": "green-knight"});
    let registered = server
        .call("POST", "/api/auth/register", None, Some(account))
        .await;
    assert_eq!(registered.status, 201, "{}", registered.body);
    assert_eq!(registered.body["email"], "gawain@camelot.bt");
    let token = server
        .login("/api/auth/jwt/login", "gawain@camelot.bt", "green-knight")
        .await;

    let motd = server.call("GET", "/api/motd", Some(&token), None).await;
    assert_eq!(
        (motd.status, motd.body),
        (
            200,
            json!({"motd": "The round table meets at noon.", "for": "gawain@camelot.bt"})
        )
    );
    let anonymous = server.call("GET", "/api/motd", None, None).await;
    assert_eq!(
        (anonymous.status, anonymous.body),
        (401, json!({"detail": "Unauthorized"}))
    );
    let me = server
        .call("GET", "/api/users/me", Some(&token), None)
        .await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["email"], "gawain@camelot.bt");

    // The document says where it is mounted; the docs page is there too.
    let document = server.call("GET", "/api/openapi.json", None, None).await;
    assert_eq!(document.status, 200);
    assert_eq!(document.body["servers"], json!([{"url": "/api"}]));
    assert_eq!(
        server.call("GET", "/api/docs", None, None).await.status,
        200
    );
    // Nothing of axum-users at the root.
    assert_eq!(
        server
            .call("GET", "/users/me", Some(&token), None)
            .await
            .status,
        404
    );
}
