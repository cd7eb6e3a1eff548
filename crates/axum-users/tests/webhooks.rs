//! Webhooks against a real HTTP receiver on loopback, on SQLite and PostgreSQL: the Standard
//! Webhooks signature (checked here with HMAC-SHA256 independently), the payload, the event
//! filter of each endpoint, retries after the receiver answers 500 with the same `webhook-id`,
//! one user's events delivered in order behind a failing one, and deliveries queued by a
//! process that stopped before sending them, sent by the next one.

#![cfg(feature = "webhooks")]

#[macro_use]
mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use axum_users::{
    AccessTokenStore, AuditSettings, AuditStore, AxumUsers, Backend, BearerTransport, JwtStrategy,
    PasswordPolicy, RateLimits, UserStore, WebhookEndpoint, WebhookSettings, WebhookStore,
};
use base64::Engine as _;
use common::{fast_hasher, SECRET};
use http::Method;
use serde_json::{json, Value};

trait TestStore: UserStore + AccessTokenStore + AuditStore + WebhookStore + Clone + 'static {}
impl<S: UserStore + AccessTokenStore + AuditStore + WebhookStore + Clone + 'static> TestStore
    for S
{
}

/// The receiver's key: Standard Webhooks' `whsec_` form.
const KEY: &[u8] = b"a key only the receiver shares";

fn secret() -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(KEY)
    )
}

/// What the receiver saw, and how many more requests it refuses with 500.
#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Vec<(String, Value, bool)>>>,
    refuse: Arc<Mutex<usize>>,
}

impl Receiver {
    fn seen(&self) -> Vec<(String, Value, bool)> {
        self.seen.lock().unwrap().clone()
    }

    async fn wait_for(&self, count: usize) -> Vec<(String, Value, bool)> {
        for _ in 0..200 {
            let seen = self.seen();
            if seen.len() >= count {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the receiver saw {:?}", self.seen());
    }
}

/// Checks the signature as a receiver would: HMAC-SHA256 over `id.timestamp.body`.
fn signed(headers: &HeaderMap, body: &str) -> bool {
    use hmac::{KeyInit as _, Mac as _};
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let mut mac = hmac::SimpleHmac::<sha2::Sha256>::new_from_slice(KEY).unwrap();
    mac.update(
        format!(
            "{}.{}.{body}",
            header("webhook-id"),
            header("webhook-timestamp")
        )
        .as_bytes(),
    );
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let age = common::now_unix() - header("webhook-timestamp").parse::<i64>().unwrap_or(0);
    header("webhook-signature") == format!("v1,{expected}") && (0..60).contains(&age)
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: String) -> StatusCode {
    let ok = signed(&headers, &body);
    let id = headers["webhook-id"].to_str().unwrap().to_owned();
    receiver
        .seen
        .lock()
        .unwrap()
        .push((id, serde_json::from_str(&body).unwrap(), ok));
    let mut refuse = receiver.refuse.lock().unwrap();
    if *refuse > 0 {
        *refuse -= 1;
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    }
}

async fn serve_receiver(receiver: Receiver) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(receiver);
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/hook")
}

fn app(store: impl TestStore, endpoints: Vec<WebhookEndpoint>) -> (AxumUsers, Router) {
    let mut settings = WebhookSettings::new(endpoints);
    settings.first_retry = Duration::from_millis(100);
    let users = AxumUsers::builder(store.clone())
        .password_hasher(fast_hasher())
        .password_policy(PasswordPolicy::new(3, 0))
        .rate_limits(RateLimits::off())
        .audit(store.clone(), AuditSettings::default())
        .webhooks(store, settings)
        .backend(Backend::new(
            "jwt",
            BearerTransport::new("auth/jwt/login"),
            JwtStrategy::new(SECRET, Some(900)),
        ))
        .build()
        .unwrap();
    let router = users.router();
    (users, router)
}

async fn register(router: &Router, email: &str) {
    let body = json!({"email": email, "password": "holy-grail"}).to_string();
    let reply = common::call(router, Method::POST, "/auth/register", None, &body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
}

async fn login(router: &Router, email: &str, password: &str) {
    let body = format!("username={}&password={password}", common::urlencode(email));
    common::call(router, Method::POST, "/auth/jwt/login", None, &body).await;
}

async fn signed_filtered_and_retried_in_order(store: impl TestStore) {
    let (all, some) = (Receiver::default(), Receiver::default());
    let (all_url, some_url) = (
        serve_receiver(all.clone()).await,
        serve_receiver(some.clone()).await,
    );
    let endpoints = vec![
        WebhookEndpoint::new(&all_url, &secret(), Vec::<String>::new()).unwrap(),
        WebhookEndpoint::new(&some_url, &secret(), ["login.failed"]).unwrap(),
    ];
    let (users, router) = app(store, endpoints);
    // The first two attempts at the first endpoint fail: its later events wait behind it.
    *all.refuse.lock().unwrap() = 2;
    let sender = tokio::spawn({
        let users = users.clone();
        async move { users.deliver_webhooks().await }
    });
    register(&router, "gawain@camelot.bt").await;
    login(&router, "gawain@camelot.bt", "wrong").await;
    login(&router, "gawain@camelot.bt", "holy-grail").await;

    let seen = all.wait_for(5).await;
    let kinds: Vec<&str> = seen
        .iter()
        .map(|(_, body, _)| body["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "user.registered",
            "user.registered",
            "user.registered",
            "login.failed",
            "login.succeeded"
        ]
    );
    assert!(seen.iter().all(|(_, _, ok)| *ok), "{seen:?}");
    // Retries carry the same id (the receiver's idempotency key).
    assert_eq!(seen[0].0, seen[1].0);
    assert_eq!(seen[1].0, seen[2].0);
    assert!(
        seen[0].0.starts_with("msg_") && seen[0].0.ends_with(".0"),
        "{}",
        seen[0].0
    );
    let (_, body, _) = &seen[3];
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["type", "timestamp", "data"]);
    assert_eq!(body["timestamp"], body["data"]["at"]);
    assert_eq!(
        body["data"]["detail"],
        json!({"email": "gawain@camelot.bt", "reason": "bad_credentials"})
    );
    assert!(!body.to_string().contains("wrong"), "{body}");

    // The second endpoint asked for failed logins only.
    let seen = some.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen_again = some.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen_again.len(), 1);
    assert_eq!(seen[0].1["type"], "login.failed");
    assert!(seen[0].0.ends_with(".1"), "{}", seen[0].0);
    sender.abort();
}

async fn queued_deliveries_outlive_the_process(store: impl TestStore) {
    let receiver = Receiver::default();
    let url = serve_receiver(receiver.clone()).await;
    let endpoint = || vec![WebhookEndpoint::new(&url, &secret(), Vec::<String>::new()).unwrap()];
    // A process that records events and stops before sending anything.
    {
        let (_, router) = app(store.clone(), endpoint());
        register(&router, "percival@camelot.bt").await;
        register(&router, "bedivere@camelot.bt").await;
    }
    assert!(receiver.seen().is_empty());
    // The next one sends them.
    let (users, _) = app(store, endpoint());
    let sender = tokio::spawn(async move { users.deliver_webhooks().await });
    let seen = receiver.wait_for(2).await;
    let emails: Vec<&str> = seen
        .iter()
        .map(|(_, body, _)| body["data"]["user_id"].as_str().map_or("", |_| "ok"))
        .collect();
    assert_eq!(emails, ["ok", "ok"]);
    assert!(seen
        .iter()
        .all(|(_, body, ok)| *ok && body["type"] == "user.registered"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.seen().len(), 2, "delivered once each");
    sender.abort();
}

#[test]
fn endpoints_are_checked_when_configured() {
    for (url, secret, events, message) in [
        (
            "ftp://x",
            "k",
            vec![],
            "invalid webhook URL \"ftp://x\": expected http:// or https://",
        ),
        (
            "http://x/h",
            "whsec_***",
            vec![],
            "invalid webhook secret: expected whsec_<base64> or a non-empty string",
        ),
        (
            "http://x/h",
            "",
            vec![],
            "invalid webhook secret: expected whsec_<base64> or a non-empty string",
        ),
        (
            "http://x/h",
            "k",
            vec!["login.maybe"],
            "unknown webhook event type \"login.maybe\"",
        ),
    ] {
        let error = WebhookEndpoint::new(url, secret, events).unwrap_err();
        assert_eq!(error.to_string(), message);
    }
    let endpoint = WebhookEndpoint::new("https://x/h", &secret(), ["user.registered"]).unwrap();
    // Standard Webhooks' own example key and message give its documented signature.
    let example = WebhookEndpoint::new(
        "https://x/h",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        Vec::<String>::new(),
    )
    .unwrap();
    assert_eq!(
        example.signature(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            r#"{"test": 2432232314}"#
        ),
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
    assert_eq!(endpoint.events, ["user.registered"]);
}

/// Instances share the queue: 20 rounds of 20 concurrent claims of one due delivery, one of
/// which gets it (the others find it leased).
async fn a_delivery_is_claimed_once(store: impl TestStore) {
    let now = common::now_unix() * 1000;
    for round in 0..20 {
        let delivery = axum_users::Delivery::new(format!("evt{round:04}.0"), 0, None, "{}".into());
        store.enqueue(&[delivery], now).await.unwrap();
        let claims: Vec<_> = (0..20)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.claim_due(now, now + 60_000, 32).await.unwrap() })
            })
            .collect();
        let mut got = Vec::new();
        for claim in claims {
            got.extend(claim.await.unwrap().into_iter().map(|d| d.id));
        }
        assert_eq!(got, [format!("evt{round:04}.0")], "round {round}");
        store.delivered(&got[0], now).await.unwrap();
    }
}

sql_suite!(
    signed_filtered_and_retried_in_order,
    queued_deliveries_outlive_the_process,
    a_delivery_is_claimed_once,
);

/// The before-registration webhook: it sees the address and custom fields (never the
/// password), signed; it allows, or refuses with a reason; a receiver that fails refuses
/// registrations (503) unless the policy is to let them through.
#[tokio::test]
async fn a_registration_webhook_may_veto() {
    use axum_users::BeforeRegister;
    let seen: Arc<Mutex<Vec<(Value, bool)>>> = Arc::default();
    let receiver = Router::new().route(
        "/before",
        post({
            let seen = seen.clone();
            move |headers: HeaderMap, body: String| {
                let seen = seen.clone();
                async move {
                    let ok = signed(&headers, &body);
                    let body: Value = serde_json::from_str(&body).unwrap();
                    let email = body["data"]["email"].as_str().unwrap_or("").to_owned();
                    seen.lock().unwrap().push((body, ok));
                    match email.as_str() {
                        "mordred@camelot.bt" => (
                            StatusCode::OK,
                            axum::Json(json!({"allow": false, "reason": "a known traitor"})),
                        ),
                        "slow@camelot.bt" => {
                            tokio::time::sleep(Duration::from_secs(5)).await;
                            (StatusCode::OK, axum::Json(json!({"allow": true})))
                        }
                        "broken@camelot.bt" => {
                            (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({})))
                        }
                        _ => (StatusCode::OK, axum::Json(json!({"allow": true}))),
                    }
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/before", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await });
    for fail_open in [false, true] {
        let store =
            axum_users::SqliteStore::connect("sqlite::memory:", axum_users::UserSchema::new())
                .await
                .unwrap();
        store.migrate().await.unwrap();
        let mut before = BeforeRegister::new(
            WebhookEndpoint::new(&url, &secret(), Vec::<String>::new()).unwrap(),
        );
        before.timeout = Duration::from_millis(500);
        before.fail_open = fail_open;
        let mut settings = WebhookSettings::new(Vec::new());
        settings.before_register = Some(before);
        let users = AxumUsers::builder(store.clone())
            .password_hasher(fast_hasher())
            .password_policy(PasswordPolicy::new(3, 0))
            .rate_limits(RateLimits::off())
            .audit(store.clone(), AuditSettings::default())
            .webhooks(store, settings)
            .backend(Backend::new(
                "jwt",
                BearerTransport::new("auth/jwt/login"),
                JwtStrategy::new(SECRET, Some(900)),
            ))
            .build()
            .unwrap();
        let router = users.router();
        let attempt = |email: &str| {
            let body = json!({"email": email, "password": "holy-grail"}).to_string();
            let router = router.clone();
            async move { common::call(&router, Method::POST, "/auth/register", None, &body).await }
        };
        let reply = attempt("arthur@camelot.bt").await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let reply = attempt("mordred@camelot.bt").await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.json(),
            json!({"detail": {"code": "REGISTER_REJECTED", "reason": "a known traitor"}})
        );
        for email in ["slow@camelot.bt", "broken@camelot.bt"] {
            let reply = attempt(email).await;
            if fail_open {
                assert_eq!(reply.status, StatusCode::CREATED, "{email}: {}", reply.body);
            } else {
                assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{email}");
                assert_eq!(reply.json(), json!({"detail": "SERVICE_UNAVAILABLE"}));
            }
        }
        // A refused registration left no user behind.
        let reply = attempt("mordred@camelot.bt").await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    }
    let seen = seen.lock().unwrap().clone();
    assert!(seen.iter().all(|(_, ok)| *ok));
    let (first, _) = &seen[0];
    assert_eq!(first["type"], "user.registering");
    assert_eq!(first["data"]["email"], "arthur@camelot.bt");
    assert_eq!(first["data"]["fields"], json!({}));
    assert_eq!(first["data"]["ip"], "127.0.0.1");
    assert!(!first.to_string().contains("holy-grail"), "{first}");
}
