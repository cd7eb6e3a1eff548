//! Shared fixtures: the users of FastAPI Users' own test suite, an application with two
//! backends (Bearer JWT and cookie JWT) over real SQLite, hooks that record their calls, and a
//! helper that sends a request through the router.

#![allow(dead_code, unused_macros)]

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::response::Response;
use axum::Router;
use axum_users::UserCreate;
use axum_users::{
    Argon2Params, AxumUsers, MemoryMailer, PasswordHasher, PasswordPolicy, SqliteStore, TokenKind,
    TokenSettings, User, UserSchema,
};
use axum_users::{Backend, BearerTransport, CookieTransport, JwtStrategy};
use axum_users::{HookContext, HookError, Hooks, InvalidPassword};
use http::{HeaderMap, Method, Request, StatusCode};
use serde_json::{json, Map, Value};
use tower::ServiceExt as _;

#[cfg(feature = "postgres")]
pub mod pg;

/// Says so on the terminal (past the test harness's capture) when a suite is skipped.
pub fn skipped(what: &str) {
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "skipped: {what} (.ci/run runs it with TEST_DATABASE_URL)"
    );
}

pub const SECRET: &str = "SECRET";

/// Seconds since the Unix epoch, as JWT `exp` claims count them.
pub fn now_unix() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    i64::try_from(now.unwrap().as_secs()).unwrap()
}

/// The token in a message, as printed after `token=` in the default templates.
pub fn token_in(text: &str) -> Option<&str> {
    let start = text.find("token=")? + "token=".len();
    let rest = &text[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
        .unwrap_or(rest.len());
    Some(&rest[..end]).filter(|t| !t.is_empty())
}
/// Made by Python's bcrypt for "guinevere", as in passlib-era FastAPI Users databases.
pub const BCRYPT_GUINEVERE: &str = "$2b$04$kA1tkzUo4gqSTbXw9gx/Oe81WW5BgBc3RhrnSddKDHbsae/EHNzZG";

/// Records hook calls as `name:email` strings, and the tokens the hooks were given.
#[derive(Clone, Default)]
pub struct Recorder(pub Arc<Mutex<Vec<String>>>, pub Arc<Mutex<Vec<String>>>);

impl Recorder {
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
    pub fn tokens(&self) -> Vec<String> {
        std::mem::take(&mut *self.1.lock().unwrap())
    }
    fn push(&self, entry: String) {
        self.0.lock().unwrap().push(entry);
    }
}

impl Hooks for Recorder {
    async fn validate_password(&self, password: &str, email: &str) -> Result<(), InvalidPassword> {
        if password.contains(email) {
            return Err(InvalidPassword::new("Password should not contain e-mail"));
        }
        Ok(())
    }
    async fn on_after_register(
        &self,
        user: &User,
        _ctx: &HookContext<'_>,
    ) -> Result<(), HookError> {
        self.push(format!("register:{}", user.email));
        Ok(())
    }
    async fn on_after_update(
        &self,
        user: &User,
        update: &Map<String, Value>,
        _ctx: &HookContext<'_>,
    ) -> Result<(), HookError> {
        self.push(format!(
            "update:{}:{}",
            user.email,
            Value::Object(update.clone())
        ));
        Ok(())
    }
    async fn on_after_login(
        &self,
        user: &User,
        _ctx: &HookContext<'_>,
        response: &mut Response,
    ) -> Result<(), HookError> {
        self.push(format!(
            "login:{}:{}",
            user.email,
            response.status().as_u16()
        ));
        Ok(())
    }
    async fn on_after_request_verify(
        &self,
        user: &User,
        token: &str,
        ctx: &HookContext<'_>,
    ) -> Result<(), HookError> {
        assert!(ctx.request().is_some(), "the request reaches the hook");
        self.push(format!("request_verify:{}", user.email));
        self.1.lock().unwrap().push(token.to_owned());
        Ok(())
    }
    async fn on_after_verify(&self, user: &User, _ctx: &HookContext<'_>) -> Result<(), HookError> {
        self.push(format!("verify:{}:{}", user.email, user.is_verified));
        Ok(())
    }
    async fn on_after_forgot_password(
        &self,
        user: &User,
        token: &str,
        _ctx: &HookContext<'_>,
    ) -> Result<(), HookError> {
        self.push(format!("forgot_password:{}", user.email));
        self.1.lock().unwrap().push(token.to_owned());
        Ok(())
    }
    async fn on_after_reset_password(
        &self,
        user: &User,
        _ctx: &HookContext<'_>,
    ) -> Result<(), HookError> {
        self.push(format!("reset_password:{}", user.email));
        Ok(())
    }
    async fn on_before_delete(&self, user: &User, _ctx: &HookContext<'_>) -> Result<(), HookError> {
        self.push(format!("before_delete:{}", user.email));
        Ok(())
    }
    async fn on_after_delete(&self, user: &User, _ctx: &HookContext<'_>) -> Result<(), HookError> {
        self.push(format!("after_delete:{}", user.email));
        Ok(())
    }
}

pub struct TestApp {
    pub users: AxumUsers,
    pub router: Router,
    pub hooks: Recorder,
    pub store: SqliteStore,
    pub mailer: MemoryMailer,
}

pub fn fast_hasher() -> PasswordHasher {
    PasswordHasher::new(Argon2Params::new(1024, 1, 1)).unwrap()
}

/// The Bearer JWT backend most tests log in through (`/auth/jwt/login`, one-hour tokens).
pub fn jwt_backend() -> Backend {
    Backend::new(
        "jwt",
        BearerTransport::new("auth/jwt/login"),
        JwtStrategy::new(SECRET, Some(3600)),
    )
}

pub fn cookie_transport() -> CookieTransport {
    CookieTransport::default().max_age(Some(3600))
}

pub struct Options {
    pub require_current_password: bool,
    pub allowed_origins: Vec<String>,
    /// Off unless a test is about them: the tests log in many times from one "client".
    pub rate_limits: axum_users::RateLimits,
    pub requires_verification: bool,
    pub verify_on_register: bool,
    pub schema: UserSchema,
    pub backends: Vec<Backend>,
    pub verified_redirect: Option<&'static str>,
    /// Sessions kept in the test's store, with these settings.
    pub sessions: Option<axum_users::SessionSettings>,
    /// A second factor kept in the test's store, with these settings.
    pub mfa: Option<axum_users::MfaSettings>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            require_current_password: false,
            allowed_origins: Vec::new(),
            rate_limits: axum_users::RateLimits::off(),
            requires_verification: false,
            verify_on_register: false,
            schema: UserSchema::new(),
            backends: vec![
                jwt_backend(),
                Backend::new(
                    "cookie",
                    cookie_transport(),
                    JwtStrategy::new(SECRET, Some(3600)),
                ),
            ],
            verified_redirect: None,
            sessions: None,
            mfa: None,
        }
    }
}

/// The two backends, both with refresh tokens, sessions kept, and a second factor (every route
/// the library has).
pub fn with_sessions() -> Options {
    let month = std::time::Duration::from_secs(30 * 24 * 3600);
    Options {
        sessions: Some(axum_users::SessionSettings::new("refresh-secret")),
        mfa: Some(axum_users::MfaSettings::new("Camelot", "pepper")),
        backends: Options::default()
            .backends
            .into_iter()
            .map(|backend| backend.refresh_tokens(month))
            .collect(),
        ..Options::default()
    }
}

pub async fn app() -> TestApp {
    app_with(Options::default()).await
}

/// Whether the suites run with sessions and refresh tokens on every backend
/// (`AXUM_USERS_TEST_REFRESH=on`, a second pass of .ci/run): a client written for FastAPI
/// Users must see nothing but extra keys.
pub fn refresh_mode() -> bool {
    std::env::var("AXUM_USERS_TEST_REFRESH").is_ok_and(|v| v == "on")
}

/// A login's JSON body as FastAPI Users writes it: without the `refresh_token` key that
/// refresh mode adds.
pub fn without_refresh(body: &str) -> String {
    let mut value: Value = serde_json::from_str(body).unwrap();
    if let Some(map) = value.as_object_mut() {
        map.remove("refresh_token");
    }
    value.to_string()
}

pub async fn app_with(mut options: Options) -> TestApp {
    if refresh_mode() && options.sessions.is_none() {
        let month = std::time::Duration::from_secs(30 * 24 * 3600);
        options.sessions = Some(axum_users::SessionSettings::new("refresh-secret"));
        options.backends = std::mem::take(&mut options.backends)
            .into_iter()
            .map(|backend| backend.refresh_tokens(month))
            .collect();
    }
    let store = SqliteStore::connect("sqlite::memory:", options.schema.clone())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let hooks = Recorder::default();
    let mailer = MemoryMailer::new();
    let mut builder = AxumUsers::builder(store.clone())
        .verification_token(TokenSettings::new(SECRET, TokenKind::Verify))
        .reset_password_token(TokenSettings::new(SECRET, TokenKind::Reset))
        .mailer(mailer.clone())
        .verify_on_register(options.verify_on_register)
        .hooks(hooks.clone())
        .password_hasher(fast_hasher())
        // The fixture of FastAPI Users' tests: at least 3 characters.
        .password_policy(PasswordPolicy::new(3, 0))
        .requires_verification(options.requires_verification)
        .allowed_origins(&options.allowed_origins)
        .unwrap()
        .rate_limits(options.rate_limits)
        .require_current_password(options.require_current_password);
    for backend in options.backends {
        builder = builder.backend(backend);
    }
    if let Some(settings) = options.sessions {
        builder = builder.sessions(store.clone(), settings);
    }
    if let Some(settings) = options.mfa {
        builder = builder.mfa(store.clone(), settings);
    }
    if let Some(url) = options.verified_redirect {
        builder = builder.verified_redirect(url);
    }
    let users = builder.build().unwrap();
    let app = TestApp {
        router: users.router(),
        users,
        hooks,
        store,
        mailer,
    };
    for (email, password, active, superuser, verified) in [
        ("king.arthur@camelot.bt", "guinevere", true, false, false),
        ("percival@camelot.bt", "angharad", false, false, false),
        ("lake.lady@camelot.bt", "excalibur", true, false, true),
        ("merlin@camelot.bt", "viviane", true, true, false),
        ("the.real.merlin@camelot.bt", "viviane", true, true, true),
    ] {
        let flags =
            json!({"is_active": active, "is_superuser": superuser, "is_verified": verified});
        let input = UserCreate {
            email: email.into(),
            password: password.into(),
            flags: flags.as_object().cloned().unwrap(),
            fields: Map::new(),
        };
        app.users
            .manager()
            .create(input, false, None)
            .await
            .unwrap();
    }
    app.hooks.take();
    app
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// Sends a request through the router as `axum::serve` with connect info would hand it over:
/// with a client address (127.0.0.1 unless the test set one).
pub async fn send_to(router: &Router, mut request: Request<Body>) -> Reply {
    use axum::extract::ConnectInfo;
    use std::net::SocketAddr;
    if request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_none()
    {
        let client = SocketAddr::from(([127, 0, 0, 1], 40000));
        request.extensions_mut().insert(ConnectInfo(client));
    }
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Reply {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

impl TestApp {
    pub async fn send(&self, request: Request<Body>) -> Reply {
        send_to(&self.router, request).await
    }

    pub async fn json(&self, method: Method, uri: &str, token: Option<&str>, body: &str) -> Reply {
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json");
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        self.send(builder.body(Body::from(body.to_owned())).unwrap())
            .await
    }

    pub async fn get(&self, uri: &str, token: Option<&str>) -> Reply {
        let mut builder = Request::builder().uri(uri);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        self.send(builder.body(Body::empty()).unwrap()).await
    }

    pub async fn form(&self, uri: &str, body: &str) -> Reply {
        let request = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body.to_owned()))
            .unwrap();
        self.send(request).await
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let body = format!(
            "username={}&password={}",
            urlencode(email),
            urlencode(password)
        );
        let reply = self.form("/auth/jwt/login", &body).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.json()["access_token"].as_str().unwrap().to_owned()
    }

    /// Replaces a user's stored hash, as a legacy database would hold it.
    pub async fn set_hash(&self, email: &str, hash: &str) {
        let user = self.user(email).await;
        let patch = axum_users::UserPatch::default().hashed_password(hash);
        axum_users::UserStore::update(&self.store, user.id, &patch)
            .await
            .unwrap()
            .unwrap();
    }

    pub async fn user(&self, email: &str) -> User {
        self.users
            .manager()
            .get_by_email(email)
            .await
            .unwrap()
            .unwrap()
    }
}

pub fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Decodes a JWT payload without checking it.
pub fn payload(token: &str) -> Value {
    use base64::Engine as _;
    let part = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Signs arbitrary claims with the test secret (HS256), as PyJWT would.
pub fn sign(claims: Value) -> String {
    axum_users::JwtKeys::hs256(SECRET.as_bytes())
        .encode(claims.as_object().unwrap())
        .unwrap()
}

/// Sends `body` to `uri` through the router: a form for `.../login`, JSON otherwise, with a
/// Bearer token when given.
pub async fn call(
    router: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: &str,
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let content_type = if uri.ends_with("/login") {
        "application/x-www-form-urlencoded"
    } else {
        "application/json"
    };
    let request = request
        .header("content-type", content_type)
        .body(Body::from(body.to_owned()))
        .unwrap();
    send_to(router, request).await
}

/// A SQLite file that several connections share, as the server uses it; removed afterwards.
pub struct SqliteFile(std::path::PathBuf);

impl SqliteFile {
    pub fn new(test: &str) -> Self {
        let name = format!("axum-users-{test}-{}.db", uuid::Uuid::new_v4().simple());
        Self(std::env::temp_dir().join(name))
    }

    pub async fn store(&self) -> SqliteStore {
        let url = format!("sqlite://{}", self.0.display());
        let store = SqliteStore::connect(&url, UserSchema::new()).await.unwrap();
        store.migrate().await.unwrap();
        store
    }
}

impl Drop for SqliteFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

/// One test per store for each listed `async fn test(store)`: `sqlite::test` on a SQLite file,
/// `postgres::test` on a fresh PostgreSQL schema (`TEST_DATABASE_URL`).
macro_rules! sql_suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let file = super::common::SqliteFile::new(stringify!($name));
                    super::$name(file.store().await).await;
                }
            )*
        }

        #[cfg(feature = "postgres")]
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let name = stringify!($name);
                    let Some(db) = super::common::pg::Schema::create(
                        &name[..name.len().min(20)],
                        axum_users::UserSchema::new(),
                    )
                    .await
                    else {
                        return;
                    };
                    super::$name(db.store.clone()).await;
                    db.drop().await;
                }
            )*
        }
    };
}
