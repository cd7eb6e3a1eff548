//! OAuth login through the binary, configured from the environment only
//! (`AXUM_USERS_OAUTH_<NAME>_CLIENT_ID`, `_CLIENT_SECRET`, `_ISSUER`), against a real OpenID
//! Connect provider on loopback, as a browser drives it.

mod common;
#[path = "../../axum-users/tests/oauth/mock.rs"]
mod mock;

use common::{start_in, temp_dir, text};
use serde_json::Value;

#[tokio::test]
async fn oidc_login_through_the_server() {
    let Some(provider) = mock::mock_provider() else {
        return;
    };
    let server = start_in(
        temp_dir("oauth"),
        &[
            (
                "AXUM_USERS_OAUTH_CAMELOT_CLIENT_ID",
                "camelot-client".to_owned(),
            ),
            (
                "AXUM_USERS_OAUTH_CAMELOT_CLIENT_SECRET",
                "camelot-secret".to_owned(),
            ),
            ("AXUM_USERS_OAUTH_CAMELOT_ISSUER", provider.issuer.clone()),
            // Plain HTTP on loopback: the CSRF cookie without `Secure`.
            ("AXUM_USERS_OAUTH_COOKIE_SECURE", "false".to_owned()),
        ],
    )
    .await;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = browser
        .get(format!("{}/auth/camelot/authorize", server.base))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.ends_with("; HttpOnly; Max-Age=3600; Path=/; SameSite=lax"),
        "{cookie}"
    );
    let (status, body) = text(response).await;
    assert_eq!(status, 200, "{body}");
    let url = serde_json::from_str::<Value>(&body).unwrap()["authorization_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        url.contains(&format!(
            "redirect_uri={}",
            urlencode(&format!("{}/auth/camelot/callback", server.base))
        )),
        "{url}"
    );
    // A trailing slash redirects, as for every other route.
    let response = browser
        .get(format!(
            "{}/auth/camelot/authorize/?scopes=openid",
            server.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 307);
    assert_eq!(
        response.headers()["location"],
        format!("{}/auth/camelot/authorize?scopes=openid", server.base).as_str()
    );
    // The provider's login page sends the browser back to the callback.
    let response = browser
        .get(format!(
            "{url}&login_hint=acc-1%7Cbedivere%40camelot.bt%7Ctrue"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 302);
    let back = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with(&format!("{}/auth/camelot/callback?", server.base)));
    let response = browser
        .get(&back)
        .header("cookie", cookie.split(';').next().unwrap())
        .send()
        .await
        .unwrap();
    let (status, body) = text(response).await;
    assert_eq!(status, 200, "{body}");
    let token = serde_json::from_str::<Value>(&body).unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = browser
        .get(format!("{}/users/me", server.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let (status, body) = text(response).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["email"],
        "bedivere@camelot.bt"
    );
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
