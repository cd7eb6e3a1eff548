//! CSRF protection of cookie sessions: a state-changing request carrying the auth cookie must
//! come from the server's own origin or an allowed one; Bearer requests, safe methods and
//! requests without Origin/Referer (non-browser clients) are untouched.

mod common;

use axum::body::Body;
use common::{app, app_with, Options, TestApp};
use http::{Method, Request, StatusCode};

const REFUSED: &str = r#"{"detail":"CSRF_ORIGIN_NOT_ALLOWED"}"#;

async fn cookie(app: &TestApp) -> String {
    let reply = app
        .form(
            "/auth/cookie/login",
            "username=king.arthur%40camelot.bt&password=guinevere",
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let set = reply.header("set-cookie").unwrap();
    set.split(';').next().unwrap().to_owned()
}

/// PATCH /users/me with the cookie (or a Bearer token) and the given browser headers.
async fn patch(app: &TestApp, auth: &str, headers: &[(&str, &str)]) -> (StatusCode, String) {
    let mut request = Request::builder()
        .method(Method::PATCH)
        .uri("/users/me")
        .header("host", "auth.camelot.bt")
        .header("content-type", "application/json");
    request = if auth.starts_with("fastapiusersauth=") {
        request.header("cookie", auth)
    } else {
        request.header("authorization", format!("Bearer {auth}"))
    };
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let reply = app
        .send(request.body(Body::from(r#"{"first_name":null}"#)).unwrap())
        .await;
    (reply.status, reply.body)
}

#[tokio::test]
async fn cross_site_cookie_requests_are_refused() {
    let app = app().await;
    let cookie = cookie(&app).await;
    for headers in [
        vec![("origin", "https://evil.example")],
        vec![("referer", "https://evil.example/page?x=1")],
        vec![("origin", "null")],
        // The Origin decides, whatever the Referer says.
        vec![
            ("origin", "https://evil.example"),
            ("referer", "https://auth.camelot.bt/"),
        ],
        // Same host, other port: another origin.
        vec![("origin", "https://auth.camelot.bt:8443")],
    ] {
        assert_eq!(
            patch(&app, &cookie, &headers).await,
            (StatusCode::FORBIDDEN, REFUSED.to_owned()),
            "{headers:?}"
        );
    }
    // Logout too (POST with the cookie).
    let request = Request::builder()
        .method(Method::POST)
        .uri("/auth/cookie/logout")
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .body(Body::empty())
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::FORBIDDEN, REFUSED)
    );
}

/// Login CSRF: another site's page cannot POST its own credentials to the cookie login and swap
/// the browser's session for its account. Non-browser clients (no Origin, no Referer), the
/// server's own pages and the allowed front-ends log in as before; Bearer logins are untouched.
#[tokio::test]
async fn cross_site_cookie_logins_are_refused() {
    let app = app_with(Options {
        allowed_origins: vec!["https://app.camelot.bt".into()],
        ..Options::default()
    })
    .await;
    let login = |path: &'static str, headers: Vec<(&'static str, &'static str)>| {
        let mut request = Request::post(path)
            .header("host", "auth.camelot.bt")
            .header("content-type", "application/x-www-form-urlencoded");
        for (name, value) in headers {
            request = request.header(name, value);
        }
        app.send(
            request
                .body(Body::from(
                    "username=king.arthur%40camelot.bt&password=guinevere",
                ))
                .unwrap(),
        )
    };
    for headers in [
        vec![("origin", "https://evil.example")],
        vec![("referer", "https://evil.example/login")],
        vec![("origin", "null")],
    ] {
        let reply = login("/auth/cookie/login", headers.clone()).await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (StatusCode::FORBIDDEN, REFUSED),
            "{headers:?}"
        );
        assert_eq!(reply.header("set-cookie"), None);
    }
    for headers in [
        vec![],
        vec![("origin", "https://auth.camelot.bt")],
        vec![("origin", "https://app.camelot.bt")],
    ] {
        let reply = login("/auth/cookie/login", headers.clone()).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{headers:?}");
        assert!(reply.header("set-cookie").is_some());
    }
    // A Bearer login answers the token in the body, which another site cannot read.
    let reply = login("/auth/jwt/login", vec![("origin", "https://evil.example")]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

/// The check applies to requests the cookie authenticates: a Bearer request that also carries a
/// stale or garbage auth cookie is judged by its token, and a garbage cookie alone is no
/// authentication at all (401, not 403).
#[tokio::test]
async fn only_cookie_authenticated_requests_are_checked() {
    let app = app().await;
    let token = app.login("king.arthur@camelot.bt", "guinevere").await;
    let evil = [("origin", "https://evil.example")];
    for stale in ["fastapiusersauth=garbage", "fastapiusersauth="] {
        let request = Request::builder()
            .method(Method::PATCH)
            .uri("/users/me")
            .header("host", "auth.camelot.bt")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .header("cookie", stale)
            .header("origin", "https://evil.example");
        let reply = app
            .send(request.body(Body::from(r#"{"first_name":null}"#)).unwrap())
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{stale}: {}", reply.body);
        assert_eq!(
            patch(&app, stale, &evil).await,
            (
                StatusCode::UNAUTHORIZED,
                r#"{"detail":"Unauthorized"}"#.to_owned()
            ),
            "{stale}"
        );
    }
}

#[tokio::test]
async fn same_site_allowed_and_non_browser_requests_pass() {
    let app = app_with(Options {
        allowed_origins: vec!["https://app.camelot.bt".into()],
        ..Options::default()
    })
    .await;
    let cookie = cookie(&app).await;
    for headers in [
        vec![],
        vec![("origin", "https://auth.camelot.bt")],
        vec![("origin", "HTTPS://APP.CAMELOT.BT:443")],
        vec![("referer", "https://auth.camelot.bt/settings")],
    ] {
        let (status, body) = patch(&app, &cookie, &headers).await;
        assert_eq!(status, StatusCode::OK, "{headers:?}: {body}");
    }
    // Bearer tokens cannot be sent by another site: no check.
    let token = app.login("king.arthur@camelot.bt", "guinevere").await;
    let (status, _) = patch(&app, &token, &[("origin", "https://evil.example")]).await;
    assert_eq!(status, StatusCode::OK);
    // Reads are not state changes.
    let request = Request::builder()
        .uri("/users/me")
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(request).await.status, StatusCode::OK);
}

#[test]
fn allowed_origins_must_be_origins() {
    let err = axum_users::AxumUsers::builder(NoStore)
        .allowed_origins(["camelot.bt"])
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        r#""camelot.bt" is not an origin (scheme://host[:port])"#
    );
}

struct NoStore;

impl axum_users::UserStore for NoStore {
    async fn get(
        &self,
        _: axum_users::UserId,
    ) -> Result<Option<axum_users::User>, axum_users::StoreError> {
        Ok(None)
    }
    async fn get_by_email(
        &self,
        _: &str,
    ) -> Result<Option<axum_users::User>, axum_users::StoreError> {
        Ok(None)
    }
    async fn create(
        &self,
        user: &axum_users::User,
    ) -> Result<axum_users::UserId, axum_users::StoreError> {
        Ok(user.id)
    }
    async fn update(
        &self,
        _: axum_users::UserId,
        _: &axum_users::UserPatch,
    ) -> Result<Option<axum_users::User>, axum_users::StoreError> {
        Ok(None)
    }
    async fn delete(&self, _: axum_users::UserId) -> Result<(), axum_users::StoreError> {
        Ok(())
    }
}

/// The allowed origins feed CORS: their pages may call the API with credentials; other sites
/// get no CORS headers, so the browser keeps their scripts from reading the answers.
#[tokio::test]
async fn allowed_origins_feed_cors() {
    let app = app_with(Options {
        allowed_origins: vec!["https://app.camelot.bt".into()],
        ..Options::default()
    })
    .await;
    assert!(
        common::app().await.users.cors_layer().is_none(),
        "none by default"
    );
    let router = app.router.clone().layer(app.users.cors_layer().unwrap());
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/users/me")
            .header("origin", origin)
            .header("access-control-request-method", "PATCH")
            .header("access-control-request-headers", "content-type")
            .body(Body::empty())
            .unwrap()
    };
    let reply = common::send_to(&router, preflight("https://app.camelot.bt")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "");
    for (name, value) in [
        ("access-control-allow-origin", "https://app.camelot.bt"),
        ("access-control-allow-credentials", "true"),
        ("access-control-allow-methods", "GET,POST,PATCH,DELETE"),
        (
            "access-control-allow-headers",
            "authorization,content-type,accept,accept-language,x-requested-with,traceparent,tracestate,baggage,sentry-trace",
        ),
        ("access-control-max-age", "600"),
    ] {
        assert_eq!(reply.header(name), Some(value), "{name}");
    }
    let reply = common::send_to(&router, preflight("https://evil.example")).await;
    assert_eq!(reply.header("access-control-allow-origin"), None);
    assert_eq!(reply.header("access-control-allow-credentials"), None);
    // Nor on a plain answer to another origin, or to a same-origin request.
    for origin in [Some("https://evil.example"), None] {
        let mut request = Request::builder().uri("/users/me");
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let reply = common::send_to(&router, request.body(Body::empty()).unwrap()).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            reply.header("access-control-allow-credentials"),
            None,
            "{origin:?}"
        );
        assert_eq!(
            reply.header("access-control-allow-origin"),
            None,
            "{origin:?}"
        );
    }

    // An actual cross-origin request from the allowed front-end, with the cookie.
    let cookie = cookie(&app).await;
    let request = Request::builder()
        .uri("/users/me")
        .header("origin", "https://app.camelot.bt")
        .header("cookie", cookie)
        .body(Body::empty())
        .unwrap();
    let reply = common::send_to(&router, request).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("https://app.camelot.bt")
    );
    assert_eq!(
        reply.header("access-control-expose-headers"),
        Some("retry-after")
    );
}

/// A `SameSite=none` cookie without `Secure` is dropped by every browser: refused at build.
#[tokio::test]
async fn samesite_none_needs_secure() {
    use axum_users::{Backend, CookieTransport, JwtStrategy, SameSite};
    let store = axum_users::SqliteStore::connect("sqlite::memory:", axum_users::UserSchema::new())
        .await
        .unwrap();
    let cookie = |secure| {
        CookieTransport::default()
            .samesite(SameSite::None)
            .secure(secure)
    };
    let built = |secure| {
        axum_users::AxumUsers::builder(store.clone())
            .backend(Backend::new(
                "cookie",
                cookie(secure),
                JwtStrategy::new("s", None),
            ))
            .build()
    };
    let refused = built(false).unwrap_err();
    assert!(
        refused
            .0
            .starts_with("backend \"cookie\": a SameSite=none cookie without Secure"),
        "{refused}"
    );
    assert!(built(true).is_ok());
}
