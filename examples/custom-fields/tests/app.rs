//! The example tested over HTTP: custom fields validated, stored in real columns, returned and
//! updatable; each extractor protecting a route.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use axum_users::SqliteStore;
use example_custom_fields::{app, schema, users};
use http::{Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt as _;

/// A request as `axum::serve` with connect info hands it to the app: with the client's address,
/// which the rate limits count by.
fn from_client(mut request: Request<Body>) -> Request<Body> {
    let client: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(client));
    request
}

async fn setup() -> (Router, SqliteStore) {
    let store = SqliteStore::connect("sqlite::memory:", schema())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let users = users(store.clone(), "SECRET").unwrap();
    (app(users), store)
}

async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, String) {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let body = match body {
        Some(v) => {
            builder = builder.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let response = app
        .clone()
        .oneshot(from_client(builder.body(body).unwrap()))
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

async fn login(app: &Router, email: &str, password: &str) -> String {
    let request = Request::post("/auth/jwt/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!("username={email}&password={password}")))
        .unwrap();
    let response = app.clone().oneshot(from_client(request)).await.unwrap();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn custom_fields_are_validated_stored_returned_and_updatable() {
    let (app, store) = setup().await;
    let (status, body) = call(
        &app,
        "POST",
        "/auth/register",
        None,
        Some(json!({"email": "arthur@camelot.bt", "password": "guinevere1"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        r#"{"detail":[{"type":"missing","loc":["body","first_name"],"msg":"Field required","input":{"email":"arthur@camelot.bt","password":"guinevere1"}}]}"#
    );
    let (status, body) = call(&app, "POST", "/auth/register", None, Some(json!({"email": "arthur@camelot.bt", "password": "guinevere1", "first_name": "Arthur", "birthdate": "31/01/0500"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        r#"{"detail":[{"type":"date_from_datetime_parsing","loc":["body","birthdate"],"msg":"Input should be a valid date or datetime, invalid date format","input":"31/01/0500","ctx":{"error":"invalid date format"}}]}"#
    );

    let (status, body) = call(
        &app,
        "POST",
        "/auth/register",
        None,
        Some(
            json!({"email": "arthur@camelot.bt", "password": "guinevere1", "first_name": "Arthur"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let created: Value = serde_json::from_str(&body).unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        body,
        format!(
            r#"{{"id":"{id}","email":"arthur@camelot.bt","is_active":true,"is_superuser":false,"is_verified":false,"first_name":"Arthur","birthdate":null}}"#
        )
    );

    let token = login(&app, "arthur@camelot.bt", "guinevere1").await;
    let (status, body) = call(
        &app,
        "PATCH",
        "/users/me",
        Some(&token),
        Some(json!({"birthdate": "0500-01-31"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        format!(
            r#"{{"id":"{id}","email":"arthur@camelot.bt","is_active":true,"is_superuser":false,"is_verified":false,"first_name":"Arthur","birthdate":"0500-01-31"}}"#
        )
    );
    let (status, _) = call(
        &app,
        "PATCH",
        "/users/me",
        Some(&token),
        Some(json!({"first_name": null})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a required field cannot be nulled"
    );
    let (_, body) = call(&app, "GET", "/users/me", Some(&token), None).await;
    assert!(
        body.ends_with(r#""first_name":"Arthur","birthdate":"0500-01-31"}"#),
        "{body}"
    );

    // Real columns of the user table.
    let row: (String, Option<String>) =
        sqlx::query_as("SELECT first_name, birthdate FROM user WHERE id = ?")
            .bind(&id)
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(row, ("Arthur".to_owned(), Some("0500-01-31".to_owned())));
    let (_, greeting) = call(&app, "GET", "/greeting", Some(&token), None).await;
    assert_eq!(greeting, r#"{"greeting":"Hello Arthur"}"#);
}

#[tokio::test]
async fn extractors_protect_the_apps_routes() {
    let (app, store) = setup().await;
    call(
        &app,
        "POST",
        "/auth/register",
        None,
        Some(
            json!({"email": "arthur@camelot.bt", "password": "guinevere1", "first_name": "Arthur"}),
        ),
    )
    .await;
    let token = login(&app, "arthur@camelot.bt", "guinevere1").await;

    assert_eq!(
        call(&app, "GET", "/", None, None).await,
        (StatusCode::OK, r#"{"signed_in":false}"#.into())
    );
    assert_eq!(
        call(&app, "GET", "/", Some("garbage"), None).await,
        (StatusCode::OK, r#"{"signed_in":false}"#.into())
    );
    assert_eq!(
        call(&app, "GET", "/", Some(&token), None).await,
        (StatusCode::OK, r#"{"signed_in":true}"#.into())
    );

    let unauthorized = (
        StatusCode::UNAUTHORIZED,
        r#"{"detail":"Unauthorized"}"#.to_owned(),
    );
    let forbidden = (
        StatusCode::FORBIDDEN,
        r#"{"detail":"Forbidden"}"#.to_owned(),
    );
    for route in ["/greeting", "/members", "/admin"] {
        assert_eq!(
            call(&app, "GET", route, None, None).await,
            unauthorized,
            "{route}"
        );
    }
    assert_eq!(
        call(&app, "GET", "/greeting", Some(&token), None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, "GET", "/members", Some(&token), None).await,
        forbidden
    );
    assert_eq!(
        call(&app, "GET", "/admin", Some(&token), None).await,
        forbidden
    );

    sqlx::query("UPDATE user SET is_verified = 1, is_superuser = 1")
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(
        call(&app, "GET", "/members", Some(&token), None).await,
        (StatusCode::OK, r#"{"member":"arthur@camelot.bt"}"#.into())
    );
    assert_eq!(
        call(&app, "GET", "/admin", Some(&token), None).await,
        (StatusCode::OK, r#"{"admin":"arthur@camelot.bt"}"#.into())
    );

    sqlx::query("UPDATE user SET is_active = 0")
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(
        call(&app, "GET", "/greeting", Some(&token), None).await,
        unauthorized
    );
    assert_eq!(
        call(&app, "GET", "/", Some(&token), None).await,
        (StatusCode::OK, r#"{"signed_in":false}"#.into())
    );
}

/// Served as `main.rs` serves it (connect info), over a real port: two clients are limited
/// separately, so one of them cannot use up the logins of everyone. Without the connect info
/// the limiter refuses to guess, loudly.
#[tokio::test]
async fn two_clients_are_limited_separately() {
    let (app, _store) = setup().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let served = app
        .clone()
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, served).await });
    let client = |ip: &str| {
        reqwest::Client::builder()
            .local_address(ip.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap()
    };
    let login = |client: reqwest::Client, attempt: usize| async move {
        // A new address each time, so that only the per-client limit applies.
        client
            .post(format!("http://{address}/auth/jwt/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "username=nobody{attempt}%40camelot.bt&password=wrong"
            ))
            .send()
            .await
            .unwrap()
            .status()
    };
    // The default login limit: 20 a minute per client address.
    let greedy = client("127.0.0.1");
    for attempt in 0..20 {
        assert_eq!(
            login(greedy.clone(), attempt).await,
            StatusCode::BAD_REQUEST,
            "{attempt}"
        );
    }
    assert_eq!(login(greedy, 20).await, StatusCode::TOO_MANY_REQUESTS);
    // Another client (127.0.0.2 is loopback too) is not held back by the first.
    assert_eq!(
        login(client("127.0.0.2"), 21).await,
        StatusCode::BAD_REQUEST
    );

    let bare = Request::post("/auth/jwt/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("username=a%40b.co&password=x"))
        .unwrap();
    let response = app.oneshot(bare).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(&bytes[..], br#"{"detail":"RATE_LIMIT_NO_CLIENT_ADDRESS"}"#);
}
