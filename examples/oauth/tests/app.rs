//! The example served on a real port against a real OpenID Connect provider process
//! (oauth2-mock-server, installed by .ci/run), driven as a browser would: authorize, the
//! provider's redirect, the callback with the CSRF cookie, signed in.

#[path = "../../../crates/axum-users/tests/oauth/mock.rs"]
mod mock;

use axum_users::{OAuthProvider, SqliteStore, UserSchema};
use example_oauth::{app, users};
use example_support::serve;
use serde_json::json;

#[tokio::test]
async fn oidc_login_through_the_example_signs_in_with_a_cookie() {
    let Some(provider) = mock::mock_provider() else {
        return;
    };
    let store = SqliteStore::connect("sqlite::memory:", UserSchema::new())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let oidc = OAuthProvider::oidc("oidc", &provider.issuer, "camelot-client", "camelot-secret");
    let users = users(
        store,
        oidc,
        "a state secret of at least thirty-two bytes",
        false,
    )
    .unwrap();
    let server = serve(app(&users)).await;

    // 1. The application asks where to send the browser; it gets the CSRF cookie too.
    let authorize = server.call("GET", "/auth/oidc/authorize", None, None).await;
    assert_eq!(authorize.status, 200, "{}", authorize.body);
    let url = authorize.body["authorization_url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/authorize?", provider.issuer)),
        "{url}"
    );
    let csrf = authorize.cookies[0].split(';').next().unwrap().to_owned();
    assert!(csrf.starts_with("fastapiusersoauthcsrf="), "{csrf}");

    // 2. The provider signs the person in and sends the browser back with code and state.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let back = browser
        .get(format!(
            "{url}&login_hint=lancelot-42|lancelot@camelot.bt|true"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(back.status().as_u16(), 302);
    let location = back.headers()["location"].to_str().unwrap().to_owned();
    let callback = location
        .strip_prefix(&server.base)
        .unwrap_or_else(|| panic!("{location}"));

    // 3. The callback, with the CSRF cookie: a new, verified user signed in with a cookie.
    let signed_in = server.get_with(callback, &[("cookie", &csrf)]).await;
    assert_eq!(signed_in.status, 204, "{}", signed_in.body);
    let session = signed_in
        .cookies
        .iter()
        .find(|c| c.starts_with("fastapiusersauth="))
        .expect("the auth cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let me = server.get_with("/users/me", &[("cookie", &session)]).await;
    assert_eq!(me.status, 200);
    let id = me.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        me.body,
        json!({"id": id, "email": "lancelot@camelot.bt", "is_active": true,
               "is_superuser": false, "is_verified": true})
    );
}
