//! OAuth2 / OpenID Connect login and account linking (SPEC §3.13–3.16, §6), end to end against a
//! real OpenID Connect provider on loopback (oauth2-mock-server from npm, started per test),
//! driven as a browser would: authorize → the provider's redirect with `code` and `state` →
//! callback with the CSRF cookie → signed in. GitHub and Discord, whose APIs are not OpenID
//! Connect, are pointed at a small fake of their endpoints. Every error code has its own test.
#![cfg(feature = "oauth")]

mod common;
#[path = "oauth/mock.rs"]
mod mock;

use std::sync::Arc;

use axum::body::Body;
use axum::routing::{get, post};
use axum::Router;
use axum_users::OAuthProvider;
use axum_users::OAuthSettings;
use axum_users::{AxumUsers, PasswordPolicy, SqliteStore, UserSchema};
use axum_users::{Backend, CookieTransport, JwtStrategy};
use axum_users::{OAuthAccountStore, UserStore};
use common::{fast_hasher, jwt_backend, payload, send_to, Reply, SECRET};
use http::{Method, Request, StatusCode};
use mock::{mock_provider, MockProvider};
use serde_json::json;

const HOST: &str = "auth.camelot.bt";
const CALLBACK: &str = "http://auth.camelot.bt/auth/mock/callback";

struct App {
    router: Router,
    store: SqliteStore,
    users: AxumUsers,
    hooks: common::Recorder,
}

async fn app(providers: Vec<OAuthProvider>, settings: OAuthSettings) -> App {
    app_with(providers, settings, false).await
}

/// With `sessions`, logins are kept as sessions and the JWT backend issues refresh tokens.
async fn app_with(providers: Vec<OAuthProvider>, settings: OAuthSettings, sessions: bool) -> App {
    let store = SqliteStore::connect("sqlite::memory:", UserSchema::new())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let hooks = common::Recorder::default();
    let mut builder = AxumUsers::builder(store.clone())
        .rate_limits(axum_users::RateLimits::off())
        .hooks(hooks.clone())
        .password_hasher(fast_hasher())
        .password_policy(PasswordPolicy::permissive())
        .backend(if sessions {
            jwt_backend().refresh_tokens(std::time::Duration::from_secs(3600))
        } else {
            jwt_backend()
        })
        .backend(Backend::new(
            "cookie",
            CookieTransport::default().max_age(Some(3600)),
            JwtStrategy::new(SECRET, Some(3600)),
        ))
        .oauth(store.clone(), settings);
    if sessions {
        builder = builder
            .sessions(
                store.clone(),
                axum_users::SessionSettings::new("refresh secret"),
            )
            .mfa(
                store.clone(),
                axum_users::MfaSettings::new("Camelot", "pepper"),
            );
    }
    for provider in providers {
        builder = builder.oauth_provider(provider);
    }
    let users = builder.build().unwrap();
    App {
        router: users.router(),
        store,
        users,
        hooks,
    }
}

fn settings() -> OAuthSettings {
    OAuthSettings::new("state secret of at least thirty-two bytes")
}

fn oidc(mock: &MockProvider) -> OAuthProvider {
    OAuthProvider::oidc("mock", &mock.issuer, "camelot-client", "camelot-secret")
}

async fn get_with(app: &App, uri: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = Request::builder()
        .method(Method::GET)
        .uri(uri)
        .header("host", HOST);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    send_to(&app.router, request.body(Body::empty()).unwrap()).await
}

/// What the browser holds after `/authorize`: the provider URL and the CSRF cookie.
struct Authorized {
    url: String,
    cookie: String,
}

async fn authorize(app: &App, path: &str, headers: &[(&str, &str)]) -> Authorized {
    let reply = get_with(app, path, headers).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let url = reply.json()["authorization_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let cookie = reply
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    Authorized { url, cookie }
}

/// The provider's login page, as the browser meets it: it redirects back with `code` and
/// `state`; answers the callback's path and query.
async fn provider_login(authorization_url: &str, login_hint: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client
        .get(format!(
            "{authorization_url}&login_hint={}",
            common::urlencode(login_hint)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 302);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let back = location
        .strip_prefix("http://auth.camelot.bt")
        .unwrap_or_else(|| panic!("redirected to {location}"));
    back.to_owned()
}

/// authorize → provider → callback; answers the callback's reply.
async fn sign_in(app: &App, login_hint: &str) -> Reply {
    let authorized = authorize(app, "/auth/mock/authorize", &[]).await;
    let back = provider_login(&authorized.url, login_hint).await;
    get_with(app, &back, &[("cookie", &authorized.cookie)]).await
}

fn query(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn detail(reply: &Reply) -> (StatusCode, String) {
    (reply.status, reply.body.clone())
}

fn code(status: u16, code: &str) -> (StatusCode, String) {
    (
        StatusCode::from_u16(status).unwrap(),
        format!(r#"{{"detail":"{code}"}}"#),
    )
}

#[tokio::test]
async fn oidc_login_end_to_end_creates_then_finds_the_user() {
    let Some(mock) = mock_provider() else {
        return;
    };
    let app = app(vec![oidc(&mock)], settings()).await;

    // 1. /authorize: FastAPI Users' answer and cookie, plus PKCE and the nonce.
    let reply = get_with(&app, "/auth/mock/authorize", &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    let url = reply.json()["authorization_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        reply.body,
        json!({"authorization_url": url}).to_string(),
        "the whole body"
    );
    assert!(
        url.starts_with(&format!("{}/authorize?", mock.issuer)),
        "{url}"
    );
    let params = query(&url);
    let names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "response_type",
            "client_id",
            "redirect_uri",
            "state",
            "scope",
            "code_challenge",
            "code_challenge_method",
            "nonce"
        ]
    );
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(param("response_type"), "code");
    assert_eq!(param("client_id"), "camelot-client");
    assert_eq!(param("redirect_uri"), CALLBACK);
    assert_eq!(param("scope"), "openid email profile");
    assert_eq!(param("code_challenge_method"), "S256");
    assert_eq!(param("code_challenge").len(), 43);
    let state = payload(&param("state"));
    let csrf = state["csrftoken"].as_str().unwrap().to_owned();
    assert_eq!(csrf.len(), 43);
    let exp = state["exp"].as_i64().unwrap();
    assert_eq!(
        state,
        json!({"csrftoken": csrf, "aud": "fastapi-users:oauth-state", "exp": exp})
    );
    assert_eq!(
        reply.header("set-cookie"),
        Some(
            format!("fastapiusersoauthcsrf={csrf}; HttpOnly; Max-Age=3600; Path=/; SameSite=lax; Secure")
                .as_str()
        )
    );

    // 2. The provider's login page redirects back; 3. the callback signs in and clears the
    // CSRF cookie.
    let back = provider_login(&url, "acc-1|Galahad@Camelot.bt|true").await;
    assert!(back.starts_with("/auth/mock/callback?code="), "{back}");
    let cookie = format!("fastapiusersoauthcsrf={csrf}");
    let reply = get_with(&app, &back, &[("cookie", &cookie)]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let token = reply.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        reply.body,
        format!(r#"{{"access_token":"{token}","token_type":"bearer"}}"#)
    );
    assert_eq!(
        reply.header("set-cookie"),
        Some(r#"fastapiusersoauthcsrf=""; HttpOnly; Max-Age=0; Path=/; SameSite=lax; Secure"#)
    );
    let me = common::send_to(
        &app.router,
        Request::get("/users/me")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let user = app
        .store
        .get_by_email("galahad@camelot.bt")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        me.body,
        format!(
            r#"{{"id":"{}","email":"Galahad@camelot.bt","is_active":true,"is_superuser":false,"is_verified":false}}"#,
            user.id
        )
    );
    let links = app.store.oauth_accounts(user.id).await.unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(
        (
            links[0].oauth_name.as_str(),
            links[0].account_id.as_str(),
            links[0].account_email.as_str()
        ),
        ("mock", "acc-1", "Galahad@camelot.bt")
    );
    assert!(links[0].expires_at.is_some() && links[0].refresh_token.is_some());
    // The password is unusable: nobody knows it.
    assert!(user.hashed_password.starts_with("$argon2id$"));
    assert_eq!(
        app.hooks.take(),
        [
            "register:Galahad@camelot.bt",
            "login:Galahad@camelot.bt:200"
        ]
    );

    // Again: the same user, the link's tokens refreshed, no second user.
    let reply = sign_in(&app, "acc-1|galahad@camelot.bt|true").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let again = app.store.oauth_accounts(user.id).await.unwrap();
    assert_eq!(app.hooks.take(), ["login:Galahad@camelot.bt:200"]);
    assert_eq!(again.len(), 1);
    assert_ne!(again[0].refresh_token, links[0].refresh_token);
    assert_eq!(again[0].id, links[0].id);
}

#[tokio::test]
async fn verified_by_default_only_when_the_provider_vouches() {
    let Some(mock) = mock_provider() else {
        return;
    };
    let mut settings = settings();
    settings.is_verified_by_default = true;
    let app = app(vec![oidc(&mock)], settings).await;
    for (hint, email, verified) in [
        (
            "acc-1|percival@camelot.bt|true",
            "percival@camelot.bt",
            true,
        ),
        ("acc-2|bors@camelot.bt|false", "bors@camelot.bt", false),
    ] {
        assert_eq!(sign_in(&app, hint).await.status, StatusCode::OK);
        let user = app.store.get_by_email(email).await.unwrap().unwrap();
        assert_eq!(user.is_verified, verified, "{email}");
    }
}

#[tokio::test]
async fn callback_without_code_or_with_a_provider_error() {
    let Some(mock) = mock_provider() else {
        return;
    };
    let app = app(vec![oidc(&mock)], settings()).await;
    let reply = get_with(&app, "/auth/mock/callback?error=access_denied&state=x", &[]).await;
    assert_eq!(detail(&reply), code(400, "access_denied"));
    let reply = get_with(&app, "/auth/mock/callback?state=x", &[]).await;
    assert_eq!(detail(&reply), code(400, "Bad Request"));
}

#[tokio::test]
async fn access_token_decode_error() {
    let Some(mock) = mock_provider() else {
        return;
    };
    let app = app(vec![oidc(&mock)], settings()).await;
    for state in ["", "not-a-jwt"] {
        let uri = format!("/auth/mock/callback?code=abc&state={state}");
        let reply = get_with(&app, &uri, &[("cookie", "fastapiusersoauthcsrf=x")]).await;
        assert_eq!(
            detail(&reply),
            code(400, "ACCESS_TOKEN_DECODE_ERROR"),
            "{state:?}"
        );
    }
    // Signed with another secret, or for another audience.
    for (secret, aud) in [
        ("another secret", "fastapi-users:oauth-state"),
        (
            "state secret of at least thirty-two bytes",
            "fastapi-users:auth",
        ),
    ] {
        let state = axum_users::JwtKeys::hs256(secret.as_bytes())
            .encode(
                json!({"csrftoken": "x", "aud": aud, "exp": common::now_unix() + 60})
                    .as_object()
                    .unwrap(),
            )
            .unwrap();
        let uri = format!("/auth/mock/callback?code=abc&state={state}");
        let reply = get_with(&app, &uri, &[("cookie", "fastapiusersoauthcsrf=x")]).await;
        assert_eq!(
            detail(&reply),
            code(400, "ACCESS_TOKEN_DECODE_ERROR"),
            "{aud}"
        );
    }
}

#[tokio::test]
async fn access_token_already_expired() {
    let Some(mock) = mock_provider() else {
        return;
    };
    let app = app(vec![oidc(&mock)], settings()).await;
    let state = axum_users::JwtKeys::hs256(b"state secret of at least thirty-two bytes")
        .encode(
            json!({"csrftoken": "x", "aud": "fastapi-users:oauth-state", "exp": common::now_unix() - 10})
                .as_object()
                .unwrap(),
        )
        .unwrap();
    let uri = format!("/auth/mock/callback?code=abc&state={state}");
    let reply = get_with(&app, &uri, &[("cookie", "fastapiusersoauthcsrf=x")]).await;
    assert_eq!(detail(&reply), code(400, "ACCESS_TOKEN_ALREADY_EXPIRED"));
}

#[tokio::test]
async fn oauth_invalid_state_without_the_csrf_cookie() {
    let Some(mock) = mock_provider() else {
        return;
    };
    let app = app(vec![oidc(&mock)], settings()).await;
    let authorized = authorize(&app, "/auth/mock/authorize", &[]).await;
    let back = provider_login(&authorized.url, "acc-1|galahad@camelot.bt|true").await;
    for cookie in [
        None,
        Some("fastapiusersoauthcsrf=someone-elses"),
        Some("fastapiusersoauthcsrf="),
    ] {
        let headers: Vec<(&str, &str)> = cookie.iter().map(|c| ("cookie", *c)).collect();
        let reply = get_with(&app, &back, &headers).await;
        assert_eq!(
            detail(&reply),
            code(400, "OAUTH_INVALID_STATE"),
            "{cookie:?}"
        );
    }
    // Nobody was created.
    assert!(app
        .store
        .get_by_email("galahad@camelot.bt")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn oauth_not_available_email() {
    let Some(mock) = mock_provider() else {
        return;
    };
    let app = app(vec![oidc(&mock)], settings()).await;
    let reply = sign_in(&app, "acc-1||false").await;
    assert_eq!(detail(&reply), code(400, "OAUTH_NOT_AVAILABLE_EMAIL"));
}

#[tokio::test]
async fn oauth_user_already_exists_unless_associated_by_a_verified_email() {
    let Some(mock) = mock_provider() else {
        return;
    };
    for (associate, verified, expected) in [
        (false, true, Some("OAUTH_USER_ALREADY_EXISTS")),
        (true, false, Some("OAUTH_USER_ALREADY_EXISTS")),
        (true, true, None),
    ] {
        let mut settings = settings();
        settings.associate_by_email = associate;
        let app = app(vec![oidc(&mock)], settings).await;
        let existing = axum_users::User::new(
            "lancelot@camelot.bt",
            "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
        );
        app.store.create(&existing).await.unwrap();
        let hint = format!("acc-9|LANCELOT@camelot.bt|{verified}");
        let reply = sign_in(&app, &hint).await;
        match expected {
            Some(error) => assert_eq!(detail(&reply), code(400, error), "{associate} {verified}"),
            None => {
                assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
                let links = app.store.oauth_accounts(existing.id).await.unwrap();
                assert_eq!(links.len(), 1);
                // Linking does not verify the user.
                let user = app.store.get(existing.id).await.unwrap().unwrap();
                assert!(!user.is_verified);
            }
        }
    }
}

#[tokio::test]
async fn login_bad_credentials_for_an_inactive_linked_user() {
    let Some(mock) = mock_provider() else {
        return;
    };
    let app = app(vec![oidc(&mock)], settings()).await;
    assert_eq!(
        sign_in(&app, "acc-1|gawain@camelot.bt|true").await.status,
        StatusCode::OK
    );
    let user = app
        .store
        .get_by_email("gawain@camelot.bt")
        .await
        .unwrap()
        .unwrap();
    let ban = axum_users::UserPatch::default().is_active(false);
    app.store.update(user.id, &ban).await.unwrap().unwrap();
    let reply = sign_in(&app, "acc-1|gawain@camelot.bt|true").await;
    assert_eq!(detail(&reply), code(400, "LOGIN_BAD_CREDENTIALS"));
}

#[tokio::test]
async fn a_forged_id_token_nonce_is_a_provider_error() {
    let Some(mock) = mock_provider() else {
        return;
    };
    let app = app(vec![oidc(&mock)], settings()).await;
    let reply = sign_in(&app, "acc-1|galahad@camelot.bt|true|bad-nonce").await;
    assert_eq!(detail(&reply), code(502, "OAUTH_PROVIDER_ERROR"));
    assert!(app
        .store
        .get_by_email("galahad@camelot.bt")
        .await
        .unwrap()
        .is_none());
}

/// ID tokens wrong in one way each (OpenID Connect Core 3.1.3.7): refused, and nobody is
/// created from them.
#[tokio::test]
async fn oidc_id_tokens_with_a_wrong_at_hash_or_azp_are_refused() {
    let Some(mock) = mock_provider() else {
        return;
    };
    let app = app(vec![oidc(&mock)], settings()).await;
    for (twist, email) in [
        ("bad-at-hash", "agravain@camelot.bt"),
        ("other-azp", "gaheris@camelot.bt"),
        ("several-audiences", "gareth@camelot.bt"),
    ] {
        let reply = sign_in(&app, &format!("acc-{twist}|{email}|true|{twist}")).await;
        assert_eq!(detail(&reply), code(502, "OAUTH_PROVIDER_ERROR"), "{twist}");
        assert!(
            app.store.get_by_email(email).await.unwrap().is_none(),
            "{twist}"
        );
    }
}

/// A provider with one key may leave `kid` out of the header.
#[tokio::test]
async fn oidc_id_token_without_kid_from_a_single_key_provider() {
    let Some(mock) = mock_provider() else {
        return;
    };
    let app = app(vec![oidc(&mock)], settings()).await;
    let reply = sign_in(&app, "acc-nokid|lamorak@camelot.bt|true|no-kid").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(app
        .store
        .get_by_email("lamorak@camelot.bt")
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn cookie_backend_and_redirect_after_login() {
    let Some(mock) = mock_provider() else {
        return;
    };
    let mut settings = settings();
    settings.backend = Some("cookie".into());
    settings.csrf_cookie.secure = false;
    settings.after_login_redirects = vec!["https://app.camelot.bt/".into()];
    let app = app(vec![oidc(&mock)], settings).await;
    let reply = get_with(
        &app,
        "/auth/mock/authorize?redirect_url=https%3A%2F%2Fevil.example%2F",
        &[],
    )
    .await;
    assert_eq!(detail(&reply), code(400, "OAUTH_REDIRECT_NOT_ALLOWED"));

    let authorized = authorize(
        &app,
        "/auth/mock/authorize?redirect_url=https%3A%2F%2Fapp.camelot.bt%2Fwelcome",
        &[],
    )
    .await;
    let back = provider_login(&authorized.url, "acc-1|tristan@camelot.bt|true").await;
    let reply = get_with(&app, &back, &[("cookie", &authorized.cookie)]).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::SEE_OTHER, "")
    );
    assert_eq!(
        reply.header("location"),
        Some("https://app.camelot.bt/welcome")
    );
    let cookies: Vec<&str> = reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert!(cookies[0].starts_with("fastapiusersauth=ey"), "{cookies:?}");
    // Plain-HTTP development: the CSRF cookie without `Secure`, cleared.
    assert_eq!(
        cookies[1],
        r#"fastapiusersoauthcsrf=""; HttpOnly; Max-Age=0; Path=/; SameSite=lax"#
    );

    // Without redirect: FastAPI Users' 204 with the auth cookie.
    let reply = sign_in(&app, "acc-1|tristan@camelot.bt|true").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);

    // Login CSRF: a script of another site completing the callback sets no cookie.
    let authorized = authorize(&app, "/auth/mock/authorize", &[]).await;
    let back = provider_login(&authorized.url, "acc-1|tristan@camelot.bt|true").await;
    let reply = get_with(
        &app,
        &back,
        &[
            ("cookie", &authorized.cookie),
            ("origin", "https://evil.example"),
        ],
    )
    .await;
    assert_eq!(detail(&reply), code(403, "CSRF_ORIGIN_NOT_ALLOWED"));
    assert_eq!(reply.header("set-cookie"), None);
}

#[tokio::test]
async fn associate_links_a_provider_account_to_the_signed_in_user() {
    let Some(mock) = mock_provider() else {
        return;
    };
    let app = app(vec![oidc(&mock)], settings()).await;
    let mut ids = Vec::new();
    let mut tokens = Vec::new();
    for email in ["galahad@camelot.bt", "mordred@camelot.bt"] {
        let user = axum_users::User::new(
            email,
            app.users.manager().hasher().hash("grail").await.unwrap(),
        );
        app.store.create(&user).await.unwrap();
        ids.push(user.id);
        let reply = common::send_to(
            &app.router,
            Request::post("/auth/jwt/login")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(format!("username={email}&password=grail")))
                .unwrap(),
        )
        .await;
        tokens.push(reply.json()["access_token"].as_str().unwrap().to_owned());
    }
    let bearer = |i: usize| format!("Bearer {}", tokens[i]);

    // The guard comes first: 401 without a session, on both routes.
    let reply = get_with(&app, "/auth/associate/mock/authorize", &[]).await;
    assert_eq!(detail(&reply), code(401, "Unauthorized"));
    let reply = get_with(&app, "/auth/associate/mock/callback?code=x&state=y", &[]).await;
    assert_eq!(detail(&reply), code(401, "Unauthorized"));

    // Galahad links his provider account: the state carries his id.
    let authorized = authorize(
        &app,
        "/auth/associate/mock/authorize",
        &[("authorization", &bearer(0))],
    )
    .await;
    let state = query(&authorized.url)
        .into_iter()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1;
    let claims = payload(&state);
    assert_eq!(claims["sub"], ids[0].to_string());
    let keys: Vec<&String> = claims.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["sub", "csrftoken", "aud", "exp"]);
    let back = provider_login(&authorized.url, "acc-7|galahad.grail@camelot.bt|true").await;
    assert!(back.starts_with("/auth/associate/mock/callback?"), "{back}");

    // Mordred cannot use Galahad's state (even with the cookie).
    let reply = get_with(
        &app,
        &back,
        &[
            ("cookie", &authorized.cookie),
            ("authorization", &bearer(1)),
        ],
    )
    .await;
    assert_eq!(detail(&reply), code(400, "Bad Request"));

    let reply = get_with(
        &app,
        &back,
        &[
            ("cookie", &authorized.cookie),
            ("authorization", &bearer(0)),
        ],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.body,
        format!(
            r#"{{"id":"{}","email":"galahad@camelot.bt","is_active":true,"is_superuser":false,"is_verified":false}}"#,
            ids[0]
        )
    );
    let links = app.store.oauth_accounts(ids[0]).await.unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].account_id, "acc-7");
    let hooks = app.hooks.take();
    assert_eq!(
        hooks.last().map(String::as_str),
        Some("update:galahad@camelot.bt:{}")
    );

    // That provider account now signs Galahad in ...
    let reply = sign_in(&app, "acc-7|galahad.grail@camelot.bt|true").await;
    let token = reply.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(payload(&token)["sub"], ids[0].to_string());

    // ... and cannot be linked to Mordred.
    let authorized = authorize(
        &app,
        "/auth/associate/mock/authorize",
        &[("authorization", &bearer(1))],
    )
    .await;
    let back = provider_login(&authorized.url, "acc-7|galahad.grail@camelot.bt|true").await;
    let reply = get_with(
        &app,
        &back,
        &[
            ("cookie", &authorized.cookie),
            ("authorization", &bearer(1)),
        ],
    )
    .await;
    assert_eq!(detail(&reply), code(400, "OAUTH_ACCOUNT_ALREADY_LINKED"));
    assert!(app.store.oauth_accounts(ids[1]).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_google_and_microsoft_presets_against_the_loopback_provider() {
    let Some(mock) = mock_provider() else {
        return;
    };
    for (preset, name) in [
        (
            OAuthProvider::google("camelot-client", "camelot-secret"),
            "google",
        ),
        (
            OAuthProvider::microsoft("common", "camelot-client", "camelot-secret"),
            "microsoft",
        ),
    ] {
        let provider = preset.at(&mock.issuer);
        assert_eq!(provider.name(), name);
        let app = app(vec![provider], settings()).await;
        let authorized = authorize(
            &app,
            &format!("/auth/{name}/authorize?scopes=openid&scopes=email"),
            &[],
        )
        .await;
        let scope = query(&authorized.url)
            .into_iter()
            .find(|(k, _)| k == "scope")
            .unwrap()
            .1;
        assert_eq!(scope, "openid email");
        let back = provider_login(&authorized.url, "g-1|elaine@camelot.bt|true").await;
        assert!(
            back.starts_with(&format!("/auth/{name}/callback?")),
            "{back}"
        );
        let reply = get_with(&app, &back, &[("cookie", &authorized.cookie)]).await;
        assert_eq!(reply.status, StatusCode::OK, "{name}: {}", reply.body);
        let user = app
            .store
            .get_by_email("elaine@camelot.bt")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            app.store.oauth_accounts(user.id).await.unwrap()[0].oauth_name,
            name
        );
    }
}

#[tokio::test]
async fn associate_needs_a_verified_user_when_verification_is_required() {
    let Some(mock) = mock_provider() else {
        return;
    };
    let store = SqliteStore::connect("sqlite::memory:", UserSchema::new())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let users = AxumUsers::builder(store.clone())
        .rate_limits(axum_users::RateLimits::off())
        .password_hasher(fast_hasher())
        .requires_verification(true)
        .backend(jwt_backend())
        .oauth(store.clone(), settings())
        .oauth_provider(oidc(&mock))
        .build()
        .unwrap();
    let app = App {
        router: users.router(),
        store,
        users,
        hooks: common::Recorder::default(),
    };
    let user = axum_users::User::new("kay@camelot.bt", "x");
    app.store.create(&user).await.unwrap();
    let token = common::sign(
        json!({"sub": user.id.to_string(), "aud": ["fastapi-users:auth"], "exp": common::now_unix() + 60}),
    );
    let bearer = format!("Bearer {token}");
    for path in [
        "/auth/associate/mock/authorize",
        "/auth/associate/mock/callback?code=x&state=y",
    ] {
        let reply = get_with(&app, path, &[("authorization", &bearer)]).await;
        assert_eq!(detail(&reply), code(403, "Forbidden"), "{path}");
    }
}

/// A fake of GitHub's and Discord's endpoints (they are not OpenID Connect): authorize
/// redirects at once, the token endpoint checks the PKCE verifier, the user APIs answer what
/// the real ones do.
async fn fake_social(verified: bool, broken: bool) -> (String, tokio::task::JoinHandle<()>) {
    let challenges: Arc<std::sync::Mutex<std::collections::HashMap<String, String>>> =
        Arc::default();
    let saved = challenges.clone();
    let authorize = move |axum::extract::RawQuery(query): axum::extract::RawQuery| {
        let saved = saved.clone();
        async move {
            let params: std::collections::HashMap<String, String> =
                form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                    .into_owned()
                    .collect();
            saved
                .lock()
                .unwrap()
                .insert("the-code".into(), params["code_challenge"].clone());
            let location = format!(
                "{}?code=the-code&state={}",
                params["redirect_uri"], params["state"]
            );
            (StatusCode::FOUND, [("location", location)])
        }
    };
    let token = move |body: String| {
        let challenges = challenges.clone();
        async move {
            if broken {
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "<html>oops</html>".to_owned(),
                );
            }
            let form: std::collections::HashMap<String, String> =
                form_urlencoded::parse(body.as_bytes())
                    .into_owned()
                    .collect();
            let expected = challenges.lock().unwrap().get(&form["code"]).cloned();
            if expected.as_deref() != Some(s256(&form["code_verifier"]).as_str()) {
                return (
                    StatusCode::BAD_REQUEST,
                    r#"{"error":"invalid_grant"}"#.to_owned(),
                );
            }
            (
                StatusCode::OK,
                r#"{"access_token":"gho_token","token_type":"bearer","scope":"read:user"}"#
                    .to_owned(),
            )
        }
    };
    let user = || async { axum::Json(json!({"id": 583231, "login": "octocat", "email": null})) };
    let emails = move || async move {
        axum::Json(json!([
            {"email": "octocat@private.example", "primary": false, "verified": true},
            {"email": "Octocat@Camelot.bt", "primary": true, "verified": verified}
        ]))
    };
    let discord_me = move || async move {
        axum::Json(
            json!({"id": "80351110224678912", "username": "nelly", "email": "nelly@camelot.bt", "verified": verified}),
        )
    };
    let router = Router::new()
        .route("/login/oauth/authorize", get(authorize.clone()))
        .route("/login/oauth/access_token", post(token.clone()))
        .route("/user", get(user))
        .route("/user/emails", get(emails))
        .route("/oauth2/authorize", get(authorize))
        .route("/api/oauth2/token", post(token))
        .route("/api/users/@me", get(discord_me));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let handle = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (base, handle)
}

#[tokio::test]
async fn github_and_discord_presets_with_verified_emails() {
    let (base, _server) = fake_social(true, false).await;
    let mut settings = settings();
    settings.associate_by_email = true;
    let app = app(
        vec![
            OAuthProvider::github("gh-client", "gh-secret").at(&base),
            OAuthProvider::discord("dc-client", "dc-secret").at(&base),
        ],
        settings,
    )
    .await;
    for (provider, email, account_id) in [
        ("github", "Octocat@camelot.bt", "583231"),
        ("discord", "nelly@camelot.bt", "80351110224678912"),
    ] {
        let authorized = authorize(&app, &format!("/auth/{provider}/authorize"), &[]).await;
        let params = query(&authorized.url);
        assert!(
            !params.iter().any(|(k, _)| k == "nonce"),
            "no nonce outside OIDC"
        );
        let back = provider_login(&authorized.url, "").await;
        let reply = get_with(&app, &back, &[("cookie", &authorized.cookie)]).await;
        assert_eq!(reply.status, StatusCode::OK, "{provider}: {}", reply.body);
        let user = app.store.get_by_email(email).await.unwrap().unwrap();
        let links = app.store.oauth_accounts(user.id).await.unwrap();
        assert_eq!(links[0].account_id, account_id, "{provider}");
        assert_eq!(links[0].oauth_name, provider);
    }
}

#[tokio::test]
async fn a_provider_that_fails_is_a_502_with_a_code() {
    let (base, _server) = fake_social(true, true).await;
    let app = app(
        vec![OAuthProvider::github("gh-client", "gh-secret").at(&base)],
        settings(),
    )
    .await;
    let authorized = authorize(&app, "/auth/github/authorize", &[]).await;
    let back = provider_login(&authorized.url, "").await;
    let reply = get_with(&app, &back, &[("cookie", &authorized.cookie)]).await;
    assert_eq!(detail(&reply), code(502, "OAUTH_PROVIDER_ERROR"));
    // A provider nobody answers at: the same, at /authorize already.
    let gone = app_gone().await;
    let reply = get_with(&gone, "/auth/mock/authorize", &[]).await;
    assert_eq!(detail(&reply), code(502, "OAUTH_PROVIDER_ERROR"));
}

async fn app_gone() -> App {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    app(
        vec![OAuthProvider::oidc(
            "mock",
            &format!("http://127.0.0.1:{port}"),
            "c",
            "s",
        )],
        settings(),
    )
    .await
}

#[tokio::test]
async fn an_unverified_github_email_is_not_associated() {
    let (base, _server) = fake_social(false, false).await;
    let mut settings = settings();
    settings.associate_by_email = true;
    let app = app(
        vec![OAuthProvider::github("gh-client", "gh-secret").at(&base)],
        settings,
    )
    .await;
    let existing = axum_users::User::new(
        "octocat@camelot.bt",
        "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
    );
    app.store.create(&existing).await.unwrap();
    let authorized = authorize(&app, "/auth/github/authorize", &[]).await;
    let back = provider_login(&authorized.url, "").await;
    let reply = get_with(&app, &back, &[("cookie", &authorized.cookie)]).await;
    assert_eq!(detail(&reply), code(400, "OAUTH_USER_ALREADY_EXISTS"));
}

#[tokio::test]
async fn the_openapi_document_lists_the_oauth_routes() {
    let app = app(
        vec![OAuthProvider::github("gh-client", "gh-secret")],
        settings(),
    )
    .await;
    let doc = get_with(&app, "/openapi.json", &[]).await.json();
    for (path, op_id, secured) in [
        (
            "/auth/github/authorize",
            "oauth_github_jwt_authorize_auth_github_authorize_get",
            false,
        ),
        (
            "/auth/github/callback",
            "oauth_github_jwt_callback_auth_github_callback_get",
            false,
        ),
        (
            "/auth/associate/github/authorize",
            "oauth_associate_github_authorize_auth_associate_github_authorize_get",
            true,
        ),
        (
            "/auth/associate/github/callback",
            "oauth_associate_github_callback_auth_associate_github_callback_get",
            true,
        ),
    ] {
        let op = &doc["paths"][path]["get"];
        assert_eq!(op["operationId"], op_id);
        assert_eq!(op.get("security").is_some(), secured, "{path}");
    }
    assert_eq!(
        doc["paths"]["/auth/github/authorize"]["get"]["summary"],
        "Oauth:Github.Jwt.Authorize"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// Hostile callbacks: any query string and cookie get a JSON answer below 500, and the
    /// provider is never asked (a state cannot be forged without the secret).
    #[test]
    fn no_callback_query_makes_the_server_fail(
        query in "[ -~]{0,200}",
        cookie in "[ -~]{0,80}",
        params in proptest::collection::vec(("(code|state|error|code_verifier|scopes|[a-z]{1,6})", "[^&#]{0,60}"), 0..5),
        associate in proptest::bool::ANY,
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            // Nothing listens there: a request that reached the provider would be a 502.
            let app = app(
                vec![OAuthProvider::github("c", "s").at("http://127.0.0.1:9")],
                settings(),
            )
            .await;
            let built: String = params
                .iter()
                .map(|(k, v)| format!("{k}={}", common::urlencode(v)))
                .collect::<Vec<_>>()
                .join("&");
            let base = if associate { "/auth/associate/github/callback" } else { "/auth/github/callback" };
            for q in [query.clone(), built] {
                let uri = format!("{base}?{}", q.replace([' ', '#'], "+"));
                let Ok(request) = Request::get(&uri)
                    .header("host", HOST)
                    .header("cookie", cookie.as_str())
                    .header("authorization", format!("Bearer {q}"))
                    .body(Body::empty())
                else {
                    continue;
                };
                let reply = send_to(&app.router, request).await;
                proptest::prop_assert!(reply.status.as_u16() < 500, "{uri}: {} {}", reply.status, reply.body);
                proptest::prop_assert!(serde_json::from_str::<serde_json::Value>(&reply.body).is_ok(), "{uri}: {}", reply.body);
            }
            Ok(())
        })?;
    }
}

/// The PKCE S256 challenge of a verifier (RFC 7636), computed here independently of the library.
fn s256(verifier: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// An OAuth login is a session like a password login: listed with how the user signed in, and
/// with a refresh token on a backend that issues them.
#[tokio::test]
async fn an_oauth_login_starts_a_session_with_a_refresh_token() {
    let Some(mock) = mock_provider() else {
        return;
    };
    let app = app_with(vec![oidc(&mock)], settings(), true).await;
    let reply = sign_in(&app, "acc-1|gawain@camelot.bt|true").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let body = reply.json();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["access_token", "token_type", "refresh_token"]);
    let access = body["access_token"].as_str().unwrap();
    let request = Request::builder()
        .uri("/auth/sessions")
        .header("authorization", format!("Bearer {access}"))
        .body(Body::empty())
        .unwrap();
    let listed = send_to(&app.router, request).await.json();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["method"], "oauth:mock");
    assert_eq!(listed[0]["backend"], "jwt");
    assert_eq!(listed[0]["refresh"], true);
    assert_eq!(listed[0]["current"], true);
    let request = Request::builder()
        .method(Method::POST)
        .uri("/auth/jwt/refresh")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"refresh_token": body["refresh_token"]}).to_string(),
        ))
        .unwrap();
    assert_eq!(send_to(&app.router, request).await.status, StatusCode::OK);
}

/// A user with a second factor who signs in through a provider gets the challenge too, and the
/// code completes the login through the OAuth backend.
#[tokio::test]
async fn an_oauth_login_asks_for_the_second_factor() {
    let Some(mock) = mock_provider() else {
        return;
    };
    let app = app_with(vec![oidc(&mock)], settings(), true).await;
    let reply = sign_in(&app, "acc-1|gawain@camelot.bt|true").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let access = reply.json()["access_token"].as_str().unwrap().to_owned();
    let post = |uri: &str, token: Option<&str>, body: serde_json::Value| {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        request.body(Body::from(body.to_string())).unwrap()
    };
    let setup = send_to(
        &app.router,
        post("/auth/mfa/totp/setup", Some(&access), json!({})),
    )
    .await;
    let secret = setup.json()["secret"].as_str().unwrap().to_owned();
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(&secret).unwrap())
        .build()
        .unwrap();
    let now = u64::try_from(common::now_unix()).unwrap();
    let code = totp.generate(now).to_string();
    let enabled = send_to(
        &app.router,
        post(
            "/auth/mfa/totp/enable",
            Some(&access),
            json!({ "code": code }),
        ),
    )
    .await;
    assert_eq!(enabled.status, StatusCode::OK, "{}", enabled.body);

    let reply = sign_in(&app, "acc-1|gawain@camelot.bt|true").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    assert_eq!(reply.json()["detail"], "LOGIN_MFA_REQUIRED");
    let token = reply.json()["mfa_token"].as_str().unwrap().to_owned();
    let next = totp.generate(now + 30).to_string();
    let reply = send_to(
        &app.router,
        post(
            "/auth/mfa/verify",
            None,
            json!({"mfa_token": token, "code": next}),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let access = reply.json()["access_token"].as_str().unwrap().to_owned();
    let request = Request::builder()
        .uri("/auth/sessions")
        .header("authorization", format!("Bearer {access}"))
        .body(Body::empty())
        .unwrap();
    let listed = send_to(&app.router, request).await.json();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["method"] == "oauth:mock+totp"),
        "{listed}"
    );
}
