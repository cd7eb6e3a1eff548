//! `GET /users`: superusers page through, search and filter the users, on SQLite and
//! PostgreSQL, over HTTP.

mod common;

use axum::Router;
use axum_users::{
    AxumUsers, CustomField, PasswordPolicy, SqliteStore, User, UserSchema, UserStore,
};
use common::{call, fast_hasher, jwt_backend};
use http::{Method, StatusCode};
use serde_json::{json, Value};

fn schema() -> UserSchema {
    UserSchema::new().field(CustomField::string("first_name"))
}

/// The knights, a banned one, an unverified superuser, and two addresses that tell `%` and `_`
/// from wildcards.
const KNIGHTS: [(&str, &str, bool, bool); 8] = [
    ("arthur@camelot.bt", "Arthur", true, false),
    ("bedivere@camelot.bt", "Bedivere", true, false),
    ("gawain@camelot.bt", "Gawain", true, false),
    ("galahad@camelot.bt", "Galahad", true, false),
    ("lancelot@camelot.bt", "Lancelot", true, false),
    ("mordred@camelot.bt", "Mordred", false, false),
    ("sir_kay@camelot.bt", "Kay", true, false),
    ("sirokay@camelot.bt", "Okay", true, false),
];

async fn app<S: UserStore + Clone + 'static>(store: S) -> (AxumUsers, Router) {
    let users = AxumUsers::builder(store)
        .rate_limits(axum_users::RateLimits::off())
        .password_hasher(fast_hasher())
        .password_policy(PasswordPolicy::new(3, 0))
        .backend(jwt_backend())
        .build()
        .unwrap();
    for (email, name, active, superuser) in KNIGHTS {
        users
            .create_user(
                json!({"email": email, "password": "grail", "first_name": name,
                                "is_active": active, "is_superuser": superuser}),
            )
            .await
            .unwrap();
    }
    users
        .create_user(json!({"email": "merlin@camelot.bt", "password": "grail",
                            "first_name": "Merlin", "is_superuser": true}))
        .await
        .unwrap();
    let router = users.router();
    (users, router)
}

async fn login(router: &Router, email: &str) -> String {
    login_with(router, email, "grail").await
}

async fn login_with(router: &Router, email: &str, password: &str) -> String {
    let reply = call(
        router,
        Method::POST,
        "/auth/jwt/login",
        None,
        &format!("username={email}&password={password}"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.json()["access_token"].as_str().unwrap().to_owned()
}

async fn read<S: UserStore>(store: &S, emails: &[&str]) -> Vec<Value> {
    let mut read = Vec::new();
    for email in emails {
        let user: User = store.get_by_email(email).await.unwrap().unwrap();
        read.push(user.to_read());
    }
    read
}

async fn listing<S: UserStore + Clone + 'static>(store: S) {
    let (_, router) = app(store.clone()).await;
    let merlin = login(&router, "merlin@camelot.bt").await;
    let arthur = login(&router, "arthur@camelot.bt").await;
    let get = |uri: &str, token: Option<&str>| {
        let (router, uri, token) = (router.clone(), uri.to_owned(), token.map(str::to_owned));
        async move { call(&router, Method::GET, &uri, token.as_deref(), "").await }
    };

    // Superusers only.
    let reply = get("/users", None).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::UNAUTHORIZED, r#"{"detail":"Unauthorized"}"#)
    );
    let reply = get("/users", Some(&arthur)).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::FORBIDDEN, r#"{"detail":"Forbidden"}"#)
    );

    // Pages in e-mail order, with the total on each.
    let everyone = [
        "arthur@camelot.bt",
        "bedivere@camelot.bt",
        "galahad@camelot.bt",
        "gawain@camelot.bt",
        "lancelot@camelot.bt",
        "merlin@camelot.bt",
        "mordred@camelot.bt",
        "sir_kay@camelot.bt",
        "sirokay@camelot.bt",
    ];
    for (uri, emails, page, size) in [
        ("/users?size=4", &everyone[..4], 1, 4),
        ("/users?size=4&page=2", &everyone[4..8], 2, 4),
        ("/users?size=4&page=3", &everyone[8..], 3, 4),
        ("/users?size=4&page=4", &everyone[..0], 4, 4),
        ("/users", &everyone[..], 1, 50),
    ] {
        let reply = get(uri, Some(&merlin)).await;
        let pages = 9u64.div_ceil(size);
        let want = json!({"items": read(&store, emails).await, "total": 9, "page": page,
                          "size": size, "pages": pages});
        assert_eq!(
            (reply.status, reply.json()),
            (StatusCode::OK, want),
            "{uri}"
        );
    }

    // Search and filters.
    let mut reversed = everyone;
    reversed.reverse();
    for (uri, emails) in [
        ("/users?email=R_K", &["sir_kay@camelot.bt"][..]),
        ("/users?email=%25", &[][..]),
        (
            "/users?email=GA",
            &["galahad@camelot.bt", "gawain@camelot.bt"][..],
        ),
        ("/users?is_active=false", &["mordred@camelot.bt"][..]),
        ("/users?is_superuser=yes", &["merlin@camelot.bt"][..]),
        (
            "/users?is_active=1&email=sir",
            &["sir_kay@camelot.bt", "sirokay@camelot.bt"][..],
        ),
        ("/users?first_name=Lancelot", &["lancelot@camelot.bt"][..]),
        ("/users?first_name=lancelot", &[][..]),
        ("/users?sort=-email&nonsense=1", &reversed[..]),
    ] {
        let reply = get(uri, Some(&merlin)).await;
        let total = emails.len();
        let want = json!({"items": read(&store, emails).await, "total": total, "page": 1,
                          "size": 50, "pages": total.div_ceil(50)});
        assert_eq!(
            (reply.status, reply.json()),
            (StatusCode::OK, want),
            "{uri}"
        );
    }

    // What does not parse is a 422 in FastAPI's shape; the bounds hold.
    let long = "a".repeat(321);
    for (uri, want) in [
        (
            "/users?page=0",
            json!({"type": "greater_than_equal", "loc": ["query", "page"], "msg": "Input should be greater than or equal to 1", "input": "0", "ctx": {"ge": 1}}),
        ),
        (
            "/users?page=1001",
            json!({"type": "less_than_equal", "loc": ["query", "page"], "msg": "Input should be less than or equal to 1000", "input": "1001", "ctx": {"le": 1000}}),
        ),
        (
            "/users?size=101",
            json!({"type": "less_than_equal", "loc": ["query", "size"], "msg": "Input should be less than or equal to 100", "input": "101", "ctx": {"le": 100}}),
        ),
        (
            "/users?size=ten",
            json!({"type": "int_parsing", "loc": ["query", "size"], "msg": "Input should be a valid integer, unable to parse string as an integer", "input": "ten"}),
        ),
        (
            "/users?sort=name",
            json!({"type": "literal_error", "loc": ["query", "sort"], "msg": "Input should be 'email' or '-email'", "input": "name", "ctx": {"expected": "'email' or '-email'"}}),
        ),
        (
            "/users?is_active=maybe",
            json!({"type": "bool_parsing", "loc": ["query", "is_active"], "msg": "Input should be a valid boolean, unable to interpret input", "input": "maybe"}),
        ),
        (
            &format!("/users?email={long}")[..],
            json!({"type": "string_too_long", "loc": ["query", "email"], "msg": "String should have at most 320 characters", "input": long, "ctx": {"max_length": 320}}),
        ),
    ] {
        let reply = get(uri, Some(&merlin)).await;
        assert_eq!(
            (reply.status, reply.json()),
            (StatusCode::UNPROCESSABLE_ENTITY, json!({"detail": [want]})),
            "{uri}"
        );
    }
}

/// `POST /users` and `POST /users/{id}/reset-password`: an invited user (no password) gets a
/// reset link and signs in with the password they choose; a given password works at once.
async fn creating<S: UserStore + Clone + 'static>(store: S) {
    let mailer = axum_users::MemoryMailer::new();
    let users = AxumUsers::builder(store.clone())
        .rate_limits(axum_users::RateLimits::off())
        .password_hasher(fast_hasher())
        .password_policy(PasswordPolicy::new(3, 0))
        .backend(jwt_backend())
        .mailer(mailer.clone())
        .build()
        .unwrap();
    users
        .create_user(
            json!({"email": "merlin@camelot.bt", "password": "grail", "is_superuser": true}),
        )
        .await
        .unwrap();
    let router = users.router();
    let merlin = login(&router, "merlin@camelot.bt").await;
    let post = |uri: &str, token: Option<&str>, body: &str| {
        let (router, uri, token, body) = (
            router.clone(),
            uri.to_owned(),
            token.map(str::to_owned),
            body.to_owned(),
        );
        async move { call(&router, Method::POST, &uri, token.as_deref(), &body).await }
    };
    let read = |id: &str, email: &str, verified: bool| {
        json!({"id": id, "email": email, "is_active": true, "is_superuser": false,
               "is_verified": verified, "first_name": null})
    };

    // Superusers only, as every admin route.
    let body = r#"{"email":"percival@camelot.bt"}"#;
    let reply = post("/users", None, body).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::UNAUTHORIZED, r#"{"detail":"Unauthorized"}"#)
    );

    // An invitation: verified, no password, a reset link to choose one.
    let reply = post(
        "/users",
        Some(&merlin),
        r#"{"email":"Percival@Camelot.BT","is_verified":true}"#,
    )
    .await;
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (reply.status, reply.json()),
        (StatusCode::CREATED, read(&id, "Percival@camelot.bt", true))
    );
    users.wait_background().await;
    let mails = mailer.take();
    assert_eq!(
        mails
            .iter()
            .map(|m| (m.kind.clone(), m.to.as_str()))
            .collect::<Vec<_>>(),
        [(axum_users::MailKind::Reset, "Percival@camelot.bt")]
    );
    let token = common::token_in(&mails[0].text).unwrap().to_owned();
    let reset = json!({"token": token, "password": "holy-grail"}).to_string();
    let reply = post("/auth/reset-password", None, &reset).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::OK, "null")
    );
    let reply = call(
        &router,
        Method::POST,
        "/auth/jwt/login",
        None,
        "username=percival@camelot.bt&password=holy-grail",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    // With a password: usable at once, no e-mail; the usual refusals.
    let reply = post(
        "/users",
        Some(&merlin),
        r#"{"email":"bors@camelot.bt","password":"corbenic"}"#,
    )
    .await;
    let bors = reply.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (reply.status, reply.json()),
        (StatusCode::CREATED, read(&bors, "bors@camelot.bt", false))
    );
    users.wait_background().await;
    assert!(mailer.take().is_empty());
    login_with(&router, "bors@camelot.bt", "corbenic").await;
    let reply = post("/users", Some(&merlin), r#"{"email":"bors@camelot.bt"}"#).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (
            StatusCode::BAD_REQUEST,
            r#"{"detail":"REGISTER_USER_ALREADY_EXISTS"}"#
        )
    );
    let reply = post("/users", Some(&merlin), r#"{"password":"corbenic"}"#).await;
    assert_eq!(
        (reply.status, reply.json()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"detail": [{"type": "missing", "loc": ["body", "email"], "msg": "Field required", "input": {"password": "corbenic"}}]})
        )
    );

    // A reset link on an admin's request.
    let reply = post(&format!("/users/{bors}/reset-password"), Some(&merlin), "").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::ACCEPTED, "null")
    );
    users.wait_background().await;
    let mails = mailer.take();
    assert_eq!(
        mails
            .iter()
            .map(|m| (m.kind.clone(), m.to.as_str()))
            .collect::<Vec<_>>(),
        [(axum_users::MailKind::Reset, "bors@camelot.bt")]
    );
    let bors_token = login_with(&router, "bors@camelot.bt", "corbenic").await;
    for (uri, token, want) in [
        (
            "/users/not-an-id/reset-password",
            Some(merlin.as_str()),
            (StatusCode::NOT_FOUND, r#"{"detail":"Not Found"}"#),
        ),
        (
            &format!("/users/{id}/reset-password")[..],
            Some(bors_token.as_str()),
            (StatusCode::FORBIDDEN, r#"{"detail":"Forbidden"}"#),
        ),
        (
            &format!("/users/{id}/reset-password")[..],
            None,
            (StatusCode::UNAUTHORIZED, r#"{"detail":"Unauthorized"}"#),
        ),
    ] {
        let reply = post(uri, token, "").await;
        assert_eq!((reply.status, reply.body.as_str()), want, "{uri}");
    }
    users.wait_background().await;
    assert!(mailer.take().is_empty());
}

#[tokio::test]
async fn sqlite_superusers_create_users_and_send_reset_links() {
    let store = SqliteStore::connect("sqlite::memory:", schema())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    creating(store).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_superusers_create_users_and_send_reset_links() {
    let Some(db) = common::pg::Schema::create("admin_create", schema()).await else {
        return;
    };
    creating(db.store.clone()).await;
    db.drop().await;
}

#[tokio::test]
async fn sqlite_superusers_list_search_and_filter_users() {
    let store = SqliteStore::connect("sqlite::memory:", schema())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    listing(store).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_superusers_list_search_and_filter_users() {
    let Some(db) = common::pg::Schema::create("admin_list", schema()).await else {
        return;
    };
    listing(db.store.clone()).await;
    db.drop().await;
}

/// `created_after` / `created_before` (RFC 3339): the users created since a moment, or before
/// it; a user whose creation time is unknown (a FastAPI Users database's) matches neither.
async fn created_filters<S: UserStore + Clone + 'static>(store: S, raw: impl AsyncFnOnce(&str)) {
    let (users, router) = app(store).await;
    let token = login(&router, "merlin@camelot.bt").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let since = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let percival = users
        .create_user(
            json!({"email": "percival@camelot.bt", "password": "grail", "first_name": "Percival"}),
        )
        .await
        .unwrap();
    // As a user of a FastAPI Users database: no creation time.
    raw(&percival.id.to_string()).await;
    users
        .create_user(
            json!({"email": "tristan@camelot.bt", "password": "grail", "first_name": "Tristan"}),
        )
        .await
        .unwrap();
    let emails = |page: Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["email"].as_str().unwrap().to_owned())
            .collect()
    };
    let encoded = common::urlencode(&since);
    let reply = call(
        &router,
        Method::GET,
        &format!("/users?created_after={encoded}"),
        Some(&token),
        "",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.json()["total"], 1);
    assert_eq!(emails(reply.json()), ["tristan@camelot.bt"]);
    let reply = call(
        &router,
        Method::GET,
        &format!("/users?created_before={encoded}&size=100"),
        Some(&token),
        "",
    )
    .await;
    assert_eq!(reply.json()["total"], 9);
    assert!(!emails(reply.json()).contains(&"percival@camelot.bt".to_owned()));
    let reply = call(
        &router,
        Method::GET,
        "/users?created_after=yesterday",
        Some(&token),
        "",
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.json(),
        json!({"detail": [{"type": "datetime_from_date_parsing", "loc": ["query", "created_after"],
            "msg": "Input should be a valid datetime (RFC 3339)", "input": "yesterday"}]})
    );
}

#[tokio::test]
async fn sqlite_superusers_filter_users_by_creation_time() {
    let store = SqliteStore::connect("sqlite::memory:", schema())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let pool = store.pool().clone();
    created_filters(store, async move |id: &str| {
        sqlx::query("DELETE FROM auth_user_created WHERE user_id = ?")
            .bind(id)
            .execute(&pool)
            .await
            .unwrap();
    })
    .await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_superusers_filter_users_by_creation_time() {
    let Some(db) = common::pg::Schema::create("admin_created", schema()).await else {
        return;
    };
    let pool = db.store.pool().clone();
    created_filters(db.store.clone(), async move |id: &str| {
        sqlx::query("DELETE FROM auth_user_created WHERE user_id = $1")
            .bind(id)
            .execute(&pool)
            .await
            .unwrap();
    })
    .await;
    db.drop().await;
}

/// A store of the application's own that does not list users answers 501, and says why.
#[tokio::test]
async fn a_store_without_listing_answers_501() {
    let store = SqliteStore::connect("sqlite::memory:", UserSchema::new())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let users = AxumUsers::builder(NoListing(store))
        .rate_limits(axum_users::RateLimits::off())
        .password_hasher(fast_hasher())
        .password_policy(PasswordPolicy::new(3, 0))
        .backend(jwt_backend())
        .build()
        .unwrap();
    users
        .create_user(
            json!({"email": "merlin@camelot.bt", "password": "grail", "is_superuser": true}),
        )
        .await
        .unwrap();
    let router = users.router();
    let merlin = login(&router, "merlin@camelot.bt").await;
    let reply = call(&router, Method::GET, "/users", Some(&merlin), "").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (
            StatusCode::NOT_IMPLEMENTED,
            r#"{"detail":"the user store does not support listing users"}"#
        )
    );
}

/// Every operation but `list` (which keeps the trait's default).
struct NoListing(SqliteStore);

impl UserStore for NoListing {
    async fn get(&self, id: axum_users::UserId) -> Result<Option<User>, axum_users::StoreError> {
        self.0.get(id).await
    }
    async fn get_by_email(&self, email: &str) -> Result<Option<User>, axum_users::StoreError> {
        self.0.get_by_email(email).await
    }
    async fn create(&self, user: &User) -> Result<axum_users::UserId, axum_users::StoreError> {
        self.0.create(user).await
    }
    async fn update(
        &self,
        id: axum_users::UserId,
        patch: &axum_users::UserPatch,
    ) -> Result<Option<User>, axum_users::StoreError> {
        self.0.update(id, patch).await
    }
    async fn delete(&self, id: axum_users::UserId) -> Result<(), axum_users::StoreError> {
        self.0.delete(id).await
    }
}
