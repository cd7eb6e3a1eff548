//! Integer user ids (FastAPI Users' `IntegerIDMixin`) over HTTP, on SQLite and PostgreSQL: the
//! database assigns them, JSON carries numbers, tokens carry `str(id)`, `/users/{id}` parses
//! them as Python's `int()` does, and a store opened for the other kind refuses the table.

mod common;
#[cfg(feature = "postgres")]
use common::pg;

use axum_users::{
    AccessTokenStore, AxumUsers, Backend, BearerTransport, DatabaseStrategy, IdKind, OAuthAccount,
    OAuthAccountStore, PasswordPolicy, SqliteStore, UserId, UserPatch, UserSchema, UserStore,
};
use common::{call, fast_hasher, jwt_backend, payload, Recorder};
use http::{Method, StatusCode};
use serde_json::json;

trait Store: UserStore + AccessTokenStore + OAuthAccountStore + Clone + 'static {}
impl<T> Store for T where T: UserStore + AccessTokenStore + OAuthAccountStore + Clone + 'static {}

fn read(id: i64, email: &str, active: bool, superuser: bool) -> String {
    json!({"id": id, "email": email, "is_active": active, "is_superuser": superuser, "is_verified": false})
        .to_string()
}

async fn over_http<S: Store>(store: S) {
    assert_eq!(store.id_kind(), IdKind::Integer);
    let hooks = Recorder::default();
    let users = AxumUsers::builder(store.clone())
        .rate_limits(axum_users::RateLimits::off())
        .password_hasher(fast_hasher())
        .password_policy(PasswordPolicy::new(3, 0))
        .hooks(hooks.clone())
        .backend(jwt_backend())
        .backend(Backend::new(
            "db",
            BearerTransport::new("auth/db/login"),
            DatabaseStrategy::new(store.clone(), Some(3600)),
        ))
        .build()
        .unwrap();
    let router = users.router();

    // The database numbers the users.
    for (n, email) in [(1, "galahad@camelot.bt"), (2, "merlin@camelot.bt")] {
        let body = format!(r#"{{"email":"{email}","password":"grail"}}"#);
        let reply = call(&router, Method::POST, "/auth/register", None, &body).await;
        assert_eq!(
            (reply.status, reply.body),
            (StatusCode::CREATED, read(n, email, true, false))
        );
    }
    let mut promote = UserPatch::default();
    promote.is_superuser = Some(true);
    store
        .update(UserId::Int(2), &promote)
        .await
        .unwrap()
        .unwrap();

    // A JWT's `sub` is `str(user.id)`, as FastAPI Users writes it.
    let login = |email: &'static str, backend: &'static str| {
        let router = router.clone();
        async move {
            let reply = call(
                &router,
                Method::POST,
                &format!("/auth/{backend}/login"),
                None,
                &format!("username={email}&password=grail"),
            )
            .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            reply.json()["access_token"].as_str().unwrap().to_owned()
        }
    };
    let jwt = login("galahad@camelot.bt", "jwt").await;
    assert_eq!(payload(&jwt)["sub"], "1");
    let db_token = login("galahad@camelot.bt", "db").await;
    for token in [&jwt, &db_token] {
        let reply = call(&router, Method::GET, "/users/me", Some(token), "").await;
        assert_eq!(
            (reply.status, reply.body),
            (StatusCode::OK, read(1, "galahad@camelot.bt", true, false))
        );
    }

    // `/users/{id}` reads the id as Python's `int()`; anything else names no user.
    let merlin = login("merlin@camelot.bt", "jwt").await;
    for path in ["/users/1", "/users/+1", "/users/%201%20", "/users/0_1"] {
        let reply = call(&router, Method::GET, path, Some(&merlin), "").await;
        assert_eq!(
            (reply.status, reply.body),
            (StatusCode::OK, read(1, "galahad@camelot.bt", true, false)),
            "{path}"
        );
    }
    for path in [
        "/users/3",
        "/users/1.0",
        "/users/abc",
        "/users/99999999999999999999",
        "/users/52c7bd65-6d03-4bc2-8db7-f36615b94aa0",
    ] {
        let reply = call(&router, Method::GET, path, Some(&merlin), "").await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (StatusCode::NOT_FOUND, r#"{"detail":"Not Found"}"#),
            "{path}"
        );
    }

    // Reset tokens carry the integer id too.
    let reply = call(
        &router,
        Method::POST,
        "/auth/forgot-password",
        None,
        r#"{"email":"galahad@camelot.bt"}"#,
    )
    .await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::ACCEPTED, "null")
    );
    users.wait_background().await;
    let reset = hooks.tokens().pop().unwrap();
    assert_eq!(payload(&reset)["sub"], "1");
    let body = json!({"token": reset, "password": "chalice"}).to_string();
    let reply = call(&router, Method::POST, "/auth/reset-password", None, &body).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::OK, "null")
    );
    // The password change ended the database session.
    let reply = call(&router, Method::GET, "/users/me", Some(&db_token), "").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::UNAUTHORIZED, r#"{"detail":"Unauthorized"}"#)
    );

    // The superuser bans and deletes by integer id.
    let reply = call(
        &router,
        Method::PATCH,
        "/users/1",
        Some(&merlin),
        r#"{"is_active":false}"#,
    )
    .await;
    assert_eq!(
        (reply.status, reply.body),
        (StatusCode::OK, read(1, "galahad@camelot.bt", false, false))
    );
    let reply = call(&router, Method::DELETE, "/users/1", Some(&merlin), "").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::NO_CONTENT, "")
    );
    let reply = call(&router, Method::GET, "/users/1", Some(&merlin), "").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    // The document describes the ids as FastAPI Users' `UserRead` with `id: int` does.
    let document = users.openapi();
    assert_eq!(
        document["components"]["schemas"]["UserRead"]["properties"]["id"],
        json!({"type": "integer", "title": "Id"})
    );
}

/// OAuth links in a store of integer ids: the database numbers the rows too.
async fn oauth_links<S: Store>(store: S) {
    let user = axum_users::User::new("percival@camelot.bt", "$argon2id$v=19$x");
    let id = store.create(&user).await.unwrap();
    assert_eq!(id, UserId::Int(1));
    let mut link = OAuthAccount {
        id: UserId::new_uuid(),
        oauth_name: "google".into(),
        access_token: "ya29".into(),
        expires_at: None,
        refresh_token: None,
        account_id: "108".into(),
        account_email: "percival@camelot.bt".into(),
    };
    store.add_oauth_account(id, &link).await.unwrap();
    let (owner, stored) = store
        .get_by_oauth_account("google", "108")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((owner.id, stored.id), (UserId::Int(1), UserId::Int(1)));
    link.id = stored.id;
    link.access_token = "ya30".into();
    store.update_oauth_account(&link).await.unwrap();
    assert_eq!(store.oauth_accounts(id).await.unwrap(), vec![link]);
    // An id of the other kind names nothing, and fails nothing.
    let stranger = UserId::new_uuid();
    assert_eq!(store.get(stranger).await.unwrap(), None);
    assert_eq!(store.oauth_accounts(stranger).await.unwrap(), vec![]);
    assert_eq!(store.delete_user_tokens(stranger).await.unwrap(), 0);
}

#[tokio::test]
async fn sqlite_integer_ids_over_http() {
    let store = SqliteStore::connect("sqlite::memory:", UserSchema::new())
        .await
        .unwrap()
        .with_id_kind(IdKind::Integer);
    store.migrate().await.unwrap();
    over_http(store).await;
}

#[tokio::test]
async fn sqlite_integer_oauth_links() {
    let store = SqliteStore::connect("sqlite::memory:", UserSchema::new())
        .await
        .unwrap()
        .with_id_kind(IdKind::Integer);
    store.migrate().await.unwrap();
    oauth_links(store).await;
}

/// `connect` reads the kind from the table; a store told otherwise refuses to migrate it.
#[tokio::test]
async fn sqlite_store_takes_the_id_kind_of_the_table() {
    let dir = std::env::temp_dir().join(format!("axum-users-ids-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("users.db").display());
    let first = SqliteStore::connect(&url, UserSchema::new())
        .await
        .unwrap()
        .with_id_kind(IdKind::Integer);
    first.migrate().await.unwrap();
    let again = SqliteStore::connect(&url, UserSchema::new()).await.unwrap();
    assert_eq!(again.id_kind(), IdKind::Integer);
    again.migrate().await.unwrap();
    let told = again.with_id_kind(IdKind::Uuid);
    assert_eq!(
        told.migrate().await.unwrap_err().to_string(),
        "database error: the user table holds integer ids but the store was opened for UUID ids \
         (`with_id_kind`; server: AXUM_USERS_ID_TYPE)"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_integer_ids_over_http() {
    let Some(db) =
        pg::Schema::create_with_ids("int_http", UserSchema::new(), IdKind::Integer).await
    else {
        return;
    };
    over_http(db.store.clone()).await;
    db.drop().await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_integer_oauth_links() {
    let Some(db) =
        pg::Schema::create_with_ids("int_oauth", UserSchema::new(), IdKind::Integer).await
    else {
        return;
    };
    oauth_links(db.store.clone()).await;
    let reopened = axum_users::PostgresStore::new(db.store.pool().clone(), UserSchema::new());
    assert_eq!(
        reopened.existing_id_kind().await.unwrap(),
        Some(IdKind::Integer)
    );
    assert_eq!(
        reopened.migrate().await.unwrap_err().to_string(),
        "database error: the user table holds integer ids but the store was opened for UUID ids \
         (`with_id_kind`; server: AXUM_USERS_ID_TYPE)"
    );
    db.drop().await;
}
