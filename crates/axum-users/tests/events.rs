//! The audit trail over HTTP, on SQLite and PostgreSQL: what a user's own actions record (with
//! the client address, agent and request id, and never a password or token), failed logins of
//! known and unknown addresses, a lockout, what a superuser does (with the superuser as actor,
//! kept after the user is deleted), the filters and pages of the three routes, their 422s and
//! 401/403s, and the retention purge.

#[macro_use]
mod common;

use std::time::Duration;

use axum::body::Body;
use axum::Router;
use axum_users::{
    AccessTokenStore, AuditSettings, AuditStore, AxumUsers, Backend, Backoff, BearerTransport,
    JwtStrategy, PasswordPolicy, RateLimits, SessionSettings, SessionStore, UserStore,
};
use common::{fast_hasher, send_to, Reply, SECRET};
use http::{Method, Request, StatusCode};
use serde_json::{json, Value};

trait TestStore: UserStore + AccessTokenStore + SessionStore + AuditStore + Clone + 'static {}
impl<S: UserStore + AccessTokenStore + SessionStore + AuditStore + Clone + 'static> TestStore
    for S
{
}

struct App {
    users: AxumUsers,
    router: Router,
}

fn app(store: impl TestStore, retention: Duration) -> App {
    let mut limits = RateLimits::off();
    // One free failure, then each failure locks the address for a minute.
    limits.account = Some(Backoff::new(
        1,
        Duration::from_secs(60),
        Duration::from_secs(60),
    ));
    let users = AxumUsers::builder(store.clone())
        .password_hasher(fast_hasher())
        .password_policy(PasswordPolicy::new(3, 0))
        .rate_limits(limits)
        .sessions(store.clone(), SessionSettings::new("refresh secret"))
        .audit(store, AuditSettings::new(retention))
        .backend(Backend::new(
            "jwt",
            BearerTransport::new("auth/jwt/login"),
            JwtStrategy::new(SECRET, Some(900)),
        ))
        .build()
        .unwrap();
    App {
        router: users.router(),
        users,
    }
}

impl App {
    /// A request as a browser behind nothing sends it: an agent and a request id.
    async fn send(&self, method: Method, uri: &str, token: Option<&str>, body: &str) -> Reply {
        let content_type = if uri.ends_with("/login") {
            "application/x-www-form-urlencoded"
        } else {
            "application/json"
        };
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", content_type)
            .header("user-agent", "Camelot/1.0")
            .header("x-request-id", format!("req-{uri}"));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        send_to(
            &self.router,
            request.body(Body::from(body.to_owned())).unwrap(),
        )
        .await
    }

    async fn register(&self, email: &str, password: &str) -> String {
        let body = json!({"email": email, "password": password}).to_string();
        let reply = self.send(Method::POST, "/auth/register", None, &body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.json()["id"].as_str().unwrap().to_owned()
    }

    async fn login(&self, email: &str, password: &str) -> Reply {
        let body = format!(
            "username={}&password={}",
            common::urlencode(email),
            common::urlencode(password)
        );
        self.send(Method::POST, "/auth/jwt/login", None, &body)
            .await
    }

    async fn token(&self, email: &str, password: &str) -> String {
        let reply = self.login(email, password).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.json()["access_token"].as_str().unwrap().to_owned()
    }

    async fn events(&self, uri: &str, token: &str) -> Value {
        let reply = self.send(Method::GET, uri, Some(token), "").await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.body);
        reply.json()
    }
}

fn types(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

async fn own_trail(store: impl TestStore) {
    let app = app(store, Duration::from_secs(3600));
    let id = app.register("gawain@camelot.bt", "green-knight").await;
    let reply = app.login("gawain@camelot.bt", "wrong-guess").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let token = app.token("gawain@camelot.bt", "green-knight").await;
    let body = json!({"password": "holy-grail", "email": "sir.gawain@camelot.bt"}).to_string();
    let reply = app
        .send(Method::PATCH, "/users/me", Some(&token), &body)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let token = app.token("sir.gawain@camelot.bt", "holy-grail").await;
    let reply = app
        .send(Method::POST, "/auth/jwt/logout", Some(&token), "")
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let token = app.token("sir.gawain@camelot.bt", "holy-grail").await;

    let page = app.events("/users/me/events", &token).await;
    assert_eq!(
        types(&page),
        [
            "login.succeeded",
            "logout",
            "login.succeeded",
            "email.changed",
            "password.changed",
            "user.updated",
            "login.succeeded",
            "login.failed",
            "user.registered",
        ]
    );
    assert_eq!(page["next_cursor"], Value::Null);
    let items = page["items"].as_array().unwrap();
    let registered = &items[8];
    let keys: Vec<&str> = registered
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "type",
            "at",
            "user_id",
            "actor_id",
            "ip",
            "user_agent",
            "request_id",
            "detail"
        ]
    );
    assert_eq!(registered["user_id"], id.as_str());
    assert_eq!(registered["actor_id"], Value::Null);
    assert_eq!(registered["ip"], "127.0.0.1");
    assert_eq!(registered["user_agent"], "Camelot/1.0");
    assert_eq!(registered["request_id"], "req-/auth/register");
    assert_eq!(registered["detail"], json!({}));
    let at = registered["at"].as_str().unwrap();
    assert!(at.len() == 24 && at.ends_with('Z'), "{at}");
    assert_eq!(
        items[7]["detail"],
        json!({"email": "gawain@camelot.bt", "reason": "bad_credentials"})
    );
    assert_eq!(items[7]["user_id"], id.as_str());
    assert_eq!(
        items[6]["detail"],
        json!({"method": "password", "backend": "jwt"})
    );
    assert_eq!(items[5]["detail"], json!({"fields": ["password", "email"]}));
    assert_eq!(
        items[3]["detail"],
        json!({"from": "gawain@camelot.bt", "to": "sir.gawain@camelot.bt"})
    );
    assert_eq!(items[1]["detail"], json!({"backend": "jwt"}));
    // No secret anywhere: passwords, tokens.
    let text = page.to_string();
    for secret in ["green-knight", "holy-grail", "wrong-guess", token.as_str()] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }

    // Filters and pages.
    let page = app
        .events(
            "/users/me/events?type=login.succeeded,logout&limit=2",
            &token,
        )
        .await;
    assert_eq!(types(&page), ["login.succeeded", "logout"]);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let next = app
        .events(
            &format!("/users/me/events?type=login.succeeded&type=logout&limit=2&cursor={cursor}"),
            &token,
        )
        .await;
    assert_eq!(types(&next), ["login.succeeded", "login.succeeded"]);
    let last = app
        .events(
            &format!(
                "/users/me/events?type=login.succeeded,logout&limit=2&cursor={}",
                next["next_cursor"].as_str().unwrap()
            ),
            &token,
        )
        .await;
    assert_eq!(last, json!({"items": [], "next_cursor": null}));
    let page = app
        .events(
            "/users/me/events?since=2000-01-01T00:00:00Z&until=2001-01-01T00:00:00Z",
            &token,
        )
        .await;
    assert_eq!(page, json!({"items": [], "next_cursor": null}));
    let page = app
        .events(
            "/users/me/events?since=2000-01-01T00:00:00Z&limit=100",
            &token,
        )
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 9);

    // Bad queries: 422 with the parameter named; no token: 401; not a superuser: 403.
    for (query, kind) in [
        ("type=login.maybe", "enum"),
        ("limit=0", "less_than_equal"),
        ("limit=101", "less_than_equal"),
        ("since=yesterday", "datetime_from_date_parsing"),
        ("cursor=nothing", "value_error"),
    ] {
        let reply = app
            .send(
                Method::GET,
                &format!("/users/me/events?{query}"),
                Some(&token),
                "",
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        let item = &reply.json()["detail"][0];
        assert_eq!(item["type"], kind, "{query}");
        assert_eq!(item["loc"][0], "query", "{query}");
    }
    let reply = app.send(Method::GET, "/users/me/events", None, "").await;
    assert_eq!(
        (reply.status, reply.json()),
        (StatusCode::UNAUTHORIZED, json!({"detail": "Unauthorized"}))
    );
    for path in ["/events", &format!("/users/{id}/events")] {
        let reply = app.send(Method::GET, path, Some(&token), "").await;
        assert_eq!(
            (reply.status, reply.json()),
            (StatusCode::FORBIDDEN, json!({"detail": "Forbidden"})),
            "{path}"
        );
    }
}

async fn superusers_and_unknown_addresses(store: impl TestStore) {
    let app = app(store.clone(), Duration::from_secs(3600));
    let merlin = app
        .users
        .create_user(json!({
            "email": "merlin@camelot.bt",
            "password": "viviane",
            "is_superuser": true,
        }))
        .await
        .unwrap()
        .id
        .to_string();
    let admin = app.token("merlin@camelot.bt", "viviane").await;
    let mordred = app.register("mordred@camelot.bt", "treachery").await;

    // An unknown address: no user, the address in the detail. A lockout after the free failure.
    assert_eq!(
        app.login("nobody@camelot.bt", "x").await.status,
        StatusCode::BAD_REQUEST
    );
    // A password typed into the address field is not kept.
    assert_eq!(
        app.login("hunter2-my-password", "x").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.login("mordred@camelot.bt", "x").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.login("mordred@camelot.bt", "x").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.login("mordred@camelot.bt", "treachery").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );

    // The superuser bans Mordred, then deletes him: the actor is recorded.
    let path = format!("/users/{mordred}");
    let reply = app
        .send(
            Method::PATCH,
            &path,
            Some(&admin),
            r#"{"is_active": false}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = app.send(Method::DELETE, &path, Some(&admin), "").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);

    let page = app.events(&format!("{path}/events"), &admin).await;
    assert_eq!(
        types(&page),
        [
            "user.deleted",
            "user.updated",
            "login.locked",
            "login.failed",
            "login.failed",
            "user.registered",
        ]
    );
    let items = page["items"].as_array().unwrap();
    assert_eq!(items[0]["actor_id"], merlin.as_str());
    assert_eq!(items[0]["detail"], json!({"email": "mordred@camelot.bt"}));
    assert_eq!(items[1]["actor_id"], merlin.as_str());
    assert_eq!(items[1]["detail"], json!({"fields": ["is_active"]}));
    assert_eq!(items[2]["detail"], json!({"email": "mordred@camelot.bt"}));
    assert_eq!(items[3]["actor_id"], Value::Null);

    let all = app.events("/events?type=login.failed", &admin).await;
    let failed: Vec<(Value, Value)> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["user_id"].clone(), e["detail"]["email"].clone()))
        .collect();
    assert_eq!(
        failed,
        [
            (json!(mordred), json!("mordred@camelot.bt")),
            (json!(mordred), json!("mordred@camelot.bt")),
            (Value::Null, Value::Null),
            (Value::Null, json!("nobody@camelot.bt")),
        ]
    );
    assert!(!all.to_string().contains("hunter2"), "{all}");
    let reply = app
        .send(Method::GET, "/users/not-an-id/events", Some(&admin), "")
        .await;
    assert_eq!(
        (reply.status, reply.json()),
        (StatusCode::NOT_FOUND, json!({"detail": "Not Found"}))
    );

    // Retention: nothing is older than an hour yet; with none kept, all goes.
    assert_eq!(app.users.purge_events().await.unwrap(), 0);
    let none = app_with_no_retention(store).await;
    assert_eq!(none, 9);
    assert_eq!(
        app.events("/events", &admin).await,
        json!({"items": [], "next_cursor": null})
    );
}

async fn app_with_no_retention(store: impl TestStore) -> u64 {
    tokio::time::sleep(Duration::from_millis(5)).await;
    app(store, Duration::ZERO)
        .users
        .purge_events()
        .await
        .unwrap()
}

sql_suite!(own_trail, superusers_and_unknown_addresses);
