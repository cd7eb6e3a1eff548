//! Races over HTTP, on SQLite (a file shared by several connections) and PostgreSQL: every write
//! the server acknowledges stands, single-use tokens are spent once, no session minted from an
//! old password survives its change, and one address is one account. Each race runs 20 times.

#[macro_use]
mod common;

use axum::body::Body;
use axum::Router;
use axum_users::RateLimits;
use axum_users::UserCreate;
use axum_users::{AccessTokenStore, UserPatch, UserStore};
use axum_users::{AxumUsers, PasswordPolicy, SqliteStore, User};
use axum_users::{Backend, BearerTransport, DatabaseStrategy};
use common::{fast_hasher, jwt_backend, send_to, urlencode, Reply, BCRYPT_GUINEVERE};
use http::{Method, Request, StatusCode};
use serde_json::{json, Value};

const ROUNDS: usize = 20;

trait Store: UserStore + AccessTokenStore + Clone + 'static {}
impl<T: UserStore + AccessTokenStore + Clone + 'static> Store for T {}

struct App {
    users: AxumUsers,
    router: Router,
}

fn app<S: Store>(store: S) -> App {
    let tokens = DatabaseStrategy::new(store.clone(), Some(3600));
    app_with_sessions(
        store,
        Backend::new("db", BearerTransport::new("auth/db/login"), tokens),
    )
}

/// The app with JWTs (backend `jwt`) and `sessions`, a stateful backend named `db`.
fn app_with_sessions<S: Store>(store: S, sessions: Backend) -> App {
    let users = AxumUsers::builder(store)
        .rate_limits(RateLimits::off())
        .password_hasher(fast_hasher())
        .password_policy(PasswordPolicy::new(3, 0))
        .backend(jwt_backend())
        .backend(sessions)
        .build()
        .unwrap();
    let router = users.router();
    App { users, router }
}

impl App {
    async fn call(&self, method: Method, uri: &str, token: Option<&str>, body: Value) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        send_to(&self.router, request).await
    }

    async fn login(&self, backend: &str, email: &str, password: &str) -> Reply {
        let body = format!(
            "username={}&password={}",
            urlencode(email),
            urlencode(password)
        );
        let request = Request::post(format!("/auth/{backend}/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        send_to(&self.router, request).await
    }

    async fn token(&self, email: &str, password: &str) -> String {
        let reply = self.login("jwt", email, password).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.json()["access_token"].as_str().unwrap().to_owned()
    }

    async fn register(&self, email: &str, password: &str) -> User {
        let body = json!({"email": email, "password": password});
        let reply = self.call(Method::POST, "/auth/register", None, body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        self.users
            .manager()
            .get_by_email(email)
            .await
            .unwrap()
            .unwrap()
    }

    async fn superuser(&self, email: &str, password: &str) -> String {
        let input = UserCreate {
            email: email.into(),
            password: password.into(),
            flags: json!({"is_superuser": true}).as_object().cloned().unwrap(),
            fields: Default::default(),
        };
        self.users
            .manager()
            .create(input, false, None)
            .await
            .unwrap();
        self.token(email, password).await
    }
}

fn detail(code: &str) -> String {
    json!({ "detail": code }).to_string()
}

/// An admin's ban races the user's own password change: the ban stands, whichever write comes
/// first, and the banned user logs in with neither password.
async fn ban_beats_own_password_change<S: Store>(store: S) {
    let app = app(store);
    let admin = app.superuser("merlin@camelot.bt", "viviane").await;
    for round in 0..ROUNDS {
        let email = format!("mordred{round}@camelot.bt");
        let user = app.register(&email, "old-pass").await;
        let token = app.token(&email, "old-pass").await;
        let uri = format!("/users/{}", user.id);
        let (ban, own) = tokio::join!(
            app.call(
                Method::PATCH,
                &uri,
                Some(&admin),
                json!({"is_active": false})
            ),
            app.call(
                Method::PATCH,
                "/users/me",
                Some(&token),
                json!({"password": "new-pass"})
            ),
        );
        assert_eq!(ban.status, StatusCode::OK, "round {round}: {}", ban.body);
        assert_eq!(ban.json()["is_active"], false);
        assert!(
            own.status == StatusCode::OK || own.status == StatusCode::UNAUTHORIZED,
            "round {round}: {} {}",
            own.status,
            own.body
        );
        let stored = app.call(Method::GET, &uri, Some(&admin), json!({})).await;
        assert_eq!(
            stored.json()["is_active"],
            false,
            "round {round}: the ban was lost"
        );
        for password in ["old-pass", "new-pass"] {
            let login = app.login("jwt", &email, password).await;
            assert_eq!(login.status, StatusCode::BAD_REQUEST, "round {round}");
            assert_eq!(login.body, detail("LOGIN_BAD_CREDENTIALS"));
        }
    }
}

/// An admin's demotion and e-mail change race the user's own password change: all three stand.
async fn demotion_and_email_change_stand<S: Store>(store: S) {
    let app = app(store);
    let admin = app.superuser("merlin@camelot.bt", "viviane").await;
    for round in 0..ROUNDS {
        let email = format!("morgan{round}@camelot.bt");
        let moved = format!("morgan{round}@avalon.bt");
        let token = app.superuser(&email, "old-pass").await;
        let id = app
            .users
            .manager()
            .get_by_email(&email)
            .await
            .unwrap()
            .unwrap()
            .id;
        let uri = format!("/users/{id}");
        let (demote, own) = tokio::join!(
            app.call(
                Method::PATCH,
                &uri,
                Some(&admin),
                json!({"is_superuser": false, "email": moved})
            ),
            app.call(
                Method::PATCH,
                "/users/me",
                Some(&token),
                json!({"password": "new-pass"})
            ),
        );
        assert_eq!(
            demote.status,
            StatusCode::OK,
            "round {round}: {}",
            demote.body
        );
        assert_eq!(own.status, StatusCode::OK, "round {round}: {}", own.body);
        let stored = app.call(Method::GET, &uri, Some(&admin), json!({})).await;
        assert_eq!(stored.json()["is_superuser"], false, "round {round}");
        assert_eq!(stored.json()["email"], moved.as_str(), "round {round}");
        assert_eq!(
            app.login("jwt", &moved, "new-pass").await.status,
            StatusCode::OK
        );
        assert_eq!(
            app.login("jwt", &moved, "old-pass").await.status,
            StatusCode::BAD_REQUEST
        );
    }
}

/// One reset token, 20 requests at once with 20 passwords: one is told yes, and its password is
/// the one in force; the 19 others are told the token is spent.
async fn reset_token_is_spent_once<S: Store>(store: S) {
    let app = app(store);
    for round in 0..ROUNDS {
        let email = format!("gawain{round}@camelot.bt");
        let user = app.register(&email, "old-pass").await;
        let token = app
            .users
            .manager()
            .forgot_password(&user, None)
            .await
            .unwrap();
        let attempts = (0..20).map(|i| {
            let body = json!({"token": token, "password": format!("pass-{i}")});
            app.call(Method::POST, "/auth/reset-password", None, body)
        });
        let replies = futures_util::future::join_all(attempts).await;
        let winners: Vec<usize> = (0..20)
            .filter(|&i| replies[i].status == StatusCode::OK)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {winners:?} succeeded");
        let winner = winners[0];
        assert_eq!(replies[winner].body, "null");
        for (i, reply) in replies.iter().enumerate().filter(|&(i, _)| i != winner) {
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "round {round}, {i}");
            assert_eq!(reply.body, detail("RESET_PASSWORD_BAD_TOKEN"));
        }
        let won = format!("pass-{winner}");
        assert_eq!(app.login("jwt", &email, &won).await.status, StatusCode::OK);
        let lost = format!("pass-{}", (winner + 1) % 20);
        assert_eq!(
            app.login("jwt", &email, &lost).await.status,
            StatusCode::BAD_REQUEST
        );
    }
}

/// One verification token, 20 requests at once: one 200, then FastAPI Users' answer for a
/// verified user.
async fn verify_token_is_spent_once<S: Store>(store: S) {
    let app = app(store);
    for round in 0..ROUNDS {
        let email = format!("gareth{round}@camelot.bt");
        let user = app.register(&email, "old-pass").await;
        let token = app.users.manager().verification_token(&user).unwrap();
        let attempts =
            (0..20).map(|_| app.call(Method::POST, "/auth/verify", None, json!({"token": token})));
        let replies = futures_util::future::join_all(attempts).await;
        let ok: Vec<&Reply> = replies
            .iter()
            .filter(|r| r.status == StatusCode::OK)
            .collect();
        assert_eq!(ok.len(), 1, "round {round}");
        assert_eq!(ok[0].json()["is_verified"], true);
        for reply in replies.iter().filter(|r| r.status != StatusCode::OK) {
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "round {round}");
            assert_eq!(reply.body, detail("VERIFY_USER_ALREADY_VERIFIED"));
        }
    }
}

/// The verification link (`GET /auth/verify?token=...`), 20 clicks at once: one "verified"
/// page, the others say it was verified already.
async fn verify_link_is_spent_once<S: Store>(store: S) {
    let app = app(store);
    for round in 0..ROUNDS {
        let email = format!("gaheris{round}@camelot.bt");
        let user = app.register(&email, "old-pass").await;
        let token = app.users.manager().verification_token(&user).unwrap();
        let uri = format!("/auth/verify?token={token}");
        let clicks = (0..20).map(|_| app.call(Method::GET, &uri, None, Value::Null));
        let replies = futures_util::future::join_all(clicks).await;
        let statuses: Vec<StatusCode> = replies.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == StatusCode::OK).count(),
            1,
            "round {round}: {statuses:?}"
        );
        for reply in replies.iter().filter(|r| r.status != StatusCode::OK) {
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "round {round}");
            assert!(
                reply
                    .body
                    .contains("<p>This e-mail address was verified already.</p>"),
                "round {round}: {}",
                reply.body
            );
        }
    }
}

/// A database-token login with the old password races the password change: once both have
/// answered, no token minted from the old password works.
async fn no_session_survives_a_password_change<S: Store>(store: S) {
    sessions_end_with_the_password(app(store)).await;
}

/// The same race with Redis tokens.
#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_sessions_end_with_the_password() {
    let Ok(url) = std::env::var("TEST_REDIS_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set TEST_REDIS_URL"
        );
        common::skipped("redis_sessions_end_with_the_password: TEST_REDIS_URL is not set");
        return;
    };
    let file = common::SqliteFile::new("redis-sessions");
    let prefix = format!("axum_users_test_{}:", uuid::Uuid::new_v4().simple());
    let tokens = axum_users::RedisStrategy::connect(&url, Some(3600))
        .await
        .unwrap()
        .key_prefix(prefix);
    let sessions = Backend::new("db", BearerTransport::new("auth/db/login"), tokens);
    sessions_end_with_the_password(app_with_sessions(file.store().await, sessions)).await;
}

async fn sessions_end_with_the_password(app: App) {
    for round in 0..ROUNDS {
        let email = format!("bors{round}@camelot.bt");
        app.register(&email, "old-pass").await;
        let token = app.token(&email, "old-pass").await;
        let (login, change) = tokio::join!(
            app.login("db", &email, "old-pass"),
            app.call(
                Method::PATCH,
                "/users/me",
                Some(&token),
                json!({"password": "new-pass"})
            ),
        );
        assert_eq!(
            change.status,
            StatusCode::OK,
            "round {round}: {}",
            change.body
        );
        match login.status {
            StatusCode::OK => {
                let session = login.json()["access_token"].as_str().unwrap().to_owned();
                let me = app
                    .call(Method::GET, "/users/me", Some(&session), json!({}))
                    .await;
                assert_eq!(
                    me.status,
                    StatusCode::UNAUTHORIZED,
                    "round {round}: survived"
                );
                assert_eq!(me.body, detail("Unauthorized"));
            }
            status => {
                assert_eq!(status, StatusCode::BAD_REQUEST, "round {round}");
                assert_eq!(login.body, detail("LOGIN_BAD_CREDENTIALS"));
            }
        }
    }
}

/// A login that upgrades a bcrypt hash races an admin's password change: the upgrade never
/// writes the old password back.
async fn hash_upgrade_never_undoes_a_password_change<S: Store>(store: S) {
    let app = app(store.clone());
    let admin = app.superuser("merlin@camelot.bt", "viviane").await;
    for round in 0..ROUNDS {
        let email = format!("guinevere{round}@camelot.bt");
        let user = app.register(&email, "placeholder").await;
        let legacy = UserPatch::default().hashed_password(BCRYPT_GUINEVERE);
        store.update(user.id, &legacy).await.unwrap().unwrap();
        let uri = format!("/users/{}", user.id);
        let (login, change) = tokio::join!(
            app.login("jwt", &email, "guinevere"),
            app.call(
                Method::PATCH,
                &uri,
                Some(&admin),
                json!({"password": "new-pass"})
            ),
        );
        assert_eq!(change.status, StatusCode::OK, "round {round}");
        assert!(
            login.status == StatusCode::OK || login.status == StatusCode::BAD_REQUEST,
            "round {round}: {}",
            login.status
        );
        assert_eq!(
            app.login("jwt", &email, "new-pass").await.status,
            StatusCode::OK,
            "round {round}: the password change was undone"
        );
        assert_eq!(
            app.login("jwt", &email, "guinevere").await.status,
            StatusCode::BAD_REQUEST
        );
    }
}

/// Two registrations of one address in two letter cases (non-ASCII, which SQLite's `lower()`
/// does not fold) race: one account.
async fn one_account_per_address_under_a_race<S: Store>(store: S) {
    let app = app(store);
    for round in 0..ROUNDS {
        let lower = json!({"email": format!("ünï{round}@camelot.bt"), "password": "grail"});
        let upper = json!({"email": format!("ÜNÏ{round}@camelot.bt"), "password": "grail"});
        let (a, b) = tokio::join!(
            app.call(Method::POST, "/auth/register", None, lower),
            app.call(Method::POST, "/auth/register", None, upper),
        );
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::CREATED, StatusCode::BAD_REQUEST],
            "round {round}"
        );
        let refused = if a.status == StatusCode::BAD_REQUEST {
            a
        } else {
            b
        };
        assert_eq!(refused.body, detail("REGISTER_USER_ALREADY_EXISTS"));
    }
}

/// Addresses that are one mailbox for a person or for Unicode are one account: NFC and NFD,
/// fullwidth letters, the Kelvin sign, `İ` in both cases, the `ﬃ` ligature.
async fn one_account_per_unicode_address<S: Store>(store: S) {
    let app = app(store);
    let pairs = [
        ("\u{e9}tienne@camelot.bt", "e\u{301}tienne@camelot.bt"),
        (
            "john@camelot.bt",
            "\u{ff2a}\u{ff4f}\u{ff48}\u{ff4e}@camelot.bt",
        ),
        ("kay@camelot.bt", "\u{212a}ay@camelot.bt"),
        ("\u{130}lyas@camelot.bt", "i\u{307}lyas@camelot.bt"),
        ("office@camelot.bt", "o\u{fb03}ce@camelot.bt"),
        ("ünï@camelot.bt", "ÜNÏ@camelot.bt"),
    ];
    for (first, second) in pairs {
        let body = |email: &str| json!({"email": email, "password": "grail"});
        let created = app
            .call(Method::POST, "/auth/register", None, body(first))
            .await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{first}: {}",
            created.body
        );
        let again = app
            .call(Method::POST, "/auth/register", None, body(second))
            .await;
        assert_eq!(
            again.status,
            StatusCode::BAD_REQUEST,
            "{second}: {}",
            again.body
        );
        assert_eq!(again.body, detail("REGISTER_USER_ALREADY_EXISTS"));
        // The other spelling finds the account at login too.
        assert_eq!(
            app.login("jwt", second, "grail").await.status,
            StatusCode::OK
        );
    }
    // Stored in NFC, as email-validator normalises it.
    let nfd = app
        .users
        .manager()
        .get_by_email("e\u{301}tienne@camelot.bt")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(nfd.email, "\u{e9}tienne@camelot.bt");
}

/// Rows that FastAPI Users wrote (no e-mail key) are found by every spelling; at the next
/// migration they get their key, and two rows that turn out to be one address are both kept:
/// the older one gets the key, the other keeps none (a warning says so).
async fn legacy_rows_get_their_keys<S: Store + Legacy>(store: S) {
    // NFC and NFD: lower() in neither database makes them equal.
    let older = User::new("\u{e9}tienne@camelot.bt", "x");
    let newer = User::new("e\u{301}tienne@camelot.bt", "x");
    store.insert_without_key(&older).await;
    store.insert_without_key(&newer).await;
    let found = store
        .get_by_email("\u{c9}tienne@camelot.bt")
        .await
        .unwrap()
        .unwrap();
    assert!(found.id == older.id || found.id == newer.id);
    store.migrate_again().await;
    for spelling in ["\u{e9}tienne@camelot.bt", "E\u{301}tienne@camelot.bt"] {
        let found = store.get_by_email(spelling).await.unwrap().unwrap();
        assert_eq!(found.id, older.id, "{spelling}");
    }
    assert!(
        store.get(newer.id).await.unwrap().is_some(),
        "no row is lost"
    );
    let app = app(store);
    let body = json!({"email": "\u{c9}tienne@camelot.bt", "password": "grail"});
    let again = app.call(Method::POST, "/auth/register", None, body).await;
    assert_eq!(again.body, detail("REGISTER_USER_ALREADY_EXISTS"));
}

/// Writes as FastAPI Users does, without the e-mail key.
trait Legacy {
    async fn insert_without_key(&self, user: &User);
    async fn migrate_again(&self);
}

impl Legacy for SqliteStore {
    async fn insert_without_key(&self, user: &User) {
        sqlx::query(
            "INSERT INTO user (id, email, hashed_password, is_active, is_superuser, is_verified) \
             VALUES (?, ?, ?, 1, 0, 0)",
        )
        .bind(user.id.to_string())
        .bind(&user.email)
        .bind(&user.hashed_password)
        .execute(self.pool())
        .await
        .unwrap();
    }
    async fn migrate_again(&self) {
        self.migrate().await.unwrap();
    }
}

#[cfg(feature = "postgres")]
impl Legacy for axum_users::PostgresStore {
    async fn insert_without_key(&self, user: &User) {
        sqlx::query(
            "INSERT INTO \"user\" (id, email, hashed_password, is_active, is_superuser, \
             is_verified) VALUES ($1::uuid, $2, $3, true, false, false)",
        )
        .bind(user.id.to_string())
        .bind(&user.email)
        .bind(&user.hashed_password)
        .execute(self.pool())
        .await
        .unwrap();
    }
    async fn migrate_again(&self) {
        self.migrate().await.unwrap();
    }
}

sql_suite!(
    ban_beats_own_password_change,
    demotion_and_email_change_stand,
    reset_token_is_spent_once,
    verify_token_is_spent_once,
    verify_link_is_spent_once,
    no_session_survives_a_password_change,
    hash_upgrade_never_undoes_a_password_change,
    one_account_per_address_under_a_race,
    one_account_per_unicode_address,
    legacy_rows_get_their_keys,
);
