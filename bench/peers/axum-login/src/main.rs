//! axum-login's SQLite example as bench/run measures it: `GET /me` (JSON) behind
//! `login_required!`, `POST /login` (form `username`, `password`) answering 204 with the session
//! cookie. Usage: `bench-peer-axum-login ADDRESS DATABASE EMAIL PASSWORD` (the user is made at
//! start).

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use axum_login::tower_sessions::{Expiry, SessionManagerLayer};
use axum_login::{login_required, AuthManagerLayerBuilder, AuthUser, AuthnBackend, UserId};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, SqlitePool};
use tower_sessions::cookie::Key;
use tower_sessions_sqlx_store::SqliteStore;

#[derive(Clone, Serialize, Deserialize, FromRow)]
struct User {
    id: i64,
    username: String,
    #[serde(skip_serializing)]
    password: String,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User").field("id", &self.id).finish_non_exhaustive()
    }
}

impl AuthUser for User {
    type Id = i64;

    fn id(&self) -> i64 {
        self.id
    }

    fn session_auth_hash(&self) -> &[u8] {
        self.password.as_bytes()
    }
}

#[derive(Clone, Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

#[derive(Clone, Debug)]
struct Backend {
    db: SqlitePool,
}

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    #[error(transparent)]
    Join(#[from] tokio::task::JoinError),
}

impl AuthnBackend for Backend {
    type User = User;
    type Credentials = Credentials;
    type Error = Error;

    async fn authenticate(&self, creds: Credentials) -> Result<Option<User>, Error> {
        let user: Option<User> = sqlx::query_as("select * from users where username = ?")
            .bind(creds.username)
            .fetch_optional(&self.db)
            .await?;
        // As the example: the argon2 check off the async workers.
        Ok(tokio::task::spawn_blocking(move || {
            user.filter(|u| password_auth::verify_password(creds.password, &u.password).is_ok())
        })
        .await?)
    }

    async fn get_user(&self, id: &UserId<Self>) -> Result<Option<User>, Error> {
        Ok(sqlx::query_as("select * from users where id = ?")
            .bind(id)
            .fetch_optional(&self.db)
            .await?)
    }
}

type AuthSession = axum_login::AuthSession<Backend>;

async fn me(session: AuthSession) -> impl IntoResponse {
    match session.user {
        Some(user) => Json(user).into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn login(mut session: AuthSession, Form(creds): Form<Credentials>) -> StatusCode {
    match session.authenticate(creds).await {
        Ok(Some(user)) => match session.login(&user).await {
            Ok(()) => StatusCode::NO_CONTENT,
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
        },
        Ok(None) => StatusCode::BAD_REQUEST,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, address, database, email, password] = args.as_slice() else {
        return Err("usage: bench-peer-axum-login ADDRESS DATABASE EMAIL PASSWORD".into());
    };
    let db = SqlitePool::connect(&format!("sqlite://{database}?mode=rwc")).await?;
    sqlx::query(
        "create table if not exists users (id integer primary key not null, \
         username text not null unique, password text not null)",
    )
    .execute(&db)
    .await?;
    let hash = password_auth::generate_hash(password);
    sqlx::query("insert or ignore into users (username, password) values (?, ?)")
        .bind(email)
        .bind(hash)
        .execute(&db)
        .await?;
    let sessions = SqliteStore::new(db.clone());
    sessions.migrate().await?;
    let session_layer = SessionManagerLayer::new(sessions)
        .with_secure(false)
        .with_expiry(Expiry::OnInactivity(time::Duration::days(1)))
        .with_signed(Key::generate());
    let auth_layer = AuthManagerLayerBuilder::new(Backend { db }, session_layer).build();
    let app = Router::new()
        .route("/me", get(me))
        .route_layer(login_required!(Backend))
        .route("/login", post(login))
        .layer(auth_layer);
    let listener = tokio::net::TcpListener::bind(address).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
