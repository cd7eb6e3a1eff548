//! One store suite, two databases: every test body below runs against SQLite and, when
//! `TEST_DATABASE_URL` is set (always under .ci/run), against PostgreSQL, each PostgreSQL test in
//! a schema of its own. Covers every store operation, case-insensitive e-mails (Unicode too),
//! the unique e-mail under a registration race, cascades, access tokens, custom columns, and the
//! database token strategy over HTTP.

mod common;

use std::time::Duration;

use axum::Router;
use axum_users::{
    AccessTokenStore, ExpiredDeletion, OAuthAccount, OAuthAccountStore, StoreError, UserPatch,
    UserStore,
};
use axum_users::{
    AxumUsers, AxumUsersBuilder, CustomField, PasswordPolicy, SqliteStore, User, UserSchema,
};
use axum_users::{Backend, BearerTransport, DatabaseStrategy, JwtStrategy};
use common::{call, fast_hasher};
use http::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

trait Store:
    UserStore + AccessTokenStore + ExpiredDeletion + OAuthAccountStore + Clone + 'static
{
}
impl<T> Store for T where
    T: UserStore + AccessTokenStore + ExpiredDeletion + OAuthAccountStore + Clone + 'static
{
}

fn schema() -> UserSchema {
    UserSchema::new()
        .field(CustomField::string("first_name").max_length(50))
        .field(CustomField::integer("age"))
        .field(CustomField::float("height"))
        .field(CustomField::boolean("knight"))
        .field(CustomField::date("birthdate"))
}

async fn sqlite() -> SqliteStore {
    let store = SqliteStore::connect("sqlite::memory:", schema())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
}

#[cfg(not(feature = "postgres"))]
use common::skipped;

fn user(email: &str) -> User {
    let mut user = User::new(email, "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA");
    for name in ["first_name", "age", "height", "knight", "birthdate"] {
        user.fields.insert(name.into(), Value::Null);
    }
    user
}

async fn crud<S: Store>(store: S) {
    let mut arthur = user("King.Arthur@camelot.bt");
    store.create(&arthur).await.unwrap();
    assert_eq!(store.get(arthur.id).await.unwrap(), Some(arthur.clone()));
    assert_eq!(
        store.get(axum_users::UserId::new_uuid()).await.unwrap(),
        None
    );
    for lookup in [
        "king.arthur@camelot.bt",
        "KING.ARTHUR@CAMELOT.BT",
        "King.Arthur@camelot.bt",
    ] {
        assert_eq!(
            store.get_by_email(lookup).await.unwrap().map(|u| u.id),
            Some(arthur.id),
            "{lookup}"
        );
    }
    assert_eq!(
        store.get_by_email("lancelot@camelot.bt").await.unwrap(),
        None
    );

    arthur.email = "arthur@avalon.bt".into();
    arthur.hashed_password = "$2b$04$other".into();
    arthur.is_active = false;
    arthur.is_superuser = true;
    arthur.is_verified = true;
    arthur.fields.insert("first_name".into(), json!("Arthur"));
    arthur.fields.insert("age".into(), json!(42));
    arthur.fields.insert("height".into(), json!(1.85));
    arthur.fields.insert("knight".into(), json!(true));
    arthur
        .fields
        .insert("birthdate".into(), json!("0480-12-25"));
    let written = store
        .update(arthur.id, &UserPatch::all_of(&arthur))
        .await
        .unwrap();
    assert_eq!(written.as_ref(), Some(&arthur));
    let stored = store.get(arthur.id).await.unwrap().unwrap();
    assert_eq!(stored, arthur);
    assert_eq!(
        store.get_by_email("king.arthur@camelot.bt").await.unwrap(),
        None
    );

    store.delete(arthur.id).await.unwrap();
    assert_eq!(store.get(arthur.id).await.unwrap(), None);
    // Deleting what is not there is no error.
    store.delete(arthur.id).await.unwrap();
}

async fn unicode_emails<S: Store>(store: S) {
    let user = user("Ünïcödé.Ñame@Example.com");
    store.create(&user).await.unwrap();
    store
        .create(&self::user("plain@example.com"))
        .await
        .unwrap();
    for lookup in ["ünïcödé.ñame@example.com", "ÜNÏCÖDÉ.ÑAME@EXAMPLE.COM"] {
        assert_eq!(
            store.get_by_email(lookup).await.unwrap().map(|u| u.id),
            Some(user.id),
            "{lookup}"
        );
    }
    assert_eq!(
        store
            .get_by_email("unicode.name@example.com")
            .await
            .unwrap(),
        None
    );
}

async fn unique_emails<S: Store>(store: S) {
    let arthur = user("king.arthur@camelot.bt");
    store.create(&arthur).await.unwrap();
    let twin = user("KING.ARTHUR@camelot.bt");
    assert!(matches!(
        store.create(&twin).await,
        Err(StoreError::Conflict)
    ));
    let mut lancelot = user("lancelot@camelot.bt");
    store.create(&lancelot).await.unwrap();
    lancelot.email = "King.Arthur@Camelot.bt".into();
    assert!(matches!(
        store
            .update(lancelot.id, &UserPatch::all_of(&lancelot))
            .await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store.get(lancelot.id).await.unwrap().unwrap().email,
        "lancelot@camelot.bt",
        "a refused update writes nothing"
    );
}

async fn access_tokens_and_cascade<S: Store>(store: S) {
    let arthur = user("king.arthur@camelot.bt");
    let merlin = user("merlin@camelot.bt");
    store.create(&arthur).await.unwrap();
    store.create(&merlin).await.unwrap();
    store.create_token("token-a1", arthur.id).await.unwrap();
    store.create_token("token-a2", arthur.id).await.unwrap();
    store.create_token("token-m1", merlin.id).await.unwrap();
    let hour = Some(Duration::from_secs(3600));
    assert_eq!(
        store.get_token("token-a1", hour).await.unwrap(),
        Some(arthur.id)
    );
    assert_eq!(
        store.get_token("token-a1", None).await.unwrap(),
        Some(arthur.id)
    );
    assert_eq!(store.get_token("nope", None).await.unwrap(), None);
    assert!(
        store.create_token("token-a1", merlin.id).await.is_err(),
        "tokens are unique"
    );

    store.delete_token("token-a1").await.unwrap();
    assert_eq!(store.get_token("token-a1", None).await.unwrap(), None);
    assert_eq!(
        store.get_token("token-a2", None).await.unwrap(),
        Some(arthur.id)
    );

    // Expiry and purge.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = Some(Duration::from_secs(1));
    assert_eq!(store.get_token("token-a2", second).await.unwrap(), None);
    store.create_token("token-m2", merlin.id).await.unwrap();
    assert_eq!(
        store.delete_expired(Duration::from_secs(1)).await.unwrap(),
        2
    );
    assert_eq!(
        store.get_token("token-m2", second).await.unwrap(),
        Some(merlin.id)
    );

    // Deleting a user deletes their tokens.
    store.create_token("token-a3", arthur.id).await.unwrap();
    store.delete(arthur.id).await.unwrap();
    assert_eq!(store.get_token("token-a3", None).await.unwrap(), None);
    assert_eq!(store.delete_user_tokens(merlin.id).await.unwrap(), 1);
    assert_eq!(store.get_token("token-m2", None).await.unwrap(), None);
}

/// An application over this store with Bearer + database tokens, as the server's `db` backend.
/// The test settings on this store, without backends.
fn builder<S: Store>(store: S) -> AxumUsersBuilder {
    AxumUsers::builder(store)
        .rate_limits(axum_users::RateLimits::off())
        .password_hasher(fast_hasher())
        .password_policy(PasswordPolicy::new(3, 0))
}

fn app<S: Store>(store: S) -> (AxumUsers, Router) {
    let users = builder(store.clone())
        .backend(Backend::new(
            "db",
            BearerTransport::new("auth/db/login"),
            DatabaseStrategy::new(store, Some(3600)),
        ))
        .build()
        .unwrap();
    let router = users.router();
    (users, router)
}

async fn registration_race<S: Store>(store: S) {
    let (_, router) = app(store);
    for round in 0..10 {
        let body = format!(r#"{{"email":"twin{round}@camelot.bt","password":"grail"}}"#);
        let upper = body.replace("twin", "TWIN");
        let (a, b) = tokio::join!(
            call(&router, Method::POST, "/auth/register", None, &body),
            call(&router, Method::POST, "/auth/register", None, &upper),
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
        assert_eq!(refused.body, r#"{"detail":"REGISTER_USER_ALREADY_EXISTS"}"#);
    }
}

async fn database_tokens_over_http<S: Store>(store: S) {
    let (_, router) = app(store.clone());
    let register = |email: &str| {
        let body = format!(r#"{{"email":"{email}","password":"grail"}}"#);
        let router = router.clone();
        async move {
            let reply = call(&router, Method::POST, "/auth/register", None, &body).await;
            assert_eq!(reply.status, StatusCode::CREATED);
            reply.json()["id"].as_str().unwrap().to_owned()
        }
    };
    let login = |email: &str, password: &str| {
        let body = format!("username={email}&password={password}");
        let router = router.clone();
        async move {
            let reply = call(&router, Method::POST, "/auth/db/login", None, &body).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            reply.json()["access_token"].as_str().unwrap().to_owned()
        }
    };
    let me = |token: String| {
        let router = router.clone();
        async move {
            call(&router, Method::GET, "/users/me", Some(&token), "")
                .await
                .status
        }
    };
    let galahad = register("galahad@camelot.bt").await;
    register("merlin@camelot.bt").await;
    let merlin = store
        .get_by_email("merlin@camelot.bt")
        .await
        .unwrap()
        .unwrap();
    let mut promote = UserPatch::default();
    promote.is_superuser = Some(true);
    store.update(merlin.id, &promote).await.unwrap().unwrap();

    // An opaque 43-character token in the accesstoken table; logout deletes it.
    let token = login("galahad@camelot.bt", "grail").await;
    assert_eq!(token.len(), 43);
    assert!(token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_eq!(
        store
            .get_token(&token, None)
            .await
            .unwrap()
            .map(|id| id.to_string()),
        Some(galahad.clone())
    );
    assert_eq!(me(token.clone()).await, StatusCode::OK);
    let reply = call(&router, Method::POST, "/auth/db/logout", Some(&token), "").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::NO_CONTENT, "")
    );
    assert_eq!(me(token.clone()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(store.get_token(&token, None).await.unwrap(), None);

    // A password change revokes every token of the user, the one used included.
    let first = login("galahad@camelot.bt", "grail").await;
    let second = login("galahad@camelot.bt", "grail").await;
    let reply = call(
        &router,
        Method::PATCH,
        "/users/me",
        Some(&first),
        r#"{"password":"holy-grail"}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(me(first).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(second).await, StatusCode::UNAUTHORIZED);

    // So does a deactivation by a superuser, and a deletion.
    let admin = login("merlin@camelot.bt", "grail").await;
    let token = login("galahad@camelot.bt", "holy-grail").await;
    let uri = format!("/users/{galahad}");
    let reply = call(
        &router,
        Method::PATCH,
        &uri,
        Some(&admin),
        r#"{"is_active":false}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = call(
        &router,
        Method::PATCH,
        &uri,
        Some(&admin),
        r#"{"is_active":true}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(me(token).await, StatusCode::UNAUTHORIZED);
    let token = login("galahad@camelot.bt", "holy-grail").await;
    let reply = call(&router, Method::DELETE, &uri, Some(&admin), "").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(me(token.clone()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(store.get_token(&token, None).await.unwrap(), None);
    // The superuser's own session was never touched.
    assert_eq!(me(admin).await, StatusCode::OK);
}

async fn expired_tokens_are_deleted_in_the_background<S: Store>(store: S) {
    let galahad = user("galahad@camelot.bt");
    store.create(&galahad).await.unwrap();
    store.create_token("old-token", galahad.id).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let strategy = DatabaseStrategy::new(store.clone(), Some(1));
    assert_eq!(
        axum_users::Strategy::read_token(&strategy, "old-token")
            .await
            .unwrap(),
        None,
        "expired"
    );
    let fresh = axum_users::Strategy::write_token(&strategy, &galahad)
        .await
        .unwrap();
    let sweeper = tokio::spawn(
        store
            .clone()
            .continuously_delete_expired(strategy.lifetime().unwrap(), Duration::from_millis(50)),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while store.get_token("old-token", None).await.unwrap().is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the expired row is still there"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sweeper.abort();
    assert_eq!(
        store.get_token(&fresh, None).await.unwrap(),
        Some(galahad.id)
    );
}

async fn custom_fields_over_http<S: Store>(store: S) {
    let (_, router) = app(store);
    let body = r#"{"email":"galahad@camelot.bt","password":"grail","first_name":"Galahad","age":"17","height":1.8,"knight":"yes","birthdate":"0500-01-02"}"#;
    let reply = call(&router, Method::POST, "/auth/register", None, body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        reply.body,
        format!(
            r#"{{"id":"{id}","email":"galahad@camelot.bt","is_active":true,"is_superuser":false,"is_verified":false,"first_name":"Galahad","age":17,"height":1.8,"knight":true,"birthdate":"0500-01-02"}}"#
        )
    );
}

/// A NUL in a custom text field is a 422 on every store (PostgreSQL cannot store it, and would
/// have answered a 500), and nothing is written.
async fn nul_in_a_custom_field_is_refused<S: Store>(store: S) {
    let (_, router) = app(store.clone());
    let body = r#"{"email":"galahad@camelot.bt","password":"grail","first_name":"Gala\u0000had"}"#;
    let reply = call(&router, Method::POST, "/auth/register", None, body).await;
    assert_eq!(
        (reply.status, reply.json()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"detail": [{"type": "value_error", "loc": ["body", "first_name"],
                               "msg": "Value error, NUL characters are not allowed",
                               "input": "Gala\u{0}had"}]})
        )
    );
    assert_eq!(
        store.get_by_email("galahad@camelot.bt").await.unwrap(),
        None
    );
}

/// "Log out everywhere" and the opt-in JWT revocation on password change, with a JWT and a
/// database backend on this store: every earlier token dies, later ones work, and the version
/// survives other writes.
async fn logout_everywhere_over_http<S: Store>(store: S) {
    let users = builder(store.clone())
        .backend(Backend::new(
            "jwt",
            BearerTransport::new("auth/jwt/login"),
            JwtStrategy::new(common::SECRET, Some(3600)),
        ))
        .backend(Backend::new(
            "db",
            BearerTransport::new("auth/db/login"),
            DatabaseStrategy::new(store.clone(), Some(3600)),
        ))
        .password_change_revokes_jwts(true)
        .build()
        .unwrap();
    let router = users.router();
    let reply = call(
        &router,
        Method::POST,
        "/auth/register",
        None,
        r#"{"email":"galahad@camelot.bt","password":"grail"}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let id =
        axum_users::UserId::Uuid(Uuid::parse_str(reply.json()["id"].as_str().unwrap()).unwrap());
    let login = |backend: &'static str, password: &'static str| {
        let router = router.clone();
        async move {
            let body = format!("username=galahad@camelot.bt&password={password}");
            let uri = format!("/auth/{backend}/login");
            let reply = call(&router, Method::POST, &uri, None, &body).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            reply.json()["access_token"].as_str().unwrap().to_owned()
        }
    };
    let me = |token: String| {
        let router = router.clone();
        async move {
            let reply = call(&router, Method::GET, "/users/me", Some(&token), "").await;
            (reply.status, reply.body)
        }
    };
    let unauthorized = (
        StatusCode::UNAUTHORIZED,
        r#"{"detail":"Unauthorized"}"#.to_owned(),
    );

    // Version 0: the JWT has exactly FastAPI Users' claims.
    let jwt = login("jwt", "grail").await;
    let other_jwt = login("jwt", "grail").await;
    let db = login("db", "grail").await;
    let claims = common::payload(&jwt);
    let mut keys: Vec<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["aud", "exp", "sub"]);
    assert_eq!(me(db.clone()).await.0, StatusCode::OK);

    let everywhere = |token: Option<String>| {
        let router = router.clone();
        async move {
            let uri = "/auth/logout-everywhere";
            call(&router, Method::POST, uri, token.as_deref(), "").await
        }
    };
    let reply = everywhere(Some(jwt.clone())).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::NO_CONTENT, "")
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.header("set-cookie"), None, "no cookie backend");
    for token in [jwt.clone(), other_jwt, db.clone()] {
        assert_eq!(me(token).await, unauthorized);
    }
    let reply = everywhere(Some(jwt.clone())).await;
    assert_eq!((reply.status, reply.body), unauthorized);
    assert_eq!(store.get_token(&db, None).await.unwrap(), None);
    let stored = store.get(id).await.unwrap().unwrap();
    assert_eq!(stored.token_version, 1);

    // A plain update writes every field but the version.
    store
        .update(
            stored.id,
            &UserPatch::all_of(&User {
                token_version: 0,
                is_verified: true,
                ..stored
            }),
        )
        .await
        .unwrap();
    assert_eq!(store.get(id).await.unwrap().unwrap().token_version, 1);

    // Later logins carry the new version and work.
    let jwt = login("jwt", "grail").await;
    assert_eq!(common::payload(&jwt)["ver"], 1);
    assert_eq!(me(jwt.clone()).await.0, StatusCode::OK);
    let db = login("db", "grail").await;
    assert_eq!(me(db.clone()).await.0, StatusCode::OK);

    // Opted in: a password change ends the JWT sessions too.
    let reply = call(
        &router,
        Method::PATCH,
        "/users/me",
        Some(&jwt),
        r#"{"password":"holy-grail"}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(me(jwt).await, unauthorized);
    assert_eq!(me(db).await, unauthorized);
    assert_eq!(store.get(id).await.unwrap().unwrap().token_version, 2);
    let jwt = login("jwt", "holy-grail").await;
    assert_eq!(common::payload(&jwt)["ver"], 2);
    assert_eq!(me(jwt).await.0, StatusCode::OK);

    // Without a token: 401.
    let reply = everywhere(None).await;
    assert_eq!((reply.status, reply.body), unauthorized);
}

/// The `oauth_account` table: a provider account links to one user, tokens are rewritten in
/// place, rows go with their user.
async fn oauth_accounts_link_once<S: Store>(store: S) {
    let galahad = user("galahad@camelot.bt");
    let mordred = user("mordred@camelot.bt");
    store.create(&galahad).await.unwrap();
    store.create(&mordred).await.unwrap();
    let mut link = OAuthAccount {
        id: axum_users::UserId::new_uuid(),
        oauth_name: "google".into(),
        access_token: "ya29.first".into(),
        expires_at: Some(1_795_859_326),
        refresh_token: Some("1//refresh".into()),
        account_id: "108".into(),
        account_email: "galahad@camelot.bt".into(),
    };
    store.add_oauth_account(galahad.id, &link).await.unwrap();
    let (found, stored) = store
        .get_by_oauth_account("google", "108")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.id, &stored), (galahad.id, &link));
    assert!(store
        .get_by_oauth_account("github", "108")
        .await
        .unwrap()
        .is_none());
    assert!(store
        .get_by_oauth_account("google", "109")
        .await
        .unwrap()
        .is_none());

    // The same provider account cannot be linked again, to anyone.
    let again = OAuthAccount {
        id: axum_users::UserId::new_uuid(),
        ..link.clone()
    };
    for owner in [mordred.id, galahad.id] {
        assert!(matches!(
            store.add_oauth_account(owner, &again).await,
            Err(StoreError::Conflict)
        ));
    }
    // Another provider with the same account id is another account.
    let github = OAuthAccount {
        id: axum_users::UserId::new_uuid(),
        oauth_name: "github".into(),
        expires_at: None,
        refresh_token: None,
        ..link.clone()
    };
    store.add_oauth_account(mordred.id, &github).await.unwrap();

    link.access_token = "ya29.second".into();
    link.expires_at = None;
    store.update_oauth_account(&link).await.unwrap();
    assert_eq!(store.oauth_accounts(galahad.id).await.unwrap(), [link]);
    assert_eq!(store.oauth_accounts(mordred.id).await.unwrap(), [github]);
    store.delete(galahad.id).await.unwrap();
    assert!(store
        .get_by_oauth_account("google", "108")
        .await
        .unwrap()
        .is_none());
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite_store {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::sqlite().await).await;
                }
            )*
        }

        #[cfg(feature = "postgres")]
        mod postgres_store {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(db) = super::pg::Schema::create(stringify!($name), super::schema()).await else {
                        return;
                    };
                    super::$name(db.store.clone()).await;
                    db.drop().await;
                }
            )*
        }
    };
}

/// `cargo test -p axum-users` alone builds without the `postgres` feature: say so.
#[cfg(not(feature = "postgres"))]
#[test]
fn postgres_store_suite_not_built() {
    skipped("the PostgreSQL store suite: feature `postgres` is off; `cargo test --workspace` turns it on");
}

suite!(
    crud,
    unicode_emails,
    unique_emails,
    access_tokens_and_cascade,
    registration_race,
    database_tokens_over_http,
    expired_tokens_are_deleted_in_the_background,
    custom_fields_over_http,
    logout_everywhere_over_http,
    oauth_accounts_link_once,
    nul_in_a_custom_field_is_refused,
);

#[cfg(feature = "postgres")]
mod pg {
    pub use super::common::pg::Schema;

    /// An OAuth account row goes with its user (ON DELETE CASCADE), and the schema is FastAPI
    /// Users' own: native uuid and timestamptz.
    #[tokio::test]
    async fn postgres_schema_types_and_oauth_cascade() {
        let Some(db) = Schema::create("schema_types", super::schema()).await else {
            return;
        };
        let pool = db.store.pool();
        let types: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND column_name IN ('id', 'user_id', 'created_at') \
             ORDER BY 1, 2",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        assert_eq!(
            types,
            [
                ("accesstoken", "created_at", "timestamp with time zone"),
                ("accesstoken", "user_id", "uuid"),
                // Ours, beside FastAPI Users' tables: ids of either kind as text, Unix times.
                ("auth_email_change", "user_id", "character varying"),
                ("auth_event", "id", "character varying"),
                ("auth_event", "user_id", "character varying"),
                ("auth_mfa", "created_at", "bigint"),
                ("auth_mfa", "user_id", "character varying"),
                ("auth_mfa_challenge", "id", "character varying"),
                ("auth_mfa_challenge", "user_id", "character varying"),
                // Passkeys: with the feature (on in --all-features runs).
                #[cfg(feature = "passkeys")]
                ("auth_passkey", "created_at", "bigint"),
                #[cfg(feature = "passkeys")]
                ("auth_passkey", "id", "character varying"),
                #[cfg(feature = "passkeys")]
                ("auth_passkey", "user_id", "character varying"),
                #[cfg(feature = "passkeys")]
                ("auth_passkey_ceremony", "id", "character varying"),
                #[cfg(feature = "passkeys")]
                ("auth_passkey_ceremony", "user_id", "character varying"),
                ("auth_recovery_code", "user_id", "character varying"),
                ("auth_session", "created_at", "bigint"),
                ("auth_session", "id", "character varying"),
                ("auth_session", "user_id", "character varying"),
                ("auth_user_created", "created_at", "bigint"),
                ("auth_user_created", "user_id", "character varying"),
                #[cfg(feature = "webhooks")]
                ("auth_webhook_delivery", "created_at", "bigint"),
                #[cfg(feature = "webhooks")]
                ("auth_webhook_delivery", "id", "character varying"),
                #[cfg(feature = "webhooks")]
                ("auth_webhook_delivery", "user_id", "character varying"),
                ("oauth_account", "id", "uuid"),
                ("oauth_account", "user_id", "uuid"),
                ("user", "id", "uuid"),
            ]
            .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()))
        );
        let user = super::user("king.arthur@camelot.bt");
        axum_users::UserStore::create(&db.store, &user)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO oauth_account (id, user_id, oauth_name, access_token, account_id, account_email) \
             VALUES ($1, $2, 'google', 'at', '42', 'king.arthur@camelot.bt')",
        )
        .bind(uuid::Uuid::new_v4())
        .bind(user.id.to_string().parse::<uuid::Uuid>().unwrap())
        .execute(pool)
        .await
        .unwrap();
        axum_users::UserStore::delete(&db.store, user.id)
            .await
            .unwrap();
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM oauth_account")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(left, 0);
        // Migrating again (a second instance starting) changes nothing.
        db.store.migrate().await.unwrap();
        db.drop().await;
    }
}
