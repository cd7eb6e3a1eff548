//! The example served on a real port, driven as a client would: a login answers a refresh
//! token, the refresh rotates it (the old one then ends the session), the session list marks
//! the caller's, and with TOTP on a login needs a code.

use axum_users::{SqliteStore, UserSchema};
use example_sessions::{app, users};
use example_support::serve;
use serde_json::json;

#[tokio::test]
async fn refresh_sessions_and_a_second_factor() {
    let store = SqliteStore::connect("sqlite::memory:", UserSchema::new())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let users = users(store, "a test secret").unwrap();
    let server = serve(app(&users)).await;
    let body = json!({"email": "kay@camelot.bt", "password": "seneschal-of-camelot"});
    assert_eq!(
        server
            .call("POST", "/auth/register", None, Some(body))
            .await
            .status,
        201
    );
    let credentials = [
        ("username", "kay@camelot.bt"),
        ("password", "seneschal-of-camelot"),
    ];

    let login = server.form("/auth/jwt/login", &credentials).await;
    assert_eq!(login.status, 200);
    let refresh = login.body["refresh_token"].as_str().unwrap().to_owned();
    let renewed = server
        .call(
            "POST",
            "/auth/jwt/refresh",
            None,
            Some(json!({ "refresh_token": refresh })),
        )
        .await;
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    let access = renewed.body["access_token"].as_str().unwrap().to_owned();
    let sessions = server
        .call("GET", "/auth/sessions", Some(&access), None)
        .await;
    assert_eq!(sessions.body.as_array().unwrap().len(), 1);
    assert_eq!(sessions.body[0]["current"], true);
    // Long after the grace period, the spent token would end the session; right after, a
    // retry gets the same answer.
    let retry = server
        .call(
            "POST",
            "/auth/jwt/refresh",
            None,
            Some(json!({ "refresh_token": refresh })),
        )
        .await;
    assert_eq!(retry.body, renewed.body);

    // TOTP on: the next login needs a code.
    let setup = server
        .call("POST", "/auth/mfa/totp/setup", Some(&access), None)
        .await;
    let secret = setup.body["secret"].as_str().unwrap();
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let code = totp.generate(now).to_string();
    let enabled = server
        .call(
            "POST",
            "/auth/mfa/totp/enable",
            Some(&access),
            Some(json!({ "code": code })),
        )
        .await;
    assert_eq!(enabled.status, 200, "{}", enabled.body);
    assert_eq!(enabled.body["recovery_codes"].as_array().unwrap().len(), 10);
    let challenged = server.form("/auth/jwt/login", &credentials).await;
    assert_eq!(challenged.status, 401);
    assert_eq!(challenged.body["detail"], "LOGIN_MFA_REQUIRED");
    let next = totp.generate(now + 30).to_string();
    let body = json!({"mfa_token": challenged.body["mfa_token"], "code": next});
    let verified = server
        .call("POST", "/auth/mfa/verify", None, Some(body))
        .await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert!(verified.body["refresh_token"].is_string());
}
