//! Builds the application from the configuration, serves it, and runs the admin commands.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context as _};
use axum::extract::Request;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Router;
use axum_users::JwtKeys;
use axum_users::{
    Argon2Params, AxumUsers, AxumUsersBuilder, PasswordHasher, PasswordPolicy, PostgresStore,
    SqliteStore, TokenKind, TokenSettings, UserSchema,
};
use axum_users::{
    Backend, BearerTransport, CookieTransport, DatabaseStrategy, ExpiredDeletion, JwtStrategy,
    RedisStrategy,
};
use axum_users::{Backoff, Limit, RateLimits};
use axum_users::{MailTemplates, OutboxMailer, SmtpMailer};
use tower_http::trace::TraceLayer;

use crate::config::{redact_url, Config};

/// The configured database: SQLite (embedded, the default) or PostgreSQL.
#[derive(Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let url = &config.database_url;
    let context = || format!("cannot open the database {}", redact_url(url));
    let store = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = PostgresStore::connect(url, UserSchema::new())
            .await
            .with_context(context)?;
        store
            .migrate()
            .await
            .context("cannot migrate the database")?;
        Store::Postgres(store)
    } else {
        let store = SqliteStore::connect(url, UserSchema::new())
            .await
            .with_context(context)?;
        store
            .migrate()
            .await
            .context("cannot migrate the database")?;
        Store::Sqlite(store)
    };
    Ok(store)
}

fn jwt_keys(config: &Config, secret: &str) -> anyhow::Result<JwtKeys> {
    let algorithm: jsonwebtoken::Algorithm = config.jwt_algorithm.parse().map_err(|_| {
        anyhow::anyhow!(
            "invalid configuration: unknown AXUM_USERS_JWT_ALGORITHM {:?}",
            config.jwt_algorithm
        )
    })?;
    if config.jwt_algorithm.starts_with("HS") {
        return Ok(match config.jwt_algorithm.as_str() {
            "HS256" => JwtKeys::hs256(secret.as_bytes()),
            other => bail!("invalid configuration: AXUM_USERS_JWT_ALGORITHM {other} is not supported; use HS256 or a key pair"),
        });
    }
    let (Some(private), Some(public)) = (&config.jwt_private_key_file, &config.jwt_public_key_file)
    else {
        bail!("invalid configuration: AXUM_USERS_JWT_ALGORITHM {} needs AXUM_USERS_JWT_PRIVATE_KEY_FILE and AXUM_USERS_JWT_PUBLIC_KEY_FILE", config.jwt_algorithm);
    };
    let read = |path: &std::path::PathBuf| {
        std::fs::read(path).with_context(|| format!("cannot read the key file {}", path.display()))
    };
    JwtKeys::from_pem(algorithm, &read(private)?, &read(public)?)
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))
}

pub async fn build(config: &Config) -> anyhow::Result<AxumUsers> {
    let secret = config.resolve_secret()?;
    let keys = jwt_keys(config, &secret)?;
    let store = open_store(config).await?;
    let hasher = PasswordHasher::new(Argon2Params::new(
        config.argon2_memory_kib,
        config.argon2_iterations,
        config.argon2_parallelism,
    ))
    .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    let lifetime = Some(config.token_lifetime);
    // A rotation: tokens signed with a previous HS256 secret stay valid.
    let previous: Vec<String> = config
        .previous_secrets
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let jwt = |keys: &JwtKeys| {
        previous.iter().fold(
            JwtStrategy::with_keys(keys.clone(), lifetime),
            |strategy, old| strategy.also_accept(JwtKeys::hs256(old.as_bytes())),
        )
    };
    let cookie = CookieTransport::new(config.cookie_name.clone())
        .max_age(Some(config.cookie_max_age.unwrap_or(config.token_lifetime)).filter(|&s| s > 0))
        .path(config.cookie_path.clone())
        .domain(config.cookie_domain.clone())
        .secure(config.cookie_secure)
        .httponly(config.cookie_httponly)
        .samesite(
            config
                .cookie_samesite
                .parse()
                .map_err(|e: String| anyhow::anyhow!(e))?,
        );
    let token_secret = |own: &Option<String>| {
        own.clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| secret.clone())
    };
    let verify_tokens =
        TokenSettings::new(token_secret(&config.verify_token_secret), TokenKind::Verify)
            .lifetime(Duration::from_secs(config.verify_token_lifetime));
    let reset_tokens =
        TokenSettings::new(token_secret(&config.reset_token_secret), TokenKind::Reset)
            .lifetime(Duration::from_secs(config.reset_token_lifetime));
    let mut builder = match &store {
        Store::Sqlite(store) => AxumUsers::builder(store.clone()),
        Store::Postgres(store) => AxumUsers::builder(store.clone()),
    }
    .verification_token(verify_tokens)
    .reset_password_token(reset_tokens)
    .verify_on_register(config.verify_on_register)
    .app_name(config.app_name.clone())
    .openapi_title(config.openapi_title.clone());
    builder = mail(builder, config)?;
    builder = builder
        .allowed_origins(comma_list(&config.allowed_origins))
        .map_err(|e| anyhow::anyhow!("invalid configuration: AXUM_USERS_ALLOWED_ORIGINS: {e}"))?;
    builder = builder
        .cors_headers(comma_list(&config.cors_headers))
        .map_err(|e| anyhow::anyhow!("invalid configuration: AXUM_USERS_CORS_HEADERS: {e}"))?;
    builder = builder
        .rate_limits(rate_limits(config).await?)
        .require_current_password(config.require_current_password)
        .password_change_revokes_jwts(config.password_change_revokes_jwts)
        .body_timeout(request_timeout(config));
    if config.user_cache {
        builder = builder.user_cache(10_000, Duration::from_secs(config.user_cache_ttl));
    }
    builder = builder
        .password_hasher(hasher)
        .password_policy(PasswordPolicy::new(
            config.password_min_length,
            config.password_max_length,
        ))
        .requires_verification(config.require_verification);
    builder = oauth(builder, config, &store, &secret)?;
    for name in config.backend_names() {
        let backend = match name {
            "jwt" => Backend::new("jwt", BearerTransport::new("auth/jwt/login"), jwt(&keys)),
            "cookie" => Backend::new("cookie", cookie.clone(), jwt(&keys)),
            "db" => match &store {
                Store::Sqlite(store) => db_backend(store.clone(), lifetime),
                Store::Postgres(store) => db_backend(store.clone(), lifetime),
            },
            "redis" => {
                let url = config
                    .redis_url
                    .as_deref()
                    .filter(|u| !u.is_empty())
                    .ok_or_else(|| {
                        anyhow::anyhow!(
                            "invalid configuration: the redis backend needs AXUM_USERS_REDIS_URL"
                        )
                    })?;
                let strategy = RedisStrategy::connect(url, lifetime)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e} ({})", redact_url(url)))?;
                Backend::new("redis", BearerTransport::new("auth/redis/login"), strategy)
            }
            // Config::check refuses other names.
            other => bail!("invalid configuration: unknown backend {other:?}"),
        };
        builder = builder.backend(backend);
    }
    builder
        .build()
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))
}

/// The items of a comma-separated setting, trimmed, empty ones left out.
fn comma_list(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

/// The OAuth providers named in the environment: `AXUM_USERS_OAUTH_<NAME>_CLIENT_ID` and
/// `_CLIENT_SECRET` for each; `google`, `github`, `microsoft` and `discord` are presets, any
/// other name is an OpenID Connect provider and needs `_ISSUER` (which also points a preset
/// elsewhere); `_SCOPES` replaces the default scopes.
fn oauth(
    mut builder: AxumUsersBuilder,
    config: &Config,
    store: &Store,
    secret: &str,
) -> anyhow::Result<AxumUsersBuilder> {
    use axum_users::OAuthProvider;
    let vars: std::collections::BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("AXUM_USERS_OAUTH_"))
        .collect();
    let mut providers = Vec::new();
    for key in vars.keys() {
        let Some(name) = key
            .strip_prefix("AXUM_USERS_OAUTH_")
            .and_then(|rest| rest.strip_suffix("_CLIENT_ID"))
        else {
            continue;
        };
        let var = |suffix: &str| {
            vars.get(&format!("AXUM_USERS_OAUTH_{name}_{suffix}"))
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let lower = name.to_ascii_lowercase();
        let client_id = var("CLIENT_ID").unwrap_or_default();
        let client_secret = var("CLIENT_SECRET").ok_or_else(|| {
            anyhow::anyhow!(
                "invalid configuration: AXUM_USERS_OAUTH_{name}_CLIENT_SECRET is missing"
            )
        })?;
        let issuer = var("ISSUER");
        let mut provider = match lower.as_str() {
            "google" => OAuthProvider::google(&client_id, &client_secret),
            "github" => OAuthProvider::github(&client_id, &client_secret),
            "discord" => OAuthProvider::discord(&client_id, &client_secret),
            "microsoft" => {
                OAuthProvider::microsoft(&config.oauth_microsoft_tenant, &client_id, &client_secret)
            }
            _ => {
                let issuer = issuer.clone().ok_or_else(|| {
                    anyhow::anyhow!("invalid configuration: AXUM_USERS_OAUTH_{name}_ISSUER is missing (only google, github, microsoft and discord are presets)")
                })?;
                OAuthProvider::oidc(&lower, &issuer, &client_id, &client_secret)
            }
        };
        if let Some(issuer) = issuer {
            provider = provider.at(&issuer);
        }
        if let Some(scopes) = var("SCOPES") {
            let scopes: Vec<&str> = scopes.split([' ', ',']).filter(|s| !s.is_empty()).collect();
            provider = provider.scopes(&scopes);
        }
        providers.push(provider);
    }
    if providers.is_empty() {
        return Ok(builder);
    }
    let mut settings = axum_users::OAuthSettings::new(secret);
    settings.associate_by_email = config.oauth_associate_by_email;
    settings.is_verified_by_default = config.oauth_verified_by_default;
    settings.redirect_url = config.oauth_redirect_url.clone().filter(|u| !u.is_empty());
    settings.backend = config.oauth_backend.clone().filter(|b| !b.is_empty());
    settings.csrf_cookie.secure = config.oauth_cookie_secure.unwrap_or(config.cookie_secure);
    settings.after_login_redirects = config
        .oauth_after_login_redirects
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect();
    builder = match store {
        Store::Sqlite(store) => builder.oauth(store.clone(), settings),
        Store::Postgres(store) => builder.oauth(store.clone(), settings),
    };
    for provider in providers {
        builder = builder.oauth_provider(provider);
    }
    Ok(builder)
}

/// `N/S`: N per S seconds; `off`.
fn limit(name: &str, value: &str) -> anyhow::Result<Option<Limit>> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let parsed = value
        .split_once('/')
        .and_then(|(n, s)| Some(Limit::per(n.trim().parse().ok()?, s.trim().parse().ok()?)))
        .filter(|l| l.requests > 0 && !l.window.is_zero());
    parsed
        .map(Some)
        .ok_or_else(|| anyhow::anyhow!("invalid configuration: AXUM_USERS_{name} must be N/SECONDS (e.g. 20/60) or off, got {value:?}"))
}

async fn rate_limits(config: &Config) -> anyhow::Result<RateLimits> {
    match config.rate_limits.to_ascii_lowercase().as_str() {
        "off" | "false" => return Ok(RateLimits::off()),
        "on" | "true" => {}
        other => {
            bail!("invalid configuration: AXUM_USERS_RATE_LIMITS must be on or off, got {other:?}")
        }
    }
    let mut limits = RateLimits::default();
    limits.login = limit("RATE_LIMIT_LOGIN", &config.rate_limit_login)?;
    limits.register = limit("RATE_LIMIT_REGISTER", &config.rate_limit_register)?;
    limits.mail = limit("RATE_LIMIT_EMAIL", &config.rate_limit_email)?;
    limits.token = limit("RATE_LIMIT_TOKEN", &config.rate_limit_token)?;
    limits.password_change = limit(
        "RATE_LIMIT_PASSWORD_CHANGE",
        &config.rate_limit_password_change,
    )?;
    limits.account = if config.login_backoff.eq_ignore_ascii_case("off") {
        None
    } else {
        let parts: Vec<u64> = config
            .login_backoff
            .split('/')
            .map(|p| p.trim().parse())
            .collect::<Result<_, _>>()
            .unwrap_or_default();
        let [free, first, max] = parts[..] else {
            bail!("invalid configuration: AXUM_USERS_LOGIN_BACKOFF must be FREE/FIRST_SECONDS/MAX_SECONDS (e.g. 5/1/900) or off, got {:?}", config.login_backoff);
        };
        Some(Backoff::new(
            free,
            Duration::from_secs(first.max(1)),
            Duration::from_secs(max.max(first.max(1))),
        ))
    };
    for proxy in config
        .trusted_proxies
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        limits.trusted_proxies.push(proxy.parse().map_err(|_| {
            anyhow::anyhow!(
                "invalid configuration: AXUM_USERS_TRUSTED_PROXIES: {proxy:?} is not an IP address"
            )
        })?);
    }
    if let Some(url) = config.redis_url.as_deref().filter(|u| !u.is_empty()) {
        limits = limits
            .redis(url)
            .await
            .map_err(|e| anyhow::anyhow!("{e} ({})", redact_url(url)))?;
    }
    Ok(limits)
}

/// SMTP when `AXUM_USERS_SMTP_URL` is set, the outbox directory otherwise; templates and
/// front-end links.
fn mail(mut builder: AxumUsersBuilder, config: &Config) -> anyhow::Result<AxumUsersBuilder> {
    let invalid = |e: String| anyhow::anyhow!("invalid configuration: {e}");
    if let Some(url) = config.smtp_url.as_deref().filter(|u| !u.is_empty()) {
        builder = builder.mailer(
            SmtpMailer::from_url(url, &config.mail_from)
                .map_err(|e| invalid(format!("AXUM_USERS_SMTP_URL: {e}")))?,
        );
        tracing::info!(smtp = %redact_url(url), "e-mails go through SMTP");
    } else {
        builder = builder.mailer(
            OutboxMailer::new(&config.outbox, &config.mail_from)
                .map_err(|e| invalid(format!("AXUM_USERS_MAIL_FROM: {e}")))?,
        );
        tracing::info!(outbox = %config.outbox.display(), "AXUM_USERS_SMTP_URL is not set: e-mails are written as .eml files to the outbox");
    }
    if let Some(dir) = &config.mail_templates {
        builder = builder.mail_templates(
            MailTemplates::from_dir(dir)
                .map_err(|e| invalid(format!("AXUM_USERS_MAIL_TEMPLATES: {e}")))?,
        );
    }
    if let Some(url) = &config.verify_url {
        builder = builder.verify_url(url.clone());
    }
    if let Some(url) = &config.reset_url {
        builder = builder.reset_url(url.clone());
    }
    Ok(builder)
}

/// The routes of the server: the library's conventional layout, FastAPI's JSON 404/405 and
/// its redirect of a trailing slash.
pub fn router(users: &AxumUsers) -> Router {
    let known = users.clone();
    let router = users
        .router()
        .fallback(move |request: Request| {
            let known = known.clone();
            async move { fallback(&known, request) }
        })
        .method_not_allowed_fallback(axum_users::method_not_allowed);
    // AXUM_USERS_ALLOWED_ORIGINS feeds CORS as well as the CSRF check.
    let router = match users.cors_layer() {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router.layer(TraceLayer::new_for_http())
}

/// `/users/me/` → 307 to `http://host/users/me`, as Starlette does when the other form is a
/// route: an absolute URL built from `Host` (and `X-Forwarded-Proto: https` behind a proxy).
fn fallback(users: &AxumUsers, request: Request) -> Response {
    let path = request.uri().path();
    if let Some(trimmed) = path.strip_suffix('/').filter(|p| !p.is_empty()) {
        if is_route(users, trimmed) {
            let mut location = match request.uri().query() {
                Some(q) => format!("{trimmed}?{q}"),
                None => trimmed.to_owned(),
            };
            let header = |name| request.headers().get(name).and_then(|v| v.to_str().ok());
            if let Some(host) = header("host").filter(|h| !h.contains('/')) {
                let scheme = match header("x-forwarded-proto") {
                    Some(proto) if proto.eq_ignore_ascii_case("https") => "https",
                    _ => "http",
                };
                location = format!("{scheme}://{host}{location}");
            }
            return Redirect::temporary(&location).into_response();
        }
    }
    axum_users::ApiError::NOT_FOUND.into_response()
}

/// The `db` backend, with its expired rows deleted hourly in the background (expired tokens are
/// refused either way: this keeps the table small).
fn db_backend<S>(store: S, lifetime: Option<u64>) -> Backend
where
    S: axum_users::AccessTokenStore + ExpiredDeletion + Clone + 'static,
{
    let strategy = DatabaseStrategy::new(store.clone(), lifetime);
    if let Some(max_age) = strategy.lifetime() {
        tokio::spawn(store.continuously_delete_expired(max_age, Duration::from_secs(3600)));
    }
    Backend::new("db", BearerTransport::new("auth/db/login"), strategy)
}

fn is_route(users: &AxumUsers, path: &str) -> bool {
    users.routes().iter().any(|route| route.matches(path))
}

pub async fn serve(config: Config) -> anyhow::Result<()> {
    let addr: SocketAddr = config.bind.parse().with_context(|| {
        format!(
            "invalid configuration: AXUM_USERS_BIND {:?} is not an address:port",
            config.bind
        )
    })?;
    let users = build(&config).await?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr().context("no local address")?;
    tracing::info!(address = %local, database = %redact_url(&config.database_url), "axum-users listening on http://{local}");
    let limits = ConnectionLimits {
        timeout: request_timeout(&config),
        max: max_connections(&config),
    };
    tracing::info!(max_connections = limits.max, "accepting connections");
    serve_connections(listener, router(&users), limits).await;
    // E-mails already accepted (202) are still sent, retries included, within a bound.
    if tokio::time::timeout(Duration::from_secs(30), users.wait_background())
        .await
        .is_err()
    {
        tracing::warn!("stopped with e-mails still being delivered");
    }
    tracing::info!("axum-users stopped");
    Ok(())
}

/// `AXUM_USERS_REQUEST_TIMEOUT`: for the request head and, separately, for the body.
fn request_timeout(config: &Config) -> Duration {
    Duration::from_secs(config.request_timeout.max(1))
}

/// How long a connection may stay silent, and how many may be open at once.
#[derive(Debug, Clone, Copy)]
struct ConnectionLimits {
    timeout: Duration,
    max: usize,
}

/// Descriptors kept for everything but client connections: the database and Redis pools, the
/// SQLite files, the listener, logs.
const DESCRIPTOR_HEADROOM: u64 = 128;

/// `AXUM_USERS_MAX_CONNECTIONS`, or what the descriptor limit leaves after the headroom. The
/// soft limit is first raised to the hard one, as servers do.
fn max_connections(config: &Config) -> usize {
    if let Some(max) = config.max_connections.filter(|&max| max > 0) {
        return max;
    }
    let limit = rlimit::increase_nofile_limit(u64::MAX)
        .or_else(|_| rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft))
        .unwrap_or(1024);
    let free = limit.saturating_sub(DESCRIPTOR_HEADROOM).max(16);
    usize::try_from(free).unwrap_or(usize::MAX)
}

/// Accepts connections until SIGTERM/Ctrl-C, then lets open requests finish (30 s at most).
/// Unlike `axum::serve`:
/// - a connection that sends nothing is closed after `timeout`, one that sends a request head
///   too slowly too (slow-loris), and an idle keep-alive connection after it; the body has its
///   own timeout in the routes;
/// - at most `max` connections are open at once. At the cap, the connections that have not sent
///   a byte yet are closed to make room, so that clients that do send are served while an
///   attacker holds silent sockets open.
async fn serve_connections(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: ConnectionLimits,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use tower::ServiceExt as _;

    let timeout = limits.timeout;
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(timeout)
        .keep_alive_timeout(timeout);
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(limits.max));
    // Wakes the connections still waiting for their first byte, which then close.
    let make_room = std::sync::Arc::new(tokio::sync::Notify::new());
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                make_room.notify_waiters();
                tokio::select! {
                    slot = slots.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = router.clone().map_request(
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                request.map(axum::body::Body::new)
            },
        );
        let builder = builder.clone();
        let make_room = make_room.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _slot = slot;
            // hyper's head timeout starts with the first byte: until then, ours.
            let mut first = [0u8; 1];
            let evicted = make_room.notified();
            let sent = tokio::select! {
                peeked = stream.peek(&mut first) => matches!(peeked, Ok(n) if n > 0),
                () = tokio::time::sleep(timeout) => false,
                () = evicted => false,
            };
            if !sent {
                return;
            }
            let connection = builder
                .serve_connection(
                    TokioIo::new(stream),
                    hyper_util::service::TowerToHyperService::new(service),
                )
                .into_owned();
            if let Err(error) = watcher.watch(connection).await {
                tracing::trace!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("stopped with requests still open");
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

pub async fn create_superuser(
    config: Config,
    email: &str,
    password: Option<String>,
) -> anyhow::Result<()> {
    let email = axum_users::normalize_email(email)
        .map_err(|reason| anyhow::anyhow!("invalid e-mail address: {reason}"))?;
    let users = build(&config).await?;
    let manager = users.manager();
    if let Some(user) = manager
        .get_by_email(&email)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
    {
        let stored = user.email.clone();
        let update = axum_users::UserUpdate {
            fields: vec![axum_users::UpdateField::Flag("is_superuser", Some(true))],
            raw: serde_json::json!({"is_superuser": true})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            safe: false,
        };
        manager
            .update(user, update, None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        println!("{stored} is now a superuser");
        return Ok(());
    }
    let password = crate::read_password(password)?;
    let flags = serde_json::json!({"is_active": true, "is_superuser": true, "is_verified": true});
    let input = axum_users::UserCreate {
        email: email.clone(),
        password,
        flags: flags.as_object().cloned().unwrap_or_default(),
        fields: serde_json::Map::new(),
    };
    let user = manager
        .create(input, false, None)
        .await
        .map_err(|e| match e {
            axum_users::ManagerError::InvalidPassword(reason) => {
                anyhow::anyhow!("password refused: {reason}")
            }
            other => anyhow::anyhow!("{other}"),
        })?;
    println!("created superuser {} ({})", user.email, user.id);
    Ok(())
}
