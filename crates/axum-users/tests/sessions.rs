//! Sessions and refresh tokens over HTTP, on SQLite and on PostgreSQL: the refresh flow for
//! Bearer and cookie backends, rotation, reuse ending the session, the grace period, 20
//! concurrent refreshes, the session list and its revocation (own and as a superuser), every
//! revocation path (logout, password change and reset, deactivation, deletion, "log out
//! everywhere"), database tokens revoked at once, the per-user bound, two instances on one
//! database, and the feature off.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::Router;
use axum_users::{
    AccessTokenStore, AxumUsers, Backend, BearerTransport, DatabaseStrategy, JwtStrategy,
    PasswordPolicy, SessionSettings, SessionStore, SqliteStore, TokenKind, TokenSettings,
    UserCreate, UserSchema, UserStore,
};
use common::{fast_hasher, send_to, Reply, SECRET};
use http::{Method, Request, StatusCode};
use serde_json::{json, Map, Value};

const ARTHUR: &str = "king.arthur@camelot.bt";
const MERLIN: &str = "merlin@camelot.bt";

/// Where a session test keeps users and sessions: a SQL store for both, or (with Redis)
/// users in SQLite and sessions in Redis.
trait TestStore: Clone + Send + Sync + 'static {
    fn users(&self) -> impl UserStore + AccessTokenStore + Clone + 'static;
    fn sessions(&self) -> impl SessionStore + 'static;
}

impl<S: UserStore + AccessTokenStore + SessionStore + Clone + 'static> TestStore for S {
    fn users(&self) -> impl UserStore + AccessTokenStore + Clone + 'static {
        self.clone()
    }
    fn sessions(&self) -> impl SessionStore + 'static {
        self.clone()
    }
}

/// Users in SQLite, sessions in Redis.
#[cfg(feature = "redis")]
#[derive(Clone)]
struct SessionsInRedis {
    users: SqliteStore,
    sessions: axum_users::RedisSessionStore,
}

#[cfg(feature = "redis")]
impl TestStore for SessionsInRedis {
    fn users(&self) -> impl UserStore + AccessTokenStore + Clone + 'static {
        self.users.clone()
    }
    fn sessions(&self) -> impl SessionStore + 'static {
        self.sessions.clone()
    }
}

struct Harness {
    users: AxumUsers,
    router: Router,
}

/// Backends: `jwt` (Bearer, 15-minute JWTs, refresh tokens), `cookie` (JWT cookie, refresh
/// tokens), `db` (Bearer, database tokens, refresh tokens) and `plain` (Bearer JWT without
/// refresh tokens).
async fn harness(stores: &impl TestStore, settings: SessionSettings) -> Harness {
    let month = Duration::from_secs(30 * 24 * 3600);
    let store = stores.users();
    let users = AxumUsers::builder(store.clone())
        .verification_token(TokenSettings::new(SECRET, TokenKind::Verify))
        .reset_password_token(TokenSettings::new(SECRET, TokenKind::Reset))
        .password_hasher(fast_hasher())
        .password_policy(PasswordPolicy::new(3, 0))
        .rate_limits(axum_users::RateLimits::off())
        .sessions(stores.sessions(), settings)
        .backend(
            Backend::new(
                "jwt",
                BearerTransport::new("auth/jwt/login"),
                JwtStrategy::new(SECRET, Some(900)),
            )
            .refresh_tokens(month),
        )
        .backend(
            Backend::new(
                "cookie",
                common::cookie_transport().max_age(Some(900)),
                JwtStrategy::new(SECRET, Some(900)),
            )
            .refresh_tokens(month),
        )
        .backend(
            Backend::new(
                "db",
                BearerTransport::new("auth/db/login"),
                DatabaseStrategy::new(store.clone(), Some(900)),
            )
            .refresh_tokens(month),
        )
        .backend(Backend::new(
            "plain",
            BearerTransport::new("auth/plain/login"),
            JwtStrategy::new(SECRET, Some(3600)),
        ))
        .build()
        .unwrap();
    seed(&users).await;
    Harness {
        router: users.router(),
        users,
    }
}

async fn seed(users: &AxumUsers) {
    for (email, password, superuser) in [
        (ARTHUR, "guinevere", false),
        ("lancelot@camelot.bt", "elaine", false),
        (MERLIN, "viviane", true),
    ] {
        if users.manager().get_by_email(email).await.unwrap().is_some() {
            continue;
        }
        let flags = json!({"is_active": true, "is_superuser": superuser, "is_verified": true});
        let input = UserCreate {
            email: email.into(),
            password: password.into(),
            flags: flags.as_object().cloned().unwrap(),
            fields: Map::new(),
        };
        users.manager().create(input, false, None).await.unwrap();
    }
}

fn password_of(email: &str) -> &'static str {
    match email {
        ARTHUR => "guinevere",
        MERLIN => "viviane",
        _ => "elaine",
    }
}

impl Harness {
    async fn send(&self, request: Request<Body>) -> Reply {
        send_to(&self.router, request).await
    }

    /// A login through `backend` from a client with this `User-Agent`.
    async fn login_as(&self, backend: &str, email: &str, agent: &str) -> Reply {
        let body = format!(
            "username={}&password={}",
            common::urlencode(email),
            password_of(email)
        );
        let request = Request::builder()
            .method(Method::POST)
            .uri(format!("/auth/{backend}/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("user-agent", agent)
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }

    /// A Bearer login's (access token, refresh token).
    async fn login(&self, backend: &str, email: &str) -> (String, String) {
        let reply = self.login_as(backend, email, "test-client/1").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        pair(&reply)
    }

    async fn refresh(&self, backend: &str, token: &str) -> Reply {
        common::call(
            &self.router,
            Method::POST,
            &format!("/auth/{backend}/refresh"),
            None,
            &json!({ "refresh_token": token }).to_string(),
        )
        .await
    }

    async fn call(&self, method: Method, uri: &str, token: &str, body: &str) -> Reply {
        common::call(&self.router, method, uri, Some(token), body).await
    }

    async fn me(&self, token: &str) -> StatusCode {
        self.call(Method::GET, "/users/me", token, "").await.status
    }

    async fn sessions(&self, token: &str) -> Vec<Value> {
        let reply = self.call(Method::GET, "/auth/sessions", token, "").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.json().as_array().unwrap().clone()
    }

    /// The id of the first session `token`'s user lists.
    async fn first_session(&self, token: &str) -> String {
        self.sessions(token).await[0]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn delete(&self, uri: &str, token: &str) -> Reply {
        self.call(Method::DELETE, uri, token, "").await
    }

    async fn user_id(&self, email: &str) -> String {
        let user = self.users.manager().get_by_email(email).await.unwrap();
        user.unwrap().id.to_string()
    }
}

fn pair(reply: &Reply) -> (String, String) {
    let body = reply.json();
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

fn invalid(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    assert_eq!(reply.json(), json!({"detail": "REFRESH_TOKEN_INVALID"}));
}

fn no_grace() -> SessionSettings {
    SessionSettings::new("refresh-secret").grace(Duration::ZERO)
}

fn settings() -> SessionSettings {
    SessionSettings::new("refresh-secret").grace(Duration::from_secs(30))
}

async fn bearer_refresh_rotates_and_reuse_ends_the_session(store: impl TestStore) {
    let app = harness(&store, no_grace()).await;
    let reply = app.login_as("jwt", ARTHUR, "test-client/1").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = reply.json();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["access_token", "token_type", "refresh_token"]);
    assert_eq!(body["token_type"], "bearer");
    let (access, first) = pair(&reply);
    assert_eq!(app.me(&access).await, StatusCode::OK);
    // The access token is the backend's: a JWT of FastAPI Users' claims, 15 minutes.
    let claims = common::payload(&access);
    assert_eq!(claims["aud"], json!(["fastapi-users:auth"]));
    let lifetime = claims["exp"].as_i64().unwrap() - common::now_unix();
    assert!((898..=900).contains(&lifetime), "{lifetime}");

    let reply = app.refresh("jwt", &first).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let (access2, second) = pair(&reply);
    assert_eq!(reply.json()["token_type"], "bearer");
    assert_ne!(second, first);
    assert_eq!(app.me(&access2).await, StatusCode::OK);
    let (_, third) = pair(&app.refresh("jwt", &second).await);

    // The first token again: reuse. The session ends, so the newest token dies with it.
    invalid(&app.refresh("jwt", &first).await);
    invalid(&app.refresh("jwt", &third).await);
    assert_eq!(app.sessions(&access2).await, Vec::<Value>::new());

    // A token of another backend, a forged one, garbage: refused alike.
    let (_, cookie_less) = app.login("jwt", ARTHUR).await;
    invalid(&app.refresh("db", &cookie_less).await);
    let mut forged = cookie_less.clone();
    forged.pop();
    forged.push(if cookie_less.ends_with('A') { 'B' } else { 'A' });
    invalid(&app.refresh("jwt", &forged).await);
    let bumped = {
        let mut parts: Vec<&str> = cookie_less.split('.').collect();
        parts[1] = "1";
        parts.join(".")
    };
    invalid(&app.refresh("jwt", &bumped).await);
    for garbage in ["", "x", "a.b.c", "a.0.b", &"a".repeat(5000)] {
        invalid(&app.refresh("jwt", garbage).await);
    }
    // The forged attempts did not end the real session.
    assert_eq!(
        app.refresh("jwt", &cookie_less).await.status,
        StatusCode::OK
    );
    // Malformed bodies are 422s, as FastAPI answers them.
    let reply = common::call(&app.router, Method::POST, "/auth/jwt/refresh", None, "").await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.json(),
        json!({"detail": [{"type": "missing", "loc": ["body", "refresh_token"],
                           "msg": "Field required", "input": null}]})
    );
    let reply = common::call(
        &app.router,
        Method::POST,
        "/auth/jwt/refresh",
        None,
        r#"{"refresh_token": 5}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.json()["detail"][0]["type"], "string_type");
}

async fn a_retried_refresh_gets_the_same_answer_within_the_grace_period(store: impl TestStore) {
    let app = harness(&store, settings()).await;
    let (_, first) = app.login("jwt", ARTHUR).await;
    let once = app.refresh("jwt", &first).await;
    let again = app.refresh("jwt", &first).await;
    assert_eq!(once.status, StatusCode::OK);
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(once.json(), again.json());
    let (access, second) = pair(&once);
    assert_eq!(app.me(&access).await, StatusCode::OK);
    // The chain goes on from the answer both got.
    let (_, third) = pair(&app.refresh("jwt", &second).await);
    // Two generations back is reuse even within the grace period.
    invalid(&app.refresh("jwt", &first).await);
    invalid(&app.refresh("jwt", &third).await);
}

async fn twenty_concurrent_refreshes_make_one_session(store: impl TestStore) {
    let app = harness(&store, settings()).await;
    let strict = harness(&store, no_grace()).await;
    for round in 0..20 {
        let (access, token) = app.login("jwt", ARTHUR).await;
        let replies =
            futures_util::future::join_all((0..20).map(|_| app.refresh("jwt", &token))).await;
        let first = replies[0].json();
        for reply in &replies {
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "round {round}: {}",
                reply.body
            );
            assert_eq!(reply.json(), first, "round {round}: one answer for all");
        }
        let (_, next) = pair(&replies[0]);
        assert_eq!(app.refresh("jwt", &next).await.status, StatusCode::OK);
        let listed = app.sessions(&access).await;
        let live: Vec<&Value> = listed.iter().filter(|s| s["backend"] == "jwt").collect();
        assert_eq!(live.len(), 1, "round {round}: {listed:?}");
        app.call(Method::POST, "/auth/jwt/logout", &access, "")
            .await;
        app.users
            .manager()
            .revoke_tokens(
                app.users
                    .manager()
                    .get_by_email(ARTHUR)
                    .await
                    .unwrap()
                    .unwrap()
                    .id,
            )
            .await
            .unwrap();

        // Without a grace period the losers are reuse: one winner, and the session ends.
        let (_, token) = strict.login("jwt", ARTHUR).await;
        let replies =
            futures_util::future::join_all((0..20).map(|_| strict.refresh("jwt", &token))).await;
        let ok = replies
            .iter()
            .filter(|r| r.status == StatusCode::OK)
            .count();
        for reply in replies.iter().filter(|r| r.status != StatusCode::OK) {
            invalid(reply);
        }
        assert_eq!(ok, 1, "round {round}: one winner");
        for reply in replies.iter().filter(|r| r.status == StatusCode::OK) {
            invalid(&strict.refresh("jwt", &pair(reply).1).await);
        }
    }
}

async fn cookie_refresh_uses_a_second_cookie(store: impl TestStore) {
    let app = harness(&store, settings()).await;
    let reply = app.login_as("cookie", ARTHUR, "browser").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let cookies: Vec<&str> = reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    let access = cookies[0]
        .strip_prefix("fastapiusersauth=")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        cookies[0],
        format!("fastapiusersauth={access}; HttpOnly; Max-Age=900; Path=/; SameSite=lax; Secure")
    );
    let refresh = cookies[1]
        .strip_prefix("fastapiusersauth_refresh=")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        cookies[1],
        format!(
            "fastapiusersauth_refresh={refresh}; HttpOnly; Max-Age=2592000; Path=/auth/cookie/refresh; \
             SameSite=lax; Secure"
        )
    );
    let with_cookie = |name: &str, value: &str, uri: &str| {
        Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header("cookie", format!("{name}={value}"))
            .body(Body::empty())
            .unwrap()
    };
    let reply = app
        .send(with_cookie(
            "fastapiusersauth_refresh",
            &refresh,
            "/auth/cookie/refresh",
        ))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    assert_eq!(reply.body, "");
    let cookies: Vec<String> = reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(cookies.len(), 2);
    assert!(cookies[0].starts_with("fastapiusersauth="));
    assert!(cookies[1].starts_with("fastapiusersauth_refresh="));
    let new_access = cookies[0][17..].split(';').next().unwrap().to_owned();
    // A refresh from another site's page is refused before the token is spent.
    let mut cross = with_cookie("fastapiusersauth_refresh", &refresh, "/auth/cookie/refresh");
    cross
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    let reply = app.send(cross).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // The old cookie again is reuse: refused, and the answer clears the refresh cookie.
    let reply = app
        .send(with_cookie(
            "fastapiusersauth_refresh",
            &refresh,
            "/auth/cookie/refresh",
        ))
        .await;
    // Within the grace period it is the same answer; outside it would end the session.
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    // Logout ends the session and clears both cookies.
    let logout = Request::builder()
        .method(Method::POST)
        .uri("/auth/cookie/logout")
        .header("cookie", format!("fastapiusersauth={new_access}"))
        .body(Body::empty())
        .unwrap();
    let reply = app.send(logout).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let cleared: Vec<&str> = reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(
        cleared,
        [
            "fastapiusersauth=\"\"; HttpOnly; Max-Age=0; Path=/; SameSite=lax; Secure",
            "fastapiusersauth_refresh=\"\"; HttpOnly; Max-Age=0; Path=/auth/cookie/refresh; \
             SameSite=lax; Secure",
        ]
    );
    let reply = app
        .send(with_cookie(
            "fastapiusersauth_refresh",
            &refresh,
            "/auth/cookie/refresh",
        ))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json(), json!({"detail": "REFRESH_TOKEN_INVALID"}));
    assert_eq!(
        reply.header("set-cookie"),
        Some(
            "fastapiusersauth_refresh=\"\"; HttpOnly; Max-Age=0; Path=/auth/cookie/refresh; \
             SameSite=lax; Secure"
        )
    );
    // No cookie at all.
    let reply = app
        .send(
            Request::builder()
                .method(Method::POST)
                .uri("/auth/cookie/refresh")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

async fn users_list_and_end_their_sessions(store: impl TestStore) {
    let app = harness(&store, settings()).await;
    let laptop = pair(&app.login_as("jwt", ARTHUR, "laptop").await);
    let phone = pair(&app.login_as("db", ARTHUR, "phone").await);
    let plain = app.login_as("plain", ARTHUR, "script").await;
    assert_eq!(plain.status, StatusCode::OK);
    // Without refresh tokens the login answers exactly FastAPI Users' body.
    let plain_body = plain.json();
    let keys: Vec<&str> = plain_body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["access_token", "token_type"]);
    let plain_token = plain_body["access_token"].as_str().unwrap().to_owned();
    let lancelot = app.login("jwt", "lancelot@camelot.bt").await;

    let listed = app.sessions(&laptop.0).await;
    assert_eq!(listed.len(), 3, "{listed:?}");
    let by_agent = |agent: &str| {
        listed
            .iter()
            .find(|s| s["user_agent"] == agent)
            .unwrap_or_else(|| panic!("{agent} in {listed:?}"))
            .clone()
    };
    let laptop_session = by_agent("laptop");
    let now = common::now_unix();
    let created = laptop_session["created_at"].as_str().unwrap();
    let created =
        time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339)
            .unwrap()
            .unix_timestamp();
    assert!((now - 5..=now).contains(&created));
    let expires = time::OffsetDateTime::parse(
        laptop_session["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
    .unix_timestamp();
    assert!((created + 2_592_000..=created + 2_592_001).contains(&expires));
    assert_eq!(
        laptop_session,
        json!({
            "id": laptop_session["id"],
            "backend": "jwt",
            "method": "password",
            "created_at": laptop_session["created_at"],
            "last_used_at": laptop_session["created_at"],
            "expires_at": laptop_session["expires_at"],
            "ip": "127.0.0.1",
            "user_agent": "laptop",
            "refresh": true,
            "current": true,
        })
    );
    assert_eq!(by_agent("phone")["current"], false);
    assert_eq!(by_agent("phone")["backend"], "db");
    assert_eq!(by_agent("script")["refresh"], false);
    // Nothing secret in the list.
    let text = serde_json::to_string(&listed).unwrap();
    for secret in [&laptop.0, &laptop.1, &phone.0, &phone.1, &plain_token] {
        assert!(!text.contains(secret.as_str()));
    }
    // The same list, marked from the phone.
    let from_phone = app.sessions(&phone.0).await;
    let current: Vec<&Value> = from_phone.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["user_agent"], "phone");

    // Ending the phone's session revokes its database token at once and its refresh token.
    let phone_id = by_agent("phone")["id"].as_str().unwrap().to_owned();
    let reply = app
        .delete(&format!("/auth/sessions/{phone_id}"), &laptop.0)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    assert_eq!(reply.body, "");
    assert_eq!(app.me(&phone.0).await, StatusCode::UNAUTHORIZED);
    invalid(&app.refresh("db", &phone.1).await);
    // Twice, someone else's, or no such session: 404.
    for id in [phone_id.as_str(), "nope", &"x".repeat(300)] {
        let reply = app.delete(&format!("/auth/sessions/{id}"), &laptop.0).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert_eq!(reply.json(), json!({"detail": "Not Found"}));
    }
    let lancelot_id = app.first_session(&lancelot.0).await;
    let reply = app
        .delete(&format!("/auth/sessions/{lancelot_id}"), &laptop.0)
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(app.refresh("jwt", &lancelot.1).await.status, StatusCode::OK);

    // "All but this one".
    let tablet = pair(&app.login_as("db", ARTHUR, "tablet").await);
    let reply = app.delete("/auth/sessions", &laptop.0).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let left = app.sessions(&laptop.0).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["user_agent"], "laptop");
    assert_eq!(app.me(&tablet.0).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.me(&laptop.0).await, StatusCode::OK);
    assert_eq!(app.refresh("jwt", &laptop.1).await.status, StatusCode::OK);

    // Without a token: 401.
    let reply = common::call(&app.router, Method::GET, "/auth/sessions", None, "").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.json(), json!({"detail": "Unauthorized"}));
}

async fn superusers_list_and_end_anyones_sessions(store: impl TestStore) {
    let app = harness(&store, settings()).await;
    let arthur = app.login("jwt", ARTHUR).await;
    let arthur_db = app.login("db", ARTHUR).await;
    let merlin = app.login("jwt", MERLIN).await;
    let id = app.user_id(ARTHUR).await;
    let uri = format!("/users/{id}/sessions");

    let reply = app.call(Method::GET, &uri, &arthur.0, "").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.json(), json!({"detail": "Forbidden"}));
    let reply = app.call(Method::GET, &uri, &merlin.0, "").await;
    assert_eq!(reply.status, StatusCode::OK);
    let listed = reply.json();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["current"] == false));
    let db_session = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["backend"] == "db")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = app.delete(&format!("{uri}/{db_session}"), &merlin.0).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(app.me(&arthur_db.0).await, StatusCode::UNAUTHORIZED);
    // Merlin's own session is not Arthur's.
    let merlin_session = app.first_session(&merlin.0).await;
    let reply = app
        .delete(&format!("{uri}/{merlin_session}"), &merlin.0)
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    for missing in [
        "/users/00000000-0000-0000-0000-000000000000/sessions".to_owned(),
        "/users/not-an-id/sessions".to_owned(),
    ] {
        let reply = app.call(Method::GET, &missing, &merlin.0, "").await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{missing}");
    }
    // Ending them all is "log out everywhere" for the user: even the JWT stops at once.
    let reply = app.delete(&uri, &merlin.0).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(app.me(&arthur.0).await, StatusCode::UNAUTHORIZED);
    invalid(&app.refresh("jwt", &arthur.1).await);
    assert_eq!(app.me(&merlin.0).await, StatusCode::OK);
}

async fn every_revocation_path_ends_sessions(store: impl TestStore) {
    let app = harness(&store, settings()).await;
    let merlin = app.login("jwt", MERLIN).await;
    let arthur_id = app.user_id(ARTHUR).await;

    // Logout ends the session it is called with.
    let (access, refresh) = app.login("jwt", ARTHUR).await;
    let reply = app
        .call(Method::POST, "/auth/jwt/logout", &access, "")
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    invalid(&app.refresh("jwt", &refresh).await);
    let (access, refresh) = app.login("db", ARTHUR).await;
    app.call(Method::POST, "/auth/db/logout", &access, "").await;
    invalid(&app.refresh("db", &refresh).await);

    // A password change.
    let (access, refresh) = app.login("jwt", ARTHUR).await;
    let (db_access, db_refresh) = app.login("db", ARTHUR).await;
    let reply = app
        .call(
            Method::PATCH,
            "/users/me",
            &access,
            r#"{"password": "guinevere"}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    invalid(&app.refresh("jwt", &refresh).await);
    invalid(&app.refresh("db", &db_refresh).await);
    assert_eq!(app.me(&db_access).await, StatusCode::UNAUTHORIZED);

    // A reset.
    let (_, refresh) = app.login("jwt", ARTHUR).await;
    let user = app
        .users
        .manager()
        .get_by_email(ARTHUR)
        .await
        .unwrap()
        .unwrap();
    let token = app
        .users
        .manager()
        .forgot_password(&user, None)
        .await
        .unwrap();
    let reply = common::call(
        &app.router,
        Method::POST,
        "/auth/reset-password",
        None,
        &json!({"token": token, "password": "guinevere"}).to_string(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    invalid(&app.refresh("jwt", &refresh).await);

    // "Log out everywhere".
    let (access, refresh) = app.login("jwt", ARTHUR).await;
    let (_, db_refresh) = app.login("db", ARTHUR).await;
    let reply = app
        .call(Method::POST, "/auth/logout-everywhere", &access, "")
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    invalid(&app.refresh("jwt", &refresh).await);
    invalid(&app.refresh("db", &db_refresh).await);

    // Deactivation by a superuser, then reactivation: the old refresh token stays dead.
    let (_, refresh) = app.login("jwt", ARTHUR).await;
    let (db_access, _) = app.login("db", ARTHUR).await;
    let reply = app
        .call(
            Method::PATCH,
            &format!("/users/{arthur_id}"),
            &merlin.0,
            r#"{"is_active": false}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(app.me(&db_access).await, StatusCode::UNAUTHORIZED);
    app.call(
        Method::PATCH,
        &format!("/users/{arthur_id}"),
        &merlin.0,
        r#"{"is_active": true}"#,
    )
    .await;
    invalid(&app.refresh("jwt", &refresh).await);

    // Deletion.
    let (_, refresh) = app.login("jwt", ARTHUR).await;
    let reply = app.delete(&format!("/users/{arthur_id}"), &merlin.0).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    invalid(&app.refresh("jwt", &refresh).await);
}

async fn rotation_revokes_the_previous_database_token(store: impl TestStore) {
    let app = harness(&store, settings()).await;
    let (first_access, refresh) = app.login("db", ARTHUR).await;
    let (second_access, _) = pair(&app.refresh("db", &refresh).await);
    assert_ne!(first_access, second_access);
    assert_eq!(app.me(&first_access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.me(&second_access).await, StatusCode::OK);
}

async fn a_user_keeps_a_bounded_number_of_sessions(store: impl TestStore) {
    let app = harness(&store, settings().max_per_user(3)).await;
    let mut logins = Vec::new();
    for _ in 0..6 {
        logins.push(app.login("db", ARTHUR).await);
        // Distinct seconds order "least recently used" without ties.
        tokio::time::sleep(Duration::from_millis(1010)).await;
    }
    let listed = app.sessions(&logins[5].0).await;
    assert_eq!(listed.len(), 3);
    for (index, (access, refresh)) in logins.iter().enumerate() {
        let expected = if index < 3 {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        };
        assert_eq!(app.me(access).await, expected, "login {index}");
        if index < 3 {
            invalid(&app.refresh("db", refresh).await);
        }
    }
}

/// A session whose refresh token outlived its lifetime is refused, not listed, and deleted by
/// the store's purge (Redis expires it by itself).
async fn expired_sessions_are_refused_and_purged(store: impl TestStore) {
    let users = AxumUsers::builder(store.users())
        .password_hasher(fast_hasher())
        .password_policy(PasswordPolicy::new(3, 0))
        .rate_limits(axum_users::RateLimits::off())
        .sessions(store.sessions(), settings())
        .backend(
            Backend::new(
                "jwt",
                BearerTransport::new("auth/jwt/login"),
                JwtStrategy::new(SECRET, Some(900)),
            )
            // Two seconds: times are whole seconds, so a one-second session can end at once
            // when the login falls at the end of a second.
            .refresh_tokens(Duration::from_secs(2)),
        )
        .build()
        .unwrap();
    seed(&users).await;
    let app = Harness {
        router: users.router(),
        users,
    };
    let (access, refresh) = app.login("jwt", ARTHUR).await;
    let id = app.first_session(&access).await;
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(app.sessions(&access).await, Vec::<Value>::new());
    invalid(&app.refresh("jwt", &refresh).await);
    // The refusal ended it; a purge finds nothing left of it either way.
    let sessions = store.sessions();
    sessions
        .delete_expired_sessions(common::now_unix())
        .await
        .unwrap();
    assert!(sessions.get_session(&id).await.unwrap().is_none());
    // One that is only expired (never presented again) is what the purge deletes.
    let (access, _) = app.login("jwt", ARTHUR).await;
    let id = app.first_session(&access).await;
    tokio::time::sleep(Duration::from_millis(3100)).await;
    sessions
        .delete_expired_sessions(common::now_unix())
        .await
        .unwrap();
    assert!(sessions.get_session(&id).await.unwrap().is_none());
}

async fn two_instances_see_each_others_revocations(one: impl TestStore, two: impl TestStore) {
    let a = harness(&one, settings()).await;
    let b = harness(&two, settings()).await;
    let (access, refresh) = a.login("db", ARTHUR).await;
    assert_eq!(b.me(&access).await, StatusCode::OK);
    let (access, refresh) = pair(&b.refresh("db", &refresh).await);
    let listed = a.sessions(&access).await;
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    let reply = a.delete(&format!("/auth/sessions/{id}"), &access).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(b.me(&access).await, StatusCode::UNAUTHORIZED);
    invalid(&b.refresh("db", &refresh).await);
}

#[tokio::test]
async fn without_sessions_nothing_changes() {
    if common::refresh_mode() {
        // The second pass turns sessions on for every suite; this test is about them off.
        return;
    }
    let app = common::app().await;
    let reply = app
        .form(
            "/auth/jwt/login",
            "username=king.arthur%40camelot.bt&password=guinevere",
        )
        .await;
    let body = reply.json();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["access_token", "token_type"]);
    let token = body["access_token"].as_str().unwrap();
    for (method, uri) in [
        (Method::GET, "/auth/sessions"),
        (Method::POST, "/auth/jwt/refresh"),
        (Method::GET, "/users/me/sessions"),
    ] {
        let reply = app.json(method, uri, Some(token), "{}").await;
        assert!(
            [StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED].contains(&reply.status),
            "{uri}: {}",
            reply.status
        );
    }
    assert!(!app
        .users
        .routes()
        .iter()
        .any(|r| r.path.contains("sessions")));
    assert!(!app
        .users
        .routes()
        .iter()
        .any(|r| r.path.ends_with("/refresh")));
}

#[tokio::test]
async fn refresh_tokens_need_sessions() {
    let store = SqliteStore::connect("sqlite::memory:", UserSchema::new())
        .await
        .unwrap();
    let error = AxumUsers::builder(store)
        .backend(common::jwt_backend().refresh_tokens(Duration::from_secs(60)))
        .build()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "backend \"jwt\" issues refresh tokens: configure .sessions(store, settings) to keep them"
    );
}

/// `TEST_REDIS_URL`, which CI must set.
#[cfg(feature = "redis")]
fn redis_url() -> Option<String> {
    if let Ok(url) = std::env::var("TEST_REDIS_URL") {
        return Some(url);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must run the Redis tests: set TEST_REDIS_URL"
    );
    common::skipped("sessions in redis: TEST_REDIS_URL is not set");
    None
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let file = super::common::SqliteFile::new(stringify!($name));
                    super::$name(file.store().await).await;
                }
            )*

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn two_instances_see_each_others_revocations() {
                let file = super::common::SqliteFile::new("two_instances");
                super::two_instances_see_each_others_revocations(
                    file.store().await,
                    file.store().await,
                )
                .await;
            }
        }

        #[cfg(feature = "redis")]
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(url) = super::redis_url() else {
                        return;
                    };
                    let file = super::common::SqliteFile::new(stringify!($name));
                    let sessions = axum_users::RedisSessionStore::connect(&url)
                        .await
                        .unwrap()
                        .key_prefix(format!("test_sessions_{}:", uuid::Uuid::new_v4().simple()));
                    super::$name(super::SessionsInRedis {
                        users: file.store().await,
                        sessions,
                    })
                    .await;
                }
            )*
        }

        #[cfg(feature = "postgres")]
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let name = stringify!($name);
                    let Some(db) = super::common::pg::Schema::create(
                        &name[..name.len().min(20)],
                        axum_users::UserSchema::new(),
                    )
                    .await
                    else {
                        return;
                    };
                    super::$name(db.store.clone()).await;
                    db.drop().await;
                }
            )*

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn two_instances_see_each_others_revocations() {
                let Some(db) = super::common::pg::Schema::create(
                    "two_instances",
                    axum_users::UserSchema::new(),
                )
                .await
                else {
                    return;
                };
                let second = db.second_pool().await;
                super::two_instances_see_each_others_revocations(db.store.clone(), second)
                    .await;
                db.drop().await;
            }
        }
    };
}

suite!(
    bearer_refresh_rotates_and_reuse_ends_the_session,
    a_retried_refresh_gets_the_same_answer_within_the_grace_period,
    twenty_concurrent_refreshes_make_one_session,
    cookie_refresh_uses_a_second_cookie,
    users_list_and_end_their_sessions,
    superusers_list_and_end_anyones_sessions,
    every_revocation_path_ends_sessions,
    rotation_revokes_the_previous_database_token,
    a_user_keeps_a_bounded_number_of_sessions,
    expired_sessions_are_refused_and_purged,
);
