//! The configuration turned into [`AxumUsers`]: the store, the backends, the token secrets,
//! OAuth providers, rate limits and mail.

use std::time::Duration;

use anyhow::{bail, Context as _};
use axum_users::JwtKeys;
use axum_users::{
    Argon2Params, AxumUsers, AxumUsersBuilder, PasswordHasher, PasswordPolicy, PostgresStore,
    SqliteStore, TokenKind, TokenSettings, UserSchema,
};
use axum_users::{
    AuditSettings, AuditStore, BeforeRegister, MfaSettings, MfaStore, PasskeySettings,
    PasskeyStore, SessionSettings, SessionStore, WebhookEndpoint, WebhookSettings, WebhookStore,
};
use axum_users::{
    Backend, BearerTransport, CookieTransport, DatabaseStrategy, ExpiredDeletion, JwtStrategy,
    RedisStrategy,
};
use axum_users::{Backoff, Limit, RateLimits};
use axum_users::{MailTemplates, OutboxMailer, SmtpMailer};

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
        Store::Postgres(match config.id_kind()? {
            Some(kind) => store.with_id_kind(kind),
            None => store,
        })
    } else {
        let store = SqliteStore::connect(url, UserSchema::new())
            .await
            .with_context(context)?;
        Store::Sqlite(match config.id_kind()? {
            Some(kind) => store.with_id_kind(kind),
            None => store,
        })
    };
    let migrated = match &store {
        Store::Postgres(store) => store.migrate().await,
        Store::Sqlite(store) => store.migrate().await,
    };
    migrated.context("cannot migrate the database")?;
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

/// The application for a one-off command (create-superuser, users ...): it reads and writes
/// through the manager and exits, so it does not listen for other instances' writes (its user
/// cache then reads through, as it must).
pub async fn build(config: &Config) -> anyhow::Result<AxumUsers> {
    Ok(assemble(config, false).await?.0)
}

/// The application to serve, with the store it opened (the metrics report its pool). With
/// PostgreSQL and the user cache on, it listens for the writes to the user table: writes by
/// other instances (and anyone else) are then seen at once.
pub async fn build_to_serve(config: &Config) -> anyhow::Result<(AxumUsers, Store)> {
    assemble(config, true).await
}

async fn assemble(config: &Config, serving: bool) -> anyhow::Result<(AxumUsers, Store)> {
    let secret = config.resolve_secret()?;
    let keys = jwt_keys(config, &secret)?;
    let store = match open_store(config).await? {
        Store::Postgres(store) if serving && config.user_cache => Store::Postgres(
            store
                .watch_writes()
                .await
                .context("cannot listen for writes to the user table")?,
        ),
        store => store,
    };
    let hasher = PasswordHasher::new(Argon2Params::new(
        config.argon2_memory_kib,
        config.argon2_iterations,
        config.argon2_parallelism,
    ))
    .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    let lifetime = Some(config.access_lifetime());
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
        .max_age(Some(config.cookie_max_age.unwrap_or(config.access_lifetime())).filter(|&s| s > 0))
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
        .body_timeout(config.request_timeout())
        .background_limit(config.background_limit);
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
    builder = sessions(builder, config, &store, &secret, serving);
    // A second factor users can turn on; recovery codes are kept as digests under a key
    // derived from the secret.
    let mfa = MfaSettings::new(config.app_name.clone(), format!("recovery-code:{secret}"));
    builder = match &store {
        Store::Sqlite(store) => builder.mfa(store.clone(), mfa),
        Store::Postgres(store) => builder.mfa(store.clone(), mfa),
    };
    if config.confirm_email_changes {
        builder = match &store {
            Store::Sqlite(store) => builder.confirm_email_changes(store.clone()),
            Store::Postgres(store) => builder.confirm_email_changes(store.clone()),
        };
    }
    // The audit trail, in the database; the hourly purge applies its retention.
    let audit = AuditSettings::new(retention(config));
    builder = match &store {
        Store::Sqlite(store) => builder.audit(store.clone(), audit),
        Store::Postgres(store) => builder.audit(store.clone(), audit),
    };
    if let Some(settings) = webhook_settings(config)? {
        builder = match &store {
            Store::Sqlite(store) => builder.webhooks(store.clone(), settings),
            Store::Postgres(store) => builder.webhooks(store.clone(), settings),
        };
    }
    let passkeys = passkey_settings(config)?;
    builder = match &store {
        Store::Sqlite(store) => builder.passkeys(store.clone(), passkeys),
        Store::Postgres(store) => builder.passkeys(store.clone(), passkeys),
    };
    let refresh = config
        .refresh_on()?
        .then(|| Duration::from_secs(config.refresh_token_lifetime));
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
        builder = builder.backend(match refresh {
            Some(lifetime) => backend.refresh_tokens(lifetime),
            None => backend,
        });
    }
    let users = builder
        .build()
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    Ok((users, store))
}

/// The receivers of `AXUM_USERS_WEBHOOK_URL`, signed with `AXUM_USERS_WEBHOOK_SECRET`; `None`
/// without receivers.
fn webhook_settings(config: &Config) -> anyhow::Result<Option<WebhookSettings>> {
    let entries: Vec<&str> = config
        .webhook_url
        .split(';')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    let before = config
        .webhook_before_register
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    if entries.is_empty() && before.is_none() {
        return Ok(None);
    }
    let secret = config
        .webhook_secret
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "invalid configuration: webhooks need AXUM_USERS_WEBHOOK_SECRET (the key receivers \
                 check signatures with)"
            )
        })?;
    let mut endpoints = Vec::new();
    for entry in entries {
        let (url, events) = entry.split_once(char::is_whitespace).unwrap_or((entry, ""));
        let endpoint = WebhookEndpoint::new(url, secret, comma_list(events))
            .map_err(|e| anyhow::anyhow!("invalid configuration: AXUM_USERS_WEBHOOK_URL: {e}"))?;
        endpoints.push(endpoint);
    }
    let mut settings = WebhookSettings::new(endpoints);
    if let Some(url) = before {
        let endpoint = WebhookEndpoint::new(url, secret, Vec::<String>::new()).map_err(|e| {
            anyhow::anyhow!("invalid configuration: AXUM_USERS_WEBHOOK_BEFORE_REGISTER: {e}")
        })?;
        let mut hook = BeforeRegister::new(endpoint);
        hook.fail_open = config.webhook_before_register_fail_open;
        settings.before_register = Some(hook);
    }
    Ok(Some(settings))
}

/// How long audit events are kept (`0` days: for ever).
fn retention(config: &Config) -> Duration {
    match config.audit_retention_days {
        0 => Duration::MAX,
        days => Duration::from_secs(days.saturating_mul(24 * 3600)),
    }
}

/// The passkeys' relying party, checked before the server starts: `localhost` and the bind
/// address's port unless configured.
fn passkey_settings(config: &Config) -> anyhow::Result<PasskeySettings> {
    let rp_id = config
        .webauthn_rp_id
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .unwrap_or("localhost");
    let mut origins: Vec<String> = comma_list(&config.webauthn_origins)
        .map(str::to_owned)
        .collect();
    if origins.is_empty() {
        let port = config
            .bind
            .rsplit_once(':')
            .map_or("8000", |(_, port)| port);
        origins.push(format!("http://localhost:{port}"));
    }
    PasskeySettings::new(rp_id, &config.app_name, origins).map_err(|e| {
        anyhow::anyhow!(
            "invalid configuration: AXUM_USERS_WEBAUTHN_RP_ID / AXUM_USERS_WEBAUTHN_ORIGINS: {e}"
        )
    })
}

/// Sessions in the database (the `auth_session` table), their expired rows deleted hourly by
/// a serving instance. The refresh tokens' key is derived from the secret, so that it differs
/// from the JWTs' key.
fn sessions(
    builder: AxumUsersBuilder,
    config: &Config,
    store: &Store,
    secret: &str,
    serving: bool,
) -> AxumUsersBuilder {
    let settings = SessionSettings::new(format!("refresh-token:{secret}"))
        .grace(Duration::from_secs(config.refresh_grace))
        .max_per_user(config.sessions_per_user);
    /// Hourly: expired sessions, and second-factor challenges and passkey ceremonies nobody
    /// finished.
    fn purge<
        S: SessionStore + MfaStore + PasskeyStore + AuditStore + WebhookStore + Clone + 'static,
    >(
        store: &S,
        retention: Duration,
    ) {
        let store = store.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_secs(3600));
            loop {
                interval.tick().await;
                match store.delete_expired_sessions(jwt_now()).await {
                    Ok(0) => {}
                    Ok(count) => tracing::info!(count, "deleted expired sessions"),
                    Err(error) => tracing::warn!(%error, "cannot delete expired sessions"),
                }
                match store.delete_expired_challenges(jwt_now()).await {
                    Ok(0) => {}
                    Ok(count) => tracing::info!(count, "deleted expired second-factor challenges"),
                    Err(error) => tracing::warn!(%error, "cannot delete expired challenges"),
                }
                match store.delete_expired_ceremonies(jwt_now()).await {
                    Ok(0) => {}
                    Ok(count) => tracing::info!(count, "deleted expired passkey ceremonies"),
                    Err(error) => tracing::warn!(%error, "cannot delete expired ceremonies"),
                }
                let keep = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
                let before = jwt_now().saturating_mul(1000).saturating_sub(keep);
                match store.delete_events_before(before).await {
                    Ok(0) => {}
                    Ok(count) => tracing::info!(count, "deleted audit events past retention"),
                    Err(error) => tracing::warn!(%error, "cannot delete old audit events"),
                }
                match store.delete_finished_deliveries(before).await {
                    Ok(0) => {}
                    Ok(count) => tracing::info!(count, "deleted finished webhook deliveries"),
                    Err(error) => tracing::warn!(%error, "cannot delete webhook deliveries"),
                }
            }
        });
    }
    match store {
        Store::Sqlite(store) => {
            if serving {
                purge(store, retention(config));
            }
            builder.sessions(store.clone(), settings)
        }
        Store::Postgres(store) => {
            if serving {
                purge(store, retention(config));
            }
            builder.sessions(store.clone(), settings)
        }
    }
}

/// Seconds since the Unix epoch.
fn jwt_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
        })
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
    let vars = &config.oauth;
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
    if let Some(url) = &config.verified_redirect_url {
        builder = builder.verified_redirect(url.clone());
    }
    if let Some(url) = &config.verify_url {
        builder = builder.verify_url(url.clone());
    }
    if let Some(url) = &config.reset_url {
        builder = builder.reset_url(url.clone());
    }
    Ok(builder)
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
