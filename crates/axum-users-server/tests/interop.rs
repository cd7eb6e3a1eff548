//! FastAPI Users and this server on one database at once, as during a migration: FastAPI Users'
//! own SQLAlchemy adapter (from PyPI, installed by .ci/run) reads a user this server created,
//! creates one this server then logs in, and links an OAuth account — after our migrations added
//! their column and indexes to its tables. On SQLite and on PostgreSQL.

mod common;

use std::process::Command;

use common::{login, start_in, temp_dir, text, Database};

/// The Python with FastAPI Users' SQLAlchemy adapter and both async drivers; `None` skips,
/// except under CI.
fn python() -> Option<String> {
    let python = std::env::var("AXUM_USERS_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let found = Command::new(&python)
        .args([
            "-c",
            "import fastapi_users_db_sqlalchemy, aiosqlite, asyncpg",
        ])
        .output()
        .is_ok_and(|out| out.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the side-by-side tests: .ci/run installs fastapi-users[sqlalchemy], aiosqlite and asyncpg"
        );
        eprintln!("skipped: no Python with fastapi-users[sqlalchemy], aiosqlite and asyncpg");
        return None;
    }
    Some(python)
}

/// A fresh PostgreSQL database and its SQLAlchemy URL; `None` skips, except under CI.
async fn postgres() -> Option<(Database, String)> {
    let Ok(admin) = std::env::var("TEST_DATABASE_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the PostgreSQL tests: set TEST_DATABASE_URL"
        );
        eprintln!("skipped: TEST_DATABASE_URL is not set");
        return None;
    };
    let database = Database::create(&admin).await;
    let sqlalchemy = database
        .url
        .replacen("postgres://", "postgresql+asyncpg://", 1);
    Some((database, sqlalchemy))
}

#[tokio::test]
async fn fastapi_users_works_on_our_sqlite_database_while_we_serve_it() {
    let Some(python) = python() else {
        return;
    };
    let dir = temp_dir("side-by-side");
    let db = dir.join("users.db");
    side_by_side(
        &python,
        dir.clone(),
        format!("sqlite://{}", db.display()),
        format!("sqlite+aiosqlite:///{}", db.display()),
    )
    .await;
}

#[tokio::test]
async fn postgres_fastapi_users_works_on_our_database_while_we_serve_it() {
    let Some(python) = python() else {
        return;
    };
    let Some((database, sqlalchemy)) = postgres().await else {
        return;
    };
    side_by_side(
        &python,
        temp_dir("side-by-side-pg"),
        database.url.clone(),
        sqlalchemy,
    )
    .await;
    database.drop().await;
}

/// Our server on `url` (it migrates it), FastAPI Users on the same database through
/// `sqlalchemy_url`.
async fn side_by_side(python: &str, dir: std::path::PathBuf, url: String, sqlalchemy_url: String) {
    let mut env = vec![("AXUM_USERS_DATABASE_URL", url.clone())];
    if url.starts_with("postgres") {
        env.push((
            "AXUM_USERS_SECRET",
            "a shared secret of at least thirty-two bytes".to_owned(),
        ));
    }
    let server = start_in(dir, &env).await;
    let response = reqwest::Client::new()
        .post(format!("{}/auth/register", server.base))
        .json(&serde_json::json!({"email": "galahad@camelot.bt", "password": "grail-quest"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/fastapi_users_side_by_side.py"
    );
    let out = Command::new(python)
        .arg(script)
        .arg(&sqlalchemy_url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "found galahad@camelot.bt True False\n\
         created percival@camelot.bt\n\
         linked percival@camelot.bt\n\
         second link refused: IntegrityError\n"
    );

    // The user FastAPI Users created (pwdlib's argon2 hash) logs in here.
    let token = login(&server, "percival@camelot.bt", "holy-grail").await;
    let response = reqwest::Client::new()
        .get(format!("{}/users/me", server.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let (status, body) = text(response).await;
    assert_eq!(status, 200);
    let me: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (
            me["email"].as_str(),
            me["is_active"].as_bool(),
            me["is_verified"].as_bool()
        ),
        (Some("percival@camelot.bt"), Some(true), Some(false))
    );
}

#[tokio::test]
async fn serves_a_sqlite_database_fastapi_users_made_with_integer_ids() {
    let Some(python) = python() else {
        return;
    };
    let dir = temp_dir("integer-ids");
    let db = dir.join("users.db");
    integer_ids(
        &python,
        dir.clone(),
        format!("sqlite://{}", db.display()),
        format!("sqlite+aiosqlite:///{}", db.display()),
    )
    .await;
}

#[tokio::test]
async fn postgres_serves_a_database_fastapi_users_made_with_integer_ids() {
    let Some(python) = python() else {
        return;
    };
    let Some((database, sqlalchemy)) = postgres().await else {
        return;
    };
    integer_ids(
        &python,
        temp_dir("integer-ids-pg"),
        database.url.clone(),
        sqlalchemy,
    )
    .await;
    database.drop().await;
}

/// FastAPI Users (`IntegerIDMixin`) makes the database and a user with a database token; our
/// server, told nothing about ids, serves that user and that token, numbers the next user, and
/// FastAPI Users' own JWT strategy accepts the token we mint for it.
async fn integer_ids(python: &str, dir: std::path::PathBuf, url: String, sqlalchemy_url: String) {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/fastapi_users_integer_ids.py"
    );
    let run = |args: &[&str]| {
        let out = Command::new(python)
            .arg(script)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let created = run(&["create", &sqlalchemy_url]);
    let (id, db_token) = created.trim().split_once(' ').unwrap();
    assert_eq!(id, "1");

    let server = start_in(
        dir,
        &[
            ("AXUM_USERS_DATABASE_URL", url),
            ("AXUM_USERS_BACKENDS", "jwt,db".to_owned()),
            (
                "AXUM_USERS_SECRET",
                "a shared secret of at least thirty-two bytes".to_owned(),
            ),
        ],
    )
    .await;
    let me = |token: String| {
        let base = server.base.clone();
        async move {
            text(
                reqwest::Client::new()
                    .get(format!("{base}/users/me"))
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let galahad = r#"{"id":1,"email":"galahad@camelot.bt","is_active":true,"is_superuser":false,"is_verified":false}"#;
    // The token FastAPI Users wrote into its accesstoken table, and a login here.
    assert_eq!(me(db_token.to_owned()).await, (200, galahad.to_owned()));
    let jwt = login(&server, "galahad@camelot.bt", "grail-quest").await;
    assert_eq!(me(jwt).await, (200, galahad.to_owned()));

    let response = reqwest::Client::new()
        .post(format!("{}/auth/register", server.base))
        .json(&serde_json::json!({"email": "percival@camelot.bt", "password": "holy-grail"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        text(response).await,
        (
            201,
            r#"{"id":2,"email":"percival@camelot.bt","is_active":true,"is_superuser":false,"is_verified":false}"#
                .to_owned()
        )
    );
    let jwt = login(&server, "percival@camelot.bt", "holy-grail").await;
    assert_eq!(
        run(&["check", &sqlalchemy_url, &jwt]),
        "2 percival@camelot.bt\n"
    );
}

/// `AXUM_USERS_ID_TYPE=integer` makes a new database number its users; a later start without
/// it serves the same ids, and one that asks for UUIDs is refused with one clear line.
#[tokio::test]
async fn a_new_database_gets_integer_ids_when_asked() {
    // Each server's directory goes when it stops; the database stays in its own.
    let db = temp_dir("integer-ids-new-db");
    let url = format!("sqlite://{}", db.join("users.db").display());
    let env = [
        ("AXUM_USERS_DATABASE_URL", url.clone()),
        ("AXUM_USERS_ID_TYPE", "integer".to_owned()),
    ];
    let server = start_in(temp_dir("integer-ids-new-1"), &env).await;
    let response = reqwest::Client::new()
        .post(format!("{}/auth/register", server.base))
        .json(&serde_json::json!({"email": "galahad@camelot.bt", "password": "grail-quest"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        text(response).await,
        (
            201,
            r#"{"id":1,"email":"galahad@camelot.bt","is_active":true,"is_superuser":false,"is_verified":false}"#
                .to_owned()
        )
    );
    drop(server);
    let server = start_in(
        temp_dir("integer-ids-new-2"),
        &[("AXUM_USERS_DATABASE_URL", url.clone())],
    )
    .await;
    let token = login(&server, "galahad@camelot.bt", "grail-quest").await;
    let response = reqwest::Client::new()
        .get(format!("{}/users/me", server.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let (status, body) = text(response).await;
    assert_eq!((status, &body[..7]), (200, r#"{"id":1"#));
    drop(server);
    let out = common::run(
        &db,
        &[],
        &[
            ("AXUM_USERS_DATABASE_URL", url.as_str()),
            ("AXUM_USERS_ID_TYPE", "uuid"),
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: cannot migrate the database: database error: the user table holds integer ids but \
         the store was opened for UUID ids (`with_id_kind`; server: AXUM_USERS_ID_TYPE)\n"
    );
    std::fs::remove_dir_all(db).unwrap();
}
