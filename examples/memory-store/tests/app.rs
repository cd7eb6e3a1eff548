//! The example served on a real port: the whole account flow on a store of the application's
//! own, and the store's rules (one account per address, revocation) seen from outside.

use example_memory_store::{app, users, MemoryStore};
use example_support::serve;
use serde_json::json;

#[tokio::test]
async fn register_login_update_and_logout_on_the_applications_own_store() {
    let users = users(MemoryStore::default()).unwrap();
    let server = serve(app(&users)).await;
    let account = json!({"email": "Bedivere@Camelot.bt", "password": "excalibur-returned"});

    let created = server
        .call("POST", "/auth/register", None, Some(account.clone()))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.body,
        json!({"id": id, "email": "Bedivere@camelot.bt", "is_active": true,
               "is_superuser": false, "is_verified": false})
    );
    // One account per address, in any letter case.
    let again = server
        .call(
            "POST",
            "/auth/register",
            None,
            Some(json!({"email": "bedivere@CAMELOT.bt", "password": "another-one-1"})),
        )
        .await;
    assert_eq!(
        (again.status, again.body),
        (400, json!({"detail": "REGISTER_USER_ALREADY_EXISTS"}))
    );

    let token = server
        .login(
            "/auth/db/login",
            "bedivere@camelot.bt",
            "excalibur-returned",
        )
        .await;
    assert_eq!(token.len(), 43, "an opaque token from the store");
    let patched = server
        .call(
            "PATCH",
            "/users/me",
            Some(&token),
            Some(json!({"email": "sir.bedivere@camelot.bt"})),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["email"], "sir.bedivere@camelot.bt");

    // Logout deletes the token from the store: it is refused at once.
    let out = server
        .call("POST", "/auth/db/logout", Some(&token), None)
        .await;
    assert_eq!(out.status, 204);
    let me = server.call("GET", "/users/me", Some(&token), None).await;
    assert_eq!(
        (me.status, me.body),
        (401, json!({"detail": "Unauthorized"}))
    );
}
