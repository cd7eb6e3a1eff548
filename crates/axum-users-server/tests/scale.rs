//! Several server processes sharing PostgreSQL and Redis, as behind a load balancer, and what
//! happens when PostgreSQL or Redis goes away and comes back. Needs `TEST_DATABASE_URL` and
//! `TEST_REDIS_URL` (set by .ci/run); without them these tests say so and pass.
//!
//! An outage is made by a TCP proxy between the server and the service: stopping it closes every
//! connection and refuses new ones, exactly what the server sees when the service stops, without
//! stopping the service other tests use.

mod common;

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{start_in, temp_dir, text, Database, Server};
use serde_json::{json, Value};
use sqlx::Connection as _;
use tokio::task::JoinHandle;

const SECRET: &str = "a shared secret of at least thirty-two bytes";

fn services(test: &str) -> Option<(String, String)> {
    match (
        std::env::var("TEST_DATABASE_URL"),
        std::env::var("TEST_REDIS_URL"),
    ) {
        (Ok(db), Ok(redis)) => Some((db, redis)),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run the PostgreSQL and Redis tests: set TEST_DATABASE_URL and TEST_REDIS_URL"
            );
            let _ = writeln!(
                std::io::stderr(),
                "skipped: {test} (TEST_DATABASE_URL / TEST_REDIS_URL not set; .ci/run sets them)"
            );
            None
        }
    }
}

/// Host and port of a service URL (`scheme://[user@]host:port[/...]`).
fn address(url: &str) -> SocketAddr {
    let rest = url.split_once("://").unwrap().1;
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let host_port = rest.split(['/', '?']).next().unwrap();
    let host_port = host_port.replace("localhost", "127.0.0.1");
    host_port
        .parse()
        .expect("a numeric host:port in the test URL")
}

/// A TCP proxy that can be stopped and started on the same port.
struct Proxy {
    port: u16,
    target: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Self {
        let mut proxy = Self {
            port: 0,
            target,
            tasks: Arc::default(),
        };
        proxy.up().await;
        proxy
    }

    async fn up(&mut self) {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket
            .bind(SocketAddr::from(([127, 0, 0, 1], self.port)))
            .unwrap();
        let listener = socket.listen(64).unwrap();
        self.port = listener.local_addr().unwrap().port();
        let target = self.target;
        let tasks = Arc::clone(&self.tasks);
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let connection = tokio::spawn(async move {
                    if let Ok(mut upstream) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    }
                });
                tasks.lock().unwrap().push(connection);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    /// Closes every connection and the listening socket.
    fn down(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    fn url(&self, url: &str) -> String {
        url.replace(
            &self.target.to_string(),
            &format!("127.0.0.1:{}", self.port),
        )
        .replace(
            &format!("localhost:{}", self.target.port()),
            &format!("127.0.0.1:{}", self.port),
        )
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.down();
    }
}

async fn instance(name: &str, database: &str, redis: &str) -> Server {
    instance_with(name, database, redis, &[]).await
}

async fn instance_with(name: &str, database: &str, redis: &str, more: &[(&str, &str)]) -> Server {
    let mut env = vec![
        ("AXUM_USERS_DATABASE_URL", database.to_owned()),
        ("AXUM_USERS_REDIS_URL", redis.to_owned()),
        ("AXUM_USERS_SECRET", SECRET.to_owned()),
        ("AXUM_USERS_BACKENDS", "jwt,cookie,db,redis".to_owned()),
    ];
    env.extend(more.iter().map(|(k, v)| (*k, (*v).to_owned())));
    start_in(temp_dir(name), &env).await
}

/// Refresh tokens across two instances: a refresh on one, a session ended on the other, and
/// the other's Redis and database tokens refused at once, their refresh tokens too.
#[tokio::test]
async fn postgres_redis_two_instances_share_sessions() {
    let Some((db_url, redis_url)) = services("postgres_redis_two_instances_share_sessions") else {
        return;
    };
    let database = Database::create(&db_url).await;
    let on = [("AXUM_USERS_REFRESH_TOKENS", "on")];
    let a = instance_with("sessions-a", &database.url, &redis_url, &on).await;
    let b = instance_with("sessions-b", &database.url, &redis_url, &on).await;
    let (on_a, on_b) = (Client::new(&a), Client::new(&b));
    let (status, body) = on_a
        .post(
            "/auth/register",
            json!({"email": "bors@camelot.bt", "password": "grail-quest"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let http = reqwest::Client::new();
    let login = async |server: &Server, backend: &str| -> (String, String) {
        let url = format!("{}/auth/{backend}/login", server.base);
        let form = [("username", "bors@camelot.bt"), ("password", "grail-quest")];
        let (status, body) = text(http.post(url).form(&form).send().await.unwrap()).await;
        assert_eq!(status, 200, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        (
            body["access_token"].as_str().unwrap().to_owned(),
            body["refresh_token"].as_str().unwrap().to_owned(),
        )
    };
    let refresh = async |server: &Server, backend: &str, token: &str| -> (u16, String) {
        let url = format!("{}/auth/{backend}/refresh", server.base);
        let body = json!({ "refresh_token": token });
        text(http.post(url).json(&body).send().await.unwrap()).await
    };
    for backend in ["redis", "db", "jwt"] {
        let (_, first) = login(&a, backend).await;
        let (status, body) = refresh(&b, backend, &first).await;
        assert_eq!(status, 200, "{backend}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        let access = body["access_token"].as_str().unwrap().to_owned();
        let second = body["refresh_token"].as_str().unwrap().to_owned();
        assert_eq!(on_a.me(&access).await.0, 200);
        // The session as A lists it, ended on A.
        let url = format!("{}/auth/sessions", a.base);
        let (status, listed) = text(http.get(url).bearer_auth(&access).send().await.unwrap()).await;
        assert_eq!(status, 200, "{listed}");
        let listed: Value = serde_json::from_str(&listed).unwrap();
        let current: Vec<&Value> = listed
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["current"] == true)
            .collect();
        assert_eq!(current.len(), 1, "{listed}");
        assert_eq!(current[0]["backend"], backend);
        let id = current[0]["id"].as_str().unwrap();
        let url = format!("{}/auth/sessions/{id}", a.base);
        let response = http.delete(url).bearer_auth(&access).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 204);
        // B refuses its refresh token at once, and its database or Redis token.
        assert_eq!(
            refresh(&b, backend, &second).await,
            (401, r#"{"detail":"REFRESH_TOKEN_INVALID"}"#.to_owned())
        );
        let expected = if backend == "jwt" { 200 } else { 401 };
        assert_eq!(on_b.me(&access).await.0, expected, "{backend}");
    }
    drop((a, b));
    database.drop().await;
}

struct Client<'a> {
    server: &'a Server,
    http: reqwest::Client,
}

impl<'a> Client<'a> {
    fn new(server: &'a Server) -> Self {
        Self {
            server,
            http: reqwest::Client::new(),
        }
    }

    async fn post(&self, path: &str, body: Value) -> (u16, String) {
        let url = format!("{}{path}", self.server.base);
        text(self.http.post(url).json(&body).send().await.unwrap()).await
    }

    async fn login(&self, backend: &str, email: &str, password: &str) -> String {
        let url = format!("{}/auth/{backend}/login", self.server.base);
        let form = [("username", email), ("password", password)];
        let (status, body) = text(self.http.post(url).form(&form).send().await.unwrap()).await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn me(&self, token: &str) -> (u16, String) {
        let url = format!("{}/users/me", self.server.base);
        text(self.http.get(url).bearer_auth(token).send().await.unwrap()).await
    }

    async fn logout(&self, backend: &str, token: &str) -> u16 {
        let url = format!("{}/auth/{backend}/logout", self.server.base);
        let response = self.http.post(url).bearer_auth(token).send().await.unwrap();
        response.status().as_u16()
    }

    async fn patch_me(&self, token: &str, body: Value) -> u16 {
        let url = format!("{}/users/me", self.server.base);
        let response = self
            .http
            .patch(url)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        response.status().as_u16()
    }
}

/// The reset token of the newest reset e-mail in a server's outbox.
async fn reset_token(server: &Server, count: usize) -> String {
    let outbox = server.dir.join("outbox");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut files: Vec<_> = std::fs::read_dir(&outbox)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p: &std::path::PathBuf| p.to_string_lossy().contains("-reset-"));
        files.sort();
        if files.len() >= count {
            let raw = std::fs::read_to_string(&files[count - 1]).unwrap();
            return common::token_in(&raw).unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "no reset e-mail {count}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn postgres_redis_two_instances_share_users_tokens_and_revocations() {
    let Some((db_url, redis_url)) =
        services("postgres_redis_two_instances_share_users_tokens_and_revocations")
    else {
        return;
    };
    let database = Database::create(&db_url).await;
    let a = instance("scale-a", &database.url, &redis_url).await;
    let b = instance("scale-b", &database.url, &redis_url).await;
    let (on_a, on_b) = (Client::new(&a), Client::new(&b));
    let galahad = "galahad@camelot.bt";

    // Register on A, log in on B, with every backend; each token works on the other instance.
    let (status, body) = on_a
        .post(
            "/auth/register",
            json!({"email": galahad, "password": "grail-quest"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for backend in ["jwt", "db", "redis"] {
        let token = on_b.login(backend, galahad, "grail-quest").await;
        let (status, body) = on_a.me(&token).await;
        assert_eq!(status, 200, "{backend}: {body}");
        assert!(body.contains(&id));
    }

    // Logout on B revokes a database or Redis token on A.
    for backend in ["db", "redis"] {
        let token = on_a.login(backend, galahad, "grail-quest").await;
        assert_eq!(on_b.me(&token).await.0, 200);
        assert_eq!(on_b.logout(backend, &token).await, 204);
        assert_eq!(
            on_a.me(&token).await,
            (401, r#"{"detail":"Unauthorized"}"#.to_owned()),
            "{backend}"
        );
    }

    // A reset token from B works on A.
    let (status, _) = on_b
        .post("/auth/forgot-password", json!({"email": galahad}))
        .await;
    assert_eq!(status, 202);
    let token = reset_token(&b, 1).await;
    let reset = json!({"token": token, "password": "holy-grail"});
    assert_eq!(
        on_a.post("/auth/reset-password", reset).await,
        (200, "null".to_owned())
    );

    // A password change on A kills B's outstanding reset tokens and every session token.
    on_b.post("/auth/forgot-password", json!({"email": galahad}))
        .await;
    let outstanding = reset_token(&b, 2).await;
    let db_token = on_b.login("db", galahad, "holy-grail").await;
    let redis_token = on_b.login("redis", galahad, "holy-grail").await;
    let jwt = on_a.login("jwt", galahad, "holy-grail").await;
    assert_eq!(
        on_a.patch_me(&jwt, json!({"password": "siege-perilous"}))
            .await,
        200
    );
    let reset = json!({"token": outstanding, "password": "mordred"});
    assert_eq!(
        on_b.post("/auth/reset-password", reset).await,
        (400, r#"{"detail":"RESET_PASSWORD_BAD_TOKEN"}"#.to_owned())
    );
    assert_eq!(on_b.me(&db_token).await.0, 401);
    assert_eq!(on_a.me(&redis_token).await.0, 401);
    on_b.login("redis", galahad, "siege-perilous").await;

    // Each instance keeps users in memory and hears every write to the table, even one made
    // straight in the database: a deactivation is refused by every instance within the
    // notification's delay (well under a second; the bound asserted here).
    let jwt_a = on_a.login("jwt", galahad, "siege-perilous").await;
    let jwt_b = on_b.login("jwt", galahad, "siege-perilous").await;
    for _ in 0..3 {
        assert_eq!(on_a.me(&jwt_a).await.0, 200);
        assert_eq!(on_b.me(&jwt_b).await.0, 200);
    }
    let mut db = sqlx::PgConnection::connect(&database.url).await.unwrap();
    let set_active = |active: bool| {
        sqlx::query("UPDATE \"user\" SET is_active = $1 WHERE email = $2")
            .bind(active)
            .bind(galahad)
    };
    set_active(false).execute(&mut db).await.unwrap();
    assert_eq!(within_a_second(|| on_a.me(&jwt_a), 401).await, 401);
    assert_eq!(within_a_second(|| on_b.me(&jwt_b), 401).await, 401);

    // The connections that hear the writes die (as in a network cut) and a write lands before
    // they are back: it is seen all the same, within the bound.
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE query LIKE 'LISTEN %axum_users_user_written%'",
    )
    .execute(&mut db)
    .await
    .unwrap();
    set_active(true).execute(&mut db).await.unwrap();
    assert_eq!(within_a_second(|| on_a.me(&jwt_a), 200).await, 200);
    assert_eq!(within_a_second(|| on_b.me(&jwt_b), 200).await, 200);
    // An admin's ban through A is refused by B within the bound too.
    set_active(false).execute(&mut db).await.unwrap();
    assert_eq!(within_a_second(|| on_b.me(&jwt_b), 401).await, 401);
    db.close().await.unwrap();

    drop((a, b));
    database.drop().await;
}

/// `GET /ready`: whether the database and Redis answer.
async fn ready(server: &Server) -> (u16, String) {
    text(
        reqwest::get(format!("{}/ready", server.base))
            .await
            .unwrap(),
    )
    .await
}

/// Retries a request until it answers `want` or a second passes; answers the last status.
async fn within_a_second<F, Fut>(request: F, want: u16) -> u16
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = (u16, String)>,
{
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let (status, _) = request().await;
        if status == want || Instant::now() > deadline {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Retries a request until it answers `want` or 20 s pass; answers the last status.
async fn eventually(mut request: impl AsyncFnMut() -> (u16, String), want: u16) -> (u16, String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = request().await;
        if answer.0 == want || Instant::now() > deadline {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn postgres_redis_outages_answer_503_and_the_server_recovers() {
    let Some((db_url, redis_url)) =
        services("postgres_redis_outages_answer_503_and_the_server_recovers")
    else {
        return;
    };
    let database = Database::create(&db_url).await;
    let mut pg = Proxy::start(address(&database.url)).await;
    let mut redis = Proxy::start(address(&redis_url)).await;
    let server = instance("outage", &pg.url(&database.url), &redis.url(&redis_url)).await;
    let client = Client::new(&server);
    let (status, _) = client
        .post(
            "/auth/register",
            json!({"email": "gawain@camelot.bt", "password": "green-knight"}),
        )
        .await;
    assert_eq!(status, 201);
    let jwt = client
        .login("jwt", "gawain@camelot.bt", "green-knight")
        .await;
    let redis_token = client
        .login("redis", "gawain@camelot.bt", "green-knight")
        .await;

    // PostgreSQL goes away: a clean 503 with a JSON body, quickly, never a 500 or a hang.
    // (A login reads the database; `/users/me` may still answer from the user cache until the
    // instance sees its listening connection close, which is no risk: nothing can be written
    // meanwhile, and what was cached is dropped when a new connection listens.)
    pg.down();
    let started = Instant::now();
    let response = reqwest::Client::new()
        .post(format!("{}/auth/jwt/login", server.base))
        .form(&[
            ("username", "gawain@camelot.bt"),
            ("password", "green-knight"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(
        text(response).await,
        (503, r#"{"detail":"SERVICE_UNAVAILABLE"}"#.to_owned())
    );
    let waited = started.elapsed();
    eprintln!("503 while PostgreSQL is down answered in {waited:?}");
    assert_eq!(
        ready(&server).await,
        (503, r#"{"detail":"SERVICE_UNAVAILABLE"}"#.to_owned())
    );
    assert!(waited < Duration::from_secs(10), "answered in {waited:?}");
    let (status, body) = client
        .post(
            "/auth/register",
            json!({"email": "lamorak@camelot.bt", "password": "green-knight"}),
        )
        .await;
    assert_eq!(
        (status, body.as_str()),
        (503, r#"{"detail":"SERVICE_UNAVAILABLE"}"#)
    );
    // It comes back: the same process serves again.
    pg.up().await;
    let (status, body) = eventually(async || client.me(&jwt).await, 200).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        eventually(async || ready(&server).await, 200).await,
        (200, r#"{"status":"ready"}"#.to_owned())
    );

    // Redis goes away: requests with a Redis token answer 503; JWTs keep working.
    redis.down();
    let (status, body) = client.me(&redis_token).await;
    assert_eq!(
        (status, body.as_str()),
        (503, r#"{"detail":"SERVICE_UNAVAILABLE"}"#)
    );
    assert_eq!(client.me(&jwt).await.0, 200);
    assert_eq!(
        ready(&server).await,
        (503, r#"{"detail":"SERVICE_UNAVAILABLE"}"#.to_owned())
    );
    redis.up().await;
    assert_eq!(
        eventually(async || ready(&server).await, 200).await,
        (200, r#"{"status":"ready"}"#.to_owned())
    );
    let (status, body) = eventually(async || client.me(&redis_token).await, 200).await;
    assert_eq!(status, 200, "{body}");

    drop(server);
    drop(pg);
    database.drop().await;
}
