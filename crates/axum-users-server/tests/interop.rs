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
    let admin = std::env::var("TEST_DATABASE_URL");
    let Ok(admin) = admin else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the PostgreSQL tests: set TEST_DATABASE_URL"
        );
        eprintln!("skipped: TEST_DATABASE_URL is not set");
        return;
    };
    let database = Database::create(&admin).await;
    let sqlalchemy = database
        .url
        .replacen("postgres://", "postgresql+asyncpg://", 1);
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
